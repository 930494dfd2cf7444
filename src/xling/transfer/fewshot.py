"""Few-shot cross-lingual transfer: the source training set plus k labelled target examples per class.

For each target language and each k (0, 8, 32, 128 by default) the k examples per class are drawn from the
TARGET TRAIN split (never its test split) with several seeds; the classifier is retrained on the source
train split plus those examples, selected on the source dev split only (there is no target dev set in this
setting), and scored on the target test split. Draws are nested: with one seed, the 8 examples of a class
are the first 8 of its 32, so the curve shows what more examples add, not a new draw's luck. k = 0 is
zero-shot and runs once (its training does not depend on the draw). Each training gets the parts as they
are, each naming its language: `xling.transfer.classifier.train_classifier` takes them so, and its frozen
method standardises each part with its own language's statistics and weighs the target examples up
(`train_frozen`, TARGET_WEIGHT); joined into one data set of no language (`concat`), the target examples
were read with statistics mostly the source's. The Result (task "transfer-fewshot")
has per language `k<k>` (mean macro-F1 over seeds), `k<k>_std` (population std), `runs` (every seed's
figure) and, with in-language figures, `gap_closed` (share of the in-language minus zero-shot gap that
the largest k closes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from statistics import mean, pstdev
from typing import Any

import numpy as np

from xling.data.labelled import LabelledTexts
from xling.errors import ConfigError, DataError
from xling.evaluation.result import Result
from xling.transfer.classifier import join_parts
from xling.transfer.evaluate import _predict, language_code
from xling.transfer.metrics import classification_scores

__all__ = ["DEFAULT_KS", "concat", "fewshot_curve", "render_curve", "sample_per_class"]

DEFAULT_KS = (0, 8, 32, 128)

TrainFn = Callable[[list[LabelledTexts], LabelledTexts | None], Any]
"""Trains a classifier on the given parts (the source train split, then the few target examples, each a
LabelledTexts with its language) selecting on the dev set, e.g. `lambda parts, dev: train_classifier(config,
parts, dev, unlabelled={target: texts})`; `concat` joins the parts for trainers that take one data set."""


def concat(parts: Sequence[LabelledTexts]) -> LabelledTexts:
    """Return the parts as one LabelledTexts (source: the parts' sources joined by " + "; language: theirs
    when they share one, else None)."""
    return join_parts(parts)


def sample_per_class(data: LabelledTexts, k: int, seed: int) -> LabelledTexts:
    """Return k examples of each label of `data`, drawn with `seed` (a class with fewer than k gives all it
    has). For one seed, a smaller k's draw is the start of a larger k's."""
    if k < 0:
        raise ConfigError(f"k: {k} examples per class (expected 0 or more)")
    order = np.random.default_rng(seed).permutation(len(data))
    taken: dict[str, int] = {}
    chosen = []
    for index in order:
        label = data.labels[index]
        if taken.get(label, 0) < k:
            taken[label] = taken.get(label, 0) + 1
            chosen.append(int(index))
    chosen.sort()
    lines = [data.lines[i] for i in chosen] if data.lines else []
    return LabelledTexts([data.texts[i] for i in chosen], [data.labels[i] for i in chosen],
                         f"{data.source} ({k} per class, seed {seed})", data.language, data.files, lines)  # fmt: skip


def fewshot_curve(
    train: TrainFn,
    source_train: LabelledTexts,
    source_dev: LabelledTexts | None,
    target_train: Mapping[str, LabelledTexts],
    test_sets: Mapping[str, LabelledTexts],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    seeds: int = 5,
    in_language: Mapping[str, float] | None = None,
    model: str = "",
) -> Result:
    """Return the few-shot curve (macro-F1 mean and std over `seeds` draws per k) for each target language.

    `target_train[lang]` gives the k examples per class, `test_sets[lang]` scores them; `in_language[lang]`
    (the in-language macro-F1, optional) adds `gap_closed`. `train(parts, source_dev)` trains one classifier.
    """
    started = time.perf_counter()
    ks = sorted(set(ks))
    if not ks or ks[0] < 0:
        raise ConfigError(f"ks: {ks} (expected counts of examples per class, 0 or more)")
    if seeds < 1:
        raise ConfigError(f"seeds: {seeds} (expected 1 or more)")
    missing = [lang for lang in test_sets if lang not in target_train and any(ks)]
    if missing:
        raise ConfigError(
            f"target_train: no train split for {', '.join(missing)} (few-shot draws come from it)"
        )
    zero_shot = train([source_train], source_dev) if 0 in ks else None
    scores: dict[str, dict[str, Any]] = {}
    for lang, test in test_sets.items():
        code = language_code(lang, test)
        runs: dict[str, list[float]] = {}
        for k in ks:
            if k == 0:
                runs["0"] = [_score(zero_shot, test, code)]
                continue
            runs[str(k)] = []
            for seed in range(seeds):
                shots = sample_per_class(target_train[lang], k, seed)
                unknown = set(shots.labels) - set(source_train.labels)
                if unknown:
                    raise DataError(f"labels {sorted(unknown)} are not in the source training set {source_train.source}",
                                    target_train[lang].source)  # fmt: skip
                runs[str(k)].append(_score(train([source_train, shots], source_dev), test, code))
        row: dict[str, Any] = {}
        for k, values in runs.items():
            row[f"k{k}"] = round(mean(values), 2)
            row[f"k{k}_std"] = round(pstdev(values), 2)
        row["runs"] = runs
        upper = (in_language or {}).get(lang)
        if upper is not None and 0 in ks and ks[-1] > 0:
            gap = upper - row["k0"]
            row["in_language"] = upper
            row["gap_closed"] = round((row[f"k{ks[-1]}"] - row["k0"]) / gap, 3) if gap > 0 else None
        scores[lang] = row
    primary = f"k{ks[-1]}"
    return Result(
        task="transfer-fewshot",
        model=model,
        data=", ".join(test.source for test in test_sets.values()),
        scores=scores,
        average=round(mean(row[primary] for row in scores.values()), 2),
        primary=primary,
        settings={"ks": ks, "seeds": seeds, "source": source_train.source,
                  "dev": source_dev.source if source_dev is not None else None,
                  "draws_from": {lang: data.source for lang, data in target_train.items()},
                  "averages": {f"k{k}": round(mean(row[f"k{k}"] for row in scores.values()), 2) for k in ks}},
        seconds=time.perf_counter() - started,
    )  # fmt: skip


def _score(classifier: Any, test: LabelledTexts, code: str | None) -> float:
    predicted = _predict(classifier, test, code)
    return classification_scores(
        test.labels, predicted, [str(x) for x in classifier.labels], source=test.source, lines=test.lines
    )["macro_f1"]


def render_curve(result: Result) -> str:
    """Return the few-shot Result as a plain-text table: mean ± std per k, one line per language."""
    ks = result.settings["ks"]
    head = ["language", *[f"k={k}" for k in ks], "gap closed"]
    lines = [head]
    for lang, row in result.scores.items():
        gap = row.get("gap_closed")
        lines.append([lang, *[f"{row[f'k{k}']:.1f} ± {row[f'k{k}_std']:.1f}" for k in ks],
                      "" if gap is None else f"{100 * gap:.0f}%"])  # fmt: skip
    lines.append(["average", *[f"{result.settings['averages'][f'k{k}']:.1f}" for k in ks], ""])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(line))
                     for line in lines)  # fmt: skip
