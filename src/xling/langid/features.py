"""Hashed features of a normalised text, as fastText's language identifier uses: character n-grams of each
word (padded with spaces, so prefixes and suffixes differ from inner n-grams) and the words themselves, hashed
into a fixed number of buckets so that no vocabulary has to be kept."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

__all__ = ["FeatureConfig", "Featurizer"]


@dataclass(frozen=True)
class FeatureConfig:
    """How texts become hashed features (saved with the model: a detector must featurise as it was trained)."""

    buckets: int = 2**18
    """Hash buckets shared by all features; rows of the embedding table."""
    min_n: int = 1
    """Shortest character n-gram."""
    max_n: int = 4
    """Longest character n-gram."""
    words: bool = True
    """Also hash whole words (they separate close languages that share most n-grams)."""

    def to_dict(self) -> dict[str, int | bool]:
        return asdict(self)


class Featurizer:
    """Turns normalised texts into a sparse matrix whose rows sum to 1 (the mean of the features' vectors)."""

    def __init__(self, config: FeatureConfig):
        self.config = config
        # sklearn's hashers use MurmurHash3 (stable across runs and machines, unlike Python's hash()).
        self._chars = HashingVectorizer(analyzer="char_wb", ngram_range=(config.min_n, config.max_n),
                                        n_features=config.buckets, alternate_sign=False, norm=None,
                                        lowercase=False, dtype=np.float32)  # fmt: skip
        self._words = HashingVectorizer(analyzer="word", token_pattern=r"\S+", n_features=config.buckets,
                                        alternate_sign=False, norm=None, lowercase=False,
                                        dtype=np.float32) if config.words else None  # fmt: skip

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Return the (len(texts), buckets) feature matrix; a row of an empty text is all zeros."""
        features = self._chars.transform(texts)
        if self._words is not None:
            features = features + self._words.transform(texts)
        features = sp.csr_matrix(features, dtype=np.float32)
        totals = np.asarray(features.sum(axis=1)).ravel()
        scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
        return sp.csr_matrix(sp.diags(scale) @ features, dtype=np.float32)
