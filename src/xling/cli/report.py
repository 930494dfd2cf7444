"""`xling report`: every evaluation that applies to a model, one report.json and one self-contained report.html."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import Recipe, Sets, console, literal
from xling.config import load_config


def _comma_list(text: str | None) -> list[str] | None:
    """Return the items of a comma-separated option (None stays None)."""
    return None if text is None else [item.strip() for item in text.split(",") if item.strip()]


def report(
    output: Annotated[
        Path, typer.Option("--output", help="Report folder (report.json, report.html, tasks/).")
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Model folder or shipped name (xling-mini, xling-mt-bible, xling-langid)."
        ),
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="Data root (default: $XLING_DATA, else ../shared/data).")
    ] = None,
    tasks: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated tasks (default: all of the model's kind): tatoeba, ntrex, mining, "
            "transfer, fewshot; mt-bible, mt-ntrex, mt-tatoeba; langid-tatoeba, langid-ntrex, "
            "langid-ud; bli."
        ),  # fmt: skip
    ] = None,
    langs: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated languages to score, or 'all' (default: the model's training "
            "languages each test set has, plus its yardstick languages)."
        ),  # fmt: skip
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="An earlier report.json (or its folder) to compare with.")
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            help="TASK:METRIC=VALUE or TASK:METRIC@LANG=VALUE (repeatable): exit 1 "
            "when the figure is below VALUE, e.g. tatoeba:accuracy=50.",
        ),  # fmt: skip
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Re-run tasks already in --output (and replace another model's report there)."
        ),
    ] = False,
    recipe: Recipe = None,
    set_: Sets = None,
) -> None:
    """Evaluate a model on every task that applies to its kind; write report.json and report.html."""
    import logging

    from rich.markup import escape

    from xling.report import ReportConfig, run_report

    # the transfer heads log every C tried and every self-training round: the report's lines are enough
    logging.getLogger("xling.transfer").setLevel(logging.WARNING)

    config = load_config(ReportConfig, recipe, set_ or [], section="report", model=model, output=str(output),
                         data=data, tasks=_comma_list(tasks), languages=_comma_list(langs), baseline=baseline,
                         fail_under=fail_under or None, force=force or None)  # fmt: skip

    def progress(task: str, outcome) -> None:
        if outcome is None:
            console.print(f"[bold]{literal(task)}[/] ...")
        elif outcome.status in ("skipped", "failed"):
            colour = "yellow" if outcome.status == "skipped" else "red"
            console.print(f"  [{colour}]{outcome.status}[/]: {escape(outcome.reason or '')}")
        else:
            result = outcome.result
            how = "from the earlier run" if outcome.status == "cached" else f"in {outcome.seconds:.1f} s"
            console.print(f"  {result.primary} {result.average:.2f} over {len(result.scores)} rows ({how})")

    outcome = run_report(config, progress=progress)
    console.print(f"[green]wrote {literal(outcome.json_path)} and {literal(outcome.html_path)}[/]")
    regressions = {task: info["regressions"] for task, info in outcome.report.get("baseline", {}).get("tasks", {}).items()
                   if info["regressions"]}  # fmt: skip
    for task, keys in regressions.items():
        console.print(f"[red]regression[/] {literal(task)}: {literal(', '.join(keys))}")
    for line in outcome.failures:
        console.print(f"[red]fail-under[/] {literal(line)}")
    broken = [task.task for task in outcome.tasks if task.status == "failed"]
    if broken:
        console.print(f"[red]failed[/] {literal(', '.join(broken))} (see above; report.json has each reason)")
    nothing_ran = bool(outcome.tasks) and all(task.status == "skipped" for task in outcome.tasks)
    if nothing_ran:
        console.print("[red]no task ran[/]: none found its test data (reasons above); point --data or "
                      "XLING_DATA at the data root")  # fmt: skip
    if outcome.failures or broken or nothing_ran:
        raise typer.Exit(1)
