"""`xling tokenizer`: train a shared vocabulary, give an encoder a new one."""

from __future__ import annotations

from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    Recipe,
    Sets,
    check_json_apart,
    console,
    literal,
    model_folder,
    write_json,
)
from xling.config import load_config

app = typer.Typer(help="Shared subword vocabularies.", no_args_is_help=True)


@app.command("train")
def tokenizer_train(
    corpus: Annotated[
        str | None, typer.Option(help="Folder of <lang>.tsv[.gz] (id<TAB>text), or 'sample'.")
    ] = None,
    languages: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated languages to read from --corpus (default: all its files); each "
            "--text file adds its own."
        ),
    ] = None,  # fmt: skip
    text: Annotated[
        list[str] | None, typer.Option(help="Monolingual file as lang=path (repeatable).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="Output tokenizer folder.")] = None,
    vocab_size: Annotated[int | None, typer.Option(help="Vocabulary size.")] = None,
    alpha: Annotated[float | None, typer.Option(help="Smoothing exponent of language sampling.")] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite/--no-overwrite", help="Replace an existing tokenizer folder.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a shared SentencePiece vocabulary over many languages; save a Hugging Face tokenizer folder."""
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    config = load_config(
        VocabConfig, recipe, set_ or [], section="tokenizer", output=output, vocab_size=vocab_size,
        alpha=alpha, overwrite=overwrite,
        data={"corpus": corpus, "text": text, "languages": languages.split(",") if languages else None},
    )  # fmt: skip
    check_json_apart(json_path, (f"the tokenizer folder {config.output}", config.output))
    sources = TextSources.from_config(config.data)
    title = f"training a {config.vocab_size}-piece vocabulary over {len(sources.languages)} languages"
    with console.status(title) as status:
        # on a terminal the spinner shows each stage; in a log, a line every few seconds says it is alive
        say = (lambda line: status.update(f"{title}: {literal(line)}")) if console.is_terminal else (
            lambda line: console.print(literal(line)))  # fmt: skip
        report = train_vocabulary(sources.text_factories(), config, progress=say)
    console.print(f"[green]tokenizer saved to {literal(report.output)}[/] ({report.vocab_size} tokens)")
    write_json(json_path, {"output": str(report.output), "vocab_size": report.vocab_size,
                            "counts": report.counts, "sampled": report.sampled})  # fmt: skip


@app.command("transfer")
def tokenizer_transfer(
    model: Annotated[
        str | None, typer.Option(help="Transformer encoder folder (or shipped name) to copy.")
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="The new vocabulary: a tokenizer folder (`xling tokenizer train`).")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Folder for the encoder with the new vocabulary.")
    ] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite/--no-overwrite", help="Replace an existing output folder.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Give a transformer encoder a new vocabulary, new rows made from its own sub-token rows (FVT)."""
    from xling.tokenization.vocabulary_transfer import VocabTransferConfig, transfer_vocabulary

    config = load_config(VocabTransferConfig, recipe, set_ or [], section="tokenizer_transfer", model=model,
                         tokenizer=tokenizer, output=output, overwrite=overwrite)  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     (f"the model folder {config.model}", model_folder(config.model)),
                     (f"the tokenizer folder {config.tokenizer}", model_folder(config.tokenizer)))  # fmt: skip
    with console.status(
        f"transferring {literal(config.model)} to the vocabulary {literal(config.tokenizer)}"
    ):
        report = transfer_vocabulary(config.model, config.tokenizer, config.output, seed=config.seed,
                                     overwrite=config.overwrite)  # fmt: skip
    counts = ", ".join(f"{n:,} {kind}" for kind, n in report.counts.items())
    console.print(f"[green]encoder with a {report.vocab_size:,}-token vocabulary saved to {literal(report.output)}[/] "
                  f"(rows: {counts}; {report.seconds:.1f} s)")  # fmt: skip
    write_json(json_path, report.to_dict())
