"""Orthogonal Procrustes, MUSE's iterative refinement, and MUSE's unsupervised model-selection criterion.

Procrustes: the orthogonal W minimising ||X W - Z||_F over paired rows is U V^T, where U S V^T is the SVD
of X^T Z (Schönemann 1966; Xing et al. 2015; Conneau et al. 2018).
Refinement (Conneau et al. 2018, sec. 3.3): map with W, induce a dictionary from mutual nearest neighbours
under CSLS among the most frequent words, solve Procrustes on it, and repeat.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from xling.alignment.words.csls import DEFAULT_CHUNK, Matrix, as_tensor, best_matches, unit_rows
from xling.alignment.words.dictionary import induce_dictionary

CRITERION_MAX_RANK = 10000


def procrustes(X: Matrix, Z: Matrix) -> np.ndarray:
    """Return the orthogonal d x d float32 W minimising ||X W - Z||_F (row i of X pairs with row i of Z)."""
    x, z = as_tensor(X), as_tensor(Z)
    if x.shape != z.shape:
        raise ValueError(f"Procrustes needs paired rows of one dimension, got shapes {x.shape} and {z.shape}")
    if len(x) == 0:
        raise ValueError("Procrustes needs at least one pair")
    # The d x d cross-covariance and its SVD in float64: cheap, and W stays orthogonal to ~1e-7.
    u, _, vt = _small_svd(x.double().T @ z.double())
    return (u @ vt).float().numpy()


def _small_svd(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return torch's SVD of a small matrix, computed on one thread.

    A 300 x 300 SVD takes ~20 ms on one core, but seconds when LAPACK's threads wait on cores that
    other work holds (numpy's OpenBLAS alike), so it is not worth sharing.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.svd(m)
    finally:
        torch.set_num_threads(threads)


def unsupervised_criterion(
    src_mapped: Matrix,
    tgt: Matrix,
    *,
    k: int = 10,
    max_rank: int = CRITERION_MAX_RANK,
    chunk_size: int = DEFAULT_CHUNK,
) -> float:
    """Return MUSE's "mean_cosine-csls_knn_10-S2T-10000": the mean cosine of the `max_rank` most frequent
    mapped source words with their CSLS translations.

    Translations and CSLS's r terms are taken among the `max_rank` first rows of each side. MUSE measures
    r over the whole vocabularies, searches every target and then drops pairs whose target ranks beyond
    max_rank: at 200k words that is hundreds of times the work, for a criterion that only ranks mappings.
    """
    x, z = unit_rows(as_tensor(src_mapped)[:max_rank]), unit_rows(as_tensor(tgt)[:max_rank])
    forward, _ = best_matches(x, z, "csls", k=k, chunk_size=chunk_size)
    return float((x * z[torch.from_numpy(forward)]).sum(1).mean())


def refine(
    X: Matrix,
    Z: Matrix,
    W: np.ndarray,
    *,
    iterations: int = 5,
    max_rank: int = 15000,
    k: int = 10,
    mode: str = "mutual",
    chunk_size: int = DEFAULT_CHUNK,
    callback: Callable[[dict[str, Any]], None] | None = None,
    method: str = "csls",
    criterion: bool = True,
    keep_best: bool = False,
    stop_at_fixed_point: bool = True,
    rank_mode: str = "cutoff",
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Return the mapping after `iterations` rounds of inducing a dictionary under W and solving Procrustes,
    and one history entry per round: {iteration, pairs, criterion, seconds}.

    X and Z are normalised, most frequent first; dictionaries are induced (`method`, `mode`, CSLS's `k`)
    among their `max_rank` first rows (0: all rows; `rank_mode` "cutoff" looks at those rows only, "muse" is
    MUSE's dico_max_rank exactly, see induce_dictionary). After each round the new W's
    `unsupervised_criterion` is logged (None when `criterion` is off). `keep_best` returns the W of the
    best criterion, the initial one (iteration 0) included, as MUSE's unsupervised refinement does;
    otherwise the last. With `keep_best` the history starts with an entry for the initial W (iteration 0,
    pairs None) and every entry has `kept`, true on the one entry whose W is returned. Stops early at a
    fixed point (the dictionary repeats, so would W) unless `stop_at_fixed_point` is off (benchmarks that
    time all rounds).
    `callback` receives each history entry as it is made (before `kept` is known).
    """
    x, z = as_tensor(X), as_tensor(Z)
    if x.shape[1] != z.shape[1]:
        raise ValueError(f"refinement needs one dimension on both sides, got {x.shape[1]} and {z.shape[1]}")
    head_x, head_z = (x[:max_rank], z[:max_rank]) if max_rank else (x, z)
    criterion_x = x[:CRITERION_MAX_RANK]
    w = np.asarray(W, dtype=np.float32)
    measure = criterion or keep_best

    def score(w: np.ndarray) -> float | None:
        return (
            unsupervised_criterion(criterion_x @ as_tensor(w), z, k=k, chunk_size=chunk_size)
            if measure
            else None
        )

    history: list[dict[str, Any]] = []
    best_w, best_score, best_entry = w, None, None
    if keep_best:  # the initial W competes too: logged, so that the log says when it is the one kept
        started = time.perf_counter()
        best_score = score(w)
        best_entry = {"iteration": 0, "pairs": None, "criterion": best_score,
                      "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        history.append(best_entry)
        if callback is not None:
            callback(best_entry)
    previous = None
    for iteration in range(1, iterations + 1):
        started = time.perf_counter()
        if rank_mode == "muse":  # every row takes part: MUSE searches and scores over whole vocabularies
            mapped, other, bound = x @ as_tensor(w), z, max_rank
        else:
            mapped, other, bound = head_x @ as_tensor(w), head_z, 0
        pairs = induce_dictionary(
            mapped, other, method=method, k=k, max_rank=bound, mode=mode, chunk_size=chunk_size,
            rank_mode=rank_mode,
        )  # fmt: skip
        if stop_at_fixed_point and previous is not None and np.array_equal(pairs, previous):
            break
        previous = pairs
        w = procrustes(x[pairs[:, 0]], z[pairs[:, 1]])
        value = score(w)
        entry = {"iteration": iteration, "pairs": len(pairs), "criterion": value,
                 "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        history.append(entry)
        if callback is not None:
            callback(entry)
        if keep_best and value is not None and best_score is not None and value > best_score:
            best_w, best_score, best_entry = w, value, entry
    if keep_best:
        for entry in history:
            entry["kept"] = entry is best_entry
    return (best_w if keep_best else w), history
