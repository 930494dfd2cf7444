"""Word vectors in memory: a vocabulary in frequency order and one float32 row per word."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xling.errors import DataError


@dataclass
class WordVectors:
    """Words and their vectors; row i is `words[i]`, most frequent words first (as .vec files keep them).

    `source` names where the vectors came from, so errors can point at the file.
    """

    words: list[str]
    vectors: np.ndarray
    source: str = "<memory>"
    _index: dict[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2:
            raise DataError(f"vectors must be a 2-d matrix, got shape {self.vectors.shape}", self.source)
        if len(self.words) != len(self.vectors):
            raise DataError(f"{len(self.words)} words but {len(self.vectors)} vectors", self.source)
        if self.vectors.dtype != np.float32:
            self.vectors = self.vectors.astype(np.float32)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def index(self) -> dict[str, int]:
        """Return word -> row; a word listed twice keeps its first (most frequent) row."""
        if self._index is None:
            index: dict[str, int] = {}
            for i, word in enumerate(self.words):
                index.setdefault(word, i)
            self._index = index
        return self._index

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def vector(self, word: str) -> np.ndarray:
        """Return the row of `word` (KeyError if it is not in the vocabulary)."""
        return self.vectors[self.index[word]]

    def most_frequent(self, n: int) -> WordVectors:
        """Return the first `n` words (the most frequent ones) and their vectors."""
        return WordVectors(self.words[:n], self.vectors[:n], self.source)
