"""Mean-pooled sentence vectors from any transformers encoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Return the mean of the token vectors where attention_mask is 1 (padding excluded)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@torch.inference_mode()
def encode_mean_pooled(
    model: torch.nn.Module,
    tokenizer,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 128,
    layer: int | None = None,
    normalize: bool = True,
) -> np.ndarray:
    """Return float32 sentence vectors [len(texts), hidden]: mean of one layer's token states (last by default).

    Sentences are encoded in length-sorted batches (less padding) and returned in input order.
    """
    encoder = getattr(model, "base_model", model)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        batch = tokenizer(
            [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        outputs = encoder(**batch, output_hidden_states=layer is not None)
        hidden = outputs.hidden_states[layer] if layer is not None else outputs.last_hidden_state
        vectors = mean_pool(hidden.float(), batch["attention_mask"])
        if normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=-1)
        out[idx] = vectors.cpu().numpy()
    encoder.train(was_training)
    return out
