"""What a word mapping was trained on, recorded in its `info`, and the checks that BLI and word
translation make against it.

A mapping's info records each side's vectors file (`src_vectors`, `tgt_vectors`: path, size in bytes,
first words) and, for a seed dictionary file, that file (`seed.file`: resolved path, content hash, its
lowercased source words). Scoring a mapping on vectors other than its own gives meaningless figures, and
scoring it on its own seed pairs gives flattering ones: a swapped pair of vectors files and a test
dictionary that is the seed file are errors, other vectors and a test dictionary that shares most source
words with the seed are warnings (MUSE's train and test dictionaries share no source word). A mapping
saved before these records existed is not checked.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xling.alignment.words.dictionary import dictionary_file
from xling.errors import DataError, XlingError

if TYPE_CHECKING:  # annotations only: importing xling.vectors also loads its file formats
    from xling.alignment.words.mapping import WordMapping
    from xling.vectors.core import WordVectors

FIRST_WORDS = 20
"""Words of each vocabulary recorded: enough to tell two languages' (or two trainings') files apart."""
MAX_SEED_OVERLAP = 0.5
"""Share of test source words also in the seed above which BLI warns (MUSE's splits share none)."""


def vectors_info(vectors: WordVectors) -> dict[str, Any]:
    """Return the record of a side's vectors: its file's path and size (None in memory), first words."""
    return {
        "path": vectors.source,
        "bytes": _file_size(vectors.source),
        "first_words": list(vectors.words[:FIRST_WORDS]),
    }


def seed_file_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Return the record of a seed dictionary file: resolved path, content hash, sorted source words."""
    content = dictionary_file(path)
    return {
        "path": str(Path(path).resolve()),
        "sha256": content.sha256,
        "src_words": sorted(content.src_words),
    }


def _file_size(source: str | None) -> int | None:
    """Return the size in bytes of the file `source` names, None when it names none (vectors in memory)."""
    try:
        return os.path.getsize(source) if source else None
    except OSError:
        return None


def _difference(record: dict[str, Any], vectors: WordVectors) -> str | None:
    """Return why `vectors` are not those `record` describes, None when they may be.

    The first words decide; a size is compared only between files of one name, so the same vectors in
    another format (.bin for .vec) or a copy elsewhere still pass.
    """
    first = record.get("first_words")
    if isinstance(first, list) and first:
        shared = min(len(first), len(vectors.words))
        if list(vectors.words[:shared]) != first[:shared]:
            return (
                f"its first words ({', '.join(vectors.words[:3])}, ...) are not those of the training "
                f"file ({', '.join(str(word) for word in first[:3])}, ...)"
            )
    trained, size = record.get("bytes"), _file_size(vectors.source)
    same_name = Path(str(record.get("path"))).name == Path(str(vectors.source)).name
    if same_name and isinstance(trained, int) and size is not None and size != trained:
        return f"it has {size:,} bytes, the training file {trained:,}"
    return None


def check_vectors(mapping: WordMapping, src: WordVectors, tgt: WordVectors, *, stacklevel: int = 2) -> None:
    """Return nothing; raise XlingError when `src` and `tgt` are the mapping's training vectors swapped,
    warn when either side is not the vectors the mapping was trained on (no check without the record).

    `stacklevel` is that of the caller's own warnings, so a warning points at the user's code.
    """
    records = [mapping.info.get("src_vectors"), mapping.info.get("tgt_vectors")]
    if not all(isinstance(record, dict) for record in records):
        return  # saved before the record existed
    src_record, tgt_record = records
    where = f"the mapping {mapping.source}" if mapping.source else "the mapping"
    # one set of vectors on both sides (an identical-strings test) cannot be swapped
    if (
        _difference(src_record, src) is not None
        and _difference(src_record, tgt) is None
        and _difference(tgt_record, src) is None
    ):
        raise XlingError(
            f"the source and target vectors are swapped: {where} maps {src_record.get('path')} (source) "
            f"to {tgt_record.get('path')} (target), given {src.source} as the source and {tgt.source} "
            "as the target; swap them back, or train a mapping in that direction"
        )
    for name, record, vectors in zip(("source", "target"), records, (src, tgt), strict=True):
        reason = _difference(record, vectors)
        if reason is not None:
            warnings.warn(
                f"{vectors.source}: these {name} vectors are not those {where} was trained on "
                f"({record.get('path')}): {reason}; its scores on them mean nothing",
                stacklevel=stacklevel + 1,
            )


def seed_overlap(
    mapping: WordMapping, dictionary: str | os.PathLike[str], *, stacklevel: int = 2
) -> float | None:
    """Return the share of the test dictionary's source words (lowercased) that the mapping's seed
    dictionary held, None when the mapping records no seed file (unsupervised, identical strings, numerals,
    or saved before the record existed).

    A test dictionary with the seed file's content (its copy too, or the file itself) is a DataError; the
    path alone decides nothing (a split made again in place, another machine's file at that path: their
    overlap is measured). A share above MAX_SEED_OVERLAP is warned about (`stacklevel` as for
    check_vectors).
    """
    seed = mapping.info.get("seed")
    record = seed.get("file") if isinstance(seed, dict) else None
    if not isinstance(record, dict) or not isinstance(record.get("src_words"), list):
        return None
    path = Path(dictionary)
    test = dictionary_file(path)
    if test.sha256 == record.get("sha256"):
        where = f"the mapping {mapping.source}" if mapping.source else "the mapping"
        raise DataError(
            f"the test dictionary is the seed dictionary {record.get('path')} that {where} was trained on; "
            "BLI on its own training pairs measures nothing: use a held-out test dictionary",
            path,
        )
    share = len(test.src_words & set(record["src_words"])) / len(test.src_words)
    if share > MAX_SEED_OVERLAP:
        warnings.warn(
            f"{path}: {share:.0%} of the test dictionary's source words are in the seed dictionary "
            f"{record.get('path')} the mapping was trained on; BLI on them measures recall of training "
            "pairs (MUSE's train and test dictionaries share no source word)",
            stacklevel=stacklevel + 1,
        )
    return round(share, 4)
