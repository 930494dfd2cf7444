"""The learning curve of an `xling mt train` run: held-out chrF++ of its checkpoints against training time.

    .venv/bin/python benchmarks/mt_learning_curve.py --run runs/mt-bible --recipe recipes/mt-bible.toml \
        --minutes 15,60,120 --json runs/bench/mt_learning_curve.json

For each asked time (or, with `--steps`, each asked step: a run that shared its cores has a clock that
measures the sharing), the newest checkpoint saved by then is loaded (the run keeps all of them with
`keep_checkpoints = 0`) and scored with greedy decoding on the first `--sentences` verses of the held-out
book (John in mt-bible) for each `--directions`, with sacrebleu's chrF++ (word_order=2). Training time is
the loop's own clock from train_log.jsonl, summed over resumed pieces (reading the corpus is not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench_common import write_json

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def cumulative_minutes(log: Path) -> dict[int, float]:
    """Return the training minutes at each logged step, summed across the pieces of a resumed run."""
    minutes: dict[int, float] = {}
    offset, last = 0.0, 0.0
    for line in log.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["elapsed_s"] < last:  # a resumed piece starts its clock again
            offset += last
        last = entry["elapsed_s"]
        minutes[entry["step"]] = (offset + last) / 60
    return minutes


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/mt-bible")
    parser.add_argument("--recipe", default="recipes/mt-bible.toml")
    parser.add_argument("--minutes", default="15,60,120", help="Training times to score, comma-separated.")
    parser.add_argument("--steps", default="", help="Steps to score instead of times, comma-separated.")
    parser.add_argument("--directions", default="eng-deu,eng-fra,eng-spa")
    parser.add_argument("--sentences", type=int, default=200, help="Held-out verses per direction.")
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch
    from rich.console import Console
    from rich.table import Table
    from sacrebleu.metrics import CHRF

    from xling.config import load_config
    from xling.data.readers import AlignedCorpus
    from xling.tokenization.vocabulary import load_tokenizer
    from xling.training.checkpoint import list_checkpoints, load_checkpoint
    from xling.translation.objective import Seq2SeqObjective
    from xling.translation.train import MTTrainConfig, build_model, greedy_translate

    torch.set_num_threads(args.threads)
    config = load_config(MTTrainConfig, args.recipe, section="mt")
    run = Path(args.run)
    # a finished run holds its own tokenizer (a run with `--set tokenizer=...` is not the recipe's)
    tokenizer = load_tokenizer(run if (run / "tokenizer.json").is_file() else config.tokenizer)
    objective = Seq2SeqObjective(build_model(config, tokenizer)).eval()
    clock = cumulative_minutes(run / "train_log.jsonl")
    checkpoints = {int(p.name.split("-")[1]): p for p in list_checkpoints(run)}
    corpus = AlignedCorpus.from_dir(Path(args.data) / "bible")
    prefixes = tuple(config.data.heldout_prefixes)
    tests = {}
    for direction in args.directions.split(","):
        src, tgt = direction.split("-")
        rows = [r for r in corpus.pairs(src, tgt, ids=lambda i: i.startswith(prefixes))][: args.sentences]
        tests[direction] = ([r[1] for r in rows], [r[2] for r in rows])

    chrf = CHRF(word_order=2)
    rows = []
    by_step = bool(args.steps)
    for wanted in (float(m) for m in (args.steps or args.minutes).split(",")):
        saved = [s for s in checkpoints if s in clock and (s if by_step else clock[s]) <= wanted]
        if not saved:
            continue
        step = max(saved)
        load_checkpoint(checkpoints[step], objective)
        started = time.perf_counter()
        scores = {}
        for direction, (sources, references) in tests.items():
            src, tgt = direction.split("-")
            hypotheses = greedy_translate(objective.model, tokenizer, sources, src, tgt)
            scores[direction] = round(chrf.corpus_score(hypotheses, [references]).score, 1)
        rows.append({"step_asked" if by_step else "minutes_asked": wanted, "step": step, "minutes": round(clock[step], 1), "chrf++": scores,
                     "average": round(sum(scores.values()) / len(scores), 1),
                     "seconds_to_score": round(time.perf_counter() - started, 1)})  # fmt: skip

    table = Table(title=f"{run}: held-out chrF++ (greedy, first {args.sentences} verses) vs training time")
    for column in ("asked (step)" if by_step else "asked (min)", "step", "trained (min)", *tests, "average"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(f"{row['step_asked' if by_step else 'minutes_asked']:g}", str(row["step"]), f"{row['minutes']:.1f}",
                      *(f"{row['chrf++'][d]:.1f}" for d in tests), f"{row['average']:.1f}")  # fmt: skip
    Console().print(table)
    report = {"run": str(run), "sentences": args.sentences, "decoding": "greedy",
              "signature": chrf.get_signature().format(), "curve": rows}  # fmt: skip
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
