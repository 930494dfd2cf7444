"""Word-by-word glosses: words keep their combining marks, so scripts that write vowels as marks are glossed."""

from __future__ import annotations

import unicodedata

from tokenizers import Tokenizer

from xling.adaptation.data import AdaptData
from xling.adaptation.static import build_examples
from xling.adaptation.words import (
    WORD,
    feature_words,
    translate_words,
    translations,
    with_lemma_keys,
    word_folder,
)

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
    fold = word_folder("arb", ignore=kasra + fatha)
    table = translations([("book", f"ك{kasra}ت{fatha}اب"), ("read", "قرأ")], fold)
    assert set(table) == {"كتاب", "قرأ"}
    assert translate_words(f"ق{fatha}ر{fatha}أ ك{kasra}تاب", None, table, fold) == (
        "read book",
        2,
        2,
    )
    # without `ignore`, a vocalised word is another word
    assert translate_words("كتاب", None, translations([("book", f"ك{kasra}تاب")]))[1] == 0


def test_a_root_lemma_is_glossed_as_the_dictionary_word_it_starts_with_an_ending_given():
    """UD Turkish-IMST's verb lemmas are roots (`gel`), the dictionary's verbs infinitives (`gelmek`)."""
    table = translations([("come", "gelmek"), ("read", "okumak"), ("book", "kitap"), ("reading", "okuma")])
    lemmas = [("geldi", "gel"), ("okudum", "oku"), ("kitabı", "kitap")]
    assert translate_words("geldi okudum kitabı", lemmas, table) == ("book", 1, 3)
    extended = with_lemma_keys(table, [lemma for _, lemma in lemmas], ["mak", "mek"])
    assert translate_words("geldi okudum kitabı", lemmas, extended) == ("come read book", 3, 3)
    # the first ending in the order given that makes a dictionary word wins; a word already there stays
    assert with_lemma_keys(table, ["oku"], ["ma", "mak"])["oku"] == ["reading"]
    assert with_lemma_keys(table, ["kitap"], ["mak"])["kitap"] == ["book"]
    assert "yap" not in with_lemma_keys(table, ["yap"], ["mak", "mek"])
    assert with_lemma_keys(table, ["Gel"], ["mek"])["gel"] == ["come"]  # looked up as text words are


def test_lemma_endings_reach_the_glosses_of_the_training_examples(sample_tokenizer_dir):
    texts = ["geldi kitap", "okudum kitap"] * 4
    lemmas = [[("geldi", "gel"), ("kitap", "kitap")], [("okudum", "oku"), ("kitap", "kitap")]] * 4
    dictionary = [("come", "gelmek"), ("read", "okumak"), ("book", "kitap")]
    data = AdaptData("tur", "eng", texts=texts, lemmas=lemmas, dictionary=dictionary)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    _, _, plain = build_examples(data, tokenizer, 0.0, 0)
    _, _, ended = build_examples(data, tokenizer, 0.0, 0, lemma_endings=["mak", "mek"])
    assert "book" in plain and "come book" not in plain
    assert {"come book", "read book"} <= set(ended)


def _sentence(*words: tuple[str, str, str, str]) -> tuple[list[str], ...]:
    """Return the UPOS, FEATS, HEAD and DEPREL columns of (upos, feats, head, deprel) rows."""
    return tuple(list(column) for column in zip(*words, strict=True))


def test_features_say_what_the_words_do_not():
    # bilmiyorum, "I do not know": a finite verb's pro-drop subject and its negation
    assert feature_words(*_sentence(("VERB", "Mood=Ind|Number=Sing|Person=1|Polarity=Neg|Tense=Pres", "0", "root"))) == [
        "not", "I"]  # fmt: skip
    # UD's VerbForm=Fin marks a finite verb too (German, Finnish, English treebanks)
    assert feature_words(*_sentence(("VERB", "Number=Plur|Person=1|VerbForm=Fin", "0", "root"))) == ["we"]
    # a participle's person is no subject
    assert feature_words(*_sentence(("VERB", "Number=Sing|Person=1|VerbForm=Part", "0", "root"))) == []
    # evimizde, "in our house": possessor and locative, no adposition or possessive word
    assert feature_words(*_sentence(("NOUN", "Case=Loc|Number[psor]=Plur|Person=3|Person[psor]=1", "0", "root"))) == [
        "our", "in"]  # fmt: skip
    assert feature_words(*_sentence(("NOUN", "Case=Nom|Number=Sing|Person=3", "0", "root"))) == []
    assert feature_words(*_sentence(("VERB", "Polarity=Neg|Mood=Ind", "0", "root")), pivot="deu") == []


def test_features_a_word_of_the_sentence_already_says_are_not_glossed_again():
    # ich weiß nicht: the subject is a word (nsubj), the negation a particle (PART)
    assert feature_words(*_sentence(("PRON", "Case=Nom|Number=Sing|Person=1", "2", "nsubj"),
                                    ("VERB", "Mood=Ind|Number=Sing|Person=1|VerbForm=Fin", "0", "root"),
                                    ("PART", "Polarity=Neg", "2", "advmod"))) == []  # fmt: skip
    # в доме, "in the house": the preposition (case) says the locative; Hindi घर में: the postposition's Case
    assert (
        feature_words(*_sentence(("ADP", "", "2", "case"), ("NOUN", "Case=Loc|Number=Sing", "0", "root")))
        == []
    )
    assert (
        feature_words(*_sentence(("NOUN", "Case=Obl", "0", "root"), ("ADP", "Case=Loc", "1", "case"))) == []
    )
    # benim kitabım, "my book": the possessive pronoun says it (and its genitive is no "of")
    assert feature_words(*_sentence(("PRON", "Case=Gen|Number=Sing|Person=1", "2", "nmod:poss"),
                                    ("NOUN", "Case=Nom|Number[psor]=Sing|Person[psor]=1", "0", "root"))) == []  # fmt: skip
    # в Москве и Петербурге: the conjunct's case is its phrase's, which the preposition says
    assert feature_words(*_sentence(("ADP", "", "2", "case"), ("PROPN", "Case=Loc", "0", "root"),
                                    ("CCONJ", "", "4", "cc"), ("PROPN", "Case=Loc", "2", "conj"))) == []  # fmt: skip
    # a Finnish genitive object, a Russian predicate instrumental: no preposition would say them in English
    assert feature_words(*_sentence(("VERB", "Mood=Ind|Person=3|VerbForm=Fin", "0", "root"),
                                    ("NOUN", "Case=Gen", "1", "obj"), ("NOUN", "Case=Ins", "1", "xcomp"))) == []  # fmt: skip
    # ne ... pas: two adverbs, one negation that the dictionary translates
    assert feature_words(*_sentence(("ADV", "Polarity=Neg", "2", "advmod"), ("VERB", "VerbForm=Inf", "0", "root"),
                                    ("ADV", "Polarity=Neg", "2", "advmod"))) == []  # fmt: skip
    # I enjoyed it and wish ...: the conjoined verb shares the first one's subject
    assert feature_words(*_sentence(("PRON", "Case=Nom|Person=1", "2", "nsubj"),
                                    ("VERB", "Mood=Ind|Number=Sing|Person=1|VerbForm=Fin", "0", "root"),
                                    ("VERB", "Mood=Ind|Number=Sing|Person=1|VerbForm=Fin", "2", "conj"))) == []  # fmt: skip
    # an auxiliary that is the root (I haven't): its own subject, not node 0's
    assert feature_words(*_sentence(("PRON", "Case=Nom|Person=1", "2", "nsubj"),
                                    ("AUX", "Mood=Ind|Number=Sing|Person=1|VerbForm=Fin", "0", "root"))) == []  # fmt: skip
    # der große Mann: an adjective agreeing with its noun says no case of its own; Turkish büyüğe ("to the big
    # one") heads its phrase and does
    assert feature_words(*_sentence(("ADJ", "Case=Dat", "2", "amod"), ("NOUN", "Case=Dat", "0", "root"))) == [
        "to"
    ]
    assert feature_words(*_sentence(("VERB", "Mood=Ind", "0", "root"), ("ADJ", "Case=Dat", "1", "obl"))) == [
        "to"
    ]
    # yapmaya başladı, "began to do": a verbal noun's case
    assert feature_words(*_sentence(("VERB", "Case=Dat|VerbForm=Vnoun", "2", "xcomp"), ("VERB", "", "0", "root"))) == [
        "to"]  # fmt: skip
    # öğretmenim, "I am a teacher": the copula's subject hangs on its head, the noun
    copula = _sentence(("NOUN", "Case=Nom|Number=Sing|Person=3", "0", "root"),
                       ("AUX", "Mood=Ind|Number=Sing|Person=1|Tense=Pres", "1", "cop"))  # fmt: skip
    assert feature_words(*copula) == ["I"]
    assert feature_words(*_sentence(("PRON", "Case=Nom|Number=Sing|Person=1", "2", "nsubj"),
                                    ("NOUN", "Case=Nom|Number=Sing|Person=3", "0", "root"),
                                    ("AUX", "Mood=Ind|Number=Sing|Person=1|Tense=Pres", "2", "cop"))) == []  # fmt: skip


def test_a_held_out_word_is_not_trained_under_another_spelling_the_model_reads_alike():
    """A dictionary-only run held كِتَاب out and trained كتاب, whose token ids are the same once the tokenizer
    drops the marks: the dev figure was recall."""
    from tokenizers import models, normalizers, pre_tokenizers

    from xling.adaptation.static import held_out_pairs

    vocab = {"[UNK]": 0, "كتاب": 1, **{f"w{i}": i + 2 for i in range(40)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()])
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    words = [("book", "كِتَاب"), ("books", "كتاب"), *((f"p{i}", f"w{i}") for i in range(40))]
    data = AdaptData("arb", "eng", texts=[], lemmas=[], dictionary=words)
    seed = next(s for s in range(200) if {new for new, _ in held_out_pairs(data, 0.2, s)} & {"كِتَاب"}
                and "كتاب" not in {new for new, _ in held_out_pairs(data, 0.2, s)})  # fmt: skip
    train, dev, _ = build_examples(data, tokenizer, 0.2, seed, "", "\u064e\u0650")
    assert "كِتَاب" in dev.texts and "كتاب" not in train.texts
    # words the vocabulary lacks read alike ([UNK]) but are other words: held out or not, each on its own
    unknown = [(f"q{i}", f"x{i}") for i in range(30)]
    data = AdaptData("arb", "eng", texts=[], lemmas=[], dictionary=words + unknown)
    train, dev, _ = build_examples(data, tokenizer, 0.2, seed, "", "\u064e\u0650")
    held = {new for new, _ in held_out_pairs(data, 0.2, seed)}
    assert {new for _, new in unknown} - held == {text for text in train.texts if text.startswith("x")}
    # and in Turkish, a held-out ışık keeps IŞIK (the same word to the lookup) out of the glosses' dictionary
    from xling.adaptation.static import _train_dictionary
    from xling.adaptation.words import word_folder

    turkish = AdaptData("tur", "eng", texts=[], lemmas=[], dictionary=[("light", "ışık"), ("lamp", "IŞIK")])
    assert _train_dictionary(turkish, {("ışık", "light")}, word_folder("tur")) == []
