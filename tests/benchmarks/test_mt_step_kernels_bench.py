"""benchmarks/mt_step_kernels.py: each variant trains with its own kernels on one workload, side by side."""

from __future__ import annotations

import json
from types import SimpleNamespace


def test_each_variant_runs_its_kernels_and_is_reported_against_the_bf16_trainer(
    load_benchmark, monkeypatch, tmp_path
):
    kernels = load_benchmark("mt_step_kernels")
    runs: list[tuple[str, str, bool | str]] = []
    speeds = {("xling", "auto", True): 40.0, ("xling", "auto", False): 36.0, ("xling", "sdpa", True): 30.0,
              ("xling", "sdpa", False): 28.0, ("hf", "", True): 10.0, ("hf", "eager", True): 12.0}  # fmt: skip

    def figures(key):
        runs.append(key)
        return SimpleNamespace(summary=lambda: {"tokens_per_s": speeds[key]}, speed_line=lambda: str(key))

    workload = object()
    monkeypatch.setattr(kernels.mt, "build_workload", lambda settings: workload)
    monkeypatch.setattr(kernels.mt, "ensure_tokenizer", lambda settings: None)
    monkeypatch.setattr(
        kernels.mt, "run_xling",
        lambda work, settings, total, timed_from: figures(("xling", settings.attention, settings.cpu_dropout)),
    )  # fmt: skip
    monkeypatch.setattr(
        kernels.mt, "run_hf",
        lambda work, settings, total, timed_from, bf16: figures(("hf", settings.trainer_attention, bf16)),
    )  # fmt: skip
    # the rounds run in this process, where the patches hold (bench_common's own test covers the processes)
    bench_common = load_benchmark("bench_common")
    monkeypatch.setattr(
        kernels, "rounds_in_processes",
        lambda script, rounds, names, settings: bench_common.speed_rounds(
            rounds, names, lambda name: kernels.one_round(name, settings)
        ),
    )  # fmt: skip
    out = tmp_path / "kernels.json"
    report = kernels.main(["--rounds", "2", "--steps", "5", "--threads", "1", "--json", str(out)])
    assert sorted(set(runs)) == sorted(speeds) and len(runs) == 12  # every variant in each of 2 rounds
    assert report["ratio_vs_hf_bf16"] == {"xling": 4.0, "xling_torch_drop": 3.6, "xling_sdpa": 3.0,
                                          "xling_before": 2.8, "hf_bf16": 1.0, "hf_bf16_eager": 1.2}  # fmt: skip
    assert json.loads(out.read_text())["tokens_per_s"]["xling"] == 40.0
