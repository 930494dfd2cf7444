"""Configs: one dataclass per command, set from a TOML recipe and `--set key=value` overrides.

Defaults live only in the dataclasses. A recipe is a TOML file whose keys are the config's fields (nested
dataclasses are TOML tables); `--set training.lr=3e-4` overrides a field after the recipe. Every bad key or
value is a ConfigError that names the field and where it came from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from xling.errors import ConfigError

C = TypeVar("C")


def load_config(
    cls: type[C],
    recipe: str | Path | None = None,
    overrides: Iterable[str] = (),
    section: str | None = None,
    **fields: Any,
) -> C:
    """Return a `cls` built from its defaults, then the recipe file, then `fields`, then `overrides`.

    `section` picks a table of the recipe (e.g. `pretrain`) when a recipe holds several commands; a recipe
    without that table is read whole (its fields at the top), and one with other commands' tables only is a
    ConfigError. `fields` are values from CLI options: None means "not given" (the recipe's value, else the
    default, stays), any other value, False and 0 included, is set. A field of a nested section is given as
    a dict (`data={"corpus": corpus}`), merged into the recipe's table, or by its dotted path. So a CLI flag
    that can turn a recipe's `true` off is typed `bool | None` with default None (typer's
    `--resume/--no-resume`), not `bool` with default False. An override sets one field
    (`training.max_steps=5`) or a section's fields as an inline table (`training={max_steps=5}`).
    """
    values: dict[str, Any] = {}
    if recipe is not None:
        data = _read_recipe(Path(recipe))
        values = _recipe_section(data, Path(recipe), section)
        _check_misplaced_tables(cls, Path(recipe), section, data)
    for key, value in _given(fields):
        _set_path(values, key.split("."), value, where="options")
    set_fields: set[str] = set()
    for item in overrides:
        set_fields |= _apply_set(cls, values, item)
    # an error about a field that a --set item gave names --set; any other, the recipe (or the options)
    config = _build(cls, values, where=str(recipe) if recipe else "options", set_fields=frozenset(set_fields))
    # which fields the user set, for a command whose defaults depend on another field (given_fields)
    with contextlib.suppress(AttributeError):  # a slotted dataclass: given_fields answers None
        object.__setattr__(config, _GIVEN_ATTRIBUTE, frozenset(key for key, _ in _given(values)))
    return config


_GIVEN_ATTRIBUTE = "_xling_given_fields"


def given_fields(config: Any, section: str = "") -> frozenset[str] | None:
    """Return the dotted names of the fields the recipe, the options or `--set` gave a config made by
    `load_config` (within `section`, without its prefix); None for a config built otherwise (in code).

    A command whose defaults depend on another field (static-finetune's learning rate is not a
    transformer's) applies its own default to a field the user did not set, and keeps one the user set,
    even to the value of the other default.
    """
    given = getattr(config, _GIVEN_ATTRIBUTE, None)
    if given is None:
        return None
    if not section:
        return given
    return frozenset(key.removeprefix(f"{section}.") for key in given if key.startswith(f"{section}."))


def check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    """Return nothing if `value` is a whole number (an int, not a bool) from `low` to `high` (no upper bound
    if None); else raise ConfigError naming the field `name`, so a bad option fails before any work."""
    bound = f"at least {low}" if high is None else f"from {low} to {high}"
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < low
        or (high is not None and value > high)
    ):
        raise ConfigError(f"{name}: {value!r} must be a whole number {bound}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """Return the config as plain JSON-able data (for logs, checkpoints and `xling.json`)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def _given(fields: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Return an iterator over (dotted key, value) of the given fields: None skipped, dicts flattened."""
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            yield from _given(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


class _RawValue(str):
    """A string from `--set` that still has to be parsed into the field's type."""


def _read_recipe(path: Path) -> dict[str, Any]:
    """Return the whole recipe file parsed; ConfigError naming it when it is missing, unreadable or no TOML."""
    if not path.is_file():
        raise ConfigError(f"{path}: recipe file not found")
    try:
        # utf-8-sig: an editor's byte-order mark is no TOML statement ("Invalid statement" at line 1)
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML recipe: {exc}") from None
    except OSError as exc:  # unreadable (permissions): one line naming it, as every recipe problem
        raise ConfigError(f"{path}: cannot read the recipe: {exc.strerror or exc}") from None
    return data


def _recipe_section(data: dict[str, Any], path: Path, section: str | None) -> dict[str, Any]:
    """Return the fields of `section` in the recipe `data` read from `path` (the whole file when it is a
    recipe of this command alone); ConfigError when it holds other commands' tables only."""
    if not section:
        return data
    if isinstance(data.get(section), dict):
        return data[section]
    tables = [key for key, value in data.items() if isinstance(value, dict)]
    if any(key in COMMAND_SECTIONS for key in tables):  # another command's recipe: its fields are not these
        raise ConfigError(f"{path}: no [{section}] table for this command; the recipe has "
                          f"{', '.join(f'[{key}]' for key in tables)}")  # fmt: skip
    return data  # a recipe of this command alone, its fields at the top


# the recipe tables of the commands (`section` of their load_config): a recipe may hold several commands'
COMMAND_SECTIONS = frozenset({
    "adapt", "align", "align_words", "bli", "bot", "eval_mt", "export_ct2", "export_onnx", "langid", "mine",
    "mining", "mt", "pretrain", "quickstart", "report", "serve", "tagger", "tatoeba", "tokenizer",
    "tokenizer_transfer", "transfer", "translate", "translate_words", "vectors",
})  # fmt: skip


def _check_misplaced_tables(cls: type, path: Path, section: str | None, data: dict[str, Any]) -> None:
    """Return nothing; ConfigError for a top-level table named like a table field of `section`'s config
    (`[limits]` beside `[serve]`, meant as `[serve.limits]`: `[limits]` holds API keys) or a top-level key
    named like one of its fields (`k = 4` above `[tatoeba]`), or a table that misspells `section`
    (`[Serve.limits]`, `[serve_limits]`): each would be skipped without a word. Other commands' sections
    (COMMAND_SECTIONS) stay allowed, and so do other top-level keys (a ship script's).
    `data`: the recipe as _read_recipe parsed it."""
    if not section:
        return
    if not isinstance(data.get(section), dict):
        return  # the whole file is the section
    if not dataclasses.is_dataclass(cls):
        return
    made = {
        f.name: f.default_factory()
        for f in dataclasses.fields(cls)
        if f.default_factory is not dataclasses.MISSING
    }
    tables = {
        name for name, value in made.items() if dataclasses.is_dataclass(value) or isinstance(value, dict)
    }
    fields = {f.name for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key == section or (key in COMMAND_SECTIONS and isinstance(value, dict)):
            continue
        # in any case: `[Limits]` and `[Serve_limits]` were skipped as silently as `[limits]` (API keys)
        folded = key.lower()
        if isinstance(value, dict) and folded in tables:
            raise ConfigError(
                f"{path}: [{key}] is read by no command here; did you mean [{section}.{folded}]?"
            )
        # `[Quickstart.training]`, `[quickstart_training]`: the section misspelt, its settings never read
        if isinstance(value, dict) and (
            folded == section.lower() or folded.startswith((f"{section.lower()}_", f"{section.lower()}-"))
        ):
            raise ConfigError(f"{path}: [{key}] is read by no command here; did you mean [{section}] or "
                              f"[{section}.<table>]?")  # fmt: skip
        if not isinstance(value, dict) and folded in fields:  # above every table: read by none of them
            raise ConfigError(f"{path}: {key} = ... stands outside [{section}] and is read by no command; put it "
                              f"in the [{section}] table")  # fmt: skip


def _apply_set(cls: type, values: dict[str, Any], item: str) -> set[str]:
    """Return the dotted names of the fields a `--set key=value` item gives, after setting them in `values`.

    The value stays a raw string, parsed once its field's type is known, except an inline TOML table for a
    section (`training={max_steps=5}`): its fields are set one by one, as a recipe's table sets them, so the
    section's other fields keep the recipe's values.
    """
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set training.lr=3e-4")
    keys = key.strip().split(".")
    table = _inline_table(keys, raw.strip()) if _names_section(cls, keys) else None
    if table is None:
        _set_path(values, keys, _RawValue(raw.strip()), where="--set")
        return {".".join(keys)}
    given: set[str] = set()
    for name, value in _given(table):
        _set_path(values, [*keys, *name.split(".")], value, where="--set")
        given.add(".".join([*keys, name]))
    return given


def _names_section(cls: type, keys: list[str]) -> bool:
    """Return whether the dotted path `keys` names a section (a dataclass field) of the config `cls`."""
    tp: Any = cls
    for key in keys:
        if not dataclasses.is_dataclass(tp) or key not in {f.name for f in dataclasses.fields(tp)}:
            return False
        tp = typing.get_type_hints(tp)[key]
    return dataclasses.is_dataclass(tp)


def _inline_table(keys: list[str], raw: str) -> dict[str, Any] | None:
    """Return the fields of a `--set` value written as an inline TOML table (`{max_steps=5}`), None for a
    value that is not one; ConfigError, naming the section, for a `{...}` that TOML cannot read."""
    if not raw.startswith("{"):
        return None
    try:
        table = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--set: {'.'.join(keys)}: not a valid inline TOML table: {exc}") from None
    return table if isinstance(table, dict) else None


def _set_path(values: dict[str, Any], keys: list[str], value: Any, where: str) -> None:
    node = values
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {'.'.join(keys)}: {key} is not a table")
    node[keys[-1]] = value


def _origin(name: str, value: Any, set_fields: frozenset[str], where: str) -> str:
    """Return "--set" when every field that `value` (the field or table `name`) holds came from a --set
    item, else `where`: an error about it then names what the user typed it in."""
    names = [f"{name}.{key}" for key, _ in _given(value)] if isinstance(value, Mapping) else [name]
    return "--set" if names and all(field in set_fields for field in names) else where


def _build(
    cls: type[C],
    values: Mapping[str, Any],
    where: str,
    prefix: str = "",
    set_fields: frozenset[str] = frozenset(),
) -> C:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        origin = _origin(name, value, set_fields, where)
        if key not in known:
            raise ConfigError(f"{origin}: unknown field {name!r}{_section_hint(hints, key, prefix)}; "
                              f"known: {', '.join(sorted(known))}")  # fmt: skip
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, Mapping):
            value = {**_section_defaults(known[key]), **value}
        kwargs[key] = _coerce(hints[key], value, name, origin, set_fields)
    try:
        config = cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    check = getattr(config, "validate", None)
    if check is not None:
        check()
    return config


def _section_defaults(spec: dataclasses.Field) -> dict[str, Any]:
    """Return the field values of a nested section's own default (its default_factory's instance), so that a
    recipe table or `--set` that names some fields keeps the command's defaults for the others (AlignConfig's
    training has weight_decay 0, not TrainingConfig's 0.01)."""
    if spec.default_factory is dataclasses.MISSING:  # type: ignore[misc]
        return {}
    default = spec.default_factory()  # type: ignore[misc]
    if not dataclasses.is_dataclass(default):
        return {}
    return {f.name: getattr(default, f.name) for f in dataclasses.fields(default)}


def _section_hint(hints: Mapping[str, Any], key: str, prefix: str) -> str:
    """Return ", did you mean 'data.corpus'?" when `key` is a field of a nested section, else ""."""
    for name, tp in hints.items():
        if dataclasses.is_dataclass(tp) and key in {f.name for f in dataclasses.fields(tp)}:
            return f" (did you mean '{prefix}{name}.{key}', a field of the [{name}] table?)"
    return ""


def _coerce(tp: Any, value: Any, name: str, where: str, set_fields: frozenset[str] = frozenset()) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        is_none = value is None or (isinstance(value, _RawValue) and value.lower() in ("none", "null", ""))
        if is_none and type(None) in args:
            return None
        last_error: ConfigError | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, name, where, set_fields)
            except ConfigError as exc:
                last_error = exc
        raise last_error or ConfigError(f"{where}: {name}: bad value {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):  # a section's default instance, kept whole
            return value
        if not isinstance(value, Mapping):
            field = dataclasses.fields(tp)[0].name  # an example of the form, with a field that exists
            raise ConfigError(f"{where}: {name} must be a table of fields, got {value!r}; give them one by one "
                              f"({name}.{field}=...) or as an inline table ({name}={{{field}=...}})")  # fmt: skip
        return _build(tp, value, where, prefix=f"{name}.", set_fields=set_fields)
    if origin in (list, tuple) and isinstance(value, _RawValue):
        parsed = _parse_raw(tp, value, name, where)
        quoted = _quoted_items(value)
        if isinstance(parsed, list):
            value = parsed
        elif quoted is not None:  # `"Hello, world"` one item, commas and all; `"a","b"` two
            value = quoted
        elif value.strip()[:1] == "[":  # a list TOML cannot read (`[money, shop]`): not split into `[money`
            raise ConfigError(f"{where}: {name}: {str(value)!r} is no TOML list; quote its items "
                              '(["money", "shop"]) or give them bare, comma-separated (money,shop)')  # fmt: skip
        else:  # `a,b` (or one item TOML reads as a scalar: the code `nan`, `1`): items parsed as the item type
            value = [_RawValue(v.strip()) for v in value.split(",") if v.strip()]
    elif isinstance(value, _RawValue):
        value = _parse_raw(tp, value, name, where)
    if origin in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: {name} must be a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(inner, v, f"{name}[{i}]", where, set_fields) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: {name} must be a table, got {value!r}")
        # entries set one by one (`--set weights.text=0.5`) arrive as raw strings: give them the value type
        inner = args[1] if len(args) == 2 else Any
        return {key: _coerce(inner, v, f"{name}.{key}", where) for key, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: {name} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: {name} must be an integer, got {value!r}")
        if name.rsplit(".", 1)[-1] == "seed" and value < 0:  # every seed reaches numpy, which refuses them
            raise ConfigError(f"{where}: {name} must be 0 or more, got {value}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: {name} must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            raise ConfigError(f"{where}: {name} must be a number within float range, got {value!r}") from None
        if math.isnan(number):  # every comparison with NaN is false: a NaN threshold silently never fires
            raise ConfigError(f"{where}: {name} must be a number, not NaN")
        if math.isinf(number):  # passes every `> 0` check, then trains NaN weights (lr=inf) saved as done
            raise ConfigError(f"{where}: {name} must be a finite number, got {value!r}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {name} must be a string, got {value!r}")
        return str(value)
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where}: {name} must be a path (a string), got {value!r}")
        return Path(value)
    return value


def _quoted_items(raw: str) -> list[str] | None:
    """Return the items of a `--set` value of quoted TOML strings (`"a, b"` or `"a","b"`); None for another."""
    if raw.strip()[:1] not in ('"', "'"):
        return None
    try:
        items = tomllib.loads(f"v = [{raw}]")["v"]
    except tomllib.TOMLDecodeError:
        return None
    return items if all(isinstance(item, str) for item in items) else None


def _parse_raw(tp: Any, raw: _RawValue, name: str, where: str) -> Any:
    """Parse a `--set` string as TOML (so 3e-4, true, [1, 2] work), falling back to the bare string."""
    if tp is str or tp is Path:
        if raw[:1] in ('"', "'"):  # a TOML string (`--set 'output="runs/x"'`): its value, not its quotes
            with contextlib.suppress(tomllib.TOMLDecodeError):
                quoted = tomllib.loads(f"v = {raw}")["v"]
                if isinstance(quoted, str):
                    return quoted
        return str(raw)
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        # what a shell user types that TOML refuses: `.5`, `1.` and Python's `True` / `False`
        if tp is float:
            with contextlib.suppress(ValueError):
                return float(str(raw))
        if tp is bool and str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        if tp in (int, float, bool):
            raise ConfigError(f"{where}: {name}: expected {tp.__name__}, cannot parse {str(raw)!r}") from None
        return str(raw)
