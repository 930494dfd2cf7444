"""Vocabulary extension: appended pieces keep the old ids, and protected text keeps its segmentation."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer

from xling.errors import ConfigError
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


def test_a_piece_given_twice_is_refused_by_name(sample_tokenizer_dir):
    """A piece twice in `pieces` took two ids (the vocabulary grew by 2), and the first was never produced."""
    base = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    with pytest.raises(ConfigError, match=r"^pieces given more than once: \['▁xyzq'\]"):
        extend_tokenizer(base, [("▁xyzq", -1.0), ("▁qzyx", -1.5), ("▁xyzq", -2.0)])
    with pytest.raises(ConfigError, match=r"^pieces already in the vocabulary: \['<0x41>'\]"):
        extend_tokenizer(base, [("<0x41>", -1.0)])
    extended = extend_tokenizer(base, [("▁xyzq", -1.0), ("▁qzyx", -1.5)])
    assert extended.get_vocab_size() == base.get_vocab_size() + 2
    assert extended.encode("xyzq", add_special_tokens=False).ids == [extended.token_to_id("▁xyzq")]


def test_a_piece_scored_below_the_old_lowest_leaves_old_text_with_unknown_characters_as_it_was():
    # Unigram scores an unknown character from the vocabulary's lowest score: a new piece scored lower made
    # "xab" (x unknown) segment as xa + b instead of x + ab, though it uses no new piece
    from tokenizers import models

    vocab = [("<unk>", 0.0), ("ab", -1.0), ("xa", -12.0), ("b", -12.0), ("a", -5.0)]
    base = Tokenizer(models.Unigram(vocab, unk_id=0))
    assert base.encode("xab", add_special_tokens=False).tokens == ["x", "ab"]
    extended = extend_tokenizer(base, [("zz", -30.0)])
    assert extended.encode("xab", add_special_tokens=False).tokens == ["x", "ab"]
    assert extended.encode("zz", add_special_tokens=False).tokens == ["zz"]
