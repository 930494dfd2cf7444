"""VecMap-style self-learning: unsupervised and seeded recovery of a rotation, the induction against a
dense reference, the final multi-step mapping, config errors and determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xling.alignment.words import selflearn
from xling.alignment.words.normalize import normalize_embeddings
from xling.alignment.words.selflearn import (
    SelfLearningConfig,
    initial_dictionary,
    multistep_mapping,
    self_learning,
)
from xling.errors import ConfigError, DataError

from .conftest import precision_at_1

# Small sizes and a short stochastic schedule, so that a whole run takes a second or two; one thread
# because tiny decompositions only lose time to a second thread on a busy machine.
FAST = {
    "init_vocab": 800,
    "vocabulary_cutoff": 1000,
    "stochastic_interval": 2,
    "chunk_size": 384,
    "threads": 1,
}


@pytest.fixture(scope="module")
def normalised(rotated):
    src, tgt, _ = rotated
    return normalize_embeddings(src, "unit,center,unit"), normalize_embeddings(tgt, "unit,center,unit")


def test_unsupervised_self_learning_recovers_a_rotation(normalised):
    x, z = normalised
    src_transform, tgt_transform, history = self_learning(x, z, SelfLearningConfig(**FAST), progress=False)
    assert src_transform.shape == tgt_transform.shape == (256, 256)
    assert src_transform.dtype == np.float32
    assert precision_at_1(x @ src_transform, z @ tgt_transform) >= 0.95
    # The schedule ran to the end: p was raised to 1 and the objective then stalled.
    assert history[0]["keep_prob"] == pytest.approx(0.1)
    assert history[-1]["keep_prob"] == 1.0
    assert history[-1]["objective"] > 0.9
    assert {"iteration", "objective", "keep_prob", "dictionary_size", "seconds"} <= set(history[0])


def test_initial_dictionary_matches_similarity_distributions(normalised):
    x, z = normalised
    pairs = initial_dictionary(x, z, SelfLearningConfig(init_vocab=500))
    assert pairs.shape == (1000, 2)  # union: 500 forward, 500 backward
    assert (pairs[:, 0] == pairs[:, 1]).mean() > 0.9
    forward = initial_dictionary(x, z, SelfLearningConfig(init_vocab=500, direction="forward"))
    np.testing.assert_array_equal(forward[:, 0], np.arange(500))


def test_seed_pairs_skip_the_unsupervised_start(normalised, monkeypatch):
    x, z = normalised

    def no_unsupervised_start(*args, **kwargs):
        raise AssertionError("seed pairs given: the unsupervised initialisation must not run")

    monkeypatch.setattr(selflearn, "initial_dictionary", no_unsupervised_start)
    seeds = np.stack([np.arange(0, 1000, 20)] * 2, axis=1)  # 50 gold pairs for a 256-d rotation
    src_transform, tgt_transform, _ = self_learning(
        x, z, SelfLearningConfig(**FAST), seed_pairs=seeds, progress=False
    )
    assert precision_at_1(x @ src_transform, z @ tgt_transform) >= 0.95


def test_orthogonal_variant_and_iteration_cap(normalised):
    x, z = normalised
    options = {**FAST, "stochastic_interval": 50}
    config = SelfLearningConfig(**options, orthogonal=True, max_iterations=4, stochastic_initial=1.0)
    w, identity, history = self_learning(x, z, config, progress=False)
    assert len(history) == 4
    np.testing.assert_allclose(w @ w.T, np.eye(256), atol=1e-4)
    np.testing.assert_array_equal(identity, np.eye(256, dtype=np.float32))
    assert precision_at_1(x @ w, z) >= 0.95


def test_same_seed_same_mapping_and_cache_does_not_matter(normalised):
    x, z = normalised
    config = SelfLearningConfig(**FAST, max_iterations=5, seed=3)
    first = self_learning(x, z, config, progress=False)
    second = self_learning(x, z, config, progress=False)
    uncached = self_learning(x, z, dataclasses.replace(config, cache_gb=0.0), progress=False)
    for a, b, c in zip(first[:2], second[:2], uncached[:2], strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert [h["objective"] for h in first[2]] == [h["objective"] for h in uncached[2]]


def dense_reference(xw: np.ndarray, zw: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Return VecMap's CSLS induction without dropout, from the full similarity matrix."""
    sim = xw @ zw.T
    knn_fwd = -np.sort(-sim, axis=1)[:, :k].mean(1)
    knn_bwd = -np.sort(-sim, axis=0)[:k].mean(0)
    forward = (sim - knn_bwd / 2).argmax(1)
    backward = (sim - knn_fwd[:, None] / 2).argmax(0)
    return forward, backward, (sim.max(1).mean() + sim.max(0).mean()) / 2


@pytest.mark.parametrize("cache_gb", [2.0, 0.0])
def test_chunked_induction_matches_a_dense_reference(cache_gb):
    rng = np.random.default_rng(0)
    xw = rng.standard_normal((300, 16)).astype(np.float32)
    zw = rng.standard_normal((250, 16)).astype(np.float32)
    config = SelfLearningConfig(chunk_size=64, cache_gb=cache_gb)
    induction = selflearn._Induction(300, 250, config, torch.Generator().manual_seed(0))
    induction.set_targets(torch.from_numpy(zw))
    pairs, objective = induction.run(torch.from_numpy(xw), keep_prob=1.0)
    forward, backward, expected = dense_reference(xw, zw, k=10)
    np.testing.assert_array_equal(pairs[:300], np.stack([np.arange(300), forward], 1))
    np.testing.assert_array_equal(pairs[300:], np.stack([backward, np.arange(250)], 1))
    assert objective == pytest.approx(expected, rel=1e-5)


def test_dropout_keeps_the_asked_share():
    config = SelfLearningConfig(chunk_size=100)
    induction = selflearn._Induction(100, 1000, config, torch.Generator().manual_seed(0))
    scores = torch.ones(100, 1000)
    induction._drop(scores, keep_prob=0.2)
    assert float(scores.mean()) == pytest.approx(0.2, abs=0.01)


def test_multistep_mapping_of_a_rotation_aligns_the_two_sides(normalised):
    x, z = normalised
    gold = np.stack([np.arange(1500)] * 2, axis=1)
    src_transform, tgt_transform = multistep_mapping(x, z, gold, SelfLearningConfig())
    assert precision_at_1(x @ src_transform, z @ tgt_transform) >= 0.99
    reduced = multistep_mapping(x, z, gold, SelfLearningConfig(dim_reduction=64))
    assert reduced[0].shape == reduced[1].shape == (256, 64)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vocabulary_cutoff", -1),
        ("stochastic_initial", 0.0),
        ("stochastic_multiplier", 1.0),
        ("stochastic_interval", 0),
        ("direction", "both"),
        ("src_dewhiten", "tgt"),
        ("precision", "float16"),
        ("init_normalize", "unit,scale"),
        ("chunk_size", 0),
        ("threads", 0),
    ],
)
def test_bad_config_fields_are_named(field, value):
    with pytest.raises(ConfigError, match=field):
        SelfLearningConfig(**{field: value}).validate()


def test_dim_reduction_with_orthogonal_is_refused_not_ignored():
    # orthogonal returns the loop's mapping and skips the framework that reduces dimensions
    SelfLearningConfig(orthogonal=True).validate()
    SelfLearningConfig(dim_reduction=2).validate()
    with pytest.raises(ConfigError, match="^dim_reduction: .*orthogonal"):
        SelfLearningConfig(orthogonal=True, dim_reduction=2).validate()


def test_dewhitening_set_without_whitening_is_refused_the_defaults_stay_silent(normalised):
    """VecMap exits on de-whitening without whitening; xling skipped it silently."""
    from xling.alignment.words.align import WordAlignConfig
    from xling.config import load_config

    WordAlignConfig(method="selflearn", selflearn={"whiten": False}).validate()  # the defaults: no-ops
    WordAlignConfig(method="selflearn", selflearn={"whiten": False, "trg_dewhiten": "none"}).validate()
    with pytest.raises(ConfigError, match="^selflearn: src_dewhiten: 'trg' de-whitens, .*whiten is false"):
        WordAlignConfig(method="selflearn", selflearn={"whiten": False, "src_dewhiten": "trg"}).validate()
    # a recipe or --set: refused by self_learning itself too; a config built in code cannot tell
    asked = load_config(SelfLearningConfig, whiten=False, trg_dewhiten="trg", **FAST)
    with pytest.raises(ConfigError, match="^trg_dewhiten: 'trg' de-whitens"):
        self_learning(*normalised, asked)
    selflearn.check_dewhitening(SelfLearningConfig(whiten=False, trg_dewhiten="src"))


def test_bad_inputs_are_data_errors(normalised):
    x, z = normalised
    config = SelfLearningConfig(**FAST)
    with pytest.raises(DataError, match="dimension"):
        self_learning(x, z[:, :100], config, progress=False)
    with pytest.raises(DataError, match="outside"):
        self_learning(x, z, config, seed_pairs=np.array([[0, 5000]]), progress=False)
    with pytest.raises(DataError, match=r"\[m, 2\]"):
        self_learning(x, z, config, seed_pairs=np.zeros((0, 2), dtype=int), progress=False)
    with pytest.raises(ConfigError, match="dim_reduction"):
        self_learning(x, z, SelfLearningConfig(dim_reduction=300), progress=False)


def test_an_unsupervised_start_too_big_for_memory_is_refused(normalised, monkeypatch):
    monkeypatch.setattr(selflearn, "_INIT_MAX_BYTES", 3 * 500 * 500 * 4)
    x, z = normalised
    initial_dictionary(x, z, SelfLearningConfig(init_vocab=500))
    with pytest.raises(ConfigError, match="init_vocab"):
        initial_dictionary(x, z, SelfLearningConfig(init_vocab=0))


def test_the_initial_similarity_rows_are_normalised_as_the_embeddings_are():
    # VecMap normalises the sorted similarity rows with the embeddings' own steps; `normalize = "unit"`
    # still gave them unit,center,unit
    from xling.alignment.words.align import WordAlignConfig, _method_config

    assert (
        _method_config("selflearn", WordAlignConfig(method="selflearn", normalize="unit")).init_normalize
        == "unit"
    )
    assert (
        _method_config("selflearn", WordAlignConfig(method="selflearn")).init_normalize == "unit,center,unit"
    )
    given = WordAlignConfig(method="selflearn", normalize="unit", selflearn={"init_normalize": "center"})
    assert _method_config("selflearn", given).init_normalize == "center"
