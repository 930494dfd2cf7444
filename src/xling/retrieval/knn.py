"""Nearest neighbours across two sets of vectors, and the scores built on them: one implementation each.

- `knn`: the k most similar rows of a base for every query row (FAISS inner product; flat, ivf or hnsw).
- `neighbourhood_means`: the mean similarity of each row's k nearest neighbours, the term that both the
  margin (Artetxe & Schwenk 2019) and CSLS (Conneau et al. 2018) subtract; whoever found the neighbours
  (FAISS here, torch blocks in xling.alignment.words.csls) averages them with this function.
- `margin_scores` and `margin_nearest`: the best neighbour of each row re-ranked by a margin among its k
  nearest by cosine only, as LASER's xsim (`source/xsim.py`, `_score_knn`) and its miner do.
- `cosine_nearest` and `top1_accuracy`: nearest neighbour by cosine over the whole matrix, and how often a
  row's predicted neighbour is the row of the same index (its translation in aligned test sets).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import faiss
import numpy as np

from xling.errors import ConfigError

__all__ = [
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "INDEX_KINDS",
    "IVF_NPROBE",
    "MARGINS",
    "as_unit_rows",
    "build_faiss_index",
    "cosine_nearest",
    "faiss_threads",
    "ivf_list_count",
    "knn",
    "margin_best",
    "margin_nearest",
    "margin_scores",
    "neighbourhood_means",
    "new_faiss_index",
    "top1_accuracy",
]

Margin = Literal["ratio", "distance", "absolute"]
IndexKind = Literal["flat", "ivf", "hnsw"]
MARGINS: tuple[str, ...] = ("ratio", "distance", "absolute")
INDEX_KINDS: tuple[str, ...] = ("flat", "ivf", "hnsw")

# Approximate indexes: HNSW graph degree and search breadth, IVF lists per sqrt(n) and lists probed.
HNSW_M = 32
HNSW_EF_SEARCH = 128
IVF_LISTS_PER_SQRT_N = 4
IVF_MIN_POINTS_PER_LIST = 39  # FAISS warns below this many training points per centroid
IVF_NPROBE = 16

Sims = TypeVar("Sims")  # a numpy array or a torch tensor of similarities [rows, k]


def _is_int(value: Any) -> bool:
    """Return True for an int that is not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@contextmanager
def faiss_threads(threads: int | None) -> Iterator[None]:
    """Return a context in which FAISS uses `threads` OpenMP threads (None: leave as is), restored after."""
    if threads is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def new_faiss_index(kind: str, dimension: int, lists: int = 1) -> faiss.Index:
    """Return an empty inner-product FAISS index of kind flat, hnsw or ivf (`lists` lists, not trained)."""
    if kind == "flat":
        return faiss.IndexFlatIP(dimension)
    if kind == "hnsw":
        return faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    if kind == "ivf":
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        if lists == 1:
            index.cp.min_points_per_centroid = 1  # one list needs no clustering: silence FAISS's warning
        index.nprobe = min(lists, IVF_NPROBE)
        return index
    raise ConfigError(f"index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")


def build_faiss_index(base: np.ndarray, kind: str) -> faiss.Index:
    """Return an inner-product FAISS index of kind flat, ivf or hnsw holding the rows of `base`."""
    index = new_faiss_index(kind, base.shape[1], ivf_list_count(len(base)) if kind == "ivf" else 1)
    if kind == "ivf":
        index.train(base)
    index.add(base)
    return index


def ivf_list_count(n: int) -> int:
    """Return the number of IVF lists for `n` vectors: about 4 sqrt(n), with enough points to train each."""
    return max(1, min(int(IVF_LISTS_PER_SQRT_N * np.sqrt(n)), n // IVF_MIN_POINTS_PER_LIST))


def knn(
    queries: np.ndarray, base: np.ndarray, k: int, index_kind: str = "flat", chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray]:
    """Return (sims [n, k] float32, ids [n, k] int64): the k most similar `base` rows of each query row.

    Similarity is the inner product (cosine for unit rows). `k` is capped at len(base). Queries are
    searched `chunk` rows at a time, so memory beyond the index is O(n * k). Approximate indexes may
    find fewer than k neighbours: the missing ones have id -1 and similarity -inf.
    """
    if not _is_int(k) or k < 1 or not _is_int(chunk) or chunk < 1:
        raise ConfigError(f"knn: k and chunk must be positive integers, got k={k!r}, chunk={chunk!r}")
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    base = np.ascontiguousarray(base, dtype=np.float32)
    k = min(k, len(base))
    sims = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.full((len(queries), k), -1, dtype=np.int64)
    if k == 0 or len(queries) == 0:
        return sims, ids
    index = build_faiss_index(base, index_kind)
    if index_kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = max(HNSW_EF_SEARCH, k)
    for start in range(0, len(queries), chunk):
        stop = min(start + chunk, len(queries))
        sims[start:stop], ids[start:stop] = index.search(queries[start:stop], k)
    sims[ids < 0] = -np.inf  # FAISS pads missing neighbours with -FLT_MAX: make them unmistakable
    return sims, ids


def neighbourhood_means(sims: Sims, ids: np.ndarray | None = None) -> Sims:
    """Return the mean similarity of each row's nearest neighbours, given their similarities [rows, k].

    `sims` holds the similarities of the k nearest neighbours found (numpy or torch, any order). With
    `ids` (numpy, from `knn`), neighbours with id -1 (not found by an approximate index) are left out
    and a row with none has mean 0.
    """
    if ids is None:
        return sims.mean(1)  # type: ignore[attr-defined]  # numpy and torch alike
    found = ids >= 0
    total = np.where(found, sims, 0).sum(axis=1, dtype=np.float64)
    return (total / np.maximum(found.sum(axis=1), 1)).astype(np.float32)


def margin_scores(cos: np.ndarray, avg_x: np.ndarray, avg_y: np.ndarray, margin: str = "ratio") -> np.ndarray:
    """Return the margin scores of cosines `cos` given the neighbourhood means avg_x and avg_y (broadcast).

    ratio: cos / ((avg_x + avg_y) / 2); distance: cos - (avg_x + avg_y) / 2; absolute: cos. A ratio over a
    mean that is not above 0, or any NaN, scores -inf so that it sorts last instead of poisoning the order:
    the ratio margin (Artetxe & Schwenk 2019) assumes neighbourhoods of positive cosines, and over a
    negative mean a negative cosine became a large positive score ("Hello" paired with the less similar of
    two sentences, -0.041 / -0.0104 = 3.93, far above the 1.06 cut).
    """
    cos = np.asarray(cos, dtype=np.float32)
    mean = (np.asarray(avg_x, dtype=np.float32) + np.asarray(avg_y, dtype=np.float32)) / 2
    if margin == "ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(mean > 0, cos / mean, -np.inf)
    elif margin == "distance":
        scores = cos - mean
    elif margin == "absolute":
        scores = np.broadcast_to(cos, np.broadcast_shapes(cos.shape, mean.shape)).copy()
    else:
        raise ConfigError(f"margin must be one of {', '.join(MARGINS)}, got {margin!r}")
    scores = np.asarray(scores, dtype=np.float32)
    scores[~np.isfinite(scores)] = -np.inf
    return scores


def margin_best(
    sims: np.ndarray, ids: np.ndarray, avg_query: np.ndarray, avg_base: np.ndarray, margin: str = "ratio"
) -> tuple[np.ndarray, np.ndarray]:
    """Return (best neighbour id, its margin score) of each query among its kNN candidates (`knn`'s output).

    Each candidate (query i, neighbour ids[i, j]) is scored by `margin_scores` with the query's and the
    neighbour's neighbourhood means; the best is the first maximum in `knn`'s order (nearest by cosine
    first). The id is -1, the score -inf, where a row has no scored candidate.
    """
    scores = margin_scores(sims, avg_query[:, None], avg_base[np.maximum(ids, 0)], margin)
    scores[ids < 0] = -np.inf
    if scores.shape[1] == 0:
        return np.full(len(scores), -1, dtype=np.int64), np.full(len(scores), -np.inf, dtype=np.float32)
    rows = np.arange(len(scores))
    column = scores.argmax(axis=1)
    best_score = scores[rows, column]
    best_id = np.where(np.isfinite(best_score), ids[rows, column], -1)
    return best_id, best_score


def margin_nearest(
    x: np.ndarray,
    y: np.ndarray,
    k: int = 4,
    margin: str = "ratio",
    *,
    index_kind: str = "flat",
    chunk: int = 8192,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Return ((best y id, score) of every x row, (best x id, score) of every y row) by margin re-ranking.

    As LASER's xsim and miner: the k nearest neighbours of each row on the other side are found by
    cosine (unit rows expected), each side's neighbourhood mean is the mean of those k similarities, and
    only the k candidates are re-ranked by `margin` (see `margin_best`).
    """
    fwd_sims, fwd_ids = knn(x, y, k, index_kind, chunk)
    bwd_sims, bwd_ids = knn(y, x, k, index_kind, chunk)
    avg_x = neighbourhood_means(fwd_sims, fwd_ids)
    avg_y = neighbourhood_means(bwd_sims, bwd_ids)
    return (
        margin_best(fwd_sims, fwd_ids, avg_x, avg_y, margin),
        margin_best(bwd_sims, bwd_ids, avg_y, avg_x, margin),
    )


def as_unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Return `vectors` as C-contiguous float32 rows of length 1; rows already unit (within 1e-3) are kept.

    Rescaling rows that are unit up to float rounding would move similarities by an ulp and flip exact
    ties, so encoder output (already normalised) passes through unchanged. All-zero rows stay zero.
    """
    array = np.ascontiguousarray(vectors, dtype=np.float32)
    # einsum: no temporary as large as the input (np.linalg.norm would square a full copy first)
    norms = np.sqrt(np.einsum("ij,ij->i", array, array))
    if len(array) and not np.allclose(norms, 1.0, atol=1e-3):
        array = array / np.maximum(norms, 1e-12)[:, None]
    return array


def cosine_nearest(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (nearest y row of every x row, nearest x row of every y row) by cosine over the whole matrix.

    Rows need not be unit length (they are normalised here). Ties go to the lower index.
    """
    if not len(x) or not len(y):  # no row to be nearest: -1 for each row of the other side, as margin_nearest
        return np.full(len(x), -1, dtype=np.int64), np.full(len(y), -1, dtype=np.int64)
    a = x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)
    b = y / np.linalg.norm(y, axis=1, keepdims=True).clip(min=1e-12)
    sims = a @ b.T
    return sims.argmax(axis=1), sims.argmax(axis=0)


def top1_accuracy(predicted: np.ndarray, texts: Sequence[str] | None = None) -> float:
    """Return the fraction of rows i whose predicted neighbour is row i (aligned test sets: translations),
    or, given the candidates' `texts`, a row with row i's text: LASER's comparison by text (`eval_text` in
    facebookresearch/LASER source/eval.py; its index comparison is "not recommended when test data contains
    duplicates"), so that a sentence listed twice counts as found at either copy. A prediction of -1 (no
    candidate scored: `margin_best`) is a miss."""
    predicted = np.asarray(predicted).reshape(-1)
    if not len(predicted):
        return 0.0
    if texts is None:
        return float((predicted == np.arange(len(predicted))).mean())
    # j < 0 must not index from the end: texts[-1] would count the last row's text as found
    return float(np.mean([j >= 0 and texts[int(j)] == texts[i] for i, j in enumerate(predicted)]))
