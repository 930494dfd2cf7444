"""Switching the attention kernels of a loaded Hugging Face model (eager, sdpa), shared by training and
export."""

from __future__ import annotations

from torch import nn


def attention_of(model: nn.Module) -> str | None:
    """Return the attention implementation `model` runs with ("eager", "sdpa", ...), None when unknown."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def set_attention(model: nn.Module, implementation: str | None) -> None:
    """Return nothing; switch `model`'s attention kernels to `implementation` (None: leave them).

    Recent transformers switch with `set_attn_implementation`; models without it read the config's private
    `_attn_implementation` on each forward pass, so setting it there is the switch they have.
    """
    if implementation is None:
        return
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(implementation)
    else:
        model.config._attn_implementation = implementation
