"""Warm-starting a new translation model from an xling encoder (`init_encoder` of `xling mt train`).

Two parts, each used where it fits:

- **Token embeddings** (M2M-100 ties the encoder's and decoder's input embeddings and the output layer, so
  all three start from them): each piece of the translation vocabulary is written out as text and encoded by
  the encoder. For xling's static encoders (xling-mini) that vector is the mean of the rows of the pieces the
  encoder's own tokenizer cuts the text into: Fast Vocabulary Transfer (Gee et al. 2022, "Fast Vocabulary
  Transfer for Language Model Compression"). xling-mini's rows are aligned across languages, so a word and
  its translations start near each other; pre-trained embeddings help NMT most where data is scarce (Qi et al.
  2018, "When and Why Are Pre-trained Word Embeddings Useful for Neural Machine Translation?"). Vectors wider
  than the model are projected on their top principal directions, narrower ones padded with zeros, and all are
  rescaled to the model's initial standard deviation (M2M-100 scales embeddings by sqrt(d_model) itself).
  Special tokens, language tokens and byte pieces keep their random rows.
- **Encoder layers**, when the encoder is a BERT-style transformer (XLM-R, as `xling pretrain` writes) of the
  model's width, heads and feed-forward size: its layers go into the first encoder layers, as Rothe et al.
  (2020, "Leveraging Pre-trained Checkpoints for Sequence Generation Tasks") warm-start seq2seq models from
  BERT. BERT normalises after each sub-layer, M2M-100 before: the normalisation that produced a sub-layer's
  input in BERT becomes the one before that sub-layer here (the embedding normalisation before the first
  attention, a layer's output normalisation before the next attention, the last one as the encoder's final
  normalisation), so each attention and feed-forward block reads inputs normalised as it was trained on.
  The model must use the encoder's activation (`build_model` sets it).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import torch

from xling.errors import ConfigError

logger = logging.getLogger(__name__)

BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")
WORD_START = "\u2581"  # SentencePiece's word-start mark


@dataclass
class WarmStart:
    """What `warm_start` took from the encoder."""

    encoder: str
    embedding_rows: int
    """Rows of the shared embeddings written from the encoder (the rest keep their random start)."""
    layers: int
    """Encoder layers copied from a transformer encoder (0 for a static one or one of another shape)."""


def load_encoder(name_or_path: str):
    """Return the xling Encoder named by `init_encoder`; a ConfigError naming the field when it cannot load."""
    from xling.embeddings.encoder import Encoder
    from xling.errors import XlingError

    try:
        return Encoder.load(name_or_path)
    except (XlingError, OSError) as error:
        raise ConfigError(
            f"init_encoder: cannot load {name_or_path!r} as an xling encoder: {error}"
        ) from error


def piece_texts(tokenizer, skip_ids: set[int]) -> dict[int, str]:
    """Return the text each ordinary piece of `tokenizer` stands for, by id (specials, `skip_ids` such as the
    language tokens, byte pieces and the bare word-start mark left out)."""
    skip = set(skip_ids) | set(tokenizer.all_special_ids)
    texts: dict[int, str] = {}
    for token_id, piece in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        if token_id in skip or piece is None or BYTE_PIECE.match(piece):
            continue
        text = piece.replace(WORD_START, " ").strip()
        if text:
            texts[token_id] = text
    return texts


def fit_width(vectors: torch.Tensor, width: int) -> torch.Tensor:
    """Return `vectors` [n, d] as [n, width]: their projection on the top `width` principal directions when
    d > width, zero-padded when d < width."""
    rows, dim = vectors.shape
    if dim == width:
        return vectors
    if dim < width:
        return torch.cat([vectors, vectors.new_zeros(rows, width - dim)], dim=1)
    centred = vectors - vectors.mean(dim=0, keepdim=True)
    _, _, directions = torch.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:width].T


@torch.no_grad()
def warm_start_embeddings(model, tokenizer, encoder, skip_ids: set[int], batch_size: int = 256) -> int:
    """Return how many rows of the model's shared embeddings were written from `encoder`'s vectors of the
    vocabulary's pieces (see the module docstring)."""
    texts = piece_texts(tokenizer, skip_ids)
    if not texts:
        return 0
    ids = list(texts)
    vectors = torch.from_numpy(
        encoder.encode([texts[i] for i in ids], batch_size=batch_size, normalize=False)
    )
    weight = model.get_input_embeddings().weight
    vectors = fit_width(vectors.float(), weight.shape[1])
    vectors = vectors - vectors.mean(dim=0, keepdim=True)
    vectors = vectors * (model.config.init_std / vectors.std().clamp_min(1e-12))
    weight[torch.tensor(ids)] = vectors.to(weight.dtype)
    return len(ids)


def bert_layers(hf_model) -> Any | None:
    """Return the layer list of a BERT-style model (XLM-R, RoBERTa, BERT), or None for another kind."""
    layers = getattr(getattr(hf_model, "encoder", None), "layer", None)
    if layers is None or not len(layers) or not hasattr(layers[0], "attention"):
        return None
    return layers


def layer_mismatch(hf_config, m2m_config) -> str:
    """Return why a BERT-style config's layers cannot go into an M2M-100 encoder ("" when they can)."""
    pairs = {
        "hidden_size / d_model": (hf_config.hidden_size, m2m_config.d_model),
        "num_attention_heads / encoder_attention_heads": (
            hf_config.num_attention_heads,
            m2m_config.encoder_attention_heads,
        ),
        "intermediate_size / encoder_ffn_dim": (hf_config.intermediate_size, m2m_config.encoder_ffn_dim),
    }
    return ", ".join(f"{name} {a} != {b}" for name, (a, b) in pairs.items() if a != b)


def layer_activation(encoder, m2m_config) -> str | None:
    """Return the activation a model of `m2m_config` needs to take `encoder`'s layers: that of a BERT-style
    transformer of the same shapes; None when its layers will not be copied."""
    hf_model = getattr(encoder.module, "model", None)
    if hf_model is None or bert_layers(hf_model) is None or layer_mismatch(hf_model.config, m2m_config):
        return None
    return getattr(hf_model.config, "hidden_act", None)


@torch.no_grad()
def warm_start_layers(model, encoder) -> int:
    """Return how many encoder layers were copied from a BERT-style transformer encoder (0 when it is not
    one, or its shapes differ from the model's: logged)."""
    hf_model = getattr(encoder.module, "model", None)
    source = bert_layers(hf_model) if hf_model is not None else None
    if source is None:
        return 0
    mismatch = layer_mismatch(hf_model.config, model.config)
    if mismatch:
        logger.warning("init_encoder: layers not copied (%s); embeddings only", mismatch)
        return 0
    target = model.get_encoder().layers
    count = min(len(source), len(target))

    def copy(into: torch.nn.Module, origin: torch.nn.Module) -> None:
        into.weight.copy_(origin.weight)
        into.bias.copy_(origin.bias)

    copy(target[0].self_attn_layer_norm, hf_model.embeddings.LayerNorm)
    for i in range(count):
        mine, theirs = target[i], source[i]
        copy(mine.self_attn.q_proj, theirs.attention.self.query)
        copy(mine.self_attn.k_proj, theirs.attention.self.key)
        copy(mine.self_attn.v_proj, theirs.attention.self.value)
        copy(mine.self_attn.out_proj, theirs.attention.output.dense)
        copy(mine.final_layer_norm, theirs.attention.output.LayerNorm)
        copy(mine.fc1, theirs.intermediate.dense)
        copy(mine.fc2, theirs.output.dense)
        after = target[i + 1].self_attn_layer_norm if i + 1 < len(target) else model.get_encoder().layer_norm
        copy(after, theirs.output.LayerNorm)
    return count


def warm_start(model, tokenizer, encoder, name: str, skip_ids: set[int]) -> WarmStart:
    """Return what was taken from `encoder` into the new translation `model` (embeddings, then layers)."""
    rows = warm_start_embeddings(model, tokenizer, encoder, skip_ids)
    layers = warm_start_layers(model, encoder)
    logger.info("init_encoder %s: %d embedding rows, %d encoder layers", name, rows, layers)
    return WarmStart(name, rows, layers)
