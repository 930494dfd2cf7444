"""Word retrieval across languages in chunks: nearest neighbour, CSLS and inverted softmax.

Rows are compared by their dot product, which is the cosine for the unit-length rows callers pass.

- nn:   score(x, y) = cos(x, y)
- csls: score(x, y) = 2 cos(x, y) - r_tgt(x) - r_src(y)  (Conneau et al. 2018), where r_tgt(x) is the
        mean cosine of source x with its k nearest targets and r_src(y) the mean cosine of target y with
        its k nearest (mapped) sources. Hubs, words close to everything, have a large r and sink. The
        neighbours are found here (torch blocks); their mean is xling.retrieval.knn.neighbourhood_means,
        the same term the sentence margin (mining, Tatoeba) uses.
- isf:  score(x, y) = beta cos(x, y) - log sum_x' exp(beta cos(x', y))  (inverted softmax, Smith et al.
        2017): the log-probability of source x among all sources x' given target y, so a y that is likely
        for every source stops winning for each of them. beta is fixed (default 30), not learned.

Terms that depend only on a target (r_src, the softmax normaliser) are computed once over the whole
target set, except for exact CSLS of a few query rows (BLI's test words): there r_src is measured only for
the targets that can still reach a query's top (see _csls_topk_pruned), with the brute force's result.
Similarities are computed in blocks of query rows (float32 torch matmuls) and each block is reduced at
once with torch.topk / max, so memory stays about one block plus O((n + m) k): an n x m matrix is never
built. Inputs are numpy arrays (or torch tensors); outputs are numpy arrays.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable, Iterator

import numpy as np
import torch

from xling.errors import ConfigError, DataError
from xling.retrieval.knn import neighbourhood_means

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
# Pruned exact CSLS (_csls_topk_pruned). r_src's lower bound comes from an inverted file over the sources:
# PRUNE_CELLS_PER_ROOT * sqrt(sources) cells, each target compared with the sources of its PRUNE_PROBES
# nearest cells, and a target that a query may still need with those of its nearest PRUNE_REFINE_SHARE
# of the cells before r_src is measured against all sources. Every query keeps its PRUNE_LIST best targets by the bound;
# r_src is measured for the first `top` of them, then for twice as many per round. PRUNE_SLACK covers float
# rounding between the bound and the exact score (float32 sums of terms of size ~1, each off by ~1e-7).
PRUNE_CELLS_PER_ROOT = 0.5
PRUNE_PROBES = 1
PRUNE_REFINE_SHARE = 1 / 16
PRUNE_LIST = 256
PRUNE_SLACK = 1e-4

log = logging.getLogger(__name__)


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
        out[start : start + len(sims)] = neighbourhood_means(sims.topk(k, dim=1, sorted=False).values)
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
                r_queries = neighbourhood_means(sims.topk(k, dim=1, sorted=False).values)[:, None]
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
    pruned: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices) [len(queries), top], best first, of the source rows' `top` targets by CSLS.

    `src` is the mapped, unit-length source vocabulary and `queries` the rows to translate (None: all).
    `src_r` is r_src(y) for every target row ([len(tgt)]), measured over all of `src` (or its `hub_vocab`
    first rows) when not given; `tgt_r` is r_tgt(x) for every source row ([len(src)]), measured over all
    of `tgt` when not given.

    `pruned` measures r_src only for the targets that a bound leaves in reach of some query's top
    (_csls_topk_pruned): the same result as the brute force (False), which measures it for every target.
    None prunes when r_src is measured over all sources and the queries are few (4 `top` per query at
    most the targets: BLI's 1.5k test words among 200k targets, not a whole vocabulary).
    """
    x, z = as_tensor(src), as_tensor(tgt)
    rows = _query_rows(len(x), queries)
    r_tgt = None
    if tgt_r is not None:
        r_tgt = as_tensor(np.asarray(tgt_r, dtype=np.float32).reshape(1, -1))[0]
        if len(r_tgt) != len(x):
            raise ValueError(
                f"tgt_r holds r_tgt(x) for every source row: need {len(x)} values, got {len(r_tgt)}"
            )
        r_tgt = r_tgt if rows is None else r_tgt[rows]
    exact_over_all = src_r is None and not hub_vocab
    if pruned is None:
        pruned = exact_over_all and rows is not None and _pruning_pays(len(z), len(rows), top)
    if pruned:
        if not exact_over_all:
            raise ValueError(
                "pruned CSLS measures r_src over all sources: it takes neither src_r nor hub_vocab"
            )
        rows = np.arange(len(x)) if rows is None else rows
        return _csls_topk_pruned(x, z, rows, top, k=k, chunk_size=chunk_size, query_terms=r_tgt)
    if src_r is None:
        r_src = _mean_topk(z, _sources(x, hub_vocab), k, chunk_size)
    else:
        r_src = as_tensor(np.asarray(src_r, dtype=np.float32).reshape(1, -1))[0]
        if len(r_src) != len(z):
            raise ValueError(
                f"src_r holds r_src(y) for every target row: need {len(z)} values, got {len(r_src)}"
            )
    queried = x if rows is None else x[rows]
    return _topk(queried, z, top, "csls", key_terms=r_src, query_terms=r_tgt, k=k, chunk_size=chunk_size)


def _pruning_pays(n_tgt: int, n_queries: int, top: int) -> bool:
    """Return whether pruning should beat measuring r_src for every target: it measures one to two `top`
    targets a query and tightens the bounds of more, so the queries must be few next to the targets."""
    return 4 * max(top, 1) * n_queries <= n_tgt


def _csls_topk_pruned(
    x: torch.Tensor,
    z: torch.Tensor,
    rows: np.ndarray,
    top: int,
    *,
    k: int = 10,
    chunk_size: int = DEFAULT_CHUNK,
    query_terms: torch.Tensor | None = None,
    list_size: int = PRUNE_LIST,
    first: int | None = None,
    probes: int = PRUNE_PROBES,
    refine_probes: int | None = None,
    stats: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return csls_scores_topk's (scores, indices) for source rows `rows`, measuring r_src(y) exactly only
    for the targets that can still reach a query's `top`.

    The mean of the k best cosines among some sources is at most the mean among all, so r_src(y) measured
    against any subset is a lower bound r_low(y) (here the sources of the target's `probes` nearest cells
    of an inverted file, _SourceCells), and bound(q, y) = 2 cos(q, y) - r_tgt(q) - r_low(y) an upper bound
    of the score. Each query keeps its `list_size` targets of highest bound (the next one's bound caps all
    the others). Rounds then take, for every unresolved query, its first `first` (default `top`), then
    twice as many, listed targets whose r_src is not measured and whose bound still reaches the query's
    top-th exact score so far; their bounds are tightened with their `refine_probes` nearest cells
    (default: PRUNE_REFINE_SHARE of all cells) and the lists sorted again until all that are taken are
    tightened, and r_src is measured against all sources for those (the distinct targets of all queries
    at once). A query is resolved when its top-th exact score is at least a rounding slack above every
    unmeasured target's bound: no target left out can beat the brute force's top, so scores and indices
    are the brute force's (up to the order of exact ties). A query whose list runs out is listed again, 8
    times as long. Exact scores are formed as the brute force forms them: (2 cos - r_tgt) - r_src.
    `stats`, when given, receives the counts and the seconds of each stage.
    """
    _check_pair(x, z)
    n_z = len(z)
    top, k_src, k_tgt = min(top, n_z), min(k, len(x)), min(k, n_z)
    if len(rows) == 0:
        return np.empty((0, top), dtype=np.float32), np.empty((0, top), dtype=np.int64)
    first = top if first is None else max(first, 1)
    # rounding grows with the rows' lengths (1 for the unit rows callers pass)
    slack = PRUNE_SLACK * max(1.0, float(x.norm(dim=1).max() * z.norm(dim=1).max()))
    queries = x[torch.from_numpy(rows)]
    clock = {"bound": -time.perf_counter(), "lists": 0.0, "refine": 0.0, "measure": 0.0}
    cells = _SourceCells(x)
    r_low = cells.mean_topk_lower_bound(z, k_src, probes)
    if refine_probes is None:
        refine_probes = max(probes + 1, round(PRUNE_REFINE_SHARE * cells.n_cells))
    clock["bound"] += time.perf_counter()
    refined = torch.zeros(n_z, dtype=torch.bool)
    r_src = torch.full((n_z,), torch.nan)
    measured = torch.zeros(n_z, dtype=torch.bool)
    scores = torch.empty(len(rows), top)
    indices = torch.empty(len(rows), top, dtype=torch.long)
    pending = torch.arange(len(rows))
    size, rounds, listings = max(list_size, 2 * first, top), 0, 0
    while len(pending):
        size = min(size, n_z)
        listings += 1
        r_q = None if query_terms is None else query_terms[pending]
        clock["lists"] -= time.perf_counter()
        part, bound, index, tail = _bound_lists(queries[pending], z, r_low, r_q, size, k_tgt, chunk_size)
        clock["lists"] += time.perf_counter()
        want = torch.full((len(pending),), min(first, size))
        reached = torch.full((len(pending),), -torch.inf)  # each query's top-th exact score so far
        open_ = torch.arange(len(pending))  # positions in `pending` not resolved yet
        exhausted = []
        while len(open_):
            rounds += 1
            while True:  # tighten the bounds of the targets to measure until they are all tightened
                idx = index[open_]
                ask = (torch.arange(size) < want[open_, None]) & ~measured[idx]
                ask &= bound[open_] + slack > reached[open_, None]
                tighten = idx[ask & ~refined[idx]].unique()
                if refine_probes <= probes or not len(tighten):
                    break
                clock["refine"] -= time.perf_counter()
                tight = cells.mean_topk_lower_bound(z[tighten], k_src, refine_probes)
                r_low[tighten] = torch.maximum(r_low[tighten], tight)
                refined[tighten] = True
                # the open lists, best bound first again
                order = (part[open_] - r_low[idx]).argsort(dim=1, descending=True, stable=True)
                part[open_] = part[open_].gather(1, order)
                index[open_] = idx.gather(1, order)
                bound[open_] = part[open_] - r_low[index[open_]]
                clock["refine"] += time.perf_counter()
            new = idx[ask].unique()
            if len(new):
                clock["measure"] -= time.perf_counter()
                r_src[new] = _mean_topk(z[new], x, k_src, chunk_size)
                measured[new] = True
                clock["measure"] += time.perf_counter()
            known = measured[idx]
            exact = torch.where(known, part[open_] - r_src[idx], -torch.inf)
            unknown_bound = torch.where(known, -torch.inf, bound[open_]).amax(dim=1)
            best = exact.topk(top, dim=1)
            _check_not_nan(best.values, unknown_bound)
            reached[open_] = best.values[:, -1]
            done = best.values[:, -1] >= torch.maximum(unknown_bound, tail[open_]) + slack
            out = pending[open_[done]]
            scores[out] = best.values[done]
            indices[out] = idx[done].gather(1, best.indices[done])
            # no listed target left that may beat the top-th score, but the unlisted ones may
            ran_out = ~done & (unknown_bound + slack <= best.values[:, -1])
            exhausted.append(open_[ran_out])
            open_ = open_[~done & ~ran_out]
            want[open_] = torch.clamp(want[open_] * 2, max=size)
        pending = pending[torch.cat(exhausted)]
        size *= 8
    if stats is not None:
        stats.update(measured=int(measured.sum()), refined=int(refined.sum()), targets=n_z,
                     queries=len(rows), rounds=rounds, listings=listings,
                     seconds={name: round(value, 3) for name, value in clock.items()})  # fmt: skip
    log.debug("pruned CSLS: r_src measured for %d of %d targets (%d bounds tightened) for %d queries in %d "
              "rounds; seconds: bound %.2f, lists %.2f, tightening %.2f, measuring %.2f",
              int(measured.sum()), n_z, int(refined.sum()), len(rows), rounds, clock["bound"], clock["lists"],
              clock["refine"], clock["measure"])  # fmt: skip
    return scores.numpy(), indices.numpy()


def _check_not_nan(*scores: torch.Tensor) -> None:
    """Return nothing unless a score is NaN; then raise DataError. NaN compares false with everything, so
    a query would be neither resolved nor out of targets and the rounds would never end."""
    if any(bool(torch.isnan(values).any()) for values in scores):
        raise DataError("CSLS scores are NaN: the vectors or the mapping hold a value that is not a finite "
                        "number")  # fmt: skip


def _bound_lists(
    queries: torch.Tensor,
    z: torch.Tensor,
    r_low: torch.Tensor,
    r_queries: torch.Tensor | None,
    size: int,
    k: int,
    chunk_size: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return every query's `size` targets of highest bound 2 cos - r_tgt - r_low, best first, as
    (2 cos - r_tgt, bound, target rows), each [q, size], and the bound of the next target ([q]; -inf when
    the lists hold every target)."""
    part = torch.empty(len(queries), size)
    bound = torch.empty(len(queries), size)
    index = torch.empty(len(queries), size, dtype=torch.long)
    tail = torch.full((len(queries),), -torch.inf)
    n = min(size + 1, len(z))
    for start, sims in similarity_blocks(queries, z, chunk_size):
        stop = start + len(sims)
        if r_queries is None:
            r = neighbourhood_means(sims.topk(k, dim=1, sorted=False).values)[:, None]
        else:
            r = r_queries[start:stop, None]
        sims.mul_(2).sub_(r)
        best = (sims - r_low).topk(n, dim=1)
        if n > size:
            tail[start:stop] = best.values[:, size]
        bound[start:stop], index[start:stop] = best.values[:, :size], best.indices[:, :size]
        part[start:stop] = sims.gather(1, index[start:stop])
    return part, bound, index, tail


class _SourceCells:
    """An inverted file over the source rows: PRUNE_CELLS_PER_ROOT * sqrt(len(sources)) cells seeded with
    evenly spaced sources and `lloyd` k-means steps (by dot product), each source in its nearest centre's."""

    def __init__(self, sources: torch.Tensor, lloyd: int = 1) -> None:
        n = len(sources)
        self.sources = sources
        self.n_cells = max(1, min(n, round(PRUNE_CELLS_PER_ROOT * n**0.5)))
        centres = sources[torch.linspace(0, n - 1, self.n_cells).long()]
        for _ in range(lloyd):
            cell = _nearest_cells(sources, centres, 1)[:, 0]
            sums = torch.zeros_like(centres).index_add_(0, cell, sources)
            norms = sums.norm(dim=1, keepdim=True)
            centres = torch.where(norms > 0, sums / norms.clamp_min(1e-30), centres)
        self.centres = centres
        cell = _nearest_cells(sources, centres, 1)[:, 0]
        self.members = torch.argsort(cell, stable=True)
        self.sizes = torch.bincount(cell, minlength=self.n_cells)

    def mean_topk_lower_bound(self, keys: torch.Tensor, k: int, probes: int) -> torch.Tensor:
        """Return a lower bound of every key's mean dot product with its k best sources ([len(keys)]): the
        mean of the k best among the sources of its `probes` nearest cells (-inf if they hold fewer).

        Cells are taken a group at a time, padded to one shape, so that a few batched matmuls do the work
        (hundreds of small ones lose most of their time to threading when other jobs share the cores)."""
        if len(keys) == 0:
            return torch.empty(0)
        probes = min(probes, self.n_cells)
        probed = _nearest_cells(keys, self.centres, probes).reshape(-1)  # key i's j-th at i * probes + j
        visits = torch.argsort(probed, stable=True)
        counts = torch.bincount(probed, minlength=self.n_cells)
        best = torch.full((len(probed), k), -torch.inf)  # per visit, i.e. per (key, probed cell)
        visit_starts, member_starts = counts.cumsum(0) - counts, self.sizes.cumsum(0) - self.sizes
        width = max(int(self.sizes.max()), keys.shape[1])
        top = min(k, int(self.sizes.max()))
        # the most visited cells first, so that each group pads its cells to similar numbers of visits
        busiest = torch.argsort(counts, descending=True, stable=True)
        start = 0
        while start < self.n_cells and counts[busiest[start]] > 0:
            group = max(1, MAX_BLOCK_ELEMENTS // (int(counts[busiest[start]]) * width))
            cells = busiest[start : start + group]
            start += group
            visit, has_visit = _padded(visits, visit_starts[cells], counts[cells])
            member, has_member = _padded(self.members, member_starts[cells], self.sizes[cells])
            sims = torch.bmm(keys[visit // probes], self.sources[member].transpose(1, 2))
            sims.masked_fill_(~has_member[:, None, :], -torch.inf)
            values = sims.topk(top, dim=2, sorted=False).values
            best[visit[has_visit], :top] = values[has_visit]
        return neighbourhood_means(best.reshape(len(keys), -1).topk(k, dim=1, sorted=False).values)


def _padded(
    values: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return values[starts[i] : starts[i] + lengths[i]] for every i, as rows padded to the longest (with
    values[0]), and the mask of the real entries."""
    width = max(int(lengths.max()), 1) if len(lengths) else 1
    offsets = torch.arange(width)
    real = offsets < lengths[:, None]
    return values[torch.where(real, starts[:, None] + offsets, 0)], real


def _nearest_cells(rows: torch.Tensor, centres: torch.Tensor, n: int) -> torch.Tensor:
    """Return the n centres of highest dot product with every row, [len(rows), n]."""
    out = torch.empty(len(rows), n, dtype=torch.long)
    # as many rows a block as MAX_BLOCK_ELEMENTS allows: narrow blocks of 2048 rows run 3x slower
    for start, sims in similarity_blocks(rows, centres, MAX_BLOCK_ELEMENTS):
        best = sims.argmax(dim=1, keepdim=True) if n == 1 else sims.topk(n, dim=1, sorted=False).indices
        out[start : start + len(sims)] = best
    return out


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
    pruned: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (scores, indices) [len(queries), top], best first, of the source rows' `top` targets.

    `method` is "nn", "csls" (neighbourhood `k`) or "isf" (inverse temperature `beta`, default 30).
    Inputs are mapped and unit length; `queries` are source rows (None: all). CSLS's r_src and the
    inverted softmax's normaliser are measured over all of `src`, or its `hub_vocab` first rows. `pruned`
    is csls_scores_topk's (CSLS only; the same result either way); the inverted softmax is not pruned.
    """
    _check_method(method)
    if method == "csls":
        return csls_scores_topk(
            src, tgt, queries, k=k, top=top, chunk_size=chunk_size, hub_vocab=hub_vocab, pruned=pruned
        )
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


def ranked_best_matches(
    a: Matrix,
    b: Matrix,
    max_rank: int,
    method: str = "csls",
    *,
    k: int = 10,
    chunk_size: int = DEFAULT_CHUNK,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (best b row of each of a's first `max_rank` rows, best a row of each of b's first `max_rank`
    rows), each searched over ALL rows of the other side, as MUSE's dico_max_rank does (0: every row).

    Unlike best_matches on the cut sets, CSLS's r terms are measured over all rows of both sides, so
    this costs a full |a| x |b| pass (MUSE's semantics, not VecMap's vocabulary cutoff).
    """
    _check_method(method, INDUCTION_METHODS)
    x, z = as_tensor(a), as_tensor(b)
    _check_pair(x, z)
    if len(x) == 0:
        raise ValueError("no rows to match")
    n_x, n_z = (min(max_rank, len(x)), min(max_rank, len(z))) if max_rank else (len(x), len(z))
    r_x = r_z = None  # nn: _topk ranks by cosine alone
    if method == "csls":
        r_x, r_z, _ = _mean_topk_both_ways(x, z, k, chunk_size, keep=False)
    forward = _topk(x[:n_x], z, 1, method, key_terms=r_z, query_terms=None if r_x is None else r_x[:n_x],
                    k=k, chunk_size=chunk_size)[1][:, 0]  # fmt: skip
    backward = _topk(z[:n_z], x, 1, method, key_terms=r_x, query_terms=None if r_z is None else r_z[:n_z],
                     k=k, chunk_size=chunk_size)[1][:, 0]  # fmt: skip
    return forward, backward


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
        r_a[start : start + len(sims)] = neighbourhood_means(sims.topk(k_a, dim=1, sorted=False).values)
        column_top = sims.topk(min(k_b, len(sims)), dim=0, sorted=False).values
        best_b = torch.cat([best_b, column_top]).topk(k_b, dim=0, sorted=False).values
        if cached is not None:
            cached.append((start, sims))
    return r_a, neighbourhood_means(best_b.T), cached


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
