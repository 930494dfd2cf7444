"""Two repairs of a tokenizer's coverage that keep every old id: character replacements and script variants.

- `add_replacements` adds plain character replacements (`ё` -> `е`) to the normalizer, for letters
  a vocabulary never learnt a piece for although its training text spells the same words without them
  (Russian writes `ё` as `е` almost everywhere, so the Bible has no `ё` piece and the letter became bytes);
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
    data = json.loads(tokenizer.to_str())
    steps = [{"type": "Replace", "pattern": {"String": unicodedata.normalize("NFKC", old)}, "content": new}
             for old, new in replacements.items()]  # fmt: skip
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
