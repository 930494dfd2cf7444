"""benchmarks/mine_speed.py: each contender runs once a round, the order alternating from round to round,
and the JSON holds each round's seconds, the medians and the ratio baseline / xling."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def mine_speed(load_benchmark):
    pytest.importorskip("faiss")  # main records its version
    return load_benchmark("mine_speed")


def test_rounds_alternate_and_the_json_has_medians_and_ratio(mine_speed, monkeypatch, tmp_path):
    calls: list[str] = []
    seconds = {"xling": iter([1.0, 3.0, 2.0]), "baseline": iter([4.0, 9.0, 5.0])}

    def run_contender(name, settings, out):
        calls.append(name)
        return {"seconds": next(seconds[name]), "peak_rss_mib": 100.0, "input_rss_mib": 50.0,
                "peak_above_input_mib": 50.0, "pairs": 7, "planted": 1, "planted_found": 1, "precision": 1 / 7,
                "faiss_threads": 1}  # fmt: skip

    monkeypatch.setattr(mine_speed, "run_contender", run_contender)
    monkeypatch.setattr(mine_speed, "compare", lambda out: {"identical_pairs": True, "max_score_diff": 0.0,
                                                             "pairs": {"xling": 7, "baseline": 7}})  # fmt: skip
    out = tmp_path / "mine.json"
    assert mine_speed.main(["--n", "10", "--rounds", "3", "--json", str(out)]) == 0
    assert calls == ["xling", "baseline", "baseline", "xling", "xling", "baseline"]
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["results"]["xling"]["round_seconds"] == [1.0, 3.0, 2.0]
    assert report["results"]["xling"]["seconds"] == 2.0  # the median
    assert report["results"]["baseline"]["seconds"] == 5.0
    assert report["ratio"] == 2.5 and "above 1 means xling is faster" in report["ratio_means"]
    assert report["config"]["rounds"] == 3 and len(report["rounds"]) == 3


def test_one_contender_has_no_ratio(mine_speed, monkeypatch, tmp_path):
    monkeypatch.setattr(mine_speed, "run_contender", lambda name, settings, out: {
        "seconds": 1.0, "peak_rss_mib": 1.0, "input_rss_mib": 1.0, "peak_above_input_mib": 0.0, "pairs": 0,
        "planted": 0, "planted_found": 0, "precision": 0.0, "faiss_threads": 1})  # fmt: skip
    out = tmp_path / "mine.json"
    mine_speed.main(["--n", "10", "--rounds", "2", "--contenders", "xling", "--json", str(out)])
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["ratio"] is None and report["results"]["xling"]["round_seconds"] == [1.0, 1.0]
