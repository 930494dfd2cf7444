"""Training checkpoints: weights (safetensors), optimizer, scheduler, RNG states and data position.

A checkpoint is a folder `checkpoints/step-00000100/`. It is written to a temporary folder first and renamed
into place, so a crash mid-write never leaves a half checkpoint that `--resume` would pick up.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from xling.errors import XlingError

CHECKPOINT_DIR = "checkpoints"
_PREFIX = "step-"


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Return the folder of the checkpoint taken after `step` optimizer steps."""
    return Path(run_dir) / CHECKPOINT_DIR / f"{_PREFIX}{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Return the complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(_PREFIX) and p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX) :]))


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
    """Return the checkpoint folder after writing it atomically (temp + rename); prune to the last `keep`."""
    final = checkpoint_path(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    payload = {"step": step, "scheduler": scheduler.state_dict(), "rng": rng_states(), **state}
    (tmp / "trainer_state.json").write_text(json.dumps(payload), encoding="utf-8")
    _fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, Any]:
    """Return the trainer state of a checkpoint after loading its weights and optimizer/scheduler states."""
    path = Path(path)
    state_file = path / "trainer_state.json"
    if not state_file.is_file():
        raise XlingError(f"{path}: not a checkpoint (trainer_state.json missing)")
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise XlingError(
            f"{path}: checkpoint does not fit this model (missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]})"
        )
    if optimizer is not None:
        # weights_only: a checkpoint folder may come from anywhere; never unpickle arbitrary objects
        optimizer.load_state_dict(torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True))
    state = json.loads(state_file.read_text(encoding="utf-8"))
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


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
