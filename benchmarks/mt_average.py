"""Checkpoint averaging for an `xling mt train` run: greedy dev chrF++ of the mean of its last K checkpoints.

    .venv/bin/python benchmarks/mt_average.py --run runs/mt-bible --recipe recipes/mt-bible.toml \
        --k 1,2,3,4 --json runs/bench/mt_average.json

K = 1 is the last checkpoint alone. The dev set is the recipe's (its `dev_fraction` of the corpus ids, never
trained on, and never the held-out book), its `dev_directions`, the first `--sentences` verses of each: what a
shipped model's choice of K may be made on (`recipes/ship_xling_mt_bible.py --average K`).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_common import recipe_dev_verses, write_json  # noqa: E402  (the script's folder is on sys.path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/mt-bible")
    parser.add_argument("--recipe", default="recipes/mt-bible.toml")
    parser.add_argument(
        "--k", default="1,2,3,4", help="How many last checkpoints to average, comma-separated."
    )
    parser.add_argument("--sentences", type=int, default=200, help="Dev verses per direction.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch
    from rich.console import Console
    from rich.table import Table
    from sacrebleu.metrics import CHRF

    from xling.errors import XlingError
    from xling.tokenization.vocabulary import load_tokenizer
    from xling.training.checkpoint import average_checkpoints, last_scheduled, list_checkpoints
    from xling.translation.objective import Seq2SeqObjective
    from xling.translation.train import build_model, greedy_translate, recipe_config_of_run

    torch.set_num_threads(args.threads)
    checkpoints = list_checkpoints(Path(args.run))
    if not checkpoints:
        raise SystemExit(f"{args.run}: no checkpoints to average")
    # the model is rebuilt from the recipe: a run trained with other settings (--set, another tokenizer) is
    # refused rather than decoded with the recipe's tokenizer
    try:
        config = recipe_config_of_run(args.recipe, checkpoints[-1])
    except XlingError as error:  # another recipe's run, or an unreadable newest checkpoint
        raise SystemExit(f"{args.run}: {error}") from error
    tokenizer = load_tokenizer(config.tokenizer)
    objective = Seq2SeqObjective(build_model(config, tokenizer)).eval()
    dev = recipe_dev_verses(config, args.sentences)

    chrf = CHRF(word_order=2)
    rows = []
    for k in (int(x) for x in args.k.split(",")):
        # as `mt train --set average_last=K`: not a checkpoint a stop for time left between scheduled ones
        chosen = last_scheduled(Path(args.run), k, what=f"--k {k}")
        started = time.perf_counter()
        average_checkpoints(chosen, objective)
        scores = {}
        for direction, (sources, references) in dev.items():
            src, tgt = direction.split("-")
            hypotheses = greedy_translate(objective.model, tokenizer, sources, src, tgt)
            scores[direction] = round(chrf.corpus_score(hypotheses, [references]).score, 2)
        rows.append({"k": k, "steps": [int(c.name.split("-")[1]) for c in chosen], "dev_chrf++": scores,
                     "average": round(sum(scores.values()) / len(scores), 2),
                     "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip

    table = Table(
        title=f"{args.run}: dev chrF++ (greedy, {args.sentences} verses) of the last K checkpoints averaged"
    )
    for column in ("K", "steps", *dev, "average"):
        table.add_column(column, justify="right")
    for row in rows:
        steps = f"{row['steps'][0]}-{row['steps'][-1]}" if len(row["steps"]) > 1 else str(row["steps"][0])
        table.add_row(
            str(row["k"]), steps, *(f"{row['dev_chrf++'][d]:.2f}" for d in dev), f"{row['average']:.2f}"
        )
    Console().print(table)
    report = {"run": str(args.run), "sentences": args.sentences, "signature": chrf.get_signature().format(),
              "rows": rows}  # fmt: skip
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
