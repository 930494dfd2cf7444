"""`TextEncoder`: what mining, the search index, hard-negative mining and evaluation need from an encoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class TextEncoder(Protocol):
    """Something that encodes texts into float32 vectors, one row per text (`xling.Encoder` is one)."""

    name: str

    @property
    def dimension(self) -> int:
        """Return the length of each vector."""
        ...

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        normalize: bool | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return float32 vectors [len(texts), dimension] in input order."""
        ...
