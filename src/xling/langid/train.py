"""`xling langid train`: a language identifier from any mix of corpora, with close languages and languages
with little text learned alike (per-language caps, up-sampling with fresh crops, short crops for short text)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import random
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import regex
import scipy.sparse as sp

from xling.atomic import check_apart, check_replaceable
from xling.data.languages import MACROLANGUAGES, SAME_WRITTEN_LANGUAGE
from xling.data.root import data_root
from xling.errors import ConfigError, DataError
from xling.langid.features import MAX_N, FeatureConfig, Featurizer
from xling.langid.han import han_script
from xling.langid.labels import DEFAULT_MEMBER, Label, parse_label
from xling.langid.model import KIND, LanguageIdentifier, _matching_labels
from xling.langid.normalize import normalize_text
from xling.langid.prior import log_prior
from xling.langid.scorers import FAMILIES, LinearScorer, NaiveBayesScorer
from xling.langid.scripts import dominant_script, dominant_scripts, letter_script
from xling.langid.sources import (
    Source,
    read_bible,
    read_bli,
    read_labelled_tsv,
    read_sample,
    read_swadesh,
    read_ud,
    read_udhr,
    read_umsab,
    read_wordfreq,
    transliterated,
)

__all__ = [
    "LangidDataConfig",
    "LangidTrainConfig",
    "LangidTrainResult",
    "assign_labels",
    "requested_labels",
    "train_identifier",
]

logger = logging.getLogger(__name__)

CORPORA = ("bible", "udhr", "umsab", "ud", "swadesh", "bli", "wordfreq", "sample")
_CORPUS_FOLDERS = {
    "bible": "bible",
    "udhr": "udhr",
    "umsab": "sentiment/umsab",
    "ud": "ud",
    "swadesh": "swadesh",
    "bli": "bli_xling_eval",
}
_READERS: dict[str, Callable[..., Iterable[Source]]] = {
    "bible": read_bible, "udhr": read_udhr, "umsab": read_umsab, "ud": read_ud, "swadesh": read_swadesh,
    "bli": read_bli,
}  # fmt: skip
# Word lists add short text to languages other corpora hold; alone, a few thousand words are too little.
_SUPPLEMENTS = ("swadesh", "bli", "wordfreq")
# A script under this share of a label's training examples is a stray line (a Latin-script title in a
# Cyrillic declaration), not a way the language is written: the label is not given to text in it.
MIN_SCRIPT_SHARE = 0.01
# Upper bounds of settings whose larger values only exhaust memory or time, said before the work: 10**11
# buckets tried to allocate 1 TiB; an infinite prior weight saved a detector that no longer loads (the
# detector's weights are float32); 10**11 examples a label never ended.
MAX_BUCKETS = 2**24
MAX_PRIOR_WEIGHT = 100.0
MAX_EXAMPLES_PER_LABEL = 1_000_000


@dataclass
class LangidDataConfig:
    """What the identifier learns from, and how much of it."""

    corpora: list[str] = field(default_factory=lambda: ["bible", "udhr", "umsab", "ud", "sample"])
    """Named corpora under the data root: bible, udhr, umsab (train split), ud (train and dev), swadesh (basic
    word lists, only for languages another source holds, in the same script), bli (the BLI dictionaries'
    train words: the most frequent words of de, en, fi, fr, hr, it, ru, tr; a supplement as swadesh), wordfreq
    (word sequences drawn from the `wordfreq` package's frequencies of about 40 languages, everyday words;
    a supplement as swadesh; needs `pip install 'xling[langid]'`), sample (the bundled sentences).
    Test splits are never read."""
    data: str = ""
    """Data root holding the named corpora ("": --data / $XLING_DATA / ../shared/data)."""
    tsv: list[str] = field(default_factory=list)
    """Extra `language<TAB>text` files (any code form: de, deu, sr-Latn)."""
    languages: list[str] = field(default_factory=list)
    """Learn only these languages (empty: every language the sources hold)."""
    transliterate: list[str] = field(default_factory=list)
    """`srp_Cyrl>srp_Latn`: also learn a language's text of one script written in the other (cyrtranslit,
    `pip install 'xling[langid]'`), for a language written in both whose text here is mostly in one."""
    max_units_per_label: int = 6000
    """Cap on training texts per label (after long lines are cut into chunks): keeps the Bible's 31k verses
    per language from drowning the UDHR's 200 lines."""
    supplement_share: float = 0.5
    """Most of a label's max_units_per_label that word-list texts (swadesh, bli, wordfreq) may take; lines of
    the other corpora fill the rest, so a label with a word list has no more examples than one without."""
    wordfreq_texts: int = 3000
    """Word sequences drawn per wordfreq language (before the supplement cap)."""
    wordfreq_exponent: float = 0.75
    """Words are drawn with probability frequency^exponent: 1 mimics running text (mostly the commonest
    words), lower values reach further into the vocabulary."""
    min_examples_per_label: int = 2400
    """Labels with fewer examples are up-sampled to this many with fresh random crops of their texts."""
    dev_fraction: float = 0.05
    """Share of each label's lines held out to measure accuracy (at most dev_max lines)."""
    dev_max: int = 300
    """Most dev lines per label."""
    chunk_words: int = 24
    """Long lines (UDHR paragraphs) are cut into chunks of at most this many words."""
    short_share: float = 0.5
    """Share of the training crops that are 1-3 words long (the others 4-10): short text is the hard case."""


@dataclass
class LangidTrainConfig:
    """`xling langid train`: data, features, model size and optimisation."""

    output: str = "runs/langid"
    """Folder the identifier is saved to (written atomically)."""
    overwrite: bool = False
    """Replace a detector already in `output` (only a detector: a folder of other files is refused)."""
    data: LangidDataConfig = field(default_factory=LangidDataConfig)
    # the model settings below are recipes/langid.toml's choices, measured on held-out data (its tables), so a
    # run without the recipe (`--corpus udhr --tsv mine.tsv`) gets the README's kind of model; the recipe's
    # data settings (corpora, per-label caps) are its own
    features: FeatureConfig = field(default_factory=lambda: FeatureConfig(buckets=2**17))
    """Hashed features (2^17 buckets, as recipes/langid.toml: half the size of 2^18, held-out figures within
    a tenth of a point)."""
    family: str = "naive_bayes"
    """Model family (xling.langid.scorers): "naive_bayes" (multinomial naive Bayes, trained by counting: alpha)
    or "linear" (fastText's classifier, trained by gradient descent: dim, epochs, batch_size, lr)."""
    dim: int = 64
    """linear: size of each feature's vector (the model is buckets x dim + dim x labels)."""
    epochs: int = 4
    """linear: passes over the training examples."""
    batch_size: int = 128
    """linear: examples per step."""
    lr: float = 0.01
    """linear: Adam learning rate, decayed linearly to zero."""
    alpha: float = 0.1
    """naive_bayes: additive smoothing of the feature counts (its temperature is then fitted on the held-out
    lines and their crops, without the prior)."""
    threshold: float = 0.0
    """Saved default: below this top probability, predict `und`."""
    prior_weight: float = 0.1
    """Weight of the speakers log-prior (`xling.langid.prior`) added to the logits at prediction, saved with
    the model (0: labels equally likely, as trained). Choose it on held-out data: a larger weight helps the
    big languages' short text and costs the small languages that resemble them (0.1: naive Bayes' best)."""
    seed: int = 0
    """Seed of sampling, crops and initialisation."""
    threads: int = 2
    """CPU threads for training."""

    def validate(self) -> None:
        """Raise ConfigError naming the first field out of its range."""
        d, f = self.data, self.features
        checks = [
            ("family", self.family in FAMILIES, f"one of {', '.join(FAMILIES)}"),
            ("alpha", math.isfinite(self.alpha) and self.alpha > 0, "a finite number above 0"), ("dim", self.dim >= 1, "at least 1"), ("epochs", self.epochs >= 1, "at least 1"),
            ("batch_size", self.batch_size >= 1, "at least 1"), ("lr", self.lr > 0, "above 0"),
            ("threshold", 0 <= self.threshold < 1, "in [0, 1)"), ("prior_weight", 0 <= self.prior_weight <= MAX_PRIOR_WEIGHT, f"0 or more and at most {MAX_PRIOR_WEIGHT:g}"),
            ("threads", self.threads >= 0, "0 or more"),
            ("data.max_units_per_label", d.max_units_per_label >= 1, "at least 1"),
            ("data.supplement_share", 0 <= d.supplement_share <= 1, "in [0, 1]"),
            ("data.wordfreq_texts", d.wordfreq_texts >= 1, "at least 1"),
            ("data.wordfreq_exponent", d.wordfreq_exponent > 0, "above 0"),
            ("data.min_examples_per_label", 0 <= d.min_examples_per_label <= MAX_EXAMPLES_PER_LABEL,
             f"0 or more and at most {MAX_EXAMPLES_PER_LABEL:,}"),
            ("data.dev_fraction", 0 <= d.dev_fraction < 1, "in [0, 1)"), ("data.dev_max", d.dev_max >= 0, "0 or more"),
            ("data.chunk_words", d.chunk_words >= 1, "at least 1"),
            ("data.short_share", 0 <= d.short_share <= 1, "in [0, 1]"),
            ("features.buckets", 1 <= f.buckets <= MAX_BUCKETS, f"at least 1 and at most {MAX_BUCKETS:,} (2**24)"),
            ("features.min_n", 1 <= f.min_n <= f.max_n, f"in [1, features.max_n = {f.max_n}]"),
            ("features.max_n", f.max_n <= MAX_N, f"at most {MAX_N}"),
        ]  # fmt: skip
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"{name}: must be {expected}")


@dataclass
class LangidTrainResult:
    """What a training run gives back."""

    identifier: LanguageIdentifier
    output: Path
    labels: int
    train_examples: int
    dev_accuracy: float
    """Macro accuracy over labels on held-out lines (whole chunks)."""
    dev_short_accuracy: float
    """Macro accuracy on 1-3 word crops of the held-out lines."""
    dev_medium_accuracy: float
    """Macro accuracy on 4-10 word crops of the held-out lines."""
    seconds: float
    per_label: dict[str, float] = field(default_factory=dict)
    not_measured: dict[str, int] = field(default_factory=dict)
    """Labels in no held-out figure (per_label, the macros), with their distinct lines: too few to hold out."""


# --- sources and labels ------------------------------------------------------------------------------


def collect_sources(config: LangidDataConfig) -> list[Source]:
    """Return every Source the config names; raises ConfigError for an unknown corpus, DataError for files."""
    unknown = sorted(set(config.corpora) - set(CORPORA))
    if unknown:
        raise ConfigError(f"data.corpora: unknown {', '.join(unknown)} (known: {', '.join(CORPORA)})")
    if not 0.0 <= config.supplement_share <= 1.0:
        raise ConfigError(f"data.supplement_share: {config.supplement_share} is not between 0 and 1")
    if config.wordfreq_texts < 1:
        raise ConfigError(f"data.wordfreq_texts: {config.wordfreq_texts} (at least 1)")
    languages = (
        frozenset(parse_label(code, where="data.languages").language for code in config.languages) or None
    )
    sources: list[Source] = []
    root = data_root(config.data or None)
    supplements: list[Source] = []
    for corpus in config.corpora:
        if corpus == "sample":
            sources.extend(read_sample(languages))
            continue
        if corpus == "wordfreq":
            supplements.extend(
                read_wordfreq(languages, config.wordfreq_texts, exponent=config.wordfreq_exponent)
            )
            continue
        folder = root.path / _CORPUS_FOLDERS[corpus]
        if not folder.is_dir():
            raise DataError(f"no {corpus} corpus here; {root.describe()} (drop it from data.corpora, or point "
                            "--data at the data folder)", folder)  # fmt: skip
        (supplements if corpus in _SUPPLEMENTS else sources).extend(_READERS[corpus](folder, languages))
    for path in config.tsv:
        sources.extend(read_labelled_tsv(path, languages))
    for spec in config.transliterate:
        sources.extend(transliterated(sources, spec))
    sources.extend(_supplementing(supplements, sources))
    if not sources:
        wanted = f" ({', '.join(sorted(languages))})" if languages else ""
        if any(corpus in _CORPUS_FOLDERS for corpus in config.corpora):
            raise DataError(f"no training text: the corpora and files hold none of data.languages{wanted}",
                            root.path)  # fmt: skip
        # no corpus folder was read: the data root would name a folder that played no part
        raise ConfigError(
            f"no training text: the files and corpora given hold none of data.languages{wanted}"
        )
    return sources


def _supplementing(supplements: Sequence[Source], sources: Sequence[Source]) -> list[Source]:
    """Return the supplements whose language and script some source already has (no label is born from a
    word list alone). A list under the code of a macrolanguage's usual member, or of the macrolanguage, where
    the other is present (the Swadesh lists' `lvs` and `ekk` beside the Bible's `lav` and `est`, left out
    before) takes the present code; a list of another member (`yue` beside `zho`, `nno` beside `nor`) is
    another language, left out."""
    scripts: dict[str, set[str | None]] = defaultdict(set)
    for source in sources:
        scripts[source.label.language].add(dominant_script(source.texts[:200]))
    kept = []
    for supplement in supplements:
        script, own = dominant_script(supplement.texts), supplement.label.language
        matching = [language for language, found in scripts.items() if script in found and (
            language == own or DEFAULT_MEMBER.get(language) == own or DEFAULT_MEMBER.get(own) == language)]  # fmt: skip
        if own in matching:
            kept.append(replace(supplement, supplement=True))
        elif len(matching) == 1:
            kept.append(
                replace(supplement, label=replace(supplement.label, language=matching[0]), supplement=True)
            )
    return kept


def _closest_named(source: Source, rivals: Sequence[Source]) -> Source:
    """Return the named-script source whose own characters (those no other rival uses) `source` uses most:
    simplified and traditional Chinese share their most frequent characters, and differ in the rest."""
    alphabets = {id(rival): {char for text in rival.texts for char in text} for rival in rivals}
    counts = Counter(char for text in source.texts[:5000] for char in text)

    def distinctive_uses(rival: Source) -> int:
        others = set().union(*(alphabets[id(other)] for other in rivals if other is not rival))
        return sum(
            count for char, count in counts.items() if char in alphabets[id(rival)] and char not in others
        )

    return max(rivals, key=distinctive_uses)


def _script_consistent(group: list[Source]) -> list[Source]:
    """Return the sources of one language, each code-mixed source (tweets) keeping only its lines in a script
    the language's curated sources are written in: UMSAB's Hindi tweets hold English and romanised Hindi in
    Latin script, which would teach "Latin-script Hindi" from English sentences."""
    curated = {dominant_script(source.texts[:200]) for source in group if not source.mixed}
    curated.discard(None)
    if not curated:
        return group
    if "Jpan" in curated:
        curated.add("Hani")  # a Japanese line may hold no kana
    kept = []
    for source in group:
        if not source.mixed:
            kept.append(source)
            continue
        texts = tuple(text for text in source.texts if dominant_script([text]) in curated | {None})
        if len(texts) < len(source.texts):
            logger.info("%s: %d of %d lines kept, those in the script of the language's curated sources (%s)",
                        source.origin, len(texts), len(source.texts), ", ".join(sorted(curated)))  # fmt: skip
        if texts:
            kept.append(replace(source, texts=texts))
    return kept


def assign_labels(sources: Sequence[Source]) -> dict[str, list[Source]]:
    """Return the sources grouped by the label the model will learn.

    A macrolanguage code is merged into the individual language it usually means when that one is present
    (UMSAB's `ara` into UDHR's `arb`, UD's `zho` into `cmn`, not the Bible's `lzh`), else, for a
    macrolanguage that means none of its members first, into its only individual language present (the
    Bible's `mlg` into UDHR's `plt`). One whose usual member is absent keeps its own label: a user's `no`
    beside `nn` is Bokmål, not Nynorsk, and `ms` beside `id` is Malay. A language gets a script suffix when
    its texts come in several scripts (`srp_Cyrl`, `srp_Latn`); a source without a script in its name takes
    the script of its letters, or, when other sources of the language name scripts the letters cannot tell
    apart (Han: `cmn_Hans`, `cmn_Hant`), the script of the named source whose characters it shares most. A
    code-mixed source (tweets) keeps only its lines in a script the language's curated sources use.
    """
    present = {source.label.language for source in sources}
    merge = {}
    for macro, members in MACROLANGUAGES.items():
        inside = members & present
        if macro not in present or not inside:
            continue
        if DEFAULT_MEMBER.get(macro) in inside:
            merge[macro] = DEFAULT_MEMBER[macro]
        elif macro not in DEFAULT_MEMBER and len(inside) == 1:
            merge[macro] = next(iter(inside))
    # two codes of one written language (a user's `fil` beside the Bible's `tgl`) would compete as two labels
    merge |= {
        code: same for code, same in SAME_WRITTEN_LANGUAGE.items() if code in present and same in present
    }
    by_language: dict[str, list[Source]] = defaultdict(list)
    for source in sources:
        language = merge.get(source.label.language, source.label.language)
        by_language[language].append(source)
    grouped: dict[str, list[Source]] = defaultdict(list)
    for language, group in by_language.items():
        group = _script_consistent(group)
        letters = {id(source): dominant_script(source.texts[:500]) for source in group}
        named = [source for source in group if source.label.script]
        scripts = {}
        for source in group:
            if source.label.script:
                scripts[id(source)] = source.label.script
                continue
            rivals = [other for other in named if letters[id(other)] == letters[id(source)]]
            # Chinese characters say which Han script they are (han.py's lists): with one named rival, the
            # nearest was always it, so `zh` beside `zh-TW` became Traditional and one label
            han = (
                han_script("".join(source.texts[:2000])) if rivals and letters[id(source)] == "Hani" else None
            )
            if rivals and han is not None:
                scripts[id(source)] = han
            elif rivals:
                scripts[id(source)] = _closest_named(source, rivals).label.script
            else:
                scripts[id(source)] = letters[id(source)]
        several = len({script for script in scripts.values() if script}) > 1
        for source in group:
            script = scripts[id(source)] if several else None
            grouped[str(Label(language, script))].append(source)
    return dict(sorted(grouped.items()))


def labelled_sources(data: LangidDataConfig) -> dict[str, list[Source]]:
    """Return the sources a detector trains on, grouped by label: what `build_examples` splits (training
    and tools that rebuild the held-out split, such as benchmarks/langid_prior.py, call this one)."""
    # the corpora are read by language (cheap); the label, script included, is matched once they are grouped
    return requested_labels(assign_labels(collect_sources(data)), data.languages)


def requested_labels(grouped: dict[str, list[Source]], codes: Sequence[str]) -> dict[str, list[Source]]:
    """Return the groups whose label one of `codes` names, matched as a detector's `languages=` restriction
    matches them (script included: `sr-Latn` keeps srp_Latn, not srp_Cyrl); every group when `codes` is
    empty. A code no label matches is a warning naming it: the sources hold no text of it."""
    if not codes:
        return grouped
    labels = tuple(grouped)
    scripts = tuple(_group_scripts(group) for group in grouped.values())
    wanted = {code: parse_label(code, where="data.languages") for code in dict.fromkeys(codes)}
    masks = {code: _matching_labels(labels, scripts, label) for code, label in wanted.items()}
    missing = [code for code, mask in masks.items() if not mask.any()]
    if missing:
        logger.warning("data.languages: no source holds %s; the detector will not know %s",
                       ", ".join(missing), "it" if len(missing) == 1 else "them")  # fmt: skip
    keep = np.logical_or.reduce(list(masks.values()))
    return {label: group for label, group, kept in zip(labels, grouped.values(), keep, strict=True) if kept}


def _group_scripts(group: Sequence[Source]) -> tuple[str, ...]:
    """Return the scripts of at least MIN_SCRIPT_SHARE of a group's first lines, most used first (what
    `label_scripts` records for the label, read before any example is made)."""
    texts = [text for source in group for text in source.texts[:500]]
    return _kept_scripts(Counter(dominant_scripts(texts)))


def _kept_scripts(seen: Counter[str | None]) -> tuple[str, ...]:
    """Return the scripts (counted texts of each, None: no letter) of at least MIN_SCRIPT_SHARE of the texts
    that have letters, most used first."""
    seen = Counter({script: n for script, n in seen.items() if script is not None})
    total = sum(seen.values())
    return tuple(script for script, n in seen.most_common() if n >= MIN_SCRIPT_SHARE * total)


# --- examples ----------------------------------------------------------------------------------------

MIN_DEV_LINES = 20
"""A label with fewer distinct lines holds none out (each is needed to train): its accuracy is not measured."""


UNSPACED_SCRIPTS = frozenset({"Hani", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt", "Yiii"})
"""Scripts written without spaces between words (Thai and Burmese put them between phrases): their chunks and
crops are windows of characters."""
WORD_SEPARATORS = regex.compile(r"[\s\u1361]+")
"""What parts words: spaces, and Ethiopic's wordspace `፡` (half of the UDHR's Amharic lines have no other)."""


def _units(text: str) -> tuple[list[str], str]:
    """Return (what a window of `text` counts, the string that joins them): its characters, spaces left out,
    in a script written without spaces; else its words."""
    if dominant_script([text]) in UNSPACED_SCRIPTS:
        return list("".join(text.split())), ""
    return [word for word in WORD_SEPARATORS.split(text) if word], " "


def _chunks(text: str, chunk_words: int) -> list[str]:
    """Return `text` cut into chunks of at most `chunk_words` words (2 x chunk_words characters in a script
    written without spaces); a long word is never cut (`Donaudampfschifffahrts...`, a URL)."""
    units, joiner = _units(text)
    size = chunk_words if joiner else 2 * chunk_words
    return [joiner.join(units[i : i + size]) for i in range(0, len(units), size)]


def crop(text: str, rng: random.Random, short: bool) -> str:
    """Return a random window of `text`: 1-3 words when `short`, else 4-10 (1-6 or 6-20 characters in a
    script written without spaces); a text of fewer is kept whole (a word-list entry such as "good morning").

    Whatever the text's spaces: Thai or Burmese lines with spaces between phrases gave "1-3 word" crops of
    20-60 characters, and Amharic ones parted by `፡` whole lines."""
    units, joiner = _units(text)
    if joiner:
        low, high = (1, 3) if short else (4, 10)
    else:
        low, high = (1, 6) if short else (6, 20)
    length = min(len(units), rng.randint(low, high))
    start = rng.randint(0, len(units) - length)
    return joiner.join(units[start : start + length])


@dataclass
class Examples:
    """Normalised texts and their label ids."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)

    def add(self, text: str, label: int) -> None:
        self.add_normalised(normalize_text(text), label)

    def add_normalised(self, normalised: str, label: int) -> None:
        """Return nothing; add a text already normalised (`normalize_text`), unless it is empty."""
        if normalised:
            self.texts.append(normalised)
            self.labels.append(label)


@dataclass
class DevSets:
    """Held-out examples: whole chunks of the held-out lines, and 1-3 and 4-10 word crops of them."""

    lines: Examples = field(default_factory=Examples)
    short: Examples = field(default_factory=Examples)
    medium: Examples = field(default_factory=Examples)
    unmeasured: dict[str, int] = field(default_factory=dict)
    """Labels with no held-out line, and their distinct lines (fewer than MIN_DEV_LINES, or none held out)."""


def _variant_key(form: str) -> str:
    """Return what spelling variants of a normalised line share: the line case-folded (German 1901's ß is
    1996's ss: muß/muss), without its diacritics and Latin vowels (versions of a text that a spelling
    reform, as Romanian's î -> â, or diacritics set apart)."""
    decomposed = unicodedata.normalize("NFD", form.casefold())
    return "".join(c for c in decomposed if not unicodedata.category(c).startswith("M") and c not in "aeiouy")


NEAR_DUPLICATE_JACCARD = 0.5
"""Character 4-gram Jaccard similarity from which a training chunk counts as a copy of a held-out chunk: the
same UDHR article in two versions of one language (por_BR / por_PT, pes_1 / pes_2) shares most of its
4-grams, two articles of one version a small part."""


class NearDuplicates:
    """Held-out chunks indexed by their character 4-grams; `matches` tells a chunk that is nearly one of them."""

    def __init__(self, forms: Iterable[str]):
        self.sizes: list[int] = []
        self.index: defaultdict[str, list[int]] = defaultdict(list)
        for number, form in enumerate(forms):
            grams = _four_grams(form)
            self.sizes.append(len(grams))
            for gram in grams:
                self.index[gram].append(number)

    def matches(self, form: str) -> bool:
        """Return whether the normalised `form` has a 4-gram Jaccard similarity of at least
        NEAR_DUPLICATE_JACCARD with a held-out chunk."""
        grams = _four_grams(form)
        shared = Counter(number for gram in grams for number in self.index.get(gram, ()))
        return any(
            count >= NEAR_DUPLICATE_JACCARD * (len(grams) + self.sizes[number] - count)
            for number, count in shared.items()
        )


def _four_grams(form: str) -> set[str]:
    """Return the character 4-grams of a normalised text (the text itself when shorter)."""
    return {form[i : i + 4] for i in range(max(1, len(form) - 3))}


def _no_training_text(label: str, group: Sequence[Source], held: int) -> str:
    """Return why a label has no training text: its lines with no letter left once normalised (digits,
    emoji, URLs), and those held out."""
    texts = [text for source in group if not source.supplement for text in source.texts]
    empty = sum(1 for text in texts if not normalize_text(text))
    held_out = f", {held} held out as dev lines" if held else ""
    return (f"label {label}: no training text: {empty} of its {len(texts)} lines have no letters left after "
            f"normalisation (digits, emoji, URLs and punctuation are dropped){held_out}")  # fmt: skip


def build_examples(grouped: dict[str, list[Source]], config: LangidDataConfig, seed: int
                   ) -> tuple[Examples, DevSets]:  # fmt: skip
    """Return (train, dev) examples: whole chunks plus crops for training; held-out lines' chunks and their
    crops for dev. Which lines a label holds out depends only on the seed and the label's lines (not on caps
    or other labels), so runs with different settings are measured on the same held-out lines."""
    rng = random.Random(seed)
    train, dev = Examples(), DevSets()
    for label_id, (label, group) in enumerate(grouped.items()):
        # one line per normalised text: "Article 5" and "Article 12" are one text to the model, and a
        # held-out copy of a training line would inflate dev; so would a spelling variant of it (the UDHR's
        # Romanian of 1953 and 1993 differ by î/â): variants are held out together (one as the dev line) or
        # all trained on
        by_form: dict[str, str] = {}
        for text in (text for source in group if not source.supplement for text in source.texts):
            by_form.setdefault(normalize_text(text), text)
        variants: dict[str, list[str]] = {}
        for form, text in by_form.items():
            if form:
                variants.setdefault(_variant_key(form), []).append(text)
        held_rng = random.Random(f"{seed}/{label}")  # str seeds hash with sha512: stable across runs
        keys = list(variants)
        held_rng.shuffle(keys)
        held = min(config.dev_max, int(len(keys) * config.dev_fraction)) if len(keys) >= MIN_DEV_LINES else 0
        if not held:  # it drops out of the macro accuracy: said so, not silently
            dev.unmeasured[str(label)] = len(keys)
        lines = [variants[key][0] for key in keys[:held]] + [
            text for key in keys[held:] for text in variants[key]
        ]
        held_chunks: set[str] = set()
        held_forms: list[str] = []
        for line in lines[:held]:
            for chunk in _chunks(line, config.chunk_words):
                form = normalize_text(chunk)
                held_chunks.add(_variant_key(form))
                held_forms.append(form)
                dev.lines.add_normalised(form, label_id)
                dev.short.add(crop(chunk, held_rng, short=True), label_id)
                dev.medium.add(crop(chunk, held_rng, short=False), label_id)
        words = [text for source in group if source.supplement for text in source.texts]
        rng.shuffle(words)
        words = words[: int(config.max_units_per_label * config.supplement_share)]
        chunks = [chunk for line in lines[held:] for chunk in _chunks(line, config.chunk_words)]
        rng.shuffle(chunks)
        # variants are grouped by whole line but measured by chunk: two lines that differ in a later chunk
        # only share their first, so a training chunk of a held-out chunk's key is left out (checked
        # after the shuffle, on the chunks the cap keeps only: the Bible's 31k verses need no key each)
        # a unit goes with its normalised form, its whole-unit example's text: the key test normalises each
        # chunk anyway, and normalising it again when adding it took ~5% of building UDHR's examples
        forms = ((chunk, normalize_text(chunk)) for chunk in chunks)
        kept = ((chunk, form) for chunk, form in forms if _variant_key(form) not in held_chunks)
        folders = Counter(Path(source.origin).parent for source in group if not source.supplement)
        if held and max(folders.values(), default=0) > 1:
            # two versions of one text (the UDHR's por_BR and por_PT, files of one folder) differ by more
            # than the variant key folds: a chunk nearly equal to a held-out one is left out of training
            # too. Files of different corpora (a Bible and a UDHR) hold different texts, and checking every
            # label's chunks would cost more than the rest of this loop
            near = NearDuplicates(held_forms)
            kept = ((chunk, form) for chunk, form in kept if not near.matches(form))
        units = list(itertools.islice(kept, max(0, config.max_units_per_label - len(words))))
        units += [(word, normalize_text(word)) for word in words]
        rng.shuffle(units)  # a pair per unit: the same permutation, and choice below, as of the units alone
        if not units:
            raise DataError(_no_training_text(label, group, held), group[0].origin)
        before = len(train.texts)
        for unit, form in units:
            train.add_normalised(form, label_id)
            train.add(crop(unit, rng, short=rng.random() < config.short_share), label_id)
        # counted as added: a crop of a tweet may normalise to nothing (a @mention, an emoji), and is left out.
        # Tries are bounded, for a label whose crops all come out empty
        for _ in range(4 * config.min_examples_per_label):
            if len(train.texts) - before >= config.min_examples_per_label:
                break
            unit, _ = rng.choice(units)
            train.add(crop(unit, rng, short=rng.random() < config.short_share), label_id)
    return train, dev


# --- training ----------------------------------------------------------------------------------------


def label_scripts(examples: Examples, labels: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Return each label's scripts, most used first: the main script (`dominant_scripts`) of at least
    MIN_SCRIPT_SHARE of its examples (Japanese: `Jpan`, and `Hani` when enough crops hold no kana). A label
    that names its script (`srp_Cyrl`, `cmn_Hant`) has that one only, where its examples show it: a few
    stray lines of another script would let it take text of that script from its siblings."""
    counts: list[Counter[str | None]] = [Counter() for _ in labels]
    for start in range(0, len(examples.texts), 4096):
        end = start + 4096
        scripts = dominant_scripts(examples.texts[start:end])  # as detection decides a text's script
        for script, label in zip(scripts, examples.labels[start:end], strict=True):
            counts[label][script] += 1
    scripts = {}
    for label, seen in zip(labels, counts, strict=True):
        kept = _kept_scripts(seen)
        named = Label(*label.split("_", 1)).script if "_" in label else None
        named = letter_script(named) if named else None
        scripts[label] = (named,) if named in kept else kept
    return scripts


def _batch_tensors(matrix: sp.csr_matrix, rows: np.ndarray):
    """Return (indices, offsets, weights) of CSR rows, as EmbeddingBag takes them."""
    import torch

    block = matrix[rows]
    return (torch.from_numpy(block.indices.astype(np.int64)), torch.from_numpy(block.indptr[:-1].astype(np.int64)),
            torch.from_numpy(block.data.astype(np.float32)))  # fmt: skip


def dev_digest(dev: DevSets, labels: Sequence[object]) -> str:
    """Return a short SHA-256 of the held-out lines and their labels: what a model records, so that a tool
    rebuilding the split from the recipe (benchmarks/langid_prior.py) can tell it rebuilt the model's."""
    digest = hashlib.sha256()
    for text, label in zip(dev.lines.texts, dev.lines.labels, strict=True):
        digest.update(f"{labels[label]}\t{text}\n".encode())
    return digest.hexdigest()[:16]


def macro_accuracy(identifier: LanguageIdentifier, examples: Examples) -> tuple[float, dict[str, float]]:
    """Return (macro accuracy over labels, accuracy per label) of `identifier` on examples."""
    if not examples.texts:
        return float("nan"), {}
    probabilities, _ = identifier.probabilities(examples.texts)
    predicted = probabilities.argmax(axis=1)
    correct: dict[int, list[bool]] = defaultdict(list)
    for guess, gold in zip(predicted, examples.labels, strict=True):
        correct[gold].append(bool(guess == gold))
    per_label = {identifier.labels[gold]: float(np.mean(hits)) for gold, hits in correct.items()}
    return float(np.mean(list(per_label.values()))), per_label


LINEAR_ONLY = ("dim", "epochs", "batch_size", "lr")
"""LangidTrainConfig fields only the linear family uses: naive Bayes trains by counting."""


def ignored_settings(config: LangidTrainConfig) -> list[str]:
    """Return the linear-only fields set away from their defaults for a naive-Bayes run, which uses none."""
    if config.family != "naive_bayes":
        return []
    default = LangidTrainConfig()
    return [name for name in LINEAR_ONLY if getattr(config, name) != getattr(default, name)]


def train_identifier(config: LangidTrainConfig, progress: bool = False) -> LangidTrainResult:
    """Return the trained identifier (saved to `config.output`) and its dev accuracy."""
    config.validate()
    if ignored := ignored_settings(config):  # --epochs 10 with the default family trained as without it
        logger.warning("%s: the linear family's settings; family naive_bayes (the default) trains by counting "
                       "and ignores them (--set family=linear to use them)", ", ".join(ignored))  # fmt: skip
    # before the work: a folder it may not replace is refused now, not after minutes of training; one that
    # holds a --tsv file would take it along when replaced
    check_apart(config.output, [(f"the --tsv file {path}", path) for path in config.data.tsv])
    check_replaceable(config.output, config.overwrite, "language identifier", kind=KIND)
    start = time.perf_counter()
    grouped = labelled_sources(config.data)
    labels = tuple(grouped)
    if len(labels) < 2:  # one label answers itself for every text, whatever the threshold
        raise DataError(f"the data holds {len(labels)} language ({', '.join(map(str, labels)) or 'none'}); a "
                        "detector needs at least two")  # fmt: skip
    train, dev = build_examples(grouped, config.data, config.seed)
    featurizer = Featurizer(config.features)
    logger.info("%d labels, %d training examples", len(labels), len(train.texts))
    if config.family == NaiveBayesScorer.family:
        scorer: LinearScorer | NaiveBayesScorer = NaiveBayesScorer.fit(
            count_features(featurizer, train, len(labels)), config.alpha
        )
    else:
        scorer = _train_linear(config, featurizer.transform(train.texts), train.labels, len(labels), progress)
    identifier = LanguageIdentifier(labels=labels, scorer=scorer, features=config.features,
                                    threshold=config.threshold, prior_weight=config.prior_weight,
                                    log_prior=log_prior(labels), scripts=label_scripts(train, labels))  # fmt: skip
    if isinstance(scorer, NaiveBayesScorer):
        held_out = [*dev.lines.texts, *dev.short.texts, *dev.medium.texts]
        gold = [*dev.lines.labels, *dev.short.labels, *dev.medium.labels]
        scorer.temperature = fit_temperature(
            scorer.log_likelihoods(*featurizer.ids(held_out)), np.asarray(gold)
        )
    dev_accuracy, per_label = macro_accuracy(identifier, dev.lines)
    dev_short_accuracy, _ = macro_accuracy(identifier, dev.short)
    dev_medium_accuracy, _ = macro_accuracy(identifier, dev.medium)
    not_measured = {label: lines for label, lines in dev.unmeasured.items() if label not in per_label}
    identifier.info = {
        "sources": [*config.data.corpora, *(Path(path).name for path in config.data.tsv)],
        "max_units_per_label": config.data.max_units_per_label,
        "min_examples_per_label": config.data.min_examples_per_label,
        # files, not labels' sources: a `lang<TAB>text` file of several languages gives a source per label
        "source_files": _source_files(grouped),
        "train_examples": len(train.texts), "dev_macro_accuracy": _rounded(dev_accuracy),
        "dev_short_macro_accuracy": _rounded(dev_short_accuracy),
        "dev_medium_macro_accuracy": _rounded(dev_medium_accuracy),
        "dev_accuracy": {label: round(value, 4) for label, value in per_label.items()},
        "dev_not_measured": not_measured,
        "dev_digest": dev_digest(dev, labels),
    }  # fmt: skip
    output_dir = identifier.save_pretrained(config.output, overwrite=config.overwrite)
    return LangidTrainResult(identifier, output_dir, len(labels), len(train.texts), dev_accuracy,
                             dev_short_accuracy, dev_medium_accuracy, time.perf_counter() - start, per_label,
                             not_measured)  # fmt: skip


def _source_files(grouped: dict[str, list[Source]]) -> int:
    """Return the number of distinct origins the labels' sources were read from: a file (a `lang<TAB>text`
    file of several languages is one, a transliterated copy is its original's), or a supplement read from
    no one file (the BLI train words of a folder, one per count of files; the wordfreq lists of a language)."""
    return len({source.origin.removesuffix(f" (transliterated to {source.label.script})")
                for group in grouped.values() for source in group})  # fmt: skip


def _rounded(accuracy: float) -> float | None:
    """Return an accuracy rounded for the model card; None (JSON null, not NaN) when nothing was held out."""
    return None if math.isnan(accuracy) else round(accuracy, 4)


def count_features(
    featurizer: Featurizer, examples: Examples, n_labels: int, chunk: int = 200_000
) -> np.ndarray:
    """Return the (labels, buckets) float32 counts of each label's hashed features over its examples."""
    buckets = featurizer.config.buckets
    counts = np.zeros((n_labels, buckets), dtype=np.float32)
    gold = np.asarray(examples.labels, dtype=np.int64)
    for first in range(0, len(examples.texts), chunk):
        ids, offsets = featurizer.ids(examples.texts[first : first + chunk])
        rows = np.repeat(gold[first : first + chunk], np.diff(offsets))
        # COO -> CSR sums repeated (label, feature) pairs, in memory of the chunk's size, not of the table's
        # (int64: a float32 sum would stop growing at 2**24)
        chunk_counts = sp.coo_matrix(
            (np.ones(len(ids), np.int64), (rows, ids)), shape=(n_labels, buckets)
        ).tocsr()
        chunk_rows = np.repeat(np.arange(n_labels), np.diff(chunk_counts.indptr))
        counts[chunk_rows, chunk_counts.indices] += chunk_counts.data
    return counts


def fit_temperature(log_likelihoods: np.ndarray, gold: np.ndarray) -> float:
    """Return the temperature T that minimises the mean negative log-likelihood of softmax(scores / T) on
    held-out texts (temperature scaling, Guo et al. 2017); 1.0 without held-out texts.

    T alone changes probabilities, never the argmax. It is fitted without the speakers prior: with a prior
    weight w > 0 the logits are scores / T + w x log-prior, so T also sets how much the prior counts, and w
    is to be chosen on the model with its T (benchmarks/langid_prior.py does so)."""
    if len(gold) == 0:
        logger.warning("no held-out lines to fit the naive-Bayes temperature on: it stays 1 (overconfident)")
        return 1.0
    scores = log_likelihoods.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError("log-likelihoods that are not finite: no temperature fits them")

    def loss(temperature: float) -> float:
        logits = scores / temperature
        logits -= logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float(np.mean(log_norm - logits[np.arange(len(gold)), gold]))

    grid = np.geomspace(0.1, 1000.0, 41)  # steps of x1.26, then a finer look around the best
    fine = grid[int(np.argmin([loss(t) for t in grid]))] * np.geomspace(0.8, 1.25, 21)
    best = float(fine[int(np.argmin([loss(t) for t in fine]))])
    if not grid[0] < best < grid[-1]:
        # held-out texts all right (or all wrong) by a wide margin: the loss keeps falling past the search
        logger.warning("the naive-Bayes temperature stopped at the end of its search (%g): the held-out texts "
                       "are too few or too easy to calibrate on", best)  # fmt: skip
    return best


def _train_linear(config: LangidTrainConfig, matrix: sp.csr_matrix, labels: list[int], n_labels: int,
                  progress: bool) -> LinearScorer:  # fmt: skip
    """Return fastText's classifier trained on the (examples, buckets) mean-feature matrix."""
    import torch

    torch.manual_seed(config.seed)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    targets = torch.tensor(labels)
    bag = torch.nn.EmbeddingBag(config.features.buckets, config.dim, mode="sum", sparse=True)
    torch.nn.init.uniform_(bag.weight, -1.0 / config.dim, 1.0 / config.dim)
    output = torch.nn.Linear(config.dim, n_labels)
    torch.nn.init.zeros_(output.weight)
    torch.nn.init.zeros_(output.bias)
    sparse_opt = torch.optim.SparseAdam(list(bag.parameters()), lr=config.lr)
    dense_opt = torch.optim.Adam(list(output.parameters()), lr=config.lr)
    steps_per_epoch = math.ceil(len(labels) / config.batch_size)
    total = steps_per_epoch * config.epochs
    rng = np.random.default_rng(config.seed)
    step = 0
    bar = _progress(total) if progress else None
    for _ in range(config.epochs):
        order = rng.permutation(len(labels))
        for first in range(0, len(order), config.batch_size):
            rows = order[first : first + config.batch_size]
            indices, offsets, weights = _batch_tensors(matrix, rows)
            logits = output(bag(indices, offsets, per_sample_weights=weights))
            loss = torch.nn.functional.cross_entropy(logits, targets[rows])
            sparse_opt.zero_grad()
            dense_opt.zero_grad()
            loss.backward()
            scale = 1.0 - step / total
            for optimizer in (sparse_opt, dense_opt):
                for group in optimizer.param_groups:
                    group["lr"] = config.lr * scale
            sparse_opt.step()
            dense_opt.step()
            step += 1
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"loss {loss.item():.3f}")
    if bar is not None:
        bar[0].stop()
    # float16 then float32: the precision the model is saved in, so dev figures are the saved model's
    return LinearScorer(embeddings=bag.weight.detach().numpy().astype(np.float16).astype(np.float32),
                        weight=output.weight.detach().numpy().T.copy(), bias=output.bias.detach().numpy().copy())  # fmt: skip


def _progress(total: int):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True))  # fmt: skip
    bar.start()
    return bar, bar.add_task("training", total=total)
