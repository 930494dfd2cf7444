# The one way in: `make demo` (set up + quickstart), `make test` (set up + test suite).
VENV ?= .venv
PY := $(VENV)/bin/python
# Every install goes through the constraints: torch stays the local CPU wheel, never the CUDA build.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q "torch==2.13.0"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/xling quickstart

# two or more workers (pytest-xdist), whole files per worker so module fixtures are built once: 181 s
# against about 280 s in one process on 2 cores (when the suite was smaller). Files go out in collection order
# (--no-loadscope-reorder: not by their number of tests), the slowest first (tests/conftest.py). One torch/OpenMP
# thread per worker: two workers of two threads each on 2 cores wait on each other's threads (10 of the slowest
# files: 149 / 155 s against 168 / 182 s with torch's default threads, 2026-12-06, runs in both orders)
test: $(VENV)/.installed
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -x -q -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder --durations=15

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

bench: $(VENV)/.installed
	$(PY) benchmarks/pretrain_speed.py --json runs/bench/pretrain_speed.json

clean:
	rm -rf $(VENV) runs .pytest_cache
