"""Benchmark: the detector's model family, chosen by measurement (issue 16): multinomial naive Bayes at several
smoothing values against a trained detector (`--model`, e.g. the fastText-style one shipped until commit
359ebc4), on the recipe's held-out sets only.

The script rebuilds the recipe's training examples and held-out sets exactly as `xling langid train` does
(same sources, caps, crops and seed), counts each label's hashed features over the training examples
(`xling.langid.train.count_features`) and makes the naive-Bayes scorer `xling langid train --set
family=naive_bayes --set alpha=A` makes (`xling.langid.scorers.NaiveBayesScorer`: P(feature | label) =
(count + alpha) / (label total + alpha x buckets), uniform label prior; its temperature, fitted in
training, changes no argmax and is left at 1 here). It scores them next to `--model` (prior weight 0, as
trained) on: whole held-out chunks, their 1-3-word and
4-10-word crops, and the UMSAB val tweets (macro accuracy %, as benchmarks/langid_prior.py). Also: each
model's size (naive Bayes stored sparse, a float16 value and a uint16 label per non-zero count) and its
texts/s on the 4-10-word crops (median of 3 passes; BLAS threads as OMP_NUM_THREADS sets them).

    mkdir -p runs/linear && git archive c439206 src/xling/models/xling-langid | tar -x -C runs/linear
    .venv/bin/python benchmarks/langid_naive_bayes.py --model runs/linear/src/xling/models/xling-langid \
        --alphas 0.003,0.01,0.1,1 --json runs/bench/langid_naive_bayes.json   # ~6 min on 2 cores

The model must be one trained by the recipe's data settings and seed (both shipped detectors are):
otherwise some held-out lines were its training text.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_common import measured_rounds, write_json
from langid_prior import SETS, macro, umsab_val

from xling.config import load_config
from xling.langid.features import Featurizer
from xling.langid.model import LanguageIdentifier
from xling.langid.scorers import NaiveBayesScorer
from xling.langid.train import (
    LangidTrainConfig,
    build_examples,
    count_features,
    labelled_sources,
)


def texts_per_second(
    scorers: dict[str, Callable[[list[str]], object]], texts: list[str], rounds: int = 3
) -> dict[str, float]:
    """Return {name: median throughput} of `rounds` passes of each scorer over raw `texts`, the scorers
    taking turns in every round (bench_common.measured_rounds), so a busy stretch of the machine hits all."""

    def one(name: str) -> tuple[float, str]:
        started = time.perf_counter()
        scorers[name](texts)
        seconds = time.perf_counter() - started
        return seconds, f"{len(texts) / seconds:,.0f} texts/s"

    figures = measured_rounds(rounds, tuple(scorers), one)
    return {name: len(texts) / statistics.median(r[name] for r in figures) for name in scorers}


def accuracy_row(predict, sets: dict[str, tuple[list[str], list[str]]]) -> dict[str, float]:
    """Return macro accuracy % per held-out set and their mean; `predict` maps raw texts to labels."""
    row = {name: macro(predict(texts), golds, match=name == "umsab") for name, (texts, golds) in sets.items()}
    row["mean"] = float(np.mean(list(row.values())))
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model",
        required=True,
        help="the detector to compare with (e.g. the fastText-style one of commit c439206)",
    )
    parser.add_argument("--recipe", default="recipes/langid.toml", help="the recipe the model was trained by")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="recipe overrides")
    parser.add_argument("--alphas", default="0.003,0.01,0.1,1", help="naive Bayes smoothing values")
    parser.add_argument("--umsab", default=None, help="UMSAB folder (default: DATA/sentiment/umsab)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = load_config(LangidTrainConfig, args.recipe, args.sets, section="langid")
    grouped = labelled_sources(config.data)  # as training groups them (a data.languages recipe too)
    labels = list(grouped)
    train, dev = build_examples(grouped, config.data, config.seed)
    sets = {name: (list(getattr(dev, name).texts), [labels[i] for i in getattr(dev, name).labels])
            for name in SETS}  # fmt: skip
    umsab = Path(args.umsab) if args.umsab else Path(config.data.data or "../shared/data") / "sentiment/umsab"
    if umsab.is_dir():
        sets["umsab"] = umsab_val(umsab)
    counts = count_features(Featurizer(config.features), train, len(labels))
    print(f"{len(labels)} labels, {len(train.texts):,} training examples counted "
          f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip

    detector = LanguageIdentifier.from_pretrained(args.model)
    if tuple(detector.labels) != tuple(labels):
        raise SystemExit(f"{args.model} was not trained by {args.recipe}: its labels differ")
    detectors = {f"{detector.family} ({Path(args.model).name})": detector}
    for alpha in (float(a) for a in args.alphas.split(",")):
        scorer = NaiveBayesScorer.fit(counts, alpha)
        detectors[f"naive_bayes, alpha {alpha:g}"] = LanguageIdentifier(labels=tuple(labels), scorer=scorer,
                                                                       features=config.features)  # fmt: skip
    rows = {}
    for name, model in detectors.items():
        model.prior_weight = 0.0  # as trained: the prior is chosen afterwards (benchmarks/langid_prior.py)
        rows[name] = {
            **accuracy_row(lambda texts, m=model: [p[0].label for p in m.predict(texts, threshold=0.0)], sets),
            "size_mb": model.size_bytes / 1e6,
        }  # fmt: skip
    speeds = texts_per_second(
        {name: model.probabilities for name, model in detectors.items()}, sets["medium"][0]
    )
    for name, speed in speeds.items():
        rows[name]["texts_per_s"] = speed
    columns = [*sets, "mean", "size_mb", "texts_per_s"]
    print(f"{'model':<36} " + " ".join(f"{c:>11}" for c in columns))
    for name, row in rows.items():
        print(f"{name:<36} " + " ".join(f"{row[c]:11.1f}" for c in columns))
    print(f"held-out texts: {', '.join(f'{k} {len(v[0]):,}' for k, v in sets.items())}; "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    report = {"model": args.model, "recipe": args.recipe, "sizes": {k: len(v[0]) for k, v in sets.items()},
              "rows": rows}  # fmt: skip
    write_json(report, Path(args.json) if args.json else None)
    return report


if __name__ == "__main__":
    main()
