"""The translation objective: label-smoothed cross-entropy of a seq2seq model on its target tokens."""

from __future__ import annotations

import torch
from torch import nn

from xling.pretraining.masking import IGNORE_INDEX


class Seq2SeqObjective(nn.Module):
    """Wraps an `M2M100ForConditionalGeneration`; forward(batch) returns {"loss", "tokens"}.

    The loss is computed here rather than by the model, which has no label smoothing; smoothing of 0.1
    is what fairseq's M2M-100 and most MT recipes train with. The definition is torch's
    (`cross_entropy(label_smoothing=eps)`: the target gets 1 - eps + eps/V, every token eps/V), which
    differs from fairseq's `label_smoothed_nll_loss` (target 1 - eps, the others eps/(V - 1)) by ~1e-5 at
    a real vocabulary's size; padding positions are left out either way.
    """

    def __init__(self, model: nn.Module, label_smoothing: float = 0.1):
        super().__init__()
        self.model = model
        self.label_smoothing = label_smoothing

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        labels = batch["labels"]
        hidden = self.model.model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            decoder_input_ids=batch["decoder_input_ids"],
            decoder_attention_mask=batch["decoder_attention_mask"],
        ).last_hidden_state
        selected = labels != IGNORE_INDEX
        # the output layer only on real target positions: padding is a sizeable share of a batch
        logits = self.model.lm_head(hidden[selected])
        bias = getattr(self.model, "final_logits_bias", None)  # Marian (OPUS-MT) adds one to its logits
        if bias is not None:
            logits = logits + bias[0]
        loss = nn.functional.cross_entropy(
            logits.float(), labels[selected], label_smoothing=self.label_smoothing
        )
        return {"loss": loss, "tokens": selected.sum(), "items": selected.sum()}  # the mean is over targets
