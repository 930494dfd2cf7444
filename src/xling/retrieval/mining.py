"""Margin-based bitext mining (Artetxe & Schwenk 2019, as in LASER's `mine_bitexts.py`).

Every source sentence is compared with its k nearest target sentences and vice versa. A candidate pair
(x, y) is scored by how much its cosine stands out from the two neighbourhoods:

    ratio:    cos(x, y) / ((avg_x + avg_y) / 2)
    distance: cos(x, y) - (avg_x + avg_y) / 2
    absolute: cos(x, y)

where avg_x is the mean cosine of x with its k nearest neighbours on the other side (and avg_y alike).
Pairs are then selected by `mode`: the best candidate of each source sentence (forward), of each target
sentence (backward), pairs that are best in both directions (intersect), or the union of both directions
taken greedily by score with every sentence used at most once (max, LASER's default).

Neighbours come from FAISS inner-product search over unit vectors, queried in chunks so that memory stays
O((n + m) * k) and an n x m similarity matrix is never built.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xling.atomic import atomic_write, writable_file
from xling.data.readers import decoded_lines, is_blank, line_text, require_file
from xling.embeddings.protocol import TextEncoder
from xling.errors import ConfigError, DataError, XlingError
from xling.retrieval.knn import (  # HNSW_*, IVF_NPROBE, ivf_list_count: re-exported for older imports
    HNSW_EF_SEARCH,
    HNSW_M,
    INDEX_KINDS,
    IVF_NPROBE,
    MARGINS,
    IndexKind,
    Margin,
    as_unit_rows,
    faiss_threads,
    ivf_list_count,
    knn,
    margin_nearest,
    margin_scores,
)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "HNSW_EF_SEARCH",
    "HNSW_M",
    "INDEX_KINDS",
    "IVF_NPROBE",
    "MineConfig",
    "MineReport",
    "MinedPair",
    "parse_threshold",
    "encode_texts",
    "ivf_list_count",
    "knn",
    "margin_scores",
    "mine_embeddings",
    "mine_files",
    "read_sentences",
]

Mode = Literal["intersect", "forward", "backward", "max"]
MODES: tuple[str, ...] = ("intersect", "forward", "backward", "max")

# What threshold="auto" means per margin (a pair is kept when its score is above it, as LASER's
# source/mine_bitexts.py keeps `scores[i] > args.threshold`). 1.06 on the ratio margin is the cut CCMatrix
# used with LASER embeddings; "distance" > 0 is the same "stands out from its neighbourhood" test as ratio > 1
# (a pair whose cosine only equals its neighbourhoods' mean, as every pair at k = 1, is not kept); absolute
# cosines have no model-independent cut, so "auto" keeps every selected pair there.
DEFAULT_THRESHOLDS: dict[str, float | None] = {"ratio": 1.06, "distance": 0.0, "absolute": None}


@dataclass
class MineConfig:
    """Options of one mining run; every default lives here."""

    k: int = 4
    """Nearest neighbours on the other side that make each sentence's neighbourhood (LASER: 4)."""
    margin: Margin = "ratio"
    """How a candidate's cosine is set against its neighbourhoods: ratio, distance or absolute."""
    mode: Mode = "intersect"
    """Which candidates become pairs: intersect (best both ways), forward, backward or max (greedy union)."""
    threshold: float | str | None = "auto"
    """Keep pairs scoring above this (LASER's test): a number, "auto" (the margin's DEFAULT_THRESHOLDS entry,
    1.06 for ratio as CCMatrix used) or None / "none" (keep every selected pair). Number strings such as "1.05" are read
    as numbers, so a CLI option can pass its text as it is."""
    index: IndexKind = "flat"
    """FAISS index for the neighbour search: flat (exact), ivf or hnsw (approximate)."""
    query_chunk: int = 8192
    """Query rows per FAISS search call: bounds the memory of one search."""
    batch_size: int = 64
    """Sentences per encoder batch."""
    threads: int | None = None
    """FAISS's OpenMP threads for the run (None: FAISS's default, all cores)."""
    unify: bool = True
    """`mine_files`: mine each side's distinct lines (LASER's `--unify`): a line given twice would be two
    sentences, each pair with it written twice, and a copy among a sentence's k neighbours lowers its margins."""

    def __post_init__(self) -> None:
        self.threshold = parse_threshold(self.threshold)
        self.validate()

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        for name in ("k", "query_chunk", "batch_size"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ConfigError(f"mine config: {name} must be a positive integer, got {value!r}")
        _check_choice("margin", self.margin, MARGINS)
        _check_choice("mode", self.mode, MODES)
        _check_choice("index", self.index, INDEX_KINDS)
        threshold = parse_threshold(self.threshold)
        if not (threshold is None or threshold == "auto" or _is_number(threshold)):
            raise ConfigError(f"mine config: threshold must be a number, 'auto' or 'none', got {threshold!r}")
        if not isinstance(self.unify, bool):
            raise ConfigError(f"mine config: unify must be true or false, got {self.unify!r}")
        if self.threads is not None and (not _is_int(self.threads) or self.threads < 1):
            raise ConfigError(
                f"mine config: threads must be a positive integer or None, got {self.threads!r}"
            )

    def effective_threshold(self) -> float | None:
        """Return the threshold in force: the number given, None (keep all) or the margin's default."""
        threshold = parse_threshold(self.threshold)
        if threshold == "auto":
            return DEFAULT_THRESHOLDS[self.margin]
        return None if threshold is None else float(threshold)


def parse_threshold(value: Any) -> float | str | None:
    """Return a mining threshold as MineConfig keeps it: a float, "auto" or None.

    Accepts a number, None, "auto", "none" (any case) or a number written as text; anything else is a
    ConfigError that says what is accepted.
    """
    if not isinstance(value, str):
        return value  # numbers and None; validate() rejects the rest
    text = value.strip().lower()
    if text in ("auto", "none"):
        return None if text == "none" else "auto"
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number):
        raise ConfigError(f"mine config: threshold must be a number, 'auto' or 'none', got {value!r}")
    return number


def _is_int(value: Any) -> bool:
    """Return True for an int that is not a bool."""
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """Return True for a finite real number that is not a bool."""
    return isinstance(value, int | float | np.number) and not isinstance(value, bool) and np.isfinite(value)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Return nothing; raise ConfigError if `value` is not one of `choices`."""
    if value not in choices:
        raise ConfigError(f"mine config: {name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True, slots=True)
class MinedPair:
    """One mined sentence pair: row indexes into the source and target inputs and its margin score."""

    src_index: int
    tgt_index: int
    score: float


# --- selection ----------------------------------------------------------------------------------------


def _greedy_union(
    src_idx: np.ndarray, tgt_idx: np.ndarray, scores: np.ndarray, n_src: int, n_tgt: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the candidates kept by taking them by descending score, each sentence used at most once."""
    order = np.lexsort((tgt_idx, src_idx, -scores))  # ties: lowest source, then target index first
    used_src = np.zeros(n_src, dtype=bool)
    used_tgt = np.zeros(n_tgt, dtype=bool)
    keep: list[int] = []
    for position, i, j in zip(order.tolist(), src_idx[order].tolist(), tgt_idx[order].tolist(), strict=True):
        if not used_src[i] and not used_tgt[j]:
            used_src[i] = used_tgt[j] = True
            keep.append(position)
    kept = np.asarray(keep, dtype=np.int64)
    return src_idx[kept], tgt_idx[kept], scores[kept]


def _select(
    fwd: tuple[np.ndarray, np.ndarray], bwd: tuple[np.ndarray, np.ndarray], mode: str, n_src: int, n_tgt: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (src indexes, tgt indexes, scores) of the pairs `mode` selects from the best candidates."""
    fwd_best, fwd_score = fwd
    bwd_best, bwd_score = bwd
    src_rows = np.flatnonzero(fwd_best >= 0)
    tgt_rows = np.flatnonzero(bwd_best >= 0)
    if mode == "forward":
        return src_rows, fwd_best[src_rows], fwd_score[src_rows]
    if mode == "backward":
        return bwd_best[tgt_rows], tgt_rows, bwd_score[tgt_rows]
    if mode == "intersect":
        mutual = src_rows[bwd_best[fwd_best[src_rows]] == src_rows]
        return mutual, fwd_best[mutual], fwd_score[mutual]
    if mode == "max":
        return _greedy_union(
            np.concatenate([src_rows, bwd_best[tgt_rows]]),
            np.concatenate([fwd_best[src_rows], tgt_rows]),
            np.concatenate([fwd_score[src_rows], bwd_score[tgt_rows]]),
            n_src,
            n_tgt,
        )
    raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


def _unit_rows(vectors: np.ndarray, side: str) -> np.ndarray:
    """Return `vectors` as C-contiguous float32 with unit rows; raise XlingError if not a finite 2-D array."""
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise XlingError(
            f"{side} embeddings must be a 2-D array [sentences, dimension], got shape {array.shape}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    # a NaN or inf anywhere in a row shows in its squared norm (einsum: no temporary as large as the input)
    if not np.isfinite(np.einsum("ij,ij->i", array, array)).all():
        raise XlingError(f"{side} embeddings contain NaN, infinite or overflowing values")
    # margins are defined on cosines: normalise a copy rather than trust the caller
    return as_unit_rows(array)


def mine_embeddings(src: np.ndarray, tgt: np.ndarray, config: MineConfig | None = None) -> list[MinedPair]:
    """Return the pairs mined between the rows of `src` and `tgt`, by descending score (see module doc).

    Rows need not be unit length (they are normalised); both sides must have the same width.
    """
    config = config or MineConfig()
    config.validate()
    x = _unit_rows(src, "source")
    y = _unit_rows(tgt, "target")
    if x.shape[1] != y.shape[1]:
        raise XlingError(
            f"source and target embeddings differ in dimension: {x.shape[1]} and {y.shape[1]}; "
            "were they made by the same model?"
        )
    if len(x) == 0 or len(y) == 0:
        return []
    with faiss_threads(config.threads):
        fwd, bwd = margin_nearest(x, y, config.k, config.margin, index_kind=config.index,
                                  chunk=config.query_chunk)  # fmt: skip
    src_idx, tgt_idx, scores = _select(fwd, bwd, config.mode, len(x), len(y))
    threshold = config.effective_threshold()
    if threshold is not None:
        keep = scores > threshold
        src_idx, tgt_idx, scores = src_idx[keep], tgt_idx[keep], scores[keep]
    order = np.lexsort((tgt_idx, src_idx, -scores))
    return [
        MinedPair(int(i), int(j), float(s))
        for i, j, s in zip(src_idx[order], tgt_idx[order], scores[order], strict=True)
    ]


# --- files -------------------------------------------------------------------------------------------


@dataclass
class MineReport:
    """What mine_files did: sentences read per side, pairs written, where, and the time it took."""

    src_sentences: int
    tgt_sentences: int
    pairs: int
    src_distinct: int
    """Distinct source lines mined (all of them without `unify`)."""
    tgt_distinct: int
    output: str
    threshold: float | None
    encode_seconds: float
    mine_seconds: float
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """Return the report as a JSON-ready dict."""
        return asdict(self)


def read_sentences(path: str | os.PathLike[str]) -> list[str]:
    """Return the stripped lines of a one-sentence-per-line file (plain or .gz), read as every xling command
    reads text files (xling.data.readers: CR-only line ends, a BOM, gzip by its name in any case).

    An empty line, invalid UTF-8, a tab (which the TSV output could not hold) or a line break inside a line
    is a DataError naming `path:line`; a file without a line a DataError naming it.
    """
    p = require_file(path)
    # decoded_lines rather than read_lines: mine's own checks below name the line, which read_lines drops
    return [_sentence(line_text(line, p), p, line.number) for line in decoded_lines(p, None)]


def _sentence(text: str, path: Path, number: int) -> str:
    """Return one stripped line; raise DataError naming path:number if it cannot be mined."""
    text = text.strip()
    if is_blank(text):  # U+200B alone too: `strip` keeps it, and its vector is zero
        raise DataError("empty line (expected one sentence per line)", path, number)
    if "\t" in text:
        raise DataError("tab inside a sentence (the output is tab-separated)", path, number)
    if len(text.splitlines()) > 1:  # \r, \v, \f, U+0085, U+2028...: a reader of the pairs would split the row
        raise DataError("a line break inside the line (\\r, U+2028 or the like): one sentence per line, "
                        "since the output has one pair per row", path, number)  # fmt: skip
    return text


def encode_texts(
    encoder: TextEncoder, texts: list[str], batch_size: int, show_progress: bool = False
) -> np.ndarray:
    """Return the unit float32 embeddings of `texts`; raise XlingError if the encoder's output is bad."""
    vectors = encoder.encode(texts, batch_size=batch_size, normalize=True, show_progress=show_progress)
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts):
        raise XlingError(
            f"encoder {getattr(encoder, 'name', '?')!r} returned shape {vectors.shape} for {len(texts)} texts"
        )
    return vectors


def _write_atomically(path: Path, lines: Iterator[str]) -> None:
    """Return nothing; write `lines` to `path` atomically (see xling.atomic), or raise a DataError naming it
    (a full disk, a folder that cannot be written after all: writable_file checks only what it can)."""
    try:
        with atomic_write(path) as handle:
            handle.writelines(lines)
    except OSError as error:
        raise DataError(f"cannot write the mined pairs: {error.strerror or error}", path) from error


def mine_files(
    encoder: TextEncoder,
    src_path: str | os.PathLike[str],
    tgt_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    config: MineConfig | None = None,
    show_progress: bool = False,
) -> MineReport:
    """Return a report after mining two one-sentence-per-line files into a `score<TAB>src<TAB>tgt` TSV.

    Rows are sorted by descending score; `show_progress` draws a bar while each side is encoded. The output appears only once complete (temp file + rename), so
    a crash never leaves a truncated file and never destroys an earlier output.
    """
    config = config or MineConfig()
    config.validate()
    output = writable_file(
        output_path, [src_path, tgt_path]
    )  # before the encoding, which a bad path would waste
    start = time.perf_counter()
    src_lines, tgt_lines = read_sentences(src_path), read_sentences(tgt_path)
    src_texts, tgt_texts = (list(dict.fromkeys(src_lines)), list(dict.fromkeys(tgt_lines))) if config.unify else (
        src_lines, tgt_lines)  # fmt: skip
    src_vectors = encode_texts(encoder, src_texts, config.batch_size, show_progress)
    tgt_vectors = encode_texts(encoder, tgt_texts, config.batch_size, show_progress)
    encoded = time.perf_counter()
    pairs = mine_embeddings(src_vectors, tgt_vectors, config)
    mined = time.perf_counter()
    _write_atomically(
        output, (f"{p.score:.6f}\t{src_texts[p.src_index]}\t{tgt_texts[p.tgt_index]}\n" for p in pairs)
    )
    return MineReport(
        src_sentences=len(src_lines),
        tgt_sentences=len(tgt_lines),
        pairs=len(pairs),
        src_distinct=len(src_texts),
        tgt_distinct=len(tgt_texts),
        output=str(output),
        threshold=config.effective_threshold(),
        encode_seconds=round(encoded - start, 3),
        mine_seconds=round(mined - encoded, 3),
        seconds=round(time.perf_counter() - start, 3),
    )
