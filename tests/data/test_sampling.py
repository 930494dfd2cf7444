"""Tests for xling.data.sampling: smoothed probabilities, per-language quotas and the sampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from xling.data import LanguageSampler, sentences_per_language, smoothed_probabilities
from xling.errors import ConfigError

COUNTS = {"eng": 1_000_000, "deu": 10_000, "swh": 100}


def test_alpha_one_is_proportional() -> None:
    total = sum(COUNTS.values())
    probabilities = smoothed_probabilities(COUNTS, alpha=1.0)
    assert probabilities == pytest.approx({lang: n / total for lang, n in COUNTS.items()}, rel=1e-12)


def test_alpha_zero_is_uniform() -> None:
    assert smoothed_probabilities(COUNTS, alpha=0.0) == pytest.approx(
        {"eng": 1 / 3, "deu": 1 / 3, "swh": 1 / 3}
    )


def test_alpha_03_matches_formula_and_lifts_small_languages() -> None:
    probabilities = smoothed_probabilities(COUNTS)  # default alpha is 0.3, as in XLM-R
    # n^0.3 for 10^6, 10^4, 10^2 is 10^1.8, 10^1.2, 10^0.6
    weights = {"eng": 10**1.8, "deu": 10**1.2, "swh": 10**0.6}
    norm = sum(weights.values())
    assert probabilities == pytest.approx({lang: w / norm for lang, w in weights.items()}, rel=1e-12)
    assert probabilities["swh"] == pytest.approx(0.04801, abs=1e-5)
    proportional = smoothed_probabilities(COUNTS, alpha=1.0)
    assert probabilities["swh"] > 400 * proportional["swh"]
    assert probabilities["eng"] < proportional["eng"]
    assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-12)
    assert list(probabilities) == list(COUNTS)


def test_alpha_07_sits_between_03_and_proportional() -> None:
    low, mid, high = (smoothed_probabilities(COUNTS, alpha=a)["swh"] for a in (1.0, 0.7, 0.3))
    assert low < mid < high


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_zero_count_gets_zero_probability(alpha: float) -> None:
    probabilities = smoothed_probabilities({"eng": 10, "deu": 0, "fra": 5}, alpha=alpha)
    assert probabilities["deu"] == 0.0
    assert sum(probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.3", True])
def test_bad_alpha(alpha) -> None:
    with pytest.raises(ConfigError, match="alpha"):
        smoothed_probabilities(COUNTS, alpha=alpha)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({}, "counts is empty"),
        ({"eng": 5, "deu": -1}, "'deu' must not be negative"),
        ({"eng": 0, "deu": 0}, "every count is 0"),
        ({"eng": 2.5}, "'eng' must be an integer"),
    ],
)
def test_bad_counts(counts: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        smoothed_probabilities(counts)


def test_numpy_integer_counts_are_accepted() -> None:
    assert smoothed_probabilities({"eng": np.int64(3), "deu": np.int32(1)}, alpha=1.0) == {
        "eng": 0.75,
        "deu": 0.25,
    }


@pytest.mark.parametrize("total", [0, 1, 7, 1000, 123_457])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_sentences_per_language_sums_to_total(total: int, alpha: float) -> None:
    counts = {"eng": 1_000_000, "deu": 10_000, "swh": 100, "got": 7, "empty": 0}
    quotas = sentences_per_language(counts, total, alpha=alpha)
    assert sum(quotas.values()) == total
    assert quotas["empty"] == 0
    probabilities = smoothed_probabilities(counts, alpha)
    for lang, quota in quotas.items():
        assert abs(quota - probabilities[lang] * total) < 1.0  # rounding never moves a quota by a full unit


def test_sentences_per_language_largest_remainder() -> None:
    # quotas 3.33 each: the one leftover goes to the first language (ties keep input order)
    assert sentences_per_language({"a": 5, "b": 5, "c": 5}, 10, alpha=1.0) == {"a": 4, "b": 3, "c": 3}
    # quotas 0.5, 1.0, 3.5: equal remainders, the larger language gets the unit
    assert sentences_per_language({"a": 1, "b": 2, "c": 7}, 5, alpha=1.0) == {"a": 0, "b": 1, "c": 4}
    # quotas 0.45, 0.75, 1.8 -> floors 0, 0, 1; the two leftovers go to .8 then .75, not .45
    assert sentences_per_language({"a": 15, "b": 25, "c": 60}, 3, alpha=1.0) == {"a": 0, "b": 1, "c": 2}


def test_sentences_per_language_may_exceed_available_sentences() -> None:
    quotas = sentences_per_language({"got": 10, "eng": 1_000_000}, 1000, alpha=0.0)
    assert quotas == {"got": 500, "eng": 500}  # the caller up-samples got


@pytest.mark.parametrize("total", [-1, 2.0, True])
def test_sentences_per_language_bad_total(total) -> None:
    with pytest.raises(ConfigError, match="total"):
        sentences_per_language(COUNTS, total)


def test_language_sampler_frequencies_follow_probabilities() -> None:
    sampler = LanguageSampler.from_counts(COUNTS | {"none": 0}, alpha=0.3)
    draws = sampler.sample(20_000, np.random.default_rng(1234))
    assert len(draws) == 20_000
    frequencies = Counter(draws)
    assert "none" not in frequencies
    for lang, p in sampler.probabilities.items():
        assert frequencies[lang] / 20_000 == pytest.approx(p, abs=0.01)


def test_language_sampler_is_reproducible_with_a_seed() -> None:
    sampler = LanguageSampler({"eng": 0.5, "deu": 0.3, "fra": 0.2})
    first = sampler.sample(50, np.random.default_rng(7))
    assert first == sampler.sample(50, np.random.default_rng(7))
    assert sampler.sample(0, np.random.default_rng(7)) == []


def test_language_sampler_from_counts_uses_smoothing() -> None:
    sampler = LanguageSampler.from_counts(COUNTS, alpha=0.7)
    assert sampler.probabilities == smoothed_probabilities(COUNTS, alpha=0.7)


def test_language_sampler_tolerates_rounded_probabilities() -> None:
    sampler = LanguageSampler({"a": 0.3333333, "b": 0.3333333, "c": 0.3333334})
    assert set(sampler.sample(100, np.random.default_rng(0))) == {"a", "b", "c"}


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [
        ({}, "empty"),
        ({"a": 0.5, "b": 0.4}, "sum to 1"),
        ({"a": 1.5, "b": -0.5}, "'a' must be a number in"),
        ({"a": "1"}, "'a' must be a number in"),
    ],
)
def test_language_sampler_bad_probabilities(probabilities: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LanguageSampler(probabilities)


def test_language_sampler_bad_n() -> None:
    sampler = LanguageSampler({"a": 1.0})
    with pytest.raises(ConfigError, match="n must be"):
        sampler.sample(-1, np.random.default_rng(0))
