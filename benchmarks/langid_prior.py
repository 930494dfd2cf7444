"""Benchmark: a trained detector's held-out accuracy as the weight of its speakers prior grows (issue 16).

The prior (`xling.langid.prior`) is chosen on held-out data, never on a test set. This script rebuilds the
held-out sets of a training recipe the way `xling langid train` does (the lines each label holds out depend
only on the seed and the label's own lines, so a model trained by that recipe never read them): whole
held-out chunks, their 1-3-word and 4-10-word crops, each as a macro accuracy over all labels and over the
labels of languages with at least 10 million speakers; plus the UMSAB val tweets, which training never
reads (the recipe reads the train split). It then scores the model at each prior weight and prints a table.

    .venv/bin/python benchmarks/langid_prior.py --model runs/langid --recipe recipes/langid.toml \
        --weights 0,0.1,0.2,0.3,0.6 --json runs/bench/langid_prior.json

Valid only for models trained with the recipe's data settings and seed by xling after the held-out split
became per label (2026-12-03): a model trained before (the shipped xling-langid of that date included) held
out other lines, so some of these were its training text.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from bench_common import log, write_json

from xling.config import load_config
from xling.langid.labels import label_matches
from xling.langid.model import LanguageIdentifier
from xling.langid.prior import SPEAKERS_MILLIONS
from xling.langid.train import LangidTrainConfig, build_examples, dev_digest, labelled_sources

MAJOR_MILLIONS = 10
"""Languages with at least this many speakers (millions) form the `major` subsets."""
SETS = ("lines", "short", "medium")


def held_out(config: LangidTrainConfig) -> tuple[dict[str, tuple[list[str], list[str]]], str]:
    """Return ({set name: (texts, gold labels)} of the recipe's held-out lines and their crops, the split's
    digest as a model records it)."""
    grouped = labelled_sources(config.data)
    labels = list(grouped)
    _, dev = build_examples(grouped, config.data, config.seed)
    sets = {name: (list(getattr(dev, name).texts), [labels[i] for i in getattr(dev, name).labels])
            for name in SETS}  # fmt: skip
    return sets, dev_digest(dev, labels)


def check_split(identifier: LanguageIdentifier, digest: str, model: str) -> None:
    """Return nothing when the rebuilt held-out split is the one `model` was trained beside; SystemExit when
    it is not (the model's lines would be scored as held out); a warning for a model that records none."""
    recorded = identifier.info.get("dev_digest")
    if recorded is None:
        log(f"warning: {model} records no held-out split digest (trained before 2026-12-06): cannot check "
            "that the rebuilt split is its own")  # fmt: skip
    elif recorded != digest:
        raise SystemExit(f"{model}: its held-out split (digest {recorded}) is not the one the recipe and data "
                         f"give now ({digest}): pass the --set overrides it was trained with, or retrain it")  # fmt: skip


def umsab_val(folder: Path) -> tuple[list[str], list[str]]:
    """Return (texts, language codes) of every UMSAB language's val split under `folder`."""
    from xling.data.languages import language_code_of

    texts, golds = [], []
    for language in sorted(p for p in folder.iterdir() if (p / "val_text.txt").is_file()):
        code = language_code_of(language.name)
        for line in (language / "val_text.txt").read_text("utf-8").splitlines():
            if line.strip():
                texts.append(line.strip())
                golds.append(code)
    return texts, golds


def macro(predicted: Sequence[str], golds: Sequence[str], *, match: bool = False,
          keep: set[str] | None = None) -> float:  # fmt: skip
    """Return the mean over gold labels of their accuracy (percent); `match` accepts a macrolanguage's member
    or a label with a script for its language (xling.langid.labels.label_matches); `keep`: only golds whose
    language is in it."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for guess, gold in zip(predicted, golds, strict=True):
        if keep is None or gold.split("_", 1)[0] in keep:
            hits[gold].append(label_matches(guess, gold) if match else guess == gold)
    return 100 * float(np.mean([np.mean(v) for v in hits.values()])) if hits else float("nan")


def sweep(identifier: LanguageIdentifier, sets: dict[str, tuple[list[str], list[str]]], weights: list[float],
          ) -> list[dict[str, float]]:  # fmt: skip
    """Return one row of figures per prior weight.

    Each set is featurised once: the log-probabilities without the prior differ from the logits by a constant
    per text, so adding weight x log-prior to them picks the label the detector picks with that weight.
    """
    major = {code for code, millions in SPEAKERS_MILLIONS.items() if millions >= MAJOR_MILLIONS}
    kept = identifier.prior_weight
    identifier.prior_weight = 0.0
    try:
        scores = {
            name: np.log(identifier.probabilities(texts)[0] + 1e-30) for name, (texts, _) in sets.items()
        }
    finally:
        identifier.prior_weight = kept
    rows = []
    for weight in weights:
        row: dict[str, float] = {"weight": weight}
        for name, (_, golds) in sets.items():
            predicted = [
                identifier.labels[i] for i in (scores[name] + weight * identifier.log_prior).argmax(axis=1)
            ]
            if name == "umsab":
                row[name] = macro(predicted, golds, match=True)
            else:
                row[name] = macro(predicted, golds)
                row[f"{name}_major"] = macro(predicted, golds, keep=major)
        row["mean"] = float(np.nanmean([v for k, v in row.items() if k != "weight"]))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="detector folder or shipped name")
    parser.add_argument("--recipe", default="recipes/langid.toml", help="the recipe the model was trained by")
    parser.add_argument(
        "--set", dest="sets", action="append", default=[], help="recipe overrides, as in training"
    )
    parser.add_argument("--weights", default="0,0.1,0.2,0.3,0.6")
    parser.add_argument(
        "--umsab", default=None, help="UMSAB folder for val tweets (default: DATA/sentiment/umsab)"
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = load_config(LangidTrainConfig, args.recipe, args.sets, section="langid")
    sets, digest = held_out(config)
    umsab = (
        Path(args.umsab) if args.umsab else Path(config.data.data or "../shared/data") / "sentiment" / "umsab"
    )
    if umsab.is_dir():
        sets["umsab"] = umsab_val(umsab)
    identifier = LanguageIdentifier.from_pretrained(args.model)
    check_split(identifier, digest, args.model)
    rows = sweep(identifier, sets, [float(w) for w in args.weights.split(",")])
    columns = [k for k in rows[0] if k != "weight"]
    print(f"{'weight':>6} " + " ".join(f"{c:>12}" for c in columns))
    for row in rows:
        print(f"{row['weight']:6.2f} " + " ".join(f"{row[c]:12.1f}" for c in columns))
    best = max(rows, key=lambda row: row["mean"])
    print(f"best mean: weight {best['weight']:g} ({best['mean']:.1f}); "
          f"{', '.join(f'{k} {len(v[0]):,}' for k, v in sets.items())} texts; {time.perf_counter() - started:.0f} s")  # fmt: skip
    report = {"model": args.model, "recipe": args.recipe, "sizes": {k: len(v[0]) for k, v in sets.items()},
              "rows": rows, "best_weight": best["weight"]}  # fmt: skip
    write_json(report, Path(args.json) if args.json else None)
    return report


if __name__ == "__main__":
    main()
