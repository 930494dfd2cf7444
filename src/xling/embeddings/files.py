"""`xling embed`: a text file (one text per line) -> a matrix file, row i the vector of line i."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xling.atomic import atomic_write, writable_file
from xling.data.readers import read_lines, require_file
from xling.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

FORMATS = {".npy": "npy", ".fvecs": "fvecs"}


@dataclass
class EmbedReport:
    """What `embed_file` wrote."""

    output: Path
    rows: int
    dimension: int
    truncated: int
    seconds: float


def embed_file(encoder, input_path: str | Path, output_path: str | Path, *, batch_size: int = 64,
               dtype: str = "float32", normalize: bool = True, show_progress: bool = False) -> EmbedReport:  # fmt: skip
    """Return a report after writing the vectors of every line of `input_path` to `output_path`.

    `.npy` (float32 or float16) or `.fvecs` (FAISS/ann-benchmarks: per row an int32 dimension, then float32
    values). The file is written to a temporary name and renamed, so a crash never leaves half a matrix
    where a previous good one was.
    """
    output, kind = check_embed_paths(input_path, output_path, dtype)  # before the encoding
    texts = list(read_lines(input_path))
    vectors, stats = encoder.encode_with_stats(  # no blank line got here
        texts, batch_size=batch_size, normalize=normalize, show_progress=show_progress
    )
    empty = np.flatnonzero(~vectors.any(axis=1))
    if len(empty):  # a static model's text of no known piece (a zero-width space): it matches nothing
        logger.warning("%s:%d: %d line(s) have no token the model knows (first: %r); their rows are zero "
                       "vectors", input_path, empty[0] + 1, len(empty), texts[empty[0]][:60])  # fmt: skip
    try:
        with atomic_write(output, "wb") as handle:
            if kind == "npy":
                np.save(handle, vectors.astype(dtype))
            else:
                rows = np.empty((len(vectors), vectors.shape[1] + 1), dtype=np.float32)
                rows[:, 0] = np.array([vectors.shape[1]], dtype=np.int32).view(np.float32)[0]
                rows[:, 1:] = vectors
                rows.tofile(handle)
    except OSError as error:  # a full disk, or a place no file can be made: said, not a traceback
        raise DataError(f"cannot write the vectors: {error.strerror or error}", output) from error
    return EmbedReport(output, len(texts), vectors.shape[1], stats.truncated, stats.seconds)


def check_embed_paths(input_path: str | Path, output_path: str | Path, dtype: str = "float32"
                      ) -> tuple[Path, str]:  # fmt: skip
    """Return (the output path, its format) after checking the paths and dtype `embed_file` takes.

    Cheap checks that `xling embed` runs before loading a model, which a typo in a path would waste:
    the input file exists, the output can be written and ends in .npy or .fvecs, the dtype suits it.
    """
    output = writable_file(output_path, [input_path])
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise ConfigError(f"output: {output} must end in .npy or .fvecs")
    if dtype not in ("float32", "float16"):
        raise ConfigError(f"dtype {dtype!r} must be float32 or float16")
    if kind == "fvecs" and dtype != "float32":
        raise ConfigError(f"dtype {dtype}: .fvecs files hold float32 only (write .npy for {dtype})")
    require_file(input_path)
    return output, kind


def read_fvecs(path: str | Path) -> np.ndarray:
    """Return the float32 matrix stored in an .fvecs file."""
    raw = np.fromfile(path, dtype=np.float32)
    if raw.size == 0:
        raise DataError("empty .fvecs file", path)
    dim = int(raw[:1].view(np.int32)[0])
    if dim <= 0 or raw.size % (dim + 1):
        raise DataError(f"not an .fvecs file (dimension {dim} does not divide {raw.size} values)", path)
    return raw.reshape(-1, dim + 1)[:, 1:].copy()
