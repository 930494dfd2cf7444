"""The masked-LM objective module (MLM and TLM share it; they differ only in their batches)."""

from __future__ import annotations

import torch
from torch import nn

from xling.pretraining.masking import IGNORE_INDEX


class MaskedLMObjective(nn.Module):
    """Wraps an `XLMRobertaForMaskedLM`; forward(batch) returns {"loss", "tokens"}.

    The LM head runs on the masked positions only: over all positions it is most of the compute for a
    small model with a large vocabulary (2.3x the cost of the whole step here), and its outputs elsewhere
    are thrown away by the loss anyway.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        encoder = self.model.base_model
        hidden = encoder(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch.get("position_ids"),
        ).last_hidden_state
        labels = batch["labels"]
        selected = labels != IGNORE_INDEX
        logits = self.model.lm_head(hidden[selected])
        if logits.shape[0] == 0:
            # no token was masked in this batch: a zero loss that still touches the whole graph, the LM head
            # too (DDP reduces every parameter's gradient: one left out failed or hung the step)
            loss = (hidden.sum() + logits.sum()) * 0.0
        else:
            loss = nn.functional.cross_entropy(logits.float(), labels[selected])
        # items: the masked tokens the loss is a mean over (the loop weighs accumulated micro-batches by them)
        return {"loss": loss, "tokens": batch["attention_mask"].sum(), "items": selected.sum()}
