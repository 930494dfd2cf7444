"""What `--resume` may change: the config a run was started with is compared with the one it resumes with.

A checkpoint stores the whole config of its run (the caller's, with the training section nested under
`training`). Resuming with another model preset would fail deep in weight loading; resuming with another
`tlm_ratio` or batch size would silently train something else. Only bookkeeping fields may differ: how long
to run, how often to log, checkpoint and evaluate, and where and how visibly to run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

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
    "device",
)


def resumable_fields(*extra: str, section: str = "training") -> frozenset[str]:
    """Return the dotted config keys a resumed run may change: the training section's, plus `extra`."""
    return frozenset(f"{section}.{name}" for name in RESUMABLE_TRAINING_FIELDS) | frozenset(extra)


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
) -> None:
    """Raise a ConfigError naming every field that differs from the run's saved config and may not change.

    `where` names the checkpoint the saved config came from; `defaults` as in `config_differences`.
    """
    differences = config_differences(saved, new, may_change, defaults)
    if not differences:
        return
    listed = "; ".join(f"{key}: {old!r} in the run, {now!r} now" for key, (old, now) in differences.items())
    raise ConfigError(
        f"{where}: --resume with a config that differs from the run's ({listed}). Resume with the run's "
        "settings (only how long it runs and how often it logs, checkpoints and evaluates may change), "
        "or start a new run in another output folder"
    )


def _flatten(values: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            # tuples and lists compare equal (a config survives a JSON round trip as lists)
            yield f"{prefix}{key}", list(value) if isinstance(value, tuple) else value


def _allowed(key: str, may_change: Collection[str]) -> bool:
    return any(key == allowed or key.startswith(allowed + ".") for allowed in may_change)
