"""Benchmark: a translation model started from random weights vs warm-started from an xling encoder.

    .venv/bin/python benchmarks/mt_warm_start.py --recipe recipes/mt-bible.toml --encoder xling-mini \
        --steps 300 --json runs/bench/mt_warm_start.json

Both runs are the recipe's model, data, seed and batches (`xling mt train` with its settings), cut to
`--steps` optimizer steps with `--warmup` warm-up steps and a constant rate after; one differs only by
`init_encoder` (`xling.translation.warm_start`). Reported: the training loss (label-smoothed, as trained) at
every logged step, and greedy dev chrF++ (the recipe's dev directions and dev verses, never the held-out book)
at the end. One thread each, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_common import write_json  # noqa: E402  (the script's folder is on sys.path)


def run(recipe: str, output: Path, steps: int, warmup: int, threads: int, encoder: str) -> dict:
    """Return the losses by step, the dev chrF++ and the seconds of one short training run."""
    from xling.config import load_config
    from xling.translation.train import MTTrainConfig, train_translation

    config = load_config(MTTrainConfig, recipe, section="mt", output=str(output), init_encoder=encoder)
    training = config.training
    training.max_steps, training.warmup_steps, training.schedule = steps, warmup, "constant"
    training.eval_every, training.checkpoint_every, training.threads = steps, steps, threads
    training.log_every, training.best_metric = max(1, steps // 10), ""
    started = time.perf_counter()
    result = train_translation(config)
    seconds = time.perf_counter() - started
    log = [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]
    losses = {entry["step"]: entry["loss"] for entry in log if "loss" in entry}
    dev = {key: value for key, value in result.train.metrics.items() if "chrf" in key}
    return {"loss": losses, "dev": dev, "seconds": round(seconds, 1)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="recipes/mt-bible.toml")
    parser.add_argument("--encoder", default="xling-mini", help="the xling encoder of the warm start")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    figures: dict = {"settings": vars(args) | {"json": str(args.json)}, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, encoder in (("random", ""), ("warm", args.encoder)):
            figures["runs"][name] = run(args.recipe, Path(tmp) / name, args.steps, args.warmup, args.threads,
                                        encoder)  # fmt: skip
    random_run, warm_run = figures["runs"]["random"], figures["runs"]["warm"]
    table = Table(title=f"mt warm start from {args.encoder}: training loss by step, dev chrF++ at the end")
    table.add_column("step", justify="right")
    table.add_column("random", justify="right")
    table.add_column(f"warm ({args.encoder})", justify="right")
    for step in sorted(random_run["loss"]):
        table.add_row(
            str(step), f"{random_run['loss'][step]:.3f}", f"{warm_run['loss'].get(step, float('nan')):.3f}"
        )
    for key in sorted(random_run["dev"]):
        table.add_row(key, f"{random_run['dev'][key]:.1f}", f"{warm_run['dev'].get(key, float('nan')):.1f}")
    table.add_row("seconds", f"{random_run['seconds']:.0f}", f"{warm_run['seconds']:.0f}")
    Console().print(table)
    write_json(figures, args.json)
    return figures


if __name__ == "__main__":
    main()
