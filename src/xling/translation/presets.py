"""Translation model sizes by name: the M2M-100 architecture through transformers' `M2M100Config`."""

from __future__ import annotations

import json
from pathlib import Path

from xling.errors import ConfigError

# d_model, encoder/decoder layers, heads, feed-forward. The smaller presets put more layers in the encoder
# than in the decoder: a deep encoder and a shallow decoder keep most of the quality of a balanced model and
# decode much faster (Kasai et al. 2021, "Deep Encoder, Shallow Decoder").
PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"d_model": 64, "encoder_layers": 1, "decoder_layers": 1, "attention_heads": 2, "ffn_dim": 128},
    "mini": {"d_model": 256, "encoder_layers": 3, "decoder_layers": 3, "attention_heads": 4, "ffn_dim": 1024},
    "small": {
        "d_model": 256,
        "encoder_layers": 6,
        "decoder_layers": 2,
        "attention_heads": 4,
        "ffn_dim": 1024,
    },
    "base": {"d_model": 512, "encoder_layers": 6, "decoder_layers": 6, "attention_heads": 8, "ffn_dim": 2048},
}


def model_config(name: str, vocab_size: int, *, dropout: float = 0.1, max_positions: int = 1024, **overrides):
    """Return an M2M100Config for a preset name or a config.json path, with xling's special-token ids (a
    preset's) and `dropout` (both)."""
    from transformers import M2M100Config

    path = Path(name)
    if name in PRESETS:
        preset = PRESETS[name]
        sizes = {
            "d_model": preset["d_model"],
            "encoder_layers": preset["encoder_layers"],
            "decoder_layers": preset["decoder_layers"],
            "encoder_attention_heads": preset["attention_heads"],
            "decoder_attention_heads": preset["attention_heads"],
            "encoder_ffn_dim": preset["ffn_dim"],
            "decoder_ffn_dim": preset["ffn_dim"],
        }
    elif path.is_file():
        # a config.json gives the architecture of a new model; the run's dropout applies to it as to a preset
        try:
            fields = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:  # transformers' own error was an OSError traceback
            raise ConfigError(f"model: {name} is not a readable config.json: {error}") from None
        kind = fields.get("model_type", M2M100Config.model_type) if isinstance(fields, dict) else None
        if kind != M2M100Config.model_type:
            # transformers only warns, then builds M2M-100 with the defaults for the fields it lacks
            raise ConfigError(f"model: {name} describes a {kind!r} model, not M2M-100's (model_type m2m_100), "
                              "which a new translation model is")  # fmt: skip
        try:
            return M2M100Config.from_pretrained(str(path), **{"dropout": dropout, **overrides})
        except (OSError, ValueError, TypeError) as error:  # fields of the wrong type
            raise ConfigError(f"model: {name} is not a usable M2M-100 config.json: {error}") from None
    else:
        raise ConfigError(f"model: {name!r} is neither a preset ({', '.join(PRESETS)}) nor a config.json or "
                          "model folder")  # fmt: skip
    settings = {
        "vocab_size": vocab_size,
        "max_position_embeddings": max_positions,
        "dropout": dropout,
        "attention_dropout": 0.0,
        "activation_dropout": 0.0,
        "encoder_layerdrop": 0.0,
        "decoder_layerdrop": 0.0,
        "scale_embedding": True,
        # xling's SentencePiece specials: <s>=0 <pad>=1 </s>=2; M2M-100 starts decoding from </s>
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "decoder_start_token_id": 2,
        "tie_word_embeddings": True,
        **sizes,
    }
    return M2M100Config(**{**settings, **overrides})
