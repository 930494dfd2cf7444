"""`xling vectors`: train, convert and translate with monolingual word vectors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    MappingFolder,
    Recipe,
    Sets,
    SrcVectors,
    TgtVectors,
    UnicodeErrors,
    check_texts,
    console,
    literal,
)
from xling.config import load_config

app = typer.Typer(help="Monolingual word vectors: train and convert.", no_args_is_help=True)


@app.command("train")
def vectors_train(
    corpus: Annotated[
        str | None, typer.Option(help="Text file, Bible TSV, or a folder of <lang>.tsv.gz with --language.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language file to take from a corpus folder.")] = None,
    output: Annotated[str | None, typer.Option(help="Vectors file: .vec, .vec.gz or .npy.")] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite", help="Replace a vectors file already at --output.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Train fastText (default) or word2vec vectors for one language with gensim."""
    from xling.vectors import VectorsTrainConfig, train_vectors

    config = load_config(VectorsTrainConfig, recipe, set_ or [], section="vectors", corpus=corpus,
                         language=language, output=output, overwrite=overwrite)  # fmt: skip
    vectors = train_vectors(config, progress=True)
    console.print(f"[green]{len(vectors):,} words x {vectors.dim} written to {literal(config.output)}[/]")


@app.command("convert")
def vectors_convert(
    source: Annotated[Path, typer.Argument(help="Vectors to read: .vec/.txt[.gz], .bin or .npy.")],
    target: Annotated[Path, typer.Argument(help="Vectors to write: .vec[.gz] or .npy (+ .vocab.txt).")],
    max_words: Annotated[int | None, typer.Option(help="Keep the N most frequent (first) words.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a file already at TARGET (never SOURCE).")
    ] = False,
    unicode_errors: UnicodeErrors = None,
) -> None:
    """Convert word vectors between formats (the .npy form loads 1M vectors in well under a second)."""
    from xling.vectors import convert_vectors

    vectors = convert_vectors(source, target, max_words=max_words, overwrite=overwrite,
                              unicode_errors=unicode_errors or "strict")  # fmt: skip
    console.print(f"[green]{len(vectors):,} words x {vectors.dim} written to {literal(target)}[/]")


@app.command("translate")
def vectors_translate(
    words: Annotated[list[str], typer.Argument(help="Source words to translate.")],
    src: SrcVectors,
    tgt: TgtVectors,
    mapping: MappingFolder,
    retrieval: Annotated[str | None, typer.Option(help="nn, csls (k=10, the default) or isf.")] = None,
    top: Annotated[int | None, typer.Option(help="Translations per word (default 5).")] = None,
    max_vocab: Annotated[
        int | None, typer.Option(help="Words of each vocabulary to load (default 200000); 0 = all.")
    ] = None,
    unicode_errors: UnicodeErrors = None,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Translate words with an aligned pair of vocabularies (the best target words by CSLS)."""
    from rich.table import Table

    from xling.alignment.words.translate import WordTranslateConfig, translate_words_from_files

    check_texts(words, "WORD")
    config = load_config(WordTranslateConfig, recipe, set_ or [], section="translate_words", retrieval=retrieval,
                         top=top, max_vocab=max_vocab, unicode_errors=unicode_errors)  # fmt: skip
    found = translate_words_from_files(words, src, tgt, mapping, config)
    table = Table(title=literal(f"{src.name} -> {tgt.name} ({config.retrieval})"))
    table.add_column("word")
    table.add_column("translations (score)")
    for word, hits in found.items():
        table.add_row(literal(word), literal(", ".join(f"{target} ({score:.2f})" for target, score in hits)))
    Console().print(table)
