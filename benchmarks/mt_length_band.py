"""Benchmark: `xling mt train`'s batch layout (length band, length groups), held-out loss after equal minutes.

`TranslationBatches` draws a step's pairs in `length_groups` groups (1 by default), each from its own narrow
band of lengths (`length_band`, 0.02 of a direction's pairs by default), and the objective runs each group
padded to its own longest pair: little padding, and a step still mixes short and long pairs. One group
(`BANDx1`) pads as little with all of a step's pairs alike; a wide band (1.0: uniform over the direction)
mixes lengths as random batches do, padding each step to its longest pair. This script trains
mt_train_speed.py's model on its workload (eng <-> deu Bible pairs, John held out, the same initial weights
and settings) once per layout for the same wall-clock minutes, one after the other, and reports steps, target
tokens, target tokens/s and the held-out loss (plain cross-entropy per target token of the dev pairs, as
mt_train_speed.py takes it). A shared machine's speed drifts over minutes, which one layout after another
feels and the others do not: first, `--speed-rounds` rounds of `--speed-steps` timed steps per layout, in
an order rotated each round, give each layout's median target tokens/s side by side.

    .venv/bin/python benchmarks/mt_length_band.py --bands 0.02x1,0.02x4,1.0x1 --minutes 3 --json runs/bench/mt_length_band.json
    .venv/bin/python benchmarks/mt_length_band.py --quick     # end to end in about a minute
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import mt_train_speed as mt
import torch
from bench_common import (
    log,
    print_wide,
    quiet_libraries,
    removing_quick_tokenizer,
    round_medians,
    speed_rounds,
    usable_cores,
    write_json,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the command line: the bands, the minutes each, and mt_train_speed.py's workload options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bands", default="0.02x1,0.02x4,0.2x1,1.0x1",
                        help="comma-separated layouts: BAND (length_band, one group as mt train) or BANDxGROUPS")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=3.0, help="training minutes per band")
    parser.add_argument("--speed-rounds", type=int, default=3, help="alternating speed rounds (0: none)")
    parser.add_argument("--speed-steps", type=int, default=20, help="timed steps per layout and round")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: the usable cores)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="tiny settings to check the script end to end")
    return parser.parse_args(argv)


def parse_layout(text: str) -> tuple[float, int]:
    """Return (length band, length groups) of a `--bands` entry: BAND or BANDxGROUPS."""
    band, _, groups = text.partition("x")
    return float(band), int(groups or 1)


def train_band(work: Any, settings: Any, band: float, groups: int, minutes: float) -> dict[str, Any]:
    """Return one layout's figures after `minutes` of training from the shared initial weights."""
    from xling.training import TrainingConfig, train
    from xling.translation.data import TranslationBatches
    from xling.translation.objective import Seq2SeqObjective

    batches = TranslationBatches(
        work.data,
        batch_size=settings.batch_size,
        temperature=5.0,
        seed=settings.seed,
        length_band=band,
        length_groups=groups,
    )
    config = TrainingConfig(
        max_steps=10**9, batch_size=settings.batch_size, precision="auto", progress=False,
        checkpoint_every=10**9, log_every=10**9, lr=settings.lr, warmup_steps=settings.warmup,
        schedule="constant", threads=settings.threads, seed=settings.seed, max_minutes=minutes,
    )  # fmt: skip
    objective = Seq2SeqObjective(mt.xling_model(work, settings), settings.label_smoothing)
    with tempfile.TemporaryDirectory(prefix="xling-bench-band-") as run_dir:
        result = train(objective, batches, config, run_dir, description=f"band {band} x{groups}")
    figures = {
        "band": band,
        "groups": groups,
        "steps": result.steps,
        "target_tokens": result.tokens,
        "target_tokens_per_s": round(result.tokens_per_s, 1),
        "heldout_loss": round(mt.heldout_loss(objective.model, work), 4),
    }
    log(f"band {band} x{groups}: {figures}")
    return figures


def alternating_speed(
    work: Any, settings: Any, layouts: list[str], rounds: int, steps: int
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Return (each layout's median target tokens/s, the rounds) over `rounds` rounds of `steps` timed steps
    (after 3 untimed), the layouts' order rotated each round; ({}, []) for no rounds."""
    if rounds < 1:
        return {}, []

    def run_one(layout: str):
        band, groups = parse_layout(layout)
        return mt.run_xling(work, replace(settings, length_band=band, length_groups=groups), steps + 3, 3)

    measured = speed_rounds(rounds, tuple(layouts), run_one)
    medians = {name: round(x, 1) for name, x in round_medians(measured, "tokens_per_s").items()}
    return medians, measured


def print_table(report: dict[str, Any]) -> None:
    """Print one row per band."""
    from rich.table import Table

    table = Table(title=f"xling mt train, {report['config']['minutes']} minutes per batch layout")
    columns = ("length band", "groups", "steps", "target tokens", "target tokens/s", "alternating tokens/s",
               "held-out loss")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for row in report["bands"]:
        speed = row.get("alternating_tokens_per_s")
        alternating = "n/a" if speed is None else f"{speed:,.0f}"
        table.add_row(f"{row['band']:g}", str(row["groups"]), f"{row['steps']:,}", f"{row['target_tokens']:,}",
                      f"{row['target_tokens_per_s']:,.0f}", alternating, f"{row['heldout_loss']:.3f}")  # fmt: skip
    print_wide(table, 120)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Return the report after training every band (and writing --json if given)."""
    args = parse_args(argv)
    workload_args = ["--threads", str(args.threads or usable_cores())] + (["--quick"] if args.quick else [])
    settings = mt.settings_from_args(mt.parse_args(workload_args))
    minutes = 0.15 if args.quick else args.minutes
    torch.set_num_threads(settings.threads)
    quiet_libraries()
    started = time.perf_counter()
    with removing_quick_tokenizer(settings):
        work = mt.build_workload(settings)
        layouts = args.bands.split(",")
        speed, measured = alternating_speed(work, settings, layouts, 1 if args.quick else args.speed_rounds,
                                  2 if args.quick else args.speed_steps)  # fmt: skip
        bands = [train_band(work, settings, *parse_layout(x), minutes) for x in layouts]
        for layout, row in zip(layouts, bands, strict=True):
            row["alternating_tokens_per_s"] = speed.get(layout)
    config = {
        "minutes": minutes, "threads": settings.threads, "batch_size": settings.batch_size, "lr": settings.lr,
        "quick": settings.quick, "seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    report = {"bands": bands, "speed_rounds": measured, "config": config}
    print_table(report)
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
