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


def test_memory_figures_come_from_the_median_round_and_the_ratio_is_shown_once(mine_speed, capsys):
    def figures(seconds: float, peak: float, before: float) -> dict[str, float]:
        return {"seconds": seconds, "peak_rss_mib": peak, "input_rss_mib": before,
                "peak_above_input_mib": peak - before, "pairs": 7, "planted": 7, "planted_found": 7,
                "precision": 1.0, "faiss_threads": 1}  # fmt: skip

    # separate medians would give peak 300, input 100 and above 150 (each from another round): not 300 - 100
    rounds = [
        {"xling": figures(3.0, 300.0, 150.0), "baseline": figures(8.0, 900.0, 100.0)},
        {"xling": figures(1.0, 400.0, 50.0), "baseline": figures(6.0, 700.0, 100.0)},
        {"xling": figures(2.0, 200.0, 100.0), "baseline": figures(7.0, 800.0, 100.0)},
    ]
    results, ratio = mine_speed.summarize(rounds)
    xling = results["xling"]
    assert xling["seconds"] == 2.0 and xling["round_seconds"] == [3.0, 1.0, 2.0]
    assert xling["median_round"] == 3  # the round of the median seconds: its memory figures, all three
    memory = (xling["peak_rss_mib"], xling["input_rss_mib"], xling["peak_above_input_mib"])
    assert memory == (200.0, 100.0, 100.0)
    assert results["baseline"]["median_round"] == 3 and results["baseline"]["peak_rss_mib"] == 800.0
    assert ratio == 3.5
    # an even number of rounds: the seconds are the median, the figures the lower middle round's
    even, _ = mine_speed.summarize(rounds[:2])
    assert even["xling"]["seconds"] == 2.0 and even["xling"]["median_round"] == 2
    assert even["xling"]["peak_rss_mib"] == 400.0

    report = {"config": {"n": 10, "dim": 4, "k": 4, "index": "flat", "rounds": 3}, "results": results,
              "ratio": ratio, "ratio_means": mine_speed.RATIO_MEANS, "check": None}  # fmt: skip
    mine_speed.print_table(report)
    printed = capsys.readouterr().out
    assert "3.50x" in printed and printed.count("3.50") == 1  # the ratio once, on the line under the table
