"""Repair a static encoder's coverage without retraining: character replacements and copied pieces.

`repair_static` writes a copy of a static encoder folder whose tokenizer first applies `replacements` (e.g.
Russian `ё` -> `е`, xling.tokenization.normalization.add_replacements) and has `aliases` appended: pieces
spelled another way (Traditional Chinese for Simplified) whose rows are exact copies of the rows of the
pieces they alias, int8 bytes and scales included. Old ids and rows are unchanged.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer

from xling.adaptation.result import derived_metadata
from xling.artifacts import read_metadata, write_metadata
from xling.atomic import atomic_folder
from xling.embeddings.static import MODULE_DIR
from xling.embeddings.weights import load_safetensors
from xling.errors import ConfigError, DataError
from xling.tokenization.normalization import add_replacements
from xling.tokenization.vocabulary_extension import extend_tokenizer


def repair_static(
    folder: str | Path,
    output: str | Path,
    *,
    replacements: Mapping[str, str] | None = None,
    aliases: Sequence[tuple[str, float, int]] = (),
    note: Mapping[str, Any] | None = None,
) -> Path:
    """Return `output` after writing the repaired copy of the static encoder in `folder` (module docstring).

    `aliases` are (piece, score, id of the piece whose row it copies); `note` joins the entry recorded
    under `repairs` in xling.json (e.g. the dev figures that justified the repair).
    """
    folder, output = Path(folder), Path(output)
    if output.resolve() == folder.resolve():
        raise ConfigError(f"output: {output} is the model folder itself; choose another folder")
    module = folder / MODULE_DIR
    tokenizer = Tokenizer.from_file(str(module / "tokenizer.json"))
    old_size = tokenizer.get_vocab_size()
    if replacements:
        tokenizer = add_replacements(tokenizer, replacements)
    tokenizer = extend_tokenizer(tokenizer, [(piece, score) for piece, score, _ in aliases])
    copied = torch.tensor([source for _, _, source in aliases], dtype=torch.long)
    if len(copied) and int(copied.max()) >= old_size:
        raise DataError(f"an alias copies row {int(copied.max())} of a {old_size}-token vocabulary", module)
    weights = load_safetensors(module / "model.safetensors")
    tensors = {}
    for name in ("embedding.weight", "embeddings", "weights"):
        if name in weights:
            table = weights[name][:old_size]
            tensors[name] = torch.cat([table, table[copied]]).contiguous()
    if not tensors or "mapping" in weights:
        raise DataError(
            "not a static table this can extend (embedding.weight, or embeddings + weights)", module
        )
    meta = derived_metadata(read_metadata(folder), output.name)
    entry = {"replacements": dict(replacements or {}), "aliases": len(aliases), **(note or {})}
    meta.update({"vocab_size": tokenizer.get_vocab_size(), "repairs": [*meta.get("repairs", []), entry]})
    # the earlier output stays whole until the repaired model is complete
    # an earlier repaired model is replaced, never a folder of anything else (a user's data)
    with atomic_folder(
        output, overwrite=True, what="repaired model", kind=meta.get("kind", "sentence-encoder/static")
    ) as staging:
        shutil.copytree(folder, staging, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("checkpoints", "vocabulary", "adapt-state"))  # fmt: skip
        save_file(tensors, str(staging / MODULE_DIR / "model.safetensors"))
        tokenizer.save(str(staging / MODULE_DIR / "tokenizer.json"), pretty=False)
        write_metadata(staging, meta)
    return output
