"""Repairs of a tokenizer's coverage that keep every old id: character replacements, optional marks dropped,
and script variants.

- `add_replacements` adds plain character replacements (`ё` -> `е`) to the normalizer, for letters
  a vocabulary never learnt a piece for although its training text spells the same words without them
  (Russian writes `ё` as `е` almost everywhere, so the Bible has no `ё` piece and the letter became bytes);
- `drop_characters` makes the normalizer remove characters, and `optional_marks` names those a script's
  writers put in or leave out at will (Arabic harakat and tatweel, Hebrew and Syriac vowel points): pieces
  learned on unvocalised text then read vocalised text too, where each mark cut a word into single letters;
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


# the blocks of scripts whose writers mark vowels (and more) at will; a nonspacing mark there is optional, as
# is the Arabic tatweel that stretches a word. Not Indic, Thai or Ethiopic marks: those are parts of letters
_OPTIONAL_MARK_BLOCKS = {
    "Arab": [(0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Hebr": [(0x0591, 0x05C7), (0xFB1D, 0xFB4F)],
    "Syrc": [(0x0700, 0x074F)],
}
_TATWEEL = "\u0640"


def optional_marks(script: str) -> str:
    """Return the characters text in `script` (ISO 15924) carries or leaves out without changing its words:
    Arabic-script harakat, shadda, sukun, the dagger alef, Quranic signs and tatweel; Hebrew points and
    cantillation; Syriac vowel points; "" for other scripts."""
    marks = [chr(code) for start, end in _OPTIONAL_MARK_BLOCKS.get(script, []) for code in range(start, end + 1)
             if unicodedata.category(chr(code)) == "Mn"]  # fmt: skip
    return "".join(marks) + (_TATWEEL if script == "Arab" else "")


def droppable_marks(tokenizer: Tokenizer, scripts: Iterable[str], texts: Iterable[str]) -> str:
    """Return the optional marks of `scripts` (`optional_marks`) that no piece of `tokenizer` holds and none of
    `texts` (e.g. protected old-language text) uses: a vocabulary without them read each as a byte fallback
    between single letters, so removing them changes no text that it had pieces for."""
    candidates = dict.fromkeys(mark for script in scripts for mark in optional_marks(script))
    in_pieces = {char for piece, _ in unigram_vocabulary(tokenizer) for char in piece}
    used = set().union(*map(set, texts))
    return "".join(mark for mark in candidates if mark not in in_pieces and mark not in used)


def drop_characters(tokenizer: Tokenizer, characters: str) -> Tokenizer:
    """Return a copy of `tokenizer` whose normalizer removes each of `characters`, right after NFKC (as
    `add_replacements`); `tokenizer` itself when `characters` is empty."""
    if not characters:
        return tokenizer
    pattern = "[" + "".join(f"\\x{{{ord(char):04X}}}" for char in dict.fromkeys(characters)) + "]"
    return _after_nfkc(tokenizer, [{"type": "Replace", "pattern": {"Regex": pattern}, "content": ""}])


def _after_nfkc(tokenizer: Tokenizer, steps: list[dict[str, object]]) -> Tokenizer:
    """Return a copy of `tokenizer` with the normalizer `steps` after SentencePiece's NFKC (`Precompiled`)
    where it has one, else first."""
    data = json.loads(tokenizer.to_str())
    current = data.get("normalizer")
    if current is None:
        data["normalizer"] = {"type": "Sequence", "normalizers": steps}
        return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))
    sequence = current["normalizers"] if current.get("type") == "Sequence" else [current]
    after = next((i + 1 for i, step in enumerate(sequence) if step.get("type") == "Precompiled"), 0)
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
