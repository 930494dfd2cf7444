"""Word-vector files as MUSE, VecMap and fastText users have them: text `.vec`, binary `.bin`, and `.npy`.

Formats, chosen by the file name:

- `.vec`, `.txt` (optionally `.gz`): the word2vec/fastText text format, a header line `N dim` then one row
  `word v1 ... vdim` per word, most frequent first. Header-less (GloVe-style) files whose first line is
  already a row are detected and read too.
- `.bin` (optionally `.bin.gz`): a fastText binary model (only its in-vocabulary word vectors are kept) or a
  word2vec binary file (fastText's with gensim, word2vec's here: gensim's reader ignores rows beyond the
  header's count). Loading only.
- `.npy`: the fast form, `NAME.npy` (a float32 matrix, memory-mapped when loaded) plus `NAME.vocab.txt`
  (UTF-8, one word per line, row order).

Words must be UTF-8. A word that is not (official fastText files have some: cc.ko.300, wiki-news-300d-1M-
subword) is an error unless `unicode_errors` says otherwise: "skip" drops its row, "replace" keeps it with
U+FFFD for each bad byte (fastText `.bin` words are decoded by gensim, which writes bad bytes as `\\xNN`).

Every file is written atomically, so a failed save never destroys an earlier good file.
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from collections.abc import Iterable, Iterator
from contextlib import suppress
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

import numpy as np

from xling.atomic import OVERWRITE_HINT, atomic_write, atomic_writes, same_path, writable_file
from xling.data.readers import first_unencodable, numbered_lines, open_binary
from xling.errors import ConfigError, DataError
from xling.vectors.core import WordVectors

__all__ = [
    "UNICODE_ERRORS",
    "check_output",
    "check_savable",
    "convert_vectors",
    "load_vectors",
    "save_vectors",
    "vectors_format",
    "vocab_path",
]

PathLike = str | os.PathLike[str]

_TEXT_SUFFIXES = (".vec", ".txt", ".vec.gz", ".txt.gz")
_BIN_SUFFIXES = (".bin", ".bin.gz")
_NPY_SUFFIXES = (".npy",)
_CHUNK_ROWS = 10_000
# Characters that would split a word in the text format (rows are split on spaces, lines on \n).
_TEXT_BREAKERS = frozenset(" \t\n\r\v\f")
_VOCAB_BREAKERS = frozenset("\n\r")
_TEXT_BREAKS = "whitespace, which would break the .vec format"
_VOCAB_BREAKS = "a line break, which would break the vocabulary file"
_FASTTEXT_MAGIC = 793712314  # first int32 of every fastText .bin file
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"
# Above this many floats, do not preallocate from a header's promise (a bogus header could ask for terabytes).
_MAX_PREALLOCATED = 2**31

UNICODE_ERRORS = ("strict", "skip", "replace")
"""How a word that is not UTF-8 is read: strict (a DataError naming it), skip (its row is dropped, with one
warning for the file), replace (each bad byte becomes U+FFFD; the row is kept, a repeat dropped as any)."""
# Said by a strict error, with the option as the command line spells it: the way through it.
_UNICODE_HINT = ("; to read the file anyway, drop such words with --unicode-errors skip, or keep them with "
                 "U+FFFD for the bad bytes with --unicode-errors replace (unicode_errors= in Python)")  # fmt: skip


# --- dispatch ----------------------------------------------------------------------------------------


def vectors_format(path: PathLike) -> str:
    """Return "text", "bin" or "npy" for a vectors path by its suffix; raise ConfigError for any other name."""
    name = Path(path).name.lower()
    for kind, suffixes in (("text", _TEXT_SUFFIXES), ("bin", _BIN_SUFFIXES), ("npy", _NPY_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    raise ConfigError(
        f"{path}: unknown word-vector format; expected a name ending in "
        ".vec, .txt, .vec.gz, .txt.gz, .bin or .npy"
    )


def vocab_path(npy_path: PathLike) -> Path:
    """Return the vocabulary file that goes with a `.npy` matrix: `NAME.npy` -> `NAME.vocab.txt`."""
    path = Path(npy_path)
    return path.with_name(path.name[: -len(".npy")] + ".vocab.txt")


def load_vectors(
    path: PathLike, max_words: int | None = None, *, unicode_errors: str = "strict"
) -> WordVectors:
    """Return the word vectors in `path` (format chosen by suffix), keeping the first `max_words` words.

    Suffixes: `.vec`/`.txt` (optionally `.gz`), `.bin` (fastText or word2vec binary), `.npy` (+ `.vocab.txt`).
    A text file without the `N dim` header (GloVe style) is detected by its first line holding a word and
    two or more values, and read the same way; its width is taken from that first row.
    Files list the most frequent words first, so `max_words` keeps the most frequent ones. A word listed
    again later in a file is dropped (its first, most frequent row is kept) with a warning naming the file.
    A word whose bytes are not UTF-8 is read as `unicode_errors` says (UNICODE_ERRORS); rows dropped by
    "skip" do not count in `max_words`.
    Bad content is a DataError naming the file and, for text, the line.
    """
    _check_max_words(max_words)
    policy = check_unicode_errors(unicode_errors)
    kind = vectors_format(path)
    file = Path(path)
    if not file.exists():
        raise DataError("file not found", file)
    if not file.is_file():
        raise DataError("not a regular file", file)
    if kind == "npy":
        return _load_npy(file, max_words, policy)
    if file.stat().st_size == 0:
        raise DataError("file is empty", file)
    _check_gzip(file)
    if kind == "bin":
        return _load_bin(file, max_words, policy)
    return _load_text(file, max_words, policy)


def check_unicode_errors(unicode_errors: str) -> str:
    """Return `unicode_errors` if it is one of UNICODE_ERRORS; raise ConfigError naming it otherwise."""
    if unicode_errors not in UNICODE_ERRORS:
        raise ConfigError(f"unicode_errors: {unicode_errors!r} must be one of {', '.join(UNICODE_ERRORS)}")
    return unicode_errors


EXACT_PRECISION = 9
"""Significant digits that write float32 values exactly as text."""


def save_vectors(vectors: WordVectors, path: PathLike, precision: int = 6) -> None:
    """Return nothing; write `vectors` to `path` as `.vec`/`.txt` (optionally `.gz`) or `.npy` + `.vocab.txt`.

    Text values are written with `precision` significant digits (6 by default, like fastText's files;
    9 round-trips float32 exactly). Each file is written to a temporary name and renamed over `path` only
    when complete, so a failed save leaves an earlier file untouched.
    """
    kind = vectors_format(path)
    if kind == "bin":
        raise ConfigError(f"{path}: writing .bin is not supported; save as .vec or .npy")
    if isinstance(precision, bool) or not isinstance(precision, int) or not 1 <= precision <= 9:
        raise ConfigError(f"precision: {precision!r} must be an integer from 1 to 9")
    if len(vectors) == 0:
        raise DataError("no words to save", vectors.source)
    if vectors.dim == 0:
        raise DataError("vectors have 0 dimensions; nothing to save", vectors.source)
    if (
        row := first_unencodable(vectors.words)
    ) is not None:  # before the file is opened: nothing half-written
        raise DataError(f"word {row + 1} ({vectors.words[row]!r}) holds a lone surrogate, which UTF-8 cannot "
                        "write", vectors.source)  # fmt: skip
    if kind == "npy":
        _save_npy(vectors, Path(path))
    else:
        _save_text(vectors, Path(path), precision)


def convert_vectors(
    src: PathLike,
    dst: PathLike,
    max_words: int | None = None,
    *,
    overwrite: bool = False,
    unicode_errors: str = "strict",
) -> WordVectors:
    """Return the vectors read from `src` (first `max_words` words; words not UTF-8 as `unicode_errors` says,
    see load_vectors) after writing them to `dst` (text with EXACT_PRECISION digits: read back, the values
    are the same).

    `dst` may not be `src` (nor, for .npy, a vocabulary file of either), and an existing `dst` is replaced
    only with `overwrite`: both checked before anything is read (check_output).
    """
    check_output(dst, overwrite, inputs=[src])
    vectors = load_vectors(src, max_words, unicode_errors=unicode_errors)
    save_vectors(vectors, dst, precision=EXACT_PRECISION)  # a conversion changes the format, not the values
    return vectors


def check_output(path: PathLike, overwrite: bool, inputs: Iterable[PathLike] = ()) -> Path:
    """Return `path` as a Path after checking, before any work, that vectors may be saved there.

    Raises ConfigError for a name of no writable format, DataError naming `path` when a file cannot be
    written there (xling.atomic.writable_file), when it (or, for `.npy`, its `.vocab.txt`) is one of the
    `inputs` or a vocabulary file beside them (saving would destroy what is read), and when it exists
    already without `overwrite`.
    """
    if vectors_format(path) == "bin":
        raise ConfigError(f"{path}: writing .bin is not supported; save as .vec or .npy")
    path = writable_file(path)
    written = _files_of(path)
    for given in (file for source in inputs for file in _files_of(Path(source))):
        clash = next((file for file in written if same_path(file, given)), None)
        if clash is not None:
            shown = "" if clash == path else f" (its vocabulary {clash})"
            raise DataError(f"is also an input{shown}: saving would replace what is read; write to another "
                            "file", path)  # fmt: skip
    existing = next((file for file in written if file.exists()), None)
    if existing is not None and not overwrite:
        raise DataError(f"{existing} already exists; {OVERWRITE_HINT}", path)
    return path


def _files_of(path: Path) -> list[Path]:
    """Return the files that vectors at `path` are made of: `path`, and for `.npy` its `.vocab.txt`."""
    return [path, vocab_path(path)] if path.name.lower().endswith(_NPY_SUFFIXES) else [path]


def check_savable(vectors: WordVectors, path: PathLike) -> None:
    """Return nothing if the format of `path` can hold every word of `vectors` (.vec: no whitespace; .npy:
    no line break); else raise DataError naming the word. Lets a long job refuse before its work."""
    kind = vectors_format(path)
    if kind == "bin":
        raise ConfigError(f"{path}: writing .bin is not supported; save as .vec or .npy")
    breakers, why = (_VOCAB_BREAKERS, _VOCAB_BREAKS) if kind == "npy" else (_TEXT_BREAKERS, _TEXT_BREAKS)
    _check_words(vectors, Path(path), breakers, why)


def _check_gzip(path: Path) -> None:
    """Return nothing unless `path` is named `.gz` but is not gzip data: a DataError saying so (the reader
    would otherwise fail before its first line, with a line number of 0)."""
    if not path.name.lower().endswith(".gz"):
        return
    with path.open("rb") as handle:
        head = handle.read(len(_GZIP_MAGIC))
    if head != _GZIP_MAGIC:
        raise DataError(
            "the name ends in .gz but the file is not gzip-compressed; rename or compress it", path
        )


def _check_max_words(max_words: int | None) -> None:
    """Return nothing if `max_words` is None or a positive int; raise ConfigError otherwise."""
    if max_words is None:
        return
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise ConfigError(f"max_words: {max_words!r} must be a positive integer or None")


def _warn_duplicates(path: Path, count: int, first: str, where: str, depth: int) -> None:
    """Return nothing; warn that `count` later repeats of words were dropped from `path`.

    `depth` is how many calls below `load_vectors` the caller is, so the warning points at the user's code.
    """
    warnings.warn(
        f"{path}: dropped {count} repeated word(s) (first: {first!r} {where}); "
        "kept the first (most frequent) row of each word",
        stacklevel=depth + 3,
    )


def _warn_undecodable(path: Path, count: int, first: bytes, where: str, depth: int) -> None:
    """Return nothing; warn that `count` rows of `path` were dropped for a word that is not UTF-8 (skip).

    `depth` is as for `_warn_duplicates`.
    """
    warnings.warn(  # the word as bytes: U+FFFD would not tell which bytes they were
        f"{path}: dropped {count} row(s) whose word is not UTF-8 (first: {first!r} {where}), "
        "as unicode_errors='skip' asks",
        stacklevel=depth + 3,
    )


def _decode(raw: bytes, unicode_errors: str) -> str | None:
    """Return `raw` as UTF-8 text; bytes that are not UTF-8 raise UnicodeDecodeError ("strict"), become
    U+FFFD ("replace"), or give None ("skip")."""
    try:
        return raw.decode("utf-8", errors="replace" if unicode_errors == "replace" else "strict")
    except UnicodeDecodeError:
        if unicode_errors == "skip":
            return None
        raise


# --- text (.vec / .txt) ------------------------------------------------------------------------------


def _rows(handle: BinaryIO, path: Path) -> Iterator[tuple[int, bytes]]:
    """Return an iterator over (1-based line number, line without its newline and trailing spaces).

    Blank lines at the end are ignored (many tools add one); a blank line before another row is a DataError,
    because silently skipping it would hide a damaged file.
    """
    blank: int | None = None
    for number, raw in numbered_lines(handle, path):
        # fastText ends every row with a space before the newline.
        raw = raw.rstrip(b"\r\n").rstrip(b" ")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if not raw.strip():
            blank = number if blank is None else blank
            continue
        if blank is not None:
            raise DataError("blank line between rows", path, blank)
        yield number, raw


def _parse_header(number: int, line: bytes, path: Path) -> tuple[int | None, int]:
    """Return (rows, dim) if `line` is an `N dim` header, (None, dim) if it is already the first row of a
    header-less file (dim: its trailing values); raise DataError naming the line if it is neither.

    A first line of three or more fields is a row only if it ends in at least 2 values ("a b 1 2" is the
    word "a b" in 2 dimensions); "2 3 x" or "foo 1 2 x" is neither (a damaged header or first row).
    """
    fields = line.split()
    if len(fields) >= 3:
        width = _trailing_numbers(fields[1:])  # a word with spaces ("a b 1 2") is no value
        if width >= 2:
            return None, width
    rows = dim = 0
    if len(fields) == 2:
        with suppress(ValueError):
            rows, dim = int(fields[0]), int(fields[1])
    if rows < 1 or dim < 1:
        shown = line.decode("utf-8", errors="replace")
        what = "malformed header" if len(fields) < 3 else "damaged header or first row"
        raise DataError(
            f"{what} {shown!r}: expected 'N dim' (two positive integers), or a first row with a word and "
            "at least 2 values for a header-less file",
            path,
            number,
        )
    return rows, dim


def _load_text(path: Path, max_words: int | None, unicode_errors: str) -> WordVectors:
    """Return the vectors of a word2vec/fastText/GloVe text file, streamed in chunks of rows."""
    with open_binary(path) as handle:
        rows = _rows(handle, path)
        first = next(rows, None)
        if first is None:
            raise DataError("file is empty", path)
        promised, dim = _parse_header(*first, path)
        if promised is None:  # header-less: the first line is a row
            rows = chain([first], rows)
        return _read_rows(rows, path, dim, promised, max_words, unicode_errors)


def _read_rows(
    rows: Iterator[tuple[int, bytes]],
    path: Path,
    dim: int,
    promised: int | None,
    max_words: int | None,
    unicode_errors: str,
) -> WordVectors:
    """Return the vectors of the remaining `rows`, checking them against the header's row count."""
    limits = [x for x in (promised, max_words) if x is not None]
    capacity = min(limits) if limits else None
    matrix = None
    if capacity is not None and capacity * dim <= _MAX_PREALLOCATED:
        matrix = np.empty((capacity, dim), dtype=np.float32)
    blocks: list[np.ndarray] = []
    words: list[str] = []
    seen: set[str] = set()
    read = duplicates = 0
    first_repeat = ("", 0)
    undecodable: list[tuple[int, bytes]] = []  # (line, word) of each row dropped under "skip"
    while max_words is None or len(words) < max_words:
        wanted = _CHUNK_ROWS if max_words is None else min(_CHUNK_ROWS, max_words - len(words))
        chunk = list(islice(rows, wanted))
        if not chunk:
            break
        if promised is not None and read + len(chunk) > promised:
            extra = chunk[promised - read][0]
            raise DataError(f"header says {promised} rows, but the file has more", path, extra)
        read += len(chunk)
        chunk_words, values, lines, dropped = _parse_chunk(chunk, dim, path, unicode_errors)
        undecodable.extend(dropped)
        keep = []
        for i, word in enumerate(chunk_words):
            if word in seen:
                if not duplicates:
                    first_repeat = (word, lines[i])
                duplicates += 1
                continue
            seen.add(word)
            keep.append(i)
        if len(keep) < len(chunk_words):
            values = values[keep]
        if matrix is not None:
            matrix[len(words) : len(words) + len(keep)] = values
        else:
            blocks.append(values)
        words.extend(chunk_words[i] for i in keep)
    cut = max_words is not None and len(words) >= max_words
    if promised is not None and not cut and read < promised:
        raise DataError(f"header says {promised} rows, file has {read}", path)
    if undecodable:
        line, word = min(undecodable)
        _warn_undecodable(path, len(undecodable), word, f"on line {line}", depth=2)
    if duplicates:
        _warn_duplicates(path, duplicates, first_repeat[0], f"on line {first_repeat[1]}", depth=2)
    if matrix is None:
        vectors = np.concatenate(blocks) if blocks else np.empty((0, dim), dtype=np.float32)
    else:
        vectors = matrix if len(words) == len(matrix) else matrix[: len(words)].copy()
    return WordVectors(words, vectors, str(path))


def _parse_chunk(
    chunk: list[tuple[int, bytes]], dim: int, path: Path, unicode_errors: str
) -> tuple[list[str], np.ndarray, list[int], list[tuple[int, bytes]]]:
    """Return the words, the [rows, dim] float32 values and the line numbers of the rows of a chunk, and the
    (line, word bytes) of each row dropped because its word is not UTF-8 ("skip"); raise DataError on a bad
    row (under "strict", on a word that is not UTF-8 too).

    All values of the chunk are parsed by one numpy call; only when that fails (or a row's space count is
    off) are rows looked at one by one, to name the offending line.
    """
    words: list[str] = []
    rests: list[bytes] = []
    kept: list[tuple[int, bytes]] = []
    dropped: list[tuple[int, bytes]] = []
    for number, raw in chunk:
        word, _, rest = raw.partition(b" ")
        if not word:
            raise DataError("row starts with a space (no word before the values)", path, number)
        try:
            text = _decode(word, unicode_errors)
        except UnicodeDecodeError as exc:
            raise DataError(_utf8_reason(word, exc) + _UNICODE_HINT, path, number) from None
        if text is None:
            dropped.append((number, word))
            continue
        words.append(text)
        rests.append(rest)
        kept.append((number, raw))
    # A row with too few values and another with too many would still fill the matrix: count per row.
    if any(rest.count(b" ") != dim - 1 for rest in rests):
        spaced = _move_spaced_words(words, rests, dim, unicode_errors)
        if spaced and unicode_errors == "skip":  # a word with spaces whose later part is not UTF-8
            dropped.extend((kept[i][0], kept[i][1].rsplit(b" ", dim)[0]) for i in sorted(spaced))
            keep = [i for i in range(len(kept)) if i not in spaced]
            words, rests, kept = [words[i] for i in keep], [rests[i] for i in keep], [kept[i] for i in keep]
        _check_widths(kept, rests, dim, path, unicode_errors)
    lines = [number for number, _ in kept]
    if not kept:
        return [], np.empty((0, dim), dtype=np.float32), lines, dropped
    chunk = kept
    try:
        values = np.fromstring(b" ".join(rests), dtype=np.float32, sep=" ")
    except ValueError:
        values = None
    if values is None or values.size != len(rests) * dim:
        _find_bad_value(chunk, rests, dim, path, unicode_errors)
        raise DataError(f"cannot parse the values of lines {chunk[0][0]}-{chunk[-1][0]}", path)
    values = values.reshape(len(rests), dim)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise DataError("value is not a finite number (nan or inf)", path, chunk[bad][0])
    return words, values, lines, dropped


def _move_spaced_words(words: list[str], rests: list[bytes], dim: int, unicode_errors: str) -> set[int]:
    """Return the rows whose word holds spaces and bytes that are not UTF-8 (left as they were) after giving
    back to its word what each other row holds beyond its last `dim` values, where that is no number:
    GloVe's 840B release has words with spaces (". . .", "at name@domain.com"). A row whose extra field is
    a number keeps it, so that `_check_widths` names a row with a value too many."""
    undecodable: set[int] = set()
    for i, rest in enumerate(rests):
        fields = rest.split()
        extra = fields[: len(fields) - dim]
        if extra and not all(_is_number(field) for field in extra):
            try:
                parts = [_decode(field, unicode_errors) for field in extra]
            except UnicodeDecodeError:
                parts = [None]  # strict: _check_widths names the row and its byte
            if None in parts:
                undecodable.add(i)
                continue
            words[i] = " ".join([words[i], *parts])
            rests[i] = b" ".join(fields[len(extra) :])
    return undecodable


def _trailing_numbers(fields: list[bytes]) -> int:
    """Return how many of `fields` (a row's after its first) at the end parse as numbers: the width of a
    headerless file's first row, whose word may hold spaces as the rows after a header may."""
    count = 0
    for field in reversed(fields):
        if not _is_number(field):
            break
        count += 1
    return count


def _is_number(field: bytes) -> bool:
    """Return whether one whitespace-free field of a row parses as a number."""
    try:
        float(field)
    except ValueError:
        return False
    return True


def _check_widths(
    chunk: list[tuple[int, bytes]], rests: list[bytes], dim: int, path: Path, unicode_errors: str
) -> None:
    """Return nothing if every row has `dim` values (maybe with odd spacing); raise DataError naming one
    (under "strict" as not UTF-8 where it is not: a mis-encoded file, not a width, is then the fault)."""
    for (number, raw), rest in zip(chunk, rests, strict=True):
        if rest.count(b" ") != dim - 1:
            got = len(rest.split())
            if got != dim:
                if unicode_errors == "strict":
                    _check_utf8(number, raw, path)
                if b"\t" in raw:  # a TSV export: "got 0 values" would not say what is wrong
                    raise DataError("the row holds tabs; the .vec format separates the word and its values "
                                    "by spaces, not tabs", path, number)  # fmt: skip
                raise DataError(f"expected {dim} values after the word, got {got}", path, number)


def _find_bad_value(
    chunk: list[tuple[int, bytes]], rests: list[bytes], dim: int, path: Path, unicode_errors: str
) -> None:
    """Return nothing if no single value fails to parse; else raise DataError naming its line and value
    (under "strict", first any line that is not UTF-8)."""
    for (number, raw), rest in zip(chunk, rests, strict=True):
        if unicode_errors == "strict":
            _check_utf8(number, raw, path)
        if len(rest.split()) != dim:  # e.g. a word alone on its line, where dim is 1
            raise DataError(f"expected {dim} values after the word, got {len(rest.split())}", path, number)
        for position, token in enumerate(rest.split(), start=1):
            try:
                parsed = np.fromstring(token, dtype=np.float32, sep=" ")
            except ValueError:
                parsed = None
            if parsed is None or parsed.size != 1:
                shown = token.decode("utf-8", errors="replace")
                raise DataError(f"value {position} {shown!r} is not a number", path, number)


def _check_utf8(number: int, raw: bytes, path: Path) -> None:
    """Return nothing if `raw` is UTF-8; else raise DataError naming the line and the byte."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(_utf8_reason(raw, exc), path, number) from None


def _utf8_reason(raw: bytes, exc: UnicodeDecodeError) -> str:
    """Return a message naming the first byte that is not UTF-8 and its offset in the line."""
    return f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at byte offset {exc.start} of the line"


def _check_words(vectors: WordVectors, path: Path, breakers: frozenset[str], why: str) -> None:
    """Return nothing if every word is non-empty and free of `breakers`; raise DataError naming the first."""
    for row, word in enumerate(vectors.words):
        if not word:
            raise DataError(f"cannot write {path}: word {row} is empty", vectors.source)
        if not breakers.isdisjoint(word):
            raise DataError(f"cannot write {path}: word {row} {word!r} contains {why}", vectors.source)


def _save_text(vectors: WordVectors, path: Path, precision: int) -> None:
    """Return nothing; write the text format (with header), gzip-compressed if the name ends in `.gz`."""
    _check_words(vectors, path, _TEXT_BREAKERS, _TEXT_BREAKS)
    with atomic_write(path, "wb") as raw:
        if path.name.lower().endswith(".gz"):
            # mtime=0: the same vectors give the same bytes; level 6 is much faster than 9 for a few % size
            # filename "": the header would otherwise name the temporary file (it holds the process id)
            with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as compressed:
                _write_rows(vectors, compressed, precision, path)
        else:
            _write_rows(vectors, raw, precision, path)


def _write_rows(vectors: WordVectors, handle: BinaryIO, precision: int, path: Path) -> None:
    """Return nothing; write the header and the rows, formatting a chunk of rows per write."""
    row_format = " ".join([f"%.{precision}g"] * vectors.dim)
    handle.write(f"{len(vectors)} {vectors.dim}\n".encode())
    for start in range(0, len(vectors), _CHUNK_ROWS):
        block = np.asarray(vectors.vectors[start : start + _CHUNK_ROWS])
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise DataError(
                f"cannot write {path}: the vector of word {row} {vectors.words[row]!r} is not finite",
                vectors.source,
            )
        words = vectors.words[start : start + _CHUNK_ROWS]
        text = "".join(
            f"{word} {row_format % tuple(values)}\n"
            for word, values in zip(words, block.tolist(), strict=True)
        )
        handle.write(text.encode("utf-8"))


# --- .npy + .vocab.txt -------------------------------------------------------------------------------


def _save_npy(vectors: WordVectors, path: Path) -> None:
    """Return nothing; write `NAME.npy` and `NAME.vocab.txt`, renaming both only once both are complete."""
    _check_words(vectors, path, _VOCAB_BREAKERS, _VOCAB_BREAKS)
    if vectors.words[0].startswith("\ufeff"):  # the reader drops a byte-order mark: the word would change
        raise DataError(f"cannot write {path}: word 0 {vectors.words[0]!r} starts with U+FEFF, which the "
                        "vocabulary file would read as a byte-order mark", vectors.source)  # fmt: skip
    words_path = vocab_path(path)
    with atomic_writes((path, "wb"), (words_path, "w")) as (matrix_handle, words_handle):
        np.save(matrix_handle, np.asarray(vectors.vectors, dtype=np.float32), allow_pickle=False)
        words_handle.write("".join(f"{word}\n" for word in vectors.words))


def _load_npy(path: Path, max_words: int | None, unicode_errors: str) -> WordVectors:
    """Return the vectors of `NAME.npy` (memory-mapped) and the words of `NAME.vocab.txt` (a word that is not
    UTF-8 read as `unicode_errors` says)."""
    words_path = vocab_path(path)
    if not words_path.is_file():
        raise DataError(f"missing vocabulary file {words_path} (one word per line, in row order)", path)
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"not a readable .npy matrix: {exc}", path) from exc
    if matrix.ndim != 2:
        raise DataError(f"expected a 2-d matrix (words x dim), got shape {matrix.shape}", path)
    if matrix.dtype.kind != "f":
        raise DataError(f"expected a float matrix, got dtype {matrix.dtype}", path)
    read = _read_vocab(words_path, unicode_errors)
    if len(read) != len(matrix):
        raise DataError(f"{words_path} has {len(read)} words but {path} has {len(matrix)} rows", path)
    # a word that is not UTF-8 (its bytes, under "skip") drops its row, as a repeated word does
    skipped = [row for row, word in enumerate(read) if isinstance(word, bytes)]
    if skipped:
        first = read[skipped[0]]
        _warn_undecodable(words_path, len(skipped), first if isinstance(first, bytes) else b"",
                          f"on line {skipped[0] + 1}", depth=1)  # fmt: skip
    words = [word if isinstance(word, str) else None for word in read]
    keep, repeated = _first_occurrences(words)
    if repeated is not None:
        repeats = len(words) - len(keep) - len(skipped)
        _warn_duplicates(words_path, repeats, words[repeated], f"on line {repeated + 1}", depth=1)
    rows: list[int] | None = None  # the file row of each kept row, where they differ
    if len(keep) < len(words):
        rows = keep[:max_words] if max_words is not None else keep
        # Fancy indexing copies the kept rows into memory; only files with dropped words pay for it.
        kept, matrix = [read[i] for i in rows], np.asarray(matrix[rows])
    else:
        kept = read if max_words is None else read[:max_words]
        matrix = matrix if max_words is None else matrix[:max_words]
    names = [word for word in kept if isinstance(word, str)]  # all of them: the bytes were dropped
    _check_finite_rows(matrix, names, path, rows)
    return WordVectors(names, matrix, str(path))


def _check_finite_rows(matrix: np.ndarray, words: list[str], path: Path, rows: list[int] | None) -> None:
    """Return nothing if every row of `matrix` is finite; else raise DataError naming the first bad row by
    its word and its 1-based row in the file (`rows[i]` is the file row of row i; None: the same).

    A NaN makes every comparison false, so retrieval would loop or rank silently wrong and Procrustes fail
    with a LinAlgError: the text reader refuses such rows, and so must the .npy one. Read a chunk at a time
    so a memory-mapped matrix is never held whole.
    """
    for start in range(0, len(matrix), _CHUNK_ROWS):
        with np.errstate(over="ignore"):  # a float64 value beyond float32's range becomes inf: refused
            chunk = matrix[start : start + _CHUNK_ROWS].astype(np.float32, copy=False)
        finite = np.isfinite(chunk).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            in_file = (row if rows is None else rows[row]) + 1
            raise DataError(f"row {in_file} (word {words[row]!r}) holds a value that is not a finite "
                            "float32 number (nan, inf, or beyond +-3.4e38)", path)  # fmt: skip


def _first_occurrences(words: list[str] | list[str | None]) -> tuple[list[int], int | None]:
    """Return (rows whose word was not listed earlier, the first row that repeats a word or None); a None
    word (one dropped already) is neither."""
    seen: set[str] = set()
    keep = []
    first_repeat = None
    for i, word in enumerate(words):
        if word is None:
            continue
        if word not in seen:
            seen.add(word)
            keep.append(i)
        elif first_repeat is None:
            first_repeat = i
    return keep, first_repeat


def _read_vocab(path: Path, unicode_errors: str = "strict") -> list[str | bytes]:
    """Return the words of a vocabulary file, one per line (a word that is not UTF-8: its bytes under "skip",
    U+FFFD for each bad byte under "replace"); raise DataError on a blank line, and on bad bytes under
    "strict"."""
    data = path.read_bytes()
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    escaped = False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if unicode_errors == "strict":
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            line = data.count(b"\n", 0, exc.start) + 1
            raise DataError(f"invalid UTF-8 byte 0x{data[exc.start]:02x} at byte offset "
                            f"{exc.start - line_start} of the line{_UNICODE_HINT}", path, line) from None  # fmt: skip
        # each bad byte kept as a lone surrogate (valid UTF-8 never decodes to one), read word by word below
        text, escaped = data.decode("utf-8", errors="surrogateescape"), True
    # Split on \n only: str.splitlines would also split at U+2028 and similar, which may be inside words.
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    words: list[str | bytes] = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not words:
        raise DataError("vocabulary file is empty", path)
    for number, word in enumerate(words, start=1):
        if not word:
            raise DataError("blank line: each line must hold the word of one row", path, number)
    if escaped:
        raws = [str(word).encode("utf-8", errors="surrogateescape") for word in words]
        words = [raw if (word := _decode(raw, unicode_errors)) is None else word for raw in raws]
    return words


# --- .bin (fastText / word2vec, via gensim) ----------------------------------------------------------


def _is_fasttext(path: Path) -> bool:
    """Return whether `path` starts with the fastText magic number."""
    with open_binary(path) as handle:
        try:
            head = handle.read(4)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"cannot read file: {exc}", path) from exc
    return len(head) == 4 and int.from_bytes(head, "little") == _FASTTEXT_MAGIC


def _load_bin(path: Path, max_words: int | None, unicode_errors: str) -> WordVectors:
    """Return the in-vocabulary vectors of a fastText `.bin` model (read with gensim, which decodes a word
    that is not UTF-8 with `\\xNN` escapes whatever `unicode_errors` says), or of a word2vec binary file
    (read here: gensim's reader stops at the header's row count without a word about more rows, and
    leaves an empty row for a repeated word)."""
    if not _is_fasttext(path):
        return _load_word2vec_bin(path, max_words, unicode_errors)
    from gensim.models.fasttext import load_facebook_vectors

    try:
        # A fastText model also holds n-gram buckets; `.vectors` are the full in-vocabulary word vectors.
        keyed = load_facebook_vectors(str(path))
    except MemoryError:
        raise
    except Exception as exc:  # gensim raises many types (ValueError, EOFError, struct.error...) on bad files
        raise DataError(f"cannot read fastText binary file: {type(exc).__name__}: {exc}", path) from exc
    words = list(keyed.index_to_key)
    vectors = np.asarray(keyed.vectors, dtype=np.float32)
    if max_words is not None:
        words, vectors = words[:max_words], vectors[:max_words]
    _check_finite_rows(vectors, words, path, None)
    return _drop_repeats(WordVectors(words, vectors, str(path)), path)


class _ByteReader:
    """Buffered reads of a binary handle: bytes up to a separator, or an exact count (None at the end)."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.buffer = b""
        self.position = 0

    def _fill(self, wanted: int) -> bool:
        """Return whether at least `wanted` unread bytes are buffered, reading more as needed."""
        while len(self.buffer) - self.position < wanted:
            more = self.handle.read(max(wanted, 1 << 20))
            if not more:
                return False
            self.buffer = self.buffer[self.position :] + more
            self.position = 0
        return True

    def until(self, separator: bytes, limit: int) -> bytes | None:
        """Return the bytes before the next `separator` (consumed too), or None if it is not within `limit`
        bytes (nothing consumed)."""
        while True:
            found = self.buffer.find(separator, self.position, self.position + limit)
            if found >= 0:
                taken = self.buffer[self.position : found]
                self.position = found + len(separator)
                return taken
            unread = len(self.buffer) - self.position
            if unread >= limit or not self._fill(unread + 1):
                return None

    def take(self, count: int) -> bytes | None:
        """Return the next `count` bytes, or None if the data ends before them."""
        if not self._fill(count):
            return None
        taken = self.buffer[self.position : self.position + count]
        self.position += count
        return taken

    def skip(self, characters: bytes) -> None:
        """Consume the bytes in `characters` that come next."""
        while self._fill(1) and self.buffer[self.position] in characters:
            self.position += 1

    def rest(self, limit: int) -> bytes:
        """Return up to `limit` of the bytes left."""
        self._fill(limit)
        return self.buffer[self.position : self.position + limit]


_MAX_WORD_BYTES = 4096  # a longer run without a space is not a word2vec row


def _load_word2vec_bin(path: Path, max_words: int | None, unicode_errors: str) -> WordVectors:
    """Return the vectors of a word2vec binary file: a header line `N dim`, then N rows of a UTF-8 word, a
    space and dim little-endian float32 values (word2vec's C tool ends each row with a newline, gensim
    too). Errors name the row: a bad header, a file that ends inside a row, rows beyond the header's count,
    a text vectors file named .bin, values that are not finite, a word that is not UTF-8 under "strict"
    `unicode_errors` ("skip" drops its row, "replace" keeps it). A repeated word keeps its first row."""
    with open_binary(path) as handle:
        reader = _ByteReader(handle)
        header = reader.until(b"\n", 256)
        try:
            rows, dim = (int(field) for field in (header or b"").split())
        except ValueError:
            rows = dim = 0
        if rows < 1 or dim < 1:
            shown = (header if header is not None else reader.rest(40)).decode("utf-8", errors="replace")
            raise DataError(f"cannot read word2vec binary file: malformed header {shown!r}: expected 'N dim' "
                            "(two positive integers) on the first line", path, 1)  # fmt: skip
        _refuse_text_rows(reader.rest(_MAX_WORD_BYTES + 32 * dim), dim, path)
        wanted = rows if max_words is None else min(rows, max_words)
        # blocks of rows rather than one matrix of the header's promise, which a bogus header could make huge
        matrix = np.empty((min(wanted, max(1, _MAX_PREALLOCATED // dim)), dim), dtype=np.float32)
        blocks: list[np.ndarray] = []
        filled = 0
        words: list[str] = []
        seen: set[str] = set()
        repeats: list[tuple[str, int]] = []
        skipped: list[tuple[bytes, int]] = []  # (word, row) of each row dropped under "skip"
        kept_rows: list[int] = []  # each kept word's row in the file, for errors
        row = 0
        while row < rows and len(words) < wanted:
            row += 1
            reader.skip(b"\n")
            if not reader.rest(1):
                raise DataError(f"header says {rows} rows, file has {row - 1}", path)
            raw = reader.until(b" ", _MAX_WORD_BYTES)
            if raw is None and len(reader.rest(_MAX_WORD_BYTES)) < _MAX_WORD_BYTES:
                raise DataError(f"row {row} of {rows}: the file ends inside its word (cut short?)", path)
            if not raw:
                what = "an empty word" if raw == b"" else f"no space within {_MAX_WORD_BYTES} bytes"
                raise DataError(f"row {row} of {rows}: {what}: not a word2vec binary file, or a damaged one",
                                path)  # fmt: skip
            values = reader.take(4 * dim)
            if values is None:
                raise DataError(f"row {row} of {rows}: the file ends inside its vector (cut short?)", path)
            try:
                word = _decode(raw, unicode_errors)
            except UnicodeDecodeError as exc:
                raise DataError(f"row {row} of {rows}: the word is not UTF-8 ({_utf8_reason(raw, exc)})"
                                f"{_UNICODE_HINT}", path) from None  # fmt: skip
            if word is None:
                skipped.append((raw, row))
                continue
            if word in seen:
                repeats.append((word, row))
                continue
            seen.add(word)
            if filled == len(matrix):
                blocks.append(matrix)
                matrix, filled = np.empty_like(matrix), 0
            matrix[filled] = np.frombuffer(values, dtype="<f4")
            filled += 1
            words.append(word)
            kept_rows.append(row)
        if row == rows and (max_words is None or len(words) < max_words):  # all read: look for more
            reader.skip(b"\n\r \t")
            if reader.rest(1):
                raise DataError(f"header says {rows} rows, but the file has more after row {rows}", path)
    vectors = np.concatenate([*blocks, matrix[:filled]]) if blocks else matrix[:filled]
    if skipped:
        _warn_undecodable(path, len(skipped), skipped[0][0], f"at row {skipped[0][1]}", depth=2)
    if repeats:
        _warn_duplicates(path, len(repeats), repeats[0][0], f"at row {repeats[0][1]}", depth=2)
    _check_finite_rows(vectors, words, path, [row - 1 for row in kept_rows] if repeats or skipped else None)
    return WordVectors(words, vectors, str(path))


def _refuse_text_rows(head: bytes, dim: int, path: Path) -> None:
    """Return nothing unless the first row after the header reads as a text row (a word and `dim` numbers
    before a newline): a DataError saying the file is a text vectors file named .bin."""
    line = head.split(b"\n", 1)[0].split()
    if len(line) != dim + 1:
        return
    try:
        [float(value) for value in line[1:]]
    except ValueError:
        return
    raise DataError(f"this is a text vectors file (a word and {dim} numbers a line), not a word2vec binary "
                    "one: name it .vec or .txt", path)  # fmt: skip


def _drop_repeats(vectors: WordVectors, path: Path) -> WordVectors:
    """Return `vectors` without later repeats of a word, warning if there were any."""
    keep, repeated = _first_occurrences(vectors.words)
    if repeated is None:
        return vectors
    _warn_duplicates(
        path, len(vectors) - len(keep), vectors.words[repeated], f"at row {repeated + 1}", depth=2
    )
    return WordVectors([vectors.words[i] for i in keep], vectors.vectors[keep], vectors.source)
