"""What `--resume` may change: the config a run was started with is compared with the one it resumes with.

A checkpoint stores the whole config of its run (the caller's, with the training section nested under
`training`). Resuming with another model preset would fail deep in weight loading; resuming with another
`tlm_ratio` or batch size would silently train something else. Only bookkeeping fields may differ: how long
to run, how often to log, checkpoint and evaluate, and where and how visibly to run.

The data is compared too, twice: a checkpoint keeps the size and a hash of the bytes of every training data
file the caller names (`data_fingerprint`: a corpus edited in place), and a hash of the batches its run drew
(the first one and the one after the checkpoint's step: a newer xling that selects, cuts or samples the same
corpus differently); a resumed run compares both. Either would otherwise continue on other data under an
unchanged config.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from xling.atomic import shown_names
from xling.errors import ConfigError

# TrainingConfig fields that a resumed run may change: when to stop, how often to write things, where to run.
RESUMABLE_TRAINING_FIELDS = (
    "max_steps",
    "max_minutes",
    "log_every",
    "checkpoint_every",
    "keep_checkpoints",
    "eval_every",
    "early_stopping_patience",
    "progress",
    "threads",
    "keep_freed_memory",
    "device",
    "resume_on_changed_data",
)

BEST_FIELDS = frozenset({"training.best_metric", "training.best_mode"})
"""What a resumed run may also change while its checkpoint's run has chosen no best weights yet
(`best_not_chosen`): e.g. a best_metric whose typo ended the run at its first evaluation."""

BatchGetter = Callable[[int, int, int, int], Mapping[str, Any]]


def resumable_fields(*extra: str, section: str = "training") -> frozenset[str]:
    """Return the dotted config keys a resumed run may change: the training section's, plus `extra`."""
    return frozenset(f"{section}.{name}" for name in RESUMABLE_TRAINING_FIELDS) | frozenset(extra)


def best_not_chosen(state: Mapping[str, Any]) -> bool:
    """Return whether no evaluation had counted for the best weights by a checkpoint's step: its best
    tracker holds no best and no evaluation without improvement, or it had no tracker and its eval_every
    (0, or past the step) scheduled none. A resumed run that watches another metric, or the other way, then
    chooses among the same evaluations as an uninterrupted run of its settings would."""
    tracked = state.get("best")
    if isinstance(tracked, Mapping):
        return tracked.get("step") is None and not tracked.get("bad_evaluations")
    training = (state.get("config") or {}).get("training") or {}
    every, step = training.get("eval_every"), state.get("step")
    return isinstance(every, int) and isinstance(step, int) and not 0 < every <= step


def config_differences(
    saved: Mapping[str, Any],
    new: Mapping[str, Any],
    may_change: Collection[str] = (),
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Return {dotted key: (saved value, new value)} for every field that differs and may not change.

    Nested tables are compared field by field; a key present on one side only counts as a difference
    (its missing side is None), except that a field the saved config lacks takes its value from `defaults`
    (the config class's defaults): a run started before the field existed trained with its default. A key
    in `may_change` (or any key under it) is never reported.
    """
    old, now = dict(_flatten(defaults or {})) | dict(_flatten(saved)), dict(_flatten(new))
    differences = {}
    for key in sorted(old.keys() | now.keys()):
        if _allowed(key, may_change):
            continue
        if old.get(key) != now.get(key):
            differences[key] = (old.get(key), now.get(key))
    return differences


def check_resume_config(
    saved: Mapping[str, Any],
    new: Mapping[str, Any],
    may_change: Collection[str],
    where: str,
    defaults: Mapping[str, Any] | None = None,
    *,
    what: str = "a config that differs from the run's",
    advice: str = ". Resume with the run's settings (only how long it runs and how often it logs, checkpoints "
    "and evaluates may change), or start a new run in another output folder",
) -> None:
    """Raise a ConfigError naming every field that differs from the run's saved config and may not change:
    `where: --resume with WHAT (field: old in the run, new now; ...)ADVICE`.

    `where` names the checkpoint the saved config came from; `defaults` as in `config_differences`.
    """
    differences = config_differences(saved, new, may_change, defaults)
    if not differences:
        return
    listed = "; ".join(f"{key}: {old!r} in the run, {now!r} now" for key, (old, now) in differences.items())
    raise ConfigError(f"{where}: --resume with {what} ({listed}){advice}")


def batch_signature(get: BatchGetter, step: int) -> dict[str, Any]:
    """Return {"step", "first", "next"}: hashes of the batches a run draws first and after `step` steps.

    `get` is a batch source's `get(step, micro, rank, world_size)`, a pure function of its arguments; both
    batches are drawn as one process without accumulation draws them, so the signature does not depend on
    how many processes a run has.
    """
    return {"step": step, "first": _batch_hash(get(0, 0, 0, 1)), "next": _batch_hash(get(step, 0, 0, 1))}


def check_same_batches(saved: Mapping[str, Any] | None, get: BatchGetter, where: str, allow: bool) -> bool:
    """Return whether the batches match the signature `saved` of a checkpoint (True when it has none).

    Raise a ConfigError naming the checkpoint when they differ, unless `allow`
    (training.resume_on_changed_data): the run then goes on with the data as it is now.
    """
    if not saved:  # checkpoints written before signatures were kept
        return True
    now = batch_signature(get, int(saved["step"]))
    if now["first"] == saved["first"] and now["next"] == saved["next"]:
        return True
    if allow:
        return False
    raise ConfigError(
        f"{where}: --resume draws other batches than the run did (step {saved['step']}): its data, or the way "
        "xling selects and samples it, changed since, so the resumed run would not match an uninterrupted "
        "one. Start a new run (another output folder, or --overwrite where the command has it), or pass "
        "--set training.resume_on_changed_data=true to go on with the data as it is now"
    )


def data_fingerprint(paths: Iterable[str | Path]) -> dict[str, str]:
    """Return {path: "<size in bytes>:<sha256 of the bytes, 16 hex digits>"} of the training data files.

    Every byte is read: a file edited in place keeps its size and often its modification time (a copy kept
    with `cp -p`, a sed that preserves it), so neither is proof. It is cheap next to reading the data for
    training (the 61 files, 59 MB, of the Bible corpus: about 0.1 s).
    """
    fingerprint = {}
    for path in paths:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()[:16]
        fingerprint[str(path)] = f"{Path(path).stat().st_size}:{digest}"
    return fingerprint


def check_same_data(saved: Mapping[str, str] | None, now: Mapping[str, str], where: str, allow: bool) -> bool:
    """Return whether the training data files have the contents of a checkpoint's fingerprint `saved` (True
    when it has none). Contents are compared, not paths: the same files in another place are the same data.

    Raise a ConfigError naming the checkpoint and the files whose contents are new when they differ, unless
    `allow` (training.resume_on_changed_data).
    """
    if saved is None:  # checkpoints written before fingerprints were kept, or a caller that names no files
        return True
    if sorted(saved.values()) == sorted(now.values()):
        return True
    if allow:
        return False
    before = set(saved.values())
    changed = [path for path, content in now.items() if content not in before]
    what = f"changed since the run started: {shown_names(changed)}" if changed else "fewer files than it had"
    raise ConfigError(
        f"{where}: --resume reads other training data than the run did ({what}), so the resumed run would "
        "not match an uninterrupted one. Start a new run (another output folder, or --overwrite "
        "where the command has it), or pass --set training.resume_on_changed_data=true to go on with the data "
        "as it is now"
    )


def check_same_world_size(saved: object, world_size: int, where: str, allow: bool) -> bool:
    """Return whether a checkpoint's run had `world_size` processes (True when it does not say).

    Each step draws its examples by rank and world size, so a resume on another number of processes would
    train some examples again and skip others: a ConfigError naming the checkpoint, unless `allow`
    (training.resume_on_changed_data).
    """
    if not isinstance(saved, int) or saved == world_size:
        return True
    if allow:
        return False
    raise ConfigError(
        f"{where}: the run trained on {saved} process(es) and --resume has {world_size}: each step would draw "
        "other examples (some a second time, some never). Resume with the same number of processes "
        "(torchrun --nproc_per_node), or pass --set training.resume_on_changed_data=true to go on anyway"
    )


def _batch_hash(batch: Mapping[str, Any]) -> str:
    digest = hashlib.sha256()
    for key in sorted(batch):
        value = batch[key]
        digest.update(key.encode())
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().contiguous()
            digest.update(f"{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()[:16]


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            # tuples and lists compare equal (a config survives a JSON round trip as lists)
            yield f"{prefix}{key}", list(value) if isinstance(value, tuple) else value


def _allowed(key: str, may_change: Collection[str]) -> bool:
    return any(key == allowed or key.startswith(allowed + ".") for allowed in may_change)
