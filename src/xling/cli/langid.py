"""`xling detect` (which language is this text in) and `xling langid train` (a detector from corpora)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    Recipe,
    Sets,
    check_json_apart,
    check_texts,
    console,
    literal,
    write_json,
)

app = typer.Typer(help="Language identification: train a detector.", no_args_is_help=True)


def detect(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to identify (or --input FILE).")] = None,
    input: Annotated[Path | None, typer.Option("--input", help="Text file, one text per line.")] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write the answer per input line here (as printed: TSV, --json, --spans)."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Detector folder or shipped name (default: xling-langid).")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Candidates per text.")] = 1,
    threshold: Annotated[
        float | None, typer.Option(help="Below this probability the answer is `und` (default: the model's).")
    ] = None,
    spans: Annotated[
        bool, typer.Option("--spans", help="Cut each text (each --input line) into language spans.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON line per text (per --input line, in order).")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Texts per batch (--input).")] = 1024,
    languages: Annotated[
        str | None,
        typer.Option(help="Comma-separated codes to choose among, any form (de,fr,zh-Hant); default: all."),
    ] = None,
) -> None:
    """Print the language of each TEXT (ISO 639-3, with a script where the language has several)."""
    from xling.atomic import writable_file
    from xling.data.readers import require_file
    from xling.errors import ConfigError
    from xling.langid import DEFAULT_IDENTIFIER, LanguageIdentifier, language_spans
    from xling.langid.files import detect_file, format_predictions, format_spans
    from xling.langid.labels import try_parse_label

    if bool(texts) == (input is not None):
        raise ConfigError("give TEXT arguments or --input FILE (one of the two)")
    check_texts(texts)
    if output is not None and input is None:
        raise ConfigError("--output goes with --input")
    if input is not None:
        # before loading the detector, which a typo in a path would waste (detect_file checks them again)
        path = require_file(input)
        if output is not None:
            writable_file(output, [path])
    identifier = LanguageIdentifier.from_pretrained(model or DEFAULT_IDENTIFIER)
    allowed = (
        [code.strip() for code in languages.split(",") if code.strip()] if languages is not None else None
    )
    if allowed is not None and not allowed:
        raise ConfigError("--languages: no language code given")
    if allowed and (invalid := [code for code in allowed if try_parse_label(code) is None]):
        raise ConfigError(f"--languages: {', '.join(invalid)}: not language codes (ISO 639-1/3 or BCP-47, e.g. "
                          "de, zh-Hant)")  # fmt: skip
    if allowed and (unknown := identifier.unknown_languages(allowed)):
        raise ConfigError(
            f"--languages: {', '.join(unknown)} not known to the detector {identifier.path or ''}"
        )
    if input is not None:
        # without --output each answer is printed as soon as its batch is done
        report = detect_file(identifier, input, output, k=k, threshold=threshold, batch_size=batch_size,
                             progress=output is not None, languages=allowed, as_json=as_json, spans=spans,
                             write=typer.echo if output is None else None)  # fmt: skip
        if output is not None:
            console.print(f"[green]{report.lines:,} lines written to {literal(output)}[/] "
                          f"({report.lines / max(report.seconds, 1e-9):,.0f} texts/s)")  # fmt: skip
        return
    for text in texts or []:
        if spans:
            found = language_spans(identifier, text, languages=allowed, threshold=threshold)
            typer.echo(format_spans(found, as_json=as_json))
        else:
            top = identifier.predict([text], k=k, threshold=threshold, languages=allowed)[0]
            # columns for the labels an answer may hold, not for a --k beyond them
            typer.echo(
                format_predictions(text, top, as_json=as_json, k=min(k, identifier.label_count(allowed)))
            )


@app.command("train")
def train(
    output: Annotated[str | None, typer.Option(help="Folder to save the detector to.")] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="Data root (default $XLING_DATA, ../shared/data).")
    ] = None,
    corpora: Annotated[
        list[str] | None,
        typer.Option("--corpus", help="bible, udhr, umsab, ud, swadesh, bli, wordfreq, sample (repeatable)."),
    ] = None,
    tsv: Annotated[
        list[str] | None,
        typer.Option(
            "--tsv",
            help="A `language<TAB>text` file (repeatable), read besides the corpora; add "
            "--set data.corpora= to train on your files alone.",
        ),  # fmt: skip
    ] = None,
    languages: Annotated[
        list[str] | None, typer.Option("--lang", help="Learn only this language (repeatable).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Passes over the examples (family linear only).")] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite", help="Replace a detector already at --output.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a language detector on the named corpora and your own `lang<TAB>text` files."""
    from xling.config import config_to_dict, load_config
    from xling.langid.train import LangidTrainConfig, train_identifier

    config = load_config(LangidTrainConfig, recipe, set_ or [], section="langid", output=output, epochs=epochs,
                         overwrite=overwrite,
                         data={"data": data, "corpora": corpora, "tsv": tsv, "languages": languages})  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output))
    result = train_identifier(config, progress=True)
    console.print(f"[green]{result.labels} labels learned from {result.train_examples:,} examples, saved to "
                  f"{literal(result.output)}[/] in {result.seconds:,.0f} s")  # fmt: skip
    if math.isnan(result.dev_accuracy):
        console.print("  no held-out lines (too little text per language to hold some out)")
    else:
        console.print(f"  held-out macro accuracy: {result.dev_accuracy:.2%} (lines), "
                      f"{result.dev_short_accuracy:.2%} (1-3 words)")  # fmt: skip
        weakest = sorted(result.per_label.items(), key=lambda item: item[1])[:8]
        console.print("  weakest: " + ", ".join(f"{literal(label)} {value:.0%}" for label, value in weakest))
        if result.not_measured:  # in none of the figures above: too few distinct lines to hold one out
            unmeasured = (f"{literal(label)} ({lines} line{'' if lines == 1 else 's'})"
                          for label, lines in result.not_measured.items())  # fmt: skip
            console.print("  not measured: " + ", ".join(unmeasured))
    accuracy, short = (None if math.isnan(x) else x for x in (result.dev_accuracy, result.dev_short_accuracy))
    write_json(json_path, {"output": str(result.output), "labels": result.labels,
                           "train_examples": result.train_examples, "dev_macro_accuracy": accuracy,
                           "dev_short_macro_accuracy": short, "seconds": result.seconds,
                           "dev_accuracy": result.per_label, "dev_not_measured": result.not_measured,
                           "config": config_to_dict(config)})  # fmt: skip
