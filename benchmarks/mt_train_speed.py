"""Benchmark: `xling mt train`'s training loop against transformers' `Seq2SeqTrainer`, same model, same pairs.

Three contenders train the same M2M-100 model (`small` preset: d256, 6 + 2 layers; a shared eng+deu vocabulary
with one token per language) from the same initial weights on the same Bible verse pairs, eng <-> deu, John
held out, in an order rotated each round so that noise from a shared machine hits all of them alike;
medians over rounds are reported:

  a) xling  : what `xling mt train` runs (`train_translation`'s pieces): `Seq2SeqObjective` +
              `TranslationBatches` (a step's pairs from one narrow length band; `--length-groups N`: in N
              groups, each from its own band and run padded to its own longest pair) through
              `xling.training.train`, precision "auto" (bf16 autocast where the CPU has it), attention
              "auto" (transformers' eager attention on a CPU; `--attention sdpa` for the default kernels).
  b) hf     : `Seq2SeqTrainer` + `DataCollatorForSeq2Seq` (random batches padded to their longest pair,
              decoder inputs from M2M-100's `shift_tokens_right`), its defaults: fp32, full-vocabulary
              logits, the model's default attention (SDPA; `--trainer-attention eager` to give it xling's).
  c) hf_bf16: the same Trainer with `bf16=True`.

Equal on all sides: the model and its initial weights; the pairs and their token sequences (source
`__src__ pieces </s>`, decoder input `</s> __tgt__ pieces`, labels `__tgt__ pieces </s>`, built once from the
same `ParallelData`); pairs per step (`--batch`); AdamW (lr, betas 0.9/0.98, eps 1e-6, weight decay 0.01),
gradient clipping at 1.0, linear warm-up (`--warmup`) then a constant rate, label smoothing 0.1 (the same
definition: (1 - e) NLL + e x the mean over the vocabulary), dropout 0.1. Not equal, by design: which pairs
make a step (xling: a random length quantile per step, or per group of it, pairs near it; the Trainer: uniform
random pairs),
hence padding (reported as `padding_share`: padded positions / all positions of encoder and decoder inputs),
the attention kernels (above), and the Trainer's step-0 learning rate (it warms up from 0, xling from lr/warmup). Temperature sampling is
moot here: the two directions have the same number of pairs.

Speed is target tokens (labels that are not padding) per second over the timed steps, data loading
included. The loss comparison trains each contender again until it has seen `--loss-tokens` target tokens,
once per seed of `--loss-seeds` (batch draws and dropout; the same initial weights), and reports the medians
of its training loss (mean of its last 5 steps, label-smoothed as trained) and of the held-out loss: plain
cross-entropy per target token, fp32 (the Trainer's model without the autocast wrapper its bf16 run
leaves on it), of the dev pairs (a hashed 1% of the verses, never trained on).
Last, xling trains again per seed with its held-out loss taken every few steps, to find how many target
tokens it needs to reach the bf16 Trainer's median held-out loss to stay (interpolated between the two
readings around the crossing; the median over seeds), against the tokens of the Trainer's median seed: the
speed ratio divided by that token ratio is the ratio of times to equal held-out loss.

    .venv/bin/python benchmarks/mt_train_speed.py --threads 2 --json runs/bench/mt_train_speed.json
    .venv/bin/python benchmarks/mt_train_speed.py --quick --threads 1   # end to end in about a minute
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
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

CONTENDERS = ("xling", "hf", "hf_bf16")
IGNORE = -100


@dataclass
class BenchSettings:
    """Everything that defines one benchmark run (written into the JSON as `config`)."""

    corpus: str
    tokenizer: str
    languages: tuple[str, ...] = ("eng", "deu")
    heldout_prefixes: tuple[str, ...] = ("JHN.",)
    dev_fraction: float = 0.01
    vocab_size: int = 8000
    tokenizer_sample_sentences: int = 200_000
    model: str = "small"
    batch_size: int = 48
    # xling's batch layout (TranslationBatches): each batch's pairs in `length_groups` groups of like length
    length_band: float = 0.02
    length_groups: int = 1
    # attention kernels: xling's `xling mt train` attention setting (auto: eager on a CPU); the Trainer's
    # ("": transformers' default, SDPA)
    attention: str = "auto"
    trainer_attention: str = ""
    # xling's dropout masks on a CPU: xling.training.dropout.cpu_dropout (as `xling mt train`), or torch's
    cpu_dropout: bool = True
    max_length: int = 128
    lr: float = 1e-3
    warmup: int = 20
    label_smoothing: float = 0.1
    dropout: float = 0.1
    steps: int = 20
    untimed_steps: int = 3
    rounds: int = 3
    loss_tokens: int = 150_000
    # seeds of the loss runs (batch draws and dropout; the initial weights stay `seed`'s): one seed's held-out
    # loss after 150k tokens moved by up to 0.26 (xling, one length band a step), so medians are reported
    loss_seeds: tuple[int, ...] = (0, 1, 2)
    dev_pairs: int = 200
    # steps between xling's held-out evaluations while it trains towards the bf16 Trainer's held-out loss
    match_every: int = 5
    threads: int = 0
    seed: int = 0
    quick: bool = False


@dataclass
class Workload:
    """What every contender shares: tokenizer, pairs (xling data and Trainer examples), initial weights."""

    tokenizer: Any
    data: Any
    examples: list[dict[str, list[int]]]
    dev_examples: list[dict[str, list[int]]]
    model_config: Any
    init_state: dict[str, torch.Tensor]


@dataclass
class MTRunFigures(RunFigures):
    """One contender's run: timed throughput (target tokens), padding, the per-step (target tokens, loss)
    trace and the trained model."""

    padding_share: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Return the figures worth keeping in the JSON (no per-step traces), padding share included."""
        figures = super().summary()
        threads = figures.pop("threads")  # kept last, after the padding share
        return figures | {"padding_share": round(self.padding_share, 4), "threads": threads}

    def speed_line(self) -> str:
        """Return the progress line's account of the timed steps."""
        return (
            f"{self.tokens_per_s:9,.0f} target tokens/s ({self.timed_tokens} in {self.timed_seconds:.2f} s, "
            f"padding {self.padding_share:.0%}, {self.threads} threads)"
        )


# --- settings -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = os.environ.get("XLING_DATA", "../shared/data")
    parser.add_argument("--data", default=default_data,
                        help="folder holding bible/ (default: XLING_DATA); without it the bundled sample")  # fmt: skip
    parser.add_argument(
        "--tokenizer", default="runs/bench/mt-tokenizer", help="tokenizer folder (trained if absent)"
    )
    parser.add_argument("--model", default="small", help="size preset (xling.translation.presets)")
    parser.add_argument("--batch", type=int, default=48, help="verse pairs per step (all contenders)")
    parser.add_argument("--length-groups", type=int, default=1,
                        help="xling's groups of like length per batch (`xling mt train`'s length_groups)")  # fmt: skip
    parser.add_argument("--attention", default="auto", choices=("auto", "eager", "sdpa"),
                        help="xling's attention kernels (`xling mt train`'s attention; auto: eager on a CPU)")  # fmt: skip
    parser.add_argument("--trainer-attention", default="", choices=("", "eager", "sdpa"),
                        help="the Trainers' attention kernels (default: transformers' own, SDPA)")  # fmt: skip
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (all contenders)")
    parser.add_argument("--warmup", type=int, default=20, help="linear warm-up steps, then constant (all)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per contender and round")
    parser.add_argument("--untimed-steps", type=int, default=3, help="steps before the timed ones")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of the contenders, order rotated each round (medians are reported)",
    )
    parser.add_argument(
        "--loss-tokens", type=int, default=150_000, help="target tokens before the loss is read"
    )
    parser.add_argument("--loss-seeds", default="0,1,2",
                        help="comma-separated seeds of the loss runs (medians are reported)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: the usable cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the speed runs")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--quick", action="store_true", help="tiny settings to check the script end to end")
    return parser.parse_args(argv)


def settings_from_args(args: argparse.Namespace) -> BenchSettings:
    """Return the benchmark settings; the bundled sample without a Bible; `--quick` swaps in tiny ones."""
    bible = Path(args.data) / "bible"
    settings = BenchSettings(
        corpus=str(bible) if bible.is_dir() else "sample", tokenizer=args.tokenizer, model=args.model,
        batch_size=args.batch, length_groups=args.length_groups, attention=args.attention,
        trainer_attention=args.trainer_attention, lr=args.lr, warmup=args.warmup, steps=args.steps,
        untimed_steps=args.untimed_steps, rounds=args.rounds, loss_tokens=args.loss_tokens,
        loss_seeds=tuple(int(x) for x in args.loss_seeds.split(",")), threads=args.threads or usable_cores(),
        seed=args.seed,
    )  # fmt: skip
    if settings.corpus == "sample":
        log(f"no Bible corpus at {bible}: using the bundled sample corpus")
        settings = replace(settings, dev_fraction=0.05, vocab_size=1000)
    if args.quick:
        settings = replace(
            settings, model="tiny", batch_size=8, warmup=2, steps=3, untimed_steps=1, rounds=1,
            loss_tokens=2000, loss_seeds=settings.loss_seeds[:1], dev_pairs=40, vocab_size=min(settings.vocab_size, 1000), match_every=1,
            tokenizer_sample_sentences=20_000, quick=True,
            tokenizer=quick_tokenizer(),
        )  # fmt: skip
    return settings


# --- shared workload ----------------------------------------------------------------------------------


def ensure_tokenizer(settings: BenchSettings) -> Path:
    """Return the tokenizer folder, trained on the benchmark languages (John held out) if it is absent."""
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    folder = Path(settings.tokenizer)
    if has_tokenizer(folder, settings.languages):
        return folder
    sources = TextSources.from_options(
        settings.corpus, list(settings.languages), [], list(settings.heldout_prefixes)
    )
    config = VocabConfig(output=str(folder), vocab_size=settings.vocab_size, seed=settings.seed,
                         sample_sentences=settings.tokenizer_sample_sentences, threads=settings.threads)  # fmt: skip
    log(f"training a {settings.vocab_size}-piece vocabulary over {', '.join(settings.languages)} -> {folder}")
    train_vocabulary(sources.text_factories(), config)
    return folder


def pair_examples(data, src: str, tgt: str, sources: list, targets: list, max_length: int) -> list[dict]:
    """Return Trainer examples (`input_ids`, `labels`) of token pairs in the model family's format."""
    marks = data.format.marks(src, tgt)
    room_source = max_length - len(marks.before) - len(marks.after)
    room_target = max_length - len(marks.prefix) - 1
    return [
        {
            "input_ids": [*marks.before, *list(s), *marks.after],
            "labels": [*marks.prefix, *list(t), data.format.eos],
        }
        for s, t in zip(sources, targets, strict=True)
        if 0 < len(s) <= room_source and 0 < len(t) <= room_target
    ]


def build_workload(settings: BenchSettings) -> Workload:
    """Return the shared workload: the same pairs for every contender, and one set of initial weights."""
    from transformers import M2M100ForConditionalGeneration

    from xling.data.sources import HeldOut
    from xling.tokenization.vocabulary import load_tokenizer
    from xling.translation.data import build_parallel_data
    from xling.translation.presets import model_config

    tokenizer = load_tokenizer(ensure_tokenizer(settings))
    data = build_parallel_data(
        tokenizer, corpus=settings.corpus, languages=list(settings.languages), mode="all",
        heldout=HeldOut(prefixes=settings.heldout_prefixes), dev_fraction=settings.dev_fraction,
        max_length=settings.max_length,
    )  # fmt: skip
    examples = [
        example
        for d in data.directions
        for example in pair_examples(data, d.src, d.tgt, d.sources, d.targets, settings.max_length)
    ]
    dev_examples = []
    for name, (sources, references) in sorted(data.dev.items()):
        src, tgt = name.split("-")
        n = settings.dev_pairs // max(1, len(data.dev))
        encoded_sources = data.format.encode(sources[:n])
        encoded_targets = data.format.encode(references[:n], target=True)
        dev_examples += pair_examples(data, src, tgt, encoded_sources, encoded_targets, settings.max_length)
    config = model_config(settings.model, vocab_size=len(tokenizer), dropout=settings.dropout)
    torch.manual_seed(settings.seed)
    init_state = {k: v.clone() for k, v in M2M100ForConditionalGeneration(config).state_dict().items()}
    return Workload(tokenizer, data, examples, dev_examples, config, init_state)


def fresh_model(work: Workload):
    """Return a new M2M100ForConditionalGeneration holding the shared initial weights."""
    from transformers import M2M100ForConditionalGeneration

    model = M2M100ForConditionalGeneration(work.model_config)
    model.load_state_dict(work.init_state)
    return model


def xling_model(work: Workload, settings: BenchSettings):
    """Return the shared initial model with the attention kernels `xling mt train` would train it with on a
    CPU."""
    from xling.hf_attention import set_attention
    from xling.translation.train import training_attention

    model = fresh_model(work)
    attention = training_attention(settings.attention, "cpu")
    if not set_attention(model, attention):
        raise RuntimeError(f"the model cannot switch to {attention} attention")
    return model


def padding_share(batch: dict[str, torch.Tensor]) -> tuple[int, int]:
    """Return (padded positions, all positions) of a batch's encoder and decoder inputs as the model runs
    them: each length group of xling's (`group_sizes`) cut to its own longest pair."""
    sizes = batch.get("group_sizes", torch.tensor([len(batch["labels"])]))
    padded = total = start = 0
    for size in sizes.tolist():
        source = batch["attention_mask"][start : start + size]
        target = batch["labels"][start : start + size] != IGNORE
        start += size
        source, target = source[:, : int(source.sum(1).max())], target[:, : int(target.sum(1).max())]
        padded += int((source == 0).sum()) + int((~target).sum())
        total += source.numel() + target.numel()
    return padded, total


# --- contender a: xling -------------------------------------------------------------------------------


def xling_batches(work: Workload, settings: BenchSettings):
    """Return the batch source `xling mt train` builds over the shared data."""
    from xling.translation.data import TranslationBatches

    return TranslationBatches(work.data, batch_size=settings.batch_size, temperature=5.0, seed=settings.seed,
                              length_band=settings.length_band, length_groups=settings.length_groups)  # fmt: skip


def xling_replay(work: Workload, settings: BenchSettings, steps: int) -> tuple[list[int], float]:
    """Return the target tokens of each of xling's first `steps` batches and their padding share
    (batches are a pure function of the step)."""
    batches = xling_batches(work, settings)
    tokens, padded, total = [], 0, 0
    for step in range(steps):
        batch = batches.get(step, 0, 0, 1)
        tokens.append(int((batch["labels"] != IGNORE).sum()))
        p, t = padding_share(batch)
        padded, total = padded + p, total + t
    return tokens, padded / max(total, 1)


def xling_steps_for_tokens(work: Workload, settings: BenchSettings, tokens: int) -> int:
    """Return how many xling steps it takes to see `tokens` target tokens."""
    return steps_for_tokens(
        xling_batches(work, settings), tokens, lambda b: int((b["labels"] != IGNORE).sum())
    )


def run_xling(
    work: Workload, settings: BenchSettings, max_steps: int, timed_from: int, evaluations=None, eval_every=0
) -> MTRunFigures:
    """Return the figures of one xling run, read from its train_log.jsonl (a fresh run folder each time);
    `evaluations` run every `eval_every` steps."""
    from xling.training import TrainingConfig, train
    from xling.translation.objective import Seq2SeqObjective

    config = TrainingConfig(
        max_steps=max_steps, batch_size=settings.batch_size, precision="auto", progress=False,
        checkpoint_every=10**9, log_every=1, lr=settings.lr, warmup_steps=settings.warmup, schedule="constant",
        threads=settings.threads, seed=settings.seed, eval_every=eval_every,
    )  # fmt: skip
    objective = Seq2SeqObjective(xling_model(work, settings), settings.label_smoothing, settings.cpu_dropout)
    with tempfile.TemporaryDirectory(prefix="xling-bench-mt-") as run_dir:
        train(objective, xling_batches(work, settings), config, run_dir, description="xling",
              evaluations=evaluations)  # fmt: skip
        _, padding = xling_replay(work, settings, max_steps)
        return xling_run_figures(
            MTRunFigures, run_dir, max_steps, timed_from, padding_share=padding, model=objective.model
        )


# --- contenders b, c: transformers' Seq2SeqTrainer ----------------------------------------------------


class PairDataset(torch.utils.data.Dataset):
    """One tokenized pair per item (`input_ids`, `labels`), as `DataCollatorForSeq2Seq` expects."""

    def __init__(self, examples: list[dict[str, list[int]]]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.examples[i]


class CountingCollator:
    """Wraps a collator; records each batch's target tokens and padding, in order."""

    def __init__(self, inner: Callable[[list[dict]], dict[str, torch.Tensor]]):
        self.inner = inner
        self.counts: list[int] = []
        self.padding: list[tuple[int, int]] = []

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.inner(features)
        self.counts.append(int((batch["labels"] != IGNORE).sum()))
        self.padding.append(padding_share(batch))
        return batch


def with_decoder_inputs(inner: Callable[[list[dict]], dict[str, torch.Tensor]], model):
    """Return a collator that adds `decoder_input_ids` made by M2M-100's own `shift_tokens_right`.

    With label smoothing the Trainer takes the labels out of the batch before the forward pass (the smoother
    computes the loss, transformers PR #9713), so the decoder inputs must be in the batch;
    `DataCollatorForSeq2Seq` makes them only for models with `prepare_decoder_input_ids_from_labels`, which
    M2M100ForConditionalGeneration lacks (transformers 5.24): without this the Trainer fails.
    """
    from transformers.models.m2m_100.modeling_m2m_100 import shift_tokens_right

    config = model.config

    def collate(features: list[dict]) -> dict[str, torch.Tensor]:
        batch = inner(features)
        if "decoder_input_ids" not in batch:
            batch["decoder_input_ids"] = shift_tokens_right(
                batch["labels"], config.pad_token_id, config.decoder_start_token_id
            )
        return batch

    return collate


def run_hf(work: Workload, settings: BenchSettings, max_steps: int, timed_from: int, bf16: bool,
           stop_after_tokens: int = 0) -> MTRunFigures:  # fmt: skip
    """Return the figures of one Seq2SeqTrainer run (its fp32 defaults, or bf16=True)."""
    from transformers import DataCollatorForSeq2Seq, PrinterCallback, Seq2SeqTrainer, Seq2SeqTrainingArguments

    model = fresh_model(work)
    if settings.trainer_attention:
        model.set_attn_implementation(settings.trainer_attention)
    # pads each random batch to its longest pair
    collator = CountingCollator(
        with_decoder_inputs(
            DataCollatorForSeq2Seq(work.tokenizer, model=model, label_pad_token_id=IGNORE), model
        )
    )
    clock = make_step_clock(collator, stop_after_tokens)
    with tempfile.TemporaryDirectory(prefix="xling-bench-hf-") as out:
        args = Seq2SeqTrainingArguments(
            output_dir=out, max_steps=max_steps, per_device_train_batch_size=settings.batch_size, bf16=bf16,
            seed=settings.seed, learning_rate=settings.lr, lr_scheduler_type="constant_with_warmup",
            warmup_steps=settings.warmup, label_smoothing_factor=settings.label_smoothing,
            **TRAINER_QUIET, **TRAINER_ADAMW,
        )  # fmt: skip
        trainer = Seq2SeqTrainer(model=model, args=args, train_dataset=PairDataset(work.examples),
                                 data_collator=collator, callbacks=[clock])  # fmt: skip
        trainer.remove_callback(PrinterCallback)  # it prints every log line; xling's run is silent too
        torch.set_num_threads(settings.threads)
        trainer.train()
    steps = len(clock.ends) - 1
    padded = sum(p for p, _ in collator.padding[:steps]) / max(1, sum(t for _, t in collator.padding[:steps]))
    name = "hf_bf16" if bf16 else "hf"
    return trainer_run_figures(
        MTRunFigures,
        name,
        clock,
        collator.counts,
        max_steps,
        timed_from,
        padding_share=padded,
        model=without_autocast_wrapper(model),
    )


# --- phases -------------------------------------------------------------------------------------------


def run_contender(name: str, work: Workload, settings: BenchSettings, max_steps: int, timed_from: int, **kw):
    """Return the figures of contender `name` (xling, hf or hf_bf16)."""
    if name == "xling":
        return run_xling(work, settings, max_steps, timed_from)
    return run_hf(work, settings, max_steps, timed_from, bf16=name == "hf_bf16", **kw)


def timed_rounds(settings: BenchSettings) -> list[dict[str, dict[str, Any]]]:
    """Return per-round speed figures, the contenders' order rotated each round, each run in a process of
    its own (`bench_common.rounds_in_processes`, whose child is `one_round`): `xling mt train` has glibc keep freed
    memory for reuse (`xling.training.memory`), which would stay in force for a Trainer run after it in one
    process."""
    return rounds_in_processes(__file__, settings.rounds, CONTENDERS, settings)


def one_round(name: str, settings: BenchSettings) -> MTRunFigures:
    """Return the figures of one timed run of contender `name`, the shared workload built again (the same
    tokenizer, pairs and initial weights: a pure function of the settings)."""
    total = settings.untimed_steps + settings.steps
    return run_contender(name, build_workload(settings), settings, total, settings.untimed_steps)


def pad_rows(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (ids, mask) of rows right-padded with `value` to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [value] * (width - len(r)) for r in rows], dtype=torch.long)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)
    return ids, mask


@torch.no_grad()
def heldout_loss(model, work: Workload, batch_size: int = 32) -> float:
    """Return the mean cross-entropy per target token (no smoothing, fp32, eval mode) on the dev pairs."""
    model.eval()
    total, tokens = 0.0, 0
    pad, start = work.data.format.pad, work.data.format.decoder_start
    for i in range(0, len(work.dev_examples), batch_size):
        chunk = work.dev_examples[i : i + batch_size]
        input_ids, attention_mask = pad_rows([e["input_ids"] for e in chunk], pad)
        decoder_input_ids, _ = pad_rows([[start, *e["labels"][:-1]] for e in chunk], pad)
        labels, _ = pad_rows([e["labels"] for e in chunk], IGNORE)
        logits = model(
            input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids
        ).logits
        total += float(torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), labels.flatten(),
                                                         ignore_index=IGNORE, reduction="sum"))  # fmt: skip
        tokens += int((labels != IGNORE).sum())
    return total / max(tokens, 1)


def median_of(values: Iterable[float | None]) -> float | None:
    """Return the median of the values that are not None (a run too short to log a loss has None), or None."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def loss_at_tokens(work: Workload, settings: BenchSettings) -> dict[str, dict[str, Any]]:
    """Return, per contender, the medians over `loss_seeds` of its training and held-out loss (and of the
    target tokens seen) once it has seen `loss_tokens` target tokens, and each seed's figures."""
    hf_bound = settings.loss_tokens // settings.batch_size + 1  # HF stops itself on tokens; a safe bound
    out = {}
    for name in CONTENDERS:
        per_seed = []
        for seed in settings.loss_seeds:
            seeded = replace(settings, seed=seed)
            if name == "xling":
                run = run_contender(
                    name, work, seeded, xling_steps_for_tokens(work, seeded, seeded.loss_tokens), 0
                )
            else:
                run = run_contender(name, work, seeded, hf_bound, 0, stop_after_tokens=settings.loss_tokens)
            figures = {
                "seed": seed,
                "train_loss": run.mean_last_loss(),
                "heldout_loss": round(heldout_loss(run.model, work), 4),
                "steps": run.steps,
                "tokens": sum(run.step_tokens),
                "padding_share": round(run.padding_share, 4),
                "seconds": round(run.timed_seconds, 1),
            }
            log(f"loss    {name:8s} seed {seed} train {figures['train_loss']} held-out {figures['heldout_loss']} "
                f"after {figures['tokens']} target tokens ({run.steps} steps, {run.timed_seconds:.0f} s)")  # fmt: skip
            per_seed.append(figures)
        medians = {key: median_of(f[key] for f in per_seed)
                   for key in ("train_loss", "heldout_loss", "tokens", "padding_share", "seconds")}  # fmt: skip
        out[name] = medians | {"per_seed": per_seed}
    return out


def median_loss_tokens(per_seed: list[dict[str, Any]]) -> int:
    """Return the target tokens after which the median held-out loss of `per_seed` was read: those of the
    median seed (the mean of the two middle ones' for an even count), not the median of the tokens, which
    may be another seed's."""
    ranked = sorted(per_seed, key=lambda figures: figures["heldout_loss"])
    middle = ranked[(len(ranked) - 1) // 2 : len(ranked) // 2 + 1]
    return round(statistics.mean(figures["tokens"] for figures in middle))


def tokens_to_match(work: Workload, settings: BenchSettings, target: float) -> dict[str, Any]:
    """Return the target tokens xling trains on before its held-out loss reaches `target` (the bf16 Trainer's
    median after `loss_tokens`) to stay, checked every `match_every` steps up to twice the tokens
    (`bench_common.tokens_to_reach`): the median over `loss_seeds` (None when the median seed is not there
    at the end), and each seed's run."""
    per_seed = []
    for seed in settings.loss_seeds:
        seeded = replace(settings, seed=seed)
        steps = xling_steps_for_tokens(work, seeded, 2 * settings.loss_tokens)
        reached = tokens_to_reach(
            lambda evaluations, every, seeded=seeded, steps=steps: run_xling(
                work, seeded, steps, 0, evaluations, every
            ),
            lambda model: heldout_loss(model, work), settings.match_every, target,
        )  # fmt: skip
        per_seed.append({"seed": seed, **reached})
    medians = {}
    for key in ("tokens", "crossing_tokens"):
        median = statistics.median(math.inf if m[key] is None else m[key] for m in per_seed)
        medians[key] = None if math.isinf(median) else int(median)
    return {"target": target, **medians, "per_seed": per_seed}


# --- report -------------------------------------------------------------------------------------------


def build_report(settings: BenchSettings, work: Workload, rounds, losses, match) -> dict[str, Any]:
    """Return the JSON report: medians, ratios, padding, losses, config and raw per-round figures."""
    import transformers

    from xling.training.loop import bf16_supported

    speed = {name: statistics.median(r[name]["tokens_per_s"] for r in rounds) for name in CONTENDERS}
    padding = {name: statistics.median(r[name]["padding_share"] for r in rounds) for name in CONTENDERS}
    config = asdict(settings) | {
        "vocab_size_actual": len(work.tokenizer),
        "training_pairs": len(work.examples),
        "directions": work.data.counts(),
        "dev_pairs_actual": len(work.dev_examples),
        "parameters": sum(v.numel() for k, v in work.init_state.items() if "embed_positions" not in k),
        "xling_precision": "bf16" if bf16_supported(torch.device("cpu")) else "fp32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu_cores": usable_cores(),
    }
    return {
        "tokens_per_s": {name: round(x, 1) for name, x in speed.items()},
        "ratio_vs_hf": round(speed["xling"] / speed["hf"], 3) if speed["hf"] else None,
        "ratio_vs_hf_bf16": round(speed["xling"] / speed["hf_bf16"], 3) if speed["hf_bf16"] else None,
        "padding_share": {name: round(x, 4) for name, x in padding.items()},
        "train_loss": {name: losses[name]["train_loss"] for name in losses},
        "heldout_loss": {name: losses[name]["heldout_loss"] for name in losses},
        "loss_detail": losses,
        **equal_loss_figures(
            match, median_loss_tokens(losses["hf_bf16"]["per_seed"]), speed["xling"], speed["hf_bf16"]
        ),  # fmt: skip
        "equal": [
            "model and initial weights",
            "pairs and their token sequences",
            "pairs per step",
            "AdamW lr/betas/eps/weight decay",
            "clipping 1.0",
            "linear warm-up then constant",
            "label smoothing 0.1",
            "dropout 0.1",
        ],  # fmt: skip
        "not_equal": [
            "batch composition: xling draws length_groups length bands per step, the Trainer uniform random pairs",
            "padding (see padding_share)",
            "precision of xling: auto",
            f"dropout masks: xling {'xling.training.dropout' if settings.cpu_dropout else 'torch'}, the Trainers torch",
            f"attention kernels: xling {settings.attention} (auto: eager on a CPU), the Trainers "
            f"{settings.trainer_attention or 'transformers default (sdpa)'}",
            "the Trainer's warm-up starts at lr 0, xling's at lr/warmup",
        ],  # fmt: skip
        "config": config,
        "rounds": rounds,
    }


def print_table(report: dict[str, Any]) -> None:
    """Print the comparison as a rich table."""
    from rich.table import Table

    config = report["config"]
    precision = {"xling": config["xling_precision"] + " (auto)", "hf": "fp32", "hf_bf16": "bf16"}
    label = {"xling": "xling mt train", "hf": "Seq2SeqTrainer", "hf_bf16": "Seq2SeqTrainer bf16"}
    speed = report["tokens_per_s"]
    title = (
        f"MT training: M2M-100 {config['model']} ({config['parameters'] / 1e6:.1f}M), "
        f"{'<->'.join(config['languages'])}, {config['batch_size']} pairs a step, "
        f"{config['steps']} timed steps x {config['rounds']}, {config['threads']} threads"
    )
    table = Table(title=title)
    columns = ("contender", "precision", "target tokens/s", "per round", "vs Trainer bf16", "padding",
               f"train loss @{config['loss_tokens']:,}", "held-out loss")  # fmt: skip
    for column in columns:
        left = column in ("contender", "precision")
        table.add_column(column, justify="left" if left else "right", no_wrap=left)
    for name in CONTENDERS:
        per_round = ", ".join(f"{r[name]['tokens_per_s']:,.0f}" for r in report["rounds"])
        ratio = speed[name] / speed["hf_bf16"] if speed["hf_bf16"] else math.nan
        train_loss = report["train_loss"][name]
        table.add_row(label[name], precision[name], f"{speed[name]:,.0f}", per_round, f"{ratio:.2f}x",
                      f"{report['padding_share'][name]:.0%}", "n/a" if train_loss is None else f"{train_loss:.3f}",
                      f"{report['heldout_loss'][name]:.3f}")  # fmt: skip
    print_wide(table, 130)
    print_equal_loss(report, "target tokens")


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
    log(f"workload ready in {time.perf_counter() - started:.1f} s: {len(work.examples)} training pairs, "
        f"{len(work.dev_examples)} dev pairs, vocab {len(work.tokenizer)}, {settings.threads} threads")  # fmt: skip
    rounds = timed_rounds(settings)
    losses = loss_at_tokens(work, settings)
    match = tokens_to_match(work, settings, losses["hf_bf16"]["heldout_loss"])
    report = build_report(settings, work, rounds, losses, match)
    report["config"]["seconds"] = round(time.perf_counter() - started, 1)
    print_table(report)
    write_json(report, json_path)
    return report


if __name__ == "__main__":
    main()
