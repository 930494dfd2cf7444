"""Benchmark: what `xling mt train`'s CPU kernel choices buy, side by side: attention and dropout masks.

`xling mt train` trains with transformers' eager attention on a CPU (`attention = "auto"`) and draws its
dropout masks with `xling.training.dropout.cpu_dropout`. This times xling's training loop on
mt_train_speed.py's workload (its model, pairs, initial weights and settings) in four variants, and the bf16
Seq2SeqTrainer with its default attention and with eager attention, in `--rounds` rounds of `--steps` timed
steps each, the order rotated every round (a shared machine drifts: only side-by-side figures compare), and
reports each variant's median target tokens/s and its ratio to the bf16 Trainer:

  xling            eager attention, xling's dropout masks (what `xling mt train` runs on a CPU)
  xling_torch_drop eager attention, torch's dropout
  xling_sdpa       SDPA attention, xling's dropout masks
  xling_before     SDPA and torch's dropout (xling before 2026-12-06's kernel choices)
  hf_bf16          the Trainer, bf16=True, transformers' default attention (SDPA)
  hf_bf16_eager    the same with eager attention

    .venv/bin/python benchmarks/mt_step_kernels.py --threads 2 --json runs/bench/mt_step_kernels.json
    .venv/bin/python benchmarks/mt_step_kernels.py --quick     # end to end in about a minute
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import mt_train_speed as mt
from bench_common import (
    child_round,
    quiet_libraries,
    removing_quick_tokenizer,
    round_medians,
    rounds_in_processes,
    write_json,
)

XLING_VARIANTS = {
    "xling": {"attention": "auto", "cpu_dropout": True},
    "xling_torch_drop": {"attention": "auto", "cpu_dropout": False},
    "xling_sdpa": {"attention": "sdpa", "cpu_dropout": True},
    "xling_before": {"attention": "sdpa", "cpu_dropout": False},
}
TRAINER_VARIANTS = {"hf_bf16": "", "hf_bf16_eager": "eager"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds, order rotated each (medians reported)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant and round")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: the usable cores)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="tiny settings to check the script end to end")
    return parser.parse_args(argv)


def run_variant(name: str, work: mt.Workload, settings: mt.BenchSettings) -> mt.MTRunFigures:
    """Return the figures of one timed run of variant `name`."""
    total = settings.untimed_steps + settings.steps
    if name in XLING_VARIANTS:
        return mt.run_xling(work, replace(settings, **XLING_VARIANTS[name]), total, settings.untimed_steps)
    trainer = replace(settings, trainer_attention=TRAINER_VARIANTS[name])
    return mt.run_hf(work, trainer, total, settings.untimed_steps, bf16=True)


def one_round(name: str, settings: mt.BenchSettings) -> mt.MTRunFigures:
    """Return the figures of one timed run of variant `name` (a child of `main`'s rounds), mt_train_speed.py's
    workload built again (a pure function of the settings)."""
    return run_variant(name, mt.build_workload(settings), settings)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the variants side by side, each timed run in a process of its own (a Trainer run after xling's in
    one process would keep xling's memory setting: bench_common.rounds_in_processes); print and return the
    report (and write it with --json)."""
    if child_round(sys.argv[1:] if argv is None else argv, mt.BenchSettings, one_round):
        return {}
    args = parse_args(argv)
    quiet_libraries()
    train_args = ["--steps", str(args.steps), "--rounds", str(args.rounds), "--threads", str(args.threads)]
    settings = mt.settings_from_args(mt.parse_args(train_args + (["--quick"] if args.quick else [])))
    with removing_quick_tokenizer(settings):
        mt.ensure_tokenizer(settings)  # the tokenizer every round's process shares
        names = (*XLING_VARIANTS, *TRAINER_VARIANTS)
        rounds = rounds_in_processes(__file__, settings.rounds, names, settings)
    speed = round_medians(rounds, "tokens_per_s")
    report = {
        "tokens_per_s": {name: round(x, 1) for name, x in speed.items()},
        "ratio_vs_hf_bf16": {name: round(x / speed["hf_bf16"], 3) for name, x in speed.items()},
        "variants": {
            **XLING_VARIANTS,
            **{k: {"trainer_attention": v or "sdpa"} for k, v in TRAINER_VARIANTS.items()},
        },
        "config": asdict(settings),
        "rounds": rounds,
    }
    print(f"{'variant':18s} {'target tokens/s':>16s} {'vs Trainer bf16':>16s}")
    for name in names:
        print(f"{name:18s} {speed[name]:16,.0f} {speed[name] / speed['hf_bf16']:15.2f}x")
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
