"""Word translation by retrieval in a shared space: `xling vectors translate` and the quickstart's step 5.

Each source word is mapped (when a mapping is given) and its best target words are retrieved over the
whole target vocabulary by nn, CSLS or the inverted softmax (xling.alignment.words.csls.translate).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from xling.alignment.words.csls import METHODS, translate, unit_rows
from xling.alignment.words.dictionary import all_lowercase
from xling.alignment.words.mapping import WordMapping
from xling.alignment.words.provenance import check_vectors
from xling.config import check_int
from xling.errors import ConfigError, XlingError
from xling.vectors.formats import check_unicode_errors

if TYPE_CHECKING:  # annotations only: importing xling.vectors also loads its file formats
    from xling.vectors.core import WordVectors

__all__ = ["WordTranslateConfig", "translate_words", "translate_words_from_files"]


@dataclass
class WordTranslateConfig:
    """Settings of `xling vectors translate`."""

    retrieval: str = "csls"
    """How target words are ranked: nn, csls (k=10, Conneau et al. 2018) or isf (inverted softmax)."""
    top: int = 5
    """Translations returned per word."""
    max_vocab: int = 200000
    """Words of each vocabulary to load, most frequent first (MUSE's 200000); 0 = all."""
    unknown: str = "error"
    """A source word outside the source vocabulary: "error" (name them all) or "skip" it."""
    unicode_errors: str = "strict"
    """A word of a vectors file that is not UTF-8: strict (an error), skip (its row dropped) or replace
    (U+FFFD for each bad byte), as `xling.vectors.load_vectors` reads it."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if self.retrieval not in METHODS:
            raise ConfigError(f"retrieval: {self.retrieval!r} must be one of {', '.join(METHODS)}")
        for name, least in (("top", 1), ("max_vocab", 0)):
            check_int(name, getattr(self, name), least)
        if self.unknown not in ("error", "skip"):
            raise ConfigError(f"unknown: {self.unknown!r} must be 'error' or 'skip'")
        check_unicode_errors(self.unicode_errors)


def translate_words(
    words: Sequence[str],
    src: WordVectors,
    tgt: WordVectors,
    mapping: WordMapping | None = None,
    config: WordTranslateConfig | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """Return {source word: [(target word, score), ...] best first} for the words of `words`.

    `mapping` maps both sides into one space (None: they already share one); vectors other than those it
    was trained on are warned about, and its training vectors swapped are an XlingError (provenance).
    Words not in `src` are an XlingError naming them (config.unknown == "error") or left out ("skip").
    """
    config = config or WordTranslateConfig()
    config.validate()
    if mapping is not None:
        check_vectors(mapping, src, tgt, stacklevel=2)
    if all_lowercase(
        src.words
    ):  # as dictionaries are looked up: "God" in vectors trained lowercased is "god"
        words = [w.lower() for w in words]
    unknown = [w for w in words if w not in src.index]
    if unknown and config.unknown == "error":
        raise XlingError(f"not in the source vocabulary ({src.source}): {', '.join(unknown)}")
    known = [w for w in words if w in src.index]
    if not known:
        return {}
    # cosines, as `xling eval bli` ranks (and MUSE and VecMap): a mapping need not leave rows of length 1
    # (normalize "none" or "center", self-learning's re-weighting), and raw dot products favour long rows
    mapped_src = unit_rows(
        src.vectors if mapping is None else mapping.map_source(src.vectors, origin=src.source)
    )
    mapped_tgt = unit_rows(
        tgt.vectors if mapping is None else mapping.map_target(tgt.vectors, origin=tgt.source)
    )
    rows = np.array([src.index[w] for w in known], dtype=np.int64)
    scores, found = translate(mapped_src, mapped_tgt, rows, method=config.retrieval, top=config.top)
    return {
        word: [(tgt.words[int(i)], float(v)) for i, v in zip(hits, values, strict=True)]
        for word, hits, values in zip(known, found, scores, strict=True)
    }


def translate_words_from_files(
    words: Sequence[str],
    src: str | os.PathLike[str],
    tgt: str | os.PathLike[str],
    mapping: str | os.PathLike[str] | None,
    config: WordTranslateConfig | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """Return `translate_words` for vectors and a mapping folder read from files (config.max_vocab words)."""
    from xling.vectors import load_vectors

    config = config or WordTranslateConfig()
    config.validate()
    cap = config.max_vocab or None
    source, target = (load_vectors(path, max_words=cap, unicode_errors=config.unicode_errors)
                      for path in (src, tgt))  # fmt: skip
    aligned = None if mapping is None else WordMapping.load(mapping)
    return translate_words(words, source, target, aligned, config)
