"""The module list of a sentence-transformers folder (`modules.json`), read and checked in one place.

`modules.json` lists a folder's modules in the order they run: a JSON list of objects with "idx", "name",
"path" (the module's folder, relative to the sentence-transformers folder; "" its root) and "type" (the
module's class, `sentence_transformers.models.Pooling`). `read_st_modules` returns the entries and refuses a
file that is not such a list; which modules a caller accepts, and in which order, stays with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal, overload

from xling.artifacts import read_json_file
from xling.errors import DataError

MODULES_FILE = "modules.json"
# what `read_st_modules(..., required=True)` says of a missing modules.json or an empty list
NOT_MODULES = "not a sentence-transformers modules list (a non-empty JSON list of objects)"


@dataclass(frozen=True)
class STModule:
    """One entry of a modules.json."""

    kind: str  # the type's last dotted part: "Transformer", "StaticEmbedding", "Pooling", "Dense", ...
    path: PurePosixPath  # the module's folder, relative to the sentence-transformers folder ("." its root)
    type: str  # the type as written ("sentence_transformers.models.Pooling"; "" when the entry has none)


@overload
def read_st_modules(folder: str | Path, *, required: Literal[True]) -> list[STModule]: ...


@overload
def read_st_modules(folder: str | Path, *, required: bool = False) -> list[STModule] | None: ...


def read_st_modules(folder: str | Path, *, required: bool = False) -> list[STModule] | None:
    """Return the modules a sentence-transformers folder's modules.json lists, in order (None without one).

    DataError naming the file when it is not valid JSON, not a JSON list of objects, or a module's path leads
    outside the folder (absolute, or through ".."): a module's files are read from `folder / path`. An empty
    list is returned as it is; a caller that needs a module passes `required=True`, which makes a missing
    modules.json or an empty list that DataError too (NOT_MODULES).
    """
    path = Path(folder) / MODULES_FILE
    if not path.is_file():
        if required:
            raise DataError(NOT_MODULES, path)
        return None
    entries = read_json_file(path)
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise DataError("not a sentence-transformers modules list (a JSON list of objects)", path)
    modules = [_module(entry) for entry in entries]
    for module in modules:
        if module.path.is_absolute() or ".." in module.path.parts:
            raise DataError(f"a module path leads outside the folder ({module.path.as_posix()!r})", path)
    if required and not modules:
        raise DataError(NOT_MODULES, path)
    return modules


def _module(entry: dict[str, Any]) -> STModule:
    """Return the STModule of one modules.json entry (a missing type or path reads as "")."""
    type_name = str(entry.get("type", ""))
    return STModule(
        kind=type_name.rsplit(".", 1)[-1],
        path=PurePosixPath(str(entry.get("path", ""))),
        type=type_name,
    )


# the names sentence-transformers' Transformer module reads its settings from, in its order (older folders
# were saved under their architecture's name)
ST_TRANSFORMER_CONFIGS = ("sentence_bert_config.json", "sentence_roberta_config.json",
                          "sentence_distilbert_config.json", "sentence_camembert_config.json",
                          "sentence_albert_config.json", "sentence_xlm-roberta_config.json",
                          "sentence_xlnet_config.json")  # fmt: skip


def st_config_file(folder: Path) -> Path:
    """Return the Transformer module's settings file in `folder`: the first of ST_TRANSFORMER_CONFIGS there
    (the first name when there is none)."""
    return next((folder / name for name in ST_TRANSFORMER_CONFIGS if (folder / name).is_file()),
                folder / ST_TRANSFORMER_CONFIGS[0])  # fmt: skip
