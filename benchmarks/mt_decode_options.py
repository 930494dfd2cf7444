"""Decoding options of a translation model on the mt recipe's dev verses: chrF++ per beam size, length penalty,
n-gram blocking and repetition penalty, so that a default is chosen on dev, never on the held-out book.

    .venv/bin/python benchmarks/mt_decode_options.py --model xling-mt-bible --json runs/bench/mt_decode_dev.json

The dev verses are the recipe's (its `dev_fraction` of the corpus ids, never trained on, never the held-out
book), its `dev_directions`, the first `--sentences` of each. Each option row is
`beam:length_penalty:no_repeat_ngram_size:repetition_penalty`; the first row is the reference the others
are compared with.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench_common import print_wide, recipe_dev_verses, write_json  # noqa: E402  (the script's folder is on sys.path)

OPTIONS = "4:1.0:0:1.0,1:1.0:0:1.0,4:0.6:0:1.0,4:1.3:0:1.0,6:1.0:0:1.0,8:1.0:0:1.0,4:1.0:3:1.0,4:1.0:0:1.2"


def parse_options(text: str) -> list[dict[str, float | int]]:
    """Return DecodeOptions fields of each `beam:length_penalty:no_repeat:repetition` row of `text`."""
    rows = []
    for row in text.split(","):
        beam, length_penalty, no_repeat, repetition = row.split(":")
        rows.append({"beam_size": int(beam), "length_penalty": float(length_penalty),
                     "no_repeat_ngram_size": int(no_repeat), "repetition_penalty": float(repetition)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="xling-mt-bible", help="A translation model folder or shipped name."
    )
    parser.add_argument("--recipe", default="recipes/mt-bible.toml", help="Whose dev verses are used.")
    parser.add_argument("--options", default=OPTIONS, help="beam:length_penalty:no_repeat:repetition rows.")
    parser.add_argument("--sentences", type=int, default=300, help="Dev verses per direction.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    import torch
    from rich.table import Table
    from sacrebleu.metrics import CHRF

    from xling.config import load_config
    from xling.translation.decoding import DecodeOptions
    from xling.translation.train import MTTrainConfig
    from xling.translation.translator import Translator

    torch.set_num_threads(args.threads)
    config = load_config(MTTrainConfig, args.recipe, section="mt")
    dev = recipe_dev_verses(config, args.sentences)

    translator = Translator.from_pretrained(args.model)
    chrf = CHRF(word_order=2)
    results = []
    for fields in parse_options(args.options):
        started = time.perf_counter()
        scores = {}
        for direction, (sources, references) in dev.items():
            src, tgt = direction.split("-")
            hypotheses = translator.translate(sources, src, tgt, DecodeOptions(**fields))
            scores[direction] = round(chrf.corpus_score(hypotheses, [references]).score, 2)
        results.append({**fields, "dev_chrf++": scores, "average": round(sum(scores.values()) / len(scores), 2),
                        "seconds": round(time.perf_counter() - started, 1)})  # fmt: skip

    table = Table(title=f"{args.model}: dev chrF++ ({args.sentences} verses a direction) by decoding options")
    for column in ("beam", "length penalty", "no repeat", "repetition", *dev, "average",
                   "vs first", "seconds"):  # fmt: skip
        table.add_column(column, justify="right")
    for row in results:
        table.add_row(str(row["beam_size"]), f"{row['length_penalty']:g}", str(row["no_repeat_ngram_size"]),
                      f"{row['repetition_penalty']:g}", *(f"{v:.2f}" for v in row["dev_chrf++"].values()),
                      f"{row['average']:.2f}", f"{row['average'] - results[0]['average']:+.2f}", f"{row['seconds']:.1f}")  # fmt: skip
    print_wide(table, 130)
    report = {"model": str(args.model), "recipe": str(args.recipe), "sentences": args.sentences,
              "signature": chrf.get_signature().format(), "rows": results}  # fmt: skip
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
