"""Tiny sentence-transformers folders the tests build: a random XLM-R encoder, pooling, optionally Normalize."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def tiny_st_folder(root: Path, tokenizer_dir: Path, pooling: str = "mean", layers: int = 2,
                   normalize: bool = True) -> Path:  # fmt: skip
    """Return `root/st-<pooling>`, a sentence-transformers folder around a random tiny XLM-R encoder (hidden
    size 32, `layers` layers: one where depth does not matter halves what an ONNX export traces), with
    `pooling` (cls, mean or max) and, with `normalize`, a Normalize module."""
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaModel

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=layers, num_attention_heads=2,
                              intermediate_size=64, max_position_embeddings=66, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    folder = root / f"st-{pooling}"
    XLMRobertaModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    write_st_modules(folder, pooling, normalize)
    return folder


def write_st_modules(
    folder: Path, pooling: str = "mean", normalize: bool = True, dimension: int = 32
) -> None:
    """Return nothing after writing the sentence-transformers files around the model saved in `folder`:
    modules.json (Transformer, Pooling with `pooling`, and Normalize with `normalize`), its configs and
    folders."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append(
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}
        )
        (folder / "2_Normalize").mkdir()
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 64, "do_lower_case": False})
    )
    (folder / "1_Pooling").mkdir()
    modes = {f"pooling_mode_{m}": m.startswith(pooling) for m in ("cls_token", "mean_tokens", "max_tokens")}
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": dimension, **modes})
    )
