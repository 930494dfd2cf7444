"""Chunked word retrieval across languages: nearest neighbour, CSLS and inverted softmax.

Rows are compared by their dot product, which is the cosine for the unit-length rows callers pass.

- nn:   score(x, y) = cos(x, y)
- csls: score(x, y) = 2 cos(x, y) - r_tgt(x) - r_src(y)  (Conneau et al. 2018), where r_tgt(x) is the
        mean cosine of source x with its k nearest targets and r_src(y) the mean cosine of target y with
        its k nearest (mapped) sources. Hubs, words close to everything, have a large r and sink.
- isf:  score(x, y) = beta cos(x, y) - log sum_x' exp(beta cos(x', y))  (inverted softmax, Smith et al.
        2017): the log-probability of source x among all sources x' given target y, so a y that is likely
        for every source stops winning for each of them. beta is fixed (default 30), not learned.

Terms that depend only on a target (r_src, the softmax normaliser) are computed once over the whole
target set. Similarities are computed in blocks of query rows (float32 torch matmuls) and each block is
reduced at once with torch.topk / max, so memory stays about one block plus O((n + m) k): an n x m
matrix is never built. Inputs are numpy arrays (or torch tensors); outputs are numpy arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from xling.errors import ConfigError

Matrix = np.ndarray | torch.Tensor

METHODS: tuple[str, ...] = ("nn", "csls", "isf")
INDUCTION_METHODS: tuple[str, ...] = ("nn", "csls")
DEFAULT_CHUNK = 2048
DEFAULT_BETA = 30.0
# A block holds at most this many similarities (256 MB of float32): with 200k keys that is ~335 query rows
# per block, with 15k keys the full chunk_size. Reducing a block makes one or two more of its size.
MAX_BLOCK_ELEMENTS = 1 << 26
# best_matches keeps the blocks of its first pass for the second when they fit in this many bytes; the
# 15k x 15k refinement problem (900 MB) does, which halves its matmuls.
CACHE_BYTES = 1 << 30


def as_tensor(x: Matrix) -> torch.Tensor:
    """Return `x` as a 2-d float32 CPU tensor, sharing memory with it where the dtype allows."""
    if isinstance(x, np.ndarray):
        with warnings.catch_warnings():
            # Read-only arrays (memory-mapped vectors) are fine: nothing here writes into its inputs.
            warnings.simplefilter("ignore", UserWarning)
            x = torch.from_numpy(np.ascontiguousarray(x))
    x = x.detach().to(device="cpu", dtype=torch.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-d matrix, got shape {tuple(x.shape)}")
    return x


def unit_rows(x: Matrix) -> torch.Tensor:
    """Return the rows of `x` scaled to length 1 (a new tensor); all-zero rows stay zero."""
    x = as_tensor(x)
    norms = x.norm(dim=1, keepdim=True)
    return x / torch.where(norms > 0, norms, torch.ones_like(norms))


def _check_pair(queries: torch.Tensor, keys: torch.Tensor) -> None:
    if queries.shape[1] != keys.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]} but keys {keys.shape[1]}")
    if len(keys) == 0:
        raise ValueError("no keys to retrieve from")


def _check_method(method: str, allowed: tuple[str, ...] = METHODS) -> None:
    if method not in allowed:
        raise ConfigError(f"method: {method!r} must be one of {', '.join(allowed)}")


def row_step(n_keys: int, chunk_size: int = DEFAULT_CHUNK) -> int:
    """Return the query rows per block: chunk_size, fewer when a block would pass MAX_BLOCK_ELEMENTS."""
    if chunk_size < 1:
        raise ConfigError(f"chunk_size: must be at least 1, got {chunk_size}")
    return max(1, min(chunk_size, MAX_BLOCK_ELEMENTS // max(n_keys, 1)))


def similarity_blocks(
    queries: torch.Tensor, keys: torch.Tensor, chunk_size: int = DEFAULT_CHUNK
) -> Iterator[tuple[int, torch.Tensor]]:
    """Return an iterator of (first row, queries[first:first+b] @ keys.T) over consecutive row blocks."""
    step = row_step(len(keys), chunk_size)
    keys_t = keys.T
    for start in range(0, len(queries), step):
        yield start, queries[start : start + step] @ keys_t


def _mean_topk(queries: torch.Tensor, keys: torch.Tensor, k: int, chunk_size: int) -> torch.Tensor:
    _check_pair(queries, keys)
    k = min(k, len(keys))
    out = torch.empty(len(queries))
    for start, sims in similarity_blocks(queries, keys, chunk_size):
        out[start : start + len(sims)] = sims.topk(k, dim=1, sorted=False).values.mean(1)
    return out


def _log_normalizer(keys: torch.Tensor, sources: torch.Tensor, beta: float, chunk_size: int) -> torch.Tensor:
    _check_pair(keys, sources)
    out = torch.empty(len(keys))
    for start, sims in similarity_blocks(keys, sources, chunk_size):
        out[start : start + len(sims)] = torch.logsumexp(sims.mul_(beta), dim=1)
    return out


def mean_topk_similarity(
    queries: Matrix, keys: Matrix, k: int, *, chunk_size: int = DEFAULT_CHUNK
) -> np.ndarray:
    """Return each query's mean dot product with its k most similar keys (CSLS's r term), shape [q]."""
    return _mean_topk(as_tensor(queries), as_tensor(keys), k, chunk_size).numpy()


def isf_log_normalizer(
    keys: Matrix, sources: Matrix, beta: float = DEFAULT_BETA, *, chunk_size: int = DEFAULT_CHUNK
) -> np.ndarray:
    """Return log sum_s exp(beta * dot(s, key)) over all `sources` for every key, shape [len(keys)]."""
    return _log_normalizer(as_tensor(keys), as_tensor(sources), beta, chunk_size).numpy()


def _topk(
    queries: torch.Tensor,
    keys: torch.Tensor,
    top: int,
    method: str,
    *,
    key_terms: torch.Tensor | None = None,
    query_terms: torch.Tensor | None = None,
    k: int = 10,
    beta: float = DEFAULT_BETA,
    chunk_size: int = DEFAULT_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices) [q, top] best first; csls/isf need `key_terms` (r_src, log normaliser)."""
    _check_pair(queries, keys)
    top, k = min(top, len(keys)), min(k, len(keys))
    scores = torch.empty(len(queries), top)
    indices = torch.empty(len(queries), top, dtype=torch.long)
    for start, sims in similarity_blocks(queries, keys, chunk_size):
        stop = start + len(sims)
        if method == "csls":
            if query_terms is None:
                r_queries = sims.topk(k, dim=1, sorted=False).values.mean(1, keepdim=True)
            else:
                r_queries = query_terms[start:stop, None]
            sims.mul_(2).sub_(r_queries).sub_(key_terms)
        elif method == "isf":
            sims.mul_(beta).sub_(key_terms)
        best = sims.topk(top, dim=1)
        scores[start:stop], indices[start:stop] = best.values, best.indices
    return scores.numpy(), indices.numpy()


def nearest_neighbors(
    queries: Matrix, keys: Matrix, k: int, *, chunk_size: int = DEFAULT_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices), each [q, k] best first, of every query's k keys of highest dot product."""
    return _topk(as_tensor(queries), as_tensor(keys), k, "nn", chunk_size=chunk_size)


def _query_rows(n_src: int, queries: np.ndarray | None) -> np.ndarray | None:
    if queries is None:
        return None
    rows = np.asarray(queries, dtype=np.int64).reshape(-1)
    if len(rows) and (rows.min() < 0 or rows.max() >= n_src):
        raise ValueError(f"query rows must lie in [0, {n_src}), got {rows.min()}..{rows.max()}")
    return rows


def _sources(src: torch.Tensor, hub_vocab: int | None) -> torch.Tensor:
    """Return the source rows that targets' hubness terms are measured against (all, or the first n)."""
    return src[:hub_vocab] if hub_vocab else src


def csls_scores_topk(
    src: Matrix,
    tgt: Matrix,
    queries: np.ndarray | None = None,
    *,
    k: int = 10,
    top: int = 10,
    chunk_size: int = DEFAULT_CHUNK,
    src_r: np.ndarray | None = None,
    tgt_r: np.ndarray | None = None,
    hub_vocab: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices) [len(queries), top], best first, of the source rows' `top` targets by CSLS.

    `src` is the mapped, unit-length source vocabulary and `queries` the rows to translate (None: all).
    `src_r` is r_src(y) for every target row ([len(tgt)]), measured over all of `src` (or its `hub_vocab`
    first rows) when not given; `tgt_r` is r_tgt(x) for every source row ([len(src)]), measured over all
    of `tgt` when not given.
    """
    x, z = as_tensor(src), as_tensor(tgt)
    rows = _query_rows(len(x), queries)
    if src_r is None:
        r_src = _mean_topk(z, _sources(x, hub_vocab), k, chunk_size)
    else:
        r_src = as_tensor(np.asarray(src_r, dtype=np.float32).reshape(1, -1))[0]
        if len(r_src) != len(z):
            raise ValueError(
                f"src_r holds r_src(y) for every target row: need {len(z)} values, got {len(r_src)}"
            )
    r_tgt = None
    if tgt_r is not None:
        r_tgt = as_tensor(np.asarray(tgt_r, dtype=np.float32).reshape(1, -1))[0]
        if len(r_tgt) != len(x):
            raise ValueError(
                f"tgt_r holds r_tgt(x) for every source row: need {len(x)} values, got {len(r_tgt)}"
            )
        r_tgt = r_tgt if rows is None else r_tgt[rows]
    queried = x if rows is None else x[rows]
    return _topk(queried, z, top, "csls", key_terms=r_src, query_terms=r_tgt, k=k, chunk_size=chunk_size)


def translate(
    src: Matrix,
    tgt: Matrix,
    queries: np.ndarray | None = None,
    *,
    method: str = "csls",
    k: int = 10,
    top: int = 10,
    beta: float | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    hub_vocab: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices) [len(queries), top], best first, of the source rows' `top` targets.

    `method` is "nn", "csls" (neighbourhood `k`) or "isf" (inverse temperature `beta`, default 30).
    Inputs are mapped and unit length; `queries` are source rows (None: all). CSLS's r_src and the
    inverted softmax's normaliser are measured over all of `src`, or its `hub_vocab` first rows.
    """
    _check_method(method)
    if method == "csls":
        return csls_scores_topk(src, tgt, queries, k=k, top=top, chunk_size=chunk_size, hub_vocab=hub_vocab)
    x, z = as_tensor(src), as_tensor(tgt)
    rows = _query_rows(len(x), queries)
    queried = x if rows is None else x[rows]
    if method == "nn":
        return _topk(queried, z, top, "nn", chunk_size=chunk_size)
    beta = DEFAULT_BETA if beta is None else float(beta)
    log_z = _log_normalizer(z, _sources(x, hub_vocab), beta, chunk_size)
    return _topk(queried, z, top, "isf", key_terms=log_z, beta=beta, chunk_size=chunk_size)


def best_matches(
    a: Matrix, b: Matrix, method: str = "csls", *, k: int = 10, chunk_size: int = DEFAULT_CHUNK
) -> tuple[np.ndarray, np.ndarray]:
    """Return (best b row of every a row, best a row of every b row) by nn or csls within a and b.

    CSLS's r terms are measured within the two given sets (as VecMap's vocabulary cutoff does). Two
    passes: the first finds both directions' r terms, the second the best matches both ways; the first
    pass's blocks are reused when they fit in CACHE_BYTES.
    """
    _check_method(method, INDUCTION_METHODS)
    x, z = as_tensor(a), as_tensor(b)
    _check_pair(x, z)
    if len(x) == 0:
        raise ValueError("no rows to match")
    if method == "nn":
        return _best_both_ways(similarity_blocks(x, z, chunk_size), len(x), len(z))
    keep = len(x) * len(z) * 4 <= CACHE_BYTES
    r_x, r_z, cached = _mean_topk_both_ways(x, z, k, chunk_size, keep)
    blocks = cached if cached is not None else similarity_blocks(x, z, chunk_size)
    csls = (
        (start, sims.mul_(2).sub_(r_x[start : start + len(sims), None]).sub_(r_z)) for start, sims in blocks
    )
    return _best_both_ways(csls, len(x), len(z))


def _mean_topk_both_ways(
    a: torch.Tensor, b: torch.Tensor, k: int, chunk_size: int, keep: bool
) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, torch.Tensor]] | None]:
    """Return r of every a row over b, r of every b row over a, and the similarity blocks if `keep`."""
    k_a, k_b = min(k, len(b)), min(k, len(a))
    r_a = torch.empty(len(a))
    # Column top-k is merged block by block: the k best of (k best so far, this block's k best).
    best_b = torch.full((k_b, len(b)), -torch.inf)
    cached: list[tuple[int, torch.Tensor]] | None = [] if keep else None
    for start, sims in similarity_blocks(a, b, chunk_size):
        r_a[start : start + len(sims)] = sims.topk(k_a, dim=1, sorted=False).values.mean(1)
        column_top = sims.topk(min(k_b, len(sims)), dim=0, sorted=False).values
        best_b = torch.cat([best_b, column_top]).topk(k_b, dim=0, sorted=False).values
        if cached is not None:
            cached.append((start, sims))
    return r_a, best_b.mean(0), cached


def _best_both_ways(
    blocks: Iterable[tuple[int, torch.Tensor]], n_a: int, n_b: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the argmax of every row and of every column of the matrix that `blocks` make up."""
    forward = torch.empty(n_a, dtype=torch.long)
    column_best = torch.full((n_b,), -torch.inf)
    backward = torch.zeros(n_b, dtype=torch.long)
    for start, scores in blocks:
        forward[start : start + len(scores)] = scores.argmax(dim=1)
        values, rows = scores.max(dim=0)
        better = values > column_best  # strict: on a tie the earlier (more frequent) row stays
        column_best = torch.where(better, values, column_best)
        backward = torch.where(better, rows + start, backward)
    return forward.numpy(), backward.numpy()
