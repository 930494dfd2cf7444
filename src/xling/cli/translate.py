"""`xling translate`: translate texts or a file with a translation model folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import Recipe, Sets, check_texts, console, literal

logger = logging.getLogger(__name__)


def translate(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to translate (or --input FILE).")] = None,
    src: Annotated[
        str | None,
        typer.Option(
            "--src",
            help="Source language: de, deu, de-DE, the model's code, or auto (the default: detected "
            "per text).",
        ),
    ] = None,
    tgt: Annotated[
        str | None, typer.Option("--tgt", help="Target language: de, deu, de-DE or the model's code.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Translation model folder or shipped name (default: xling-mt-bible)."),
    ] = None,
    detector: Annotated[
        str | None,
        typer.Option(help="Language detector folder or shipped name for --src auto (default: xling-langid)."),
    ] = None,
    input: Annotated[Path | None, typer.Option("--input", help="Text file: line i is translated.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write: line i is the translation of line i.")
    ] = None,
    beam: Annotated[
        int | None, typer.Option("--beam", help="Beam size (1 = greedy; default: the model's own, else 4).")
    ] = None,
    length_penalty: Annotated[float | None, typer.Option(help="Beam length penalty (>1: longer).")] = None,
    no_repeat_ngram_size: Annotated[
        int | None, typer.Option("--no-repeat-ngram", help="Never repeat an n-gram of this size (0: off).")
    ] = None,
    repetition_penalty: Annotated[
        float | None, typer.Option(help="Penalty on repeated tokens (1: off).")
    ] = None,
    max_length_a: Annotated[float | None, typer.Option(help="Output limit: a x source tokens + b.")] = None,
    max_length_b: Annotated[int | None, typer.Option(help="See --max-length-a.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Sentences per batch.")] = None,
    backend: Annotated[str, typer.Option(help="auto (CTranslate2 when converted), torch or ct2.")] = "auto",
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    threads: Annotated[int, typer.Option(help="CPU threads (0: the runtime's default).")] = 0,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Translate TEXT arguments (printed one per line) or a file (--input FILE --output FILE); without --src
    (or with --src auto) each text's language is detected."""
    from xling.atomic import writable_file
    from xling.config import load_config
    from xling.data.readers import require_file
    from xling.errors import ConfigError
    from xling.langid import DEFAULT_IDENTIFIER
    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import DEFAULT_MODEL, Translator, one_line, wants_detection

    if tgt is None:
        raise ConfigError("--tgt: give the language to translate into, e.g. --tgt de")
    check_texts(texts)
    if bool(texts) == (input is not None):
        raise ConfigError("give TEXT arguments or --input FILE --output FILE (one of the two)")
    if (input is None) != (output is None):
        raise ConfigError("--input and --output go together")
    options = load_config(DecodeOptions, recipe, set_ or [], section="translate", beam_size=beam,
                          length_penalty=length_penalty, no_repeat_ngram_size=no_repeat_ngram_size,
                          repetition_penalty=repetition_penalty, max_length_a=max_length_a,
                          max_length_b=max_length_b, batch_size=batch_size)  # fmt: skip
    if input is not None and output is not None:
        # before loading the model (seconds for xling-mt-bible, minutes for NLLB), which a typo in a path
        # would waste; translate_file checks them again
        writable_file(output, [require_file(input), *([recipe] if recipe is not None else [])])
    name = model or DEFAULT_MODEL
    with console.status(f"loading {literal(name)}"):
        translator = Translator.from_pretrained(name, backend=backend, device=device, threads=threads,
                                                detector=detector or DEFAULT_IDENTIFIER)  # fmt: skip
    if input is not None and output is not None:
        report = translator.translate_file(input, output, src, tgt, options, progress=True)
        console.print(f"[green]{report.lines:,} lines written to {literal(report.output)}[/] ({report.sentences:,} "
                      f"sentences, {report.sentences / max(report.seconds, 1e-9):,.1f} sentences/s)")  # fmt: skip
        return
    texts = texts or []
    sources: str | list[str | None] | None = src
    if wants_detection(src):
        sources = translator.detect_sources(texts, name=_text_argument, tgt=tgt)
        logger.info(
            "source languages detected: %s", ", ".join(label or "none (no letters)" for label in sources)
        )
    for translation in translator.translate(texts, sources, tgt, options, name=_text_argument):
        typer.echo(one_line(translation))  # one line per TEXT, as the file mode writes


def _text_argument(i: int) -> str:
    """Return how an error names TEXT argument i: counted from 1, as check_texts counts them (`TEXT 1`)."""
    return f"TEXT {i + 1}"
