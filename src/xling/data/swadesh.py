"""PanLex Swadesh 207 lists as a seed dictionary: line N of two languages' files names the same concept.

`swadesh/swadesh207/<code>-000.txt` holds a language's main variety, one concept a line, synonyms
tab-separated, an empty line where no word is known. Joining two lists line by line gives about 200 word
pairs of basic vocabulary (`I`, `water`, `sun`, `to eat`) for any of 776 varieties.
"""

from __future__ import annotations

from pathlib import Path

from xling.data.readers import decoded_lines, line_text
from xling.data.root import data_folder
from xling.errors import DataError


def swadesh_folder(data: str | Path | None) -> Path:
    """Return the folder of the `<code>-000.txt` lists inside the data root `data` (see xling.data.root)."""
    root = data_folder(data, "swadesh", "Swadesh lists (swadesh207/<code>-000.txt)",
                       lambda folder: (folder / "swadesh207").is_dir() or any(folder.glob("*-000.txt")))  # fmt: skip
    return swadesh_lists(root)


def swadesh_lists(folder: Path) -> Path:
    """Return the folder of the lists in `folder`: its `swadesh207/` when it has one (PanLex's layout), else
    `folder` itself."""
    return folder / "swadesh207" if (folder / "swadesh207").is_dir() else folder


def concept_words(line: str) -> list[str]:
    """Return the words of one concept's line (synonyms tab-separated): "etc." dropped, and affixes (`-ler`)
    and entries without a letter left out, since a sentence contains neither."""
    words = (word.replace("etc.", "").strip() for word in line.split("\t"))
    return [word for word in words if word and not word.startswith("-") and any(c.isalpha() for c in word)]


def swadesh_file(folder: Path, lang: str) -> Path:
    """Return the path of `lang`'s main variety's list in `folder`; a DataError when there is none."""
    path = folder / f"{lang}-000.txt"
    if not path.is_file():
        raise DataError(f"no Swadesh list for {lang!r} (looked for {path.name})", folder)
    return path


def read_swadesh_list(folder: Path, lang: str) -> list[list[str]]:
    """Return the words of each concept (a list of synonyms, maybe empty) of `lang`'s main variety."""
    path = swadesh_file(folder, lang)
    concepts = []
    for numbered in decoded_lines(path, None):  # line N is concept N; bad UTF-8 names its line
        concepts.append(concept_words(line_text(numbered, path)))
    return concepts


def swadesh_pairs(folder: Path, lang: str, pivot: str = "eng") -> list[tuple[str, str]]:
    """Return the distinct (pivot word, lang word) pairs of the concepts both lists have."""
    pairs: dict[tuple[str, str], None] = {}
    for ours, theirs in zip(read_swadesh_list(folder, pivot), read_swadesh_list(folder, lang), strict=False):
        for word in theirs:
            for meaning in _plain_words(ours)[:1]:  # the first plain word names the concept
                pairs.setdefault((meaning, word), None)
    return list(pairs)


def _plain_words(words: list[str]) -> list[str]:
    """Return the words made of letters only (PanLex glosses such as `1 sg.` or `2 pl.` left out)."""
    return [w for w in words if all(c.isalpha() or c in " '-" for c in w)]
