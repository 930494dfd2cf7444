"""A deterministic fake sentence encoder: hashed character-trigram bags, so similar strings are close."""

from __future__ import annotations

import zlib

import numpy as np
import pytest


class FakeEncoder:
    """Encodes a text as its bag of character trigrams hashed into `dimension` buckets (crc32, stable)."""

    def __init__(self, dimension: int = 256, name: str | None = None, salt: str = "") -> None:
        self.dimension = dimension
        self.name = name or f"fake-trigram-{dimension}"
        self.salt = salt  # another salt hashes trigrams to other buckets: another "model" of this dimension
        self.calls = 0
        self.encoded: list[str] = []  # every text encoded, over all calls

    def encode(
        self,
        texts: list[str],
        batch_size: int = 64,
        normalize: bool = True,
        show_progress: bool | None = None,
    ) -> np.ndarray:
        self.calls += 1
        self.encoded += texts
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()}  "
            for start in range(len(padded) - 2):
                gram = (self.salt + padded[start : start + 3]).encode("utf-8")
                vectors[row, zlib.crc32(gram) % self.dimension] += 1.0
        if normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()
