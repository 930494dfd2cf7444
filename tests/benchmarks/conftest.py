"""Shared helper of the benchmark tests: load a script of benchmarks/ as a module."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def load_benchmark():
    """Return a function that loads benchmarks/<name>.py (which may import bench_common) as a module."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import bench_common
        previous = sys.modules.get(name)
        sys.modules[name] = module  # dataclasses look their module up there while the class is made
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(BENCHMARKS))
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
        return module

    return load


@pytest.fixture
def tiny_langid_recipe(tmp_path) -> Path:
    """Return a recipe file with the settings of tests/langid/conftest.py's tiny_config, which trained
    `tiny_detector_folder` (its held-out sets are that detector's)."""
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(
        '[langid]\ndim = 16\nepochs = 3\nlr = 0.03\nthreads = 1\n[langid.data]\ncorpora = ["sample"]\n'
        "min_examples_per_label = 600\n[langid.features]\nbuckets = 16384\n",
        "utf-8",
    )
    return recipe
