"""Bilingual lexicon induction (BLI): translate each dictionary source word by retrieval, as MUSE scores it.

Every source word of the test dictionary is mapped and its k best target words are retrieved over the
whole target vocabulary given (nn, csls or inverted softmax). Protocol (MUSE's):
- a source word counts as correct at k if ANY of its gold translations is among its k best targets;
- precision@k is over the distinct source words that are covered, i.e. that have at least one pair
  with both words in the vocabularies;
- pairs with an out-of-vocabulary word are not dropped silently: `coverage` counts them;
- words are looked up lowercased (`lowercase`, the default) and each vocabulary is MUSE's lowercased one
  (read_txt_embeddings with lower=True): only each lowercased word's first (most frequent) spelling is a
  row, so "haus" after "Haus" is neither a candidate nor counted in CSLS's r terms. `lowercase=False`
  (`--case-sensitive`) is a case-sensitive variant, not MUSE's: on cased vectors it scores other words,
  and fewer. Where neither vocabulary has an uppercase word both are the same; the result's settings
  say which was used ("lowercase").
CSLS's target terms r_src(y) and the inverted softmax normalisers are measured against the whole mapped
source vocabulary (as MUSE and VecMap do), or its `hub_vocab` most frequent words when set. For all
targets that term costs |target| x |source| dot products (about 24 TFLOP at 200k x 200k, minutes on two
cores), so exact CSLS measures it only for the targets that a bound leaves in reach of some test word's
top k (retrieval._csls_topk_pruned; the same scores and ranks as measuring it for all): one target a
test word for P@1 on benchmarks/bli.py's 200k synthetic vocabularies, ~16 for P@10. The inverted
softmax still measures its normaliser for every target; hub_vocab=20000 makes that a tenth.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xling.alignment.words.csls import DEFAULT_BETA, DEFAULT_CHUNK, METHODS, Matrix, translate, unit_rows
from xling.alignment.words.dictionary import first_spellings, read_dictionary
from xling.alignment.words.mapping import WordMapping
from xling.alignment.words.provenance import check_vectors, seed_overlap
from xling.config import check_int
from xling.errors import ConfigError, DataError
from xling.evaluation.result import Result

if TYPE_CHECKING:  # annotations only: importing xling.vectors also loads its file formats
    from xling.vectors.core import WordVectors

PRECISION_OVER = "distinct covered source words; correct at k if any gold translation is in the top k"
_LANGUAGE = r"[a-z]{2,3}(?:_[A-Za-z]+)?"
PAIR_IN_NAME = re.compile(rf"({_LANGUAGE})-({_LANGUAGE})\.(?:tsv|txt)$")
# MUSE's own dictionaries put the pair first and the frequency range after it: en-de.5000-6500.txt
PAIR_LEADING_NAME = re.compile(rf"^({_LANGUAGE})-({_LANGUAGE})\.")


@dataclass
class BLIConfig:
    """Settings of `xling eval bli`."""

    dictionary: str = ""
    """The test dictionary: source<TAB>target per line (required)."""
    retrieval: str = "csls"
    """How target words are ranked: nn, csls or isf (inverted softmax)."""
    k: int = 10
    """CSLS's neighbourhood size."""
    ks: tuple[int, ...] = (1, 5, 10)
    """The cut-offs precision is reported at."""
    chunk_size: int = DEFAULT_CHUNK
    """Query rows per similarity block (bounds memory)."""
    pair: str = ""
    """The language pair the row is named by ("": read from the file name, e.g. "en-de")."""
    lowercase: bool = True
    """Look words up lowercased, as MUSE's protocol does (the most frequent spelling of each lowercased word
    is its row; the other spellings are no candidates). False: the case-sensitive variant, words as written
    (the same where neither vocabulary has an uppercase word, as when trained by `xling vectors train`)."""
    hub_vocab: int | None = None
    """Source words that CSLS's and the inverted softmax's target terms are measured against (None: all)."""
    isf_beta: float = DEFAULT_BETA
    """The inverted softmax's inverse temperature (finite, > 0)."""
    max_vocab: int = 200000
    """Words of each vocabulary loaded from files, most frequent first (MUSE's 200000); 0 = all."""
    unicode_errors: str = "strict"
    """A word of a vectors file that is not UTF-8: strict (an error), skip (its row dropped) or replace
    (U+FFFD for each bad byte), as `xling.vectors.load_vectors` reads it."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if not self.dictionary:
            raise ConfigError("dictionary: BLI needs a test dictionary (a source<TAB>target file)")
        if self.retrieval not in METHODS:
            raise ConfigError(f"retrieval: {self.retrieval!r} must be one of {', '.join(METHODS)}")
        for name in ("k", "chunk_size"):
            check_int(name, getattr(self, name), 1)
        ks = list(self.ks) if isinstance(self.ks, list | tuple) else None
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise ConfigError(f"ks: must be a non-empty list of positive integers, got {self.ks!r}")
        if self.hub_vocab is not None and (not isinstance(self.hub_vocab, int) or self.hub_vocab < 1):
            raise ConfigError(f"hub_vocab: must be a positive integer or None, got {self.hub_vocab!r}")
        # inf passes `> 0` but turns every inverted-softmax score into NaN: every P@k would read 0.00
        if (
            isinstance(self.isf_beta, bool)
            or not isinstance(self.isf_beta, int | float)
            or not math.isfinite(self.isf_beta)
            or self.isf_beta <= 0
        ):
            raise ConfigError(f"isf_beta: must be a finite positive number, got {self.isf_beta!r}")
        if isinstance(self.max_vocab, bool) or not isinstance(self.max_vocab, int) or self.max_vocab < 0:
            raise ConfigError(f"max_vocab: must be a non-negative integer (0 = all), got {self.max_vocab!r}")
        from xling.vectors.formats import check_unicode_errors

        check_unicode_errors(self.unicode_errors)


def evaluate_bli_from_files(
    src: str | os.PathLike[str],
    tgt: str | os.PathLike[str],
    mapping: str | os.PathLike[str],
    config: BLIConfig,
) -> Result:
    """Return `evaluate_bli` for vectors files and a mapping folder (config.max_vocab words of each side)."""
    config.validate()
    cap, lowercase, errors = config.max_vocab or None, config.lowercase, config.unicode_errors
    return evaluate_bli(_vocabulary(src, cap, lowercase, errors), _vocabulary(tgt, cap, lowercase, errors),
                        WordMapping.load(mapping), config)  # fmt: skip


def _vocabulary(
    path: str | os.PathLike[str], cap: int | None, lowercase: bool, unicode_errors: str
) -> WordVectors:
    """Return the rows of a vectors file that hold its first `cap` words (None: all), counted lowercased
    when `lowercase`: MUSE's read_txt_embeddings stops at max_vocab distinct lowercased words, so a file
    with "Haus" and "haus" gives more rows than the cap (the later spellings are dropped afterwards)."""
    from xling.vectors import load_vectors

    if cap is None or not lowercase:
        return load_vectors(path, max_words=cap, unicode_errors=unicode_errors)
    rows = cap
    while True:
        vectors = load_vectors(path, max_words=rows, unicode_errors=unicode_errors)
        seen: set[str] = set()
        for row, word in enumerate(vectors.words):
            seen.add(word.lower())
            if len(seen) == cap:
                return vectors.most_frequent(row + 1)
        if len(vectors) < rows:  # the whole file holds fewer distinct words
            return vectors
        rows *= 2


def evaluate_bli(src: WordVectors, tgt: WordVectors, mapping: WordMapping, config: BLIConfig) -> Result:
    """Return the Result of `mapping` on the test dictionary: one row for the language pair.

    The row holds p@1, p@5, p@10 ... (percent over distinct covered source words, see the module
    docstring), n (source words scored) and coverage (the DictionaryCoverage counts and the covered
    fraction of pairs); the primary metric is p@1. `model` is the mapping's method.
    What the mapping records of its training (xling.alignment.words.provenance) is checked first: vectors
    that are its training vectors swapped, or a test dictionary that is its seed file, are errors; other
    vectors are warned about. The settings' `seed_overlap` is the share of the test dictionary's source
    words that its seed dictionary held (warned about above one half; None without a recorded seed file).
    """
    config.validate()
    started = time.perf_counter()
    path = Path(config.dictionary)
    check_vectors(mapping, src, tgt, stacklevel=2)
    overlap = seed_overlap(mapping, path, stacklevel=2)
    dictionary = read_dictionary(path, src.index, tgt.index, lowercase=config.lowercase)
    coverage = dictionary.coverage
    if len(dictionary.pairs) == 0:
        raise DataError(
            f"no dictionary pair has both words in the vocabularies ({src.source}, {tgt.source}); "
            f"{coverage.oov_src_pairs} of {coverage.lines} pairs miss the source word, "
            f"{coverage.oov_tgt_pairs} the target",
            path,
        )
    src_matrix, tgt_matrix, pairs = src.vectors, tgt.vectors, dictionary.pairs
    if dictionary.lowercased:  # MUSE's lowercased vocabularies: each word's most frequent spelling only
        src_rows, tgt_rows = first_spellings(src.words), first_spellings(tgt.words)
        src_matrix, tgt_matrix = src_matrix[src_rows], tgt_matrix[tgt_rows]
        pairs = np.stack([_renumber(src_rows, len(src))[pairs[:, 0]],
                          _renumber(tgt_rows, len(tgt))[pairs[:, 1]]], axis=1)  # fmt: skip
        assert (pairs >= 0).all()  # lowercase_index finds the first spelling, a row kept here
    scores = bli_from_matrices(
        mapping.map_source(src_matrix, origin=src.source), mapping.map_target(tgt_matrix, origin=tgt.source),
        pairs, config.ks, config.retrieval, k=config.k, chunk_size=config.chunk_size, beta=config.isf_beta,
        hub_vocab=config.hub_vocab,
    )  # fmt: skip
    row: dict[str, Any] = {name: round(value, 2) for name, value in scores.items() if name.startswith("p@")}
    row.update(n=scores["n"], coverage=coverage.to_dict())
    pair = config.pair or _pair_from_name(path) or path.stem
    primary = "p@1" if "p@1" in row else f"p@{config.ks[0]}"
    return Result(
        task="bli",
        model=mapping.method,
        data=str(path),
        scores={pair: row},
        average=row[primary],
        primary=primary,
        settings={
            "retrieval": config.retrieval,
            "k": config.k,
            "hub_vocab": config.hub_vocab,
            "lowercase": dictionary.lowercased,
            **({"isf_beta": config.isf_beta} if config.retrieval == "isf" else {}),
            "target_words": len(tgt_matrix),
            "seed_overlap": overlap,
            "precision_over": PRECISION_OVER,
        },
        seconds=round(time.perf_counter() - started, 2),
    )


def _renumber(kept: np.ndarray, rows: int) -> np.ndarray:
    """Return old row -> new row for the rows `kept` (ascending) of `rows`; -1 for a row dropped."""
    new = np.full(rows, -1, dtype=np.int64)
    new[kept] = np.arange(len(kept))
    return new


def _pair_from_name(path: Path) -> str:
    """Return "xx-yy" from a dictionary file name such as yacle.test.freq.2k.en-de.tsv or MUSE's
    en-de.5000-6500.txt, else ""."""
    name = path.name.removesuffix(".gz")  # a gzipped dictionary reads as the plain one
    match = PAIR_IN_NAME.search(name) or PAIR_LEADING_NAME.match(name)
    return f"{match.group(1)}-{match.group(2)}" if match else ""


def bli_from_matrices(
    src_mapped: Matrix,
    tgt: Matrix,
    pairs: np.ndarray,
    ks: Sequence[int] = (1, 5, 10),
    method: str = "csls",
    *,
    k: int = 10,
    chunk_size: int = DEFAULT_CHUNK,
    beta: float = DEFAULT_BETA,
    hub_vocab: int | None = None,
    pruned: bool | None = None,
) -> dict[str, Any]:
    """Return {"p@k": percent for each k in ks, "n": source words scored} for gold (source, target) row pairs.

    Rows are compared by cosine in the shared space (both sides are length-normalised here); a source row
    is correct at k when any of its gold target rows is among its k best by `method` (nn, csls with
    neighbourhood `k`, isf with inverse temperature `beta`) over all rows of `tgt`. `pruned` is
    csls_scores_topk's: exact CSLS measures r_src only for the targets that can reach a query's top k
    (None: when the queries are few next to the targets), with the same result as measuring it for all.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    if len(pairs) == 0:
        raise ValueError("no gold pairs to score")
    x, z = unit_rows(src_mapped), unit_rows(tgt)
    queries, query_of_pair = np.unique(pairs[:, 0], return_inverse=True)
    depth = min(max(ks), len(z))
    _, found = translate(
        x, z, queries, method=method, k=k, top=depth, beta=beta, chunk_size=chunk_size, hub_vocab=hub_vocab,
        pruned=pruned,
    )  # fmt: skip
    # (query, target) pairs as single integers, so membership in the gold set is one vectorised isin.
    gold = query_of_pair.reshape(-1).astype(np.int64) * len(z) + pairs[:, 1]
    candidates = np.arange(len(queries), dtype=np.int64)[:, None] * len(z) + found
    hit_by = np.logical_or.accumulate(np.isin(candidates, gold), axis=1)
    scores: dict[str, Any] = {f"p@{k_}": 100.0 * float(hit_by[:, min(k_, depth) - 1].mean()) for k_ in ks}
    return {**scores, "n": len(queries)}
