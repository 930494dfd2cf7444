"""An encoder's fingerprint: its vectors of a few fixed sentences, stored with what was built on them.

A search index, a support bot, a classifier or a tagger holds vectors (or a head trained on vectors) of
one model. Loading it later with another model of the same dimension (a folder replaced, a Hub id that
moved, a re-trained model under the same name) would give wrong answers without any error, so what was
built stores the fingerprint and compares it with the encoder it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from xling.errors import DataError

# Another model gives other vectors of these sentences; the same weights give the same ones whatever path
# they were loaded from. Three scripts, so a model that knows only some of them still shows its weights.
PROBE_TEXTS = (
    "The cat sleeps on the mat.",
    "Morgen regnet es in den Bergen.",
    "明天我们去图书馆看书。",
)
# Lowest cosine between the stored and an encoder's probe vectors that counts as the same model: the same
# weights in another precision or runtime (float16, ONNX, int8) stay above it.
PROBE_MIN_COSINE = 0.98
PROBE_TENSOR = "encoder.probe"  # the fingerprint's name among a saved head's tensors (classifier, tagger)


def probe_vectors(encoder: Any) -> np.ndarray:
    """Return the encoder's float32 [len(PROBE_TEXTS), dimension] vectors of PROBE_TEXTS (the fingerprint)."""
    vectors = encoder.encode(list(PROBE_TEXTS), batch_size=len(PROBE_TEXTS), show_progress=False)
    return np.asarray(vectors, dtype=np.float32)


def lowest_row_cosine(stored: np.ndarray, again: np.ndarray) -> float:
    """Return the lowest cosine between matching rows of two [n, d] arrays: whether an encoder reproduces
    vectors stored earlier (the same model when >= PROBE_MIN_COSINE). A row that is zero in both (a text of
    no known piece) counts as equal."""
    stored, again = np.asarray(stored, dtype=np.float64), np.asarray(again, dtype=np.float64)
    stored_norm, again_norm = np.linalg.norm(stored, axis=1), np.linalg.norm(again, axis=1)
    cosines = (stored * again).sum(axis=1) / np.maximum(stored_norm * again_norm, 1e-12)
    cosines[(stored_norm < 1e-9) & (again_norm < 1e-9)] = 1.0
    return float(cosines.min())


def fingerprint_mismatch(stored: np.ndarray, encoder: Any) -> str | None:
    """Return why `encoder` is not the model whose probe vectors are `stored` (None when it is)."""
    again = probe_vectors(encoder)
    if again.shape != np.shape(stored):
        return f"its probe vectors have shape {again.shape}, the stored ones {np.shape(stored)}"
    lowest = lowest_row_cosine(stored, again)
    if lowest < PROBE_MIN_COSINE:
        return f"its vectors differ (cosine {lowest:.3f} on a probe sentence)"
    return None


def check_fingerprint(
    stored: np.ndarray | None, encoder: Any, folder: Path, what: str, reference: str
) -> None:
    """Return nothing; raise DataError naming `folder` when `encoder` (loaded from `reference`) is not the
    model `what` was built with. `stored` None (saved before fingerprints) checks nothing."""
    if stored is None:
        return
    why = fingerprint_mismatch(stored, encoder)
    if why is not None:
        raise DataError(
            f"the encoder {reference!r} is not the one this {what} was trained on: {why}; restore that "
            f"encoder, or train the {what} again",
            folder,
        )
