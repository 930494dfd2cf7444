"""Bilingual dictionaries: reading `src<TAB>tgt` files against vocabularies, seed pairs, and induction.

A dictionary is a set of (source row, target row) pairs; a word may have several translations. Pairs
whose words are not in the vocabularies are counted (`DictionaryCoverage`), never silently dropped.
Seeds for semi-supervised mapping come from a file, from identical strings (Smith et al. 2017), or from
identical numerals (Artetxe et al. 2017). `induce_dictionary` builds a dictionary from a mapping's
nearest neighbours, as MUSE's refinement and VecMap's self-learning do.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xling.alignment.words.csls import (
    DEFAULT_CHUNK,
    INDUCTION_METHODS,
    Matrix,
    best_matches,
    ranked_best_matches,
    unit_rows,
)
from xling.errors import ConfigError, DataError

INDUCTION_MODES: tuple[str, ...] = ("mutual", "s2t", "t2s", "union")
# How `max_rank` bounds induction: "cutoff" cuts both sides to their first max_rank rows (VecMap's
# vocabulary cutoff; cheap), "muse" is MUSE's dico_max_rank (the first max_rank rows of each side search the
# whole other side, CSLS's r terms over the whole vocabularies, pairs reaching beyond max_rank dropped).
RANK_MODES: tuple[str, ...] = ("cutoff", "muse")
NUMERAL = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class DictionaryCoverage:
    """How many dictionary pairs have both words in the vocabularies, and why the others do not.

    Counts are over distinct pairs (`lines`; a repeated line counts once, see `duplicate_lines`).
    `oov_src_pairs` / `oov_tgt_pairs` count pairs whose source / target word is out of vocabulary; a pair
    missing both counts in both and in `oov_both_pairs`. `src_words` are the distinct source words,
    `src_words_covered` those with at least one covered pair (BLI scores exactly these).
    """

    lines: int
    pairs_covered: int
    src_words: int
    src_words_covered: int
    oov_src_pairs: int
    oov_tgt_pairs: int
    oov_both_pairs: int = 0
    duplicate_lines: int = 0

    @property
    def fraction(self) -> float:
        """Return the share of pairs with both words in the vocabularies."""
        return self.pairs_covered / self.lines if self.lines else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fraction": round(self.fraction, 4)}


@dataclass
class Dictionary:
    """The covered pairs of a dictionary as rows, and its coverage."""

    pairs: np.ndarray  # int64 [m, 2]: (source row, target row), in file order
    coverage: DictionaryCoverage
    lowercased: bool = False  # words were looked up lowercased (asked for, or both vocabularies are)


def read_dictionary(
    path: str | Path, src_words: Mapping[str, int], tgt_words: Mapping[str, int], *, lowercase: bool = False
) -> Dictionary:
    """Return the pairs of a dictionary file whose words are in both vocabularies (word -> row), and coverage.

    One pair per line: `source<TAB>target`, or two whitespace-separated words when the line has no tab
    (MUSE's files). Blank lines are skipped; any other line is a DataError naming its path and line.
    With `lowercase`, dictionary words are lowercased and looked up among the lowercased vocabulary,
    where the smallest row (the most frequent spelling) wins; `first_spellings` gives the rows of that
    lowercased vocabulary (MUSE's), among which BLI then retrieves. Two vocabularies without an uppercase word
    (as `xling vectors train` writes by default) are read so too: there a capitalised word ("Haus") could
    never be found.
    """
    lowercase = lowercase or (all_lowercase(src_words) and all_lowercase(tgt_words))
    words = read_word_pairs(path, lowercase=lowercase)
    if lowercase:
        src_words, tgt_words = lowercase_index(src_words), lowercase_index(tgt_words)
    dictionary = pairs_to_rows(words.pairs, src_words, tgt_words, duplicates=words.duplicates)
    dictionary.lowercased = lowercase
    return dictionary


def all_lowercase(words: Iterable[str]) -> bool:
    """Return whether no word of a vocabulary has an uppercase letter."""
    return all(word == word.lower() for word in words)


@dataclass
class WordPairs:
    """The distinct (source word, target word) pairs of a file in order, and how many lines repeated one."""

    pairs: list[tuple[str, str]]
    duplicates: int = 0


def read_word_pairs(path: str | Path, *, lowercase: bool = False) -> WordPairs:
    """Return the distinct word pairs of a dictionary file (see read_dictionary for the format)."""
    path = Path(path)
    pairs: dict[tuple[str, str], None] = {}
    lines = 0
    for pair in _pairs_in(_read_bytes(path), path):
        lines += 1
        pairs.setdefault((pair[0].lower(), pair[1].lower()) if lowercase else pair, None)
    return WordPairs(list(pairs), lines - len(pairs))


@dataclass(frozen=True)
class DictionaryFile:
    """What a dictionary file holds, to tell a BLI test dictionary from the seed a mapping was trained on."""

    sha256: str  # of its text (decompressed when .gz, so a compressed copy is the same file)
    src_words: frozenset[str]  # its distinct source words, lowercased (BLI's default lookup)


def dictionary_file(path: str | Path) -> DictionaryFile:
    """Return the content hash and the lowercased source words of a dictionary file."""
    path = Path(path)
    raw = _read_bytes(path)
    words = frozenset(pair[0].lower() for pair in _pairs_in(raw, path))
    return DictionaryFile(hashlib.sha256(raw).hexdigest(), words)


def _pairs_in(raw: bytes, path: Path) -> list[tuple[str, str]]:
    """Return the (source, target) pair of each non-blank line of a dictionary file's bytes, in order."""
    pairs = [pair for number, line in enumerate(raw.split(b"\n"), start=1)
             if (pair := _parse_line(line, path, number)) is not None]  # fmt: skip
    if not pairs:
        raise DataError("the dictionary has no word pairs (expected lines 'source<TAB>target')", path)
    return pairs


def _read_bytes(path: Path) -> bytes:
    """Return a dictionary file's bytes, decompressed when its name ends in `.gz` (as vectors files are).

    The whole file is decompressed before it is split, so errors keep the line numbers of the text.
    """
    try:
        if not path.name.lower().endswith(".gz"):
            return path.read_bytes()
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError("no such dictionary file", path) from None
    except gzip.BadGzipFile:  # before OSError, its base class: the name promises gzip, the bytes are not
        raise DataError(
            "the name ends in .gz but the file is not gzip-compressed; rename or compress it", path
        ) from None
    except (EOFError, zlib.error) as error:
        raise DataError(f"not a readable gzip file (truncated or corrupt): {error}", path) from None
    except OSError as error:
        raise DataError(f"cannot read the dictionary: {error.strerror or error}", path) from None


def _parse_line(line: bytes, path: Path, number: int) -> tuple[str, str] | None:
    """Return the pair on one line, None for a blank line; raise DataError for anything else."""
    try:
        text = line.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        raise DataError("not valid UTF-8", path, number) from None
    if number == 1:
        text = text.removeprefix("\ufeff")
    if not text.strip():
        return None
    fields = [f.strip() for f in text.split("\t")] if "\t" in text else text.split()
    if len(fields) != 2 or not all(fields):
        raise DataError(
            f"expected 'source<TAB>target' (two words), got {len(fields)} field(s): {text[:80]!r}",
            path,
            number,
        )
    return fields[0], fields[1]


def lowercase_index(words: Mapping[str, int]) -> dict[str, int]:
    """Return lowercased word -> row, keeping the smallest row (most frequent spelling) of each."""
    index: dict[str, int] = {}
    for word, row in words.items():
        key = word.lower()
        if key not in index or row < index[key]:
            index[key] = row
    return index


def first_spellings(words: Sequence[str]) -> np.ndarray:
    """Return, in order, the row of each lowercased word's first (most frequent) spelling.

    MUSE's lowercased vocabulary (read_txt_embeddings, select_subset): "haus" after "Haus" is dropped, as
    is a repeated word; these are the rows that `lowercase_index` finds.
    """
    seen: set[str] = set()
    rows = []
    for row, word in enumerate(words):
        key = word.lower()
        if key not in seen:
            seen.add(key)
            rows.append(row)
    return np.array(rows, dtype=np.int64)


def pairs_to_rows(
    pairs: Sequence[tuple[str, str]],
    src_words: Mapping[str, int],
    tgt_words: Mapping[str, int],
    *,
    duplicates: int = 0,
) -> Dictionary:
    """Return the covered word pairs as rows (distinct, in order) and the coverage of all of them."""
    rows: list[tuple[int, int]] = []
    total = oov_src = oov_tgt = oov_both = 0
    all_words: set[str] = set()
    covered_words: set[str] = set()
    for src_word, tgt_word in dict.fromkeys(pairs):
        total += 1
        all_words.add(src_word)
        i, j = src_words.get(src_word), tgt_words.get(tgt_word)
        oov_src += i is None
        oov_tgt += j is None
        oov_both += i is None and j is None
        if i is not None and j is not None:
            rows.append((i, j))
            covered_words.add(src_word)
    coverage = DictionaryCoverage(
        total, len(rows), len(all_words), len(covered_words), oov_src, oov_tgt, oov_both, duplicates
    )
    return Dictionary(np.array(rows, dtype=np.int64).reshape(-1, 2), coverage)


def _shared_rows(src_words: Sequence[str], tgt_words: Sequence[str], keep) -> np.ndarray:
    """Return (source row, target row) for the strings on both sides that `keep` accepts (first rows)."""
    tgt_rows: dict[str, int] = {}
    for row, word in enumerate(tgt_words):
        if keep(word):
            tgt_rows.setdefault(word, row)
    rows, seen = [], set()
    for row, word in enumerate(src_words):
        if word in tgt_rows and word not in seen:
            seen.add(word)
            rows.append((row, tgt_rows[word]))
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def identical_strings(
    src_words: Sequence[str], tgt_words: Sequence[str], max_rank: int | None = None
) -> np.ndarray:
    """Return [m, 2] row pairs of the strings both vocabularies share (among the first `max_rank` of each)."""
    if max_rank:
        src_words, tgt_words = src_words[:max_rank], tgt_words[:max_rank]
    return _shared_rows(src_words, tgt_words, lambda word: True)


def numeral_pairs(src_words: Sequence[str], tgt_words: Sequence[str]) -> np.ndarray:
    """Return [m, 2] row pairs of the all-digit strings (e.g. "1984") both vocabularies share."""
    return _shared_rows(src_words, tgt_words, lambda word: NUMERAL.match(word) is not None)


def induce_dictionary(
    src: Matrix,
    tgt: Matrix,
    *,
    method: str = "csls",
    k: int = 10,
    max_rank: int = 15000,
    mode: str = "mutual",
    chunk_size: int = DEFAULT_CHUNK,
    rank_mode: str = "cutoff",
) -> np.ndarray:
    """Return [m, 2] int64 (source row, target row) translations among the `max_rank` first rows of each side.

    `src` is the mapped source; both sides are length-normalised here. `method` "nn" or "csls" (its r
    terms measured among those rows, neighbourhood `k`). `mode` keeps each source word's best target
    ("s2t"), each target word's best source ("t2s"), the pairs that are both ("mutual", MUSE's
    S2T&T2S) or either ("union", S2T|T2S). `max_rank` 0 uses every row. Sorted by source row.
    `rank_mode` "cutoff" measures everything among those rows only; "muse" is MUSE's dico_max_rank: those
    rows are translated over all rows of the other side (r terms over all rows too) and a pair is kept when
    its other word's row is at most `max_rank`, as MUSE keeps it (a full |src| x |tgt| pass).
    """
    if mode not in INDUCTION_MODES:
        raise ConfigError(f"mode: {mode!r} must be one of {', '.join(INDUCTION_MODES)}")
    if method not in INDUCTION_METHODS:
        raise ConfigError(f"method: {method!r} must be one of {', '.join(INDUCTION_METHODS)}")
    if rank_mode not in RANK_MODES:
        raise ConfigError(f"rank_mode: {rank_mode!r} must be one of {', '.join(RANK_MODES)}")
    if rank_mode == "muse":
        forward, backward = ranked_best_matches(
            unit_rows(src), unit_rows(tgt), max_rank, method, k=k, chunk_size=chunk_size
        )
    else:
        a, b = (src[:max_rank], tgt[:max_rank]) if max_rank else (src, tgt)
        forward, backward = best_matches(unit_rows(a), unit_rows(b), method, k=k, chunk_size=chunk_size)
    s2t = np.stack([np.arange(len(forward)), forward], axis=1)
    t2s = np.stack([backward, np.arange(len(backward))], axis=1)
    if rank_mode == "muse" and max_rank:  # MUSE keeps rows 0..max_rank inclusive (`<= dico_max_rank`)
        s2t, t2s = s2t[s2t[:, 1] <= max_rank], t2s[t2s[:, 0] <= max_rank]
    if mode == "s2t":
        pairs = s2t
    elif mode == "t2s":
        pairs = t2s
    elif mode == "mutual":
        width = int(max(s2t[:, 1].max(initial=0), t2s[:, 1].max(initial=0))) + 1  # pairs as single integers
        pairs = s2t[np.isin(s2t[:, 0] * width + s2t[:, 1], t2s[:, 0] * width + t2s[:, 1])]
    else:
        pairs = np.concatenate([s2t, t2s])
    # unique sorts by (source, target) and merges a union's duplicates.
    return np.unique(pairs, axis=0).astype(np.int64).reshape(-1, 2)
