"""Chunked retrieval (nn, CSLS, inverted softmax) against brute-force references on small matrices."""

from __future__ import annotations

import numpy as np
import pytest

from xling.alignment.words import csls
from xling.alignment.words.csls import (
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
    monkeypatch.setattr(csls, "MAX_BLOCK_ELEMENTS", 3 * len(tgt))  # 3 query rows per block
    assert csls.row_step(len(tgt), 10_000) == 3
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
        monkeypatch.setattr(csls, "CACHE_BYTES", 0)
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


def structured(rng: np.random.Generator, n_src: int, n_tgt: int, d: int = 32, hubs: int = 0):
    """Return (mapped sources, targets): target i is a noisy copy of source i (n_tgt > n_src: the rest are
    new words); with `hubs`, the first 300 sources lean towards one direction and `hubs` targets lie on
    it, close to all 300."""
    src = unit(rng, n_src, d) * np.linspace(1.0, 0.2, d).astype(np.float32)  # a decaying spectrum
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    if hubs:
        src[:300] += unit(rng, 1, d)[0]
        src /= np.linalg.norm(src, axis=1, keepdims=True)
    tgt = np.concatenate([src + rng.normal(0, 0.1, src.shape), unit(rng, n_tgt - n_src, d)]).astype(
        np.float32
    )
    if hubs:
        tgt[:hubs] = src[:300].mean(0) + rng.normal(0, 0.01, (hubs, d))
    return src, tgt / np.linalg.norm(tgt, axis=1, keepdims=True)


def assert_same(pruned, brute) -> None:
    np.testing.assert_array_equal(pruned[1], brute[1])
    np.testing.assert_allclose(pruned[0], brute[0], atol=1e-6, rtol=0)
    assert pruned[0].dtype == brute[0].dtype and pruned[1].dtype == brute[1].dtype


@pytest.mark.parametrize("hubs", [0, 8])
@pytest.mark.parametrize(("k", "top"), [(10, 10), (10, 1), (3, 5), (1, 3)])
@pytest.mark.parametrize("chunk_size", [7, 4096])
def test_pruned_csls_equals_brute_force(hubs, k, top, chunk_size):
    src, tgt = structured(np.random.default_rng(hubs + k), 900, 1000, hubs=hubs)
    queries = np.array([3, 0, 899, 450, 3, 17, 600, 5, 801, 250])
    stats: dict = {}
    pruned = csls._csls_topk_pruned(
        csls.as_tensor(src),
        csls.as_tensor(tgt),
        queries,
        top,
        k=k,
        chunk_size=chunk_size,
        stats=stats,
    )
    brute = csls_scores_topk(src, tgt, queries, k=k, top=top, chunk_size=chunk_size, pruned=False)
    assert_same(pruned, brute)
    assert stats["measured"] < len(tgt) // 4  # it did prune
    if hubs:  # the hubs are near many sources: r_src far above the other targets'
        r_src = mean_topk_similarity(tgt, src, 10)
        assert r_src[:hubs].min() > np.quantile(r_src[hubs:], 0.99)


def test_pruned_csls_on_unstructured_rows_and_given_r_tgt(pair):
    src, tgt = pair
    queries = np.array([5, 0, 129, 64, 5])
    tgt_r = mean_topk_similarity(src, tgt, 4)
    for top in (1, 6):
        brute = csls_scores_topk(src, tgt, queries, k=4, top=top, tgt_r=tgt_r, pruned=False)
        assert_same(csls_scores_topk(src, tgt, queries, k=4, top=top, tgt_r=tgt_r, pruned=True), brute)
        reference = brute_scores(src, tgt, "csls", k=4)[queries]
        np.testing.assert_array_equal(brute[1], np.argsort(-reference, axis=1, kind="stable")[:, :top])


def test_pruned_csls_resolves_clear_queries_in_one_round_and_others_in_several():
    src, tgt = structured(np.random.default_rng(1), 900, 1000)
    x, z = csls.as_tensor(src), csls.as_tensor(tgt)
    queries = np.arange(100, 130)
    brute = csls_scores_topk(src, tgt, queries, top=1, pruned=False)
    assert (brute[1][:, 0] == queries).all()
    # top 1: each query's own translation stands far out: one round, one target measured per query
    stats: dict = {}
    assert_same(csls._csls_topk_pruned(x, z, queries, 1, stats=stats), brute)
    assert stats["rounds"] == 1 and stats["listings"] == 1 and stats["measured"] == len(queries)
    # top 10 from one candidate a round, a weak bound (1 cell) and lists of 12: several rounds and lists
    brute = csls_scores_topk(src, tgt, queries, top=10, pruned=False)
    stats = {}
    result = csls._csls_topk_pruned(x, z, queries, 10, first=1, probes=1, list_size=12, stats=stats)
    assert_same(result, brute)
    assert stats["rounds"] > 3 and stats["listings"] > 1 and stats["refined"] > 0
    # without tightening the bounds of the targets in reach before measuring them: more measured
    stats_loose: dict = {}
    loose = csls._csls_topk_pruned(
        x, z, queries, 10, first=1, probes=1, list_size=12, refine_probes=1, stats=stats_loose
    )
    assert_same(loose, brute)
    assert stats_loose["refined"] == 0 and stats_loose["measured"] > stats["measured"]


def test_pruned_csls_with_top_and_k_beyond_the_vocabularies(pair):
    src, tgt = pair[0], pair[1][:7]
    for k in (3, 200):
        brute = csls_scores_topk(src, tgt, np.array([0, 9, 4]), k=k, top=10, pruned=False)
        assert brute[1].shape == (3, 7)
        assert_same(csls_scores_topk(src, tgt, np.array([0, 9, 4]), k=k, top=10, pruned=True), brute)
    brute = csls_scores_topk(src[:5], pair[1], np.array([1, 2]), k=10, top=3, pruned=False)
    assert_same(csls_scores_topk(src[:5], pair[1], np.array([1, 2]), k=10, top=3, pruned=True), brute)
    empty = csls_scores_topk(src, tgt, np.array([], dtype=np.int64), top=3, pruned=True)
    assert empty[0].shape == (0, 3) and empty[1].shape == (0, 3)


def test_csls_prunes_by_default_only_for_few_queries(pair, monkeypatch):
    src, tgt = pair
    calls = []
    original = csls._csls_topk_pruned
    monkeypatch.setattr(csls, "_csls_topk_pruned", lambda *a, **kw: calls.append(1) or original(*a, **kw))
    few = translate(src, tgt, np.array([3, 7]), method="csls", top=5)
    assert calls and np.array_equal(few[1], translate(src, tgt, np.array([3, 7]), top=5, pruned=False)[1])
    calls.clear()
    translate(src, tgt, method="csls", top=5)  # every source: r_src is needed for nearly every target
    translate(src, tgt, np.arange(40), method="csls", top=5)
    translate(src, tgt, np.array([3, 7]), method="csls", top=5, hub_vocab=40)
    assert not calls
    with pytest.raises(ValueError, match="pruned"):
        csls_scores_topk(src, tgt, np.array([3]), hub_vocab=40, pruned=True)


def test_lower_bound_of_mean_topk(pair):
    src, tgt = pair
    exact = mean_topk_similarity(tgt, src, 5)
    cells = csls._SourceCells(csls.as_tensor(src))
    assert cells.n_cells == round(csls.PRUNE_CELLS_PER_ROOT * len(src) ** 0.5) and len(cells.members) == len(
        src
    )
    for probes in (1, 3, 1000):
        bound = cells.mean_topk_lower_bound(csls.as_tensor(tgt), 5, probes).numpy()
        assert (bound <= exact + 1e-6).all()
        if probes == 1000:  # every cell probed: the exact mean
            np.testing.assert_allclose(bound, exact, atol=1e-6)
