"""Pretraining data: tokenized sentence pools per language, and the MLM/TLM batches drawn from them.

Each language's sentences are tokenized once into one flat int32 array (`<s> ... </s>` per sentence) with
offsets, as nanoGPT keeps its tokens. MLM batches are streams of `max_length` consecutive tokens from a
language chosen with the smoothed distribution (XLM/XLM-R's streams of text); TLM batches are translation
pairs, each side opened by its language token, positions restarting at the second side (XLM).

Every batch is a pure function of (seed, step, micro-batch, rank): that is what makes resume exact and
keeps DDP ranks on different data without a sampler to synchronise.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from xling.data.languages import pair_file_spec
from xling.data.readers import folder_language_code, read_parallel_tsv
from xling.data.root import check_not_test_set
from xling.data.sampling import smoothed_probabilities
from xling.data.sources import TextSources, in_nfc
from xling.data.versification import chapters_apart, last_verses, numbered_apart
from xling.errors import ConfigError, DataError, XlingError
from xling.pretraining.masking import mask_tokens
from xling.tokenization.vocabulary import language_token

PAD_ID, BOS_ID, EOS_ID = 1, 0, 2
POSITION_OFFSET = 2  # XLM-R's positions start at padding_idx + 1


@dataclass
class SentencePool:
    """The tokenized sentences of one language: flat token array plus offsets (sentence i is
    tokens[offsets[i]:offsets[i + 1]], `<s>` and `</s>` included)."""

    tokens: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sentence(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]


@dataclass
class PretrainingData:
    """Sentence pools per language and aligned units (rows of sentence indices per language, -1 = none)."""

    languages: list[str]
    pools: dict[str, SentencePool]
    units: np.ndarray  # [n_units, n_languages] int32
    lang_token_ids: dict[str, int]
    heldout: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # lang -> [(id, text)]

    def token_counts(self) -> dict[str, int]:
        return {lang: int(len(pool.tokens)) for lang, pool in self.pools.items()}


def _tokenize(tokenizer, texts: list[str], batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    pieces: list[np.ndarray] = []
    lengths: list[int] = []
    for i in range(0, len(texts), batch):
        encoded = tokenizer(texts[i : i + batch], add_special_tokens=True, truncation=False)["input_ids"]
        for ids in encoded:
            pieces.append(np.asarray(ids, dtype=np.int32))
            lengths.append(len(ids))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32)
    return tokens, offsets


def _id_hash(sentence_id: str) -> int:
    """Return the stable hash that orders sentence ids for the cap (crc32: the same in every process)."""
    return zlib.crc32(sentence_id.encode())


def _id_sampler(cap: int, ids: Iterable[str]):
    """Return a predicate keeping `cap` of the training sentence `ids`, spread over the whole corpus: those
    of the `cap` smallest hashes.

    A hash of the id, not the first `cap` lines: those would be Genesis alone for a Bible. The same hash
    for every language keeps the kept ids nested across languages (each language keeps the ids below its
    own threshold), so translations stay paired for TLM.
    """
    hashes = np.sort(np.fromiter((_id_hash(i) for i in ids), dtype=np.uint32)) if cap else None
    if hashes is None or cap >= len(hashes):
        return lambda sentence_id: True
    threshold = int(hashes[cap - 1])
    return lambda sentence_id: _id_hash(sentence_id) <= threshold


def parse_parallel_spec(spec: str) -> tuple[str, str, Path]:
    """Return (source language, target language, file) of a `parallel` entry `src-tgt=path.tsv`, the codes
    normalised; ConfigError naming the entry when it is not of that form or pairs a language with itself."""
    src, tgt, path = pair_file_spec(spec, "parallel", "eng-deu=pairs.tsv")
    if src == tgt:  # a TLM pair draws two languages of its unit
        raise ConfigError(f"parallel: {spec!r} pairs {src} with itself; a translation pair needs two "
                          "languages")  # fmt: skip
    check_not_test_set(path, f"parallel {spec!r}")
    return src, tgt, Path(path)


def training_language(code: str, languages: Sequence[str]) -> str | None:
    """Return the language of `languages` that `code` stands for, under the code the run keeps it under: zh
    and zho are a corpus's cmn, as the corpus maps its files' codes (AlignedCorpus.code); None for none of
    them. DataError when it stands for several (a macrolanguage with no default member among them)."""
    return folder_language_code(code, set(languages).__contains__, Path(), "the training languages")


def _training_code(code: str, languages: Sequence[str]) -> str:
    """Return the training language a parallel file's `code` stands for (`training_language`); else `code`,
    a language of the parallel files alone (or one that names several of `languages`, kept as given)."""
    try:
        return training_language(code, languages) or code
    except DataError:
        return code


def build_pretraining_data(
    sources: TextSources,
    tokenizer,
    parallel_files: Iterable[str] = (),
    max_sentences_per_language: int = 0,
) -> PretrainingData:
    """Return tokenized pools for every language of `sources`, with the corpus's id alignment as units.

    `parallel_files` are extra `src-tgt=path.tsv` translation pairs (added to both pools and to the units).
    Every text is put in NFC (xling.data.sources.in_nfc), the form the tokenizer's vocabulary was learned on.
    Held-out ids of the aligned corpus are kept aside as text in `heldout` for evaluation. A verse of a
    chapter numbered otherwise than in the reference language (`xling.data.versification`) is in its
    language's pool but in no unit.
    """
    languages = list(sources.languages)
    texts: dict[str, list[str]] = {lang: [] for lang in languages}
    unit_rows: dict[str, dict[str, int]] = {}  # sentence id -> {lang: index in pool}
    heldout: dict[str, list[tuple[str, str]]] = {lang: [] for lang in languages}
    aligned = sources.aligned()
    linked: dict[str, list[str]] = {}  # lang -> the ids it has in the units
    last: dict[str, dict[str, int]] = {}  # lang -> last_verses of every id it has (held out or not)
    every_text: dict[str, dict[str, str]] = {}
    for lang in aligned.languages if aligned else []:
        # the cap counts training sentences: counting held-out ids too would keep fewer than asked
        training = (sentence_id for sentence_id, _ in aligned.sentences(lang, skip_bad=sources.skip_bad)
                    if sentence_id not in sources.heldout)  # fmt: skip
        keep = _id_sampler(max_sentences_per_language, training)  # reads the file only with a cap
        every_id, linked[lang] = [], []
        every_text[lang] = {}
        # in NFC, as the tokenizer's sample was: held-out texts too, which the evaluation encodes
        for sentence_id, text in sources.corpus_sentences(aligned, lang):
            every_id.append(sentence_id)
            every_text[lang][sentence_id] = text
            if sentence_id in sources.heldout:
                heldout[lang].append((sentence_id, text))
            elif keep(sentence_id):
                unit_rows.setdefault(sentence_id, {})[lang] = len(texts[lang])
                linked[lang].append(sentence_id)
                texts[lang].append(text)
        last[lang] = last_verses(every_id)
    if linked:
        # a verse of a chapter numbered otherwise than in the reference (eng when there is one, else the first
        # language) leaves its unit, so a TLM pair never joins verses that are not translations; MLM keeps it
        reference = "eng" if "eng" in linked else next(iter(linked))
        schemes = aligned.versification() if aligned else {}
        for lang, ids in linked.items():
            apart = chapters_apart(schemes.get(lang, ""), schemes.get(reference, ""))
            for sentence_id in numbered_apart(
                lang,
                ids,
                last[lang],
                reference,
                last[reference],
                apart,
                (every_text[lang], every_text[reference]),
            ):
                del unit_rows[sentence_id][lang]
    for lang, paths in sources.mono_files.items():
        for path in paths:
            for text in sources.texts_from_file(path):
                if max_sentences_per_language and len(texts[lang]) >= max_sentences_per_language:
                    break
                texts[lang].append(text)
    extra_units: list[dict[str, int]] = []
    for spec in parallel_files:
        src, tgt, path = parse_parallel_spec(spec)
        src, tgt = (_training_code(lang, languages) for lang in (src, tgt))
        for lang in (src, tgt):
            if lang not in texts:
                languages.append(lang)
                texts[lang] = []
        for a, b in read_parallel_tsv(path, skip_bad=sources.skip_bad):
            extra_units.append({src: len(texts[src]), tgt: len(texts[tgt])})
            texts[src].append(in_nfc(a))  # as every other text (TextSources.texts)
            texts[tgt].append(in_nfc(b))
    empty = [lang for lang in languages if not texts[lang]]
    if empty:
        raise XlingError(f"no training sentences for: {', '.join(empty)} (all held out or files empty?)")

    pools = {lang: SentencePool(*_tokenize(tokenizer, texts[lang])) for lang in languages}
    column = {lang: j for j, lang in enumerate(languages)}
    rows = [row for row in unit_rows.values() if len(row) >= 2] + extra_units
    units = np.full((len(rows), len(languages)), -1, dtype=np.int32)
    for i, row in enumerate(rows):
        for lang, idx in row.items():
            units[i, column[lang]] = idx
    vocab = tokenizer.get_vocab()
    missing = [lang for lang in languages if language_token(lang) not in vocab]
    if missing:
        raise XlingError(
            f"the tokenizer has no language token for: {', '.join(missing)}; retrain it with these languages"
        )
    lang_ids = {lang: vocab[language_token(lang)] for lang in languages}
    return PretrainingData(languages, pools, units, lang_ids, heldout)


def tlm_side(sentence: np.ndarray, limit: int, lang_token_id: int) -> np.ndarray:
    """Return one side of a TLM pair: `sentence` (`<s> ... </s>`) opened by its language token instead of
    `<s>`, and cut to at most `limit` tokens that still end with its `</s>`.

    A side cut to fit keeps its end token, as XLM's truncate() puts eos back, so every side ends as an uncut
    one does (before, 2,592 of 6,400 sides at max_length 128 on a Bible ended without it).
    """
    ids = sentence[:limit].copy()
    if len(sentence) > limit >= 2:  # the last kept token gives way to the end token
        ids[-1] = sentence[-1]
    ids[0] = lang_token_id  # the language token opens each side
    return ids


def stream_starts(pool: SentencePool, length: int) -> np.ndarray:
    """Return where an MLM stream of `length` tokens may start in `pool.tokens`: each sentence's start, and
    in a sentence longer than `length` every `length` tokens after it, so that no token of a long line (a
    paragraph or a document per line) is out of reach, as in XLM's streams over the whole corpus. For
    sentences no longer than `length`, the starts are the sentences' offsets."""
    starts = pool.offsets[:-1]
    chunks = np.maximum(1, -(-np.diff(pool.offsets) // length))  # ceil, one at least (an empty line)
    if len(chunks) == 0 or chunks.max() == 1:
        return starts
    first = np.cumsum(chunks) - chunks  # the index of each sentence's first start
    within = np.arange(int(chunks.sum())) - np.repeat(first, chunks)
    return np.repeat(starts, chunks) + within * length


@dataclass
class PretrainBatches:
    """Draws MLM streams and TLM pairs; `get(step, micro, rank, world)` is deterministic in its arguments."""

    data: PretrainingData
    batch_size: int
    max_length: int
    mask_id: int
    first_regular_id: int
    vocab_size: int
    mlm_probability: float = 0.15
    tlm_ratio: float = 0.5
    alpha: float = 0.3
    seed: int = 0
    # "" pairs any two languages of a unit; a language code makes every TLM pair pivot-xx, as XLM's en-xx
    tlm_pivot: str = ""

    def __post_init__(self) -> None:
        # lines (sentences), not tokens, as XLM-R's paper counts: see PretrainConfig.alpha
        counts = {lang: len(self.data.pools[lang]) for lang in self.data.languages}
        self._langs = list(self.data.languages)
        probs = smoothed_probabilities(counts, self.alpha)
        self._probs = np.array([probs[lang] for lang in self._langs])
        self._starts = {lang: stream_starts(self.data.pools[lang], self.max_length) for lang in self._langs}
        self._units = self.data.units
        self._pivot_column: int | None = None
        if self.tlm_pivot:
            if self.tlm_pivot not in self._langs:
                raise ConfigError(f"tlm_pivot: {self.tlm_pivot} is not a training language")
            self._pivot_column = self._langs.index(self.tlm_pivot)
            if len(self._units):
                with_pivot = self._units[:, self._pivot_column] >= 0
                self._units = self._units[with_pivot & ((self._units >= 0).sum(axis=1) >= 2)]
        self._has_pairs = len(self._units) > 0
        if self.tlm_ratio > 0 and not self._has_pairs:
            raise ConfigError(
                "tlm_ratio > 0 needs parallel data (an aligned corpus or parallel files)"
                + (f" with {self.tlm_pivot} on one side" if self.tlm_pivot else "")
            )

    def _rng(self, step: int, micro: int, rank: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, step, micro, rank])

    def is_tlm_step(self, step: int) -> bool:
        """Return whether `step` trains on translation pairs (the same answer on every rank)."""
        if not self._has_pairs or self.tlm_ratio <= 0:
            return False
        return bool(np.random.default_rng([self.seed, step, 7]).random() < self.tlm_ratio)

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        rng = self._rng(step, micro, rank)
        sequences = self._tlm(rng) if self.is_tlm_step(step) else self._mlm(rng)
        return self._collate(sequences, rng)

    def _mlm(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray | None]]:
        out = []
        for lang_index in rng.choice(len(self._langs), size=self.batch_size, p=self._probs):
            lang = self._langs[lang_index]
            starts = self._starts[lang]
            start = starts[rng.integers(len(starts))]
            out.append((self.data.pools[lang].tokens[start : start + self.max_length], None))
        return out

    def _tlm(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray | None]]:
        out = []
        half = self.max_length // 2
        units = self._units
        for unit in rng.integers(len(units), size=self.batch_size):
            row = units[unit]
            present = np.flatnonzero(row >= 0)
            if self._pivot_column is None:
                weights = self._probs[present] / self._probs[present].sum()
                a, b = rng.choice(present, size=2, replace=False, p=weights)
            else:
                others = present[present != self._pivot_column]
                other = rng.choice(others, p=self._probs[others] / self._probs[others].sum())
                # either side may come first, so the model does not learn "the pivot opens the pair"
                a, b = (self._pivot_column, other) if rng.random() < 0.5 else (other, self._pivot_column)
            sides, positions = [], []
            for col in (a, b):
                lang = self._langs[col]
                sentence = self.data.pools[lang].sentence(int(row[col]))
                ids = tlm_side(sentence, half, self.data.lang_token_ids[lang])
                sides.append(ids)
                positions.append(np.arange(len(ids)) + POSITION_OFFSET)
            out.append((np.concatenate(sides), np.concatenate(positions)))
        return out

    def _collate(self, sequences, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        length = max(len(ids) for ids, _ in sequences)
        input_ids = np.full((len(sequences), length), PAD_ID, dtype=np.int64)
        attention = np.zeros((len(sequences), length), dtype=np.int64)
        positions = np.full((len(sequences), length), PAD_ID, dtype=np.int64)
        for i, (ids, pos) in enumerate(sequences):
            input_ids[i, : len(ids)] = ids
            attention[i, : len(ids)] = 1
            positions[i, : len(ids)] = pos if pos is not None else np.arange(len(ids)) + POSITION_OFFSET
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        masked, labels = mask_tokens(
            torch.from_numpy(input_ids),
            mask_id=self.mask_id,
            first_regular_id=self.first_regular_id,
            vocab_size=self.vocab_size,
            probability=self.mlm_probability,
            generator=generator,
        )
        return {
            "input_ids": masked,
            "attention_mask": torch.from_numpy(attention),
            "position_ids": torch.from_numpy(positions),
            "labels": labels,
        }
