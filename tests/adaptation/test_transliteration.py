"""Transliteration into a related language's script: Brahmic letters by block offset, Arabic by cognates."""

from __future__ import annotations

import pytest

from xling.adaptation.transliteration import language_script, supported, supported_pairs, transliterate


def test_devanagari_becomes_gujarati_letter_for_letter():
    # नमस्ते / નમસ્તે: consonants, vowel signs and the virama keep their places in the sister block
    assert transliterate("नमस्ते, दुनिया।", "Deva", "Gujr") == "નમસ્તે, દુનિયા।"  # the danda is shared
    assert transliterate("नमस्ते", "Deva", "Deva") == "नमस्ते"


def test_a_tamil_letter_without_a_living_malayalam_twin_takes_the_plain_one():
    # Tamil's alveolar ன would land on the archaic Malayalam ഩ; Malayalam writes that n as ന, and a
    # consonant that ends a word as its chillu letter (ൻ, ർ)
    assert transliterate("நான் தண்ணீர்", "Taml", "Mlym") == "നാൻ തണ്ണീർ"
    assert transliterate("கண்ணன்", "Taml", "Mlym") == "കണ്ണൻ"  # inside the word, consonant + virama stays


def test_signs_outside_the_shared_layout_map_to_their_counterparts_or_stay():
    assert transliterate("ৰাজ্য ৱ", "Beng", "Deva") == "राज्य व"  # Assamese ra and wa
    assert transliterate("ഞാൻ", "Mlym", "Deva") == "ञान्"  # a chillu is the consonant and a virama
    assert transliterate("ਪੰਜਾਬ ਪੱਕਾ", "Guru", "Deva") == "पंजाब पका"  # tippi is a nasal, addak goes
    assert transliterate("डॉ॰", "Deva", "Mlym") == "ഡॉ॰"  # no Malayalam o-candra or abbreviation sign
    assert transliterate("क़ज़", "Deva", "Gujr") == "ક઼જ઼"  # precomposed nukta letters too


def test_signs_whose_offset_means_another_sign_elsewhere_are_spelled_out():
    # Bengali khanda ta is ta + virama, not Devanagari's prishthamatra vowel sign at its offset
    assert transliterate("উৎসব", "Beng", "Deva") == "उत्सब"
    assert transliterate("\u0d54", "Mlym", "Deva") == "म्"  # Malayalam chillu m, not a Devanagari vowel sign
    # Marathi's eyelash ra has no Gujarati twin: ra + nukta, rather than a Devanagari letter left in the word
    assert transliterate("दुसऱ्या", "Deva", "Gujr") == "દુસર઼્યા"


def test_a_target_without_aspirates_or_voiced_stops_takes_the_plain_stop():
    assert transliterate("खग धब", "Deva", "Taml") == "கக தப"


def test_arabic_cognates_meet_their_hebrew_spelling():
    assert transliterate("مدينة", "Arab", "Hebr") == "מדינה"  # city: ة is the feminine ה
    assert transliterate("ذهب", "Arab", "Hebr") == "זהב"  # gold: ذ corresponds to ז
    assert transliterate("أرض", "Arab", "Hebr") == "ארץ"  # land: ض to צ, written final at the word's end
    assert transliterate("السلام", "Arab", "Hebr") == "השלאם"  # the article ال is the Hebrew ה
    assert transliterate("وَالكِتَابُ", "Arab", "Hebr") == "והכתאב"  # vowel marks carry no consonant
    assert transliterate("كلم ok", "Arab", "Hebr") == "כלם ok"  # only Arabic letters change


def test_arabic_article_rules_spare_root_letters():
    assert transliterate("والد بالغ الى", "Arab", "Hebr") == "ואלד באלע אלי"  # father, adult, to: no article
    assert transliterate("للكتاب", "Arab", "Hebr") == "לכתאב"  # li- + the is li-, as Hebrew writes it
    assert transliterate("ٱلْحَمْدُ", "Arab", "Hebr") == "החמד"  # the marks go before the rules look
    assert transliterate("الة", "Arab", "Hebr", word_start=False) == "אלה"  # a piece inside a word


def test_urdu_letters_digits_and_punctuation_leave_no_arabic_script():
    assert transliterate("ٹیڑھا", "Arab", "Hebr") == "טירהא"
    assert transliterate("٢٠٢٤، كيف؟ ۳ ﻻ", "Arab", "Hebr") == "2024, כיף? 3 לא"


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
