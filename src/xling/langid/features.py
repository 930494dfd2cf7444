"""Hashed features of normalised texts, as fastText's language identifier uses: the character n-grams of each
word padded with spaces (so a word's first and last n-grams differ from inner ones) and the words themselves,
hashed into a fixed number of buckets, computed for a whole batch at once with numpy (no Python loop per
character: this is what makes detection faster than per-text feature extraction)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

__all__ = ["FeatureConfig", "Featurizer"]

_SPACE, _BOUNDARY = 32, 0
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: the rolling n-gram hash
_WORD_SALT = np.uint64(0x9E3779B97F4A7C15)
# Fixed per-position multipliers of the word hash (a word is the sum of its code points times these).
_POSITION = np.random.default_rng(20261203).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


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


def _mix(values: np.ndarray) -> np.ndarray:
    """Return SplitMix64's finaliser of uint64 values (spreads the polynomial hashes over all bits)."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


class Featurizer:
    """Turns normalised texts (`normalize_text`: single spaces, no digits or punctuation) into hashed ids."""

    def __init__(self, config: FeatureConfig):
        self.config = config

    def ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Return (bucket ids, offsets): the ids of text i are ids[offsets[i]:offsets[i + 1]]."""
        joined = "\0".join(f" {text} " for text in texts)
        points = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        row = np.cumsum(points == _BOUNDARY)  # the text each position belongs to
        spaces = np.concatenate([[0], np.cumsum(points == _SPACE)])
        bounds = np.concatenate([[0], np.cumsum(points == _BOUNDARY)])
        # start with no features, so that texts too short for any n-gram (or no texts) concatenate
        ids, rows = [np.zeros(0, dtype=np.uint64)], [np.zeros(0, dtype=row.dtype)]
        rolling = np.zeros(len(points), dtype=np.uint64)
        for n in range(1, self.config.max_n + 1):
            count = len(points) - n + 1
            if count <= 0:
                break
            rolling = rolling[:count] * _MULTIPLIER + points[n - 1 : n - 1 + count]
            if n < self.config.min_n:
                continue
            start = np.arange(count)
            # inside one text, and no space inside the n-gram (only at its ends: the word's padding)
            valid = bounds[start + n] == bounds[start]
            if n == 1:
                valid &= points[:count] != _SPACE
            else:  # not all spaces (the padding of an empty text), and no space inside
                valid &= spaces[start + n] - spaces[start] < n
                if n > 2:
                    valid &= spaces[start + n - 1] == spaces[start + 1]
            ids.append(rolling[valid] + np.uint64(n))
            rows.append(row[:count][valid])
        if self.config.words:
            word_ids, word_rows = self._word_ids(points, row)
            ids.append(word_ids)
            rows.append(word_rows)
        all_ids = (_mix(np.concatenate(ids)) % np.uint64(self.config.buckets)).astype(np.int64)
        all_rows = np.concatenate(rows)
        order = np.argsort(all_rows, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(all_rows, minlength=len(texts)))])
        return all_ids[order], offsets

    def _word_ids(self, points: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (hashes before mixing, rows) of the words: runs of characters between spaces."""
        letter = (points != _SPACE) & (points != _BOUNDARY)
        previous = np.concatenate([[False], letter[:-1]])
        following = np.concatenate([letter[1:], [False]])
        starts = np.flatnonzero(letter & ~previous)
        ends = np.flatnonzero(letter & ~following)  # inclusive
        if len(starts) == 0:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=row.dtype)
        run_start = np.zeros(len(points), dtype=np.int64)
        run_start[starts] = starts
        run_start = np.maximum.accumulate(run_start)
        position = (np.arange(len(points)) - run_start) % len(_POSITION)
        weighted = np.where(letter, points * _POSITION[position], np.uint64(0))
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(weighted, dtype=np.uint64)])
        sums = prefix[ends + 1] - prefix[starts]
        return sums ^ _WORD_SALT, row[starts]

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Return the (len(texts), buckets) matrix whose rows average their features (all zero: no feature)."""
        ids, offsets = self.ids(texts)
        counts = np.diff(offsets)
        weights = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        return sp.csr_matrix((weights, ids, offsets), shape=(len(texts), self.config.buckets))
