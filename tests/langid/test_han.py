"""Simplified or Traditional Chinese settled from the characters (xling.langid.han) on the shipped detector."""

from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest

from xling.langid import LanguageIdentifier, language_spans
from xling.langid.han import han_script, han_script_counts, script_characters, script_pairs

TRADITIONAL = ["今天天氣很好，我們去公園散步吧。", "火車站在哪裡？", "我們今天去圖書館看書，然後一起吃晚飯。"]
SIMPLIFIED = ["今天天气很好，我们去公园散步吧。", "火车站在哪里？", "我们今天去图书馆看书，然后一起吃晚饭。"]


@pytest.fixture(scope="module")
def shipped() -> LanguageIdentifier:
    return LanguageIdentifier.from_pretrained("xling-langid")


def test_traditional_sentences_get_cmn_hant(shipped):
    # the rule settles the script of Mandarin; whether a sentence is Mandarin or Literary Chinese (lzh) is
    # the model's call, which the third sentence loses since the detector of 2026-12-05 (g): lzh 0.96
    assert [top[0].label for top in shipped.predict(TRADITIONAL[:2])] == ["cmn_Hant"] * 2
    assert [top[0].label for top in shipped.predict(TRADITIONAL, languages=["cmn"])] == ["cmn_Hant"] * 3


def test_simplified_sentences_get_cmn_hans(shipped):
    assert [top[0].label for top in shipped.predict(SIMPLIFIED)] == ["cmn_Hans"] * 3


def test_the_script_is_settled_below_the_top_label_too(shipped):
    """Only a text whose best label was cmn_Hans or cmn_Hant had its script settled: a Simplified sentence
    the detector takes for Literary Chinese listed cmn_Hant second (兴 is Simplified only)."""
    for text, script in (("我今天很高兴。", "Hans"), ("我今天很高興。", "Hant")):
        labels = [p.label for p in shipped.predict([text], k=5)[0]]
        assert f"cmn_{script}" in labels and f"cmn_{'Hant' if script == 'Hans' else 'Hans'}" not in labels


@pytest.mark.parametrize("text", ["你好", "我的朋友", "台湾的聯合報报道"])
def test_text_whose_characters_do_not_decide_keeps_the_models_choice(shipped, text):
    # no character of one script only (你好), or as many of each (湾 报 against 聯 報)
    assert han_script(text) is None
    shipped.han_scripts = False
    try:
        before = shipped.predict([text], k=3)[0]
    finally:
        shipped.han_scripts = True
    assert shipped.predict([text], k=3)[0] == before


def test_restriction_to_one_script_still_holds(shipped):
    assert shipped.predict(TRADITIONAL[:1], languages=["zh-Hant"])[0][0].label == "cmn_Hant"
    assert shipped.predict(SIMPLIFIED[:1], languages=["zh-Hans"])[0][0].label == "cmn_Hans"
    # the characters never move the answer onto a label the restriction leaves out
    assert shipped.predict(TRADITIONAL[:1], languages=["zh-Hans"])[0][0].label == "cmn_Hans"
    assert shipped.predict(SIMPLIFIED[:1], languages=["zh-Hant"])[0][0].label == "cmn_Hant"


def test_probabilities_sum_to_one_and_top_k_follows_them(shipped):
    hans, hant = shipped.labels.index("cmn_Hans"), shipped.labels.index("cmn_Hant")
    shipped.han_scripts = False
    try:
        before, _ = shipped.probabilities(TRADITIONAL)
    finally:
        shipped.han_scripts = True
    after, _ = shipped.probabilities(TRADITIONAL)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, rtol=1e-5)
    # the sentences the model takes for Mandarin (the rule leaves a Literary Chinese answer alone)
    mandarin = np.isin(before.argmax(axis=1), [hans, hant])
    assert mandarin.sum() >= 2
    before, after = before[mandarin], after[mandarin]
    assert (after[:, hans] == 0).all()
    # the Simplified label's mass went onto the Traditional one; the other labels keep theirs
    np.testing.assert_allclose(after[:, hant], before[:, hans] + before[:, hant], rtol=1e-4, atol=1e-6)
    others = np.ones(len(shipped.labels), dtype=bool)
    others[[hans, hant]] = False
    np.testing.assert_allclose(after[:, others], before[:, others], rtol=1e-4, atol=1e-7)
    for text, row in zip(np.array(TRADITIONAL)[mandarin].tolist(), after, strict=True):
        top = shipped.predict([text], k=3)[0]
        assert top[0].label == "cmn_Hant"
        assert "cmn_Hans" not in [p.label for p in top]
        assert [p.probability for p in top] == pytest.approx(sorted(row, reverse=True)[:3], rel=1e-5)


def test_spans_of_traditional_text_are_traditional(shipped):
    assert {span.label for span in language_spans(shipped, TRADITIONAL[0])} == {"cmn_Hant"}


def test_a_simplified_sentence_in_mostly_traditional_text_keeps_its_span(shipped):
    """The whole text's Han rule leaves cmn_Hans -inf: spans took that for a restriction and gave the
    Simplified sentence another label at probability 0."""
    text = (
        "我们说这个问题。 Then we went home and had a very long talk about it. 我們今天去公園散步，天氣很好，"
        "風景優美。 這個問題我們已經討論過了，請你們再說說這個問題的歷史與經驗。"
    )
    first = language_spans(shipped, text)[0]
    assert (first.text, first.label) == ("我们说这个问题。", "cmn_Hans") and first.probability > 0.5


@pytest.mark.parametrize(("text", "script"), [
    ("氣", "Hant"), ("气", "Hans"), ("今天", None), ("氣气", None), ("氣們气", None), ("氣們車气", "Hant"),
    # the Simplified Bible: 连 连 这 against 摺, a form OpenCC counts as Traditional only
    ("要把五幅幔子连成一幅，又把六幅幔子连成一幅，这第六幅幔子要在罩棚的前面摺上去。", "Hans"),
])  # fmt: skip
def test_a_script_decides_with_more_than_twice_the_others_characters(text, script):
    assert han_script(text) == script


def test_counts_each_occurrence():
    assert han_script_counts("們們 我们 abc") == (1, 2)


def test_character_sets_are_disjoint_and_leave_out_characters_of_both_scripts():
    sets = script_characters()
    assert not sets["Hans"] & sets["Hant"]
    assert {"说", "们", "气", "车", "这"} <= sets["Hans"]
    assert {"說", "們", "氣", "車", "溫", "裡", "為"} <= sets["Hant"]
    # written in both scripts (皇后, 台灣, 乾隆, 於 as a surname, 群 in Taiwan): they decide nothing
    for char in "后里台干乾於群着":
        assert char not in sets["Hans"] and char not in sets["Hant"], char
    header = files("xling.langid").joinpath("han_scripts.txt").read_text(encoding="utf-8").splitlines()[:4]
    assert any("OpenCC" in line and "Apache" in line for line in header)


def test_script_pairs_are_the_languages_labelled_in_both_han_scripts():
    pairs = script_pairs(("cmn_Hans", "lzh", "srp_Cyrl", "srp_Latn", "cmn_Hant", "yue_Hant"))
    assert pairs == {0: {"Hans": 0, "Hant": 4}, 4: {"Hans": 0, "Hant": 4}}
    assert script_pairs(("deu", "fra")) == {}
