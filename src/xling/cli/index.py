"""`xling index`: a persistent cross-language search index (FAISS + SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    JsonOut,
    ModelOpt,
    console,
    language_code,
    load_encoder,
    write_json,
)

app = typer.Typer(help="A persistent cross-language search index (FAISS + SQLite).", no_args_is_help=True)


def _documents(input: Path, lang: str | None) -> tuple[list[str], list[str]]:
    """Return (texts, languages) from a file: one text per line with --lang, else lang<TAB>text lines."""
    from xling.data.languages import normalize_language
    from xling.data.readers import read_lines
    from xling.errors import DataError

    texts, languages = [], []
    for number, line in enumerate(read_lines(input), start=1):
        if lang is not None:
            texts.append(line)
            languages.append(lang)
            continue
        code, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise DataError("expected lang<TAB>text (or pass --lang for a plain text file)", input, number)
        languages.append(normalize_language(code))
        texts.append(text.strip())
    return texts, languages


@app.command("build")
def index_build(
    folder: Annotated[Path, typer.Argument(help="Index folder to create.")],
    input: Annotated[
        Path, typer.Option("--input", help="Documents: lang<TAB>text lines, or text lines with --lang.")
    ],
    model: ModelOpt = "xling-mini",
    lang: Annotated[str | None, typer.Option(help="Language of every line of a plain text file.")] = None,
    kind: Annotated[str, typer.Option(help="FAISS index: flat (exact), ivf or hnsw.")] = "flat",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an index already there.")] = False,
) -> None:
    """Create a search index in FOLDER from a file of documents."""
    from xling.retrieval.index import SearchIndex

    encoder = load_encoder(model)
    texts, languages = _documents(input, language_code(lang))
    with SearchIndex.create(folder, encoder.name, encoder.dimension, kind, overwrite=overwrite) as index:
        index.add_texts(encoder, texts, languages)
        console.print(f"[green]{len(index):,} documents indexed in {folder}[/] (model {encoder.name})")


@app.command("add")
def index_add(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    input: Annotated[
        Path, typer.Option("--input", help="Documents: lang<TAB>text lines, or text lines with --lang.")
    ],
    lang: Annotated[str | None, typer.Option(help="Language of every line of a plain text file.")] = None,
    model: Annotated[
        str | None, typer.Option(help="Encoder (default: the one the index was built with).")
    ] = None,
) -> None:
    """Add documents to an index; prints the new ids."""
    from xling.retrieval.index import SearchIndex

    with SearchIndex.open(folder) as index:
        encoder = load_encoder(model or index.model)
        texts, languages = _documents(input, language_code(lang))
        ids = index.add_texts(encoder, texts, languages)
        console.print(
            f"[green]added {len(ids):,} documents[/] (ids {ids[0]}..{ids[-1]}); {len(index):,} in all"
        )


@app.command("delete")
def index_delete(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    ids: Annotated[list[int], typer.Argument(help="Document ids to delete.")],
) -> None:
    """Delete documents by id."""
    from xling.retrieval.index import SearchIndex

    with SearchIndex.open(folder) as index:
        removed = index.delete(ids)
        console.print(f"[green]deleted {removed} of {len(ids)} ids[/]; {len(index):,} documents left")


@app.command("search")
def index_search(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    queries: Annotated[list[str], typer.Argument(help="Queries, in any language.")],
    k: Annotated[int, typer.Option(help="Hits per query.")] = 5,
    lang: Annotated[str | None, typer.Option(help="Only hits in these languages (comma-separated).")] = None,
    model: Annotated[
        str | None, typer.Option(help="Encoder (default: the one the index was built with).")
    ] = None,
    json_path: JsonOut = None,
) -> None:
    """Search an index with queries in any language; hits from all languages or only --lang ones."""
    from rich.table import Table

    from xling.retrieval.index import SearchIndex

    with SearchIndex.open(folder) as index:
        encoder = load_encoder(model or index.model)
        languages = [language_code(x) for x in lang.split(",")] if lang else None
        results = index.search_texts(encoder, queries, k=k, languages=languages)
    payload = []
    for query, hits in zip(queries, results, strict=True):
        table = Table(title=f"query: {query}")
        for column in ("score", "lang", "id", "text"):
            table.add_column(column, justify="right" if column in ("score", "id") else "left")
        for hit in hits:
            table.add_row(f"{hit.score:.3f}", hit.language, str(hit.id), hit.text)
        Console().print(table)
        payload.append({"query": query, "hits": [{"id": h.id, "score": h.score, "language": h.language,
                                                  "text": h.text, "metadata": h.metadata} for h in hits]})  # fmt: skip
    write_json(json_path, {"results": payload})
