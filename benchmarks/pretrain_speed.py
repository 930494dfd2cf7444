"""Benchmark: xling's MLM training speed against the Hugging Face `Trainer`, same model, same real data.

Three contenders train the same XLM-R architecture (`small` preset: h256/L4, 16k vocabulary) from the same
initial weights on the same Bible verses, in an order rotated each round so that noise from a shared
machine hits all of them alike; medians over rounds are reported:

  a) xling  : `MaskedLMObjective` + `PretrainBatches` (MLM only) through `xling.training.train`, precision
              "auto" (bf16 autocast where the CPU has it). Streams are packed, so it has no padding;
              by default it packs as many rows of max_length as hold the Trainer's real tokens per step
              (`--xling-rows`), so both take equally many optimizer steps over equally many tokens.
  b) hf     : `Trainer` + `DataCollatorForLanguageModeling(mlm_probability=0.15)`, fp32, one verse per
              row truncated at max_length and padded per batch (the HF example's `line_by_line`).
  c) hf_bf16: the same Trainer with `bf16=True`.

Speed is real tokens per second (padding excluded) over the timed steps, data loading included. Optimizer
hyperparameters (AdamW lr/betas/eps/weight decay, clipping, constant schedule) are set to the same values
for all three: they do not change the cost of a step, and they are what makes the loss comparison mean
something. That comparison trains each contender again until it has seen `--loss-tokens` real tokens and
reports its mean MLM loss (masked positions only, as both sides define it) over its last 5 steps, and
its loss on held-out text (the first `--heldout-verses` verses of John in each language, one fixed
15% of positions replaced by <mask>, the same for every contender) in both sides' shapes: one verse per row
(the Trainer's) and verses packed into rows of max_length (xling's). The training losses are taken on each
side's own batches; the held-out losses on the same inputs. Last, xling trains again with its held-out loss
taken every few steps, to find how many tokens it needs to reach the bf16 Trainer's held-out loss: the speed
ratio divided by that token ratio is the ratio of times to equal held-out loss.

    .venv/bin/python benchmarks/pretrain_speed.py --json runs/bench/pretrain_speed.json
    .venv/bin/python benchmarks/pretrain_speed.py --quick      # end-to-end check in well under a minute
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may be fetched: the model is built from a config

import torch  # noqa: E402  (after the environment is set for transformers)
from bench_common import (  # noqa: E402
    TRAINER_ADAMW,
    TRAINER_QUIET,
    RunFigures,
    bench_main,
    child_round,
    equal_loss_figures,
    has_tokenizer,
    log,
    make_step_clock,
    print_equal_loss,
    print_wide,
    quick_tokenizer,
    quiet_libraries,
    rounds_in_processes,
    steps_for_tokens,
    tokens_to_reach,
    trainer_run_figures,
    usable_cores,
    without_autocast_wrapper,
    write_json,
    xling_run_figures,
)

# 20 languages in Latin, Cyrillic, Greek, Hebrew, Han, Japanese, Hangul, Armenian, Malayalam, Gujarati and
# Burmese scripts: recipes/bible-small.toml's languages less tgl and swh.
LANGUAGES = [
    "eng", "deu", "fra", "spa", "rus", "cmn", "jpn", "kor", "fin", "nld",
    "heb", "ell", "hye", "mal", "guj", "mya", "ukr", "pol", "vie", "swe",
]  # fmt: skip
CONTENDERS = ("xling", "hf", "hf_bf16")


@dataclass
class BenchSettings:
    """Everything that defines one benchmark run (written into the JSON as `config`)."""

    data: str
    tokenizer: str
    languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    verses_per_language: int = 3000
    tokenizer_verses_per_language: int = 0  # 0: every non-held-out verse
    tokenizer_sample_sentences: int = 200_000
    vocab_size: int = 16_000
    model: str = "small"
    batch_size: int = 32
    max_length: int = 128
    steps: int = 30
    warmup_steps: int = 3
    rounds: int = 3
    loss_tokens: int = 60_000
    # verses of John (held out from training) of each language on which every contender's loss is taken
    heldout_verses: int = 50
    # steps between xling's held-out evaluations while it trains towards the bf16 Trainer's held-out loss
    match_every: int = 5
    lr: float = 5e-4
    # xling's packed rows of max_length per step. 0: as many as carry the Trainer's real tokens per step
    # (32 verses of ~43 tokens ~ 11 rows), so both take the same optimizer steps over the same tokens and
    # the loss comparison is fair; with 32 packed rows xling would see 3x the tokens in 3x fewer steps.
    xling_rows: int = 0
    threads: int = 0
    seed: int = 0
    quick: bool = False


@dataclass
class Workload:
    """What every contender shares: tokenizer, packed xling data, per-verse HF data and initial weights."""

    tokenizer: Any
    model_config: Any
    init_state: dict[str, torch.Tensor]
    xling_data: Any
    hf_verses: list[list[int]]
    first_regular_id: int
    # held-out text with one fixed mask, as (input ids, labels with -100 where nothing is masked): one verse a
    # row, and the same verses packed into rows of max_length
    heldout: dict[str, list[tuple[list[int], list[int]]]] = field(default_factory=dict)


# --- settings -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.environ.get("XLING_DATA", "../shared/data")
    parser.add_argument("--data", default=default_data, help="folder holding bible/ (default: XLING_DATA)")
    parser.add_argument(
        "--tokenizer", default="runs/bench/tokenizer", help="tokenizer folder (trained if absent)"
    )
    parser.add_argument("--steps", type=int, default=30, help="timed steps per contender and round")
    parser.add_argument("--warmup-steps", type=int, default=3, help="untimed steps before the timed ones")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the contenders, order rotated each round (medians are reported)",
    )
    parser.add_argument("--loss-tokens", type=int, default=60_000, help="real tokens before the loss is read")
    parser.add_argument("--verses", type=int, default=3000, help="training verses per language")
    parser.add_argument("--heldout-verses", type=int, default=50,
                        help="verses of John per language for the held-out loss")  # fmt: skip
    parser.add_argument("--lr", type=float, default=5e-4, help="constant learning rate of all contenders")
    parser.add_argument("--xling-rows", type=int, default=0,
                        help="xling's packed rows per step (default: the Trainer's real tokens per step)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: the usable cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="tiny settings to check the script end to end")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """Return the benchmark settings; `--quick` swaps in tiny ones (2 languages, temp tokenizer)."""
    settings = BenchSettings(
        data=args.data, tokenizer=args.tokenizer, verses_per_language=args.verses, steps=args.steps,
        warmup_steps=args.warmup_steps, rounds=args.rounds, loss_tokens=args.loss_tokens, lr=args.lr,
        threads=args.threads or usable_cores(), seed=args.seed, xling_rows=args.xling_rows,
        heldout_verses=args.heldout_verses,
    )  # fmt: skip
    if args.quick:
        settings = replace(
            settings, languages=["eng", "deu"], verses_per_language=300, tokenizer_verses_per_language=2000,
            tokenizer_sample_sentences=4000, vocab_size=2000, steps=3, warmup_steps=1, rounds=1,
            loss_tokens=6000, heldout_verses=10, match_every=1, quick=True,
            tokenizer=quick_tokenizer(),
        )  # fmt: skip
    return settings


# --- shared workload ----------------------------------------------------------------------------------


def bible_sources(settings: BenchSettings):
    """Return `TextSources` over the Bible files of the benchmark languages, John held out."""
    from xling.data.sources import TextSources

    bible = Path(settings.data) / "bible"
    if not bible.is_dir():
        sys.exit(f"no Bible corpus at {bible}: pass --data (the folder holding bible/) or set XLING_DATA")
    # John is held out as in the recipes, so the tokenizer cached here is trained on the same split
    return TextSources.from_options(str(bible), settings.languages, [], ["JHN."])


def capped(factory: Callable[[], Iterator[str]], cap: int) -> Callable[[], Iterator[str]]:
    """Return a factory of passes over at most `cap` sentences (all when cap is 0)."""
    return lambda: islice(factory(), cap) if cap else factory()


def ensure_tokenizer(settings: BenchSettings, sources) -> Path:
    """Return the tokenizer folder, training it on the benchmark languages' verses if it is not there."""
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    folder = Path(settings.tokenizer)
    if has_tokenizer(folder, settings.languages):
        return folder
    cap = settings.tokenizer_verses_per_language
    factories = {lang: capped(f, cap) for lang, f in sources.text_factories().items()}
    config = VocabConfig(
        output=str(folder), vocab_size=settings.vocab_size, seed=settings.seed,
        sample_sentences=settings.tokenizer_sample_sentences, threads=settings.threads,
    )  # fmt: skip
    log(f"training a {settings.vocab_size}-piece vocabulary over {len(factories)} languages -> {folder}")
    train_vocabulary(factories, config)
    return folder


def build_workload(settings: BenchSettings) -> Workload:
    """Return the shared workload: the same verses for both sides, and one set of initial weights."""
    from transformers import XLMRobertaForMaskedLM

    from xling.pretraining.data import build_pretraining_data
    from xling.pretraining.presets import model_config
    from xling.tokenization.vocabulary import load_tokenizer

    sources = bible_sources(settings)
    tokenizer = load_tokenizer(ensure_tokenizer(settings, sources))
    # xling keeps N verses of each language spread over the whole Bible (the smallest hashes of their ids);
    # the Trainer gets the same verses, each as the tokenizer gives it (`<s>` ... `</s>`), cut as it cuts them
    xling_data = build_pretraining_data(
        sources, tokenizer, max_sentences_per_language=settings.verses_per_language
    )
    encoded = [
        truncated(pool.sentence(i).tolist(), settings.max_length)
        for pool in xling_data.pools.values()
        for i in range(len(pool))
    ]
    config = model_config(settings.model, vocab_size=len(tokenizer), max_length=settings.max_length)
    torch.manual_seed(settings.seed)
    init_state = {k: v.clone() for k, v in XLMRobertaForMaskedLM(config).state_dict().items()}
    first_regular_id = max(tokenizer.all_special_ids) + 1
    verses, packed = [], []
    for lang in sources.languages:  # John, held out from both
        texts = [text for _, text in xling_data.heldout[lang][: settings.heldout_verses]]
        ids = tokenizer(texts, truncation=True, max_length=settings.max_length)["input_ids"]
        verses += ids
        stream = [token for row in ids for token in row]  # one language a stream, as xling packs it
        packed += [stream[i : i + settings.max_length] for i in range(0, len(stream), settings.max_length)]
    heldout = {
        shape: masked_once(rows, tokenizer.mask_token_id, first_regular_id, settings.seed)
        for shape, rows in (("verses", verses), ("packed", packed))
    }
    return Workload(tokenizer, config, init_state, xling_data, encoded, first_regular_id, heldout)


def truncated(ids: list[int], max_length: int) -> list[int]:
    """Return `ids` cut to `max_length` keeping its closing token, as the tokenizer's truncation does."""
    return ids if len(ids) <= max_length else ids[: max_length - 1] + ids[-1:]


def masked_once(
    rows: list[list[int]], mask_id: int, first_regular_id: int, seed: int, share: float = 0.15
) -> list[tuple[list[int], list[int]]]:
    """Return each row with `share` of its regular tokens (at least one) replaced by `mask_id`, and its labels:
    the original ids there, -100 elsewhere. Drawn once from `seed`, so every contender is scored alike."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for row in rows:
        regular = [i for i, token in enumerate(row) if token >= first_regular_id]
        if not regular:
            continue
        count = max(1, round(share * len(regular)))
        picked = {regular[int(i)] for i in torch.randperm(len(regular), generator=generator)[:count]}
        out.append((
            [mask_id if i in picked else token for i, token in enumerate(row)],
            [token if i in picked else -100 for i, token in enumerate(row)],
        ))  # fmt: skip
    return out


@torch.no_grad()
def heldout_loss(model, rows: list[tuple[list[int], list[int]]], pad: int, batch_size: int = 32) -> float:
    """Return the mean cross-entropy per masked token over held-out `rows` (fp32, eval mode)."""
    model.eval()
    total, tokens = 0.0, 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        width = max(len(ids) for ids, _ in chunk)
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in chunk])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in chunk])
        hidden = model.base_model(
            input_ids=input_ids, attention_mask=(input_ids != pad).long()
        ).last_hidden_state
        masked = labels != -100
        # the vocabulary projection of the masked positions only, as the objectives take it: ~7x less work
        logits = model.lm_head(hidden[masked])
        total += float(torch.nn.functional.cross_entropy(logits.float(), labels[masked], reduction="sum"))
        tokens += int(masked.sum())
    return total / max(tokens, 1)


def fresh_model(work: Workload):
    """Return a new XLMRobertaForMaskedLM holding the shared initial weights."""
    from transformers import XLMRobertaForMaskedLM

    model = XLMRobertaForMaskedLM(work.model_config)
    model.load_state_dict(work.init_state)
    return model


# --- contender a: xling -------------------------------------------------------------------------------


def xling_rows(work: Workload, settings: BenchSettings) -> int:
    """Return xling's packed rows per step: as set, or those that hold the Trainer's real tokens per step."""
    if settings.xling_rows:
        return settings.xling_rows
    mean_tokens = statistics.fmean(len(v) for v in work.hf_verses)
    return max(1, round(settings.batch_size * mean_tokens / settings.max_length))


def xling_batches(work: Workload, settings: BenchSettings):
    """Return xling's MLM-only batch source over the shared data."""
    from xling.pretraining.data import PretrainBatches

    return PretrainBatches(
        data=work.xling_data, batch_size=xling_rows(work, settings), max_length=settings.max_length,
        mask_id=work.tokenizer.mask_token_id, first_regular_id=work.first_regular_id,
        vocab_size=len(work.tokenizer), mlm_probability=0.15, tlm_ratio=0.0, seed=settings.seed,
    )  # fmt: skip


def xling_steps_for_tokens(work: Workload, settings: BenchSettings, tokens: int) -> int:
    """Return how many xling steps it takes to see `tokens` real tokens (batches are pure functions)."""
    return steps_for_tokens(xling_batches(work, settings), tokens, lambda b: int(b["attention_mask"].sum()))


def run_xling(
    work: Workload, settings: BenchSettings, max_steps: int, timed_from: int, evaluations=None, eval_every=0
) -> RunFigures:
    """Return the figures of one xling run, read from its train_log.jsonl (a fresh run folder each time);
    `evaluations` run every `eval_every` steps (their time counts in the run's elapsed time)."""
    from xling.pretraining.objective import MaskedLMObjective
    from xling.training import TrainingConfig, train

    config = TrainingConfig(
        max_steps=max_steps, batch_size=xling_rows(work, settings), precision="auto", progress=False,
        checkpoint_every=10**9, log_every=1, lr=settings.lr, warmup_steps=0, schedule="constant",
        threads=settings.threads, seed=settings.seed, eval_every=eval_every,
    )  # fmt: skip
    objective = MaskedLMObjective(fresh_model(work))
    with tempfile.TemporaryDirectory(prefix="xling-bench-run-") as run_dir:
        train(objective, xling_batches(work, settings), config, run_dir, description="xling",
              evaluations=evaluations)  # fmt: skip
        return xling_run_figures(RunFigures, run_dir, max_steps, timed_from, model=objective.model)


# --- contenders b, c: Hugging Face Trainer ------------------------------------------------------------


class VerseDataset(torch.utils.data.Dataset):
    """One tokenized verse per item, as the HF `line_by_line` example feeds the collator."""

    def __init__(self, verses: list[list[int]]):
        self.verses = verses

    def __len__(self) -> int:
        return len(self.verses)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return {"input_ids": self.verses[i]}


class CountingCollator:
    """Wraps a collator; records the real (non-pad) tokens of every batch it builds, in order."""

    def __init__(self, inner: Callable[[list[dict]], dict[str, torch.Tensor]]):
        self.inner = inner
        self.counts: list[int] = []

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.inner(features)
        self.counts.append(int(batch["attention_mask"].sum()))
        return batch


def run_hf(
    work: Workload,
    settings: BenchSettings,
    max_steps: int,
    timed_from: int,
    bf16: bool,
    stop_after_tokens: int = 0,
) -> RunFigures:
    """Return the figures of one Hugging Face Trainer run (fp32 defaults, or bf16=True)."""
    from transformers import DataCollatorForLanguageModeling, PrinterCallback, Trainer, TrainingArguments

    collator = CountingCollator(DataCollatorForLanguageModeling(work.tokenizer, mlm_probability=0.15))
    clock = make_step_clock(collator, stop_after_tokens)
    with tempfile.TemporaryDirectory(prefix="xling-bench-hf-") as out:
        args = TrainingArguments(
            output_dir=out, max_steps=max_steps, per_device_train_batch_size=settings.batch_size, bf16=bf16,
            seed=settings.seed, learning_rate=settings.lr, lr_scheduler_type="constant", warmup_steps=0,
            **TRAINER_QUIET, **TRAINER_ADAMW,
        )  # fmt: skip
        model = fresh_model(work)
        trainer = Trainer(model=model, args=args, train_dataset=VerseDataset(work.hf_verses),
                          data_collator=collator, callbacks=[clock])  # fmt: skip
        trainer.remove_callback(PrinterCallback)  # it prints every log line; xling's run is silent too
        torch.set_num_threads(settings.threads)
        trainer.train()
    name = "hf_bf16" if bf16 else "hf"
    return trainer_run_figures(
        RunFigures, name, clock, collator.counts, max_steps, timed_from, model=without_autocast_wrapper(model)
    )


# --- phases -------------------------------------------------------------------------------------------


def run_contender(name: str, work: Workload, settings: BenchSettings, max_steps: int, timed_from: int, **kw):
    """Return the figures of contender `name` (xling, hf or hf_bf16)."""
    if name == "xling":
        return run_xling(work, settings, max_steps, timed_from)
    return run_hf(work, settings, max_steps, timed_from, bf16=name == "hf_bf16", **kw)


def timed_rounds(settings: BenchSettings) -> list[dict[str, dict[str, Any]]]:
    """Return per-round speed figures, the contenders' order rotated each round, each run in a process of
    its own (`bench_common.rounds_in_processes`, whose child is `one_round`): xling's loop has glibc keep freed
    memory for reuse (`xling.training.memory`), which would stay in force for a Trainer run after it in one
    process."""
    return rounds_in_processes(__file__, settings.rounds, CONTENDERS, settings)


def one_round(name: str, settings: BenchSettings) -> RunFigures:
    """Return the figures of one timed run of contender `name`, the shared workload built again (the same
    tokenizer, verses and initial weights: a pure function of the settings)."""
    total = settings.warmup_steps + settings.steps
    return run_contender(name, build_workload(settings), settings, total, settings.warmup_steps)


def loss_at_tokens(work: Workload, settings: BenchSettings) -> dict[str, dict[str, Any]]:
    """Return, per contender, the mean loss of its last steps once it has seen `loss_tokens` real tokens."""
    out = {}
    xling_steps = xling_steps_for_tokens(work, settings, settings.loss_tokens)
    # HF stops itself once enough tokens were fed; the step bound only has to be safe (1 token per verse)
    hf_bound = settings.loss_tokens // settings.batch_size + 1
    for name in CONTENDERS:
        if name == "xling":
            run = run_contender(name, work, settings, xling_steps, 0)
        else:
            run = run_contender(name, work, settings, hf_bound, 0, stop_after_tokens=settings.loss_tokens)
        out[name] = {
            "loss": run.mean_last_loss(),
            "heldout_loss": {
                shape: round(heldout_loss(run.model, rows, work.tokenizer.pad_token_id), 4)
                for shape, rows in work.heldout.items()
            },
            "steps": run.steps,
            "tokens": sum(run.step_tokens),
            "window": len(run.loss_window()),
        }
        log(f"loss    {name:8s} train {out[name]['loss']} held-out {out[name]['heldout_loss']} after "
            f"{out[name]['tokens']} tokens ({run.steps} steps)")  # fmt: skip
    return out


def tokens_to_match(work: Workload, settings: BenchSettings, target: float) -> dict[str, Any]:
    """Return the real tokens xling trains on before its held-out loss (one verse a row) reaches `target` (the
    bf16 Trainer's after `loss_tokens`) to stay, checked every `match_every` steps up to twice the tokens
    (`bench_common.tokens_to_reach`); `tokens` is None when it is not there at the end."""
    steps = xling_steps_for_tokens(work, settings, 2 * settings.loss_tokens)
    return tokens_to_reach(
        lambda evaluations, every: run_xling(work, settings, steps, 0, evaluations, every),
        lambda model: heldout_loss(model, work.heldout["verses"], work.tokenizer.pad_token_id),
        settings.match_every, target,
    )  # fmt: skip


def medians(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, float]:
    """Return the median tokens/s of each contender over the rounds."""
    return {name: statistics.median(r[name]["tokens_per_s"] for r in rounds) for name in CONTENDERS}


# --- report -------------------------------------------------------------------------------------------


def build_report(settings: BenchSettings, work: Workload, rounds, losses, match) -> dict[str, Any]:
    """Return the JSON report: medians, ratios, losses, config and raw per-round figures."""
    import transformers

    from xling.training.loop import bf16_supported

    med = medians(rounds)
    xling_precision = "bf16" if bf16_supported(torch.device("cpu")) else "fp32"
    config = asdict(settings) | {
        "vocab_size_actual": len(work.tokenizer),
        "hf_verses": len(work.hf_verses),
        "hf_mean_verse_tokens": round(statistics.fmean(len(v) for v in work.hf_verses), 1),
        "xling_rows_per_step": xling_rows(work, settings),
        "xling_precision": xling_precision,
        "optimizer": "AdamW betas (0.9, 0.98) eps 1e-6 wd 0.01, clip 1.0, constant lr, no warm-up (all)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_cores": usable_cores(),
    }
    return {
        "xling_tokens_per_s": round(med["xling"], 1),
        "hf_tokens_per_s": round(med["hf"], 1),
        "hf_bf16_tokens_per_s": round(med["hf_bf16"], 1),
        "ratio_vs_hf": round(med["xling"] / med["hf"], 3) if med["hf"] else None,
        "ratio_vs_hf_bf16": round(med["xling"] / med["hf_bf16"], 3) if med["hf_bf16"] else None,
        "loss": {name: losses[name]["loss"] for name in losses},
        "heldout_loss": {name: losses[name]["heldout_loss"] for name in losses},
        **equal_loss_figures(match, losses["hf_bf16"]["tokens"], med["xling"], med["hf_bf16"]),
        "loss_detail": losses,
        "config": config,
        "rounds": rounds,
    }


def print_table(report: dict[str, Any]) -> None:
    """Print the comparison as a rich table."""
    from rich.table import Table

    config = report["config"]
    precision = {"xling": config["xling_precision"] + " (auto)", "hf": "fp32", "hf_bf16": "bf16"}
    label = {"xling": "xling", "hf": "HF Trainer", "hf_bf16": "HF Trainer bf16"}
    speed = {"xling": report["xling_tokens_per_s"], "hf": report["hf_tokens_per_s"],
             "hf_bf16": report["hf_bf16_tokens_per_s"]}  # fmt: skip
    title = (
        f"MLM training speed: {config['model']} model, {len(config['languages'])} languages, batch "
        f"{config['batch_size']} verses (xling: {config['xling_rows_per_step']} packed rows of "
        f"{config['max_length']}), {config['steps']} timed steps x {config['rounds']} rounds"
    )
    table = Table(title=title)
    for column in ("contender", "precision", "tokens/s (median)", "per round", "vs HF fp32", "tokens/step",
                   f"loss after ≥{config['loss_tokens']:,} tokens", "held-out loss: verses", "packed"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("contender", "precision") else "right")
    for name in CONTENDERS:
        per_round = ", ".join(f"{r[name]['tokens_per_s']:,.0f}" for r in report["rounds"])
        per_step = statistics.median(r[name]["tokens_per_step"] for r in report["rounds"])
        loss = report["loss"][name]
        ratio = speed[name] / speed["hf"] if speed["hf"] else math.nan
        table.add_row(label[name], precision[name], f"{speed[name]:,.0f}", per_round, f"{ratio:.2f}x",
                      f"{per_step:,.0f}", "n/a" if loss is None else f"{loss:.3f}",
                      f"{report['heldout_loss'][name]['verses']:.3f}",
                      f"{report['heldout_loss'][name]['packed']:.3f}")  # fmt: skip
    print_wide(table, 120)
    print_equal_loss(report, "tokens")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Return the report after running the benchmark (and writing --json if given)."""
    if child_round(sys.argv[1:] if argv is None else argv, BenchSettings, one_round):
        return {}
    return bench_main(argv, parse_args, settings_from_args, run_benchmark)


def run_benchmark(settings: BenchSettings, json_path: Path | None) -> dict[str, Any]:
    """Return the report after running every phase (and writing it to `json_path` if given)."""
    torch.set_num_threads(settings.threads)
    quiet_libraries()
    started = time.perf_counter()
    work = build_workload(settings)
    log(f"workload ready in {time.perf_counter() - started:.1f} s: {len(work.hf_verses)} verses, "
        f"vocab {len(work.tokenizer)}, {settings.threads} threads")  # fmt: skip
    rounds = timed_rounds(settings)
    losses = loss_at_tokens(work, settings)
    match = tokens_to_match(work, settings, losses["hf_bf16"]["heldout_loss"]["verses"])
    report = build_report(settings, work, rounds, losses, match)
    report["config"]["seconds"] = round(time.perf_counter() - started, 1)
    print_table(report)
    write_json(report, json_path)
    return report


if __name__ == "__main__":
    main()
