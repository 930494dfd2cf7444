"""What every verb group shares: the console, the recipe/--set/--json options, encoder loading, tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from xling.atomic import write_json_atomically

# soft_wrap: a piped message stays one line in a log instead of being cut at 80 columns. emoji off: a
# path or text holding `:smile:` is shown as given (xling's own messages use no emoji codes).
console = Console(stderr=True, soft_wrap=True, emoji=False)

Recipe = Annotated[Path | None, typer.Option("--recipe", help="TOML recipe file that sets config fields.")]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config field, KEY=VALUE (repeatable; a nested field by its dotted "
        "path, a list comma-separated: --set data.languages=deu,fra).",
    ),
]
TrainingSets = Annotated[
    list[str] | None, typer.Option("--set", help="Override a config field: --set training.lr=3e-4.")
]


def _writable_json(path: Path | None) -> Path | None:
    """Return `path` once a file can be written there (typer.BadParameter otherwise): checked when the
    command starts, not after the work whose figures it would hold."""
    from xling.atomic import writable_file
    from xling.errors import DataError

    if path is None:
        return None
    try:
        path = writable_file(path)
    except DataError as error:
        raise typer.BadParameter(str(error)) from None
    name = path.name.lower().removesuffix(".gz")
    if name in MODEL_FILES and any((path.parent / other).is_file() for other in MODEL_MARKERS - {name}):
        # a model's own file: a report written there would break the model (the file itself is no sign)
        raise typer.BadParameter(f"{path} is a file of the model in {path.parent}: writing the figures there "
                                 "would replace it; name another file")  # fmt: skip
    if path.is_file() and path.stat().st_size and not _json_report(path):
        # a report replaces an earlier report, never some other file (an input named by mistake, a recipe)
        raise typer.BadParameter(f"{path} exists and is not a JSON file: writing the figures there would "
                                 "replace it; name another file")  # fmt: skip
    return path


# the names a model folder's own JSON files have (xling's metadata, Hugging Face's and sentence-transformers')
MODEL_FILES = frozenset({"xling.json", "config.json", "tokenizer.json", "tokenizer_config.json",
                         "generation_config.json", "sentence_bert_config.json", "modules.json"})  # fmt: skip
# files whose presence beside a --json path shows a model folder
MODEL_MARKERS = frozenset(
    {"xling.json", "config.json", "model.safetensors", "pytorch_model.bin", "modules.json"}
)


def check_json_apart(json_path: Path | None, *folders: tuple[str, str | Path | None]) -> None:
    """Return nothing if the --json file lies in none of the command's model and output `folders` (pairs of
    how the message names one, "the model folder mini", and its path; None or a name that is no folder here,
    a shipped name or Hub id, is skipped); else raise ConfigError naming --json: the figures would replace
    a file of the model (its xling.json, its config.json) or land in a folder the command replaces."""
    from xling.atomic import check_apart
    from xling.errors import ConfigError

    if json_path is None:
        return
    for label, folder in folders:
        if folder is None or (Path(folder).exists() and not Path(folder).is_dir()):
            continue
        try:
            check_apart(json_path, [(label, folder)], "write the figures elsewhere")
        except ConfigError as error:
            raise ConfigError(f"--json: {error}") from None


def model_folder(model: str | Path | None) -> Path | None:
    """Return `model` as a Path when it names a folder here (not a shipped name or Hub id), else None."""
    if model is None or model == "":  # a field left empty names no folder (Path("") would be ".")
        return None
    path = Path(model).expanduser()
    return path if path.is_dir() else None


def _json_report(path: Path) -> bool:
    """Return whether `path` holds one JSON object (as every --json report is; reports are small), plain or
    gzipped (xling gzips every output named `.gz`; older versions wrote such a report plain)."""
    import gzip
    import json
    import zlib

    if path.stat().st_size > 64 * 1024 * 1024:
        return False
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # gzip's magic number
            data = gzip.decompress(data)
        return isinstance(json.loads(data.decode("utf-8-sig")), dict)
    except (ValueError, UnicodeDecodeError, gzip.BadGzipFile, EOFError, zlib.error):
        return False


JsonOut = Annotated[
    Path | None,
    typer.Option("--json", help="Write the figures of this run to this file.", callback=_writable_json),
]
ModelOpt = Annotated[
    str, typer.Option("--model", help="Encoder folder, shipped name (xling-mini) or Hub id.")
]
MaxSteps = Annotated[int | None, typer.Option(help="Optimizer steps.")]
Resume = Annotated[
    bool | None, typer.Option("--resume/--no-resume", help="Continue from the newest checkpoint.")
]
TextInput = Annotated[Path, typer.Option("--input", help="Text file, one text per line (plain or .gz).")]
SrcVectors = Annotated[Path, typer.Option("--src", help="Source word vectors.")]
TgtVectors = Annotated[Path, typer.Option("--tgt", help="Target word vectors.")]
MappingFolder = Annotated[Path, typer.Option(help="Mapping folder from `xling align words`.")]
UnicodeErrors = Annotated[
    str | None,
    typer.Option(
        "--unicode-errors",
        help="A word of a vectors file that is not UTF-8 (official fastText files have some): strict (an "
        "error, the default), skip (drop its row, with one warning) or replace (U+FFFD for each bad byte).",
    ),
]


def literal(value: object) -> str:
    """Return `value` (a path, a text, a query, a label read from a file) as rich markup that shows it as it
    is: `[/INST]` in a document or `out[red].tsv` as a path is neither a tag (MarkupError, or a style
    that eats the brackets) nor an error."""
    return escape(str(value))


def write_json(path: Path | None, payload: dict) -> None:
    """Return nothing after writing `payload` to `path` atomically when the user asked for --json; a write
    that fails (disk full, a read-only mount: what no check before the work can see) is a DataError naming
    the path, and any earlier file there stays as it was."""
    from xling.errors import DataError

    if path is None:
        return
    try:
        write_json_atomically(path, payload)
    except OSError as error:
        raise DataError(f"cannot write the figures: {error.strerror or error}", path) from error


def check_texts(texts: list[str] | None, what: str = "TEXT") -> None:
    """Return nothing if every text argument is valid Unicode; else raise DataError naming it (`what` and
    its place, counted from 1): bytes that were not UTF-8 reach Python as lone surrogates, which a
    tokenizer or encoder would fail on with a TypeError."""
    from xling.data.readers import first_unencodable
    from xling.errors import DataError

    if (place := first_unencodable(texts or [])) is not None:
        raise DataError(f"{what} {place + 1} is not valid UTF-8 text")


def load_encoder(model: str, **options):
    """Return the Encoder for `model`, with a spinner while it loads."""
    from xling.embeddings.encoder import Encoder

    with console.status(f"loading {literal(model)}"):
        return Encoder.load(model, **options)


def language_code(lang: str | None, option: str = "--lang") -> str | None:
    """Return the normalised language code of a --lang option (None stays None); a bad code names `option`."""
    from xling.data.languages import normalize_language

    return None if lang is None else normalize_language(lang, where=option)


def print_scores(result, columns: tuple[str, ...]) -> None:
    """Print an evaluation result as a table: a row per language, its primary metric last, the average
    (of the primary metric) under it."""
    from rich.table import Table

    shown = (*[c for c in columns if c != result.primary], result.primary)
    title = f"{result.task}: {result.model} ({result.settings.get('scoring', '')})"
    table = Table(title=literal(title))
    table.add_column("language")
    for column in shown:
        table.add_column(column, justify="right")
    for lang, row in result.scores.items():
        table.add_row(literal(lang), *(f"{row[c]:.1f}" for c in shown))
    table.add_row("[bold]average[/]", *([""] * (len(shown) - 1)), f"[bold]{result.average:.1f}[/]")
    Console().print(table)


def training_overrides(sets: list[str] | None, max_steps: int | None) -> list[str]:
    """Return the --set overrides of a training verb, with --max-steps as training.max_steps first: an
    option, it comes before the user's --set items, so that a --set of training.max_steps wins (defaults,
    recipe, options, then --set, as load_config documents)."""
    given = [] if max_steps is None else [f"training.max_steps={max_steps}"]
    return [*given, *(sets or [])]


def show_training_progress(training) -> None:
    """Turn the training progress on unless the recipe or --set decided (library calls leave it off)."""
    if training.progress is None:
        training.progress = True


def print_resumed(step: int, run_dir: Path) -> None:
    """Print the step a run resumed from (nothing for a fresh run)."""
    if step:
        console.print(f"resumed from step {step:,} (of {literal(run_dir / 'checkpoints')})")
