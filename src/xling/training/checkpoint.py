"""Training checkpoints: weights (safetensors), optimizer, scheduler, RNG states and data position.

A checkpoint is a folder `checkpoints/step-00000100/`. It is written to a temporary folder first and renamed
into place, so a crash mid-write never leaves a half checkpoint that `--resume` would pick up.

The best weights (`<run>/best`, training.best_metric) are written when an evaluation improves, not when a
checkpoint is: each checkpoint keeps the files of `best/` as they were when it was written (hard links, so
no copy), and a resume puts back the best weights that the tracker it restores names (`restore_best`).
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
KEPT_BEST = "best"
"""Inside a checkpoint folder: the files of `<run>/best` as they were when the checkpoint was written."""
_PREFIX = "step-"
RETIRED_SUFFIX = ".old"
"""`<folder>.old`: the earlier folder, renamed aside while its successor (`<folder>.tmp`) is renamed in."""
STAGED_SUFFIX = ".tmp"
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
    return sorted(found, key=checkpoint_step)


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
        # as many devices as both runs see: a run saved with 4 visible GPUs, resumed with one
        # (CUDA_VISIBLE_DEVICES=0), failed with IndexError in set_rng_state_all
        for device, state in enumerate(states["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(torch.tensor(state, dtype=torch.uint8), device)


def save_checkpoint(
    run_dir: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
    keep: int = 2,
    every: int = 1,
    end: int | None = None,
) -> Path:
    """Return the checkpoint folder after writing it atomically (temp + rename); prune to the last `keep`.

    With a best tracker in `state` ("best"), the files of `run_dir/best` go along (KEPT_BEST) when they are
    the tracker's best evaluation. A checkpoint of a later step than `step` belongs to a timeline the run left
    (a damaged newest checkpoint it resumed before): it goes first, else pruning by step would keep it and
    delete the good new ones. `keep` counts the checkpoints of the schedule (every `every` steps, and the
    last step `end`): one a stop for time left at another step is kept beside them until a newer one is
    written, so a resumed run keeps the checkpoints an uninterrupted one keeps (which `average_last` reads).
    """
    payload = {"step": step, "scheduler": scheduler.state_dict(), "rng": rng_states(), **state}
    best = Path(run_dir) / BEST_DIR
    tracked = best_key(state.get("best"))
    kept = best if tracked is not None and best_key(_best_of(best)) == tracked else None
    final = _write_folder(checkpoint_path(run_dir, step), model, payload, optimizer, kept)
    found = list_checkpoints(run_dir)
    abandoned = [old for old in found if checkpoint_step(old) > step]
    on_schedule = [
        old for old in found if (n := checkpoint_step(old)) < step and (n % every == 0 or n == end)
    ]
    off_schedule = [old for old in found if checkpoint_step(old) < step and old not in on_schedule]
    # a stop for time's checkpoint is off the schedule it was written under; one on its own schedule but off
    # this one was written before a resume changed checkpoint_every and counts toward `keep`, or the first
    # save of the new schedule would delete them all, whatever `keep` says
    stray = [old for old in off_schedule if not _on_own_schedule(old)]
    kept_in_turn = sorted((old for old in found if old not in abandoned and old not in stray and old != final),
                          key=checkpoint_step)  # fmt: skip
    if step % every == 0 or step == end:
        kept_in_turn.append(final)
    for old in abandoned + ((stray + kept_in_turn[:-keep]) if keep > 0 else []):  # keep 0: all
        shutil.rmtree(old, ignore_errors=True)
    return final


def _on_own_schedule(folder: Path) -> bool:
    """Return whether a checkpoint's step is on the schedule its own run recorded (every checkpoint_every
    steps, or its max_steps); True when its state does not say (it is then kept in turn), False when it
    cannot be read (a damaged one must not take the place of a checkpoint that loads)."""
    try:
        training = (read_trainer_state(folder).get("config") or {}).get("training") or {}
    except (XlingError, OSError, AttributeError):
        return False
    every, end = training.get("checkpoint_every"), training.get("max_steps")
    if not isinstance(every, int) or every < 1:
        return True
    step = checkpoint_step(folder)
    return step % every == 0 or step == end


def checkpoint_step(folder: Path) -> int:
    """Return the step of a checkpoint folder (`step-00000004` -> 4)."""
    return int(folder.name[len(_PREFIX) :])


def scheduled_checkpoints(run_dir: Path, every: int | None = None, end: int | None = None) -> list[Path]:
    """Return the checkpoints an uninterrupted run writes, oldest first: every `every` steps up to its last
    step `end`, and at `end`. A stop for time (training.max_minutes) leaves one at another step, which would
    otherwise count among them once the run is resumed. Unset, `every` and `end` are those of the newest
    checkpoint (its training.checkpoint_every, its step)."""
    found = list_checkpoints(run_dir)
    if found and (every is None or end is None):
        state = read_trainer_state(found[-1])
        end = state["step"] if end is None else end
        every = every or ((state.get("config") or {}).get("training") or {}).get("checkpoint_every") or 1
    return [path for path in found
            if (step := checkpoint_step(path)) == end or (step < end and step % every == 0)]  # fmt: skip


def last_scheduled(run_dir: Path, k: int, every: int | None = None, end: int | None = None, *,
                   what: str = "average_last", warn: bool = True) -> list[Path]:  # fmt: skip
    """Return the last `k` of `scheduled_checkpoints(run_dir, every, end)`, oldest first; fewer than `k` (a
    run with fewer checkpoints) is a warning naming `what` that asked for them (when `warn`: one process of
    a distributed run says it), since their mean is then not the model asked for."""
    found = scheduled_checkpoints(run_dir, every, end)
    chosen = found[-k:] if k > 0 else []
    if len(chosen) < k and warn:
        logger.warning("%s: %d checkpoints asked for, but %s has %d on its schedule: the mean of %d", what, k,
                       run_dir, len(found), len(chosen))  # fmt: skip
    return chosen


def save_best(run_dir: Path, step: int, model: torch.nn.Module, state: dict[str, Any]) -> Path:
    """Return `run_dir/best` after writing the weights and `state` there atomically (no optimizer state).

    `load_checkpoint(path, model)` reads it back; `state["best"]` is the tracker's state, which
    `restore_best` compares with a checkpoint's.
    """
    return _write_folder(Path(run_dir) / BEST_DIR, model, {"step": step, **state})


def _write_folder(
    final: Path,
    model: torch.nn.Module,
    payload: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    kept: Path | None = None,
) -> Path:
    """Return `final` after writing weights, optimizer and trainer state to a temporary folder renamed there.

    `kept` (a folder of files) goes along as the subfolder KEPT_BEST, hard-linked where the file system can.
    """
    recover_folder(final)  # a kill between the renames of an earlier write left only `final.old`
    tmp = final.with_name(final.name + STAGED_SUFFIX)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    if optimizer is not None:
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / "trainer_state.json").write_text(json.dumps(payload), encoding="utf-8")
    if kept is not None:
        _link_files(kept, tmp / KEPT_BEST)
    _fsync_tree(tmp)
    return _swap_in(tmp, final)


def _swap_in(tmp: Path, final: Path) -> Path:
    """Return `final` after renaming the complete folder `tmp` there, in place of an earlier `final`.

    The earlier folder is renamed aside, never deleted before its successor is in place: a kill between the
    two renames leaves it as `final.old`, which `recover_folder` renames back.
    """
    retired = final.with_name(final.name + RETIRED_SUFFIX)
    if final.exists():
        shutil.rmtree(retired, ignore_errors=True)
        os.replace(final, retired)
    os.replace(tmp, final)
    _fsync(final.parent)
    shutil.rmtree(retired, ignore_errors=True)
    return final


def _link_files(source: Path, target: Path) -> None:
    """Return nothing once `target` (a new folder) holds the files of `source`: hard links, else copies.

    The files of a written folder are never changed in place (a new write renames a new folder over it), so
    a link keeps their content as it was.
    """
    target.mkdir()
    for path in source.iterdir():
        if path.is_file():
            try:
                os.link(path, target / path.name)
            except OSError as error:  # a file system without hard links
                if not _COPY_WARNED:
                    _COPY_WARNED.append(True)
                    logger.warning("%s: no hard links here (%s): each checkpoint keeps a full copy of best/, "
                                   "which costs a model's size on disk per kept checkpoint", target.parent,
                                   error.strerror or error)  # fmt: skip
                shutil.copy2(path, target / path.name)


_COPY_WARNED: list[bool] = []  # once per process: the copies above cost disk, the user should know once


def recover_folder(final: Path) -> bool:
    """Return whether `final` was missing and its `final.old` was renamed back: a kill between the two
    renames of a write (`_swap_in`) leaves the earlier folder only under that name."""
    retired = final.with_name(final.name + RETIRED_SUFFIX)
    if final.exists() or not retired.is_dir():
        return False
    os.replace(retired, final)
    logger.warning("%s: put back from %s (a write of it was interrupted)", final, retired.name)
    return True


def recover_interrupted_writes(run_dir: Path) -> None:
    """Return nothing once every folder of a run that a kill left only as `<name>.old` (best/, a
    checkpoint) has its name again."""
    run_dir = Path(run_dir)
    recover_folder(run_dir / BEST_DIR)
    root = run_dir / CHECKPOINT_DIR
    if root.is_dir():
        for retired in root.glob(f"{_PREFIX}*{RETIRED_SUFFIX}"):
            recover_folder(retired.with_name(retired.name.removesuffix(RETIRED_SUFFIX)))


def best_key(tracked: Any) -> tuple[int, float] | None:
    """Return (step, value) of a best tracker's state (BestTracker.state()), or None when it has no best."""
    if not isinstance(tracked, dict) or tracked.get("step") is None:
        return None
    return int(tracked["step"]), float(tracked["value"])


def _best_of(folder: Path) -> dict[str, Any] | None:
    """Return the best tracker's state that a best folder was written with, or None (no folder, unreadable)."""
    try:
        return read_trainer_state(folder).get("best")
    except UnreadableCheckpointError:
        return None


def restore_best(run_dir: Path, checkpoint: Path | None, tracked: dict[str, Any] | None) -> None:
    """Return nothing once `run_dir/best` holds the evaluation that `tracked` names (the best tracker's state
    a run starts with: restored from `checkpoint`, or a new run's empty one), as far as the checkpoint kept it.

    best/ is written when an evaluation improves and the tracker reaches disk with the next checkpoint: a
    run killed between the two left a newer best/ than the tracker it resumes with. It is put back from the
    checkpoint's KEPT_BEST, or removed when the tracker has no best yet. A checkpoint written before xling
    kept best/ cannot put it back: a warning says so.
    """
    best = Path(run_dir) / BEST_DIR
    wanted = best_key(tracked)
    if best_key(_best_of(best)) == wanted and best.exists() == (wanted is not None):
        return
    since = f"the step {checkpoint.name} resumes from" if checkpoint is not None else "the start of this run"
    kept = checkpoint / KEPT_BEST if checkpoint is not None else None
    if wanted is None:
        logger.warning("%s: removed; it holds an evaluation after %s", best, since)
        shutil.rmtree(best)
    elif kept is not None and best_key(_best_of(kept)) == wanted:
        held = (f"the one it held came after {since}" if best.exists()
                else "it was missing")  # fmt: skip
        tmp = best.with_name(best.name + STAGED_SUFFIX)
        shutil.rmtree(tmp, ignore_errors=True)
        _link_files(kept, tmp)
        _fsync_tree(tmp)
        _swap_in(tmp, best)
        logger.warning("%s: put back to the best evaluation (step %d) that %s names; %s", best, wanted[0],
                       checkpoint.name, held)  # fmt: skip
    else:
        logger.warning("%s does not hold the best evaluation (step %d) that %s names, which it did not keep "
                       "(written by an earlier xling)", best, wanted[0], checkpoint)  # fmt: skip


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
        _check_optimizer_fits(path, optimizer, optimizer_state)
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
        # torch takes the saved groups' settings as well: the kernel stays this run's choice, not that of
        # the torch or device that wrote the checkpoint (a checkpoint of before fused AdamW stayed unfused)
        kernels = [group.get("fused") for group in optimizer.param_groups]
        optimizer.load_state_dict(optimizer_state)
        for group, fused in zip(optimizer.param_groups, kernels, strict=True):
            group["fused"] = fused
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


def _check_optimizer_fits(path: Path, optimizer: torch.optim.Optimizer, saved: Any) -> None:
    """Return nothing when the saved optimizer state has this optimizer's groups of parameters; else an
    XlingError naming the checkpoint, before anything is loaded (torch's bare ValueError came after the
    weights were: a run whose trained parameters changed since, such as align's frozen pooler)."""
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    sizes = [len(group.get("params", ())) for group in groups] if isinstance(groups, list) else None
    own = [len(group["params"]) for group in optimizer.param_groups]
    if sizes != own:
        raise XlingError(f"{path}: checkpoint's optimizer state does not fit this run's trained parameters (groups "
                         f"of {sizes} parameters, this run's {own}): it "
                         "was written by another version of xling or other settings; continue it with those, or "
                         "start again (--overwrite)")  # fmt: skip


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


def _fsync_tree(folder: Path) -> None:
    """Return nothing once every file and folder under `folder`, and `folder` itself, is on disk: a folder
    renamed into place before its files' contents are would survive a power loss with files cut short or
    empty (its hard links and copies of best/ included: a copy is new data, a link costs nothing)."""
    # the deepest first: a folder's entries are synced after its files
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync(path)
    _fsync(folder)


def _fsync(path: Path) -> None:
    """Return nothing once a file's or folder's content (for a folder: its entries) is on disk.

    safetensors writes only to a path it opens itself, so the files are synced by name once written rather
    than through xling.atomic's handles.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
