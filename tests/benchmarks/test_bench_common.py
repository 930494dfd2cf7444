"""benchmarks/bench_common.py: speed_rounds rotates the contenders' order from round to round (two contenders
alternate), rounds_in_processes runs every timed run in a fresh process with the settings it was given, and
write_json replaces a file only with a complete report."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest


class Figures:
    def __init__(self, name: str):
        self.name = name

    def summary(self) -> dict[str, str]:
        return {"name": self.name}

    def speed_line(self) -> str:
        return self.name


def test_speed_rounds_rotate_the_order(load_benchmark):
    bench_common = load_benchmark("bench_common")
    calls: list[str] = []

    def run_one(name: str) -> Figures:
        calls.append(name)
        return Figures(name)

    rounds = bench_common.speed_rounds(3, ("a", "b", "c"), run_one)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert [list(r) for r in rounds] == [["a", "b", "c"]] * 3  # each round keyed in the contenders' order
    assert rounds[1]["c"] == {"name": "c"}


def test_measured_rounds_alternate_two_contenders_and_keep_medians(load_benchmark):
    bench_common = load_benchmark("bench_common")
    calls: list[str] = []
    seconds = {"x": iter([1.0, 5.0, 2.0]), "y": iter([3.0, 3.0, 9.0])}

    def run_one(name: str) -> tuple[dict[str, float], str]:
        calls.append(name)
        return {"seconds": next(seconds[name])}, name

    rounds = bench_common.measured_rounds(3, ("x", "y"), run_one)
    assert calls == ["x", "y", "y", "x", "x", "y"]
    assert bench_common.round_medians(rounds, "seconds") == {"x": 2.0, "y": 3.0}


def test_write_json_leaves_the_old_file_when_the_write_fails(load_benchmark, tmp_path, monkeypatch):
    bench_common = load_benchmark("bench_common")
    path = tmp_path / "out" / "report.json"
    bench_common.write_json({"old": 1}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"old": 1}
    # the report holds a value json cannot write: nothing replaces the old file
    with pytest.raises(TypeError):
        bench_common.write_json({"new": "x" * 10_000, "bad": object()}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"old": 1}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temporary file left behind

    def full_disk(fd: int) -> None:  # the report went to the temporary file, but the disk is full
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", full_disk)
        with pytest.raises(OSError, match="No space"):
            bench_common.write_json({"new": 2}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == {"old": 1}
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]
    bench_common.write_json({"when": object()}, path, default=lambda value: "object")
    assert json.loads(path.read_text(encoding="utf-8")) == {"when": "object"}
    bench_common.write_json({"x": 1}, None)  # nothing to write


def test_recipe_dev_verses_leave_out_chapters_numbered_apart(tmp_path, load_benchmark):
    """The benchmarks' dev verses are cut as training cuts them: German counts a psalm's title as verse 1, so
    that chapter's verses, joined on ids, would not translate each other and are no dev references."""
    from xling.config import load_config
    from xling.translation.data import is_dev_id
    from xling.translation.train import MTTrainConfig

    english = {f"PSA.23.{v}": f"psalm line {v}" for v in range(1, 7)}
    english |= {f"MAT.17.{v}": f"gospel line {v}" for v in range(1, 28)}
    german = {f"PSA.23.{v}": f"Psalmzeile {v}" for v in range(1, 8)}
    german |= {f"MAT.17.{v}": f"Evangelienzeile {v}" for v in range(1, 28)}
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for lang, texts in (("eng", english), ("deu", german)):
        (corpus / f"{lang}.tsv").write_text("".join(f"{k}\t{v}\n" for k, v in texts.items()), "utf-8")
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'[mt]\ndev_fraction = 0.45\ndev_directions = ["eng-deu"]\n[mt.data]\ncorpus = "{corpus}"\n'
                      'languages = ["eng", "deu"]\nheldout_prefixes = ["MAT.17.27"]\n', "utf-8")  # fmt: skip
    config = load_config(MTTrainConfig, recipe, section="mt")
    sources, references = load_benchmark("bench_common").recipe_dev_verses(config, 100)["eng-deu"]
    dev = [v for v in range(1, 27) if is_dev_id(f"MAT.17.{v}", 0.45)]
    assert dev and sources == [f"gospel line {v}" for v in dev]
    assert references == [f"Evangelienzeile {v}" for v in dev]
    assert any(is_dev_id(f"PSA.23.{v}", 0.45) for v in range(1, 7))  # the psalm had dev ids: left out


def test_the_crossing_is_interpolated_between_the_evaluations_around_it(load_benchmark):
    """Losses read every few steps: the first reading at or below the target overstates the tokens needed by
    up to one interval, so the ratio at equal loss uses where the line between the two readings crosses."""
    bench_common = load_benchmark("bench_common")
    curve = {100: 7.0, 200: 6.5, 300: 6.2, 400: 6.1}
    assert bench_common.crossing_tokens(curve, 6.35, 300) == 250
    assert bench_common.crossing_tokens(curve, 7.0, 100) == 100  # the first reading: nothing before it
    assert bench_common.crossing_tokens(curve, 6.0, None) is None
    figures = bench_common.equal_loss_figures({"tokens": 300, "crossing_tokens": 250}, 200, 4.0, 1.0)
    assert figures["token_ratio_at_equal_heldout"] == 1.25
    assert figures["ratio_vs_hf_bf16_at_equal_heldout"] == 3.2


def test_a_bf16_trainer_model_is_scored_without_its_autocast_wrapper(load_benchmark):
    """accelerate wraps a bf16 model's forward in autocast and transformers leaves it there after training:
    scored as it is, the Trainer's held-out loss would be a bf16 reading against xling's fp32 one. The
    forward's own decorators (transformers' `can_return_tuple` and the like) must stay."""
    import functools

    import torch
    from accelerate import Accelerator

    def plus_one(forward):
        @functools.wraps(forward)
        def decorated(self, x):
            return forward(self, x) + 1

        return decorated

    class Decorated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(64, 64)

        @plus_one
        def forward(self, x):
            return self.linear(x)

    bench_common = load_benchmark("bench_common")
    torch.manual_seed(0)
    model = Decorated()
    x = torch.randn(8, 64)
    plain = model(x)
    wrapped = Accelerator(cpu=True, mixed_precision="bf16").prepare_model(model)
    if "_original_forward" not in wrapped.__dict__:
        pytest.skip("accelerate did not wrap the model for bf16 on this CPU")
    assert not torch.allclose(wrapped(x), plain, atol=1e-4)  # computed in bf16
    unwrapped = bench_common.without_autocast_wrapper(wrapped)
    assert unwrapped is model and torch.equal(unwrapped(x), plain)
    assert bench_common.without_autocast_wrapper(unwrapped) is model  # no wrapper: left as it is


@dataclass
class ParentSettings:
    """The parent's copy of the child script's Settings."""

    languages: tuple[str, ...]
    steps: int
    names: list[str]


CHILD_SCRIPT = """
import os, sys
from dataclasses import dataclass
sys.path.insert(0, {benchmarks!r})
from bench_common import child_round, rounds_in_processes

@dataclass
class Settings:
    languages: tuple[str, ...]
    steps: int
    names: list[str]

class Figures:
    def __init__(self, name, settings):
        self.name, self.settings = name, settings
    def summary(self):
        if self.name == "broken":
            raise ValueError("this contender cannot run")
        return {{"pid": os.getpid(), "languages_is_tuple": isinstance(self.settings.languages, tuple),
                 "names_is_list": isinstance(self.settings.names, list), "steps": self.settings.steps}}
    def speed_line(self):
        return self.name

if __name__ == "__main__" and not child_round(sys.argv[1:], Settings, Figures):
    raise SystemExit("started without --one-round")
"""


def test_rounds_in_processes_time_every_run_in_a_fresh_process(load_benchmark, tmp_path):
    bench_common = load_benchmark("bench_common")
    script = tmp_path / "child_bench.py"
    script.write_text(
        textwrap.dedent(CHILD_SCRIPT.format(benchmarks=str(Path(bench_common.__file__).parent)))
    )
    settings = ParentSettings(languages=("eng", "deu"), steps=3, names=["a"])
    rounds = bench_common.rounds_in_processes(script, 2, ("x", "y"), settings)
    pids = [r[name]["pid"] for r in rounds for name in ("x", "y")]
    assert len(set(pids)) == 4 and os.getpid() not in pids  # nothing one run changes reaches the next
    # the settings reach the child as they were: a tuple field is a tuple again, a list a list
    assert rounds[0]["x"] == {"pid": pids[0], "languages_is_tuple": True, "names_is_list": True, "steps": 3}
    with pytest.raises(RuntimeError, match="(?s)the broken round failed.*this contender cannot run"):
        bench_common.rounds_in_processes(script, 1, ("broken",), settings)
