"""Transliteration into a related language's script: Brahmic letters by block offset, Arabic by cognates."""

from __future__ import annotations

import pytest

from xling.adaptation.transliteration import language_script, supported, supported_pairs, transliterate


def test_devanagari_becomes_gujarati_letter_for_letter():
    # नमस्ते / નમસ્તે: consonants, vowel signs and the virama keep their places in the sister block
    assert transliterate("नमस्ते, दुनिया।", "Deva", "Gujr") == "નમસ્તે, દુનિયા।"  # the danda is shared
    assert transliterate("नमस्ते", "Deva", "Deva") == "नमस्ते"


def test_a_tamil_letter_without_a_living_malayalam_twin_takes_the_plain_one():
    # Tamil's alveolar ன would land on the archaic Malayalam ഩ; Malayalam writes that n as ന
    assert transliterate("நான் தண்ணீர்", "Taml", "Mlym") == "നാന് തണ്ണീര്"


def test_arabic_cognates_meet_their_hebrew_spelling():
    assert transliterate("مدينة", "Arab", "Hebr") == "מדינה"  # city: ة is the feminine ה
    assert transliterate("ذهب", "Arab", "Hebr") == "זהב"  # gold: ذ corresponds to ז
    assert transliterate("أرض", "Arab", "Hebr") == "ארץ"  # land: ض to צ, written final at the word's end
    assert transliterate("السلام", "Arab", "Hebr") == "השלאם"  # the article ال is the Hebrew ה
    assert transliterate("وَالكِتَابُ", "Arab", "Hebr") == "והכתאב"  # vowel marks carry no consonant
    assert transliterate("كلم ok", "Arab", "Hebr") == "כלם ok"  # only Arabic letters change


def test_arabic_to_syriac_keeps_the_article_out():
    assert transliterate("الملك", "Arab", "Syrc") == "ܡܠܟ"


def test_unsupported_pairs_are_refused():
    assert supported("Deva", "Mlym") and supported("Arab", "Hebr")
    assert not supported("Latn", "Cyrl") and not supported("Hebr", "Arab")
    assert "Arab>Hebr" in supported_pairs() and "Taml>Mlym" in supported_pairs()
    with pytest.raises(ValueError, match="Latn to Grek"):
        transliterate("abc", "Latn", "Grek")


def test_language_script_reads_a_script_subtag_or_the_usual_script():
    assert language_script("guj") == "Gujr"
    assert language_script("pan_Guru") == "Guru"
    assert language_script("srp-latn") == "Latn"
    assert language_script("fra") is None
