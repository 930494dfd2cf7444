"""Switching the attention kernels of a loaded Hugging Face model (eager, sdpa), shared by training and
export."""

from __future__ import annotations

from torch import nn


def attention_of(model: nn.Module) -> str | None:
    """Return the attention implementation `model` runs with ("eager", "sdpa", ...), None when unknown."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def set_attention(model: nn.Module, implementation: str | None) -> bool:
    """Return whether `model` now runs with the attention `implementation` (None: leave it; True).

    transformers' `set_attn_implementation` only warns, leaving the model as it was, where a model cannot
    switch (it raises where the kernels are not installed), so the result is read back from the config. A
    module without that method (not a transformers model) is switched through its config's
    `_attn_implementation`, where it has one.
    """
    if implementation is None:
        return True
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(implementation)
    elif getattr(model, "config", None) is not None:
        model.config._attn_implementation = implementation
    return attention_of(model) == implementation
