"""Size presets: the XLM-R architecture, with XLM-R's settings where a preset does not say."""

from __future__ import annotations

import pytest

from xling.pretraining.presets import PRESETS, model_config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_use_xlm_rs_layer_norm_epsilon(name):
    # transformers' XLMRobertaConfig defaults to BERT's 1e-12; XLM-R base and large use 1e-5
    config = model_config(name, vocab_size=1000)
    assert config.layer_norm_eps == 1e-5 and config.model_type == "xlm-roberta"
    assert model_config(name, vocab_size=1000, layer_norm_eps=1e-6).layer_norm_eps == 1e-6
