"""Starting rows for new vocabulary pieces, from what the model already knows (FVT and a bilingual lexicon).

- `composed_rows`: a piece gets the mean of the old rows of the pieces the old vocabulary splits it into
  (Fast Vocabulary Transfer, Gee et al. 2022), so a new-language word starts where the old model put it;
  `initial_rows` with a `reading` (a transliteration into a related language's script) composes the pieces
  of that reading, so a cognate starts at its relative's row;
- `translated_rows`: a whole-word piece with a dictionary translation gets the mean of the old rows of its
  translation's pieces instead (the mean over its translations): the word starts next to its meaning. This
  is a lexicon lookup, not WECHSEL (Minixhofer et al. 2022), which aligns fastText spaces of the two
  languages with the dictionary and gives each new token a softmax-weighted mix of its nearest old
  subwords' rows, nor FOCUS (Dobler & de Melo 2023); both replace the tokenizer, where xling appends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
from tokenizers import Tokenizer

from xling.adaptation.words import fold_word, translations
from xling.tokenization.vocabulary_extension import WORD_START


def composed_rows(base: Tokenizer, embedding: np.ndarray, pieces: Sequence[str]) -> np.ndarray:
    """Return one row per piece: the mean of `embedding`'s rows of the old pieces that spell it.

    The segmentation is the old Unigram model's own (byte pieces where it lacks a character), without the
    normalizer or word-start handling, so `▁kitap` and `lar` are split as they are spelled.
    """
    rows = np.empty((len(pieces), embedding.shape[1]), dtype=np.float32)
    known = _known_ids(base, len(embedding))
    for i, piece in enumerate(pieces):
        ids = [t for t in (token.id for token in base.model.tokenize(piece)) if known(t)]
        rows[i] = embedding[ids].mean(axis=0) if ids else embedding.mean(axis=0)
    return rows


def _known_ids(base: Tokenizer, rows: int) -> Callable[[int], bool]:
    """Return a test of whether an old id stands for text the old model knows: a row of the embedding, and not
    `<unk>`, the piece of every character a vocabulary without byte fallback lacks (XLM-R's): a new piece of
    a script the old model never saw started at the `<unk>` row (now at `▁`'s, or the mean of all rows)."""
    model = json.loads(base.to_str())["model"]
    unknown = model.get("unk_id")
    if unknown is None and model.get("unk_token") is not None:
        unknown = base.token_to_id(model["unk_token"])
    return lambda token: token < rows and token != unknown


def translated_rows(
    base: Tokenizer,
    embedding: np.ndarray,
    pieces: Sequence[str],
    dictionary: Sequence[tuple[str, str]],
    fold: Callable[[str], str] = fold_word,
) -> dict[int, np.ndarray]:
    """Return {index of a piece: its row} for the whole-word pieces (`▁word`) that `dictionary` (pivot
    word, new word) translates (by form, both folded by `fold`: `word_folder` of the new language, without
    the marks the tokenizer drops; xling.adaptation.words.translations): the mean over its translations of
    the mean old row of each translation."""
    table = translations(dictionary, fold)
    rows: dict[int, np.ndarray] = {}
    known = _known_ids(base, len(embedding))
    for i, piece in enumerate(pieces):
        if not piece.startswith(WORD_START):
            continue
        # the form only: the prefix guess that serves word-by-word glosses misled the rows of Arabic words
        # (dev retrieval, 30 held-out pairs: 75.0 by form, 48.3 with the longest known prefix)
        meanings = table.get(fold(piece[len(WORD_START) :]))
        if not meanings:
            continue
        vectors = []
        for encoding in base.encode_batch(meanings, add_special_tokens=False):
            ids = [t for t in encoding.ids if known(t)]
            if ids:
                vectors.append(embedding[ids].mean(axis=0))
        if vectors:
            rows[i] = np.mean(vectors, axis=0)
    return rows


def initial_rows(
    base: Tokenizer,
    embedding: np.ndarray,
    pieces: Sequence[str],
    dictionary: Sequence[tuple[str, str]] = (),
    reading: Callable[..., str] | None = None,
    fold: Callable[[str], str] = fold_word,
) -> tuple[np.ndarray, dict[str, int]]:
    """Return (the starting rows of `pieces`, how many came from each method: "translated", "composed", and
    of the composed ones "transliterated", those `reading` wrote differently). `fold`: how a piece and a
    word of `dictionary` are looked up (`word_folder` of the new language and the extended tokenizer's
    `dropped_marks`)."""
    # a piece inside a word is read as such (an Arabic piece starting with ال is no article there)
    spelled = [reading(p, word_start=p.startswith(WORD_START)) for p in pieces] if reading else list(pieces)
    rows = composed_rows(base, embedding, spelled)
    translated = translated_rows(base, embedding, pieces, dictionary, fold)
    for i, row in translated.items():
        rows[i] = row
    counts = {"translated": len(translated), "composed": len(pieces) - len(translated)}
    if reading is not None:
        counts["transliterated"] = sum(
            1 for i, piece in enumerate(pieces) if i not in translated and spelled[i] != piece
        )
    return rows, counts
