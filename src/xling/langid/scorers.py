"""The two model families of the language identifier: what turns a text's hashed features into one score per
label. Both read the same features (`xling.langid.features`) and are saved in the same folder format.

- `LinearScorer` (family "linear"): fastText's classifier, the mean of the features' vectors and one softmax
  layer, trained by gradient descent.
- `NaiveBayesScorer` (family "naive_bayes"): multinomial naive Bayes over the feature counts, as langid.py
  (Lui & Baldwin 2012) and scikit-learn's `MultinomialNB` with a uniform label prior: trained by counting.
  Stored sparse (most labels never see most features).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from xling.artifacts import config_number
from xling.errors import DataError

__all__ = ["FAMILIES", "LinearScorer", "NaiveBayesScorer", "scorer_from_tensors"]

# buckets whose naive-Bayes rows are kept dense in memory for speed: the most frequent features of every
# language fall there, and a dense row gather is many times faster than a sparse-by-sparse product
_DENSE_BUCKETS = 8192


@dataclass
class LinearScorer:
    """fastText's classifier: logits = mean of the features' rows of `embeddings`, times `weight`, plus `bias`."""

    family: ClassVar[str] = "linear"
    embeddings: np.ndarray
    """(buckets, dim) float32: a vector per hashed feature (saved as float16)."""
    weight: np.ndarray
    """(dim, labels) float32 softmax layer."""
    bias: np.ndarray
    """(labels,) float32."""

    @property
    def size_bytes(self) -> int:
        """Bytes of the weights as saved (float16 embeddings, float32 output layer)."""
        return self.embeddings.size * 2 + (self.weight.size + self.bias.size) * 4

    def logits(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Return (texts, labels) logits of the texts whose feature ids are ids[offsets[i]:offsets[i + 1]]."""
        counts = np.diff(offsets)
        weights = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        mean = sp.csr_matrix((weights, ids, offsets), shape=(len(counts), self.embeddings.shape[0]))
        # the sparse mean of the features' rows (a dense gather of one row per feature costs hundreds of MB
        # on a long text), then one vector-matrix product per text (a matrix product takes other kernels for
        # other batch sizes): a text's scores are the same bits whatever it is batched with
        hidden = mean @ self.embeddings
        logits = np.empty((len(counts), self.bias.shape[0]), dtype=np.result_type(hidden, self.weight))
        for row, vector in enumerate(hidden):
            logits[row] = vector @ self.weight
        return logits + self.bias

    def tensors(self) -> dict[str, np.ndarray]:
        """Return the tensors to save."""
        return {"embeddings": self.embeddings.astype(np.float16), "weight": self.weight.astype(np.float32),
                "bias": self.bias.astype(np.float32)}  # fmt: skip

    def config(self) -> dict[str, object]:
        """Return the config.json entries of the family."""
        return {"family": self.family, "dim": int(self.embeddings.shape[1])}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], config: dict, buckets: int, labels: int,
                     weights_path: Path, config_path: Path) -> LinearScorer:  # fmt: skip
        """Return the scorer of loaded tensors; raise DataError unless they hold finite floats in shapes that
        fit the config (features hashed into more buckets than rows would index past the table)."""
        found = _checked(tensors, {"embeddings": "f", "weight": "f", "bias": "f"}, weights_path)
        embeddings, weight, bias = found["embeddings"], found["weight"], found["bias"]
        dim = embeddings.shape[1] if embeddings.ndim == 2 else -1
        if embeddings.shape != (buckets, dim) or weight.shape != (dim, labels) or bias.shape != (labels,):
            raise DataError(f"tensor shapes embeddings {embeddings.shape}, weight {weight.shape}, bias {bias.shape} "
                            f"do not fit config.json's {buckets} buckets and {labels} labels", weights_path)  # fmt: skip
        return cls(embeddings.astype(np.float32), weight.astype(np.float32), bias.astype(np.float32))


@dataclass
class NaiveBayesScorer:
    """Multinomial naive Bayes: a label's logit is its log-likelihood of the text's features,
    sum over features of count x log P(feature | label), with P(f | c) = (n(f, c) + alpha) / (n(c) + alpha x
    buckets), divided by `temperature`.

    Stored as each label's log-probability of a feature it never saw (`unseen`) and, for the features it saw,
    the log-ratio log(1 + n(f, c) / alpha) on top of that: sum = unseen x (features of the text) + the
    ratios of the features seen.
    """

    family: ClassVar[str] = "naive_bayes"
    log_ratios: sp.csr_matrix
    """(buckets, labels) float32, non-zero where the label saw the feature (values saved as float16)."""
    unseen: np.ndarray
    """(labels,) float32: log P(feature | label) of a feature the label never saw."""
    alpha: float
    """The additive smoothing the model was counted with (recorded; the scores already include it)."""
    temperature: float = 1.0
    """Logits are log-likelihoods divided by this: naive Bayes' sums over features are far too confident as
    probabilities, so training sets it to the value that fits held-out lines and their crops best
    (temperature scaling, before any prior: `xling.langid.train.fit_temperature`)."""

    def __post_init__(self) -> None:
        frequency = np.diff(self.log_ratios.indptr)  # labels that saw each bucket
        self._dense_ids = np.sort(np.argsort(-frequency, kind="stable")[:_DENSE_BUCKETS])
        self._dense_slot = np.full(self.log_ratios.shape[0], -1, dtype=np.int64)
        self._dense_slot[self._dense_ids] = np.arange(len(self._dense_ids))
        self._dense = self.log_ratios[self._dense_ids].toarray()
        self._sparse = self.log_ratios.copy()
        in_dense = np.repeat(self._dense_slot >= 0, frequency)
        self._sparse.data = np.where(in_dense, np.float32(0), self._sparse.data)
        self._sparse.eliminate_zeros()

    @classmethod
    def fit(cls, class_counts: np.ndarray, alpha: float) -> NaiveBayesScorer:
        """Return the scorer of (labels, buckets) feature counts with additive smoothing `alpha` > 0."""
        if not (math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a finite number above 0, not {alpha}")
        if class_counts.shape[0] > np.iinfo(np.uint16).max:  # labels are saved as uint16
            raise ValueError(f"{class_counts.shape[0]:,} labels: naive Bayes is saved with at most 65,535")
        buckets = class_counts.shape[1]
        totals = class_counts.astype(np.float64).sum(axis=1)
        unseen = (np.log(alpha) - np.log(totals + alpha * buckets)).astype(np.float32)
        seen = sp.csr_matrix(np.asarray(class_counts, dtype=np.float32).T)
        if seen.nnz > np.iinfo(np.int32).max:  # row pointers are saved as int32
            raise ValueError(f"{seen.nnz:,} non-zero counts: naive Bayes is saved with at most 2**31 - 1")
        seen.data = np.log1p(seen.data / alpha).astype(np.float16).astype(np.float32)  # the precision saved
        return cls(seen, unseen, alpha)

    @property
    def size_bytes(self) -> int:
        """Bytes as saved: a float16 value and a uint16 label per non-zero, an int32 pointer per bucket."""
        return self.log_ratios.nnz * 4 + (self.log_ratios.shape[0] + 1) * 4 + self.unseen.size * 4

    def log_likelihoods(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Return (texts, labels) log-likelihoods (before the temperature) of the texts' features."""
        n_texts = len(offsets) - 1
        rows = np.repeat(np.arange(n_texts), np.diff(offsets))
        slots = self._dense_slot[ids]
        hot = slots >= 0
        # frequent buckets: a sparse-by-dense product; the rest: sparse by sparse
        scores = _counts(slots[hot], rows[hot], n_texts, len(self._dense_ids)) @ self._dense
        cold = _counts(ids[~hot], rows[~hot], n_texts, self.log_ratios.shape[0]) @ self._sparse
        scores += cold.toarray()
        return scores + np.diff(offsets)[:, None].astype(np.float32) * self.unseen[None, :]

    def logits(self, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Return (texts, labels) logits: log-likelihoods over the temperature."""
        return self.log_likelihoods(ids, offsets) / np.float32(self.temperature)

    def tensors(self) -> dict[str, np.ndarray]:
        """Return the tensors to save: the log-ratios as CSR arrays, and `unseen`."""
        matrix = self.log_ratios
        return {"log_ratio_indptr": matrix.indptr.astype(np.int32), "log_ratio_labels": matrix.indices.astype(np.uint16),
                "log_ratio_values": matrix.data.astype(np.float16), "unseen": self.unseen.astype(np.float32)}  # fmt: skip

    def config(self) -> dict[str, object]:
        """Return the config.json entries of the family."""
        return {"family": self.family, "alpha": self.alpha, "temperature": self.temperature}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], config: dict, buckets: int, labels: int,
                     weights_path: Path, config_path: Path) -> NaiveBayesScorer:  # fmt: skip
        """Return the scorer of loaded tensors; raise DataError unless they form a (buckets, labels) matrix of
        finite values (each bucket's labels increasing), and config.json's numbers are valid."""
        found = _checked(tensors, {"log_ratio_indptr": "iu", "log_ratio_labels": "iu", "log_ratio_values": "f",
                                   "unseen": "f"}, weights_path)  # fmt: skip
        if bad := [name for name, array in found.items() if array.ndim != 1]:
            raise DataError(f"naive-Bayes tensors {bad} must be 1-D", weights_path)
        indptr, indices = (
            found["log_ratio_indptr"].astype(np.int64),
            found["log_ratio_labels"].astype(np.int64),
        )
        values, unseen = found["log_ratio_values"].astype(np.float32), found["unseen"].astype(np.float32)
        if not (indptr.shape == (buckets + 1,) and indptr[0] == 0 and indptr[-1] == len(indices) == len(values)
                and np.all(np.diff(indptr) >= 0) and unseen.shape == (labels,)
                and (len(indices) == 0 or 0 <= indices.min() <= indices.max() < labels)):  # fmt: skip
            raise DataError(f"naive-Bayes tensors do not form a matrix of config.json's {buckets} buckets and "
                            f"{labels} labels", weights_path)  # fmt: skip
        if _unordered_labels(indptr, indices):
            raise DataError("naive-Bayes label indices must increase within each bucket (a label twice)",
                            weights_path)  # fmt: skip
        temperature = config_number(config, "temperature", config_path, default=1.0, ok=lambda x: x >= 1e-6,
                                    expected="of at least 1e-6")  # fmt: skip
        alpha = config_number(
            config, "alpha", config_path, default=None, ok=lambda x: x > 0, expected="above 0"
        )
        matrix = sp.csr_matrix((values, indices, indptr), shape=(buckets, labels))
        return cls(matrix, unseen, alpha, temperature)


FAMILIES = {scorer.family: scorer for scorer in (LinearScorer, NaiveBayesScorer)}
"""The model families by their config.json name."""


def scorer_from_tensors(tensors: dict[str, np.ndarray], config: dict, buckets: int, labels: int,
                        weights_path: Path, config_path: Path) -> LinearScorer | NaiveBayesScorer:  # fmt: skip
    """Return the scorer config.json's `family` names (models saved before families existed are linear);
    DataError naming `weights_path` for bad tensors, `config_path` for bad config.json entries."""
    family = config.get("family", LinearScorer.family)
    if not isinstance(family, str) or family not in FAMILIES:
        raise DataError(f"family {family!r} is not one of {', '.join(FAMILIES)}", config_path)
    return FAMILIES[family].from_tensors(tensors, config, buckets, labels, weights_path, config_path)


def _unordered_labels(indptr: np.ndarray, indices: np.ndarray) -> bool:
    """Return whether some bucket's labels (CSR row) do not strictly increase: a label listed twice."""
    steps = np.diff(indices)
    within = np.ones(len(steps), dtype=bool)
    starts = indptr[1:-1]
    within[starts[(starts > 0) & (starts < len(indices))] - 1] = False  # a step from one bucket to the next
    return bool(np.any(steps[within] <= 0))


def _counts(columns: np.ndarray, rows: np.ndarray, n_rows: int, n_columns: int) -> sp.csr_matrix:
    """Return the (n_rows, n_columns) CSR matrix of ones at (rows, columns); `rows` ascending (a text's
    features follow each other), so the matrix is built without a sort (repeated columns add up)."""
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_rows))])
    return sp.csr_matrix((np.ones(len(columns), np.float32), columns, indptr), shape=(n_rows, n_columns))


def _checked(tensors: dict[str, np.ndarray], kinds: dict[str, str], path: Path) -> dict[str, np.ndarray]:
    """Return the tensors `kinds` names; DataError naming the file for one missing, one of another dtype kind
    ("f": floats, "iu": integers) or floats that are not finite."""
    if missing := set(kinds) - set(tensors):
        raise DataError(f"missing tensors {sorted(missing)}", path)
    for name, kind in kinds.items():
        array = tensors[name]
        if array.dtype.kind not in kind:
            wanted = "floats" if kind == "f" else "integers"
            raise DataError(f"tensor {name!r} must hold {wanted}, not {array.dtype}", path)
        if kind == "f":
            # as float32, the precision scores are computed in (a float64 1e300 is no finite float32)
            with np.errstate(over="ignore"):
                scored = array if array.dtype.itemsize <= 4 else array.astype(np.float32)
            if not np.isfinite(scored).all():
                raise DataError(f"tensor {name!r} holds values that are not finite (NaN or infinite)", path)
    return {name: tensors[name] for name in kinds}
