from types import SimpleNamespace

import pytest
import torch
from transformers import M2M100Config, M2M100ForConditionalGeneration

from xling.hf_attention import attention_of, set_attention


@pytest.fixture(scope="module")
def model() -> M2M100ForConditionalGeneration:
    config = M2M100Config(
        vocab_size=40, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32,
        attn_implementation="sdpa",
    )  # fmt: skip
    return M2M100ForConditionalGeneration(config).eval()


def test_switches_a_models_attention_and_back(model):
    ids = torch.tensor([[5, 6, 7, 2]])
    with torch.no_grad():
        sdpa = model(input_ids=ids, decoder_input_ids=ids).logits
    assert set_attention(model, "eager") and attention_of(model) == "eager"
    with torch.no_grad():
        eager = model(input_ids=ids, decoder_input_ids=ids).logits
    assert set_attention(model, None) and attention_of(model) == "eager"
    assert set_attention(model, "sdpa") and attention_of(model) == "sdpa"
    torch.testing.assert_close(eager, sdpa, rtol=1e-4, atol=1e-5)


def test_modules_without_the_switch_get_it_through_their_config_if_they_have_one():
    legacy = torch.nn.Linear(2, 2)
    legacy.config = SimpleNamespace(_attn_implementation="sdpa")
    assert set_attention(legacy, "eager") and attention_of(legacy) == "eager"
    plain = torch.nn.Linear(2, 2)
    assert not set_attention(plain, "eager") and attention_of(plain) is None


def test_a_model_that_refuses_to_switch_is_reported(model, monkeypatch):
    """transformers only warns where a model cannot switch, and leaves it as it was."""
    monkeypatch.setattr(model, "set_attn_implementation", lambda implementation: None)
    before = attention_of(model)
    assert not set_attention(model, "flex_attention" if before != "flex_attention" else "eager")
    assert attention_of(model) == before
