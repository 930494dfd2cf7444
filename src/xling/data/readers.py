"""Streaming readers for monolingual, parallel and id-aligned multilingual text files (plain or gzip).

Every reader decodes each line on its own from a binary handle, so a bad byte is reported with the file,
the 1-based line number and the byte offset, and memory stays bounded by one line. Readers are lazy:
a missing file is reported at the call, bad lines only when iteration reaches them.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, TextIO

from xling.data.languages import (
    DEFAULT_MEMBER,
    MACROLANGUAGES,
    SAME_WRITTEN_LANGUAGE,
    language_name,
    normalize_language,
)
from xling.errors import ConfigError, DataError, LanguageCodeError

# a JSON escape of a UTF-16 surrogate (high or low): only then can a parsed string hold a lone one
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

__all__ = [
    "AlignedCorpus",
    "ReadStats",
    "first_unencodable",
    "open_text",
    "read_id_text_tsv",
    "read_monolingual",
    "read_parallel_files",
    "read_parallel_tsv",
    "read_tatoeba",
]

PathLike = str | os.PathLike[str]


@dataclass
class ReadStats:
    """Counts of what a reader saw; pass one in to learn what `skip_bad=True` dropped.

    `lines_read` counts physical lines (line pairs for `read_parallel_files`), blank ones included.
    """

    lines_read: int = 0
    skipped: int = 0
    messages: list[str] = field(default_factory=list)

    MAX_MESSAGES: ClassVar[int] = 5

    def record_skip(self, error: DataError) -> None:
        """Return nothing; count a skipped line and keep its message if fewer than 5 are kept."""
        self.skipped += 1
        if len(self.messages) < self.MAX_MESSAGES:
            self.messages.append(str(error))


@dataclass(frozen=True)
class NumberedLine:
    """One physical line: `text` is None when its bytes are not UTF-8, and `error` then says why."""

    number: int
    text: str | None
    error: str | None = None


STDIO_NAME = "-"
"""What a Unix tool reads as standard input or writes as standard output; xling's commands take files."""


def require_file(path: PathLike) -> Path:
    """Return `path` as a Path after checking that it is an existing regular file."""
    p = Path(path)
    if str(path) == STDIO_NAME:  # else "file not found", as if the user had misspelt a name
        raise DataError("standard input ('-') is not read here: give the input as a file", p)
    if not p.exists():
        raise DataError("file not found", p)
    if not p.is_file():
        raise DataError("not a regular file", p)
    return p


_GZIP_MAGIC = b"\x1f\x8b"


def open_binary(path: Path) -> BinaryIO:
    """Return a binary handle on `path`, decompressing when the name ends in `.gz`; a DataError if a file
    not named `.gz` holds gzip data."""
    try:
        if path.name.lower().endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        handle = open(path, "rb")  # noqa: SIM115 - the caller owns and closes the handle
    except FileNotFoundError:
        raise DataError("file not found", path) from None
    except OSError as exc:
        raise DataError(f"cannot open file: {exc.strerror or exc}", path) from exc
    _refuse_unnamed_gzip(handle, path)
    return handle


def _refuse_unnamed_gzip(handle: BinaryIO, path: Path) -> None:
    """Return nothing, with `handle` back at its start, unless the file begins with the gzip magic bytes.

    Refused rather than decompressed: every reader and tool picks the format by the name, so a `.txt` that is
    gzip would still be garbage elsewhere; and no UTF-8 text starts with 1f 8b, so the check never refuses
    text (its message would otherwise be a puzzling "invalid UTF-8 byte 0x8b").
    """
    start = handle.read(len(_GZIP_MAGIC))
    if start == _GZIP_MAGIC:
        handle.close()
        raise DataError(f"the file is gzip-compressed but its name does not end in .gz: rename it to "
                        f"{path.name}.gz", path)  # fmt: skip
    handle.seek(0)


def open_text(path: PathLike) -> TextIO:
    """Return a strict UTF-8 text handle on a plain or `.gz` file; use it as a context manager.

    Decoding errors surface as UnicodeDecodeError without a line number; the readers in this module
    report them as DataError with `path:line:` instead, so prefer them for whole-file reading.
    """
    p = require_file(path)
    return io.TextIOWrapper(open_binary(p), encoding="utf-8", errors="strict")


def numbered_lines(handle: BinaryIO, path: Path) -> Iterator[tuple[int, bytes]]:
    """Return an iterator over (1-based line number, raw line) of a binary handle.

    A truncated or corrupt gzip stream is a DataError naming the last line read: the data after it cannot
    be read at all, so it is not a bad line that a skip mode could drop.
    """
    number = 0
    lines = iter(handle)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except (OSError, EOFError, zlib.error) as exc:
            if number == 0:  # e.g. a plain file named .gz: there is no line to name
                raise DataError(f"not a readable gzip file: {exc}", path) from exc
            raise DataError(f"cannot read past this line: {exc}", path, number) from exc
        number += 1
        yield number, raw


def _cr_only_split(lines: Iterator[tuple[int, bytes]]) -> Iterator[tuple[int, bytes]]:
    """Return the numbered lines of a file, split at carriage returns when the file has no b"\\n" at all.

    Classic Mac OS ended lines with a bare CR: such a file arrives as one line holding all its texts
    (Python's text mode splits at a bare CR too). A bare CR inside a file that also has b"\\n" endings
    stays part of its line, so line numbers keep matching `wc -l` and parallel files stay aligned.
    """
    for number, raw in lines:
        if number == 1 and not raw.endswith(b"\n") and b"\r" in raw.rstrip(b"\r"):
            pieces = raw.split(b"\r")
            if not pieces[-1]:
                pieces.pop()
            yield from enumerate(pieces, start=1)
            return
        yield number, raw


def decoded_lines(
    path: Path, stats: ReadStats | None, *, allow_blank: bool = False
) -> Iterator[NumberedLine]:
    """Return an iterator over the decoded lines of `path`; raises DataError at the end if all were blank
    (with `allow_blank`, only if there was no line at all)."""
    has_content = any_line = False
    with open_binary(path) as handle:
        for number, raw in _cr_only_split(numbered_lines(handle, path)):
            any_line = True
            if stats is not None:
                stats.lines_read += 1
            # Split on b"\n" only: str.splitlines would also break lines at U+2028, U+0085 etc.,
            # which would shift the line numbers and break line alignment of parallel files.
            raw = raw.rstrip(b"\r\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                has_content = True
                reason = f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at byte offset {exc.start} of the line"
                yield NumberedLine(number, None, reason)
                continue
            if text.startswith("\ufeff"):
                # a BOM is an encoding mark, not part of a sentence: first in a file, or where two files
                # were concatenated (a gzip of several members), where it would hide an id from a join
                text = text[1:]
            if not has_content and text.strip():
                has_content = True
            yield NumberedLine(number, text)
    if not has_content and not (allow_blank and any_line):
        raise DataError("file is empty", path)


def _reject(error: DataError, skip_bad: bool, stats: ReadStats | None) -> None:
    """Return nothing when skipping (after counting `error` in `stats`); raise `error` otherwise."""
    if not skip_bad:
        raise error
    if stats is not None:
        stats.record_skip(error)


def line_text(line: NumberedLine, path: Path) -> str:
    """Return the text of `line`, or raise DataError if it was not valid UTF-8."""
    if line.text is None:
        raise DataError(line.error or "invalid UTF-8", path, line.number)
    return line.text


def json_object_line(text: str, path: Path, number: int) -> dict[str, Any]:
    """Return the JSON object on line `number` of a JSON Lines file; DataError naming `path:number` if it
    is not valid JSON (an integer past Python's 4,300-digit limit included) or not an object."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error.msg} at column {error.colno})", path, number) from None
    except ValueError as error:  # int() refuses integers past sys.get_int_max_str_digits()
        raise DataError(f"not valid JSON ({error})", path, number) from None
    if not isinstance(record, dict):
        raise DataError(f"expected a JSON object, found {type(record).__name__}", path, number)
    if _SURROGATE_ESCAPE.search(text):  # JSON can escape half of a UTF-16 pair, which is no Unicode text
        try:
            json.dumps(record, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise DataError("holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is "
                            "not Unicode text", path, number) from None  # fmt: skip
    return record


def _tsv_fields(line: NumberedLine, path: Path, needed: int, maxsplit: int = -1) -> list[str] | None:
    """Return the stripped tab-separated fields of `line`, None for a blank line; raise DataError if bad."""
    text = line_text(line, path)
    if not text.strip() and "\t" in text:  # not blank: a pair whose every side was left empty
        raise DataError("every column is empty (the line holds only tabs and spaces)", path, line.number)
    if not text.strip():
        return None
    if "\t" not in text:
        raise DataError("no tab in line (expected tab-separated columns)", path, line.number)
    fields = text.split("\t", maxsplit)
    if len(fields) < needed:
        raise DataError(
            f"expected at least {needed} tab-separated columns, found {len(fields)}", path, line.number
        )
    return [value.strip() for value in fields]


# --- monolingual -------------------------------------------------------------------------------------


def read_monolingual(
    path: PathLike, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[str]:
    """Return an iterator over the stripped sentences of a one-sentence-per-line file; blank lines are skipped."""
    return _monolingual(require_file(path), skip_bad, stats)


def _monolingual(path: Path, skip_bad: bool, stats: ReadStats | None) -> Iterator[str]:
    """Return the generator behind read_monolingual."""
    for line in decoded_lines(path, stats):
        try:
            text = line_text(line, path).strip()
        except DataError as error:
            _reject(error, skip_bad, stats)
            continue
        if text:
            yield text


def read_lines(path: PathLike, chars: str | None = None) -> Iterator[str]:
    """Return an iterator over the stripped lines of a file where line i must hold text i (no blank lines).

    For inputs whose outputs are row-aligned with their lines (embeddings, mined pairs): a blank line
    would shift every later row, so it is a DataError naming the line rather than a skip. `chars`: what is
    stripped (str.strip's argument; None: all whitespace, tabs included).
    """
    return _strict_lines(require_file(path), chars)


def _strict_lines(path: Path, chars: str | None = None) -> Iterator[str]:
    """Return the generator behind read_lines."""
    for line in decoded_lines(path, None):
        text = line_text(line, path)
        if not text.strip():
            raise DataError(
                "blank line: each line must hold one text (output row i is line i)", path, line.number
            )
        yield text.strip(chars)


# --- parallel ----------------------------------------------------------------------------------------


def _check_columns(columns: tuple[int, int]) -> tuple[int, int]:
    """Return `columns` as a (source, target) pair of distinct non-negative ints; raise ConfigError if not."""
    if (
        not isinstance(columns, tuple | list)
        or len(columns) != 2
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in columns)
        or columns[0] == columns[1]
    ):
        raise ConfigError(f"columns must be two different non-negative column indexes, got {columns!r}")
    return columns[0], columns[1]


def read_parallel_tsv(
    path: PathLike,
    *,
    columns: tuple[int, int] | None = None,
    skip_bad: bool = False,
    stats: ReadStats | None = None,
    sides: tuple[str, str] = ("source", "target"),
) -> Iterator[tuple[str, str]]:
    """Return an iterator over (source, target) pairs taken from two columns of a TSV file.

    `columns` are 0-based indexes; messages number columns from 1, as lines are, and call the two sides
    `sides` (a caller that knows their languages can name them, e.g. "eng (pivot)"). Without `columns` the
    file must have exactly two: a line with more is a bad line (a tab inside a text, or an id or score column
    that would otherwise be read as a side), though empty fields after the two are no column (`a<TAB>b<TAB>`);
    given `columns`, any other columns are ignored.
    """
    src_col, tgt_col = _check_columns((0, 1) if columns is None else columns)
    at_most = 2 if columns is None else None
    return _parallel_tsv(require_file(path), (src_col, tgt_col), at_most, skip_bad, stats, sides)


def _parallel_tsv(
    path: Path,
    columns: tuple[int, int],
    at_most: int | None,
    skip_bad: bool,
    stats: ReadStats | None,
    sides: tuple[str, str],
) -> Iterator[tuple[str, str]]:
    """Return the generator behind read_parallel_tsv; `at_most` columns per line (None: any number)."""
    src_col, tgt_col = columns
    needed = max(src_col, tgt_col) + 1
    for line in decoded_lines(path, stats):
        try:
            fields = _tsv_fields(line, path, needed)
            if fields is None:
                continue
            # empty fields after the two are no column (`a<TAB>b<TAB>`, as spreadsheets export): only a filled one
            if at_most is not None and any(fields[at_most:]):
                raise _extra_columns(fields, at_most, sides, path, line.number)
            src, tgt = fields[src_col], fields[tgt_col]
            if not src or not tgt:
                side, column = (sides[0], src_col) if not src else (sides[1], tgt_col)
                raise DataError(f"empty {side} side (column {column + 1})", path, line.number)
        except DataError as error:
            _reject(error, skip_bad, stats)
            continue
        yield src, tgt


def _extra_columns(
    fields: list[str], expected: int, sides: tuple[str, str], path: Path, number: int
) -> DataError:
    """Return the error for a line of a two-column file with more columns, saying what it looks like."""
    found = f"{len(fields)} tab-separated columns; expected {expected} ({'<TAB>'.join(sides)})"
    if len(fields) == 3 and re.fullmatch(r"-?\d+\.\d+", fields[0]):
        # the score<TAB>source<TAB>target lines `xling mine --output` writes (scores as %.6f; an integer is an
        # id column): read as they are, every pair would be (score, source) and train without a word
        return DataError(f"{found}: this looks like the score<TAB>source<TAB>target output of `xling mine`; "
                         "keep its columns 2 and 3 (cut -f2,3 FILE > pairs.tsv), or from Python "
                         "read_parallel_tsv(FILE, columns=(1, 2))", path, number)  # fmt: skip
    return DataError(f"{found}: a tab inside a text (replace it by a space), or an id or other extra "
                     "column (cut the two text columns out first, e.g. cut -f2,3 FILE > pairs.tsv)?",
                     path, number)  # fmt: skip


def read_parallel_files(
    src_path: PathLike, tgt_path: PathLike, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[tuple[str, str]]:
    """Return an iterator over (source, target) pairs from two line-aligned files read in lockstep.

    Files of unequal length are always an error, even with `skip_bad`, because the alignment is lost.
    Lines blank on both sides are skipped silently; a pair with one blank side is a bad pair.
    """
    return _parallel_files(require_file(src_path), require_file(tgt_path), skip_bad, stats)


def _parallel_files(
    src_path: Path, tgt_path: Path, skip_bad: bool, stats: ReadStats | None
) -> Iterator[tuple[str, str]]:
    """Return the generator behind read_parallel_files."""
    with (
        closing(decoded_lines(src_path, None)) as src_lines,
        closing(decoded_lines(tgt_path, None)) as tgt_lines,
    ):
        while True:
            src_line = next(src_lines, None)
            tgt_line = next(tgt_lines, None)
            if src_line is None:
                if tgt_line is None:
                    return
                raise _length_mismatch(src_path, tgt_path, tgt_line.number)
            if tgt_line is None:
                raise _length_mismatch(tgt_path, src_path, src_line.number)
            if stats is not None:
                stats.lines_read += 1
            try:
                pair = _aligned_pair(src_line, src_path, tgt_line, tgt_path)
            except DataError as error:
                _reject(error, skip_bad, stats)
                continue
            if pair is not None:
                yield pair


def _length_mismatch(shorter: Path, longer: Path, read: int) -> DataError:
    """Return the error for aligned files of unequal length, naming the shorter file and where it ended."""
    ended = read - 1
    return DataError(
        f"file ends at line {ended}, but {longer} continues ({read} lines read so far); "
        "line-aligned files must have the same number of lines",
        shorter,
        ended,
    )


def _aligned_pair(
    src_line: NumberedLine, src_path: Path, tgt_line: NumberedLine, tgt_path: Path
) -> tuple[str, str] | None:
    """Return the stripped pair, None if both sides are blank; raise DataError if one side is bad."""
    src = line_text(src_line, src_path).strip()
    tgt = line_text(tgt_line, tgt_path).strip()
    if not src and not tgt:
        return None
    if not src:
        raise DataError(
            f"empty line, but line {tgt_line.number} of {tgt_path} is not", src_path, src_line.number
        )
    if not tgt:
        raise DataError(
            f"empty line, but line {src_line.number} of {src_path} is not", tgt_path, tgt_line.number
        )
    return src, tgt


# --- id<TAB>text ------------------------------------------------------------------------------------


def read_id_text_tsv(
    path: PathLike, *, skip_bad: bool = False, stats: ReadStats | None = None
) -> Iterator[tuple[str, str]]:
    """Return an iterator over (id, text) pairs from `id<TAB>text` lines, split on the first tab."""
    p = require_file(path)
    return ((ident, text) for _, ident, text in _id_text(p, skip_bad, stats))


def _id_text(path: Path, skip_bad: bool, stats: ReadStats | None) -> Iterator[tuple[int, str, str]]:
    """Return an iterator over (line number, id, text) for the `id<TAB>text` lines of `path`."""
    for line in decoded_lines(path, stats):
        try:
            fields = _tsv_fields(line, path, needed=2, maxsplit=1)
            if fields is None:
                continue
            ident, text = fields
            if not ident or not text:
                raise DataError(
                    "empty id" if not ident else f"empty text for id {ident!r}", path, line.number
                )
        except DataError as error:
            _reject(error, skip_bad, stats)
            continue
        yield line.number, ident, text


def _unique_id_text(path: Path, skip_bad: bool, stats: ReadStats | None) -> Iterator[tuple[str, str]]:
    """Return an iterator over (id, text) that rejects an id already seen earlier in the file."""
    first_line: dict[str, int] = {}
    for number, ident, text in _id_text(path, skip_bad, stats):
        if ident in first_line:
            error = DataError(f"duplicate id {ident!r} (first on line {first_line[ident]})", path, number)
            _reject(error, skip_bad, stats)
            continue
        first_line[ident] = number
        yield ident, text


# --- which file of a folder is a language's ----------------------------------------------------------


def _written_forms(code: str) -> list[str]:
    """Return `code` first, then the codes ISO 639-3 keeps apart for its written language (fil: tgl)."""
    twins = {SAME_WRITTEN_LANGUAGE.get(code)} | {a for a, b in SAME_WRITTEN_LANGUAGE.items() if b == code}
    return [code, *sorted(twin for twin in twins if twin is not None and twin != code)]


def folder_language_code(code: str, has_file: Callable[[str], bool], folder: Path, what: str) -> str | None:
    """Return the code whose file in `folder` holds the text of language `code` (canonical ISO 639-3); None
    when no file does. `has_file` says whether the folder has a file for a code; `what` names the folder in
    an error ("Tatoeba").

    Its own file first, else one of the same written language (fil and tgl). Data sets label some languages
    by an individual code (cmn, swh, lvs) where users say zh, sw..., and others by a macrolanguage that
    stands for one member (ara: Standard Arabic, est: Estonian): a macrolanguage takes its one member with a
    file, or its DEFAULT_MEMBER among several (zh is Mandarin, not Cantonese or Wu, as everywhere in xling);
    a member takes its macrolanguage's file only if it is the member that one stands for (Tatoeba's kur is
    Latin-script Kurmanji, not Sorani ckb). Several members and none the default is a DataError.
    """
    forms = _written_forms(code)
    for form in forms:
        if has_file(form):
            return form
    related: set[str] = set()
    for form in forms:
        related |= MACROLANGUAGES.get(form, frozenset())
        related |= {macro for macro in MACROLANGUAGES if DEFAULT_MEMBER.get(macro) == form}
    found = sorted(c for c in related if has_file(c))
    if len(found) == 1:
        return found[0]
    default = next((DEFAULT_MEMBER[form] for form in forms if DEFAULT_MEMBER.get(form) in found), None)
    if default is not None:
        return default
    if found:
        raise DataError(f"{code} is ambiguous here: {what} has {', '.join(found)}; pass one of them", folder)
    return None


# --- Tatoeba (LASER / XTREME layout) -----------------------------------------------------------------


def _tatoeba_paths(root: Path, code: str) -> tuple[Path, Path]:
    """Return the (<code> side, English side) file paths of one Tatoeba pair."""
    return root / f"tatoeba.{code}-eng.{code}", root / f"tatoeba.{code}-eng.eng"


def tatoeba_code(root: Path, lang: str) -> str:
    """Return the code used in the Tatoeba file names for `lang`; raise DataError if no files match."""
    try:
        code = normalize_language(lang, where="languages")
    except LanguageCodeError:
        # LASER also uses codes outside ISO 639-3 (ber: a 639-5 collective, kzj: retired in 2016).
        literal = lang.strip().lower() if isinstance(lang, str) else ""
        if literal and _tatoeba_paths(root, literal)[0].is_file():
            return literal
        raise
    found = folder_language_code(code, lambda c: _tatoeba_paths(root, c)[0].is_file(), root, "Tatoeba")
    if found is not None:
        return found
    wanted = " and ".join(p.name for p in _tatoeba_paths(root, code))
    sibling = next((macro for macro, members in MACROLANGUAGES.items()
                    if code in members and _tatoeba_paths(root, macro)[0].is_file()), None)  # fmt: skip
    hint = f" (its {sibling} files hold {DEFAULT_MEMBER.get(sibling, 'another member')})" if sibling else ""
    raise DataError(f"no Tatoeba files for {code} ({language_name(code)}): looked for {wanted}{hint}", root)


def read_tatoeba(root: PathLike, lang: str) -> tuple[list[str], list[str]]:
    """Return (sentences in `lang`, their English translations) from `root/tatoeba.<lang>-eng.{<lang>,eng}`."""
    root_path = Path(root)
    if not root_path.is_dir():
        raise DataError("Tatoeba folder not found", root_path)
    code = tatoeba_code(root_path, lang)
    xx_path, eng_path = _tatoeba_paths(root_path, code)
    if not eng_path.is_file():
        raise DataError(
            f"no English side for {code}: looked for {eng_path.name} next to {xx_path.name}", root_path
        )
    pairs = list(read_parallel_files(xx_path, eng_path))
    return [xx for xx, _ in pairs], [eng for _, eng in pairs]


# --- multilingual corpus aligned by id ---------------------------------------------------------------

_CORPUS_SUFFIXES = (".tsv.gz", ".tsv")
# TSV files a corpus folder may hold beside its `<lang>.tsv[.gz]` files: the Bible's table of languages and
# sources, and any name starting with "." or "_" (e.g. `_splits.tsv`)
CORPUS_METADATA_FILES = frozenset({"languages.tsv"})


def _is_corpus_metadata(name: str) -> bool:
    """Return whether a TSV file of a corpus folder is metadata rather than a language's sentences."""
    return name in CORPUS_METADATA_FILES or name.startswith((".", "_"))


# names of data splits: `dev.tsv` or `deu_test.tsv` in a corpus folder is a split, never a language, even
# where the name is also an ISO 639-3 code (dev, val, trn, tst)
_SPLIT_NAMES = frozenset({"train", "trn", "dev", "val", "valid", "validation", "test", "tst", "heldout"})
# a language's sentences in a format the corpus reader does not read (compressed otherwise, or plain text)
_OTHER_TEXT_FORMATS = frozenset({f"{kind}{packed}" for kind in ("tsv", "txt")
                                 for packed in ("", ".gz", ".xz", ".bz2", ".zst", ".zip")} - {"tsv", "tsv.gz"})  # fmt: skip
_RENAME_ADVICE = "rename it, or start its name with '_' if it is not sentences"


def _language_files(root: Path) -> dict[str, Path]:
    """Return {canonical code: file} for the `<lang>.tsv[.gz]` files of `root` (suffixes in any case).

    Any other `.tsv[.gz]` file is a DataError naming it (a typo such as `englsh.tsv` would otherwise drop a
    language without a word), and so is a split file (`dev.tsv`, `deu_test.tsv`: its sentences must not
    train as a language's) and a language's file in another format (`deu.txt`, `fra.tsv.xz`); metadata is
    skipped: `languages.tsv` and names starting with "." or "_".
    """
    files: dict[str, Path] = {}
    for path in sorted(root.iterdir()):
        if not path.is_file() or _is_corpus_metadata(path.name):
            continue
        suffix = next((s for s in _CORPUS_SUFFIXES if path.name.lower().endswith(s)), None)
        if suffix is None:
            _refuse_other_format(path)
            continue
        stem = path.name[: -len(suffix)]
        if _SPLIT_NAMES & set(re.split(r"[-_.]", stem.lower())):
            raise DataError(f"{stem!r} names a data split, not a language: a corpus folder holds one "
                            f"<lang>.tsv[.gz] of sentences per language; {_RENAME_ADVICE}", path)  # fmt: skip
        try:
            code = normalize_language(stem)
        except LanguageCodeError:
            raise DataError(
                f"{stem!r} is not a language code (ISO 639-1 'de', 639-3 'deu' or BCP-47 'de-DE'): corpus "
                f"files are named <lang>.tsv[.gz]; {_RENAME_ADVICE}",
                path,
            ) from None
        if code in files:
            raise DataError(f"two files for language {code}: {files[code].name} and {path.name}", root)
        files[code] = path
    return files


def _refuse_other_format(path: Path) -> None:
    """Return nothing unless `path`, a file of a corpus folder that is not `.tsv[.gz]`, is named like a
    language's sentences (`deu.txt`, `fra.tsv.xz`): then a DataError, since it would be left out unread."""
    stem, _, formats = path.name.partition(".")
    if formats.lower() not in _OTHER_TEXT_FORMATS:
        return  # README.md, deu.tsv.sha256, deu.tsv~, a partial download: not a language's sentences
    try:
        normalize_language(stem)
    except LanguageCodeError:
        return
    raise DataError(f"a file of language {stem!r} that is not <lang>.tsv or <lang>.tsv.gz would be left out "
                    f"unread; convert it to tab-separated id<TAB>sentence lines, or {_RENAME_ADVICE}", path)  # fmt: skip


def _id_filter(ids: Iterable[str] | Callable[[str], bool] | None) -> Callable[[str], bool]:
    """Return a predicate on ids built from None (keep all), a predicate, or a collection of ids."""
    if ids is None:
        return lambda _ident: True
    if isinstance(ids, str):
        # A bare string is a container of characters: "JHN.3.16" in "JHN" semantics would silently mislead.
        raise ConfigError(f"ids must be a collection of ids or a predicate, not the string {ids!r}")
    if callable(ids):
        return ids
    wanted = frozenset(ids)
    return wanted.__contains__


@dataclass
class AlignedCorpus:
    """A folder of `<lang>.tsv[.gz]` files of `id<TAB>text` lines, aligned across languages by id."""

    root: Path
    files: dict[str, Path]
    languages: list[str] = field(init=False)
    _counts: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.languages = sorted(self.files)

    @classmethod
    def from_dir(cls, path: PathLike, languages: Iterable[str] | None = None) -> AlignedCorpus:
        """Return the corpus in folder `path`, restricted to `languages` (any code form) if given."""
        root = Path(path)
        if not root.is_dir():
            raise DataError("corpus folder not found" if not root.exists() else "not a folder", root)
        files = _language_files(root)
        if not files:
            raise DataError("no <lang>.tsv or <lang>.tsv.gz files in corpus folder", root)
        if languages is not None:
            if isinstance(languages, str):
                languages = [languages]
            wanted = [normalize_language(code) for code in languages]
            # a language is kept under its file's code (zh: cmn), which is what its sentences are
            chosen = {
                code: folder_language_code(code, files.__contains__, root, "this corpus") for code in wanted
            }
            missing = sorted(code for code, found in chosen.items() if found is None)
            if missing:
                raise DataError(
                    f"no file for language(s) {', '.join(missing)}; available: {', '.join(sorted(files))}",
                    root,
                )
            files = {found: files[found] for found in chosen.values() if found is not None}
        return cls(root, files)

    def code(self, lang: str) -> str | None:
        """Return the code the corpus keeps `lang` (any code form) under: its own, or its file's (zh: cmn, fil:
        tgl, as in from_dir); None when the corpus lacks it. Two codes of one file give the same code."""
        return folder_language_code(
            normalize_language(lang), self.files.__contains__, self.root, "this corpus"
        )

    def _file(self, lang: str) -> tuple[str, Path]:
        """Return (the code the corpus keeps it under, file) for `lang` (zh finds cmn, as in from_dir); raise
        DataError if the corpus lacks it."""
        code = normalize_language(lang)
        found = self.code(code)
        if found is None:
            raise DataError(
                f"language {code} is not in this corpus; available: {', '.join(self.languages)}", self.root
            )
        return found, self.files[found]

    def sentences(
        self, lang: str, *, skip_bad: bool = False, stats: ReadStats | None = None
    ) -> Iterator[tuple[str, str]]:
        """Return an iterator over the (id, text) pairs of one language, in file order."""
        _, path = self._file(lang)
        return _unique_id_text(path, skip_bad, stats)

    def versification(self) -> dict[str, str]:
        """Return {language: its versification scheme} from the folder's `languages.tsv` (a header naming a
        `lang` and a `versification` column, as the shared Bible's), for this corpus's languages; {} when the
        folder has no such table. A row with too few columns is a DataError naming the line."""
        path = self.root / "languages.tsv"
        if not path.is_file():
            return {}
        lines = decoded_lines(path, None, allow_blank=True)
        header = line_text(next(lines), path).split("\t")
        if "lang" not in header or "versification" not in header:
            return {}
        lang_at, scheme_at = header.index("lang"), header.index("versification")
        schemes: dict[str, str] = {}
        for line in lines:
            text = line_text(line, path)
            if not text.strip():
                continue
            cells = text.split("\t")
            if len(cells) <= max(lang_at, scheme_at):
                raise DataError(f"only {len(cells)} of the header's {len(header)} columns", path, line.number)
            try:  # the table may say `ru` or `zho` where the files are keyed by `rus` and `cmn`
                code = self.code(cells[lang_at].strip())
            except LanguageCodeError:
                continue  # not a language's row
            if code is not None:
                schemes[code] = cells[scheme_at].strip()
        return schemes

    def schemes_of(self, *langs: str) -> list[str]:
        """Return the versification scheme of each of `langs` in any code form (zho finds the row of the
        corpus's cmn, as `code` does); "" where languages.tsv names none."""
        schemes = self.versification()
        return [schemes.get(self.code(lang) or "", "") for lang in langs]

    def count(self, lang: str) -> int:
        """Return the number of sentences of `lang` (read once, then cached)."""
        code, _ = self._file(lang)
        if code not in self._counts:
            self._counts[code] = sum(1 for _ in self.sentences(code))
        return self._counts[code]

    def pairs(
        self,
        src: str,
        tgt: str,
        *,
        ids: Iterable[str] | Callable[[str], bool] | None = None,
        skip_bad: bool = False,
        stats: ReadStats | None = None,
    ) -> Iterator[tuple[str, str, str]]:
        """Return an iterator over (id, src_text, tgt_text) for ids present in both languages, in src order.

        `ids` restricts the join to a collection of ids or to the ids a predicate accepts; `stats`
        counts the lines of both files.
        """
        src_code, src_path = self._file(src)
        tgt_code, tgt_path = self._file(tgt)
        keep = _id_filter(ids)
        # Hold the smaller file in memory; size on disk is a cheap stand-in for the number of lines.
        hold_target = tgt_path.stat().st_size <= src_path.stat().st_size
        return self._join(src_code, tgt_code, keep, hold_target, skip_bad, stats)

    def _join(
        self,
        src: str,
        tgt: str,
        keep: Callable[[str], bool],
        hold_target: bool,
        skip_bad: bool,
        stats: ReadStats | None,
    ) -> Iterator[tuple[str, str, str]]:
        """Return the generator behind pairs()."""
        src_rows = ((i, t) for i, t in self.sentences(src, skip_bad=skip_bad, stats=stats) if keep(i))
        tgt_rows = ((i, t) for i, t in self.sentences(tgt, skip_bad=skip_bad, stats=stats) if keep(i))
        if hold_target:
            held = dict(tgt_rows)
            for ident, text in src_rows:
                other = held.get(ident)
                if other is not None:
                    yield ident, text, other
            return
        # The source is smaller: hold it, keep only the matching target texts, then replay src order.
        held_src = dict(src_rows)
        matched = {ident: text for ident, text in tgt_rows if ident in held_src}
        for ident, text in held_src.items():
            other = matched.get(ident)
            if other is not None:
                yield ident, text, other


def first_unencodable(texts: Iterable[str]) -> int | None:
    """Return the place of the first text UTF-8 cannot encode (a lone surrogate: bytes that were not UTF-8 on
    a command line, or a string built in Python), or None when every one can."""
    for place, text in enumerate(texts):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return place
    return None


def is_blank(text: str) -> bool:
    """Return True for a text of spaces, invisible format characters (U+200B, U+FEFF, U+200D) and control
    characters (U+0001, U+007F) alone: the models read nothing there, and an encoder gave a zero vector for
    it (a search for it ranked every document at 0). `str.strip` leaves the invisible ones."""
    return all(char.isspace() or unicodedata.category(char) in ("Cf", "Cc") for char in text)


def ascii_digits(text: str) -> bool:
    """Return True for a text of one or more ASCII digits: `str.isdigit` also takes `²` (which `int` refuses)
    and other scripts' digits (which it reads), none of which a file's ids and numbers mean."""
    return text.isascii() and text.isdigit()
