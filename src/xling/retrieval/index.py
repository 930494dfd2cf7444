"""A persistent cross-language search index in one folder: SQLite for documents, FAISS for vectors.

Folder layout:

    index.json          model, dimension, index kind and format version (written last on create)
    documents.sqlite    the source of truth: each document's stable key, text, language, metadata and
                        float32 vector, plus the model's fingerprint (the vectors of a few probe sentences)
    vectors.faiss       a cache of the vectors for fast search, rebuilt from SQLite whenever in doubt

Each document has the language it was given (a document given as `und`, undetermined, takes the detected
one) and, when it was added with a language detector (`detector=`, `xling.langid`), the detector's label
(`deu`, `srp_Cyrl`, `und`): search filters on either (`languages=`, `detected=`; macrolanguage aware). The
`detected` column is nullable and was added after format 2 was fixed: an index made before it has none (and
gets it on its first add with a detector), and an older xling reads and writes an index that has it.

Every document has two ids: an integer row id (FAISS's id, shown with each hit, never reused) and a
stable key: the id given with it, or else a hash of its language and text, both in Unicode NFC (a text or
id in NFD, as some systems write it, is the same document). Adding a key that is already stored is a
duplicate: skipped (the default), an error, or a replacement, so adding a file twice, or again after a
crash, adds nothing twice. A document an earlier xling stored under a key of a text not in NFC is still
found by that key.

Every change is one SQLite transaction that also increments a generation number; the FAISS cache is then
rewritten atomically (temp file + rename) with that generation in its header. A crash between the two
leaves a cache whose generation differs from SQLite's, and `open` rebuilds it from SQLite, so nothing
committed is lost and a change is either all there or not at all. `create` and `build` make the new index
in a hidden sibling folder and swap it in only once complete: a killed build leaves no half index, and an
index being replaced (overwrite) stays whole until its successor is ready.

The model is stored as what loads it: a local folder as its absolute path (so the index can be searched
from any directory), a shipped name or Hub id as given. Whether an encoder is the index's model is
decided by its fingerprint, not its name, so the same model reached by another path is accepted. `build`
stores the fingerprint even when it adds no documents; an index without one (made by `create`) takes only
an encoder that is its model by name, since that encoder's fingerprint is then stored.

The given language is kept without script or region (`sr-Latn` and a detected `srp_Cyrl` are both `srp`),
so the given-language filter refuses a code with a script or region; the detected filter keeps scripts.

One SearchIndex object may be used from many threads (one lock guards its SQLite connection and FAISS
copy; encoding runs outside it). Each object knows the generation its FAISS copy holds: a write that finds
another writer's change committed since (another process, or another object on the same folder) rebuilds
its copy from SQLite rather than saving a cache that lacks that change, and a search that finds the
generation moved reloads the cache first, so a server sees documents that `xling index add` added while
it ran. Writes from several processes are serialised by SQLite (a blocked write waits WRITE_WAIT_S).
An index replaced since it was opened (`build --overwrite` swaps in a new folder, a new documents.sqlite)
is reopened by the next search or write, so a server follows it; one replaced by an index of another
model, or removed, is an XlingError from then on rather than the deleted documents.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import struct
import threading
import time
import unicodedata
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import faiss
import numpy as np

from xling.atomic import atomic_folder, atomic_write, shown_names, write_json_atomically
from xling.data.languages import DEFAULT_MEMBER, MACROLANGUAGES, normalize_language
from xling.data.readers import ascii_digits
from xling.embeddings.fingerprint import PROBE_MIN_COSINE, PROBE_TEXTS, lowest_row_cosine
from xling.embeddings.protocol import TextEncoder
from xling.errors import BusyError, ConfigError, DataError, XlingError
from xling.langid.labels import UNDETERMINED, Label, label_matches, parse_label
from xling.retrieval.knn import (
    HNSW_EF_SEARCH,
    INDEX_KINDS,
    IVF_MIN_POINTS_PER_LIST,
    IVF_NPROBE,
    ivf_list_count,
    new_faiss_index,
)
from xling.retrieval.mining import encode_texts

if TYPE_CHECKING:
    from xling.data.documents import Document
    from xling.langid import LanguageIdentifier

__all__ = ["DUPLICATE_ACTIONS", "FORMAT_VERSION", "AddResult", "Hit", "SearchIndex", "model_reference"]

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: stable document keys and the model fingerprint
INFO_FILE = "index.json"
DB_FILE = "documents.sqlite"
REPLACEMENT_WAIT_S = 1.0
"""How long a search waits for an index folder that is gone to come back (`build --overwrite` swaps it)."""
CACHE_FILE = "vectors.faiss"
CACHE_MAGIC = b"XLFAISS1"
CACHE_HEADER = struct.Struct("<8sqq")  # magic, generation, number of vectors
OWN_FILES = frozenset(
    {INFO_FILE, DB_FILE, f"{DB_FILE}-journal", f"{DB_FILE}-wal", f"{DB_FILE}-shm", CACHE_FILE}
)
DUPLICATE_ACTIONS = ("skip", "error", "replace")

OVERFETCH = 4  # with a language filter, first ask FAISS for k * OVERFETCH hits, then double until k remain
WIDEN_ROUNDS = 4  # doublings tried before searching the remaining queries with an id selector instead
# an approximate index (IVF, HNSW) with a filter that few documents pass scores those documents exactly:
# an id selector inside an approximate search misses most of them (IVF probes a few lists, HNSW's graph
# walk skips filtered-out nodes)
EXACT_FILTERED_MAX = 50_000
SQL_VARIABLES = 900  # ids per `IN (...)`: old SQLite builds allow 999 variables per statement
REBUILD_BATCH = 16_384  # vectors read from SQLite per step when rebuilding the cache
IVF_TRAIN_PER_LIST = 64  # training vectors per IVF list (a stride sample of the stored vectors)
_SUBTAG_RE = re.compile(r"[-_]")  # BCP-47 subtags, or a detector label's language_Script
KEY_HEX_DIGITS = 32  # a content key is 128 bits of SHA-256: no collision in any index that fits on a disk
DETECT_BATCH = 8192  # texts per detector call: its (texts x labels) probabilities stay a few MB

SCHEMA = """
CREATE TABLE documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a deleted id is never handed out again
    key TEXT NOT NULL UNIQUE,              -- the stable id: given with the document, or a content hash
    text TEXT NOT NULL,
    language TEXT NOT NULL,
    metadata TEXT,
    vector BLOB NOT NULL,
    detected TEXT                          -- the language detector's label (NULL: added without one)
);
CREATE INDEX documents_language ON documents (language);
CREATE INDEX documents_detected ON documents (detected);
CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE probes (position INTEGER PRIMARY KEY, text TEXT NOT NULL, vector BLOB NOT NULL);
"""


@dataclass(frozen=True)
class Hit:
    """One search result: the document's ids, its cosine similarity to the query, and the stored fields."""

    id: int
    score: float
    text: str
    language: str
    metadata: dict[str, Any] | None
    key: str
    detected: str | None = None
    """The language detector's label for the text (`deu`, `srp_Cyrl`, `und`); None: added without one."""


@dataclass(frozen=True)
class _Filter:
    """Which stored documents a search returns: given languages and detected labels (None: any)."""

    languages: frozenset[str] | None = None
    detected: frozenset[str] | None = None

    @property
    def empty(self) -> bool:
        """Return True when no document can pass (a wanted set matches nothing stored)."""
        return self.languages == frozenset() or self.detected == frozenset()

    def where(self) -> tuple[str, list[str]]:
        """Return the SQL condition on the documents table and its parameters."""
        clauses: list[str] = []
        params: list[str] = []
        for column, values in (("language", self.languages), ("detected", self.detected)):
            if values is not None:
                clauses.append(f"{column} IN ({','.join('?' * len(values))})")
                params += sorted(values)
        return " AND ".join(clauses) or "1", params  # no filter: every document

    def accepts(self, language: str, detected: str | None) -> bool:
        """Return True when a document with this language and detected label passes."""
        return (self.languages is None or language in self.languages) and (
            self.detected is None or detected in self.detected
        )


@dataclass(frozen=True)
class AddResult:
    """What one add did."""

    ids: list[int]
    """The row id of each given document, in order (a skipped duplicate's is the stored document's)."""
    added: int
    """Documents stored under a key that was new."""
    skipped: int
    """Documents not stored: with skip, their key was already there (or earlier in the same add); with
    replace, a later document of the same add took their key. added + skipped + replaced is every document."""
    replaced: int
    """Stored documents whose text, language, metadata and vector were replaced (keeping their row id)."""


def model_reference(model: str) -> str:
    """Return what loads `model` from any directory: a local folder's absolute path, else `model` as is."""
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model


def _encoder_label(name: object, model: str | None) -> str:
    """Return how errors name an encoder: what loaded it and, when that differs, its own name."""
    if model is None or model == name:
        return repr(name)
    return f"{model!r} (encoder {name!r})"


def document_key(text: str, language: str) -> str:
    """Return the content key of a document: a hash of its (canonical) language code and its text in NFC, so
    the same text in NFD is the same document (a text in NFC hashes as before keys were normalised)."""
    return _content_hash(unicodedata.normalize("NFC", text), language)


def _content_hash(text: str, language: str) -> str:
    """Return the hash of a language code and a text as given: the content key an earlier xling stored."""
    return hashlib.sha256(f"{language}\t{text}".encode()).hexdigest()[:KEY_HEX_DIGITS]


def _given_key(key: str) -> str:
    """Return the stable key of a given id: stripped, in NFC (the same id in NFD is the same document)."""
    return unicodedata.normalize("NFC", key.strip())


_T = TypeVar("_T")


def _busy_is_an_error(method: Callable[..., _T]) -> Callable[..., _T]:
    """Return `method` with SQLite's "database is locked" turned into an XlingError naming the index: a large
    `xling index add` holds the write lock until it commits, and a search that waited WRITE_WAIT_S for it got
    a raw sqlite3.OperationalError."""

    @functools.wraps(method)
    def wrapper(self: SearchIndex, *args: Any, **kwargs: Any) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.OperationalError as error:
            if not _is_locked(error):
                raise
            raise BusyError(f"{self._shown_path}: the index is busy (another process is writing to it and "
                             f"held it locked for {WRITE_WAIT_S:.0f} s: {error}); try again") from None  # fmt: skip

    return wrapper


def _is_locked(error: sqlite3.DatabaseError) -> bool:
    """Return True when `error` is SQLite's "database is locked": another process holds the index for now."""
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def _open_busy(db_path: Path, error: sqlite3.DatabaseError) -> BusyError:
    """Return the error of an open that found the index locked: a BusyError, since the same open may succeed
    once the writer commits (a server answers 503 and loads the index again on the next request, rather
    than keeping it as failed until a restart)."""
    return BusyError(f"{db_path}: the index is busy (another process holds it locked: {error}); try again")


class SearchIndex:
    """A folder holding documents in many languages and their vectors; see the module docstring."""

    def __init__(self, path: Path, info: dict[str, Any], db: sqlite3.Connection) -> None:
        """Use SearchIndex.create, SearchIndex.build or SearchIndex.open rather than this."""
        self.path = path
        # how errors name the index: the folder asked for, not the hidden staging folder a build fills
        self._shown_path = path
        self.model: str = info["model"]
        self.dimension: int = info["dimension"]
        self.kind: str = info["kind"]
        self._db = db
        self._vectors = _new_faiss(self.kind, self.dimension, None)
        # one lock for the connection and the FAISS copy: FAISS must not search while it is being changed
        self._lock = threading.RLock()
        self._checked: weakref.WeakSet[Any] = weakref.WeakSet()  # encoders whose fingerprint matched
        self._has_detected = False  # the documents table has the `detected` column (set by create/open)
        self._labels: tuple[int, frozenset[str]] | None = None  # (generation, detected labels stored)
        self._generation = -1  # the SQLite generation the FAISS copy holds (-1: none yet)
        self._unsaved_warned = False  # a rebuilt cache that could not be saved was logged (once)
        # which documents.sqlite the connection holds: a replacement (build --overwrite) is a new file
        self._db_identity = _file_identity(path / DB_FILE)

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

        `model_name` is what loads the model (stored as model_reference(model_name)). The folder may be
        missing or empty. An existing index there is an error unless `overwrite`; it is replaced only
        once the new one is complete.
        """
        return cls._staged(path, model_name, dimension, index_kind, overwrite, None)

    @classmethod
    def build(
        cls,
        path: str | os.PathLike[str],
        encoder: TextEncoder,
        documents: Sequence[Document],
        model: str | None = None,
        index_kind: str = "flat",
        overwrite: bool = False,
        on_duplicate: str = "skip",
        batch_size: int = 64,
        show_progress: bool = False,
        detector: LanguageIdentifier | None = None,
        *,
        where: Callable[[int], str] | None = None,
    ) -> tuple[SearchIndex, AddResult]:
        """Return (the index, what was added) after indexing `documents` with `encoder` in folder `path`.

        `model` is what loads the encoder (default its name). Nothing appears at `path` until every
        document is stored: a build that fails or is killed leaves no index there, and an index being
        replaced (`overwrite`) stays whole until then. With a `detector`, each document's detected
        language is stored too (see add_texts, also for `where`).
        """
        _check_duplicate_action(on_duplicate)
        results: list[AddResult] = []
        name = model if model is not None else getattr(encoder, "name", None)

        def fill(index: SearchIndex) -> None:
            # also with no documents: the add stores the encoder's fingerprint, which later adds are checked by
            added = index.add_documents(encoder, documents, on_duplicate, batch_size, show_progress, detector,
                                        model=name, where=where)  # fmt: skip
            results.append(added)

        dimension = getattr(encoder, "dimension", None)
        return cls._staged(path, name, dimension, index_kind, overwrite, fill), results[0]  # type: ignore[arg-type]

    @classmethod
    def _staged(
        cls,
        path: str | os.PathLike[str],
        model_name: str,
        dimension: int,
        index_kind: str,
        overwrite: bool,
        fill: Callable[[SearchIndex], None] | None,
    ) -> SearchIndex:
        """Return the opened index after making it in a sibling folder, filling it, and swapping it in."""
        if not isinstance(model_name, str) or not model_name.strip():
            raise ConfigError(f"search index: model_name must be a non-empty string, got {model_name!r}")
        if not isinstance(dimension, int | np.integer) or isinstance(dimension, bool) or dimension < 1:
            raise ConfigError(f"search index: dimension must be a positive integer, got {dimension!r}")
        if index_kind not in INDEX_KINDS:
            raise ConfigError(
                f"search index: index_kind must be one of {', '.join(INDEX_KINDS)}, got {index_kind!r}"
            )
        root = Path(path)
        _check_target(root, overwrite)
        _remove_dead_staging(root)
        info = {
            "format": FORMAT_VERSION,
            "model": model_reference(model_name),
            "dimension": int(dimension),
            "kind": index_kind,
        }
        # without overwrite, atomic_folder's commit refuses a folder filled while this one was made (another
        # process's build there); an interrupted create's remains, which _check_target lets this replace,
        # need overwrite there, so what is there is checked again just before the swap
        replaces = overwrite or _holds_anything(root)
        with (
            atomic_folder(root, overwrite=replaces, what="search index") as staging,
            cls._create_in(staging, info) as index,
        ):
            index._shown_path = root
            if fill is not None:
                fill(index)
            if replaces:
                _check_target_again(root, overwrite)
        return cls.open(root)

    @classmethod
    def _create_in(cls, root: Path, info: dict[str, Any]) -> SearchIndex:
        """Return a new empty index in the empty folder `root`, described by `info`."""
        db = _connect(root / DB_FILE)
        try:
            with _transaction(db):
                # statement by statement: executescript would commit the open transaction first
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?)",
                    [("generation", 0), ("dimension", info["dimension"])],
                )
            index = cls(root, info, db)
            index._has_detected = True
            index._save_cache(0)
            # index.json last: a folder holding it is a complete index, one without it an interrupted create
            write_json_atomically(root / INFO_FILE, info)
        except BaseException:
            db.close()  # a failed create leaves no open connection on the half-made folder
            raise
        return index

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        expected_model: str | None = None,
        expected_dimension: int | None = None,
    ) -> SearchIndex:
        """Return the index in folder `path`, its FAISS cache rebuilt from SQLite if missing or stale.

        `expected_model` / `expected_dimension`, when given, must match what the index was built with
        (a local folder matches by its resolved path, whatever path reaches it). Raises BusyError when
        another process held the index locked for WRITE_WAIT_S (the same open may succeed later).
        """
        root = Path(path)
        if not root.is_dir():
            if not root.exists():
                raise DataError(_missing_folder_message(root), root)
            raise DataError("not a folder", root)
        info = _read_info(root)
        if expected_model is not None and model_reference(expected_model) != info["model"]:
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
        identity = _file_identity(db_path)  # before connecting: a file swapped in meanwhile is reopened later
        db = _connect(db_path)
        index = cls(root, info, db)
        index._db_identity = identity
        try:
            stored_dimension = index._state("dimension")
            index._db.execute("SELECT key FROM documents LIMIT 1").fetchall()
            index._db.execute("SELECT vector FROM probes LIMIT 1").fetchall()
            index._has_detected = _has_column(index._db, "documents", "detected")
        except sqlite3.DatabaseError as exc:
            db.close()
            if _is_locked(exc):
                raise _open_busy(db_path, exc) from None
            raise DataError(f"not a readable search index database: {exc}", db_path) from None
        if stored_dimension != info["dimension"]:
            db.close()
            raise DataError(
                f"{INFO_FILE} says dimension {info['dimension']} but the database holds {stored_dimension}",
                root,
            )
        try:
            index._load_or_rebuild_cache()
        except BaseException as exc:
            db.close()
            # a writer that took the lock after the checks above
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise _open_busy(db_path, exc) from None
            raise
        return index

    def close(self) -> None:
        """Return nothing; close the database (the index object is unusable afterwards)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @_busy_is_an_error
    def __len__(self) -> int:
        with self._lock:
            self._follow_replacement()
            return self._count()

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
        keys: Sequence[str | None] | None = None,
        on_duplicate: str = "skip",
        detected: Sequence[str | None] | None = None,
    ) -> AddResult:
        """Return what was added after storing `texts` with their vectors, languages, metadata and keys.

        `languages` is one code for all texts or one per text (any ISO 639 / BCP-47 form); metadata
        items must be JSON-serialisable mappings or None; a key None (or `keys` None) is the content key
        of language and text; `detected` is a language detector's label per text (None: not detected). A
        key already stored, or given twice, is a duplicate: `on_duplicate` "skip" keeps the first,
        "error" raises (and adds nothing), "replace" keeps the last. The whole add is one transaction:
        after a crash it is either all stored or not at all.
        """
        _check_duplicate_action(on_duplicate)
        texts = _text_list(texts, "texts")
        unit = self._unit_vectors(vectors, "document")
        codes = _language_list(languages, len(texts))
        extras = _metadata_list(metadata, len(texts))
        stable, earlier = _key_list(keys, texts, codes)
        labels = None if detected is None else _label_list(detected, len(texts))
        if len(unit) != len(texts):
            raise XlingError(f"{self.path}: {len(texts)} texts but {len(unit)} vectors")
        with self._lock:
            return self._add_rows(stable, texts, codes, extras, unit, on_duplicate, None, labels,
                                  earlier=earlier)  # fmt: skip

    def _add_rows(
        self,
        keys: list[str],
        texts: list[str],
        codes: list[str],
        extras: list[str | None],
        unit: np.ndarray,
        on_duplicate: str,
        probe: np.ndarray | None,
        detected: list[str | None] | None = None,
        where: Callable[[int], str] | None = None,
        *,
        earlier: Mapping[str, str] | None = None,
    ) -> AddResult:
        """Return the AddResult of storing these rows in one transaction (the caller holds the lock).

        `detected` (a label or None per row) adds the `detected` column to an index made before it had one.
        `where` names row i in a duplicate's error (`path:line`; None: `document i`). `earlier` maps keys an
        earlier xling stored to the keys now (_key_list): such a document is a duplicate too, and a
        replacement stores it under its key now.
        """
        self._follow_replacement()
        _remove_dead_temporaries(self.path)
        if not keys:
            if probe is not None:
                # an index built empty keeps its model's fingerprint: else the first encoder to add would
                # set it, whatever model index.json names
                with _transaction(self._db):
                    self._save_probe(probe)
            return AddResult([], 0, 0, 0)
        chosen: dict[str, int] = {}  # key -> the position whose row is stored under it
        skipped = 0
        labels = detected if detected is not None else [None] * len(keys)
        with _transaction(self._db):
            # the schema as it is now, under the write lock, not as this object last saw it: another object
            # or process may have added the column since, and adding it twice is an OperationalError
            has_detected = self._has_detected or _has_column(self._db, "documents", "detected")
            if detected is not None and not has_detected:
                # inside the transaction: a failed add leaves the table as it was
                self._db.execute("ALTER TABLE documents ADD COLUMN detected TEXT")
                self._db.execute("CREATE INDEX documents_detected ON documents (detected)")
            with_detected = has_detected or detected is not None
            stored = self._ids_of_keys(keys, earlier)
            if on_duplicate == "error":
                self._raise_first_duplicate(keys, stored, where)
            for position, key in enumerate(keys):
                if key in chosen or key in stored:
                    if on_duplicate == "skip":
                        skipped += 1
                        continue
                    if key in chosen:  # replace: the earlier document given under the key is not stored
                        skipped += 1
                chosen[key] = position  # replace: the last document given under a key wins
            ids = dict(stored)
            changed: list[int] = []
            columns = ("text", "language", "metadata", "vector", *(("detected",) if with_detected else ()))
            # the key too: a document an earlier xling stored under a key not in NFC takes its key now
            update = f"UPDATE documents SET key = ?, {', '.join(f'{c} = ?' for c in columns)} WHERE id = ?"
            insert = f"INSERT INTO documents (key, {', '.join(columns)}) VALUES (?{', ?' * len(columns)})"
            for key, position in chosen.items():
                row = (texts[position], codes[position], extras[position], _blob(unit[position]))
                row += (labels[position],) if with_detected else ()
                if key in stored:
                    self._db.execute(update, (key, *row, stored[key]))
                else:
                    ids[key] = int(self._db.execute(insert, (key, *row)).lastrowid)
                changed.append(ids[key])
            if probe is not None:
                self._save_probe(probe)
            generation = self._bump_generation() if changed else None
        self._has_detected = with_detected
        if generation is not None:
            positions = list(chosen.values())
            old = np.asarray([ids[k] for k in chosen if k in stored], dtype=np.int64)
            new_ids = np.asarray(changed, dtype=np.int64)
            self._update_cache(lambda: self._replace_in_faiss(old, unit[positions], new_ids), generation)
        # a key given twice in one add and new to the index is added once and replaces nothing stored
        replaced = sum(1 for key in chosen if key in stored)
        return AddResult([ids[key] for key in keys], len(chosen) - replaced, skipped, replaced)

    def _duplicate_error(
        self, key: str, position: int, first: int | None, where: Callable[[int], str] | None
    ) -> XlingError:
        """Return the error of row `position`, whose `key` is stored already (`first` None) or was given
        first at row `first`: named by `where` (a file's `path:line`) when given, else by its position."""
        advice = "choose on_duplicate skip or replace (--on-duplicate)"
        if where is None:
            problem = "is already in the index" if first is None else "is given twice"
            return XlingError(f"{self._shown_path}: document {position} (key {key!r}) {problem}; {advice}")
        problem = f"is already in the index {self._shown_path}" if first is None else (
            f"is given twice (first at {where(first)})")  # fmt: skip
        return XlingError(f"{where(position)}: id {key!r} {problem}; {advice}")

    def delete(self, ids: Sequence[int] | np.ndarray) -> int:
        """Return how many of the row `ids` were stored and are now deleted (unknown ids are ignored)."""
        wanted = sorted({int(i) for i in np.asarray(ids, dtype=np.int64).ravel()})
        if not wanted:
            return 0
        removed = 0
        with self._lock:
            self._follow_replacement()
            _remove_dead_temporaries(self.path)
            with _transaction(self._db):
                for chunk in _chunks(wanted, SQL_VARIABLES):
                    marks = ",".join("?" * len(chunk))
                    query = f"DELETE FROM documents WHERE id IN ({marks})"
                    removed += self._db.execute(query, chunk).rowcount
                generation = self._bump_generation() if removed else None
            if generation is not None:
                gone = np.asarray(wanted, dtype=np.int64)
                self._update_cache(lambda: self._replace_in_faiss(gone, None, None), generation)
        return removed

    def delete_keys(self, keys: Sequence[str]) -> int:
        """Return how many of the documents with these stable keys were stored and are now deleted (a key is
        stripped and matched in NFC, as add stores it)."""
        if isinstance(keys, str):
            raise XlingError("keys must be a sequence of strings, not one string: wrap it in a list")
        given = [str(key) for key in keys]
        # stripped and in NFC, as add stores them; also as given (stripped) and in NFD: a key an earlier xling
        # stored without normalising it
        wanted = {_given_key(key) for key in given} | {key.strip() for key in given}
        wanted |= {_nfd(key.strip()) for key in given}
        with self._lock:
            self._follow_replacement()
            return self.delete(list(self._stored_keys(sorted(wanted)).values()))

    def add_texts(
        self,
        encoder: TextEncoder,
        texts: Sequence[str],
        languages: str | Sequence[str],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        batch_size: int = 64,
        keys: Sequence[str | None] | None = None,
        on_duplicate: str = "skip",
        show_progress: bool = False,
        detector: LanguageIdentifier | None = None,
        *,
        model: str | None = None,
        where: Callable[[int], str] | None = None,
    ) -> AddResult:
        """Return what was added after encoding `texts` with `encoder` and adding them (see add).

        With "skip", documents whose key is already stored are not even encoded, so adding a file again
        costs little; one of them that another writer deletes while the others are encoded is encoded and
        added after all (counted as added), so every given document is stored afterwards. `show_progress`
        draws a bar while the texts are encoded. With a `detector`, each stored text's detected label is
        stored too (batched calls), and a text given as `und` takes the detected language as its language
        (and content key). `model` is what loaded `encoder` (a folder, shipped name or Hub id; default its
        name): errors name it, and an index without a fingerprint accepts the encoder only when it or the
        encoder's name is the index's model. `where` names text i in a duplicate's error, `path:line` for
        texts read from a file (default: `document i`).
        """
        _check_duplicate_action(on_duplicate)
        probe = self._check_encoder(encoder, model)
        texts = _text_list(texts, "texts")
        codes = _language_list(languages, len(texts))
        found: dict[int, str] = {}
        if detector is not None:
            found = _detect(detector, texts, [i for i, code in enumerate(codes) if code == UNDETERMINED])
            for i, label in found.items():
                codes[i] = parse_label(label).language
        extras = _metadata_list(metadata, len(texts))
        stable, earlier = _key_list(keys, texts, codes)
        todo = list(range(len(texts)))
        if on_duplicate == "skip":
            with self._lock:
                self._follow_replacement()
                stored = self._ids_of_keys(stable, earlier)
            first: dict[str, int] = {}
            for position, key in enumerate(stable):
                if key not in stored:
                    first.setdefault(key, position)
            todo = sorted(first.values())
        elif on_duplicate == "replace":  # only the last document given under a key is stored: encode that one
            todo = sorted({key: position for position, key in enumerate(stable)}.values())
        else:  # "error": found before hours of encoding, not after (add checks again, in its transaction)
            self._check_no_duplicates(stable, earlier, where)
        vectors = (
            encode_texts(encoder, [texts[i] for i in todo], batch_size, show_progress)
            if todo
            else np.zeros((0, self.dimension), np.float32)
        )
        unit = self._unit_vectors(vectors, "document")
        if len(unit) != len(todo):
            raise XlingError(f"{self._shown_path}: {len(todo)} texts but {len(unit)} vectors")
        detected: list[str | None] | None = None
        if detector is not None:
            found.update(_detect(detector, texts, [i for i in todo if i not in found]))
            detected = [found[i] for i in todo]
        with self._lock:
            result = self._add_rows(
                [stable[i] for i in todo],
                [texts[i] for i in todo],
                [codes[i] for i in todo],
                [extras[i] for i in todo],
                unit,
                on_duplicate,
                probe,
                detected,
                None if where is None else lambda row: where(todo[row]),
                earlier=earlier,
            )
            if len(todo) == len(texts):
                return result
            if on_duplicate == "replace":
                ids = {stable[position]: row_id for position, row_id in zip(todo, result.ids, strict=True)}
                superseded = len(texts) - len(todo)
                return AddResult([ids[key] for key in stable], result.added, result.skipped + superseded,
                                 result.replaced)  # fmt: skip
            ids = self._ids_of_keys(stable, earlier)
        added = result.added + self._add_deleted_meanwhile(
            encoder, stable, texts, codes, extras, ids, batch_size, detector, model
        )
        return AddResult([ids[key] for key in stable], added, len(texts) - added, 0)

    def _check_no_duplicates(
        self, keys: list[str], earlier: Mapping[str, str], where: Callable[[int], str] | None
    ) -> None:
        """Return nothing; raise add's error for the first of `keys` stored already or given twice."""
        with self._lock:
            self._follow_replacement()
            stored = self._ids_of_keys(keys, earlier)
        self._raise_first_duplicate(keys, stored, where)

    def _raise_first_duplicate(
        self, keys: Sequence[str], stored: Mapping[str, int], where: Callable[[int], str] | None
    ) -> None:
        """Return nothing; raise add's error for the first of `keys` in `stored` or given earlier in `keys`."""
        seen: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key in stored or key in seen:
                raise self._duplicate_error(key, position, None if key in stored else seen[key], where)
            seen[key] = position

    def _add_deleted_meanwhile(
        self,
        encoder: TextEncoder,
        keys: list[str],
        texts: list[str],
        codes: list[str],
        extras: list[str | None],
        ids: dict[str, int],
        batch_size: int,
        detector: LanguageIdentifier | None,
        model: str | None,
    ) -> int:
        """Return how many documents were added after adding (with "skip") those of `keys` missing from
        `ids`, the row ids stored now, and putting their row ids into `ids`.

        A key is missing when add_texts skipped its document as stored, not encoding it, and another writer
        deleted it while the other texts were encoded: it is encoded and added now, as if that delete had
        come first, so every given document is in the index and has a row id.
        """
        first: dict[str, int] = {}
        for position, key in enumerate(keys):
            if key not in ids:
                first.setdefault(key, position)
        if not first:
            return 0
        gone = list(first.values())
        metadata = [None if extras[i] is None else json.loads(extras[i]) for i in gone]
        again = self.add_texts(encoder, [texts[i] for i in gone], [codes[i] for i in gone], metadata,
                               batch_size, [keys[i] for i in gone], "skip", False, detector,
                               model=model)  # fmt: skip
        ids.update(zip(first, again.ids, strict=True))
        return again.added

    def add_documents(
        self,
        encoder: TextEncoder,
        documents: Sequence[Document],
        on_duplicate: str = "skip",
        batch_size: int = 64,
        show_progress: bool = False,
        detector: LanguageIdentifier | None = None,
        *,
        model: str | None = None,
        where: Callable[[int], str] | None = None,
    ) -> AddResult:
        """Return what was added after encoding `documents` (xling.data.Document) and adding them (see
        add_texts, also for `model` and `where`)."""
        return self.add_texts(
            encoder,
            [document.text for document in documents],
            [document.language for document in documents],
            [document.metadata for document in documents],
            batch_size,
            [document.id for document in documents],
            on_duplicate,
            show_progress,
            detector,
            model=model,
            where=where,
        )

    # --- searching -----------------------------------------------------------------------------------

    @_busy_is_an_error
    def search(
        self,
        query_vectors: np.ndarray,
        k: int = 10,
        languages: str | Sequence[str] | None = None,
        detected: str | Sequence[str] | None = None,
    ) -> list[list[Hit]]:
        """Return, for each query vector, its k most similar documents, best first.

        `languages` restricts hits to documents given in those languages (macrolanguage aware: `zh` finds
        `cmn`; languages only, as the index keeps them: a code with a script or region, `sr-Latn`, `zh-TW`,
        is an XlingError rather than a filter silently widened to every script), `detected` to documents
        the language detector found in them (None: all; any code form, macrolanguage aware, and a script
        must match: `zh-Hant` is not `cmn_Hans`). `detected` on an index that records no detected
        languages is an XlingError. When the wanted documents are a large share of the index, FAISS is
        asked for k * OVERFETCH hits, filtered, and asked again for twice as many while too few pass;
        rare languages, and queries still short after WIDEN_ROUNDS, are searched with a FAISS id selector
        holding only those documents' ids, so memory stays bounded either way. An IVF query whose probed
        lists hold fewer than it asks for is searched again in every list, so a query gets
        min(k, documents that pass) hits on every index kind.
        """
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"search: k must be a positive integer, got {k!r}")
        queries = self._unit_vectors(query_vectors, "query")
        wanted = None if languages is None else _with_macrolanguages(filter_languages(languages))
        codes = None if detected is None else _label_codes(detected)
        with self._lock:
            self._catch_up()
            labels = None if codes is None else self._matching_labels(codes)
            if wanted is None and labels is None:
                return self._search(queries, k, None)
            return self._search(queries, k, _Filter(wanted, labels))

    def _search(self, queries: np.ndarray, k: int, wanted: _Filter | None) -> list[list[Hit]]:
        """Return the hits of unit `queries` that pass `wanted` (None: all); the caller holds the lock."""
        results: list[list[Hit]] = [[] for _ in range(len(queries))]
        total = self._vectors.ntotal
        if total == 0 or not results:
            return results
        if wanted is None:
            self._collect(queries, list(range(len(queries))), min(k, total), None, k, results)
            self._complete_short_rows(queries, _Filter(), total, k, results)
            return results
        in_languages = 0 if wanted.empty else self._count_languages(wanted)
        if in_languages == 0:
            return results
        pending = list(range(len(queries)))
        if in_languages * OVERFETCH >= total:
            fetch = min(total, k * OVERFETCH)
            for _ in range(WIDEN_ROUNDS):
                pending = self._collect(queries, pending, fetch, wanted, k, results, total)
                if not pending or fetch >= total:
                    break
                fetch = min(total, fetch * 2)
        if pending and self.kind != "flat" and in_languages <= EXACT_FILTERED_MAX:
            self._exact(queries, pending, wanted, k, results)
        elif pending:
            selector = faiss.IDSelectorBatch(self._ids_in_languages(wanted))
            self._collect(queries, pending, min(k, in_languages), None, k, results, selector=selector)
        self._complete_short_rows(queries, wanted, in_languages, k, results)
        return results

    def _complete_short_rows(self, queries: np.ndarray, wanted: _Filter, passing: int, k: int,
                             results: list[list[Hit]]) -> None:  # fmt: skip
        """Return nothing; score exactly the queries with fewer than min(k, `passing`) hits where HNSW gave
        them (the caller holds the lock). Its graph can leave a query short when many stored vectors are
        identical: 1,133 hits of 3,000 asked for, with 1,500 copies of one vector among 3,000 documents."""
        short = [query for query, hits in enumerate(results) if len(hits) < min(k, passing)]
        if short and self.kind == "hnsw" and passing <= EXACT_FILTERED_MAX:
            self._exact(queries, short, wanted, k, results)

    def _exact(self, queries: np.ndarray, pending: list[int], wanted: _Filter, k: int,
               results: list[list[Hit]]) -> None:  # fmt: skip
        """Return nothing; store in `results` the k best documents that pass `wanted` for each pending query,
        scored exactly on their stored vectors (the caller holds the lock)."""
        condition, params = wanted.where()
        stored = self._db.execute(f"SELECT id, vector FROM documents WHERE {condition}", params).fetchall()
        ids = np.array([row[0] for row in stored], dtype=np.int64)
        matrix = np.frombuffer(b"".join(row[1] for row in stored), dtype="<f4").reshape(len(stored), -1)
        sims = queries[pending] @ matrix.astype(np.float32).T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        found = ids[top]
        rows = self._rows({int(i) for i in found.ravel()})
        for query, query_sims, query_ids in zip(
            pending, np.take_along_axis(sims, top, axis=1), found, strict=True
        ):
            results[query] = _hits(query_sims, query_ids, rows, None, k)

    def _collect(
        self,
        queries: np.ndarray,
        pending: list[int],
        fetch: int,
        wanted: _Filter | None,
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

    @_busy_is_an_error
    def search_texts(
        self,
        encoder: TextEncoder,
        queries: Sequence[str],
        k: int = 10,
        languages: str | Sequence[str] | None = None,
        batch_size: int = 64,
        detected: str | Sequence[str] | None = None,
        *,
        model: str | None = None,
    ) -> list[list[Hit]]:
        """Return the hits of each query text, encoded with `encoder` (see search; `model`: see add_texts)."""
        self._check_encoder(encoder, model)
        queries = _text_list(queries, "queries")
        if not queries:
            return []
        if detected is not None:  # a bad code or an index without detections fails before encoding
            self.check_detected(detected)
        return self.search(encode_texts(encoder, queries, batch_size), k, languages, detected)

    @_busy_is_an_error
    def check_detected(self, detected: str | Sequence[str]) -> None:
        """Return nothing if `search` may filter on the detected languages `detected`; raise XlingError for a
        code that names no language, or for an index with documents but no detected language (cheap: the
        stored labels are read once per change of the index); BusyError while another process holds the
        index locked (a server answers it 503, not a 400 blaming the filter)."""
        with self._lock:
            self._catch_up()
            self._matching_labels(_label_codes(detected))

    @_busy_is_an_error
    def detected_languages(self) -> dict[str, int]:
        """Return how many documents have each detected label, most first (`{}`: none detected)."""
        with self._lock:
            self._follow_replacement()
            if not self._has_detected:
                return {}
            query = "SELECT detected, COUNT(*) FROM documents WHERE detected IS NOT NULL GROUP BY detected"
            counts = self._db.execute(query).fetchall()
        return {label: int(n) for label, n in sorted(counts, key=lambda row: (-row[1], row[0]))}

    # --- internals -----------------------------------------------------------------------------------

    def _check_encoder(self, encoder: TextEncoder, model: str | None = None) -> np.ndarray | None:
        """Return the probe vectors to store if the index has none yet, else None.

        Raise XlingError if `encoder` makes vectors of another dimension, or (once the index has a
        fingerprint) vectors that differ from those of the model it was built with. An index without a
        fingerprint (made by `create`, or filled with given vectors) accepts only an encoder that is its
        model by name: `model` (what loaded it) or the encoder's own name.
        """
        name = getattr(encoder, "name", None)
        shown = _encoder_label(name, model)
        dimension = getattr(encoder, "dimension", None)
        if dimension != self.dimension:
            raise XlingError(
                f"{self._shown_path}: this index was built with model {self.model!r} of "
                f"{self.dimension}-dimensional vectors, but encoder {shown} makes {dimension}-dimensional ones"
            )
        with self._lock:
            self._follow_replacement()  # the replacement's fingerprint is the one to check against
            if _in_weak_set(self._checked, encoder):
                return None
            stored = self._stored_probe()
        if stored is None:
            # nothing to compare vectors with: the first encoder to add would set the fingerprint, so it
            # must be the model index.json names
            names = [given for given in (model, name) if isinstance(given, str) and given.strip()]
            if not any(model_reference(given) == self.model for given in names):
                raise XlingError(
                    f"{self._shown_path}: this index was built with model {self.model!r}, not {shown}; "
                    "vectors of different models are not comparable"
                )
            if self._has_documents():
                return None  # filled with given vectors: no fingerprint of what made them to store
        probe = encode_texts(encoder, list(PROBE_TEXTS), len(PROBE_TEXTS))
        probe = self._unit_vectors(probe, "probe")
        if stored is None:
            return probe
        lowest = lowest_row_cosine(stored, probe)
        if lowest < PROBE_MIN_COSINE:
            raise XlingError(
                f"{self._shown_path}: this index was built with model {self.model!r}, not {shown}: its "
                f"vectors differ (cosine {lowest:.3f} on a probe sentence); vectors of different "
                "models are not comparable"
            )
        with self._lock:
            _add_to_weak_set(self._checked, encoder)
        return None

    def _unit_vectors(self, vectors: np.ndarray, what: str) -> np.ndarray:
        """Return `vectors` as a [n, dimension] float32 array of unit rows; raise XlingError if unusable."""
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or (array.shape[1] != self.dimension and array.size):
            width = array.shape[-1] if array.ndim else "scalar"
            raise XlingError(
                f"{self._shown_path}: this index holds {self.dimension}-dimensional vectors, "
                f"got {what} vectors of dimension {width} (shape {array.shape})"
            )
        array = np.ascontiguousarray(array.reshape(-1, self.dimension))
        if not np.isfinite(array).all():
            raise XlingError(f"{self._shown_path}: {what} vectors contain NaN or infinite values")
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

    def _rows(self, ids: set[int]) -> dict[int, tuple[str, str, str | None, str, str | None]]:
        """Return {id: (text, language, metadata JSON, key, detected)} of the stored documents among `ids`."""
        rows: dict[int, tuple[str, str, str | None, str, str | None]] = {}
        detected = "detected" if self._has_detected else "NULL"
        for chunk in _chunks(sorted(ids), SQL_VARIABLES):
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT id, text, language, metadata, key, {detected} FROM documents WHERE id IN ({marks})"
            )
            for ident, text, language, extra, key, label in self._db.execute(query, chunk):
                rows[int(ident)] = (text, language, extra, key, label)
        return rows

    def _matching_labels(self, codes: list[Label]) -> frozenset[str]:
        """Return the stored detected labels that match one of `codes` (the caller holds the lock).

        Raises XlingError when the index has documents but none with a detected language.
        """
        generation = self._state("generation")
        if self._labels is None or self._labels[0] != generation:
            stored: frozenset[str] = frozenset()
            if self._has_detected:
                query = "SELECT DISTINCT detected FROM documents WHERE detected IS NOT NULL"
                stored = frozenset(row[0] for row in self._db.execute(query))
                missing = self._db.execute(
                    "SELECT COUNT(*) FROM documents WHERE detected IS NULL"
                ).fetchone()[0]
                if stored and missing:
                    logger.warning("%s: %d documents were added without a language detector; a detected-"
                                   "language filter leaves them out", self.path, missing)  # fmt: skip
            self._labels = (generation, stored)
        stored = self._labels[1]
        if not stored and self._has_documents():
            raise XlingError(
                f"{self.path}: this index records no detected languages (it was built without a language "
                "detector, or by an older xling); build it again with one (xling index build --overwrite "
                "--detect-language) or filter on the given languages (--lang)"
            )
        return frozenset(label for label in stored if any(_label_is(label, code) for code in codes))

    def _ids_of_keys(self, keys: Sequence[str], earlier: Mapping[str, str] | None = None) -> dict[str, int]:
        """Return {key: row id} for the stored documents among `keys`; one stored by an earlier xling under a
        key of `earlier` (_key_list: an id or text not in NFC) counts as stored under its key now."""
        found = self._stored_keys(keys)
        if earlier:
            for old, ident in self._stored_keys(list(earlier)).items():
                found.setdefault(earlier[old], ident)  # a document stored under the key now comes first
        return found

    def _stored_keys(self, keys: Sequence[str]) -> dict[str, int]:
        """Return {key: row id} for the stored documents whose key is exactly one of `keys`."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(keys)), SQL_VARIABLES):
            marks = ",".join("?" * len(chunk))
            for key, ident in self._db.execute(
                f"SELECT key, id FROM documents WHERE key IN ({marks})", chunk
            ):
                found[key] = int(ident)
        return found

    def _count(self) -> int:
        """Return how many documents are stored (internal: does not follow a replaced index)."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    def _has_documents(self) -> bool:
        """Return True if any document is stored."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM documents LIMIT 1").fetchone() is not None

    def _stored_probe(self) -> np.ndarray | None:
        """Return the stored probe vectors (the model's fingerprint), or None if there are none yet."""
        rows = self._db.execute("SELECT text, vector FROM probes ORDER BY position").fetchall()
        if not rows:
            return None
        if [text for text, _ in rows] != list(PROBE_TEXTS) or any(
            len(b) != 4 * self.dimension for _, b in rows
        ):
            return None  # another probe set (a later xling): not comparable, so not checked
        return np.frombuffer(b"".join(blob for _, blob in rows), dtype="<f4").reshape(len(rows), -1)

    def _save_probe(self, probe: np.ndarray) -> None:
        """Return nothing; store the probe vectors unless some are stored (inside the caller's transaction)."""
        if self._db.execute("SELECT 1 FROM probes LIMIT 1").fetchone() is None:
            self._db.executemany(
                "INSERT INTO probes (position, text, vector) VALUES (?, ?, ?)",
                [
                    (i, text, _blob(vector))
                    for i, (text, vector) in enumerate(zip(PROBE_TEXTS, probe, strict=True))
                ],
            )

    def _faiss_search(
        self, queries: np.ndarray, fetch: int, selector: faiss.IDSelector | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return FAISS's (sims, ids) of `fetch` hits per query, only among `selector`'s ids if given; a row
        padded with -1 has all the index holds (an IVF row short after IVF_NPROBE lists is searched again in
        all)."""
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, fetch))
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=faiss.extract_index_ivf(self._vectors).nprobe)
        else:
            params = faiss.SearchParameters()
        if selector is not None:
            params.sel = selector
        sims, ids = self._vectors.search(queries, fetch, params=params)
        if self.kind == "ivf":
            # FAISS pads with -1 when the probed lists hold fewer than `fetch` vectors (a k near the index's
            # size, or a filter's id selector): those queries are searched in every list, so a short row
            # means the index has nothing more to give, as with flat
            short = np.flatnonzero((ids < 0).any(axis=1))
            if len(short) and params.nprobe < faiss.extract_index_ivf(self._vectors).nlist:
                sims[short], ids[short] = self._search_every_list(queries[short], fetch, selector)
        return sims, ids

    def _search_every_list(
        self, queries: np.ndarray, fetch: int, selector: faiss.IDSelector | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return FAISS's (sims, ids) of `fetch` hits per query from an IVF index probing all its lists
        (exact, at the cost of a flat search)."""
        params = faiss.SearchParametersIVF(nprobe=faiss.extract_index_ivf(self._vectors).nlist)
        if selector is not None:
            params.sel = selector
        return self._vectors.search(queries, fetch, params=params)

    def _count_languages(self, wanted: _Filter) -> int:
        """Return how many stored documents pass `wanted`."""
        condition, params = wanted.where()
        return int(
            self._db.execute(f"SELECT COUNT(*) FROM documents WHERE {condition}", params).fetchone()[0]
        )

    def _ids_in_languages(self, wanted: _Filter) -> np.ndarray:
        """Return the ids of the stored documents that pass `wanted`."""
        condition, params = wanted.where()
        cursor = self._db.execute(f"SELECT id FROM documents WHERE {condition}", params)
        return np.fromiter((row[0] for row in cursor), dtype=np.int64)

    def _add_to_faiss(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Return nothing; add committed vectors to the FAISS copy, retraining an IVF that outgrew it."""
        if self.kind == "ivf":
            ivf = faiss.extract_index_ivf(self._vectors)
            if not ivf.is_trained or ivf_list_count(ivf.ntotal + len(ids)) >= 2 * ivf.nlist:
                self._rebuild()
                return
        self._vectors.add_with_ids(vectors, ids)

    def _replace_in_faiss(self, old: np.ndarray, vectors: np.ndarray | None, ids: np.ndarray | None) -> None:
        """Return nothing; drop the `old` ids from the FAISS copy, then add `vectors` under `ids`.

        HNSW cannot remove, so a change that removes anything rebuilds it from SQLite, which already
        holds the committed change (the new vectors included).
        """
        if len(old):
            if self.kind == "hnsw":
                self._rebuild()
                return
            self._vectors.remove_ids(faiss.IDSelectorBatch(old))
        if vectors is not None and ids is not None and len(ids):
            self._add_to_faiss(vectors, ids)

    def _update_cache(self, change: Any, generation: int) -> None:
        """Return nothing; apply a committed change to the FAISS copy and save it with `generation`."""
        if generation != self._generation + 1:
            # another writer committed since this copy was made: applying only our change would save
            # a cache that claims `generation` but lacks theirs
            self._rebuild()
        else:
            try:
                change()
            except Exception:
                # SQLite has the change already; a FAISS copy that failed half-way is rebuilt, not trusted.
                self._rebuild()
        try:
            self._save_cache(generation)
        except OSError as error:
            # the documents are committed: the add succeeded, and a stale cache is rebuilt by the next open
            # (_load_or_rebuild_cache); a traceback here read as a failed add, and its re-run as duplicates
            self._generation = generation
            logger.warning("%s: the documents are stored, but the vector cache cannot be saved (%s); the next "
                           "open rebuilds it", self._shown_path, error.strerror or error)  # fmt: skip

    def _catch_up(self) -> None:
        """Return nothing; reload the FAISS copy if another writer changed the index since it was made."""
        # generations alone miss a replaced index: the connection still reads the deleted file's documents
        self._follow_replacement()
        if self._state("generation") != self._generation:
            # another process may also have added the `detected` column (add --detect-language)
            self._has_detected = self._has_detected or _has_column(self._db, "documents", "detected")
            self._load_or_rebuild_cache()

    def _follow_replacement(self) -> None:
        """Return nothing; reopen the index if its folder was replaced since this object opened it.

        `build --overwrite` swaps in a new folder: this connection would go on reading the deleted
        database (old documents) and fail to write to it. Raise XlingError, leaving this object as it
        is, when the folder is gone or unreadable, or holds an index of another model or dimension (a
        server's encoder was chosen for this one). The caller holds the lock.
        """
        identity = _file_identity(self.path / DB_FILE)
        # a build --overwrite swaps folders by two renames: between them the path holds no database for a
        # moment, which is no reason to fail a search
        waited = 0.0
        while identity is None and waited < REPLACEMENT_WAIT_S:
            time.sleep(0.05)
            waited += 0.05
            identity = _file_identity(self.path / DB_FILE)
        if identity == self._db_identity:
            return
        try:
            fresh = SearchIndex.open(self.path)
        except BusyError:
            raise  # the new index is being written to: the same call may pass later (a server's 503, not 400)
        except XlingError as exc:
            raise XlingError(
                f"{self.path}: the index was replaced or removed since it was opened and cannot be "
                f"reopened: {exc}"
            ) from None
        try:
            self._check_successor(fresh)
        except BaseException:
            fresh.close()
            raise
        logger.info("%s: the index was replaced since it was opened; reopened it", self.path)
        old = self._db
        self.model, self.dimension, self.kind = fresh.model, fresh.dimension, fresh.kind
        self._db, self._db_identity = fresh._db, fresh._db_identity
        self._vectors, self._generation = fresh._vectors, fresh._generation
        self._has_detected = fresh._has_detected
        self._labels = None  # the new database's generations count from its own start
        self._checked = weakref.WeakSet()  # encoders were checked against the old fingerprint
        old.close()

    def _check_successor(self, fresh: SearchIndex) -> None:
        """Return nothing if `fresh`, the index now at this path, holds vectors of this index's model.

        Raise XlingError if its dimension or its model differs: by the stored fingerprints where both have
        one (the same model reached by another path is the same), else by name. Searching it with vectors
        of this model would return nonsense without an error.
        """
        why = None
        ours, theirs = self._stored_probe(), fresh._stored_probe()
        if fresh.dimension != self.dimension:
            why = f"model {fresh.model!r} of {fresh.dimension}-dimensional vectors"
        elif ours is not None and theirs is not None:
            if lowest_row_cosine(ours, theirs) < PROBE_MIN_COSINE:
                why = f"model {fresh.model!r}, whose vectors differ (its fingerprint)"
        elif fresh.model != self.model:
            why = f"model {fresh.model!r}"
        if why is not None:
            raise XlingError(
                f"{self.path}: the index was replaced since it was opened by one built with {why}, not "
                f"{self.model!r} of {self.dimension}-dimensional vectors; open it again (restart the server)"
            )

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
        count = self._count()
        wanted = min(count, ivf_list_count(count) * IVF_TRAIN_PER_LIST)
        if wanted == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # rows evenly spread over all of them, so the sample spans every language rather than the first ones
        # added (a whole-number stride cut to `wanted` rows covered only the first 57-81% of the rows)
        positions = np.linspace(0, count - 1, wanted).round().astype(np.int64)
        parts: list[np.ndarray] = []
        seen = 0
        for _, vectors in self._stored_vectors():
            start, end = np.searchsorted(positions, [seen, seen + len(vectors)])
            parts.append(vectors[positions[start:end] - seen])
            seen += len(vectors)
        return np.concatenate(parts)

    def _rebuild(self) -> None:
        """Return nothing; rebuild the FAISS copy from the vectors stored in SQLite."""
        train = self._training_sample() if self.kind == "ivf" else None
        # the lists for the documents stored, not for the sample's size: counted from the sample, above about
        # a million documents they came out so few that every later add retrained the whole index
        index = _new_faiss(self.kind, self.dimension, train, ivf_list_count(self._count()))
        for ids, vectors in self._stored_vectors():
            index.add_with_ids(vectors, ids)
        self._vectors = index

    def _save_cache(self, generation: int) -> None:
        """Return nothing; write the FAISS copy and `generation` to the cache file atomically."""
        with atomic_write(self.path / CACHE_FILE, "wb") as handle:
            handle.write(CACHE_HEADER.pack(CACHE_MAGIC, generation, self._vectors.ntotal))
            faiss.write_index(self._vectors, faiss.PyCallbackIOWriter(handle.write))
        self._generation = generation

    def _load_or_rebuild_cache(self) -> None:
        """Return nothing; load the FAISS cache if it matches SQLite, else rebuild it and save it (kept in
        memory only, with a warning logged once, where it cannot be saved: a read-only index)."""
        generation = self._state("generation")
        cached = _read_cache(self.path / CACHE_FILE, self.dimension)
        if cached is not None and cached[0] == generation and cached[1].ntotal == self._count():
            self._vectors = cached[1]
            _set_search_breadth(self._vectors, self.kind)
            self._generation = generation
            return
        self._rebuild()
        try:
            self._save_cache(generation)
        except OSError as error:
            # a search must work without writing (a read-only folder or mount, a full disk): the rebuilt
            # copy is current, and the cache stays stale, to be rebuilt by the next open
            self._generation = generation
            if not self._unsaved_warned:
                self._unsaved_warned = True
                logger.warning("%s: the vector cache was rebuilt but cannot be saved (%s); searching with it in "
                               "memory (each open rebuilds it until the index can be written)",
                               self._shown_path, error.strerror or error)  # fmt: skip


# --- module helpers -----------------------------------------------------------------------------------


def _new_faiss(kind: str, dimension: int, train: np.ndarray | None, lists: int = 1) -> faiss.Index:
    """Return an empty inner-product FAISS index with caller-chosen int64 ids; IVF has `lists` lists (at most
    as many as `train` can train) and is trained on `train`."""
    if kind != "ivf":
        return faiss.IndexIDMap2(new_faiss_index(kind, dimension))
    count = 0 if train is None else len(train)
    index = new_faiss_index(kind, dimension, max(1, min(lists, count // IVF_MIN_POINTS_PER_LIST)))
    if count:
        index.train(train)
    return index


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
        if (root / DB_FILE).exists():
            raise DataError(
                f"incomplete search index (no {INFO_FILE}): its build was interrupted; build it again", root
            )
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
    if info["format"] < FORMAT_VERSION:
        raise DataError(
            f"index format {info['format']} was written by an older xling (no stable document keys); "
            "build the index again (xling index build --overwrite)",
            info_path,
        )
    if info["kind"] not in INDEX_KINDS or info["dimension"] < 1:
        raise DataError(f"bad kind {info['kind']!r} or dimension {info['dimension']!r}", info_path)
    return info


def _remove_dead_staging(root: Path) -> None:
    """Return nothing; delete the staging folders of builds of `root` whose process is gone (killed).

    xling.atomic.atomic_folder stages in `.name.PID.tmp` (`.name.PID.N.tmp` while another thread of the
    process saves the same folder); one whose process still runs is left alone. The process is looked for on
    this machine only: two machines building one index on a shared file system at once is not supported (the
    second removes the first's staging; the first then fails when it moves it into place).
    """
    if not root.parent.is_dir():
        return
    for staging in root.parent.glob(f".{root.name}.*.tmp"):
        pid = staging.name[len(root.name) + 2 : -len(".tmp")].split(".")[0]
        if not ascii_digits(pid) or not staging.is_dir() or _process_alive(int(pid)):
            continue
        if all(entry.name in OWN_FILES or _is_own_temporary(entry.name) for entry in staging.iterdir()):
            shutil.rmtree(staging, ignore_errors=True)


def _remove_dead_temporaries(root: Path) -> None:
    """Return nothing; delete the temporary files in index folder `root` of writes whose process is gone.

    xling.atomic.atomic_write writes `.NAME.PID.tmp` (`.NAME.PID.N.tmp` for a second thread) and renames it
    into place: a process killed between the two leaves it, and nothing else removes it. One whose process
    still runs (this one included) is left alone. A file that cannot be deleted (a read-only index) stays.
    """
    try:
        names = [entry.name for entry in root.iterdir()]
    except OSError:
        return
    for name in names:
        pid = _temporary_pid(name)
        if pid is not None and not _process_alive(pid):
            with suppress(OSError):
                (root / name).unlink()


def _temporary_pid(name: str) -> int | None:
    """Return the process id in the name of a temporary file this module writes, or None for another name."""
    if not _is_own_temporary(name):
        return None
    prefix = f".{CACHE_FILE}." if name.startswith(f".{CACHE_FILE}.") else f".{INFO_FILE}."
    pid = name[len(prefix) : -len(".tmp")].split(".")[0]  # PID, or PID.N
    return int(pid) if ascii_digits(pid) else None


def _process_alive(pid: int) -> bool:
    """Return True if a process with this id runs (or might: one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True
    return True


def _missing_folder_message(root: Path) -> str:
    """Return why `root` is missing: not found, or moved aside by a replacement that was interrupted."""
    if root.parent.is_dir():
        # xling.atomic.atomic_folder moves the old folder to `.name.PID.old` just before the new one takes
        # its place: a crash between the two renames leaves it there
        for aside in sorted(root.parent.glob(f".{root.name}.*.old")):
            if (aside / INFO_FILE).is_file():
                return (
                    f"search index folder not found; a replacement of it was interrupted and left the "
                    f"previous index in {aside}: rename that folder back to {root.name} to use it"
                )
    return "search index folder not found"


def _check_target(root: Path, overwrite: bool) -> None:
    """Return nothing if a new index may take the place of `root`; raise if that would destroy anything else.

    `root` may be missing, empty, the remains of an interrupted create, or (with `overwrite`) an index.
    """
    if not root.exists():
        return
    if not root.is_dir():
        raise DataError("exists and is not a folder", root)
    if (root / INFO_FILE).exists() and not overwrite:
        raise XlingError(
            f"{root}: a search index already exists here; replace it with --overwrite (overwrite=True)"
        )
    foreign = sorted(
        p.name for p in root.iterdir() if p.name not in OWN_FILES and not _is_own_temporary(p.name)
    )
    if foreign:
        raise DataError(
            f"folder is not empty and is not a search index (holds {shown_names(foreign, 3)}); choose another",
            root,
        )


def _holds_anything(root: Path) -> bool:
    """Return True if `root` is a folder with something in it (False: missing, or an empty folder)."""
    return root.is_dir() and any(root.iterdir())


def _check_target_again(root: Path, overwrite: bool) -> None:
    """Return nothing if a new index may still take the place of `root` once it is complete; else raise
    _check_target's error, saying that what is there came while the new index was made (it is kept)."""
    try:
        _check_target(root, overwrite)
    except XlingError as error:
        raise XlingError(f"{error} (it appeared while this index was being built: it was kept and the new "
                         "index discarded)") from None  # fmt: skip


def _is_own_temporary(name: str) -> bool:
    """Return True for a temporary file this module writes (left behind by a crash)."""
    return name.startswith((f".{CACHE_FILE}.", f".{INFO_FILE}.")) and name.endswith(".tmp")


WRITE_WAIT_S = 30.0
"""Seconds a write waits for another process's write to the same index to end."""


def _file_identity(path: Path) -> tuple[int, int] | None:
    """Return (device, inode) of the file at `path`, or None if it cannot be read: which file it is."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def _connect(path: Path) -> sqlite3.Connection:
    """Return a connection to the database at `path` that any thread may use (the index's lock serialises)."""
    # timeout: a writer waits this long for another process's write to end before giving up
    return sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=WRITE_WAIT_S)


def _blob(vector: np.ndarray) -> bytes:
    """Return a vector as the little-endian float32 bytes stored in SQLite."""
    return np.asarray(vector, dtype="<f4").tobytes()


def _check_duplicate_action(action: str) -> None:
    """Return nothing; raise ConfigError unless `action` is one of DUPLICATE_ACTIONS."""
    if action not in DUPLICATE_ACTIONS:
        raise ConfigError(f"on_duplicate must be one of {', '.join(DUPLICATE_ACTIONS)}, got {action!r}")


def _key_list(
    keys: Sequence[str | None] | None, texts: list[str], codes: list[str]
) -> tuple[list[str], dict[str, str]]:
    """Return (the stable key of each document, {the key an earlier xling stored: the key now}).

    A stable key is the given one (stripped, in NFC), or the content key of language and text. The second
    holds the documents whose keys differ then and now: an id or a text not in NFC (keys were not
    normalised then), and the NFD form of one that is (what an earlier xling stored for the same text given
    decomposed, as macOS file names are). One pass over the documents gives both.
    """
    if keys is None:
        given: list[str | None] = [None] * len(texts)
    elif isinstance(keys, str):
        raise XlingError("keys must be a sequence (one per text), not one string: wrap it in a list")
    else:
        given = list(keys)
        if len(given) != len(texts):
            raise XlingError(f"{len(given)} keys given for {len(texts)} texts")
    stable: list[str] = []
    earlier: dict[str, str] = {}
    for position, (key, text, code) in enumerate(zip(given, texts, codes, strict=True)):
        if key is None:
            new = document_key(text, code)
            # a text in NFC hashes as before: no second hash to look up
            old = new if unicodedata.is_normalized("NFC", text) else _content_hash(text, code)
            # ASCII and most text are their own NFD: a second hash only for composed letters (é, ñ, 한)
            nfd = None if unicodedata.is_normalized("NFD", text) else _content_hash(_nfd(text), code)
        elif isinstance(key, str) and key.strip():
            old, new = key.strip(), _given_key(key)
            nfd = None if unicodedata.is_normalized("NFD", old) else _nfd(old)
        else:
            raise XlingError(f"key {position} must be a non-empty string or None, got {key!r}")
        stable.append(new)
        for before in (old, nfd):
            if before is not None and before != new:
                earlier[before] = new
    return stable, earlier


def _nfd(text: str) -> str:
    """Return `text` in Unicode NFD (decomposed)."""
    return unicodedata.normalize("NFD", text)


def _in_weak_set(items: weakref.WeakSet[Any], item: Any) -> bool:
    """Return True if `item` is in `items` (False for objects that cannot be weakly referenced)."""
    try:
        return item in items
    except TypeError:
        return False


def _add_to_weak_set(items: weakref.WeakSet[Any], item: Any) -> None:
    """Return nothing; remember `item` if it can be weakly referenced."""
    with suppress(TypeError):
        items.add(item)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """Return a context that runs its statements as one SQLite transaction, rolled back on error; XlingError
    when another process holds the write lock past the connection's timeout."""
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        raise XlingError(f"the index is being written by another process ({error}); an index has one "
                         "writer at a time: try again when it is done") from None  # fmt: skip
    try:
        yield
        db.execute("COMMIT")
    except BaseException as error:
        # also when COMMIT itself fails (a reader held the database past the timeout): an open transaction
        # would keep the write lock from every other process until this one exits
        if db.in_transaction:
            db.execute("ROLLBACK")
        if isinstance(error, sqlite3.OperationalError) and "locked" in str(error):
            raise XlingError(f"the index is busy: another process kept it locked while this change was saved "
                             f"({error}); nothing was changed: try again") from None  # fmt: skip
        raise


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


def filter_languages(languages: str | Sequence[str], field: str = "", detected_field: str = "") -> list[str]:
    """Return the canonical codes of a given-language search filter (`languages=`, `--lang`).

    The index keeps each document's given language without script or region (a line given as `sr-Latn`,
    or detected as `srp_Cyrl` with `--lang auto`, is stored as `srp`), so such a filter would match every
    script: a code naming a script, or a region or variant, is an XlingError that points to the detected
    filter (`detected=`, `--detected-lang`), which keeps the detector's script. `field` and `detected_field`
    name the two filters in its messages where they are called otherwise (the HTTP API's `lang`,
    `detected_lang`).
    """
    items = [languages] if isinstance(languages, str) else list(languages)
    given, detected = field or "languages=, --lang", detected_field or "detected=, --detected-lang"
    codes: list[str] = []
    for position, item in enumerate(items):
        if field:
            where = field if isinstance(languages, str) else f"{field}[{position}]"
        else:
            where = "language filter" if isinstance(languages, str) else f"language filter {position}"
        code = normalize_language(item, where=where)
        subtags = _SUBTAG_RE.split(item.strip())
        # an extended language subtag names the language itself (zh-yue: yue), not a script or region
        extra = subtags[2:] if len(subtags) > 1 and subtags[1].lower() == code else subtags[1:]
        if not extra:
            codes.append(code)
            continue
        script = parse_label(item).script
        if script is not None:
            raise XlingError(
                f"{where}: {item!r} names a script ({script}); the language filter ({given}) "
                "matches the language each document was given, kept without its script: filter on the "
                f"detected language and script instead ({detected} {item})"
            )
        raise XlingError(
            f"{where}: {item!r} names a region or variant ({'-'.join(extra)}), which the index does not "
            f"keep: filter on the language alone ({code!r})"
        )
    return codes


def _with_macrolanguages(codes: list[str]) -> frozenset[str]:
    """Return the codes with their macrolanguages' members, and the macrolanguage a code is the default
    member of (`zho` adds `cmn`, `yue`...; `cmn` adds `zho`, not `yue`; `ind` adds no `msa`, which stands for
    Malaysian Malay: a document given as `ms` is no Indonesian one, nor one given as `no` Nynorsk)."""
    wanted = set(codes)
    for code in codes:
        wanted |= MACROLANGUAGES.get(code, frozenset())
        wanted |= {
            macro for macro, member in DEFAULT_MEMBER.items() if member == code and macro in MACROLANGUAGES
        }
    return frozenset(wanted)


def _label_codes(codes: str | Sequence[str]) -> list[Label]:
    """Return the detector labels of one code or several (any form: `zh`, `cmn`, `zh-Hant`, `srp_Latn`)."""
    if isinstance(codes, str):
        return [parse_label(codes, where="detected language")]
    return [parse_label(code, where=f"detected language {i}") for i, code in enumerate(codes)]


def _label_is(label: str, code: Label) -> bool:
    """Return True when a stored detected label is in the language `code` names (`und` only for `und`)."""
    if code.language == UNDETERMINED:
        return label == UNDETERMINED
    return label != UNDETERMINED and label_matches(label, code)


def _label_list(labels: Sequence[str | None], count: int) -> list[str | None]:
    """Return detected labels in the detector's form (`deu`, `srp_Cyrl`), one per text; None stays None."""
    if isinstance(labels, str):
        raise XlingError(
            "detected must be a sequence (one label per text), not one string: wrap it in a list"
        )
    items = list(labels)
    if len(items) != count:
        raise XlingError(f"{len(items)} detected languages given for {count} texts")
    return [
        None if item is None else str(parse_label(item, where=f"detected {i}"))
        for i, item in enumerate(items)
    ]


def _detect(detector: LanguageIdentifier, texts: list[str], positions: list[int]) -> dict[int, str]:
    """Return {position: the detector's top label} for these texts, in batches of DETECT_BATCH."""
    found: dict[int, str] = {}
    for start in range(0, len(positions), DETECT_BATCH):
        chunk = positions[start : start + DETECT_BATCH]
        for i, top in zip(chunk, detector.predict([texts[i] for i in chunk]), strict=True):
            found[i] = top[0].label
    return found


def _has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    """Return True when `table` has `column` (an index made before the column was added has not)."""
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))


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
        if item is not None and (found := non_finite_field(item)) is not None:
            raise XlingError(f"metadata item {position}: {non_finite_message(*found)}")
        try:
            # allow_nan=False: NaN and Infinity are no JSON, and a hit's metadata goes into search --json
            encoded.append(
                None if item is None else json.dumps(dict(item), ensure_ascii=False, allow_nan=False)
            )
        except (TypeError, ValueError) as exc:
            raise XlingError(f"metadata item {position} is not JSON-serialisable: {exc}") from None
    return encoded


def non_finite_field(value: Any, field: str = "metadata") -> tuple[str, float] | None:
    """Return (where, number) of the first NaN or infinite number in `value`, a metadata item as JSON reads
    it (`metadata.score`, `metadata.values[2]`), or None when it holds none: Python's json reads NaN,
    Infinity and 1e999, which JSON has no numbers for, and would write them back as invalid JSON."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (field, value)
    if isinstance(value, Mapping):
        items: Iterator[tuple[str, Any]] = ((f"{field}.{key}", item) for key, item in value.items())
    elif isinstance(value, list | tuple):
        items = ((f"{field}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for name, item in items:
        if (found := non_finite_field(item, name)) is not None:
            return found
    return None


def non_finite_message(field: str, number: float) -> str:
    """Return the error about a NaN or infinite metadata number (non_finite_field's answer)."""
    shown = json.dumps(number)  # NaN, Infinity, -Infinity (1e999 reads as Infinity)
    return (f"field {field!r} is {shown}, which is not a JSON number (search --json would write invalid JSON); "
            "give a finite number, a string or null")  # fmt: skip


def _hits(
    sims: np.ndarray,
    ids: np.ndarray,
    rows: dict[int, tuple[str, str, str | None, str, str | None]],
    wanted: _Filter | None,
    k: int,
) -> list[Hit]:
    """Return up to k hits from one query's FAISS results, keeping stored documents that pass `wanted`."""
    hits: list[Hit] = []
    for score, ident in zip(sims.tolist(), ids.tolist(), strict=True):
        row = rows.get(ident)
        if row is None or (wanted is not None and not wanted.accepts(row[1], row[4])):
            continue
        extra = None if row[2] is None else json.loads(row[2])
        hits.append(Hit(ident, float(score), row[0], row[1], extra, row[3], row[4]))
        if len(hits) == k:
            break
    return hits


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    """Return an iterator over consecutive slices of `values` of at most `size` items."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
