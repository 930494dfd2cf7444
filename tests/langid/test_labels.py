from __future__ import annotations

import pytest

from xling.errors import LanguageCodeError
from xling.langid.labels import Label, label_matches, parse_label


@pytest.mark.parametrize(
    ("code", "label"),
    [("zh", Label("zho")), ("zho", Label("zho")), ("cmn", Label("cmn")), ("zh-Hant", Label("zho", "Hant")),
     ("zh_hans", Label("zho", "Hans")), ("sr-Latn-RS", Label("srp", "Latn")), ("pt-BR", Label("por")),
     ("deu_1901", Label("deu")), ("und", Label("und")),
     # a corpus's variant longer than BCP-47's 8-character subtags is dropped as the others (the UDHR's Greek)
     ("ell_monotonic", Label("ell")), ("ell_polytonic", Label("ell")), ("nya_chinyanja", Label("nya")),
     # a region that implies the script (CLDR's likely subtags); an explicit script wins
     ("zh-TW", Label("zho", "Hant")), ("zh-HK", Label("zho", "Hant")), ("zh-CN", Label("zho", "Hans")),
     ("cmn_TW", Label("cmn", "Hant")), ("zh-Hans-TW", Label("zho", "Hans"))],
)  # fmt: skip
def test_codes_and_scripts_normalise(code, label):
    assert parse_label(code) == label


def test_labels_print_as_the_detector_writes_them():
    assert str(parse_label("sr_cyrl")) == "srp_Cyrl"
    assert str(parse_label("de-DE")) == "deu"


def test_unknown_code_is_a_clear_error():
    with pytest.raises(LanguageCodeError, match="here.tsv:3.*'xq'"):
        parse_label("xq", where="here.tsv:3")
    with pytest.raises(LanguageCodeError, match="here.tsv:4.*'xq_monotonic'"):  # named as given
        parse_label("xq_monotonic", where="here.tsv:4")


def test_matching_is_macrolanguage_and_script_aware():
    assert label_matches("cmn_Hans", "zh")
    assert label_matches("cmn_Hans", "zho")
    assert label_matches("cmn_Hant", "zh-Hant")
    assert not label_matches("cmn_Hans", "zh-Hant")
    assert not label_matches("cmn_Hans", "zh-TW") and label_matches("cmn_Hant", "zh-TW")
    assert label_matches("arb", "ar")
    assert label_matches("hrv", "sh") and label_matches("srp_Latn", "hbs")  # Serbo-Croatian's members
    assert not label_matches("srp_Latn", "hrv")  # ... are not each other
    assert not label_matches("nob", "dan")
    assert not label_matches("und", "und")


def test_a_macrolanguage_takes_every_member_iso_639_3_gives_it():
    """`qu` kept 3 of the shipped detector's 13 Quechua labels, `om` and `ff` none (ConfigError: not known)."""
    assert label_matches("qvh", "qu") and label_matches("qug", "que") and label_matches("gax", "om")
    assert label_matches("fuc", "ff") and label_matches("ojb", "oj")
    assert not label_matches("msa", "min")  # a macrolanguage answer for a member's text names no member
    assert not label_matches("quy", "qvh")  # members are not each other


def test_han_in_general_covers_both_of_its_forms():
    assert label_matches("cmn_Hans", "zh-Hani") and label_matches("cmn_Hant", "cmn-Hani")
    assert not label_matches("jpn", "zh-Hani")


def test_the_shipped_detector_restricted_to_a_macrolanguage_keeps_its_members(shared_data_dir):
    import gzip

    from xling.langid import load_identifier

    with gzip.open(shared_data_dir / "udhr" / "qvh.txt.gz", "rt", encoding="utf-8") as lines:
        line = lines.read().splitlines()[5]
    shipped = load_identifier()
    assert shipped.predict([line])[0][0].label == "qvh"
    assert shipped.predict([line], languages=["qu", "es"])[0][0].label == "qvh"  # quy before


@pytest.mark.parametrize(
    ("code", "label"),
    [("zh-yue", Label("yue")), ("ZH_YUE", Label("yue")), ("zh-yue-HK", Label("yue", "Hant")),
     ("ar-arz", Label("arz")), ("zh-CHT", Label("zho", "Hant")), ("zh-CHS", Label("zho", "Hans")),
     ("de-CHE", Label("deu"))],  # three letters after a language that is no macrolanguage: not an extlang
)  # fmt: skip
def test_an_extended_language_subtag_names_the_member_not_the_macrolanguage(code, label):
    assert parse_label(code) == label  # zh-yue was zho: every Chinese label


def test_an_extended_language_a_macrolanguage_lacks_is_an_error():
    with pytest.raises(
        LanguageCodeError, match=r"here:1: unknown extended language subtag 'xyz' in 'zh-xyz'"
    ):
        parse_label("zh-xyz", where="here:1")


@pytest.mark.parametrize(
    ("code", "label"),
    [("zh-hak", "hak"), ("zh-nan", "nan"), ("ar-aeb", "aeb"), ("zh-min-nan", "nan"), ("no-bok", "nob"),
     ("no-nyn", "nno"), ("zh-CHN", "zho"), ("ar-SAU", "ara"), ("ms-MYS", "msa"), ("sw-TZA", "swa")],
)  # fmt: skip
def test_registered_extlangs_grandfathered_tags_and_three_letter_regions_parse(code, label):
    """Any language code as an extlang names that language, not only the members MACROLANGUAGES lists; a
    subtag in capitals is a region (ISO 3166 alpha-3), dropped as before."""
    assert str(parse_label(code)) == label


def test_fil_and_tgl_match_with_a_script_too():
    assert (
        label_matches("tgl", "fil-Latn") and label_matches("fil", "tgl-Latn") and label_matches("tgl", "fil")
    )


def test_a_label_without_a_script_is_judged_by_its_usual_script():
    assert not label_matches("lzh", "zh-Hant") and not label_matches("lzh", "zh-Hans")  # Hant and Hans
    assert not label_matches("lzh", "zh-TW")
    assert label_matches("lzh", "zh") and label_matches("lzh", "lzh") and label_matches("lzh", "lzh-Hant")
    assert label_matches("cmn", "zh-Hant")  # the member `zh` stands for, written in both
    assert label_matches("yue", "zh-Hant") and not label_matches("yue", "zh-Hans")
    assert label_matches("arz", "ar-Arab") and not label_matches("arz", "ar-Latn")
    assert label_matches("hrv", "sh-Latn") and not label_matches("hrv", "sh-Cyrl")
    assert label_matches("deu", "de-Latn")  # a language's own code with a script
    # a language with one script is not the same language written in another (a detector's `rus` is not
    # what a restriction to `ru-Latn` asks for), as for the macrolanguages' members
    assert not label_matches("deu", "de-Cyrl") and not label_matches("rus", "ru-Latn")
    # a script that is part of a language's mixed writing system: NLLB's and FLORES' kor_Hang is Korean
    assert (
        label_matches("kor", "kor_Hang")
        and label_matches("kor", "ko-Kore")
        and label_matches("jpn", "ja-Hira")
    )
    assert not label_matches("kor", "ko-Latn")


def test_every_macrolanguage_member_has_a_usual_script_or_several():
    from xling.data.languages import MACROLANGUAGES, USUAL_SCRIPTS
    from xling.langid.labels import SEVERAL_SCRIPTS

    members = set().union(*MACROLANGUAGES.values())
    assert sorted(members - set(USUAL_SCRIPTS) - SEVERAL_SCRIPTS) == []
    assert not set(USUAL_SCRIPTS) & SEVERAL_SCRIPTS


def test_shipped_detector_restricted_to_traditional_chinese_never_says_literary_chinese():
    from xling.langid import load_identifier

    detector = load_identifier()
    texts = ["我们今天去图书馆看书，然后一起吃晚饭。", "我們今天去圖書館看書，然後一起吃晚飯。"]
    for code in ("zh-Hant", "zh-TW", "zho_Hant", "zh-Hans", "zh-CN"):
        for top in detector.predict(texts, k=2, languages=[code]):
            assert [prediction.label for prediction in top] == [f"cmn_{parse_label(code).script}"], code
    assert detector.predict(texts[:1], languages=["lzh"])[0][0].label == "lzh"  # named, it is allowed


@pytest.mark.parametrize(
    ("part", "whole", "within"),
    [("Hani", "Hans", True), ("Hani", "Hant", True), ("Hans", "Hant", False), ("Hans", "Hani", False),
     ("Hant", "Hani", False), ("Hira", "Jpan", True), ("Hani", "Jpan", True), ("Hang", "Kore", True),
     ("Jpan", "Hira", False), ("Kore", "Hang", False), ("Latn", "Latn", True), ("Latn", "Cyrl", False),
     ("Hani", "Hani", True)],
)  # fmt: skip
def test_script_part_of(part, whole, within):
    from xling.data.languages import script_part_of

    assert script_part_of(part, whole) is within


def test_label_matches_takes_a_script_within_the_labels_alike_named_or_usual():
    # a gold script within a label's script matches, whether the label names it or is read in its usual one
    # (before, a named Kore/Jpan ignored its parts and a usual Hant/Hans ignored Han)
    assert label_matches("yue_Hant", "zh-Hani") and label_matches("yue", "zh-Hani")
    assert label_matches("kor_Kore", "ko-Hang") and label_matches("kor", "ko-Hang")
    assert label_matches("jpn_Jpan", "ja-Hani") and label_matches("jpn", "ja-Hani")
    assert not label_matches("yue_Hant", "zh-Hans") and not label_matches("yue", "zh-Hans")
    assert not label_matches("kor_Kore", "ko-Latn") and not label_matches("cmn_Hans", "zh-Hant")


def test_a_script_tag_keeps_the_members_whose_script_xling_does_not_record():
    # `qu-Latn` kept 3 of the Quechuas `qu` keeps, `iu-Cans` none (ike): the detector's own scripts decide
    for member in ("quz", "qvh", "qug"):
        assert label_matches(member, "qu-Latn") and label_matches(member, "qu")
    assert label_matches("ike", "iu-Cans") and label_matches("min", "ms-Latn")
    # members written in several scripts still need their own code or the default member's (zh-Hant: not lzh)
    assert not label_matches("lzh", "zh-Hant") and label_matches("cmn", "zh-Hant")


def test_extension_and_private_use_subtags_name_no_script():
    assert parse_label("ar-u-nu-latn") == Label("ara") and parse_label("hi-u-nu-latn") == Label("hin")
    assert parse_label("de-x-cyrl") == Label("deu") and parse_label("sr-Latn-u-nu-arab") == Label(
        "srp", "Latn"
    )
