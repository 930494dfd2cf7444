"""Language identification of a file: one text per line in, one answer per line out (`label<TAB>probability`,
a JSON object, or the line's language spans), written atomically (a crash leaves the earlier output, never
half of a new one). The line formats are `xling detect`'s for TEXT arguments too."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xling.artifacts import json_line
from xling.atomic import atomic_write, writable_file
from xling.data.readers import decoded_lines, line_text, require_file
from xling.errors import ConfigError, DataError
from xling.langid.model import LanguageIdentifier, Prediction
from xling.langid.spans import Span, language_spans

__all__ = ["DetectFileReport", "detect_file", "format_predictions", "format_spans"]


@dataclass
class DetectFileReport:
    """What `detect_file` did."""

    lines: int
    seconds: float
    rows: list[str] = field(default_factory=list)
    """The output lines, when no output file was given."""


def detect_file(identifier: LanguageIdentifier, input: str | Path, output: str | Path | None = None, *,
                k: int = 1, threshold: float | None = None, batch_size: int = 1024,
                progress: bool = False, languages: Sequence[str] | None = None, as_json: bool = False,
                spans: bool = False, write: Callable[[str], object] | None = None) -> DetectFileReport:  # fmt: skip
    """Return a report after labelling every line of `input` (a blank line gets `und`); output line i is the
    answer for input line i: `label<TAB>probability`, k pairs with k > 1 (a line with fewer candidates, as
    `und` or a script few labels have, ends in empty pairs, so every row has 2k columns), with `as_json` a
    JSON object (`format_predictions`), with `spans` the line's language spans (`format_spans`: a JSON list with
    `as_json`; `k` does not apply). `languages` restricts the answers (see LanguageIdentifier.predict). A
    line that is not UTF-8 is a DataError naming it, raised before anything is written. Without `output`,
    `write` receives each line as it is ready (stdout: a file of any size is never held whole), else the
    report's `rows` hold them."""
    if batch_size < 1:
        raise ConfigError(f"batch_size: {batch_size} must be at least 1")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:  # said before the work, not at the first batch
        raise ConfigError(f"k: {k!r} must be at least 1 (a whole number)")
    # columns for the labels an answer may hold, not for a --k beyond them (10**9 empty pairs a line)
    columns = min(k, identifier.label_count(languages))
    path = require_file(input)
    if output is not None:
        output = writable_file(output, [path])  # checked before the work, which a bad path would waste
    total = _count_lines(path)  # a line that is not UTF-8 stops here, before any work
    start = time.perf_counter()
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(stderr=True))  # stdout may be the data (a pipe)
        bar.start()
        task = bar.add_task("detecting", total=total)

    def answers() -> Iterator[str]:
        """The output lines, batch by batch: a file of any size is never held whole."""
        for batch in _batches(path, batch_size):
            if spans:
                for text in batch:
                    found = language_spans(identifier, text, languages=languages, threshold=threshold)
                    yield format_spans(found, as_json=as_json)
            else:
                predicted = identifier.predict(batch, k=k, threshold=threshold, languages=languages)
                for text, top in zip(batch, predicted, strict=True):
                    yield format_predictions(text, top, as_json=as_json, k=columns)
            if bar is not None:
                bar.update(task, advance=len(batch))

    try:
        if output is None and write is not None:
            count = 0
            for row in answers():
                write(row)
                count += 1
            return DetectFileReport(count, time.perf_counter() - start)
        if output is None:
            rows = list(answers())
            return DetectFileReport(len(rows), time.perf_counter() - start, rows)
        written = 0
        try:
            with atomic_write(output) as handle:
                for row in answers():
                    handle.write(row + "\n")
                    written += 1
        except OSError as error:
            raise DataError(f"cannot write the answers: {error.strerror or error}", output) from error
    finally:
        if bar is not None:
            bar.stop()
    return DetectFileReport(written, time.perf_counter() - start)


def format_predictions(
    text: str, top: Sequence[Prediction], *, as_json: bool = False, digits: int = 4, k: int = 1
) -> str:
    """Return one text's answer as one line: `label<TAB>probability` pairs, at least `k` of them (the ones
    missing, after an `und` or where the text's script leaves fewer labels, as empty fields: `und<TAB>0.0000`
    then k - 1 pairs of empty label and probability), or with `as_json` the object
    `{"text": ..., "predictions": [{"language": ..., "probability": ...}, ...]}` (never padded)."""
    if as_json:
        return json_line({"text": text, "predictions": [p.to_dict() for p in top]})
    # every row of a --k file has 2k columns: a TSV reader (pandas, csv, cut -f) keeps them aligned, empty
    # fields read as missing values
    pairs = [f"{p.label}\t{p.probability:.{digits}f}" for p in top]
    return "\t".join(pairs + ["\t"] * (k - len(pairs)))


def format_spans(found: Sequence[Span], *, as_json: bool = False) -> str:
    """Return one text's language spans as one line: `[label] text` per span, two spaces apart (a blank
    text's empty `und` span: `[und]`), or with `as_json` the JSON list of the spans' objects."""
    if as_json:
        return json_line([span.to_dict() for span in found])
    # a line break inside a span (\r, U+2028: one input line to `open`, several to splitlines) would shift
    # every later output line
    return "  ".join(f"[{span.label}] {' '.join(span.text.splitlines())}".rstrip() for span in found)


def _texts(path: Path) -> Iterator[str]:
    """Return an iterator over the lines of `path`; a file of blank lines only is its blank lines (each gets
    `und`), an empty file or a line that is not UTF-8 a DataError."""
    return (line_text(line, path) for line in decoded_lines(path, None, allow_blank=True))


def _count_lines(path: Path) -> int:
    """Return the number of lines of `path` (`_texts`' errors raised)."""
    return sum(1 for _ in _texts(path))


def _batches(path: Path, size: int) -> Iterator[list[str]]:
    """Return the lines of `path` in lists of `size` (the last shorter)."""
    lines = _texts(path)
    while batch := list(itertools.islice(lines, size)):
        yield batch
