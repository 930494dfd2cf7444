"""The output folder of `xling adapt`: when a run may write it, and which of its files are the run's own.

A run writes its progress first (the saved vocabulary, then checkpoints) and its model last, `xling.json`
at the very end. So a folder with progress and no model is a killed run, which `--resume` takes up; a folder
with a model and no progress is someone else's model, which only `--overwrite` may replace (a resumed run
with nothing to resume would start afresh and replace it). The saved vocabulary keeps the settings and the
data files' fingerprint it was made with (RUN_RECORD): a run killed before its first checkpoint has no
checkpoint for the training loop to compare a resume with, and its vocabulary must not be taken up by a
resume with other data or settings.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from xling.adaptation.config import AdaptConfig, recorded_defaults
from xling.adaptation.data import NAMED_SPEC, SOURCE_KEYWORDS
from xling.artifacts import METADATA_FILE
from xling.atomic import check_folder_place, remove_entry, shown_names, write_json_atomically
from xling.config import config_to_dict
from xling.errors import DataError, LanguageCodeError, XlingError
from xling.training.loop import RUN_ENTRIES
from xling.training.resume import check_resume_config, check_same_data, data_fingerprint
from xling.translation.languages import parse_language

logger = logging.getLogger(__name__)

STATIC_VOCABULARY = "vocabulary"
"""The static path's saved extended tokenizer (xling.adaptation.static.TOKENIZER_CACHE's folder)."""
TRANSFORMER_STATE = "adapt-state"
"""The transformer path's saved tokenizer and vocabulary report (xling.adaptation.transformer.STATE_DIR)."""
PROGRESS = ("checkpoints", STATIC_VOCABULARY, TRANSFORMER_STATE)
"""What a run leaves before its model, and `--resume` takes up."""
RUN_FILES = (*PROGRESS, *RUN_ENTRIES)
"""The entries of an output folder that belong to the run rather than to the model it writes (the training
loop's too: best.old / best.tmp, which a kill while best/ is renamed into place leaves)."""
MODEL_MARKS = (METADATA_FILE, "config.json", "modules.json")
"""Files any finished model folder has one of: xling's, a Hugging Face model's, a sentence-transformers one."""
RUN_RECORD = "run.json"
"""What a run's saved vocabulary (in STATIC_VOCABULARY or TRANSFORMER_STATE) was made with: {"config": the
run's settings, "data_files": data_fingerprint of the files it read}."""
VOCABULARY_MAY_CHANGE = ("output", "resume", "overwrite", "training")
"""The settings a resume may change from those a saved vocabulary was made with: the training section is the
training loop's to compare with a checkpoint's (a run killed before its first one has trained nothing)."""
LANGUAGE_FIELDS = ("language", "pivot", "relative")
"""The settings that hold a language code (compared by the language and script it names)."""


def run_progress(output: Path) -> list[str]:
    """Return the names of the run progress in `output` (non-empty PROGRESS folders) that `--resume` takes up."""
    return [name for name in PROGRESS if (output / name).is_dir() and any((output / name).iterdir())]


def holds_model(folder: Path) -> bool:
    """Return whether `folder` holds a model of any kind (xling's, Hugging Face's, sentence-transformers')."""
    return any((folder / name).is_file() for name in MODEL_MARKS)


def set_aside_folder(output: Path) -> Path:
    """Return where `--overwrite` keeps the model it replaces until the new one is saved."""
    return output.with_name(f".{output.name}.replaced")


def check_output(output: Path, *, resume: bool, overwrite: bool) -> None:
    """Return nothing when a run may write `output`; else raise XlingError naming the folder and what to do.

    A missing or empty folder may be written; one with a run's progress by `resume` (it takes the run up);
    one with a model or a run's progress with `overwrite`; a folder of other files never (`overwrite`
    replaces a model, not someone's files).
    """
    if output.exists() and not output.is_dir():
        raise XlingError(f"{output}: a file is there, not a model folder")
    check_folder_place(output)  # a file above it: mkdir failed after the vocabulary was learnt
    if not output.is_dir() or not any(output.iterdir()):
        return
    progress = run_progress(output)
    if (resume and progress) or (overwrite and (progress or holds_model(output))):
        return
    if resume and holds_model(output):
        raise XlingError(f"{output}: a model is already there and no adapt run to resume (no checkpoints or "
                         "saved vocabulary); pass overwrite (--overwrite) to replace it, or choose another "
                         "output folder")  # fmt: skip
    if holds_model(output):
        resumable = ", or resume (--resume) to take up its run" if progress else ""
        raise XlingError(f"{output}: a model is already there; pass overwrite (--overwrite) to replace it"
                         f"{resumable}")  # fmt: skip
    if progress:
        aside = set_aside_folder(output)
        kept = f" (the model it was to replace is kept in {aside})" if holds_model(aside) else ""
        raise XlingError(f"{output}: an unfinished adapt run is there ({', '.join(progress)}){kept}; pass "
                         "resume (--resume) to take it up, or overwrite (--overwrite) to start again (which "
                         "discards its progress)")  # fmt: skip
    shown = shown_names(sorted(entry.name for entry in output.iterdir()))
    raise XlingError(f"{output}: the folder is not empty ({shown}) and holds no model or adapt run; choose "
                     "another output folder (overwrite replaces a model, never other files)")  # fmt: skip


def restore_set_aside(output: Path, *, overwrite: bool) -> None:
    """Return nothing once the model an interrupted `--overwrite` run set aside is safe for this run.

    With `overwrite`, a set-aside model goes back into `output` when `output` holds no model (only the
    interrupted run's progress, which this run replaces anyway), so that this run sets it aside again rather
    than deleting it; when `output` holds a model too, XlingError names both. A set-aside folder without a
    model is the interrupted run's own leftovers and goes. Without `overwrite` nothing is touched.
    """
    aside = set_aside_folder(output)
    if not overwrite or not aside.is_dir():
        return
    if not holds_model(aside):
        remove_entry(aside)
        return
    if holds_model(output):
        raise XlingError(f"{aside}: the model an interrupted --overwrite run set aside is still there, and "
                         f"{output} holds a model too; keep the one you want in {output}, delete or move "
                         f"{aside}, and run again")  # fmt: skip
    remove_entry(output)
    aside.replace(output)


def run_record(config: AdaptConfig, files: Sequence[Path]) -> dict[str, Any]:
    """Return what a run's vocabulary is made with: {"config": `config` as JSON data, "data_files": the
    fingerprint of the data `files`}."""
    return {"config": _as_json_data(config), "data_files": data_fingerprint(files)}


def comparable_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Return a copy of a run's settings (config_to_dict's data) with each language code as the language and
    script it names and each data path resolved: the form a resume compares, so that the same language or
    file written another way (`ka` for `kat`; `./dict.tsv`, `dict.tsv` or its absolute path) is the same
    setting. Fields that are missing or not strings are kept as they are."""
    out = json.loads(json.dumps(settings, default=str))
    for name in LANGUAGE_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = _language_form(out[name])
    vocabulary = out.get("vocabulary")
    lists = [(out, name, keywords) for name, keywords in SOURCE_KEYWORDS.items()]
    if isinstance(vocabulary, dict):
        lists.append((vocabulary, "protect", ()))
    for section, name, keywords in lists:
        if isinstance(section.get(name), list):
            section[name] = [_source_form(spec, keywords) if isinstance(spec, str) else spec
                             for spec in section[name]]  # fmt: skip
    for name in ("model", "data"):  # a model's folder (not a shipped model's name); the data root
        value = out.get(name)
        if isinstance(value, str) and value and Path(value).exists():
            out[name] = str(Path(value).resolve())
    return out


def _language_form(code: str) -> str:
    """Return a language code as a resume compares it: its ISO 639-3 code, with the script subtag it names
    (`ka`, `kat`, `ka-GE`: `kat`; `sr-Latn`: `srp_Latn`); a code that names no language ("") as it is."""
    try:
        tag = parse_language(code)
    except LanguageCodeError:
        return code
    return "_".join(part for part in (tag.language, tag.script) if part)


def _source_form(spec: str, keywords: Sequence[str]) -> str:
    """Return a data source as a resume compares it: a keyword (`sample`) as it is, a file resolved, an
    `xxx-yyy=path` spec with its codes in one form and its file resolved."""
    if spec in keywords:
        return spec
    match = NAMED_SPEC.match(spec)
    if match is None:
        return str(Path(spec).resolve())
    return f"{_language_form(match['a'])}-{_language_form(match['b'])}={Path(match['path']).resolve()}"


def _as_json_data(config: AdaptConfig) -> dict[str, Any]:
    """Return `config` as the JSON data a run record holds (paths and other values as strings)."""
    return json.loads(json.dumps(config_to_dict(config), default=str))


def write_run_record(folder: Path, config: AdaptConfig, files: Sequence[Path]) -> None:
    """Return nothing once `folder` (a run's saved vocabulary) holds its RUN_RECORD, written whole or not at
    all."""
    write_json_atomically(folder / RUN_RECORD, run_record(config, files))


def check_run_record(folder: Path, config: AdaptConfig, files: Sequence[Path]) -> None:
    """Return nothing when a resume with `config` and the data `files` may take up the vocabulary saved in
    `folder`: its RUN_RECORD has the same settings (but VOCABULARY_MAY_CHANGE) and data contents, as the
    training loop compares a checkpoint's (xling.training.resume), or there is none (a vocabulary saved
    before runs were recorded). Else raise ConfigError naming what changed; changed data only warns with
    `training.resume_on_changed_data`."""
    path = folder / RUN_RECORD
    if not path.is_file():
        return
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved_config, saved_files = saved["config"], saved["data_files"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = (str(error).splitlines() or [repr(error)])[0]
        raise DataError(f"the run's record cannot be read ({reason}); start the run again with --overwrite",
                        path) from None  # fmt: skip
    record = run_record(config, files)
    if not isinstance(saved_config, dict):
        raise DataError("the run's record holds no settings; start the run again with --overwrite", path)
    # both in one form: a record written before the forms were made one holds them as the run was given them
    check_resume_config(comparable_settings(saved_config), comparable_settings(record["config"]),
                        VOCABULARY_MAY_CHANGE, str(folder), comparable_settings(_as_json_data(recorded_defaults())),
                        what="other settings than the run's saved vocabulary was made with",
                        advice="; resume with the run's settings, or start again with --overwrite")  # fmt: skip
    allow = config.training.resume_on_changed_data
    if not check_same_data(saved_files, record["data_files"], str(folder), allow):
        logger.warning("%s: the data files changed since the run's vocabulary was made "
                       "(training.resume_on_changed_data): going on with that vocabulary", folder)  # fmt: skip


def clear_model(output: Path, keep: tuple[str, ...] = ()) -> None:
    """Return nothing after removing everything in `output` but the run's own files (RUN_FILES) and `keep`:
    whatever model was there (any kind's files), so that the new one is not read as the old."""
    if not output.is_dir():
        return
    for entry in output.iterdir():
        if entry.name not in RUN_FILES and entry.name not in keep:
            remove_entry(entry)


__all__ = [
    "check_output",
    "check_run_record",
    "clear_model",
    "holds_model",
    "restore_set_aside",
    "run_progress",
    "set_aside_folder",
    "write_run_record",
]
