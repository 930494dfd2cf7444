"""Vocabulary extension: add the sub-words of a new language to a Unigram tokenizer, keeping every old token id.

A model trained on the Bible's 60 languages reads Turkish through pieces learned on other languages (and
its dotless `ı` as two UTF-8 bytes); Thai or Georgian fall back to bytes altogether. The remedy of Glot500
and Chau et al. (2020) is to learn sub-words on the new language's text and append the ones the vocabulary
lacks (WECHSEL and FOCUS replace the tokenizer instead):

- `learn_pieces` trains a Unigram model (Hugging Face `tokenizers`) on the new text, with the old
  tokenizer's normalizer and its word-boundary marker, splitting punctuation off as SentencePiece does;
- `new_pieces` keeps the learned pieces the old vocabulary lacks (no special tokens, no piece that glues
  letters to punctuation, none in another script than the language's, none of no script at all: digits,
  symbols and emoji are every language's, and English text with 😂 would read the new piece), the most
  probable first, up to a cap;
- `protect` drops the new pieces that the old tokenizer's languages would start to use: it segments a sample
  of their text with the extended tokenizer and removes every new piece that appears, a few rounds over, so
  that sample keeps its exact old segmentation (and a model's vectors of it stay bit-identical);
- `extend_tokenizer` appends the pieces, with their log-probabilities from the new language's model as
  Unigram scores, after the old ones: old ids never move, new ids start at the old vocabulary size.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import regex
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from xling.errors import ConfigError

WORD_START = "▁"
# a character of some script: its Script_Extensions are not Common (Zyyy) or Inherited (Zinh) alone, so the
# Arabic comma and question mark (Common, used by Arabic-script languages only) are Arabic, and emoji are none
SCRIPTED = regex.compile(r"[^\p{scx=Zyyy}\p{scx=Zinh}]")


@dataclass
class VocabularyExtension:
    """What `extend_vocabulary` did: the pieces appended (in id order) and why others were left out."""

    old_size: int
    """Tokens of the old vocabulary; the first new piece has this id."""
    pieces: list[str]
    """The appended pieces, id old_size + i for piece i."""
    learned: int
    """Pieces the Unigram model learned on the new text."""
    known: int
    """Learned pieces the old vocabulary already had."""
    capped: int
    """New pieces left out by the cap (the least probable)."""
    protected: int
    """New pieces left out because the protected old-language text would have used them."""
    other_script: int = 0
    """New pieces left out because a letter of theirs is not in the new language's scripts."""
    no_script: int = 0
    """New pieces left out because they are of no script (digits, symbols, emoji, shared punctuation): the
    old languages write them too, and their text would segment with them."""
    dropped_marks: str = ""
    """Optional marks of the new language's script that the extended tokenizer's normalizer removes
    (xling.tokenization.normalization.droppable_marks)."""

    def to_dict(self) -> dict[str, int | str]:
        """Return the counts (and the dropped marks) as JSON-able data (for xling.json)."""
        return {"old_size": self.old_size, "added": len(self.pieces), "learned": self.learned,
                "known": self.known, "capped": self.capped, "protected": self.protected,
                "other_script": self.other_script, "no_script": self.no_script, "marks_dropped": len(self.dropped_marks),
                "dropped_marks": self.dropped_marks}  # fmt: skip


def unigram_vocabulary(tokenizer: Tokenizer) -> list[tuple[str, float]]:
    """Return the (piece, score) list of a Unigram tokenizer; raise ConfigError for any other model type."""
    model = json.loads(tokenizer.to_str())["model"]
    if model.get("type") != "Unigram":
        raise ConfigError(
            f"vocabulary extension needs a Unigram (SentencePiece) tokenizer; this one is {model.get('type')}"
        )
    return [(piece, float(score)) for piece, score in model["vocab"]]


def learn_pieces(base: Tokenizer, texts: Iterable[str], *, vocab_size: int) -> list[tuple[str, float]]:
    """Return the (piece, log-probability) pairs of a Unigram model of `vocab_size` learned on `texts`.

    The text goes through `base`'s normalizer, and words get `base`'s word-start marker, so the pieces are
    spelled as `base` would spell them.
    """
    learner = Tokenizer(models.Unigram())
    learner.normalizer = base.normalizer
    learner.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(replacement=WORD_START, prepend_scheme="always", split=True),
         pre_tokenizers.Punctuation("isolated"), pre_tokenizers.Digits(individual_digits=True)]
    )  # fmt: skip
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=[], max_piece_length=16, show_progress=False
    )
    try:
        learner.train_from_iterator(texts, trainer)
    except Exception as error:  # tokenizers raises a bare Exception for a vocabulary below the alphabet
        if "not large enough to contain all chars" not in str(error):
            raise
        raise ConfigError(f"vocabulary.learn_size: {vocab_size} pieces cannot hold every character of the new "
                          "language's text; raise it (the default is 16000)") from None  # fmt: skip
    return [(piece, float(score)) for piece, score in json.loads(learner.to_str())["model"]["vocab"]]


def is_clean_piece(piece: str) -> bool:
    """Return whether `piece` may join a vocabulary: word characters only (after an optional word start), or
    a single other character."""
    body = piece.removeprefix(WORD_START)
    if not body:
        return False
    if len(body) == 1:
        return not unicodedata.category(body).startswith(("C", "Z"))
    return all(unicodedata.category(char)[0] in "LMN" for char in body)


def in_scripts(piece: str, scripts: Collection[str]) -> bool:
    """Return whether every letter of `piece` is written in one of `scripts` (ISO 15924, e.g. Latn, Deva), and
    every other character of a script is one those scripts use (Unicode's Script_Extensions: `،` is Arabic's,
    `、` Chinese's and Japanese's, `·` Latin's and Greek's, so an Arabic piece holds neither of the last two)."""
    from xling.data.languages import SCRIPT_PARTS
    from xling.langid.scripts import script_of

    # a writing system's Unicode scripts (Jpan: Hira, Kana, Hani); Simplified and Traditional Han are Hani
    han = {"Hans": "Hani", "Hant": "Hani"}  # Unicode has one Han script
    wanted = [code for script in scripts for code in SCRIPT_PARTS.get(script, {han.get(script, script)})]
    # a letter's script as script_of names it (Hani for any Han character, Jpan for kana): `Hant` asked kept
    # no Han piece at all
    letters = {*scripts, *wanted}
    for char in piece.removeprefix(WORD_START):
        script = script_of(char)
        if script is not None:
            if script not in letters:
                return False
        elif SCRIPTED.match(char) and not any(_has_extension(char, code) for code in wanted):
            return False
    return True


def _has_extension(char: str, script: str) -> bool:
    """Return whether Unicode's Script_Extensions of `char` list `script` (False for a code it lacks)."""
    pattern = _extension_pattern(script)
    return pattern is not None and pattern.match(char) is not None


@functools.cache
def _extension_pattern(script: str) -> regex.Pattern | None:
    r"""Return the compiled `\p{scx=script}` (None for a code Unicode lacks): compiled once, not per piece."""
    try:
        return regex.compile(rf"\p{{scx={script}}}")
    except regex.error:
        return None


def has_script(piece: str) -> bool:
    """Return whether a character of `piece` belongs to a script (Unicode's Script_Extensions, not Common or
    Inherited alone: `،` is Arabic, `|` none): not digits, shared punctuation, symbols or emoji alone."""
    return SCRIPTED.search(piece.removeprefix(WORD_START)) is not None


def new_pieces(
    base: Tokenizer, learned: Sequence[tuple[str, float]], *, limit: int, scripts: Collection[str] = ()
) -> tuple[list[tuple[str, float]], int, int, int, int]:
    """Return (the learned pieces `base` lacks, of some script, in `scripts` when given, most probable first,
    at most `limit`; how many it had; how many the cap left out; how many were in another script; how many
    were of no script)."""
    known = set(base.get_vocab(with_added_tokens=True))
    fresh = [(p, s) for p, s in learned if p not in known and is_clean_piece(p)]
    scripted = [(p, s) for p, s in fresh if has_script(p)]
    in_script = [(p, s) for p, s in scripted if not scripts or in_scripts(p, scripts)]
    in_script.sort(key=lambda item: -item[1])
    known_count = sum(p in known for p, _ in learned)
    return (in_script[:limit], known_count, max(0, len(in_script) - limit), len(scripted) - len(in_script),
            len(fresh) - len(scripted))  # fmt: skip


def extend_tokenizer(base: Tokenizer, pieces: Sequence[tuple[str, float]]) -> Tokenizer:
    """Return a copy of the Unigram tokenizer `base` with `pieces` (piece, score) appended after its own.

    Old ids are unchanged; piece i gets id len(old vocabulary) + i. A score below the old vocabulary's lowest
    is raised to it: the Unigram model scores an unknown character from the lowest score (minus 10), so a
    lower one would change how old-language text with characters the vocabulary lacks segments, though it
    uses no new piece (which `protect` could not see).
    """
    data = json.loads(base.to_str())
    vocab = unigram_vocabulary(base)
    added_ids = [token["id"] for token in data.get("added_tokens", [])]
    if added_ids and max(added_ids) >= len(vocab):
        raise ConfigError("the tokenizer has added tokens after its Unigram vocabulary; cannot append pieces")
    known = {piece for piece, _ in vocab}
    duplicates = [piece for piece, _ in pieces if piece in known]
    if duplicates:
        raise ConfigError(f"pieces already in the vocabulary: {duplicates[:5]}")
    # a piece given twice would take two ids, and the first would never be produced
    repeated = [piece for piece, n in Counter(piece for piece, _ in pieces).items() if n > 1]
    if repeated:
        raise ConfigError(f"pieces given more than once: {repeated[:5]}")
    lowest = min((float(score) for _, score in vocab), default=0.0)
    appended = ([piece, max(float(score), lowest)] for piece, score in pieces)
    data["model"]["vocab"] = [*map(list, vocab), *appended]
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False))


def protect(
    base: Tokenizer, pieces: Sequence[tuple[str, float]], protected_texts: Sequence[str]
) -> tuple[list[tuple[str, float]], int]:
    """Return (the pieces the protected texts do not use once added, how many were dropped).

    Dropping a piece can make another one win where it lost before (nested pieces: `▁abcdef`, `▁abcde`...),
    so rounds go on until the protected texts use none of the survivors; each round drops at least one
    piece, so it ends. The protected texts then segment as they did, and keep their vectors.
    """
    if not protected_texts or not pieces:
        return list(pieces), 0
    old_size = base.get_vocab_size(with_added_tokens=True)
    kept = list(pieces)
    while kept and (used := _used_new_ids(extend_tokenizer(base, kept), protected_texts, old_size)):
        kept = [item for i, item in enumerate(kept) if i not in used]
    return kept, len(pieces) - len(kept)


def _used_new_ids(tokenizer: Tokenizer, texts: Sequence[str], old_size: int) -> set[int]:
    """Return the indexes (id - old_size) of the appended pieces that segmenting `texts` uses."""
    used: set[int] = set()
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        ids = np.asarray(encoding.ids)
        used.update(int(i) - old_size for i in ids[ids >= old_size])
    return used


def extend_vocabulary(
    base: Tokenizer,
    texts: Sequence[str],
    *,
    max_new: int,
    learn_size: int,
    protected_texts: Sequence[str] = (),
    scripts: Collection[str] = (),
    drop_marks: bool = False,
) -> tuple[Tokenizer, VocabularyExtension]:
    """Return (`base` extended with up to `max_new` pieces learned on `texts`, what was done).

    `learn_size` is the size of the Unigram model learned on `texts` (it is lowered to what the text
    supports); `protected_texts` are old-language sentences whose segmentation must not change; `scripts`
    (ISO 15924), when given, are the only scripts a new piece's letters may be in, so that stray English
    or romanised words in a tweet corpus do not become pieces that English text would then use. With
    `drop_marks`, the normalizer first learns to remove the optional marks of `scripts` (the Arabic script's
    harakat and tatweel; xling.tokenization.normalization.optional_marks) that no old piece and no protected
    text has, before the pieces are learned.
    """
    if max_new < 0:
        raise ConfigError(f"vocabulary.max_new: {max_new} must be 0 or more")
    unigram_vocabulary(base)  # refuses a non-Unigram tokenizer before any work
    marks = ""
    if drop_marks:
        from xling.tokenization.normalization import drop_characters, droppable_marks

        marks = droppable_marks(base, scripts, protected_texts)
        base = drop_characters(base, marks)
    old_size = base.get_vocab_size(with_added_tokens=True)
    learned = learn_pieces(base, texts, vocab_size=learn_size) if max_new and texts else []
    fresh, known, capped, other_script, no_script = new_pieces(base, learned, limit=max_new, scripts=scripts)
    kept, dropped = protect(base, fresh, protected_texts)
    report = VocabularyExtension(old_size=old_size, pieces=[p for p, _ in kept], learned=len(learned),
                                 known=known, capped=capped, protected=dropped, other_script=other_script,
                                 no_script=no_script, dropped_marks=marks)  # fmt: skip
    return extend_tokenizer(base, kept), report
