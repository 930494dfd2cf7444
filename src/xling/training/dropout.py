"""Dropout with masks drawn ~4x faster on a CPU than torch's own, for models that call
`torch.nn.functional.dropout` (transformers' M2M-100, Marian and NLLB layers do).

torch draws a CPU dropout mask with `bernoulli_`, one number from its generator per element
(pytorch/pytorch#138199, open: 34% of a model's CPU time there); in a training step of xling's `small`
M2M-100 it took 11% of the time (torch.profiler, 2 cores, bf16). Here one 64-bit draw gives the mask of four
elements, each kept when its 16-bit share is below (1 - p) x 65536 rounded: the keep probability is (1 - p)
to within 2^-17 (absolute), and kept values are scaled by the inverse of the probability drawn with, so the
expectation is the input's, as with torch's dropout. Elsewhere torch's own runs: a GPU, eval mode, in place,
a tensor that is not a plain floating-point one, and a p within 2^-17 of 0 or 1, which 16 bits cannot draw.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

import torch

_TORCH_DROPOUT = torch.nn.functional.dropout
_SHARES = 4  # 16-bit shares of one 64-bit draw
_SHARE_VALUES = 1 << 16


def cpu_dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """Return `input` with each element zeroed with probability `p` and the rest scaled to keep the mean:
    `torch.nn.functional.dropout`'s contract, with a cheaper mask on CPU tensors."""
    kept_values = round((1 - p) * _SHARE_VALUES) if 0 < p < 1 else 0
    drawable = 0 < kept_values < _SHARE_VALUES
    plain = type(input) is torch.Tensor and input.is_floating_point() and input.device.type == "cpu"
    if not training or inplace or not plain or not drawable or input.numel() == 0:
        return _TORCH_DROPOUT(input, p, training, inplace)
    count = input.numel()
    draws = torch.randint(-(2**63), 2**63 - 1, (math.ceil(count / _SHARES),), dtype=torch.int64)
    shares = draws.view(torch.int16)[:count].view(input.shape)  # each uniform over the 65,536 int16 values
    keep = shares < kept_values - _SHARE_VALUES // 2
    return input * keep * (_SHARE_VALUES / kept_values)


_ACTIVE = threading.local()  # per thread: how many faster_cpu_dropout blocks it has open
_OPEN = [0]  # all threads: how many blocks are open; the last one out puts the dropout before back
_BEFORE = [_TORCH_DROPOUT]  # `torch.nn.functional.dropout` as the first block found it (another patch, say)
_SWAP = threading.Lock()


def _dispatching_dropout(
    input: torch.Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> torch.Tensor:
    """Return `cpu_dropout(...)` inside a `faster_cpu_dropout` block of this thread, elsewhere the dropout
    `torch.nn.functional.dropout` was before the first open block (torch's own unless patched)."""
    if getattr(_ACTIVE, "depth", 0) > 0:
        return cpu_dropout(input, p, training, inplace)
    return _BEFORE[0](input, p, training, inplace)


@contextlib.contextmanager
def faster_cpu_dropout() -> Iterator[None]:
    """Yield with `torch.nn.functional.dropout` drawing its masks by `cpu_dropout` in this thread.

    transformers' layers call `torch.nn.functional.dropout` by name, so while any thread has a block open the
    name is bound to a function that dispatches on the calling thread's open blocks: other threads keep the
    dropout the name had (torch's own, or another patch), which the last block anywhere to close (an error
    included) puts back.
    """
    with _SWAP:
        if _OPEN[0] == 0:
            _BEFORE[0] = torch.nn.functional.dropout
            torch.nn.functional.dropout = _dispatching_dropout
        _OPEN[0] += 1
    _ACTIVE.depth = getattr(_ACTIVE, "depth", 0) + 1
    try:
        yield
    finally:
        _ACTIVE.depth -= 1
        with _SWAP:
            _OPEN[0] -= 1
            if _OPEN[0] == 0 and torch.nn.functional.dropout is _dispatching_dropout:
                torch.nn.functional.dropout = _BEFORE[0]
