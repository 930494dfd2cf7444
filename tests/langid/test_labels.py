from __future__ import annotations

import pytest

from xling.errors import LanguageCodeError
from xling.langid.labels import Label, label_matches, parse_label


@pytest.mark.parametrize(
    ("code", "label"),
    [("zh", Label("zho")), ("zho", Label("zho")), ("cmn", Label("cmn")), ("zh-Hant", Label("zho", "Hant")),
     ("zh_hans", Label("zho", "Hans")), ("sr-Latn-RS", Label("srp", "Latn")), ("pt-BR", Label("por")),
     ("deu_1901", Label("deu")), ("und", Label("und")),
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
