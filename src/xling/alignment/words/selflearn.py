"""Self-learning mappings (VecMap; Artetxe, Labaka & Agirre 2018, "A robust self-learning method for fully
unsupervised cross-lingual mappings of word embeddings").

1. Initial dictionary, fully unsupervised: words with similar similarity distributions are translations.
   For the `init_vocab` most frequent words of each side, M = sqrt(X X^T) (= U S U^T for X = U S V^T),
   each row sorted, then normalised like the embeddings; rows are matched by CSLS in both directions.
   With `seed_pairs` (semi-supervised) this step is skipped.
2. Self-learning: solve the orthogonal mapping on the dictionary, induce a new dictionary among the
   `vocabulary_cutoff` most frequent words (CSLS, both directions), repeat. Induction is stochastic: each
   similarity is kept with probability p (dropped ones become 0), p starts at 0.1 and doubles whenever
   the objective (mean best similarity) has not improved by `threshold` for `stochastic_interval`
   iterations; after p reached 1 and stalled once more, the loop ends.
3. Final mapping from the last dictionary, in Artetxe et al. (2018a)'s multi-step framework: whitening,
   orthogonal mapping, symmetric re-weighting, de-whitening (and optional dimensionality reduction).
   As in VecMap's code, the loop itself uses the plain orthogonal mapping and step 3 runs once at the end.

The induction is chunked (torch): similarities of `chunk_size` source rows at a time against the cutoff
target rows, so a 200k vocabulary never builds a 200k x 200k matrix. When the cutoff-sized matrix fits in
`cache_gb` it is computed once per iteration and kept for the second pass; otherwise it is recomputed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from xling.alignment.words.adversarial import check_embeddings, torch_threads
from xling.alignment.words.normalize import normalize_embeddings, parse_normalization
from xling.alignment.words.procrustes import procrustes
from xling.config import given_fields
from xling.errors import ConfigError, DataError

DIRECTIONS = ("forward", "backward", "union")
DEWHITENINGS = ("src", "trg", "none")
PRECISIONS = ("float32", "bfloat16")
# Dropout draws 15-bit integers: keep probabilities are exact to 1/32768, and cheaper than floats.
_RANDOM_LEVELS = 32768
# The unsupervised start materialises n x n matrices; refuse sizes that would exhaust memory.
_INIT_MAX_BYTES = 8 * 2**30


@dataclass
class SelfLearningConfig:
    """Settings of the self-learning mapping; the defaults are VecMap's `--unsupervised` mode.

    Initialisation: `init_vocab` 4000 most frequent words per side (VecMap's unsupervised_vocab; 0 = all,
    which needs a vocabulary-squared matrix), sorted similarity rows normalised by `init_normalize`
    "unit,center,unit" (VecMap reuses its embedding normalisation there, and so does `xling align words`:
    its `normalize` is this default).
    Self-learning: dictionaries induced among the `vocabulary_cutoff` 20,000 most frequent words per side
    (0 = all) with CSLS over `csls_k` 10 neighbours (0 = plain nearest neighbour), `direction` "union"
    (source-to-target and target-to-source pairs together); stochastic induction with keep probability
    `stochastic_initial` 0.1, multiplied by `stochastic_multiplier` 2 (up to 1) after
    `stochastic_interval` 50 iterations without an objective gain of at least `threshold` 1e-6.
    `max_iterations` 0 sets no limit (VecMap has none; a limit ends the loop as convergence would).
    Final mapping: `whiten` true, `src_reweight` 0.5 and `trg_reweight` 0.5 (symmetric re-weighting),
    `src_dewhiten` "src", `trg_dewhiten` "trg", `dim_reduction` 0 (keep every dimension);
    `orthogonal` true skips this framework and returns the loop's orthogonal mapping (VecMap's
    --orthogonal). `seed` 0 is VecMap's default seed (the random draws differ from NumPy's, of course).

    Not VecMap's: `chunk_size` source rows per similarity block, `cache_gb` (keep the cutoff similarity
    matrix between the two passes of an iteration when it fits), `precision` ("bfloat16" computes the
    induction's similarities from bfloat16 vectors, 10-20% faster on a CPU with AVX-512 BF16, with
    errors near 1e-3; "float32" is the default), `threads` (torch threads; None keeps torch's setting).

    Cost: at the 20,000-word cutoff and d=300 an iteration takes about 7 s (keep probability 1) to 11 s
    (below 1, the dropout's random draws) on one CPU core, and the schedule needs at least
    5 x `stochastic_interval` iterations, so VecMap's unsupervised defaults take the better part of an
    hour on a CPU.
    """

    init_vocab: int = 4000
    """Most frequent words per side the unsupervised initial dictionary is matched among (VecMap's
    unsupervised_vocab); 0 = all, which needs a vocabulary-squared matrix."""

    init_normalize: str = "unit,center,unit"
    """Normalisation of the sorted similarity rows of the initialisation (unit, center or none,
    comma-separated)."""

    vocabulary_cutoff: int = 20_000
    """Most frequent words per side among which dictionaries are induced; 0 = all."""

    csls_k: int = 10
    """Neighbours of CSLS in the induction (and the initialisation); 0 = plain nearest neighbour."""

    direction: str = "union"
    """Which induced pairs are kept: "forward" (source to target), "backward" or "union" (both)."""

    threshold: float = 1e-6
    """The least objective gain that counts as progress for the stochastic schedule (>= 0)."""

    stochastic_initial: float = 0.1
    """Initial keep probability of the stochastic induction, in (0, 1]."""

    stochastic_multiplier: float = 2.0
    """Factor (> 1) on the keep probability (up to 1) after stochastic_interval iterations without
    progress."""

    stochastic_interval: int = 50
    """Iterations without an objective gain of at least threshold before the keep probability rises."""

    max_iterations: int = 0
    """The most self-learning iterations; 0 = no limit (VecMap has none; a limit ends the loop as
    convergence would)."""

    orthogonal: bool = False
    """Skip the final multi-step framework and return the loop's orthogonal mapping (VecMap's
    --orthogonal)."""

    whiten: bool = True
    """Whiten each side before the final mapping."""

    src_reweight: float = 0.5
    """Exponent of the singular values re-weighting the source side (0.5 and 0.5: symmetric)."""

    trg_reweight: float = 0.5
    """Exponent of the singular values re-weighting the target side."""

    src_dewhiten: str = "src"
    """De-whitening of the source side: "src", "trg" or "none". Without `whiten` there is nothing to undo:
    the default is then a no-op, and a value other than "none" set in a recipe or options is a ConfigError
    (VecMap: "De-whitening requires whitening first"). A config built in code cannot tell a set value from
    the default, so there it is a no-op too."""

    trg_dewhiten: str = "trg"
    """De-whitening of the target side: "src", "trg" or "none"; without `whiten` as `src_dewhiten`."""

    dim_reduction: int = 0
    """Keep this many first dimensions of the final mapping; 0 = every dimension (the only choice with
    orthogonal, which skips that mapping)."""

    chunk_size: int = 2048
    """Source rows per similarity block (not VecMap's)."""

    cache_gb: float = 2.0
    """Keep the cutoff similarity matrix between an iteration's two passes when it fits in this many GiB."""

    precision: str = "float32"
    """The induction's similarities from "float32" or "bfloat16" vectors (10-20% faster on a CPU with
    AVX-512 BF16, errors near 1e-3)."""

    seed: int = 0
    """Seed of the stochastic induction's random draws (VecMap's default 0; the draws differ from its own)."""

    threads: int | None = None
    """Torch threads; None keeps torch's setting."""

    def validate(self) -> None:
        """Raise ConfigError naming the first field that holds an impossible value."""
        for name in ("init_vocab", "vocabulary_cutoff", "csls_k", "max_iterations", "dim_reduction"):
            _require(self, name, getattr(self, name) >= 0, "must be 0 or more")
        for name in ("stochastic_interval", "chunk_size"):
            _require(self, name, getattr(self, name) >= 1, "must be at least 1")
        _require(self, "threshold", self.threshold >= 0, "must be 0 or more")
        _require(self, "stochastic_initial", 0 < self.stochastic_initial <= 1, "must be in (0, 1]")
        _require(
            self,
            "stochastic_multiplier",
            self.stochastic_multiplier > 1,
            "must be greater than 1, or the keep probability never reaches 1",
        )
        _require(self, "cache_gb", self.cache_gb >= 0, "must be 0 or more")
        for name in ("src_reweight", "trg_reweight"):
            _require(self, name, math.isfinite(getattr(self, name)), "must be a finite number")
        _require(self, "direction", self.direction in DIRECTIONS, f"must be one of {', '.join(DIRECTIONS)}")
        for name in ("src_dewhiten", "trg_dewhiten"):
            _require(
                self, name, getattr(self, name) in DEWHITENINGS, f"must be one of {', '.join(DEWHITENINGS)}"
            )
        _require(self, "precision", self.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}")
        _require(self, "threads", self.threads is None or self.threads >= 1, "must be at least 1 (or None)")
        try:
            parse_normalization(self.init_normalize)
        except ConfigError as error:
            raise ConfigError(f"init_normalize: {error}") from None
        # the reduction is a step of the final framework, which orthogonal skips: it would be ignored
        if self.orthogonal and self.dim_reduction:
            raise ConfigError(
                f"dim_reduction: {self.dim_reduction} is applied by the final multi-step mapping, which "
                "orthogonal true skips; set dim_reduction 0 or orthogonal false"
            )


def check_dewhitening(config: SelfLearningConfig) -> None:
    """Return nothing; raise ConfigError for a de-whitening the user set (given_fields) without whitening.

    VecMap exits on it; the defaults ("src", "trg") stay silent, as they are no-ops without whitening and a
    user who only turned whitening off never asked for them.
    """
    if config.whiten:
        return
    given = given_fields(config) or frozenset()  # None: built in code, where a set value looks like a default
    for name in ("src_dewhiten", "trg_dewhiten"):
        if name in given and getattr(config, name) != "none":
            raise ConfigError(
                f"{name}: {getattr(config, name)!r} de-whitens, which needs whitening first, and whiten is "
                f"false; set {name} to 'none' or whiten to true"
            )


def _require(config: object, name: str, ok: bool, why: str) -> None:
    """Raise ConfigError about field `name` of `config` unless `ok`."""
    if not ok:
        raise ConfigError(f"{name}: {why} (got {getattr(config, name)!r})")


def self_learning(
    X: np.ndarray,
    Z: np.ndarray,
    config: SelfLearningConfig,
    *,
    seed_pairs: np.ndarray | None = None,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Return (src_transform, tgt_transform, history): `X @ src_transform` and `Z @ tgt_transform` share a space.

    X and Z are the normalised embeddings (rows in frequency order, same dimension d). `seed_pairs`
    ([m, 2] source row, target row) replaces the unsupervised initial dictionary. The transforms are
    [d, d] float32 ([d, dim_reduction] with a reduction). Each history entry: iteration, objective,
    keep_prob, dictionary_size (distinct pairs induced), seconds.
    """
    config.validate()
    check_dewhitening(config)
    X, Z = check_embeddings(X, Z, method="self-learning")
    if config.dim_reduction > X.shape[1]:
        raise ConfigError(f"dim_reduction: {config.dim_reduction} exceeds the dimension {X.shape[1]}")
    with torch_threads(config.threads):
        generator = torch.Generator().manual_seed(config.seed)
        if seed_pairs is None:
            pairs = initial_dictionary(X, Z, config)
        else:
            pairs = _check_seed_pairs(seed_pairs, len(X), len(Z))
        pairs, w, history = _self_learn(X, Z, pairs, config, generator, progress)
        if config.orthogonal:
            return w, np.eye(Z.shape[1], dtype=np.float32), history
        src_transform, tgt_transform = multistep_mapping(X, Z, pairs, config)
    return src_transform, tgt_transform, history


def _check_seed_pairs(seed_pairs: np.ndarray, n_src: int, n_tgt: int) -> np.ndarray:
    """Return the seed pairs as int64 [m, 2]; DataError when empty, misshapen or out of range."""
    pairs = np.asarray(seed_pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise DataError(
            f"seed_pairs must be a non-empty [m, 2] array of (source, target) rows, got {pairs.shape}"
        )
    if not np.issubdtype(pairs.dtype, np.integer):
        raise DataError(f"seed_pairs must hold integer row numbers, got {pairs.dtype}")
    for column, size, side in ((0, n_src, "source"), (1, n_tgt, "target")):
        bad = (pairs[:, column] < 0) | (pairs[:, column] >= size)
        if bad.any():
            raise DataError(
                f"seed_pairs: {side} row {int(pairs[bad.argmax(), column])} is outside the {size} {side} rows"
            )
    return pairs.astype(np.int64)


def initial_dictionary(X: np.ndarray, Z: np.ndarray, config: SelfLearningConfig) -> np.ndarray:
    """Return the unsupervised initial pairs [m, 2] by matching sorted similarity distributions."""
    n = min(len(X), len(Z), config.init_vocab or max(len(X), len(Z)))
    needed = 3 * n * n * 4  # three n x n float32 matrices: both sorted similarities and their product
    if needed > _INIT_MAX_BYTES:
        raise ConfigError(
            f"init_vocab: matching {n} words needs {needed / 2**30:.0f} GiB of n x n similarities; "
            f"use at most {int(math.sqrt(_INIT_MAX_BYTES / 12))} (VecMap's default is 4000)"
        )
    steps = parse_normalization(config.init_normalize)
    xsim = torch.from_numpy(_sorted_similarities(X[:n], steps))
    zsim = torch.from_numpy(_sorted_similarities(Z[:n], steps))
    sim = xsim @ zsim.T
    k = min(config.csls_k, n)
    if k > 0:
        # CSLS halved: subtract half of both neighbourhood densities, each measured on the raw similarities.
        row_density = sim.topk(k, dim=1).values.mean(1, keepdim=True)
        column_density = sim.T.contiguous().topk(k, dim=1).values.mean(1)
        sim -= row_density / 2 + column_density / 2
    rows = torch.arange(n)
    forward = torch.stack((rows, sim.argmax(1)), 1)
    backward = torch.stack((sim.argmax(0), rows), 1)
    chosen = {"forward": [forward], "backward": [backward], "union": [forward, backward]}[config.direction]
    return torch.cat(chosen).numpy().astype(np.int64)


def _sorted_similarities(x: np.ndarray, steps: list[str]) -> np.ndarray:
    """Return sqrt(x x^T) with every row sorted ascending, normalised by `steps` (float32 [n, n])."""
    rows = torch.from_numpy(x).double()
    # sqrt(X X^T) = U S U^T = X (X^T X)^(-1/2) X^T: a d x d eigenproblem instead of an n x d SVD.
    with torch_threads(1):
        eigenvalues, vectors = torch.linalg.eigh(rows.T @ rows)
    inverse_root = (vectors * eigenvalues.clamp_min(eigenvalues.max() * 1e-12).rsqrt()) @ vectors.T
    left = (rows @ inverse_root).float()
    root = left @ rows.float().T
    return normalize_embeddings(root.sort(dim=1).values.numpy(), steps)


def _self_learn(
    X: np.ndarray,
    Z: np.ndarray,
    pairs: np.ndarray,
    config: SelfLearningConfig,
    generator: torch.Generator,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Return the final dictionary, the last orthogonal mapping and the iterations' history."""
    n_src = min(len(X), config.vocabulary_cutoff or len(X))
    n_tgt = min(len(Z), config.vocabulary_cutoff or len(Z))
    induction = _Induction(n_src, n_tgt, config, generator)
    src_head, tgt_head = torch.from_numpy(X[:n_src]), torch.from_numpy(Z[:n_tgt])
    induction.set_targets(tgt_head)
    best_objective, last_improvement, keep_prob, it = -math.inf, 0, config.stochastic_initial, 1
    history: list[dict] = []
    with _Spinner(progress) as spinner:
        while True:
            end = False
            if it - last_improvement > config.stochastic_interval:
                end = keep_prob >= 1.0
                keep_prob = min(1.0, config.stochastic_multiplier * keep_prob)
                last_improvement = it
            if config.max_iterations and it > config.max_iterations:
                end = True
            w = procrustes(X[pairs[:, 0]], Z[pairs[:, 1]])
            if end:
                return pairs, w, history
            start = time.perf_counter()
            pairs, objective = induction.run(src_head @ torch.from_numpy(w), keep_prob)
            if objective - best_objective >= config.threshold:
                last_improvement, best_objective = it, objective
            size = len(np.unique(pairs[:, 0] * n_tgt + pairs[:, 1]))
            history.append(
                {
                    "iteration": it,
                    "objective": objective,
                    "keep_prob": keep_prob,
                    "dictionary_size": size,
                    "seconds": time.perf_counter() - start,
                }
            )
            spinner.update(it, objective, keep_prob)
            it += 1


class _Induction:
    """Stochastic CSLS dictionary induction between the cutoff vocabularies, with reusable buffers."""

    def __init__(self, n_src: int, n_tgt: int, config: SelfLearningConfig, generator: torch.Generator):
        self.n_src, self.n_tgt, self.config, self.generator = n_src, n_tgt, config, generator
        self.chunk = min(config.chunk_size, n_src)
        self.k = min(config.csls_k, n_src, n_tgt)
        self.forward = config.direction in ("forward", "union")
        self.backward = config.direction in ("backward", "union")
        cells = self.chunk * n_tgt
        cached = n_src * n_tgt * 4 <= config.cache_gb * 2**30
        # Allocated once: fresh multi-hundred-megabyte tensors per chunk would spend their time in page faults.
        self.cache = torch.empty(n_src, n_tgt) if cached else None
        self.scores = None if cached else torch.empty(cells)
        self.work = torch.empty(cells)
        self.random = torch.empty(cells, dtype=torch.int16)
        self.dropped = torch.empty(cells, dtype=torch.bool)
        self.targets = torch.empty(0)

    def set_targets(self, targets: torch.Tensor) -> None:
        """Use `targets` [n_tgt, d] (the mapped target head) as the other side of every similarity."""
        self.targets = targets.to(torch.bfloat16) if self.config.precision == "bfloat16" else targets

    def run(self, sources: torch.Tensor, keep_prob: float) -> tuple[np.ndarray, float]:
        """Return the induced pairs [m, 2] and the objective for the mapped source head `sources`."""
        if self.config.precision == "bfloat16":
            sources = sources.to(torch.bfloat16)
        best_fwd, knn_fwd, best_bwd, knn_bwd = self._statistics(sources)
        found = []
        if self.forward or self.backward:
            fwd, bwd = self._best_targets(sources, knn_fwd, knn_bwd, keep_prob)
            if self.forward:
                found.append(torch.stack((torch.arange(self.n_src), fwd), 1))
            if self.backward:
                found.append(torch.stack((bwd, torch.arange(self.n_tgt)), 1))
        means = []
        if self.forward:
            means.append(float(best_fwd.mean()))
        if self.backward:
            means.append(float(best_bwd.mean()))
        return torch.cat(found).numpy(), sum(means) / len(means)

    def _blocks(self, sources: torch.Tensor, fill: bool):
        """Yield (first row, similarity block [rows, n_tgt]) over the source head, chunk by chunk."""
        for start in range(0, self.n_src, self.chunk):
            rows = min(self.chunk, self.n_src - start)
            if self.cache is not None:
                block = self.cache[start : start + rows]
                if fill:
                    self._similarities(sources[start : start + rows], block)
            else:
                block = self.scores[: rows * self.n_tgt].view(rows, self.n_tgt)
                self._similarities(sources[start : start + rows], block)
            yield start, block

    def _similarities(self, sources: torch.Tensor, out: torch.Tensor) -> None:
        """Write the dot products of `sources` with every target row into `out`."""
        if sources.dtype == torch.bfloat16:
            out.copy_(sources @ self.targets.T)
        else:
            torch.matmul(sources, self.targets.T, out=out)

    def _statistics(self, sources: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return best and mean top-k similarity of every source row (fwd) and target row (bwd)."""
        k, top = self.k, max(self.k, 1)
        best_fwd, knn_fwd = torch.empty(self.n_src), torch.zeros(self.n_src)
        column_tops = []
        columns = self.backward or (self.forward and k > 0)
        for start, block in self._blocks(sources, fill=True):
            rows = len(block)
            values = block.topk(top, dim=1).values
            best_fwd[start : start + rows] = values[:, 0]
            if k:
                knn_fwd[start : start + rows] = values[:, :k].mean(1)
            if columns:
                # Column statistics from the transposed block: a row-wise topk is far faster than dim 0.
                flipped = self.work[: rows * self.n_tgt].view(self.n_tgt, rows).copy_(block.T)
                column_tops.append(flipped.topk(min(top, rows), dim=1).values)
        best_bwd, knn_bwd = torch.zeros(self.n_tgt), torch.zeros(self.n_tgt)
        if columns:
            values = torch.cat(column_tops, 1).topk(top, dim=1).values
            best_bwd = values[:, 0]
            if k:
                knn_bwd = values[:, :k].mean(1)
        return best_fwd, knn_fwd, best_bwd, knn_bwd

    def _best_targets(
        self, sources: torch.Tensor, knn_fwd: torch.Tensor, knn_bwd: torch.Tensor, keep_prob: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return each source row's best target and each target row's best source under dropped CSLS."""
        fwd = torch.zeros(self.n_src, dtype=torch.long)
        bwd_value = torch.full((self.n_tgt,), -math.inf)
        bwd = torch.zeros(self.n_tgt, dtype=torch.long)
        half_bwd, half_fwd = knn_bwd / 2, knn_fwd / 2
        for start, block in self._blocks(sources, fill=False):
            rows = len(block)
            work = self.work[: rows * self.n_tgt]
            if self.forward:
                # VecMap's CSLS for ranking: cos(x, y) - r(y)/2; r(x) is constant along the row.
                scores = torch.sub(block, half_bwd, out=work.view(rows, self.n_tgt))
                self._drop(scores, keep_prob)
                fwd[start : start + rows] = scores.argmax(1)
            if self.backward:
                scores = work.view(self.n_tgt, rows).copy_(block.T)
                scores -= half_fwd[start : start + rows]
                self._drop(scores, keep_prob)
                value, index = scores.max(1)
                # Strictly greater: earlier chunks win ties, as a global argmax's first index would.
                better = value > bwd_value
                bwd_value = torch.where(better, value, bwd_value)
                bwd = torch.where(better, index + start, bwd)
        return fwd, bwd

    def _drop(self, scores: torch.Tensor, keep_prob: float) -> None:
        """Set each entry of `scores` to 0 with probability 1 - keep_prob (VecMap's dropout), in place."""
        if keep_prob >= 1.0:
            return
        cells = scores.numel()
        draws = self.random[:cells].view(scores.shape).random_(generator=self.generator)
        dropped = torch.ge(
            draws, round(keep_prob * _RANDOM_LEVELS), out=self.dropped[:cells].view(scores.shape)
        )
        scores.masked_fill_(dropped, 0.0)


def multistep_mapping(
    X: np.ndarray, Z: np.ndarray, pairs: np.ndarray, config: SelfLearningConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Return (src_transform, tgt_transform) of the multi-step framework solved on the dictionary `pairs`.

    Artetxe et al. (2018a): whiten each side, map both orthogonally onto the SVD's axes, re-weight by the
    singular values (src_reweight, trg_reweight), de-whiten, optionally keep the first dimensions.
    """
    xs = torch.from_numpy(X[pairs[:, 0]]).double()
    zs = torch.from_numpy(Z[pairs[:, 1]]).double()
    dim = X.shape[1]
    # d x d decompositions: one thread is fastest, and far faster than several on a busy machine.
    with torch_threads(1):
        if config.whiten:
            wx1, wx1_inv = _whitening(xs)
            wz1, wz1_inv = _whitening(zs)
        else:
            wx1 = wx1_inv = wz1 = wz1_inv = torch.eye(dim, dtype=torch.float64)
        u, s, vt = torch.linalg.svd(wx1.T @ (xs.T @ zs) @ wz1)
    wx2, wz2 = u, vt.T
    src = (wx1 @ wx2) * s**config.src_reweight
    tgt = (wz1 @ wz2) * s**config.trg_reweight
    dewhiten = {
        "src": wx2.T @ wx1_inv @ wx2,
        "trg": wz2.T @ wz1_inv @ wz2,
        "none": torch.eye(dim, dtype=torch.float64),
    }
    src = src @ dewhiten[config.src_dewhiten]
    tgt = tgt @ dewhiten[config.trg_dewhiten]
    if config.dim_reduction:
        src, tgt = src[:, : config.dim_reduction], tgt[:, : config.dim_reduction]
    return src.float().numpy(), tgt.float().numpy()


def _whitening(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (rows^T rows)^(-1/2) and its inverse (rows^T rows)^(1/2), both symmetric [d, d]."""
    eigenvalues, vectors = torch.linalg.eigh(rows.T @ rows)
    # A dictionary with fewer distinct rows than dimensions is rank-deficient: floor the spectrum rather
    # than divide by zero (VecMap would return infinities).
    root = eigenvalues.clamp_min(float(eigenvalues.max()) * 1e-10).sqrt()
    return (vectors / root) @ vectors.T, (vectors * root) @ vectors.T


class _Spinner:
    """A rich status line with the iteration, objective and keep probability, or nothing when not shown."""

    def __init__(self, show: bool):
        self.show, self.progress, self.task = show, None, None

    def __enter__(self) -> _Spinner:
        if self.show:
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("self-learning {task.fields[state]}"),
                TimeElapsedColumn(),
                transient=True,
                console=Console(stderr=True),  # stdout stays the command's output
            )
            self.progress.start()
            self.task = self.progress.add_task("self-learning", total=None, state="initialising")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, iteration: int, objective: float, keep_prob: float) -> None:
        if self.progress is not None:
            state = f"iteration {iteration}: objective {objective:.6f}, keep {keep_prob:.3g}"
            self.progress.update(self.task, state=state)
