"""Model sizes by name: the XLM-R architecture through transformers' `XLMRobertaConfig`."""

from __future__ import annotations

from pathlib import Path

from xling.errors import ConfigError

MAX_NEW_MODEL_LENGTH = 4096
"""The longest max_length a new model is made for: eight times XLM-R's 512 (its position table grows with
max_length, and attention cost with its square)."""

# hidden, layers, heads, feed-forward; max positions are max_length + 2 (XLM-R counts from padding_idx + 1)
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    "mini": {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 512},
    "small": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
    },
    "base": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536},
    "xlmr-base": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
    },
}


def model_config(name: str, vocab_size: int, max_length: int = 512, **overrides):
    """Return an XLMRobertaConfig for a preset name, a config.json path or an HF model folder."""
    from transformers import XLMRobertaConfig

    path = Path(name)
    if name in PRESETS:
        sizes = PRESETS[name]
    elif path.is_file() or (path / "config.json").is_file():
        config = XLMRobertaConfig.from_pretrained(str(path))
        if path.is_file():
            # a config.json alone gives the shape of a new model, whose rows are the tokenizer's ids (a model
            # folder keeps its vocabulary: its weights are checked against the tokenizer)
            config.vocab_size = vocab_size
        for key, value in overrides.items():
            setattr(config, key, value)
        if path.is_file():
            _fit_positions(config, name, max_length)
        return config
    else:
        raise ConfigError(
            f"model: {name!r} is neither a preset ({', '.join(PRESETS)}) nor a config/model path"
        )
    settings = {
        "vocab_size": vocab_size,
        "max_position_embeddings": max(max_length, 512) + 2,
        "type_vocab_size": 1,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        # XLM-R's (FacebookAI/xlm-roberta-base config.json), not transformers' BERT default of 1e-12
        "layer_norm_eps": 1e-5,
        **sizes,
    }
    return XLMRobertaConfig(**{**settings, **overrides})


def _fit_positions(config, name: str, max_length: int) -> None:
    """Return nothing after growing the position table of a new model's `config` (from config.json `name`) to
    the max_length + padding_idx + 1 rows that max_length needs (XLM-R counts positions from padding_idx + 1);
    a longer table is kept. Growing it past MAX_NEW_MODEL_LENGTH is a ConfigError, as for a preset."""
    needed = max_length + (config.pad_token_id or 0) + 1
    if config.max_position_embeddings >= needed:
        return
    if max_length > MAX_NEW_MODEL_LENGTH:
        raise ConfigError(f"max_length: {max_length} is above {MAX_NEW_MODEL_LENGTH}, the most a new model is "
                          f"made for ({name} has max_position_embeddings {config.max_position_embeddings})")  # fmt: skip
    config.max_position_embeddings = needed
