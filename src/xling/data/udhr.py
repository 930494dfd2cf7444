"""The Universal Declaration of Human Rights as parallel text: one language paired with another by article.

The Unicode UDHR files (`udhr/<code>.txt.gz`, one paragraph a line) split paragraphs differently from one
translation to the next, so lines do not align. Articles do: each starts with a short heading line holding
its number (`Article 1`, `ข้อ 1`, `Madde 1`, `المادة 1`, in any script's digits). `udhr_pairs` cuts both
files at those headings and pairs articles 1-30 (and the preamble, as one text); an article whose paragraph
counts agree on both sides is paired paragraph by paragraph, else as one text. About 30-100 pairs a language: the
smallest real parallel data there is for hundreds of languages.

An article is kept only when its end is known: the next heading found is the next article (or it is article
30). A heading that was not recognised would otherwise make the article before it swallow the next one (or,
for the last heading found, the rest of the file) and pair two articles' text with one.

Article 30 runs to the end of the file, where some files go on with what is no part of it: credits ("by SPRAT,
Ahmedabad, India [www.sprat.in ...]", "Versiono 1.4 / James Chandler 8-Feb-99."), the title again, a date, an
adoption note. Article 30 ends at the first line after its first paragraph that `_ends_the_declaration`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from pathlib import Path

from xling.data.readers import decoded_lines, line_text
from xling.data.root import data_folder
from xling.errors import DataError

logger = logging.getLogger(__name__)

ARTICLES = 30
# a heading is a short line: "Article 12", "Mataki na goma sha ɗaya (11)"; "第十二条" has no digits and is
# not found. Six words find every article in 312 of the 388 files (four: 289), the same lines where four did
HEADING_CHARS, HEADING_WORDS = 40, 6


def udhr_folder(data: str | Path | None) -> Path:
    """Return the UDHR folder inside the data root `data` (see xling.data.root)."""
    return data_folder(
        data, "udhr", "UDHR files (<code>.txt.gz)", lambda folder: any(folder.glob("*.txt.gz"))
    )


def udhr_file(folder: Path, lang: str) -> Path:
    """Return the UDHR file of `lang` (a file stem such as `arb`, `tha`, `cmn_hans`) in `folder`."""
    path = folder / f"{lang}.txt.gz"
    if not path.is_file():
        raise DataError(f"no UDHR text for {lang!r} (looked for {path.name})", folder)
    return path


# the Unicode UDHR files mark a paragraph no one has translated yet as `[Missing 15.2]` (21 of them)
_PLACEHOLDER = re.compile(r"\s*\[Missing [\d.]+\]\s*")


def is_placeholder(line: str) -> bool:
    """Return whether a UDHR line stands for a paragraph missing from the translation (`[Missing 15.2]`)."""
    return _PLACEHOLDER.fullmatch(line) is not None


def read_udhr_articles(path: Path) -> dict[int, list[str]]:
    """Return {article number: its paragraphs} with 0 for the preamble (the lines before article 1, less
    the title and the preamble's own heading); {} when no article headings are found."""
    # strict reading: bad UTF-8 or a broken gzip stream is a DataError naming the file and line
    lines = [text.strip() for line in decoded_lines(path, None)
             if (text := line_text(line, path)).strip() and not is_placeholder(text)]  # fmt: skip
    headings = _headings(lines)
    if not headings:
        return {}
    starts = sorted(headings.items(), key=lambda item: item[1])
    articles: dict[int, list[str]] = {}
    if starts[0][0] == 1:  # else article 1's heading was missed and its text sits in the preamble's place
        preamble = lines[: starts[0][1]]
        leading = next((i for i, line in enumerate(preamble) if not _is_heading_like(line)), len(preamble))
        articles[0] = preamble[leading:]  # less the title and the preamble's heading
    for (number, start), (following, end) in zip(
        starts, [*starts[1:], (ARTICLES + 1, len(lines))], strict=True
    ):
        if following == number + 1:
            articles[number] = lines[start + 1 : end]
    if articles.get(ARTICLES):  # the last article, when it has text: it runs to the end of the file
        first, *rest = articles[ARTICLES]
        ends = next((i for i, line in enumerate(rest) if _ends_the_declaration(line)), len(rest))
        articles[ARTICLES] = [first, *rest[:ends]]
    return {number: paragraphs for number, paragraphs in articles.items() if paragraphs}


def udhr_pairs(folder: Path, lang: str, pivot: str = "eng") -> list[tuple[str, str]]:
    """Return (pivot text, lang text) pairs of the articles both UDHR files have (see the module docstring)."""
    ours, theirs = read_udhr_articles(udhr_file(folder, pivot)), read_udhr_articles(udhr_file(folder, lang))
    shared = len(set(ours) & set(theirs) - {0})
    if shared < ARTICLES:
        logger.warning("UDHR %s: %d of the %d articles found in both %s and %s (headings not recognised); "
                       "only those are paired", lang, shared, ARTICLES, pivot, lang)  # fmt: skip
    pairs: list[tuple[str, str]] = []
    for number in sorted(set(ours) & set(theirs)):
        a, b = ours[number], theirs[number]
        # the preamble's paragraphs do not correspond even when their counts agree (a title, an adoption
        # note or a short closing line on one side only), so it is one pair
        if len(a) == len(b) and number > 0:
            pairs.extend(zip(a, b, strict=True))
        else:
            pairs.append((" ".join(a), " ".join(b)))
    return pairs


def _numbers(line: str) -> list[int]:
    """Return the numbers written in `line` with decimal digits of any script."""
    spaced = "".join(str(unicodedata.digit(c)) if unicodedata.category(c) == "Nd" else " " for c in line)
    return [int(x) for x in spaced.split()]


def _is_heading_like(line: str) -> bool:
    return len(line) <= HEADING_CHARS and len(line.split()) <= HEADING_WORDS


# a web or e-mail address; a number of two digits or more, in any script (a year, a date, a page)
_ADDRESS = re.compile(r"https?://|www\.|\w@\w", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{2}")


def _ends_the_declaration(line: str) -> bool:
    """Return whether `line`, after article 30's first paragraph, is no part of the article: it holds a web or
    e-mail address, or a number of two digits or more (a year, a date: the article has none, in any of the
    388 files), or it is a short line, as a heading is, that does not end on a punctuation mark (a title, a
    heading such as "Translated by (a lopukö ko)" or "Авторы перевода", a version "Versiono 1.4").

    Lines that wrap the article's own text are longer, or end the article with its full stop ("ananipa.")."""
    if _ADDRESS.search(line) or _LONG_NUMBER.search(line):
        return True
    return _is_heading_like(line) and unicodedata.category(line[-1]) != "Po"


def _headings(lines: list[str]) -> dict[int, int]:
    """Return {article number: line index} of the heading lines, numbers rising one (or two) at a time."""
    found: dict[int, int] = {}
    expected = 1
    for index, line in enumerate(lines):
        if expected > ARTICLES or not _is_heading_like(line):
            continue
        numbers = _numbers(line)
        # French numbers its first article "Article premier": a missing 1 is skipped, never a later one
        if len(numbers) == 1 and numbers[0] in (expected, expected + 1):
            found[numbers[0]] = index
            expected = numbers[0] + 1
    return found
