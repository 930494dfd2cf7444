"""Where the evaluation and training data live: one rule for every command that takes `--data`.

The data root is `--data` when given, else $XLING_DATA, else `../shared/data` relative to the current
directory. A command then looks for its folder (tatoeba/, bible/, ...) in the root, or takes the root
itself when it already is that folder. Errors say which root was tried, where it came from, and how to
point elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from xling.errors import DataError

__all__ = ["DEFAULT_DATA", "ENV_VAR", "DataRoot", "bible_folder", "data_folder", "data_root"]

DEFAULT_DATA = "../shared/data"
ENV_VAR = "XLING_DATA"


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
