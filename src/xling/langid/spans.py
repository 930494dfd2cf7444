"""Mixed-language text cut into language spans: each word scored with a window of its neighbours, then the
best labelling that pays a penalty for every switch of language (Viterbi), so that one odd word does not
start a span of its own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from xling.langid.labels import UNDETERMINED
from xling.langid.model import LanguageIdentifier
from xling.langid.normalize import normalize_text

__all__ = ["Span", "language_spans"]

_WORD = regex.compile(r"\S+")


@dataclass(frozen=True)
class Span:
    """A stretch of text in one language."""

    start: int
    """Character offset of the span's first character in the text."""
    end: int
    """Character offset just past its last character."""
    text: str
    label: str
    """The span's language (or `und` for a text without letters)."""
    probability: float
    """Mean probability of the label over the span's word windows."""

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "language": self.label,
                "probability": round(self.probability, 4)}  # fmt: skip


def language_spans(identifier: LanguageIdentifier, text: str, *, window: int = 2, switch_penalty: float = 6.0,
                   candidates: int = 6, languages: Iterable[str] | None = None) -> list[Span]:  # fmt: skip
    """Return the language spans of `text`, in order, covering every word.

    `window`: words on each side that score a word with it (with half the weight of the word alone).
    `switch_penalty`: log-probability a change of language costs (higher: fewer, longer spans).
    `candidates`: the whole text's top labels considered, plus the top two of each window. `languages`:
    the only languages a span may be in (codes in any form; default all the detector knows).
    """
    languages = None if languages is None else tuple(languages)
    words = [(match.start(), match.end()) for match in _WORD.finditer(text)]
    if not words:
        return []
    windows = [text[words[max(0, i - window)][0] : words[min(len(words) - 1, i + window)][1]]
               for i in range(len(words))]  # fmt: skip
    probabilities, _ = identifier.probabilities(windows, languages)
    # The word's own score sharpens the border: the window of the last English word before a German
    # stretch is half German, the word alone is not.
    alone, _ = identifier.probabilities([text[start:end] for start, end in words], languages)
    whole, _ = identifier.probabilities([text], languages)
    chosen = set(np.argsort(-whole[0])[:candidates].tolist())
    chosen.update(np.argsort(-probabilities, axis=1)[:, :2].ravel().tolist())
    labels = sorted(chosen)
    scores = np.log(probabilities[:, labels] + 1e-9) + 0.5 * np.log(alone[:, labels] + 1e-9)
    # Words without letters ("2024", "—") say nothing: they join whichever span surrounds them.
    has_letters = np.array([bool(normalize_text(text[start:end])) for start, end in words])
    if not has_letters.any():
        return [Span(0, len(text), text, UNDETERMINED, 0.0)]
    scores[~has_letters] = 0.0
    path = _viterbi(scores, switch_penalty)
    spans: list[Span] = []
    first = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or path[i] != path[first]:
            start, end = words[first][0], words[i - 1][1]
            column = labels[path[first]]
            mean = (
                float(probabilities[first:i, column][has_letters[first:i]].mean())
                if has_letters[first:i].any()
                else 0.0
            )
            spans.append(Span(start, end, text[start:end], identifier.labels[column], mean))
            first = i
    return spans


def _viterbi(scores: np.ndarray, switch_penalty: float) -> list[int]:
    """Return the column per row maximising the summed scores minus `switch_penalty` per change of column."""
    rows, columns = scores.shape
    best = scores[0].copy()
    back = np.zeros((rows, columns), dtype=np.int64)
    for row in range(1, rows):
        leader = int(best.argmax())
        switch = best[leader] - switch_penalty
        stay_better = best >= switch
        back[row] = np.where(stay_better, np.arange(columns), leader)
        best = np.where(stay_better, best, switch) + scores[row]
    path = [int(best.argmax())]
    for row in range(rows - 1, 0, -1):
        path.append(int(back[row, path[-1]]))
    return path[::-1]
