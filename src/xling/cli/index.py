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


INPUT_HELP = (
    "Documents, one a line: lang<TAB>text; plain text with --lang; a TSV whose first line names its "
    "columns (id<TAB>lang<TAB>text, id<TAB>text with --lang); or .jsonl objects with text, lang, id, "
    "metadata. The id is the document's stable id (default: a hash of language and text)."
)
DUPLICATE_HELP = (
    "A document whose id is already in the index: skip it (adding a file again adds nothing twice), "
    "error (add nothing) or replace it."
)
DocumentsInput = Annotated[Path, typer.Option("--input", help=INPUT_HELP)]
PlainLang = Annotated[str | None, typer.Option(help="Language of every line of a plain text file.")]
OnDuplicate = Annotated[str, typer.Option("--on-duplicate", help=DUPLICATE_HELP)]
IndexModel = Annotated[str | None, typer.Option(help="Encoder (default: the one the index was built with).")]


@app.command("build")
def index_build(
    folder: Annotated[Path, typer.Argument(help="Index folder to create.")],
    input: DocumentsInput,
    model: ModelOpt = "xling-mini",
    lang: PlainLang = None,
    kind: Annotated[str, typer.Option(help="FAISS index: flat (exact), ivf or hnsw.")] = "flat",
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="Replace an index already there (once the new one is complete)."),
    ] = False,
    on_duplicate: OnDuplicate = "skip",
) -> None:
    """Create a search index in FOLDER from a file of documents; nothing appears there until it is complete."""
    from xling.data.documents import read_documents
    from xling.retrieval.index import SearchIndex

    encoder = load_encoder(model)
    documents = read_documents(input, lang)
    index, result = SearchIndex.build(
        folder,
        encoder,
        documents,
        model=model,
        index_kind=kind,
        overwrite=overwrite,
        on_duplicate=on_duplicate,
        show_progress=True,
    )
    with index:
        skipped = f", {result.skipped:,} duplicates skipped" if result.skipped else ""
        console.print(
            f"[green]{len(index):,} documents indexed in {folder}[/]{skipped} (model {index.model})"
        )


@app.command("add")
def index_add(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    input: DocumentsInput,
    lang: PlainLang = None,
    model: IndexModel = None,
    on_duplicate: OnDuplicate = "skip",
) -> None:
    """Add documents to an index in one transaction (all or nothing); prints what was added and skipped."""
    from xling.data.documents import read_documents
    from xling.retrieval.index import SearchIndex

    with SearchIndex.open(folder) as index:
        encoder = load_encoder(model or index.model)
        documents = read_documents(input, lang)
        result = index.add_documents(encoder, documents, on_duplicate=on_duplicate, show_progress=True)
        parts = [f"added {result.added:,} documents"]
        if result.replaced:
            parts.append(f"replaced {result.replaced:,}")
        if result.skipped:
            parts.append(f"skipped {result.skipped:,} already in the index")
        console.print(f"[green]{', '.join(parts)}[/]; {len(index):,} in all")


@app.command("delete")
def index_delete(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    ids: Annotated[list[str], typer.Argument(help="Document ids: the row ids search prints, or --keys.")],
    keys: Annotated[
        bool, typer.Option("--keys", help="IDS are stable ids (the input's id column or content hashes).")
    ] = False,
) -> None:
    """Delete documents by row id (as search prints them) or, with --keys, by stable id."""
    from xling.errors import XlingError
    from xling.retrieval.index import SearchIndex

    if not keys and not all(x.isdigit() for x in ids):
        bad = next(x for x in ids if not x.isdigit())
        raise XlingError(f"{bad!r} is not a row id (a whole number); pass --keys to delete by stable id")
    with SearchIndex.open(folder) as index:
        removed = index.delete_keys(ids) if keys else index.delete([int(x) for x in ids])
        console.print(f"[green]deleted {removed} of {len(ids)} ids[/]; {len(index):,} documents left")


@app.command("search")
def index_search(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    queries: Annotated[list[str], typer.Argument(help="Queries, in any language.")],
    k: Annotated[int, typer.Option(help="Hits per query.")] = 5,
    lang: Annotated[str | None, typer.Option(help="Only hits in these languages (comma-separated).")] = None,
    model: IndexModel = None,
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
        payload.append({"query": query, "hits": [{"id": h.id, "key": h.key, "score": h.score, "language": h.language,
                                                  "text": h.text, "metadata": h.metadata} for h in hits]})  # fmt: skip
    write_json(json_path, {"results": payload})
