"""fill-mask on awkward input: a text past the position limit, top_k out of range, no mask: clear results."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.errors import ConfigError, DataError
from xling.pretraining.inspect import load_masked_lm, predict_masked


@pytest.fixture
def mlm(make_tiny_mlm, tmp_path, sample_tokenizer_dir):
    """Return (model, tokenizer, folder) of a tiny masked LM with 40 positions (38 usable)."""
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)
    model, tokenizer = load_masked_lm(folder)
    return model, tokenizer, folder


def test_text_longer_than_the_positions_is_cut_keeping_the_mask(mlm):
    model, tokenizer, _ = mlm
    text = "Where is the <mask> station? " + "It is far from here, they said. " * 40
    assert len(tokenizer(text)["input_ids"]) > 38
    guesses = predict_masked(model, text, top_k=2, tokenizer=tokenizer)
    assert len(guesses) == 1 and len(guesses[0]) == 2


def test_mask_past_the_position_limit_is_a_data_error_naming_the_text(mlm):
    model, tokenizer, _ = mlm
    text = "It is far from here, they said. " * 40 + "Where is the <mask> station?"
    with pytest.raises(
        DataError, match=r"'It is far from here.*a <mask> lies past the model's 38-token limit"
    ):
        predict_masked(model, text, tokenizer=tokenizer)


@pytest.mark.parametrize("top_k", [0, -3])
def test_top_k_below_one_is_a_config_error(mlm, top_k):
    model, tokenizer, _ = mlm
    with pytest.raises(ConfigError, match=f"top_k must be a whole number >= 1, not {top_k}"):
        predict_masked(model, "Where is the <mask>?", top_k=top_k, tokenizer=tokenizer)


def test_top_k_above_the_vocabulary_gives_every_ordinary_token(mlm):
    model, tokenizer, _ = mlm
    guesses = predict_masked(model, "Where is the <mask>?", top_k=100_000, tokenizer=tokenizer)
    ordinary = model.config.vocab_size - len(set(tokenizer.all_special_ids))
    assert len(guesses[0]) == ordinary


def test_text_without_a_mask_is_a_config_error_naming_it(mlm):
    model, tokenizer, _ = mlm
    with pytest.raises(ConfigError, match=r"text 'no mask here' has no <mask> to fill"):
        predict_masked(model, "no mask here", tokenizer=tokenizer)


@pytest.mark.parametrize(
    "args, message",
    [(["--top-k", "0", "Where is the <mask>?"], "top_k must be a whole number >= 1, not 0"),
     (["no mask here"], "text 'no mask here' has no <mask> to fill")],
)  # fmt: skip
def test_cli_fill_mask_refuses_bad_top_k_and_maskless_text(mlm, args, message):
    result = CliRunner().invoke(app, ["fill-mask", "--model", str(mlm[2]), *args])
    assert isinstance(result.exception, ConfigError) and message in str(result.exception)


def test_cli_fill_mask_checks_top_k_before_loading_the_model(tmp_path):
    result = CliRunner().invoke(
        app, ["fill-mask", "--model", str(tmp_path / "missing"), "--top-k", "0", "a <mask>"]
    )
    assert isinstance(result.exception, ConfigError)


def test_rows_past_the_tokenizer_in_a_padded_vocabulary_are_never_guessed(tmp_path, sample_tokenizer_dir):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer) + 64, hidden_size=16, num_hidden_layers=1,
                              num_attention_heads=2, intermediate_size=32, max_position_embeddings=40,
                              pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    model = XLMRobertaForMaskedLM(config).eval()
    with torch.no_grad():  # the padding rows would win every guess (they were None: a traceback)
        model.lm_head.bias[len(tokenizer) :] = 100.0
    guesses = predict_masked(model, "Hello <mask> world", top_k=len(tokenizer) + 64, tokenizer=tokenizer)
    assert guesses[0] and all(isinstance(g, str) for g in guesses[0])
    assert len(guesses[0]) == len(tokenizer) - len(set(tokenizer.all_special_ids))
