"""Documents for the search index: text, language, an optional stable id and metadata, read from a file.

Accepted files (plain or `.gz`, UTF-8, one document per line, no blank lines):

- text lines, when the language of every line is given (`--lang` on the command line);
- `lang<TAB>text` lines;
- a TSV whose first line is a header naming its columns, text last: `id<TAB>lang<TAB>text`,
  `lang<TAB>text`, `id<TAB>text` (with a given language) or `text`; the text is everything after the
  last named column's tab, so a text may itself hold tabs;
- JSON Lines (a name ending in `.jsonl` or `.jsonl.gz`): one object per line with `text`, `lang` (optional
  with a given language, which it overrides), `id` (a string or an integer) and `metadata` (an object).

The `id` is the document's stable id in the index: adding a document whose id is already there is a
duplicate (see SearchIndex.add). Without one, the index derives it from the language and the text.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xling.data.languages import normalize_language
from xling.data.readers import is_blank, json_object_line, read_lines
from xling.errors import DataError

__all__ = ["HEADERS", "Document", "read_documents"]

logger = logging.getLogger(__name__)

HEADERS = ("id\tlang\ttext", "lang\ttext", "id\ttext", "text")  # header lines a TSV may start with
JSON_FIELDS = frozenset({"id", "lang", "text", "metadata"})
# stripped from a TSV line's ends, but not its tabs: a leading tab is an empty first field (an empty id)
_LINE_ENDS = " \r\n\u00a0\ufeff"


@dataclass(frozen=True)
class Document:
    """One document to index."""

    text: str
    """The text, stripped of surrounding whitespace; never empty."""
    language: str
    """Its canonical ISO 639-3 language code."""
    id: str | None = None
    """Its stable id (unique in an index), or None to let the index derive one from language and text."""
    metadata: dict[str, Any] | None = None
    """JSON-serialisable fields stored with the document and returned with each hit."""


def read_documents(path: str | os.PathLike[str], lang: str | None = None) -> list[Document]:
    """Return the documents of a file (see the module docstring); `lang` is the language of every line.

    A bad line is a DataError (or LanguageCodeError) naming `path:line`.
    """
    path = Path(path)
    language = None if lang is None else normalize_language(lang, where="lang")
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        return [_json_document(line, language, path, n) for n, line in enumerate(read_lines(path), 1)]
    documents: list[Document] = []
    columns = ("text",) if language is not None else ("lang", "text")
    for number, line in enumerate(read_lines(path, _LINE_ENDS), start=1):
        if number == 1 and line.strip().lower() in HEADERS:
            line = line.strip()
            columns = tuple(line.lower().split("\t"))
            if "lang" not in columns and language is None:
                raise DataError(f"header {line!r} has no lang column: pass the language (--lang)", path, 1)
            if (
                "\t" not in line and ".tsv" not in path.name.lower()
            ):  # a plain file's first line may be a document
                logger.warning("%s:1: %r is taken as the header line, not a document", path, line)
            continue
        documents.append(_tsv_document(line, columns, language, path, number))
    return documents


def _tsv_document(line: str, columns: tuple[str, ...], lang: str | None, path: Path, number: int) -> Document:
    """Return the Document of one TSV line whose fields are `columns` (text last)."""
    fields = line.split("\t", len(columns) - 1)
    if len(fields) != len(columns):
        expected = "<TAB>".join(columns)
        hint = "" if lang is not None else " (or pass --lang for a plain text file)"
        raise DataError(f"expected {expected}{hint}", path, number)
    row = dict(zip(columns, (field.strip() for field in fields), strict=True))
    where = f"{path}:{number}"
    code = normalize_language(row["lang"], where=where) if "lang" in row else lang
    if "id" in row and not row["id"]:
        raise DataError("empty id", path, number)
    return Document(_text(row["text"], path, number), str(code), row.get("id"), None)


def _json_document(line: str, lang: str | None, path: Path, number: int) -> Document:
    """Return the Document of one JSON Lines line."""
    item = json_object_line(line, path, number)
    unknown = sorted(set(item) - JSON_FIELDS)
    if unknown:
        raise DataError(
            f"unknown field(s) {', '.join(unknown)}; expected {sorted(JSON_FIELDS)}", path, number
        )
    text = item.get("text")
    if not isinstance(text, str):
        raise DataError(f"field 'text' must be a string, got {text!r}", path, number)
    code = item.get("lang", lang)
    if code is None:
        raise DataError("no 'lang' field (or pass the language of every line: --lang)", path, number)
    if not isinstance(code, str):
        raise DataError(f"field 'lang' must be a string, got {code!r}", path, number)
    ident = item.get("id")
    if (
        isinstance(ident, bool)
        or not isinstance(ident, str | int | None)
        or (isinstance(ident, str) and not ident.strip())
    ):
        raise DataError(f"field 'id' must be a non-empty string or an integer, got {ident!r}", path, number)
    metadata = item.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise DataError(f"field 'metadata' must be an object, got {type(metadata).__name__}", path, number)
    code = normalize_language(code, where=f"{path}:{number}")
    return Document(_text(text, path, number), code, None if ident is None else str(ident), metadata)


def _text(text: str, path: Path, number: int) -> str:
    """Return `text` stripped; raise DataError if nothing is left (invisible characters alone count as
    nothing: a zero-sized vector was indexed for U+200B)."""
    if is_blank(text):
        raise DataError("empty text", path, number)
    return text.strip()
