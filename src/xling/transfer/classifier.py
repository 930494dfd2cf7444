"""Text classifiers that transfer across languages, and the one entry point to train and load them.

`train_classifier(config, train, dev)` dispatches on `config.method`; `load_classifier(folder)` on the
`kind` in the folder's `xling.json`. Both look methods and kinds up in a registry (`register_method`,
`register_kind`), so another module adds its own: "finetune" / "classifier/finetune" live in
`xling.transfer.finetune`, imported the first time they are asked for.

The frozen method (`FrozenEncoderClassifier`): sentence vectors from a frozen `xling.Encoder`, and a
multinomial logistic regression (scikit-learn, lbfgs, L2) on them. Its regularisation C is the value of
`config.C_grid` with the best macro-F1 on the source language's dev split when one is given (never the
target languages' data), else 1.0. Through a shared multilingual space, a head learned on English vectors
labels texts in other languages.

Per-language standardisation (`config.standardize`, on by default): before the head, each sentence vector
is standardised with the mean and standard deviation of its language's vectors, estimated from unlabelled
texts of that language (the training texts for the source; `adapt(language, texts)` for a target). A
multilingual encoder places each language around its own centre (Libovický, Rosa & Fraser 2020, "On the
Language Neutrality of Pre-trained Multilingual Representations"); removing it lets an English head read
other languages. No target label is used. A language that was never adapted is read with the source's
statistics (a warning says so).

Self-training (`config.self_train_rounds`, `config.self_train_per_class`): adapting to a target language
can also give it a head of its own. The classifier keeps its source training features (standardised, as the
head read them, rounded to float16) and labels; `adapt` labels the target's unlabelled texts with the
current head, adds the most confident texts of each predicted class to the source data with those labels
and refits the head (same C, class weights and solver settings), `self_train_rounds` times. Still no target
label is used. `for_language(lang)` reads with that language's head when it has one, else the source head.
The training features are saved with the classifier (float16, when at most TRAIN_FEATURES_MAX_BYTES), so a
reloaded classifier self-trains to new languages exactly as before saving; one saved without them (larger
training data, or saved before self-training existed) adapts statistics only, with a warning saying so.

Labelled texts of several languages (few-shot transfer: the source training data plus k labelled examples
of a target language): `train_frozen` takes the training data as parts, one LabelledTexts per language,
the first part's language being the source. Each part is standardised with its own language's statistics,
from that language's unlabelled texts when given (`unlabelled`), else from its labelled texts; reading a
target's examples with the source's statistics put them where the target's test texts never are. C is
chosen on the source dev split with heads fitted on the source part alone (the dev split is in the source
language; fitted on all parts, the choice jumped between 0.001 and 0.3 from one draw of 8 German examples
per class to the next); the head is then refitted on all parts, each example of a language other than the
source weighing `config.target_weight` times a source example, in that fit and in every self-training
refit (see xling.transfer.config.TARGET_WEIGHT for the measurements). The languages of `unlabelled` are then adapted to, self-training
included, as `adapt` does.

Saved folder (never a pickle):
- `head.safetensors`: `coef` [labels, dimension] and `intercept` [labels], float32; probabilities are
  softmax(vectors @ coef.T + intercept), which is what scikit-learn's multinomial model computes (a binary
  model is stored as two rows, -w/2 and +w/2, whose softmax is its sigmoid);
  with standardisation, `mean.<lang>` and `std.<lang>` [dimension] for every adapted language;
  `coef.<lang>` and `intercept.<lang>` for every self-trained language; with self-training,
  `train.features` [examples, dimension] float16, `train.labels` [examples] int32 (rows of coef) and
  `train.languages` [examples] int32 (positions in xling.json's `train_languages`; a folder without it,
  saved before labelled texts of several languages were taken, holds source-language examples only);
- `xling.json`: kind "classifier/frozen", labels (in coef's row order), encoder, config, dev scores, the
  source language and the adapted ones, the training examples' languages (`train_languages`);
- the encoder: a shipped model name (xling-mini) or Hub id is stored as given; a local encoder folder of
  at most 64 MB is copied into `encoder/`, so the classifier is self-contained and survives moving or
  deleting the folder it was trained from; a larger one is stored as its absolute path (as the search
  index stores its model), so the folder can be loaded from any directory but needs that encoder in place.
"""

from __future__ import annotations

import copy
import importlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from xling.artifacts import CLASSIFIER_FAMILY, METADATA_FILE, json_line, read_metadata, write_metadata
from xling.atomic import recorded_kind, remove_entry
from xling.config import config_to_dict
from xling.embeddings.fingerprint import PROBE_TENSOR, check_fingerprint, probe_vectors
from xling.errors import ConfigError, DataError

if TYPE_CHECKING:
    from xling.data.labelled import LabelledTexts
    from xling.embeddings.encoder import Encoder
    from xling.transfer.config import ClassifierConfig

__all__ = [
    "FROZEN_KIND",
    "MIN_ADAPT_TEXTS",
    "adapt_languages",
    "knows_language",
    "FrozenEncoderClassifier",
    "TextClassifier",
    "load_classifier",
    "predict_file",
    "predictions",
    "join_parts",
    "register_kind",
    "register_method",
    "train_classifier",
    "train_frozen",
    "training_labels",
]

logger = logging.getLogger(__name__)

FROZEN_KIND = f"{CLASSIFIER_FAMILY}/frozen"
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"
FROZEN_ENTRIES = frozenset({HEAD_FILE, ENCODER_DIR, METADATA_FILE})
"""The entries a frozen classifier owns (its head, its encoder copy, its metadata): saving over one never
carries them over (an old encoder/ copy stayed beside a new head referencing another encoder). Another
method's classifier is cleared whole before (`clear_other_method`), so any other entry is the user's."""
COPY_ENCODER_MAX_BYTES = 64 * 2**20
"""A local encoder folder up to this size is copied into the classifier folder; a larger one is referenced."""
MIN_ADAPT_TEXTS = 50
"""Fewest unlabelled texts from which a language's mean and standard deviation are estimated."""
TRAIN_FEATURES_MAX_BYTES = 64 * 2**20
"""The source training features are saved with the classifier (float16) when they take at most this much."""
UNKNOWN_LANGUAGE = "und"
"""ISO 639 "undetermined": the key of the source statistics when the training data names no language."""


class TextClassifier(Protocol):
    """What every xling classifier offers (frozen-encoder, fine-tuned)."""

    labels: list[str]

    def predict(self, texts: Sequence[str]) -> list[str]: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def save(self, folder: str | Path) -> Any: ...


Trainer = Callable[..., TextClassifier]
Loader = Callable[..., TextClassifier]

_METHODS: dict[str, Trainer] = {}
_PART_METHODS: set[str] = set()
"""Methods whose trainer takes the training data as parts, one LabelledTexts per language."""
_KINDS: dict[str, Loader] = {}
# where a method or kind not registered yet lives: importing the module registers it
_LAZY_MODULES = {
    "finetune": "xling.transfer.finetune",
    "classifier/finetune": "xling.transfer.finetune",
    "static-finetune": "xling.transfer.static_finetune",
    "classifier/static-finetune": "xling.transfer.static_finetune",
}


def register_method(name: str, trainer: Trainer, *, parts: bool = False) -> None:
    """Make `train_classifier` call `trainer(config, train, dev, **options)` for `config.method == name`;
    with `parts`, `train` is a list of LabelledTexts (one per language), else one LabelledTexts."""
    _METHODS[name] = trainer
    if parts:
        _PART_METHODS.add(name)
    else:
        _PART_METHODS.discard(name)


def register_kind(kind: str, loader: Loader) -> None:
    """Make `load_classifier` call `loader(folder, **options)` for a folder whose xling.json has this `kind`
    (a loader takes at least `device`, the torch device the classifier runs on)."""
    _KINDS[kind] = loader


def _lookup(registry: dict[str, Any], key: str) -> Any | None:
    if key not in registry and key in _LAZY_MODULES:
        importlib.import_module(_LAZY_MODULES[key])
    return registry.get(key)


def train_classifier(
    config: ClassifierConfig,
    train: LabelledTexts | Sequence[LabelledTexts],
    dev: LabelledTexts | None = None,
    **options: Any,
) -> TextClassifier:
    """Return a classifier trained on `train` by `config.method`, model selection on `dev` (source language).

    `train` is one LabelledTexts, or parts each naming its language (the source's first, e.g. English
    training data and a few labelled German examples): the frozen method standardises each part with its
    own language's statistics (see `train_frozen`); the other methods train on the parts joined. `options`
    go to the method (frozen: `unlabelled`, `show_progress`; finetune: see `xling.transfer.finetune`).
    Fewer than two labels in `train` is a DataError naming its source.
    """
    config.validate()
    parts = _as_parts(train)
    labels = {label for part in parts for label in part.labels}
    if len(labels) < 2:
        found = ", ".join(repr(label) for label in sorted(labels)) or "none"
        raise DataError(f"a classifier needs at least 2 labels in its training data, found {found}",
                        " + ".join(part.source for part in parts))  # fmt: skip
    trainer = _lookup(_METHODS, config.method)
    if trainer is None:
        raise ConfigError(f"method: {config.method!r} has no trainer (known: {', '.join(sorted(_METHODS))})")
    if config.method in _PART_METHODS:
        return trainer(config, parts, dev, **options)
    if len(parts) == 1:
        return trainer(config, parts[0], dev, **options)
    # the model records the first part's language as its source, as the frozen method does: `transfer eval`
    # scores that language apart from the targets (the joined parts' own language would be None)
    return trainer(config, replace(join_parts(parts), language=parts[0].language), dev, **options)


def clear_other_method(folder: Path, method: str, family: str = CLASSIFIER_FAMILY) -> None:
    """Return nothing after deleting what `folder` holds when it is a model of `family` (classifier, tagger)
    saved by another method than `method` (to be replaced: check_replaceable said so). The fine-tuning
    methods write into their folder in place (it is also their run's), so another method's files would stay
    beside theirs: a frozen head next to a fine-tuned model, or an old config.json that transformers would
    load. The folder itself stays: it may be a mount point (a Docker volume), which cannot be removed (EBUSY),
    and the new model is saved into it. Its xling.json goes first, so a clearing that fails part way leaves
    no folder that loads as the old model. Callers clear only once everything that can fail on the input has
    passed: a run that fails first leaves the old model."""
    if recorded := other_method(folder, method, family):
        logger.info("%s: replacing a %s model", folder, recorded)
        (folder / METADATA_FILE).unlink(missing_ok=True)
        for entry in folder.iterdir():
            remove_entry(entry)


def replace_other_method(folder: Path, method: str, overwrite: bool, family: str = CLASSIFIER_FAMILY) -> None:
    """Return nothing after clearing `folder` of a `family` model saved by another method than `method`
    (check_replaceable: only `overwrite` may replace it), on the main process only. The fine-tuning trainers
    call it just before training, once the model, its tokenizer and the data have loaded: a run that fails on
    them leaves the old model whole. Under torchrun the other processes first touch the folder after
    training's first barrier (reading it while the main one cleared it raced)."""
    from xling.atomic import check_replaceable
    from xling.training.distributed import is_main_process

    if not is_main_process() or not other_method(folder, method, family):
        return
    check_replaceable(folder, overwrite, family, kind=family, renamed=False)
    clear_other_method(folder, method, family)


def other_method(folder: Path, method: str, family: str = CLASSIFIER_FAMILY) -> str | None:
    """Return the kind of the `family` model `folder` holds when it is one of another method than `method`
    (its files are none of this method's to keep), else None."""
    recorded = recorded_kind(folder / METADATA_FILE)
    if recorded and recorded.startswith(f"{family}/") and recorded != f"{family}/{method}":
        return recorded
    return None


def join_parts(parts: Sequence[LabelledTexts]) -> LabelledTexts:
    """Return the parts as one LabelledTexts (source: the parts' sources joined by " + "; language: theirs
    when they share one, else None; the lines of one part, none for several, which are in several files)."""
    from xling.data.labelled import LabelledTexts

    languages = {part.language for part in parts}
    return LabelledTexts(
        [text for part in parts for text in part.texts],
        [label for part in parts for label in part.labels],
        " + ".join(part.source for part in parts),
        languages.pop() if len(languages) == 1 else None,
        tuple(dict.fromkeys(file for part in parts for file in part.files)),
        list(parts[0].lines) if len(parts) == 1 else [],
    )


def _as_parts(train: LabelledTexts | Sequence[LabelledTexts]) -> list[LabelledTexts]:
    """Return the training data as a non-empty list of parts."""
    parts = [train] if hasattr(train, "texts") else list(train)
    if not parts:
        raise DataError("no training data: the list of labelled parts is empty")
    return parts


def load_classifier(folder: str | Path, **options: Any) -> TextClassifier:
    """Return the classifier saved in `folder`, whichever method made it (its xling.json's `kind`); `options`
    go to its kind's loader: every one takes `device` (the torch device the classifier runs on, default the
    CPU; the frozen kind's encoder, the fine-tuned kinds' model)."""
    path = Path(folder)
    if not path.is_dir():
        raise DataError("no such classifier folder", path)
    kind = read_metadata(path).get("kind")
    if kind is None:
        raise DataError("not an xling classifier folder: no xling.json with a kind", path)
    loader = _lookup(_KINDS, str(kind))
    if loader is None:
        raise DataError(f"kind {kind!r} is not a classifier xling can load (known: {', '.join(sorted(_KINDS))})",
                        path)  # fmt: skip
    return loader(path, **options)


class FrozenEncoderClassifier:
    """A frozen sentence encoder and a linear softmax head on its vectors (see the module docstring)."""

    kind = FROZEN_KIND

    def __init__(self, encoder: Encoder, labels: Sequence[str], coef: np.ndarray, intercept: np.ndarray, *,
                 encoder_ref: str, batch_size: int = 256, metadata: dict[str, Any] | None = None,
                 standardization: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 source_language: str | None = None, language: str | None = None,
                 heads: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 training: tuple[np.ndarray, np.ndarray] | None = None,
                 training_languages: Sequence[str] | None = None,
                 self_train_rounds: int = 0, self_train_per_class: int = 300,
                 fit_options: dict[str, Any] | None = None):  # fmt: skip
        # C order: scikit-learn's coef_ can be Fortran-ordered, which safetensors would write transposed
        coef = np.ascontiguousarray(coef, dtype=np.float32)
        intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        if coef.shape != (len(labels), encoder.dimension) or intercept.shape != (len(labels),):
            raise DataError(f"head of shape {coef.shape} + {intercept.shape} does not fit {len(labels)} labels "
                            f"on {encoder.dimension}-dimensional vectors")  # fmt: skip
        self.encoder = encoder
        self.labels = list(labels)
        self.coef = coef
        self.intercept = intercept
        self.encoder_ref = encoder_ref
        self.batch_size = batch_size
        self.metadata = dict(metadata or {})
        self.standardization = dict(standardization or {})
        """Language -> (mean, std) of its sentence vectors; empty when the head reads raw vectors."""
        self.source_language = source_language
        self.language = language
        """The language `predict` reads texts as (None: the source language); see `for_language`."""
        self.heads = {code: (np.ascontiguousarray(c, dtype=np.float32),
                             np.ascontiguousarray(b, dtype=np.float32))
                      for code, (c, b) in (heads or {}).items()}  # fmt: skip
        """Language -> (coef, intercept) of its self-trained head; a language without one reads `coef`."""
        self.training = None
        """(features float16 [examples, dimension], label rows int32) the head was fitted on, or None."""
        if training is not None:
            features, rows = (
                np.asarray(training[0], dtype=np.float16),
                np.asarray(training[1], dtype=np.int32),
            )
            if features.shape != (len(rows), encoder.dimension) or (
                len(rows) and not 0 <= rows.min() <= rows.max() < len(labels)
            ):
                raise DataError(f"training features of shape {features.shape} with {len(rows)} labels do "
                                f"not fit {len(labels)} labels on {encoder.dimension}-dimensional vectors")  # fmt: skip
            self.training = (features, rows)
        self.training_languages = None
        """The language of each training example (None: all in the source language)."""
        if training_languages is not None:
            if self.training is None or len(training_languages) != len(self.training[1]):
                raise DataError(f"{len(training_languages)} training languages for "
                                f"{0 if self.training is None else len(self.training[1])} training examples")  # fmt: skip
            self.training_languages = np.asarray(training_languages, dtype=object)
        self.self_train_rounds = self_train_rounds
        self.self_train_per_class = self_train_per_class
        from xling.transfer.config import TARGET_WEIGHT  # config imports this module

        self.fit_options = {
            "C": 1.0,
            "class_weight": "none",
            "max_iter": 2000,
            "seed": 0,
            "target_weight": TARGET_WEIGHT,  # folders saved before it was recorded were fitted with it
            **(fit_options or {}),
        }
        """How the head was fitted (C, class_weight, max_iter, seed, and the weight of a training example not
        in the source language): self-training refits the same way."""

    @property
    def adapts(self) -> bool:
        """Whether `adapt` learns anything: per-language statistics, or heads by self-training."""
        return bool(self.standardization) or self.self_train_rounds > 0

    def adapt(
        self, language: str, texts: Sequence[str], *, self_train: bool = True
    ) -> FrozenEncoderClassifier:
        """Return self after estimating `language`'s vector statistics from its unlabelled `texts` and, when
        the classifier self-trains (`self_train_rounds` > 0, and `self_train`), fitting `language` a head of
        its own on them (see the module docstring). A classifier without its training features (saved
        without them) adapts statistics only and warns. Adapting the source language changes nothing but
        its statistics. The training examples of `language` (the source's, or a few labelled ones given to
        `train_frozen`) are re-standardised with its new statistics, so self-training reads them as the
        head does."""
        from xling.data.languages import normalize_language

        if not self.adapts:
            raise ConfigError("this classifier reads raw vectors (trained with standardize = false) and does "
                              "not self-train; there is nothing to adapt")  # fmt: skip
        code = self.language_key(normalize_language(language, where="language"))  # before counting its texts
        if len(texts) < MIN_ADAPT_TEXTS:
            raise DataError(f"{len(texts)} texts to adapt {language} from; at least {MIN_ADAPT_TEXTS} are "
                            "needed to estimate its mean and spread")  # fmt: skip
        return self._adapt(code, self.vectors(texts), self_train=self_train)

    def _adapt(self, code: str, vectors: np.ndarray, *, self_train: bool, estimate: bool = True
               ) -> FrozenEncoderClassifier:  # fmt: skip
        """Return self after `adapt`'s work on `code`'s unlabelled sentence `vectors`; `estimate=False` keeps
        the statistics it has (train_frozen estimated them from these very texts)."""
        if self.standardization and estimate:
            self._set_statistics(code, _statistics(vectors))
        self.heads.pop(code, None)  # a head fitted on other statistics no longer fits
        logger.info("adapted to %s from %d unlabelled texts", code, len(vectors))
        if (
            not self_train
            or self.self_train_rounds == 0
            or code == (self.source_language or UNKNOWN_LANGUAGE)
        ):
            return self
        if self.training is None:
            logger.warning("%s: no self-training, since this classifier was saved without its training "
                           "features (they are kept up to %d MB); it reads %s with the source head and %s's "
                           "own statistics", code, TRAIN_FEATURES_MAX_BYTES // 2**20, code, code)  # fmt: skip
            return self
        if self.standardization:
            mean, std = self.standardization[code]
            vectors = (vectors - mean) / std
        self.heads[code] = self._self_train(vectors, code)
        return self

    def _set_statistics(self, code: str, statistics: tuple[np.ndarray, np.ndarray]) -> None:
        """Make `statistics` `code`'s, re-standardising its labelled training examples (if any) with them,
        so that the training features stay what the current statistics give."""
        old = self.standardization.get(code)
        self.standardization[code] = statistics
        if old is None or self.training is None:
            return
        if self.training_languages is not None:
            rows = self.training_languages == code
        else:  # examples of the source language only
            rows = np.full(len(self.training[1]), code == (self.source_language or UNKNOWN_LANGUAGE))
        if rows.any():
            features = self.training[0].copy()
            raw = features[rows].astype(np.float32) * old[1] + old[0]
            features[rows] = ((raw - statistics[0]) / statistics[1]).astype(np.float16)
            self.training = (features, self.training[1])

    def _weights(self) -> np.ndarray | None:
        """Return the weight of each training example in the head's fits: the target weight fitted with for one
        not in the source language, 1 for the others; None when all are in the source language."""
        if self.training_languages is None:
            return None
        other = self.training_languages != (self.source_language or UNKNOWN_LANGUAGE)
        if not other.any():
            return None
        return np.where(other, float(self.fit_options["target_weight"]), 1.0)

    def _self_train(self, target: np.ndarray, code: str) -> tuple[np.ndarray, np.ndarray]:
        """Return (coef, intercept) refitted `self_train_rounds` times on the source features plus the
        `self_train_per_class` most confident `target` features of each predicted class, so labelled."""
        from scipy.special import softmax

        features, rows = self.training
        source = features.astype(np.float32)
        target = np.asarray(target, dtype=np.float32)
        coef, intercept = self.coef, self.intercept
        weights = self._weights()
        options = {key: self.fit_options[key] for key in ("C", "class_weight", "max_iter", "seed")}
        added: list[dict[str, int]] = []
        for _ in range(self.self_train_rounds):
            probabilities = softmax((target @ coef.T + intercept).astype(np.float64), axis=1)
            guess, confidence = probabilities.argmax(axis=1), probabilities.max(axis=1)
            chosen = np.concatenate([_most_confident(guess, confidence, k, self.self_train_per_class)
                                     for k in range(len(self.labels))])  # fmt: skip
            added.append({label: int((guess[chosen] == k).sum()) for k, label in enumerate(self.labels)})
            coef, intercept = _fit_head(np.vstack([source, target[chosen]]),
                                        np.concatenate([rows, guess[chosen]]), len(self.labels),
                                        sample_weight=None if weights is None
                                        else np.concatenate([weights, np.ones(len(chosen))]),
                                        **options)  # fmt: skip
        self.metadata.setdefault("self_trained", {})[code] = {"texts": len(target), "added": added}
        logger.info(
            "self-trained a %s head on %d unlabelled texts (%d rounds)", code, len(target), len(added)
        )
        return coef, intercept

    def for_language(self, language: str) -> FrozenEncoderClassifier:
        """Return a view of this classifier that reads texts as `language`: its statistics, and its own
        head when it was self-trained (the views share the statistics and heads)."""
        from xling.data.languages import normalize_language

        view = copy.copy(self)
        view.language = self.language_key(normalize_language(language, where="language"))
        return view

    def language_key(self, code: str) -> str:
        """Return the key of language `code` (ISO 639-3) in the statistics and heads: the source language's as
        it was given at training ("en", "english") when `code` is the source, else `code`."""
        from xling.data.languages import language_code_of

        source = self.source_language or UNKNOWN_LANGUAGE
        return source if code == source or code == language_code_of(source) else code

    def features(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Return what the head reads: the sentence vectors, standardised for `self.language` if enabled."""
        x = self.vectors(texts, show_progress)
        if not self.standardization:
            return x
        mean, std = self._statistics_of(self.language)
        return (x - mean) / std

    def _statistics_of(self, language: str | None) -> tuple[np.ndarray, np.ndarray]:
        source = self.source_language or UNKNOWN_LANGUAGE
        if language is not None and language not in self.standardization and language != source:
            logger.warning("no statistics for %s (adapt the classifier to it with unlabelled %s texts); "
                           "reading it with the source language's (%s)", language, language, source)  # fmt: skip
        return self.standardization.get(language or source, self.standardization[source])

    def vectors(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Return the encoder's sentence vectors of `texts` (what the head sees)."""
        return self.encoder.encode(texts, batch_size=self.batch_size, show_progress=show_progress)

    def logits(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Return the head's scores [len(texts), len(labels)] before the softmax."""
        coef, intercept = self.heads.get(self.language, (self.coef, self.intercept))
        return self.features(texts, show_progress) @ coef.T + intercept

    def predict_proba(self, texts: Sequence[str], show_progress: bool = False) -> np.ndarray:
        """Return the probability of each label (columns in `labels` order) for each text, float32."""
        from scipy.special import softmax

        return softmax(self.logits(texts, show_progress).astype(np.float64), axis=1).astype(np.float32)

    def predict(self, texts: Sequence[str], show_progress: bool = False) -> list[str]:
        """Return the most probable label of each text."""
        return [self.labels[i] for i in self.logits(texts, show_progress).argmax(axis=1)]

    def save(self, folder: str | Path) -> Path:
        """Return `folder` after writing the head, the encoder (copy or reference) and xling.json there.

        A non-empty `folder` is replaced as a whole only once the new one is complete; the entries there that
        save does not write and no frozen classifier owns (FROZEN_ENTRIES: an old encoder/ copy goes), such as a
        user's predictions beside the model, are carried over into the new one.
        """
        from safetensors.numpy import save_file

        from xling.atomic import atomic_folder

        with atomic_folder(folder, overwrite=True, what="classifier", kind=CLASSIFIER_FAMILY) as staging:
            tensors = {"coef": self.coef, "intercept": self.intercept}
            for code, (mean, std) in self.standardization.items():
                tensors[f"mean.{code}"], tensors[f"std.{code}"] = mean, std
            for code, (coef, intercept) in self.heads.items():
                tensors[f"coef.{code}"], tensors[f"intercept.{code}"] = coef, intercept
            train_languages = None
            if self.training is not None and self.training[0].nbytes <= TRAIN_FEATURES_MAX_BYTES:
                tensors["train.features"], tensors["train.labels"] = self.training
                if self.training_languages is not None:
                    train_languages = sorted(set(self.training_languages))
                    position = {code: i for i, code in enumerate(train_languages)}
                    tensors["train.languages"] = np.array([position[code] for code in self.training_languages],
                                                          dtype=np.int32)  # fmt: skip
            elif self.training is not None:
                logger.warning("the training features (%d MB) are not saved, so the reloaded classifier "
                               "will not self-train to new languages", self.training[0].nbytes // 2**20)  # fmt: skip
            tensors[PROBE_TENSOR] = probe_vectors(self.encoder)
            save_file(tensors, str(staging / HEAD_FILE))
            encoder = _store_encoder(self.encoder_ref, staging)
            write_metadata(staging, {**self.metadata, "kind": FROZEN_KIND, "labels": self.labels,
                                     "encoder": encoder, "dimension": self.encoder.dimension,
                                     "batch_size": self.batch_size, "source_language": self.source_language,
                                     "standardized_languages": sorted(self.standardization),
                                     "self_trained_languages": sorted(self.heads),
                                     "train_languages": train_languages,
                                     "self_train": {"rounds": self.self_train_rounds,
                                                    "per_class": self.self_train_per_class},
                                     "fit_options": self.fit_options})  # fmt: skip
            # a classifier of another method in the folder goes whole (a fine-tuned model's weights and
            # checkpoints stayed beside the new head); anything else there is kept
            if not other_method(Path(folder), "frozen"):
                _carry_over(Path(folder), staging)
        return Path(folder)

    @classmethod
    def load(cls, folder: str | Path, **encoder_options: Any) -> FrozenEncoderClassifier:
        """Return the classifier saved in `folder` (`encoder_options` go to `Encoder.load`, e.g. device)."""
        from xling.embeddings.encoder import Encoder
        from xling.embeddings.weights import load_safetensors

        path = Path(folder)
        meta = read_metadata(path)
        if meta.get("kind") != FROZEN_KIND:
            raise DataError(f"not a frozen-encoder classifier (kind {meta.get('kind')!r})", path)
        labels, ref = meta.get("labels"), meta.get("encoder")
        if not isinstance(labels, list) or len(labels) < 2 or not isinstance(ref, str):
            raise DataError(
                "xling.json lacks the labels or the encoder of the classifier", path / "xling.json"
            )
        head = load_safetensors(path / HEAD_FILE)
        if "coef" not in head or "intercept" not in head:
            raise DataError(f"expected tensors coef and intercept, found {sorted(head)}", path / HEAD_FILE)
        encoder_path = path / ENCODER_DIR if ref == ENCODER_DIR else ref
        encoder = Encoder.load(encoder_path, **encoder_options)
        probe = head[PROBE_TENSOR].numpy() if PROBE_TENSOR in head else None
        check_fingerprint(probe, encoder, path, "classifier", str(encoder_path))
        standardization = _pairs(head, "mean.", "std.")
        heads = _pairs(head, "coef.", "intercept.")
        training = training_languages = None
        if "train.features" in head and "train.labels" in head:
            training = (head["train.features"].numpy(), head["train.labels"].numpy())
            codes = meta.get("train_languages")
            if "train.languages" in head and isinstance(codes, list):
                positions = head["train.languages"].numpy()
                if len(positions) and not 0 <= positions.min() <= positions.max() < len(codes):
                    raise DataError(f"train.languages points outside the {len(codes)} train_languages of "
                                    "xling.json", path / HEAD_FILE)  # fmt: skip
                training_languages = [codes[int(i)] for i in positions]
        self_train = meta.get("self_train") or {}
        fit_options = meta.get("fit_options") or {"C": meta.get("C", 1.0)}
        return cls(encoder, labels, head["coef"].numpy(), head["intercept"].numpy(), encoder_ref=str(encoder_path),
                   batch_size=int(meta.get("batch_size", 256)), metadata=meta, standardization=standardization,
                   source_language=meta.get("source_language"), heads=heads, training=training,
                   training_languages=training_languages,
                   self_train_rounds=int(self_train.get("rounds", 0)),
                   self_train_per_class=int(self_train.get("per_class", 300)),
                   fit_options=fit_options)  # fmt: skip


def _pairs(head: dict[str, Any], first: str, second: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {language: (head[first + language], head[second + language])} for every language with both."""
    return {key[len(first) :]: (head[key].numpy(), head[second + key[len(first) :]].numpy())
            for key in head if key.startswith(first) and second + key[len(first) :] in head}  # fmt: skip


def _most_confident(guess: np.ndarray, confidence: np.ndarray, label: int, n: int) -> np.ndarray:
    """Return the indices of the (at most) `n` rows predicted `label` with the highest confidence."""
    rows = np.flatnonzero(guess == label)
    return rows[np.argsort(-confidence[rows], kind="stable")][:n]


def _fit_head(x: np.ndarray, y: np.ndarray, n_labels: int, *, C: float, class_weight: str, max_iter: int,
              seed: int, sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Return (coef [n_labels, dimension], intercept [n_labels]) of a logistic regression on rows `y` of
    the labels (every label must occur in `y`), each row weighing `sample_weight` (default 1), in the
    softmax form the classifier computes."""
    model = _logistic(C, class_weight, max_iter, seed).fit(x, y, sample_weight=sample_weight)
    return _softmax_form(model, n_labels)


def _logistic(C: float, class_weight: str, max_iter: int, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, class_weight=None if class_weight == "none" else "balanced",
                              max_iter=max_iter, random_state=seed)  # fmt: skip


def _softmax_form(model: Any, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    coef, intercept = model.coef_, model.intercept_
    if n_labels == 2:  # scikit-learn's binary model: one row w; softmax of (-w/2, w/2) is its sigmoid
        coef, intercept = (
            np.vstack([-coef[0] / 2, coef[0] / 2]),
            np.array([-intercept[0] / 2, intercept[0] / 2]),
        )
    return np.ascontiguousarray(coef, dtype=np.float32), np.ascontiguousarray(intercept, dtype=np.float32)


def _statistics(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-dimension mean and standard deviation (floored, so no division by ~0) of `vectors`."""
    x = np.asarray(vectors, dtype=np.float64)
    return x.mean(axis=0).astype(np.float32), (x.std(axis=0) + 1e-6).astype(np.float32)


def _carry_over(old: Path, staging: Path) -> None:
    """Return nothing after putting into `staging` each entry of the folder `old` that `staging` lacks and
    that is not a frozen classifier's own (FROZEN_ENTRIES; files hard-linked where the file system allows, else
    copied; folders likewise; links as links): saving over a classifier folder replaces the model's files,
    even those the new save does not write, and keeps the user's own files there."""

    def link_or_copy(source: str, target: str) -> None:
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    if not old.is_dir():
        return
    for entry in old.iterdir():
        target = staging / entry.name
        if entry.name in FROZEN_ENTRIES or target.exists() or target.is_symlink():
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(entry), target)
        elif entry.is_dir():
            shutil.copytree(entry, target, symlinks=True, copy_function=link_or_copy)
        else:
            link_or_copy(str(entry), str(target))


def _store_encoder(ref: str, folder: Path) -> str:
    """Return what xling.json stores as the encoder: "encoder" after copying a small local folder in, else a
    local folder's absolute path, else the shipped name or Hub id as given."""
    from xling.embeddings.encoder import model_roots

    path = Path(ref).expanduser()
    if not path.is_dir():
        return ref  # a shipped name or a Hub id: Encoder.load finds it by that name
    resolved = path.resolve()
    if any(resolved.parent == root.resolve() for root in model_roots() if root.is_dir()):
        return resolved.name  # a shipped model given as a path: its name finds it wherever xling is installed
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    if size <= COPY_ENCODER_MAX_BYTES:
        shutil.copytree(path, folder / ENCODER_DIR)
        return ENCODER_DIR
    return str(path.resolve())


def train_frozen(
    config: ClassifierConfig,
    train: LabelledTexts | Sequence[LabelledTexts],
    dev: LabelledTexts | None = None,
    *,
    encoder: Encoder | None = None,
    unlabelled: Mapping[str, Sequence[str]] | None = None,
    show_progress: bool = False,
) -> FrozenEncoderClassifier:
    """Return a frozen-encoder classifier: logistic regression on `config.encoder`'s vectors of `train`.

    `train` is one LabelledTexts, or parts each naming its language, the source's first (e.g. English
    training data, then a few labelled German examples). Each part is standardised with its own language's
    statistics: the source's from its labelled texts, another language's from its `unlabelled` texts when
    given ({language: texts}, at least MIN_ADAPT_TEXTS), else from its labelled texts (as many needed); a
    part that names no language among parts of several languages, or a label only non-source parts have,
    is a DataError. An example of another language than the source weighs `config.target_weight` in the
    fits.
    With `dev` (in the source language), C is chosen among `config.C_grid` by dev macro-F1 of heads fitted
    on the source parts alone (unless `config.C` is set), then the head is refitted on all parts with it;
    a dev label the training data lacks is a DataError naming the dev file. The classifier is then adapted
    to each language of `unlabelled` other than the source, as `adapt` does (self-training included; one
    with fewer than MIN_ADAPT_TEXTS texts is skipped, as by `adapt_languages`). `encoder` reuses an Encoder
    already loaded (it must be `config.encoder`). `config.output`, when set, is where the classifier is
    saved.
    """
    from xling.embeddings.encoder import Encoder
    from xling.transfer.metrics import classification_scores

    started = time.perf_counter()
    parts = _as_parts(train)
    source, codes = _part_languages(parts)
    target_weight = config.target_weight
    if encoder is None:
        encoder = Encoder.load(config.encoder)

    def encode(texts: Sequence[str]) -> np.ndarray:
        return encoder.encode(texts, batch_size=config.batch_size, show_progress=show_progress)

    texts = [text for part in parts for text in part.texts]
    x_train = encode(texts)
    x_dev = encode(dev.texts) if dev is not None else None
    languages = np.array([code for part, code in zip(parts, codes, strict=True) for _ in part.texts],
                         dtype=object)  # fmt: skip
    in_source = languages == source
    labels = sorted({label for part in parts for label in part.labels})
    y_train = np.array([labels.index(label) for part in parts for label in part.labels])
    only_others = sorted(set(labels) - {labels[i] for i in y_train[in_source]})
    if only_others:
        raise DataError(f"labels {only_others} occur only in parts of other languages than the source "
                        f"({source}); the source's training data needs every label",
                        " + ".join(part.source for part in parts))  # fmt: skip
    unlabelled_codes = _unlabelled_by_code(unlabelled)
    adapting = config.standardize or config.self_train_rounds > 0
    unlabelled_vectors: dict[str, np.ndarray] = {}
    standardization: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if config.standardize:  # the dev split is the source language too: the source's statistics
        for code in dict.fromkeys(codes):
            rows = languages == code
            if code != source and code in unlabelled_codes:
                sample = unlabelled_codes[code]
                if len(sample) < MIN_ADAPT_TEXTS:
                    raise DataError(f"{len(sample)} unlabelled {code} texts; at least {MIN_ADAPT_TEXTS} are "
                                    f"needed to estimate its mean and spread")  # fmt: skip
                unlabelled_vectors[code] = vectors = encode(sample)
            else:
                vectors = x_train if rows.all() else x_train[rows]
                if code != source and len(vectors) < MIN_ADAPT_TEXTS:
                    where = " + ".join(p.source for p, c in zip(parts, codes, strict=True) if c == code)
                    raise DataError(f"{len(vectors)} labelled {code} texts are too few to estimate its mean and "
                                    f"spread (at least {MIN_ADAPT_TEXTS}); give unlabelled {code} texts too",
                                    where)  # fmt: skip
            standardization[code] = mean_std = _statistics(vectors)
            if rows.all():
                x_train = (x_train - mean_std[0]) / mean_std[1]
            else:
                x_train[rows] = (x_train[rows] - mean_std[0]) / mean_std[1]
        if x_dev is not None:
            x_dev = (x_dev - standardization[source][0]) / standardization[source][1]
    weights = None if in_source.all() else np.where(in_source, 1.0, target_weight)

    def fit(c: float, rows: np.ndarray | None = None) -> Any:
        logistic = _logistic(c, config.class_weight, config.max_iter, config.seed)
        if rows is None:
            return logistic.fit(x_train, y_train, sample_weight=weights)
        return logistic.fit(x_train[rows], y_train[rows])

    grid: dict[str, float] = {}
    if config.C is not None or dev is None:
        chosen = config.C if config.C is not None else 1.0
        model = fit(chosen)
    else:
        best = None
        for c in sorted(set(config.C_grid)):  # ascending: a tie keeps the smaller C, whatever the order given
            candidate = fit(c, None if weights is None else in_source)
            predicted = [labels[i] for i in candidate.predict(x_dev)]
            score = classification_scores(dev.labels, predicted, labels, source=dev.source,
                                          lines=dev.lines)["macro_f1"]  # fmt: skip
            grid[str(c)] = round(score, 2)
            logger.info("C=%g: dev macro-F1 %.1f", c, score)
            if best is None or score > best[0]:  # ties keep the smaller C (the stronger regularisation)
                best = (score, c, candidate)
        _, chosen, model = best
        if weights is not None:  # chosen on the source alone; the head learns from every part
            model = fit(chosen)
    coef, intercept = _softmax_form(model, len(labels))
    seconds = time.perf_counter() - started
    metadata: dict[str, Any] = {
        "config": config_to_dict(config),
        "C": chosen,
        "train": {
            "source": " + ".join(part.source for part in parts),
            "language": parts[0].language if len(parts) == 1 else source,
            "examples": len(texts),
            "counts": {label: int((y_train == i).sum()) for i, label in enumerate(labels)},
            "seconds": round(seconds, 2),
        },  # fmt: skip
    }
    if len(parts) > 1:
        metadata["train"]["parts"] = [{"source": part.source, "language": code, "examples": len(part)}
                                      for part, code in zip(parts, codes, strict=True)]  # fmt: skip
        metadata["train"]["target_weight"] = target_weight
    if dev is not None:
        predicted = [labels[i] for i in model.predict(x_dev)]
        scores = classification_scores(dev.labels, predicted, labels, source=dev.source, lines=dev.lines)
        metadata["dev"] = {"source": dev.source, "language": dev.language, **scores, "C_grid": grid}
    keep = config.self_train_rounds > 0
    classifier = FrozenEncoderClassifier(encoder, labels, coef, intercept, encoder_ref=config.encoder,
                                         batch_size=config.batch_size, metadata=metadata,
                                         standardization=standardization, source_language=source,
                                         training=(x_train, y_train) if keep else None,
                                         training_languages=list(languages) if keep else None,
                                         self_train_rounds=config.self_train_rounds,
                                         self_train_per_class=config.self_train_per_class,
                                         fit_options={"C": chosen, "class_weight": config.class_weight,
                                                      "max_iter": config.max_iter, "seed": config.seed,
                                                      "target_weight": target_weight})  # fmt: skip
    logger.info(
        "trained a %d-label head on %d texts in %.1f s (C=%g)", len(labels), len(texts), seconds, chosen
    )
    for code, sample in unlabelled_codes.items() if adapting else ():
        if classifier.language_key(code) == source:  # the source, however its code was written
            continue
        if code in unlabelled_vectors:  # a labelled language: statistics from these texts already
            classifier._adapt(code, unlabelled_vectors[code], self_train=True, estimate=False)
        elif len(sample) >= MIN_ADAPT_TEXTS:
            classifier._adapt(code, encode(sample), self_train=True)
        else:  # asked for at training time: say it as a warning, with what it needs
            logger.warning("only %d %s texts given with unlabelled: too few to adapt to (%d or more are needed); "
                           "the classifier reads %s with the source language's statistics", len(sample), code,
                           MIN_ADAPT_TEXTS, code)  # fmt: skip
    if config.output:
        classifier.save(config.output)
    return classifier


def _part_languages(parts: Sequence[LabelledTexts]) -> tuple[str, list[str]]:
    """Return (the source language, each part's language): the first part's is the source. Parts of one
    language keep its code as given (UNKNOWN_LANGUAGE when none is); parts of several languages must each
    name theirs, compared as ISO 639-3 codes."""
    from xling.data.languages import normalize_language

    given = {part.language for part in parts}
    if len(given) == 1:
        code = parts[0].language or UNKNOWN_LANGUAGE
        return code, [code] * len(parts)
    unnamed = [part.source for part in parts if not part.language]
    if unnamed:
        raise DataError("the training data mixes languages, so each part must name its language (to be "
                        "standardised with that language's statistics)", unnamed[0])  # fmt: skip
    codes = [normalize_language(part.language, where=part.source) for part in parts]
    return codes[0], codes


def _unlabelled_by_code(unlabelled: Mapping[str, Sequence[str]] | None) -> dict[str, Sequence[str]]:
    """Return `unlabelled` keyed by ISO 639-3 codes (two keys of one language are a ConfigError)."""
    from xling.data.languages import normalize_language

    out: dict[str, Sequence[str]] = {}
    for language, texts in (unlabelled or {}).items():
        code = normalize_language(language, where="unlabelled")
        if code in out:
            raise ConfigError(f"unlabelled: two sets of texts for {code}")
        out[code] = texts
    return out


def knows_language(classifier: TextClassifier, language: str) -> bool:
    """Return whether `classifier` adapts to languages and has `language` already (its source, or one
    adapted before), so that adapting to it again would change nothing."""
    from xling.data.languages import normalize_language

    if not getattr(classifier, "adapts", False):
        return False
    return _knows_key(classifier, classifier.language_key(normalize_language(language, where="language")))


def _knows_key(classifier: TextClassifier, key: str) -> bool:
    """Return whether `key` (a `language_key`) is the classifier's source or a language adapted to before."""
    known = set(classifier.standardization) | set(classifier.heads)
    return key in known or key == (classifier.source_language or UNKNOWN_LANGUAGE)


def adapt_languages(
    classifier: TextClassifier, unlabelled: dict[str, Sequence[str]], *, self_train: bool = True
) -> list[str]:
    """Return the languages `classifier` was adapted to from `unlabelled` ({language: texts}, no labels).

    Only a classifier that standardises per language or self-trains adapts (others are returned unchanged,
    []); `self_train=False` estimates statistics only. A language it already knows (the source, or one
    adapted before) is kept as it is, and one with fewer than MIN_ADAPT_TEXTS texts is skipped (it is then
    read with the source language's statistics and head).
    """
    from xling.data.languages import normalize_language

    if not getattr(classifier, "adapts", False):
        return []
    adapted = []
    for language, texts in unlabelled.items():
        code = classifier.language_key(normalize_language(language, where="unlabelled"))
        if _knows_key(classifier, code):
            continue
        if len(texts) < MIN_ADAPT_TEXTS:
            # not a warning of its own: reading the language with the source statistics warns once already
            logger.info("only %d %s texts: too few to adapt to", len(texts), code)
            continue
        classifier.adapt(code, texts, self_train=self_train)
        adapted.append(code)
    return adapted


def predictions(classifier: TextClassifier, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Return one record per text: {"text", "label", "probabilities": {label: p}} (labels in model order)."""
    probabilities = np.asarray(classifier.predict_proba(list(texts)), dtype=np.float64)
    labels = list(classifier.labels)
    return [{"text": text, "label": labels[int(row.argmax())],
             "probabilities": {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)}}
            for text, row in zip(texts, probabilities, strict=True)]  # fmt: skip


def predict_file(
    classifier: TextClassifier, input_path: str | Path, output_path: str | Path | None = None
) -> list[dict[str, Any]]:
    """Return the `predictions` of every line of a text file (one text per line; a blank line is an error
    naming it), after writing them to `output_path` when given: `.jsonl` as JSON lines, anything else as
    TSV with a header (label, one probability column per label, text). The output appears only complete."""
    from xling.atomic import atomic_write, writable_file
    from xling.data.readers import read_lines

    if output_path is not None:
        writable_file(output_path, [input_path])
        if (
            str(output_path).lower().endswith(".gz")
        ):  # the lines would be written uncompressed under that name
            raise ConfigError(f"output: {output_path} names a compressed file; predictions are written as plain "
                              ".jsonl or .tsv (compress the file afterwards)")  # fmt: skip
    records = predictions(classifier, list(read_lines(input_path)))
    if output_path is not None:
        jsonl = str(output_path).lower().endswith(".jsonl")
        lines = (
            [json_line(r) for r in records]
            if jsonl
            else prediction_tsv(classifier.labels, records, str(input_path))
        )
        with atomic_write(output_path) as handle:
            handle.writelines(line + "\n" for line in lines)
    return records


def prediction_tsv(labels: Sequence[str], records: Sequence[dict[str, Any]], source: str) -> list[str]:
    """Return the TSV lines of `records` (one per text of `source`, in order): a header, then each text's
    label, one probability per label and the text. A text holding a tab is a DataError naming its line:
    a TSV row cannot keep it (JSON lines can)."""
    for number, record in enumerate(records, start=1):
        if "\t" in record["text"]:
            raise DataError(f"{source}:{number}: the text holds a tab, which a TSV row of predictions cannot "
                            "keep; write JSON lines instead (an output file ending in .jsonl)")  # fmt: skip
    rows = ["\t".join(["label", *labels, "text"])]
    for record in records:
        cells = [f"{p:.4f}" for p in record["probabilities"].values()]
        # a line break inside the text (\r, U+2028) would make one row two to a reader that splits lines
        rows.append("\t".join([record["label"], *cells, " ".join(record["text"].splitlines())]))
    return rows


def data_metadata(labels: Sequence[str], train: LabelledTexts, dev: LabelledTexts | None,
                  dev_scores: Mapping[str, float], examples: int) -> dict[str, Any]:  # fmt: skip
    """Return the data part of a fine-tuned classifier's metadata: labels, training and dev data, dev scores
    (`dev_` keys of the training loop's metrics). Its `train` entry is the frozen classifier's, which
    `transfer eval` reads (source language, label counts for the majority baseline)."""
    return {
        "labels": list(labels),
        "language": train.language,
        "train_data": train.source,
        "train": {
            "source": train.source,
            "language": train.language,
            "examples": examples,
            "counts": train.counts(),
        },  # fmt: skip
        "dev_data": dev.source if dev is not None else None,
        "dev": {k.removeprefix("dev_"): v for k, v in dev_scores.items() if k.startswith("dev_")},
    }


def training_record(metadata: dict[str, Any]) -> dict[str, Any]:
    """Return what a classifier's metadata says of its training data ({"source", "language", "counts", ...}):
    its `train` entry, or for fine-tuned classifiers saved before they wrote one, their top-level keys."""
    record = metadata.get("train")
    if isinstance(record, dict):
        return record
    return {"source": metadata.get("train_data"), "language": metadata.get("language"),
            "counts": metadata.get("counts")}  # fmt: skip


def training_labels(classifier: TextClassifier) -> list[str] | None:
    """Return the classifier's training labels rebuilt from its saved counts (for the majority baseline);
    None when it does not keep them."""
    counts = training_record(getattr(classifier, "metadata", None) or {}).get("counts")
    if not isinstance(counts, dict):
        return None
    return [str(label) for label, count in counts.items() for _ in range(int(count))]


register_method("frozen", train_frozen, parts=True)
register_kind(FROZEN_KIND, FrozenEncoderClassifier.load)
