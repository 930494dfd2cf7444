"""Where the evaluation and training data live: one rule for every command that takes `--data`.

The data root is `--data` when given, else $XLING_DATA, else `../shared/data` relative to the current
directory. A command then looks for its folder (tatoeba/, bible/, ...) in the root, or takes the root
itself when it already is that folder. Errors say which root was tried, where it came from, and how to
point elsewhere.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xling.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_DATA",
    "ENV_VAR",
    "TEST_SET_FILES",
    "DataRoot",
    "bible_folder",
    "check_not_test_set",
    "data_folder",
    "data_root",
]

DEFAULT_DATA = "../shared/data"
ENV_VAR = "XLING_DATA"
TEST_SET_FILES = (
    "tatoeba.*-eng.*",  # Tatoeba (XTREME's test pairs)
    "newstest2019-src.*",  # NTREX-128
    "newstest2019-ref*",
    "*-ud-test.conllu*",  # UD treebanks' test splits
    "test_text.txt",  # UMSAB's test tweets
    "test_labels.txt",
    "*.test.*-*.tsv",  # BLI test dictionaries (xling-eval: yacle.test.freq.2k.en-de.tsv)
    "*-*.5000-6500.txt",  # MUSE's test dictionaries (en-de.5000-6500.txt; its train split is 0-5000)
)
"""File name patterns of the evaluation-only test sets in the data root's layout (see its README)."""


@dataclass(frozen=True)
class DataRoot:
    """A data root folder and where it came from."""

    path: Path
    """The folder, absolute."""
    given: str
    """What named it: "--data", "$XLING_DATA" or "the default"."""
    text: str
    """The text it was named by (relative paths are relative to the current directory)."""

    def describe(self) -> str:
        """Return a clause saying which folder this is and why, e.g. for an error message."""
        if self.given == "--data":
            return f"--data {self.text} is {self.path}"
        if self.given == f"${ENV_VAR}":
            return f"${ENV_VAR}={self.text} is {self.path}"
        return f"no --data or ${ENV_VAR} given, so the default {self.text} (from {Path.cwd()}) is {self.path}"


def data_root(option: str | os.PathLike[str] | None = None) -> DataRoot:
    """Return the data root: `option` (a --data value) when given, else $XLING_DATA, else ../shared/data."""
    if option:
        text, given = str(option), "--data"
    elif os.environ.get(ENV_VAR):
        text, given = os.environ[ENV_VAR], f"${ENV_VAR}"
    else:
        text, given = DEFAULT_DATA, "the default"
    return DataRoot(Path(os.path.abspath(Path(text).expanduser())), given, text)  # ".." folded, links kept


def data_folder(
    option: str | os.PathLike[str] | None, name: str, what: str, holds: Callable[[Path], bool]
) -> Path:
    """Return the folder `name` inside the data root (or the root itself) for which `holds` is true.

    `what` names the files looked for in the error (e.g. "Tatoeba files (tatoeba.<lang>-eng.<lang>)").
    Raise DataError naming the folders tried, where the root came from and how to point elsewhere.
    """
    root = data_root(option)
    for candidate in (root.path / name, root.path):
        if candidate.is_dir() and holds(candidate):
            return candidate
    state = "" if root.path.is_dir() else " (no such folder)"
    raise DataError(
        f"no {what} in this folder or its {name}/ folder{state}; {root.describe()}. "
        f"Point to the data folder with --data PATH or ${ENV_VAR}=PATH",
        root.path,
    )


def bible_folder(option: str | os.PathLike[str] | None) -> Path:
    """Return the id-aligned corpus folder inside the data root `option` (its bible/ folder), or the root
    itself when it holds the corpus files."""
    return data_folder(option, "bible", "aligned corpus files (<lang>.tsv or <lang>.tsv.gz)",
                       lambda folder: any(folder.glob("*.tsv*")))  # fmt: skip


def check_not_test_set(path: str | os.PathLike[str], field: str) -> None:
    """Return nothing unless `path` is a file of an evaluation-only test set (TEST_SET_FILES); then a
    ConfigError naming `field`: a model trained on a test set makes every figure measured on it meaningless."""
    # the name as given and, for a link, the file's own; in any case, gzipped or not
    names = {Path(path).name, Path(path).resolve().name}
    names = {name.lower().removesuffix(".gz") for name in names}
    if any(fnmatch.fnmatchcase(name, pattern.lower()) for name in names for pattern in TEST_SET_FILES):
        raise ConfigError(f"{field}: {path} is a test set (Tatoeba, NTREX, a UD or UMSAB test split, a BLI test "
                          "dictionary): xling evaluates on it and never trains on it; use a train split")  # fmt: skip
