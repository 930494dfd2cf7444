"""Benchmark: add Turkish to a transformer encoder with `xling adapt`, full fine-tuning and LoRA side by side.

The transformer half of issue 18's measurements (benchmarks/adapt.py covers the static xling-mini). The base
is bible-small (recipes/bible-small.toml: an XLM-R `small`, 22 Bible languages, no Turkish), built with the
recipe's two commands when its folder is missing; `--base` takes any XLM-R-style masked LM folder instead.
It is adapted twice with `adapt()`, on the same data and seed: all weights trained, and `transformer.lora`
(LoRA on query/value, the new embedding rows and the biases; merged into the saved model).

Adaptation data, never a test set: UD Turkish-IMST train text (continued MLM; a seeded 10% of its sentences
is held out for perplexity), the en-tr BLI train dictionary (starting rows of the new pieces), and with
`--udhr` the UDHR articles paired with English's (their held-out pairs add a dev retrieval figure). The old
languages' protected text is the first 300 verses of Mark in each language the model lists: new pieces it
would use are not added, a fifth of it (500 at most) measures the old languages' perplexity before and after,
and `transformer.replay` trains on the rest. Not John: that is bible-small's test book, which replay would
train on (until 2026-12-06 it did; the README's figures before that date were measured so).

Reported for the base, the full and the LoRA model (`--json PATH` writes the same figures):

- held-out MLM perplexity of Turkish and of the old languages (AdaptResult.before / after: one fixed
  masking seed; Turkish's before and after are per token over different segmentations, so a trend);
- tokens per held-out Turkish sentence (the vocabulary extension's effect);
- Tatoeba tur-eng and NTREX eng-tur retrieval accuracy (mean-pooled vectors via Encoder.load on the model
  folder, cosine, both directions averaged, percent), and the Tatoeba average of the old languages that
  Tatoeba has (a forgetting check on retrieval);
- CPU seconds of each adaptation (time.process_time: every thread of this process), wall seconds, and the
  model's size (weights + tokenizer; the LoRA adapter, saved apart, separately).

    xling tokenizer train --recipe recipes/bible-small.toml      # the base, when runs/bible-small is missing
    xling pretrain --recipe recipes/bible-small.toml             # (the script runs both; ~15 min on 2 cores)
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/adapt_transformer.py --json runs/bench/adapt-transformer.json
    .venv/bin/python benchmarks/adapt_transformer.py --base path/to/xlmr-folder --udhr --steps 500
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench_common import log, quiet_libraries, write_json

from xling.adaptation import AdaptConfig, adapt
from xling.artifacts import read_metadata
from xling.data.root import data_root
from xling.data.sources import book_verses
from xling.embeddings.encoder import Encoder
from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba, tatoeba_folder
from xling.evaluation.translation_accuracy import ntrex_retrieval
from xling.translation.testsets import ntrex_folder

LANGUAGE = "tur"
DEFAULT_BASE = Path("runs/bible-small")
RECIPE = Path("recipes/bible-small.toml")
# 300 optimizer steps of 32 x 128 tokens: ~1.5 CPU-s a step for `small` in bf16 on this machine, so an
# adaptation stays well under the 10 CPU-minutes (and is ~20 passes over the ~40k training tokens)
DEFAULT_STEPS = 300
METHODS = ("full", "lora")
# the files that make up a model folder's weights and tokenizer (what a user ships)
MODEL_FILES = ("model.safetensors", "pytorch_model.bin", "config.json", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "sentencepiece.bpe.model", "xling.json")  # fmt: skip


def ensure_base(base: Path, pretrain_steps: int | None) -> None:
    """Return nothing once `base` holds a model: bible-small is built with its recipe's two commands when it
    is missing (SystemExit for another missing folder)."""
    if (base / "config.json").is_file():
        return
    if base.resolve() != DEFAULT_BASE.resolve():
        raise SystemExit(f"--base {base}: no model there (config.json); only {DEFAULT_BASE} is built here")
    log(f"{base} is missing: building it with {RECIPE} (tokenizer train, then pretrain; ~15 min on 2 cores)")
    xling = [sys.executable, "-m", "xling"]
    if not (base / "tokenizer" / "tokenizer.json").is_file():
        subprocess.run([*xling, "tokenizer", "train", "--recipe", str(RECIPE)], check=True)
    pretrain = [*xling, "pretrain", "--recipe", str(RECIPE)]
    if pretrain_steps:
        pretrain += ["--set", f"training.max_steps={pretrain_steps}"]
    if (base / "checkpoints").is_dir():
        pretrain.append("--resume")  # an interrupted earlier build
    subprocess.run(pretrain, check=True)


def protect_file(base: Path, data: Path, work: Path, per_language: int = 300) -> Path | None:
    """Return a file of the first `per_language` verses of Mark in each Bible language the model lists, written
    once; None when it lists none that the Bible folder has (adapt() then protects the bundled sample)."""
    listed = [str(lang) for lang in read_metadata(base).get("languages", [])]
    languages = [lang for lang in listed if (data / "bible" / f"{lang}.tsv.gz").is_file()]
    if not languages:
        return None
    # a training book of the base (replay trains on it): John is bible-small's test book
    path = work / f"protect.{base.name}-mrk-{per_language}.txt"
    if not path.is_file():
        lines = book_verses(data / "bible", prefix="MRK.", per_language=per_language, languages=languages)
        if not lines:  # a Bible folder without Mark: adapt() protects the bundled sample
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def old_tatoeba_languages(model: Path, data: Path) -> list[str]:
    """Return the languages the model lists (English aside) that the Tatoeba folder has."""
    folder = tatoeba_folder(str(data))
    have = {p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng")}
    listed = [str(lang) for lang in read_metadata(model).get("languages", [])]
    return sorted(lang for lang in listed if lang in have and lang != "eng")


def scores(model: Path, data: Path, old_languages: list[str]) -> dict[str, float]:
    """Return {"tatoeba", "ntrex", "old_tatoeba"} accuracies (percent, both directions averaged) of `model`."""
    encoder = Encoder.load(str(model))
    tatoeba = evaluate_tatoeba(encoder, TatoebaConfig(model=str(model), data=str(data), languages=[LANGUAGE]))
    ntrex = ntrex_retrieval(encoder, ntrex_folder(str(data)), LANGUAGE)
    out = {"tatoeba": tatoeba.average, "ntrex": round(100 * ntrex.average, 2)}
    if old_languages:
        old = evaluate_tatoeba(
            encoder, TatoebaConfig(model=str(model), data=str(data), languages=old_languages)
        )
        out["old_tatoeba"] = old.average
    return out


def folder_mb(folder: Path, names: tuple[str, ...] | None = None) -> float:
    """Return the size in MB of the files `names` in `folder` (every file below it when None)."""
    paths = [folder / name for name in names] if names else list(folder.rglob("*"))
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 2)


def adaptation_config(args: argparse.Namespace, data: Path, method: str, protect: Path | None) -> AdaptConfig:
    """Return the settings of one adaptation (`method` "full" or "lora"); the rest are `xling adapt`'s defaults."""
    config = AdaptConfig(
        model=str(args.base), language=LANGUAGE, output=str(args.work / f"{args.base.name}+{LANGUAGE}-{method}"),
        data=str(data), overwrite=True, seed=args.seed,
        text=[str(data / "ud/UD_Turkish-IMST/tr_imst-ud-train.conllu.gz")],
        dictionary=[f"eng-tur={data / 'bli_xling_eval/en-tr/yacle.train.freq.5k.en-tr.tsv'}"],
        parallel=["udhr"] if args.udhr else [],
    )  # fmt: skip
    if protect is not None:
        config.vocabulary.protect = [str(protect)]
    config.transformer.lora = method == "lora"
    config.training.max_steps = args.steps
    # 10% warm-up, as bible-small's recipe: the transformer default (100 steps) is a third of a 300-step run
    # and the whole of a 100-step one
    config.training.warmup_steps = max(1, args.steps // 10)
    config.training.threads = args.threads
    config.training.progress = False
    return config


def run_adaptation(config: AdaptConfig) -> dict[str, Any]:
    """Return the adaptation's figures: AdaptResult's before/after, CPU and wall seconds, sizes, training."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = adapt(config, say=lambda line: log(f"  {line}"))
    seconds, wall_seconds = time.process_time() - cpu, time.perf_counter() - wall
    output = Path(config.output)
    adapter = output / "adapter"
    return {
        "before": result.before, "after": result.after,
        "seconds": round(seconds, 1), "wall_seconds": round(wall_seconds, 1),
        "size_mb": folder_mb(output, MODEL_FILES),
        "adapter_mb": folder_mb(adapter) if adapter.is_dir() else None,
        "added_pieces": result.vocabulary.get("added"), "examples": result.examples,
        "steps": result.training.get("steps"), "final_loss": result.training.get("final_loss"),
        "warnings": result.warnings, "data": result.data,
    }  # fmt: skip


def build_report(args: argparse.Namespace, data: Path) -> dict[str, Any]:
    """Return the whole report: base, full and LoRA figures side by side (see the module docstring)."""
    args.work.mkdir(parents=True, exist_ok=True)
    protect = protect_file(args.base, data, args.work)
    old_languages = old_tatoeba_languages(args.base, data) if args.old_tatoeba else []
    report: dict[str, Any] = {
        "base": str(args.base), "language": LANGUAGE, "steps": args.steps, "threads": args.threads,
        "udhr": args.udhr, "protected_text": str(protect) if protect else "bundled sample",
        "old_tatoeba_languages": old_languages, "models": {},
    }  # fmt: skip
    log(f"base: retrieval ({len(old_languages)} old languages too)")
    base_row: dict[str, Any] = {**scores(args.base, data, old_languages),
                                "size_mb": folder_mb(args.base, MODEL_FILES)}  # fmt: skip
    report["models"]["base"] = base_row
    for method in METHODS:
        log(f"{method}: adapting ({args.steps} steps)")
        figures = run_adaptation(adaptation_config(args, data, method, protect))
        output = args.work / f"{args.base.name}+{LANGUAGE}-{method}"
        log(f"{method}: retrieval")
        after = scores(output, data, old_languages)
        if not base_row.get("mlm_perplexity"):  # the base's held-out figures, measured by adapt() itself
            base_row.update(figures["before"])
        elif figures["before"] != {k: base_row[k] for k in figures["before"] if k in base_row}:
            figures["warnings"].append(f"before figures differ from the first run's: {figures['before']}")
        report["models"][method] = {**figures["after"], **after, **figures}
        log(f"{method}: perplexity {figures['before'].get('mlm_perplexity')} -> "
            f"{figures['after'].get('mlm_perplexity')}, tatoeba {base_row['tatoeba']} -> {after['tatoeba']}, "
            f"{figures['seconds']} CPU s")  # fmt: skip
    return report


ROWS = (
    ("Turkish held-out MLM perplexity", "mlm_perplexity", "{:.1f}"),
    ("old languages' MLM perplexity", "old_mlm_perplexity", "{:.2f}"),
    ("tokens per Turkish sentence", "tokens_per_sentence", "{:.1f}"),
    ("UDHR dev retrieval (%)", "retrieval", "{:.1f}"),
    ("Tatoeba tur-eng (%)", "tatoeba", "{:.1f}"),
    ("NTREX eng-tur (%)", "ntrex", "{:.1f}"),
    ("Tatoeba, old languages (%)", "old_tatoeba", "{:.2f}"),
    ("adaptation CPU s", "seconds", "{:.0f}"),
    ("adaptation wall s", "wall_seconds", "{:.0f}"),
    ("model MB", "size_mb", "{:.1f}"),
    ("LoRA adapter MB", "adapter_mb", "{:.2f}"),
)


def print_table(report: dict[str, Any]) -> None:
    """Print the figures of the base, full and LoRA models side by side."""
    from rich.console import Console
    from rich.table import Table

    models = report["models"]
    table = Table(title=f"xling adapt {report['language']} on {report['base']} ({report['steps']} steps)")
    table.add_column("figure")
    for name in models:
        table.add_column(name, justify="right")
    for label, key, form in ROWS:
        cells = [
            form.format(row[key]) if isinstance(row.get(key), int | float) else "-" for row in models.values()
        ]
        if any(cell != "-" for cell in cells):
            table.add_row(label, *cells)
    Console().print(table)
    for name, row in models.items():
        for warning in row.get("warnings", []):
            print(f"  {name}: {warning}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, default=DEFAULT_BASE, help="XLM-R-style masked LM folder")
    parser.add_argument("--data", default=None, help="data root (default $XLING_DATA, else ../shared/data)")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="optimizer steps of each adaptation")
    parser.add_argument("--pretrain-steps", type=int, default=None,
                        help="training.max_steps of the bible-small build (default: the recipe's)")  # fmt: skip
    parser.add_argument("--udhr", action="store_true", help="also adapt on UDHR articles paired with English")
    parser.add_argument("--no-old-tatoeba", dest="old_tatoeba", action="store_false",
                        help="skip the old languages' Tatoeba average")  # fmt: skip
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("runs/bench/adapt-transformer"))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    quiet_libraries()
    data = data_root(args.data).path
    ensure_base(args.base, args.pretrain_steps)
    report = build_report(args, data)
    print_table(report)
    write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
