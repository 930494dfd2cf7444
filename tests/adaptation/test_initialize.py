"""xling.adaptation.initialize: where new pieces' rows start."""

from __future__ import annotations

import numpy as np
from tokenizers import Tokenizer, models

from xling.adaptation.initialize import composed_rows, translated_rows
from xling.adaptation.words import word_folder


def unigram(byte_fallback: bool) -> Tokenizer:
    """Return a Unigram tokenizer of `<unk>`, `▁`, `a`, `b` (XLM-R's kind when without byte fallback)."""
    vocab = [("<unk>", 0.0), ("▁", -2.0), ("a", -1.0), ("b", -1.0)]
    return Tokenizer(models.Unigram(vocab, unk_id=0, byte_fallback=byte_fallback))


def test_a_piece_the_old_vocabulary_cannot_spell_starts_at_the_mean_not_at_unk():
    """Without byte fallback every character the old model lacks is `<unk>`: the new pieces of a script it
    never saw all started at the `<unk>` row."""
    embedding = np.array([[9.0, 9.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]], dtype=np.float32)
    rows = composed_rows(unigram(byte_fallback=False), embedding, ["กข", "▁aก", "ab"])
    np.testing.assert_allclose(rows[0], embedding.mean(axis=0))  # nothing known: the mean of all rows
    np.testing.assert_allclose(rows[1], embedding[[1, 2]].mean(axis=0))  # ▁ and a; not the unk row
    np.testing.assert_allclose(rows[2], embedding[[2, 3]].mean(axis=0))
    translated = translated_rows(
        unigram(byte_fallback=False), embedding, ["▁ขa"], [("ab", "ขa"), ("ก", "ขa")]
    )
    np.testing.assert_allclose(translated[0], embedding[[2, 3]].mean(axis=0))  # "ก" spells nothing known


def test_a_dictionary_word_seeds_its_piece_folded_as_the_language_writes_it():
    """Turkish `KADIN` is the piece `▁kadın` (I is ı): looked up with str.lower it was `kadin`, and the piece
    started from its spelling rather than from "women"."""
    embedding = np.array([[9.0, 9.0], [0.0, 1.0], [1.0, 0.0], [0.0, -1.0]], dtype=np.float32)
    dictionary = [("ab", "KADIN")]
    turkish = translated_rows(
        unigram(byte_fallback=False), embedding, ["▁kadın"], dictionary, word_folder("tur")
    )
    np.testing.assert_allclose(turkish[0], embedding[[2, 3]].mean(axis=0))
    assert translated_rows(unigram(byte_fallback=False), embedding, ["▁kadın"], dictionary) == {}
