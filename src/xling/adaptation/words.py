"""Word-by-word dictionary look-up for a language with little data: by form, lemma, or longest known prefix.

The prefix rule is a crude stemmer that suits suffixing languages (Turkish `kitaplarımız` -> `kitap`): the
longest dictionary word that starts the word and covers at least 40% of it (and 3 characters) stands in.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence

import regex

# letters with their combining marks (Python re's \w leaves out vowel signs, viramas and decomposed accents,
# which cut Gujarati `પાણી` into `પ`, `ણ`), digits, and ZWNJ/ZWJ, which join parts of Persian and Indic words
WORD = regex.compile(r"[\p{L}\p{M}\p{N}_\u200c\u200d]+")
MIN_STEM, MIN_STEM_SHARE = 3, 0.4


def translations(dictionary: Sequence[tuple[str, str]], ignore: str = "") -> dict[str, list[str]]:
    """Return {new word (lower case, NFC, without the characters of `ignore`): its pivot translations in file
    order} of the single-word entries. `ignore`: the marks the tokenizer drops (vocabulary.drop_marks), so
    that a vocalised dictionary word is found as the plain piece or text word it is read as."""
    table: dict[str, list[str]] = defaultdict(list)
    for pivot_word, new_word in dictionary:
        if len(new_word.split()) == 1:
            table[_folded(new_word, ignore)].append(pivot_word)
    return dict(table)


def _folded(text: str, ignore: str = "") -> str:
    """Return `text` as words are looked up: lower case, composed (NFC), so that a decomposed `nước` in the
    text finds the composed one of the dictionary, and without the characters of `ignore`."""
    folded = unicodedata.normalize("NFC", text.lower())
    return folded.translate(dict.fromkeys(map(ord, ignore))) if ignore else folded


def look_up(word: str, table: Mapping[str, object], lemma: str = "") -> str | None:
    """Return the key of `table` that stands for `word` (lower case): the word, its lemma, or its longest
    known prefix; None when there is none."""
    for key in (word, lemma):
        if key and key in table:
            return key
    if len(word) > MIN_STEM:
        shortest = max(MIN_STEM, math.ceil(MIN_STEM_SHARE * len(word)))
        for end in range(len(word) - 1, shortest - 1, -1):
            if word[:end] in table:
                return word[:end]
    return None


# What a word's Universal Dependencies features say that English says with a word of its own
# (universaldependencies.org/u/feat/): negation, the speaker or hearer as the subject of a finite verb or as a
# possessor, and the spatial cases English says with a preposition. A static encoder's sentence vector is the
# mean of its pieces', so the words' order is of no account: `bilmiyorum` ("I do not know"), glossed `know`
# alone before, is glossed `know not I`, and its suffix pieces learn the pronoun and the negation.
_CASE_WORDS = {"Loc": "in", "Dat": "to", "Abl": "from", "Ins": "with", "Gen": "of"}
_SUBJECT_WORDS = {("1", "Sing"): "I", ("1", "Plur"): "we", ("2", "Sing"): "you", ("2", "Plur"): "you"}
_POSSESSOR_WORDS = {("1", "Sing"): "my", ("1", "Plur"): "our", ("2", "Sing"): "your", ("2", "Plur"): "your"}


def feature_words(features: str, pivot: str = "eng") -> list[str]:
    """Return the `pivot` words that say what the UD `features` of one word (`Case=Dat|Number=Sing`) say: its
    negation, its first or second person (subject of a finite verb, or possessor) and its spatial case;
    [] for a pivot other than English."""
    if pivot != "eng" or not features:
        return []
    values = dict(item.split("=", 1) for item in features.split("|") if "=" in item)
    words = ["not"] if values.get("Polarity") == "Neg" else []
    # finite verbs only: a participle's or verbal noun's person is its possessor's (`yaptığım`, "that I did")
    if "VerbForm" not in values and "Mood" in values:
        words += filter(None, [_SUBJECT_WORDS.get((values.get("Person", ""), values.get("Number", "Sing")))])
    possessor = (values.get("Person[psor]", ""), values.get("Number[psor]", "Sing"))
    words += filter(None, [_POSSESSOR_WORDS.get(possessor), _CASE_WORDS.get(values.get("Case", ""))])
    return words


def translate_words(
    text: str, lemmas: list[tuple[str, str]] | None, table: Mapping[str, list[str]], ignore: str = ""
) -> tuple[str, int, int]:
    """Return (the word-by-word translation of `text` (first translation of each word found), words
    translated, words); words and lemmas are looked up without the characters of `ignore` (as `table`'s
    keys, `translations(..., ignore)`)."""
    lemma_of = {_folded(word, ignore): _folded(lemma, ignore) for word, lemma in lemmas or []}
    words = WORD.findall(_folded(text, ignore))
    out = []
    for word in words:
        key = look_up(word, table, lemma_of.get(word, ""))
        if key is not None:
            out.append(table[key][0])
    return " ".join(out), len(out), len(words)
