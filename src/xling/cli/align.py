"""`xling align`: sentence encoders from translation pairs, word-vector mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    MaxSteps,
    Recipe,
    Resume,
    Sets,
    TgtVectors,
    TrainingSets,
    UnicodeErrors,
    check_json_apart,
    console,
    literal,
    model_folder,
    print_resumed,
    show_training_progress,
    training_overrides,
    write_json,
)
from xling.config import config_to_dict, load_config

app = typer.Typer(help="Bring languages into one space.", no_args_is_help=True)


@app.command("sentences")
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
    max_steps: MaxSteps = None,
    resume: Resume = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite", help="Train over a sentence encoder already at --output.")
    ] = None,
    recipe: Recipe = None,
    set_: TrainingSets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a sentence encoder on translation pairs (ranking loss, optional teacher distillation)."""
    from xling.alignment.sentences.align import AlignConfig, align_sentences

    config = load_config(
        AlignConfig, recipe, training_overrides(set_, max_steps), section="align", data={"corpus": corpus}, output=output,
        student=student, tokenizer=tokenizer, teacher=teacher, resume=resume, student_vocabulary=student_vocabulary,
        overwrite=overwrite,
    )  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     *((f"the {name} folder {value}", model_folder(value)) for name, value in (
                         ("student", config.student), ("tokenizer", config.tokenizer),
                         ("teacher", config.teacher))))  # fmt: skip
    show_training_progress(config.training)
    result = align_sentences(config)
    if result.is_main:
        print_resumed(result.training["resumed_from"], result.output)
        console.print(f"[green]encoder saved to {literal(result.output)}[/] ({result.training['pairs']:,} pairs, "
                      f"dev retrieval {result.dev.get('dev_retrieval', float('nan')):.3f})")  # fmt: skip
        write_json(json_path, {"output": str(result.output), "training": result.training, "dev": result.dev,
                                "config": config_to_dict(config)})  # fmt: skip


@app.command("words")
def align_words(
    src: Annotated[Path, typer.Option("--src", help="Source word vectors (.vec[.gz], .bin or .npy).")],
    tgt: TgtVectors,
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
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a word mapping already at --output.")
    ] = False,
    unicode_errors: UnicodeErrors = None,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Map two languages' word vectors into one space (MUSE and VecMap methods)."""
    from xling.alignment.words.align import WordAlignConfig, align_word_vector_files

    config = load_config(WordAlignConfig, recipe, set_ or [], section="align_words", method=method,
                         dictionary=dictionary, max_vocab=max_vocab, unicode_errors=unicode_errors)  # fmt: skip
    report = align_word_vector_files(src, tgt, output, config, write_mapped=write_mapped, overwrite=overwrite,
                                     progress=True)  # fmt: skip
    console.print(f"[green]{report.method} mapping written to {literal(report.output)}[/]")
    for side, path in report.mapped.items():
        console.print(f"mapped {side} vectors written to {literal(path)}")
