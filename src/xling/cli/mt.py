"""`xling mt train`: train or fine-tune a many-to-many translation model (M2M-100 architecture)."""

from __future__ import annotations

from typing import Annotated

import typer

from xling.cli.common import (
    JsonOut,
    MaxSteps,
    Recipe,
    Resume,
    TrainingSets,
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
from xling.translation.presets import PRESETS

app = typer.Typer(help="Translation models: train or fine-tune.", no_args_is_help=True)


@app.command("train")
def train(
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer folder (from `xling tokenizer train`).")
    ] = None,
    corpus: Annotated[
        str | None, typer.Option(help="Folder of id-aligned <lang>.tsv[.gz], or 'sample'.")
    ] = None,
    parallel: Annotated[
        list[str] | None, typer.Option(help="src-tgt=path.tsv or src-tgt=path.src,path.tgt (repeatable).")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Run folder: checkpoints, log and the final model.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help=f"Preset ({', '.join(PRESETS)}), or a model folder to fine-tune (xling, M2M-100, NLLB, "
            "Marian/OPUS-MT), trained with its family's language codes."
        ),
    ] = None,
    max_steps: MaxSteps = None,
    resume: Resume = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite", help="Replace a model already at --output.")
    ] = None,
    recipe: Recipe = None,
    set_: TrainingSets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a many-to-many translation model, or fine-tune one; also runs under `torchrun` (DDP)."""
    from xling.translation.train import MTTrainConfig, train_translation

    config = load_config(
        MTTrainConfig, recipe, training_overrides(set_, max_steps), section="mt", tokenizer=tokenizer,
        data={"corpus": corpus}, parallel=parallel, output=output, model=model, resume=resume,
        overwrite=overwrite,
    )  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     (f"the model folder {config.model}", model_folder(config.model)),
                     (f"the tokenizer folder {config.tokenizer}", model_folder(config.tokenizer)))  # fmt: skip
    show_training_progress(config.training)
    result = train_translation(config)
    if result.train.is_main:
        print_resumed(result.train.resumed_from, result.output)
        console.print(f"[green]{result.family} model saved to {literal(result.output)}[/] "
                      f"(final loss {result.train.final_loss:.4f})")  # fmt: skip
        for key, value in sorted(result.evaluation.items()):
            console.print(f"  {literal(key)}: {literal(value)}")
        write_json(json_path, {"output": str(result.output), "family": result.family, **result.train.to_dict(),
                               "evaluation": result.evaluation, "config": config_to_dict(config)})  # fmt: skip
