"""Training checkpoints: weights (safetensors), optimizer, scheduler, RNG states and data position.

A checkpoint is a folder `checkpoints/step-00000100/`. It is written to a temporary folder first and renamed
into place, so a crash mid-write never leaves a half checkpoint that `--resume` would pick up.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from xling.errors import XlingError

CHECKPOINT_DIR = "checkpoints"
BEST_DIR = "best"
_PREFIX = "step-"
logger = logging.getLogger(__name__)


class UnreadableCheckpointError(XlingError):
    """A checkpoint whose files are missing, truncated or otherwise damaged (not one of another model)."""


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Return the folder of the checkpoint taken after `step` optimizer steps."""
    return Path(run_dir) / CHECKPOINT_DIR / f"{_PREFIX}{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Return the complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX) and p.name[5:].isdigit()]
    return sorted(found, key=_step_of)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """Return the newest complete checkpoint of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def rng_states() -> dict[str, Any]:
    """Return the Python, NumPy and torch RNG states as JSON-able data."""
    np_state = np.random.get_state()
    states: dict[str, Any] = {
        "python": _to_json(random.getstate()),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        states["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return states


def set_rng_states(states: dict[str, Any]) -> None:
    """Restore RNG states saved by `rng_states`."""
    random.setstate(_from_json(states["python"]))
    kind, keys, *rest = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(torch.tensor(states["torch"], dtype=torch.uint8))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in states["cuda"]])


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Return the checkpoint folder after writing it atomically (temp + rename); prune to the last `keep`.

    A checkpoint of a later step than `step` belongs to a timeline the run left (a damaged newest checkpoint
    it resumed before): it goes first, else pruning by step would keep it and delete the good new ones.
    """
    payload = {"step": step, "scheduler": scheduler.state_dict(), "rng": rng_states(), **state}
    final = _write_folder(checkpoint_path(run_dir, step), model, payload, optimizer)
    found = list_checkpoints(run_dir)
    abandoned = [old for old in found if _step_of(old) > step]
    kept = [old for old in found if _step_of(old) <= step]
    for old in abandoned + (kept[:-keep] if keep > 0 else []):
        shutil.rmtree(old, ignore_errors=True)
    return final


def _step_of(folder: Path) -> int:
    """Return the step of a checkpoint folder (`step-00000004` -> 4)."""
    return int(folder.name[len(_PREFIX) :])


def save_best(run_dir: Path, step: int, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    """Return `run_dir/best` after writing the weights and `state` there atomically (no optimizer state).

    `load_checkpoint(path, model)` reads it back.
    """
    return _write_folder(Path(run_dir) / BEST_DIR, model, {"step": step, **state})


def _write_folder(
    final: Path,
    model: torch.nn.Module,
    payload: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> Path:
    """Return `final` after writing weights, optimizer and trainer state to a temporary folder renamed there."""
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(payload), encoding="utf-8")
    _fsync_dir(tmp)
    # the earlier folder (always there for best/) is renamed aside, never deleted before its successor is in
    # place: a crash between the two renames leaves it beside, not gone
    retired = final.with_name(final.name + ".old")
    if final.exists():
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(final, retired)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    shutil.rmtree(retired, ignore_errors=True)
    return final


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, Any]:
    """Return the trainer state of a checkpoint after loading its weights and optimizer/scheduler states.

    Files are read before anything is applied, so a damaged checkpoint (UnreadableCheckpointError) leaves
    the model and optimizer as they were; one of another model raises an XlingError saying so.
    """
    path = Path(path)
    state = read_trainer_state(path)
    optimizer_state = None
    if optimizer is not None:
        try:
            # weights_only: a checkpoint folder may come from anywhere; never unpickle arbitrary objects
            optimizer_state = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... on damaged files
            raise UnreadableCheckpointError(
                f"{path / 'optimizer.pt'}: unreadable ({_first_line(exc)})"
            ) from None
    try:
        missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    except (SafetensorError, OSError) as exc:
        raise UnreadableCheckpointError(
            f"{path / 'model.safetensors'}: unreadable ({_first_line(exc)})"
        ) from None
    except RuntimeError as exc:  # shapes that differ: a checkpoint of another model size
        raise XlingError(f"{path}: checkpoint does not fit this model ({_first_line(exc)})") from None
    if missing or unexpected:
        raise XlingError(
            f"{path}: checkpoint does not fit this model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    if optimizer is not None:
        optimizer.load_state_dict(optimizer_state)
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


@torch.no_grad()
def average_checkpoints(paths: list[Path], model: torch.nn.Module) -> torch.nn.Module:
    """Return `model` holding the element-wise mean of the weights of the checkpoints at `paths`.

    Averaging the last few checkpoints of a run smooths the noise of the final steps (Vaswani et al. 2017
    averaged their last 5 or 20; fairseq's scripts/average_checkpoints.py does the same over its files).
    Sums are kept in float64; integer buffers keep the last checkpoint's values.
    """
    if not paths:
        raise XlingError("average_checkpoints: no checkpoints given")
    total: dict[str, torch.Tensor] = {}
    for path in paths:
        load_checkpoint(Path(path), model)
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                total[name] = total[name] + value.double() if name in total else value.double().clone()
    for name, value in model.state_dict().items():
        if name in total:
            value.copy_((total[name] / len(paths)).to(value.dtype))
    return model


def read_trainer_state(path: Path) -> dict[str, Any]:
    """Return the trainer_state.json of a checkpoint folder (UnreadableCheckpointError if missing or damaged)."""
    state_file = Path(path) / "trainer_state.json"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnreadableCheckpointError(f"{state_file}: unreadable ({_first_line(exc)})") from None
    if not isinstance(state, dict) or "step" not in state:
        raise UnreadableCheckpointError(f"{state_file}: not a trainer state (no step)")
    return state


def load_newest_checkpoint(
    run_dir: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    check: Callable[[Path, dict[str, Any]], None] | None = None,
) -> tuple[Path, dict[str, Any]] | None:
    """Return (folder, trainer state) of the newest checkpoint that loads, or None if the run has none.

    A damaged checkpoint (e.g. a truncated file) is skipped with a logged warning naming it, and the next
    older one is tried; when none loads, an XlingError names the folder. `check(folder, state)` runs on a
    checkpoint's state before its weights are read (e.g. to compare configs); what it raises is not skipped.
    """
    found = list_checkpoints(run_dir)
    if not found:
        return None
    problems = []
    for folder in reversed(found):
        try:
            if check is not None:
                check(folder, read_trainer_state(folder))
            return folder, load_checkpoint(folder, model, optimizer, scheduler)
        except UnreadableCheckpointError as exc:
            logger.warning("skipping a damaged checkpoint: %s", exc)
            problems.append(str(exc))
    raise XlingError(
        f"{Path(run_dir) / CHECKPOINT_DIR}: no checkpoint could be loaded ({'; '.join(problems)}); "
        "start the run again without --resume in a new output folder"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v) for v in value]}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_from_json(v) for v in value["tuple"])
    if isinstance(value, list):
        return tuple(value)
    return value


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
