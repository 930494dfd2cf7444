"""`xling pretrain` and `xling fill-mask`: MLM + TLM pretraining and a look at what it learned."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from xling.cli.common import (
    JsonOut,
    MaxSteps,
    Recipe,
    Resume,
    TrainingSets,
    check_json_apart,
    check_texts,
    console,
    literal,
    model_folder,
    print_resumed,
    show_training_progress,
    training_overrides,
    write_json,
)
from xling.config import config_to_dict, load_config
from xling.pretraining.presets import PRESETS


def pretrain(
    tokenizer: Annotated[
        str | None, typer.Option(help="Tokenizer folder (from `xling tokenizer train`).")
    ] = None,
    corpus: Annotated[str | None, typer.Option(help="Folder of <lang>.tsv[.gz], or 'sample'.")] = None,
    output: Annotated[
        str | None, typer.Option(help="Run folder: checkpoints, log and the final model.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help=f"Preset ({', '.join(PRESETS)}) or a model folder.")
    ] = None,
    tlm_ratio: Annotated[
        float | None, typer.Option(help="Share of steps on translation pairs (TLM).")
    ] = None,
    max_steps: MaxSteps = None,
    resume: Resume = None,
    recipe: Recipe = None,
    set_: TrainingSets = None,
    json_path: JsonOut = None,
) -> None:
    """Pretrain an XLM-R-style encoder with MLM (+ TLM); also runs under `torchrun` (DDP)."""
    from xling.pretraining.pretrain import PretrainConfig
    from xling.pretraining.pretrain import pretrain as run_pretrain

    config = load_config(
        PretrainConfig, recipe, training_overrides(set_, max_steps), section="pretrain", tokenizer=tokenizer, data={"corpus": corpus},
        output=output, model=model, tlm_ratio=tlm_ratio, resume=resume,
    )  # fmt: skip
    check_json_apart(json_path, (f"the output folder {config.output}", config.output),
                     (f"the model folder {config.model}", model_folder(config.model)))  # fmt: skip
    show_training_progress(config.training)
    result = run_pretrain(config)
    if result.train.is_main:
        print_resumed(result.train.resumed_from, result.output)
        console.print(
            f"[green]model saved to {literal(result.output)}[/] (final loss {result.train.final_loss:.4f})"
        )
        _print_evaluation(result.evaluation)
        write_json(json_path, {"output": str(result.output), **result.train.to_dict(),
                               "evaluation": result.evaluation, "config": config_to_dict(config)})  # fmt: skip


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
        shown = "none masked" if ppl is None else f"{ppl:.1f}"
        table.add_row(literal(lang), shown, acc, "" if row is None else f"{row['chance']:.1f}%")
    Console().print(table)


def fill_mask(
    model: Annotated[str, typer.Option(help="A masked-LM model folder (such as `xling pretrain` writes).")],
    texts: Annotated[list[str], typer.Argument(help="Sentences with <mask> in them.")],
    top_k: Annotated[int, typer.Option(help="Predictions per mask.")] = 5,
) -> None:
    """Print the model's top predictions for each <mask>."""
    from xling.pretraining.inspect import check_top_k, load_masked_lm, predict_masked

    check_top_k(top_k)  # before loading the model, which a bad option would waste
    check_texts(texts)
    with console.status(f"loading {literal(model)}"):
        lm, tokenizer = load_masked_lm(model)
    for text in texts:
        predictions = predict_masked(lm, text, top_k=top_k, tokenizer=tokenizer)
        # quoted: a guess may be "," or "|" itself
        Console().print(f"{text}\n  -> " + " | ".join(" ".join(f"'{g}'" for g in p) for p in predictions),
                        highlight=False, markup=False)  # fmt: skip
