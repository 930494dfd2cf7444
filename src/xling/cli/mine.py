"""`xling mine`: bitext mining from two monolingual files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    ModelOpt,
    Recipe,
    Sets,
    check_json_apart,
    console,
    literal,
    load_encoder,
    model_folder,
    write_json,
)
from xling.config import load_config


def mine(
    src: Annotated[Path, typer.Argument(help="Source sentences, one per line.")],
    tgt: Annotated[Path, typer.Argument(help="Target sentences, one per line.")],
    output: Annotated[Path, typer.Option("--output", help="TSV of score<TAB>src<TAB>tgt, best first.")],
    model: ModelOpt = "xling-mini",
    k: Annotated[int | None, typer.Option(help="Neighbours for the margin.")] = None,
    margin: Annotated[str | None, typer.Option(help="ratio, distance or absolute.")] = None,
    mode: Annotated[str | None, typer.Option(help="intersect, forward, backward or max.")] = None,
    threshold: Annotated[
        str | None, typer.Option(help="Keep pairs scoring above this ('auto', 'none').")
    ] = None,
    index: Annotated[str | None, typer.Option(help="FAISS index: flat (exact), ivf or hnsw.")] = None,
    precision: Annotated[str, typer.Option(help="Encoder precision: fp32, bf16 or int8.")] = "fp32",
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Mine translation pairs from two monolingual files with margin-based scoring (LASER-style)."""
    from xling.atomic import writable_file
    from xling.data.readers import require_file
    from xling.retrieval.mining import MineConfig, mine_files

    if json_path is not None:  # the report must replace neither input nor the pairs
        writable_file(json_path, [src, tgt, output])
    check_json_apart(json_path, (f"the model folder {model}", model_folder(model)))
    config = load_config(MineConfig, recipe, set_ or [], section="mine", k=k, margin=margin, mode=mode,
                         index=index, threshold=threshold)  # fmt: skip
    # before the model loads, which a typo in a path would waste (mine_files checks them again)
    require_file(src)
    require_file(tgt)
    writable_file(output, [src, tgt])
    report = mine_files(
        load_encoder(model, precision=precision), src, tgt, output, config, show_progress=True
    )
    repeated = report.src_sentences - report.src_distinct + report.tgt_sentences - report.tgt_distinct
    console.print(f"[green]{report.pairs:,} pairs written to {literal(report.output)}[/] from {report.src_sentences:,} x "
                  f"{report.tgt_sentences:,} sentences in {report.seconds:.1f} s"
                  + (f" ({repeated:,} lines repeating an earlier one, mined once)" if repeated else ""))  # fmt: skip
    write_json(json_path, report.to_dict())
