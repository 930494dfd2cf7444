"""Artefact metadata: the one `xling.json` next to every folder xling writes (models and tokenizers alike).

A trained artefact is a Hugging Face / sentence-transformers folder plus `xling.json`, a JSON object with what
xling needs and the standard formats have no place for: `kind` (`tokenizer`, `masked-lm`,
`sentence-encoder/static`, ...), `languages`, the config it was made with, training figures and scores. A
model folder that carries a tokenizer keeps the tokenizer's own metadata under `tokenizer`.

Tokenizer folders made before this file existed hold `xling_tokenizer.json` instead; it is still read.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xling.atomic import write_json_atomically
from xling.errors import DataError

METADATA_FILE = "xling.json"
# The `kind` each folder xling writes records in its xling.json, in one place: the commands that write a
# kind, `--overwrite` (which replaces only its own kind) and `xling report` (which evaluates some kinds and
# names the command for the others) all read these. A kind with a slash belongs to a family
# ("sentence-encoder/static"), and the family's name stands for all of its kinds.
TOKENIZER_KIND = "tokenizer"
MASKED_LM_KIND = "masked-lm"
SENTENCE_ENCODER_FAMILY = "sentence-encoder"
WORD_MAPPING_KIND = "word-mapping"
LANGUAGE_IDENTIFIER_KIND = "language-identifier"
TRANSLATION_KIND = "translation"
CT2_KIND = f"{TRANSLATION_KIND}/ctranslate2"
CLASSIFIER_FAMILY = "classifier"
TAGGER_FAMILY = "tagger"
SUPPORT_BOT_KIND = "support-bot"
_FLOAT32_MAX = 3.4028234663852886e38  # float32's largest finite value (numpy.finfo), without numpy
# what tokenizer folders held before; read as a fallback, never written
LEGACY_METADATA_FILES = ("xling_tokenizer.json",)


def metadata_path(folder: str | Path) -> Path:
    """Return the path of a folder's `xling.json` (whether or not it exists)."""
    return Path(folder) / METADATA_FILE


def has_metadata(folder: str | Path) -> bool:
    """Return whether a folder holds xling metadata (`xling.json`, or a legacy file)."""
    return _existing(Path(folder)) is not None


def write_metadata(folder: str | Path, metadata: Mapping[str, Any]) -> Path:
    """Return the path of `xling.json` after writing `metadata` into `folder` atomically.

    A crash leaves the earlier file (or none) in place, never a half-written one.
    """
    path = metadata_path(folder)
    write_json_atomically(path, dict(metadata))
    return path


def read_metadata(folder: str | Path) -> dict[str, Any]:
    """Return a folder's metadata as a dict; {} when the folder has none.

    Reads `xling.json`, else a legacy `xling_tokenizer.json`. A file that is not a JSON object is a
    DataError (an XlingError) naming it, and the line where the JSON breaks.
    """
    path = _existing(Path(folder))
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"not valid JSON ({exc.msg}); fix the file or make the folder again", path, exc.lineno
        ) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text; fix the file or make the folder again", path) from None
    except OSError as exc:
        raise DataError(f"cannot read ({exc.strerror or exc})", path) from None
    if not isinstance(data, dict):
        raise DataError(f"expected a JSON object, found {type(data).__name__}", path)
    return data


def read_json_file(path: str | Path, *, missing: str = "missing file") -> Any:
    """Return the JSON value in `path`; DataError naming the file when it is absent (`missing` says what that
    means to the caller) or not valid JSON (with the line where it breaks)."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(missing, path) from None
    except json.JSONDecodeError as error:
        raise DataError(f"not valid JSON ({error.msg})", path, error.lineno) from None
    except UnicodeDecodeError:
        raise DataError("not UTF-8 text", path) from None


def finite_number(value: Any, name: str, path: Path, expected: str = "") -> float:
    """Return `value` as a float; raise DataError naming `name` and `path` unless it is a number (not a bool)
    that stays finite in float32, the precision models compute in."""
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer past float64's range
        number = math.nan
    if not (math.isfinite(number) and abs(number) <= _FLOAT32_MAX):
        raise DataError(f"{name} must be a finite number{expected and ' ' + expected}, not {value!r}", path)
    return number


def config_number(
    config: Mapping[str, Any],
    key: str,
    path: Path,
    *,
    default: float | None,
    ok: Callable[[float], bool],
    expected: str,
) -> float:
    """Return `config[key]` as a float (`default` where the key is absent; None: it must be there); raise
    DataError naming the key and `path` unless it is a finite number (`finite_number`) for which `ok` holds
    (`expected` says which)."""
    if key not in config:
        if default is None:
            raise DataError(f"lacks {key!r}", path)
        return float(default)
    number = finite_number(config[key], key, path, expected)
    if not ok(number):
        raise DataError(f"{key} must be a finite number {expected}, not {config[key]!r}", path)
    return number


def folder_fingerprint(folder: str | Path, leave_out: Callable[[Path], bool] = lambda relative: False) -> str:
    """Return a hash (16 hex digits) of every file in a folder, at any depth, but those whose path relative
    to it `leave_out` names: each file's relative path, size and bytes, so that weights replaced in place
    (re-trained, another model copied over the folder) give another hash. Every byte is read, as
    xling.training.resume.data_fingerprint does: a copy keeps sizes and modification times."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(path for path in folder.rglob("*") if path.is_file()):
        relative = path.relative_to(folder)
        if leave_out(relative):
            continue
        with path.open("rb") as handle:
            content = hashlib.file_digest(handle, "sha256").hexdigest()
        digest.update(f"{relative.as_posix()}\0{path.stat().st_size}\0{content}\0".encode())
    return digest.hexdigest()[:16]


def update_metadata(folder: str | Path, **fields: Any) -> dict[str, Any]:
    """Return the folder's metadata after setting `fields` in it and writing it back atomically."""
    metadata = {**read_metadata(folder), **fields}
    write_metadata(folder, metadata)
    return metadata


def _existing(folder: Path) -> Path | None:
    """Return the metadata file a folder holds, `xling.json` first; None if it has none."""
    for name in (METADATA_FILE, *LEGACY_METADATA_FILES):
        path = folder / name
        if path.is_file():
            return path
    return None


def json_line(value: Any) -> str:
    """Return `value` as one line of JSON, non-ASCII text kept readable: the line separators that
    json.dumps leaves raw with ensure_ascii=False (U+2028, U+2029, U+0085; line breaks to splitlines)
    are escaped, so a JSON Lines reader sees one record a line."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")
