"""Parallel data for translation training: directions, tokenized pairs, and the batches of the training loop.

Sources, all at once: an id-aligned corpus folder (the Bible: every language's verses joined on verse id),
as every ordered pair of its languages or pivot-centric (eng<->xx) plus chosen extra directions; and
parallel files as `src-tgt=path.tsv` (`src<TAB>tgt` lines) or `src-tgt=path.src,path.tgt` (Moses: two
line-aligned files). Every pair is used in both directions unless a direction is named explicitly. A code
keeps its script and region (`eng-zho_Hant`, `en-zh-TW`: `parse_direction`), which pick the model's token for
them as `xling translate` does; xling's own models have one token per language.

Batches follow the model family's conventions (`languages.Conventions`, held with the token ids by a
`SequenceFormat`): for xling's own models and M2M-100 source `__src__ pieces </s>`, decoder input
`</s> __tgt__ pieces`, labels `__tgt__ pieces </s>`; NLLB the same with `eng_Latn` codes; Marian (OPUS-MT)
source `[>>fra<<] pieces </s>`, decoder input `<pad> pieces`, labels `pieces </s>`. The decoder always starts
from the model's `decoder_start_token_id`. A one-way model (a fixed-pair OPUS-MT model) trains the one way
of a pair it translates; a language the model lacks is the error `languages` gives.

Each step draws its directions with temperature sampling over the directions' pair counts (p_d ~ n_d^(1/T),
as M2M-100 and mBART do) and its pairs from one narrow length band, so a batch carries little padding; like
every xling batch source it is a pure function of (seed, step, micro, rank).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from xling.alignment.sentences.clauses import ClauseSplit, clause_pairs
from xling.config import check_int
from xling.data.languages import REGION_SCRIPTS, USUAL_SCRIPTS, normalize_language, split_language_pair
from xling.data.readers import AlignedCorpus
from xling.data.root import check_not_test_set
from xling.data.sources import HeldOut, check_prefixes_match, resolve_corpus
from xling.data.versification import chapters_apart, last_verses, same_numbering, shifted_chapters
from xling.errors import ConfigError, DataError, XlingError
from xling.pretraining.masking import IGNORE_INDEX
from xling.tokenization.vocabulary import language_token
from xling.translation.languages import DEFAULT_SCRIPTS, Conventions, parse_language, source_normalizer

logger = logging.getLogger(__name__)

DIRECTION_MODES = ("pivot", "all")
# steps of the batches' length quantiles (TranslationBatches._quantiles): 1/golden ratio from step to step, the
# additive recurrence whose points spread most evenly over [0, 1) (Weyl; the three-gap theorem), and the
# fractional part of sqrt(2) between the draws of one step (groups, ranks, micro-batches)
QUANTILE_STEP = (5**0.5 - 1) / 2
QUANTILE_SPREAD = 2**0.5 - 1


def parse_direction(text: str, where: str = "directions") -> tuple[str, str]:
    """Return the (src, tgt) codes of a direction written `src-tgt` (`en-de`, `eng-deu`, `eng-zho_Hant`).

    A code is the ISO 639-3 language, with the script and region the tag gives kept (`direction_code`), so
    training asks the model for the token `xling translate` picks for the same tag: `eng-zho_Hant`,
    `en-zh-Hant` and `eng-zh_TW` train NLLB's `zho_Hant`, not its default `zho_Hans`. How the two tags are
    told apart: `xling.data.languages.split_language_pair`.
    """
    pair = split_language_pair(text, where)
    source, target = (direction_code(code, where=f"{where} {text!r}") for code in pair)
    if _same_variety(source, target):
        raise ConfigError(f"{where}: {text!r} translates {source} into itself; give two languages")
    return source, target


def direction_code(code: str, *, where: str | None = None) -> str:
    """Return a direction's code for a language tag: `language[_Script][_REGION]` (`zho_Hant`, `zho_Hant_TW`,
    `fra_CA`, `eng`), the script being the tag's or the one its region implies (REGION_SCRIPTS: zh-TW is
    Hant), and left out for a language written in one script only (`eng_Latn` is `eng`)."""
    tag = parse_language(code, where=where)
    script = tag.script or REGION_SCRIPTS.get((tag.language, tag.region or ""))
    if script is not None and script == USUAL_SCRIPTS.get(tag.language):
        script = None
    return "_".join(part for part in (tag.language, script, tag.region) if part)


def language_of(code: str) -> str:
    """Return the ISO 639-3 language of a direction code (`zho_Hant` -> `zho`)."""
    return code.partition("_")[0]


def _warn_script_dropped(code: str, spec: str) -> None:
    """Log a warning when a direction code of a parallel file names a script other than its language's
    default, which xling's own models (one token per language) drop: the model then records the language
    alone, and `xling translate` asks it for that script as text it does not write (`--tgt zh-Hant` of a model
    trained on `eng-zho_Hant` pairs is refused)."""
    tag = parse_language(code)
    default = _default_script(tag.language)
    if tag.script and tag.script != default:
        logger.warning("parallel %s: xling's own models have one token per language, so %s trains as %s, which "
                       "the model records as written in %s", spec.partition("=")[0], code, tag.language,
                       default or "its usual script")  # fmt: skip


def _same_variety(a: str, b: str) -> bool:
    """Return whether two direction codes name one language in one script and region (`zho`, `zho_Hans`)."""
    first, second = parse_language(a), parse_language(b)
    if first.language != second.language or first.region != second.region:
        return False
    default = _default_script(first.language)
    return (first.script or default) == (second.script or default)


def _default_script(language: str) -> str | None:
    """Return the script a direction code of `language` without one stands for (zho: Hans, deu: Latn)."""
    return DEFAULT_SCRIPTS.get(language) or USUAL_SCRIPTS.get(language)


def is_dev_id(sentence_id: str, fraction: float) -> bool:
    """Return whether a sentence id belongs to the hashed dev share (the same in every run and process)."""
    return fraction > 0 and (zlib.crc32(b"dev:" + sentence_id.encode()) % 10_000) < fraction * 10_000


def read_parallel_file(spec: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Return (src, tgt, pairs) of a `src-tgt=path.tsv` or `src-tgt=path.src,path.tgt` parallel source."""
    direction, sep, paths = spec.partition("=")
    if not sep:
        raise ConfigError(f"parallel: {spec!r} must be src-tgt=path.tsv or src-tgt=path.src,path.tgt")
    src, tgt = parse_direction(direction, "parallel")
    files = parallel_paths(spec)
    for file in files:
        check_not_test_set(file, f"parallel {spec!r}")
    if len(files) == 1:
        pairs = []
        for number, line in _lines(files[0]):
            if not line.strip():
                continue
            left, tab, right = line.partition("\t")
            if not tab or "\t" in right:
                raise DataError(
                    "expected exactly two tab-separated fields (source<TAB>target)", files[0], number
                )
            pairs.append((left.strip(), right.strip()))
        _refuse_id_column(pairs, files[0])
        return src, tgt, pairs
    if len(files) != 2:
        raise ConfigError(f"parallel: {spec!r} names {len(files)} files; give one .tsv or two Moses files")
    left_lines, right_lines = ([_moses_line(file, number, line) for number, line in _lines(file)]
                               for file in files)  # fmt: skip
    if len(left_lines) != len(right_lines):
        raise DataError(f"has {len(left_lines)} lines but {files[1]} has {len(right_lines)}", files[0])
    pairs, one_sided = [], []
    for number, (left, right) in enumerate(zip(left_lines, right_lines, strict=True), start=1):
        left, right = left.strip(), right.strip()
        if not left and not right:
            continue  # a blank line on both sides is no pair
        if not left or not right:
            one_sided.append(number)
        pairs.append((left, right))
    if one_sided:
        # left out later with the other empty pairs; said here with its lines, as one extra blank line in one
        # file and one missing at the end of it shift every pair between them
        lines = ", ".join(map(str, one_sided[:5])) + (", ..." if len(one_sided) > 5 else "")
        logger.warning("%s and %s: %d lines blank on one side only (line %s): are the files aligned?",
                       files[0], files[1], len(one_sided), lines)  # fmt: skip
    return src, tgt, pairs


def parallel_paths(spec: str) -> list[Path]:
    """Return the files a `src-tgt=path.tsv` or `src-tgt=path.src,path.tgt` parallel source names (`~`
    expanded); ConfigError naming `parallel` and the spec when it names no file or has an empty name in its list."""
    names = spec.partition("=")[2].split(",")
    if not any(name.strip() for name in names):
        raise ConfigError(
            f"parallel: {spec!r} names no file; give src-tgt=path.tsv or src-tgt=path.src,path.tgt"
        )
    if not all(name.strip() for name in names):
        raise ConfigError(f"parallel: {spec!r} has an empty file name in its comma-separated list; give "
                          "src-tgt=path.tsv or src-tgt=path.src,path.tgt")  # fmt: skip
    # `~` is the home folder, as in every path field; `a.en, a.de` names a.de, not " a.de"
    return [Path(name.strip()).expanduser() for name in names]


_SENTENCE_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.\d+")


def _refuse_id_column(pairs: list[tuple[str, str]], path: Path) -> None:
    """Return nothing unless every source of `pairs` is a sentence id (`JHN.3.16`, `everyday.001`): an
    id-aligned corpus file (id<TAB>text) read as pairs would teach ids, and skip the held-out book."""
    if len(pairs) >= 5 and all(_SENTENCE_ID.fullmatch(left) for left, _ in pairs):
        raise DataError(f"its first column holds sentence ids ({pairs[0][0]}, {pairs[1][0]}, ...): an id-aligned "
                        "corpus file (id<TAB>text) goes in a data.corpus folder, not in parallel", path)  # fmt: skip


def _moses_line(path: Path, number: int, line: str) -> str:
    """Return one line of a Moses file (one sentence a line); DataError for a tab (a TSV given as one)."""
    if "\t" in line:
        raise DataError("a tab in a Moses file (one sentence a line): a TSV of pairs goes alone, as "
                        "src-tgt=pairs.tsv; an id-aligned corpus file in data.corpus", path, number)  # fmt: skip
    return line


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without newline) of a plain or gzip UTF-8 file; DataError naming the file
    (and the line) when it is missing, empty, not UTF-8 or a truncated gzip stream."""
    from xling.data.readers import decoded_lines, line_text, require_file

    path = require_file(path)
    for line in decoded_lines(path, None, allow_blank=True):  # decoded line by line: the right line number
        yield line.number, line_text(line, path)


_PIECES = "\x00pieces"  # stands for a sentence's pieces in a family's source sequence


@dataclass(frozen=True)
class Marks:
    """The token ids one direction puts around a pair's pieces: source = before + pieces + after; labels =
    prefix + pieces + `</s>`; decoder input = decoder start + labels without the last."""

    before: tuple[int, ...]
    after: tuple[int, ...]
    prefix: tuple[int, ...]


class SequenceFormat:
    """A model family's source and target sequences in token ids: conventions, tokenizer, decoder start."""

    def __init__(self, tokenizer, conventions: Conventions, decoder_start: int):
        self.tokenizer = tokenizer
        self.conventions = conventions
        self.decoder_start = decoder_start
        self.pad, self.eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        # an OPUS-MT tokenizer has a target-side SentencePiece model of its own (`text_target`); the others
        # cut both sides alike
        self.shared_sides = conventions.family != "marian"
        self._normalize = source_normalizer(tokenizer, conventions.family)
        self._marks: dict[tuple[str, str], Marks] = {}

    @classmethod
    def xling(cls, tokenizer, languages: Sequence[str]) -> SequenceFormat:
        """Return xling's own format (M2M-100's with `__deu__` tokens, decoding from `</s>`) for a tokenizer
        from `xling tokenizer train`; ConfigError when it lacks a language token of `languages`."""
        missing = [lang for lang in languages
                   if tokenizer.convert_tokens_to_ids(language_token(lang)) in (None, tokenizer.unk_token_id)]  # fmt: skip
        if missing:
            raise ConfigError(f"tokenizer: no language token for {', '.join(missing)} (train it with these languages "
                              "or extra_languages)")  # fmt: skip
        tokens = {lang: language_token(lang) for lang in languages}
        return cls(
            tokenizer, Conventions("xling", tokens, tokens, name="the tokenizer"), tokenizer.eos_token_id
        )

    @property
    def family(self) -> str:
        return self.conventions.family

    def marks(self, src: str, tgt: str) -> Marks:
        """Return the marks of direction src -> tgt; XlingError (`languages`') when the model lacks one."""
        key = (src, tgt)
        if key not in self._marks:
            source_token = self.conventions.source_token(src)
            target_token = self.conventions.target_token(tgt)
            sequence = self.conventions.source_sequence([_PIECES], source_token, target_token)
            at = sequence.index(_PIECES)
            self._marks[key] = Marks(self._ids(sequence[:at]), self._ids(sequence[at + 1 :]),
                                     self._ids(self.conventions.target_prefix(target_token)))  # fmt: skip
        return self._marks[key]

    def _ids(self, tokens: Sequence[str]) -> tuple[int, ...]:
        """Return the ids of special tokens; XlingError for one the tokenizer does not have."""
        ids = self.tokenizer.convert_tokens_to_ids(list(tokens))
        for token, token_id in zip(tokens, ids, strict=True):
            if token_id is None or (
                token_id == self.tokenizer.unk_token_id and token != self.tokenizer.unk_token
            ):
                raise XlingError(f"{self.conventions.name}: its tokenizer has no token {token!r}")
        return tuple(ids)

    @property
    def language_ids(self) -> frozenset[int]:
        """Return the ids of the model's language tokens (taken out of what it outputs)."""
        tokens = list(self.conventions.language_tokens)
        return frozenset(i for i in self.tokenizer.convert_tokens_to_ids(tokens) if i is not None)

    @property
    def target_language_ids(self) -> frozenset[int]:
        """Return the ids of the model's language tokens in its output vocabulary (taken out of what it
        outputs): the target vocabulary of a Marian tokenizer with separate vocabularies, where
        `language_ids` (source-vocabulary ids) name other pieces; `language_ids` for the others."""
        if not getattr(self.tokenizer, "separate_vocabs", False):
            return self.language_ids
        target = self.tokenizer.target_encoder
        return frozenset(target[token] for token in self.conventions.language_tokens if token in target)

    def encode(self, texts: list[str], *, target: bool = False) -> list[list[int]]:
        """Return the piece ids of each text (no special tokens), by the target side's model if it has one."""
        if target and not self.shared_sides:
            return self.tokenizer(text_target=texts, add_special_tokens=False)["input_ids"]
        if not target:  # the tokenizer holds the source language's normaliser only
            texts = [self._normalize(text) for text in texts]
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]


@dataclass
class Direction:
    """The tokenized pairs of one translation direction, with an index of them sorted by length."""

    src: str
    tgt: str
    sources: list[np.ndarray]
    targets: list[np.ndarray]
    by_length: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        lengths = np.array([max(len(s), len(t)) for s, t in zip(self.sources, self.targets, strict=True)])
        self.by_length = np.argsort(lengths, kind="stable")

    @property
    def name(self) -> str:
        return f"{self.src}-{self.tgt}"

    def __len__(self) -> int:
        return len(self.sources)


@dataclass
class ParallelData:
    """Training directions (tokenized), the dev and test texts per direction, and what was dropped."""

    directions: list[Direction]
    dev: dict[str, tuple[list[str], list[str]]]
    """Per direction name: (sources, references) of the held-out dev share, untokenized."""
    languages: list[str]
    format: SequenceFormat
    """How the model family builds each direction's sequences."""
    left_out: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per direction name, the pairs left out and why: "versification" (a chapter numbered differently on
    the two sides), "too_long", "empty"; only the non-zero counts."""
    files: list[Path] = field(default_factory=list)
    """The files the pairs were read from: the corpus's files of its languages, then the parallel files (a
    run fingerprints them, so a resume notices one edited in place)."""
    file_dev: list[str] = field(default_factory=list)
    """The directions whose dev share was held out of the parallel files (`parallel`), in order."""

    @property
    def dropped_long(self) -> int:
        """Return the pairs dropped for a side over the length limit or empty, all directions together."""
        return sum(r.get("too_long", 0) + r.get("empty", 0) for r in self.left_out.values())

    def counts(self) -> dict[str, int]:
        """Return the number of training pairs of each direction."""
        return {d.name: len(d) for d in self.directions}


def corpus_directions(
    languages: Sequence[str], mode: str, pivot: str, extra: Iterable[str]
) -> list[tuple[str, str]]:
    """Return the ordered (src, tgt) pairs a corpus of `languages` trains on: pivot-centric or all pairs."""
    if mode not in DIRECTION_MODES:
        raise ConfigError(f"directions: {mode!r} must be one of {', '.join(DIRECTION_MODES)}")
    if mode == "all":
        chosen = [(a, b) for a in languages for b in languages if a != b]
    else:
        if pivot not in languages:
            raise ConfigError(f"pivot: {pivot} is not among the corpus languages ({', '.join(languages)})")
        chosen = [(a, b) for a in languages for b in languages if a != b and pivot in (a, b)]
    for item in extra:
        pair = parse_direction(item, "extra_directions")
        for lang in pair:
            if lang not in languages:
                raise ConfigError(f"extra_directions: {lang} in {item!r} is not a corpus language")
        if pair not in chosen:
            chosen.append(pair)
    return chosen


@dataclass
class CorpusSplit:
    """An aligned corpus's sentence pairs per direction, cut into training pairs and dev texts."""

    train: dict[tuple[str, str], list[tuple[str, str]]]
    """(src, tgt) -> its training (source, target) pairs."""
    dev: dict[str, tuple[list[str], list[str]]]
    """"src-tgt" -> (sources, references) of the ids in the dev share."""
    left_out: dict[str, dict[str, int]]
    """"src-tgt" -> {reason: count} of joined pairs left out ("versification")."""
    unshared: set[tuple[str, str]] = field(default_factory=set)
    """The directions whose two languages have no sentence id in common, held-out ones included."""


def split_corpus(
    aligned: AlignedCorpus,
    directions: Sequence[tuple[str, str]],
    heldout: HeldOut,
    dev_fraction: float,
    *,
    skip_bad: bool = False,
) -> CorpusSplit:
    """Return the training pairs and dev texts of `directions` of an aligned corpus: ids in `heldout` are
    never read, ids in the hashed dev share are dev, and chapters numbered apart in the two languages (their
    versification schemes, or verse lengths one verse apart) are left out of both."""
    texts: dict[str, dict[str, str]] = {}
    last: dict[str, dict[str, int]] = {}
    every: dict[str, dict[str, str]] = {}
    schemes = aligned.versification()
    for lang in sorted({lang for direction in directions for lang in direction}):
        rows = list(aligned.sentences(lang, skip_bad=skip_bad))
        # every id, the held-out ones too: a chapter's last verse hashed out of one side would make two
        # numberings that differ by a verse look alike (as alignment and pretraining count them)
        last[lang] = last_verses([sid for sid, _ in rows])
        every[lang] = dict(rows)
        texts[lang] = {sid: text for sid, text in rows if sid not in heldout}
    check_prefixes_match((sid for ids in every.values() for sid in ids), heldout.prefixes, aligned.root)
    split = CorpusSplit({}, {}, {})
    shifted: dict[tuple[str, str], frozenset[str]] = {}  # both directions of a pair: one measurement
    for src, tgt in directions:
        if every[src].keys().isdisjoint(every[tgt]):
            split.unshared.add((src, tgt))
        joined = [sid for sid in texts[src] if sid in texts[tgt]]
        apart = chapters_apart(schemes.get(src, ""), schemes.get(tgt, ""))
        pair = (min(src, tgt), max(src, tgt))
        if pair not in shifted:
            shifted[pair] = shifted_chapters(
                every[pair[0]], every[pair[1]], last[pair[0]], last[pair[1]], apart
            )
        shared = same_numbering(joined, last[src], last[tgt], f"{src}-{tgt}", apart=apart | shifted[pair])
        if len(shared) < len(joined):
            split.left_out.setdefault(f"{src}-{tgt}", {})["versification"] = len(joined) - len(shared)
        train_ids = [sid for sid in shared if not is_dev_id(sid, dev_fraction)]
        dev_ids = [sid for sid in shared if is_dev_id(sid, dev_fraction)]
        split.train[(src, tgt)] = [(texts[src][sid], texts[tgt][sid]) for sid in train_ids]
        if dev_ids:
            split.dev[f"{src}-{tgt}"] = ([texts[src][s] for s in dev_ids], [texts[tgt][s] for s in dev_ids])
    return split


def build_parallel_data(
    tokenizer,
    *,
    corpus: str = "",
    languages: Sequence[str] = (),
    mode: str = "pivot",
    pivot: str = "eng",
    extra_directions: Sequence[str] = (),
    parallel: Sequence[str] = (),
    heldout: HeldOut | None = None,
    dev_fraction: float = 0.0,
    max_length: int = 128,
    skip_bad: bool = False,
    sequence_format: SequenceFormat | None = None,
    clause_split: ClauseSplit | None = None,
) -> ParallelData:
    """Return the tokenized training directions and dev texts of an aligned corpus and parallel files.

    Sentence ids in `heldout` (the test book) are never read into training; ids in the hashed dev share
    become the dev texts of each corpus direction, and pairs of the parallel files in it (hashed on the pair)
    those of both their directions. Pairs with a side over `max_length` tokens (language
    tokens and `</s>` included) are dropped and counted. `sequence_format` is the model family's (default:
    xling's, from the tokenizer's language tokens); a direction the model cannot translate is left out when
    it translates the other way (a one-way model), else its error is raised. With `clause_split`, each
    direction also trains on the clause pairs cut from its training pairs (`clause_pairs`).
    """
    pivot = normalize_language(pivot) if pivot else ""
    heldout = heldout or HeldOut()
    left_out: dict[str, dict[str, int]] = {}
    pairs_by_direction: dict[tuple[str, str], list[tuple[str, str]]] = {}
    dev: dict[str, tuple[list[str], list[str]]] = {}
    files: list[Path] = []
    unshared: set[tuple[str, str]] = set()
    if corpus:
        aligned = AlignedCorpus.from_dir(resolve_corpus(corpus), list(languages) or None)
        files += [aligned.files[lang] for lang in aligned.languages]
        split = split_corpus(aligned, corpus_directions(aligned.languages, mode, pivot, extra_directions),
                             heldout, dev_fraction, skip_bad=skip_bad)  # fmt: skip
        for item in extra_directions:  # asked for by name: an error, where a direction of `mode` is a warning
            src, tgt = parse_direction(item, "extra_directions")
            if (src, tgt) in split.unshared:
                raise ConfigError(f"extra_directions: {item!r}: no sentence id of {corpus} is in both {src} and "
                                  f"{tgt} (one may have only part of the corpus, e.g. one Testament)")  # fmt: skip
        pairs_by_direction, dev, left_out = split.train, split.dev, split.left_out
        unshared = split.unshared
    file_dev: list[str] = []
    for spec in parallel:
        src, tgt, pairs = read_parallel_file(spec)
        files += parallel_paths(spec)
        if sequence_format is None:  # xling's own models: one token per language (`xling translate` too)
            for code in (src, tgt):
                _warn_script_dropped(code, spec)
            src, tgt = language_of(src), language_of(tgt)
            if src == tgt:
                raise ConfigError(f"parallel: {spec.partition('=')[0]!r} would train {src} into itself: xling's "
                                  "own models have one token per language, whatever its script or region")  # fmt: skip
        if not pairs:  # else the model would list languages it never saw a pair of
            raise DataError("no sentence pairs in it", spec.partition("=")[2])
        # a dev share of the pairs, as of a corpus's verses: hashed on the pair, so both directions hold out the
        # same ones (and a pair the file repeats never trains)
        # a pair with an empty side never trains (left out below), and as dev it would score against ""
        held = {
            pair for pair in pairs if pair[0] and pair[1] and is_dev_id(f"{pair[0]}\t{pair[1]}", dev_fraction)
        }
        if held:
            original, pairs = pairs, [pair for pair in pairs if pair not in held]
            held_out = list(dict.fromkeys(pair for pair in original if pair in held))  # file order, once each
            for name, sources, references in (
                (f"{src}-{tgt}", [a for a, _ in held_out], [b for _, b in held_out]),
                (f"{tgt}-{src}", [b for _, b in held_out], [a for a, _ in held_out]),
            ):
                texts = dev.setdefault(name, ([], []))
                texts[0].extend(sources)
                texts[1].extend(references)
                file_dev.append(name)
        pairs_by_direction.setdefault((src, tgt), []).extend(pairs)
        pairs_by_direction.setdefault((tgt, src), []).extend((b, a) for a, b in pairs)
    if not pairs_by_direction:
        if corpus:  # one language, or directions none of whose pairs are there
            raise ConfigError(f"no parallel data: data.corpus {corpus} gives no direction between two of its "
                              f"languages read ({', '.join(aligned.languages)}); name at least two in "
                              "data.languages, or add parallel (src-tgt=path)")  # fmt: skip
        raise ConfigError(
            "no parallel data: set data.corpus (an id-aligned folder) or parallel (src-tgt=path)"
        )

    if clause_split is not None:
        added = add_clause_pairs(pairs_by_direction, clause_split)
        logger.info("added %d clause pairs (%s)", sum(added.values()),
                    ", ".join(f"{a}-{b} {n}" for (a, b), n in added.items()))  # fmt: skip
    all_langs = sorted({lang for pair in pairs_by_direction for lang in pair})
    sequence_format = sequence_format or SequenceFormat.xling(tokenizer, all_langs)
    marks = _direction_marks(sequence_format, list(pairs_by_direction))
    for src, tgt in [pair for pair in pairs_by_direction if pair not in marks]:
        del pairs_by_direction[(src, tgt)]
        dev.pop(f"{src}-{tgt}", None)
    all_langs = sorted({lang for pair in pairs_by_direction for lang in pair})

    directions, dropped, empty = [], 0, 0
    source_cache: dict[str, np.ndarray] = {}
    # one cache for both sides where the tokenizer cuts them alike: a pivot text is a source and a target
    target_cache = source_cache if sequence_format.shared_sides else {}
    for (src, tgt), pairs in pairs_by_direction.items():
        sources = _encode([a for a, _ in pairs], sequence_format, source_cache, target=False)
        targets = _encode([b for _, b in pairs], sequence_format, target_cache, target=True)
        m = marks[(src, tgt)]
        source_room = max_length - len(m.before) - len(m.after)
        target_room = max_length - len(m.prefix) - 1
        keep = [i for i, (s, t) in enumerate(zip(sources, targets, strict=True))
                if 0 < len(s) <= source_room and 0 < len(t) <= target_room]  # fmt: skip
        blank = sum(1 for s, t in zip(sources, targets, strict=True) if not len(s) or not len(t))
        dropped += len(pairs) - len(keep)
        empty += blank
        reasons = left_out.setdefault(f"{src}-{tgt}", {})
        reasons.update(
            {k: n for k, n in (("too_long", len(pairs) - len(keep) - blank), ("empty", blank)) if n}
        )
        if keep:
            directions.append(Direction(src, tgt, [sources[i] for i in keep], [targets[i] for i in keep]))
        else:
            # its dev verses would be scored for a direction that never trains
            if pairs:
                logger.warning("%s-%s: every one of its %d pairs was left out (too long or empty); not "
                               "trained", src, tgt, len(pairs))  # fmt: skip
            elif (src, tgt) in unshared:
                logger.warning(
                    "%s-%s: no sentence id of the corpus is in both languages; not trained", src, tgt
                )
            else:
                logger.warning("%s-%s: no sentence pairs (every shared id is held out or dev); not trained",
                               src, tgt)  # fmt: skip
            dev.pop(f"{src}-{tgt}", None)
    if not directions:
        raise DataError(_no_pairs_left(corpus, parallel, dropped, empty, max_length))
    # the languages of the directions that train: a model must not claim one it never saw a pair of
    all_langs = sorted({lang for direction in directions for lang in (direction.src, direction.tgt)})
    if dropped - empty:
        logger.info("dropped %d pairs with a side longer than %d tokens", dropped - empty, max_length)
    if empty:  # a sign of misaligned files, unlike long pairs: said louder
        logger.warning("left out %d pairs with an empty side (`left_out` in the model's xling.json says "
                       "which directions)", empty)  # fmt: skip
    return ParallelData(directions, dev, all_langs, sequence_format,
                        {name: reasons for name, reasons in left_out.items() if reasons}, files,
                        [name for name in dict.fromkeys(file_dev) if name in dev])  # fmt: skip


def add_clause_pairs(
    pairs_by_direction: dict[tuple[str, str], list[tuple[str, str]]], split: ClauseSplit
) -> dict[tuple[str, str], int]:
    """Return how many clause pairs each direction gained, after appending them to its pairs in place."""
    added = {}
    for direction, pairs in pairs_by_direction.items():
        clauses = [clause for src, tgt in pairs for clause in clause_pairs(src, tgt, split)]
        pairs.extend(clauses)
        added[direction] = len(clauses)
    return added


def _no_pairs_left(corpus: str, parallel: Sequence[str], dropped: int, empty: int, max_length: int) -> str:
    """Return the message of a training set left without pairs: its sources, and why each pair went."""
    sources = ([f"corpus {corpus} ({resolve_corpus(corpus)})"] if corpus else []) + [
        f"parallel {spec.partition('=')[2]}" for spec in parallel
    ]
    where = "; ".join(sources)
    if not dropped:
        return (f"no training pairs in {where} (empty files, or no sentence id outside the held-out and dev "
                "shares is in both languages of a direction)")  # fmt: skip
    reasons = []
    if dropped - empty:
        reasons.append(f"{dropped - empty:,} have a side longer than max_length {max_length} tokens "
                       "(language tokens and </s> included)")  # fmt: skip
    if empty:
        reasons.append(f"{empty:,} have an empty side")
    return (f"no training pairs left in {where}: of {dropped:,} pairs, {' and '.join(reasons)}; raise "
            "max_length or check the data")  # fmt: skip


def _direction_marks(
    sequence_format: SequenceFormat, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], Marks]:
    """Return the marks of each direction the model translates; raise the error of one whose reverse it
    does not translate either (a language the model lacks), or of the first when none is left."""
    marks: dict[tuple[str, str], Marks] = {}
    errors: dict[tuple[str, str], XlingError] = {}
    for pair in pairs:
        try:
            marks[pair] = sequence_format.marks(*pair)
        except XlingError as error:
            errors[pair] = error
    for (src, tgt), error in errors.items():
        if (tgt, src) not in marks:
            raise error
        logger.info("%s-%s left out: %s", src, tgt, error)
    return marks


def _encode(texts: list[str], sequence_format: SequenceFormat, cache: dict[str, np.ndarray], *,
            target: bool) -> list[np.ndarray]:  # fmt: skip
    """Return the piece ids of each text (no special tokens), tokenizing each distinct text once."""
    new = [t for t in dict.fromkeys(texts) if t not in cache]
    for start in range(0, len(new), 4096):
        chunk = new[start : start + 4096]
        ids = sequence_format.encode(chunk, target=target)
        cache.update({text: np.asarray(row, dtype=np.int32) for text, row in zip(chunk, ids, strict=True)})
    return [cache[t] for t in texts]


def direction_probabilities(counts: Sequence[int], temperature: float) -> np.ndarray:
    """Return p_d ~ n_d^(1/T): T=1 follows the data, larger T flattens towards uniform (M2M-100: T=5)."""
    if temperature <= 0:
        raise ConfigError(f"temperature: {temperature} must be above 0")
    weights = np.asarray(counts, dtype=np.float64) ** (1.0 / temperature)
    return weights / weights.sum()


class TranslationBatches:
    """The training loop's batch source: temperature-sampled translation pairs of like length.

    A batch of `batch_size` pairs is drawn as `length_groups` groups (1 by default), each from its own narrow
    band of lengths (`length_band` of a direction's pairs around a length quantile); the objective runs each
    group padded only to its own longest pair. One band a batch pads little, but a batch is all short or all
    long pairs and learns less per target token than a random one; 4 groups mix lengths and learn as much
    as random batches, but 4 narrower forward passes cost ~10% of the speed on a 2-core CPU, and after equal
    minutes neither was ahead (docs/translation.md, Settings tried). The quantiles of consecutive steps
    follow a low-discrepancy sequence rather than independent draws (`_quantiles`), so any run of steps
    covers short and long pairs evenly: held-out loss after 150k target tokens (benchmarks/
    mt_train_speed.py's workload, seeds 0-2) 6.372 / 6.372 / 6.368 against 6.418 / 6.316 / 6.472 with
    independent quantiles.
    """

    def __init__(self, data: ParallelData, *, batch_size: int, temperature: float, seed: int,
                 length_band: float = 0.02, length_groups: int = 1):  # fmt: skip
        check_int("length_groups", length_groups, 1)
        self.directions = data.directions
        self.probabilities = direction_probabilities([len(d) for d in self.directions], temperature)
        self.format = data.format
        self.marks = [data.format.marks(d.src, d.tgt) for d in self.directions]
        self.batch_size, self.seed, self.band = batch_size, seed, length_band
        self.first_quantile = float(np.random.default_rng(seed).random())
        groups = min(length_groups, batch_size)
        self.group_sizes = [batch_size // groups + (g < batch_size % groups) for g in range(groups)]

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, micro, rank, world_size])
        quantiles = self._quantiles(step, micro, rank, world_size)
        groups = zip(self.group_sizes, quantiles, strict=True)
        pairs = [pair for size, quantile in groups for pair in self._draw_group(rng, size, quantile)]
        return self.collate(pairs, self.group_sizes)

    def _quantiles(self, step: int, micro: int, rank: int, world_size: int) -> list[float]:
        """Return the length quantile of each group of a micro-batch: the step's quantile moves by
        QUANTILE_STEP from step to step (mod 1), and the step's other draws (groups, ranks, micro-batches)
        sit QUANTILE_SPREAD apart from it."""
        groups = len(self.group_sizes)
        first = (micro * world_size + rank) * groups
        start = self.first_quantile + step * QUANTILE_STEP
        return [(start + (first + g) * QUANTILE_SPREAD) % 1.0 for g in range(groups)]

    def _draw_group(self, rng: np.random.Generator, size: int, quantile: float) -> list[tuple[int, int]]:
        """Return `size` (direction number, pair index) items of like length: each pair drawn near `quantile`
        in its own direction's length order."""
        chosen = rng.choice(len(self.directions), size=size, p=self.probabilities)
        offsets = rng.uniform(-1.0, 1.0, size)
        pairs = []
        for d, offset in zip(chosen, offsets, strict=True):
            direction = self.directions[d]
            count = len(direction)
            # within length_band of the direction's pairs but never fewer than the group (a small corpus
            # would otherwise fill a group with copies of one pair)
            half = min(max(self.band * count, size), count / 2)
            # the window stays inside the direction: clipping the position instead would pile every draw
            # beyond an end onto its end pair (the shortest and longest pairs drawn ~150 times too often)
            center = min(max(quantile * count, half), count - half)
            position = min(int(center + offset * half), count - 1)
            pairs.append((int(d), direction.by_length[position]))
        return pairs

    def collate(
        self, pairs: list[tuple[int, int]], group_sizes: Sequence[int] = ()
    ) -> dict[str, torch.Tensor]:
        """Return the padded tensors of (direction number, pair index) items in the model family's format;
        with two or more `group_sizes` (consecutive rows per group) also `group_sizes`, for the objective to
        run each group padded only to its own longest pair (one group: the batch as it was before groups)."""
        sources, labels = [], []
        for d, i in pairs:
            direction, marks = self.directions[d], self.marks[d]
            sources.append([*marks.before, *direction.sources[i].tolist(), *marks.after])
            labels.append([*marks.prefix, *direction.targets[i].tolist(), self.format.eos])
        start = self.format.decoder_start  # </s> for M2M-100, NLLB and xling; <pad> for Marian
        decoder_inputs = [[start, *row[:-1]] for row in labels]
        input_ids, attention_mask = _pad(sources, self.format.pad)
        decoder_input_ids, decoder_attention_mask = _pad(decoder_inputs, self.format.pad)
        label_ids, _ = _pad(labels, IGNORE_INDEX)
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
            "labels": label_ids,
        }
        if len(group_sizes) > 1:
            batch["group_sizes"] = torch.tensor(list(group_sizes), dtype=torch.long)
        return batch


def _pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (ids, mask) of rows right-padded with `value` to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask
