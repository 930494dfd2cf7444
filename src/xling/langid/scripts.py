"""Writing systems: the ISO 15924 script a text is mostly written in, from its letters' Unicode names."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

__all__ = [
    "SCRIPT_WEIGHTS",
    "dominant_script",
    "dominant_scripts",
    "letter_script",
    "script_of",
    "script_shares",
]

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
    # scripts whose name's first four letters are another's code (HANIFI Rohingya read as Han)
    "HANIFI": "Rohg", "CYPRO-MINOAN": "Cpmn", "TANGSA": "Tnsa",
}  # fmt: skip
_MAPPED = frozenset(_NAME_TO_SCRIPT.values())


# A Han character, a kana or a Hangul syllable holds about a syllable or a word, a Latin or Cyrillic letter a
# sound: each counts as this many letters where the script of a text is decided ("我在用ChatGPT写代码", 6 Han
# characters and 7 Latin letters, is mostly Han).
SCRIPT_WEIGHTS = {"Hani": 3.0, "Jpan": 3.0, "Kore": 3.0}
# A text is Japanese (its Han characters kanji) when kana make up this share of its weighted letters, or when
# it holds any hiragana, which Chinese never writes: a kanji-heavy headline ("新型肺炎の感染拡大防止対策", one
# の in 13) was Literary Chinese.
KANA_SHARE = 0.1
HIRAGANA = re.compile("[\u3041-\u3096\u309d-\u309f]")


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
    if first in _NAME_TO_SCRIPT:
        return _NAME_TO_SCRIPT[first]
    # a script missing above: its name's first four letters, unless that is a mapped script's code
    return first[:4].title() if first[:4].title() not in _MAPPED else first.title()


def letter_script(script: str) -> str:
    """Return an ISO 15924 script as `script_of` names its letters: Han (`Hani`) for Simplified and
    Traditional characters alike (`Hans`, `Hant`)."""
    return "Hani" if script in ("Hans", "Hant") else script


def dominant_script(texts: Iterable[str]) -> str | None:
    """Return the script of most letters in `texts`, a Han character, kana or Hangul syllable counting as
    `SCRIPT_WEIGHTS` letters; Japanese (`Jpan`) when kana make up a tenth of them, since Japanese mixes kana
    with Han characters. None when there is no letter at all."""
    texts = list(texts)  # read twice: a generator's second reading found no hiragana
    counts: Counter[str | None] = Counter()
    for text in texts:
        counts.update(map(script_of, text))  # Counter's C loop; the non-letters' None is dropped below
    counts.pop(None, None)
    if not counts:
        return None
    for script, weight in SCRIPT_WEIGHTS.items():
        if script in counts:
            counts[script] *= weight
    # hiragana are Jpan letters: only texts with some can hold one
    if counts["Jpan"] >= KANA_SHARE * sum(counts.values()) or (
        counts["Jpan"] and any(map(HIRAGANA.search, texts))
    ):
        return "Jpan"
    return counts.most_common(1)[0][0]


# Script ids of `dominant_scripts`, given as scripts are first met (0: not a letter). Ties are broken by the
# scripts' names, never by these ids, which depend on what a process has seen.
_NAMES: list[str | None] = [None]
_IDS: dict[str | None, int] = {None: 0}
# The server detects from several threads: a script is added under the lock, its name before its id, so an
# id another thread reads always has its name (two threads adding scripts gave a batch more script rows
# than its shares had columns: a matmul ValueError, a 500)
_NEW_SCRIPT = threading.Lock()


def _script_id(point: int) -> int:
    """Return the id of the script of the character with this code point (0 for no letter)."""
    script = script_of(chr(point))
    found = _IDS.get(script)
    if found is not None:
        return found
    with _NEW_SCRIPT:
        if script not in _IDS:
            _NAMES.append(script)
            _IDS[script] = len(_NAMES) - 1
        return _IDS[script]


def script_shares(texts: Sequence[str]) -> tuple[np.ndarray, list[str | None]]:
    """Return (shares (texts, scripts), names): each text's letters per script as a share of its letters,
    weighted by `SCRIPT_WEIGHTS`, Han characters counted as Japanese (`Jpan`) in a text whose kana make up a
    tenth of them; `names[j]` is column j's script (column 0, None, is no letter: always 0). A row of a text
    without letters is all 0.

    One pass of numpy over the batch's code points and a lookup per distinct character: detection asks this
    of every text, and a Counter per text cost a quarter of the detector's time."""
    if not texts:
        names = list(_NAMES)
        return np.zeros((0, len(names))), names
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype="<u4")
    distinct, inverse = np.unique(points, return_inverse=True)
    ids = np.fromiter(map(_script_id, distinct.tolist()), dtype=np.int64, count=len(distinct))
    # one snapshot of the scripts: another thread may add some meanwhile, after every id of this batch
    names = list(_NAMES)
    column = {name: i for i, name in enumerate(names)}
    width = len(names)
    rows = np.repeat(np.arange(len(texts)), np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
    counts = np.bincount(rows * width + ids[inverse], minlength=len(texts) * width).reshape(len(texts), width)
    counts = counts.astype(np.float64)
    counts[:, 0] = 0.0  # not letters
    for script, weight in SCRIPT_WEIGHTS.items():
        if script in column:
            counts[:, column[script]] *= weight
    total = counts.sum(axis=1, keepdims=True)
    if (kana := column.get("Jpan")) is not None and (han := column.get("Hani")) is not None:
        # hiragana are Jpan letters: only the rows with some are searched, not every text of every batch
        hiragana = np.zeros(len(texts), dtype=bool)
        for i in np.flatnonzero(counts[:, kana]).tolist():
            hiragana[i] = HIRAGANA.search(texts[i]) is not None
        japanese = (counts[:, kana] >= KANA_SHARE * total[:, 0]) | hiragana
        counts[japanese, kana] += counts[japanese, han]
        counts[japanese, han] = 0.0
    return counts / np.maximum(total, 1e-12), names


def dominant_scripts(texts: Sequence[str]) -> list[str | None]:
    """Return the script most (weighted) letters of each text are in, for a batch at once (`script_shares`):
    `dominant_script([text])` but where kana make up a tenth of the letters yet Latin or another script holds
    more than the kana and Han together (the largest share wins here, `Jpan` there), and a tie goes to the
    script whose name sorts first. None for a text without letters. Detection and `label_scripts` use this
    one, so labels and texts are judged alike."""
    shares, names = script_shares(texts)
    if not len(shares):
        return []
    rank = np.argsort(np.argsort([name or "" for name in names]))  # each column's place in name order
    tied = shares == shares.max(axis=1, keepdims=True)
    best = np.where(tied, rank, len(names)).argmin(axis=1)
    letters = shares.sum(axis=1) > 0
    return [
        names[script] if has else None for script, has in zip(best.tolist(), letters.tolist(), strict=True)
    ]
