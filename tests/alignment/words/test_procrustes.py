"""Procrustes, refinement and the unsupervised criterion on a rotated real embedding."""

from __future__ import annotations

import numpy as np
import pytest

from xling.alignment.words.normalize import normalize_embeddings
from xling.alignment.words.procrustes import procrustes, refine, unsupervised_criterion

from .conftest import precision_at_1, random_rotation


def test_procrustes_recovers_an_exact_rotation():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 32)).astype(np.float32)
    rotation = random_rotation(32, seed=2)
    w = procrustes(x, x @ rotation)
    np.testing.assert_allclose(w, rotation, atol=1e-4)
    np.testing.assert_allclose(w @ w.T, np.eye(32), atol=1e-5)
    with pytest.raises(ValueError, match="paired rows"):
        procrustes(x, x[:10])


@pytest.fixture(scope="module")
def normalised(rotated):
    src, tgt, rotation = rotated
    return (
        normalize_embeddings(src, "unit,center,unit"),
        normalize_embeddings(tgt, "unit,center,unit"),
        rotation,
    )


def test_refinement_recovers_the_rotation_from_a_seed(normalised):
    x, z, rotation = normalised
    seed = np.arange(0, 1500, 5)[:300]  # 300 seed pairs for a 256-d rotation
    start = procrustes(x[seed], z[seed])
    w, history = refine(x, z, start, iterations=3, max_rank=1000, chunk_size=256)
    assert precision_at_1(x @ w, z) >= 0.99
    np.testing.assert_allclose(w, rotation, atol=0.02)
    assert [entry["iteration"] for entry in history] == list(range(1, len(history) + 1))
    assert history[0]["pairs"] > 900 and history[-1]["criterion"] > 0.95


def test_refinement_from_a_poor_start(normalised):
    x, z, _ = normalised
    seed = np.arange(25)  # 25 pairs for 256 dimensions: the start maps most directions arbitrarily
    start = procrustes(x[seed], z[seed])
    assert precision_at_1(x @ start, z) < 0.3
    w, _ = refine(x, z, start, iterations=5, max_rank=0, criterion=False)
    assert precision_at_1(x @ w, z) >= 0.99


def test_fixed_point_stops_early_and_no_iterations_keep_w(normalised):
    x, z, rotation = normalised
    w, history = refine(x, z, rotation, iterations=10, max_rank=800, criterion=False)
    assert len(history) < 10 and history[-1]["criterion"] is None
    _, every_round = refine(
        x, z, rotation, iterations=4, max_rank=800, criterion=False, stop_at_fixed_point=False
    )
    assert [entry["iteration"] for entry in every_round] == [1, 2, 3, 4]
    same, none = refine(x, z, rotation, iterations=0)
    np.testing.assert_array_equal(same, rotation)
    assert none == []


def test_keep_best_returns_the_best_criterion(normalised):
    x, z, rotation = normalised
    seed = np.arange(25)
    start = procrustes(x[seed], z[seed])
    w, history = refine(x, z, start, iterations=2, max_rank=1000, keep_best=True)
    best = max(history, key=lambda entry: entry["criterion"])
    assert unsupervised_criterion(x @ w, z) == pytest.approx(best["criterion"], abs=1e-6)


@pytest.mark.parametrize(("scores", "expected"), [([0.5, 0.9, 0.6, 0.7], 1.0), ([0.95, 0.9, 0.6, 0.7], 0.0)])
def test_keep_best_returns_the_w_of_the_best_round_or_the_start(normalised, monkeypatch, scores, expected):
    # scripted: round i's Procrustes gives i x identity, and the criterion goes through `scores` (the first
    # for the starting W), so which W comes back says which round won
    import sys

    module = sys.modules[refine.__module__]  # the package exports a function of the module's name

    x, z, _ = normalised
    dimension = x.shape[1]
    rounds = iter(range(1, 10))
    values = iter(scores)
    monkeypatch.setattr(module, "procrustes", lambda a, b: np.eye(dimension, dtype=np.float32) * next(rounds))
    monkeypatch.setattr(module, "unsupervised_criterion", lambda *args, **kwargs: next(values))
    start = np.zeros((dimension, dimension), dtype=np.float32)
    w, history = refine(x, z, start, iterations=3, max_rank=200, keep_best=True, stop_at_fixed_point=False)
    assert [entry["criterion"] for entry in history] == scores  # iteration 0: the starting W
    assert [entry["iteration"] for entry in history] == [0, 1, 2, 3] and history[0]["pairs"] is None
    # the log says which W came back: the round whose W is `expected` x identity (round 0: the start)
    assert [entry["iteration"] for entry in history if entry["kept"]] == [int(expected)]
    np.testing.assert_array_equal(w, np.eye(dimension) * expected)
    values, rounds = iter(scores), iter(range(1, 10))
    last, _ = refine(x, z, start, iterations=3, max_rank=200, stop_at_fixed_point=False)
    np.testing.assert_array_equal(last, np.eye(dimension) * 3)  # without keep_best: the last round's


def test_procrustes_accumulates_the_cross_covariance_in_float64():
    # uncentred rows (a shared offset 300x their spread): X^T Z is dominated by the offset, and a float32
    # sum of the products loses the small singular directions that fix most of W (off by ~0.04 then)
    rng = np.random.default_rng(3)
    rotation = random_rotation(6, seed=4)
    x = (300.0 + rng.standard_normal((2000, 6))).astype(np.float32)
    w = procrustes(x, x @ rotation)
    np.testing.assert_allclose(w, rotation, atol=1e-4)


def test_unsupervised_criterion_ranks_mappings(normalised):
    x, z, rotation = normalised
    good = unsupervised_criterion(x @ rotation, z, max_rank=1000)
    bad = unsupervised_criterion(x, z, max_rank=1000)  # not mapped at all
    assert good > 0.99 and bad < 0.5
