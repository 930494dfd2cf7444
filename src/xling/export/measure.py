"""Measure an exported encoder against its source: vectors, cosine to fp32, speed, file size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import nn

from xling.embeddings.encoder import Encoder


def encode_unit(module: nn.Module, texts: list[str], batch_size: int) -> np.ndarray:
    """Return the unit vectors of `texts` by a sentence-encoder module (fp32, CPU)."""
    encoder = Encoder(module, name="candidate")
    return encoder.encode(texts, batch_size=batch_size, normalize=True)


def timed_encode(encoder: Encoder, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    """Return (unit vectors of `texts`, sentences per second), after one warm-up batch."""
    encoder.encode(texts[:batch_size], batch_size=batch_size, normalize=True)
    vectors, stats = encoder.encode_with_stats(texts, batch_size=batch_size, normalize=True)
    return vectors, len(texts) / max(stats.seconds, 1e-9)


def megabytes(path: Path) -> float:
    """Return the size of an ONNX file plus its external-data file, if any, in MB."""
    data = path.with_name(path.name + ".data")
    return (path.stat().st_size + (data.stat().st_size if data.exists() else 0)) / 1e6
