"""Token classification (POS tagging, NER) learned in one language and applied to others.

Two methods, both behind `train_tagger(config, train, dev)`:

- "frozen" (the default, for static encoders such as xling-mini; seconds on a CPU): every word becomes the
  encoder's vector of the word alone, concatenated with the vectors of its `context` left and right
  neighbours (zeros past the sentence ends) and a few language-neutral shape features (first word, last
  word, punctuation or symbol only, has a digit); a scikit-learn logistic regression learns the tags. The
  encoder stays frozen, so words of any language the encoder aligned land where their translations are. The
  regularisation strength is chosen on the source language's dev set only.
- "finetune": `AutoModelForTokenClassification` on a transformer encoder folder, fine-tuned through xling's
  one training loop (`xling.training.train`: checkpoints, resume, DDP, bf16, progress), with each word's tag
  on its first sub-token (-100 on the others) and the best checkpoint by source-dev accuracy kept. The saved
  folder loads with `AutoModelForTokenClassification.from_pretrained` (tag names in config.json's id2label).

A tagger has `.labels`, `.predict(sentences_of_words) -> tags` and `.save(folder)`; `load_tagger(folder)`
reads either kind back (weights in safetensors, metadata in xling.json, never a pickle).
`evaluate_tagger(tagger, test_sets)` returns one `Result`: per-language accuracy, the always-the-majority-tag
baseline, and whether the encoder saw the language in training.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from xling.artifacts import TAGGER_FAMILY, read_metadata, write_metadata
from xling.atomic import atomic_folder
from xling.config import config_to_dict
from xling.data.conllu import TaggedSentences
from xling.data.languages import language_code_of, normalize_language, same_language
from xling.embeddings.fingerprint import PROBE_TENSOR, check_fingerprint, probe_vectors
from xling.embeddings.transformer import capped_length, position_limit
from xling.embeddings.transformer import pad_batch as pad_ids
from xling.errors import ConfigError, DataError, LanguageCodeError
from xling.evaluation.result import Result
from xling.training import TrainingConfig, train
from xling.training.model_folder import save_model_folder
from xling.transfer.evaluate import check_source

__all__ = [
    "FinetunedTagger",
    "FrozenTagger",
    "Tagger",
    "TaggerConfig",
    "evaluate_tagger",
    "load_tagger",
    "render_tagging",
    "train_tagger",
]

logger = logging.getLogger(__name__)

FROZEN_KIND = f"{TAGGER_FAMILY}/frozen"
FINETUNED_KIND = f"{TAGGER_FAMILY}/finetune"
HEAD_FILE = "head.safetensors"
METHODS = ("frozen", "finetune")
IGNORE_INDEX = -100
SHAPE_FEATURES = ("first", "last", "punct", "digit")
# besides the training bookkeeping: fields a resumed fine-tuning run may change
RESUMABLE = ("output", "resume", "overwrite")


def _finetune_training() -> TrainingConfig:
    """Return the default training section of fine-tuning: short, best checkpoint on source-dev accuracy."""
    return TrainingConfig(max_steps=600, batch_size=16, lr=3e-5, warmup_steps=60, eval_every=100,
                          checkpoint_every=100, best_metric="dev_accuracy", log_every=20)  # fmt: skip


@dataclass
class TaggerConfig:
    """How to train a tagger (`[transfer.tagger]` in a recipe once the CLI exists)."""

    method: str = "frozen"
    """"frozen": the encoder's word vectors + logistic regression (any encoder `xling.Encoder` loads; seconds
    on CPU). "finetune": AutoModelForTokenClassification on a transformer folder, through the training
    loop."""

    encoder: str = "xling-mini"
    """The encoder: a shipped model name, or a folder (sentence-transformers, static, or Hugging Face; a
    Hugging Face transformer folder for "finetune")."""

    output: str = ""
    """The folder to save the tagger in. "frozen": "" = not saved (save it later with `.save`). "finetune":
    required; it also holds the run's checkpoints and `best/`."""

    overwrite: bool = False
    """Replace a tagger already saved in `output` (a tagger of the other method goes whole: "finetune" deletes
    a frozen one just before training, so a run that fails on its encoder or data leaves it; a fine-tuning
    run's own checkpoints are restarted, or resumed with `resume`)."""

    context: int = 1
    """"frozen": neighbours on each side whose vectors are added to a word's features (0 = the word alone)."""

    shape_features: bool = True
    """"frozen": add the language-neutral features first word, last word, punctuation/symbol only, has a
    digit (no capitalisation: many scripts have none, and German capitalises every noun)."""

    c_values: list[float] = field(default_factory=lambda: [0.1, 0.3, 1.0, 3.0])
    """"frozen": inverse regularisation strengths of the logistic regression tried; the one with the best
    accuracy on the source-language dev set is kept (ties: the smaller, i.e. the more regularised)."""

    c: float = 1.0
    """"frozen": the inverse regularisation strength used when there is no dev set (or c_values is empty)."""

    max_iter: int = 300
    """"frozen": iterations of scikit-learn's lbfgs solver."""

    max_length: int = 128
    """"finetune": sub-tokens per training sentence (longer ones are cut; their later words go untrained).
    Prediction splits long sentences into pieces that fit the model instead."""

    resume: bool = False
    """"finetune": continue from the newest checkpoint in `output`."""

    seed: int = 0
    """Seeds the logistic regression ("frozen"; fine-tuning uses training.seed)."""

    training: TrainingConfig = field(default_factory=_finetune_training)
    """"finetune": the training loop (steps, batch, learning rate, evaluations every eval_every steps on the
    source dev set, best_metric "dev_accuracy"); without a dev set no best checkpoint is kept."""

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method: {self.method!r} must be one of {', '.join(METHODS)}")
        if not self.encoder:
            raise ConfigError("encoder: give a model name or folder")
        if self.context < 0:
            raise ConfigError(f"context: {self.context} must be 0 or more")
        if self.c <= 0 or any(value <= 0 for value in self.c_values):
            raise ConfigError(
                f"c / c_values: regularisation strengths must be > 0 ({self.c}, {self.c_values})"
            )
        if self.max_iter < 1:
            raise ConfigError(f"max_iter: {self.max_iter} must be at least 1")
        if self.max_length < 8:
            raise ConfigError(f"max_length: {self.max_length} must be at least 8")
        if self.method == "finetune":
            if not self.output:
                raise ConfigError("output: fine-tuning needs a folder (for the model and its checkpoints)")
            self.training.validate()


class Tagger(Protocol):
    """What every xling tagger offers."""

    labels: list[str]
    meta: dict[str, Any]

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]: ...

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path: ...


# --- input checks ------------------------------------------------------------------------------------


def check_sentences(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Return `sentences` as lists of words; a DataError names the first sentence that is not a non-empty
    list of non-empty strings."""
    if isinstance(sentences, str):
        raise DataError("predict() takes a list of sentences, each a list of words, not one string")
    out = []
    for i, words in enumerate(sentences):
        if isinstance(words, str):
            raise DataError(f"sentence {i} is a string; give each sentence as a list of words")
        words = list(words)
        if not words:
            raise DataError(f"sentence {i} has no words")
        for j, word in enumerate(words):
            if not isinstance(word, str) or not word.strip():
                raise DataError(f"sentence {i}, word {j}: {word!r} is not a non-empty string")
        out.append(words)
    return out


def _training_data(train: TaggedSentences) -> None:
    """Return nothing if `train` can teach a tagger (at least two tags); raise DataError otherwise."""
    if len(train.tag_counts()) < 2:
        found = len(train.tag_counts())
        raise DataError(
            f"the training data has {found} distinct tag(s); a tagger needs 2 or more", train.source
        )


def _check_known_tags(data: TaggedSentences, labels: Sequence[str]) -> None:
    """Raise DataError naming the file, the line its sentence starts on and the word of the first gold tag
    the tagger does not know."""
    known = set(labels)
    for i, tags in enumerate(data.tags):
        for k, tag in enumerate(tags):
            if tag not in known:
                raise DataError(f"gold tag {tag!r} (sentence {i + 1}, which starts here; word {k + 1}, "
                                f"{data.words[i][k]!r}) is not one the tagger knows (it knows "
                                f"{', '.join(labels)})", data.source, data.line(i))  # fmt: skip


def _unknown_gold_tags(data: TaggedSentences, labels: Sequence[str]) -> int:
    """Return how many gold tags of a test set the tagger does not know (each is scored as an error: the
    tagset is universal, and a source treebank may simply lack PART or INTJ); DataError naming the file when
    most of them are unknown (another tag scheme, not a gap)."""
    known = set(labels)
    unknown = Counter(tag for tags in data.tags for tag in tags if tag not in known)
    total = sum(unknown.values())
    if total * 2 > data.tokens:
        _check_known_tags(data, labels)  # names the first one, with its line
    if total:
        shown = ", ".join(f"{tag} {n}" for tag, n in unknown.most_common(5))
        logger.warning("%s: %d of %d gold tags are ones the tagger never learnt (%s): scored as errors",
                       data.source, total, data.tokens, shown)  # fmt: skip
    return total


def _accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """Return the percentage of words whose predicted tag is the gold one."""
    right = sum(g == p for gs, ps in zip(gold, predicted, strict=True) for g, p in zip(gs, ps, strict=True))
    total = sum(len(gs) for gs in gold)
    return 100.0 * right / max(total, 1)


def _majority(counts: Mapping[str, int]) -> str:
    """Return the most frequent tag (ties: the first in sorted order)."""
    return min(counts, key=lambda tag: (-counts[tag], tag))


def _encoder_languages(meta: Mapping[str, Any]) -> list[str]:
    """Return the ISO 639-3 codes an encoder's metadata says it was trained on ([] when it does not say)."""
    out = []
    for code in meta.get("languages") or []:
        try:
            out.append(normalize_language(str(code)))
        except LanguageCodeError:
            continue
    return out


# --- frozen encoder + logistic regression --------------------------------------------------------------


def _is_punct(word: str) -> bool:
    return all(unicodedata.category(ch)[0] in "PS" for ch in word)


def shape_features(words: Sequence[str]) -> np.ndarray:
    """Return [len(words), 4] float32: first word, last word, punctuation/symbol only, has a digit."""
    n = len(words)
    rows = [(i == 0, i == n - 1, _is_punct(w), any(ch.isdigit() for ch in w)) for i, w in enumerate(words)]
    return np.asarray(rows, dtype=np.float32).reshape(n, len(SHAPE_FEATURES))


def word_features(encoder, sentences: Sequence[Sequence[str]], context: int, use_shape: bool) -> np.ndarray:
    """Return [total words, features] float32, sentence after sentence: each word's vector (the encoder's
    vector of the word alone), those of `context` neighbours on the left then the right (zeros past the
    ends), then the shape features if `use_shape`."""
    sentences = check_sentences(sentences)
    vocabulary = sorted({word for words in sentences for word in words})
    vectors = encoder.encode(vocabulary, batch_size=1024)
    row = {word: i for i, word in enumerate(vocabulary)}
    dim, k = encoder.dimension, context
    parts = []
    for words in sentences:
        table = vectors[[row[w] for w in words]]
        padded = np.vstack([np.zeros((k, dim), np.float32), table, np.zeros((k, dim), np.float32)])
        n = len(words)
        blocks = [table] + [padded[k + offset : k + offset + n] for offset in range(-k, k + 1) if offset]
        if use_shape:
            blocks.append(shape_features(words))
        parts.append(np.hstack(blocks))
    return np.vstack(parts).astype(np.float32, copy=False)


class FrozenTagger:
    """Tags words from a frozen encoder's word vectors (with context) through a linear layer."""

    kind = FROZEN_KIND

    def __init__(self, encoder, *, encoder_ref: str, labels: Sequence[str], coef: np.ndarray,
                 intercept: np.ndarray, context: int, use_shape: bool,
                 meta: dict[str, Any] | None = None):  # fmt: skip
        self.encoder = encoder
        self.encoder_ref = encoder_ref
        self.labels = list(labels)
        # C order: safetensors writes an array's buffer as it lies, so a Fortran-ordered one would come back
        # transposed in memory (scikit-learn's coef_ can be either)
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.context = int(context)
        self.use_shape = bool(use_shape)
        self.meta = dict(meta or {})
        if self.coef.shape != (len(self.labels), self.feature_dimension):
            raise DataError(f"head weights of shape {tuple(self.coef.shape)} do not fit {len(self.labels)} "
                            f"tags x {self.feature_dimension} features of this encoder")  # fmt: skip

    @property
    def feature_dimension(self) -> int:
        return self.encoder.dimension * (1 + 2 * self.context) + (
            len(SHAPE_FEATURES) if self.use_shape else 0
        )

    def features(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        """Return [total words, feature_dimension] float32, sentence after sentence."""
        return word_features(self.encoder, sentences, self.context, self.use_shape)

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Return the tags of each sentence's words."""
        sentences = check_sentences(sentences)
        out: list[list[str]] = []
        for start in range(0, len(sentences), 2000):  # bounded memory on long inputs
            chunk = sentences[start : start + 2000]
            best = (self.features(chunk) @ self.coef.T + self.intercept).argmax(axis=1)
            position = 0
            for words in chunk:
                out.append([self.labels[i] for i in best[position : position + len(words)]])
                position += len(words)
        return out

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Return `folder` after writing head.safetensors and xling.json there atomically."""
        from safetensors.numpy import save_file

        with atomic_folder(folder, overwrite=overwrite, what="tagger", kind=TAGGER_FAMILY) as staging:
            save_file({"coef": self.coef, "intercept": self.intercept, PROBE_TENSOR: probe_vectors(self.encoder)},
                      str(staging / HEAD_FILE))  # fmt: skip
            write_metadata(staging, {
                **self.meta, "kind": self.kind, "labels": self.labels, "encoder": self.encoder_ref,
                "context": self.context, "shape_features": self.use_shape,
            })  # fmt: skip
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, meta: dict[str, Any] | None = None) -> FrozenTagger:
        """Return the tagger saved in `folder` (its encoder is loaded from the name or path it records)."""
        from xling.embeddings.encoder import Encoder
        from xling.embeddings.weights import load_safetensors

        folder = Path(folder)
        meta = read_metadata(folder) if meta is None else meta
        for key in ("labels", "encoder", "context", "shape_features"):
            if key not in meta:
                raise DataError(f"tagger metadata lacks {key!r}", folder / "xling.json")
        head = load_safetensors(folder / HEAD_FILE)
        if "coef" not in head or "intercept" not in head:
            raise DataError(f"no 'coef'/'intercept' tensors (has {sorted(head)})", folder / HEAD_FILE)
        encoder = Encoder.load(meta["encoder"])
        probe = head[PROBE_TENSOR].numpy() if PROBE_TENSOR in head else None
        check_fingerprint(probe, encoder, folder, "tagger", meta["encoder"])
        return cls(encoder, encoder_ref=meta["encoder"], labels=meta["labels"], coef=head["coef"].numpy(),
                   intercept=head["intercept"].numpy(), context=meta["context"],
                   use_shape=meta["shape_features"], meta=meta)  # fmt: skip


def _encoder_ref(name: str) -> str:
    """Return how a saved tagger names its encoder: an existing folder as an absolute path, else the name."""
    path = Path(name)
    return str(path.resolve()) if path.is_dir() else name


def _fit_logistic(features: np.ndarray, targets: np.ndarray, c: float, config: TaggerConfig):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=config.max_iter, random_state=config.seed)
    return model.fit(features, targets)


def _head_weights(model, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (coef [labels, features], intercept [labels]) whose argmax is the model's prediction."""
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    if len(labels) == 2:  # scikit-learn keeps one row for two classes: class 1 iff the score is > 0
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]], dtype=np.float32)
    return coef, intercept


def train_frozen_tagger(
    config: TaggerConfig, train: TaggedSentences, dev: TaggedSentences | None
) -> FrozenTagger:
    """Return a frozen-encoder tagger trained on `train`, its regularisation chosen on `dev` (if given)."""
    from xling.embeddings.encoder import Encoder

    started = time.perf_counter()
    encoder = Encoder.load(config.encoder)

    def probe(sentences: Sequence[Sequence[str]]) -> np.ndarray:
        return word_features(encoder, sentences, config.context, config.shape_features)

    features, targets = probe(train.words), np.array([t for tags in train.tags for t in tags])
    labels = sorted(set(targets.tolist()))
    if dev is not None:  # a dev tag the training data lacks (SYM, once) is an error for every C alike
        _unknown_gold_tags(dev, labels)
    candidates = sorted(set(config.c_values)) if dev is not None and config.c_values else [config.c]
    dev_scores: dict[str, float] = {}
    best_model, best_c, best_score = None, candidates[0], -1.0
    dev_features = probe(dev.words) if dev is not None and len(candidates) > 1 else None
    for c in candidates:
        model = _fit_logistic(features, targets, c, config)
        if dev_features is not None and dev is not None:
            predicted = model.predict(dev_features)
            gold = np.array([t for tags in dev.tags for t in tags])
            score = round(100.0 * float((predicted == gold).mean()), 3)
            dev_scores[str(c)] = score
            logger.info("frozen tagger: C=%g dev accuracy %.2f", c, score)
            if score > best_score:  # candidates ascend, so a tie keeps the smaller C
                best_model, best_c, best_score = model, c, score
        elif best_model is None:
            best_model, best_c = model, c
    coef, intercept = _head_weights(best_model, labels)
    counts = train.tag_counts()
    meta = {
        "method": "frozen",
        "config": config_to_dict(config),
        "encoder_languages": _encoder_languages(encoder.meta),
        "train": {"source": train.source, "language": train.language, "sentences": len(train),
                  "tokens": train.tokens, "tag_counts": dict(counts)},
        "majority_tag": _majority(counts),
        "c": best_c,
        "dev": {"source": dev.source, "accuracy_by_c": dev_scores} if dev is not None else None,
        "seconds": round(time.perf_counter() - started, 2),
    }  # fmt: skip
    tagger = FrozenTagger(encoder, encoder_ref=_encoder_ref(config.encoder), labels=labels, coef=coef,
                          intercept=intercept, context=config.context, use_shape=config.shape_features,
                          meta=meta)  # fmt: skip
    if dev is not None:
        tagger.meta["dev"]["accuracy"] = round(_accuracy(dev.tags, tagger.predict(dev.words)), 2)
    if config.output:
        tagger.save(config.output, overwrite=config.overwrite)
    return tagger


# --- fine-tuning a transformer --------------------------------------------------------------------------


def encode_words(tokenizer, words: Sequence[str], tags: Sequence[str] | None, label_ids: Mapping[str, int],
                 max_length: int) -> tuple[list[int], list[int], list[int | None]]:  # fmt: skip
    """Return (input ids with special tokens, labels, word of each position): each word's tag id on its
    first sub-token, -100 on the others and on special tokens (all -100 when `tags` is None); cut at
    `max_length` sub-tokens."""
    encoding = tokenizer(list(words), is_split_into_words=True, truncation=True, max_length=max_length)
    labels, previous = [], None
    for word in encoding.word_ids():
        if word is None or word == previous or tags is None:
            labels.append(IGNORE_INDEX)
        else:
            labels.append(label_ids[tags[word]])
        previous = word
    return list(encoding["input_ids"]), labels, encoding.word_ids()


def pad_batch(rows: Sequence[tuple[list[int], list[int], Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Return {"input_ids", "attention_mask", "labels"} padded on the right to the longest row."""
    batch = pad_ids([ids for ids, _, _ in rows], pad_id)
    labels = torch.full(batch["input_ids"].shape, IGNORE_INDEX, dtype=torch.long)
    for i, (_, tags, _) in enumerate(rows):
        labels[i, : len(tags)] = torch.tensor(tags)
    batch["labels"] = labels
    return batch


@dataclass
class TaggingBatches:
    """The batch source of fine-tuning: shuffled epochs over encoded sentences, a pure function of its
    arguments (epoch e is permutation e of a generator seeded with (seed, e)), so resume is exact."""

    rows: list[tuple[list[int], list[int], Any]]
    batch_size: int
    grad_accum: int
    pad_id: int
    seed: int = 0

    def _order(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.rows))

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        start = ((step * self.grad_accum + micro) * world_size + rank) * self.batch_size
        n = len(self.rows)
        orders: dict[int, np.ndarray] = {}
        picked = []
        for position in range(start, start + self.batch_size):
            epoch = position // n
            if epoch not in orders:
                orders[epoch] = self._order(epoch)
            picked.append(self.rows[int(orders[epoch][position % n])])
        return pad_batch(picked, self.pad_id)


class TokenClassificationObjective(nn.Module):
    """The training loop's objective: the model's token cross-entropy; tokens = labelled words."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         labels=batch["labels"])  # fmt: skip
        labelled = (batch["labels"] != IGNORE_INDEX).sum()
        return {"loss": out.loss, "tokens": labelled, "items": labelled}  # the mean is over labelled tokens


class FinetunedTagger:
    """A transformer token classifier (`AutoModelForTokenClassification`) that tags each word by its first
    sub-token."""

    kind = FINETUNED_KIND

    def __init__(self, model, tokenizer, meta: dict[str, Any] | None = None, batch_size: int = 32):
        self.model = model
        self.tokenizer = tokenizer
        self.meta = dict(meta or {})
        self.batch_size = batch_size
        id2label = model.config.id2label
        self.labels = [str(id2label[i]) for i in range(len(id2label))]
        self.max_length = max(8, min(512, position_limit(model)))

    def _pieces(self, words: list[str]) -> list[list[str]]:
        """Return `words` split into consecutive pieces that each fit the model's length limit."""
        encoding = self.tokenizer(words, is_split_into_words=True, truncation=False)
        word_ids = encoding.word_ids()
        if len(word_ids) <= self.max_length:
            return [words]
        budget = self.max_length - (len(word_ids) - sum(w is not None for w in word_ids))  # minus specials
        counts = Counter(w for w in word_ids if w is not None)
        pieces, current, used = [], [], 0
        for i, word in enumerate(words):
            size = counts.get(i, 0)
            if current and used + size > budget:
                pieces.append(current)
                current, used = [], 0
            current.append(word)
            used += size
        pieces.append(current)
        return pieces

    @torch.no_grad()
    def _predict_pieces(self, pieces: list[list[str]]) -> list[list[str]]:
        device = next(self.model.parameters()).device
        fallback = self.meta.get("majority_tag", self.labels[0])
        out: list[list[str]] = []
        for start in range(0, len(pieces), self.batch_size):
            chunk = pieces[start : start + self.batch_size]
            rows = [encode_words(self.tokenizer, words, None, {}, self.max_length) for words in chunk]
            batch = pad_batch(rows, self.tokenizer.pad_token_id)
            logits = self.model(input_ids=batch["input_ids"].to(device),
                                attention_mask=batch["attention_mask"].to(device)).logits  # fmt: skip
            best = logits.argmax(-1).cpu()
            for row, (words, (_, _, word_ids)) in enumerate(zip(chunk, rows, strict=True)):
                first: dict[int, int] = {}
                for position, word in enumerate(word_ids):
                    if word is not None and word not in first:
                        first[word] = position
                # a word with no sub-token of its own (rare) gets the training data's majority tag
                out.append([self.labels[int(best[row, first[i]])] if i in first else fallback
                            for i in range(len(words))])  # fmt: skip
        return out

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """Return the tags of each sentence's words (long sentences are tagged in pieces that fit)."""
        sentences = check_sentences(sentences)
        was_training = self.model.training
        self.model.eval()
        try:
            pieces, owners = [], []
            for i, words in enumerate(sentences):
                for piece in self._pieces(words):
                    pieces.append(piece)
                    owners.append(i)
            tagged = self._predict_pieces(pieces)
        finally:
            self.model.train(was_training)
        out: list[list[str]] = [[] for _ in sentences]
        for owner, tags in zip(owners, tagged, strict=True):
            out[owner].extend(tags)
        return out

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Return `folder` after writing the Hugging Face folder (config.json with id2label, safetensors
        weights, tokenizer) and xling.json there atomically."""
        with atomic_folder(folder, overwrite=overwrite, what="tagger", kind=TAGGER_FAMILY) as staging:
            self._write(staging)
        return Path(folder)

    def _write(self, folder: Path) -> None:
        self._write_weights(folder)
        write_metadata(folder, self._metadata())

    def _write_weights(self, folder: Path) -> None:
        """Write the Hugging Face files (config.json with id2label, safetensors weights, tokenizer) to `folder`."""
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def _metadata(self) -> dict[str, Any]:
        """Return the tagger's xling.json."""
        return {**self.meta, "kind": self.kind, "labels": self.labels}

    @classmethod
    def load(cls, folder: str | Path, meta: dict[str, Any] | None = None) -> FinetunedTagger:
        """Return the tagger saved in `folder`."""
        from transformers import AutoModelForTokenClassification

        from xling.embeddings.weights import load_pretrained

        model = load_pretrained(AutoModelForTokenClassification, folder)
        return cls(model, _load_fast_tokenizer(Path(folder)), read_metadata(folder) if meta is None else meta)


def _load_fast_tokenizer(folder: Path):
    from xling.tokenization.vocabulary import load_folder_tokenizer

    tokenizer = load_folder_tokenizer(folder)
    if not tokenizer.is_fast:
        raise ConfigError(f"encoder: {folder} has a slow tokenizer; tagging needs a fast one (word_ids)")
    return tokenizer


def data_files(*sets: TaggedSentences | None) -> list[Path]:
    """Return the files the sentences were read from (train, then dev): their contents are fingerprinted,
    so a resume notices a CoNLL-U file edited in place. Sentences made in memory name no file."""
    paths = [Path(data.source) for data in sets if data is not None]
    return [path for path in dict.fromkeys(paths) if path.is_file()]


def train_finetuned_tagger(config: TaggerConfig, train_data: TaggedSentences,
                           dev: TaggedSentences | None) -> FinetunedTagger:  # fmt: skip
    """Return a transformer tagger fine-tuned on `train_data` (best checkpoint by `dev` accuracy), saved in
    config.output."""
    from transformers import AutoModelForTokenClassification

    from xling.embeddings.weights import load_pretrained
    from xling.training.checkpoint import load_checkpoint

    folder = Path(config.encoder)
    if not (folder / "config.json").is_file():
        raise ConfigError(
            f"encoder: {config.encoder!r} is not a Hugging Face transformer folder (no config.json); "
            "fine-tuning needs one (method 'frozen' suits static encoders)"
        )
    tokenizer = _load_fast_tokenizer(folder)
    counts = train_data.tag_counts()
    labels = sorted(counts)
    label_ids = {label: i for i, label in enumerate(labels)}
    torch.manual_seed(config.training.seed)
    model = load_pretrained(AutoModelForTokenClassification, folder, num_labels=len(labels),
                            id2label=dict(enumerate(labels)), label2id=label_ids)  # fmt: skip
    # more sub-tokens than the model has positions would fail inside its forward pass
    max_length = capped_length(config.max_length, model, folder)
    rows = [encode_words(tokenizer, words, tags, label_ids, max_length)
            for words, tags in zip(train_data.words, train_data.tags, strict=True)]  # fmt: skip
    # only a row at the limit can have been cut; a word with no sub-tokens (U+200B) is no cut
    cut = sum(
        len(row[0]) >= max_length
        and len(tokenizer(list(words), is_split_into_words=True)["input_ids"]) > max_length
        for row, words in zip(rows, train_data.words, strict=True)
    )
    if cut:
        logger.info("%d of %d training sentences were cut at %d sub-tokens", cut, len(rows), max_length)
    training = config.training
    evaluations = None
    meta: dict[str, Any] = {
        "method": "finetune",
        "encoder": _encoder_ref(config.encoder),
        "encoder_languages": _encoder_languages(read_metadata(folder)),
        "train": {"source": train_data.source, "language": train_data.language, "sentences": len(train_data),
                  "tokens": train_data.tokens, "tag_counts": dict(counts), "cut_sentences": cut},
        "majority_tag": _majority(counts),
    }  # fmt: skip
    if dev is not None:
        _unknown_gold_tags(dev, labels)  # scored as errors, as in a test set: a small train split lacks some

        def evaluate_dev(objective: nn.Module, step: int) -> dict[str, float]:
            tagger = FinetunedTagger(objective.model, tokenizer, meta)
            return {"accuracy": _accuracy(dev.tags, tagger.predict(dev.words))}

        evaluations = {"dev": evaluate_dev}
    elif training.best_metric or training.eval_every:
        logger.info("no dev set: no evaluations during training and no best checkpoint (the last is kept)")
        training = dataclasses.replace(training, best_metric="", eval_every=0, early_stopping_patience=0)
    objective = TokenClassificationObjective(model)
    batches = TaggingBatches(rows, training.batch_size, training.grad_accum, tokenizer.pad_token_id,
                             training.seed)  # fmt: skip
    output = Path(config.output)
    from xling.transfer.classifier import replace_other_method

    # a fine-tuned tagger is saved into the folder (a mount point will do): another method's is cleared
    replace_other_method(output, "finetune", config.overwrite, TAGGER_FAMILY)
    run_config = config_to_dict(dataclasses.replace(config, training=training))
    result = train(objective, batches, training, output, resume=config.resume, restart=config.overwrite,
                   evaluations=evaluations, run_config=run_config, may_change=RESUMABLE,
                   description="tagger", data_files=data_files(train_data, dev))  # fmt: skip
    if result.best is not None:
        load_checkpoint(Path(result.best["path"]), objective)
    model.eval()
    meta.update({"config": run_config, "training": result.to_dict()})
    tagger = FinetunedTagger(model, tokenizer, meta)
    if dev is not None:
        tagger.meta["dev"] = {
            "source": dev.source,
            "accuracy": round(_accuracy(dev.tags, tagger.predict(dev.words)), 2),
        }
    if result.is_main:
        # beside checkpoints/ and best/, as `xling pretrain` does: staged, xling.json last, so a kill mid-save
        # never leaves an earlier tagger's xling.json beside new weights (the files were written in place)
        save_model_folder(output, tagger._write_weights, tagger._metadata())
    return tagger


# --- one entry point each -------------------------------------------------------------------------------


def train_tagger(config: TaggerConfig, train: TaggedSentences, dev: TaggedSentences | None = None) -> Tagger:
    """Return a tagger trained on `train` by `config.method`; `dev` (source language only) chooses the
    regularisation ("frozen") or the best checkpoint ("finetune")."""
    config.validate()
    _training_data(train)
    if config.method == "frozen":
        return train_frozen_tagger(config, train, dev)
    return train_finetuned_tagger(config, train, dev)


def load_tagger(folder: str | Path) -> Tagger:
    """Return the tagger saved in `folder`, of whichever kind its xling.json names."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("no such tagger folder", folder)
    meta = read_metadata(folder)
    kind = meta.get("kind")
    if kind == FROZEN_KIND:
        return FrozenTagger.load(folder, meta)
    if kind == FINETUNED_KIND:
        return FinetunedTagger.load(folder, meta)
    raise DataError(f"not a saved xling tagger (xling.json kind is {kind!r})", folder / "xling.json")


def evaluate_tagger(tagger: Tagger, test_sets: Mapping[str, TaggedSentences], *, model: str = "",
                    data: str = "", source_language: str | None = None,
                    in_language: Mapping[str, Tagger] | None = None,
                    task: str = "pos") -> Result:  # fmt: skip
    """Return the word accuracy of `tagger` on `test_sets` ({language: sentences}) as one Result.

    Each row: "accuracy", "n" (words), "majority" (always answering the training data's most frequent tag),
    "covered" (whether the encoder's metadata lists the language: True / False, None when it lists none), and
    with an `in_language` tagger for that language (trained on its own train split): "in_language" and "gap"
    (in-language minus zero-shot, as XTREME reports it). `average` is the zero-shot accuracy averaged over the
    target languages; a test set of `source_language` (default: the language the tagger was trained on) is
    scored under settings["source"], outside it. A gold tag the tagger does not know is scored as an error
    and counted (`unknown_gold_tags`); a test set whose gold tags are mostly unknown is a DataError naming the
    file and the first one's line.
    """
    if not test_sets:
        raise DataError("no test sets to evaluate on")
    started = time.perf_counter()
    majority = tagger.meta.get("majority_tag", "")
    seen = tagger.meta.get("encoder_languages") or []
    in_language = dict(in_language or {})
    source_language = source_language or (tagger.meta.get("train") or {}).get("language")
    source = _code(source_language) if source_language else None
    if source_language:
        check_source(source_language, source, test_sets, "source_language")
    elif len(test_sets) > 1:
        logger.warning(
            "the tagger does not say which language it was trained on: every test set counts in the "
            "zero-shot average, the source language's too; name it (--source, source_language)"
        )
    scores: dict[str, dict[str, Any]] = {}
    source_row: dict[str, Any] | None = None
    for language, sentences in test_sets.items():
        unknown = _unknown_gold_tags(sentences, tagger.labels)
        code = _code(language, sentences)
        row: dict[str, Any] = {
            "accuracy": round(_accuracy(sentences.tags, tagger.predict(sentences.words)), 2),
            "n": sentences.tokens,
            "unknown_gold_tags": unknown,
        }
        if majority:
            row["majority"] = round(100.0 * sentences.tag_counts()[majority] / sentences.tokens, 2)
        # a macrolanguage and its members count as one ("zh" = "zho" covers "cmn")
        row["covered"] = any(same_language(code, other) for other in seen) if (seen and code) else None
        if language in in_language:
            own = in_language[language]
            _unknown_gold_tags(sentences, own.labels)
            row["in_language"] = round(_accuracy(sentences.tags, own.predict(sentences.words)), 2)
            row["gap"] = round(row["in_language"] - row["accuracy"], 2)
        # the source named by its test set's key (`--source ewt`, which check_source accepts) or its language
        if language == source_language or (source is not None and code == source):
            if source_row is not None:  # the settings hold one source row: the other would vanish
                raise ConfigError(f"test sets {source_row['language']!r} and {language!r} are both the source "
                                  f"language {source}: give it one test set")  # fmt: skip
            source_row = {"language": language, **row}
        else:
            scores[language] = row
    if not scores:
        raise DataError("no target-language test set (only the source language's)")
    baseline = [row["majority"] for row in scores.values() if "majority" in row]
    settings = {
        "method": tagger.meta.get("method"),
        "encoder": tagger.meta.get("encoder"),
        "train": (tagger.meta.get("train") or {}).get("source"),
        "dev": (tagger.meta.get("dev") or {}).get("source"),
        "majority_tag": majority,
        "majority_average": round(float(np.mean(baseline)), 2) if baseline else None,
        "source": source_row,
        "not_seen_by_encoder": [language for language, row in scores.items() if row["covered"] is False],
    }
    return Result(task=task, model=model or str(tagger.meta.get("encoder", "")),
                  data=data or ", ".join(s.source for s in test_sets.values()), scores=scores,
                  average=round(float(np.mean([row["accuracy"] for row in scores.values()])), 2),
                  primary="accuracy", settings=settings, seconds=time.perf_counter() - started)  # fmt: skip


def _code(language: str, sentences: TaggedSentences | None = None) -> str | None:
    """Return the ISO 639-3 code of a test set's key (a code or an English name: "de", "german"), else of
    the language its sentences carry; None when neither names one."""
    return language_code_of(language) or (
        language_code_of(sentences.language) if sentences is not None and sentences.language else None
    )


def render_tagging(result: Result) -> str:
    """Return `evaluate_tagger`'s result as a text table (one line per language, then the averages)."""
    has_gap = any("in_language" in row for row in result.scores.values())
    header = ["language", "accuracy", "majority", "seen"] + (["in-language", "gap"] if has_gap else [])
    lines = [header]

    def fmt(value: Any) -> str:
        return "-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value)

    def line(name: str, row: Mapping[str, Any]) -> list[str]:
        seen = {True: "yes", False: "NO *", None: "unknown"}[row.get("covered")]
        cells = [name, fmt(row.get("accuracy")), fmt(row.get("majority")), seen]
        return cells + ([fmt(row.get("in_language")), fmt(row.get("gap"))] if has_gap else [])

    source = result.settings.get("source")
    if source:
        lines.append(line(f"{source['language']} (source)", source))
    lines += [line(name, row) for name, row in result.scores.items()]
    lines.append(["zero-shot avg", fmt(result.average), fmt(result.settings.get("majority_average")), ""]
                 + (["", ""] if has_gap else []))  # fmt: skip
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in lines)  # fmt: skip
    if result.settings.get("not_seen_by_encoder"):
        text += "\n* not among the encoder's training languages"
    return text
