from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from xling.tokenization.normalization import drop_characters, droppable_marks, optional_marks
from xling.tokenization.vocabulary_extension import extend_tokenizer, extend_vocabulary

FATHA, DAMMA, KASRA, SHADDA, SUKUN, TATWEEL = "\u064e", "\u064f", "\u0650", "\u0651", "\u0652", "\u0640"
# "the book is on the table", "the student reads the lesson", unvocalised and fully vocalised
PLAIN = ["الكتاب على الطاولة", "الطالب يقرأ الدرس"]
VOCALISED = [
    f"ال{KASRA}ك{KASRA}ت{FATHA}اب{DAMMA} ع{FATHA}ل{FATHA}ى الط{SHADDA}{FATHA}او{KASRA}ل{FATHA}ة{KASRA}",
    f"الط{SHADDA}{FATHA}ال{KASRA}ب{DAMMA} ي{FATHA}ق{SUKUN}ر{FATHA}أ{DAMMA} الد{SHADDA}{FATHA}ر{SUKUN}س{FATHA}",
]


@pytest.fixture(scope="module")
def latin_tokenizer(tmp_path_factory) -> Tokenizer:
    """Return a small Unigram tokenizer learnt on the bundled sample's English and German: no Arabic piece."""
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    out = tmp_path_factory.mktemp("latin-tokenizer")
    sources = TextSources.from_options("sample", ["eng", "deu"], [])
    train_vocabulary(
        sources.text_factories(), VocabConfig(output=str(out), vocab_size=600, sample_sentences=5000)
    )
    return Tokenizer.from_file(str(Path(out) / "tokenizer.json"))


def test_optional_marks_are_the_vowel_signs_of_abjads_not_letters_or_indic_vowels():
    arabic = optional_marks("Arab")
    assert {FATHA, DAMMA, KASRA, SHADDA, SUKUN, TATWEEL, "\u0670"} <= set(arabic)
    assert not set("ابتثجحخدذرزسشصضطظعغفقكلمنهوي") & set(arabic)
    # hamza and madda make one letter with alef, waw or yeh; Kashmiri's vowel signs are spelling
    assert not {"\u0653", "\u0654", "\u0655", "\u0656", "\u065f"} & set(arabic)
    # Hebrew points are letters' parts in Yiddish; a Devanagari vowel sign is part of its syllable
    assert optional_marks("Hebr") == "" and optional_marks("Deva") == "" and optional_marks("Latn") == ""


def test_a_mark_that_an_old_piece_or_a_protected_text_uses_is_kept(latin_tokenizer):
    base = latin_tokenizer
    base = extend_tokenizer(base, [(f"▁ب{FATHA}", -12.0)])
    marks = droppable_marks(base, ["Arab"], [f"ك{SUKUN}"])
    assert FATHA not in marks and SUKUN not in marks
    assert {DAMMA, KASRA, SHADDA, TATWEEL} <= set(marks)


def test_dropped_marks_make_vocalised_text_read_as_plain_and_leave_other_text_alone(latin_tokenizer):
    base = latin_tokenizer
    dropped = drop_characters(base, optional_marks("Arab"))
    assert [dropped.encode(t).ids for t in VOCALISED] == [base.encode(t).ids for t in PLAIN]
    assert [base.encode(t).ids for t in VOCALISED] != [base.encode(t).ids for t in PLAIN]
    english = "In the beginning was the Word, and the Word was with God."
    assert dropped.encode(english).ids == base.encode(english).ids
    assert drop_characters(base, "") is base
    # after the Unicode normalization: a presentation form that NFKC turns into tatweel + fatha loses both
    assert dropped.normalizer.normalize_str("كتب\ufe77") == dropped.normalizer.normalize_str("كتب")
    # marks the normalizer already drops are not dropped twice
    assert droppable_marks(dropped, ["Arab"], []) == ""


def test_an_extended_vocabulary_reads_vocalised_text_with_the_pieces_learnt_on_plain_text(latin_tokenizer):
    base = latin_tokenizer
    texts = PLAIN * 50
    protected = ["In the beginning was the Word.", "Am Anfang war das Wort."]
    extended, report = extend_vocabulary(base, texts, max_new=200, learn_size=300, protected_texts=protected,
                                         scripts=["Arab"], drop_marks=True)  # fmt: skip
    assert report.dropped_marks and report.to_dict()["marks_dropped"] == len(report.dropped_marks)
    old_size = base.get_vocab_size()
    for plain, vocalised in zip(PLAIN, VOCALISED, strict=True):
        ids = extended.encode(vocalised).ids
        assert ids == extended.encode(plain).ids
        assert any(i >= old_size for i in ids)  # read with the new pieces, not letter by letter
    assert [extended.encode(t).ids for t in protected] == [base.encode(t).ids for t in protected]
    kept, kept_report = extend_vocabulary(base, texts, max_new=200, learn_size=300, protected_texts=protected,
                                          scripts=["Arab"])  # fmt: skip
    assert kept_report.dropped_marks == ""
    assert kept.encode(VOCALISED[0]).ids != kept.encode(PLAIN[0]).ids
