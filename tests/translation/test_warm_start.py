"""`init_encoder`: a new translation model starts from an xling encoder's piece vectors and layers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.errors import ConfigError
from xling.tokenization.vocabulary import language_token, load_tokenizer
from xling.translation.train import MTTrainConfig, build_model, train_translation
from xling.translation.warm_start import fit_width, piece_texts


def static_encoder_folder(root: Path, tokenizer_dir: Path, dimension: int) -> Path:
    """Return the folder of a random static encoder over the sample tokenizer's pieces."""
    from tokenizers import Tokenizer

    from xling.embeddings.static import StaticSentenceEncoder

    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    generator = torch.Generator().manual_seed(1)
    rows = torch.randn(tokenizer.get_vocab_size(), dimension, generator=generator)
    folder = root / f"static-{dimension}"
    StaticSentenceEncoder(tokenizer, rows).save(folder)
    return folder


def language_ids(tokenizer, languages=("eng", "deu")) -> set[int]:
    return {tokenizer.convert_tokens_to_ids(language_token(x)) for x in languages}


def test_embeddings_start_from_the_encoders_piece_vectors(tmp_path, sample_tokenizer_dir):
    from xling.embeddings.encoder import Encoder

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    folder = static_encoder_folder(tmp_path, sample_tokenizer_dir, dimension=24)  # narrower than tiny's 64
    skip = language_ids(tokenizer)
    torch.manual_seed(0)
    plain = build_model(MTTrainConfig(tokenizer=str(sample_tokenizer_dir), model="tiny"), tokenizer, skip)
    torch.manual_seed(0)
    config = MTTrainConfig(tokenizer=str(sample_tokenizer_dir), model="tiny", init_encoder=str(folder))
    warm = build_model(config, tokenizer, skip)

    before, after = plain.get_input_embeddings().weight, warm.get_input_embeddings().weight
    texts = piece_texts(tokenizer, skip)
    ids = sorted(texts)
    assert len(ids) > 0.9 * len(tokenizer) - 300  # most pieces are words or parts of words (not bytes)
    kept = sorted(set(range(len(tokenizer))) - set(ids))
    assert skip <= set(kept) and set(tokenizer.all_special_ids) <= set(kept)
    assert torch.equal(before[kept], after[kept])  # specials and language tokens keep their random rows
    assert not torch.allclose(before[ids], after[ids])
    assert after[ids].std().item() == pytest.approx(warm.config.init_std, rel=1e-3)
    # zero-padded and rescaled: the geometry of the encoder's (centred) vectors is kept exactly
    vectors = Encoder.load(folder).encode([texts[i] for i in ids], normalize=False)
    vectors = vectors - vectors.mean(axis=0)
    rows = after[ids].detach().numpy()
    assert np.abs(rows[:, 24:]).max() == 0
    scale = rows[:, :24].std() / vectors.std()
    np.testing.assert_allclose(rows[:, :24], vectors * scale, atol=1e-5)
    # the tied output layer starts from the same rows
    assert torch.equal(warm.get_output_embeddings().weight, after)


def test_wider_vectors_keep_their_principal_directions():
    generator = torch.Generator().manual_seed(0)
    low_rank = torch.randn(200, 6, generator=generator) @ torch.randn(6, 40, generator=generator)
    projected = fit_width(low_rank, 8)  # the data spans 6 directions: 8 keep every distance
    assert projected.shape == (200, 8)
    exact = "donot_use_mm_for_euclid_dist"
    torch.testing.assert_close(torch.cdist(projected, projected, compute_mode=exact),
                               torch.cdist(low_rank, low_rank, compute_mode=exact), atol=1e-3, rtol=1e-4)  # fmt: skip
    assert fit_width(low_rank, 40) is low_rank


def m2m_config_file(root: Path, tokenizer, *, d_model: int, ffn: int, layers: int = 2) -> Path:
    from xling.translation.presets import model_config

    config = model_config("tiny", vocab_size=len(tokenizer))
    config.update({"d_model": d_model, "encoder_ffn_dim": ffn, "decoder_ffn_dim": ffn, "encoder_layers": layers,
                   "encoder_attention_heads": 2, "decoder_attention_heads": 2})  # fmt: skip
    path = root / f"m2m-{d_model}.json"
    path.write_text(json.dumps(config.to_dict()), encoding="utf-8")
    return path


def test_transformer_layers_go_into_the_encoder(tmp_path, sample_tokenizer_dir, make_tiny_mlm):
    from transformers import AutoModel

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    mlm = make_tiny_mlm(tmp_path, sample_tokenizer_dir)  # XLM-R: hidden 16, 1 layer, 2 heads, ffn 32, gelu
    source = AutoModel.from_pretrained(mlm)
    shape = m2m_config_file(tmp_path, tokenizer, d_model=16, ffn=32)
    config = MTTrainConfig(tokenizer=str(sample_tokenizer_dir), model=str(shape), init_encoder=str(mlm))
    model = build_model(config, tokenizer, language_ids(tokenizer))

    assert model.config.activation_function == "gelu"  # the copied layers' own activation
    layers, theirs = model.get_encoder().layers, source.encoder.layer[0]
    pairs = [
        (layers[0].self_attn_layer_norm, source.embeddings.LayerNorm),
        (layers[0].self_attn.q_proj, theirs.attention.self.query),
        (layers[0].self_attn.v_proj, theirs.attention.self.value),
        (layers[0].self_attn.out_proj, theirs.attention.output.dense),
        (layers[0].final_layer_norm, theirs.attention.output.LayerNorm),
        (layers[0].fc1, theirs.intermediate.dense),
        (layers[0].fc2, theirs.output.dense),
        (layers[1].self_attn_layer_norm, theirs.output.LayerNorm),
    ]
    for mine, origin in pairs:
        assert torch.equal(mine.weight, origin.weight) and torch.equal(mine.bias, origin.bias)
    assert not torch.equal(layers[1].fc1.weight[:, :16], theirs.intermediate.dense.weight[:, :16])
    # a model rebuilt from the same settings to load a checkpoint gets the same activation
    assert build_model(config, tokenizer).config.activation_function == "gelu"


def test_other_shapes_take_the_embeddings_only(tmp_path, sample_tokenizer_dir, make_tiny_mlm, caplog):
    tokenizer = load_tokenizer(sample_tokenizer_dir)
    mlm = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    config = MTTrainConfig(tokenizer=str(sample_tokenizer_dir), model="tiny", init_encoder=str(mlm))
    with caplog.at_level(logging.WARNING):
        model = build_model(config, tokenizer, language_ids(tokenizer))
    assert "layers not copied (hidden_size / d_model 16 != 64" in caplog.text
    assert model.config.activation_function == "relu"


def test_training_from_a_warm_start_and_bad_settings(tmp_path, sample_tokenizer_dir):
    pairs = tmp_path / "p.tsv"
    pairs.write_text("Good morning!\tGuten Morgen!\nThank you.\tDanke.\n", encoding="utf-8")
    folder = static_encoder_folder(tmp_path, sample_tokenizer_dir, dimension=96)  # wider than tiny's 64
    config = MTTrainConfig(output=str(tmp_path / "mt"), tokenizer=str(sample_tokenizer_dir), model="tiny",
                           init_encoder=str(folder), parallel=[f"eng-deu={pairs}"])  # fmt: skip
    config.training.max_steps, config.training.batch_size, config.training.checkpoint_every = 2, 4, 2
    result = train_translation(config)
    meta = json.loads((result.output / "xling.json").read_text())
    assert meta["config"]["init_encoder"] == str(folder)

    with pytest.raises(ConfigError, match="init_encoder: starts a new model"):
        MTTrainConfig(model=str(result.output), init_encoder=str(folder)).validate()
    missing = MTTrainConfig(
        tokenizer=str(sample_tokenizer_dir), model="tiny", init_encoder=str(tmp_path / "no")
    )
    with pytest.raises(ConfigError, match="init_encoder: cannot load"):
        build_model(missing, load_tokenizer(sample_tokenizer_dir))
