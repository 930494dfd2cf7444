"""A transformer sentence encoder: a Hugging Face encoder, a pooling rule and optional dense layers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from xling.embeddings.pooling import mean_pool
from xling.errors import ConfigError

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "cls", "max", "pooler")
# tokens, where neither the folder, the position table nor the tokenizer gives a limit
DEFAULT_MAX_LENGTH = 512
UNSET_TOKENIZER_LIMIT = int(1e30)  # transformers' model_max_length of a tokenizer saved without one
ST_PROMPT_CONFIG = "config_sentence_transformers.json"  # sentence-transformers' prompts and default prompt


@dataclass
class DenseLayer:
    """A sentence-transformers Dense module: y = activation(W x + b), x scaled to unit length first where a
    Normalize module stands before it (`normalize_input`), plus x itself (or R x) with `use_residual`."""

    weight: torch.Tensor
    bias: torch.Tensor | None
    activation: str = "identity"
    normalize_input: bool = False
    use_residual: bool = False
    """Add the input back to the output (sentence-transformers' use_residual)."""
    residual_weight: torch.Tensor | None = None
    """R of the residual where in_features != out_features (its `residual.weight`, no bias)."""


ACTIVATIONS = {"identity": nn.Identity, "tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def activation_name(st_name: str | None) -> str:
    """Return xling's name for a sentence-transformers activation path (torch.nn.modules.activation.Tanh):
    "identity" for None or "" (a Dense config without the key means Tanh, which the caller passes)."""
    if not st_name:
        return "identity"
    short = st_name.rsplit(".", 1)[-1].lower()
    if short not in ACTIVATIONS:
        raise ConfigError(
            f"Dense activation_function {st_name!r} is not supported ({', '.join(ACTIVATIONS)})"
        )
    return short


def _residual(layer_spec: DenseLayer) -> nn.Module:
    """Return what a Dense layer's use_residual adds to its output: its input as it is (same width), or
    projected by the layer's residual weight (another width); nn.Identity where it adds nothing."""
    if layer_spec.residual_weight is None:
        return nn.Identity()
    projection = nn.Linear(
        layer_spec.residual_weight.shape[1], layer_spec.residual_weight.shape[0], bias=False
    )
    with torch.no_grad():
        projection.weight.copy_(layer_spec.residual_weight)
    return projection


class TransformerSentenceEncoder(nn.Module):
    """Token states of one layer of `model`, pooled (mean/cls/max/pooler), then optional dense layers."""

    kind = "transformer"

    def __init__(
        self,
        model: nn.Module,
        hf_tokenizer,
        *,
        pooling: str = "mean",
        layer: int | None = None,
        max_length: int | None = 256,
        dense: Sequence[DenseLayer] = (),
        lowercase: bool = False,
        prompt: str = "",
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling {pooling!r} must be one of {', '.join(POOLINGS)}")
        if pooling == "pooler" and getattr(model, "pooler", None) is None:
            raise ConfigError("pooling 'pooler' needs a model with a pooler layer; this one has none")
        layers = getattr(model.config, "num_hidden_layers", None)
        if layer is not None and layers is not None and not -(layers + 1) <= layer <= layers:
            raise ConfigError(
                f"layer {layer}: the model has {layers} layers (0 is the embedding output, {layers} or -1 the "
                f"last; valid: {-(layers + 1)} to {layers})"
            )
        self.model = model
        self.hf_tokenizer = hf_tokenizer
        self.pooling = pooling
        self.layer = layer
        # None: the model's own limit (sentence-transformers' reading of a null or missing max_seq_length)
        table = position_table(model)
        if max_length is None:
            max_length = own_length_limit(table, getattr(hf_tokenizer, "model_max_length", None))
        self.max_length = max_length if table is None else min(max_length, table)
        # sentence_bert_config.json do_lower_case: sentence-transformers lowercases texts before tokenising
        self.lowercase = lowercase
        # config_sentence_transformers.json's default prompt: written before every text, as
        # sentence-transformers does when no other prompt is asked for
        self.prompt = prompt
        self.dense = nn.ModuleList()
        # per Dense layer: whether its input is scaled to unit length first (a Normalize module before it);
        # a list beside the layers, so that their weights keep their names (dense.0.0.weight)
        self.normalize_dense_input = [layer_spec.normalize_input for layer_spec in dense]
        # per Dense layer: what its use_residual adds back (x itself, or its projection), or None; kept
        # apart for the same reason, and only layers with a projection have weights in it
        self.dense_residuals = nn.ModuleList(_residual(layer_spec) for layer_spec in dense)
        for layer_spec in dense:
            linear = nn.Linear(
                layer_spec.weight.shape[1], layer_spec.weight.shape[0], bias=layer_spec.bias is not None
            )
            with torch.no_grad():
                linear.weight.copy_(layer_spec.weight)
                if layer_spec.bias is not None:
                    linear.bias.copy_(layer_spec.bias)
            self.dense.append(nn.Sequential(linear, ACTIVATIONS[layer_spec.activation]()))
        self.uses_residual = [layer_spec.use_residual for layer_spec in dense]
        self._tokenizer = truncating_backend(hf_tokenizer, self.max_length)
        self.pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0

    @property
    def dimension(self) -> int:
        if len(self.dense):
            return self.dense[-1][0].out_features
        return self.model.config.hidden_size

    def token_ids(self, texts: Sequence[str]) -> tuple[list[list[int]], int]:
        """Return (the ids of each text with special tokens, cut to max_length; how many were cut)."""
        if self.prompt:
            texts = [self.prompt + text for text in texts]
        if self.lowercase:
            texts = [text.lower() for text in texts]
        if self._tokenizer is None:  # a slow tokenizer: no overflow report from the Rust side
            # one token more than the limit tells a text cut from one exactly as long (counted cut before)
            ids = self.hf_tokenizer(list(texts), truncation=True, max_length=self.max_length + 1)["input_ids"]
            cut = [len(x) > self.max_length for x in ids]
            if any(cut):
                ids = self.hf_tokenizer(list(texts), truncation=True, max_length=self.max_length)["input_ids"]
            return ids, sum(cut)
        encodings = self._tokenizer.encode_batch(list(texts))
        return [e.ids for e in encodings], sum(bool(e.overflowing) for e in encodings)

    def collate(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Return the model inputs for a batch of id lists: right-padded input_ids and attention_mask."""
        return pad_batch(ids, self.pad_id)

    def featurize(self, texts: Sequence[str]) -> tuple[dict[str, torch.Tensor], int]:
        """Return (the model inputs for `texts`, how many were truncated)."""
        ids, truncated = self.token_ids(texts)
        return self.collate(ids), truncated

    def save(self, path: str | Path) -> None:
        """Write a sentence-transformers folder: the HF model and tokenizer, Pooling, Normalize.

        An encoder that reads a hidden layer (`layer` k) is saved cut to its first k layers, so that
        sentence-transformers, transformers and xling all read the same vectors from the folder.
        """
        import json

        if len(self.dense):
            raise ConfigError("saving dense layers is not supported yet; save the encoder without them")
        if self.pooling == "pooler":
            raise ConfigError("pooling: a sentence-transformers folder has no pooler-output mode; save an "
                              "encoder with cls, mean or max pooling")  # fmt: skip
        root = Path(path)
        self._model_to_save().save_pretrained(root)
        self.hf_tokenizer.save_pretrained(root)
        (root / "1_Pooling").mkdir(parents=True, exist_ok=True)
        (root / "2_Normalize").mkdir(exist_ok=True)
        modes = {"cls": "cls_token", "mean": "mean_tokens", "max": "max_tokens"}
        pooling = {f"pooling_mode_{m}": self.pooling == k for k, m in modes.items()}
        (root / "1_Pooling" / "config.json").write_text(
            json.dumps({"word_embedding_dimension": self.dimension, **pooling}, indent=2)
        )
        (root / "sentence_bert_config.json").write_text(
            json.dumps({"max_seq_length": self.max_length, "do_lower_case": self.lowercase})
        )
        modules = [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        (root / "modules.json").write_text(json.dumps(modules, indent=2))
        write_default_prompt(root, self.prompt)

    def drop_unread_layers(self) -> None:
        """Return nothing; cut the model to the layers the encoder reads (its first `layer`), as `save` cuts
        it: in training the layers above get no gradient (DDP refuses that at the second step) and cost
        their compute for nothing. ConfigError for a model that cannot be cut."""
        if self.layer is None:
            return
        total = self.model.config.num_hidden_layers
        index = self.layer if self.layer >= 0 else total + 1 + self.layer
        self.model = self._model_to_save()
        self.layer = index  # counted from the bottom: -2 of the cut model would be another layer

    def _model_to_save(self) -> nn.Module:
        """Return the model, or a copy cut to its first `layer` layers when the encoder reads that one."""
        import copy

        if self.layer is None:
            return self.model
        layers = getattr(getattr(self.model, "encoder", None), "layer", None)
        total = self.model.config.num_hidden_layers
        index = self.layer if self.layer >= 0 else total + 1 + self.layer  # hidden_states has total + 1
        if layers is None or not 0 < index <= total:
            raise ConfigError(f"layer: {self.layer} cannot be saved as a cut {type(self.model).__name__} "
                              f"(layers 1-{total} of a BERT-like encoder can)")  # fmt: skip
        if index == total:
            return self.model
        cut = copy.deepcopy(self.model)
        cut.encoder.layer = cut.encoder.layer[:index]
        cut.config.num_hidden_layers = index
        return cut

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = features["attention_mask"]
        out = self.model(
            input_ids=features["input_ids"], attention_mask=mask, output_hidden_states=self.layer is not None
        )
        if self.pooling == "pooler":
            vectors = out.pooler_output
        else:
            hidden = out.hidden_states[self.layer] if self.layer is not None else out.last_hidden_state
            vectors = pool(hidden, mask, self.pooling)
        dense = zip(
            self.dense, self.normalize_dense_input, self.dense_residuals, self.uses_residual, strict=True
        )
        for layer, unit_input, residual, uses_residual in dense:
            if unit_input:  # as sentence-transformers' Normalize: p=2 over the last dimension
                vectors = nn.functional.normalize(vectors, dim=-1)
            vectors = layer(vectors) + residual(vectors) if uses_residual else layer(vectors)
        return vectors


def write_default_prompt(root: Path, prompt: str) -> None:
    """Write root/config_sentence_transformers.json naming `prompt` as the default prompt, or no default
    prompt when it is "".

    Written even without a prompt: a save replaces the files of an earlier model in the folder one by one
    (`xling.training.model_folder.save_model_folder`), and an earlier model's default prompt left there
    would be written before every text by whoever loads the folder (xling and sentence-transformers).
    """
    import json

    settings = {"prompts": {"default": prompt}, "default_prompt_name": "default"} if prompt else {
        "prompts": {}, "default_prompt_name": None}  # fmt: skip
    (root / ST_PROMPT_CONFIG).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Return one vector per sequence from token states: mean or max over real tokens, or the first token."""
    if how == "cls":
        return hidden[:, 0]
    if how == "max":
        return hidden.masked_fill(mask.unsqueeze(-1) == 0, torch.finfo(hidden.dtype).min).max(dim=1).values
    return mean_pool(hidden, mask)


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Return right-padded input_ids and attention_mask tensors for a list of id lists."""
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    width = int(lengths.max()) if len(ids) else 0
    mask = np.arange(width)[None, :] < lengths[:, None]
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    input_ids[mask] = np.concatenate([np.asarray(x, dtype=np.int64) for x in ids]) if len(ids) else []
    return {
        "input_ids": torch.from_numpy(input_ids),
        "attention_mask": torch.from_numpy(mask.astype(np.int64)),
    }


def position_limit(model: nn.Module) -> int:
    """Return how many tokens the model's position table holds (DEFAULT_MAX_LENGTH for a model without one,
    as T5: see `position_table`)."""
    return position_table(model) or DEFAULT_MAX_LENGTH


def own_length_limit(table: int | None, tokenizer_limit: object) -> int:
    """Return the length limit of a model read without one: the lower of its position table and its
    tokenizer's model_max_length, as sentence-transformers reads a null max_seq_length; DEFAULT_MAX_LENGTH
    where neither gives one (a T5 whose tokenizer has no limit, which sentence-transformers does not cut)."""
    limits = [n for n in (table, tokenizer_limit) if isinstance(n, int) and not isinstance(n, bool)
              and 0 < n < UNSET_TOKENIZER_LIMIT]  # fmt: skip
    return min(limits) if limits else DEFAULT_MAX_LENGTH


def position_table(model: nn.Module) -> int | None:
    """Return how many tokens the model's position table holds; None when its config has none
    (max_position_embeddings): T5's positions are relative, nothing caps a text's length there.

    Models whose position embeddings have a padding index (XLM-R, RoBERTa, MPNet, ...) number positions
    from padding_idx + 1, so that many rows are not positions a text can use.
    """
    config = model.config
    limit = getattr(config, "max_position_embeddings", None)
    if not limit:
        return None
    table = next((module for name, module in model.named_modules() if name.endswith("position_embeddings")
                  and isinstance(module, nn.Embedding)), None)  # fmt: skip
    padding_idx = table.padding_idx if table is not None else None
    if padding_idx is None and getattr(config, "model_type", "") in ("xlm-roberta", "roberta", "camembert"):
        padding_idx = config.pad_token_id or 0
    if padding_idx is not None:
        limit -= padding_idx + 1
    return limit


def capped_length(max_length: int, model, folder: object) -> int:
    """Return `max_length` capped at the positions `model` has (`position_limit`); a lowered one is logged."""
    capped = min(max_length, position_limit(model))
    if capped < max_length:
        logger.info("max_length %d lowered to %d, the positions %s has", max_length, capped, folder)
    return capped


def truncating_backend(hf_tokenizer, max_length: int) -> Tokenizer | None:
    """Return a private copy of the fast tokenizer's Rust backend that truncates to max_length, unpadded."""
    backend = getattr(hf_tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    # the side the tokenizer's config names (tokenizer_config.json truncation_side), as sentence-transformers
    copy.enable_truncation(max_length, direction=getattr(hf_tokenizer, "truncation_side", "right") or "right")
    return copy
