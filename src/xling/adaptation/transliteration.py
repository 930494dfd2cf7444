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
  plain letter (Tamil `ன` to Malayalam `ന`, not the archaic `ഩ`); a consonant ending a word written in
  Malayalam becomes its chillu letter (`ൻ`), as Malayalam text spells it.
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
# offsets below this one correspond across the blocks (IndicNLP's COORDINATED_RANGE); above it each script
# has signs of its own
_COORDINATED_END = 0x70
# (source script, offset) -> the offsets it is written with in any other block: signs outside the coordinated
# range that have a counterpart, and Tamil's alveolar n, whose twin elsewhere is archaic (Malayalam ഩ)
_SOURCE_SIGNS: dict[tuple[str, int], tuple[int, ...]] = {
    ("Beng", 0x70): (0x30,), ("Beng", 0x71): (0x35,),  # Assamese ra and wa
    ("Guru", 0x70): (0x02,), ("Guru", 0x71): (),  # tippi is a nasal (anusvara); addak doubles what follows
    # Malayalam chillus: a consonant without its vowel, i.e. the consonant and a virama
    ("Mlym", 0x7A): (0x23, 0x4D), ("Mlym", 0x7B): (0x28, 0x4D), ("Mlym", 0x7C): (0x30, 0x4D),
    ("Mlym", 0x7D): (0x32, 0x4D), ("Mlym", 0x7E): (0x33, 0x4D), ("Mlym", 0x7F): (0x15, 0x4D),
    ("Taml", 0x29): (0x28,),
    # signs inside the coordinated range whose offset holds another sign elsewhere: Bengali khanda ta is ta
    # with a virama (উৎসব), Malayalam's dot reph is ra + virama, its newer chillus m, y and llla likewise
    ("Beng", 0x4E): (0x24, 0x4D), ("Mlym", 0x4E): (0x30, 0x4D),
    ("Mlym", 0x54): (0x2E, 0x4D), ("Mlym", 0x55): (0x2F, 0x4D), ("Mlym", 0x56): (0x34, 0x4D),
}  # fmt: skip
# letters written precomposed with a nukta (Devanagari ऩ, ऱ, ऴ: Marathi's eyelash ra) -> their base letter,
# for a target without them: the base letter and the target's nukta, or the base letter alone
_NUKTA_BASE = {0x29: 0x28, 0x31: 0x30, 0x34: 0x33}
_NUKTA = 0x3C
# aspirated and voiced stops -> the plain voiceless one of their row, for a target that lacks them (Tamil)
_PLAIN_STOP = {
    0x16: 0x15, 0x17: 0x15, 0x18: 0x15, 0x1B: 0x1A, 0x1D: 0x1C, 0x20: 0x1F, 0x21: 0x1F, 0x22: 0x1F,
    0x25: 0x24, 0x26: 0x24, 0x27: 0x24, 0x2B: 0x2A, 0x2C: 0x2A, 0x2D: 0x2A,
}  # fmt: skip

# Malayalam writes a consonant that ends a word without its vowel as an atomic chillu letter, as its Bible
# text does; another script's consonant + virama there becomes one
_CHILLU = {"ണ": "ൺ", "ന": "ൻ", "ര": "ർ", "ല": "ൽ", "ള": "ൾ"}
_MALAYALAM_WORD_END = re.compile("([ണനരലള])\u0d4d(?![\u0d00-\u0d7f\u200c\u200d])")

# Arabic-script letter -> (Hebrew, Syriac) letter, by cognate correspondence rather than by sound today;
# the Persian and Urdu letters by their nearest Arabic one
_ARABIC = {
    "ا": "אܐ", "أ": "אܐ", "إ": "אܐ", "آ": "אܐ", "ٱ": "אܐ", "ء": "אܐ", "ؤ": "וܘ", "ئ": "יܝ", "ى": "יܝ",
    "ب": "בܒ", "ت": "תܬ", "ث": "שܬ", "ج": "גܓ", "ح": "חܚ", "خ": "חܚ", "د": "דܕ", "ذ": "זܕ",
    "ر": "רܪ", "ز": "זܙ", "س": "שܫ", "ش": "שܫ", "ص": "צܨ", "ض": "צܥ", "ط": "טܛ", "ظ": "צܛ",
    "ع": "עܥ", "غ": "עܥ", "ف": "פܦ", "ق": "קܩ", "ك": "כܟ", "ل": "לܠ", "م": "מܡ", "ن": "נܢ",
    "ه": "הܗ", "ة": "הܐ", "و": "וܘ", "ي": "יܝ", "پ": "פܦ", "چ": "צܨ", "گ": "גܓ", "ک": "כܟ", "ی": "יܝ",
    "ژ": "זܙ", "ٹ": "טܛ", "ڈ": "דܕ", "ڑ": "רܪ", "ں": "נܢ", "ے": "יܝ", "ۓ": "יܝ", "ھ": "הܗ", "ۃ": "הܐ",
    "ہ": "הܗ", "ۀ": "הܗ", "،": ",,", "؛": ";;", "؟": "??",
}  # fmt: skip
_ARABIC.update({chr(0x0660 + d): str(d) * 2 for d in range(10)})  # Arabic-Indic digits
_ARABIC.update({chr(0x06F0 + d): str(d) * 2 for d in range(10)})  # their Persian and Urdu forms
_SEMITIC_TARGETS = {"Hebr": 0, "Syrc": 1}
_HEBREW_FINALS = str.maketrans({"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"})
_HEBREW_WORD_END = re.compile(r"[כמנפצ](?![\u05D0-\u05EA])")
_LETTER = "\u0621-\u064a\u0671-\u06d3"
# the article at a word start or after "and" / "with", before a word of 2 letters or more (so that والد,
# "father", and بالغ keep their root letters); li- + the (للكتاب) is written li- alone, as Hebrew does (לספר)
_ARABIC_ARTICLE = re.compile(f"(?<![{_LETTER}])([وب]?)[اٱ]ل(?=[{_LETTER}]{{2}})")
_LI_THE = re.compile(f"(?<![{_LETTER}])لل(?=[{_LETTER}]{{2}})")
_ARTICLE = {"Hebr": "ה", "Syrc": ""}  # Syriac marks definiteness at the end of a noun, not with a prefix
# harakat, shadda, sukun, the dagger alef, tatweel and Quranic marks carry no consonant
_NO_CONSONANT = re.compile("[\u064b-\u065f\u0670\u0640\u06d6-\u06ed]")
# stands for the letters before a piece inside a word: a letter that no article rule starts with
_WORD_GOES_ON = "ث"


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


def transliterate(text: str, source: str, target: str, *, word_start: bool = True) -> str:
    """Return `text` with its letters of script `source` written in script `target` (other characters kept).

    `word_start=False` says that `text` continues a word (a sub-word piece), so its first letters are no
    word-initial article. Raises ValueError for a pair `supported` refuses.
    """
    if source == target:
        return text
    if not supported(source, target):
        raise ValueError(f"no transliteration from {source} to {target} (supported: Brahmic scripts among "
                         f"themselves, Arab to Hebr or Syrc)")  # fmt: skip
    if source == "Arab":
        return _semitic(text, target, word_start)
    # NFC splits the precomposed nukta letters (क़, ज़), which are composition exclusions, into letter + nukta
    out = unicodedata.normalize("NFC", text).translate(_brahmic_table(source, target))
    if target == "Mlym":
        out = _MALAYALAM_WORD_END.sub(lambda m: _CHILLU[m.group(1)], out)
    return out


@cache
def _brahmic_table(source: str, target: str) -> dict[int, str]:
    """Return the str.translate table from one Brahmic block to another: the coordinated letters and signs
    by offset (a stop the target lacks by its plain one), the script's own signs by `_SOURCE_SIGNS`; what has
    no counterpart is left out, so it stays as it is."""
    start, end = BRAHMIC_BLOCKS[source], BRAHMIC_BLOCKS[target]
    table = {}
    for offset in range(0x80):
        if not unicodedata.name(chr(start + offset), None):
            continue
        offsets = _SOURCE_SIGNS.get((source, offset), (offset,) if offset < _COORDINATED_END else None)
        if offsets is None:
            continue
        letters = [_letter(end, o) for o in offsets]
        if all(letter is not None for letter in letters):
            table[start + offset] = "".join(letters)  # type: ignore[arg-type]
    return table


def _letter(block: int, offset: int) -> str | None:
    """Return the character at `offset` in `block`, or the plain stop or nukta spelling standing for it;
    None if unassigned."""
    for candidate in (offset, _PLAIN_STOP.get(offset)):
        if candidate is not None and unicodedata.name(chr(block + candidate), None):
            return chr(block + candidate)
    base = _NUKTA_BASE.get(offset)
    if base is not None and unicodedata.name(chr(block + base), None):
        nukta = chr(block + _NUKTA) if unicodedata.name(chr(block + _NUKTA), None) else ""
        return chr(block + base) + nukta
    return None


def _semitic(text: str, target: str, word_start: bool) -> str:
    column = _SEMITIC_TARGETS[target]
    # NFKC: presentation forms (ﻻ) become letters; the marks go before the article rules look at letters
    text = _NO_CONSONANT.sub("", unicodedata.normalize("NFKC", text))
    if not word_start:
        text = _WORD_GOES_ON + text
    text = _LI_THE.sub("ل", text)
    text = _ARABIC_ARTICLE.sub(lambda m: m.group(1) + _ARTICLE[target], text)
    out = "".join(_ARABIC[c][column] if c in _ARABIC else c for c in text)
    if target == "Hebr":
        # a piece that ends here may go on in a longer word, but most pieces end words (whole words, suffixes)
        out = _HEBREW_WORD_END.sub(lambda m: m.group().translate(_HEBREW_FINALS), out)
    return out if word_start else out[1:]


__all__ = [
    "BRAHMIC_BLOCKS",
    "LANGUAGE_SCRIPTS",
    "language_script",
    "supported",
    "supported_pairs",
    "transliterate",
]
