"""The `xling` command line: each verb parses options into its config and calls one library function."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from xling.atomic import write_json_atomically
from xling.config import config_to_dict, load_config
from xling.errors import XlingError

app = typer.Typer(help="xling: cross-lingual language models.", no_args_is_help=True, add_completion=False)
tokenizer_app = typer.Typer(help="Shared subword vocabularies.", no_args_is_help=True)
app.add_typer(tokenizer_app, name="tokenizer")
align_app = typer.Typer(help="Bring languages into one space.", no_args_is_help=True)
app.add_typer(align_app, name="align")
eval_app = typer.Typer(help="The field's benchmarks, each one command with a report.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
index_app = typer.Typer(
    help="A persistent cross-language search index (FAISS + SQLite).", no_args_is_help=True
)
app.add_typer(index_app, name="index")
export_app = typer.Typer(help="Fast runtimes for an encoder, each checked against it.", no_args_is_help=True)
app.add_typer(export_app, name="export")
vectors_app = typer.Typer(help="Monolingual word vectors: train and convert.", no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")
console = Console(stderr=True)

Recipe = Annotated[Path | None, typer.Option("--recipe", help="TOML recipe file that sets config fields.")]
Sets = Annotated[list[str] | None, typer.Option("--set", help="Override a field: --set training.lr=3e-4.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the figures of this run to this file.")]


def _write_json(path: Path | None, payload: dict) -> None:
    if path is not None:
        write_json_atomically(path, payload)


@tokenizer_app.command("train")
def tokenizer_train(
    corpus: Annotated[
        str | None, typer.Option(help="Folder of <lang>.tsv[.gz] (id<TAB>text), or 'sample'.")
    ] = None,
    languages: Annotated[str | None, typer.Option(help="Comma-separated languages (default: all).")] = None,
    text: Annotated[
        list[str] | None, typer.Option(help="Monolingual file as lang=path (repeatable).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="Output tokenizer folder.")] = None,
    vocab_size: Annotated[int | None, typer.Option(help="Vocabulary size.")] = None,
    alpha: Annotated[float | None, typer.Option(help="Smoothing exponent of language sampling.")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a shared SentencePiece vocabulary over many languages; save a Hugging Face tokenizer folder."""
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    config = load_config(
        VocabConfig, recipe, set_ or [], section="tokenizer", corpus=corpus, output=output,
        vocab_size=vocab_size, alpha=alpha, text=text or None,
        languages=languages.split(",") if languages else None,
    )  # fmt: skip
    sources = TextSources.from_options(
        config.corpus, config.languages, config.text, config.heldout_prefixes, config.heldout_fraction,
        config.skip_bad,
    )  # fmt: skip
    with console.status(
        f"training a {config.vocab_size}-piece vocabulary over {len(sources.languages)} languages"
    ):
        report = train_vocabulary(sources.text_factories(), config)
    console.print(f"[green]tokenizer saved to {report.output}[/] ({report.vocab_size} tokens)")
    _write_json(json_path, {"output": str(report.output), "vocab_size": report.vocab_size,
                            "counts": report.counts, "sampled": report.sampled})  # fmt: skip


@tokenizer_app.command("transfer")
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
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Give a transformer encoder a new vocabulary, new rows made from its own sub-token rows (FVT)."""
    from xling.embeddings.vocabulary_transfer import VocabTransferConfig, transfer_vocabulary

    config = load_config(VocabTransferConfig, recipe, set_ or [], section="transfer", model=model,
                         tokenizer=tokenizer, output=output, overwrite=overwrite or None)  # fmt: skip
    config.validate()
    with console.status(f"transferring {config.model} to the vocabulary {config.tokenizer}"):
        report = transfer_vocabulary(config.model, config.tokenizer, config.output, seed=config.seed,
                                     overwrite=config.overwrite)  # fmt: skip
    counts = ", ".join(f"{n:,} {kind}" for kind, n in report.counts.items())
    console.print(f"[green]encoder with a {report.vocab_size:,}-token vocabulary saved to {report.output}[/] "
                  f"(rows: {counts}; {report.seconds:.1f} s)")  # fmt: skip
    _write_json(json_path, report.to_dict())


@app.command()
def pretrain(
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer folder (from `xling tokenizer train`).")
    ] = None,
    corpus: Annotated[str | None, typer.Option(help="Folder of <lang>.tsv[.gz], or 'sample'.")] = None,
    output: Annotated[
        str | None, typer.Option(help="Run folder: checkpoints, log and the final model.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Preset (tiny, small, base) or a model folder.")] = None,
    tlm_ratio: Annotated[
        float | None, typer.Option(help="Share of steps on translation pairs (TLM).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint.")] = False,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Pretrain an XLM-R-style encoder with MLM (+ TLM); also runs under `torchrun` (DDP)."""
    from xling.pretraining.pretrain import PretrainConfig
    from xling.pretraining.pretrain import pretrain as run_pretrain

    overrides = list(set_ or [])
    if max_steps is not None:
        overrides.append(f"training.max_steps={max_steps}")
    config = load_config(
        PretrainConfig, recipe, overrides, section="pretrain", tokenizer=tokenizer, corpus=corpus,
        output=output, model=model, tlm_ratio=tlm_ratio, resume=resume or None,
    )  # fmt: skip
    result = run_pretrain(config)
    if int(os.environ.get("RANK", "0")) == 0:
        console.print(f"[green]model saved to {result.output}[/] (final loss {result.train.final_loss:.4f})")
        _print_evaluation(result.evaluation)
        _write_json(json_path, {
            "output": str(result.output), "steps": result.train.steps, "final_loss": result.train.final_loss,
            "tokens": result.train.tokens, "tokens_per_s": result.train.tokens_per_s,
            "world_size": result.train.world_size, "rank_fingerprints": result.train.rank_fingerprints,
            "evaluation": result.evaluation, "config": config_to_dict(config),
        })  # fmt: skip


def _print_evaluation(evaluation: dict) -> None:
    from rich.table import Table

    if not evaluation:
        return
    table = Table(title="held-out evaluation")
    table.add_column("language")
    table.add_column("MLM perplexity", justify="right")
    table.add_column("retrieval acc. (both dirs)", justify="right")
    table.add_column("chance", justify="right")
    for lang, ppl in evaluation["perplexity"].items():
        row = evaluation["retrieval"].get(lang)
        acc = "" if row is None else f"{(sum(v for k, v in row.items() if '2' in k) / 2):.1f}%"
        table.add_row(lang, f"{ppl:.1f}", acc, "" if row is None else f"{row['chance']:.1f}%")
    Console().print(table)


@app.command("fill-mask")
def fill_mask(
    model: Annotated[Path, typer.Option(help="A masked-LM model folder.")],
    texts: Annotated[list[str], typer.Argument(help="Sentences with <mask> in them.")],
    top_k: Annotated[int, typer.Option(help="Predictions per mask.")] = 5,
) -> None:
    """Print the model's top predictions for each <mask>."""
    from xling.pretraining.inspect import predict_masked

    for text in texts:
        predictions = predict_masked(model, text, top_k=top_k)
        Console().print(f"{text}\n  -> " + " | ".join(", ".join(p) for p in predictions))


@app.command()
def quickstart(
    data: Annotated[str | None, typer.Option(help="Use the real corpora here (e.g. ../shared/data).")] = None,
    output: Annotated[str | None, typer.Option(help="Run folder.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Training time budget in minutes.")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a vocabulary and a tiny model on the bundled sample (or --data) and show what it learned."""
    from xling.quickstart import QuickstartConfig, run_quickstart

    config = load_config(QuickstartConfig, recipe, set_ or [], section="quickstart", data=data, output=output,
                         minutes=minutes)  # fmt: skip
    report = run_quickstart(config)
    _write_json(json_path, report)


ModelOpt = Annotated[
    str, typer.Option("--model", help="Encoder folder, shipped name (xling-mini) or Hub id.")
]


def _load_encoder(model: str, **options):
    from xling.embeddings.encoder import Encoder

    with console.status(f"loading {model}"):
        return Encoder.load(model, **options)


@app.command()
def embed(
    model: ModelOpt,
    input: Annotated[Path, typer.Option("--input", help="Text file, one text per line (plain or .gz).")],
    output: Annotated[
        Path, typer.Option("--output", help="Vectors: FILE.npy or FILE.fvecs (row i = line i).")
    ],
    batch_size: Annotated[int, typer.Option(help="Texts per batch.")] = 64,
    dtype: Annotated[str, typer.Option(help="float32 or float16 (.npy only).")] = "float32",
    normalize: Annotated[bool, typer.Option(help="Unit-length vectors.")] = True,
    precision: Annotated[
        str, typer.Option(help="fp32, or bf16 autocast (faster on CPUs with bf16).")
    ] = "fp32",
    pooling: Annotated[str | None, typer.Option(help="Override pooling: mean, cls, max, pooler.")] = None,
    layer: Annotated[int | None, typer.Option(help="Hidden layer to pool (default: last).")] = None,
    max_length: Annotated[int | None, typer.Option(help="Token limit (longer texts are cut).")] = None,
) -> None:
    """Encode every line of a text file into one vector per line."""
    from xling.embeddings.files import embed_file

    encoder = _load_encoder(model, precision=precision, pooling=pooling, layer=layer, max_length=max_length)
    report = embed_file(encoder, input, output, batch_size=batch_size, dtype=dtype, normalize=normalize)
    note = f", {report.truncated} cut to the token limit" if report.truncated else ""
    console.print(f"[green]{report.rows} x {report.dimension} vectors written to {report.output}[/] "
                  f"({report.rows / max(report.seconds, 1e-9):,.0f} texts/s{note})")  # fmt: skip


@align_app.command("sentences")
def align_sentences_cmd(
    corpus: Annotated[
        str | None, typer.Option(help="Folder of id-aligned <lang>.tsv[.gz] (e.g. the Bible).")
    ] = None,
    output: Annotated[str | None, typer.Option(help="Run folder: checkpoints, log and the encoder.")] = None,
    student: Annotated[
        str | None, typer.Option(help="'static' or an encoder folder to keep training.")
    ] = None,
    tokenizer: Annotated[str | None, typer.Option(help="Tokenizer folder of a static student.")] = None,
    student_vocabulary: Annotated[
        str | None, typer.Option(help="Tokenizer folder: give the encoder student this vocabulary first.")
    ] = None,
    teacher: Annotated[str | None, typer.Option(help="Teacher encoder for distillation.")] = None,
    max_steps: Annotated[int | None, typer.Option(help="Optimizer steps.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint.")] = False,
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a sentence encoder on translation pairs (ranking loss, optional teacher distillation)."""
    from xling.alignment.sentences.align import AlignConfig, align_sentences

    overrides = list(set_ or [])
    if max_steps is not None:
        overrides.append(f"training.max_steps={max_steps}")
    config = load_config(
        AlignConfig, recipe, overrides, section="align", corpus=corpus, output=output, student=student,
        tokenizer=tokenizer, teacher=teacher, resume=resume or None, student_vocabulary=student_vocabulary,
    )  # fmt: skip
    result = align_sentences(config)
    if int(os.environ.get("RANK", "0")) == 0:
        console.print(f"[green]encoder saved to {result.output}[/] ({result.training['pairs']:,} pairs, "
                      f"dev retrieval {result.dev.get('dev_retrieval', float('nan')):.3f})")  # fmt: skip
        _write_json(json_path, {"output": str(result.output), "training": result.training, "dev": result.dev,
                                "config": config_to_dict(config)})  # fmt: skip


@align_app.command("words")
def align_words(
    src: Annotated[Path, typer.Option("--src", help="Source word vectors (.vec[.gz], .bin or .npy).")],
    tgt: Annotated[Path, typer.Option("--tgt", help="Target word vectors.")],
    output: Annotated[Path, typer.Option(help="Folder for the mapping (mapping.safetensors + .json).")],
    method: Annotated[
        str | None, typer.Option(help="procrustes, identical, adversarial or selflearn.")
    ] = None,
    dictionary: Annotated[
        str | None, typer.Option(help="Seed dictionary, src<TAB>tgt per line (procrustes, selflearn).")
    ] = None,
    max_vocab: Annotated[int | None, typer.Option(help="Use only the N most frequent words.")] = None,
    write_mapped: Annotated[
        bool, typer.Option("--write-mapped", help="Also write both mapped vocabularies as .vec files.")
    ] = False,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Map two languages' word vectors into one space (MUSE and VecMap methods)."""
    from xling.alignment.words.align import WordAlignConfig
    from xling.alignment.words.align import align_words as run_align
    from xling.vectors import WordVectors, load_vectors, save_vectors

    config = load_config(WordAlignConfig, recipe, set_ or [], section="align_words", method=method,
                         dictionary=dictionary, max_vocab=max_vocab)  # fmt: skip
    cap = config.max_vocab or None
    source, target = load_vectors(src, max_words=cap), load_vectors(tgt, max_words=cap)
    mapping = run_align(source, target, config)
    mapping.save(output)
    console.print(f"[green]{config.method} mapping written to {output}[/]")
    if write_mapped:
        for name, vectors, mapped in (("src", source, mapping.map_source(source.vectors)),
                                      ("tgt", target, mapping.map_target(target.vectors))):  # fmt: skip
            path = output / f"{name}.mapped.vec"
            save_vectors(WordVectors(vectors.words, mapped, str(path)), path)
            console.print(f"mapped {name} vectors written to {path}")


@eval_app.command("bli")
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
    _write_json(json_path, result)


@eval_app.command("tatoeba")
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
    encoder = _load_encoder(config.model)
    with console.status("Tatoeba") as status:
        result = evaluate_tatoeba(encoder, config, progress=lambda lang: status.update(f"Tatoeba: {lang}"))
    _print_scores(result, ("src2eng", "eng2src"))
    _write_json(json_path, result.to_dict())


@app.command()
def mine(
    src: Annotated[Path, typer.Argument(help="Source sentences, one per line.")],
    tgt: Annotated[Path, typer.Argument(help="Target sentences, one per line.")],
    output: Annotated[Path, typer.Option("--output", help="TSV of score<TAB>src<TAB>tgt, best first.")],
    model: ModelOpt = "xling-mini",
    k: Annotated[int | None, typer.Option(help="Neighbours for the margin.")] = None,
    margin: Annotated[str | None, typer.Option(help="ratio, distance or absolute.")] = None,
    mode: Annotated[str | None, typer.Option(help="intersect, forward, backward or max.")] = None,
    threshold: Annotated[
        str | None, typer.Option(help="Keep pairs scoring at least this ('auto', 'none').")
    ] = None,
    index: Annotated[str | None, typer.Option(help="FAISS index: flat (exact), ivf or hnsw.")] = None,
    precision: Annotated[str, typer.Option(help="Encoder precision: fp32, bf16 or int8.")] = "fp32",
    recipe: Recipe = None,
    set_: Sets = None,
    json_path: JsonOut = None,
) -> None:
    """Mine translation pairs from two monolingual files with margin-based scoring (LASER-style)."""
    from xling.retrieval.mining import MineConfig, mine_files

    threshold_value: float | str | None = None if threshold == "none" else threshold  # "none" is set below
    if threshold is not None and threshold not in ("auto", "none"):
        try:
            threshold_value = float(threshold)
        except ValueError as error:
            raise XlingError(f"--threshold {threshold!r}: a number, 'auto' or 'none'") from error
    config = load_config(MineConfig, recipe, set_ or [], section="mine", k=k, margin=margin, mode=mode,
                         index=index, threshold=threshold_value)  # fmt: skip
    if threshold == "none":
        config.threshold = None
    report = mine_files(_load_encoder(model, precision=precision), src, tgt, output, config)
    console.print(f"[green]{report.pairs:,} pairs written to {report.output}[/] from {report.src_sentences:,} x "
                  f"{report.tgt_sentences:,} sentences in {report.seconds:.1f} s")  # fmt: skip
    _write_json(json_path, report.to_dict())


@eval_app.command("mining")
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
    encoder = _load_encoder(model)
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
    _write_json(json_path, payload)


@export_app.command("onnx")
def export_onnx_cmd(
    model: ModelOpt,
    output: Annotated[Path, typer.Option("--output", help="Folder to write (may be the model folder).")],
    int8: Annotated[bool, typer.Option("--int8", help="Also write a dynamic int8 graph.")] = False,
    optimize: Annotated[
        bool,
        typer.Option("--optimize", help="Also write ONNX Runtime's fused graph (and its int8 with --int8)."),
    ] = False,
    int8_min_cosine: Annotated[
        float,
        typer.Option(
            "--int8-min-cosine", help="Optimized int8: keep FFN outputs fp32 until this mean cosine."
        ),
    ] = 0.993,
    sample: Annotated[
        Path | None,
        typer.Option("--sample", help="Sentences to check it on, one per line (default: bundled sample)."),
    ] = None,
    json_path: JsonOut = None,
) -> None:
    """Export a transformer encoder to ONNX Runtime (fp32, --int8, --optimize); report cosine and speed."""
    from rich.table import Table

    from xling.data.readers import read_lines
    from xling.embeddings.onnx_export import export_onnx

    sentences = list(read_lines(sample)) if sample is not None else None
    with console.status(f"exporting {model} to ONNX and measuring it"):
        report = export_onnx(model, output, int8=int8, optimize=optimize, int8_min_cosine=int8_min_cosine,
                             sentences=sentences)  # fmt: skip
    backends = ", ".join(repr(v.backend) for v in report.variants if v.backend != "torch")
    console.print(f"[green]ONNX export written to {report.output / 'onnx'}[/] ({report.exporter} exporter, "
                  f"opset {report.opset}); load it with Encoder.load(folder, backend=...): {backends}")  # fmt: skip
    table = Table(title=f"vs PyTorch fp32 on {report.sentences} sentences, {report.threads} thread(s)")
    for column in ("variant", "file", "MB", "mean cosine", "min cosine", "sentences/s"):
        table.add_column(column, justify="left" if column in ("variant", "file") else "right")
    for row in report.variants:
        table.add_row(row.name, row.file or "", "" if row.megabytes is None else f"{row.megabytes:,.1f}",
                      f"{row.mean_cosine:.5f}", f"{row.min_cosine:.5f}", f"{row.sentences_per_s:,.0f}")  # fmt: skip
    Console().print(table)
    _write_json(json_path, report.to_dict())


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


@index_app.command("build")
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

    encoder = _load_encoder(model)
    texts, languages = _documents(input, _code(lang))
    with SearchIndex.create(folder, encoder.name, encoder.dimension, kind, overwrite=overwrite) as index:
        index.add_texts(encoder, texts, languages)
        console.print(f"[green]{len(index):,} documents indexed in {folder}[/] (model {encoder.name})")


@index_app.command("add")
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
        encoder = _load_encoder(model or index.model)
        texts, languages = _documents(input, _code(lang))
        ids = index.add_texts(encoder, texts, languages)
        console.print(
            f"[green]added {len(ids):,} documents[/] (ids {ids[0]}..{ids[-1]}); {len(index):,} in all"
        )


@index_app.command("delete")
def index_delete(
    folder: Annotated[Path, typer.Argument(help="Index folder.")],
    ids: Annotated[list[int], typer.Argument(help="Document ids to delete.")],
) -> None:
    """Delete documents by id."""
    from xling.retrieval.index import SearchIndex

    with SearchIndex.open(folder) as index:
        removed = index.delete(ids)
        console.print(f"[green]deleted {removed} of {len(ids)} ids[/]; {len(index):,} documents left")


@index_app.command("search")
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
        encoder = _load_encoder(model or index.model)
        languages = [_code(x) for x in lang.split(",")] if lang else None
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
    _write_json(json_path, {"results": payload})


def _code(lang: str | None) -> str | None:
    from xling.data.languages import normalize_language

    return None if lang is None else normalize_language(lang)


@vectors_app.command("train")
def vectors_train(
    corpus: Annotated[
        str | None, typer.Option(help="Text file, Bible TSV, or a folder of <lang>.tsv.gz with --language.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language file to take from a corpus folder.")] = None,
    output: Annotated[str | None, typer.Option(help="Vectors file: .vec, .vec.gz or .npy.")] = None,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Train fastText (default) or word2vec vectors for one language with gensim."""
    from xling.vectors import VectorsTrainConfig, train_vectors

    config = load_config(VectorsTrainConfig, recipe, set_ or [], section="vectors", corpus=corpus,
                         language=language, output=output)  # fmt: skip
    vectors = train_vectors(config)
    console.print(f"[green]{len(vectors):,} words x {vectors.dim} written to {config.output}[/]")


@vectors_app.command("convert")
def vectors_convert(
    source: Annotated[Path, typer.Argument(help="Vectors to read: .vec/.txt[.gz], .bin or .npy.")],
    target: Annotated[Path, typer.Argument(help="Vectors to write: .vec[.gz] or .npy (+ .vocab.txt).")],
    max_words: Annotated[int | None, typer.Option(help="Keep the N most frequent (first) words.")] = None,
) -> None:
    """Convert word vectors between formats (the .npy form loads 1M vectors in well under a second)."""
    from xling.vectors import convert_vectors

    vectors = convert_vectors(source, target, max_words=max_words)
    console.print(f"[green]{len(vectors):,} words x {vectors.dim} written to {target}[/]")


@vectors_app.command("translate")
def vectors_translate(
    words: Annotated[list[str], typer.Argument(help="Source words to translate.")],
    src: Annotated[Path, typer.Option("--src", help="Source word vectors.")],
    tgt: Annotated[Path, typer.Option("--tgt", help="Target word vectors.")],
    mapping: Annotated[Path, typer.Option(help="Mapping folder from `xling align words`.")],
    retrieval: Annotated[str, typer.Option(help="nn, csls (k=10) or isf.")] = "csls",
    top: Annotated[int, typer.Option(help="Translations per word.")] = 5,
    max_vocab: Annotated[int, typer.Option(help="Words of each vocabulary to load; 0 = all.")] = 200000,
) -> None:
    """Translate words with an aligned pair of vocabularies (the best target words by CSLS)."""
    import numpy as np
    from rich.table import Table

    from xling.alignment.words.mapping import WordMapping
    from xling.alignment.words.retrieval import translate
    from xling.vectors import load_vectors

    cap = max_vocab or None
    source, target = load_vectors(src, max_words=cap), load_vectors(tgt, max_words=cap)
    unknown = [w for w in words if w not in source.index]
    if unknown:
        raise XlingError(f"not in the source vocabulary ({src}): {', '.join(unknown)}")
    aligned = WordMapping.load(mapping)
    rows = np.array([source.index[w] for w in words], dtype=np.int64)
    scores, found = translate(aligned.map_source(source.vectors), aligned.map_target(target.vectors), rows,
                              method=retrieval, top=top)  # fmt: skip
    table = Table(title=f"{src.name} -> {tgt.name} ({retrieval})")
    table.add_column("word")
    table.add_column("translations (score)")
    for word, hits, values in zip(words, found, scores, strict=True):
        table.add_row(
            word, ", ".join(f"{target.words[i]} ({v:.2f})" for i, v in zip(hits, values, strict=True))
        )
    Console().print(table)


def _print_scores(result, columns: tuple[str, ...]) -> None:
    from rich.table import Table

    table = Table(title=f"{result.task}: {result.model} ({result.settings.get('scoring', '')})")
    table.add_column("language")
    for column in columns:
        table.add_column(column, justify="right")
    for lang, row in result.scores.items():
        table.add_row(lang, *(f"{row[c]:.1f}" for c in columns))
    table.add_row("[bold]average[/]", f"[bold]{result.average:.1f}[/]", *([""] * (len(columns) - 1)))
    Console().print(table)


def main() -> None:
    """Entry point of the `xling` console script: user errors print one clear line and exit 2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a hub at run time
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # rich draws xling's bars; HF's per-shard bars are noise
    try:
        app()
    except XlingError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(2)
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    """Destroy a torchrun process group this run joined: left to interpreter exit, gloo can abort."""
    dist = sys.modules.get("torch.distributed")  # only set if the command imported torch
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
