"""RememberingEncoder: each distinct text encoded once, called as any TextEncoder is."""

from __future__ import annotations

import numpy as np

from xling.embeddings.remembering import RememberingEncoder


class _Counting:
    """An encoder whose vector says whether it was normalised, counting the texts it encodes."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts, batch_size=64, normalize=None, show_progress=False):
        self.seen += list(texts)
        return np.array([[len(text), 1.0 if normalize is False else 0.0] for text in texts], dtype=np.float32)


def test_normalize_is_its_third_argument_and_arrays_of_texts_are_taken():
    """Its third positional argument was show_progress (TextEncoder's is normalize): `encode(texts, 64,
    False)` came back normalised; and a numpy array of texts raised on `if not texts`."""
    inner = _Counting()
    remembering = RememberingEncoder(inner)
    raw = remembering.encode(["ab", "abc"], 64, False)
    assert raw[:, 1].tolist() == [1.0, 1.0]  # not normalised, as asked
    assert remembering.encode(np.array(["ab", "abc", "ab"]))[:, 1].tolist() == [0.0, 0.0, 0.0]
    assert remembering.encode(["abc"], normalize=False)[0, 1] == 1.0
    assert inner.seen == ["ab", "abc", "ab", "abc"]  # each text once per normalize setting


def test_bad_texts_are_refused_as_the_encoder_refuses_them_naming_their_place():
    """A string was encoded as a list of its characters, and an empty text was named by its place among the
    distinct texts passed on (`['ok', 'ok', '']`: text 1)."""
    import pytest

    from xling.errors import DataError

    inner = _Counting()
    with pytest.raises(DataError, match="not one string"):
        RememberingEncoder(inner).encode("hello")
    with pytest.raises(DataError, match="^text 2 is empty"):
        RememberingEncoder(inner).encode(["ok", "ok", ""])
    assert inner.seen == []
