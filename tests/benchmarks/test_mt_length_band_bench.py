"""benchmarks/mt_length_band.py: every layout (band, groups) asked for is trained for the same minutes on one workload, in
order, and the JSON holds one row per layout."""

from __future__ import annotations

import json
from types import SimpleNamespace


def test_each_band_trains_the_same_minutes_on_one_workload(load_benchmark, monkeypatch, tmp_path):
    length_band = load_benchmark("mt_length_band")
    workloads: list[object] = []
    calls: list[tuple[object, float, float]] = []

    def build_workload(settings):
        workloads.append(object())
        return workloads[-1]

    def train_band(work, settings, band, groups, minutes):
        calls.append((work, band, groups, minutes))
        return {"band": band, "groups": groups, "steps": 10, "target_tokens": 100, "target_tokens_per_s": 5.0,
                "heldout_loss": 4.0 + band}  # fmt: skip

    settings = SimpleNamespace(threads=1, batch_size=48, lr=1e-3, quick=False, tokenizer="unused")
    monkeypatch.setattr(length_band.mt, "build_workload", build_workload)
    monkeypatch.setattr(length_band.mt, "settings_from_args", lambda args: settings)
    monkeypatch.setattr(length_band, "train_band", train_band)
    # the alternating speed rounds run first, on the same workload, over the same layouts
    monkeypatch.setattr(
        length_band,
        "alternating_speed",
        lambda work, settings, layouts, rounds, steps: (
            calls.append((work, tuple(layouts), rounds, steps)) or ({"0.02": 7.0, "1.0x1": 5.0}, [{}])
        ),
    )
    out = tmp_path / "band.json"
    report = length_band.main(["--bands", "0.02,1.0x1", "--minutes", "2", "--json", str(out)])
    assert len(workloads) == 1
    assert calls == [(workloads[0], ("0.02", "1.0x1"), 3, 20), (workloads[0], 0.02, 1, 2.0),
                     (workloads[0], 1.0, 1, 2.0)]  # fmt: skip
    assert [row["alternating_tokens_per_s"] for row in report["bands"]] == [7.0, 5.0]
    assert [row["band"] for row in json.loads(out.read_text())["bands"]] == [0.02, 1.0]
    assert report["config"]["minutes"] == 2.0
