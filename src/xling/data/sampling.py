"""Exponentially smoothed language sampling (XLM / XLM-R), so low-resource languages are seen more often."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import cycle, islice
from typing import TypeVar

import numpy as np

from xling.errors import ConfigError

__all__ = ["LanguageSampler", "evenly_spread", "sentences_per_language", "smoothed_probabilities"]

T = TypeVar("T")

# Tolerance on a user-given distribution: rounding in a YAML file or a sum of floats, not a real error.
_SUM_TOLERANCE = 1e-6


def _check_alpha(alpha: float) -> float:
    """Return `alpha` as a float after checking it lies in [0, 1]; raise ConfigError otherwise."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(
            f"alpha must be a number in [0, 1] (0.3 as in XLM-R, 0.5 as in XLM, 0.7 as in mBERT), got {alpha!r}"
        )
    return float(alpha)


def _check_counts(counts: Mapping[str, int]) -> None:
    """Return nothing; raise ConfigError if `counts` is empty, or has a non-integer or negative count."""
    if not counts:
        raise ConfigError("counts is empty: need at least one language with a sentence count")
    for lang, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise ConfigError(f"count for {lang!r} must be an integer, got {count!r}")
        if count < 0:
            raise ConfigError(f"count for {lang!r} must not be negative, got {count}")


def smoothed_probabilities(counts: Mapping[str, int], alpha: float = 0.3) -> dict[str, float]:
    """Return p_i = n_i^alpha / sum_j n_j^alpha for each language, in the order of `counts`.

    n_i is what `counts` counts: xling's tokenizer training and pretraining give each language's lines
    (sentences, as the XLM-R paper says; XLM's code weighs token counts), so a language written a paragraph
    per line is sampled by its lines, however long they are.

    alpha=1 samples in proportion to size, alpha=0 uniformly; 0.3 (XLM-R), 0.5 (XLM) and 0.7 (mBERT) lift small
    languages. A language with count 0 gets probability 0 at every alpha, including 0.
    """
    exponent = _check_alpha(alpha)
    _check_counts(counts)
    # 0 ** 0 == 1 in Python, which would give an empty language a share under alpha=0.
    weights = {lang: float(count) ** exponent if count > 0 else 0.0 for lang, count in counts.items()}
    total = math.fsum(weights.values())
    if total == 0.0:
        raise ConfigError("every count is 0: there is nothing to sample from")
    return {lang: weight / total for lang, weight in weights.items()}


def sentences_per_language(counts: Mapping[str, int], total: int, alpha: float = 0.3) -> dict[str, int]:
    """Return how many sentences to draw per language so the mix follows the smoothed distribution.

    The numbers sum to exactly `total` (largest-remainder rounding). A language may be asked for more
    sentences than it has; the caller then up-samples it.
    """
    if isinstance(total, bool) or not isinstance(total, numbers.Integral) or total < 0:
        raise ConfigError(f"total must be a non-negative integer, got {total!r}")
    probabilities = smoothed_probabilities(counts, alpha)
    quotas = {lang: p * int(total) for lang, p in probabilities.items()}
    result = {lang: math.floor(quota) for lang, quota in quotas.items()}
    leftover = int(total) - sum(result.values())
    # Only languages with data may receive a rounding unit; ties go to the larger language, then input order.
    eligible = sorted(
        (lang for lang in quotas if probabilities[lang] > 0.0),
        key=lambda lang: (-(quotas[lang] - result[lang]), -probabilities[lang]),
    )
    for lang in islice(cycle(eligible), max(leftover, 0)):
        result[lang] += 1
    return result


@dataclass
class LanguageSampler:
    """Draws language codes at random according to fixed probabilities (e.g. smoothed ones)."""

    probabilities: dict[str, float]
    _languages: list[str] = field(init=False, repr=False, compare=False)
    _p: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.probabilities:
            raise ConfigError("probabilities is empty: need at least one language")
        for lang, p in self.probabilities.items():
            if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
                raise ConfigError(f"probability for {lang!r} must be a number in [0, 1], got {p!r}")
        p = np.array([float(v) for v in self.probabilities.values()], dtype=np.float64)
        if abs(p.sum() - 1.0) > _SUM_TOLERANCE:
            raise ConfigError(f"probabilities must sum to 1, they sum to {p.sum():.6g}")
        self._languages = list(self.probabilities)
        self._p = p / p.sum()  # removes the tolerated rounding, which numpy's choice would reject

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], alpha: float = 0.3) -> LanguageSampler:
        """Return a sampler over the smoothed distribution of `counts` (see smoothed_probabilities)."""
        return cls(smoothed_probabilities(counts, alpha))

    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        """Return `n` language codes drawn independently with the sampler's probabilities."""
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ConfigError(f"n must be a non-negative integer, got {n!r}")
        picks = rng.choice(len(self._languages), size=int(n), p=self._p)
        return [self._languages[i] for i in picks]


def evenly_spread(items: Sequence[T], count: int) -> list[T]:
    """Return `count` of `items` spread evenly over them, the first and the last included (all of them when
    there are no more than `count`): a corpus lists its books, or its languages, in turn."""
    if len(items) <= count:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, count).astype(int)]
