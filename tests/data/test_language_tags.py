"""BCP-47 extended language subtags and grandfathered tags: the language they name, in normalize_language,
the readers that find a language's file by it, and the detector's labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from xling.data.languages import normalize_language, same_language
from xling.data.readers import AlignedCorpus, tatoeba_code
from xling.errors import ConfigError, DataError, LanguageCodeError
from xling.langid.labels import parse_label

# the common forms, as they were read before extended and grandfathered tags were: none of them changes
COMMON_FORMS = {
    "de": "deu", "deu": "deu", "DE": "deu", "DEU": "deu", "ger": "deu", "de-DE": "deu", "de_DE": "deu",
    "de-CHE": "deu", "de-che": "deu", "de-ch-1901": "deu", "en-US": "eng", "en-GB-oed": "eng",
    "en-GB-oxendict": "eng", "es-419": "spa", "pt-BR": "por", "zh": "zho", "zho": "zho", "chi": "zho",
    "zh-Hant": "zho", "zh-Hans": "zho", "zh-TW": "zho", "zh-CN": "zho", "zh_CN": "zho", "zh-Hant-TW": "zho",
    "zh-Latn-pinyin": "zho", "zh-CHN": "zho", "zh-CHS": "zho", "zh-CHT": "zho", "zh-chs": "zho",
    "zh-cht": "zho", "zh-NAN": "zho", "zh-Nan": "zho", "zho_Hans": "zho", "cmn": "cmn", "cmn_Hant": "cmn",
    "zh-yue": "yue", "ZH-YUE": "yue", "zh-YUE": "yue", "zh_yue": "yue", "zh-cmn-Hans": "cmn", "ar-arz": "arz",
    "ar-SAU": "ara", "ar-EG": "ara", "ara": "ara", "arb_Arab": "arb", "lv-lvs": "lvs", "sr-Latn": "srp",
    "sr_Cyrl": "srp", "sr-ME": "srp", "sh": "hbs", "sh-Latn": "hbs", "hbs": "hbs", "no": "nor",
    "no-NO": "nor", "nb": "nob", "nn": "nno", "nob_Latn": "nob", "ms-MY": "msa", "sw-KE": "swa",
    "fa-IR": "fas", "az-Arab": "aze", "ku-Arab": "kur", "iw": "heb", "in": "ind", "ji": "yid", "jw": "jav",
    "mo": "ron", "nan": "nan", "hak": "hak", "und": "und", "zxx": "zxx", "mul": "mul",
}  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), COMMON_FORMS.items())
def test_common_forms_keep_their_reading(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


# RFC 5646 extended language subtags (and langcodes' reading): a member of the macrolanguage before it
EXTENDED = {
    "zh-nan": "nan", "zh-hak": "hak", "zh-gan": "gan", "zh-wuu": "wuu", "zh-hsn": "hsn", "zh-nan-TW": "nan",
    "zh-nan-Hant": "nan", "zh_nan": "nan", "ar-aeb": "aeb", "ar-acm": "acm", "ar-ary": "ary", "ms-zlm": "zlm",
    "uz-uzs": "uzs", "kok-knn": "knn", "cr-crk": "crk", "sgn-ase": "ase", "ms-ind": "ind", "no-nno": "nno",
}  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), EXTENDED.items())
def test_an_extended_language_subtag_names_its_language(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


# RFC 5646 section 2.2.8: the grandfathered tags that name a language (the IANA registry's Preferred-Value)
GRANDFATHERED = {
    "zh-min-nan": "nan", "zh-hakka": "hak", "zh-xiang": "hsn", "zh-guoyu": "cmn", "no-bok": "nob",
    "no-nyn": "nno", "i-klingon": "tlh", "i-ami": "ami", "i-bnn": "bnn", "i-hak": "hak", "i-lux": "ltz",
    "i-navajo": "nav", "i-pwn": "pwn", "i-tao": "tao", "i-tay": "tay", "i-tsu": "tsu", "art-lojban": "jbo",
    "sgn-BE-FR": "sfb", "sgn-BE-NL": "vgt", "sgn-CH-DE": "sgg", "ZH-MIN-NAN": "nan", "zh_min_nan": "nan",
    " no-nyn ": "nno", "zh-min-nan-Hant-TW": "nan", "no-nyn-NO": "nno",
}  # fmt: skip


@pytest.mark.parametrize(("code", "expected"), GRANDFATHERED.items())
def test_a_grandfathered_tag_names_its_language(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize("code", ["zh-min", "zh-min-TW", "i-default", "i-enochian", "i-mingo", "cel-gaulish"])
def test_a_grandfathered_tag_that_names_no_one_language_is_refused(code: str) -> None:
    with pytest.raises(LanguageCodeError, match=repr(code)):
        normalize_language(code)


@pytest.mark.parametrize("code", ["zh-xyz", "ar-qqq", "zh-und", "zh-ara", "zh-eng", "ar-eng", "zh-tlh"])
def test_an_unknown_extended_language_subtag_is_refused_naming_it(code: str) -> None:
    with pytest.raises(LanguageCodeError, match=rf"^corpus\.tsv:3: .*{code.split('-')[1]!r} in {code!r}"):
        normalize_language(code, where="corpus.tsv:3")


@pytest.mark.parametrize(
    ("code", "language"),
    # a language that is no member of the macrolanguage, with a country's three-letter code: a region (twn is
    # Twendi, sau Saleman, mys Mesmes: they read as those unrelated languages)
    [("zh-twn", "zho"), ("ar-sau", "ara"), ("ms-mys", "msa"), ("fa-irn", "fas"), ("sw-ken", "swa"),
     ("ne-npl", "nep"), ("zh-hkg", "zho"), ("uz-uzb", "uzb"), ("no-nor", "nor"), ("ku-irq", "kur"),
     # ISO 639-3's members beyond the ones MACROLANGUAGES lists
     ("zh-hak", "hak"), ("kok-knn", "knn"), ("cr-crk", "crk"), ("ms-zlm", "zlm")],
)  # fmt: skip
def test_a_subtag_after_a_macrolanguage_is_a_member_or_a_region(code: str, language: str) -> None:
    assert normalize_language(code) == language


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [("zh-nan", "cmn", False), ("zh-min-nan", "cmn", False), ("ar-aeb", "arb", False), ("no-nyn", "nob", False),
     ("no-nyn", "nn", True), ("no-bok", "nb", True), ("zh-nan", "nan", True), ("zh-guoyu", "zh", True)],
)  # fmt: skip
def test_same_language_of_extended_and_grandfathered_tags(a: str, b: str, same: bool) -> None:
    assert same_language(a, b) is same


@pytest.mark.parametrize(
    "code", [*EXTENDED, *GRANDFATHERED, "zh-yue", "ZH-YUE", "zh-cmn-Hans", "zh-TW", "zh-CHT", "de-CHE"]
)
def test_the_detectors_labels_read_a_tag_as_normalize_language_does(code: str) -> None:
    assert parse_label(code).language == normalize_language(code)


def _corpus(root: Path, *codes: str) -> Path:
    root.mkdir()
    for code in codes:
        (root / f"{code}.tsv").write_text("1\tx\n", encoding="utf-8")
    return root


def test_a_corpus_gives_an_extended_tag_its_own_file_never_the_macrolanguages_default(tmp_path: Path) -> None:
    both = _corpus(tmp_path / "both", "cmn", "nan", "eng")
    assert AlignedCorpus.from_dir(both, ["zh-nan"]).languages == ["nan"]
    assert AlignedCorpus.from_dir(both, ["zh-min-nan", "zh"]).languages == ["cmn", "nan"]
    mandarin = _corpus(tmp_path / "mandarin", "cmn", "arb", "nob", "eng")
    for code, missing in [("zh-nan", "nan"), ("zh-hakka", "hak"), ("ar-aeb", "aeb"), ("no-nyn", "nno")]:
        with pytest.raises(DataError, match=rf"no file for language\(s\) {missing}"):
            AlignedCorpus.from_dir(mandarin, [code])
        assert AlignedCorpus.from_dir(mandarin).code(code) is None


def test_tatoeba_finds_nynorsk_for_no_nyn_and_no_mandarin_for_min_nan(tmp_path: Path) -> None:
    for code in ("nob", "nno", "cmn", "ara"):
        for side in (code, "eng"):
            (tmp_path / f"tatoeba.{code}-eng.{side}").write_text("x\n", encoding="utf-8")
    assert tatoeba_code(tmp_path, "no-nyn") == "nno"
    assert tatoeba_code(tmp_path, "no-bok") == "nob"
    assert tatoeba_code(tmp_path, "no") == "nob"
    assert tatoeba_code(tmp_path, "zh") == "cmn"
    for code in ("zh-nan", "zh-min-nan", "zh-hak", "ar-aeb"):
        with pytest.raises(DataError, match="no Tatoeba files for"):
            tatoeba_code(tmp_path, code)


@pytest.mark.parametrize("parse", ["pretraining", "alignment"])
@pytest.mark.parametrize(
    ("spec", "pair"),
    # BCP-47 hyphens inside a tag: split where both sides are tags (pt-BR-en was Portuguese -> Breton,
    # zh-TW-en Chinese -> Twi)
    [("pt-BR-en=x.tsv", ("por", "eng")), ("zh-TW-en=x.tsv", ("zho", "eng")), ("en-de=x.tsv", ("eng", "deu")),
     ("de-DE-fr-FR=x.tsv", ("deu", "fra")), ("eng-zh_Hant=x.tsv", ("eng", "zho"))],
)  # fmt: skip
def test_pair_specs_of_every_command_split_between_two_tags(
    parse: str, spec: str, pair: tuple[str, str]
) -> None:
    from xling.alignment.sentences.align import parse_pairs_spec
    from xling.pretraining.data import parse_parallel_spec

    function = parse_parallel_spec if parse == "pretraining" else parse_pairs_spec
    assert tuple(function(spec)[:2]) == pair
    with pytest.raises(ConfigError, match="exactly two language codes"):
        function("eng-deu-fra=x.tsv")  # was read as eng-deu
