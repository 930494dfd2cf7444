"""Benchmark: language identification. xling's detector, py3langid, lingua (low and high accuracy modes),
pycld2 and gcld3 (where they are installed) on the same sentences, side by side.

Sets (each language's sentences sampled with a fixed seed, at most --limit a language):
  tatoeba  the non-English side of every Tatoeba pair (short, everyday sentences); --tatoeba takes any folder
           in that layout (tatoeba.<xx>-eng.<xx>; the run exits when the folder holds no such file)
  ntrex    NTREX-128 news references (newstest2019-ref.<code>.txt.gz; one file per language and script, the
           region variants of a language already there left out)
  umsab    UMSAB tweets (<language name>/test_text.txt); languages with no test split (Italian and
           Portuguese have only val_text.txt, and that val set chose the shipped detector's prior_weight in
           benchmarks/langid_prior.py) are not scored: the report lists them under "skipped_languages"
  ud       Universal Dependencies test sentences (the `# text = ` lines of <code>_*-ud-test.conllu.gz)
The headline set is tatoeba, unless --sets names others without it (then the first one named); a run whose
headline set has no sentences exits with an error rather than headlining another set. --langs keeps the
languages that a requested code names in the scoring's sense below ("zh" keeps Tatoeba's "cmn", "no" its
"nob"); a requested code that names no language of any set is an error. xling's detector (--model) must load.

Scoring: a prediction is right when it names the gold language: the same ISO 639-3 code, a member of a gold
macrolanguage ("arb" for Tatoeba's "ara"), or a macrolanguage whose usual meaning is the gold language ("zho"
for "cmn", "msa" for "zsm", but not "msa" for "ind" nor "zho" for "yue": an answer that cannot tell the
members apart gets no credit for the ones it does not mean; xling.langid.labels.DEFAULT_MEMBER); "fil" is
"tgl"; "und" is always wrong. Every contender's output code is mapped to ISO 639-3 (unknown codes count as
wrong). A contender supports a language when one of its output languages is that language in this sense.
  macro        mean per-language accuracy over the languages every contender in the run supports (headline)
  macro_own    ... over the languages the contender itself supports
  macro_all    ... over every language of the set (unsupported ones score what they score, mostly 0)
  macro_covered  xling's macro over the languages its detector covers (ident.languages): its macro_own
Accuracy by length counts words by whitespace; in scripts written without spaces (Han, kana, Thai, Lao,
Khmer, Burmese, Tibetan) two characters count as one word. It pools the sentences of the headline set's common languages.

Speed: every contender labels the same --speed-sentences sentences (drawn from all sets), after its
accuracy pass (so lazily loaded models are in), in 3 rounds that rotate the contenders' order; sentences/s is
the median round, and a speed ratio the median of the rounds' ratios (until 2026-12-07 the ratio of the
medians). With --threads 1 (the default) every contender runs on one thread: xling's batch
`predict` (numpy with one BLAS thread), lingua's single-text `detect_language_of`, py3langid's and pycld2's
single-text calls (neither has a batch API). Peak memory: a fresh subprocess per contender imports it, loads
it and labels the speed sentences once; the figure is its peak RSS (VmHWM; ru_maxrss where there is no
/proc, which Linux carries over from the parent across exec) less the peak of the bare interpreter, taken
before anything imports xling's code tables (numpy, pycountry): every contender's figure includes them, as
each maps its output codes through them. Model size: the files the model ships as (py3langid's model file, lingua's and pycld2's extension
modules, which hold their compiled-in models, xling's `size_bytes`).

    nice -n 10 .venv/bin/python benchmarks/langid.py --json runs/bench/langid.json
    .venv/bin/python benchmarks/langid.py --tatoeba DIR --langs deu,fra,spa --json out.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench_common import log, print_wide, round_order, write_json
from langid_contenders import CONTENDERS, UND, Contender, Unavailable, to_iso3

REPO = Path(__file__).resolve().parents[1]
SETS = ("tatoeba", "ntrex", "umsab", "ud")
DEFAULT_CONTENDERS = ("xling", "py3langid", "lingua-low", "lingua-high", "pycld2", "gcld3")
PACKAGES = {"py3langid": "py3langid", "lingua-low": "lingua-language-detector",
            "lingua-high": "lingua-language-detector", "pycld2": "pycld2", "gcld3": "gcld3", "xling": "xling"}  # fmt: skip
# Groups of languages that identifiers are known to mix up; every ordered pair within a group is reported
WATCHED = (("nob", "dan", "swe"), ("hrv", "srp", "bos"), ("ind", "zsm"), ("spa", "glg", "por"),
           ("cmn", "yue", "lzh"), ("hin", "urd"))  # fmt: skip
BUCKETS = ("1-3", "4-10", "11+")
ROUNDS = 3
TOP_CONFUSIONS = 10
# NTREX names these two by region; their scripts differ, so neither is a mere regional variant of the other
NTREX_SCRIPTS = {"zho-CN": "Hans", "zho-TW": "Hant"}
# Scripts written without spaces between words, and how many of their characters make a word: Han and kana
# 2 (the UDHR: 1.53 Chinese and 2.15 Japanese characters per word of the English text); Thai, Lao, Tibetan,
# Burmese and Khmer 4 letters, their vowel and tone marks not counted (the UDHR: 4.07, 4.45, 3.68, 3.69 and
# 3.54 letters per English word; counting their marks as characters, two a word, put most Thai sentences
# in the 11+ bucket)
HAN_KANA = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
HAN_KANA_PER_WORD = 2
ABUGIDA_LETTERS = re.compile(r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff]")
ABUGIDA_LETTERS_PER_WORD = 4


def default_data() -> Path:
    """Return $XLING_DATA, or ../shared/data beside the repository."""
    return Path(os.environ.get("XLING_DATA", REPO.parent / "shared" / "data"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="xling-langid", help="xling detector: a folder or a shipped name")
    parser.add_argument(
        "--data", type=Path, default=None, help="data root (default $XLING_DATA or ../shared/data)"
    )
    parser.add_argument(
        "--tatoeba", type=Path, default=None, help="Tatoeba-layout folder (default DATA/tatoeba)"
    )
    parser.add_argument(
        "--sets", default=None, help=f"comma-separated, of {','.join(SETS)} (default: all present)"
    )
    parser.add_argument("--langs", default=None, help="comma-separated languages to keep (default: all)")
    parser.add_argument("--limit", type=int, default=200, help="sentences per language and set (0: all)")
    parser.add_argument("--contenders", default=None, help=f"comma-separated (default {','.join(DEFAULT_CONTENDERS)}, "
                        "those that cannot run here skipped)")  # fmt: skip
    parser.add_argument("--threads", type=int, default=1, help="threads of every contender")
    parser.add_argument("--speed-sentences", type=int, default=2000, help="sentences of the timed passes")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--_probe", default=None, help=argparse.SUPPRESS)  # memory subprocess: contender name
    parser.add_argument("--_texts", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def set_threads(threads: int) -> None:
    """Limit the BLAS/OpenMP/rayon pools of every library loaded after this call to `threads`."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[variable] = str(threads)


# --- data -------------------------------------------------------------------------------------------------


@dataclass
class Language:
    """One language of one set: its display key (the corpus's code), gold ISO 639-3 code and sentences."""

    key: str
    gold: str
    sentences: list[str]


def gold_code(code: str) -> str:
    """Return the ISO 639-3 code of a corpus code ("srp-Cyrl" -> "srp"); the code itself when unknown
    (Tatoeba's "ber", a collective code, has no ISO 639-3 entry: no contender will support it). A
    macrolanguage is the member it stands for in these corpora (NTREX's `msa` is Malay, `fas` Persian,
    `zho-CN` Mandarin; Tatoeba's `ara` is Standard Arabic, `kur` Kurmanji), so that a sibling (Indonesian,
    Dari, Cantonese) is no right answer."""
    from xling.data.languages import default_member

    iso3 = to_iso3(code)
    return default_member(iso3 if iso3 != UND else code.split("-")[0].lower())


def read_lines(path: Path) -> list[str]:
    """Return the non-empty stripped lines of a text file, gzip or not; a line that is not UTF-8 is a
    DataError naming the file and line (a user's own folder in the Tatoeba layout may hold one), and so is a
    file without a line."""
    from xling.data.readers import decoded_lines, line_text

    texts = (line_text(line, path).strip() for line in decoded_lines(path, None, allow_blank=True))
    return [text for text in texts if text]


def tatoeba_files(folder: Path) -> list[tuple[str, Path]]:
    """Return (xx, path) of every tatoeba.<xx>-eng.<xx> file in `folder` (xx not English)."""
    out = []
    for path in sorted(folder.glob("tatoeba.*-eng.*")):
        code = path.name.split(".")[1].split("-")[0]
        if path.name == f"tatoeba.{code}-eng.{code}" and code != "eng":
            out.append((code, path))
    return out


def tatoeba_languages(folder: Path) -> list[Language]:
    """Return the xx side of every tatoeba.<xx>-eng.<xx> file in `folder`."""
    return [Language(code, gold_code(code), read_lines(path)) for code, path in tatoeba_files(folder)]


def ntrex_languages(folder: Path) -> list[Language]:
    """Return one NTREX reference per language and script (the plain code first, e.g. spa before spa-MX)."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    paths = sorted(
        folder.glob("newstest2019-ref.*.txt.gz"), key=lambda p: ("-" in p.name.split(".")[1], p.name)
    )
    for path in paths:
        code = path.name.split(".")[1]
        identity = (gold_code(code), gold_script(code))
        if identity not in seen:
            seen.add(identity)
            out.append(Language(code, identity[0], read_lines(path)))
    return out


def gold_script(code: str) -> str | None:
    """Return the ISO 15924 script a corpus code names (`srp-Cyrl` -> Cyrl; NTREX's `zho-TW` -> Hant), or
    None."""
    return NTREX_SCRIPTS.get(code) or next((tag for tag in code.split("-")[1:] if len(tag) == 4), None)


def script_accuracy(
    labels: dict[str, dict[str, list[str]]], sets: dict[str, list[Language]]
) -> dict[str, Any]:
    """Return, per set and language whose corpus code names a script, how often xling's label (`labels`:
    set -> corpus code -> its answers, such as `srp_Latn`, from the accuracy pass) has that script among the
    sentences whose language it got right: {set: {code: {"right_language": n, "right_script": m,
    "accuracy": m / n}}}. A language the detector knows in one script only (its label has none: `sna`) is
    left out. The other contenders answer with languages only, so the language figures cannot tell scripts
    apart."""
    out: dict[str, Any] = {}
    for name, languages in sets.items():
        for language in languages:
            script = gold_script(language.key)
            if script is None or not language.sentences:
                continue
            right = [label for label in labels[name][language.key]
                     if matches(label.split("_", 1)[0], language.gold)]  # fmt: skip
            if right and not any("_" in label for label in right):
                continue  # one script known: nothing to tell apart
            in_script = sum(label.endswith(f"_{script}") for label in right)
            out.setdefault(name, {})[language.key] = {
                "right_language": len(right), "right_script": in_script,
                "accuracy": round(in_script / len(right), 4) if right else None,
            }  # fmt: skip
    return out


def umsab_languages(folder: Path) -> list[Language]:
    """Return each UMSAB language's test tweets that are scored (see `umsab_sets`)."""
    return umsab_sets(folder)[0]


def umsab_sets(folder: Path) -> tuple[list[Language], dict[str, str]]:
    """Return (each UMSAB language's test tweets, code -> why not scored for the others), from one read: left
    out are languages without a test split (their val split is no test set, and it chose the shipped
    detector's prior_weight), and those whose tweets are mostly written in another script than the
    language's own."""
    from xling.data.languages import language_code_of

    scored, skipped = [], {}
    for language_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = language_dir / "test_text.txt"
        code = language_code_of(language_dir.name)
        if code is None:
            continue
        if not path.is_file():
            splits = sorted(p.name for p in language_dir.glob("*_text.txt"))
            skipped[code] = (f"no test split ({', '.join(splits) or 'no text file'}); a val split is not scored as "
                             "test (UMSAB's val set chose the detector's prior_weight, benchmarks/langid_prior.py)")  # fmt: skip
            continue
        language = Language(code, code, read_lines(path))
        if why := _written_otherwise(language):
            skipped[code] = why
        else:
            scored.append(language)
    return scored, skipped


def _written_otherwise(language: Language) -> str | None:
    """Return why a language's texts are not scored as it: most of their letters are in another script than
    its usual one (UMSAB's Hindi tweets are romanised, which no contender has a label for: each scored 0 on
    them, and they lowered every UMSAB macro by a sixth); None when they are in its script."""
    from xling.adaptation.data import written_scripts
    from xling.langid.scripts import dominant_script

    usual = written_scripts(language.gold)
    found = dominant_script(language.sentences)
    if not usual or found is None or found in usual:
        return None
    return (
        f"its test tweets are mostly written in {found}, not {'/'.join(sorted(usual))}: no contender "
        f"labels {language.gold}-{found}"
    )


def ud_languages(folder: Path) -> list[Language]:
    """Return the `# text = ` sentences of every UD test file, the treebanks of one language pooled."""
    pooled: dict[str, list[str]] = defaultdict(list)
    from xling.data.conllu import UD_FILE_NAME, ud_name_language

    for path in sorted(folder.glob("*/*-ud-test.conllu.gz")):
        if not (match := UD_FILE_NAME.match(path.name)):
            continue
        code = gold_code(ud_name_language(match))
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            pooled[code] += [
                line[len("# text = ") :].strip() for line in handle if line.startswith("# text = ")
            ]
    return [Language(code, code, sentences) for code, sentences in sorted(pooled.items())]


READERS: dict[str, tuple[str, Callable[[Path], list[Language]]]] = {
    "tatoeba": ("tatoeba", tatoeba_languages),
    "ntrex": ("ntrex", ntrex_languages),
    "umsab": ("sentiment/umsab", umsab_languages),
    "ud": ("ud", ud_languages),
}


def set_folders(args: argparse.Namespace) -> dict[str, Path]:
    """Return the folder of every set to run (all present ones by default), the headline set first; exit when a
    named one is absent, when --tatoeba holds no tatoeba.<xx>-eng.<xx> file, and when a default run finds no
    Tatoeba folder (the headline set is never swapped for another without being asked)."""
    data = args.data or default_data()
    folders = {name: data / sub for name, (sub, _) in READERS.items()}
    if args.tatoeba is not None:
        if not args.tatoeba.is_dir():
            sys.exit(f"--tatoeba: no folder {args.tatoeba}")
        if not tatoeba_files(args.tatoeba):
            sys.exit(f"--tatoeba: no tatoeba.<xx>-eng.<xx> file in {args.tatoeba}")
        folders["tatoeba"] = args.tatoeba
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in READERS]
        if unknown:
            sys.exit(f"--sets: unknown set {', '.join(unknown)} (known: {', '.join(SETS)})")
        missing = [f"{s} ({folders[s]})" for s in wanted if not folders[s].is_dir()]
        if missing:
            sys.exit(f"--sets: no folder for {', '.join(missing)}")
        if args.tatoeba is not None and "tatoeba" not in wanted:
            sys.exit("--tatoeba was given but --sets leaves tatoeba out")
        headline = "tatoeba" if "tatoeba" in wanted else wanted[0]
        return {s: folders[s] for s in [headline, *(s for s in wanted if s != headline)]}
    if not folders["tatoeba"].is_dir():
        sys.exit(f"no Tatoeba folder at {folders['tatoeba']}, the headline set: pass --data or --tatoeba, or name "
                 "the sets with --sets (the first named is then the headline)")  # fmt: skip
    return {s: folders[s] for s in SETS if folders[s].is_dir()}


def names_language(requested: str, language: Language) -> bool:
    """Return whether a --langs code names `language`: its corpus key, or its gold language in the scoring's
    (macrolanguage aware) sense, e.g. "zh" names Tatoeba's "cmn" and "no" its "nob"."""
    return requested in (language.key, language.key.lower()) or matches(gold_code(requested), language.gold)


def load_sets(args: argparse.Namespace) -> tuple[dict[str, list[Language]], dict[str, dict[str, str]]]:
    """Return the languages of every set (the headline set first), filtered by --langs and sampled down to
    --limit sentences each, and per set the languages left out and why (UMSAB's without a test split). Exit
    when the headline set has no sentences or a --langs code names no language."""
    wanted = [code.strip() for code in args.langs.split(",") if code.strip()] if args.langs else None
    named: set[str] = set()
    sets, skipped = {}, {}
    folders = set_folders(args)
    headline = next(iter(folders))
    for name, folder in folders.items():
        languages = []
        if name == "umsab":
            read, skipped[name] = umsab_sets(folder)
            for code, why in skipped[name].items():
                log(f"umsab: {code} not scored: {why}")
        else:
            read = READERS[name][1](folder)
        for language in read:
            if wanted is not None:
                hits = [code for code in wanted if names_language(code, language)]
                named.update(hits)
                if not hits:
                    continue
            if args.limit and len(language.sentences) > args.limit:
                # str seeds hash with sha512: the same sample in every run and every Python
                rng = random.Random(f"{args.seed}/{name}/{language.key}")
                language.sentences = rng.sample(language.sentences, args.limit)
            languages.append(language)
        why = f"no language in {folder}" if not read else "no language left after --langs"
        if not languages and name == headline:
            sys.exit(f"{name}, the headline set: {why}")
        if languages:
            sets[name] = languages
            log(f"{name}: {len(languages)} languages, {sum(len(x.sentences) for x in languages):,} sentences")
        else:
            log(f"{name}: {why}, skipped")
    if wanted is not None and set(wanted) - named:
        unmatched = ", ".join(code for code in wanted if code not in named)
        sys.exit(f"--langs: {unmatched} names no language of the sets run ({', '.join(folders)})")
    log(f"headline set: {headline}")
    return sets, skipped


def word_count(text: str) -> int:
    """Return the words of `text`: whitespace tokens, a token of a script written without spaces counting as
    its characters over HAN_KANA_PER_WORD or its letters over ABUGIDA_LETTERS_PER_WORD (at least one)."""
    words = 0
    for token in text.split():
        han = len(HAN_KANA.findall(token))
        letters = sum(
            1 for char in ABUGIDA_LETTERS.findall(token) if unicodedata.category(char).startswith("L")
        )
        unspaced = han / HAN_KANA_PER_WORD + letters / ABUGIDA_LETTERS_PER_WORD
        words += max(1, math.ceil(unspaced)) if unspaced else 1
    return words


def bucket(text: str) -> str:
    """Return the length bucket of `text` (one of BUCKETS)."""
    words = word_count(text)
    return BUCKETS[0] if words <= 3 else BUCKETS[1] if words <= 10 else BUCKETS[2]


# --- scoring ----------------------------------------------------------------------------------------------


ALIASES = {"fil": "tgl"}  # Filipino is standardised Tagalog: detectors and Tatoeba name it either way


def matches(predicted: str, gold: str) -> bool:
    """Return whether a predicted ISO 639-3 code names the gold language (macrolanguage aware); "und" never
    does, and a gold code outside ISO 639-3 only matches itself."""
    from xling.data.languages import MACROLANGUAGES, normalize_language
    from xling.errors import LanguageCodeError
    from xling.langid.labels import DEFAULT_MEMBER

    if predicted == UND:
        return False
    try:
        predicted, gold = (
            ALIASES.get(code, code) for code in (normalize_language(predicted), normalize_language(gold))
        )
    except LanguageCodeError:
        return predicted == gold
    # the members data sets disagree on (MACROLANGUAGES), not SIL's whole table: Minangkabau or Banjar is no
    # right answer for Malay, nor Cantonese for Chinese
    if predicted == gold or predicted in MACROLANGUAGES.get(gold, ()):
        return True
    # A macrolanguage answer names the language it usually means ("zho" is Mandarin, "msa" Standard Malay),
    # not every member: "msa" for Indonesian, or "zho" for Cantonese, would pass without telling them apart.
    return DEFAULT_MEMBER.get(predicted) == gold


def supports(languages: frozenset[str], gold: str) -> bool:
    """Return whether an identifier naming `languages` can name `gold` (macrolanguage aware)."""
    return gold in languages or any(matches(code, gold) for code in languages)


def mean(values: Sequence[float]) -> float | None:
    """Return the mean of `values` rounded to 4 places, None when there are none."""
    return round(statistics.fmean(values), 4) if values else None


@dataclass
class SetScores:
    """One set's figures for every contender."""

    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    supported: dict[str, list[str]] = field(default_factory=dict)
    common: list[str] = field(default_factory=list)
    macro: dict[str, float | None] = field(default_factory=dict)
    macro_own: dict[str, float | None] = field(default_factory=dict)
    macro_all: dict[str, float | None] = field(default_factory=dict)
    by_length: dict[str, dict[str, float | None]] = field(default_factory=dict)
    length_counts: dict[str, int] = field(default_factory=dict)
    confusions: dict[str, list[list[Any]]] = field(default_factory=dict)
    watched: dict[str, dict[str, float]] = field(default_factory=dict)
    sentences: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def score_set(
    languages: list[Language],
    predictions: dict[str, dict[str, list[str]]],
    support: dict[str, frozenset[str]],
) -> SetScores:
    """Return one set's scores; `predictions[contender][key]` holds a code per sentence of that language."""
    scores = SetScores(sentences={x.key: len(x.sentences) for x in languages})
    names = list(predictions)
    supported = {c: [x.key for x in languages if supports(support[c], x.gold)] for c in names}
    scores.supported = supported
    scores.common = [x.key for x in languages if all(x.key in supported[c] for c in names)]
    common = set(scores.common)
    scores.length_counts = dict.fromkeys(BUCKETS, 0)
    for language in languages:
        if language.key in common:
            for text in language.sentences:
                scores.length_counts[bucket(text)] += 1
    for contender in names:
        right_by_key: dict[str, list[bool]] = {}
        by_length: dict[str, list[bool]] = {b: [] for b in BUCKETS}
        confused: Counter[tuple[str, str]] = Counter()
        for language in languages:
            codes = predictions[contender][language.key]
            right = [matches(code, language.gold) for code in codes]
            right_by_key[language.key] = right
            if language.key in common:
                for text, ok in zip(language.sentences, right, strict=True):
                    by_length[bucket(text)].append(ok)
            if language.key in supported[contender]:
                confused.update(
                    (language.gold, code) for code, ok in zip(codes, right, strict=True) if not ok
                )
        accuracy = {key: round(sum(r) / len(r), 4) for key, r in right_by_key.items()}
        scores.accuracy[contender] = accuracy
        scores.macro[contender] = mean([accuracy[k] for k in scores.common])
        scores.macro_own[contender] = mean([accuracy[k] for k in supported[contender]])
        scores.macro_all[contender] = mean(list(accuracy.values()))
        scores.by_length[contender] = {b: mean([float(x) for x in v]) for b, v in by_length.items()}
        totals = Counter({x.gold: 0 for x in languages})
        for language in languages:
            totals[language.gold] += len(language.sentences)
        scores.confusions[contender] = [
            [gold, predicted, n, round(n / totals[gold], 4)] for (gold, predicted), n in confused.most_common(TOP_CONFUSIONS)
        ]  # fmt: skip
        scores.watched[contender] = watched_rates(languages, predictions[contender])
    return scores


def watched_rates(languages: list[Language], predicted: dict[str, list[str]]) -> dict[str, float]:
    """Return, for every ordered pair "a->b" of a WATCHED group whose `a` is in the set, the share of a's
    sentences labelled b."""
    codes_of: dict[str, list[str]] = defaultdict(list)
    for language in languages:
        codes_of[language.gold] += predicted[language.key]
    rates = {}
    for group in WATCHED:
        for gold in group:
            if gold in codes_of:
                for other in group:
                    if other != gold:
                        codes = codes_of[gold]
                        # `nor` names Bokmål as `nob` does: a contender answering macrolanguages counts too
                        rates[f"{gold}->{other}"] = round(
                            sum(matches(c, other) for c in codes) / len(codes), 4
                        )
    return rates


# --- contenders -------------------------------------------------------------------------------------------


def chosen_contenders(args: argparse.Namespace) -> tuple[list[str], bool]:
    """Return the contender names to run and whether the user named them (then failing to load is an error)."""
    if not args.contenders:
        return list(DEFAULT_CONTENDERS), False
    names = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = [c for c in names if c not in CONTENDERS]
    if unknown:
        sys.exit(f"--contenders: unknown {', '.join(unknown)} (known: {', '.join(CONTENDERS)})")
    return names, True


def load_contenders(
    args: argparse.Namespace,
) -> tuple[dict[str, Contender], dict[str, str], dict[str, float]]:
    """Return the loaded contenders, the reasons of those skipped, and each one's load seconds."""
    names, named = chosen_contenders(args)
    loaded, skipped, load_s = {}, {}, {}
    for name in names:
        contender = CONTENDERS[name](args.model, args.threads)
        started = time.perf_counter()
        try:
            contender.load()
        except Unavailable as error:
            if named or name == "xling":  # xling's detector is what the run measures: it must load
                sys.exit(f"{name}: {error}")
            skipped[name] = str(error)
            log(f"{name}: skipped ({error})")
            continue
        load_s[name] = round(time.perf_counter() - started, 3)
        loaded[name] = contender
    if not loaded:
        sys.exit("no contender could run")
    return loaded, skipped, load_s


def timed_raw(contender: Contender, texts: list[str]) -> tuple[list[Any], float]:
    """Return a contender's own answers to `texts` (`predict_raw`) and the seconds of that call alone."""
    started = time.perf_counter()
    raw = contender.predict_raw(texts)
    return raw, time.perf_counter() - started


def grouped_by_language(
    flat: list[tuple[str, str, str]], answers: list[Any]
) -> dict[str, dict[str, list[Any]]]:
    """Return the answers to the (set, corpus code, text) rows of `flat` as {set: {corpus code: answers}}."""
    by_set: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for (s, key, _), answer in zip(flat, answers, strict=True):
        by_set[s][key].append(answer)
    return by_set


def label_texts(contender: Contender, texts: list[str]) -> tuple[list[Any], list[str], float]:
    """Return a contender's own answers to `texts`, their ISO 639-3 codes and the seconds of its own call: the
    clock stops before its answers are mapped to codes (`to_codes`), a step of this harness, not of the
    identifier."""
    raw, seconds = timed_raw(contender, texts)
    return raw, contender.to_codes(raw), seconds


def timed_rounds(contenders: dict[str, Contender], texts: list[str]) -> dict[str, list[float]]:
    """Return each contender's sentences/s in ROUNDS passes over `texts`, the order rotating every round (its
    own call timed: `timed_raw`; its answers are not mapped to codes here)."""
    names = tuple(contenders)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(ROUNDS):
        for name in round_order(names, r):
            _, seconds = timed_raw(contenders[name], texts)
            speeds[name].append(len(texts) / seconds)
            log(
                f"round {r + 1}/{ROUNDS} {name:12s} {len(texts) / seconds:11,.0f} sentences/s ({seconds:.2f} s)"
            )
    return speeds


def peak_rss_kib() -> int:
    """Return this process's peak resident set size in KiB."""
    # Linux keeps ru_maxrss across exec, so a child started by a big parent reports the parent's peak;
    # VmHWM belongs to the process image and starts afresh
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def probe(name: str, model: str, threads: int, texts_file: Path) -> dict[str, float]:
    """Return (in the memory subprocess) the peak RSS that importing, loading and running `name` adds."""
    # the baseline comes before anything imports xling's code tables (numpy, pycountry): each contender maps
    # its output through them, so they are part of every contender's figure rather than dropped from it
    before = peak_rss_kib()
    texts = json.loads(texts_file.read_text(encoding="utf-8"))
    contender = CONTENDERS[name](model, threads)
    started = time.perf_counter()
    contender.load()
    loaded = time.perf_counter() - started
    contender.predict(texts)
    to_iso3("en")  # the code tables, for a contender whose predict never mapped a code (lingua's names)
    peak = peak_rss_kib()
    return {"peak_mb": round((peak - before) / 1024, 1), "load_s": round(loaded, 3)}


def measure_memory(
    names: list[str], args: argparse.Namespace, texts: list[str]
) -> dict[str, dict[str, float]]:
    """Return each contender's memory probe, each run in a fresh interpreter."""
    out = {}
    with tempfile.TemporaryDirectory(prefix="langid-bench-") as tmp:
        texts_file = Path(tmp) / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        for name in names:
            command = [sys.executable, str(Path(__file__).resolve()), "--_probe", name, "--_texts", str(texts_file),
                       "--model", args.model, "--threads", str(args.threads)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
            if done.returncode != 0:
                log(f"{name}: memory probe failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            out[name] = json.loads(done.stdout.strip().splitlines()[-1])
            log(
                f"{name}: peak memory {out[name]['peak_mb']:,.1f} MB (load {out[name]['load_s']:.2f} s, fresh process)"
            )
    return out


def package_version(name: str) -> str | None:
    """Return the installed version of a contender's package, None when it has none."""
    try:
        return version(PACKAGES[name])
    except PackageNotFoundError:
        return None


# --- run --------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Return the report of a full run (accuracy on every set, speed, memory, size)."""
    sets, skipped_languages = load_sets(args)
    contenders, skipped, load_s = load_contenders(args)
    names = list(contenders)
    support = {name: contender.languages() for name, contender in contenders.items()}

    flat = [
        (s, language.key, text)
        for s, languages in sets.items()
        for language in languages
        for text in language.sentences
    ]
    texts = [text for _, _, text in flat]
    predictions: dict[str, dict[str, dict[str, list[str]]]] = {}
    xling_labels: dict[str, dict[str, list[str]]] = {}  # xling's answers with their scripts (srp_Latn)
    accuracy_pass_s = {}
    for name, contender in contenders.items():
        raw, codes, seconds = label_texts(contender, texts)
        accuracy_pass_s[name] = round(seconds, 2)
        log(f"{name}: labelled {len(texts):,} sentences in {accuracy_pass_s[name]:.1f} s")
        predictions[name] = grouped_by_language(flat, codes)
        if name == "xling":
            xling_labels = grouped_by_language(flat, raw)

    scores = {
        s: score_set(languages, {n: predictions[n][s] for n in names}, support)
        for s, languages in sets.items()
    }
    headline = next(iter(sets))  # load_sets puts it first and exits when it has no sentences

    speed_texts = random.Random(args.seed).sample(texts, min(args.speed_sentences, len(texts)))
    speeds = timed_rounds(contenders, speed_texts)
    per_s = {name: round(statistics.median(v), 1) for name, v in speeds.items()}
    memory = {} if args.no_memory else measure_memory(names, args, speed_texts)

    top = scores[headline]
    report: dict[str, Any] = {
        "accuracy": top.accuracy,
        "macro": top.macro,
        "sentences_per_s": per_s,
        "headline_set": headline,
        "common_languages": top.common,
        "macro_own": top.macro_own,
        "macro_all": top.macro_all,
        "macro_covered": {"xling": top.macro_own["xling"]} if "xling" in names else {},
        # the median of the rounds' ratios (each over one round's py3langid), not a ratio of medians
        "speed_ratio_vs_py3langid": {
            n: round(statistics.median(a / b for a, b in zip(v, speeds["py3langid"], strict=True)), 3)
            for n, v in speeds.items()
        }
        if "py3langid" in speeds
        else {},  # fmt: skip
        "speed_rounds": {n: [round(x, 1) for x in v] for n, v in speeds.items()},
        "model_size_bytes": {name: contender.size_bytes() for name, contender in contenders.items()},
        "peak_memory_mb": {n: m["peak_mb"] for n, m in memory.items()},
        "load_s": {n: m["load_s"] for n, m in memory.items()} or load_s,
        "accuracy_pass_s": accuracy_pass_s,
        "sets": {s: sc.to_dict() for s, sc in scores.items()},
        "script_accuracy": script_accuracy(xling_labels, sets) if xling_labels else {},
        "skipped": skipped,
        "skipped_languages": skipped_languages,
        "how": {name: contender.how for name, contender in contenders.items()},
        "languages_supported": {name: len(langs) for name, langs in support.items()},
        "settings": {
            "sets": {s: len(languages) for s, languages in sets.items()},
            "limit": args.limit,
            "seed": args.seed,
            "threads": args.threads,
            "speed_sentences": len(speed_texts),
            "rounds": ROUNDS,
            "model": args.model,
            "versions": {name: package_version(name) for name in names},
        },  # fmt: skip
    }
    return report


def pct(value: float | None) -> str:
    """Return an accuracy as a percentage with one decimal, "-" for none."""
    return "-" if value is None else f"{100 * value:.1f}"


def print_report(report: dict[str, Any]) -> None:
    """Print the run's tables (per set macro, speed and size, per language, by length, confusions)."""
    from rich.table import Table

    names = list(report["sentences_per_s"])
    sets = report["sets"]
    summary = Table(title="language identification: macro accuracy % (common: over the languages every contender "
                    "supports; own: over the contender's (how many); all: over every language of the set)")  # fmt: skip
    summary.add_column("set")
    for name in names:
        summary.add_column(name, justify="right")
    for s, sc in sets.items():
        summary.add_row(f"{s} common ({len(sc['common'])})", *(pct(sc["macro"][n]) for n in names))
        summary.add_row(
            f"{s} own", *(f"{pct(sc['macro_own'][n])} ({len(sc['supported'][n])})" for n in names)
        )
        summary.add_row(f"{s} all ({len(sc['sentences'])})", *(pct(sc["macro_all"][n]) for n in names),
                        end_section=True)  # fmt: skip
    print_wide(summary, 30 + 14 * len(names))

    speed = Table(title=f"speed ({report['settings']['speed_sentences']:,} sentences, median of {ROUNDS} rounds, "
                  f"{report['settings']['threads']} thread(s)), size and memory")  # fmt: skip
    for column in ("contender", "sentences/s", "x py3langid", "model MB", "peak MB", "load s", "languages"):
        speed.add_column(column, justify="left" if column == "contender" else "right")
    ratios = report["speed_ratio_vs_py3langid"]
    for name in names:
        memory = report["peak_memory_mb"].get(name)
        load = report["load_s"].get(name)
        speed.add_row(name, f"{report['sentences_per_s'][name]:,.0f}", f"{ratios[name]:.2f}" if name in ratios else "-",
                      f"{report['model_size_bytes'][name] / 2**20:,.1f}", "-" if memory is None else f"{memory:,.0f}",
                      "-" if load is None else f"{load:.2f}", str(report["languages_supported"][name]))  # fmt: skip
    print_wide(speed, 110)

    for s, sc in sets.items():
        table = Table(title=f"{s}: accuracy % per language (blank: not supported; * : in the common set)")
        table.add_column("language")
        table.add_column("n", justify="right")
        for name in names:
            table.add_column(name, justify="right")
        common = set(sc["common"])
        for key, n in sc["sentences"].items():
            cells = [pct(sc["accuracy"][name][key]) if key in sc["supported"][name] else "" for name in names]
            table.add_row(key + (" *" if key in common else ""), str(n), *cells)
        print_wide(table, 30 + 13 * len(names))

    top = sets[report["headline_set"]]
    lengths = Table(title=f"{report['headline_set']}: accuracy % by length (words), common languages")
    lengths.add_column("contender")
    for b in BUCKETS:
        lengths.add_column(f"{b} ({top['length_counts'][b]:,})", justify="right")
    for name in names:
        lengths.add_row(name, *(pct(top["by_length"][name][b]) for b in BUCKETS))
    print_wide(lengths, 80)

    for s, sc in sets.items():
        pairs = sorted({pair for name in names for pair in sc["watched"][name]})
        if not pairs:
            continue
        watched = Table(
            title=f"{s}: watched confusions, % of the first language's sentences labelled the second"
        )
        watched.add_column("gold->predicted")
        for name in names:
            watched.add_column(name, justify="right")
        for pair in pairs:
            watched.add_row(pair, *(pct(sc["watched"][name].get(pair)) for name in names))
        print_wide(watched, 30 + 13 * len(names))

    confusions = Table(
        title=f"{report['headline_set']}: most confused (gold -> predicted: sentences, % of gold)"
    )
    confusions.add_column("contender")
    confusions.add_column("top confusions")
    for name in names:
        confusions.add_row(
            name, ", ".join(f"{g}->{p} {n} ({100 * r:.0f}%)" for g, p, n, r in top["confusions"][name])
        )
    print_wide(confusions, 160)
    for s, languages in report.get("script_accuracy", {}).items():
        shown = ", ".join(f"{code} {pct(figures['accuracy'])} of {figures['right_language']}"
                          for code, figures in languages.items())  # fmt: skip
        print(f"{s}: xling's script where it names the language right: {shown}")
    for name, reason in report["skipped"].items():
        print(f"skipped {name}: {reason}")
    for s, languages in report["skipped_languages"].items():
        for code, reason in languages.items():
            print(f"{s}: {code} not scored: {reason}")
    for name, how in report["how"].items():
        print(f"{name}: {how}")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    set_threads(args.threads)  # before any contender imports numpy or lingua
    if args._probe:
        print(json.dumps(probe(args._probe, args.model, args.threads, args._texts)))
        return {}
    report = run(args)
    print_report(report)
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
