"""The sentence-alignment objective: translation ranking, plus optional distillation towards a teacher."""

from __future__ import annotations

import math

import torch
from torch import nn

from xling.alignment.sentences.losses import distillation_loss, translation_ranking_loss


def side(batch: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Return the entries of `batch` that start with `prefix`, without it (one side's student inputs)."""
    return {k[len(prefix) :]: v for k, v in batch.items() if k.startswith(prefix)}


class SentenceAlignmentObjective(nn.Module):
    """forward(batch) -> {"loss", "tokens"}: ranking_weight x ranking loss + distill_weight x distillation loss.

    With a teacher, both sides of a pair learn the teacher's vector of the pivot sentence (Reimers &
    Gurevych 2020); a linear map carries the student's space to the teacher's when their sizes differ and
    is dropped after training. The ranking scale is fixed or learned (as a log, clamped to [1, 100]).
    Hard negatives ("neg_*" inputs, tgt language) join the ranking loss's src -> tgt candidates.
    """

    def __init__(
        self,
        student: nn.Module,
        *,
        scale: float = 20.0,
        learn_scale: bool = False,
        margin: float = 0.0,
        ranking_weight: float = 1.0,
        distill_weight: float = 0.0,
        teacher_dimension: int | None = None,
    ):
        super().__init__()
        self.student = student
        self.margin = margin
        self.ranking_weight = ranking_weight
        self.distill_weight = distill_weight
        log_scale = torch.tensor(math.log(scale))
        if learn_scale:
            self.log_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer("log_scale", log_scale)
        self.to_teacher: nn.Module | None = None
        if distill_weight > 0 and teacher_dimension is not None and teacher_dimension != student.dimension:
            self.to_teacher = nn.Linear(student.dimension, teacher_dimension, bias=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        src = self.student(side(batch, "src_"))
        tgt = self.student(side(batch, "tgt_"))
        negatives = side(batch, "neg_")  # mined hard negatives in the tgt language, when the batch has them
        neg = self.student(negatives) if negatives else None
        scale = self.log_scale.clamp(0.0, math.log(100.0)).exp()
        ranking = translation_ranking_loss(src, tgt, scale, self.margin, tgt_negatives=neg)
        loss = self.ranking_weight * ranking
        out = {"ranking": ranking.detach()}
        if self.distill_weight > 0 and "teacher" in batch:
            teacher = batch["teacher"]
            known = ~torch.isnan(teacher[:, 0])
            if known.any():
                mapped = [v if self.to_teacher is None else self.to_teacher(v) for v in (src, tgt)]
                distill = sum(distillation_loss(v[known], teacher[known]) for v in mapped) / 2
                loss = loss + self.distill_weight * distill
                out["distill"] = distill.detach()
            elif self.to_teacher is not None:
                # no teacher vector in this batch (units without the pivot): the projection still joins the
                # graph, with a zero gradient, or DDP's ranks disagree on the gradients to reduce
                loss = loss + 0.0 * sum(parameter.sum() for parameter in self.to_teacher.parameters())
        tokens = sum(_token_count(side(batch, p)) for p in ("src_", "tgt_"))
        if negatives:
            tokens = tokens + _token_count(negatives)
        return {"loss": loss, "tokens": tokens, **out}


def _token_count(features: dict[str, torch.Tensor]) -> torch.Tensor:
    """Return the number of real tokens in one side's inputs (padded or flat)."""
    if "attention_mask" in features:
        return features["attention_mask"].sum()
    return torch.tensor(features["input_ids"].numel())
