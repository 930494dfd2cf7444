"""Labelled texts for classification: `text<TAB>label` TSV, JSONL, and the UMSAB (XLM-T) folder layout.

Every reader returns a `LabelledTexts` (texts and their label names, where they came from, the language as
an ISO 639-3 code when known) and reports bad input as a DataError naming the file and the 1-based line:
a TSV line without a tab or with another number of fields than the header's (or the first data line's,
without one), a JSONL line that is not a JSON object with "text" and "label", an empty text or
label, label and text files of different lengths. Blank lines of TSV and JSONL files are skipped; each
example keeps the line it was read from (`LabelledTexts.lines`), so that later errors about it (a label the
classifier does not know) name that line, not its position among the examples.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xling.data.languages import language_code_of, language_name, normalize_language
from xling.data.readers import (
    PathLike,
    decoded_lines,
    folder_language_code,
    json_object_line,
    line_text,
    require_file,
)
from xling.errors import DataError, LanguageCodeError

__all__ = ["SPLITS", "UMSAB_LABELS", "LabelledTexts", "read_labelled", "read_umsab", "umsab_languages"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
"""The splits of the UMSAB layout (`dev` is accepted as another name of `val`)."""
UMSAB_LABELS: dict[str, str] = {"0": "negative", "1": "neutral", "2": "positive"}
"""UMSAB's label file values and their names (the TweetEval convention)."""
# a first TSV line of column names (pandas' to_csv writes one): skipped, never read as a text with label "label"
HEADER_TEXTS = frozenset({"text", "texts", "sentence", "review", "tweet", "document"})
HEADER_LABELS = frozenset({"label", "labels", "class", "sentiment", "category", "target"})
# a header's other columns may only name an id (pandas writes its index with an empty name): dropped, so that a
# header `id<TAB>text<TAB>label` reads its text column, not "1<TAB>great film"
HEADER_IDS = frozenset({"id", "idx", "index", ""})
# a TSV of at least this many lines whose every label is different has its columns swapped, not classes
SWAPPED_MIN_LINES = 10

# XLM-T's export left some characters as literal escapes (`\u2019`, even `\u002c` for a comma)
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def example_line(lines: Sequence[int] | None, index: int) -> int | None:
    """Return the file line of example `index` (`LabelledTexts.lines`), None when it is not known."""
    return lines[index] if lines and 0 <= index < len(lines) else None


@dataclass
class LabelledTexts:
    """Texts with one label name each, e.g. a split of a sentiment data set."""

    texts: list[str]
    """The texts, none empty."""
    labels: list[str]
    """The label of each text (a name such as "positive"; numeric labels are kept as strings)."""
    source: str
    """Where they came from (a file, or the UMSAB text file), for messages and reports."""
    language: str | None = None
    """ISO 639-3 code of the texts' language, when known."""
    files: tuple[Path, ...] = ()
    """The files the texts were read from (a UMSAB split: its text and labels files), which a training run
    fingerprints so that a resume notices an edit; none for texts made in memory."""
    lines: list[int] = dataclasses.field(default_factory=list)
    """The 1-based line of `source` each example was read from (a UMSAB split: the line of its text and its
    label); empty for texts made in memory."""

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise DataError(f"{len(self.texts)} texts but {len(self.labels)} labels", self.source)
        if self.lines and len(self.lines) != len(self.texts):
            raise DataError(f"{len(self.texts)} texts but {len(self.lines)} lines", self.source)

    def __len__(self) -> int:
        return len(self.texts)

    def line(self, index: int) -> int | None:
        """Return the line example `index` was read from, None when unknown (texts made in memory)."""
        return example_line(self.lines, index)

    @property
    def label_set(self) -> list[str]:
        """Return the distinct labels, sorted."""
        return sorted(set(self.labels))

    def counts(self) -> dict[str, int]:
        """Return how many texts each label has, labels sorted."""
        return {label: self.labels.count(label) for label in self.label_set}


def read_labelled(path: PathLike, language: str | None = None) -> LabelledTexts:
    """Return the labelled texts of a `.tsv` (text<TAB>label) or `.jsonl` ({"text", "label"}) file.

    A `.gz` suffix after either is read compressed. A TSV's first line of column names (`text<TAB>label`,
    `sentence<TAB>class`, `id<TAB>text<TAB>label`, ...) is skipped with a warning, and the lines are read by
    those columns (an id column dropped), every line with as many fields as the header (else a DataError names
    it). Without one, the label is the field after each line's last tab, tabs before it part of the text.
    `language` (any code form) is stored normalised. A JSONL label may be a string or an integer.
    """
    file = require_file(path)
    name = file.name.lower().removesuffix(".gz")
    code = normalize_language(language, where=f"the language of {file}") if language else None
    if name.endswith(".tsv"):
        texts, labels, lines = _read_tsv(file)
    elif name.endswith(".jsonl"):
        texts, labels, lines = _read_jsonl(file)
    else:
        raise DataError("unknown labelled-data format: expected a .tsv (text<TAB>label) or .jsonl file", file)
    if not texts:
        raise DataError("no labelled texts in the file", file)
    return LabelledTexts(texts, labels, str(file), code, (file,), lines)


def _content_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Return an iterator over (1-based number, text) of the non-blank lines of `path`."""
    for line in decoded_lines(path, None):
        raw = line_text(line, path)
        if raw.strip():
            yield line.number, raw


@dataclass(frozen=True)
class _Columns:
    """Where a TSV's text and label are: the layout its header or its first data line sets."""

    count: int
    """How many tab-separated fields each line has."""
    text: int | None
    """The text column's index; None when the text is every field before the label (no header)."""
    label: int
    """The label column's index."""
    line: int
    """The line the layout was taken from, for messages."""
    names: tuple[str, ...] = ()
    """The header's column names; none when the first data line set the layout."""

    def describe(self) -> str:
        """Return where the column count comes from and what the columns are, for messages."""
        if self.names:
            return f"the header on line {self.line} has {self.count} ({'<TAB>'.join(self.names)})"
        return f"line {self.line}, the first, has {self.count} (the text, then the label after the last tab)"


def _tsv_fields(raw: str, count: int) -> list[str]:
    """Return the tab-separated fields of `raw`, empty ones at its end dropped down to `count` fields."""
    # tabs at the end (a spreadsheet's empty last column) are no column; a line with no more fields than the
    # layout keeps them, so that its empty label is the error
    fields = raw.split("\t")
    while len(fields) > count and not fields[-1]:
        fields.pop()
    return fields


def _header_columns(fields: Sequence[str], number: int) -> _Columns | None:
    """Return the layout a first line of column names sets (`text<TAB>label`, `id<TAB>text<TAB>label`, in any
    order), None when the line is not one."""
    names = [field.strip().lower() for field in fields]
    texts = [i for i, name in enumerate(names) if name in HEADER_TEXTS]
    labels = [i for i, name in enumerate(names) if name in HEADER_LABELS]
    others = [name for i, name in enumerate(names) if i not in texts and i not in labels]
    if len(texts) != 1 or len(labels) != 1 or not all(name in HEADER_IDS for name in others):
        return None
    return _Columns(len(fields), texts[0], labels[0], number, tuple(field.strip() for field in fields))


def _read_tsv(path: Path) -> tuple[list[str], list[str], list[int]]:
    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    columns: _Columns | None = None
    for number, raw in _content_lines(path):
        fields = _tsv_fields(raw, columns.count if columns else 2)
        if len(fields) == 1 and (columns is None or columns.count == 2):
            raise DataError("expected text<TAB>label, found no tab", path, number)
        if columns is None:
            columns = _header_columns(fields, number)
            if columns is not None:
                logger.warning("%s:%d: %r is read as a header line and skipped", path, number, raw)
                continue
            # no header: the label after each line's last tab, any tab before it part of the text
            columns = _Columns(2, None, -1, number)
        if columns.text is not None and len(fields) != columns.count:
            # under a header, a tab inside a text or a missing column leaves no way to tell which is the text
            raise DataError(f"{len(fields)} tab-separated fields where {columns.describe()}", path, number)
        text = "\t".join(fields[:-1]) if columns.text is None else fields[columns.text]
        texts.append(_checked_text(text, path, number))
        labels.append(_checked_label(fields[columns.label], path, number))
        lines.append(number)
    # a label of its own on every line, and texts that repeat as labels do: the columns are the other way round
    # (a few-shot file of one example per intent has distinct texts too, and stays allowed)
    if (
        len(labels) >= SWAPPED_MIN_LINES
        and len(set(labels)) == len(labels)
        and len(set(texts)) <= len(texts) / 2
    ):
        raise DataError(f"each of the {len(labels)} lines has a label of its own ({labels[0]!r}, {labels[1]!r}, "
                        "...): are the columns swapped? expected text<TAB>label, the label after the last tab",
                        path)  # fmt: skip
    return texts, labels, lines


def _read_jsonl(path: Path) -> tuple[list[str], list[str], list[int]]:
    texts: list[str] = []
    labels: list[str] = []
    lines: list[int] = []
    for number, raw in _content_lines(path):
        record = json_object_line(raw, path, number)
        for field in ("text", "label"):
            if field not in record:
                raise DataError(f'missing field "{field}" (expected {{"text": ..., "label": ...}})',
                                path, number)  # fmt: skip
        text, label = record["text"], record["label"]
        if not isinstance(text, str):
            raise DataError(f'"text" must be a string, found {type(text).__name__}', path, number)
        if isinstance(label, bool) or not isinstance(label, str | int):
            raise DataError(f'"label" must be a string or an integer, found {label!r}', path, number)
        texts.append(_checked_text(text, path, number))
        labels.append(_checked_label(str(label), path, number))
        lines.append(number)
    return texts, labels, lines


def _checked_text(text: str, path: Path, number: int) -> str:
    if not text.strip():
        raise DataError("empty text", path, number)
    return text.strip()


def _checked_label(label: str, path: Path, number: int) -> str:
    label = label.strip()
    if not label:
        raise DataError("empty label", path, number)
    return label


POOLED_FOLDERS = frozenset({"all"})
"""Folders of the UMSAB layout that pool every language (cardiffnlp/xlm-t's `all/`): no one language, and
`all` is also an ISO 639-3 code (Allar), so it would pass for one."""


def umsab_split(split: str) -> str:
    """Return UMSAB's name of a split: `val` for dev, as its files are named (`val_text.txt`)."""
    return "val" if split == "dev" else split


def umsab_languages(root: PathLike, split: str | None = None) -> list[str]:
    """Return the language folder names of a UMSAB-layout folder, sorted, without the pooled ones; with
    `split`, only those holding that split (a warning names the others: the shared copy's italian and
    portuguese have no test split)."""
    names = sorted(p.name for p in Path(root).iterdir() if p.is_dir() and p.name not in POOLED_FOLDERS)
    if split is None:
        return names
    split = umsab_split(split)
    held = [name for name in names if (Path(root) / name / f"{split}_text.txt").is_file()]
    if len(held) < len(names):
        logger.warning(
            "%s: %s without a %s split, left out", root, ", ".join(sorted(set(names) - set(held))), split
        )
    return held


def read_umsab(
    root: PathLike, language: str, split: str, label_names: Mapping[str, str] | None = UMSAB_LABELS
) -> LabelledTexts:
    """Return one split of one language of a UMSAB-layout folder: `root/<language>/<split>_{text,labels}.txt`.

    `language` is the folder name ("english") or any code of it ("en", "eng"); `split` is train, val (or
    dev) or test. Line i of the label file labels line i of the text file; files of different lengths are a
    DataError naming both. Labels are mapped through `label_names` (default 0/1/2 -> negative/neutral/
    positive; a value outside it is an error); None keeps them as written. Literal `\\uXXXX` escapes that
    the XLM-T export left in some texts are decoded.
    """
    base = Path(root)
    if not base.is_dir():
        raise DataError("not a folder (expected <language>/{train,val,test}_{text,labels}.txt inside)", base)
    split = umsab_split(split)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}: expected train, val (or dev) or test", base)
    folder, code = language_folder(base, language)
    text_path, label_path = folder / f"{split}_text.txt", folder / f"{split}_labels.txt"
    texts = [line_text(line, text_path) for line in decoded_lines(require_file(text_path), None)]
    labels = [line_text(line, label_path) for line in decoded_lines(require_file(label_path), None)]
    if len(texts) != len(labels):
        raise DataError(f"{label_path} has {len(labels)} lines but {text_path} has {len(texts)}; "
                        "line i of the label file must label line i of the text file")  # fmt: skip
    out_texts, out_labels = [], []
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        out_texts.append(
            _checked_text(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text), text_path, number)
        )
        label = _checked_label(label, label_path, number)
        if label_names is not None:
            if label not in label_names:
                known = ", ".join(label_names)
                raise DataError(f"unknown label {label!r} (expected one of {known})", label_path, number)
            label = label_names[label]
        out_labels.append(label)
    return LabelledTexts(out_texts, out_labels, str(text_path), code, (text_path, label_path),
                         list(range(1, len(out_texts) + 1)))  # fmt: skip


def language_folder(root: Path, language: str) -> tuple[Path, str | None]:
    """Return (the folder of `language` under root, its ISO 639-3 code when known)."""
    if (root / language).is_dir():
        return root / language, language_code_of(language)
    try:
        code = normalize_language(language)
    except LanguageCodeError:
        code = None
    if code is not None:
        folder = root / language_name(code).split(";")[0].split(" (")[0].lower()
        if folder.is_dir():
            return folder, code
        # a member under its macrolanguage's folder, as every corpus reader resolves it (arb: `arabic`, the
        # macrolanguage standing for it; not ary, another member)
        codes = {
            other: p for p in sorted(root.iterdir()) if p.is_dir() and (other := language_code_of(p.name))
        }
        found = folder_language_code(code, codes.__contains__, root, "UMSAB")
        if found is not None:
            return codes[found], code
    present = sorted(p.name for p in root.iterdir() if p.is_dir())
    raise DataError(f"no folder for language {language!r} (there are: {', '.join(present) or 'none'})", root)
