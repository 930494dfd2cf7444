"""Language codes: ISO 639-1, 639-2/B, 639-3 and BCP-47 tags mapped to canonical ISO 639-3."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pycountry

from xling.errors import LanguageCodeError

__all__ = [
    "DEFAULT_MEMBER", "MACROLANGUAGES", "USUAL_SCRIPTS", "default_member", "language_name", "normalize_language",
    "same_language",
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
    "orm": frozenset({"gaz"}),
    "mlg": frozenset({"plt"}),
    "que": frozenset({"quy", "quz"}),
    "aym": frozenset({"ayr"}),
    "din": frozenset({"dik"}),
    "kau": frozenset({"knc"}),
    "grn": frozenset({"gug"}),
}

# A region that decides the script of a language written in two (zh-TW is Traditional Chinese), as CLDR's
# likely subtags have it.
REGION_SCRIPTS = {("zho", "TW"): "Hant", ("zho", "HK"): "Hant", ("zho", "MO"): "Hant", ("zho", "CN"): "Hans",
                  ("zho", "SG"): "Hans", ("cmn", "TW"): "Hant", ("cmn", "HK"): "Hant", ("cmn", "MO"): "Hant",
                  ("cmn", "CN"): "Hans", ("cmn", "SG"): "Hans", ("yue", "HK"): "Hant", ("yue", "MO"): "Hant",
                  ("yue", "CN"): "Hans", ("aze", "IR"): "Arab", ("pan", "PK"): "Arab"}  # fmt: skip

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
    "als": "Latn", "kmr": "Latn", "hrv": "Latn", "cnr": "Latn", "gaz": "Latn", "plt": "Latn", "quy": "Latn",
    "quz": "Latn", "ayr": "Latn", "dik": "Latn", "gug": "Latn",
    "ydd": "Hebr", "npi": "Deva", "ory": "Orya",
}  # fmt: skip

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


@lru_cache(maxsize=1)
def _index() -> _CodeIndex:
    """Return the code tables, built on first use so importing xling.data stays cheap."""
    alpha3: set[str] = set()
    alpha2: dict[str, str] = {}
    bibliographic: dict[str, str] = {}
    names: dict[str, str] = {}
    for lang in pycountry.languages:
        code = lang.alpha_3
        alpha3.add(code)
        names[code] = lang.name
        if two := getattr(lang, "alpha_2", None):
            alpha2[two] = code
        if bib := getattr(lang, "bibliographic", None):
            bibliographic[bib] = code
    return _CodeIndex(frozenset(alpha3), alpha2, bibliographic, names)


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


@lru_cache(maxsize=4096)
def _extended_language(code: str, primary: str | None) -> str | None:
    """Return the language a BCP-47 extended language subtag names (zh-yue: yue, ar-arz: arz): a member of
    the primary macrolanguage right after it; None otherwise (de-CHE is German, not Chechen)."""
    subtags = re.split(r"[-_]", code.strip())
    member = subtags[1].lower() if len(subtags) > 1 else ""
    return member if primary and member in MACROLANGUAGES.get(primary, frozenset()) else None


def normalize_language(code: str, *, where: str | None = None) -> str:
    """Return the canonical ISO 639-3 code for an ISO 639-1/639-2B/639-3 code or a BCP-47 tag.

    `where` (e.g. "corpus.tsv:3") is added to the error message so users can find the bad code.
    """
    canonical = _canonical(code) if isinstance(code, str) else None
    canonical = (_extended_language(code, canonical) or canonical) if canonical else None
    if canonical is None:
        location = f"{where}: " if where else ""
        raise LanguageCodeError(
            f"{location}unknown language code {code!r} "
            "(expected ISO 639-1 'de', ISO 639-3 'deu' or a BCP-47 tag 'de-DE')"
        )
    return canonical


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
