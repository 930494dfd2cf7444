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
# Fixed per-position multipliers of the word hash (a word is the sum of its code points times these): odd
# 64-bit numbers, drawn once (numpy's default_rng(20261203), 2026-12-03) and written out, since numpy promises
# the same stream only within one build and a changed draw would move every word of a saved detector
_POSITION = np.array([
    0x6b3d0209fc751de9, 0x4cd82565e3b0bbf1, 0x17d9b6c0d14b4c9d, 0x2e502fa73a18d65f,
    0x4451fd9b1e50df51, 0x3dbd6dbd2ce880b, 0x2d95336971581ed, 0x7677eef7b199f387,
    0x420116f3dd67397d, 0x5615ba533b0be305, 0x425febdbfc9bd5f7, 0x231a1f55b6d91253,
    0x353d6a02e3569125, 0x1ef11b30338da515, 0x5fc45f5fc9e53055, 0x3fd353d476b0aae7,
    0x422b5db884b6a8b, 0x558caa6cc0422f25, 0xb03a3b64290ab3f, 0x781e04739fcca851,
    0x44610e7c1ba35dd, 0x2e1d2f026f840f29, 0x65822207c04e199b, 0x46cadacf4f3e84bd,
    0x7a8df35cceef832f, 0xcf06f8b7c7184d3, 0x6d7839431b288555, 0xa5ddd6e711e2ae3,
    0x1a6420d4355ce229, 0x7215cf8726048deb, 0x7870a7a52e895a2f, 0x217fbe124cce322d,
    0x6d8c08e2003d05a1, 0x69b3e3e80d4bbf3f, 0x44853a6f5a9b68ad, 0x4191ee9ea2edec49,
    0x39d8252b17a2e079, 0x20bb617476b86313, 0x7b2514ef9841bbab, 0x2b670b81cfaceaf9,
    0x22c8aeb14984bd7b, 0x171d93f35517ca15, 0x58009f4994dea027, 0x5d259e8dc5a2730b,
    0x61e313139be4f4fd, 0x2181a49739cfa1f7, 0x4c8dec6c84733f29, 0xc36c895eacac771,
    0x65d701f7126e94dd, 0x6e4fa4757c48a737, 0x9adecf279bbf48b, 0x4633cc2dcf2c970f,
    0x562060c44887d1d5, 0x2b6ae2e24fd36ed5, 0x5accb9db015f36d1, 0x631b586b0b1e4997,
    0x728d116594e439d, 0x5de9691be74235d3, 0x5ba2a3b7686ef5b3, 0x6e3c998d8add99c5,
    0x6694dd59e2a31e4b, 0x19bacc287b76782f, 0xa3be32a9e2b3aa7, 0x69ea82ff7acea0f1,
], dtype=np.uint64)  # fmt: skip


# The longest character n-gram a setting may ask for: every n up to max_n is a pass over the text, so a
# model file asking for thousands made featurising a long text quadratic (fastText's default is 6)
MAX_N = 16


@dataclass(frozen=True)
class FeatureConfig:
    """How texts become hashed features (saved with the model: a detector must featurise as it was trained)."""

    buckets: int = 2**18
    """Hash buckets shared by all features; rows of the embedding table."""
    min_n: int = 1
    """Shortest character n-gram."""
    max_n: int = 4
    """Longest character n-gram (at most MAX_N, 16)."""
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
        # little-endian code points on any machine, as they were encoded
        points = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
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
