"""Language codes: ISO 639-1, 639-2/B, 639-3 and BCP-47 tags mapped to canonical ISO 639-3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from xling.errors import ConfigError, LanguageCodeError, XlingError

__all__ = [
    "DEFAULT_MEMBER", "GRANDFATHERED", "MACROLANGUAGES", "REGION_MEMBERS", "SCRIPT_PARTS", "USUAL_SCRIPTS", "default_member",
    "extended_language", "grandfathered_language", "language_name", "macrolanguage_members", "normalize_language",
    "same_language", "script_part_of",
    "pair_file_spec", "split_language_pair",
]  # fmt: skip

# Macrolanguage -> individual languages that corpora commonly label separately (Tatoeba, Bible, CC-100).
# Not the full SIL table: only the cases where two data sets disagree in practice.
MACROLANGUAGES: dict[str, frozenset[str]] = {
    "zho": frozenset({"cmn", "yue", "wuu", "lzh"}),
    "ara": frozenset({"arb", "arq", "arz", "apc", "ary"}),
    "swa": frozenset({"swh", "swc"}),
    "fas": frozenset({"pes", "prs"}),
    "msa": frozenset({"zsm", "ind"}),
    "lav": frozenset({"lvs"}),
    "est": frozenset({"ekk"}),
    "nor": frozenset({"nob", "nno"}),
    "sqi": frozenset({"als"}),
    "aze": frozenset({"azj", "azb"}),
    "uzb": frozenset({"uzn"}),
    "yid": frozenset({"ydd"}),
    "kur": frozenset({"kmr", "ckb"}),
    "hbs": frozenset({"hrv", "srp", "bos", "cnr"}),  # Serbo-Croatian (`sh`)
    # members FLORES-200 and CC-100 name instead of the macrolanguage
    "nep": frozenset({"npi"}),
    "mon": frozenset({"khk"}),
    "ori": frozenset({"ory"}),
    "pus": frozenset({"pbt", "pbu", "pst"}),
    "orm": frozenset({"gaz", "gax"}),  # gax: the UDHR's Borana-Arsi-Guji Oromo
    "iku": frozenset({"ike"}),
    "mlg": frozenset({"plt"}),
    "que": frozenset({"quy", "quz"}),
    "aym": frozenset({"ayr"}),
    "din": frozenset({"dik"}),
    "kau": frozenset({"knc"}),
    "grn": frozenset({"gug"}),
}

# A region that decides which member a macrolanguage's code means, where it is not DEFAULT_MEMBER's (CLDR:
# fa_AF is Dari)
REGION_MEMBERS = {("fas", "AF"): "prs"}

# A region that decides the script of a language written in two (zh-TW is Traditional Chinese), as CLDR's
# likely subtags have it.
REGION_SCRIPTS = {("zho", "TW"): "Hant", ("zho", "HK"): "Hant", ("zho", "MO"): "Hant", ("zho", "CN"): "Hans",
                  ("zho", "SG"): "Hans", ("cmn", "TW"): "Hant", ("cmn", "HK"): "Hant", ("cmn", "MO"): "Hant",
                  ("cmn", "CN"): "Hans", ("cmn", "SG"): "Hans", ("yue", "HK"): "Hant", ("yue", "MO"): "Hant",
                  ("yue", "CN"): "Hans", ("aze", "IR"): "Arab", ("pan", "PK"): "Arab",
                  # CLDR's too, where the script is not in doubt: Montenegro writes Serbian in Latin letters,
                  # Afghanistan Uzbek in Arabic, China Mongolian in its own script and Kazakh in Arabic, India
                  # Sindhi in Devanagari
                  ("srp", "ME"): "Latn", ("uzb", "AF"): "Arab", ("mon", "CN"): "Mong", ("kaz", "CN"): "Arab",
                  ("snd", "IN"): "Deva"}  # fmt: skip

# The one script a language is written in, where it has one (languages written in several are in
# neither this nor xling.langid.labels.SEVERAL_SCRIPTS; translation models' defaults for them:
# xling.translation.languages.DEFAULT_SCRIPTS). The macrolanguage members' entries decide which detector
# labels a restriction like `ar-Arab` keeps (xling.langid.labels.label_matches); `xling adapt` checks the
# new language's data against it.
USUAL_SCRIPTS = {
    "eng": "Latn", "deu": "Latn", "fra": "Latn", "spa": "Latn", "por": "Latn", "ita": "Latn", "nld": "Latn",
    "tur": "Latn", "pol": "Latn", "ces": "Latn", "swe": "Latn", "fin": "Latn", "hun": "Latn", "ron": "Latn",
    "vie": "Latn", "tgl": "Latn", "hau": "Latn", "yor": "Latn", "swa": "Latn",
    "ell": "Grek", "rus": "Cyrl", "ukr": "Cyrl", "bel": "Cyrl", "bul": "Cyrl", "mkd": "Cyrl",
    "kat": "Geor", "hye": "Armn", "ara": "Arab", "fas": "Arab", "urd": "Arab", "pus": "Arab",
    "amh": "Ethi", "tir": "Ethi", "tha": "Thai", "lao": "Laoo", "khm": "Khmr", "mya": "Mymr", "sin": "Sinh",
    "bod": "Tibt", "div": "Thaa", "jpn": "Jpan", "kor": "Kore",
    # macrolanguage members (MACROLANGUAGES)
    "yue": "Hant", "wuu": "Hans",
    "arb": "Arab", "arq": "Arab", "arz": "Arab", "apc": "Arab", "ary": "Arab", "pes": "Arab", "prs": "Arab",
    "azb": "Arab", "ckb": "Arab", "pbt": "Arab", "pbu": "Arab", "pst": "Arab",
    "swh": "Latn", "swc": "Latn", "ind": "Latn", "lvs": "Latn", "ekk": "Latn", "nob": "Latn", "nno": "Latn",
    "als": "Latn", "kmr": "Latn", "hrv": "Latn", "cnr": "Latn", "gaz": "Latn", "gax": "Latn", "ike": "Cans", "plt": "Latn", "quy": "Latn",
    "quz": "Latn", "ayr": "Latn", "dik": "Latn", "gug": "Latn",
    "ydd": "Hebr", "npi": "Deva", "ory": "Orya",
}  # fmt: skip

SCRIPT_PARTS = {"Kore": {"Kore", "Hang", "Hani"}, "Jpan": {"Jpan", "Hira", "Kana", "Hrkt", "Hani"}}
"""The scripts a mixed writing system is made of (ISO 15924): Korean written `Kore` is also `kor_Hang`
(NLLB's and FLORES' code), Japanese `Jpan` also `ja-Hira`."""

# the member a macrolanguage code usually stands for in data and detectors' answers (`zho` text is Mandarin)
DEFAULT_MEMBER = {
    "zho": "cmn", "ara": "arb", "msa": "zsm", "fas": "pes", "swa": "swh", "nor": "nob", "lav": "lvs",
    "est": "ekk", "sqi": "als", "aze": "azj", "uzb": "uzn", "yid": "ydd", "kur": "kmr",
}  # fmt: skip

# withdrawn ISO 639-1 codes still found in data (mC4, Java locales): their current codes
_DEPRECATED_ALPHA2 = {"iw": "heb", "in": "ind", "ji": "yid", "jw": "jav", "mo": "ron"}

# BCP-47 primary subtag (2-3 letters) followed by optional subtags (script, region, variant...).
# "_" is accepted because POSIX locales and many file names use it (de_DE).
_TAG_RE = re.compile(r"^(?P<primary>[A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


@dataclass(frozen=True)
class _CodeIndex:
    """Lookup tables built once from pycountry's ISO 639-3 table."""

    alpha3: frozenset[str]
    alpha2: dict[str, str]
    bibliographic: dict[str, str]
    names: dict[str, str]
    scopes: dict[str, str]


@lru_cache(maxsize=1)
def _index() -> _CodeIndex:
    """Return the code tables, built on first use so importing xling.data stays cheap."""
    alpha3: set[str] = set()
    alpha2: dict[str, str] = {}
    bibliographic: dict[str, str] = {}
    names: dict[str, str] = {}
    scopes: dict[str, str] = {}
    for lang in pycountry.languages:
        code = lang.alpha_3
        alpha3.add(code)
        names[code] = lang.name
        scopes[code] = getattr(lang, "scope", "")
        if two := getattr(lang, "alpha_2", None):
            alpha2[two] = code
        if bib := getattr(lang, "bibliographic", None):
            bibliographic[bib] = code
    return _CodeIndex(frozenset(alpha3), alpha2, bibliographic, names, scopes)


@lru_cache(maxsize=4096)
def _canonical(code: str) -> str | None:
    """Return the ISO 639-3 code for `code`, or None if it is malformed or unknown."""
    match = _TAG_RE.match(code.strip())
    if match is None:
        return None
    primary = match.group("primary").lower()
    index = _index()
    if len(primary) == 2:
        return index.alpha2.get(primary) or _DEPRECATED_ALPHA2.get(primary)
    # 639-3 first: no 639-2/B code is also a 639-3 code, so the order only matters for speed.
    if primary in index.alpha3:
        return primary
    return index.bibliographic.get(primary)


# BCP-47's grandfathered tags (RFC 5646 section 2.2.8), lower case, with the language the IANA registry gives
# as their preferred value; None for the ones that name no one language (zh-min: the Min languages of
# Chinese; i-default: a protocol's default; cel-gaulish: three ancient languages)
GRANDFATHERED: dict[str, str | None] = {
    "zh-min-nan": "nan", "zh-hakka": "hak", "zh-xiang": "hsn", "zh-guoyu": "cmn", "zh-min": None,
    "no-bok": "nob", "no-nyn": "nno", "art-lojban": "jbo", "cel-gaulish": None, "en-gb-oed": "eng",
    "i-ami": "ami", "i-bnn": "bnn", "i-default": None, "i-enochian": None, "i-hak": "hak", "i-klingon": "tlh",
    "i-lux": "ltz", "i-mingo": None, "i-navajo": "nav", "i-pwn": "pwn", "i-tao": "tao", "i-tay": "tay",
    "i-tsu": "tsu", "sgn-be-fr": "sfb", "sgn-be-nl": "vgt", "sgn-ch-de": "sgg",
}  # fmt: skip

# Microsoft's legacy zh-CHS / zh-CHT (.NET cultures, Translator): scripts of Chinese, not the languages chs
# and cht (Cholón)
LEGACY_SCRIPT_SUBTAGS = {("zho", "chs"): "Hans", ("zho", "cht"): "Hant"}
# the prefix of the sign languages' extended language subtags (sgn-ase): a collective code, no language
_SIGN_LANGUAGES = "sgn"
_SUBTAG_SPLIT = re.compile(r"[-_]")


def _unknown(code: object, where: str | None, why: str = "") -> LanguageCodeError:
    """Return the error for a code that names no known language (`why`: what is wrong with it, if known)."""
    location = f"{where}: " if where else ""
    return LanguageCodeError(
        f"{location}unknown language code {code!r}{why} "
        "(expected ISO 639-1 'de', ISO 639-3 'deu' or a BCP-47 tag 'de-DE')"
    )


@lru_cache(maxsize=4096)
def _grandfathered(code: str) -> tuple[str, str | None] | None:
    """Return (the grandfathered tag `code` is or starts with, its language), longest first; None if none."""
    subtags = _SUBTAG_SPLIT.split(code.strip().lower())
    for end in range(len(subtags), 1, -1):
        tag = "-".join(subtags[:end])
        if tag in GRANDFATHERED:
            return tag, GRANDFATHERED[tag]
    return None


def grandfathered_language(code: str, *, where: str | None = None) -> str | None:
    """Return the ISO 639-3 language of a BCP-47 grandfathered tag (zh-min-nan: nan, no-nyn: nno, i-klingon:
    tlh; in any case, with `-` or `_`, and also where further subtags follow: zh-min-nan-TW); None when
    `code` is no grandfathered tag. LanguageCodeError (with `where`) for one that names no one language
    (zh-min, i-default, cel-gaulish)."""
    found = _grandfathered(code)
    if found is None:
        return None
    tag, language = found
    if language is None:
        raise _unknown(code, where, f": the grandfathered BCP-47 tag {tag!r} names no one language")
    return language


@lru_cache(maxsize=1)
def _macrolanguages() -> frozenset[str]:
    """Return ISO 639-3's macrolanguages (scope M in pycountry's table), MACROLANGUAGES' among them."""
    index = _index()
    ruled = frozenset(code for code, scope in index.scopes.items() if scope == "M")
    return ruled | frozenset(MACROLANGUAGES)


@lru_cache(maxsize=512)
def _members(macrolanguage: str) -> frozenset[str]:
    """Return the ISO 639-3 individual languages of a macrolanguage (SIL's table, through iso639-lang), with
    those MACROLANGUAGES lists; empty for a code that is none."""
    from iso639 import Lang
    from iso639.exceptions import DeprecatedLanguageValue, InvalidLanguageValue

    try:
        members = {member.pt3 for member in Lang(macrolanguage).individuals()}
    except (InvalidLanguageValue, DeprecatedLanguageValue):  # kzj (merged into dtp in 2016) is none either
        members = set()
    return frozenset(members) | MACROLANGUAGES.get(macrolanguage, frozenset())


def macrolanguage_members(code: str) -> frozenset[str]:
    """Return the individual languages of the macrolanguage `code` (ISO 639-3), SIL's whole table with those
    MACROLANGUAGES lists (que: quy, quz, qvh and 41 more); empty for a code that is none."""
    return _members(code)


def _extended(language: str, subtag: str) -> str | None:
    """Return `extended_language`'s answer; None where it raises."""
    lower = subtag.lower()
    if language not in _macrolanguages() and language != _SIGN_LANGUAGES:
        return language
    if lower in MACROLANGUAGES.get(language, frozenset()):  # a listed member, in any case (ZH-YUE)
        return lower
    if not subtag.islower() or (language, lower) in LEGACY_SCRIPT_SUBTAGS:
        return language
    if language == _SIGN_LANGUAGES:  # sgn-ase: any individual language (a sign language's code)
        index = _index()
        return lower if index.scopes.get(lower) == "I" and lower not in index.alpha2.values() else None
    if lower in _members(language):  # zh-nan, ar-aeb: ISO 639-3's members of the macrolanguage
        return lower
    if pycountry.countries.get(alpha_3=lower.upper()) is not None:
        return language  # a country's three-letter code, lower case (zh-twn, ar-sau): a region, as in ZH-TWN
    return None  # zh-xyz, zh-eng: no member of it


def _extended_error(language: str, subtag: str, code: str, where: str | None) -> LanguageCodeError:
    """Return the error for a subtag after a macrolanguage that names no individual language (zh-xyz)."""
    location = f"{where}: " if where else ""
    primary = _SUBTAG_SPLIT.split(code.strip())[0]
    members = sorted(MACROLANGUAGES.get(language, frozenset()))
    if language == _SIGN_LANGUAGES:
        what = "sgn takes a sign language's ISO 639-3 code (sgn-ase)"
    elif members:
        what = (f"{language} is a macrolanguage of {', '.join(members)}, among others "
                f"(e.g. {primary}-{members[0]}, or {members[0]} alone)")  # fmt: skip
    else:
        what = f"{language} is a macrolanguage: the subtag after it names a member by its ISO 639-3 code"
    return LanguageCodeError(f"{location}unknown extended language subtag {subtag!r} in {code!r}: {what}")


def extended_language(language: str, subtag: str, code: str, where: str | None = None) -> str:
    """Return the language of a BCP-47 tag `code` whose primary language is `language` (ISO 639-3) and whose
    second subtag, three letters, is `subtag`.

    After a macrolanguage (or sgn, the sign languages' prefix) a lower-case subtag is an extended language
    subtag (RFC 5646 section 2.2.2): the member it names (zh-yue: yue, zh-nan: nan, ar-aeb: aeb; ISO 639-3's
    members of the macrolanguage, `_members`; after sgn any sign language, sgn-ase: ase), never the
    macrolanguage itself, which would widen the tag to every member (and data sets read a macrolanguage as
    its DEFAULT_MEMBER: zh-nan is not Mandarin). A member listed in MACROLANGUAGES is read in any case
    (ZH-YUE). `language` itself after any other language (de-CHE: German), for a subtag not all lower case (a
    region written in three letters: zh-CHN, ar-SAU), for a lower-case one that is a country's ISO 3166
    three-letter code and no member (zh-twn, ar-sau: Twendi and Saleman are no Chinese or Arabic) and for
    Microsoft's zh-CHS/zh-CHT (scripts). LanguageCodeError (with `where`) for any other lower-case subtag
    after a macrolanguage (zh-xyz, zh-eng, zh-und).
    """
    found = _extended(language, subtag)
    if found is None:
        raise _extended_error(language, subtag, code, where)
    return found


@lru_cache(maxsize=4096)
def _language_of_tag(code: str) -> tuple[str | None, str | None]:
    """Return (the ISO 639-3 language of a code or tag that is not grandfathered, None), (None, None) for an
    unknown one, or (None, its extended language subtag) where that subtag names no individual language."""
    subtags = _SUBTAG_SPLIT.split(code.strip())
    canonical = _canonical(code)
    if canonical is None and subtags[0].lower() == _SIGN_LANGUAGES and _TAG_RE.match(code.strip()):
        canonical = _SIGN_LANGUAGES  # only before an extended language subtag: sgn-ase
    if canonical is not None and len(subtags) > 1 and len(subtags[1]) == 3 and subtags[1].isalpha():
        found = _extended(canonical, subtags[1])
        if found is None:
            return None, subtags[1]
        canonical = found
    return (None if canonical == _SIGN_LANGUAGES else canonical), None


def normalize_language(code: str, *, where: str | None = None) -> str:
    """Return the canonical ISO 639-3 code for an ISO 639-1/639-2B/639-3 code or a BCP-47 tag.

    A BCP-47 extended language subtag names the language (zh-nan: nan, ar-aeb: aeb; `extended_language`),
    and so does a grandfathered tag (zh-min-nan: nan, no-nyn: nno; `grandfathered_language`).
    `where` (e.g. "corpus.tsv:3") is added to the error message so users can find the bad code.
    """
    if not isinstance(code, str):
        raise _unknown(code, where)
    grandfathered = grandfathered_language(code, where=where)  # raises for one that names no language
    if grandfathered is not None:
        return grandfathered
    language, wrong_subtag = _language_of_tag(code)
    if wrong_subtag is not None:
        primary = _canonical(code) or _SIGN_LANGUAGES
        raise _extended_error(primary, wrong_subtag, code, where)
    if language is None:
        raise _unknown(code, where)
    return language


def language_code_of(name: str) -> str | None:
    """Return the ISO 639-3 code of a language code or English name ("de", "deu", "german"); None if unknown."""
    try:
        return normalize_language(name)
    except LanguageCodeError:
        pass
    try:
        return _canonical(pycountry.languages.lookup(name).alpha_3)
    except LookupError:
        return None


def language_name(code: str) -> str:
    """Return the English name of a language given in any accepted code form ("deu" -> "German")."""
    return _index().names[normalize_language(code)]


# codes ISO 639-3 keeps apart for one written language: Filipino is standardised Tagalog (models, detectors
# and data sets name it either way: NLLB tgl_Latn, M2M-100 tl, OPUS-MT fil)
SAME_WRITTEN_LANGUAGE = {"fil": "tgl"}


# ISO 639's special codes, which name no language (a detector's `und` is its answer, not a label)
NOT_LANGUAGES = {"und": "undetermined", "zxx": "no linguistic content", "mul": "multiple languages",
                 "mis": "uncoded languages"}  # fmt: skip


def special_code_meaning(code: str) -> str | None:
    """Return what ISO 639's special code `code` stands for ("undetermined" for und, also zxx, mul, mis, in
    any code form such as `und-Latn`); None for a language's code or an unknown one (its caller's to
    refuse)."""
    try:
        return NOT_LANGUAGES.get(normalize_language(code))
    except LanguageCodeError:
        return None


def default_member(code: str) -> str:
    """Return an ISO 639-3 code with a macrolanguage as the member it stands for in data (`ara` -> `arb`,
    `kur` -> `kmr`; DEFAULT_MEMBER), any other code as it is."""
    return DEFAULT_MEMBER.get(code, code)


def same_language(a: str, b: str) -> bool:
    """Return True if both codes name the same language (Filipino and Tagalog are one) or one is a
    macrolanguage of the other."""
    first, second = normalize_language(a), normalize_language(b)
    first, second = SAME_WRITTEN_LANGUAGE.get(first, first), SAME_WRITTEN_LANGUAGE.get(second, second)
    if first == second:
        return True
    return second in MACROLANGUAGES.get(first, frozenset()) or first in MACROLANGUAGES.get(
        second, frozenset()
    )


def script_part_of(part: str, whole: str) -> bool:
    """Return True when ISO 15924 script `part` is script `whole` or written within it: one of the scripts of
    a mixed writing system (`Hang` of Korean's `Kore`, `Hira` of Japanese's `Jpan`: SCRIPT_PARTS), or Han
    (`Hani`) in either of its forms (`Hans`, `Hant`). Not the other way round: `Hans` is not in `Hani`."""
    # Han in general covers Simplified and Traditional characters alike (`zh-Hani` asks for either)
    return (
        part == whole or part in SCRIPT_PARTS.get(whole, ()) or (part == "Hani" and whole in ("Hans", "Hant"))
    )


def split_language_pair(text: str, where: str) -> tuple[str, str]:
    """Return the two language tags, as written, of a pair spec `src-tgt` (`eng-deu`, `en-zh-Hant`,
    `de-DE-fr-FR`); ConfigError naming `where` and the spec otherwise.

    A spec is exactly two language tags. Tags written with `_` inside (`zh_Hant`, `de_AT`) are never
    ambiguous; with BCP-47 hyphens a spec of more than one hyphen is split at the one where both sides are
    well-formed tags (language, then optionally script, region, variants). Where several hyphens would do,
    the one followed by a lower-case language subtag wins (`en-fr-CA` is en -> fr-CA, not en-FR -> ca); a
    spec still ambiguous, or with no such split (`eng-deu-fra`), is a ConfigError naming it.
    """
    text = text.strip()
    splits = [(text[:at], text[at + 1 :]) for at, char in enumerate(text) if char == "-"]
    if len(splits) == 1:  # `eng-deu`, `eng-zho_Hant`: each side is read as it is (a bad code says why)
        valid = [pair for pair in splits if all(part.strip() for part in pair)]
    else:
        valid = [(a, b) for a, b in splits if _well_formed(a) and _well_formed(b)]
    if len(valid) > 1:  # `en-fr-CA`: fr-CA (a language subtag in lower case), not en-FR and ca
        valid = [(a, b) for a, b in valid if not _SUBTAG_SPLIT.split(b.strip())[0].isupper()] or valid
    if len(valid) > 1:
        readings = " or ".join(f"{a} -> {b}" for a, b in valid)
        raise ConfigError(f"{where}: {text!r} is ambiguous ({readings}); join the subtags of a tag with _ "
                          "(zh_TW, fr_CA)")  # fmt: skip
    if not valid:
        raise ConfigError(f"{where}: {text!r} must be exactly two language codes src-tgt, e.g. eng-deu or "
                          "eng-zh_Hant")  # fmt: skip
    return valid[0][0].strip(), valid[0][1].strip()


# a BCP-47 tag's subtags after the language (and its extended language subtag, zh-yue): script, region,
# variants; each at most once, in this order
_SUBTAG_KINDS = (
    ("script", re.compile(r"[A-Za-z]{4}")),
    ("region", re.compile(r"[A-Za-z]{2}|[0-9]{3}")),
    ("variant", re.compile(r"[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}")),
)
_RESERVED_REGIONS = frozenset({"UK", "EU"})  # ISO 3166's exceptionally reserved codes that tags use


def _well_formed(code: str) -> bool:
    """Return whether `code` is one language tag: a known language, then script, region (a country) and
    variant subtags in BCP-47 order (`zh-Hant-TW`, `de_AT`, `sr_Latn`), or a grandfathered tag (`no-nyn`);
    `deu-fra` (two languages) and `en-zh` (ZH is no country) are not."""
    try:
        language = normalize_language(code)
    except XlingError:
        return False
    if grandfathered_language(code) is not None:
        return True
    subtags = _SUBTAG_SPLIT.split(code.strip())[1:]
    if subtags and subtags[0].lower() == language and len(subtags[0]) == 3:  # an extended language: zh-yue
        subtags = subtags[1:]
    kind = 0
    for subtag in subtags:
        while kind < len(_SUBTAG_KINDS) and not _SUBTAG_KINDS[kind][1].fullmatch(subtag):
            kind += 1
        if kind == len(_SUBTAG_KINDS):
            return False
        name = _SUBTAG_KINDS[kind][0]
        country = subtag.upper() in _RESERVED_REGIONS or pycountry.countries.get(alpha_2=subtag.upper())
        if name == "region" and subtag.isalpha() and not country:
            return False
        if name != "variant":
            kind += 1
    return True


def pair_file_spec(spec: str, field: str, example: str) -> tuple[str, str, str]:
    """Return (src, tgt, path) of a `src-tgt=path` spec, the languages as ISO 639-3 (`split_language_pair`
    tells the two tags apart); ConfigError naming `field` and the spec for another form (`example` shows the
    right one), LanguageCodeError naming them for an unknown code."""
    pair, sep, path = spec.partition("=")
    if not sep or not path:
        raise ConfigError(f"{field}: {spec!r} must be src-tgt=path.tsv, e.g. {example}")
    where = f"{field} {spec!r}"
    src, tgt = (normalize_language(code, where=where) for code in split_language_pair(pair, where))
    return src, tgt, path
