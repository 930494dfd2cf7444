"""Translation retrieval accuracy: how often a sentence's nearest neighbour on the other side is its translation.

The quick dev-set check of pretraining and sentence alignment (cosine, both directions, as Tatoeba
reports it); Tatoeba itself (xling.evaluation.tatoeba) adds margin scoring. Both count hits with
xling.retrieval.knn.top1_accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xling.retrieval.knn import cosine_nearest, top1_accuracy


@dataclass(frozen=True)
class RetrievalScore:
    """Top-1 accuracy in both directions (as Tatoeba reports it), and chance for that many candidates."""

    src2tgt: float
    tgt2src: float
    n: int

    @property
    def average(self) -> float:
        """Return the mean of the two directions."""
        return (self.src2tgt + self.tgt2src) / 2

    @property
    def chance(self) -> float:
        """Return the accuracy of a random guess among n candidates."""
        return 1.0 / self.n if self.n else 0.0


def retrieval_accuracy(
    src: np.ndarray, tgt: np.ndarray, texts: tuple[Sequence[str], Sequence[str]] | None = None
) -> RetrievalScore:
    """Return top-1 cosine retrieval accuracy for aligned rows of `src` and `tgt` (row i translates row i);
    with the rows' `texts` (src, tgt), a hit is a row with the right text, as LASER counts (`top1_accuracy`:
    NTREX's German reference holds "Die Lage ist sehr schlimm." twice)."""
    if src.shape != tgt.shape or len(src) == 0:
        raise ValueError(f"need two non-empty aligned matrices, got {src.shape} and {tgt.shape}")
    forward, backward = cosine_nearest(src, tgt)
    src_texts, tgt_texts = texts if texts is not None else (None, None)
    return RetrievalScore(top1_accuracy(forward, tgt_texts), top1_accuracy(backward, src_texts), len(src))


def ntrex_retrieval(
    encoder, folder: str | Path, lang: str, *, batch_size: int = 256, variants: Sequence[str] = ()
) -> RetrievalScore:
    """Return retrieval accuracy between NTREX's English source and `lang`'s reference (src = `lang`, tgt =
    English; 1,997 news sentences), encoded by `encoder` (anything with `encode(texts, ...)`); `variants`
    names file tags (zho-TW) to read instead of a language's default file, as `ntrex_test`'s."""
    from xling.translation.testsets import ntrex_test

    test = ntrex_test(folder, "eng", lang, variants=variants)
    return retrieval_accuracy(encoder.encode(test.references, batch_size=batch_size, show_progress=False),
                              encoder.encode(test.sources, batch_size=batch_size, show_progress=False),
                              texts=(test.references, test.sources))  # fmt: skip
