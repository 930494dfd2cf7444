"""The one training loop of xling: pretraining, alignment, transfer and translation all run through `train`.

Read it top to bottom: set up (process group, seed, optimizer, schedule), maybe resume, then for each step
draw micro-batches, forward under autocast, backward, clip, step, log, checkpoint.

What a caller brings:
- an `objective`: an nn.Module whose forward(batch) returns {"loss": scalar, "tokens": count} (it holds the
  model, as sentence-transformers' loss modules do, so DDP wraps one module and sees every forward);
- a `batches` source: `batches.get(step, micro, rank, world_size)` returns a dict of tensors. It must be a
  pure function of its arguments (and its seed), which is what makes resume exact: the data position of a
  run is its step number.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from xling.errors import ConfigError, XlingError
from xling.training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, set_rng_states
from xling.training.distributed import all_reduce_sum, barrier, init_distributed
from xling.training.optim import LazyAdamW, clip_grad_norm, has_sparse_parameters

LOG_FILE = "train_log.jsonl"


@dataclass
class TrainingConfig:
    """Optimisation and bookkeeping settings shared by every xling training command."""

    max_steps: int = 1000
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 5e-4
    weight_decay: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.98)
    adam_eps: float = 1e-6
    warmup_steps: int = 100
    schedule: str = "linear"
    min_lr_ratio: float = 0.0
    clip_norm: float = 1.0
    precision: str = "auto"
    device: str = "auto"
    seed: int = 0
    threads: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    eval_every: int = 0
    max_minutes: float = 0.0
    progress: bool = True

    def validate(self) -> None:
        if self.schedule not in ("linear", "cosine", "constant"):
            raise ConfigError(f"training.schedule: {self.schedule!r} must be linear, cosine or constant")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"training.precision: {self.precision!r} must be auto, fp32 or bf16")
        for name in ("max_steps", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ConfigError(f"training.{name} must be at least 1, got {getattr(self, name)}")


class BatchSource(Protocol):
    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]: ...


@dataclass
class TrainResult:
    """What a finished (or time-boxed) run did."""

    steps: int
    final_loss: float
    tokens: int
    seconds: float
    tokens_per_s: float
    resumed_from: int = 0
    world_size: int = 1
    rank_fingerprints: list[float] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)


def bf16_supported(device: torch.device) -> bool:
    """Return whether bf16 autocast runs natively here (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
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
    rows a batch touched.
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
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.adam_betas, eps=config.adam_eps)


def train(
    objective: nn.Module,
    batches: BatchSource,
    config: TrainingConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    evaluate: Callable[[nn.Module, int], dict[str, float]] | None = None,
    description: str = "training",
) -> TrainResult:
    """Return the result of training `objective` on `batches` for `config.max_steps` optimizer steps.

    Checkpoints go to `run_dir/checkpoints` every `checkpoint_every` steps and at the end; the JSONL log to
    `run_dir/train_log.jsonl`. With `resume`, the newest checkpoint is loaded and the run continues so that
    it ends where an uninterrupted run would.
    """
    run_dir = Path(run_dir)
    dist_info = init_distributed(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    objective.to(dist_info.device)
    optimizer = build_optimizer(objective, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: learning_rate_factor(s, config))

    start_step, tokens_seen = 0, 0
    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is not None and not resume:
        # never prune or overwrite another run's checkpoints by accident
        raise XlingError(f"{run_dir} holds checkpoints of an earlier run ({checkpoint.name}); "
                         "pass --resume to continue it, or choose another output folder")  # fmt: skip
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, objective, optimizer, scheduler)
        set_rng_states(state["rng"])
        start_step, tokens_seen = state["step"], state["tokens"]
    start_tokens = tokens_seen
    if dist_info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _truncate_log(run_dir / LOG_FILE, start_step)

    model: nn.Module = objective
    if dist_info.distributed:
        ids = [dist_info.local_rank] if dist_info.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(objective, device_ids=ids)

    use_bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_supported(dist_info.device))
    autocast = torch.autocast(dist_info.device.type, dtype=torch.bfloat16, enabled=use_bf16)
    result = TrainResult(start_step, float("nan"), tokens_seen, 0.0, 0.0, resumed_from=start_step)
    progress = _Progress(
        description, config.max_steps, start_step, enabled=config.progress and dist_info.is_main
    )
    started = time.perf_counter()
    window_tokens, window_start = 0, started
    step = start_step
    model.train()
    with progress:
        while step < config.max_steps:
            # Seed per step (and rank) so dropout draws do not depend on where a run was resumed.
            torch.manual_seed(config.seed * 1_000_003 + step * 1009 + dist_info.rank)
            loss_sum = torch.zeros((), device=dist_info.device)
            step_tokens = torch.zeros((), device=dist_info.device, dtype=torch.long)
            for micro in range(config.grad_accum):
                batch = batches.get(step, micro, dist_info.rank, dist_info.world_size)
                batch = {k: v.to(dist_info.device, non_blocking=True) for k, v in batch.items()}
                last = micro == config.grad_accum - 1
                sync = model.no_sync() if dist_info.distributed and not last else nullcontext()
                with sync:
                    with autocast:
                        out = model(batch)
                    (out["loss"] / config.grad_accum).backward()
                loss_sum += out["loss"].detach().float()
                step_tokens += out["tokens"].detach().long()
            if config.clip_norm > 0:
                clip_grad_norm(objective.parameters(), config.clip_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1

            totals = all_reduce_sum(torch.stack([loss_sum / config.grad_accum, step_tokens.float()]))
            loss = totals[0].item() / dist_info.world_size
            tokens = int(totals[1].item())
            tokens_seen += tokens
            window_tokens += tokens
            result.final_loss, result.steps, result.tokens = loss, step, tokens_seen
            now = time.perf_counter()
            progress.update(step, loss, window_tokens / max(now - window_start, 1e-9))

            if step % config.log_every == 0 or step == config.max_steps:
                entry = {
                    "step": step,
                    "loss": round(loss, 6),
                    "lr": scheduler.get_last_lr()[0],
                    "tokens": tokens_seen,
                    "tokens_per_s": round(window_tokens / max(now - window_start, 1e-9), 1),
                    "elapsed_s": round(now - started, 2),
                }
                if evaluate is not None and config.eval_every and step % config.eval_every == 0:
                    entry.update(evaluate(objective, step))
                    model.train()
                result.history.append(entry)
                if dist_info.is_main:
                    with open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
                        log.write(json.dumps(entry) + "\n")
                window_tokens, window_start = 0, time.perf_counter()

            out_of_time = config.max_minutes > 0 and (now - started) > config.max_minutes * 60
            if step % config.checkpoint_every == 0 or step == config.max_steps or out_of_time:
                if dist_info.is_main:
                    save_checkpoint(
                        run_dir, step, objective, optimizer, scheduler,
                        {"tokens": tokens_seen, "data_position": {"step": step}, "world_size": dist_info.world_size},
                        keep=config.keep_checkpoints,
                    )  # fmt: skip
                barrier()
            if out_of_time:
                break

    result.seconds = time.perf_counter() - started
    result.tokens_per_s = (result.tokens - start_tokens) / max(result.seconds, 1e-9)
    result.world_size = dist_info.world_size
    result.rank_fingerprints = _rank_fingerprints(objective)
    if len(set(result.rank_fingerprints)) > 1:
        raise XlingError(f"DDP ranks diverged: parameter fingerprints {result.rank_fingerprints}")
    return result


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
    kept = [
        line for line in path.read_text(encoding="utf-8").splitlines() if json.loads(line)["step"] <= step
    ]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class _Progress:
    """A rich progress bar with loss, tokens/s and ETA (only on the main process)."""

    def __init__(self, description: str, total: int, completed: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.4f}"),
            TextColumn("{task.fields[tps]:,.0f} tok/s"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
        )
        self._task = self._progress.add_task(
            description, total=total, completed=completed, loss=float("nan"), tps=0.0
        )

    def __enter__(self) -> _Progress:
        if self.enabled:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.__exit__(*exc)

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        if self.enabled:
            self._progress.update(self._task, completed=step, loss=loss, tps=tokens_per_s)
