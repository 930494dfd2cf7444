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


def gold_retrieval_accuracy(
    src: np.ndarray, tgt: np.ndarray, src_texts: Sequence[str], tgt_texts: Sequence[str]
) -> RetrievalScore:
    """Return top-1 cosine retrieval accuracy over the distinct texts of pairs (row i of `src` translates row i
    of `tgt`) where a text may have several translations (a dictionary word): each distinct text is a query
    once, among the other side's distinct texts, and a hit is any of its gold translations, as bilingual
    lexicon induction counts precision@1 (MUSE, facebookresearch/MUSE src/evaluation/word_translation.py:
    a source word is right when its retrieved word is any of its dictionary translations). Row-by-row
    retrieval capped such a set: a word listed with two translations could find only one. `n` is the
    number of distinct `src` texts."""
    if src.shape != tgt.shape or len(src) == 0 or not len(src_texts) == len(tgt_texts) == len(src):
        raise ValueError(
            f"need two non-empty aligned matrices and their texts, got {src.shape} and {tgt.shape}"
        )
    src_rows = dict(zip(src_texts, range(len(src)), strict=True))  # a text's last row: its vectors are equal
    tgt_rows = dict(zip(tgt_texts, range(len(tgt)), strict=True))
    gold: set[tuple[str, str]] = set(zip(src_texts, tgt_texts, strict=True))
    src_keys, tgt_keys = list(src_rows), list(tgt_rows)
    forward, backward = cosine_nearest(src[list(src_rows.values())], tgt[list(tgt_rows.values())])
    src2tgt = float(np.mean([(text, tgt_keys[j]) in gold for text, j in zip(src_keys, forward, strict=True)]))
    tgt2src = float(
        np.mean([(src_keys[j], text) in gold for text, j in zip(tgt_keys, backward, strict=True)])
    )
    return RetrievalScore(src2tgt, tgt2src, len(src_keys))


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
