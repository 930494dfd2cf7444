"""Letter-by-letter transliteration into a related language's script, so that a model that knows the relative
can read the new language's words as the relative's (Hindi read as Gujarati, Tamil as Malayalam, Arabic as
Hebrew).

RelateLM (Khemchandani et al., ACL 2021) adapts a model to an Indic language this way: the new language's
text is converted into the script of a related language the model already has, and cognates then share
pieces. Two families of scripts are handled:

- Brahmic: the Unicode blocks of the nine major Indic scripts follow the same (ISCII) layout, so a letter
  converts by its offset in its block, as IndicNLP's `UnicodeIndicTransliterator` does
  (indicnlp/transliterate/unicode_transliterate.py). A code point the target block leaves unassigned stays as
  it is (the danda is shared), and letters a script spells with a sign the other lacks are mapped to their
  plain letter (Tamil `ன` to Malayalam `ന`, not the archaic `ഩ`).
- Semitic abjads (Arabic to Hebrew or Syriac): by the regular sound correspondences of cognates (Arabic `ث`
  to Hebrew `ש`: ثلاثة / שלוש; `ذ` to `ז`: ذهب / זהב; `ض` to `צ`: أرض / ארץ), the Arabic article `ال` to the
  Hebrew article `ה`, vowel marks dropped, Hebrew final letter forms at the end of a word.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# ISO 15924 code -> the first code point of its Unicode block (128 code points each, in ISCII order)
BRAHMIC_BLOCKS = {
    "Deva": 0x0900, "Beng": 0x0980, "Guru": 0x0A00, "Gujr": 0x0A80, "Orya": 0x0B00,
    "Taml": 0x0B80, "Telu": 0x0C00, "Knda": 0x0C80, "Mlym": 0x0D00,
}  # fmt: skip
# (source script, offset in its block) -> offset in the target block, where the plain offset would give an
# archaic or unassigned letter: Tamil's alveolar n and r
_BRAHMIC_FIXES = {("Taml", 0x29): 0x28}

# Arabic letter -> (Hebrew, Syriac) letter, by cognate correspondence rather than by sound today
_ARABIC = {
    "ا": "אܐ", "أ": "אܐ", "إ": "אܐ", "آ": "אܐ", "ء": "אܐ", "ؤ": "וܘ", "ئ": "יܝ", "ى": "יܝ",
    "ب": "בܒ", "ت": "תܬ", "ث": "שܬ", "ج": "גܓ", "ح": "חܚ", "خ": "חܚ", "د": "דܕ", "ذ": "זܕ",
    "ر": "רܪ", "ز": "זܙ", "س": "שܫ", "ش": "שܫ", "ص": "צܨ", "ض": "צܥ", "ط": "טܛ", "ظ": "צܛ",
    "ع": "עܥ", "غ": "עܥ", "ف": "פܦ", "ق": "קܩ", "ك": "כܟ", "ل": "לܠ", "م": "מܡ", "ن": "נܢ",
    "ه": "הܗ", "ة": "הܐ", "و": "וܘ", "ي": "יܝ", "پ": "פܦ", "چ": "צܨ", "گ": "גܓ", "ک": "כܟ", "ی": "יܝ",
}  # fmt: skip
_SEMITIC_TARGETS = {"Hebr": 0, "Syrc": 1}
_HEBREW_FINALS = str.maketrans({"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"})
_HEBREW_WORD_END = re.compile(r"[כמנפצ](?![\u05D0-\u05EA])")
# the article after a word start, or after the one-letter prefixes "and", "with", "so", "like"
_ARABIC_ARTICLE = re.compile(r"(?<![\u0621-\u064A])([وبفك]?)ال(?=[\u0621-\u064A])")
_ARTICLE = {"Hebr": "ה", "Syrc": ""}  # Syriac marks definiteness at the end of a noun, not with a prefix


# the script a relative is written in, for the languages whose scripts this module writes (ISO 639-3)
LANGUAGE_SCRIPTS = {
    "hin": "Deva", "mar": "Deva", "nep": "Deva", "npi": "Deva", "san": "Deva", "mai": "Deva", "bho": "Deva",
    "ben": "Beng", "asm": "Beng", "pan": "Guru", "guj": "Gujr", "ory": "Orya", "ori": "Orya",
    "tam": "Taml", "tel": "Telu", "kan": "Knda", "mal": "Mlym", "heb": "Hebr", "hbo": "Hebr", "syr": "Syrc",
}  # fmt: skip


def language_script(code: str) -> str | None:
    """Return the script transliteration writes `code` in: its script subtag (`pan_Guru`), else the
    language's usual script when this module writes it (`guj` -> Gujr); None otherwise."""
    base, _, subtag = code.replace("-", "_").partition("_")
    if len(subtag) == 4 and subtag.isalpha():
        return subtag.title()
    return LANGUAGE_SCRIPTS.get(base.lower())


def supported(source: str, target: str) -> bool:
    """Return whether text in script `source` can be transliterated into script `target` (ISO 15924)."""
    if source in BRAHMIC_BLOCKS and target in BRAHMIC_BLOCKS:
        return True
    return source == "Arab" and target in _SEMITIC_TARGETS


def supported_pairs() -> list[str]:
    """Return the script pairs `transliterate` handles, as `Source>Target` strings."""
    brahmic = [f"{a}>{b}" for a in BRAHMIC_BLOCKS for b in BRAHMIC_BLOCKS if a != b]
    return [*brahmic, *(f"Arab>{target}" for target in _SEMITIC_TARGETS)]


def transliterate(text: str, source: str, target: str) -> str:
    """Return `text` with its letters of script `source` written in script `target` (other characters kept).

    Raises ValueError for a pair `supported` refuses.
    """
    if source == target:
        return text
    if not supported(source, target):
        raise ValueError(f"no transliteration from {source} to {target} (supported: Brahmic scripts among "
                         f"themselves, Arab to Hebr or Syrc)")  # fmt: skip
    if source == "Arab":
        return _semitic(text, target)
    return text.translate(_brahmic_table(source, target))


@cache
def _brahmic_table(source: str, target: str) -> dict[int, int]:
    """Return the str.translate table from one Brahmic block to another (unassigned targets left out)."""
    start, end = BRAHMIC_BLOCKS[source], BRAHMIC_BLOCKS[target]
    table = {}
    for offset in range(0x80):
        mapped = _BRAHMIC_FIXES.get((source, offset), offset)
        char = chr(end + mapped)
        if unicodedata.name(char, None) and unicodedata.name(chr(start + offset), None):
            table[start + offset] = end + mapped
    return table


def _semitic(text: str, target: str) -> str:
    column = _SEMITIC_TARGETS[target]
    text = _ARABIC_ARTICLE.sub(lambda m: m.group(1) + _ARTICLE[target], unicodedata.normalize("NFC", text))
    # harakat, shadda, sukun, the dagger alef and tatweel carry no consonant
    out = "".join(
        _ARABIC[c][column] if c in _ARABIC else c
        for c in text
        if not ("\u064b" <= c <= "\u065f" or c in "\u0670\u0640")
    )
    if target == "Hebr":
        out = _HEBREW_WORD_END.sub(lambda m: m.group().translate(_HEBREW_FINALS), out)
    return out


__all__ = [
    "BRAHMIC_BLOCKS",
    "LANGUAGE_SCRIPTS",
    "language_script",
    "supported",
    "supported_pairs",
    "transliterate",
]
