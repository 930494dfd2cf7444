"""The sentence-alignment losses, one small function each (sentence-transformers' habit)."""

from __future__ import annotations

import torch
from torch import nn


def translation_ranking_loss(
    src: torch.Tensor, tgt: torch.Tensor, scale: torch.Tensor | float = 20.0, margin: float = 0.0
) -> torch.Tensor:
    """Return LaBSE's bidirectional in-batch softmax loss for aligned rows of `src` and `tgt`.

    Row i of `src` translates row i of `tgt`; every other row of the batch is a negative. The additive
    margin is subtracted from the positive cosine only, which pushes translations apart from the closest
    non-translations by at least that much (Yang et al. 2019).
    """
    src = nn.functional.normalize(src.float(), dim=-1)
    tgt = nn.functional.normalize(tgt.float(), dim=-1)
    sims = src @ tgt.T
    if margin:
        sims = sims - margin * torch.eye(len(sims), device=sims.device, dtype=sims.dtype)
    logits = sims * scale
    labels = torch.arange(len(sims), device=sims.device)
    return (nn.functional.cross_entropy(logits, labels) + nn.functional.cross_entropy(logits.T, labels)) / 2


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Return the mean squared error between student and teacher vectors (Reimers & Gurevych 2020)."""
    return nn.functional.mse_loss(student.float(), teacher.float())
