"""Unsupervised adversarial mapping (MUSE; Conneau, Lample, Ranzato, Denoyer & Jégou 2018, "Word
translation without parallel data").

A discriminator learns to tell mapped source vectors `x W` from target vectors `z`; the mapping `W` learns
to fool it and is pulled back towards the orthogonal matrices after every step. After each epoch the
unsupervised model-selection criterion (mean cosine of the CSLS translations of the 10k most frequent
source words) is measured and the best `W` kept. Procrustes refinement is the caller's next step
(`xling.alignment.words.procrustes.refine`), as in MUSE's `unsupervised.py`.

Written for CPUs: the discriminator is a few plain tensors trained with hand-written SGD (no optimiser or
module objects in the inner loop), the mapping step asks autograd for the gradient of `W` alone, and the
word ids of a whole block of iterations are drawn in one call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from xling.alignment.words.procrustes import unsupervised_criterion
from xling.errors import ConfigError, DataError

PRECISIONS = ("float32", "bfloat16")
# Iterations whose word ids are drawn at once: big enough to amortise the call, small enough to stay in cache.
_BLOCK = 512


@dataclass
class AdversarialConfig:
    """Settings of the adversarial mapping; the defaults are MUSE's published ones (`unsupervised.py`).

    Discriminator (`dis_*`): `dis_layers` 2 hidden layers of `dis_hid_dim` 2048 units, LeakyReLU with
    slope `dis_leaky_relu` 0.2, dropout `dis_input_dropout` 0.1 on its input and `dis_dropout` 0 between
    layers, one sigmoid output. It sees words drawn uniformly from the `dis_most_frequent` 75,000 most
    frequent of each side (0 = all), takes `dis_steps` 5 steps per mapping step, learns with label
    smoothing `dis_smooth` 0.1 (source labelled 1 - 0.1, target 0.1), plain SGD at `dis_lr` 0.1, no
    weight clipping (`dis_clip_weights` 0); `dis_lambda` 1 weighs the mapping's fooling loss.

    Mapping: `map_id_init` starts from the identity (else from a random orthogonal matrix); SGD at `map_lr` 0.1 on batches of `batch_size` 32
    words per side; after every step `W <- (1 + beta) W - beta (W W^T) W` with `map_beta` 0.001.
    Schedule: `epochs` 5 of `epoch_size` 1,000,000 words (31,250 iterations of batch 32); after each
    epoch the mapping's learning rate is multiplied by `lr_decay` 0.98 (not below `min_lr` 1e-6), and by
    `lr_shrink` 0.5 whenever the criterion falls below the best so far, from its second fall on, as
    MUSE does; training stops once the rate is below `min_lr`. The discriminator's rate stays fixed
    (MUSE decays the mapping optimiser only).
    Model selection: "mean_cosine-csls_knn_10-S2T-10000" (`csls_k` 10, `criterion_max_rank` 10,000)
    after every epoch; the best epoch's `W` is returned. `chunk_size` rows are scored at a time there.

    Not MUSE's: `seed`, `threads` (torch threads while training; None keeps torch's setting; on a
    machine whose cores are busy with other work, 1 can be several times faster than 2) and `precision`
    ("bfloat16" runs the discriminator's matrix products in bfloat16 under CPU autocast, about 1.4 times
    faster on a CPU with AVX-512 BF16; "float32", the default, is MUSE's arithmetic).

    Cost: an iteration is 5 discriminator steps and 1 mapping step, about 9.5 GFLOP at d=300 with the
    2048-unit discriminator, so MUSE's 5 x 31,250 iterations are hours on a CPU (about 1.5 h per epoch
    on one core); `dis_hid_dim` 512 makes them about ten times cheaper.
    """

    epochs: int = 5
    """Training epochs (at least 1); the best epoch by the criterion is kept."""

    epoch_size: int = 1_000_000
    """Words per side per epoch: epoch_size // batch_size iterations."""

    batch_size: int = 32
    """Words per side in each discriminator and mapping step."""

    dis_layers: int = 2
    """Hidden layers of the discriminator (0 = a linear one)."""

    dis_hid_dim: int = 2048
    """Units per hidden layer of the discriminator; 512 makes training about ten times cheaper."""

    dis_leaky_relu: float = 0.2
    """Negative slope of the discriminator's LeakyReLU."""

    dis_dropout: float = 0.0
    """Dropout between the discriminator's layers, in [0, 1)."""

    dis_input_dropout: float = 0.1
    """Dropout on the discriminator's input, in [0, 1)."""

    dis_steps: int = 5
    """Discriminator steps per mapping step (0 only with dis_lambda 0)."""

    dis_lambda: float = 1.0
    """Weight of the mapping's loss for fooling the discriminator."""

    dis_most_frequent: int = 75_000
    """The discriminator sees words drawn uniformly from this many most frequent of each side; 0 = all."""

    dis_smooth: float = 0.1
    """Label smoothing, in [0, 0.5): source words are labelled 1 - dis_smooth, target words dis_smooth."""

    dis_clip_weights: float = 0.0
    """Clip the discriminator's weights to [-this, this] after each step; 0 = no clipping."""

    dis_lr: float = 0.1
    """The discriminator's SGD learning rate (> 0); fixed for the whole run."""

    map_lr: float = 0.1
    """The mapping's initial SGD learning rate (> 0)."""

    map_id_init: bool = True
    """Start the mapping from the identity; false: from a random orthogonal matrix."""

    map_beta: float = 0.001
    """Orthogonalisation after every mapping step: W <- (1 + beta) W - beta (W W^T) W; 0 = none."""

    lr_decay: float = 0.98
    """The mapping's learning rate is multiplied by this after each epoch (not below min_lr), in (0, 1]."""

    min_lr: float = 1e-6
    """Floor of the decay; training stops once the mapping's rate is below it."""

    lr_shrink: float = 0.5
    """Extra factor on the mapping's rate when the criterion falls below the best, from its second fall on,
    in (0, 1]."""

    csls_k: int = 10
    """Neighbours of CSLS in the model-selection criterion."""

    criterion_max_rank: int = 10_000
    """Most frequent source words the criterion translates (MUSE's mean_cosine-...-S2T-10000)."""

    chunk_size: int = 2048
    """Rows scored at a time by the criterion (bounds memory)."""

    seed: int = 0
    """Seed of the discriminator's initialisation, the initial mapping (without map_id_init), the word draws
    and dropout (not MUSE's)."""

    threads: int | None = None
    """Torch threads while training; None keeps torch's setting (on busy cores 1 can beat 2)."""

    precision: str = "float32"
    """Arithmetic: "float32" (MUSE's) or "bfloat16" (the discriminator's matrix products under CPU
    autocast, about 1.4 times faster with AVX-512 BF16)."""

    def validate(self) -> None:
        """Raise ConfigError naming the first field that holds an impossible value."""
        positive = (
            "epochs",
            "epoch_size",
            "batch_size",
            "dis_hid_dim",
            "csls_k",
            "criterion_max_rank",
            "chunk_size",
        )
        for name in positive:
            _require(self, name, getattr(self, name) >= 1, "must be at least 1")
        _require(self, "dis_layers", self.dis_layers >= 0, "must be 0 or more")
        _require(self, "dis_steps", self.dis_steps >= 0, "must be 0 or more")
        _require(self, "dis_most_frequent", self.dis_most_frequent >= 0, "must be 0 (all words) or more")
        for name in ("dis_dropout", "dis_input_dropout"):
            _require(self, name, 0.0 <= getattr(self, name) < 1.0, "must be in [0, 1)")
        _require(self, "dis_smooth", 0.0 <= self.dis_smooth < 0.5, "must be in [0, 0.5)")
        for name in ("dis_lr", "map_lr"):
            _require(self, name, getattr(self, name) > 0, "must be greater than 0")
        for name in ("dis_lambda", "dis_clip_weights", "map_beta", "min_lr", "dis_leaky_relu"):
            _require(self, name, getattr(self, name) >= 0, "must be 0 or more")
        _require(self, "lr_decay", 0.0 < self.lr_decay <= 1.0, "must be in (0, 1]")
        _require(self, "lr_shrink", 0.0 < self.lr_shrink <= 1.0, "must be in (0, 1]")
        _require(self, "threads", self.threads is None or self.threads >= 1, "must be at least 1 (or None)")
        _require(self, "precision", self.precision in PRECISIONS, f"must be one of {', '.join(PRECISIONS)}")
        if self.dis_steps == 0 and self.dis_lambda > 0:
            raise ConfigError("dis_steps: 0 never trains the discriminator the mapping learns to fool")


def _require(config: object, name: str, ok: bool, why: str) -> None:
    """Raise ConfigError about field `name` of `config` unless `ok`."""
    if not ok:
        raise ConfigError(f"{name}: {why} (got {getattr(config, name)!r})")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with `threads` torch threads, then restore the previous setting."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Discriminator:
    """MUSE's discriminator as bare tensors: `layers` x (Linear, LeakyReLU), then Linear to one logit."""

    def __init__(self, dim: int, config: AdversarialConfig, generator: torch.Generator):
        sizes = [dim] + [config.dis_hid_dim] * config.dis_layers + [1]
        self.params: list[torch.Tensor] = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            # torch.nn.Linear's default initialisation (uniform in +-1/sqrt(fan_in)), drawn from our generator
            bound = 1.0 / math.sqrt(fan_in)
            weight = (torch.rand(fan_in, fan_out, generator=generator) * 2 - 1) * bound
            bias = (torch.rand(fan_out, generator=generator) * 2 - 1) * bound
            self.params += [weight.requires_grad_(), bias.requires_grad_()]
        self.slope = config.dis_leaky_relu
        self.dropout = config.dis_dropout
        self.input_dropout = config.dis_input_dropout

    def logits(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Return one logit per row of `x`; hidden-layer dropout only when a generator is given (training).

        Input dropout is the caller's: it draws it for several batches at once.
        """
        hidden = len(self.params) // 2 - 1
        for layer in range(hidden):
            x = F.leaky_relu(torch.addmm(self.params[2 * layer + 1], x, self.params[2 * layer]), self.slope)
            if generator is not None:
                x = _dropout(x, self.dropout, generator)
        return torch.addmm(self.params[-1], x, self.params[-2]).squeeze(1)


def _dropout(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Return `x` with each entry zeroed with probability `p` and the rest scaled by 1/(1-p)."""
    if p <= 0:
        return x
    keep = torch.rand(x.shape, generator=generator) >= p
    return x * keep / (1.0 - p)


def adversarial_mapping(
    X: np.ndarray, Z: np.ndarray, config: AdversarialConfig, *, progress: bool = False
) -> tuple[np.ndarray, list[dict]]:
    """Return the mapping W [d, d] (`X @ W` lives in Z's space) best by the criterion, and the epochs' log.

    X and Z are the normalised source and target embeddings (rows in frequency order, same dimension d).
    Each history entry: epoch, criterion, dis_loss and dis_accuracy (means over the epoch's discriminator
    training batches), map_lr and dis_lr (the rates the epoch trained with), best (whether W was kept),
    seconds.
    """
    config.validate()
    X, Z = check_embeddings(X, Z, method="adversarial")
    with torch_threads(config.threads):
        return _train(X, Z, config, progress)


def check_embeddings(X: np.ndarray, Z: np.ndarray, *, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Return X and Z as C-contiguous float32 matrices; DataError when `method` cannot map them."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    Z = np.ascontiguousarray(Z, dtype=np.float32)
    if X.ndim != 2 or Z.ndim != 2:
        raise DataError(f"{method}: embeddings must be matrices, got shapes {X.shape} and {Z.shape}")
    if X.shape[1] != Z.shape[1]:
        raise DataError(
            f"{method}: source and target embeddings differ in dimension ({X.shape[1]} vs {Z.shape[1]}); "
            "the mapping is square"
        )
    if len(X) < 2 or len(Z) < 2:
        raise DataError(f"{method}: need at least 2 words per side, got {len(X)} and {len(Z)}")
    if not (np.isfinite(X).all() and np.isfinite(Z).all()):
        raise DataError(f"{method}: embeddings contain NaN or infinite values")
    return X, Z


def _train(
    X: np.ndarray, Z: np.ndarray, config: AdversarialConfig, progress: bool
) -> tuple[np.ndarray, list]:
    """Return the best W and the history; the body of `adversarial_mapping` under its thread setting."""
    dim = X.shape[1]
    generator = torch.Generator().manual_seed(config.seed)
    most = config.dis_most_frequent
    src = torch.from_numpy(X[: most or len(X)])
    tgt = torch.from_numpy(Z[: most or len(Z)])
    discriminator = _Discriminator(dim, config, generator)
    if config.map_id_init:
        mapping = torch.eye(dim)
    else:
        mapping = torch.nn.init.orthogonal_(torch.empty(dim, dim), generator=generator)
    mapping.requires_grad_()
    iterations = max(1, config.epoch_size // config.batch_size)
    map_lr, best_criterion, best_w, shrink_armed = config.map_lr, -math.inf, None, False
    history: list[dict] = []
    bar = _Bar(config.epochs * iterations, progress)
    with bar:
        for epoch in range(config.epochs):
            start = time.perf_counter()
            stats = _run_epoch(src, tgt, discriminator, mapping, map_lr, iterations, config, generator, bar)
            w = mapping.detach().numpy().copy()
            criterion = _criterion(X, Z, w, config)
            improved = criterion > best_criterion
            if improved:
                best_criterion, best_w = criterion, w
            history.append(
                {
                    "epoch": epoch,
                    "criterion": criterion,
                    "dis_loss": stats[0],
                    "dis_accuracy": stats[1],
                    "map_lr": map_lr,
                    "dis_lr": config.dis_lr,
                    "best": improved,
                    "seconds": time.perf_counter() - start,
                }
            )
            bar.criterion(criterion)
            map_lr = max(config.min_lr, map_lr * config.lr_decay)
            if criterion < best_criterion:
                # MUSE shrinks the rate from the second time the criterion falls below the best on
                if shrink_armed:
                    map_lr *= config.lr_shrink
                shrink_armed = True
            if map_lr < config.min_lr:
                break
    if best_w is None:  # every criterion was NaN: nothing to prefer, keep where training ended
        best_w = mapping.detach().numpy().copy()
    return best_w.astype(np.float32), history


def _run_epoch(
    src: torch.Tensor,
    tgt: torch.Tensor,
    dis: _Discriminator,
    mapping: torch.Tensor,
    map_lr: float,
    iterations: int,
    config: AdversarialConfig,
    generator: torch.Generator,
    bar: _Bar,
) -> tuple[float, float]:
    """Train for one epoch in place; return the discriminator's mean training loss and accuracy."""
    bs, steps = config.batch_size, config.dis_steps
    # Rows 0..bs-1 are source words (label 1 - smooth), bs..2bs-1 target words (label smooth).
    labels = torch.full((2 * bs,), config.dis_smooth)
    labels[:bs] = 1.0 - config.dis_smooth
    truth = labels > 0.5
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bfloat16")
    loss_sum = torch.zeros(())
    correct = torch.zeros((), dtype=torch.long)
    done = 0
    while done < iterations:
        block = min(_BLOCK, iterations - done)
        # One draw per block: per-step torch.randint calls would cost more than the small matrix products.
        src_ids = torch.randint(len(src), (block, steps + 1, bs), generator=generator)
        tgt_ids = torch.randint(len(tgt), (block, steps, bs), generator=generator)
        for it in range(block):
            if steps:
                # W is fixed during an iteration's discriminator steps: map all their batches at once.
                with torch.no_grad():
                    fake = (src[src_ids[it, :steps].flatten()] @ mapping).view(steps, bs, -1)
                    inputs = _dropout(torch.cat((fake, tgt[tgt_ids[it]]), 1), dis.input_dropout, generator)
            for step in range(steps):
                with autocast:
                    logits = dis.logits(inputs[step], generator).float()
                loss = F.binary_cross_entropy_with_logits(logits, labels)
                grads = torch.autograd.grad(loss, dis.params)
                with torch.no_grad():
                    torch._foreach_add_(dis.params, grads, alpha=-config.dis_lr)
                    if config.dis_clip_weights > 0:
                        for p in dis.params:
                            p.clamp_(-config.dis_clip_weights, config.dis_clip_weights)
                    loss_sum += loss
                    correct += ((logits > 0) == truth).sum()
            if config.dis_lambda > 0:
                _mapping_step(src[src_ids[it, steps]], dis, mapping, map_lr, config, autocast)
        done += block
        bar.advance(block)
    batches = max(1, iterations * steps)
    return float(loss_sum) / batches, float(correct) / (batches * 2 * bs)


def _mapping_step(
    x: torch.Tensor,
    dis: _Discriminator,
    mapping: torch.Tensor,
    lr: float,
    config: AdversarialConfig,
    autocast: torch.autocast,
) -> None:
    """One SGD step of the mapping towards fooling the discriminator, then MUSE's orthogonalisation."""
    # The mapping product stays in float32 (outside autocast): bfloat16 is for the discriminator only, and
    # W's gradient (x^T times the gradient of this product) is then accumulated in float32 too.
    mapped = x @ mapping
    with autocast:
        logits = dis.logits(mapped, None).float()
    # MUSE's loss is the mean over source and target rows with flipped labels; target rows carry no
    # gradient for W, so only the source half is computed, divided by the full batch of 2 x bs rows.
    flipped = torch.full_like(logits, config.dis_smooth)
    loss = F.binary_cross_entropy_with_logits(logits, flipped, reduction="sum") / (2 * len(x))
    (grad,) = torch.autograd.grad(config.dis_lambda * loss, (mapping,))
    with torch.no_grad():
        mapping.sub_(grad, alpha=lr)
        if config.map_beta > 0:
            beta = config.map_beta
            mapping.copy_((1 + beta) * mapping - beta * (mapping @ (mapping.T @ mapping)))


def _criterion(X: np.ndarray, Z: np.ndarray, w: np.ndarray, config: AdversarialConfig) -> float:
    """Return MUSE's unsupervised criterion of mapping `w`: mean cosine of CSLS translations, S2T, 10k."""
    rows = config.criterion_max_rank
    return unsupervised_criterion(
        X[:rows] @ w, Z, k=config.csls_k, max_rank=rows, chunk_size=config.chunk_size
    )


class _Bar:
    """A rich progress bar over the training iterations, or nothing when not shown."""

    def __init__(self, total: int, show: bool):
        self.total, self.show, self.progress, self.task = total, show, None, None

    def __enter__(self) -> _Bar:
        if self.show:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("adversarial"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("criterion {task.fields[criterion]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=True,
                console=Console(stderr=True),  # stdout stays the command's output
            )
            self.progress.start()
            self.task = self.progress.add_task("adversarial", total=self.total, criterion="-")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def criterion(self, value: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, criterion=f"{value:.4f}")
