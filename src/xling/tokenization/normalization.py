"""Repairs of a tokenizer's coverage that keep every old id: character replacements, optional marks dropped,
and script variants.

- `add_replacements` adds plain character replacements (`ё` -> `е`) to the normalizer, for letters
  a vocabulary never learnt a piece for although its training text spells the same words without them
  (Russian writes `ё` as `е` almost everywhere, so the Bible has no `ё` piece and the letter became bytes);
- `drop_characters` makes the normalizer remove characters, and `optional_marks` names those a script's
  writers put in or leave out at will (Arabic harakat, shadda, sukun and tatweel): pieces learned on
  unvocalised text then read vocalised text too, where each mark cut a word into single letters;
- `variant_pieces` spells each piece another way (Simplified Chinese pieces in Traditional characters, with a
  converter such as OpenCC's s2t) and returns the spellings the vocabulary lacks, each with the id of the
  piece it copies: appended with the same score and a copy of that row, Traditional text is segmented and
  embedded as its Simplified twin is, where it fell back to bytes before.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from tokenizers import Tokenizer

from xling.tokenization.vocabulary_extension import unigram_vocabulary


def add_replacements(tokenizer: Tokenizer, replacements: Mapping[str, str]) -> Tokenizer:
    """Return a copy of `tokenizer` whose normalizer replaces each key of `replacements` by its value, right
    after SentencePiece's NFKC step (`Precompiled`) where it has one, else first.

    After NFKC, so that text spelling a key decomposed (`е` + U+0308 for `ё`, which NFKC composes) is
    replaced too; keys are taken in NFKC, the form they can have there."""
    steps = [{"type": "Replace", "pattern": {"String": unicodedata.normalize("NFKC", old)}, "content": new}
             for old, new in replacements.items()]  # fmt: skip
    return _after_nfkc(tokenizer, steps)


# the marks Arabic-script writers put in or leave out at will: Quranic honorifics and annotation signs, tanwin,
# the short vowels, shadda and sukun, the dagger alef; tatweel stretches a word and is not a letter either.
# Not hamza or madda above and below (U+0653-0655: with alef, waw or yeh NFKC makes them one letter, and
# Persian writes its ezafe with one), nor the vowel signs of Kashmiri and Pashto (U+0656-065F) or the Ajami
# and Quranic extensions (U+08xx): those are spelling. No other script's marks: Hebrew points, optional in
# Hebrew, are letters' parts in Yiddish; Indic, Thai or Ethiopic signs are parts of their syllables.
_OPTIONAL_MARK_RANGES = {"Arab": [(0x0610, 0x061A), (0x064B, 0x0652), (0x0670, 0x0670), (0x06D6, 0x06ED)]}
_TATWEEL = "\u0640"


def optional_marks(script: str) -> str:
    """Return the characters text in `script` (ISO 15924) carries or leaves out without changing its words:
    for Arabic, the harakat, shadda, sukun, the dagger alef, Quranic signs and tatweel; "" for other
    scripts."""
    marks = [chr(code) for start, end in _OPTIONAL_MARK_RANGES.get(script, []) for code in range(start, end + 1)
             if unicodedata.category(chr(code)) == "Mn"]  # fmt: skip
    return "".join(marks) + (_TATWEEL if script == "Arab" else "")


def droppable_marks(tokenizer: Tokenizer, scripts: Iterable[str], texts: Iterable[str]) -> str:
    """Return the optional marks of `scripts` (`optional_marks`) that no piece of `tokenizer` holds, that none
    of `texts` (e.g. protected old-language text) uses once normalised as `tokenizer` does, and that its
    normalizer does not already remove. The old vocabulary read each such mark as byte pieces between single
    letters; removing it changes no protected text and no text without it."""
    normalizer = tokenizer.normalizer
    normalize = normalizer.normalize_str if normalizer is not None else (lambda text: text)
    candidates = dict.fromkeys(mark for script in scripts for mark in optional_marks(script))
    in_pieces = {char for piece, _ in unigram_vocabulary(tokenizer) for char in piece}
    used = set().union(*(set(normalize(text)) for text in texts))
    plain = normalize("a")
    return "".join(mark for mark in candidates
                   if mark not in in_pieces and mark not in used and normalize("a" + mark) != plain)  # fmt: skip


def drop_characters(tokenizer: Tokenizer, characters: str) -> Tokenizer:
    """Return a copy of `tokenizer` whose normalizer removes each of `characters`, right after its Unicode
    normalization (as `add_replacements`); `tokenizer` itself when `characters` is empty."""
    if not characters:
        return tokenizer
    pattern = "[" + "".join(f"\\x{{{ord(char):04X}}}" for char in dict.fromkeys(characters)) + "]"
    return _after_nfkc(tokenizer, [{"type": "Replace", "pattern": {"Regex": pattern}, "content": ""}])


_UNICODE_FORMS = ("Precompiled", "NFC", "NFD", "NFKC", "NFKD")


def _after_nfkc(tokenizer: Tokenizer, steps: list[dict[str, object]]) -> Tokenizer:
    """Return a copy of `tokenizer` with the normalizer `steps` after its (last) Unicode normalization step
    (SentencePiece's NFKC, `Precompiled`, or an NFC / NFD / NFKC / NFKD step) where it has one, else first."""
    data = json.loads(tokenizer.to_str())
    current = data.get("normalizer")
    if current is None:
        data["normalizer"] = {"type": "Sequence", "normalizers": steps}
        return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))
    sequence = current["normalizers"] if current.get("type") == "Sequence" else [current]
    after = max((i + 1 for i, step in enumerate(sequence) if step.get("type") in _UNICODE_FORMS), default=0)
    data["normalizer"] = {"type": "Sequence", "normalizers": [*sequence[:after], *steps, *sequence[after:]]}
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))


def is_han(char: str) -> bool:
    """Return whether `char` is a CJK unified ideograph (basic block or extension A)."""
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def variant_pieces(
    tokenizer: Tokenizer, convert: Callable[[str], str], *, applies: Callable[[str], bool] = is_han
) -> list[tuple[str, float, int]]:
    """Return (variant spelling, score, id of the piece it copies) for each piece holding a character for
    which `applies` is true whose `convert`ed spelling the vocabulary lacks (first piece wins a spelling)."""
    vocab = unigram_vocabulary(tokenizer)
    known = {piece for piece, _ in vocab}
    out: dict[str, tuple[float, int]] = {}
    for piece_id, (piece, score) in enumerate(vocab):
        if not any(applies(char) for char in piece):
            continue
        variant = convert(piece)
        if variant != piece and variant not in known and variant not in out:
            out[variant] = (score, piece_id)
    return [(variant, score, piece_id) for variant, (score, piece_id) in out.items()]


def alias_characters(
    tokenizer: Tokenizer, to_known: Callable[[str], str], characters: Iterable[str]
) -> list[tuple[str, float, int]]:
    """Return (character, score, id of the piece it copies) for each of `characters` the vocabulary lacks
    whose `to_known` spelling (e.g. OpenCC's t2s of a Traditional character) is a piece it has."""
    vocab = unigram_vocabulary(tokenizer)
    index = {piece: i for i, (piece, _) in enumerate(vocab)}
    out = []
    for char in dict.fromkeys(characters):
        if char in index:
            continue
        known = to_known(char)
        if known != char and known in index:
            out.append((char, vocab[index[known]][1], index[known]))
    return out


def han_characters() -> list[str]:
    """Return every character of the CJK unified ideographs blocks (basic and extension A)."""
    return [chr(code) for code in (*range(0x4E00, 0xA000), *range(0x3400, 0x4DC0))]
