"""`xling embed` and `xling export`: encode files, and export an encoder to fast runtimes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    JsonOut,
    ModelOpt,
    Recipe,
    Sets,
    TextInput,
    check_json_apart,
    console,
    literal,
    load_encoder,
    model_folder,
    write_json,
)
from xling.config import load_config
from xling.export.config import INT8_MIN_COSINE, OnnxExportConfig

app = typer.Typer(help="Fast runtimes for an encoder, each checked against it.", no_args_is_help=True)


def embed(
    model: ModelOpt,
    input: TextInput,
    output: Annotated[
        Path, typer.Option("--output", help="Vectors: FILE.npy or FILE.fvecs (row i = line i).")
    ],
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 64,
    dtype: Annotated[str, typer.Option(help="float32 or float16 (.npy only).")] = "float32",
    normalize: Annotated[bool, typer.Option(help="Unit-length vectors.")] = True,
    precision: Annotated[
        str,
        typer.Option(help="fp32, bf16 autocast (faster on CPUs with bf16) or int8 (dynamic quantisation)."),
    ] = "fp32",
    pooling: Annotated[str | None, typer.Option(help="Override pooling: mean, cls, max, pooler.")] = None,
    layer: Annotated[int | None, typer.Option(help="Hidden layer to pool (default: last).")] = None,
    max_length: Annotated[int | None, typer.Option(help="Token limit (longer texts are cut).")] = None,
) -> None:
    """Encode every line of a text file into one vector per line."""
    from xling.embeddings.files import check_embed_paths, embed_file

    check_embed_paths(input, output, dtype)  # before loading the model, which a bad path would waste
    encoder = load_encoder(model, precision=precision, pooling=pooling, layer=layer, max_length=max_length)
    report = embed_file(encoder, input, output, batch_size=batch_size, dtype=dtype, normalize=normalize,
                        show_progress=True)  # fmt: skip
    note = f", {report.truncated} cut to the token limit" if report.truncated else ""
    console.print(f"[green]{report.rows} x {report.dimension} vectors written to {literal(report.output)}[/] "
                  f"({report.rows / max(report.seconds, 1e-9):,.0f} texts/s{note})")  # fmt: skip


@app.command("onnx")
def export_onnx_cmd(
    model: ModelOpt,
    output: Annotated[Path, typer.Option("--output", help="Folder to write (may be the model folder).")],
    int8: Annotated[bool | None, typer.Option("--int8", help="Also write a dynamic int8 graph.")] = None,
    optimize: Annotated[
        bool | None,
        typer.Option("--optimize", help="Also write ONNX Runtime's fused graph (and its int8 with --int8)."),
    ] = None,
    int8_min_cosine: Annotated[
        float | None,
        typer.Option(
            "--int8-min-cosine",
            help=f"Optimized int8: keep FFN outputs fp32 until this mean cosine (default {INT8_MIN_COSINE}).",
        ),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Sentences to check it on, one per line (default: bundled sample)."),
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Export a transformer encoder to ONNX Runtime (fp32, --int8, --optimize); report cosine and speed."""
    from rich.table import Table

    from xling.data.readers import read_lines
    from xling.export.onnx import export_onnx

    config = load_config(OnnxExportConfig, recipe, set_ or [], section="export_onnx", int8=int8, optimize=optimize,
                         int8_min_cosine=int8_min_cosine, sample=sample)  # fmt: skip
    check_json_apart(json_path, (f"the output folder {output}", output),
                     (f"the model folder {model}", model_folder(model)))  # fmt: skip
    sentences = list(read_lines(config.sample)) if config.sample is not None else None
    with console.status(f"exporting {literal(model)} to ONNX and measuring it"):
        report = export_onnx(model, output, int8=config.int8, optimize=config.optimize, sentences=sentences,
                             int8_min_cosine=config.int8_min_cosine,
                             int8_outlier_channels=config.int8_outlier_channels)  # fmt: skip
    backends = ", ".join(repr(v.backend) for v in report.variants if v.backend != "torch")
    console.print(f"[green]ONNX export written to {literal(report.output / 'onnx')}[/] ({report.exporter} exporter, "
                  f"opset {report.opset}); load it with Encoder.load(folder, backend=...): {backends}")  # fmt: skip
    table = Table(title=f"vs PyTorch fp32 on {report.sentences} sentences, {report.threads} thread(s)")
    for column in ("variant", "file", "MB", "mean cosine", "min cosine", "sentences/s"):
        table.add_column(column, justify="left" if column in ("variant", "file") else "right")
    for row in report.variants:
        table.add_row(row.name, row.file or "", "" if row.megabytes is None else f"{row.megabytes:,.1f}",
                      f"{row.mean_cosine:.5f}", f"{row.min_cosine:.5f}", f"{row.sentences_per_s:,.0f}")  # fmt: skip
    Console().print(table)
    write_json(json_path, report.to_dict())


@app.command("ct2")
def export_ct2_cmd(
    model: Annotated[
        str, typer.Option("--model", help="Translation model folder (M2M-100, NLLB, Marian or xling's).")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", help="Folder to write (default: MODEL/ctranslate2).")
    ] = None,
    quantization: Annotated[
        str | None,
        typer.Option(
            "--quantization", help="int8 (default), int8_float32, int16, float32; *float16 for GPUs."
        ),
    ] = None,
    overwrite: Annotated[
        bool | None,
        typer.Option(
            "--overwrite/--no-overwrite",
            help="Replace another model's conversion at --output (this model's is always replaced; a folder "
            "of other files never is).",
        ),
    ] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Convert a translation model to CTranslate2, which `xling translate` then uses (faster on CPU)."""
    from xling.export.config import Ct2ExportConfig
    from xling.export.ct2 import export_ct2

    config = load_config(Ct2ExportConfig, recipe, set_ or [], section="export_ct2", quantization=quantization,
                         overwrite=overwrite)  # fmt: skip
    check_json_apart(json_path, (f"the output folder {output}", output),
                     (f"the model folder {model}", model_folder(model)))  # fmt: skip
    with console.status(f"converting {literal(model)} to CTranslate2 ({config.quantization})"):
        report = export_ct2(model, output, quantization=config.quantization, overwrite=config.overwrite)
    console.print(f"[green]CTranslate2 {report.quantization} model written to {literal(report.output)}[/] "
                  f"({report.megabytes:,.1f} MB, {report.vocabulary_size:,} tokens, {report.seconds:.1f} s); "
                  f"token log-probabilities vs PyTorch differ by {report.mean_logprob_difference:.2g} on average, "
                  f"{report.max_logprob_difference:.2g} at most")  # fmt: skip
    write_json(json_path, report.to_dict())
