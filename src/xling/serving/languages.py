"""Language codes as LibreTranslate's clients expect them: ISO 639-1 where one exists (`de`), ISO 639-3 where
none does (`haw`); a script only where it is not the language's usual one (`zh-Hant`, `sr-Latn`, `bs-Cyrl`)."""

from __future__ import annotations

from functools import lru_cache

from xling.data.languages import DEFAULT_MEMBER, MACROLANGUAGES, language_name, script_part_of
from xling.errors import LanguageCodeError
from xling.translation.languages import written_script


@lru_cache(maxsize=1)
def _alpha2() -> dict[str, str]:
    """Return ISO 639-3 -> ISO 639-1 for every language that has a two-letter code."""
    import pycountry

    return {lang.alpha_3: lang.alpha_2 for lang in pycountry.languages if getattr(lang, "alpha_2", None)}


@lru_cache(maxsize=4096)
def client_code(label: str) -> str:
    """Return the code a LibreTranslate client expects for an xling label or model code (`deu` -> `de`,
    `cmn_Hans` -> `zh`, `cmn_Hant` -> `zh-Hant`, `arb` -> `ar`, `yue` -> `yue`, `haw` -> `haw`, `und` -> `und`)."""
    from xling.translation.languages import parse_language

    try:
        tag = parse_language(label.strip("_<>"))
    except LanguageCodeError:
        return label
    language = tag.language
    two = _alpha2().get(language)
    macro = next((m for m, members in MACROLANGUAGES.items() if language in members), None)
    # a member with no 639-1 code takes its macrolanguage's (npi -> ne, khk -> mn), unless the macrolanguage
    # stands for another member (`zh` is translated as Mandarin: Cantonese stays `yue`, Egyptian Arabic
    # `arz`, so a model's list keeps them apart)
    if two is None and macro is not None and DEFAULT_MEMBER.get(macro, language) == language:
        two = _alpha2().get(macro)
    code = two or language
    # a script is named where it is not the one the language is usually written in, as xling or CLDR records
    # it (bos_Cyrl -> bs-Cyrl, bos_Latn -> bs: both were `bs`, and a batch's candidates merged them); none
    # where no usual script is known (pnb_Arab -> pnb), nor a script within the usual one (kor_Hang -> ko)
    usual = written_script(language) or (written_script(macro) if macro is not None else None)
    if tag.script and usual and not script_part_of(tag.script, usual):
        code = f"{code}-{tag.script}"
    return code


def display_name(label: str) -> str:
    """Return the English name of a language label or code (`deu` -> German), or the label itself."""
    try:
        return language_name(label.split("_", 1)[0].strip("_<>"))
    except (LanguageCodeError, KeyError):
        return label
