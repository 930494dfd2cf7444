"""Language codes of the translation model families, and how each family marks the languages of a sentence.

A user gives any ISO 639 code or BCP-47 tag (`de`, `deu`, `de-DE`, `zh-Hant`, `srp_Cyrl`); each family wants
its own form, and its own place for it:

| family | codes | source sequence | target prefix (after the decoder start) |
|---|---|---|---|
| `m2m100` (facebook/m2m100_*) | `__de__` (ISO 639-1 where there is one) | `__de__ pieces </s>` | `__fr__` |
| `nllb` (facebook/nllb-200-*) | `deu_Latn` (ISO 639-3 + script) | `deu_Latn pieces </s>` | `fra_Latn` |
| `marian` (Helsinki-NLP/opus-mt-*) | a fixed pair, or `>>fra<<` | `>>fra<< pieces </s>` or `pieces </s>` | nothing |
| `xling` (`xling mt train`) | `__deu__` (ISO 639-3) | `__deu__ pieces </s>` | `__fra__` |

These follow the tokenizers of transformers 5 (`M2M100Tokenizer.set_src_lang_special_tokens`,
`NllbTokenizer.set_src_lang_special_tokens` with `legacy_behaviour=False`, which an NLLB tokenizer saved
with `legacy_behaviour=True` reverses to `pieces </s> deu_Latn`; `MarianTokenizer._tokenize`, which moves a
leading `>>fra<<` in front of the pieces) and M2M-100's generation, which forces the target token right after
the decoder start token (`forced_bos_token_id`). A code is matched on its ISO 639-3 language first, then on
macrolanguage membership (`ar` finds NLLB's `arb_Arab`), then on script (a default per language where a
model has several, e.g. `zho_Hans`; an explicit script or region picks another: `zh-Hant`, `zh-TW`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from xling.artifacts import CT2_KIND, read_metadata
from xling.data.languages import (
    DEFAULT_MEMBER,
    LEGACY_SCRIPT_SUBTAGS,
    MACROLANGUAGES,
    NOT_LANGUAGES,
    REGION_MEMBERS,
    REGION_SCRIPTS,
    SAME_WRITTEN_LANGUAGE,
    USUAL_SCRIPTS,
    language_name,
    macrolanguage_members,
    normalize_language,
    script_part_of,
)
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError

FAMILIES = ("m2m100", "nllb", "marian", "xling")
# what a model folder xling translates with is, as an error about another folder says it
TRANSLATES_WITH = ("Hugging Face folders of M2M-100 and NLLB-200 (config.json's model_type m2m_100), Marian "
                   "/ OPUS-MT (marian) and xling's own models")  # fmt: skip
EOS = "</s>"

# Codes that name no language in particular (a multilingual Marian model's `mul`, or no code at all).
UNSPECIFIED = frozenset(NOT_LANGUAGES)


# Where a model has one language in several scripts (NLLB-200: ace, bjn, kas, knc, taq, zho; OPUS-MT:
# srp, zho, cmn...): the script used when the user names none. NLLB-200's own model card pairs zho with Hans.
# Also the script of a macrolanguage's member whose model code names none (OPUS-MT's >>azb<<: `az-Arab`).
DEFAULT_SCRIPTS = {"zho": "Hans", "cmn": "Hans", "ace": "Latn", "bjn": "Latn", "kas": "Arab", "knc": "Latn",
                   "taq": "Latn", "min": "Latn", "srp": "Cyrl", "uzb": "Latn", "uzn": "Latn", "aze": "Latn",
                   "azj": "Latn", "zsm": "Latn", "kaz": "Cyrl", "pan": "Guru", "snd": "Arab", "mon": "Cyrl",
                   "azb": "Arab", "ckb": "Arab", "kmr": "Latn", "yue": "Hant"}  # fmt: skip

# M2M-100's codes that are not ISO 639-1 (its `ns` is Northern Sotho).
M2M100_CODE_FIXES = {"ns": "nso"}

_NLLB_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
_M2M_TOKEN = re.compile(r"^__([a-z]{2,3})__$")
_MARIAN_TOKEN = re.compile(r"^>>(.+)<<$")
_SUBTAGS = re.compile(r"[-_]")
SHOWN_CODES = 30  # how many of a model's codes an error message lists


@dataclass(frozen=True)
class LanguageTag:
    """A user's language code taken apart: ISO 639-3 language, and the script and region where given."""

    language: str
    script: str | None = None
    region: str | None = None


def parse_language(code: str, *, where: str | None = None) -> LanguageTag:
    """Return the ISO 639-3 language, script (`Hant`) and region (`TW`) of a code or tag (`zh-Hant-TW`).

    Raises LanguageCodeError for a code that is not ISO 639-1/639-2B/639-3 or BCP-47 (`srp_Cyrl` is read
    as srp + Cyrl, as NLLB writes it).
    """
    language = normalize_language(code, where=where)
    script = region = None
    for subtag in _SUBTAGS.split(code.strip())[1:]:
        legacy = LEGACY_SCRIPT_SUBTAGS.get((language, subtag.lower()))  # Microsoft's zh-CHT: Traditional
        if len(subtag) == 4 and subtag.isalpha():
            script = script or subtag.title()
        elif legacy is not None:
            script = script or legacy
        elif (len(subtag) == 2 and subtag.isalpha()) or (len(subtag) == 3 and subtag.isdigit()):
            region = region or subtag.upper()
    return LanguageTag(language, script, region)


def standard_code(code: str, family: str) -> str:
    """Return a model's own language code as an ISO 639 / BCP-47 code: M2M-100's `ns` is Northern Sotho,
    `nso` (M2M100_CODE_FIXES); any other code as it is."""
    return M2M100_CODE_FIXES.get(code, code) if family == "m2m100" else code


def _code_tag(code: str, family: str) -> LanguageTag | None:
    """Return what a model's own language code means (`de`, `deu_Latn`, `zho_Hans`); None if nothing known."""
    try:
        tag = parse_language(standard_code(code, family))
    except LanguageCodeError:
        return None  # e.g. an OPUS-MT group code such as `gem`: matched only by exactly that code
    return None if tag.language in UNSPECIFIED else tag


@dataclass(frozen=True)
class Conventions:
    """How one model marks languages: its codes and where their tokens go in the source and target.

    `source_codes`/`target_codes` map the model's own codes to their tokens (`{"de": "__de__"}`,
    `{"deu_Latn": "deu_Latn"}`, `{"fra": ">>fra<<"}`); an empty mapping means the model has no such token
    (a Marian model's source; a fixed-pair Marian model's target). `fixed_sources`/`fixed_targets` are the
    ISO 639-3 languages of a Marian model's source/target side where its folder records them (`("eng",)`
    for opus-mt-en-de; several for opus-mt-ROMANCE-en, whose source_lang is `fr+fr_BE+...+ro+la`); empty
    when it records none (any language is accepted).
    """

    family: str
    source_codes: Mapping[str, str] = field(default_factory=dict)
    target_codes: Mapping[str, str] = field(default_factory=dict)
    fixed_sources: tuple[str, ...] = ()
    fixed_targets: tuple[str, ...] = ()
    legacy: bool = False
    """NLLB tokenizers saved with legacy_behaviour=True: the source code after `</s>`, not first."""
    name: str = "the model"

    @property
    def target_in_source(self) -> bool:
        """Return True when the target language token goes into the source (Marian's `>>fra<<`)."""
        return self.family == "marian"

    @property
    def sources(self) -> tuple[str, ...] | None:
        """Return the model's source language codes; None when any language is accepted (not recorded)."""
        if self.source_codes:
            return tuple(sorted(self.source_codes))
        return self.fixed_sources or None

    @property
    def targets(self) -> tuple[str, ...] | None:
        """Return the model's target language codes; None when any language is accepted (not recorded)."""
        if self.target_codes:
            return tuple(sorted(self.target_codes))
        return self.fixed_targets or None

    @property
    def language_tokens(self) -> frozenset[str]:
        """Return every language token of the model (removed from what it outputs)."""
        return frozenset(self.source_codes.values()) | frozenset(self.target_codes.values())

    def source_token(self, code: str) -> str | None:
        """Return the token that marks `code` as the source language (None where the family has none).

        Raises LanguageCodeError for a malformed code and XlingError for a language the model lacks.
        """
        if self.source_codes:
            return self.source_codes[_match(code, self.source_codes, self, "from")]
        self._check_fixed(code, self.fixed_sources, "from")
        return None

    def target_token(self, code: str) -> str | None:
        """Return the token that asks for `code` as the target language (None for a fixed-pair model).

        A script `code` asks for (`zh-Hant`, or a region's: `zh-TW`) must be the one the model writes: a code
        of its own in that script (NLLB's `zho_Hant`), or, where its code names none (M2M-100's `zh`, xling's,
        OPUS-MT's), the script xling records the language written in (`written_script`); anything else is a
        ConfigError (check_written_script), never a silent output in another script.
        """
        if self.target_codes:
            own = _match(code, self.target_codes, self, "into")
            tag = _code_tag(own, self.family)
            # the model's own code or token (`zh`, `__zh__`) asks for nothing but what it is
            if tag is not None and tag.script is None and code.strip() not in (own, self.target_codes[own]):
                check_written_script(code, tag.language, own, self)
            return self.target_codes[own]
        # a fixed pair writes what it was trained on, which its recorded target may name (`sr_Latn`) or not:
        # no script rule here (the model's own `sr_Latn` was refused as Cyrillic)
        self._check_fixed(code, self.fixed_targets, "into")
        return None

    def _check_fixed(self, code: str, languages: tuple[str, ...], direction: str) -> str:
        """Return the ISO 639-3 language of a Marian side that `code` names: one of its `languages` (or a
        macrolanguage, member or spelling of one), or the code's own when none are recorded (any code is
        accepted); raise XlingError naming them otherwise."""
        side = "source" if direction == "from" else "target"
        tag = parse_language(code, where=f"{side} language")
        if not languages or tag.language in languages:
            return tag.language
        # into: only a language that stands for the one asked (opus-mt-en-id took `ms` and wrote Indonesian)
        fits = _stands_for if direction == "into" else _related
        for own in languages:
            if fits(own, tag.language):
                return own
        raise XlingError(f"{self.name} ({self.family}) translates {direction} "
                         f"{', '.join(map(_describe, languages))} only, not {direction} "
                         f"{_describe(tag.language)} ({code!r})")  # fmt: skip

    def source_sequence(
        self, pieces: Sequence[str], source_token: str | None, target_token: str | None
    ) -> list[str]:
        """Return the full source token sequence for `pieces` (language tokens and `</s>` where they go)."""
        if self.target_in_source:
            return [*([target_token] if target_token else []), *pieces, EOS]
        if source_token is None:
            return [*pieces, EOS]
        if self.legacy:
            return [*pieces, EOS, source_token]
        return [source_token, *pieces, EOS]

    def target_prefix(self, target_token: str | None) -> list[str]:
        """Return the tokens forced after the decoder start token: the target language token, if it goes there."""
        if self.target_in_source or target_token is None:
            return []
        return [target_token]


def written_script(language: str) -> str | None:
    """Return the script a model writes an ISO 639-3 `language` in when its code names none: the default of a
    language written in several (DEFAULT_SCRIPTS: zho Hans, srp Cyrl), else its one script (USUAL_SCRIPTS:
    deu Latn), its own or that of the member its macrolanguage stands for (nor: nob's Latn); None when xling
    records neither."""
    member = DEFAULT_MEMBER.get(language, language)
    return (DEFAULT_SCRIPTS.get(language) or DEFAULT_SCRIPTS.get(member) or USUAL_SCRIPTS.get(language)
            or USUAL_SCRIPTS.get(member) or likely_script(language))  # fmt: skip


@lru_cache(maxsize=4096)
def likely_script(language: str) -> str | None:
    """Return the script CLDR's likely subtags give an ISO 639 `language`, through langcodes; None where CLDR
    has no entry (langcodes' own guess for an unknown code is Latin, which says nothing)."""
    from langcodes import standardize_tag
    from langcodes.data_dicts import LIKELY_SUBTAGS

    try:
        short = standardize_tag(language)
    except ValueError:
        return None
    full = LIKELY_SUBTAGS.get(short)
    return next((part for part in full.split("-")[1:] if len(part) == 4), None) if full else None


def check_written_script(code: str, language: str, own: str | None, conventions: Conventions) -> None:
    """Return nothing when the target `code` asks no script (by a script subtag, or a region that decides
    one: zh-TW) or the one the model writes `language` in under its code `own` (None: a fixed-pair model's
    target), which names no script: `written_script`, or a script that is part of it (`ko-Hang` of
    Korean's `Kore`, `zh-Hani` of Chinese: `script_part_of`). Else ConfigError naming the script asked and
    the one the model writes: the output would be in another script (M2M-100 asked for zh-Hant writes
    Simplified Chinese). A language whose script neither xling nor CLDR records is taken as asked."""
    tag = parse_language(code, where="language to translate into")
    asked = wanted_script(tag)
    if asked is None:
        return
    written = written_script(language)
    # where neither xling nor CLDR records a script for the language, nothing is known to be wrong: the code
    # is taken as the language
    if written is None or script_part_of(asked, written):
        return
    model = f"{conventions.name} ({conventions.family})"
    which = f"its code {own!r}" if own is not None else "its target"
    asking = f"the {asked} script ({code!r}{'' if tag.script else f', the script of {tag.region}'})"
    alone = _SUBTAGS.split(code.strip())[0]
    raise ConfigError(f"{model} writes {_describe(language)} in the {written} script ({which} names none, and "
                      f"{written} is its usual script: xling's table, else CLDR's), not in {asking}; give "
                      f"{alone!r} for {written}, or use a model with a code in {asked} (NLLB-200's codes name "
                      "their script)")  # fmt: skip


def _related(a: str, b: str) -> bool:
    """Return True when one ISO 639-3 code is a macrolanguage of the other (`zho` and `cmn`; ISO 639-3's whole
    table, as the detector's restrictions read it: `msa` and `min`), or both name one written language (`fil`
    and `tgl`: SAME_WRITTEN_LANGUAGE)."""
    if SAME_WRITTEN_LANGUAGE.get(a, a) == SAME_WRITTEN_LANGUAGE.get(b, b):
        return True
    # the detector restricted to a model's `ms` may answer `min` (label_matches): read as the model's `ms`
    return a in macrolanguage_members(b) or b in macrolanguage_members(a)


def _stands_for(own: str, asked: str) -> bool:
    """Return True when a model's ISO 639-3 language `own` may stand for the `asked` one: both name one
    written language (`fil`, `tgl`), `own` is the default member of the asked macrolanguage (`ar` finds `arb`;
    DEFAULT_MEMBER), or `own` is a macrolanguage whose default member was asked (`nob` finds `nor`, `cmn` finds
    `zho`).

    Another member is not the macrolanguage: a model's Norwegian is Bokmål and its Chinese Mandarin, so
    Nynorsk (`nn`) or Cantonese (`yue`) asked for as a target would come back in them (or, from Bokmål,
    untranslated). A
    macrolanguage with no default member recorded (mon, pus, que) still stands for each of its members: the
    detector's `khk` is the Mongolian of a model that has only `mn`."""
    if SAME_WRITTEN_LANGUAGE.get(own, own) == SAME_WRITTEN_LANGUAGE.get(asked, asked):
        return True
    if asked in DEFAULT_MEMBER:
        # only the member most texts mean: `ms` on a model with Indonesian alone wrote Indonesian, `zh` with
        # Cantonese alone Cantonese, `az` with South Azerbaijani alone Arabic script
        if own in MACROLANGUAGES.get(asked, frozenset()):
            return own == DEFAULT_MEMBER[asked]
    elif own in MACROLANGUAGES.get(asked, frozenset()) or own in macrolanguage_members(asked):
        return True  # Fulah (ff): NLLB's fuv; Mongolian (mn): khk
    if own in DEFAULT_MEMBER:
        return DEFAULT_MEMBER[own] == asked
    # a model's macrolanguage with no default member recorded: each member (M2M-100's ff for fuv)
    return asked in MACROLANGUAGES.get(own, frozenset()) or asked in macrolanguage_members(own)


def _describe(language: str) -> str:
    """Return `German (deu)` for an ISO 639-3 code, or the code alone when it has no name."""
    try:
        return f"{language_name(language)} ({language})"
    except (LanguageCodeError, KeyError):
        return language


def _match(code: str, codes: Mapping[str, str], conventions: Conventions, direction: str) -> str:
    """Return the model code in `codes` that `code` names; raise XlingError naming what the model has."""
    stripped = code.strip()
    if stripped in codes:  # the model's own code (`deu_Latn`, `de`) needs no interpretation
        return stripped
    for own, token in codes.items():
        if token == stripped:  # its token (`__de__`, `>>fra<<`)
            return own
    try:
        tag = parse_language(stripped, where=f"language to translate {direction}")
    except LanguageCodeError:
        # a code ISO has retired that a model still uses (NLLB's ajp_Arab, South Levantine Arabic): its own
        # code's language part, where one code of the model has it
        own_codes = [
            own for own in codes if _SUBTAGS.split(own)[0].lower() == _SUBTAGS.split(stripped)[0].lower()
        ]
        if len(own_codes) == 1:
            return own_codes[0]
        raise
    tags = {own: t for own in codes if (t := _code_tag(own, conventions.family)) is not None}
    candidates = [own for own, t in tags.items() if t.language == tag.language]
    # a region that names a member (fa-AF: Dari) picks the model's code of it over the macrolanguage's own
    # (OPUS-MT's >>prs<< beside >>fas<<: fa-AF gave >>fas<<)
    regional = REGION_MEMBERS.get((tag.language, tag.region or ""))
    candidates = [own for own, t in tags.items() if t.language == regional] or candidates
    # into a language: only a code that stands for it (asked for Nynorsk, a model's Norwegian would write
    # Bokmål; for fa-AF, Dari, a model's Persian writes Iranian Persian, as `prs` is refused); from one: any
    # related code, as the source token only tells the model what it reads (a Nynorsk or Cantonese text is
    # read as the model's Norwegian or Chinese)
    fits = _stands_for if direction == "into" else _related
    asked = regional or tag.language
    candidates = [own for own in candidates if fits(tags[own].language, asked)]
    wanted = wanted_script(tag)

    def written_in(own: str) -> str | None:  # a code without a script: its language's usual one
        return tags[own].script or DEFAULT_SCRIPTS.get(tags[own].language)

    def in_wanted_script(codes: list[str]) -> list[str]:
        """Return `codes`, or where none is in the script asked for, the model's codes of the macrolanguage's
        members in it (the members xling records, az: azj, azb, not SIL's whole table: NLLB's ms-Arab was
        Banjar; a member in the script asked for stands for its macrolanguage, default member or not)."""
        if not wanted or any(written_in(own) in (None, wanted) for own in codes):
            return codes
        members = MACROLANGUAGES.get(tag.language, frozenset())
        in_script = [own for own in tags if tags[own].language in members and written_in(own) == wanted]
        default = [
            own for own in in_script if tags[own].language == (regional or DEFAULT_MEMBER.get(tag.language))
        ]
        return default or in_script or codes

    # the language's own code in another script than the one asked for (Tatoeba-MT's >>zho<< beside
    # >>cmn_Hant<<: zh-TW found only the Simplified zho, and was refused)
    candidates = in_wanted_script(candidates)
    if not candidates:
        related = [own for own, t in tags.items() if fits(t.language, asked)]
        # a macrolanguage's code on a model with several of its members: the member most texts mean, unless
        # the script asked for is another member's (az-Arab, az-IR: South Azerbaijani, not North's Latin)
        member = regional or DEFAULT_MEMBER.get(tag.language)
        preferred = in_wanted_script([own for own in related if tags[own].language == member])
        candidates = preferred or related
        if len({tags[own].language for own in candidates}) > 1:
            raise XlingError(f"{code!r} is ambiguous for {conventions.name}: it has "
                             f"{', '.join(sorted(candidates))}; give one of them")  # fmt: skip
    if not candidates:
        raise XlingError(f"{conventions.name} ({conventions.family}) cannot translate {direction} "
                         f"{_describe(asked)} ({code!r}); {_listing(codes)}")  # fmt: skip
    return _pick_script(code, tag, candidates, tags, conventions)


def _pick_script(code: str, tag: LanguageTag, candidates: list[str], tags: Mapping[str, LanguageTag],
                 conventions: Conventions) -> str:  # fmt: skip
    """Return the candidate in the script the user asked for, or its region implies (or the language's
    default script)."""
    candidates = _distinct(candidates, tags)
    scripts = {own: tags[own].script for own in candidates}
    asked = wanted = wanted_script(tag)
    if len(candidates) == 1 and (asked is None or scripts[candidates[0]] in (None, asked)):
        return candidates[0]
    if wanted is None:
        language = tags[candidates[0]].language
        wanted = DEFAULT_SCRIPTS.get(language) or DEFAULT_SCRIPTS.get(tag.language)
    chosen = [own for own in candidates if scripts[own] == wanted]
    if not chosen and asked is not None:
        # a writing system and the script within it: ko-Kore is NLLB's kor_Hang, ja-Hira its jpn_Jpan
        chosen = [own for own in candidates if scripts[own] is not None
                  and (script_part_of(scripts[own], asked) or script_part_of(asked, scripts[own]))]  # fmt: skip
        # Han of either kind (zh-Hani): the language's usual one, as when no script is asked
        usual = DEFAULT_SCRIPTS.get(tags[candidates[0]].language) or DEFAULT_SCRIPTS.get(tag.language)
        chosen = [own for own in chosen if scripts[own] == usual] or chosen
    if not chosen and all(script is None for script in scripts.values()):
        chosen = list(candidates)  # the model names no script (OPUS-MT's >>fr<< >>fr_CA<<): regions decide
    if len(chosen) > 1:
        # the user's region (fr-CA -> fr_CA), else the code without a region (fra -> fr, not fr_CA)
        regional = [own for own in chosen if tags[own].region == tag.region] or [
            own for own in chosen if tags[own].region is None
        ]
        if len(regional) == 1:
            return regional[0]
    if len(chosen) == 1:
        return chosen[0]
    if asked is not None and not chosen:
        # a region's script is asked for as firmly as a script subtag: pa-PK is Shahmukhi, not Gurmukhi
        implied = "" if tag.script else f", the script of {tag.region}"
        raise XlingError(f"{conventions.name} ({conventions.family}) has {_describe(tag.language)} in "
                         f"{', '.join(sorted(candidates))}, not in the {asked} script ({code!r}{implied})")  # fmt: skip
    what = "script" if len(set(scripts.values())) > 1 else "region"
    # an example keeps the region the user gave (pt-BR is never answered with a bare `pt`)
    examples = [own for own in sorted(candidates) if tag.region is None or tags[own].region == tag.region]
    hint = f"give the {what} too, e.g. {examples[0]!r}" if examples else "give one of them"
    raise XlingError(f"{code!r} is ambiguous for {conventions.name}: it has {', '.join(sorted(candidates))}; "
                     f"{hint}")  # fmt: skip


def _distinct(candidates: list[str], tags: Mapping[str, LanguageTag]) -> list[str]:
    """Return `candidates` with one code per language, script and region: of codes that differ in case only
    (opus-mt-en-ROMANCE has both >>pt_br<< and >>pt_BR<<), the one in BCP-47's case (`pt_BR`)."""
    kept: dict[LanguageTag, str] = {}
    for own in sorted(candidates, key=lambda own: (not _canonical_case(own), own)):
        kept.setdefault(tags[own], own)
    chosen = set(kept.values())
    return [own for own in candidates if own in chosen]


def _canonical_case(code: str) -> bool:
    """Return True when a code's subtags are in BCP-47's case: language lower, script title, region upper
    (`pt_BR`, `zh_Hant`; not `pt_br`)."""
    first, *rest = _SUBTAGS.split(code)
    return first == first.lower() and all(
        subtag == (subtag.title() if len(subtag) == 4 else subtag.upper()) for subtag in rest
    )


def wanted_script(tag: LanguageTag) -> str | None:
    """Return the script a tag asks for: its script subtag, else the one its region implies (zh-TW: Hant,
    az-IR: Arab, sr-ME: Latn; REGION_SCRIPTS), else None (de-AT, pt-BR: a region that decides no script).

    Not CLDR's regional guesses in general: they made zh-US Traditional and Cameroon's Hausa Arabic."""
    return tag.script or REGION_SCRIPTS.get((tag.language, tag.region or ""))


def _listing(codes: Mapping[str, str]) -> str:
    """Return `it has 3 languages: deu_Latn, eng_Latn, fra_Latn` (the first SHOWN_CODES of them)."""
    names = sorted(codes)
    shown = ", ".join(names[:SHOWN_CODES]) + (
        f", ... ({len(names) - SHOWN_CODES} more)" if len(names) > SHOWN_CODES else ""
    )
    return f"it has {len(names)} languages: {shown}"


# --- detection ----------------------------------------------------------------------------------------


def _read_json(path: Path) -> dict[str, Any]:
    """Return the JSON object in `path` ({} when the file is absent); DataError naming it when it is broken."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON ({error.msg})", path, error.lineno) from error
    except UnicodeDecodeError as error:
        raise DataError(f"not UTF-8 text ({error.reason} at byte {error.start})", path) from error
    return data if isinstance(data, dict) else {}


def detect_family(folder: str | Path) -> str:
    """Return the family (`m2m100`, `nllb`, `marian`, `xling`) of a translation model folder.

    xling.json's `family` decides when it names one; else config.json's `model_type` (`marian`, or `m2m_100`
    with an NLLB tokenizer, NLLB codes in tokenizer.json, or an M2M-100 vocabulary). Raises XlingError for
    any other model.
    """
    folder = Path(folder)
    meta = read_metadata(folder)
    if meta.get("kind") == CT2_KIND:  # before `family`, which a conversion copies from its model
        source = meta.get("source") or "the model folder it was made from"
        raise XlingError(f"{folder}: a CTranslate2 conversion (`xling export ct2` of {source}), not a model "
                         "folder; xling translates with the model folder it was made from, on CTranslate2 when "
                         "the conversion is inside it as ctranslate2/ (`xling export ct2` without --output): "
                         f"give --model {source}")  # fmt: skip
    if meta.get("family") in FAMILIES:
        return str(meta["family"])
    config = _read_json(folder / "config.json")
    if not config:
        raise DataError("not a translation model folder (no config.json)", folder)
    model_type = config.get("model_type")
    if model_type == "marian":
        return "marian"
    if model_type is None:
        converted = " (its model.bin is a CTranslate2 model: give the folder it was converted from)" if (
            folder / "model.bin").is_file() else ""  # fmt: skip
        raise XlingError(f"{folder}: its config.json has no model_type, so it is no Hugging Face model folder "
                         f"xling can tell{converted}; xling translates with {TRANSLATES_WITH}")  # fmt: skip
    if model_type != "m2m_100":
        raise XlingError(f"{folder}: a {model_type!r} model (config.json's model_type), which xling does not "
                         f"translate with; xling translates with {TRANSLATES_WITH}")  # fmt: skip
    tokenizer_class = str(_read_json(folder / "tokenizer_config.json").get("tokenizer_class", ""))
    if tokenizer_class.startswith("Nllb"):
        return "nllb"
    if tokenizer_class.startswith("M2M100"):
        return "m2m100"
    if "language_tokens" in meta or "language_tokens" in meta.get("tokenizer", {}):
        return "xling"
    vocabulary = folder / "tokenizer.json"
    if vocabulary.is_file() and '"eng_Latn"' in vocabulary.read_text(encoding="utf-8"):
        return "nllb"
    if (folder / "vocab.json").is_file():
        return "m2m100"
    raise XlingError(f"{folder}: an M2M-100 model whose language codes xling cannot tell (no NLLB or M2M-100 "
                     "tokenizer, no xling.json with language_tokens)")  # fmt: skip


def source_normalizer(tokenizer: Any, family: str) -> Callable[[str], str]:
    """Return what a family's source text goes through before its tokenizer: Moses punctuation
    normalisation for Marian, nothing for the others.

    OPUS-MT models were trained on Moses-normalised text (`«x»` -> `"x"`, `’` -> `'`); transformers'
    MarianTokenizer has the normaliser (`normalize`, sacremoses) but its tokenisation never calls it.
    """
    normalize = getattr(tokenizer, "normalize", None)
    if family == "marian" and callable(normalize):
        return normalize
    return _unchanged


def _unchanged(text: str) -> str:
    return text


def conventions_for(folder: str | Path, tokenizer: Any, family: str | None = None) -> Conventions:
    """Return the language conventions of the model in `folder`, whose loaded tokenizer is `tokenizer`."""
    folder = Path(folder)
    family = family or detect_family(folder)
    name = folder.name or str(folder)
    vocabulary = tokenizer.get_vocab()
    if family == "m2m100":
        tokens = dict(getattr(tokenizer, "lang_code_to_token", {})) or {
            m.group(1): token for token in vocabulary if (m := _M2M_TOKEN.match(token))
        }
        return Conventions(family, tokens, tokens, name=name)
    if family == "nllb":
        tokens = {token: token for token in vocabulary if _NLLB_CODE.match(token)}
        legacy = bool(getattr(tokenizer, "legacy_behaviour", False))
        return Conventions(family, tokens, tokens, legacy=legacy, name=name)
    if family == "xling":
        meta = read_metadata(folder)
        recorded = meta.get("language_tokens") or meta.get("tokenizer", {}).get("language_tokens") or {}
        tokens = {code: token for code, token in recorded.items() if token in vocabulary} or {
            m.group(1): token for token in vocabulary if (m := _M2M_TOKEN.match(token))
        }
        return Conventions(family, tokens, tokens, name=name)
    if family == "marian":
        targets = {m.group(1): token for token in vocabulary if (m := _MARIAN_TOKEN.match(token))}
        source, target = _marian_pair(folder, tokenizer)
        return Conventions(family, {}, targets, fixed_sources=source, fixed_targets=() if targets else target,
                           name=name)  # fmt: skip
    raise XlingError(f"unknown translation model family {family!r} (expected one of {', '.join(FAMILIES)})")


def _marian_pair(folder: Path, tokenizer: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the ISO 639-3 source and target languages of an OPUS-MT model (tokenizer config, else
    `opus-mt-en-de`); () for a side that names no languages."""
    source, target = getattr(tokenizer, "source_lang", None), getattr(tokenizer, "target_lang", None)
    if not (source and target) and folder.name.startswith("opus-mt-"):
        parts = folder.name.split("-")
        source, target = source or parts[-2], target or parts[-1]
    return _languages(source), _languages(target)


def _languages(code: str | None) -> tuple[str, ...]:
    """Return the ISO 639-3 languages of an OPUS-MT side, sorted: one (`de`), or several joined with `+`
    (`fr+fr_BE+es`: fra, spa); () when one of them is a group (`gem`) or `mul`, or for nothing (any
    language: a part left out would refuse a language the model has)."""
    languages = [_single_language(part) for part in (code or "").split("+")]
    if not code or None in languages:
        return ()
    return tuple(sorted({language for language in languages if language is not None}))


def _single_language(code: str | None) -> str | None:
    """Return the ISO 639-3 code of a one-language code; None for a group (`gem`), `mul` or nothing."""
    if not code:
        return None
    try:
        language = normalize_language(code)
    except LanguageCodeError:
        return None
    return None if language in UNSPECIFIED else language
