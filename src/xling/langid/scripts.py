"""Writing systems: the ISO 15924 script a text is mostly written in, from its letters' Unicode names."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["dominant_script", "script_of"]

# The first word(s) of a letter's Unicode name -> ISO 15924. Unicode character names start with the script
# name for letters of every script xling's data holds; a script missing here still gets a stable name.
_NAME_TO_SCRIPT = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARABIC": "Arab", "HEBREW": "Hebr",
    "CJK": "Hani", "HIRAGANA": "Jpan", "KATAKANA": "Jpan", "HANGUL": "Kore", "DEVANAGARI": "Deva",
    "BENGALI": "Beng", "GURMUKHI": "Guru", "GUJARATI": "Gujr", "ORIYA": "Orya", "TAMIL": "Taml",
    "TELUGU": "Telu", "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai",
    "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr", "GEORGIAN": "Geor", "ARMENIAN": "Armn",
    "ETHIOPIC": "Ethi", "KHMER": "Khmr", "MONGOLIAN": "Mong", "CHEROKEE": "Cher", "CANADIAN": "Cans",
    "COPTIC": "Copt", "SYRIAC": "Syrc", "GOTHIC": "Goth", "TIFINAGH": "Tfng", "TAGALOG": "Tglg",
    "THAANA": "Thaa", "VAI": "Vaii", "YI": "Yiii", "NKO": "Nkoo", "OL": "Olck", "BOPOMOFO": "Bopo",
    # modifier letters named by their use: the prolonged sound mark ー, the iteration mark 々
    "KATAKANA-HIRAGANA": "Jpan", "IDEOGRAPHIC": "Hani",
}  # fmt: skip


@lru_cache(maxsize=65536)
def script_of(char: str) -> str | None:
    """Return the ISO 15924 script of a letter (`"ж"` -> `"Cyrl"`); None for anything that is not a letter.

    Japanese kana and Korean hangul give `Jpan` and `Kore`, the scripts their languages are tagged with.
    """
    if not unicodedata.category(char).startswith("L"):
        return None
    name = unicodedata.name(char, "")
    if not name:
        return None
    first = name.split(" ", 1)[0]
    if first == "MODIFIER":
        return None  # a modifier letter of no one script (ʼ MODIFIER LETTER APOSTROPHE), as punctuation is
    return _NAME_TO_SCRIPT.get(first, first[:4].title())


def dominant_script(texts: Iterable[str]) -> str | None:
    """Return the script of most letters in `texts`; Japanese (`Jpan`) when kana make up a tenth of them,
    since Japanese mixes kana with Han characters. None when there is no letter at all."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(script for script in map(script_of, text) if script is not None)
    if not counts:
        return None
    if counts["Jpan"] >= 0.1 * sum(counts.values()):
        return "Jpan"
    return counts.most_common(1)[0][0]
