"""`xling index`: a persistent cross-language search index (FAISS + SQLite)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from xling.cli.common import (
    JsonOut,
    ModelOpt,
    check_json_apart,
    check_texts,
    console,
    language_code,
    literal,
    load_encoder,
    model_folder,
    write_json,
)

if TYPE_CHECKING:
    from xling.data.documents import Document
    from xling.langid import LanguageIdentifier
    from xling.retrieval.index import Hit, SearchIndex

app = typer.Typer(help="A persistent cross-language search index (FAISS + SQLite).", no_args_is_help=True)
logger = logging.getLogger(__name__)
AUTO = "auto"  # --lang auto: detect the language of every line of a plain text file
SHOWN_LABELS = 8  # detected languages listed after a build
# C0 and C1 control characters but tab: printed as they are, ESC sequences would move the cursor, clear the
# screen or retitle the terminal
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


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
PlainLang = Annotated[
    str | None,
    typer.Option(help="Language of every line of a plain text file, or auto: each line's detected language."),
]
DetectLanguage = Annotated[
    bool | None,
    typer.Option(
        "--detect-language/--no-detect-language",
        help="Store each document's detected language, for search --detected-lang (default: on when a "
        "language detector is there).",
    ),
]
Detector = Annotated[
    str | None, typer.Option(help="Language detector folder or shipped name (default: xling-langid).")
]
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
    detect_language: DetectLanguage = None,
    detector: Detector = None,
) -> None:
    """Create a search index in FOLDER from a file of documents; nothing appears there until it is complete."""
    from xling.atomic import check_folder_place
    from xling.retrieval.index import SearchIndex

    check_folder_place(folder)  # before the model loads and the documents are embedded
    identifier = load_detector(detect_language, detector, lang)
    encoder = load_encoder(model)
    documents = read_input(input, lang)
    index, result = SearchIndex.build(
        folder,
        encoder,
        documents,
        model=model,
        index_kind=kind,
        overwrite=overwrite,
        on_duplicate=on_duplicate,
        show_progress=True,
        detector=identifier,
        where=document_lines(input, len(documents)),
    )
    with index:
        skipped = f", {result.skipped:,} duplicates skipped" if result.skipped else ""
        console.print(
            f"[green]{len(index):,} documents indexed in {literal(folder)}[/]{skipped} "
            f"(model {literal(index.model)})" + detected_summary(index)
        )


@app.command("add")
def index_add(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    input: DocumentsInput,
    lang: PlainLang = None,
    model: IndexModel = None,
    on_duplicate: OnDuplicate = "skip",
    detect_language: DetectLanguage = None,
    detector: Detector = None,
) -> None:
    """Add documents to an index in one transaction (all or nothing); prints what was added and skipped."""
    from xling.retrieval.index import SearchIndex

    identifier = load_detector(detect_language, detector, lang)
    with SearchIndex.open(folder) as index:
        source = model or index.model
        encoder = load_encoder(source)
        documents = read_input(input, lang)
        result = index.add_documents(
            encoder,
            documents,
            on_duplicate=on_duplicate,
            show_progress=True,
            detector=identifier,
            model=source,  # errors name the path given, not only the encoder's own name
            where=document_lines(input, len(documents)),
        )
        parts = [f"added {result.added:,} documents"]
        if result.replaced:
            parts.append(f"replaced {result.replaced:,}")
        if result.skipped and on_duplicate == "replace":  # a later line of the input took the id
            parts.append(f"skipped {result.skipped:,} lines whose id a later line gives again (the last one "
                         "is kept)")  # fmt: skip
        elif result.skipped:
            # an id already stored, or given again earlier in the same input (one id in several languages)
            parts.append(
                f"skipped {result.skipped:,} duplicate ids (already in the index or earlier in the input)"
            )
        console.print(f"[green]{', '.join(parts)}[/]; {len(index):,} in all")


@app.command("delete")
def index_delete(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    ids: Annotated[
        list[str], typer.Argument(help="Row ids (search's row column), or with --keys the input's ids.")
    ],
    keys: Annotated[
        bool, typer.Option("--keys", help="IDS are stable ids (the input's id column or content hashes).")
    ] = False,
) -> None:
    """Delete documents by row id (as search prints them) or, with --keys, by stable id."""
    from xling.data.readers import ascii_digits
    from xling.errors import XlingError
    from xling.retrieval.index import SearchIndex

    def row_id(x: str) -> bool:
        return ascii_digits(x) and int(x) < 2**63

    if not keys and not all(row_id(x) for x in ids):
        bad = next(x for x in ids if not row_id(x))
        raise XlingError(f"{bad!r} is not a row id (a whole number below 2**63); pass --keys to delete by "
                         "stable id")  # fmt: skip
    with SearchIndex.open(folder) as index:
        removed = index.delete_keys(ids) if keys else index.delete([int(x) for x in ids])
        console.print(f"[green]deleted {removed} of {len(ids)} ids[/]; {len(index):,} documents left")


@app.command("search")
def index_search(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    queries: Annotated[list[str], typer.Argument(help="Queries, in any language.")],
    k: Annotated[int, typer.Option(help="Hits per query.")] = 5,
    lang: Annotated[
        str | None,
        typer.Option(
            help="Only hits given in these languages (comma-separated; zh finds cmn). Languages only: for a "
            "script (sr-Latn, zh-Hant) use --detected-lang."
        ),
    ] = None,
    detected_lang: Annotated[
        str | None,
        typer.Option(
            "--detected-lang",
            help="Only hits the language detector found in these languages (comma-separated; zh finds "
            "cmn_Hans; the index must have been built with --detect-language).",
        ),
    ] = None,
    model: IndexModel = None,
    json_path: JsonOut = None,
) -> None:
    """Search an index with queries in any language; hits from all languages or only --lang (given) or
    --detected-lang (detected) ones."""
    from rich.table import Table

    from xling.retrieval.index import SearchIndex, document_key

    check_texts(queries, "QUERY")
    check_queries(queries)
    # written into the index folder (or the model's), it could replace index.json (or the model's files)
    check_json_apart(json_path, (f"the index folder {folder}", folder),
                     (f"the model folder {model}", model_folder(model)))  # fmt: skip
    # passed as given: the index refuses a script or region, which normalising would drop (sr-Latn -> srp)
    # `is not None`: an empty value is an empty code, refused as `--lang ,` is, not "no filter"
    languages = None if lang is None else [x.strip() for x in lang.split(",")]
    for code in languages or []:
        language_code(code)  # an unknown code is named as --lang's
    detected = None if detected_lang is None else [x.strip() for x in detected_lang.split(",")]
    with SearchIndex.open(folder) as index:
        source = model or index.model
        encoder = load_encoder(source)
        results = index.search_texts(
            encoder, queries, k=k, languages=languages, detected=detected, model=source
        )
    payload = []
    for query, hits in zip(queries, results, strict=True):
        # Text, not markup: a document or query holding `[/INST]` or `[bold]` is shown as it is; `row` is
        # the row id that delete takes, `key` the input's id that delete --keys takes (`-`: none was given,
        # the key is a content hash, which --json gives)
        table = Table(title=shown(f"query: {query}"))
        for column in ("score", "lang", "detected", "row", "key", "text"):
            table.add_column(column, justify="right" if column in ("score", "row") else "left")
        for hit in hits:
            key = "-" if hit.key == document_key(hit.text, hit.language) else hit.key
            table.add_row(f"{hit.score:.3f}", shown(hit.language), shown(hit.detected or "-"), str(hit.id),
                          shown(key), shown(hit.text))  # fmt: skip
        Console().print(table)
        payload.append({"query": query, "hits": [hit_record(hit) for hit in hits]})
    write_json(json_path, {"results": payload})


def shown(text: str) -> Text:
    """Return `text` as a rich Text that prints it as it is, its control characters but tab escaped (ESC as
    `\\x1b`, a line break as `\\n`): a stored text's ESC sequence must not reach the terminal (--json keeps
    the exact text)."""
    return Text(_CONTROL_RE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text))


def check_queries(queries: list[str]) -> None:
    """Return nothing if every query has text; else raise DataError naming the first empty one (`QUERY 1`,
    counted from 1 as the command's other errors about its arguments count)."""
    from xling.data.readers import is_blank
    from xling.errors import DataError

    for place, query in enumerate(queries, 1):
        if is_blank(query):  # U+200B alone too: a zero vector, every document at score 0
            raise DataError(f"QUERY {place} is empty (an empty query has no meaning to search for)")


def hit_record(hit: Hit) -> dict:
    """Return one hit as --json writes it."""
    return {"id": hit.id, "key": hit.key, "score": hit.score, "language": hit.language,
            "detected": hit.detected, "text": hit.text, "metadata": hit.metadata}  # fmt: skip


def load_detector(detect: bool | None, name: str | None, lang: str | None) -> LanguageIdentifier | None:
    """Return the language detector to index with, or None: --no-detect-language, or (when nothing asked for
    one: no --detect-language, --detector or --lang auto) none is there, which is logged, not an error."""
    from xling.errors import ConfigError, XlingError
    from xling.langid import DEFAULT_IDENTIFIER, load_identifier

    auto = lang is not None and lang.strip().lower() == AUTO
    if detect is False:
        if auto:
            raise ConfigError(
                "--lang auto detects each line's language: it cannot go with --no-detect-language"
            )
        return None
    try:
        return load_identifier(name or DEFAULT_IDENTIFIER)
    except XlingError as error:
        if detect or auto or name is not None:
            wanted = "--lang auto" if auto else "--detect-language"
            raise XlingError(f"{wanted} needs a language detector: {error}") from error
        logger.info(
            "no language detector (%s): documents are indexed without their detected languages", error
        )
        return None


def read_input(path: Path, lang: str | None) -> list[Document]:
    """Return the documents of an input file; with --lang auto, plain lines marked `und` (the index gives
    them their detected language)."""
    from xling.data.documents import read_documents
    from xling.errors import DataError
    from xling.retrieval.index import non_finite_field, non_finite_message

    auto = lang is not None and lang.strip().lower() == AUTO
    documents = read_documents(path, "und" if auto else lang)
    line = document_line(path, len(documents))
    for i, document in enumerate(documents):
        # JSON Lines metadata: Python reads NaN, Infinity and 1e999, which search --json could not write
        if document.metadata is not None and (found := non_finite_field(document.metadata)) is not None:
            raise DataError(non_finite_message(*found), path, line(i))
    return documents


def document_lines(path: Path, count: int) -> Callable[[int], str]:
    """Return how errors name document i of the `count` that read_input read from `path`: `path:line`."""
    line = document_line(path, count)
    return lambda i: f"{path}:{line(i)}"


def document_line(path: Path, count: int) -> Callable[[int], int]:
    """Return the line number of document i of the `count` that read_input read from `path`."""
    from functools import cache

    from xling.data.readers import read_lines

    @cache
    def first_line() -> int:
        # the documents are the file's lines (no blank ones), after a header line if it has one; counted
        # only when an error names a document
        return 1 + sum(1 for _ in read_lines(path)) - count

    return lambda i: first_line() + i


def detected_summary(index: SearchIndex) -> str:
    """Return `; detected: deu 120, fra 80, ...` (markup) for the console line after a build ('' when
    none)."""
    counts = index.detected_languages()
    shown = ", ".join(f"{literal(label)} {n:,}" for label, n in list(counts.items())[:SHOWN_LABELS])
    more = f", ... ({len(counts) - SHOWN_LABELS} more)" if len(counts) > SHOWN_LABELS else ""
    return f"; detected: {shown}{more}" if counts else ""
