"""Hard negatives for translation ranking: the sentences a previous model finds closest to a translation.

LaBSE (Feng et al. 2022) adds "hard negatives mined by a previous model" to its in-batch negatives;
sentence-transformers does the same with `mine_hard_negatives` + MultipleNegativesRankingLoss on
(anchor, positive, negative) triplets. Here a frozen encoder embeds every unit's pivot sentence and, per
language, all sentences of that language; the k nearest sentences that are not the unit's own translation
become its candidates. A candidate scoring almost as high as the real translation (at least
positive x (1 - margin)) is more likely a paraphrase or a repeated verse than a negative, so it is skipped
(sentence-transformers' `relative_margin`). Batches then draw a few candidates per pair each step.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from xling.atomic import save_keyed_array
from xling.embeddings.protocol import TextEncoder
from xling.errors import ConfigError, XlingError
from xling.retrieval.knn import build_faiss_index

if TYPE_CHECKING:
    from xling.alignment.sentences.data import ParallelBank

CACHE_FILE, KEY_FILE = "hard_negatives.npy", "hard_negatives.json"


@dataclass
class HardNegativeTable:
    """Mined candidates: `table[unit, languages.index(lang), j]` is a row of lang's bank, or -1 (none)."""

    table: np.ndarray  # [units, languages, k] int32
    languages: list[str]


def mine_hard_negatives(
    encoder: TextEncoder,
    bank: ParallelBank,
    languages: Sequence[str],
    pivot: str,
    k: int = 10,
    margin: float = 0.05,
    *,
    range_min: int = 0,
    chunk: int = 4096,
    batch_size: int = 128,
    progress: Callable[[str], None] | None = None,
) -> HardNegativeTable:
    """Return, per unit and language, the k nearest sentences to the unit's pivot sentence that are negatives.

    For unit u and language L, the query is u's pivot sentence and the positive is u's own sentence in L
    (for L = pivot: the query itself). Candidates are L's sentences by cosine under `encoder`, minus the
    positive, minus any scoring >= positive score x (1 - margin) (likely false negatives), minus the first
    `range_min` of the rest. Units lacking the pivot or L get -1 rows. Needs `bank.texts` for the pivot and
    every language in `languages`. Memory: one language's vectors plus `chunk` queries' results at a time.
    """
    if k < 1 or range_min < 0 or not 0 <= margin < 1:
        raise ConfigError(f"need k >= 1, range_min >= 0 and 0 <= margin < 1 (got {k}, {range_min}, {margin})")
    languages = list(languages)
    table = np.full((len(bank.unit_ids), len(languages), k), -1, dtype=np.int32)
    pivot_rows = bank.row[pivot]
    query_vectors = _encode(encoder, bank.texts[pivot], batch_size)  # row i: the pivot bank's sentence i
    for column, lang in enumerate(languages):
        if progress:
            progress(lang)
        base = query_vectors if lang == pivot else _encode(encoder, bank.texts[lang], batch_size)
        for code, vectors in ((pivot, query_vectors), (lang, base)):
            if len(vectors) != len(bank.banks[code]):
                raise XlingError(f"{code}: {len(vectors)} texts for {len(bank.banks[code])} bank rows")
        index = build_faiss_index(base, "flat")  # exact inner product (faiss.IndexFlatIP)
        # enough neighbours to keep k after dropping the positive, range_min and near-duplicates
        fetch = min(len(base), range_min + 3 * k + 1)
        units = np.flatnonzero((pivot_rows >= 0) & (bank.row[lang] >= 0))
        for start in range(0, len(units), chunk):
            part = units[start : start + chunk]
            queries, positives = query_vectors[pivot_rows[part]], bank.row[lang][part]
            positive_scores = np.einsum("ij,ij->i", queries, base[positives])
            sims, ids = index.search(np.ascontiguousarray(queries), fetch)
            table[part, column] = _select(sims, ids, positives, positive_scores, k, margin, range_min)
    return HardNegativeTable(table, languages)


def _encode(encoder: TextEncoder, texts: Sequence[str], batch_size: int) -> np.ndarray:
    show = len(texts) > 20_000
    vectors = np.asarray(encoder.encode(list(texts), batch_size=batch_size, show_progress=show))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _select(sims: np.ndarray, ids: np.ndarray, positives: np.ndarray, positive_scores: np.ndarray, k: int,
            margin: float, range_min: int) -> np.ndarray:  # fmt: skip
    """Return [n, k] int32: per row, the first k usable ids (best first) after range_min, -1 padded."""
    usable = (ids >= 0) & (ids != positives[:, None])
    rank = np.cumsum(usable, axis=1) - 1  # rank among the non-positive neighbours
    usable &= rank >= range_min
    usable &= sims < (positive_scores * (1 - margin))[:, None]
    order = np.argsort(~usable, axis=1, kind="stable")[:, :k]  # usable ones first, in similarity order
    picked = np.take_along_axis(ids, order, axis=1)
    picked[~np.take_along_axis(usable, order, axis=1)] = -1
    out = np.full((len(ids), k), -1, dtype=np.int32)
    out[:, : picked.shape[1]] = picked
    return out


def cached_hard_negatives(
    load_encoder: Callable[[], TextEncoder],
    bank: ParallelBank,
    languages: Sequence[str],
    pivot: str,
    output: Path,
    key: dict[str, Any],
    **mine_options: Any,
) -> HardNegativeTable:
    """Return the table cached in `output` when its key matches `key` (+ the bank's shape), else mine it.

    The miner is frozen, so the table is a pure function of the key; a resumed run reads it back instead of
    embedding the corpus again. The .npy is memory-mapped (batches read only the rows they draw).
    """
    cache, key_path = output / CACHE_FILE, output / KEY_FILE
    key = {**key, "pivot": pivot, "languages": list(languages), "units": len(bank.unit_ids),
           "rows": {lang: len(bank.banks[lang]) for lang in languages}, "texts": bank.fingerprint(languages),
           **mine_options}  # fmt: skip
    if cache.is_file() and key_path.is_file() and json.loads(key_path.read_text()) == key:
        return HardNegativeTable(np.load(cache, mmap_mode="r"), list(languages))
    mined = mine_hard_negatives(load_encoder(), bank, languages, pivot, **mine_options)
    save_keyed_array(cache, key_path, mined.table, key)  # a table without its key is mined again
    return mined
