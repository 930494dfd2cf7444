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
# (universaldependencies.org/u/feat/), where the sentence does not say it with a word already: negation on a
# content word (not on a negative particle or auxiliary, `nicht`, `değil`, which the dictionary translates), the
# speaker or hearer as the subject of a finite verb with no `nsubj` dependent (a pro-drop subject: `bilmiyorum`,
# "I do not know") or as a possessor with no possessive dependent (`kitabım`, "my book"), and the case of a
# phrase's head where no adposition (`case` dependent) says it (Turkish `evde`, "in the house", not Russian
# `в доме`, whose `в` the dictionary translates). A static encoder's sentence vector is the mean of its
# pieces', so the words' order is of no account: `bilmiyorum`, glossed `know` alone before, is glossed
# `know not I`. Genitive and instrumental are glossed `of` and `with` as the locative, dative and ablative are
# `in`, `to` and `from`: the English words that most often say them.
_CASE_WORDS = {"Loc": "in", "Dat": "to", "Abl": "from", "Ins": "with", "Gen": "of"}
_SUBJECT_WORDS = {("1", "Sing"): "I", ("1", "Plur"): "we", ("2", "Sing"): "you", ("2", "Plur"): "you"}
_POSSESSOR_WORDS = {("1", "Sing"): "my", ("1", "Plur"): "our", ("2", "Sing"): "your", ("2", "Plur"): "your"}
# a case says something of its own on a word that heads its phrase (a noun, pronoun, a verbal noun, an adjective
# or numeral used as a noun: Turkish `büyüğe`, "to the big one"), not on an adposition (Hindi में carries
# Case=Loc), a determiner, or a modifier agreeing with its noun (German `dem großen Mann`)
_CASELESS_TAGS = ("ADP", "DET", "AUX", "PART", "CCONJ", "SCONJ", "PUNCT")
_AGREEING_RELATIONS = ("amod", "det", "nummod", "case", "cop", "aux")
_NOT_NEGATED = ("PART", "AUX")


def feature_words(upos: Sequence[str], feats: Sequence[str], heads: Sequence[str], deprels: Sequence[str],
                  pivot: str = "eng") -> list[str]:  # fmt: skip
    """Return the `pivot` words that say what one CoNLL-U sentence's UD features say and its words do not
    (the comment above): its syntactic words' UPOS, FEATS (`Case=Dat|Number=Sing`, "" for none), HEAD and
    DEPREL columns; [] for a pivot other than English."""
    if pivot != "eng":
        return []
    children: dict[int, set[str]] = defaultdict(set)
    for head, relation in zip(heads, deprels, strict=True):
        if head.isdigit():
            children[int(head)].update({relation, relation.split(":")[0]})
    words = []
    for index, (tag, features) in enumerate(zip(upos, feats, strict=True), start=1):
        values = dict(item.split("=", 1) for item in features.split("|") if "=" in item)
        if values.get("Polarity") == "Neg" and tag not in _NOT_NEGATED:
            words.append("not")
        form = values.get("VerbForm")
        if tag in ("VERB", "AUX") and (form == "Fin" or (form is None and "Mood" in values)):
            # UD hangs the subject on the content word: an auxiliary's (a copula's) is its head's
            holder = int(heads[index - 1]) if tag == "AUX" and heads[index - 1].isdigit() else index
            subject = _SUBJECT_WORDS.get((values.get("Person", ""), values.get("Number", "Sing")))
            if subject and "nsubj" not in children[holder]:
                words.append(subject)
        possessor = _POSSESSOR_WORDS.get((values.get("Person[psor]", ""), values.get("Number[psor]", "Sing")))
        if possessor and not children[index] & {"nmod:poss", "det:poss"}:
            words.append(possessor)
        case = _CASE_WORDS.get(values.get("Case", ""))
        relation = deprels[index - 1].split(":")[0]
        if (
            case
            and tag not in _CASELESS_TAGS
            and relation not in _AGREEING_RELATIONS
            and "case" not in children[index]
        ):
            words.append(case)
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
