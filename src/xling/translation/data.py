"""Parallel data for translation training: directions, tokenized pairs, and the batches of the training loop.

Sources, all at once: an id-aligned corpus folder (the Bible: every language's verses joined on verse id),
as every ordered pair of its languages or pivot-centric (eng<->xx) plus chosen extra directions; and
parallel files as `src-tgt=path.tsv` (`src<TAB>tgt` lines) or `src-tgt=path.src,path.tgt` (Moses: two
line-aligned files). Every pair is used in both directions unless a direction is named explicitly.

Batches follow M2M-100: source `__src__ pieces </s>`, decoder input `</s> __tgt__ pieces`, labels
`__tgt__ pieces </s>`. Each step draws its directions with temperature sampling over the directions' pair
counts (p_d ~ n_d^(1/T), as M2M-100 and mBART do) and its pairs from one narrow length band, so a batch
carries little padding; like every xling batch source it is a pure function of (seed, step, micro, rank).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from xling.data.languages import normalize_language
from xling.data.readers import AlignedCorpus
from xling.data.sources import HeldOut, resolve_corpus
from xling.errors import ConfigError, DataError
from xling.pretraining.masking import IGNORE_INDEX
from xling.tokenization.vocabulary import language_token

logger = logging.getLogger(__name__)

DIRECTION_MODES = ("pivot", "all")


def parse_direction(text: str, where: str = "directions") -> tuple[str, str]:
    """Return (src, tgt) ISO 639-3 codes of a direction written `src-tgt` (e.g. `en-de`, `eng-deu`)."""
    src, sep, tgt = text.strip().partition("-")
    if not sep or not src or not tgt:
        raise ConfigError(f"{where}: {text!r} must be src-tgt, e.g. eng-deu")
    return normalize_language(src, where=f"{where} {text!r}"), normalize_language(
        tgt, where=f"{where} {text!r}"
    )


def is_dev_id(sentence_id: str, fraction: float) -> bool:
    """Return whether a sentence id belongs to the hashed dev share (the same in every run and process)."""
    return fraction > 0 and (zlib.crc32(b"dev:" + sentence_id.encode()) % 10_000) < fraction * 10_000


def read_parallel_file(spec: str) -> tuple[str, str, list[tuple[str, str]]]:
    """Return (src, tgt, pairs) of a `src-tgt=path.tsv` or `src-tgt=path.src,path.tgt` parallel source."""
    direction, sep, paths = spec.partition("=")
    if not sep:
        raise ConfigError(f"parallel: {spec!r} must be src-tgt=path.tsv or src-tgt=path.src,path.tgt")
    src, tgt = parse_direction(direction, "parallel")
    files = [Path(p) for p in paths.split(",")]
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
        return src, tgt, pairs
    if len(files) != 2:
        raise ConfigError(f"parallel: {spec!r} names {len(files)} files; give one .tsv or two Moses files")
    left_lines = [line for _, line in _lines(files[0])]
    right_lines = [line for _, line in _lines(files[1])]
    if len(left_lines) != len(right_lines):
        raise DataError(f"has {len(left_lines)} lines but {files[1]} has {len(right_lines)}", files[0])
    return src, tgt, [(a.strip(), b.strip()) for a, b in zip(left_lines, right_lines, strict=True)]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, line without newline) of a plain or gzip UTF-8 file, naming it on bad bytes."""
    if not path.is_file():
        raise DataError("file not found", path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="strict", newline="\n") as handle:
        number = 0
        try:
            for number, line in enumerate(handle, 1):  # noqa: B007 (number is read in the except)
                yield number, line.rstrip("\n").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 ({exc.reason})", path, number + 1) from exc


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
    dropped_long: int = 0

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
) -> ParallelData:
    """Return the tokenized training directions and dev texts of an aligned corpus and parallel files.

    Sentence ids in `heldout` (the test book) are never read into training; ids in the hashed dev share
    become the dev texts of each corpus direction. Pairs with a side over `max_length` tokens (language
    token and `</s>` included) are dropped and counted.
    """
    pivot = normalize_language(pivot) if pivot else ""
    heldout = heldout or HeldOut()
    texts: dict[str, dict[str, str]] = {}
    pairs_by_direction: dict[tuple[str, str], list[tuple[str, str]]] = {}
    dev: dict[str, tuple[list[str], list[str]]] = {}
    if corpus:
        aligned = AlignedCorpus.from_dir(resolve_corpus(corpus), list(languages) or None)
        for lang in aligned.languages:
            texts[lang] = {
                sid: text for sid, text in aligned.sentences(lang, skip_bad=skip_bad) if sid not in heldout
            }
        for src, tgt in corpus_directions(aligned.languages, mode, pivot, extra_directions):
            shared = [sid for sid in texts[src] if sid in texts[tgt]]
            train_ids = [sid for sid in shared if not is_dev_id(sid, dev_fraction)]
            dev_ids = [sid for sid in shared if is_dev_id(sid, dev_fraction)]
            pairs_by_direction[(src, tgt)] = [(texts[src][sid], texts[tgt][sid]) for sid in train_ids]
            if dev_ids:
                dev[f"{src}-{tgt}"] = ([texts[src][s] for s in dev_ids], [texts[tgt][s] for s in dev_ids])
    for spec in parallel:
        src, tgt, pairs = read_parallel_file(spec)
        pairs_by_direction.setdefault((src, tgt), []).extend(pairs)
        pairs_by_direction.setdefault((tgt, src), []).extend((b, a) for a, b in pairs)
    if not pairs_by_direction:
        raise ConfigError(
            "no parallel data: set data.corpus (an id-aligned folder) or parallel (src-tgt=path)"
        )

    all_langs = sorted({lang for pair in pairs_by_direction for lang in pair})
    missing = [lang for lang in all_langs if tokenizer.convert_tokens_to_ids(language_token(lang))
               in (None, tokenizer.unk_token_id)]  # fmt: skip
    if missing:
        raise ConfigError(f"tokenizer: no language token for {', '.join(missing)} (train it with these languages "
                          "or extra_languages)")  # fmt: skip

    directions, dropped = [], 0
    cache: dict[str, np.ndarray] = {}
    for (src, tgt), pairs in pairs_by_direction.items():
        sources = _encode([a for a, _ in pairs], tokenizer, cache)
        targets = _encode([b for _, b in pairs], tokenizer, cache)
        keep = [i for i, (s, t) in enumerate(zip(sources, targets, strict=True))
                if 0 < len(s) <= max_length - 2 and 0 < len(t) <= max_length - 2]  # fmt: skip
        dropped += len(pairs) - len(keep)
        if keep:
            directions.append(Direction(src, tgt, [sources[i] for i in keep], [targets[i] for i in keep]))
    if dropped:
        logger.info("dropped %d pairs with a side longer than %d tokens or empty", dropped, max_length)
    return ParallelData(directions, dev, all_langs, dropped)


def _encode(texts: list[str], tokenizer, cache: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Return the piece ids of each text (no special tokens), tokenizing each distinct text once."""
    new = [t for t in dict.fromkeys(texts) if t not in cache]
    for start in range(0, len(new), 4096):
        chunk = new[start : start + 4096]
        ids = tokenizer(chunk, add_special_tokens=False)["input_ids"]
        cache.update({text: np.asarray(row, dtype=np.int32) for text, row in zip(chunk, ids, strict=True)})
    return [cache[t] for t in texts]


def direction_probabilities(counts: Sequence[int], temperature: float) -> np.ndarray:
    """Return p_d ~ n_d^(1/T): T=1 follows the data, larger T flattens towards uniform (M2M-100: T=5)."""
    if temperature <= 0:
        raise ConfigError(f"temperature: {temperature} must be above 0")
    weights = np.asarray(counts, dtype=np.float64) ** (1.0 / temperature)
    return weights / weights.sum()


class TranslationBatches:
    """The training loop's batch source: length-banded, temperature-sampled translation pairs."""

    def __init__(self, data: ParallelData, tokenizer, *, batch_size: int, temperature: float, seed: int,
                 length_band: float = 0.02):  # fmt: skip
        self.directions = data.directions
        self.probabilities = direction_probabilities([len(d) for d in self.directions], temperature)
        self.lang_ids = {
            lang: tokenizer.convert_tokens_to_ids(language_token(lang)) for lang in data.languages
        }
        self.pad, self.eos = tokenizer.pad_token_id, tokenizer.eos_token_id
        self.batch_size, self.seed, self.band = batch_size, seed, length_band

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, micro, rank, world_size])
        chosen = rng.choice(len(self.directions), size=self.batch_size, p=self.probabilities)
        # one length quantile per batch; each pair is drawn near it in its own direction's length order,
        # within length_band of the direction's pairs but never fewer than a batch (a small corpus would
        # otherwise fill a batch with copies of one pair)
        quantile = rng.random()
        offsets = rng.uniform(-1.0, 1.0, self.batch_size)
        pairs = []
        for d, offset in zip(chosen, offsets, strict=True):
            direction = self.directions[d]
            size = len(direction)
            half = max(self.band * size, self.batch_size)
            position = int(np.clip(quantile * size + offset * half, 0, size - 1))
            pairs.append((direction, direction.by_length[position]))
        return self.collate(pairs)

    def collate(self, pairs: list[tuple[Direction, int]]) -> dict[str, torch.Tensor]:
        """Return the padded tensors of M2M-100-style examples for (direction, pair index) items."""
        sources = [[self.lang_ids[d.src], *d.sources[i].tolist(), self.eos] for d, i in pairs]
        labels = [[self.lang_ids[d.tgt], *d.targets[i].tolist(), self.eos] for d, i in pairs]
        decoder_inputs = [[self.eos, *row[:-1]] for row in labels]  # M2M-100 starts decoding from </s>
        input_ids, attention_mask = _pad(sources, self.pad)
        decoder_input_ids, decoder_attention_mask = _pad(decoder_inputs, self.pad)
        label_ids, _ = _pad(labels, IGNORE_INDEX)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "decoder_input_ids": decoder_input_ids,
            "decoder_attention_mask": decoder_attention_mask,
            "labels": label_ids,
        }


def _pad(rows: list[list[int]], value: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (ids, mask) of rows right-padded with `value` to the longest."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), value, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask
