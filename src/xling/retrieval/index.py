"""A persistent cross-language search index in one folder: SQLite for documents, FAISS for vectors.

Folder layout:

    index.json          model, dimension, index kind and format version (written last on create)
    documents.sqlite    the source of truth: each document's stable key, text, language, metadata and
                        float32 vector, plus the model's fingerprint (the vectors of a few probe sentences)
    vectors.faiss       a cache of the vectors for fast search, rebuilt from SQLite whenever in doubt

Every document has two ids: an integer row id (FAISS's id, shown with each hit, never reused) and a
stable key: the id given with it, or else a hash of its language and text. Adding a key that is already
stored is a duplicate: skipped (the default), an error, or a replacement, so adding a file twice, or again
after a crash, adds nothing twice.

Every change is one SQLite transaction that also increments a generation number; the FAISS cache is then
rewritten atomically (temp file + rename) with that generation in its header. A crash between the two
leaves a cache whose generation differs from SQLite's, and `open` rebuilds it from SQLite, so nothing
committed is lost and a change is either all there or not at all. `create` and `build` make the new index
in a hidden sibling folder and swap it in only once complete: a killed build leaves no half index, and an
index being replaced (overwrite) stays whole until its successor is ready.

The model is stored as what loads it: a local folder as its absolute path (so the index can be searched
from any directory), a shipped name or Hub id as given. Whether an encoder is the index's model is
decided by its fingerprint, not its name, so the same model reached by another path is accepted.

One SearchIndex object may be used from many threads (one lock guards its SQLite connection and FAISS
copy; encoding runs outside it). One process should write an index at a time; readers in other
processes see a consistent state but keep their FAISS copy from when they opened it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from xling.atomic import atomic_write
from xling.data.languages import normalize_language
from xling.embeddings.protocol import TextEncoder
from xling.errors import ConfigError, DataError, XlingError
from xling.retrieval.knn import HNSW_EF_SEARCH, HNSW_M, INDEX_KINDS, IVF_NPROBE, ivf_list_count
from xling.retrieval.mining import encode_texts

__all__ = ["FORMAT_VERSION", "Hit", "SearchIndex"]

FORMAT_VERSION = 1
INFO_FILE = "index.json"
DB_FILE = "documents.sqlite"
CACHE_FILE = "vectors.faiss"
CACHE_MAGIC = b"XLFAISS1"
CACHE_HEADER = struct.Struct("<8sqq")  # magic, generation, number of vectors
OWN_FILES = frozenset(
    {INFO_FILE, DB_FILE, f"{DB_FILE}-journal", f"{DB_FILE}-wal", f"{DB_FILE}-shm", CACHE_FILE}
)

OVERFETCH = 4  # with a language filter, first ask FAISS for k * OVERFETCH hits, then double until k remain
WIDEN_ROUNDS = 4  # doublings tried before searching the remaining queries with an id selector instead
SQL_VARIABLES = 900  # ids per `IN (...)`: old SQLite builds allow 999 variables per statement
REBUILD_BATCH = 16_384  # vectors read from SQLite per step when rebuilding the cache
IVF_TRAIN_PER_LIST = 64  # training vectors per IVF list (a stride sample of the stored vectors)

SCHEMA = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a deleted id is never handed out again
    text TEXT NOT NULL,
    language TEXT NOT NULL,
    metadata TEXT,
    vector BLOB NOT NULL
);
CREATE INDEX documents_language ON documents (language);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Hit:
    """One search result: the document's id, its cosine similarity to the query, and the stored fields."""

    id: int
    score: float
    text: str
    language: str
    metadata: dict[str, Any] | None


class SearchIndex:
    """A folder holding documents in many languages and their vectors; see the module docstring."""

    def __init__(self, path: Path, info: dict[str, Any], db: sqlite3.Connection) -> None:
        """Use SearchIndex.create or SearchIndex.open rather than this."""
        self.path = path
        self.model: str = info["model"]
        self.dimension: int = info["dimension"]
        self.kind: str = info["kind"]
        self._db = db
        self._vectors = _new_faiss(self.kind, self.dimension, None)

    # --- creating and opening ------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        model_name: str,
        dimension: int,
        index_kind: str = "flat",
        overwrite: bool = False,
    ) -> SearchIndex:
        """Return a new empty index in folder `path` for vectors of `dimension` made by `model_name`.

        The folder may be missing or empty. An existing index there is an error unless `overwrite`, which
        deletes its files (and only those).
        """
        if not isinstance(model_name, str) or not model_name.strip():
            raise ConfigError(f"search index: model_name must be a non-empty string, got {model_name!r}")
        if not isinstance(dimension, int | np.integer) or isinstance(dimension, bool) or dimension < 1:
            raise ConfigError(f"search index: dimension must be a positive integer, got {dimension!r}")
        if index_kind not in INDEX_KINDS:
            raise ConfigError(
                f"search index: index_kind must be one of {', '.join(INDEX_KINDS)}, got {index_kind!r}"
            )
        root = Path(path)
        _clear_for_create(root, overwrite)
        root.mkdir(parents=True, exist_ok=True)
        info = {
            "format": FORMAT_VERSION,
            "model": model_name,
            "dimension": int(dimension),
            "kind": index_kind,
        }
        db = sqlite3.connect(root / DB_FILE, isolation_level=None)
        with _transaction(db):
            # statement by statement: executescript would commit the open transaction first
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.executemany(
                "INSERT INTO state (key, value) VALUES (?, ?)",
                [("generation", 0), ("dimension", int(dimension))],
            )
        index = cls(root, info, db)
        index._save_cache(0)
        # index.json last: a folder holding it is a complete index, one without it an interrupted create
        _write_bytes_atomically(root / INFO_FILE, (json.dumps(info, indent=2) + "\n").encode("utf-8"))
        return index

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        expected_model: str | None = None,
        expected_dimension: int | None = None,
    ) -> SearchIndex:
        """Return the index in folder `path`, its FAISS cache rebuilt from SQLite if missing or stale.

        `expected_model` / `expected_dimension`, when given, must match what the index was built with.
        """
        root = Path(path)
        if not root.is_dir():
            raise DataError("search index folder not found" if not root.exists() else "not a folder", root)
        info = _read_info(root)
        if expected_model is not None and expected_model != info["model"]:
            raise XlingError(
                f"{root}: this index was built with model {info['model']!r}, not {expected_model!r}; "
                "vectors of different models are not comparable"
            )
        if expected_dimension is not None and int(expected_dimension) != info["dimension"]:
            raise XlingError(
                f"{root}: this index holds {info['dimension']}-dimensional vectors, "
                f"not {expected_dimension}-dimensional ones"
            )
        db_path = root / DB_FILE
        if not db_path.is_file():
            raise DataError(f"incomplete search index: {DB_FILE} is missing", root)
        db = sqlite3.connect(db_path, isolation_level=None)
        index = cls(root, info, db)
        try:
            stored_dimension = index._state("dimension")
        except sqlite3.DatabaseError as exc:
            db.close()
            raise DataError(f"not a readable search index database: {exc}", db_path) from None
        if stored_dimension != info["dimension"]:
            db.close()
            raise DataError(
                f"{INFO_FILE} says dimension {info['dimension']} but the database holds {stored_dimension}",
                root,
            )
        try:
            index._load_or_rebuild_cache()
        except BaseException:
            db.close()
            raise
        return index

    def close(self) -> None:
        """Return nothing; close the database (the index object is unusable afterwards)."""
        self._db.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def __repr__(self) -> str:
        where = str(self.path)
        return f"SearchIndex({where!r}, model={self.model!r}, dimension={self.dimension}, kind={self.kind!r})"

    # --- changing ------------------------------------------------------------------------------------

    def add(
        self,
        texts: Sequence[str],
        vectors: np.ndarray,
        languages: str | Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> list[int]:
        """Return the new ids of `texts` after storing them with their vectors, languages and metadata.

        `languages` is one code for all texts or one per text (any ISO 639 / BCP-47 form); metadata
        items must be JSON-serialisable mappings or None.
        """
        texts = _text_list(texts, "texts")
        unit = self._unit_vectors(vectors, "document")
        codes = _language_list(languages, len(texts))
        extras = _metadata_list(metadata, len(texts))
        if len(unit) != len(texts):
            raise XlingError(f"{self.path}: {len(texts)} texts but {len(unit)} vectors")
        if not texts:
            return []
        ids: list[int] = []
        with _transaction(self._db):
            for text, code, extra, vector in zip(texts, codes, extras, unit, strict=True):
                cursor = self._db.execute(
                    "INSERT INTO documents (text, language, metadata, vector) VALUES (?, ?, ?, ?)",
                    (text, code, extra, vector.astype("<f4").tobytes()),
                )
                ids.append(int(cursor.lastrowid))
            generation = self._bump_generation()
        self._update_cache(lambda: self._add_to_faiss(unit, np.asarray(ids, dtype=np.int64)), generation)
        return ids

    def delete(self, ids: Sequence[int] | np.ndarray) -> int:
        """Return how many of `ids` were stored and are now deleted (unknown ids are ignored)."""
        wanted = sorted({int(i) for i in np.asarray(ids, dtype=np.int64).ravel()})
        if not wanted:
            return 0
        removed = 0
        with _transaction(self._db):
            for chunk in _chunks(wanted, SQL_VARIABLES):
                marks = ",".join("?" * len(chunk))
                removed += self._db.execute(f"DELETE FROM documents WHERE id IN ({marks})", chunk).rowcount
            generation = self._bump_generation() if removed else None
        if generation is not None:
            self._update_cache(
                lambda: self._remove_from_faiss(np.asarray(wanted, dtype=np.int64)), generation
            )
        return removed

    def add_texts(
        self,
        encoder: TextEncoder,
        texts: Sequence[str],
        languages: str | Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        batch_size: int = 64,
    ) -> list[int]:
        """Return the new ids of `texts` after encoding them with `encoder` and adding them."""
        self._check_encoder(encoder)
        texts = _text_list(texts, "texts")
        vectors = (
            encode_texts(encoder, texts, batch_size) if texts else np.zeros((0, self.dimension), np.float32)
        )
        return self.add(texts, vectors, languages, metadata)

    # --- searching -----------------------------------------------------------------------------------

    def search(
        self, query_vectors: np.ndarray, k: int = 10, languages: str | Sequence[str] | None = None
    ) -> list[list[Hit]]:
        """Return, for each query vector, its k most similar documents, best first.

        `languages` restricts hits to those languages (None: all). When they hold a large share of the
        index, FAISS is asked for k * OVERFETCH hits, filtered, and asked again for twice as many while
        too few pass; rare languages, and queries still short after WIDEN_ROUNDS, are searched with a
        FAISS id selector holding only those languages' ids, so memory stays bounded either way.
        """
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"search: k must be a positive integer, got {k!r}")
        queries = self._unit_vectors(query_vectors, "query")
        wanted = None if languages is None else sorted(set(_language_list(languages, None)))
        results: list[list[Hit]] = [[] for _ in range(len(queries))]
        total = self._vectors.ntotal
        if total == 0 or not results:
            return results
        if wanted is None:
            self._collect(queries, list(range(len(queries))), min(k, total), None, k, results)
            return results
        in_languages = self._count_languages(wanted)
        if in_languages == 0:
            return results
        pending = list(range(len(queries)))
        if in_languages * OVERFETCH >= total:
            fetch = min(total, k * OVERFETCH)
            for _ in range(WIDEN_ROUNDS):
                pending = self._collect(queries, pending, fetch, set(wanted), k, results, total)
                if not pending or fetch >= total:
                    break
                fetch = min(total, fetch * 2)
        if pending:
            selector = faiss.IDSelectorBatch(self._ids_in_languages(wanted))
            self._collect(queries, pending, min(k, in_languages), None, k, results, selector=selector)
        return results

    def _collect(
        self,
        queries: np.ndarray,
        pending: list[int],
        fetch: int,
        wanted: set[str] | None,
        k: int,
        results: list[list[Hit]],
        total: int | None = None,
        selector: faiss.IDSelector | None = None,
    ) -> list[int]:
        """Return the queries still short of k hits after one FAISS search of `fetch` hits each.

        Hits are stored in `results`. A query counts as done when it has k hits in `wanted`, when
        `total` is None (no widening), or when FAISS has nothing more to give it.
        """
        sims, found = self._faiss_search(queries[pending], fetch, selector)
        rows = self._rows({int(i) for i in found.ravel() if i >= 0})
        short: list[int] = []
        for query, query_sims, query_ids in zip(pending, sims, found, strict=True):
            hits = _hits(query_sims, query_ids, rows, wanted, k)
            # fewer than asked for back from FAISS means it has nothing more to give (IVF, HNSW)
            done = total is None or fetch >= total or bool((query_ids < 0).any())
            if len(hits) >= k or done:
                results[query] = hits
            else:
                short.append(query)
        return short

    def search_texts(
        self,
        encoder: TextEncoder,
        queries: Sequence[str],
        k: int = 10,
        languages: str | Sequence[str] | None = None,
        batch_size: int = 64,
    ) -> list[list[Hit]]:
        """Return the hits of each query text, encoded with `encoder` (see search)."""
        self._check_encoder(encoder)
        queries = _text_list(queries, "queries")
        if not queries:
            return []
        return self.search(encode_texts(encoder, queries, batch_size), k, languages)

    # --- internals -----------------------------------------------------------------------------------

    def _check_encoder(self, encoder: TextEncoder) -> None:
        """Return nothing; raise XlingError if `encoder` is not the model this index was built with."""
        name = getattr(encoder, "name", None)
        dimension = getattr(encoder, "dimension", None)
        if name != self.model:
            raise XlingError(f"{self.path}: this index was built with model {self.model!r}, not {name!r}")
        if dimension != self.dimension:
            raise XlingError(
                f"{self.path}: this index holds {self.dimension}-dimensional vectors, "
                f"but encoder {name!r} makes {dimension}-dimensional ones"
            )

    def _unit_vectors(self, vectors: np.ndarray, what: str) -> np.ndarray:
        """Return `vectors` as a [n, dimension] float32 array of unit rows; raise XlingError if unusable."""
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or (array.shape[1] != self.dimension and array.size):
            width = array.shape[-1] if array.ndim else "scalar"
            raise XlingError(
                f"{self.path}: this index holds {self.dimension}-dimensional vectors, "
                f"got {what} vectors of dimension {width} (shape {array.shape})"
            )
        array = np.ascontiguousarray(array.reshape(-1, self.dimension))
        if not np.isfinite(array).all():
            raise XlingError(f"{self.path}: {what} vectors contain NaN or infinite values")
        return array / np.maximum(np.linalg.norm(array, axis=1, keepdims=True), 1e-12)

    def _state(self, key: str) -> int:
        """Return an integer from the state table."""
        row = self._db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise sqlite3.DatabaseError(f"state table lacks {key!r}")
        return int(row[0])

    def _bump_generation(self) -> int:
        """Return the new generation number after incrementing it (inside the caller's transaction)."""
        self._db.execute("UPDATE state SET value = value + 1 WHERE key = 'generation'")
        return self._state("generation")

    def _rows(self, ids: set[int]) -> dict[int, tuple[str, str, str | None]]:
        """Return {id: (text, language, metadata JSON)} for the stored documents among `ids`."""
        rows: dict[int, tuple[str, str, str | None]] = {}
        for chunk in _chunks(sorted(ids), SQL_VARIABLES):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT id, text, language, metadata FROM documents WHERE id IN ({marks})"
            for ident, text, language, extra in self._db.execute(query, chunk):
                rows[int(ident)] = (text, language, extra)
        return rows

    def _faiss_search(
        self, queries: np.ndarray, fetch: int, selector: faiss.IDSelector | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return FAISS's (sims, ids) of `fetch` hits per query, only among `selector`'s ids if given."""
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, fetch))
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=faiss.extract_index_ivf(self._vectors).nprobe)
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        return self._vectors.search(queries, fetch, params=params)

    def _count_languages(self, languages: list[str]) -> int:
        """Return how many stored documents are in `languages`."""
        marks = ",".join("?" * len(languages))
        query = f"SELECT COUNT(*) FROM documents WHERE language IN ({marks})"
        return int(self._db.execute(query, languages).fetchone()[0])

    def _ids_in_languages(self, languages: list[str]) -> np.ndarray:
        """Return the ids of the stored documents in `languages`."""
        marks = ",".join("?" * len(languages))
        cursor = self._db.execute(f"SELECT id FROM documents WHERE language IN ({marks})", languages)
        return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def _add_to_faiss(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Return nothing; add committed vectors to the FAISS copy, retraining an IVF that outgrew it."""
        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self._vectors)
            if not ivf.is_trained or ivf_list_count(ivf.ntotal + len(ids)) >= 2 * ivf.nlist:
                self._rebuild()
                return
        self._vectors.add_with_ids(vectors, ids)

    def _remove_from_faiss(self, ids: np.ndarray) -> None:
        """Return nothing; drop `ids` from the FAISS copy (HNSW cannot remove, so it is rebuilt)."""
        if self.kind == "hnsw":
            self._rebuild()
        else:
            self._vectors.remove_ids(faiss.IDSelectorBatch(ids))

    def _update_cache(self, change: Any, generation: int) -> None:
        """Return nothing; apply a committed change to the FAISS copy and save it with `generation`."""
        try:
            change()
        except Exception:
            # SQLite has the change already; a FAISS copy that failed half-way is rebuilt, not trusted.
            self._rebuild()
        self._save_cache(generation)

    def _stored_vectors(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Return an iterator over (ids, vectors) batches of all stored documents, in id order."""
        cursor = self._db.execute("SELECT id, vector FROM documents ORDER BY id")
        width = 4 * self.dimension
        while batch := cursor.fetchmany(REBUILD_BATCH):
            for ident, blob in batch:
                if len(blob) != width:
                    raise DataError(
                        f"document {ident} has a {len(blob)}-byte vector, expected {width} "
                        f"({self.dimension} float32 values)",
                        self.path / DB_FILE,
                    )
            ids = np.fromiter((row[0] for row in batch), dtype=np.int64, count=len(batch))
            vectors = np.frombuffer(b"".join(row[1] for row in batch), dtype="<f4").reshape(
                -1, self.dimension
            )
            yield ids, vectors.astype(np.float32)

    def _training_sample(self) -> np.ndarray:
        """Return a stride sample of the stored vectors, enough to train the IVF lists for their number."""
        count = len(self)
        wanted = min(count, ivf_list_count(count) * IVF_TRAIN_PER_LIST)
        if wanted == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        step = max(1, count // wanted)
        parts: list[np.ndarray] = []
        seen = 0
        for _, vectors in self._stored_vectors():
            # every step-th row overall, so the sample spans all languages rather than the first ones added
            first = (-seen) % step
            parts.append(vectors[first::step])
            seen += len(vectors)
        return np.concatenate(parts)[:wanted]

    def _rebuild(self) -> None:
        """Return nothing; rebuild the FAISS copy from the vectors stored in SQLite."""
        train = self._training_sample() if self.kind == "ivf" else None
        index = _new_faiss(self.kind, self.dimension, train)
        for ids, vectors in self._stored_vectors():
            index.add_with_ids(vectors, ids)
        self._vectors = index

    def _save_cache(self, generation: int) -> None:
        """Return nothing; write the FAISS copy and `generation` to the cache file atomically."""
        with atomic_write(self.path / CACHE_FILE, "wb") as handle:
            handle.write(CACHE_HEADER.pack(CACHE_MAGIC, generation, self._vectors.ntotal))
            faiss.write_index(self._vectors, faiss.PyCallbackIOWriter(handle.write))

    def _load_or_rebuild_cache(self) -> None:
        """Return nothing; load the FAISS cache if it matches SQLite, else rebuild it and save it."""
        generation = self._state("generation")
        cached = _read_cache(self.path / CACHE_FILE, self.dimension)
        if cached is not None and cached[0] == generation and cached[1].ntotal == len(self):
            self._vectors = cached[1]
            _set_search_breadth(self._vectors, self.kind)
            return
        self._rebuild()
        self._save_cache(generation)


# --- module helpers -----------------------------------------------------------------------------------


def _new_faiss(kind: str, dimension: int, train: np.ndarray | None) -> faiss.Index:
    """Return an empty inner-product FAISS index with caller-chosen int64 ids; IVF is trained on `train`."""
    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    if kind == "hnsw":
        return faiss.IndexIDMap2(faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT))
    if kind == "ivf":
        count = 0 if train is None else len(train)
        lists = ivf_list_count(count)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        if lists == 1:
            index.cp.min_points_per_centroid = 1  # one list needs no clustering: silence FAISS's warning
        if count:
            index.train(train)
        _set_search_breadth(index, kind)
        return index
    raise ConfigError(f"search index: index kind must be one of {', '.join(INDEX_KINDS)}, got {kind!r}")


def _set_search_breadth(index: faiss.Index, kind: str) -> None:
    """Return nothing; set how many IVF lists a search probes (HNSW breadth is set per search)."""
    if kind == "ivf":
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = min(ivf.nlist, IVF_NPROBE)


def _read_cache(path: Path, dimension: int) -> tuple[int, faiss.Index] | None:
    """Return (generation, FAISS index) from a cache file, or None if it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            magic, generation, count = CACHE_HEADER.unpack(handle.read(CACHE_HEADER.size))
            if magic != CACHE_MAGIC:
                return None
            index = faiss.read_index(faiss.PyCallbackIOReader(handle.read))
    except (OSError, RuntimeError, MemoryError, struct.error):
        return None  # missing, truncated or corrupt: SQLite has everything needed to rebuild it
    if index.ntotal != count or index.d != dimension:
        return None
    return generation, index


def _read_info(root: Path) -> dict[str, Any]:
    """Return the validated contents of `root`/index.json; raise DataError if it is missing or bad."""
    info_path = root / INFO_FILE
    if not info_path.is_file():
        raise DataError(f"not a search index folder (no {INFO_FILE})", root)
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable index description: {exc}", info_path) from None
    expected = {"format": int, "model": str, "dimension": int, "kind": str}
    if not isinstance(info, dict):
        raise DataError("index description must be a JSON object", info_path)
    for key, kind in expected.items():
        if not isinstance(info.get(key), kind) or isinstance(info.get(key), bool):
            raise DataError(f"field {key!r} must be a {kind.__name__}, got {info.get(key)!r}", info_path)
    if info["format"] > FORMAT_VERSION:
        raise DataError(
            f"index format {info['format']} is newer than this xling reads ({FORMAT_VERSION}); upgrade xling",
            info_path,
        )
    if info["kind"] not in INDEX_KINDS or info["dimension"] < 1:
        raise DataError(f"bad kind {info['kind']!r} or dimension {info['dimension']!r}", info_path)
    return info


def _clear_for_create(root: Path, overwrite: bool) -> None:
    """Return nothing; make `root` ready for a new index or raise if that would destroy anything else."""
    if not root.exists():
        return
    if not root.is_dir():
        raise DataError("exists and is not a folder", root)
    if (root / INFO_FILE).exists() and not overwrite:
        raise XlingError(f"{root}: a search index already exists here; pass overwrite=True to replace it")
    entries = list(root.iterdir())
    foreign = sorted(p.name for p in entries if p.name not in OWN_FILES and not _is_own_temporary(p.name))
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise DataError(
            f"folder is not empty and is not a search index (holds {shown}); choose another", root
        )
    for entry in entries:  # an index being replaced, or the remains of an interrupted create
        entry.unlink()


def _is_own_temporary(name: str) -> bool:
    """Return True for a temporary file this module writes (left behind by a crash)."""
    return name.startswith((f".{CACHE_FILE}.", f".{INFO_FILE}.")) and name.endswith(".tmp")


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    """Return nothing; write `data` to `path` atomically (see xling.atomic)."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """Return a context that runs its statements as one SQLite transaction, rolled back on error."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _text_list(texts: Sequence[str], what: str) -> list[str]:
    """Return `texts` as a list of strings; raise XlingError for a bare string or a non-string item."""
    if isinstance(texts, str):
        raise XlingError(f"{what} must be a sequence of strings, not one string: wrap it in a list")
    items = list(texts)
    for position, text in enumerate(items):
        if not isinstance(text, str):
            raise XlingError(f"{what}[{position}] is a {type(text).__name__}, not a string")
    return items


def _language_list(languages: str | Sequence[str], count: int | None) -> list[str]:
    """Return canonical language codes: one code repeated `count` times, or one per item."""
    if isinstance(languages, str):
        code = normalize_language(languages)
        return [code] * (1 if count is None else count)
    codes = [normalize_language(code, where=f"language {i}") for i, code in enumerate(languages)]
    if count is not None and len(codes) != count:
        raise XlingError(f"{len(codes)} languages given for {count} texts (give one code, or one per text)")
    return codes


def _metadata_list(metadata: Sequence[Mapping[str, Any] | None] | None, count: int) -> list[str | None]:
    """Return each metadata item as JSON text (None stays None); raise XlingError for a bad item."""
    if metadata is None:
        return [None] * count
    items = list(metadata)
    if len(items) != count:
        raise XlingError(f"{len(items)} metadata items given for {count} texts")
    encoded: list[str | None] = []
    for position, item in enumerate(items):
        if item is not None and not isinstance(item, Mapping):
            raise XlingError(f"metadata item {position} must be a mapping or None, got {type(item).__name__}")
        try:
            encoded.append(None if item is None else json.dumps(dict(item), ensure_ascii=False))
        except (TypeError, ValueError) as exc:
            raise XlingError(f"metadata item {position} is not JSON-serialisable: {exc}") from None
    return encoded


def _hits(
    sims: np.ndarray,
    ids: np.ndarray,
    rows: dict[int, tuple[str, str, str | None]],
    wanted: set[str] | None,
    k: int,
) -> list[Hit]:
    """Return up to k hits from one query's FAISS results, keeping stored documents in `wanted` languages."""
    hits: list[Hit] = []
    for score, ident in zip(sims.tolist(), ids.tolist(), strict=True):
        row = rows.get(ident)
        if row is None or (wanted is not None and row[1] not in wanted):
            continue
        hits.append(Hit(ident, float(score), row[0], row[1], None if row[2] is None else json.loads(row[2])))
        if len(hits) == k:
            break
    return hits


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    """Return an iterator over consecutive slices of `values` of at most `size` items."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
