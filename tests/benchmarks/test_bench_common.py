"""benchmarks/bench_common.py: speed_rounds rotates the contenders' order from round to round (two contenders
alternate), and write_json replaces a file only with a complete report."""

from __future__ import annotations

import json
import os

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
