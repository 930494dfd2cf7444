"""LibreTranslate's language codes for a model's languages (xling.serving.languages)."""

from xling.serving.languages import client_code
from xling.translation.languages import Conventions

# NLLB-200 codes of macrolanguages' members, and the macrolanguages NLLB names as such (zho)
NLLB_CODES = ["zho_Hans", "zho_Hant", "yue_Hant", "arb_Arab", "arz_Arab", "ary_Arab", "apc_Arab", "azj_Latn",
              "azb_Arab", "kmr_Latn", "ckb_Arab", "pes_Arab", "prs_Arab", "zsm_Latn", "ind_Latn", "eng_Latn"]  # fmt: skip


def test_each_language_of_a_model_has_its_own_code_and_that_code_translates_into_it():
    conventions = Conventions("nllb", {c: c for c in NLLB_CODES}, {c: c for c in NLLB_CODES}, name="nllb")
    codes = {model_code: client_code(model_code) for model_code in NLLB_CODES}
    assert len(set(codes.values())) == len(NLLB_CODES), codes  # Cantonese was `zh` too, Sorani `ku`...
    for model_code, code in codes.items():
        assert conventions.target_token(code) == model_code, code
        assert conventions.source_token(code) == model_code, code
    assert codes["zho_Hans"] == "zh" and codes["zho_Hant"] == "zh-Hant" and codes["yue_Hant"] == "yue"
    assert codes["arb_Arab"] == "ar" and codes["arz_Arab"] == "arz" and codes["kmr_Latn"] == "ku"
    assert client_code("cmn_Hans") == "zh" and client_code("lzh") == "lzh"  # xling's own labels
    # a member of a macrolanguage that stands for no member in particular keeps its two-letter code
    assert [client_code(c) for c in ("npi_Deva", "khk_Cyrl", "ory", "plt", "gaz")] == [
        "ne",
        "mn",
        "or",
        "mg",
        "om",
    ]


def test_a_language_in_two_scripts_keeps_two_codes():
    """The detector's bos_Cyrl and bos_Latn were both `bs` (a script was named only for the languages of
    DEFAULT_SCRIPTS), and a batch's candidates merged them into one."""
    pairs = [
        ("bos_Latn", "bos_Cyrl"),
        ("uig_Arab", "uig_Latn"),
        ("tuk_Latn", "tuk_Cyrl"),
        ("khk_Cyrl", "khk_Mong"),
    ]
    for usual, other in pairs:
        assert client_code(usual) != client_code(other), (usual, other)
    assert [client_code(c) for c in ("bos_Latn", "bos_Cyrl", "khk_Mong", "kor_Hang", "jpn_Jpan")] == [
        "bs", "bs-Cyrl", "mn-Mong", "ko", "ja"]  # fmt: skip
    conventions = Conventions("nllb", {"bos_Latn": "bos_Latn"}, {"bos_Latn": "bos_Latn"}, name="nllb")
    assert conventions.target_token(client_code("bos_Latn")) == "bos_Latn"
