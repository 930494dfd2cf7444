"""Report: does TLM help? bible-small trained twice, MLM only and MLM + TLM, compared on held-out John.

Trains the recipe's shared vocabulary once (skipped when its folder already holds a tokenizer), then runs
the `[pretrain]` table twice through the library: MLM only (`tlm_ratio=0.0`, output `<output>-mlm`) and the
recipe as is (output `<output>-tlm`). Each run's `xling.json` holds its held-out evaluation: per-language
MLM perplexity on John, and how often the mean-pooled encoder retrieves a John verse's English translation
among all John verses (both directions averaged). The two are printed side by side per language.

    .venv/bin/python benchmarks/bible_small_report.py --json runs/bible-small-report.json
    .venv/bin/python benchmarks/bible_small_report.py --resume          # continue after an interruption
    .venv/bin/python benchmarks/bible_small_report.py --only tlm        # one of the two runs

`--set key=value` overrides the `[pretrain]` table for both runs, `--tokenizer-set` the `[tokenizer]` one,
`--languages` both (a tiny check: `--languages eng,deu,rus --set training.max_steps=3 ...`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched at run time

from bench_common import write_json  # noqa: E402  (the script's folder is on sys.path)

VARIANTS = {"mlm": "MLM only", "tlm": "MLM + TLM"}
# what each variant changes in the recipe's [pretrain] table (applied after the user's --set)
VARIANT_OVERRIDES = {"mlm": ["tlm_ratio=0.0"], "tlm": []}


@dataclass
class RunOutcome:
    """One finished variant: where it is, its training figures and its held-out evaluation."""

    variant: str
    output: Path
    training: dict[str, Any]
    evaluation: dict[str, Any]
    reused: bool


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=Path("recipes/bible-small.toml"))
    parser.add_argument("--only", choices=sorted(VARIANTS), default=None, help="run one variant only")
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"),
                        help="folder holding bible/ (default: XLING_DATA or ../shared/data)")  # fmt: skip
    parser.add_argument("--languages", default=None, help="comma-separated languages (tokenizer and runs)")
    parser.add_argument("--set", dest="sets", action="append", default=[], help="[pretrain] override")
    parser.add_argument("--tokenizer-set", dest="tokenizer_sets", action="append", default=[],
                        help="[tokenizer] override, e.g. --tokenizer-set vocab_size=2000")  # fmt: skip
    parser.add_argument(
        "--resume", action="store_true", help="continue interrupted runs, reuse finished ones"
    )
    parser.add_argument("--json", type=Path, default=None, help="write the report to this file")
    return parser.parse_args(argv)


def corpus_fields(args: argparse.Namespace) -> dict[str, Any]:
    """Return the config fields that --data and --languages set (None: keep the recipe's)."""
    bible = Path(args.data) / "bible"
    if not bible.is_dir():
        sys.exit(f"no Bible corpus at {bible}: pass --data (the folder holding bible/) or set XLING_DATA")
    languages = [x.strip() for x in args.languages.split(",") if x.strip()] if args.languages else None
    return {"data": {"corpus": str(bible), "languages": languages}}


# --- tokenizer ----------------------------------------------------------------------------------------


def ensure_tokenizer(args: argparse.Namespace, console) -> Path:
    """Return the recipe's tokenizer folder, training the vocabulary first if it holds no tokenizer."""
    from xling.config import load_config
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, tokenizer_languages, train_vocabulary

    config = load_config(
        VocabConfig, args.recipe, args.tokenizer_sets, section="tokenizer", **corpus_fields(args)
    )
    folder = Path(config.output)
    sources = TextSources.from_config(config.data)
    # a folder without tokenizer.json is a vocabulary training that was interrupted: train again
    if (folder / "tokenizer.json").is_file():
        missing = sorted(set(sources.languages) - set(tokenizer_languages(folder)))
        if missing:
            sys.exit(f"{folder} lacks language tokens for {', '.join(missing)}: delete it to retrain")
        console.print(f"tokenizer: reusing {folder}")
        return folder
    with console.status(
        f"training a {config.vocab_size}-piece vocabulary over {len(sources.languages)} languages"
    ):
        config.overwrite = True  # what is there is no tokenizer (checked above): an interrupted older run
        report = train_vocabulary(sources.text_factories(), config)
    console.print(f"tokenizer: {report.vocab_size} pieces saved to {folder}")
    return folder


# --- the two runs -------------------------------------------------------------------------------------


def variant_config(args: argparse.Namespace, variant: str, tokenizer: Path):
    """Return the PretrainConfig of one variant: recipe, then --set, then the variant's own changes."""
    from xling.config import load_config
    from xling.pretraining.pretrain import PretrainConfig

    fields = corpus_fields(args) | {"tokenizer": str(tokenizer)}
    base = load_config(PretrainConfig, args.recipe, args.sets, section="pretrain", **fields)
    overrides = [*args.sets, *VARIANT_OVERRIDES[variant], f"output={base.output}-{variant}"]
    return load_config(PretrainConfig, args.recipe, overrides, section="pretrain", resume=args.resume,
                       **fields)  # fmt: skip


def comparable(config: dict[str, Any]) -> dict[str, Any]:
    """Return a saved config without the fields that do not change what a run computes."""
    return {k: v for k, v in config.items() if k != "resume"}


def finished_run(config) -> dict[str, Any] | None:
    """Return the saved xling.json of a run that already completed with this very config, else None."""
    from xling.artifacts import METADATA_FILE as XLING_META
    from xling.config import config_to_dict

    meta_path = Path(config.output) / XLING_META
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    same = comparable(meta.get("config", {})) == comparable(config_to_dict(config))
    done = meta.get("training", {}).get("steps", 0) >= config.training.max_steps
    return meta if same and done else None


def run_variant(args: argparse.Namespace, variant: str, tokenizer: Path, console) -> RunOutcome:
    """Return the outcome of one variant, training it unless --resume finds it already finished."""
    from xling.artifacts import METADATA_FILE as XLING_META
    from xling.pretraining.pretrain import pretrain
    from xling.training import latest_checkpoint

    config = variant_config(args, variant, tokenizer)
    output = Path(config.output)
    meta = finished_run(config) if args.resume else None
    if meta is not None:
        console.print(f"{VARIANTS[variant]}: finished run found in {output}, reusing it")
        return RunOutcome(variant, output, meta["training"], meta["evaluation"], reused=True)
    if not args.resume and latest_checkpoint(output) is not None:
        # a fresh run next to older checkpoints would have its own pruned away (the newest steps are kept)
        sys.exit(f"{output} already has checkpoints: pass --resume to continue, or delete the folder")
    console.rule(f"[bold]{VARIANTS[variant]}[/] (tlm_ratio {config.tlm_ratio}) -> {output}")
    pretrain(config)
    meta = json.loads((output / XLING_META).read_text(encoding="utf-8"))
    return RunOutcome(variant, output, meta["training"], meta["evaluation"], reused=False)


# --- report -------------------------------------------------------------------------------------------


def retrieval_percent(evaluation: dict[str, Any], lang: str) -> float | None:
    """Return the retrieval accuracy (%) of `lang` vs the pivot, both directions averaged, or None."""
    row = evaluation.get("retrieval", {}).get(lang)
    if row is None:
        return None
    return statistics.fmean(v for k, v in row.items() if "2" in k)


def language_rows(outcomes: dict[str, RunOutcome]) -> list[dict[str, Any]]:
    """Return one row per evaluated language: perplexity and retrieval of each variant, and chance."""
    languages: list[str] = []
    for outcome in outcomes.values():
        languages += [x for x in outcome.evaluation.get("perplexity", {}) if x not in languages]
    rows = []
    for lang in languages:
        row: dict[str, Any] = {"language": lang, "chance": None, "n": None}
        for variant, outcome in outcomes.items():
            row[f"ppl_{variant}"] = outcome.evaluation.get("perplexity", {}).get(lang)
            row[f"retrieval_{variant}"] = retrieval_percent(outcome.evaluation, lang)
            retrieval = outcome.evaluation.get("retrieval", {}).get(lang)
            if retrieval is not None:
                row["chance"], row["n"] = retrieval["chance"], retrieval["n"]
        rows.append(row)
    return rows


def averages(rows: list[dict[str, Any]], variants: list[str]) -> dict[str, float | None]:
    """Return per variant the geometric-mean perplexity and the mean retrieval accuracy over languages.

    Perplexities differ by an order of magnitude between scripts, so their geometric mean (the mean of the
    cross-entropies) is what a change in modelling moves, not the largest language's perplexity. Each figure
    is over the languages every variant has it for (a NaN perplexity in one run leaves that language out of
    all), so variants side by side cover the same languages; `ppl_languages` and `retrieval_languages` count
    them.
    """
    out: dict[str, float | None] = {}
    for measure in ("ppl", "retrieval"):
        shared = [r for r in rows if all(is_number(r[f"{measure}_{variant}"]) for variant in variants)]
        out[f"{measure}_languages"] = len(shared)
        for variant in variants:
            values = [r[f"{measure}_{variant}"] for r in shared]
            if measure == "ppl":
                out[f"ppl_{variant}"] = (
                    round(math.exp(statistics.fmean(map(math.log, values))), 3) if values else None
                )
            else:
                out[f"retrieval_{variant}"] = round(statistics.fmean(values), 2) if values else None
    chance = [r["chance"] for r in rows if is_number(r["chance"])]
    out["chance"] = round(statistics.fmean(chance), 2) if chance else None
    return out


def is_number(value: Any) -> bool:
    """Return whether `value` is a finite number (perplexity is NaN for a language with nothing masked)."""
    return isinstance(value, int | float) and math.isfinite(value)


def print_report(outcomes: dict[str, RunOutcome], rows, means, console) -> None:
    """Print the training summary and the per-language side-by-side table."""
    from rich.table import Table

    variants = list(outcomes)
    summary = Table(title="training")
    for column in ("run", "output", "steps", "final loss", "tokens", "tokens/s", "minutes"):
        summary.add_column(column, justify="left" if column in ("run", "output") else "right")
    for variant, outcome in outcomes.items():
        t = outcome.training
        # the library measures tokens/s from its first log line on, so a run with one log line says 0
        speed = t["tokens_per_s"] or t["tokens"] / max(t["seconds"], 1e-9)
        summary.add_row(VARIANTS[variant] + (" (reused)" if outcome.reused else ""), str(outcome.output),
                        str(t["steps"]), f"{t['final_loss']:.3f}", f"{t['tokens']:,}", f"{speed:,.0f}",
                        f"{t['seconds'] / 60:.1f}")  # fmt: skip
    console.print(summary)

    pivot = next((o.evaluation.get("pivot") for o in outcomes.values() if o.evaluation.get("pivot")), "eng")
    table = Table(
        title=f"held-out John: MLM perplexity (lower is better) and retrieval vs {pivot} (both directions)"
    )
    table.add_column("language")
    for kind in ("ppl", "retrieval"):
        for variant in variants:
            table.add_column(f"{'ppl' if kind == 'ppl' else 'retr. %'} {VARIANTS[variant]}", justify="right")
    table.add_column("chance %", justify="right")
    table.add_column("verses", justify="right")
    for row in rows:
        table.add_row(row["language"], *cells(row, variants), fmt(row["chance"], 2), fmt(row["n"], 0))
    table.add_section()
    table.add_row("average", *cells(means, variants), fmt(means["chance"], 2), "",
                  style="bold")  # fmt: skip
    console.print(table)
    console.print(
        "average: geometric mean of perplexities; mean retrieval over languages other than the pivot"
    )


def cells(row: dict[str, Any], variants: list[str]) -> list[str]:
    """Return the perplexity cells, then the retrieval cells, of a row in variant order."""
    return [fmt(row[f"ppl_{v}"], 1) for v in variants] + [fmt(row[f"retrieval_{v}"], 1) for v in variants]


def fmt(value: Any, digits: int) -> str:
    """Return a number formatted with `digits` decimals, or '-' when there is none."""
    return f"{value:,.{digits}f}" if is_number(value) else "-"


def build_json(args: argparse.Namespace, outcomes: dict[str, RunOutcome], rows, means) -> dict[str, Any]:
    """Return everything the report shows, as JSON-able data."""
    return {
        "recipe": str(args.recipe),
        "overrides": args.sets,
        "tokenizer_overrides": args.tokenizer_sets,
        "runs": {
            variant: {
                "output": str(o.output),
                "reused": o.reused,
                "training": o.training,
                "evaluation": o.evaluation,
            }
            for variant, o in outcomes.items()
        },
        "languages": rows,
        "averages": means,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Return the report after training (or reusing) the runs, printing it and writing --json if given."""
    from rich.console import Console
    from transformers.utils import logging as hf_logging

    from xling.errors import XlingError

    args = parse_args(argv)
    hf_logging.disable_progress_bar()
    console = Console()
    console.width = max(console.width, 120)  # piped output gets 80 columns: too narrow for the table
    try:
        tokenizer = ensure_tokenizer(args, console)
        outcomes = {v: run_variant(args, v, tokenizer, console) for v in VARIANTS if args.only in (None, v)}
    except XlingError as exc:  # a bad recipe value or data file: one clear line, as the CLI does
        sys.exit(f"error: {exc}")
    rows = language_rows(outcomes)
    means = averages(rows, list(outcomes))
    print_report(outcomes, rows, means, console)
    report = build_json(args, outcomes, rows, means)
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
