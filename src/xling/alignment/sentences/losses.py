"""The sentence-alignment losses, one small function each (sentence-transformers' habit)."""

from __future__ import annotations

import torch
from torch import nn


def translation_ranking_loss(
    src: torch.Tensor,
    tgt: torch.Tensor,
    scale: torch.Tensor | float = 20.0,
    margin: float = 0.0,
    *,
    tgt_negatives: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return LaBSE's bidirectional in-batch softmax loss for aligned rows of `src` and `tgt`.

    Row i of `src` translates row i of `tgt`; every other row of the batch is a negative. The additive
    margin is subtracted from the positive cosine only, which pushes translations apart from the closest
    non-translations by at least that much (Yang et al. 2019).

    `tgt_negatives` [N, d] (e.g. B x h mined hard negatives) are extra candidates in the src -> tgt
    direction only, shared by every row (sentence-transformers' MultipleNegativesRankingLoss convention);
    the tgt -> src direction stays in-batch. None or N = 0 gives the in-batch loss.
    """
    src = nn.functional.normalize(src.float(), dim=-1)
    tgt = nn.functional.normalize(tgt.float(), dim=-1)
    sims = src @ tgt.T
    if margin:
        sims = sims - margin * torch.eye(len(sims), device=sims.device, dtype=sims.dtype)
    logits = sims * scale
    labels = torch.arange(len(sims), device=sims.device)
    forward = logits
    if tgt_negatives is not None and len(tgt_negatives):
        negatives = nn.functional.normalize(tgt_negatives.float(), dim=-1)
        forward = torch.cat([logits, (src @ negatives.T) * scale], dim=1)
    return (nn.functional.cross_entropy(forward, labels) + nn.functional.cross_entropy(logits.T, labels)) / 2


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Return the mean squared error between student and teacher vectors (Reimers & Gurevych 2020)."""
    return nn.functional.mse_loss(student.float(), teacher.float())
