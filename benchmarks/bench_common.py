"""What the benchmark scripts share: progress lines, quiet libraries, JSON output, the run figures of the
training-speed benchmarks (pretrain_speed.py, mt_train_speed.py), which time xling's loop against a
transformers `Trainer` the same way, and the rounds in which any speed benchmark's contenders take turns:
`round_order` (the order rotated each round: also langid, encode_speed, translate_speed, serve_load),
`measured_rounds` and `round_medians` (also finetune_speed, mine_speed), and `rounds_in_processes` with
`child_round`, which time each run of a training-speed benchmark in a fresh process.

The scripts run as `python benchmarks/<name>.py`, so this folder is on `sys.path` and `from bench_common
import ...` finds this module. Nothing here imports torch or transformers at import time: a script sets its
environment (HF_HUB_OFFLINE) first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol, TypeVar

LOSS_WINDOW = 5  # steps averaged for the training loss at a token count

# Trainer arguments that make a run silent, logged every step and free of checkpoints
TRAINER_QUIET = dict(
    use_cpu=True, dataloader_num_workers=0, report_to=[], save_strategy="no", disable_tqdm=True,
    logging_strategy="steps", logging_steps=1,
)  # fmt: skip
# xling's TrainingConfig defaults in Trainer terms: the same optimizer, so that the losses are comparable
TRAINER_ADAMW = dict(weight_decay=0.01, adam_beta1=0.9, adam_beta2=0.98, adam_epsilon=1e-6, max_grad_norm=1.0)


def log(message: str) -> None:
    """Print a progress line on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def quiet_libraries() -> None:
    """Silence transformers' per-run warnings and progress bars (they would drown the figures)."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def usable_cores() -> int:
    """Return the number of CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def write_json(
    report: dict[str, Any], json_path: str | Path | None, default: Callable[[Any], Any] | None = None
) -> None:
    """Write `report` to `json_path` as indented UTF-8 JSON (its folder made if needed) and say so; nothing
    when it is None. Atomic (xling.atomic): a failed write leaves an earlier file as it was, never half a
    report (xling.atomic.write_json_atomically). `default` is json's, for values it cannot write itself."""
    if json_path is None:
        return
    from xling.atomic import write_json_atomically

    write_json_atomically(json_path, report, default=default)  # makes the folder, renames when complete
    log(f"figures written to {json_path}")


def print_wide(renderable: Any, width: int) -> None:
    """Print `renderable` with rich on a console at least `width` columns wide."""
    from rich.console import Console

    console = Console()
    console.width = max(console.width, width)  # piped output gets 80 columns: too narrow here
    console.print(renderable)


class QuickSettings(Protocol):
    """Settings of a benchmark whose `--quick` run trains a tokenizer in a temp folder of its own."""

    quick: bool
    tokenizer: str


S = TypeVar("S", bound=QuickSettings)
T = TypeVar("T")


def quick_tokenizer() -> str:
    """Return a tokenizer path in a fresh temp folder of its own (`main` deletes it after a quick run)."""
    return str(Path(tempfile.mkdtemp(prefix="xling-bench-tok-")) / "tokenizer")


def has_tokenizer(folder: Path, languages: Iterable[str]) -> bool:
    """Return whether `folder` holds a tokenizer; exit naming the languages it has no token for."""
    from xling.tokenization.vocabulary import tokenizer_languages

    if not (folder / "tokenizer.json").is_file():
        return False
    missing = sorted(set(languages) - set(tokenizer_languages(folder)))
    if missing:
        sys.exit(f"{folder} has no language token for {', '.join(missing)}: delete it or pass --tokenizer")
    return True


def bench_main(
    argv: list[str] | None,
    parse_args: Callable[[list[str] | None], Any],
    settings_from_args: Callable[[Any], S],
    run_benchmark: Callable[[S, Path | None], dict[str, Any]],
) -> dict[str, Any]:
    """Return the report of `run_benchmark` on the parsed settings (the quick run's tokenizer deleted after)."""
    args = parse_args(argv)
    settings = settings_from_args(args)
    with removing_quick_tokenizer(settings):
        return run_benchmark(settings, args.json)


@contextmanager
def removing_quick_tokenizer(settings: Any) -> Iterator[None]:
    """Return a context that deletes a quick run's tokenizer when it ends (it lives in a temp folder of its
    own: quick_tokenizer)."""
    try:
        yield
    finally:
        if settings.quick:
            shutil.rmtree(Path(settings.tokenizer).parent, ignore_errors=True)


# --- run figures of the training-speed benchmarks -----------------------------------------------------


@dataclass
class RunFigures:
    """One contender's run: timed throughput, the per-step (tokens, loss) trace and the trained model."""

    contender: str
    steps: int
    timed_steps: int
    timed_tokens: int
    timed_seconds: float
    threads: int
    step_tokens: list[int]
    step_losses: list[float]
    model: Any = None

    @property
    def tokens_per_s(self) -> float:
        """Return the counted tokens per second over the timed steps."""
        return self.timed_tokens / self.timed_seconds if self.timed_seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Return the figures worth keeping in the JSON (no per-step traces)."""
        return {
            "tokens_per_s": round(self.tokens_per_s, 1),
            "timed_steps": self.timed_steps,
            "timed_tokens": self.timed_tokens,
            "timed_seconds": round(self.timed_seconds, 3),
            "tokens_per_step": round(self.timed_tokens / max(self.timed_steps, 1), 1),
            "threads": self.threads,
        }

    def speed_line(self) -> str:
        """Return the progress line's account of the timed steps."""
        return (
            f"{self.tokens_per_s:9,.0f} tokens/s ({self.timed_tokens} tokens in {self.timed_seconds:.2f} s, "
            f"{self.threads} threads)"
        )

    def loss_window(self) -> list[float]:
        """Return the training losses logged in the last LOSS_WINDOW steps."""
        return [x for x in self.step_losses[-LOSS_WINDOW:] if not math.isnan(x)]

    def mean_last_loss(self) -> float | None:
        """Return the mean training loss of the last LOSS_WINDOW steps (rounded), None when none was logged."""
        window = self.loss_window()
        return round(statistics.fmean(window), 4) if window else None


F = TypeVar("F", bound=RunFigures)


def xling_run_figures(cls: type[F], run_dir: str | Path, max_steps: int, timed_from: int, **extra: Any) -> F:
    """Return `cls` figures of an xling run named "xling", read from the train_log.jsonl in `run_dir`."""
    import torch

    from xling.training.loop import LOG_FILE

    log_lines = (Path(run_dir) / LOG_FILE).read_text(encoding="utf-8").splitlines()
    entries = [{"step": 0, "tokens": 0, "elapsed_s": 0.0, "loss": math.nan}] + [
        json.loads(x) for x in log_lines
    ]
    by_step = {e["step"]: e for e in entries}
    start, end = by_step[timed_from], by_step[max_steps]
    tokens = [b["tokens"] - a["tokens"] for a, b in zip(entries, entries[1:], strict=False)]
    return cls(
        contender="xling", steps=max_steps, timed_steps=max_steps - timed_from,
        timed_tokens=end["tokens"] - start["tokens"], timed_seconds=end["elapsed_s"] - start["elapsed_s"],
        threads=torch.get_num_threads(), step_tokens=tokens, step_losses=[e["loss"] for e in entries[1:]],
        **extra,
    )  # fmt: skip


def trainer_run_figures(
    cls: type[F], contender: str, clock: Any, counts: list[int], max_steps: int, timed_from: int, **extra: Any
) -> F:
    """Return `cls` figures of a Trainer run from its step clock (`make_step_clock`) and per-batch token
    counts (the collator may have built batches beyond the last step)."""
    steps = len(clock.ends) - 1
    timed_to = min(max_steps, steps)
    counts = counts[:steps]
    return cls(
        contender=contender, steps=steps, timed_steps=timed_to - timed_from,
        timed_tokens=sum(counts[timed_from:timed_to]), timed_seconds=clock.ends[timed_to] - clock.ends[timed_from],
        threads=clock.threads, step_tokens=counts,
        step_losses=[clock.losses.get(s, math.nan) for s in range(1, steps + 1)], **extra,
    )  # fmt: skip


def without_autocast_wrapper(model: Any) -> Any:
    """Return a model the Trainer trained, its `forward` again the one it had before accelerate wrapped it in
    autocast for bf16 (transformers leaves the wrapper there), so that its held-out loss is computed as
    xling's model's is. accelerate's own unwrapping (`extract_model_from_parallel(keep_fp32_wrapper=False)`)
    also strips the decorators of transformers' forward methods, so the method it kept is put back."""
    original = model.__dict__.pop("_original_forward", None)
    if original is not None:
        model.forward = original
    return model


def make_step_clock(collator: Any, stop_after_tokens: int):
    """Return a TrainerCallback that stamps each step's end, keeps logged losses and can stop on tokens
    (counted in `collator.counts`, one entry per batch)."""
    import torch
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Step-end times (data loading between them included), losses, and the thread count in use."""

        def __init__(self) -> None:
            self.ends: list[float] = []
            self.losses: dict[int, float] = {}
            self.threads = 0

        def on_train_begin(self, args, state, control, **kwargs):
            self.threads = torch.get_num_threads()
            self.ends.append(time.perf_counter())  # "end of step 0", for runs timed from the start

        def on_step_end(self, args, state, control, **kwargs):
            self.ends.append(time.perf_counter())
            # the dataloader may collate one batch ahead, so count batches by step, not all so far
            if stop_after_tokens and sum(collator.counts[: state.global_step]) >= stop_after_tokens:
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                self.losses[state.global_step] = float(logs["loss"])

    return StepClock()


# --- rounds: the contenders of a speed benchmark take turns -------------------------------------------


def round_order(contenders: tuple[T, ...], r: int) -> tuple[T, ...]:
    """Return the order in which `contenders` take their turns in round `r` (from 0): rotated by one each
    round (A,B,C; B,C,A; C,A,B), so two contenders alternate."""
    shift = r % len(contenders) if contenders else 0
    return contenders[shift:] + contenders[:shift]


def measured_rounds(
    rounds: int, contenders: tuple[str, ...], run_one: Callable[[str], tuple[T, str]]
) -> list[dict[str, T]]:
    """Return per-round figures (each round's keyed in `contenders` order) of `run_one`, which returns a
    contender's figures and a progress line. The contenders take turns in every round in `round_order`, so
    that noise from a shared machine, and whatever a run leaves behind for the next (caches, heat), hits all
    of them alike."""
    out = []
    for r in range(rounds):
        figures = {}
        for name in round_order(contenders, r):
            figures[name], line = run_one(name)
            log(f"round {r + 1}/{rounds} {name:8s} {line}")
        out.append({name: figures[name] for name in contenders})
    return out


def speed_rounds(
    rounds: int, contenders: tuple[str, ...], run_one: Callable[[str], RunFigures]
) -> list[dict[str, dict[str, Any]]]:
    """Return per-round speed summaries of training runs (`measured_rounds` of their `summary`)."""

    def one(name: str) -> tuple[dict[str, Any], str]:
        run = run_one(name)
        return run.summary(), run.speed_line()

    return measured_rounds(rounds, contenders, one)


# --- rounds in processes of their own -------------------------------------------------------------------

ONE_ROUND = "--one-round"  # the flag a benchmark script's child process is started with


def rounds_in_processes(
    script: str | Path, rounds: int, contenders: tuple[str, ...], settings: Any
) -> list[dict[str, dict[str, Any]]]:
    """Return per-round speed summaries (as `speed_rounds` returns them) with every timed run in a fresh
    Python process: `script` started with `--one-round NAME --settings-json JSON`, which its `main` hands to
    `child_round`. A training run changes its process for whatever runs after it (xling's loop has glibc
    keep freed memory for reuse, xling.training.memory; allocator caches; thread pools), so contenders that
    share one process are not timed alike. `settings` is the script's settings dataclass; the child builds
    its workload again from it, so the workload must be a pure function of the settings."""
    return measured_rounds(rounds, contenders, lambda name: _round_in_child(script, name, settings))


def _round_in_child(script: str | Path, name: str, settings: Any) -> tuple[dict[str, Any], str]:
    """Return (speed summary, progress line) of one timed run of `name` in a process of its own."""
    command = [sys.executable, str(Path(script).resolve()), ONE_ROUND, name,
               "--settings-json", json.dumps(asdict(settings))]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {name} round failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return figures["summary"], figures["line"]


def settings_from_json(settings_type: type[T], text: str) -> T:
    """Return the settings dataclass `settings_type` from its `asdict` as JSON; JSON has no tuples, so a
    field annotated as a tuple gets its list back as one."""
    values = json.loads(text)
    tuples = {f.name for f in fields(settings_type) if str(f.type).startswith("tuple")}  # type: ignore[arg-type]
    return settings_type(**{k: tuple(v) if k in tuples and v is not None else v for k, v in values.items()})


def child_round(argv: list[str], settings_type: type[T], run_one: Callable[[str, T], RunFigures]) -> bool:
    """Return whether `argv` asks for one timed run (`--one-round NAME --settings-json JSON`: the child side
    of `rounds_in_processes`); if so, run it with `run_one(name, settings)` (torch on the settings' `threads`,
    libraries quiet) and print its speed summary and progress line as JSON, the last line of stdout."""
    if argv[:1] != [ONE_ROUND]:
        return False
    parser = argparse.ArgumentParser(description="one timed run of a speed benchmark (rounds_in_processes)")
    parser.add_argument(ONE_ROUND, dest="name", required=True, help="the contender to run")
    parser.add_argument("--settings-json", required=True, help="the benchmark's settings, as asdict JSON")
    args = parser.parse_args(argv)
    settings = settings_from_json(settings_type, args.settings_json)
    threads = getattr(settings, "threads", 0)
    if threads:  # the parent's settings name the threads every run of the benchmark gets
        import torch

        torch.set_num_threads(threads)
    quiet_libraries()
    run = run_one(args.name, settings)
    print(json.dumps({"summary": run.summary(), "line": run.speed_line()}), flush=True)
    return True


def round_medians(rounds: list[dict[str, dict[str, Any]]], key: str) -> dict[str, float]:
    """Return each contender's median of figure `key` over `rounds` (as `measured_rounds` returns them)."""
    return {name: statistics.median(r[name][key] for r in rounds) for name in rounds[0]} if rounds else {}


def tokens_to_reach(
    train_with: Callable[[dict[str, Any], int], RunFigures],
    heldout: Callable[[Any], float],
    every: int,
    target: float,
) -> dict[str, Any]:
    """Return when a run's held-out loss reaches `target` to stay: the step and tokens from which every later
    evaluation is at or below it (None for both when the last one is not), the first step and tokens at or
    below it, and the curve (tokens -> loss). `train_with(evaluations, every)` runs the training with those
    evaluations every `every` steps; `heldout(model)` is the loss of a model."""
    curve: dict[int, float] = {}

    def evaluate(objective: Any, step: int) -> dict[str, float]:
        curve[step] = heldout(objective.model)
        return {"loss": curve[step]}

    run = train_with({"heldout": evaluate}, every)
    seen = list(accumulate(run.step_tokens))
    first, settled = reaching_steps(curve, target)
    tokens = seen[settled - 1] if settled else None
    crossing = crossing_tokens({seen[step - 1]: loss for step, loss in curve.items()}, target, tokens)
    log(f"match   xling held-out {target} from {tokens} tokens on ({settled} steps; crossing at ~{crossing})")
    return {
        "target": target,
        "steps": settled,
        "tokens": tokens,
        # where the curve crosses the target between the evaluation before `tokens` and that one
        "crossing_tokens": crossing,
        # a noisy curve can dip below the target once before it stays there
        "first_steps": first,
        "first_tokens": seen[first - 1] if first else None,
        "curve": {seen[step - 1]: round(loss, 4) for step, loss in sorted(curve.items())},
    }


def crossing_tokens(curve: dict[int, float], target: float, settled_tokens: int | None) -> int | None:
    """Return the tokens at which the loss `curve` (tokens -> loss) reaches `target` for good, interpolated
    linearly between the last evaluation above it and `settled_tokens`, the first of those at or below it
    from which it stays there (that one when it is the first evaluation); None when there is none."""
    if settled_tokens is None:
        return None
    before = [t for t in curve if t < settled_tokens]
    if not before:
        return settled_tokens
    last = max(before)  # above the target, or the loss would stay at or below it from there on
    high, low = curve[last], curve[settled_tokens]
    return round(last + (settled_tokens - last) * (high - target) / (high - low))


def matched_tokens(match: dict[str, Any]) -> int | None:
    """Return xling's tokens to the target of `match` (tokens_to_reach's): the interpolated crossing, else the
    evaluation it is first at or below the target from."""
    return match.get("crossing_tokens") or match["tokens"]


def equal_loss_figures(
    match: dict[str, Any], trainer_tokens: int, xling_speed: float, trainer_speed: float
) -> dict[str, Any]:
    """Return the report's time-to-equal-loss fields: `match` (tokens_to_reach's), xling's tokens there
    (`matched_tokens`) over the Trainer's `trainer_tokens`, and the speed ratio once those extra tokens are
    paid for."""
    tokens = matched_tokens(match)
    ratio = round(tokens / trainer_tokens, 3) if tokens else None
    return {
        "tokens_to_match_hf_bf16": match,
        "token_ratio_at_equal_heldout": ratio,
        "ratio_vs_hf_bf16_at_equal_heldout": (
            round(xling_speed / trainer_speed / ratio, 3) if ratio and trainer_speed else None
        ),
    }


def print_equal_loss(report: dict[str, Any], unit: str) -> None:
    """Print where xling's held-out loss reaches the bf16 Trainer's to stay (`equal_loss_figures`)."""
    match = report["tokens_to_match_hf_bf16"]
    if match["tokens"]:
        crossing = matched_tokens(match)
        print(f"xling's held-out loss stays at or below the bf16 Trainer's ({match['target']:.3f}) from "
              f"~{crossing:,} {unit} on (interpolated between evaluations, {match['tokens']:,} at the first "
              f"one there; {report['token_ratio_at_equal_heldout']}x its): "
              f"{report['ratio_vs_hf_bf16_at_equal_heldout']}x its speed at equal held-out loss")  # fmt: skip
    else:
        print(f"xling's held-out loss is not at or below the bf16 Trainer's ({match['target']:.3f}) at the end "
              "of twice its tokens")  # fmt: skip


def reaching_steps(curve: dict[int, float], target: float) -> tuple[int | None, int | None]:
    """Return (the first step whose loss is at or below `target`, the step from which every loss is), None
    for either that does not exist."""
    steps = sorted(curve)
    first = next((step for step in steps if curve[step] <= target), None)
    settled = None
    for step in reversed(steps):
        if curve[step] > target:
            break
        settled = step
    return first, settled


def steps_for_tokens(batches: Any, tokens: int, count: Callable[[dict[str, Any]], int]) -> int:
    """Return how many steps of `batches` (a pure function of the step) it takes to see `tokens` tokens, as
    `count` counts them in a batch."""
    seen, step = 0, 0
    while seen < tokens:
        seen += count(batches.get(step, 0, 0, 1))
        step += 1
    return step


def recipe_dev_verses(config: Any, sentences: int) -> dict[str, tuple[list[str], list[str]]]:
    """Return {"src-tgt": (sources, references)} of an mt recipe's (MTTrainConfig's) dev directions: the
    first `sentences` verses of its dev ids (`dev_fraction`), never its held-out book, read from its corpus
    and cut as training cuts them (chapters numbered apart in the two languages left out)."""
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import resolve_corpus
    from xling.translation.data import parse_direction, split_corpus

    directions = [parse_direction(direction, "dev_directions") for direction in config.dev_directions]
    languages = sorted({lang for direction in directions for lang in direction})
    corpus = AlignedCorpus.from_dir(resolve_corpus(config.data.corpus), languages)
    split = split_corpus(corpus, directions, config.data.heldout(), config.dev_fraction)
    return {
        name: (sources[:sentences], references[:sentences])
        for name, (sources, references) in split.dev.items()
    }
