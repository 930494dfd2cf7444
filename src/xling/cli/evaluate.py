"""`xling eval`: the field's benchmarks, each one command with a table and --json."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    JsonOut,
    ModelOpt,
    Recipe,
    Sets,
    console,
    load_encoder,
    print_scores,
    write_json,
)
from xling.config import load_config

app = typer.Typer(help="The field's benchmarks, each one command with a report.", no_args_is_help=True)


@app.command("bli")
def eval_bli(
    src: Annotated[Path, typer.Option("--src", help="Source word vectors.")],
    tgt: Annotated[Path, typer.Option("--tgt", help="Target word vectors.")],
    mapping: Annotated[Path, typer.Option(help="Mapping folder from `xling align words`.")],
    dictionary: Annotated[str | None, typer.Option(help="Test dictionary, src<TAB>tgt per line.")] = None,
    retrieval: Annotated[str | None, typer.Option(help="nn, csls (k=10) or isf (inverted softmax).")] = None,
    max_vocab: Annotated[
        int, typer.Option(help="Words of each vocabulary to load (MUSE: 200000); 0 = all.")
    ] = 200000,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Bilingual lexicon induction: precision@1/5/10 of word translation, with dictionary coverage."""
    from rich.table import Table

    from xling.alignment.words.mapping import WordMapping
    from xling.evaluation.bli import BLIConfig, evaluate_bli
    from xling.vectors import load_vectors

    config = load_config(BLIConfig, recipe, set_ or [], section="bli", dictionary=dictionary,
                         retrieval=retrieval)  # fmt: skip
    cap = max_vocab or None
    result = evaluate_bli(load_vectors(src, max_words=cap), load_vectors(tgt, max_words=cap),
                          WordMapping.load(mapping), config)  # fmt: skip
    coverage = result["coverage"]
    table = Table(title=f"BLI {result['pair']}: {result['method']} + {result['retrieval']}")
    for column in ("P@1", "P@5", "P@10", "covered pairs"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{result[k]:.2f}" for k in ("p@1", "p@5", "p@10")),
                  f"{coverage['pairs_covered']}/{coverage['lines']} ({100 * coverage['fraction']:.1f}%)")  # fmt: skip
    Console().print(table)
    write_json(json_path, result)


@app.command("tatoeba")
def eval_tatoeba(
    model: ModelOpt = "xling-mini",
    data: Annotated[
        str | None, typer.Option(help="Folder holding tatoeba/ (default: $XLING_DATA or ../shared/data).")
    ] = None,
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages, or 'all'.")] = None,
    scoring: Annotated[str | None, typer.Option(help="cosine or margin (ratio, k=4).")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Tatoeba retrieval accuracy (LASER/XTREME protocol), both directions, per language and averaged."""
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba

    config = load_config(TatoebaConfig, recipe, set_ or [], section="tatoeba", model=model, data=data,
                         scoring=scoring, languages=langs.split(",") if langs else None)  # fmt: skip
    encoder = load_encoder(config.model)
    with console.status("Tatoeba") as status:
        result = evaluate_tatoeba(encoder, config, progress=lambda lang: status.update(f"Tatoeba: {lang}"))
    print_scores(result, ("src2eng", "eng2src"))
    write_json(json_path, result.to_dict())


@app.command("mining")
def eval_mining(
    model: ModelOpt = "xling-mini",
    data: Annotated[
        str | None, typer.Option(help="Folder holding bible/ (default: $XLING_DATA or ../shared/data).")
    ] = None,
    langs: Annotated[str, typer.Option(help="Languages mined against English.")] = "deu,fra,rus,cmn",
    book: Annotated[str, typer.Option(help="Held-out book whose verses are the true pairs.")] = "JHN",
    distractors: Annotated[int | None, typer.Option(help="Non-parallel verses per side.")] = None,
    json_path: JsonOut = None,
) -> None:
    """BUCC-style mining test from the Bible: a held-out book's verse pairs hidden among other verses."""
    from xling.evaluation.mining import build_mining_test, evaluate_mining

    root = Path(data or os.environ.get("XLING_DATA", "../shared/data")).expanduser()
    bible = root / "bible" if (root / "bible").is_dir() else root
    encoder = load_encoder(model)
    with console.status("building the mining tests"):
        tests = [build_mining_test(bible, lang, "eng", book=book, n_distractors=distractors)
                 for lang in langs.split(",")]  # fmt: skip
    with console.status("mining"):
        result = evaluate_mining(encoder, tests)
    payload = result.to_dict()
    from rich.table import Table

    table = Table(title=f"mining ({book} hidden among other verses): {payload['model']}")
    for column in ("pair", "precision", "recall", "F1", "threshold"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for pair, row in payload["scores"].items():
        table.add_row(pair, f"{100 * row['precision']:.1f}", f"{100 * row['recall']:.1f}", f"{100 * row['f1']:.1f}",
                      "" if row["threshold"] is None else f"{row['threshold']:.3f}")  # fmt: skip
    table.add_row("[bold]average F1[/]", "", "", f"[bold]{100 * payload['average']:.1f}[/]", "")
    Console().print(table)
    write_json(json_path, payload)
