"""Vocabulary extension: appended pieces keep the old ids, and protected text keeps its segmentation."""

from __future__ import annotations

from tokenizers import Tokenizer

from xling.tokenization.vocabulary_extension import extend_tokenizer, protect


def test_protected_text_keeps_its_segmentation_however_deep_the_nested_pieces(sample_tokenizer_dir):
    base = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    known = base.get_vocab()
    word = "▁zqxjvbkwy"
    # nested prefixes the vocabulary lacks, longer ones likelier: dropping one lets the next shorter one win
    pieces = [
        (word[:n], -1.0 - 0.1 * (len(word) - n)) for n in range(len(word), 2, -1) if word[:n] not in known
    ]
    assert len(pieces) > 4  # more than the four rounds the loop used to stop after
    kept, dropped = protect(base, pieces, ["zqxjvbkwy"])
    extended = extend_tokenizer(base, kept)
    assert (
        extended.encode("zqxjvbkwy", add_special_tokens=False).ids
        == base.encode("zqxjvbkwy", add_special_tokens=False).ids
    )
    assert dropped == len(pieces) - len(kept) and dropped > 4
