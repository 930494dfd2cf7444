"""`xling eval`: the field's benchmarks, each one command with a table and --json."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    JsonOut,
    MappingFolder,
    Recipe,
    Sets,
    SrcVectors,
    TgtVectors,
    console,
    load_encoder,
    print_scores,
    write_json,
)
from xling.config import load_config

app = typer.Typer(help="The field's benchmarks, each one command with a report.", no_args_is_help=True)


@app.command("bli")
def eval_bli(
    src: SrcVectors,
    tgt: TgtVectors,
    mapping: MappingFolder,
    dictionary: Annotated[str | None, typer.Option(help="Test dictionary, src<TAB>tgt per line.")] = None,
    retrieval: Annotated[str | None, typer.Option(help="nn, csls (k=10) or isf (inverted softmax).")] = None,
    max_vocab: Annotated[
        int | None, typer.Option(help="Words of each vocabulary to load (default 200000, MUSE's); 0 = all.")
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Bilingual lexicon induction: precision@1/5/10 of word translation, with dictionary coverage."""
    from rich.table import Table

    from xling.evaluation.bli import BLIConfig, evaluate_bli_from_files

    config = load_config(BLIConfig, recipe, set_ or [], section="bli", dictionary=dictionary,
                         retrieval=retrieval, max_vocab=max_vocab)  # fmt: skip
    result = evaluate_bli_from_files(src, tgt, mapping, config)
    ((pair, row),) = result.scores.items()
    coverage = row["coverage"]
    table = Table(title=f"BLI {pair}: {result.model} + {result.settings['retrieval']}")
    for column in ("P@1", "P@5", "P@10", "covered pairs"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{row[k]:.2f}" for k in ("p@1", "p@5", "p@10")),
                  f"{coverage['pairs_covered']}/{coverage['lines']} ({100 * coverage['fraction']:.1f}%)")  # fmt: skip
    Console().print(table)
    write_json(json_path, result.to_dict())


ModelOrDefault = Annotated[
    str | None, typer.Option("--model", help="Encoder folder, shipped name or Hub id (default: xling-mini).")
]


@app.command("tatoeba")
def eval_tatoeba(
    model: ModelOrDefault = None,
    data: Annotated[
        str | None, typer.Option(help="Folder holding tatoeba/ (default: $XLING_DATA, else ../shared/data).")
    ] = None,
    langs: Annotated[str | None, typer.Option(help="Comma-separated languages, or 'all'.")] = None,
    scoring: Annotated[
        str | None,
        typer.Option(
            help="cosine, margin (LASER's xsim: ratio margin among the k=4 nearest) or margin-full."
        ),
    ] = None,
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
    model: ModelOrDefault = None,
    data: Annotated[
        str | None, typer.Option(help="Folder holding bible/ (default: $XLING_DATA, else ../shared/data).")
    ] = None,
    langs: Annotated[
        str | None, typer.Option(help="Languages mined against English (default: deu,fra,rus,cmn).")
    ] = None,
    book: Annotated[
        str | None, typer.Option(help="Held-out book whose verses are the true pairs (default: JHN).")
    ] = None,
    distractors: Annotated[int | None, typer.Option(help="Non-parallel verses per side.")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """BUCC-style mining test from the Bible: a held-out book's verse pairs hidden among other verses."""
    from rich.table import Table

    from xling.evaluation.mining import MiningEvalConfig, build_mining_tests, evaluate_mining

    config = load_config(MiningEvalConfig, recipe, set_ or [], section="mining", model=model, data=data,
                         languages=langs.split(",") if langs else None, book=book,
                         distractors=distractors)  # fmt: skip
    encoder = load_encoder(config.model)
    with console.status("building the mining tests"):
        tests = build_mining_tests(config)
    with console.status("mining"):
        result = evaluate_mining(encoder, tests)
    table = Table(title=f"mining ({config.book} hidden among other verses): {result.model}")
    for column in ("pair", "precision", "recall", "F1", "threshold"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for pair, row in result.scores.items():
        table.add_row(pair, f"{100 * row['precision']:.1f}", f"{100 * row['recall']:.1f}", f"{100 * row['f1']:.1f}",
                      "" if row["threshold"] is None else f"{row['threshold']:.3f}")  # fmt: skip
    table.add_row("[bold]average F1[/]", "", "", f"[bold]{100 * result.average:.1f}[/]", "")
    Console().print(table)
    write_json(json_path, result.to_dict())
