"""Tests for xling.data.languages: code normalisation, names and macrolanguage equivalence."""

from __future__ import annotations

import pytest

from xling.data import language_name, normalize_language, same_language
from xling.errors import LanguageCodeError, XlingError


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # ISO 639-1
        ("de", "deu"),
        ("en", "eng"),
        ("zh", "zho"),
        ("DE", "deu"),
        # ISO 639-3, any case
        ("deu", "deu"),
        ("DEU", "deu"),
        ("Deu", "deu"),
        # ISO 639-2/B (bibliographic)
        ("ger", "deu"),
        ("chi", "zho"),
        ("fre", "fra"),
        ("GER", "deu"),
        # BCP-47 tags and POSIX-style locales: the primary subtag decides
        ("de-DE", "deu"),
        ("de_DE", "deu"),
        ("zh-Hant-TW", "zho"),
        ("sr-Latn", "srp"),
        ("en-GB-oxendict", "eng"),
        ("es-419", "spa"),
        ("cmn-Hans-CN", "cmn"),
        # BCP-47 extended language subtags name the member; a 3-letter region-like subtag does not
        ("zh-yue", "yue"),
        ("zh-cmn-Hans", "cmn"),
        ("ar-arz", "arz"),
        ("de-CHE", "deu"),
        # withdrawn ISO 639-1 codes still found in data (mC4, Java)
        ("iw", "heb"),
        ("in", "ind"),
        ("ji", "yid"),
        # whitespace around a code from a config file
        (" fr ", "fra"),
    ],
)
def test_normalize_language_code_forms(code: str, expected: str) -> None:
    assert normalize_language(code) == expected


@pytest.mark.parametrize("code", ["cmn", "swh", "lzh", "hbo", "grc", "got", "arq", "yue", "lvs", "zsm"])
def test_normalize_language_accepts_all_iso_639_3_codes(code: str) -> None:
    assert normalize_language(code) == code


@pytest.mark.parametrize(
    "code", ["xx", "qqq", "zzz", "", "   ", "d", "deutsch", "de--DE", "de-", "12", "de DE"]
)
def test_normalize_language_rejects_unknown_or_malformed(code: str) -> None:
    with pytest.raises(LanguageCodeError) as info:
        normalize_language(code)
    assert repr(code) in str(info.value)


def test_normalize_language_error_names_code_and_location() -> None:
    with pytest.raises(LanguageCodeError, match=r"^corpus\.tsv:3: unknown language code 'qqq'"):
        normalize_language("qqq", where="corpus.tsv:3")


def test_language_code_error_is_an_xling_error() -> None:
    with pytest.raises(XlingError):
        normalize_language("zzzz")


def test_normalize_language_rejects_non_strings() -> None:
    with pytest.raises(LanguageCodeError):
        normalize_language(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("deu", "German"),
        ("de-AT", "German"),
        ("ger", "German"),
        ("fr", "French"),
        ("cmn", "Mandarin Chinese"),
    ],
)
def test_language_name(code: str, name: str) -> None:
    assert language_name(code) == name


def test_language_name_unknown_code() -> None:
    with pytest.raises(LanguageCodeError, match="'qqq'"):
        language_name("qqq")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("de", "deu"),
        ("ger", "de-CH"),
        ("zh", "cmn"),
        ("cmn", "zho"),
        ("zh-Hant", "yue"),
        ("ar", "arz"),
        ("sw", "swh"),
        ("fa", "pes"),
        ("ms", "zsm"),
        ("ms", "ind"),
        ("lv", "lvs"),
        ("et", "ekk"),
        ("no", "nob"),
        ("nn", "no"),
        ("sq", "als"),
        ("ku", "ckb"),
        # FLORES-200 / CC-100 members of macrolanguages
        ("ne", "npi"),
        ("mn", "khk"),
        ("or", "ory"),
        ("ps", "pbt"),
        ("om", "gaz"),
        ("mg", "plt"),
        ("qu", "quy"),
        # Filipino is standardised Tagalog
        ("fil", "tl"),
        ("fil", "tgl"),
    ],
)
def test_same_language_true(a: str, b: str) -> None:
    assert same_language(a, b)
    assert same_language(b, a)


@pytest.mark.parametrize(
    ("a", "b"), [("de", "nl"), ("cmn", "yue"), ("nob", "nno"), ("ind", "zsm"), ("en", "fr")]
)
def test_same_language_false(a: str, b: str) -> None:
    # Two members of one macrolanguage are different languages.
    assert not same_language(a, b)


def test_same_language_rejects_unknown_code() -> None:
    with pytest.raises(LanguageCodeError):
        same_language("de", "qqq")


def test_language_code_of_reads_codes_and_english_names():
    from xling.data.languages import language_code_of

    assert language_code_of("german") == "deu" and language_code_of("English") == "eng"
    assert language_code_of("de") == "deu" and language_code_of("arabic") == language_code_of("ar")
    assert language_code_of("not a language") is None
