"""Read model weights, naming the file when one is missing, truncated or corrupt.

Every model load of xling goes through here (`load_pretrained` for Hugging Face folders, `load_safetensors`
for a single file), so a damaged `model.safetensors` gives one line naming it instead of a long traceback
from deep inside safetensors or transformers.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import torch

from xling.errors import DataError

NOT_SAFETENSORS = "not a readable safetensors file (truncated or corrupt?)"
# torch.load(weights_only=True) refuses a pickle that would run code or build objects other than tensors
UNSAFE_PICKLE = ("a pickle that does not hold plain tensors (it would run code or build other objects), so it "
                 "is not loaded; use a model.safetensors copy of the weights from a source you trust")  # fmt: skip
PICKLE_NAMES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
# what transformers reads a model folder's weights from besides *.safetensors (shards included): the index
# of sharded safetensors, and pickled weights, sharded or not (load_pretrained reads them with weights_only)
WEIGHTS_FILES = ("model.safetensors.index.json", *PICKLE_NAMES)


def has_weights(folder: str | Path) -> bool:
    """Return whether model folder `folder` holds weights that load_pretrained can read."""
    folder = Path(folder)
    return any((folder / name).is_file() for name in WEIGHTS_FILES) or any(folder.glob("*.safetensors"))


def check_safetensors(path: str | Path) -> None:
    """Return None when the header of `path` parses and the file is long enough for every tensor it lists.

    Raises DataError naming `path` otherwise. Reads the header only (a few KB), not the tensors.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            prefix = handle.read(8)
            header_bytes = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
            if header_bytes <= 0 or 8 + header_bytes > size:
                raise ValueError("header length beyond the end of the file")
            header = json.loads(handle.read(header_bytes))
        ends = [entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"]
    except FileNotFoundError as error:
        raise DataError("missing file", path) from error
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise DataError(NOT_SAFETENSORS, path) from error
    if 8 + header_bytes + max(ends, default=0) > size:
        raise DataError(NOT_SAFETENSORS, path)


def load_safetensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Return the tensors of a safetensors file; raise DataError naming it when it is damaged."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    check_safetensors(path)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise DataError(NOT_SAFETENSORS, path) from error


def load_torch_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Return the tensors of a pickled `.bin` weights file, loaded with `weights_only` (no code runs).

    Raises DataError naming `path` when it is missing, damaged or a pickle weights_only refuses.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise DataError("missing file", path) from error
    except Exception as error:
        if is_refused_pickle(error):
            raise DataError(UNSAFE_PICKLE, path) from error
        if isinstance(error, (OSError, EOFError, RuntimeError, ValueError)):
            raise DataError(f"not a readable PyTorch weights file ({error})", path) from error
        raise


def is_refused_pickle(error: BaseException) -> bool:
    """Return whether `error` is torch.load refusing a pickle under weights_only (any torch version)."""
    return isinstance(error, pickle.UnpicklingError) or (
        isinstance(error, RuntimeError) and "weights_only" in str(error)
    )


def pickle_file(folder: Path) -> Path:
    """Return the pickled weights file of a folder (for naming it in an error), or the folder itself."""
    return next((folder / name for name in PICKLE_NAMES if (folder / name).is_file()), folder)


def check_weights_folder(folder: str | Path) -> None:
    """Return None when every `*.safetensors` file in `folder` is whole (see `check_safetensors`)."""
    for path in sorted(Path(folder).glob("*.safetensors")):
        check_safetensors(path)


SHAPELESS_SETTINGS = frozenset({"use_safetensors", "output_loading_info", "dtype", "hidden_dropout_prob",
                                "attention_probs_dropout_prob"})  # fmt: skip
"""load_pretrained's keyword arguments that change no weight's shape: with only these, weights of other
shapes than config.json's can only be the files of two models."""


def load_pretrained(model_class: Any, folder: str | Path, **kwargs: Any) -> Any:
    """Return `model_class.from_pretrained(folder, **kwargs)` from local files only, with clear errors.

    `model_class` is a transformers class (`AutoModel`, `XLMRobertaForMaskedLM`, ...). A missing folder, a
    folder without config.json or a damaged weights file raises DataError naming it, never a Hub look-up.
    A folder with both model.safetensors and pytorch_model.bin is read from the safetensors file; a
    .bin-only folder is read by transformers with `weights_only`, and a pickle it refuses is a DataError.
    """
    from safetensors import SafetensorError

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("no such model folder", folder)
    if not (folder / "config.json").is_file():
        raise DataError("not a Hugging Face model folder (no config.json)", folder)
    check_weights_folder(folder)
    # never fall back to a pickle when the model's safetensors are there (another .safetensors, an adapter's
    # or a head's, says nothing about the model's own weights)
    if (folder / "model.safetensors").is_file() or (folder / "model.safetensors.index.json").is_file():
        kwargs.setdefault("use_safetensors", True)
    try:
        return model_class.from_pretrained(str(folder), local_files_only=True, **kwargs)
    except (pickle.UnpicklingError, RuntimeError) as error:
        if is_refused_pickle(error):
            raise DataError(UNSAFE_PICKLE, pickle_file(folder)) from error
        mismatch = "size mismatch" in str(error) or "ignore_mismatched_sizes" in str(error)
        # weights of other shapes than config.json says (transformers logs which): parts of two models;
        # with settings of the caller's that change shapes (num_labels=...), transformers' message says more
        if mismatch and not set(kwargs) - SHAPELESS_SETTINGS:
            raise DataError("the weights do not have the shapes the folder's config.json gives them: the "
                            "folder mixes files of two models", folder) from error  # fmt: skip
        raise
    except SafetensorError as error:
        raise DataError(f"{NOT_SAFETENSORS} ({error})", folder) from error
    except (OSError, ValueError) as error:
        raise DataError(f"cannot load as a Hugging Face model: {error}", folder) from error
