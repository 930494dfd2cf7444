"""Translation pairs for sentence alignment: an id-aligned corpus tokenized once, drawn as pure batches.

The corpus (e.g. the Bible, aligned by verse id) is tokenized once into flat int32 arrays per language,
so a million verses cost a few hundred MB, not Python lists. `PairBatches.get(step, micro, rank, ...)`
draws a batch as a pure function of its arguments and the seed, which is what makes `--resume` exact.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from xling.data.readers import AlignedCorpus
from xling.data.sampling import smoothed_probabilities
from xling.data.versification import chapters_apart, last_verses, numbered_apart
from xling.errors import ConfigError, DataError

if TYPE_CHECKING:
    from xling.alignment.sentences.hard_negatives import HardNegativeTable

Tokenize = Callable[[list[str]], tuple[list[list[int]], int]]


_HASH_BASE = np.uint64(0x100000001B3)


def _mix(values: np.ndarray) -> np.ndarray:
    """Return splitmix64's finaliser of uint64 `values` (arithmetic mod 2**64)."""
    values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


@dataclass
class TokenBank:
    """The token ids of one language's sentences: sentence i is ids[offsets[i]:offsets[i+1]]."""

    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, index: np.ndarray) -> list[np.ndarray]:
        """Return the id arrays of the sentences at `index`."""
        return [self.ids[self.offsets[i] : self.offsets[i + 1]] for i in index]

    def keys(self) -> np.ndarray:
        """Return a uint64 hash of each sentence's token ids: equal for equal ids (a sentence twice in the bank,
        or two texts the tokenizer makes the same ids of), almost never otherwise."""
        lengths = np.diff(self.offsets)
        if not len(self.ids):
            return _mix(lengths.astype(np.uint64))
        position = np.arange(len(self.ids)) - np.repeat(self.offsets[:-1], lengths)
        powers = np.cumprod(np.full(int(lengths.max()), _HASH_BASE, dtype=np.uint64))  # wraps mod 2**64
        powers = np.concatenate([np.ones(1, dtype=np.uint64), powers[:-1]])
        terms = _mix(self.ids.astype(np.uint64) + np.uint64(1)) * powers[position]
        sums = np.zeros(len(self.ids) + 1, dtype=np.uint64)
        np.cumsum(terms, out=sums[1:])
        return _mix((sums[self.offsets[1:]] - sums[self.offsets[:-1]]) ^ _mix(lengths.astype(np.uint64)))

    @classmethod
    def build(cls, texts: Sequence[str], tokenize: Tokenize, chunk: int = 20_000) -> TokenBank:
        """Return the bank of `texts`, tokenized in chunks (bounded memory for the Python lists)."""
        parts, lengths = [], []
        for start in range(0, len(texts), chunk):
            ids, _ = tokenize(list(texts[start : start + chunk]))
            lengths.extend(len(x) for x in ids)
            parts.append(np.fromiter((t for x in ids for t in x), dtype=np.int32))
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        return cls(flat, offsets)


@dataclass
class ParallelBank:
    """Sentences of several languages aligned by id: `row[lang][v]` is lang's row of unit v, or -1."""

    unit_ids: list[str]
    banks: dict[str, TokenBank]
    row: dict[str, np.ndarray]
    texts: dict[str, list[str]] = field(default_factory=dict)  # kept only for the languages asked

    @property
    def languages(self) -> list[str]:
        return list(self.banks)

    def present(self, lang: str) -> np.ndarray:
        """Return the unit indices that `lang` has a sentence for."""
        return np.flatnonzero(self.row[lang] >= 0)

    def shared(self, a: str, b: str) -> np.ndarray:
        """Return the unit indices both `a` and `b` have."""
        return np.flatnonzero((self.row[a] >= 0) & (self.row[b] >= 0))

    def fingerprint(self, languages: Sequence[str]) -> str:
        """Return a hash of the kept texts of `languages` and of where each sits among the units: what a table
        embedded or mined from them depends on (a cache key; another corpus with the same ids and counts, as
        another English Bible, must not reuse it)."""
        digest = hashlib.sha256()
        for lang in languages:
            digest.update(f"{lang}\0".encode())
            digest.update("\0".join(self.texts.get(lang, ())).encode("utf-8", "surrogatepass"))
            digest.update(np.ascontiguousarray(self.row[lang], dtype=np.int64).tobytes())
        return digest.hexdigest()[:16]


def build_parallel_bank(
    corpus: AlignedCorpus,
    languages: Sequence[str],
    tokenize: Tokenize,
    *,
    keep: Callable[[str], bool],
    keep_texts: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> ParallelBank:
    """Return the tokenized sentences of `languages` whose ids pass `keep`, aligned by id.

    The first of `languages` (the pivot) is the reference numbering: a language's verses in a chapter that
    it numbers otherwise (`xling.data.versification`) are left out of the bank, as no unit may pair them.
    `keep_texts` names languages whose raw texts are kept too (e.g. the pivot, for a teacher to embed).
    """
    unit_index: dict[str, int] = {}
    banks, rows, texts = {}, {}, {}
    reference_last: dict[str, int] = {}
    reference_texts: dict[str, str] = {}
    schemes = dict(zip(languages, corpus.schemes_of(*languages), strict=True))
    for lang in languages:
        if progress:
            progress(lang)
        every_id, read, every_text = [], [], {}
        for ident, text in corpus.sentences(lang):
            every_id.append(ident)
            every_text[ident] = text  # a chapter's numbering counts the verses `keep` drops too
            if keep(ident):
                read.append((ident, text))
        last = last_verses(every_id)
        if lang == languages[0]:
            reference_last = last
            reference_texts = every_text
        shifted = chapters_apart(schemes.get(lang, ""), schemes.get(languages[0], ""))
        apart = numbered_apart(
            lang,
            [i for i, _ in read],
            last,
            languages[0],
            reference_last,
            shifted,
            (every_text, reference_texts),
        )
        ids, lang_texts = [], []
        for ident, text in read:
            if ident not in apart:
                ids.append(unit_index.setdefault(ident, len(unit_index)))
                lang_texts.append(text)
        if not ids:
            raise DataError(
                f"no sentences of {lang} left after the held-out and versification filters", corpus.root
            )
        banks[lang] = TokenBank.build(lang_texts, tokenize)
        rows[lang] = np.asarray(ids, dtype=np.int64)
        if lang in keep_texts:
            texts[lang] = lang_texts
    n_units = len(unit_index)
    row = {}
    for lang, units in rows.items():
        table = np.full(n_units, -1, dtype=np.int64)
        table[units] = np.arange(len(units))
        row[lang] = table
    unit_ids = [""] * n_units
    for ident, index in unit_index.items():
        unit_ids[index] = ident
    return ParallelBank(unit_ids, banks, row, texts)


def add_pairs(bank: ParallelBank, src: str, tgt: str, pairs: Sequence[tuple[str, str]], tokenize: Tokenize,
              prefix: str) -> int:  # fmt: skip
    """Return how many translation pairs (e.g. dictionary entries) were appended to `bank` as new units.

    Each pair becomes a unit `prefix:i` that only `src` and `tgt` have, so the batches of that language
    pair draw it along with the corpus's own units; a language the corpus lacks joins the bank.
    """
    start = len(bank.unit_ids)
    bank.unit_ids.extend(f"{prefix}:{i}" for i in range(len(pairs)))
    for lang in bank.banks:
        bank.row[lang] = np.concatenate([bank.row[lang], np.full(len(pairs), -1, dtype=np.int64)])
    for lang, texts in ((src, [a for a, _ in pairs]), (tgt, [b for _, b in pairs])):
        if lang not in bank.banks:  # a language only the extra pairs have
            bank.banks[lang] = TokenBank(np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64))
            bank.row[lang] = np.full(len(bank.unit_ids), -1, dtype=np.int64)
        old, new = bank.banks[lang], TokenBank.build(texts, tokenize)
        first_row = len(old)
        bank.banks[lang] = TokenBank(np.concatenate([old.ids, new.ids]),
                                     np.concatenate([old.offsets, new.offsets[1:] + old.offsets[-1]]))  # fmt: skip
        bank.row[lang][start:] = np.arange(first_row, first_row + len(pairs))
        if lang in bank.texts:
            bank.texts[lang].extend(texts)
    return len(pairs)


@dataclass
class PairSampling:
    """Which language pairs a batch holds: pivot-xx most of the time, xx-yy with probability xx_yy_ratio."""

    pivot: str = "eng"
    alpha: float = 0.3
    xx_yy_ratio: float = 0.0


class PairBatches:
    """Batches of translation pairs, one language pair per batch (its in-batch negatives share a language).

    No sentence is twice on one side of a batch: a copy of a pair (pairs_repeat, a verse or clause that
    recurs) would be a false negative of the in-batch ranking loss (sentence-transformers' NO_DUPLICATES
    batch sampler), so a unit whose src or tgt sentence the batch already holds is replaced by another.

    A batch is {"src_*", "tgt_*": the student's inputs for each side, "units": the unit indices,
    "teacher": teacher vectors of the units (when a teacher table is given)}. With `hard_negatives` > 0 and
    a mined table, it also holds "neg_*": up to that many mined negatives per pair, in the tgt language and
    drawn from the step's generator (so still a pure function), and "negative_rows": their bank rows.
    """

    def __init__(
        self,
        bank: ParallelBank,
        collate: Callable[[list[np.ndarray]], dict[str, torch.Tensor]],
        batch_size: int,
        sampling: PairSampling,
        seed: int = 0,
        teacher: np.ndarray | None = None,
        negatives: HardNegativeTable | None = None,
        hard_negatives: int = 0,
    ):
        if sampling.pivot not in bank.banks:
            raise ConfigError(f"pivot: {sampling.pivot!r} is not among the languages {bank.languages}")
        self.bank, self.collate, self.batch_size, self.seed = bank, collate, batch_size, seed
        self.sampling, self.teacher = sampling, teacher
        self.negatives, self.hard_negatives = negatives, hard_negatives
        others = [lang for lang in bank.languages if lang != sampling.pivot]
        if not others:
            raise ConfigError("need at least one language besides the pivot")
        counts = {lang: len(bank.shared(lang, sampling.pivot)) for lang in others}
        empty = [lang for lang, n in counts.items() if n == 0]
        if empty:
            raise DataError(f"no sentences shared with {sampling.pivot} for {empty}")
        probs = smoothed_probabilities(counts, sampling.alpha)
        self.others = others
        self.p = np.array([probs[lang] for lang in others])
        self._shared = {lang: bank.shared(lang, sampling.pivot) for lang in others}
        self._keys: dict[str, np.ndarray] = {}  # TokenBank.keys of each language, made when first drawn

    def pair(self, rng: np.random.Generator) -> tuple[str, str, np.ndarray]:
        """Return (src language, tgt language, unit indices both have) for one batch."""
        if len(self.others) > 1 and rng.random() < self.sampling.xx_yy_ratio:
            a, b = rng.choice(len(self.others), size=2, replace=False, p=self.p)
            src, tgt = self.others[a], self.others[b]
            return src, tgt, self.bank.shared(src, tgt)
        lang = self.others[rng.choice(len(self.others), p=self.p)]
        return lang, self.sampling.pivot, self._shared[lang]

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        src, tgt, chosen, rng = self.draw(step, micro, rank)
        out = self.batch(src, tgt, chosen)
        if self.negatives is not None and self.hard_negatives > 0:  # drawn last: the pairs stay as without
            out.update(self.negative_batch(tgt, chosen, rng))
        return out

    def draw(self, step: int, micro: int, rank: int) -> tuple[str, str, np.ndarray, np.random.Generator]:
        """Return (src language, tgt language, unit indices, the generator as the draw left it) of the batch
        `get` makes for (step, micro, rank): its pairs, before any text is collated."""
        rng = np.random.default_rng([self.seed, step, micro, rank])
        src, tgt, units = self.pair(rng)
        if len(units) < 2:  # a pair with (almost) nothing in common: fall back to the pivot pair
            src, tgt, units = src, self.sampling.pivot, self._shared[src]
        chosen = rng.choice(units, size=min(self.batch_size, len(units)), replace=False)
        return src, tgt, self.distinct(src, tgt, chosen, units, rng), rng

    def pairs_drawn(self, steps: int, grad_accum: int, world_size: int) -> int:
        """Return how many translation pairs the batches of the first `steps` optimizer steps (the loop draws
        step 0 first) held, over every micro-batch and process: fewer than steps x batch_size x grad_accum x
        world_size where a language pair has fewer units than batch_size, or repeats `distinct` could not
        replace.

        Drawn again (a pure function of the step), not counted as the loop ran: a resumed run counts the
        steps before its checkpoint too, and the main process those of the other processes.
        """
        return sum(len(self.draw(step, micro, rank)[2]) for step in range(steps)
                   for micro in range(grad_accum) for rank in range(world_size))  # fmt: skip

    def sentence_keys(self, lang: str) -> np.ndarray:
        """Return TokenBank.keys of `lang`'s bank (made once)."""
        keys = self._keys.get(lang)
        if keys is None or len(keys) != len(self.bank.banks[lang]):
            keys = self._keys[lang] = self.bank.banks[lang].keys()
        return keys

    def distinct(
        self, src: str, tgt: str, chosen: np.ndarray, units: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Return `chosen` (drawn from `units`) with no src or tgt sentence twice: in order, a unit whose
        sentence on either side an earlier one holds is dropped, and units drawn at random from `units` (by
        `rng`, so still a pure function of the step) take their places while there are any.
        A batch without repeats is returned as it is, and `rng` is then not used."""
        sides = [(self.sentence_keys(lang), self.bank.row[lang]) for lang in (src, tgt)]
        if all(len(np.unique(keys[rows[chosen]])) == len(chosen) for keys, rows in sides):
            return chosen
        seen: tuple[set[int], set[int]] = (set(), set())
        kept: list[int] = []

        def take(candidates: np.ndarray) -> None:
            src_keys, tgt_keys = (keys[rows[candidates]].tolist() for keys, rows in sides)
            for unit, a, b in zip(candidates.tolist(), src_keys, tgt_keys, strict=True):
                if len(kept) == len(chosen):
                    return
                if a not in seen[0] and b not in seen[1]:
                    seen[0].add(a)
                    seen[1].add(b)
                    kept.append(unit)

        take(chosen)
        # replacements from growing random samples of `units`, not a permutation of all of them (a batch
        # with a repeat cost ~100 ms over a million units); a unit already taken, or whose sentence is,
        # is skipped by `take`
        size = min(len(units), max(4 * (len(chosen) - len(kept)), 256))
        while len(kept) < len(chosen):
            take(units[rng.choice(len(units), size=size, replace=False)])
            if size == len(units):
                break
            size = min(len(units), 4 * size)
        return np.asarray(kept, dtype=np.int64)

    def batch(self, src: str, tgt: str, units: np.ndarray) -> dict[str, torch.Tensor]:
        """Return the batch of the translation pairs `units` between `src` and `tgt`."""
        out: dict[str, torch.Tensor] = {"units": torch.from_numpy(np.asarray(units, dtype=np.int64))}
        for side, lang in (("src", src), ("tgt", tgt)):
            rows = self.bank.banks[lang].rows(self.bank.row[lang][units])
            for key, value in self.collate(rows).items():
                out[f"{side}_{key}"] = value
        if self.teacher is not None:
            out["teacher"] = torch.from_numpy(self.teacher[units])
        return out

    def negative_batch(
        self, tgt: str, units: np.ndarray, rng: np.random.Generator
    ) -> dict[str, torch.Tensor]:
        """Return {"neg_*", "negative_rows"} for up to `hard_negatives` mined negatives per unit, or {}.

        Each unit draws uniformly among its usable candidates; a candidate whose text is the tgt sentence of
        any pair in the batch is skipped (it would be a false negative for that pair's anchor), and a
        sentence drawn by two units enters once. Texts are compared by `sentence_keys`, not bank rows: a
        verse repeated word for word (the Bible's "The Lord spoke to Moses, saying,") sits in many rows.
        """
        assert self.negatives is not None
        if tgt not in self.negatives.languages:
            return {}
        column = self.negatives.languages.index(tgt)
        candidates = np.asarray(self.negatives.table[units, column], dtype=np.int64)  # [B, k]
        sentences = self.sentence_keys(tgt)
        found = candidates >= 0
        candidate_keys = sentences[np.where(found, candidates, 0)]  # row 0 stands in for "none": masked out
        usable = found & ~np.isin(candidate_keys, sentences[self.bank.row[tgt][units]])
        keys = rng.random(candidates.shape)
        keys[~usable] = np.inf
        order = np.argsort(keys, axis=1, kind="stable")[:, : self.hard_negatives]
        drawn = np.take_along_axis(candidates, order, 1)[np.take_along_axis(usable, order, 1)]
        drawn = drawn[np.sort(np.unique(sentences[drawn], return_index=True)[1])]
        if not len(drawn):
            return {}
        out = {f"neg_{key}": value for key, value in self.collate(self.bank.banks[tgt].rows(drawn)).items()}
        out["negative_rows"] = torch.from_numpy(drawn)
        return out
