"""What an adaptation did, for the caller, the CLI and the new model's xling.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from xling.adaptation.data import names_same_language

logger = logging.getLogger(__name__)


def add_warning(warnings: list[str], message: str) -> None:
    """Return nothing; log `message` as a warning now and add it to `warnings` (the result's, for the Python
    caller and xling.json). Logged once here, the CLI shows it as it happens and need not print the list."""
    logger.warning("%s", message)
    warnings.append(message)


def listed_languages(languages: Sequence[str], language: str) -> list[str]:
    """Return the languages the adapted model lists: the base model's `languages`, with `language` added
    unless one of them is that language already under any of its codes (`--replace` of a listed `cmn` given
    as `zh`), which is then kept as listed rather than listed twice; a member of a listed macrolanguage
    (`arz` beside `ara`) is a language of its own, added. A base that lists none (a plain Hugging Face
    folder) gives none either: `[language]` would say the model knows that language alone, and a later
    adaptation would take the base's own languages for new ones (its `adaptations` record what was added)."""
    listed = [str(old) for old in languages]
    if not listed:
        return []
    return listed if any(names_same_language(language, old) for old in listed) else [*listed, language]


# what a model's xling.json says was measured on it: an adapted (or repaired) model's segmentation is not the
# base's, so these figures are kept as the base's, not claimed as its own (ship scripts measure anew)
MEASURED_FIELDS = ("scores", "dev", "added_language_scores")


def derived_metadata(base: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return a base model's xling.json for a model made from it and named `name`: the base's measured
    figures (MEASURED_FIELDS) moved under `base_model_figures`, the rest (its languages, its training config,
    earlier adaptations) kept."""
    meta = {key: value for key, value in base.items() if key not in MEASURED_FIELDS}
    figures = {key: base[key] for key in MEASURED_FIELDS if key in base}
    if figures:
        meta["base_model_figures"] = figures
    meta["name"] = name
    return meta


@dataclass
class AdaptResult:
    """The figures of one `xling adapt` run."""

    output: Path
    """The new model folder."""
    language: str
    """The language added (ISO 639-3)."""
    kind: str
    """"static" or "transformer"."""
    vocabulary: dict[str, Any] = field(default_factory=dict)
    """The vocabulary extension's counts (VocabularyExtension.to_dict) and how the new rows started."""
    data: list[dict[str, Any]] = field(default_factory=list)
    """The sources read: {"kind", "source", "items"} each."""
    examples: dict[str, int] = field(default_factory=dict)
    """Training examples of each kind."""
    training: dict[str, Any] = field(default_factory=dict)
    """The training run's figures (TrainResult.to_dict)."""
    before: dict[str, float] = field(default_factory=dict)
    """Held-out figures of the base model (dev retrieval for a static encoder; MLM perplexity for a
    transformer)."""
    after: dict[str, float] = field(default_factory=dict)
    """The same figures for the adapted model."""
    relative: str = ""
    """The related language whose script the new language was read in, with the script pair
    (`guj, Deva>Gujr`); "" without one."""
    before_is_recall: bool = False
    """The base model was trained on the pair files the dev pairs come from, so `before` is recall of pairs
    it saw, not a figure on unseen ones (`after` may well be lower)."""
    warnings: list[str] = field(default_factory=list)
    """What a user should look at (data in another script, another language, old text that may move); each
    was also logged as a warning when found."""
    old_languages: dict[str, Any] = field(default_factory=dict)
    """What the adaptation may change for the languages the model had: whether their texts' vectors stay
    ("kept") or "move" (every one for a transformer; for a static encoder, text outside the protected sample
    that segments with a new piece or uses a trained old row), and why."""
    seconds: float = 0.0
    """Wall-clock seconds of the whole adaptation."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The settings it ran with (its AdaptConfig as plain data: a language's own recipe settings, such as
    Arabic's static.clause_pairs, are on record in the model's xling.json)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-able data."""
        out = asdict(self)
        out["output"] = str(self.output)
        return out
