"""Translation test sets: per direction, the source language, target language, sources and references.

- bible: the verses of an id-aligned corpus folder (`<lang>.tsv[.gz]`, `id<TAB>text`, e.g. ../shared/data/bible)
  whose ids start with held-out prefixes ("JHN.": John, which `recipes/mt-bible.toml` keeps out of training),
  joined on id by `xling.data.readers.AlignedCorpus.pairs`, in the source file's order.
- ntrex: NTREX-128 (WMT19 newstest translated from English by humans, 1,997 line-aligned news sentences;
  ../shared/data/ntrex). eng -> xx translates the English source `newstest2019-src.eng.txt.gz` against
  `newstest2019-ref.<xx>.txt.gz`; xx -> yy translates the xx reference against the yy reference, both
  translations of the same English line; xx -> eng is scored against the English source. Test set only.
- tatoeba: the LASER Tatoeba pairs (`tatoeba.<xx>-eng.<xx>` / `.eng`), xx <-> eng only. Test set only.

NTREX names languages by file tags (ISO 639-3, some with a script or region). A language code given by a user
or a model (any form `normalize_language` reads) finds its file so:

- eng: the English source (the original text, not the eng-GB / eng-US / eng-IN re-translations);
- zho and cmn (Mandarin, as the Bible and Tatoeba label Chinese) -> zho-CN (Simplified, the Bible's cmn
  script); srp -> srp-Cyrl (the script of the Bible's srp); fra -> fra and spa -> spa (not fra-CA, spa-MX);
- individual languages that NTREX files under their macrolanguage or a sibling code (`NTREX_TAGS`):
  ara -> arb, swh -> swa, pes -> fas, zsm -> msa, lvs -> lav, ekk -> est, azj -> aze-Latn, uzn -> uzb,
  npi -> nep, gaz -> orm, als -> sqi, khk -> mon, plt -> mlg, tgl -> fil (Filipino, standardised Tagalog),
  aze -> aze-Latn, kur -> kmr, ckb -> ckb-Arab, snd -> snd-Arab, sna -> sna-Latn, tgk -> tgk-Cyrl, nor -> nob;
- any other code: the file of that ISO 639-3 code.

lzh (Classical Chinese), wuu and the other Chinese varieties get no reference: NTREX's Chinese is modern
Mandarin, and scoring them against it would be wrong. `variants` picks another file of the same language
(["zho-TW"], ["fra-CA", "srp-Latn"]), and the translator is asked for that side in the variant's script and
region (eng -> zho with zho-TW: `zho-TW`, NLLB's zho_Hant; srp -> eng with srp-Latn: Latin text, `srp-Latn`);
the second Spanish reference (`newstest2019-ref-2.spa`) is not used, so every direction is scored against one
reference.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from xling.data.languages import language_name, normalize_language
from xling.data.readers import AlignedCorpus, read_parallel_files, read_tatoeba, require_file, tatoeba_code
from xling.data.root import bible_folder, data_folder
from xling.data.versification import chapters_apart, last_verses, same_numbering
from xling.errors import ConfigError, DataError
from xling.translation.languages import parse_language

__all__ = [
    "NTREX_SOURCE",
    "NTREX_TAGS",
    "TESTSETS",
    "DirectionData",
    "bible_folder",
    "bible_test",
    "ntrex_folder",
    "ntrex_reference",
    "ntrex_test",
    "parse_direction",
    "plain_language",
    "tatoeba_folder",
    "tatoeba_test",
]

TESTSETS = ("bible", "ntrex", "tatoeba")
NTREX_SOURCE = "newstest2019-src.eng.txt.gz"
# ISO 639-3 code -> NTREX file tag, where the tag is not the code itself (see the module docstring).
NTREX_TAGS: dict[str, str] = {
    "zho": "zho-CN", "cmn": "zho-CN", "srp": "srp-Cyrl",
    "ara": "arb", "swh": "swa", "pes": "fas", "zsm": "msa", "lvs": "lav", "ekk": "est", "azj": "aze-Latn",
    "uzn": "uzb", "npi": "nep", "gaz": "orm", "als": "sqi", "khk": "mon", "plt": "mlg", "tgl": "fil",
    "aze": "aze-Latn", "kur": "kmr", "ckb": "ckb-Arab", "snd": "snd-Arab", "sna": "sna-Latn", "tgk": "tgk-Cyrl",
    "nor": "nob",  # Bokmål, as Tatoeba and the Bible read `no`
}  # fmt: skip
# Chinese varieties other than Mandarin: NTREX's zho references are Mandarin, so they have none.
NO_NTREX_REFERENCE = frozenset({"lzh", "wuu", "hak", "nan", "gan", "hsn", "cjy", "cpx"})
# what an error about a direction's script or region says to do instead
VARIANTS_HINT = 'for a script or region variant of an NTREX reference use `variants` (e.g. ["zho-TW"])'


@dataclass(frozen=True)
class DirectionData:
    """One translation direction of a test set: line i of `references` translates line i of `sources`."""

    src: str
    """Source language, ISO 639-3 (what the translator is told)."""
    tgt: str
    """Target language, ISO 639-3."""
    sources: list[str]
    """The texts to translate."""
    references: list[str]
    """One human translation per source."""
    origin: str
    """Where the two sides came from (file names, id prefixes), for reports."""
    ids: tuple[str, ...] = ()
    """The pairs' ids where the test set has them (Bible verse ids), else empty."""
    src_code: str = ""
    """The code the translator is told for the source where it says more than `src`: the script or region of
    the NTREX variant read (srp-Latn: the sources are in Latin script); "": `src`."""
    tgt_code: str = ""
    """The code the translator is asked for where it says more than `tgt`: the script or region of the NTREX
    variant scored against (zho-TW: the references are Traditional Chinese); "": `tgt`."""

    @property
    def label(self) -> str:
        """Return the direction as "src-tgt"."""
        return f"{self.src}-{self.tgt}"

    @property
    def codes(self) -> tuple[str, str]:
        """Return the (source, target) codes handed to the translator: `src_code`/`tgt_code` where given."""
        return self.src_code or self.src, self.tgt_code or self.tgt


_REGION = re.compile(r"[A-Z]{2}|[0-9]{3}")  # a BCP-47 region subtag as written: upper case, or UN M.49 digits


def parse_direction(text: str) -> tuple[str, str]:
    """Return (src, tgt) as ISO 639-3 codes from "src-tgt" ("eng-deu", "en-de"); ConfigError if malformed,
    or if a side names a script or region (`zho_Hant`), which a direction cannot carry."""
    parts = [part.strip() for part in str(text).split("-")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"directions: {text!r} is not src-tgt with plain language codes (e.g. eng-deu); "
                          f"{VARIANTS_HINT}")  # fmt: skip
    if _REGION.fullmatch(parts[1]) and not parts[0].isupper():
        # written as BCP-47 writes a region (fr-CA, zh-TW, pt-BR), not as a language: read as one, CA was
        # Catalan and TW Twi, and French was scored as translated into Catalan
        raise ConfigError(f"directions: {text!r} is one language with a region, not src-tgt (e.g. eng-fra); "
                          f"{VARIANTS_HINT}")  # fmt: skip
    src, tgt = (plain_language(code, f"directions: {text!r}") for code in parts)
    if src == tgt:
        raise ConfigError(f"directions: {text!r} translates {src} into itself")
    return src, tgt


def plain_language(code: str, where: str) -> str:
    """Return the ISO 639-3 code of a language code; ConfigError (naming `where`) for one with a script or
    region (`zh-TW`, `sr_Latn`): dropped silently, the model was asked for the language's default script
    (zho_Hans) and scored against whichever reference the test set has."""
    tag = parse_language(code, where=where)
    if tag.script or tag.region:
        raise ConfigError(f"{where}: {code!r} names a script or region, which a direction does not carry: give "
                          f"the language alone ({tag.language}); {VARIANTS_HINT}")  # fmt: skip
    return tag.language


def ntrex_folder(data: str | os.PathLike[str] | None) -> Path:
    """Return the NTREX folder inside the data root `data` (its ntrex/ folder), or the root itself."""
    return data_folder(data, "ntrex", f"NTREX files ({NTREX_SOURCE})",
                       lambda folder: (folder / NTREX_SOURCE).is_file())  # fmt: skip


def tatoeba_folder(data: str | os.PathLike[str] | None) -> Path:
    """Return the Tatoeba folder inside the data root `data` (its tatoeba/ folder), or the root itself."""
    return data_folder(data, "tatoeba", "Tatoeba files (tatoeba.<lang>-eng.<lang>)",
                       lambda folder: any(folder.glob("tatoeba.*-eng.eng")))  # fmt: skip


def _first(rows: Iterable, max_sentences: int) -> list:
    """Return the first `max_sentences` items of `rows` (all of them when it is 0)."""
    return list(islice(rows, max_sentences) if max_sentences > 0 else rows)


def bible_test(
    folder: str | os.PathLike[str], src: str, tgt: str, prefixes: Sequence[str], max_sentences: int = 0
) -> DirectionData:
    """Return the src -> tgt pairs whose ids start with one of `prefixes`, in source order, the first
    `max_sentences` of them (all when 0)."""
    if not prefixes or not all(prefixes):
        raise ConfigError(
            f"heldout_prefixes: name at least one id prefix such as 'JHN.', got {list(prefixes)!r}"
        )
    corpus = AlignedCorpus.from_dir(folder)
    wanted = tuple(prefixes)

    def keep(ident: str) -> bool:
        return ident.startswith(wanted)

    # a chapter numbered differently on the two sides (a psalm held out as PSA.) pairs other verses
    src_code, tgt_code = normalize_language(src), normalize_language(tgt)
    if corpus.code(src_code) is not None and corpus.code(src_code) == corpus.code(tgt_code):
        # cmn-zho, tgl-fil: one file on both sides, so a copy of the input scored 100
        raise ConfigError(f"directions: {src}-{tgt}: both sides are the corpus's {corpus.code(src_code)}")
    pairs = list(corpus.pairs(src_code, tgt_code, ids=keep))
    every = {lang: dict(corpus.sentences(lang)) for lang in (src_code, tgt_code)}
    last = {lang: last_verses(every[lang]) for lang in (src_code, tgt_code)}
    apart = chapters_apart(*corpus.schemes_of(src_code, tgt_code))
    numbered_alike = set(same_numbering([sid for sid, _, _ in pairs], last[src_code], last[tgt_code],
                                        f"{src_code}-{tgt_code}", what="test pairs", apart=apart, texts=(every[src_code], every[tgt_code])))  # fmt: skip
    rows = _first((row for row in pairs if row[0] in numbered_alike), max_sentences)
    if not rows:
        apart_note = f" ({len(pairs)} left out: their chapters are numbered differently)" if pairs else ""
        raise DataError(f"no {src}-{tgt} pairs with ids starting {', '.join(wanted)}{apart_note}", folder)
    return DirectionData(src=src_code, tgt=tgt_code, sources=[s for _, s, _ in rows],
                         references=[t for _, _, t in rows], ids=tuple(i for i, _, _ in rows),
                         origin=f"{Path(folder).name} {src_code}/{tgt_code}, ids starting {' '.join(wanted)}")  # fmt: skip


def ntrex_reference(folder: str | os.PathLike[str], lang: str, variants: Sequence[str] = ()) -> Path:
    """Return the NTREX file holding `lang`'s side: the English source for eng, else a reference file.

    `variants` are file tags that replace the default file of their language (["zho-TW"]).
    """
    root = Path(folder)
    code = normalize_language(lang)
    if code in NO_NTREX_REFERENCE:
        raise DataError(f"NTREX has no reference for {code} ({language_name(code)}): its Chinese is Mandarin "
                        "(cmn / zho)", root)  # fmt: skip
    tag = _ntrex_tag(code, variants)
    if tag == "eng":
        return require_file(root / NTREX_SOURCE)
    path = root / f"newstest2019-ref.{tag}.txt.gz"
    if not path.is_file():
        available = sorted(p.name.split(".")[1] for p in root.glob("newstest2019-ref.*.txt.gz"))
        raise DataError(f"no NTREX reference for {code} ({language_name(code)}): {path.name} is not there; "
                        f"references here: {' '.join(available)}", root)  # fmt: skip
    return path


def _ntrex_tag(code: str, variants: Sequence[str]) -> str:
    """Return the NTREX file tag of ISO 639-3 `code`'s side: the tag of `variants` for its language, else
    its default (NTREX_TAGS, or the code itself)."""
    chosen: dict[str, str] = {}
    for tag in variants:
        language = normalize_language(tag, where="variants")
        if chosen.get(language, tag.strip()) != tag.strip():  # else the last would win without a word
            raise ConfigError(f"variants: {chosen[language]!r} and {tag.strip()!r} are two references for "
                              f"{language} ({language_name(language)}): give one")  # fmt: skip
        chosen[language] = tag.strip()
    tag = NTREX_TAGS.get(code, code)
    return chosen.get(normalize_language(tag), tag)


def unused_variants(variants: Sequence[str], directions: Sequence[tuple[str, str]]) -> list[str]:
    """Return the `variants` that no side of `directions` reads (its language has another default file tag,
    or no direction has its language)."""
    used = {_ntrex_tag(normalize_language(lang), variants) for direction in directions for lang in direction}
    return [variant for variant in variants if variant.strip() not in used]


def _variant_code(lang: str, variants: Sequence[str]) -> str:
    """Return the code a translator is handed for `lang`'s side of an NTREX test where one of `variants` is
    read for it: the language with the variant's script or region (cmn with zho-TW: `cmn-TW`); "" where none
    is, or it has neither (the language's default file is what its plain code means)."""
    code = normalize_language(lang)
    tag = _ntrex_tag(code, variants)
    subtags = tag.split("-")[1:]
    if not subtags or tag not in {variant.strip() for variant in variants}:
        return ""
    return "-".join([code, *subtags])


def ntrex_test(
    folder: str | os.PathLike[str], src: str, tgt: str, max_sentences: int = 0, variants: Sequence[str] = ()
) -> DirectionData:
    """Return the NTREX src -> tgt test: src's side (the English source or a reference) against tgt's, each
    side in its variant's script or region where `variants` names one (`src_code`, `tgt_code`)."""
    src_path, tgt_path = ntrex_reference(folder, src, variants), ntrex_reference(folder, tgt, variants)
    if src_path == tgt_path:
        raise ConfigError(f"directions: {src}-{tgt}: both sides are {src_path.name}")
    # Line-aligned files: unequal lengths and one-sided blank lines are DataErrors naming file and line, so
    # both are read whole before the first max_sentences are taken (a shorter reference is a damaged one)
    rows = _first(list(read_parallel_files(src_path, tgt_path)), max_sentences)
    return DirectionData(src=normalize_language(src), tgt=normalize_language(tgt),
                         sources=[s for s, _ in rows], references=[t for _, t in rows],
                         origin=f"{src_path.name} -> {tgt_path.name}", src_code=_variant_code(src, variants),
                         tgt_code=_variant_code(tgt, variants))  # fmt: skip


def tatoeba_test(folder: str | os.PathLike[str], src: str, tgt: str, max_sentences: int = 0) -> DirectionData:
    """Return the Tatoeba pairs of xx -> eng or eng -> xx (Tatoeba pairs every language with English only)."""
    src_code, tgt_code = normalize_language(src), normalize_language(tgt)
    if "eng" not in (src_code, tgt_code):
        raise ConfigError(f"directions: {src_code}-{tgt_code}: Tatoeba pairs each language with English only")
    other = tgt_code if src_code == "eng" else src_code
    xx, eng = read_tatoeba(folder, other)
    rows = _first(
        zip(eng, xx, strict=True) if src_code == "eng" else zip(xx, eng, strict=True), max_sentences
    )
    return DirectionData(src=src_code, tgt=tgt_code, sources=[s for s, _ in rows],
                         references=[t for _, t in rows],
                         origin=f"tatoeba.{tatoeba_code(Path(folder), other)}-eng")  # fmt: skip


def training_records(meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the aligned-corpus records ({"corpus", "heldout_prefixes"}) of every training that went into a
    model, from its xling.json `meta`: its own (`config.data` of `xling mt train`) and those of the models it
    was fine-tuned from (`base_data`: a list, one dict in folders written before the chain was kept)."""
    training = meta.get("config")
    own = training.get("data") if isinstance(training, dict) else None
    inherited = meta.get("base_data")
    return [{"corpus": data["corpus"], "heldout_prefixes": data.get("heldout_prefixes") or []}
            for data in [own, *(inherited if isinstance(inherited, list) else [inherited])]
            if isinstance(data, dict) and data.get("corpus")]  # fmt: skip
