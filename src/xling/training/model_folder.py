"""Saving a trained model into its run's folder, so that a crash never leaves old metadata beside new weights.

A command's output folder is also its training run's (checkpoints, log, best weights, the recipes' tokenizer
folder), so it is never replaced whole (xling.atomic.atomic_folder would take the run along). The model's
files are written whole into a staging folder inside it, then renamed over the earlier ones; xling.json,
the mark of a finished model, goes first and comes back last (as `mt train`'s save_translation_model does).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xling.artifacts import METADATA_FILE, metadata_path, write_metadata

STAGING_GLOB = ".model.*.tmp"
"""The staging folders of saves inside an output folder (one per process id)."""
# save_pretrained's weights: one file, or shards listed by an index (safetensors, or an older pickle
# save's pytorch_model*.bin, which export fingerprints would still count as the model's)
_SAFETENSORS_WEIGHTS = re.compile(
    r"model(-\d{5}-of-\d{5})?\.safetensors|model\.safetensors\.index\.json"
    r"|pytorch_model(-\d{5}-of-\d{5})?\.bin|pytorch_model\.bin\.index\.json"
)
# the files a tokenizer's save_pretrained writes, by family: a model of another family saved over (--overwrite)
# left the earlier one's beside its own (NLLB's tokenizer.json beside M2M-100's vocab.json), which a tool
# reading the folder could take for the model's
_TOKENIZER_FILES = frozenset({
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.json",
    "merges.txt", "sentencepiece.bpe.model", "spiece.model", "source.spm", "target.spm", "target_vocab.json",
})  # fmt: skip


def save_model_folder(output: str | Path, write: Callable[[Path], None], metadata: Mapping[str, Any]) -> Path:
    """Return `output` after `write(folder)` wrote a model's files into a staging folder that then replaced
    output's files of the same names, and `metadata` was written as its xling.json, last.

    A failure in `write` leaves the earlier model in `output` as it was; a kill after it leaves `output`
    without xling.json (no model to load), never an earlier xling.json beside new weights.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for stale in output.glob(STAGING_GLOB):  # this process's, or one a killed save left (one saver: rank 0)
        shutil.rmtree(stale, ignore_errors=True)
    staging = output / f".model.{os.getpid()}.tmp"
    staging.mkdir()
    try:
        write(staging)
        (staging / METADATA_FILE).unlink(missing_ok=True)  # written last, into the folder itself
        metadata_path(output).unlink(missing_ok=True)
        _move_into(staging, output)
        write_metadata(output, metadata)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return output


def _move_into(staging: Path, output: Path) -> None:
    """Return nothing after renaming every entry of `staging` into `output`, replacing entries of the same
    name, and deleting the safetensors weights of an earlier save that the new one does not have (its shards,
    or its single file or index when the new save is the other layout: transformers loads
    `model.safetensors` before an index, so an old single file would shadow new shards), and its tokenizer
    files the new save does not write where the new tokenizer is of another class (another family's: a
    tokenizer of the same family may write fewer files than the folder holds, a fast one no
    `sentencepiece.bpe.model`, which slow tokenizers and exports still read)."""
    names = {path.name for path in staging.iterdir()}
    before, now = _tokenizer_class(output), _tokenizer_class(staging)
    other_tokenizer = before is not None and now is not None and before != now
    for path in sorted(staging.iterdir()):
        target = output / path.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)  # a folder in the way of a folder or a file: os.replace takes neither
        elif path.is_dir() and target.exists():
            target.unlink()  # a file in the way of a folder
        os.replace(path, target)
    for path in output.iterdir():
        stale = _SAFETENSORS_WEIGHTS.fullmatch(path.name) or (
            other_tokenizer and path.name in _TOKENIZER_FILES
        )
        if path.name not in names and path.is_file() and stale:
            path.unlink()


def _tokenizer_class(folder: Path) -> str | None:
    """Return the tokenizer class tokenizer_config.json names, its fast and slow versions alike
    (`NllbTokenizerFast` -> `NllbTokenizer`); None where the folder has none or it does not read."""
    try:
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("tokenizer_class") if isinstance(config, dict) else None
    return name.removesuffix("Fast") if isinstance(name, str) and name else None
