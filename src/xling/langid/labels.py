"""Detector labels: an ISO 639-3 language with a script where the language is written in several
(`srp_Cyrl`, `cmn_Hans`), parsed from any code a user or a corpus gives (`zh`, `zho`, `cmn`, `zh-Hant`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from xling.data.languages import DEFAULT_MEMBER, REGION_SCRIPTS, normalize_language, same_language
from xling.errors import LanguageCodeError

__all__ = ["DEFAULT_MEMBER", "UNDETERMINED", "Label", "label_matches", "parse_label"]

UNDETERMINED = "und"
"""ISO 639-3 for "undetermined": what the detector says when it cannot tell (empty text, digits, emoji)."""

_SUBTAG_RE = re.compile(r"[-_]")


@lru_cache(maxsize=1)
def _scripts() -> dict[str, str]:
    """Return ISO 15924 codes by lower case (`latn` -> `Latn`)."""
    return {script.alpha_4.lower(): script.alpha_4 for script in pycountry.scripts}


@dataclass(frozen=True, order=True)
class Label:
    """A language (ISO 639-3) and, where it matters, its script (ISO 15924)."""

    language: str
    script: str | None = None

    def __str__(self) -> str:
        return f"{self.language}_{self.script}" if self.script else self.language


def parse_label(code: str, *, where: str | None = None) -> Label:
    """Return the label of an ISO 639-1/3 code or BCP-47 tag, keeping a script subtag (`zh-Hant` -> zho_Hant)
    or the script a region implies (`zh-TW` -> zho_Hant, `REGION_SCRIPTS`).

    Other region and variant subtags are dropped (`pt-BR`, `deu_1901`, `ell_monotonic`): a detector does not
    tell them apart. `und` stays `und`. Raises LanguageCodeError (with `where`) for an unknown language.
    """
    parts = _SUBTAG_RE.split(code.strip())
    if parts[0].lower() == UNDETERMINED:
        return Label(UNDETERMINED)
    language = normalize_language(parts[0], where=where)
    scripts = _scripts()
    script = next((scripts[part.lower()] for part in parts[1:] if part.lower() in scripts), None)
    if script is None:
        script = next((REGION_SCRIPTS[language, part.upper()] for part in parts[1:]
                       if (language, part.upper()) in REGION_SCRIPTS), None)  # fmt: skip
    return Label(language, script)


def try_parse_label(code: str) -> Label | None:
    """Return `parse_label(code)`, or None for a code that names no known language."""
    try:
        return parse_label(code)
    except LanguageCodeError:
        return None


def label_matches(predicted: str | Label, gold: str | Label) -> bool:
    """Return True when a predicted label names the gold language (macrolanguage aware: `cmn_Hans` matches
    `zh`, `zho` and `cmn`); a script in the gold code must match too (`zh-Hant` is not `cmn_Hans`)."""
    predicted = predicted if isinstance(predicted, Label) else parse_label(predicted)
    gold = gold if isinstance(gold, Label) else parse_label(gold)
    if UNDETERMINED in (predicted.language, gold.language):
        return False
    if gold.script and predicted.script and gold.script != predicted.script:
        return False
    return same_language(predicted.language, gold.language)
