"""Classification scores for transfer evaluation: macro-F1 and accuracy in percent (scikit-learn).

Macro-F1 is the mean of the per-class F1 over the classes that occur in the gold labels or the predictions
(scikit-learn's default set), as XLM-T and XTREME report it for sentiment and XNLI-style tasks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xling.data.labelled import example_line
from xling.errors import DataError

__all__ = ["classification_scores", "label_file", "majority_scores"]


def label_file(source: str | None) -> str | None:
    """Return the file that holds the labels of `source`: the UMSAB `*_labels.txt` beside a `*_text.txt`."""
    if source and source.endswith("_text.txt"):
        labels = Path(source[: -len("_text.txt")] + "_labels.txt")
        if labels.is_file():
            return str(labels)
    return source


def classification_scores(
    gold: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    *,
    source: str | None = None,
    lines: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Return {"macro_f1", "accuracy", "n"} (percentages) of `predicted` against `gold`.

    `labels` are the classifier's label names: a gold label outside them is a DataError naming `source`
    (the LabelledTexts source; for the UMSAB layout its labels file), the example's line there (`lines`,
    the LabelledTexts lines: a header or blank lines make it differ from the example's position; without
    them no line is named) and the example's 1-based position, because a model cannot be scored on a class
    it was never trained on (a typo or another label scheme).
    """
    from sklearn.metrics import accuracy_score, f1_score

    where = label_file(source) or "gold labels"
    if len(gold) != len(predicted):
        raise DataError(f"{len(gold)} gold labels but {len(predicted)} predictions", where)
    if not gold:
        raise DataError("no examples to score", where)
    known = set(labels)
    for index, label in enumerate(gold):
        if label not in known:
            raise DataError(f"gold label {label!r} of example {index + 1} is not one the classifier knows "
                            f"(it knows {', '.join(map(str, labels))})",
                            where, example_line(lines, index))  # fmt: skip
    present = [label for label in labels if label in set(gold) or label in set(predicted)]
    gold, predicted = list(gold), list(predicted)
    return {
        "macro_f1": round(100 * float(f1_score(gold, predicted, labels=present, average="macro",
                                                 zero_division=0)), 2),
        "accuracy": round(100 * float(accuracy_score(gold, predicted)), 2),
        "n": len(gold),
    }  # fmt: skip


def majority_scores(
    train_labels: Sequence[str], gold: Sequence[str], *, source: str | None = None
) -> dict[str, Any]:
    """Return the scores of always answering the most frequent label of `train_labels` (ties: the first
    label in sorted order), the majority-class baseline."""
    if not train_labels:
        raise DataError("no training labels for the majority baseline", source)
    counts = Counter(train_labels)
    majority = min(counts, key=lambda label: (-counts[label], label))
    labels = sorted(set(train_labels) | set(gold))
    return {**classification_scores(gold, [majority] * len(gold), labels, source=source), "label": majority}
