"""The one training loop of xling: pretraining, alignment, transfer and translation all run through `train`.

Read it top to bottom: set up (process group, seed, optimizer, schedule), maybe resume, then for each step
draw micro-batches, forward under autocast, backward, clip, step, log, checkpoint.

What a caller brings:
- an `objective`: an nn.Module whose forward(batch) returns {"loss": scalar, "tokens": count} (it holds the
  model, as sentence-transformers' loss modules do, so DDP wraps one module and sees every forward), and
  "items" when its loss is a mean over a varying number of things (masked or target tokens): micro-batches
  and processes are then weighed by them, so accumulated steps equal one big batch;
- a `batches` source: `batches.get(step, micro, rank, world_size)` returns a dict of tensors. It must be a
  pure function of its arguments (and its seed), which is what makes resume exact: the data position of a
  run is its step number. At each checkpoint the loop draws the first batch and the next one once more, to
  keep a hash of the data that a resume compares (xling.training.resume);
- optionally the `data_files` the batches are made from, whose contents a checkpoint keeps a hash of too.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from xling.atomic import atomic_write, is_staging_name, same_path, shown_names
from xling.config import config_to_dict
from xling.devices import check_device
from xling.errors import ConfigError, XlingError
from xling.training.checkpoint import (
    BEST_DIR,
    CHECKPOINT_DIR,
    RETIRED_SUFFIX,
    STAGED_SUFFIX,
    UnreadableCheckpointError,
    list_checkpoints,
    load_newest_checkpoint,
    read_trainer_state,
    recover_interrupted_writes,
    restore_best,
    rng_states,
    save_best,
    save_checkpoint,
    set_rng_states,
)
from xling.training.distributed import DistInfo, all_reduce_max, all_reduce_sum, barrier, init_distributed
from xling.training.evaluations import BestTracker, Evaluation, broadcast_metrics, run_evaluations
from xling.training.memory import keep_freed_memory
from xling.training.optim import LazyAdamW, clip_grad_norm, has_sparse_parameters
from xling.training.progress import TrainingProgress
from xling.training.resume import (
    BEST_FIELDS,
    batch_signature,
    best_not_chosen,
    check_resume_config,
    check_same_batches,
    check_same_data,
    check_same_world_size,
    data_fingerprint,
    resumable_fields,
)

LOG_FILE = "train_log.jsonl"
# best/ as a kill during its write may leave it: renamed aside, or its successor half written
RUN_ENTRIES = (CHECKPOINT_DIR, BEST_DIR, BEST_DIR + RETIRED_SUFFIX, BEST_DIR + STAGED_SUFFIX, LOG_FILE)
"""What `train` writes into a run folder besides the caller's model: a folder holding only these is a run."""
logger = logging.getLogger(__name__)


def entries_besides_the_run(folder: Path, *kept: str | Path) -> list[str]:
    """Return the sorted names in `folder` that are neither the loop's own entries (RUN_ENTRIES) nor one of
    `kept` (e.g. the run's tokenizer folder, which the recipes keep inside it): someone else's files."""
    kept_paths = [Path(path).expanduser() for path in kept if path]
    # xling's own staging left by a killed save (`.tokenizer.25141.tmp`: the retry, another process, never
    # cleans it) is no one's files
    return sorted(entry.name for entry in folder.iterdir() if entry.name not in RUN_ENTRIES
                  and not is_staging_name(entry.name)
                  and not any(same_path(entry, path) for path in kept_paths))  # fmt: skip


def unfinished_run(folder: Path) -> bool:
    """Return whether `folder` holds only what a run killed before it saved anything leaves: the loop's own
    entries (a train_log.jsonl, a best/, checkpoints) and xling's staging names, and at least one of them."""
    return folder.is_dir() and any(folder.iterdir()) and not entries_besides_the_run(folder)


@dataclass
class TrainingConfig:
    """Optimisation and bookkeeping settings shared by every xling training command (`[<verb>.training]`)."""

    max_steps: int = 1000
    """Optimizer steps of the whole run; a resumed run ends at the same step as an uninterrupted one."""
    batch_size: int = 32
    """Examples (sentences, pairs) per micro-batch on each process."""
    grad_accum: int = 1
    """Micro-batches per optimizer step; the batch of one step is batch_size x grad_accum x the number of
    processes. N micro-batches of b equal one batch of N x b: an objective whose loss is a mean over items
    whose number varies (masked or target tokens) reports it as `items`, and the step's gradient is then the
    mean over all items of all micro-batches and processes; other losses are averaged over micro-batches."""
    lr: float = 5e-4
    """Peak learning rate, reached at the end of the warm-up."""
    weight_decay: float = 0.01
    """AdamW's decoupled weight decay; matrices only (biases, norms and other 1-d parameters get none)."""
    adam_betas: tuple[float, float] = (0.9, 0.98)
    """AdamW's decay rates of the first and second moment estimates."""
    adam_eps: float = 1e-6
    """AdamW's epsilon, added to the root of the second moment."""
    warmup_steps: int = 100
    """Steps of linear warm-up: step s (from 0) runs at lr x (s + 1) / warmup_steps."""
    schedule: str = "linear"
    """After the warm-up: "linear" or "cosine" decay to lr x min_lr_ratio at max_steps, or "constant"."""
    min_lr_ratio: float = 0.0
    """Where the decay ends, as a share of lr."""
    clip_norm: float = 1.0
    """Scale the gradients (dense and sparse together) to at most this global norm; 0 = no clipping."""
    precision: str = "auto"
    """Number format of the forward pass: "bf16" (autocast), "fp32", or "auto" (bf16 where the device runs it
    natively: recent GPUs, CPUs with AVX512-BF16 or AMX)."""
    device: str = "auto"
    """Where to train: "auto" (a GPU when there is one), "cpu" or "cuda" (under torchrun each process takes
    its LOCAL_RANK GPU)."""
    seed: int = 0
    """Seeds the weights' initialisation, each step's dropout and (through the batch source) the data."""
    threads: int = 0
    """CPU threads of torch; 0 = torch's default (all cores)."""
    keep_freed_memory: bool = True
    """On a CPU, have glibc keep freed memory for reuse (`xling.training.memory`): steps ~10-20% faster, the
    process holding its peak memory until it ends. False: the allocator's own behaviour."""
    log_every: int = 10
    """Write a line of train_log.jsonl (loss, lr, tokens/s) every N steps, and at the last step."""
    checkpoint_every: int = 200
    """Save a resumable checkpoint (weights, optimizer, RNG, data position) every N steps and at the end."""
    keep_checkpoints: int = 2
    """How many of the newest checkpoints to keep (0 = all); with two, --resume falls back to the older one
    when the newest is damaged."""
    eval_every: int = 0
    """Run the evaluations every N steps and at the last step, whatever log_every is; 0 = never."""
    best_metric: str = ""
    """An evaluation metric as it is logged (`<evaluation>_<metric>`, e.g. dev_retrieval): the weights with
    its best value so far are kept in <run>/best (TrainResult.best says where and when). "" = none. It (and
    best_mode) may change on --resume while no evaluation has counted for the best yet."""
    best_mode: str = "max"
    """Whether a higher ("max", e.g. accuracy, BLEU) or lower ("min", e.g. a dev loss) best_metric is better."""
    early_stopping_patience: int = 0
    """Stop after this many evaluations in a row that do not improve best_metric; 0 = never stop early."""
    max_minutes: float = 0.0
    """Stop (with a checkpoint) after this many minutes; `--resume` then finishes the run. 0 = no limit."""
    resume_on_changed_data: bool = False
    """Let --resume go on when the batches differ from those the checkpoint's run drew (its corpora, or how
    xling selects them, changed) or it runs on another number of processes: the run then continues on the
    new data and no longer matches an uninterrupted one. Off: such a resume is refused, naming the
    checkpoint."""
    progress: bool | None = None
    """Show progress on stderr: a bar on a terminal, a plain line every few seconds otherwise. None (not
    set): off in library calls, on from the command line."""

    def validate(self) -> None:
        if self.schedule not in ("linear", "cosine", "constant"):
            raise ConfigError(f"training.schedule: {self.schedule!r} must be linear, cosine or constant")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"training.precision: {self.precision!r} must be auto, fp32 or bf16")
        if self.best_mode not in ("max", "min"):
            raise ConfigError(f"training.best_mode: {self.best_mode!r} must be max (higher is better) or min")
        check_device(self.device, "training.device")
        for name in ("max_steps", "batch_size", "grad_accum", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("eval_every", "early_stopping_patience", "keep_checkpoints", "warmup_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"training.{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("lr", "adam_eps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"training.{name} must be above 0, got {getattr(self, name)}")
        for name in ("weight_decay", "clip_norm", "max_minutes", "min_lr_ratio", "threads"):
            if not getattr(self, name) >= 0:  # `not >=` also refuses NaN
                raise ConfigError(f"training.{name} must be 0 or more, got {getattr(self, name)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            # each step seeds torch with seed * 1,000,003 + ...: a larger seed overflowed at the first step
            raise ConfigError(f"training.seed must be a whole number in [0, 2**32), got {self.seed!r}")
        if self.min_lr_ratio > 1:  # the "decay" would raise the learning rate
            raise ConfigError(f"training.min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if not all(0 <= beta < 1 for beta in self.adam_betas) or len(self.adam_betas) != 2:
            raise ConfigError(f"training.adam_betas: two values in [0, 1), got {list(self.adam_betas)}")
        if self.early_stopping_patience and not self.best_metric:
            raise ConfigError(
                "training.early_stopping_patience: needs training.best_metric (the metric to watch)"
            )


class BatchSource(Protocol):
    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainResult:
    """What a finished (or time-boxed, or early-stopped) run did, as seen from this process."""

    steps: int
    final_loss: float
    tokens: int
    seconds: float
    tokens_per_s: float
    resumed_from: int = 0
    """The step the run resumed at (0 for a fresh run)."""
    world_size: int = 1
    rank: int = 0
    """This process's rank: 0 is the one that writes files and prints."""
    rank_fingerprints: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    """The latest evaluation's metrics (`<evaluation>_<metric>`), empty if none ran."""
    best: dict[str, Any] | None = None
    """With training.best_metric: {"metric", "value", "step", "path"} of the best evaluation so far."""
    stopped_early: bool = False
    stopped_for_time: bool = False
    """The run reached training.max_minutes before max_steps: `--resume` finishes it."""
    run_id: str = ""
    """Names the run across its resumes (a fresh run draws a new one; its checkpoints keep it): tells a model
    saved by one run from another run's checkpoint at the same step."""

    @property
    def is_main(self) -> bool:
        """Return whether this is the main process (rank 0), the one that saves and prints."""
        return self.rank == 0

    def to_dict(self) -> dict[str, Any]:
        """Return the figures of the run as JSON-able data (for xling.json and --json; no per-step history)."""
        return {
            "steps": self.steps,
            "final_loss": self.final_loss,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 1),
            "tokens_per_s": round(self.tokens_per_s, 1),
            "resumed_from": self.resumed_from,
            "world_size": self.world_size,
            "rank_fingerprints": self.rank_fingerprints,
            "best": self.best,
            "stopped_early": self.stopped_early,
            "stopped_for_time": self.stopped_for_time,
            "run_id": self.run_id,
        }


def bf16_supported(device: torch.device) -> bool:
    """Return whether bf16 autocast runs natively here (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def learning_rate_factor(step: int, config: TrainingConfig) -> float:
    """Return the multiplier of the peak learning rate at `step`: linear warm-up, then the chosen decay."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return 1.0
    progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, progress)
    decay = 0.5 * (1 + math.cos(math.pi * progress)) if config.schedule == "cosine" else 1.0 - progress
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * decay


def build_optimizer(model: nn.Module, config: TrainingConfig) -> torch.optim.Optimizer:
    """Return AdamW with weight decay on matrices only (not on biases, norms or 1-d parameters).

    A model with sparse embeddings (a static sentence encoder) gets LazyAdamW, which updates only the
    rows a batch touched. Dense models on a CPU or CUDA get torch's fused kernel, the one transformers'
    Trainer defaults to: 7 against 22 ms a step for the 9.9M parameters of the `small` translation preset
    on 2 CPU threads, the same update up to rounding.
    """
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if param.requires_grad:
            (decay if param.ndim >= 2 else no_decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if has_sparse_parameters(model):
        return LazyAdamW(groups, lr=config.lr, betas=config.adam_betas, eps=config.adam_eps)
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in decay + no_decay)
    return torch.optim.AdamW(
        groups, lr=config.lr, betas=config.adam_betas, eps=config.adam_eps, fused=fused or None
    )


def train(
    objective: nn.Module,
    batches: BatchSource,
    config: TrainingConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    restart: bool = False,
    evaluations: Mapping[str, Evaluation] | None = None,
    run_config: Mapping[str, Any] | None = None,
    may_change: Collection[str] = (),
    run_defaults: Mapping[str, Any] | None = None,
    description: str = "training",
    data_files: Sequence[str | Path] = (),
    metric_names: Collection[str] | None = None,
    recorded_form: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> TrainResult:
    """Return the result of training `objective` on `batches` for `config.max_steps` optimizer steps.

    Checkpoints go to `run_dir/checkpoints` every `checkpoint_every` steps and at the end; the JSONL log to
    `run_dir/train_log.jsonl`. With `resume`, the newest checkpoint that loads is taken up and the run
    continues so that it ends where an uninterrupted run would. Without it, an earlier run's checkpoints there
    are refused, or with `restart` (the caller's --overwrite) deleted with its log and best weights, and a new
    run starts (the model files in `run_dir` stay until the caller saves over them). `evaluations` run every
    `eval_every` steps and at the last one; with `best_metric` the best weights are kept in `run_dir/best`.

    `run_config` is the caller's whole config as JSON-able data (its training section under "training";
    default: the training section only). Checkpoints keep it, and a resumed run whose config differs in a
    field other than the training bookkeeping ones (`xling.training.resume`) or `may_change` (dotted keys)
    is refused with a ConfigError naming the fields; `recorded_form` puts a checkpoint's recorded config in
    the form `run_config` is given in (adapt resolves paths and language codes), so that a run recorded in
    another form compares as the settings it means. `run_defaults` (the defaults of the caller's config
    class, as data) stand in for fields a checkpoint's config lacks: fields added since the run started.
    `data_files` (the files the batches are read from) are fingerprinted, and a resume whose files have
    other contents is refused as one that draws other batches is. `metric_names` (`<evaluation>_<metric>`),
    when the caller knows what its evaluations report, let a best_metric that is none of them be refused
    before the first step; without them it is found at the first evaluation.
    """
    config.validate()
    _check_best_metric(config, evaluations, metric_names)
    run_dir = Path(run_dir)
    dist_info = init_distributed(config.device)
    if dist_info.is_main and run_dir.is_dir():
        recover_interrupted_writes(run_dir)
    barrier()  # no process looks for checkpoints while one is renamed back
    # once, before the first step: a file edited during the run does not change what it read at its start
    fingerprint = data_fingerprint(data_files) if data_files else None
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if config.keep_freed_memory and dist_info.device.type == "cpu":
        keep_freed_memory()
    torch.manual_seed(config.seed)
    objective.to(dist_info.device)
    optimizer = build_optimizer(objective, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate_factor(s, config))
    # as JSON data, the form a checkpoint keeps it in (tuples become lists)
    saved_config = json.loads(json.dumps(run_config or {"training": config_to_dict(config)}, default=str))
    best = BestTracker(config.best_metric, config.best_mode) if config.best_metric else None

    start_step, tokens_seen, last_loss = 0, 0, float("nan")
    defaults = json.loads(json.dumps(run_defaults, default=str)) if run_defaults else None
    if restart and not resume:
        _clear_earlier_run(run_dir, dist_info.is_main, description, saved_config)
    resumed = _resume(run_dir, resume, objective, optimizer, scheduler, saved_config, may_change, defaults,
                      batches, config.resume_on_changed_data, dist_info.world_size, fingerprint,
                      recorded_form)  # fmt: skip
    checkpoint, state = resumed if resumed is not None else (None, None)
    if state is not None:
        start_step, tokens_seen, last_loss = state["step"], state["tokens"], state.get("loss", float("nan"))
        if best is not None:
            best.restore(state.get("best"))
        # the optimizer comes back with the rate its run set for the next step: a resume that changes the
        # schedule (max_steps raised) must take that step at the new schedule's rate, as a run started so would
        for group, base in zip(optimizer.param_groups, scheduler.base_lrs, strict=True):
            group["lr"] = base * learning_rate_factor(start_step, config)
        scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]  # what get_last_lr reports
    if dist_info.distributed:
        # each process chose its checkpoint itself: one that could not read the newest (node-local disks, a
        # stale NFS listing) would start from another step, and the processes' collectives stop lining up
        steps = all_reduce_max(torch.tensor([start_step, -start_step], device=dist_info.device))
        if int(steps[0]) != -int(steps[1]):
            raise XlingError(f"{run_dir}: the processes resume from different steps ({-int(steps[1])} to "
                             f"{int(steps[0])}; this one {start_step}): every process must see the run's checkpoints "
                             "(a shared output folder)")  # fmt: skip
    start_tokens = tokens_seen
    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run_dir / LOG_FILE, start_step)
        if best is not None:  # best/ written after the checkpoint (or by a run killed before its first one)
            restore_best(run_dir, checkpoint, best.state())
    barrier()  # best/ is as the tracker says before any process reads it

    model: nn.Module = objective
    if dist_info.distributed:
        ids = [dist_info.local_rank] if dist_info.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(objective, device_ids=ids)

    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_supported(dist_info.device))
    autocast = torch.autocast(dist_info.device.type, dtype=torch.bfloat16, enabled=use_bf16)
    # only the main process writes checkpoints and models, so the other processes' own draws never show
    run_id = (state or {}).get("run_id") or uuid.uuid4().hex[:16]
    result = TrainResult(start_step, last_loss, tokens_seen, 0.0, 0.0, resumed_from=start_step,
                         world_size=dist_info.world_size, rank=dist_info.rank, run_id=run_id)  # fmt: skip
    stop = _patience_spent(best, config)  # a run that stopped early stays stopped (unless patience grew)
    progress = TrainingProgress(
        description, config.max_steps, start_step, enabled=bool(config.progress) and dist_info.is_main
    )
    started = time.perf_counter()
    window_tokens, window_start = 0, started
    step = start_step
    model.train()
    with progress:
        while step < config.max_steps and not stop:
            loss, tokens, lr = _train_step(model, objective, batches, optimizer, scheduler, config, dist_info,
                                           autocast, step)  # fmt: skip
            step += 1
            tokens_seen += tokens
            window_tokens += tokens
            result.final_loss, result.steps, result.tokens = loss, step, tokens_seen
            now = time.perf_counter()
            progress.update(step, loss, window_tokens / max(now - window_start, 1e-9))
            out_of_time = config.max_minutes > 0 and (now - started) > config.max_minutes * 60
            if config.max_minutes > 0 and dist_info.distributed:
                # each rank reads its own clock: all stop at one step, or the next step's all-reduce hangs
                flag = torch.tensor([float(out_of_time)], device=dist_info.device)
                out_of_time = bool(all_reduce_sum(flag).item() > 0)
            last = step == config.max_steps or out_of_time

            metrics: dict[str, float] = {}
            scheduled = (
                step % config.eval_every == 0 or step == config.max_steps if config.eval_every else False
            )
            if evaluations and config.eval_every and (scheduled or last):
                # every process scores (so none waits in a collective for the length of an evaluation,
                # which NCCL's watchdog would time out), and rank 0's metrics decide for all
                metrics = broadcast_metrics(run_evaluations(evaluations, objective, step))
                result.metrics = metrics
                # a stop for time also reports its metrics, but only the scheduled evaluations choose the
                # best checkpoint and count patience: a resumed run then chooses as an uninterrupted one
                if best is not None and scheduled:
                    _update_best(best, metrics, step, run_dir, objective, dist_info)
                    stop = _patience_spent(best, config)

            if step % config.log_every == 0 or last or metrics:
                entry = {
                    "step": step,
                    "loss": round(loss, 6),
                    "lr": lr,
                    "tokens": tokens_seen,
                    "tokens_per_s": round(window_tokens / max(now - window_start, 1e-9), 1),
                    "elapsed_s": round(now - started, 2),
                    **metrics,
                }
                result.history.append(entry)
                if dist_info.is_main:
                    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
                        log.write(json.dumps(entry) + "\n")
                window_tokens, window_start = 0, time.perf_counter()

            if step % config.checkpoint_every == 0 or last or stop:
                if dist_info.is_main:
                    trainer_state = {
                        "tokens": tokens_seen, "loss": loss, "data_position": {"step": step}, "run_id": run_id,
                        "world_size": dist_info.world_size, "config": saved_config, "command": description,
                        "batches": _kept_rng(batch_signature, batches.get, step),
                        **({"data_files": fingerprint} if fingerprint is not None else {}),
                        **({"best": best.state()} if best is not None else {}),
                    }  # fmt: skip
                    save_checkpoint(run_dir, step, objective, optimizer, scheduler, trainer_state,
                                    keep=config.keep_checkpoints, every=config.checkpoint_every,
                                    end=config.max_steps)  # fmt: skip
                barrier()
            if out_of_time and step < config.max_steps:
                result.stopped_for_time = True
                logger.warning("%s: stopped after %g minutes (training.max_minutes) at step %d of %d, with a "
                               "checkpoint; run again with --resume to finish", description, config.max_minutes,
                               step, config.max_steps)  # fmt: skip
                break

    result.seconds = time.perf_counter() - started
    result.tokens_per_s = (result.tokens - start_tokens) / max(result.seconds, 1e-9)
    result.stopped_early = stop
    if best is not None and best.step is not None:
        result.best = {"metric": best.metric, "value": best.value, "step": best.step,
                       "path": str(run_dir / BEST_DIR)}  # fmt: skip
    result.rank_fingerprints = _rank_fingerprints(objective)
    if len(set(result.rank_fingerprints)) > 1:
        raise XlingError(f"DDP ranks diverged: parameter fingerprints {result.rank_fingerprints}")
    return result


def _resume(
    run_dir: Path,
    resume: bool,
    objective: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    saved_config: dict[str, Any],
    may_change: Collection[str],
    defaults: dict[str, Any] | None,
    batches: BatchSource,
    allow_changed_data: bool,
    world_size: int,
    fingerprint: dict[str, str] | None,
    recorded_form: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> tuple[Path, dict[str, Any]] | None:
    """Return (folder, trainer state) of the checkpoint a resumed run continues from (None: a fresh run).

    Loads weights, optimizer, scheduler and RNG states; refuses a fresh run over another run's checkpoints,
    and (unless `allow_changed_data`) a resume whose data files (`fingerprint`, when the caller names them)
    or batches differ from the checkpoint's run.
    """
    found = list_checkpoints(run_dir)
    if not found:
        if resume:  # a job script that always says --resume starts the run this way, so not an error
            logger.warning("--resume: no checkpoint in %s; starting a new run there", run_dir)
        return None
    if not resume:
        # never prune or overwrite another run's checkpoints by accident
        raise XlingError(f"{run_dir} holds checkpoints of an earlier run ({found[-1].name}); "
                         "pass --resume to continue it, or choose another output folder")  # fmt: skip
    allowed = resumable_fields(*may_change)

    def same_config(folder: Path, state: dict[str, Any]) -> None:
        if "config" in state:  # checkpoints written before configs were kept have none
            changeable = allowed | BEST_FIELDS if best_not_chosen(state) else allowed
            recorded = recorded_form(state["config"]) if recorded_form is not None else state["config"]
            check_resume_config(recorded, saved_config, changeable, str(folder), defaults)
        if fingerprint is not None and not check_same_data(state.get("data_files"), fingerprint, str(folder),
                                                           allow_changed_data):  # fmt: skip
            logger.warning("%s: the training data files changed since the run started "
                           "(training.resume_on_changed_data): going on with the data as it is now", folder)  # fmt: skip
        if not check_same_batches(state.get("batches"), batches.get, str(folder), allow_changed_data):
            logger.warning("%s: the batches differ from those the run drew (training.resume_on_changed_data): "
                           "going on with the data as it is now", folder)  # fmt: skip
        if not check_same_world_size(state.get("world_size"), world_size, str(folder), allow_changed_data):
            logger.warning("%s: the run trained on %s process(es), this one has %d "
                           "(training.resume_on_changed_data): going on", folder, state["world_size"], world_size)  # fmt: skip

    loaded = load_newest_checkpoint(run_dir, objective, optimizer, scheduler, check=same_config)
    if loaded is None:  # the checkpoints went away in the meantime
        return None
    folder, state = loaded
    set_rng_states(state["rng"])
    logger.info("resuming %s from %s (step %d)", run_dir, folder.name, state["step"])
    return folder, state


def _clear_earlier_run(run_dir: Path, is_main: bool, command: str, run_config: Mapping[str, Any]) -> None:
    """Return nothing once the checkpoints, log and best weights of an earlier run of the same `command` in
    `run_dir` are gone (deleted by the main process; every process waits for it). Another command's run
    (by the command its checkpoints record, or for older ones by their config's fields) is an XlingError:
    replacing one's own run must never delete a pretraining run that a tagger was pointed at."""
    found = list_checkpoints(run_dir)
    if found:
        state = _newest_readable_state(found)
        recorded = state.get("command")
        fields = sorted(state.get("config") or {})
        other = recorded != command if recorded is not None else bool(fields) and fields != sorted(run_config)
        if other:
            made_by = f"`{recorded}`" if recorded is not None else "another command"
            raise XlingError(f"{run_dir} holds the checkpoints of a run of {made_by}, not of `{command}`; "
                             "--overwrite replaces only a run of this command: choose another output folder")  # fmt: skip
    # outside `if found`: on node-local disks another process may find none, and must meet the same barriers
    barrier()  # every process has read the state before the main one deletes it
    if found and is_main:
        logger.warning("%s: starting a new run: the earlier run's checkpoints, log and best weights are "
                       "deleted (its model files stay until the new model is saved)", run_dir)  # fmt: skip
        for entry in (run_dir / name for name in RUN_ENTRIES):
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink(missing_ok=True)
    barrier()  # no process looks for checkpoints before they are gone


def _newest_readable_state(found: list[Path]) -> dict[str, Any]:
    """Return the trainer state of the newest checkpoint in `found` that reads ({} when none does): a damaged
    newest one must not keep --overwrite from replacing the run, as it does not keep --resume from it."""
    for checkpoint in reversed(found):
        try:
            return read_trainer_state(checkpoint)
        except UnreadableCheckpointError:
            logger.warning("%s: unreadable; the run is judged by an older checkpoint", checkpoint)
    return {}


def _kept_rng(function: Any, *args: Any) -> Any:
    """Return function(*args), with the global RNG states as they were (a checkpoint saves them after)."""
    states = rng_states()
    try:
        return function(*args)
    finally:
        set_rng_states(states)


def _train_step(
    model: nn.Module,
    objective: nn.Module,
    batches: BatchSource,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainingConfig,
    dist_info: DistInfo,
    autocast: torch.autocast,
    step: int,
) -> tuple[float, int, float]:
    """Return (the step's mean loss, tokens of all processes, the learning rate it took) of one optimizer step.

    The mean is over all items of all micro-batches and processes when the objective reports items, else
    over micro-batches and processes.
    """
    # Seed per step (and rank) so dropout draws do not depend on where a run was resumed.
    torch.manual_seed(config.seed * 1_000_003 + step * 1009 + dist_info.rank)
    loss_sum = torch.zeros((), device=dist_info.device)
    step_tokens = torch.zeros((), device=dist_info.device, dtype=torch.long)
    item_sum = torch.zeros((), device=dist_info.device)
    weighted = config.grad_accum > 1 or dist_info.distributed  # one batch on one process: its mean is exact
    reported = False  # the objective reports items (the same objective, so the same on every process)
    for micro in range(config.grad_accum):
        batch = batches.get(step, micro, dist_info.rank, dist_info.world_size)
        batch = {k: v.to(dist_info.device, non_blocking=True) for k, v in batch.items()}
        last = micro == config.grad_accum - 1
        sync = model.no_sync() if dist_info.distributed and not last else nullcontext()
        with sync:
            with autocast:
                out = model(batch)
            items = out.get("items") if weighted else None
            if items is not None:
                reported = True
                # the loss summed over this micro-batch's items; divided by all items of the step below
                (out["loss"] * items).backward()
                counted = items.detach().float()
                item_sum += counted
                # a micro-batch with no items may report a NaN mean: it adds nothing to the logged loss
                loss_sum += torch.where(counted > 0, out["loss"].detach().float() * counted, 0.0)
            else:
                # divided by grad_accum: the summed gradients are those of the mean loss over micro-batches
                (out["loss"] / config.grad_accum).backward()
                loss_sum += out["loss"].detach().float() / config.grad_accum
        step_tokens += out["tokens"].detach().long()
    if reported:
        # every process takes part in this all-reduce (one whose micro-batches hold no items too), or the
        # processes would pair it with the next one. The loss summed over items and the items of all
        # processes give the mean over all items of the step: a mean of each process's means would weigh
        # a process with few items as much as one with many
        totals = all_reduce_sum(torch.stack([loss_sum, step_tokens.float(), item_sum]))
        if totals[2] > 0:
            _divide_gradients(objective, totals[2] / dist_info.world_size)
        mean_loss = totals[0] / totals[2].clamp(min=1)
    else:
        totals = all_reduce_sum(torch.stack([loss_sum, step_tokens.float()]))
        mean_loss = totals[0] / dist_info.world_size
    if config.clip_norm > 0:
        clip_grad_norm(objective.parameters(), config.clip_norm)
    # read before scheduler.step(), which sets the next step's rate: the log names the rate this step took
    lr = optimizer.param_groups[0]["lr"]
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return mean_loss.item(), int(totals[1].item()), lr


def _divide_gradients(objective: nn.Module, divisor: torch.Tensor) -> None:
    """Return nothing; divide every gradient by `divisor` (DDP already averaged them over processes, so a
    divisor of the step's items over all processes / world size gives the mean over all items)."""
    for param in objective.parameters():
        if param.grad is not None:
            param.grad.div_(divisor)


def _check_best_metric(config: TrainingConfig, evaluations: Mapping[str, Evaluation] | None,
                       metric_names: Collection[str] | None = None) -> None:  # fmt: skip
    """Return nothing if training.best_metric has evaluations to watch; else raise a ConfigError saying which
    is missing: the schedule (eval_every), any evaluation (a caller's dev set that came out empty), or the
    metric among the `metric_names` the caller says its evaluations report (a mistyped name would otherwise
    end the run at its first evaluation, eval_every steps in)."""
    if not config.best_metric:
        return
    if not config.eval_every:
        raise ConfigError(f"training.best_metric ({config.best_metric}): needs evaluations, and "
                          "training.eval_every is 0 (never): set it to evaluate every N steps")  # fmt: skip
    if not evaluations:
        raise ConfigError(f"training.best_metric ({config.best_metric}): this run has no evaluation to watch: "
                          "its dev set is empty (e.g. dev_fraction=0, or no dev data given); give it a dev set, "
                          "or set training.best_metric to \"\" to keep the last weights")  # fmt: skip
    if metric_names is not None and config.best_metric not in metric_names:
        raise ConfigError(f"training.best_metric: {config.best_metric!r} is not among the evaluation metrics "
                          f"({shown_names(list(metric_names), limit=10) or 'none'})")  # fmt: skip


def _update_best(best: BestTracker, metrics: dict[str, float], step: int, run_dir: Path, objective: nn.Module,
                 dist_info: DistInfo) -> None:  # fmt: skip
    """Record an evaluation in `best`; when it improves, the main process writes the weights to run_dir/best."""
    if best.update(metrics, step) and dist_info.is_main:
        save_best(run_dir, step, objective, {"best": best.state(), "metrics": metrics})
    barrier()


def _patience_spent(best: BestTracker | None, config: TrainingConfig) -> bool:
    """Return whether early stopping is due: `early_stopping_patience` evaluations without improvement."""
    patience = config.early_stopping_patience
    return best is not None and patience > 0 and best.bad_evaluations >= patience


def _rank_fingerprints(model: nn.Module) -> list[float]:
    """Return one number per rank that summarises its parameters (equal on all ranks when in sync)."""
    with torch.no_grad():
        local = sum(float(p.double().sum()) + float(p.double().abs().sum()) for p in model.parameters())
    if not torch.distributed.is_initialized():
        return [local]
    gathered: list[float] = [0.0] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, local)
    return gathered


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past `step`, so a resumed run's log reads as one run."""
    if not path.exists():
        return
    if step == 0:
        path.unlink()
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short when the run was killed: the resumed run logs anew
            continue
        if isinstance(entry, dict) and isinstance(entry.get("step"), int) and entry["step"] <= step:
            kept.append(line)
    with atomic_write(path) as handle:
        handle.write("".join(line + "\n" for line in kept))
