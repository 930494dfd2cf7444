"""Language identification of a file: one text per line in, `label<TAB>probability` per line out, written
atomically (a crash leaves the earlier output, never half of a new one)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from xling.atomic import atomic_write
from xling.data.readers import decoded_lines, line_text, require_file
from xling.errors import ConfigError
from xling.langid.model import LanguageIdentifier

__all__ = ["DetectFileReport", "detect_file"]


@dataclass
class DetectFileReport:
    """What `detect_file` did."""

    lines: int
    seconds: float
    rows: list[str] = field(default_factory=list)
    """The output lines, when no output file was given."""


def detect_file(identifier: LanguageIdentifier, input: str | Path, output: str | Path | None = None, *,
                k: int = 1, threshold: float | None = None, batch_size: int = 1024,
                progress: bool = False, languages: Sequence[str] | None = None) -> DetectFileReport:  # fmt: skip
    """Return a report after labelling every line of `input` (a blank line gets `und`); output line i is
    `label<TAB>probability` (k pairs with k > 1) for input line i; `languages` restricts the answers (see
    LanguageIdentifier.predict). A line that is not UTF-8 is a DataError naming it, raised before anything
    is written."""
    if batch_size < 1:
        raise ConfigError(f"batch_size: {batch_size} must be at least 1")
    path = require_file(input)
    texts = _lines(path)
    start = time.perf_counter()
    rows: list[str] = []
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress()
        bar.start()
        task = bar.add_task("detecting", total=len(texts))
    for first in range(0, len(texts), batch_size):
        batch = texts[first : first + batch_size]
        for top in identifier.predict(batch, k=k, threshold=threshold, languages=languages):
            rows.append("\t".join(f"{p.label}\t{p.probability:.4f}" for p in top))
        if bar is not None:
            bar.update(task, advance=len(batch))
    if bar is not None:
        bar.stop()
    seconds = time.perf_counter() - start
    if output is None:
        return DetectFileReport(len(rows), seconds, rows)
    with atomic_write(output) as handle:
        handle.write("".join(row + "\n" for row in rows))
    return DetectFileReport(len(rows), seconds)


def _lines(path: Path) -> list[str]:
    """Return the lines of `path`; a file of blank lines only is its blank lines (each gets `und`), an empty
    file or a line that is not UTF-8 a DataError."""
    return [line_text(line, path) for line in decoded_lines(path, None, allow_blank=True)]
