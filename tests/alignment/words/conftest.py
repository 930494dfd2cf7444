"""Fixtures: a slice of the shipped xling-mini embedding and a rotated, noisy copy of it (the gold
translation of row i is row i), on which every mapping method must recover the rotation."""

from __future__ import annotations

import numpy as np
import pytest

ROWS = slice(1000, 2500)
NOISE = 0.002  # per dimension; the rows' own spread is ~0.6 per dimension


@pytest.fixture(scope="session")
def mini_embedding(xling_mini_rows: np.ndarray) -> np.ndarray:
    """Return 1500 real sub-word vectors (256-d, float32) from xling-mini."""
    return xling_mini_rows[ROWS]


def random_rotation(dim: int, seed: int) -> np.ndarray:
    """Return a random orthogonal dim x dim matrix (QR of a Gaussian, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


@pytest.fixture(scope="session")
def rotated(mini_embedding: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (source, target, rotation): target = source @ rotation + small Gaussian noise."""
    rotation = random_rotation(mini_embedding.shape[1], seed=7)
    noise = np.random.default_rng(8).normal(0, NOISE, mini_embedding.shape).astype(np.float32)
    return mini_embedding, mini_embedding @ rotation + noise, rotation


def precision_at_1(src_mapped: np.ndarray, tgt: np.ndarray) -> float:
    """Return the share of rows whose nearest target (cosine) is the same row."""
    a = src_mapped / np.linalg.norm(src_mapped, axis=1, keepdims=True)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    return float(((a @ b.T).argmax(1) == np.arange(len(a))).mean())
