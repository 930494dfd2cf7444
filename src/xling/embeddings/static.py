"""A static sentence encoder: the mean of sub-word vectors (sentence-transformers' StaticEmbedding shape).

On CPUs this is the strong design for cross-lingual sentence vectors: one embedding-bag lookup per
sentence, tens of thousands of sentences per second, and trained with translation ranking it retrieves
translations far better than a small transformer trained for the same CPU time.

Saved as a sentence-transformers folder (`modules.json` -> `0_StaticEmbedding/` with `model.safetensors`
holding `embedding.weight` and `tokenizer.json`, then `1_Normalize`), so `SentenceTransformer(folder)` loads
what xling trains and xling loads what sentence-transformers or model2vec save.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from torch import nn

from xling.embeddings.st_modules import read_st_modules
from xling.embeddings.transformer import write_default_prompt
from xling.embeddings.weights import load_safetensors
from xling.errors import DataError

MODULE_DIR = "0_StaticEmbedding"
ST_TYPE = "sentence_transformers.models.StaticEmbedding"


def static_module_dir(folder: str | Path) -> PurePosixPath:
    """Return the folder, relative to the sentence-transformers `folder`, of its StaticEmbedding module:
    modules.json's first entry (0_StaticEmbedding/ where xling saves it, the root "." where
    sentence-transformers 6 does), 0_StaticEmbedding/ without a modules.json."""
    modules = read_st_modules(folder)
    return modules[0].path if modules else PurePosixPath(MODULE_DIR)


class StaticSentenceEncoder(nn.Module):
    """Sentence vector = mean of the vectors of its sub-word tokens (no special tokens; no length limit unless
    its tokenizer.json sets truncation, which sentence-transformers keeps too).

    Its gradients are sparse (only the rows of the tokens in a batch), which xling's training loop pairs
    with LazyAdamW: the cost of a step follows the tokens used, not the vocabulary size. `prompt`: written
    before every text (config_sentence_transformers.json's default prompt, as sentence-transformers does).
    """

    kind = "static"

    def __init__(self, tokenizer: Tokenizer, embedding: torch.Tensor | None = None, dimension: int = 256,
                 sparse: bool = True, *, prompt: str = ""):  # fmt: skip
        super().__init__()
        self.tokenizer = tokenizer
        self.tokenizer.no_padding()  # pad ids would count in the mean (sentence-transformers clears it too)
        if embedding is None:
            # a new encoder over a tokenizer made for something else (a transformer's, cut at 512): xling's
            # static encoders read whole texts; a trained one keeps the truncation it was saved with
            self.tokenizer.no_truncation()
        self.prompt = prompt
        if embedding is not None:
            self.embedding = nn.EmbeddingBag.from_pretrained(
                embedding.float(), freeze=False, mode="mean", sparse=sparse
            )
        else:
            self.embedding = nn.EmbeddingBag(
                tokenizer.get_vocab_size(), dimension, mode="mean", sparse=sparse
            )
            nn.init.normal_(self.embedding.weight, std=dimension**-0.5)

    @property
    def dimension(self) -> int:
        return self.embedding.embedding_dim

    @property
    def max_length(self) -> int | None:
        """Return the token limit its tokenizer.json sets (truncation), None when it sets none."""
        truncation = self.tokenizer.truncation
        return truncation["max_length"] if truncation else None

    def token_ids(self, texts: Sequence[str]) -> tuple[list[list[int]], int]:
        """Return (the token ids of each text, the prompt first and no special tokens; how many were cut)."""
        if self.prompt:
            texts = [self.prompt + text for text in texts]
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [enc.ids for enc in encodings], sum(bool(enc.overflowing) for enc in encodings)

    def collate(self, ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
        """Return the model inputs for a batch of id lists: flat ids and offsets."""
        return bag_features(ids)

    def featurize(self, texts: Sequence[str]) -> tuple[dict[str, torch.Tensor], int]:
        """Return (the model inputs for `texts`, how many were truncated)."""
        ids, truncated = self.token_ids(texts)
        return self.collate(ids), truncated

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, offsets = features["input_ids"], features["offsets"]
        weight = self.embedding.weight
        if not (torch.is_grad_enabled() and weight.requires_grad):
            return self.embedding(ids, offsets)
        # Training: gather the batch's distinct rows once, so the gradient is one row per distinct token
        # (a coalesced sparse tensor) rather than one row per token occurrence, as EmbeddingBag's own
        # sparse backward makes (6x the rows here, and a costly coalesce in the optimizer).
        rows, local_ids = torch.unique(ids, return_inverse=True)
        table = GatherRows.apply(weight, rows)
        return nn.functional.embedding_bag(local_ids, table, offsets, mode="mean")

    def save(self, path: str | Path, *, dtype: torch.dtype = torch.float32) -> None:
        """Write the sentence-transformers folder layout (see the module docstring).

        `dtype` torch.int8 writes model2vec's tensors instead: `embeddings` as int8 and `weights`, one float32
        scale per token (row = embeddings[i] * weights[i]), a quarter of float32's size; sentence-transformers
        (>= 6.2) folds them back into one float row per token on load, as `load` does. (model2vec 0.10 itself
        reads these tensors only from a folder's root, not from the module folder written here.)
        """
        root = Path(path)
        (root / MODULE_DIR).mkdir(parents=True, exist_ok=True)
        (root / "1_Normalize").mkdir(exist_ok=True)
        weight = self.embedding.weight.detach().to("cpu", torch.float32)
        if dtype == torch.int8:
            tensors = dict(zip(("embeddings", "weights"), quantize_rows(weight), strict=True))
        else:
            tensors = {"embedding.weight": weight.to(dtype).contiguous()}
        save_file(tensors, str(root / MODULE_DIR / "model.safetensors"))
        # compact JSON: half the size of pretty JSON
        self.tokenizer.save(str(root / MODULE_DIR / "tokenizer.json"), pretty=False)
        modules = [
            {"idx": 0, "name": "0", "path": MODULE_DIR, "type": ST_TYPE},
            {"idx": 1, "name": "1", "path": "1_Normalize", "type": "sentence_transformers.models.Normalize"},
        ]
        (root / "modules.json").write_text(json.dumps(modules, indent=2) + "\n", encoding="utf-8")
        write_default_prompt(root, self.prompt)

    @classmethod
    def load(cls, module_dir: str | Path, *, prompt: str = "") -> StaticSentenceEncoder:
        """Return the encoder saved in `module_dir` (a StaticEmbedding or model2vec folder), writing `prompt`
        before every text."""
        root = Path(module_dir)
        tokenizer_path, weights_path = root / "tokenizer.json", root / "model.safetensors"
        for needed in (tokenizer_path, weights_path):
            if not needed.is_file():
                raise DataError("static embedding folder lacks this file", needed)
        weights = load_safetensors(weights_path)
        embedding = _token_rows(weights, weights_path)
        try:
            tokenizer = Tokenizer.from_file(str(tokenizer_path))
        except Exception as error:  # tokenizers raises a bare Exception for a damaged file
            raise DataError(f"not a readable tokenizer: {error}", tokenizer_path) from None
        rows, vocab = embedding.shape[0], tokenizer.get_vocab_size()
        if rows < vocab:
            raise DataError(f"{rows} embedding rows for a {vocab}-token vocabulary", weights_path)
        if vocab < rows / 2:  # another model's tokenizer: most rows unreachable, the vectors meaningless
            raise DataError(f"the tokenizer holds {vocab:,} tokens for {rows:,} embedding rows: it is another "
                            "model's, or damaged", tokenizer_path)  # fmt: skip
        return cls(tokenizer, embedding, prompt=prompt)


def _token_rows(weights: dict[str, torch.Tensor], path: Path) -> torch.Tensor:
    """Return the (tokens, dimension) float table of a StaticEmbedding's (`embedding.weight`) or model2vec's
    tensors (`embeddings`, with an optional token `mapping` and per-token `weights`); DataError naming `path`
    for another set or shapes that do not fit (a damaged or foreign file: torch's own error named neither)."""
    if "embedding.weight" in weights:
        embedding = weights["embedding.weight"]
    elif "embeddings" in weights:
        embedding = weights["embeddings"].float()
        if "mapping" in weights:
            mapping = weights["mapping"].long()
            if mapping.ndim != 1 or (
                len(mapping) and not 0 <= int(mapping.min()) <= int(mapping.max()) < len(embedding)
            ):
                raise DataError(f"mapping of shape {tuple(mapping.shape)} does not index the {len(embedding)} rows",
                                path)  # fmt: skip
            embedding = embedding[mapping]
        if "weights" in weights:
            scale = weights["weights"].float()
            if tuple(scale.shape) != (embedding.shape[0],):
                raise DataError(f"weights of shape {tuple(scale.shape)} for {embedding.shape[0]} rows", path)
            embedding = embedding * scale[:, None]
    else:
        raise DataError(f"no 'embedding.weight' or 'embeddings' tensor (has {sorted(weights)})", path)
    if embedding.ndim != 2:
        raise DataError(
            f"the embedding table has shape {tuple(embedding.shape)}, not (tokens, dimension)", path
        )
    return embedding


class GatherRows(torch.autograd.Function):
    """weight[rows] whose gradient w.r.t. weight is a coalesced sparse tensor over `rows` only."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        ctx.shape = weight.shape
        return weight[rows]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (rows,) = ctx.saved_tensors
        sparse = torch.sparse_coo_tensor(
            rows.unsqueeze(0), grad, ctx.shape, is_coalesced=True, check_invariants=False
        )
        return sparse, None


def quantize_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (int8 rows, float32 scale per row): row i ~ int8[i] * scale[i], each row's largest entry 127.

    Per-row scales keep rare tokens' short rows as precise as frequent tokens' long ones.
    """
    scale = weight.abs().amax(dim=1) / 127.0
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))  # an all-zero row stays zero
    rows = torch.round(weight / safe[:, None]).clamp_(-127, 127).to(torch.int8)
    return rows.contiguous(), scale.to(torch.float32).contiguous()


def bag_features(ids: Sequence[Sequence[int]]) -> dict[str, torch.Tensor]:
    """Return {"input_ids": all ids flat, "offsets": where each sentence starts} for an EmbeddingBag."""
    arrays = [np.asarray(x, dtype=np.int64) for x in ids]
    lengths = np.fromiter((len(x) for x in arrays), dtype=np.int64, count=len(arrays))
    offsets = np.zeros(len(arrays), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    flat = np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.int64)
    return {"input_ids": torch.from_numpy(flat), "offsets": torch.from_numpy(offsets)}
