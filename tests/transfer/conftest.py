"""Fixtures of the transfer tests: the toy shared-space encoder (see toy.py) and a tiny random XLM-R."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from .toy import build_encoder


@pytest.fixture
def toy_encoder(tmp_path):
    """Return the folder of a tiny static encoder whose English and German sentiment words share vectors."""
    return build_encoder(tmp_path / "toy-encoder")


@pytest.fixture(scope="module")
def tiny_xlmr(sample_tokenizer_dir, tmp_path_factory) -> Path:
    """A tiny random XLM-R masked LM with the sample tokenizer (as `xling pretrain` writes one)."""
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=64, max_position_embeddings=40,
                              pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-xlmr")
    XLMRobertaForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
