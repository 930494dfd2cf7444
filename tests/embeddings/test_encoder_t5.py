"""Encoder.load on T5-family sentence encoders (GTR, sentence-t5): the encoder stack alone, as
sentence-transformers loads it; a T5 translation model stays refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from st_folders import write_st_modules
from test_encoder import TEXTS, cosines

from xling.embeddings.encoder import Encoder
from xling.errors import DataError

FAMILY = {"t5": ("T5Config", "T5EncoderModel"), "mt5": ("MT5Config", "MT5EncoderModel"),
          "umt5": ("UMT5Config", "UMT5EncoderModel"), "longt5": ("LongT5Config", "LongT5EncoderModel")}  # fmt: skip


def _t5_config(kind: str, tokenizer):
    import transformers

    config_class = getattr(transformers, FAMILY[kind][0])
    return config_class(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                        num_decoder_layers=1, num_heads=4, pad_token_id=tokenizer.pad_token_id,
                        decoder_start_token_id=tokenizer.pad_token_id)  # fmt: skip


def tiny_t5_folder(root: Path, tokenizer_dir: Path, kind: str = "t5", *, modules: tuple[str, ...] = ("mean",),
                   model_class: str | None = None) -> Path:  # fmt: skip
    """Write a random tiny T5-family model (its encoder stack unless `model_class` says otherwise) with the
    sample tokenizer; with `modules`, a sentence-transformers folder around it: Pooling (modules[0]), then
    Normalize where "normalize" follows. Return the folder."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(0)
    folder = root / f"{kind}-{model_class or 'encoder'}"
    getattr(transformers, model_class or FAMILY[kind][1])(_t5_config(kind, tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if not modules:
        return folder
    write_st_modules(folder, modules[0], "normalize" in modules)
    return folder


def _sentence_transformers_vectors(folder: Path) -> np.ndarray:
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS, batch_size=3)


@pytest.mark.parametrize("kind", sorted(FAMILY))
def test_a_t5_family_sentence_transformers_folder_encodes_as_sentence_transformers_does(
    tmp_path, sample_tokenizer_dir, kind
):
    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, kind, modules=("mean", "normalize"))
    encoder = Encoder.load(folder)
    assert type(encoder.module.model).__name__ == FAMILY[kind][1]
    ours = encoder.encode(TEXTS, batch_size=3)
    assert ours.shape == (len(TEXTS), 32)
    assert cosines(ours, _sentence_transformers_vectors(folder)).min() >= 0.9999


@pytest.mark.parametrize("modules", [("mean",), ("cls", "normalize")])
def test_a_t5_folder_saying_is_encoder_decoder_still_loads_its_encoder_as_sentence_transformers_does(
    tmp_path, sample_tokenizer_dir, modules
):
    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, modules=modules)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "is_encoder_decoder": True}))
    ours = Encoder.load(folder).encode(TEXTS, batch_size=3)
    assert cosines(ours, _sentence_transformers_vectors(folder)).min() >= 0.9999


def test_a_sentence_transformers_folder_over_a_whole_t5_reads_its_encoder_stack(
    tmp_path, sample_tokenizer_dir
):
    # modules.json names a Transformer module: sentence-transformers takes the encoder of any T5 checkpoint
    folder = tiny_t5_folder(
        tmp_path, sample_tokenizer_dir, modules=("mean",), model_class="T5ForConditionalGeneration"
    )
    encoder = Encoder.load(folder)
    assert type(encoder.module.model).__name__ == "T5EncoderModel"
    assert cosines(encoder.encode(TEXTS), _sentence_transformers_vectors(folder)).min() >= 0.9999


def test_a_plain_t5_encoder_folder_loads_its_encoder(tmp_path, sample_tokenizer_dir):
    from transformers import AutoTokenizer, T5EncoderModel

    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, modules=())
    encoder = Encoder.load(folder, max_length=64)
    assert type(encoder.module.model).__name__ == "T5EncoderModel"
    tokens = AutoTokenizer.from_pretrained(folder)(TEXTS[:1], return_tensors="pt")
    with torch.inference_mode():
        states = T5EncoderModel.from_pretrained(folder)(**tokens).last_hidden_state
    expected = torch.nn.functional.normalize(states.mean(1), dim=-1).numpy()
    np.testing.assert_allclose(encoder.encode(TEXTS[:1]), expected, atol=1e-5)


@pytest.mark.parametrize("model_class", ["T5ForConditionalGeneration", "T5Model"])
def test_a_t5_translation_model_is_still_refused_naming_the_folder(
    tmp_path, sample_tokenizer_dir, model_class
):
    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, modules=(), model_class=model_class)
    with pytest.raises(DataError, match=rf"{model_class}: a translation model, not a sentence encoder"):
        Encoder.load(folder)


def test_an_encoder_decoder_config_without_the_flag_is_refused_at_load_not_at_encode(
    tmp_path, sample_tokenizer_dir
):
    # T5Config's default is an encoder-decoder: a config.json that leaves the flag and architectures out is one
    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, modules=(), model_class="T5Model")
    config = json.loads((folder / "config.json").read_text())
    config.pop("is_encoder_decoder", None)
    config.pop("architectures", None)
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(DataError, match=r"T5Model: a translation model, not a sentence encoder"):
        Encoder.load(folder)


@pytest.mark.parametrize(("max_seq_length", "limit"), [(1024, 1024), (None, 512)])
def test_a_t5_encoder_takes_its_folders_length_limit_not_a_position_table_it_lacks(
    tmp_path, sample_tokenizer_dir, max_seq_length, limit
):
    """T5's positions are relative (no max_position_embeddings): the limit is max_seq_length, or the
    tokenizer's model_max_length (512 here) when that is null, as in sentence-transformers; not 512 always."""
    folder = tiny_t5_folder(tmp_path, sample_tokenizer_dir, modules=("mean", "normalize"))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": max_seq_length}))
    encoder = Encoder.load(folder)
    assert encoder.module.max_length == limit
    long_text = [" ".join(TEXTS * 5), *TEXTS]  # about 770 tokens
    ours, stats = encoder.encode_with_stats(long_text)
    assert stats.truncated == (limit < 770)
    st = pytest.importorskip("sentence_transformers")
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(long_text)
    assert cosines(ours, theirs).min() >= 0.9999
