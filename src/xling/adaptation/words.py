"""Word-by-word dictionary look-up for a language with little data: by form, lemma, or longest known prefix.

The prefix rule is a crude stemmer that suits suffixing languages (Turkish `kitaplarımız` -> `kitap`): the
longest dictionary word that starts the word and covers at least 40% of it (and 3 characters) stands in.
"""

from __future__ import annotations

import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import regex

# letters with their combining marks (Python re's \w leaves out vowel signs, viramas and decomposed accents,
# which cut Gujarati `પાણી` into `પ`, `ણ`), digits, and ZWNJ/ZWJ, which join parts of Persian and Indic words
WORD = regex.compile(r"[\p{L}\p{M}\p{N}_\u200c\u200d]+")
MIN_STEM, MIN_STEM_SHARE = 3, 0.4


# Languages whose Latin alphabet has a dotless ı beside i, so that the capital of ı is I (İ being i's):
# Turkish, Azerbaijani (and its members), Crimean Tatar, Gagauz
DOTLESS_I_LANGUAGES = frozenset({"tur", "aze", "azj", "azb", "crh", "gag"})


def uses_dotless_i(language: str) -> bool:
    """Return whether words of `language` (ISO 639-3, maybe with a script: `tur`, `azj_Latn`) fold I to ı."""
    return language.split("_")[0] in DOTLESS_I_LANGUAGES


def fold_word(text: str, ignore: str = "", dotless_i: bool = False) -> str:
    """Return `text` as words are looked up: lower case, composed (NFC), so that a decomposed `nước` in the
    text finds the composed one of the dictionary, and without the characters of `ignore`. Turkish `İ` is
    `i` (str.lower gives `i` and a combining dot: `İnsan` never found `insan`); with `dotless_i` (the
    languages of DOTLESS_I_LANGUAGES) `I` is `ı`, as those languages write it (`IŞIK` is `ışık`)."""
    folded = unicodedata.normalize("NFC", text).replace("İ", "i")  # NFC first: I + U+0307 is İ
    folded = (folded.replace("I", "ı") if dotless_i else folded).lower()
    return folded.translate(dict.fromkeys(map(ord, ignore))) if ignore else folded


def word_folder(language: str, ignore: str = "") -> Callable[[str], str]:
    """Return `fold_word` as words of `language` are looked up (without the characters of `ignore`; I as ı
    where the language writes ı)."""
    return partial(fold_word, ignore=ignore, dotless_i=uses_dotless_i(language))


def translations(
    dictionary: Sequence[tuple[str, str]], fold: Callable[[str], str] = fold_word
) -> dict[str, list[str]]:
    """Return {new word as `fold` gives it: its pivot translations in file order} of the single-word entries.
    `fold`: `word_folder` of the new language (lower case, NFC, without the marks the tokenizer drops, so
    that a vocalised dictionary word is found as the plain piece or text word it is read as; Turkish I as ı);
    the pieces and text words looked up in the table must be folded the same way."""
    table: dict[str, list[str]] = defaultdict(list)
    for pivot_word, new_word in dictionary:
        if len(new_word.split()) == 1:
            table[fold(new_word)].append(pivot_word)
    return dict(table)


def with_lemma_keys(
    table: Mapping[str, list[str]],
    lemmas: Iterable[str],
    endings: Sequence[str],
    fold: Callable[[str], str] = fold_word,
) -> dict[str, list[str]]:
    """Return `table` with an entry for each of `lemmas` it lacks that is a dictionary word less one of
    `endings` (the first in their order that makes one): Turkish treebank lemmas are roots (`gel`), its
    dictionary's verbs infinitives (`gelmek`), so `endings=["mak", "mek"]` glosses `gel` as `gelmek` is.
    The added keys are words of the table like any other: `look_up`'s prefix rule finds them too (`veri`,
    "data", is glossed as `ver`, "give"). `fold`: as `table`'s keys were folded (`translations`)."""
    extended = dict(table)
    folded_endings = [fold(ending) for ending in endings]
    for lemma in {fold(lemma) for lemma in lemmas}:
        if not lemma or lemma in extended:
            continue
        for ending in folded_endings:
            if lemma + ending in table:
                extended[lemma] = table[lemma + ending]
                break
    return extended


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
# (universaldependencies.org/u/feat/), where the sentence does not say it with a word already:
# - negation on a verb, noun or adjective (`bilmiyorum`, "I do not know"), not on the particles, adverbs and
#   auxiliaries that are negations themselves (`nicht`, `ne ... pas`, `değil`), which the dictionary translates;
# - the speaker or hearer as the subject of a finite verb when no `nsubj` says it, on the verb or, for a
#   conjoined verb, on the one it is conjoined to (pro-drop: `bilmiyorum`);
# - the speaker or hearer as a possessor when no possessive word says it (`kitabım`, "my book");
# - the case of an oblique, a nominal modifier or an indirect object (and of a clause or verbal noun) whose
#   phrase has no adposition (`case` dependent), read on the phrase's head for a conjunct or a name's parts:
#   Turkish `evde`, "in the house", but not Russian `в Москве и Петербурге`, whose `в` the dictionary
#   translates, nor Finnish genitive objects, Russian predicate instrumentals or possessive pronouns.
# A static encoder's sentence vector is the mean of its pieces', so the words' order is of no account:
# `bilmiyorum` is glossed `not I` (and `know not I` where its lemma `bil` is found: the dictionary has
# `bilmek`, so with `static.lemma_endings`). Genitive and instrumental are glossed
# `of` and `with` as the locative, dative and ablative are `in`, `to` and `from`: the English words that most
# often say them. Chosen on Turkish dev data (docs/adapt.md).
_CASE_WORDS = {"Loc": "in", "Dat": "to", "Abl": "from", "Ins": "with", "Gen": "of"}
_SUBJECT_WORDS = {("1", "Sing"): "I", ("1", "Plur"): "we", ("2", "Sing"): "you", ("2", "Plur"): "you"}
_POSSESSOR_WORDS = {("1", "Sing"): "my", ("1", "Plur"): "our", ("2", "Sing"): "your", ("2", "Plur"): "your"}
_NEGATED_TAGS = ("VERB", "NOUN", "PROPN", "ADJ")
_CASE_RELATIONS = ("obl", "nmod", "iobj", "root", "advcl")
_CLAUSE_RELATIONS = ("xcomp", "ccomp", "csubj", "acl")  # a verbal noun's case (`yapmaya`, "to doing")
_CASELESS_TAGS = ("ADP", "DET", "AUX", "PART", "CCONJ", "SCONJ", "PUNCT")
_SAME_PHRASE = ("conj", "flat", "appos", "compound", "fixed")


def feature_words(upos: Sequence[str], feats: Sequence[str], heads: Sequence[str], deprels: Sequence[str],
                  pivot: str = "eng") -> list[str]:  # fmt: skip
    """Return the `pivot` words that say what one CoNLL-U sentence's UD features say and its words do not
    (the comment above): its syntactic words' UPOS, FEATS (`Case=Dat|Number=Sing`, "" for none), HEAD and
    DEPREL columns; [] for a pivot other than English."""
    if pivot != "eng":
        return []
    head_of = [int(head) if head.isdigit() else 0 for head in heads]
    relation_of = [relation.split(":")[0] for relation in deprels]
    children: dict[int, set[str]] = defaultdict(set)
    for head, relation in zip(head_of, deprels, strict=True):
        children[head].update({relation, relation.split(":")[0]})

    def phrase_head(index: int) -> int:
        """Return the word that heads `index`'s phrase: up from conjuncts and a name's or compound's parts."""
        seen = set()
        while relation_of[index - 1] in _SAME_PHRASE and head_of[index - 1] and index not in seen:
            seen.add(index)
            index = head_of[index - 1]
        return index

    words = []
    for index, (tag, features) in enumerate(zip(upos, feats, strict=True), start=1):
        values = dict(item.split("=", 1) for item in features.split("|") if "=" in item)
        if values.get("Polarity") == "Neg" and tag in _NEGATED_TAGS:
            words.append("not")
        form = values.get("VerbForm")
        if tag in ("VERB", "AUX") and (form == "Fin" or (form is None and "Mood" in values)):
            # UD hangs the subject on the content word: an auxiliary's (a copula's) is its head's
            holder = head_of[index - 1] if relation_of[index - 1] in ("aux", "cop") else index
            subject = _SUBJECT_WORDS.get((values.get("Person", ""), values.get("Number", "Sing")))
            if subject and "nsubj" not in children[holder] | children[phrase_head(holder)]:
                words.append(subject)
        possessor = _POSSESSOR_WORDS.get((values.get("Person[psor]", ""), values.get("Number[psor]", "Sing")))
        if possessor and not children[index] & {"nmod:poss", "det:poss"}:
            words.append(possessor)
        case = _CASE_WORDS.get(values.get("Case", ""))
        head = phrase_head(index)
        relation = relation_of[head - 1] if head else "root"
        governed = relation in _CASE_RELATIONS or (tag == "VERB" and relation in _CLAUSE_RELATIONS)
        possessive_pronoun = tag == "PRON" and deprels[index - 1] in ("nmod:poss", "det:poss")
        if (
            case
            and tag not in _CASELESS_TAGS
            and governed
            and not possessive_pronoun
            and "case" not in children[head]
        ):
            words.append(case)
    return words


def translate_words(
    text: str,
    lemmas: list[tuple[str, str]] | None,
    table: Mapping[str, list[str]],
    fold: Callable[[str], str] = fold_word,
) -> tuple[str, int, int]:
    """Return (the word-by-word translation of `text` (first translation of each word found), words
    translated, words); words and lemmas are folded by `fold`, as `table`'s keys were (`translations`)."""
    lemma_of = {fold(word): fold(lemma) for word, lemma in lemmas or []}
    words = WORD.findall(fold(text))
    out = []
    for word in words:
        key = look_up(word, table, lemma_of.get(word, ""))
        if key is not None:
            out.append(table[key][0])
    return " ".join(out), len(out), len(words)
