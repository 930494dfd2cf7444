"""Translation retrieval: how often a sentence's nearest neighbour on the other side is its translation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RetrievalScore:
    """Top-1 accuracy in both directions (as Tatoeba reports it), and chance for that many candidates."""

    src2tgt: float
    tgt2src: float
    n: int

    @property
    def average(self) -> float:
        return (self.src2tgt + self.tgt2src) / 2

    @property
    def chance(self) -> float:
        return 1.0 / self.n if self.n else 0.0


def retrieval_accuracy(src: np.ndarray, tgt: np.ndarray) -> RetrievalScore:
    """Return top-1 cosine retrieval accuracy for aligned rows of `src` and `tgt` (row i translates row i)."""
    if src.shape != tgt.shape or len(src) == 0:
        raise ValueError(f"need two non-empty aligned matrices, got {src.shape} and {tgt.shape}")
    a = src / np.linalg.norm(src, axis=1, keepdims=True).clip(min=1e-12)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True).clip(min=1e-12)
    sims = a @ b.T
    gold = np.arange(len(a))
    return RetrievalScore(
        float((sims.argmax(axis=1) == gold).mean()), float((sims.argmax(axis=0) == gold).mean()), len(a)
    )
