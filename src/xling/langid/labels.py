"""Detector labels: an ISO 639-3 language with a script where the language is written in several
(`srp_Cyrl`, `cmn_Hans`), parsed from any code a user or a corpus gives (`zh`, `zho`, `cmn`, `zh-Hant`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from xling.data.languages import (
    DEFAULT_MEMBER,
    LEGACY_SCRIPT_SUBTAGS,
    REGION_SCRIPTS,
    SAME_WRITTEN_LANGUAGE,
    USUAL_SCRIPTS,
    grandfathered_language,
    macrolanguage_members,
    normalize_language,
    same_language,
    script_part_of,
)
from xling.errors import LanguageCodeError

__all__ = [
    "DEFAULT_MEMBER",
    "SEVERAL_SCRIPTS",
    "UNDETERMINED",
    "USUAL_SCRIPTS",
    "Label",
    "label_matches",
    "parse_label",
]

UNDETERMINED = "und"
"""ISO 639-3 for "undetermined": what the detector says when it cannot tell (empty text, digits, emoji)."""

_SUBTAG_RE = re.compile(r"[-_]")
_MAX_SUBTAG = 8  # BCP-47's longest subtag (a variant such as `fonipa`, a private one)

SEVERAL_SCRIPTS = frozenset({"cmn", "lzh", "srp", "bos", "azj", "uzn", "zsm", "khk", "knc"})
"""Members written in several scripts (Literary Chinese is printed in Traditional and, on the mainland, in
Simplified characters): a label of one that names no script is in no restriction of its macrolanguage that
names a script (`zh-Hant` is not `lzh`); only in its own (`lzh`, `lzh-Hant`) and, for the member a
macrolanguage stands for (`DEFAULT_MEMBER`), in the macrolanguage's (`zh-Hant` is `cmn`)."""


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
    grandfathered = grandfathered_language(code, where=where)
    if grandfathered is not None:
        return Label(grandfathered)
    parts = _SUBTAG_RE.split(code.strip())
    # BCP-47 extensions and private use (`ar-u-nu-latn`: Latin digits, `de-x-cyrl`) name no script or region
    singleton = next((i for i, part in enumerate(parts[1:], 1) if len(part) == 1), None)
    if singleton is not None:
        parts = parts[:singleton]
        code = "-".join(parts)
    if parts[0].lower() == UNDETERMINED:
        return Label(UNDETERMINED)
    # a corpus's own variant names (the UDHR's `ell_monotonic`, `nya_chinyanja`) are longer than BCP-47's
    # 8-character subtags, which makes the whole tag malformed: drop them as the other variants are dropped
    kept = [parts[0], *(part for part in parts[1:] if len(part) <= _MAX_SUBTAG)]
    tag = code if len(kept) == len(parts) else "-".join(kept)
    try:
        language = normalize_language(tag, where=where)  # zh-yue: yue, zh-nan: nan (an extended language)
    except LanguageCodeError:
        if tag == code:
            raise
        language = normalize_language(code, where=where)  # raises too, naming the code as given
    legacy = LEGACY_SCRIPT_SUBTAGS.get((language, parts[1].lower())) if len(parts) > 1 else None
    if legacy is not None:
        return Label(language, legacy)
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
    `zh`, `zho` and `cmn`); a script in the gold code must match too (`zh-Hant` is not `cmn_Hans`). A label
    that names no script is judged by its language's one script (`ar-Arab` is `arz`, `zh-Hant` not `wuu`:
    `USUAL_SCRIPTS`); one of a member written in several is in the gold code only when that code names its
    own language or the macrolanguage it stands for (`lzh-Hant` is `lzh`, `zh-Hant` is `cmn`, not `lzh`)."""
    predicted = predicted if isinstance(predicted, Label) else parse_label(predicted)
    gold = gold if isinstance(gold, Label) else parse_label(gold)
    if UNDETERMINED in (predicted.language, gold.language):
        return False
    # a gold script within the label's counts: Han covers both of its forms (`zh-Hani` keeps `cmn_Hans` and
    # `cmn_Hant`), a mixed writing system its parts (`ko-Hang` keeps `kor_Kore`)
    if gold.script and predicted.script and not script_part_of(gold.script, predicted.script):
        return False
    if gold.script and not predicted.script:
        usual = USUAL_SCRIPTS.get(predicted.language)
        if usual is not None and not script_part_of(gold.script, usual):
            return False
        # a member whose script xling does not record (`ike` of `iu-Cans`, the Quechuas of `qu-Latn`) is kept:
        # the detector's own record of its training text's scripts decides (model._matching_labels)
        if usual is None and predicted.language in SEVERAL_SCRIPTS:
            same = SAME_WRITTEN_LANGUAGE.get(predicted.language, predicted.language)
            own = same in {
                SAME_WRITTEN_LANGUAGE.get(code, code)
                for code in (gold.language, DEFAULT_MEMBER.get(gold.language))
            }  # zh-Hant: cmn; fil-Latn: tgl
            if not own:
                return False  # a member in a script the label does not say (`zh-Hant` and `lzh`): left out
    # a gold macrolanguage also takes every member ISO 639-3 gives it (`qu`: qvh, qug...; `om`: gax), beyond
    # the members data sets disagree on (same_language); a macrolanguage label for a member's gold does not
    return same_language(predicted.language, gold.language) or predicted.language in macrolanguage_members(
        gold.language
    )
