"""Benchmark: what the detector's `und` threshold buys and costs (issue 16), on held-out and never-learnt text.

`xling detect --threshold T` (and the `threshold` saved with a model) answers `und` when the top probability
is below T. A threshold turns some wrong answers on known languages into `und`, some right ones too, and
text in a language the model never learnt into `und` rather than a confident wrong label. This script
measures both sides, never on a test set:

- known languages: the recipe's held-out lines and their 1-3-word and 4-10-word crops (rebuilt as
  `xling langid train` holds them out, as benchmarks/langid_prior.py does): macro accuracy with `und`
  counted wrong, and the share answered `und`;
- never-learnt languages: UDHR varieties the model has no label for (files without an ISO 639-3 name, and
  languages outside its labels), whole paragraphs and their crops, and the Swadesh 207 words of varieties
  outside its labels: the share answered `und`, macro over varieties.

    .venv/bin/python benchmarks/langid_threshold.py --model src/xling/models/xling-langid \
        --thresholds 0,0.3,0.5,0.7,0.9 --json runs/bench/langid_threshold.json   # ~6 min on 2 cores

The model must be one trained by the recipe's data settings and seed (the shipped one is): otherwise some
held-out lines were its training text. Probabilities include the model's saved prior weight.
"""

from __future__ import annotations

import argparse
import gzip
import random
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from bench_common import write_json
from langid_prior import check_split, held_out

from xling.config import load_config
from xling.data.root import data_root
from xling.langid.model import LanguageIdentifier
from xling.langid.sources import read_swadesh, udhr_label
from xling.langid.train import LangidTrainConfig, crop

Texts = tuple[list[str], list[str]]  # texts and, for each, its gold label or its variety


def unlearnt_udhr(folder: Path, detector: LanguageIdentifier, seed: int) -> dict[str, Texts]:
    """Return {"lines", "short", "medium"}: (texts, variety) of the UDHR files whose variety the detector has
    no label for: whole paragraphs and a 1-3-word and a 4-10-word crop of each."""
    rng = random.Random(seed)
    sets: dict[str, Texts] = {name: ([], []) for name in ("lines", "short", "medium")}
    for path in sorted(folder.glob("*.txt.gz")):
        stem = path.name.removesuffix(".txt.gz")
        label = udhr_label(stem)
        if label is not None and label.language in detector.languages:
            continue
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            lines = [line.strip() for line in handle if len(line.split()) >= 4]
        for line in lines:
            for name, text in (
                ("lines", line),
                ("short", crop(line, rng, True)),
                ("medium", crop(line, rng, False)),
            ):
                sets[name][0].append(text)
                sets[name][1].append(stem)
    return sets


def unlearnt_words(folder: Path, detector: LanguageIdentifier) -> Texts:
    """Return (words, variety) of the Swadesh lists of varieties outside the detector's languages."""
    texts, varieties = [], []
    for source in read_swadesh(folder):
        if source.label.language not in detector.languages:
            texts.extend(source.texts)
            varieties.extend([str(source.label)] * len(source.texts))
    return texts, varieties


def top_answers(detector: LanguageIdentifier, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (top label index, its probability; 0 for a text with no letters) of each text."""
    probabilities, has_letters = detector.probabilities(texts)
    best = probabilities.argmax(axis=1)
    return best, np.where(has_letters, probabilities[np.arange(len(texts)), best], 0.0)


def macro(values: np.ndarray, groups: list[str]) -> float:
    """Return the mean over groups of the per-group mean of `values` (percent)."""
    by_group: dict[str, list[float]] = defaultdict(list)
    for value, group in zip(values.tolist(), groups, strict=True):
        by_group[group].append(value)
    return 100 * float(np.mean([np.mean(v) for v in by_group.values()])) if by_group else float("nan")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="src/xling/models/xling-langid", help="detector folder")
    parser.add_argument("--recipe", default="recipes/langid.toml", help="the recipe the model was trained by")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="recipe overrides")
    parser.add_argument("--thresholds", default="0,0.3,0.5,0.7,0.9", help="comma-separated thresholds")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    config = load_config(LangidTrainConfig, args.recipe, args.sets, section="langid")
    detector = LanguageIdentifier.from_pretrained(args.model)
    root = data_root(config.data.data or None).path
    known, digest = held_out(config)
    check_split(detector, digest, args.model)  # the model's own held-out lines, or its training lines
    unknown = {
        f"udhr {name}": texts for name, texts in unlearnt_udhr(root / "udhr", detector, config.seed).items()
    }
    if (root / "swadesh").is_dir():
        unknown["swadesh words"] = unlearnt_words(root / "swadesh", detector)
    thresholds = [float(t) for t in args.thresholds.split(",")]
    index = {label: i for i, label in enumerate(detector.labels)}
    rows = {t: {} for t in thresholds}
    for name, (texts, golds) in known.items():
        best, top = top_answers(detector, texts)
        right = best == np.array([index[gold] for gold in golds])
        for t in thresholds:
            rows[t][f"known {name} accuracy"] = macro(right & (top >= t), golds)
            rows[t][f"known {name} und"] = 100 * float(np.mean(top < t))
    for name, (texts, varieties) in unknown.items():
        _, top = top_answers(detector, texts)
        for t in thresholds:
            rows[t][f"unknown {name} und"] = macro(top < t, varieties)
    columns = list(rows[thresholds[0]])
    print(
        f"{'threshold':>9} "
        + " ".join(f"{c.removeprefix('known ').removeprefix('unknown '):>14}" for c in columns)
    )
    for t, row in rows.items():
        print(f"{t:9.2f} " + " ".join(f"{row[c]:14.1f}" for c in columns))
    sizes = {**{f"known {k}": len(v[0]) for k, v in known.items()}, **{f"unknown {k}": len(v[0]) for k, v in unknown.items()},
             "unknown varieties": len(set(unknown.get("udhr lines", ([], []))[1])),
             "unknown word-list varieties": len(set(unknown.get("swadesh words", ([], []))[1]))}  # fmt: skip
    print(
        f"texts: {', '.join(f'{k} {v:,}' for k, v in sizes.items())}; {time.perf_counter() - started:.0f} s"
    )
    report = {"model": args.model, "recipe": args.recipe, "prior_weight": detector.prior_weight, "sizes": sizes,
              "rows": [{"threshold": t, **row} for t, row in rows.items()]}  # fmt: skip
    write_json(report, Path(args.json) if args.json else None)
    return report


if __name__ == "__main__":
    main()
