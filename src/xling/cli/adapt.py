"""`xling adapt`: add a language to an existing encoder from a dictionary, text or translations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    MaxSteps,
    Recipe,
    Resume,
    TrainingSets,
    check_json_apart,
    console,
    literal,
    model_folder,
    show_training_progress,
    training_overrides,
    write_json,
)


def adapt(
    language: Annotated[str, typer.Option("--language", help="The language to add (e.g. tur, ar, th).")],
    model: Annotated[str | None, typer.Option(help="The encoder to extend (folder or shipped name).")] = None,
    text: Annotated[
        list[Path] | None,
        typer.Option("--text", help="Text of the language: one sentence a line, or CoNLL-U."),
    ] = None,
    dictionary: Annotated[
        list[str] | None,
        typer.Option(help="Word list 'pivot<TAB>new' (or eng-tur=FILE for the column order), or 'swadesh'."),
    ] = None,
    parallel: Annotated[
        list[str] | None,
        typer.Option(help="Sentence pairs 'pivot<TAB>new' (or eng-tur=FILE), 'udhr' or 'sample'."),
    ] = None,
    output: Annotated[str | None, typer.Option(help="The new model folder.")] = None,
    pivot: Annotated[str | None, typer.Option(help="The language the pairs translate into (eng).")] = None,
    relative: Annotated[
        str | None,
        typer.Option(
            help="A language the model has, close to the new one in a sister script (hin -> guj, "
            "tam -> mal, ara -> heb): the new text is read in its script."
        ),
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="Data root for udhr/swadesh.")] = None,
    replace: Annotated[
        bool | None, typer.Option("--replace", help="Allow a language the model already has.")
    ] = None,
    overwrite: Annotated[bool | None, typer.Option("--overwrite", help="Replace a finished output.")] = None,
    detect: Annotated[
        bool,
        typer.Option(
            "--check-language/--no-check-language",
            help="Check the text and pair files' sentences with xling-langid.",
        ),
    ] = True,
    max_steps: MaxSteps = None,
    resume: Resume = None,
    recipe: Recipe = None,
    set_: TrainingSets = None,
    json_path: JsonOut = None,
) -> None:
    """Add a language to a model: new sub-words, initialised from what it knows, trained on your data."""
    from xling.adaptation import adapt as run_adapt
    from xling.adaptation.config import load_adapt_config
    from xling.config import config_to_dict

    # load_adapt_config notes which training fields the recipe or --set gave: a transformer keeps them
    config = load_adapt_config(
        recipe, training_overrides(set_, max_steps), model=model, language=language,
        text=[str(p) for p in text] if text else None, dictionary=dictionary, parallel=parallel, output=output,
        pivot=pivot, relative=relative, data=data, replace=replace, overwrite=overwrite, resume=resume,
    )  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     (f"the model folder {config.model}", model_folder(config.model)))  # fmt: skip
    show_training_progress(config.training)
    detector = None
    # the user's files only (the bundled sources' columns are known); a dictionary alone too: its two columns
    # swapped pass the script check when both languages share a script (tr-en read as en-tr)
    if detect and (
        config.text or set(config.parallel) - {"sample", "udhr"} or set(config.dictionary) - {"swadesh"}
    ):
        from xling.langid import load_identifier

        detector = load_identifier()
    # not result.warnings: adapt logs each as it arises (xling.adaptation.result.add_warning), shown then
    result = run_adapt(
        config, detector=detector, say=lambda message: console.print(f"[dim]{literal(message)}[/]")
    )
    vocabulary = result.vocabulary
    console.print(f"[green]{result.language} added: {vocabulary.get('added', 0):,} new pieces, saved to "
                  f"{literal(result.output)}[/] in {result.seconds:,.0f} s")  # fmt: skip
    for name, value in result.after.items():
        if name in result.before:
            console.print(f"  {name}: {result.before[name]} -> {value}")
    pairs = result.after.get("dev_pairs")
    if isinstance(pairs, int) and 0 < pairs < 30:  # 2 held-out pairs read 75.0 -> 100.0
        console.print(f"  (on {pairs} held-out pairs: one pair moves the dev figure by up to {100 / pairs:.1f} "
                      "points; too few to compare settings by)")  # fmt: skip
    if result.before_is_recall:  # an "after" below it is no loss on pairs new to both
        console.print(
            "  (before: recall of dev pairs the base model was trained on, not a figure on unseen ones)"
        )
    write_json(json_path, {**result.to_dict(), "config": config_to_dict(config)})
