"""Chunked retrieval (nn, CSLS, inverted softmax) against brute-force references on small matrices."""

from __future__ import annotations

import numpy as np
import pytest

from xling.alignment.words import retrieval
from xling.alignment.words.retrieval import (
    best_matches,
    csls_scores_topk,
    isf_log_normalizer,
    mean_topk_similarity,
    nearest_neighbors,
    translate,
)
from xling.errors import ConfigError


def unit(rng: np.random.Generator, n: int, d: int = 24) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return unit(rng, 130), unit(rng, 110)


def brute_scores(
    src: np.ndarray, tgt: np.ndarray, method: str, k: int = 10, beta: float = 30.0
) -> np.ndarray:
    """Return the full score matrix, in float64, straight from the formulas."""
    sims = src.astype(np.float64) @ tgt.astype(np.float64).T
    if method == "nn":
        return sims
    if method == "csls":
        r_tgt = np.sort(sims, axis=1)[:, -k:].mean(1)  # each source: its k nearest targets
        r_src = np.sort(sims, axis=0)[-k:, :].mean(0)  # each target: its k nearest sources
        return 2 * sims - r_tgt[:, None] - r_src[None, :]
    log_z = np.log(np.exp(beta * sims).sum(0))  # each target: softmax over all sources
    return beta * sims - log_z[None, :]


@pytest.mark.parametrize("method", ["nn", "csls", "isf"])
@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
def test_translate_matches_brute_force(pair, method, chunk_size):
    src, tgt = pair
    queries = np.array([5, 0, 129, 64, 5])
    scores, indices = translate(src, tgt, queries, method=method, top=6, chunk_size=chunk_size)
    reference = brute_scores(src, tgt, method)[queries]
    expected = np.argsort(-reference, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(reference, expected, 1), atol=1e-4)
    assert scores.dtype == np.float32 and indices.shape == (5, 6)


def test_chunked_equals_unchunked_even_when_blocks_are_capped(pair, monkeypatch):
    src, tgt = pair[0][:40], pair[1][:30]
    whole = translate(src, tgt, method="csls", top=10, chunk_size=10_000)
    monkeypatch.setattr(retrieval, "MAX_BLOCK_ELEMENTS", 3 * len(tgt))  # 3 query rows per block
    assert retrieval.row_step(len(tgt), 10_000) == 3
    blocked = translate(src, tgt, method="csls", top=10, chunk_size=10_000)
    np.testing.assert_array_equal(whole[1], blocked[1])
    np.testing.assert_allclose(whole[0], blocked[0], atol=1e-5)


def test_nearest_neighbors_and_mean_topk(pair):
    src, tgt = pair
    sims = src @ tgt.T
    scores, indices = nearest_neighbors(src, tgt, 3, chunk_size=16)
    np.testing.assert_array_equal(indices, np.argsort(-sims, axis=1)[:, :3])
    np.testing.assert_allclose(scores, -np.sort(-sims, axis=1)[:, :3], atol=1e-5)
    r = mean_topk_similarity(tgt, src, 4, chunk_size=9)
    np.testing.assert_allclose(r, np.sort(sims, axis=0)[-4:].mean(0), atol=1e-5)
    # k larger than the keys: the mean over all of them
    np.testing.assert_allclose(
        mean_topk_similarity(src[:2], tgt[:3], 10), (src[:2] @ tgt[:3].T).mean(1), atol=1e-6
    )


def test_csls_accepts_precomputed_r_terms(pair):
    src, tgt = pair
    src_r = mean_topk_similarity(tgt, src, 10)  # r_src(y): one per target
    tgt_r = mean_topk_similarity(src, tgt, 10)  # r_tgt(x): one per source
    given = csls_scores_topk(src, tgt, np.arange(20), src_r=src_r, tgt_r=tgt_r, top=5)
    computed = csls_scores_topk(src, tgt, np.arange(20), top=5)
    np.testing.assert_array_equal(given[1], computed[1])
    np.testing.assert_allclose(given[0], computed[0], atol=1e-5)
    with pytest.raises(ValueError, match="src_r"):
        csls_scores_topk(src, tgt, src_r=tgt_r)


def test_hub_vocab_measures_target_terms_on_the_first_sources(pair):
    src, tgt = pair
    _, indices = translate(src, tgt, np.arange(10), method="csls", top=5, hub_vocab=40)
    sims = src.astype(np.float64) @ tgt.T
    r_tgt = np.sort(sims, axis=1)[:, -10:].mean(1)
    r_src = np.sort(sims[:40], axis=0)[-10:].mean(0)
    reference = 2 * sims - r_tgt[:, None] - r_src[None, :]
    np.testing.assert_array_equal(indices, np.argsort(-reference[:10], axis=1)[:, :5])
    log_z = isf_log_normalizer(tgt, src[:40], 30.0)
    np.testing.assert_allclose(log_z, np.log(np.exp(30 * sims[:40]).sum(0)), rtol=1e-5)


@pytest.mark.parametrize("method", ["nn", "csls"])
@pytest.mark.parametrize("cache", [True, False])
def test_best_matches_both_ways(pair, method, cache, monkeypatch):
    src, tgt = pair
    if not cache:
        monkeypatch.setattr(retrieval, "CACHE_BYTES", 0)
    forward, backward = best_matches(src, tgt, method, k=5, chunk_size=16)
    reference = brute_scores(src, tgt, method, k=5)
    np.testing.assert_array_equal(forward, reference.argmax(1))
    np.testing.assert_array_equal(backward, reference.argmax(0))


def test_bad_methods_and_shapes_are_clear_errors(pair):
    src, tgt = pair
    with pytest.raises(ConfigError, match="method"):
        translate(src, tgt, method="cosine")
    with pytest.raises(ConfigError, match="method"):
        best_matches(src, tgt, "isf")
    with pytest.raises(ValueError, match="dimension"):
        translate(src, tgt[:, :10], method="nn")
    with pytest.raises(ValueError, match="query rows"):
        translate(src, tgt, np.array([130]))
