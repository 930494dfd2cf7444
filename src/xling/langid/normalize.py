"""Text normalisation before language identification: what carries no language is removed, so that a tweet
and a Bible verse in one language look alike, and `und` is said for text with nothing left."""

from __future__ import annotations

import unicodedata

import regex

__all__ = ["normalize_text"]

# URLs, e-mail addresses, @mentions and #hashtags are names, not language (a French tweet's "#BlackFriday").
_NOISE = regex.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+|[@#][\p{L}\p{M}\p{N}_]+", regex.IGNORECASE)
# Everything but letters, combining marks (Indic vowel signs are marks, not letters) and in-word apostrophes.
# A mark is kept only on a letter: emoji carry marks of their own (U+20E3 draws a keycap), which would
# otherwise leave "1⃣" a letter-like text to label.
_NOT_LANGUAGE = regex.compile(
    r"[^\p{L}\p{M}\s'’]+|(?<![\p{L}\p{M}])\p{M}+|(?<![\p{L}\p{M}])['’]|['’](?![\p{L}\p{M}])"
)
# Variation selectors choose a glyph (U+FE0F: emoji style, as in "❤️"), never a language.
_SELECTORS = regex.compile(r"\p{Variation_Selector}+")
_SPACES = regex.compile(r"\s+")


def normalize_text(text: str) -> str:
    """Return `text` in NFKC, lower-cased, without URLs, e-mails, @mentions, #hashtags, digits, emoji and
    punctuation, spaces collapsed; an empty string when no letter is left."""
    text = unicodedata.normalize("NFKC", text)
    text = _NOISE.sub(" ", _SELECTORS.sub("", text))
    text = _NOT_LANGUAGE.sub(" ", text.lower())  # lower, not casefold: German ß is a clue
    return _SPACES.sub(" ", text).strip()
