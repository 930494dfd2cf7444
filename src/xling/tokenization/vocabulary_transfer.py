"""Vocabulary transfer: give a transformer encoder a new (e.g. multilingual) vocabulary, keeping its weights.

An English teacher such as all-MiniLM-L6-v2 reads Chinese as mostly `[UNK]` and Russian letter by letter.
`transfer_vocabulary` copies the encoder and replaces only its input embedding matrix with one row per token
of a new vocabulary (e.g. one made by `xling tokenizer train`), initialised from the teacher's own rows, the
FVT recipe of Gee et al. (2022, "Fast Vocabulary Transfer"):

- special tokens take the teacher's row of the same role (`<s>`/[CLS], `</s>`/[SEP], `<pad>`/[PAD], ...);
- a token whose surface the teacher has as one token (after the teacher's own normalisation, e.g. BERT's
  lowercasing and accent stripping, and in the teacher's word-start / continuation form: SentencePiece's
  `▁hello` is BERT's `hello`, `llo` is `##llo`) copies that row;
- any other token is split by the teacher's vocabulary and gets the mean of those sub-token rows, unknown
  parts left out (for WordPiece teachers a character the teacher lacks is skipped, not the whole word lost
  to `[UNK]` as BERT's tokenizer would do);
- a token with no usable sub-token (e.g. a Chinese character the teacher lacks, a language token, a
  non-ASCII byte-fallback token, the bare `▁`) gets a random row drawn from N(mean, diagonal covariance) of
  the teacher's embedding matrix, with a fixed seed.

Everything else (positions, layers, pooling, normalisation) stays the teacher's, so the new encoder starts
out encoding English about as the teacher does and is then trained (e.g. `xling align sentences` with
distillation from the teacher) to bring the other languages into the same space. The result is a
sentence-transformers folder (HF model + the new tokenizer) whose `xling.json` holds the row counts.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xling.artifacts import SENTENCE_ENCODER_FAMILY, has_metadata, read_metadata, write_metadata
from xling.atomic import atomic_folder, check_apart, check_replaceable
from xling.embeddings.encoder import Encoder, resolve_model
from xling.embeddings.transformer import TransformerSentenceEncoder
from xling.errors import ConfigError, DataError

METHOD = "fvt"
KINDS = ("special", "copied", "composed", "random")
# (role in the new vocabulary, role in the teacher's), first match wins: XLM-R's <s> is BERT's [CLS]
SPECIAL_ROLES = (
    ("cls", "cls"), ("bos", "cls"), ("cls", "bos"), ("bos", "bos"),
    ("sep", "sep"), ("eos", "sep"), ("sep", "eos"), ("eos", "eos"),
    ("pad", "pad"), ("unk", "unk"), ("mask", "mask"),
)  # fmt: skip
# kept with the new tokenizer (the tokenizer's xling.json goes under "tokenizer" in the encoder's)
TOKENIZER_EXTRAS = ("sentencepiece.bpe.model",)
BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass
class VocabTransferConfig:
    """Settings of `xling tokenizer transfer`."""

    model: str = ""
    """The transformer encoder to copy: a folder, shipped name or Hub id (required; no Dense layers or pooler
    pooling)."""

    tokenizer: str = ""
    """The new vocabulary's folder (`tokenizer.json`, e.g. from `xling tokenizer train`; required)."""

    output: str = "runs/transfer"
    """The encoder folder to write (sentence-transformers layout + xling.json)."""

    seed: int = 0
    """Seed of the random rows (tokens with no usable teacher sub-token)."""

    overwrite: bool = False
    """Replace a non-empty `output` (the new folder is renamed into place only when complete)."""

    def validate(self) -> None:
        if not self.model:
            raise ConfigError("model: give the transformer encoder folder (or shipped name) to transfer")
        if not self.tokenizer:
            raise ConfigError(
                "tokenizer: give the new vocabulary's folder (e.g. from `xling tokenizer train`)"
            )


@dataclass
class EmbeddingTransfer:
    """The new input embedding matrix and, per row, how it was made and from which teacher rows."""

    table: np.ndarray  # [new vocabulary size, hidden], float32
    kinds: list[str]  # per row: one of KINDS
    sources: list[list[int]]  # per row: the teacher ids averaged (empty for random rows)
    tokens: list[str]  # per row: the new vocabulary's token

    def counts(self) -> dict[str, int]:
        return {kind: self.kinds.count(kind) for kind in KINDS}

    def examples(self, kind: str, n: int = 20) -> list[str]:
        """Return up to n tokens of one kind, in id order (the report shows which rows were guessed)."""
        return [tok for tok, k in zip(self.tokens, self.kinds, strict=True) if k == kind][:n]


@dataclass
class VocabTransferReport:
    """What `transfer_vocabulary` wrote: the folder, the vocabulary sizes and how the rows were made."""

    output: Path
    teacher: str
    tokenizer: str
    tokenizer_sha256: str  # of its tokenizer.json: a re-trained vocabulary in the same folder is not reused
    vocab_size: int
    teacher_vocab_size: int
    counts: dict[str, int]
    random_examples: list[str] = field(default_factory=list)
    composed_examples: list[str] = field(default_factory=list)
    seed: int = 0
    method: str = METHOD
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output": str(self.output)}


def transfer_vocabulary(model: str | Path, tokenizer: str | Path, output: str | Path, *, seed: int = 0,
                        overwrite: bool = False) -> VocabTransferReport:  # fmt: skip
    """Return a report after writing `model` with the vocabulary of the `tokenizer` folder to `output`.

    `model`: a transformer encoder folder, shipped name or Hub id (sentence-transformers or plain Hugging Face,
    as `Encoder.load` reads it). `tokenizer`: a tokenizer folder (`tokenizer.json`). The folder is built
    next to `output` and renamed into place, so a crash never leaves half a model; an existing non-empty
    `output` is an error unless `overwrite`.
    """
    started = time.perf_counter()
    output = Path(output)
    inputs = [(f"the tokenizer folder {tokenizer}", tokenizer)]
    if Path(model).is_dir():
        inputs.append((f"the model folder {model}", model))
    check_apart(output, inputs)  # replacing the output would delete an input inside it
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise ConfigError(f"output: {output} is not empty; pass overwrite (--overwrite) to replace it")
    # overwrite replaces a sentence encoder, never a folder of other files (before the minutes of work)
    check_replaceable(output, overwrite, "sentence encoder", kind=SENTENCE_ENCODER_FAMILY)
    teacher_path = resolve_model(model)
    teacher = Encoder.load(teacher_path).module
    if not isinstance(teacher, TransformerSentenceEncoder):
        raise ConfigError(
            f"model: {model} is a {teacher.kind} encoder; vocabulary transfer needs a transformer"
        )
    if len(teacher.dense) or teacher.pooling == "pooler":
        raise ConfigError(f"model: {model} has Dense layers or pooler pooling, which xling cannot save yet")
    from xling.tokenization.vocabulary import load_tokenizer, tokenizer_metadata

    new_tokenizer = load_tokenizer(tokenizer)
    embeddings = teacher.model.get_input_embeddings().weight.detach().float().cpu().numpy()
    transfer = transfer_embeddings(teacher.hf_tokenizer, embeddings, new_tokenizer, seed=seed)
    student = _student(teacher, new_tokenizer, transfer.table)
    report = VocabTransferReport(
        output=output, teacher=str(teacher_path.resolve()), tokenizer=str(Path(tokenizer).resolve()),
        tokenizer_sha256=_sha256(Path(tokenizer) / "tokenizer.json"), vocab_size=len(transfer.kinds),
        teacher_vocab_size=embeddings.shape[0], counts=transfer.counts(),
        random_examples=transfer.examples("random"), composed_examples=transfer.examples("composed"), seed=seed,
    )  # fmt: skip
    with atomic_folder(
        output, overwrite=True, what="sentence encoder", kind=SENTENCE_ENCODER_FAMILY
    ) as staging:
        student.save(staging)
        for name in TOKENIZER_EXTRAS:
            if (Path(tokenizer) / name).is_file():
                shutil.copy2(Path(tokenizer) / name, staging / name)
        report.seconds = round(time.perf_counter() - started, 2)
        meta = {
            "name": output.name,
            "kind": f"{SENTENCE_ENCODER_FAMILY}/transformer",
            "dimension": student.dimension,
            "pooling": student.pooling,
            "max_length": student.max_length,
            # no layer: save() cuts the model at the layer read, so its last layer is that one (a
            # negative layer recorded here would count from the cut model's end, one layer too early)
            "vocabulary_transfer": {k: v for k, v in report.to_dict().items() if k != "output"},
        }
        write_metadata(staging, {**meta, "tokenizer": tokenizer_metadata(tokenizer)})
    return report


def cached_transfer(model: str | Path, tokenizer: str | Path, output: str | Path, *, seed: int = 0) -> Path:
    """Return `output` holding `model` transferred to `tokenizer`, reusing it when an earlier call made it."""
    output = Path(output)
    if has_metadata(output):
        done = read_metadata(output).get("vocabulary_transfer", {})
        wanted = {"teacher": str(resolve_model(model).resolve()), "tokenizer": str(Path(tokenizer).resolve()),
                  "tokenizer_sha256": _sha256(Path(tokenizer) / "tokenizer.json"), "seed": seed, "method": METHOD}  # fmt: skip
        if all(done.get(k) == v for k, v in wanted.items()):
            return output
    transfer_vocabulary(model, tokenizer, output, seed=seed, overwrite=True)
    return output


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def transfer_embeddings(teacher_tokenizer, teacher_embeddings: np.ndarray, new_tokenizer, *,
                        seed: int = 0) -> EmbeddingTransfer:  # fmt: skip
    """Return the new vocabulary's embedding rows made from the teacher's (see the module docstring).

    Both tokenizers are transformers fast tokenizers; `teacher_embeddings` is the teacher's input embedding
    matrix [teacher vocabulary size, hidden].
    """
    teacher = _TeacherVocabulary(teacher_tokenizer)
    surface_of = _surface_reader(new_tokenizer)
    vocab = new_tokenizer.get_vocab()
    size = len(new_tokenizer)
    tokens = [""] * size
    for token, index in vocab.items():
        if index >= size:
            raise DataError(f"token {token!r} has id {index} beyond the vocabulary size {size}")
        tokens[index] = token
    specials = _special_rows(teacher_tokenizer, new_tokenizer)
    special_ids = set(new_tokenizer.all_special_ids) | {
        i for i, t in getattr(new_tokenizer, "added_tokens_decoder", {}).items() if t.special
    }
    table = np.empty((size, teacher_embeddings.shape[1]), dtype=np.float32)
    kinds, sources = ["random"] * size, [[] for _ in range(size)]
    for index, token in enumerate(tokens):
        if index in specials:
            kinds[index], sources[index] = "special", [specials[index]]
        elif index not in special_ids:  # other special tokens (language tokens) have no surface: random
            form = surface_of(token)
            if form is not None:
                pieces = teacher.pieces(*form)
                # SentencePiece also writes a word's first piece after a bare "▁" ("▁", "Where"): take
                # the word-start reading where the teacher splits it into fewer pieces
                if not form[1]:
                    as_start = teacher.pieces(form[0], True)
                    pieces = as_start if len(as_start) < len(pieces) else pieces
                usable = [p for p in pieces if p is not None]
                if usable:
                    kinds[index] = "copied" if len(pieces) == 1 else "composed"
                    sources[index] = usable
        if sources[index]:
            table[index] = teacher_embeddings[sources[index]].mean(axis=0)
    random_rows = [i for i, k in enumerate(kinds) if k == "random"]
    if random_rows:
        mean, std = teacher_embeddings.mean(axis=0), teacher_embeddings.std(axis=0)
        noise = np.random.default_rng(seed).standard_normal((len(random_rows), table.shape[1]))
        table[random_rows] = (mean + std * noise).astype(np.float32)
    return EmbeddingTransfer(table, kinds, sources, tokens)


class _TeacherVocabulary:
    """How the teacher's tokenizer splits a surface string, as a list of ids (None where unknown)."""

    def __init__(self, hf_tokenizer):
        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ConfigError("vocabulary transfer needs the teacher's fast tokenizer (a tokenizer.json)")
        spec = json.loads(backend.to_str())
        self.backend = backend
        self.vocab = backend.get_vocab(with_added_tokens=True)
        self.kind = spec["model"]["type"]
        self.prefix = spec["model"].get("continuing_subword_prefix") or "##"
        self.marker = _metaspace_marker(spec.get("pre_tokenizer"))
        self.unk_id = self.vocab.get(hf_tokenizer.unk_token) if hf_tokenizer.unk_token else None
        if self.kind != "WordPiece" and self.marker is None:
            raise ConfigError(
                f"teacher tokenizer: a {self.kind} model without SentencePiece word starts (e.g. GPT-2 "
                "byte-level BPE) is not supported; WordPiece (BERT) and SentencePiece-style (XLM-R) are"
            )

    def pieces(self, surface: str, word_start: bool) -> list[int | None]:
        """Return the teacher ids for `surface` read as a word start or as the rest of a word."""
        if self.kind == "WordPiece":
            return self._wordpiece(surface, word_start)
        form = self.marker + surface.replace(" ", self.marker) if word_start else surface
        if form in self.vocab:
            return [self.vocab[form]]
        ids = [t.id for t in self.backend.model.tokenize(form)]
        return [None if i == self.unk_id else i for i in ids]

    def _wordpiece(self, surface: str, word_start: bool) -> list[int | None]:
        normalizer = self.backend.normalizer
        text = normalizer.normalize_str(surface) if normalizer is not None else surface
        continues = False
        if word_start:
            words = self._words(text)
        else:  # glue a letter in front: the first word continues a word unless the teacher splits it off
            words = self._words("a" + text)
            continues = bool(words) and len(words[0]) > 1
            words = [words[0][1:], *words[1:]] if continues else words[1:]
        out: list[int | None] = []
        for i, word in enumerate(words):
            out += self._greedy(word, continues and i == 0)
        return out

    def _words(self, text: str) -> list[str]:
        pre = self.backend.pre_tokenizer
        return [w for w, _ in pre.pre_tokenize_str(text)] if pre is not None else text.split()

    def _greedy(self, word: str, continues: bool) -> list[int | None]:
        """Return WordPiece's greedy longest-match split, with None for a character it cannot match."""
        out: list[int | None] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end]
                index = self.vocab.get(self.prefix + piece if start > 0 or continues else piece)
                if index is not None and index != self.unk_id:
                    out.append(index)
                    start = end
                    break
            else:
                out.append(None)
                start += 1
        return out


def _surface_reader(new_tokenizer) -> Callable[[str], tuple[str, bool] | None]:
    """Return token -> (surface string, whether it starts a word), or None for tokens with no surface."""
    backend = getattr(new_tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ConfigError("tokenizer: vocabulary transfer needs a fast tokenizer folder (a tokenizer.json)")
    spec = json.loads(backend.to_str())
    model = spec["model"]
    byte_fallback = bool(model.get("byte_fallback"))
    marker = _metaspace_marker(spec.get("pre_tokenizer"))
    if model["type"] == "WordPiece":
        prefix = model.get("continuing_subword_prefix") or "##"

        def split(token: str) -> tuple[str, bool]:
            return (token[len(prefix) :], False) if token.startswith(prefix) else (token, True)
    elif marker is not None:

        def split(token: str) -> tuple[str, bool]:
            if token.startswith(marker):
                return token[len(marker) :].replace(marker, " "), True
            return token.replace(marker, " "), False
    else:
        raise ConfigError(
            f"tokenizer: a {model['type']} vocabulary without SentencePiece word starts (e.g. GPT-2 byte-level"
            " BPE) is not supported; SentencePiece-style (xling tokenizer train, XLM-R) and WordPiece are"
        )

    def read(token: str) -> tuple[str, bool] | None:
        match = BYTE_TOKEN.fullmatch(token) if byte_fallback else None
        if match:  # a byte of a character the vocabulary lacks: only ASCII bytes stand for a character
            value = int(match.group(1), 16)
            return (chr(value), True) if 0x20 < value < 0x7F else None
        surface, word_start = split(token)
        return (surface, word_start) if surface.strip() else None

    return read


def _metaspace_marker(pre_tokenizer: dict[str, Any] | None) -> str | None:
    """Return the word-start marker of a Metaspace pre-tokenizer (possibly inside a Sequence), else None."""
    if not pre_tokenizer:
        return None
    if pre_tokenizer.get("type") == "Metaspace":
        return pre_tokenizer.get("replacement", "▁")
    for inner in pre_tokenizer.get("pretokenizers", []):
        marker = _metaspace_marker(inner)
        if marker is not None:
            return marker
    return None


def _special_rows(teacher_tokenizer, new_tokenizer) -> dict[int, int]:
    """Return {new special token id: teacher id of the same role}."""
    rows: dict[int, int] = {}
    for new_role, teacher_role in SPECIAL_ROLES:
        new_token = getattr(new_tokenizer, f"{new_role}_token", None)
        teacher_token = getattr(teacher_tokenizer, f"{teacher_role}_token", None)
        if new_token is None or teacher_token is None:
            continue
        new_id = new_tokenizer.convert_tokens_to_ids(new_token)
        teacher_id = teacher_tokenizer.convert_tokens_to_ids(teacher_token)
        if new_id is not None and teacher_id is not None and new_id not in rows:
            rows[new_id] = teacher_id
    return rows


def _student(
    teacher: TransformerSentenceEncoder, new_tokenizer, table: np.ndarray
) -> TransformerSentenceEncoder:
    """Return the teacher's model with `table` as its input embeddings and `new_tokenizer` as its tokenizer."""
    model, config = teacher.model, teacher.model.config
    pad_id = new_tokenizer.pad_token_id
    if config.model_type in ("roberta", "xlm-roberta", "camembert") and pad_id != config.pad_token_id:
        # these models number positions from the padding id: a new padding id would shift every position
        raise ConfigError(
            f"tokenizer: its padding id {pad_id} differs from the {config.model_type} model's "
            f"{config.pad_token_id}, which would shift the model's positions"
        )
    embedding = nn.Embedding(table.shape[0], table.shape[1], padding_idx=pad_id)
    with torch.no_grad():
        embedding.weight.copy_(torch.from_numpy(table))
    model.set_input_embeddings(embedding)
    config.vocab_size = table.shape[0]
    config.pad_token_id = pad_id
    for name in ("bos", "eos", "sep", "cls"):
        if getattr(config, f"{name}_token_id", None) is not None:
            setattr(config, f"{name}_token_id", getattr(new_tokenizer, f"{name}_token_id", None))
    # the student reads texts as the teacher did: its default prompt before each, lowercased if it lowercased
    return TransformerSentenceEncoder(model, new_tokenizer, pooling=teacher.pooling, layer=teacher.layer,
                                      max_length=teacher.max_length, lowercase=teacher.lowercase,
                                      prompt=teacher.prompt)  # fmt: skip


def unknown_rate(hf_tokenizer, texts: Sequence[str]) -> float:
    """Return the share of tokens of `texts` that are the tokenizer's unknown token (no special tokens)."""
    unk, total, unknown = hf_tokenizer.unk_token_id, 0, 0
    for ids in hf_tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        total += len(ids)
        unknown += sum(i == unk for i in ids)
    return unknown / max(total, 1)


__all__ = [
    "EmbeddingTransfer",
    "VocabTransferConfig",
    "VocabTransferReport",
    "cached_transfer",
    "transfer_embeddings",
    "transfer_vocabulary",
    "unknown_rate",
]
