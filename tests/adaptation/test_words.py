"""Word-by-word glosses: words keep their combining marks, so scripts that write vowels as marks are glossed."""

from __future__ import annotations

import unicodedata

from tokenizers import Tokenizer

from xling.adaptation.data import AdaptData
from xling.adaptation.static import build_examples
from xling.adaptation.words import WORD, feature_words, translate_words, translations

GUJARATI = [("water", "પાણી"), ("cold", "ઠંડું"), ("is", "છે"), ("house", "ઘર"), ("big", "મોટું")]


def test_words_keep_vowel_signs_viramas_and_decomposed_accents():
    """Python re's \\w left out combining marks: `પાણી ઠંડું છે` was cut into `પ`, `ણ`, `ઠ`, `ડ`, `છ`."""
    assert WORD.findall("પાણી ઠંડું છે") == ["પાણી", "ઠંડું", "છે"]
    assert WORD.findall("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # virama inside a word
    assert WORD.findall("می\u200cخواهم، آب.") == ["می\u200cخواهم", "آب"]  # ZWNJ joins a Persian word
    table = translations(GUJARATI)
    assert translate_words("પાણી ઠંડું છે", None, table) == ("water cold is", 3, 3)
    # a decomposed (NFD) text finds the dictionary's composed words, and the other way round
    vietnamese = translations([("water", "nước"), ("cold", unicodedata.normalize("NFD", "lạnh"))])
    assert translate_words(unicodedata.normalize("NFD", "Nước lạnh"), None, vietnamese) == (
        "water cold",
        2,
        2,
    )
    assert translate_words("nước lạnh", None, vietnamese) == ("water cold", 2, 2)


def test_indic_text_whose_words_are_in_the_dictionary_gives_text_examples(sample_tokenizer_dir):
    texts = ["પાણી ઠંડું છે", "ઘર મોટું છે", "ઘર ઠંડું છે"] * 4
    data = AdaptData("guj", "eng", texts=texts, lemmas=[None] * len(texts), dictionary=GUJARATI)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    train, _, _ = build_examples(data, tokenizer, 0.0, 0)
    assert train.counts()["text"] == len(texts)


def test_dictionary_words_and_text_are_looked_up_without_the_marks_the_tokenizer_drops():
    kasra, fatha = "\u0650", "\u064e"
    table = translations([("book", f"ك{kasra}ت{fatha}اب"), ("read", "قرأ")], ignore=kasra + fatha)
    assert set(table) == {"كتاب", "قرأ"}
    assert translate_words(f"ق{fatha}ر{fatha}أ ك{kasra}تاب", None, table, ignore=kasra + fatha) == (
        "read book",
        2,
        2,
    )
    # without `ignore`, a vocalised word is another word
    assert translate_words("كتاب", None, translations([("book", f"ك{kasra}تاب")]))[1] == 0


def test_features_say_negation_person_and_spatial_case_in_english():
    # bilmiyorum, "I do not know": a finite verb's subject and its negation
    assert feature_words("Aspect=Prog|Mood=Ind|Number=Sing|Person=1|Polarity=Neg|Tense=Pres") == ["not", "I"]
    assert feature_words("Mood=Imp|Number=Plur|Person=2|Polarity=Pos") == ["you"]
    # evimizde, "in our house": possessor and locative
    assert feature_words("Case=Loc|Number=Sing|Number[psor]=Plur|Person=3|Person[psor]=1") == ["our", "in"]
    # a participle's person is its possessor's, not a subject's: yaptığım, "that I did"
    assert feature_words("Case=Nom|Number[psor]=Sing|Person[psor]=1|VerbForm=Part") == ["my"]
    assert feature_words("Case=Nom|Number=Sing|Person=3") == [] and feature_words("") == []
    assert feature_words("Polarity=Neg", pivot="deu") == []  # the words are English ones
