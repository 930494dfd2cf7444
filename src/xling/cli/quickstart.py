"""`xling quickstart`: the main job, end to end on the bundled sample or real data."""

from __future__ import annotations

from typing import Annotated

import typer

from xling.atomic import check_folder_place
from xling.cli.common import (
    JsonOut,
    Recipe,
    TrainingSets,
    check_json_apart,
    write_json,
)
from xling.config import load_config


def quickstart(
    data: Annotated[str | None, typer.Option(help="Use the real corpora here (e.g. ../shared/data).")] = None,
    output: Annotated[str | None, typer.Option(help="Run folder.")] = None,
    minutes: Annotated[float | None, typer.Option(help="Training time budget in minutes.")] = None,
    recipe: Recipe = None,
    set_: TrainingSets = None,
    json_path: JsonOut = None,
) -> None:
    """Train a vocabulary and a tiny model on the bundled sample (or --data) and show what it learned."""
    from xling.quickstart import QuickstartConfig, run_quickstart

    config = load_config(QuickstartConfig, recipe, set_ or [], section="quickstart", data=data, output=output,
                         training={"max_minutes": minutes})  # fmt: skip
    check_json_apart(json_path, (f"the run folder {config.output}", config.output))
    check_folder_place(config.output)  # before anything is trained
    report = run_quickstart(config)
    write_json(json_path, report)
