"""`LanguageIdentifier`: a classifier over hashed character n-grams and words (fastText-style linear, or
multinomial naive Bayes: `xling.langid.scorers`), saved as `config.json` + `model.safetensors`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from xling.artifacts import (
    LANGUAGE_IDENTIFIER_KIND,
    config_number,
    finite_number,
    read_json_file,
    write_metadata,
)
from xling.atomic import atomic_folder, write_json_atomically
from xling.data.languages import script_part_of
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.langid.features import MAX_N, FeatureConfig, Featurizer
from xling.langid.han import script_pairs, settle_han_scripts
from xling.langid.labels import UNDETERMINED, Label, label_matches, parse_label, try_parse_label
from xling.langid.normalize import normalize_text
from xling.langid.prior import log_prior as speakers_log_prior
from xling.langid.scorers import LinearScorer, NaiveBayesScorer, scorer_from_tensors
from xling.langid.scripts import letter_script, script_of, script_shares

Scorer = LinearScorer | NaiveBayesScorer

__all__ = ["DEFAULT_IDENTIFIER", "LanguageIdentifier", "Prediction"]

DEFAULT_IDENTIFIER = "xling-langid"
# A script that holds this share of a text's letters (weighted: xling.langid.scripts.SCRIPT_WEIGHTS) lets
# its labels be given, besides the script of most letters: a German sentence quoting a Russian name stays
# German, and text half in one script and half in another is left to the model.
MAIN_SCRIPT_SHARE = 0.3
# A text with this share of its words in scripts other than Latin is read from those words alone: the Latin
# words beside them are names (brands, titles) that no label of their script learnt, and their n-grams
# outweighed its own words ("Купил Samsung Galaxy" was Javanese, "Я люблю Metallica" Catalan). Words, not
# letters: a brand is a few short words, a quoted word one long one ("... for love is любовь" stays English).
NAMES_WORD_SHARE = 0.25
# A language the detector ranked below another keeps at least this probability among all its labels: a
# close neighbour it preferred on little evidence (a Russian sentence taken for Belarusian at 99.95% left
# Russian 5e-4; Catalan left Spanish 6e-4, Afrikaans German 3e-4), where an unrelated reading keeps far less
# (Polish: Dutch 5e-18; Bulgarian: Russian 7e-11; Japanese: 2e-10; Hungarian: 3e-7). Chosen on such
# made-up sentences, not on a test set; the translator's --src auto and the support bot use it.
NEIGHBOUR_MIN_PROBABILITY = 1e-4
MODEL_TYPE = "xling-langid"
KIND = LANGUAGE_IDENTIFIER_KIND
"""xling.json `kind` of a detector folder."""
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# config.json's own entries; the rest is the model card's information (`info`)
_CONFIG_KEYS = frozenset({"model_type", "labels", "features", "threshold", "family", "dim", "alpha", "temperature",
                          "prior_weight", "log_prior", "scripts"})  # fmt: skip


@dataclass(frozen=True)
class Prediction:
    """One candidate language for a text."""

    label: str
    """`deu`, `srp_Cyrl` (a script where the model knows the language in several), or `und`."""
    probability: float
    """The model's probability for this label. For `und`: 0 on text with no letters; under the threshold,
    one minus the best label's probability (how far the text is from any label; `language_spans` too)."""

    @property
    def language(self) -> str:
        """The ISO 639-3 language of the label (`srp` for `srp_Cyrl`)."""
        return self.label.split("_", 1)[0]

    @property
    def script(self) -> str | None:
        """The ISO 15924 script of the label, where it has one."""
        parts = self.label.split("_", 1)
        return parts[1] if len(parts) == 2 else None

    def to_dict(self) -> dict[str, Any]:
        return {"language": self.label, "probability": round(self.probability, 6)}


@dataclass
class LanguageIdentifier:
    """Language identification: `predict(texts)` gives each text its most likely languages."""

    labels: tuple[str, ...]
    """The labels the model can give, in output order."""
    scorer: Scorer
    """What turns a text's features into a score per label: `LinearScorer` (fastText's classifier) or
    `NaiveBayesScorer` (xling.langid.scorers)."""
    features: FeatureConfig = field(default_factory=FeatureConfig)
    threshold: float = 0.0
    """Below this top probability the answer is `und`."""
    log_prior: np.ndarray | None = None
    """(labels,) float32: log of how common each label's language is in the world (None: the speakers table
    of `xling.langid.prior`). The scorer was trained on balanced labels; the prior, when weighted,
    tips close calls to the larger language."""
    prior_weight: float = 0.0
    """What the log-prior is multiplied by before it is added to the logits (0: no prior); may be changed
    on a loaded detector."""
    han_scripts: bool = True
    """Settle Simplified against Traditional Chinese (`cmn_Hans` / `cmn_Hant`) from the text's characters
    of one script only, once the model has picked the language (`xling.langid.han`); False: the model's own
    choice. Not saved: a setting of prediction, which may be changed on a loaded detector."""
    info: dict[str, Any] = field(default_factory=dict)
    """What the model card says: sources, languages covered, dev accuracy."""
    scripts: dict[str, tuple[str, ...]] | None = None
    """The writing systems of each label's training text (ISO 15924 as `xling.langid.scripts` names them:
    `Latn`, `Cyrl`, `Hani`, `Jpan`, `Kore`): a text is given only a label of a script that holds
    MAIN_SCRIPT_SHARE of its letters or the most of them (Han characters, kana and Hangul counting 3), and is
    `und` when no label (of those allowed) has such a script, rather than a confident guess
    from n-grams no label was trained on (the detector before took Ol Chiki text for Literary Chinese).
    None (a detector saved before labels had scripts): every label may be given."""
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.log_prior is None:
            self.log_prior = speakers_log_prior(self.labels)
        self._featurizer = Featurizer(self.features)
        self._index = {label: i for i, label in enumerate(self.labels)}
        self._han_pairs = script_pairs(self.labels)
        self._script_masks = None if self.scripts is None else _script_masks(self.labels, self.scripts)
        self._label_scripts = (
            None if self.scripts is None else tuple(self.scripts[label] for label in self.labels)
        )

    @property
    def languages(self) -> frozenset[str]:
        """The ISO 639-3 languages the model knows (labels without their scripts)."""
        return frozenset(label.split("_", 1)[0] for label in self.labels)

    @property
    def family(self) -> str:
        """The model family: "linear" (fastText-style) or "naive_bayes"."""
        return self.scorer.family

    @property
    def size_bytes(self) -> int:
        """Bytes of the weights as saved."""
        return self.scorer.size_bytes

    def probabilities(
        self, texts: Sequence[str], languages: Iterable[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (probabilities (n, labels), decidable (n,)) for raw texts; `languages` (codes in any form)
        renormalises them over those languages' labels, the others getting 0. See log_probabilities."""
        logits, decidable = self.log_probabilities(texts, languages)
        return probabilities_of(logits), decidable

    def is_close_neighbour(self, text: str, label: str) -> bool:
        """Return whether `label` keeps at least NEIGHBOUR_MIN_PROBABILITY for `text` among all the labels
        (False for a label the detector does not have): a plausible reading of a text given to another."""
        position = self._index.get(label)
        if position is None:
            return False
        probabilities, _ = self.probabilities([text])
        return float(probabilities[0, position]) >= NEIGHBOUR_MIN_PROBABILITY

    def log_probabilities(
        self, texts: Sequence[str], languages: Iterable[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return (log-probabilities up to a constant per text (n, labels), its largest 0; decidable (n,)):
        the order of labels whose probability rounds to 0 in float32 (all but the best, for most sentences),
        for ranking them; -inf for the labels `languages` leaves out and for labels of another script than
        most of the text's letters (`scripts`). `decidable` is False for a text without letters, or whose
        letters are mostly in a script no allowed label has (its row is then the model's scores unchecked:
        a text `predict` calls `und`)."""
        if not all(isinstance(text, str) for text in texts):
            wrong = next(i for i, text in enumerate(texts) if not isinstance(text, str))
            raise ConfigError(f"texts: text {wrong} is a {type(texts[wrong]).__name__}, not a string")
        normalised = [normalize_text(text) for text in texts]
        shares = script_shares(normalised)
        normalised, shares = _without_latin_names(normalised, shares)
        decidable = np.array([bool(text) for text in normalised], dtype=bool)
        # one path for one text and for many: a text's probabilities are the same bits whatever it is
        # batched with (each scorer keeps to that)
        logits = self.scorer.logits(*self._featurizer.ids(normalised))
        if self.prior_weight:
            logits = logits + self.prior_weight * self.log_prior
        if languages is not None:
            # the softmax is taken over the allowed labels' logits: renormalising probabilities instead would
            # divide zeros when every allowed label's probability underflows in float32
            logits = np.where(self._mask(languages), logits, -np.inf)
        if self._script_masks is not None:
            self._keep_scripts(logits, shares, decidable)
        if self.han_scripts and self._han_pairs:
            # after the restriction: the script the characters decide is taken among the allowed labels only
            logits = settle_han_scripts(logits, normalised, self._han_pairs)
        logits -= logits.max(axis=1, keepdims=True)
        return logits, decidable

    def _keep_scripts(
        self, logits: np.ndarray, shares: tuple[np.ndarray, list[str | None]], decidable: np.ndarray
    ) -> None:
        """Set to -inf, in place, each decidable row's labels of no script that holds MAIN_SCRIPT_SHARE of its
        letters (or the most); a row none of whose allowed labels has such a script is left as it is and
        marked not decidable."""
        shares, names = shares  # script_shares of the texts scored
        main = (shares >= MAIN_SCRIPT_SHARE) | (shares == shares.max(axis=1, keepdims=True))
        main &= shares > 0
        empty = np.zeros(len(self.labels), dtype=bool)
        written_in = np.stack([self._script_masks.get(name, empty) if name else empty for name in names])
        allowed = (main.astype(np.float32) @ written_in.astype(np.float32)) > 0  # (texts, labels)
        kept = np.where(allowed, logits, -np.inf)
        usable = decidable & np.isfinite(kept).any(axis=1)  # a restriction may leave none of those labels
        logits[usable] = kept[usable]
        decidable &= usable

    def label_count(self, languages: Iterable[str] | None = None) -> int:
        """Return how many labels one answer may hold: all the detector's, or those `languages` allow (codes
        in any form, as `predict` reads them)."""
        languages = language_codes(languages)
        return len(self.labels) if languages is None else int(self._mask(languages).sum())

    def predict(self, texts: Sequence[str], k: int = 1, threshold: float | None = None,
                languages: Iterable[str] | None = None) -> list[list[Prediction]]:  # fmt: skip
        """Return the top-`k` labels of each text (fewer when its script or `languages` allow fewer), most
        likely first; `[und]` for a text with no letters, one mostly in a script no label has (see `scripts`)
        or a top probability under `threshold` (default: the model's). `languages` restricts the answer to
        those codes (any form: `zh`, `cmn`, `srp-Latn`); an empty list, or any code the detector does not
        know, is a ConfigError naming them all (a LanguageCodeError for codes that are no language code)."""
        threshold = self.threshold if threshold is None else threshold
        if isinstance(texts, str):  # iterating it would detect each character
            raise ConfigError("texts: give a list of texts, not one string (detect() takes one)")
        texts = list(texts)  # a generator is read once: by the type check it would be used up
        languages = language_codes(languages)
        check_threshold(threshold)
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ConfigError(f"k: {k!r} must be at least 1 (a whole number)")
        logits, decidable = self.log_probabilities(texts, languages)
        probabilities = probabilities_of(logits)
        k = max(1, min(k, self.label_count(languages)))
        # ranked by the logits: beyond the best label most probabilities are 0.0 in float32, tied. Ties in
        # label order for any k, as argmax breaks them (a partition and a non-stable sort made the best of
        # tied labels depend on k: 400 tied labels gave 376 and 377); a few hundred labels sort fast
        top = logits.argmax(axis=1)[:, None] if k == 1 else np.argsort(-logits, axis=1, kind="stable")[:, :k]
        results: list[list[Prediction]] = []
        for scores, row, letters, best in zip(logits, probabilities, decidable, top, strict=True):
            if not letters:
                results.append([Prediction(UNDETERMINED, 0.0)])
            elif row[best[0]] < threshold:
                results.append([Prediction(UNDETERMINED, float(1.0 - row[best[0]]))])
            else:  # fewer than k where the text's script leaves fewer labels
                results.append(
                    [Prediction(self.labels[i], float(row[i])) for i in best if scores[i] > -np.inf]
                )
        return results

    def detect(self, text: str, threshold: float | None = None) -> Prediction:
        """Return the most likely label of one text (`und` when it cannot tell)."""
        return self.predict([text], threshold=threshold)[0][0]

    def unknown_languages(self, languages: Iterable[str]) -> list[str]:
        """Return the codes of `languages` that match none of the detector's labels (in the order given)."""
        return [code for code in languages
                if not _matching_labels(self.labels, self._label_scripts, parse_label(code, where="languages")).any()]  # fmt: skip

    def _mask(self, languages: Iterable[str]) -> np.ndarray:
        """Return a (labels,) bool array: the labels that match one of `languages` (read-only, shared)."""
        return _label_mask(tuple(self.labels), tuple(languages), self._label_scripts)

    def save_pretrained(self, folder: str | Path, *, overwrite: bool = True) -> Path:
        """Return `folder` after writing config.json, model.safetensors and xling.json into it atomically."""
        folder = Path(folder)
        with atomic_folder(folder, overwrite=overwrite, what="language identifier", kind=KIND) as staging:
            save_file(self.scorer.tensors(), str(staging / WEIGHTS_FILE))
            # the card's information first and without config.json's own keys: an `info` entry named like one
            # (`family`, `temperature`) must not replace what the model is
            card = {key: value for key, value in self.info.items() if key not in _CONFIG_KEYS}
            write_json_atomically(staging / CONFIG_FILE, {
                **card, "model_type": MODEL_TYPE, "labels": list(self.labels), "features": self.features.to_dict(),
                "threshold": self.threshold, **self.scorer.config(), **self._prior_config(),
                **({} if self.scripts is None else {"scripts": {label: list(self.scripts[label]) for label in self.labels}}),
            })  # fmt: skip
            # `languages` as every model's xling.json has it (the report marks what a model never learnt)
            write_metadata(staging, {"kind": KIND, "labels": len(self.labels),
                                     "languages": sorted(self.languages)})  # fmt: skip
        self.path = folder
        return folder

    def _prior_config(self) -> dict[str, Any]:
        """Return the prior's config.json entries: its weight and each label's log-prior."""
        return {"prior_weight": self.prior_weight,
                "log_prior": {label: float(value) for label, value in zip(self.labels, self.log_prior, strict=True)}}  # fmt: skip

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = DEFAULT_IDENTIFIER) -> LanguageIdentifier:
        """Return the identifier saved in a folder, or a shipped one by name (`xling-langid`); DataError
        naming the file and the field for a folder that holds no valid detector."""
        folder = resolve_identifier(name_or_path)
        config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
        config = read_json_file(config_path, missing="no config.json: not a language identifier folder")
        if not isinstance(config, dict):
            raise DataError(f"expected a JSON object, found {type(config).__name__}", config_path)
        if config.get("model_type") != MODEL_TYPE:
            raise DataError(f"model_type is {config.get('model_type')!r}, not {MODEL_TYPE!r}", config_path)
        labels, log_prior, features = _read_config(config, config_path)
        scripts = _read_scripts(config, labels, config_path)
        # as predict takes one (check_threshold): a detector saved with threshold 1 was refused on loading
        threshold = config_number(config, "threshold", config_path, default=0.0, ok=lambda x: 0 <= x <= 1,
                                  expected="in [0, 1]")  # fmt: skip
        prior_weight = config_number(config, "prior_weight", config_path, default=0.0, ok=lambda x: x >= 0,
                                     expected="0 or more")  # fmt: skip
        scorer = scorer_from_tensors(_load_tensors(weights_path), config, features.buckets, len(labels),
                                     weights_path, config_path)  # fmt: skip
        info = {key: value for key, value in config.items() if key not in _CONFIG_KEYS}
        return cls(labels=labels, scorer=scorer, features=features, threshold=threshold, log_prior=log_prior,
                   prior_weight=prior_weight, info=info, scripts=scripts, path=folder)  # fmt: skip


def _load_tensors(path: Path) -> dict[str, np.ndarray]:
    """Return the tensors of a safetensors file; DataError naming it when it is missing or unreadable."""
    from safetensors import SafetensorError

    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise DataError("missing: the detector's weights", path) from None
    except (OSError, SafetensorError) as error:
        raise DataError(f"not a readable safetensors file ({error})", path) from None
    except TypeError as error:  # a dtype numpy lacks (bfloat16)
        raise DataError(f"holds a tensor numpy cannot read ({error})", path) from None


def _read_config(
    config: dict[str, Any], path: Path
) -> tuple[tuple[str, ...], np.ndarray | None, FeatureConfig]:
    """Return config.json's (labels, log-prior per label or None, feature settings); DataError naming the
    file and the field for anything a saved detector cannot hold."""
    labels = config.get("labels")
    if not isinstance(labels, list) or not labels or not all(isinstance(label, str) for label in labels):
        raise DataError("labels must be a non-empty list of label strings", path)
    if repeated := sorted(label for label, times in Counter(labels).items() if times > 1):
        raise DataError(f"labels repeat: {', '.join(repeated)}", path)
    if invalid := [label for label in labels if try_parse_label(label) is None]:
        raise DataError(f"labels that are no language code: {', '.join(map(repr, invalid[:5]))}", path)
    prior = config.get("log_prior")
    if prior is not None and (not isinstance(prior, dict) or set(prior) != set(labels)):
        raise DataError("log_prior must give a value for every label and no other", path)
    log_prior = None if prior is None else np.array(
        [finite_number(prior[label], f"log_prior.{label}", path) for label in labels], dtype=np.float32
    )  # fmt: skip
    try:
        features = FeatureConfig(**config["features"])
    except (KeyError, TypeError) as error:
        raise DataError(f"features must be the feature settings xling saves ({error})", path) from None
    sizes = (features.buckets, features.min_n, features.max_n)
    whole = all(isinstance(n, int) and not isinstance(n, bool) for n in sizes)
    if not (whole and features.buckets >= 1 and 1 <= features.min_n <= features.max_n <= MAX_N):
        raise DataError(f"features: buckets must be a whole number >= 1 and 1 <= min_n <= max_n <= {MAX_N}, not "
                        f"{features}", path)  # fmt: skip
    if not isinstance(features.words, bool):
        raise DataError(f"features.words must be true or false, not {features.words!r}", path)
    return tuple(labels), log_prior, features


def _read_scripts(
    config: dict[str, Any], labels: tuple[str, ...], path: Path
) -> dict[str, tuple[str, ...]] | None:
    """Return config.json's scripts of each label (None when it has none: a detector saved before them);
    DataError naming the file and the field for anything else than a list of script names for every label."""
    scripts = config.get("scripts")
    if scripts is None:
        return None
    if not isinstance(scripts, dict) or set(scripts) != set(labels):
        raise DataError("scripts must give the scripts of every label and no other", path)
    for label, names in scripts.items():
        if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
            raise DataError(f"scripts.{label} must be a list of script names (['Latn']), not {names!r}", path)
    return {label: tuple(scripts[label]) for label in labels}


def _script_masks(labels: tuple[str, ...], scripts: dict[str, tuple[str, ...]]) -> dict[str, np.ndarray]:
    """Return {script: (labels,) bool array of the labels written in it}; ConfigError for a label missing."""
    if missing := [label for label in labels if label not in scripts]:
        raise ConfigError(f"scripts: no scripts for the labels {', '.join(missing[:5])}")
    masks: dict[str, np.ndarray] = {}
    for column, label in enumerate(labels):
        for script in scripts[label]:
            masks.setdefault(script, np.zeros(len(labels), dtype=bool))[column] = True
    return masks


def _without_latin_names(
    normalised: list[str], shares: tuple[np.ndarray, list[str | None]]
) -> tuple[list[str], tuple[np.ndarray, list[str | None]]]:
    """Return (the normalised texts, those with words in Latin letters and NAMES_WORD_SHARE of their words in
    other scripts without their Latin words; their script_shares), given the texts' `shares`."""
    table, names = shares
    if "Latn" not in names or not len(table):
        return normalised, shares
    others = [i for i, name in enumerate(names) if name not in (None, "Latn")]
    mixed = (table[:, names.index("Latn")] > 0) & (table[:, others].sum(axis=1) > 0)
    if not mixed.any():  # most batches: their shares stand
        return normalised, shares
    texts = [
        _non_latin_words(text) if is_mixed else text for text, is_mixed in zip(normalised, mixed, strict=True)
    ]
    return texts, (shares if texts == normalised else script_shares(texts))


def _non_latin_words(text: str) -> str:
    """Return the words of a normalised text that hold a letter of another script than Latin, where they
    make up NAMES_WORD_SHARE of its words; else the text as it is."""
    words = text.split()
    other = [word for word in words if any(script_of(char) not in (None, "Latn") for char in word)]
    return " ".join(other) if len(other) >= NAMES_WORD_SHARE * len(words) else text


def resolve_identifier(name_or_path: str | Path) -> Path:
    """Return the folder of an identifier given as a path or a shipped name (searched as encoders are)."""
    from xling.embeddings.encoder import model_roots, shipped_folder

    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if (shipped := shipped_folder(str(name_or_path))) is not None:
        return shipped
    where = ", ".join(str(root) for root in model_roots())
    raise XlingError(
        f"{name_or_path}: no such language identifier folder, nor a shipped name (looked in {where})"
    )


def language_codes(languages: Iterable[str] | None) -> tuple[str, ...] | None:
    """Return a `languages` restriction as a tuple (None stays None: every language); ConfigError for one
    string, which iterating would split into one-letter codes ("de" -> 'd', 'e')."""
    if isinstance(languages, str):
        raise ConfigError(f"languages: give a list of codes, not one string ({languages!r}: ['de', 'fr'])")
    if languages is None:
        return None
    codes = tuple(languages)
    if not all(isinstance(code, str) for code in codes):
        raise ConfigError(f"languages: every entry must be a language code (a string): {list(codes)!r}")
    return codes


def check_threshold(threshold: float) -> None:
    """Return nothing for a probability threshold in [0, 1]; ConfigError otherwise (also NaN: a threshold
    that no probability is under would never say `und`; and a string or list, which raised TypeError)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ConfigError(f"threshold: {threshold!r} must be a number, a probability in [0, 1]")
    if not 0 <= threshold <= 1:
        raise ConfigError(f"threshold: {threshold} must be a probability in [0, 1]")


def probabilities_of(logits: np.ndarray) -> np.ndarray:
    """Return the probabilities of rows of `LanguageIdentifier.log_probabilities` (each row's largest is 0)."""
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities


def _matching_labels(
    labels: tuple[str, ...], scripts: tuple[tuple[str, ...], ...] | None, wanted: Label
) -> np.ndarray:
    """Return a (labels,) bool array of the labels that are the language `wanted` names; where it names a
    script and a label names none, the label's training text must be in it too (`hi-Latn` is not a label
    trained on Devanagari only, `zh-Hant` is a Han one, `ko-Hang` a Korean one)."""
    mask = np.array([label_matches(label, wanted) for label in labels], dtype=bool)
    if wanted.script and scripts is not None:
        script = letter_script(wanted.script)
        for column, label in enumerate(labels):
            if mask[column] and "_" not in label:
                mask[column] = any(script_part_of(script, own) for own in scripts[column])
    return mask


@lru_cache(maxsize=256)
def _label_mask(
    labels: tuple[str, ...], languages: tuple[str, ...], scripts: tuple[tuple[str, ...], ...] | None = None
) -> np.ndarray:
    """Return `_mask`'s array, built once per label set and languages: matching every label against every
    code costs milliseconds, and the translator asks for the same restriction on every batch.

    An empty `languages` is a ConfigError; codes that are no language code are one LanguageCodeError naming
    them all, and codes of languages the detector does not know one ConfigError naming them all (as
    `xling detect --languages` says): a restriction is never quietly narrowed to the codes it knows."""
    if not languages:
        raise ConfigError("languages: no language code given (None, the default, allows every language)")
    codes = list(dict.fromkeys(languages))
    parsed = {code: try_parse_label(code) for code in codes}
    if invalid := [code for code, label in parsed.items() if label is None]:
        raise LanguageCodeError(
            f"languages: unknown language code{'s' if len(invalid) > 1 else ''} {', '.join(map(repr, invalid))} "
            "(expected ISO 639-1 'de', ISO 639-3 'deu' or a BCP-47 tag 'de-DE')"
        )
    matches = {code: _matching_labels(labels, scripts, wanted) for code, wanted in parsed.items()}
    if unknown := [code for code, mask in matches.items() if not mask.any()]:
        raise ConfigError(f"languages: {', '.join(unknown)} not known to this detector")
    mask = np.logical_or.reduce(list(matches.values()))
    mask.flags.writeable = False
    return mask
