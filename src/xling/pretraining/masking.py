"""Masking rules of BERT/XLM-R MLM (and XLM's TLM, which masks both sides of a pair the same way)."""

from __future__ import annotations

import torch

IGNORE_INDEX = -100


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_id: int,
    first_regular_id: int,
    vocab_size: int,
    probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (masked inputs, labels): `probability` of the regular tokens are chosen; of those 80% become
    `<mask>`, 10% a random regular token and 10% stay; labels are the original ids there and -100 elsewhere.

    Special tokens (ids below `first_regular_id`: `<s> <pad> </s> <unk> <mask>` and language tokens, and
    `mask_id` where it comes later, as XLM-R's last id does) are never chosen and never drawn as random
    replacements.
    """
    maskable = (input_ids >= first_regular_id) & (input_ids != mask_id)
    draw = torch.rand(input_ids.shape, generator=generator)
    chosen = (draw < probability) & maskable
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & (action < 0.8)
    to_random = chosen & (action >= 0.8) & (action < 0.9)
    mask_among_regular = first_regular_id <= mask_id < vocab_size
    random_ids = torch.randint(
        first_regular_id, vocab_size - mask_among_regular, input_ids.shape, generator=generator
    )
    if mask_among_regular:  # the draw skips `<mask>`: ids from it on move up one
        random_ids = random_ids + (random_ids >= mask_id).long()
    masked = torch.where(to_mask, torch.full_like(input_ids, mask_id), input_ids)
    masked = torch.where(to_random, random_ids, masked)
    return masked, labels


def first_regular_id(tokenizer) -> int:
    """Return the first id after the run of special tokens that opens the vocabulary.

    xling's vocabularies open with `<s> <pad> </s> <unk> <mask>` and the language tokens; XLM-R's with four
    and keep `<mask>` last, so "one past the largest special id" would leave nothing to mask there.
    """
    special = set(tokenizer.all_special_ids)
    first = 0
    while first in special:
        first += 1
    return first
