from __future__ import annotations

from xling.langid.normalize import normalize_text
from xling.langid.scripts import dominant_script


def test_names_links_digits_and_emoji_carry_no_language():
    assert normalize_text("Check https://t.co/x @bob #BlackFriday 2024!! 😀 Super") == "check super"


def test_letters_marks_and_inner_apostrophes_stay():
    assert normalize_text("L'État, c'est MOI.") == "l'état c'est moi"
    assert normalize_text("नमस्ते दुनिया") == "नमस्ते दुनिया"  # vowel signs are marks, not punctuation
    assert normalize_text("Straße") == "straße"  # lower-cased, not case-folded: ß is a clue to German


def test_full_width_forms_fold_to_ascii():
    assert normalize_text("ＡＢＣ") == "abc"


def test_nothing_left_of_digits_and_emoji():
    assert normalize_text("12:30 🎉🎉 :-)") == ""
    # emoji with their marks: the emoji-style selector U+FE0F, a keycap U+20E3, a skin tone
    for text in ("❤️", "✌️ ☺️", "1️⃣ 2️⃣ #️⃣", "👍🏽"):
        assert normalize_text(text) == "", text
    assert normalize_text("I love you ❤️") == "i love you"
    assert normalize_text("Cafe\u0301 ☕️") == "café"  # a mark on a letter stays (NFKC composes it)


def test_scripts_of_texts():
    assert dominant_script(["Привет мир"]) == "Cyrl"
    assert dominant_script(["起初，神创造天地。"]) == "Hani"
    assert dominant_script(["これは日本語の文です"]) == "Jpan"
    assert dominant_script(["123 !!"]) is None


def test_modifier_letters_take_their_scripts_or_none():
    from xling.langid.scripts import script_of

    assert [script_of(char) for char in "ー々ʼʻ"] == ["Jpan", "Hani", None, None]
    assert dominant_script(["コーヒー", "人々"]) == "Jpan"
