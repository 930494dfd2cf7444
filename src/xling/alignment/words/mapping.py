"""A learned cross-lingual word mapping: how to normalise each side and the matrix that maps it.

Both languages land in one space: source rows become normalize(X) @ src_transform, target rows
normalize(Z) @ tgt_transform. Procrustes and adversarial methods map the source only (tgt_transform is
the identity); self-learning (VecMap) maps both. Saved as a folder: `mapping.safetensors` (the matrices
and the centering means), `mapping.json` (normalisation steps, method, history, info) and `xling.json`
(kind "word-mapping", so that overwrite replaces only a mapping); no pickles. Folders saved before
xling.json was written hold only the first two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from xling.alignment.words.normalize import fit_normalization, parse_normalization
from xling.artifacts import WORD_MAPPING_KIND, write_metadata
from xling.atomic import atomic_write, write_json_atomically
from xling.errors import ConfigError, DataError

TENSORS_FILE = "mapping.safetensors"
META_FILE = "mapping.json"
KIND = WORD_MAPPING_KIND
"""The `kind` in a mapping folder's xling.json (the name `xling report` gives a folder with mapping.json)."""


# eq=False: the generated __eq__ compares ndarray fields with ==, whose truth value is a ValueError
@dataclass(eq=False)
class WordMapping:
    """Per side a (d_in x d_out) matrix, both sides sharing d_out, and the normalisation applied first.

    `src_means` / `tgt_means` are the means that each `center` step of `normalize` removed when the
    mapping was learned; mapping other rows subtracts those same means. Without them (None) each call
    centres the matrix it is given on its own mean. `history` is the training log, `info` what the run
    found and was trained on (vocabulary sizes, seed coverage, the vectors and seed files: see
    provenance). `source` is the folder the mapping was loaded from (None: made in memory), so that errors
    can name it; it is not saved. Two mappings are equal when every saved field is (`source` aside): the
    matrices and means element by element, history and info as saved.
    """

    src_transform: np.ndarray
    tgt_transform: np.ndarray
    normalize: list[str] = field(default_factory=list)
    method: str = "custom"
    history: list[dict[str, Any]] = field(default_factory=list)
    src_means: list[np.ndarray] | None = None
    tgt_means: list[np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    source: str | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.src_transform = np.asarray(self.src_transform, dtype=np.float32)
        self.tgt_transform = np.asarray(self.tgt_transform, dtype=np.float32)
        self.normalize = parse_normalization(self.normalize)
        if self.src_transform.ndim != 2 or self.tgt_transform.ndim != 2:
            raise ValueError("transforms must be 2-d matrices")
        if self.src_transform.shape[1] != self.tgt_transform.shape[1]:
            raise ValueError(
                f"both transforms must map to one dimension, got {self.src_transform.shape} "
                f"and {self.tgt_transform.shape}"
            )
        centers = self.normalize.count("center")
        for name, transform in (("src_means", self.src_transform), ("tgt_means", self.tgt_transform)):
            means = getattr(self, name)
            if means is not None and len(means) != centers:
                raise ValueError(f"{name}: {centers} center steps need {centers} means, got {len(means)}")
            # checked here: a wrong shape would otherwise surface later as a numpy broadcast error
            for i, mean in enumerate(means or []):
                if np.shape(mean) != (transform.shape[0],):
                    raise ValueError(
                        f"{name}[{i}]: has shape {np.shape(mean)}, but the transform takes "
                        f"{transform.shape[0]}-dimensional vectors"
                    )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordMapping):
            return NotImplemented
        return (
            np.array_equal(self.src_transform, other.src_transform)
            and np.array_equal(self.tgt_transform, other.tgt_transform)
            and _same_means(self.src_means, other.src_means)
            and _same_means(self.tgt_means, other.tgt_means)
            and (self.normalize, self.method) == (other.normalize, other.method)
            # as saved: a numpy scalar or a tuple in memory reads back as a Python number or a list
            and _jsonable(self.history) == _jsonable(other.history)
            and _jsonable(self.info) == _jsonable(other.info)
        )

    def map_source(self, matrix: np.ndarray, *, origin: str | None = None) -> np.ndarray:
        """Return source rows normalised and mapped into the shared space (float32).

        `origin` names where the rows came from (a vectors file) for the error a wrong width raises.
        """
        return self._map(matrix, self.src_means, self.src_transform, "source", origin)

    def map_target(self, matrix: np.ndarray, *, origin: str | None = None) -> np.ndarray:
        """Return target rows normalised and mapped into the shared space (float32); see map_source."""
        return self._map(matrix, self.tgt_means, self.tgt_transform, "target", origin)

    def _map(
        self,
        matrix: np.ndarray,
        means: list[np.ndarray] | None,
        transform: np.ndarray,
        side: str,
        origin: str | None,
    ) -> np.ndarray:
        matrix = np.asarray(matrix)
        if matrix.ndim != 2 or matrix.shape[1] != transform.shape[0]:
            mapping = f"the mapping ({self.source})" if self.source else "the mapping"
            raise DataError(
                f"{mapping} takes {transform.shape[0]}-dimensional {side} vectors, got shape {matrix.shape}",
                origin,
            )
        return fit_normalization(matrix, self.normalize, means=means)[0] @ transform

    def save(self, path: str | Path) -> None:
        """Write mapping.safetensors, mapping.json and xling.json into the folder `path`, each atomically."""
        folder = Path(path)
        tensors = {"src_transform": self.src_transform, "tgt_transform": self.tgt_transform}
        for prefix, means in (("src", self.src_means), ("tgt", self.tgt_means)):
            for i, mean in enumerate(means or []):
                tensors[f"{prefix}_mean_{i}"] = np.asarray(mean, dtype=np.float32)
        with atomic_write(folder / TENSORS_FILE, "wb") as handle:
            handle.write(save_tensors(tensors))
        meta = {
            "method": self.method,
            "normalize": self.normalize,
            "fitted_means": {"src": self.src_means is not None, "tgt": self.tgt_means is not None},
            "history": self.history,
            "info": self.info,
        }
        write_json_atomically(folder / META_FILE, _jsonable(meta))
        write_metadata(folder, {"kind": KIND, "method": self.method})

    @classmethod
    def load(cls, path: str | Path) -> WordMapping:
        """Return the mapping that `save` wrote into the folder `path`."""
        folder = Path(path)
        if folder.exists() and not folder.is_dir():  # reading files inside it would be NotADirectoryError
            raise DataError(f"a file, not a word mapping folder ({TENSORS_FILE} + {META_FILE})", folder)
        try:
            meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            tensors = load_tensors((folder / TENSORS_FILE).read_bytes())
        except FileNotFoundError as error:
            raise DataError("not a word mapping folder (file missing)", error.filename) from None
        except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError) as error:
            raise DataError(f"unreadable word mapping: {error}", folder) from None
        try:
            steps = parse_normalization(list(meta["normalize"]))
            fitted = {prefix: bool(meta.get("fitted_means", {}).get(prefix)) for prefix in ("src", "tgt")}
        except ConfigError as error:  # a bad step: about this file, not about an option the user gave
            raise DataError(f"bad word mapping: {error}", folder / META_FILE) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(f"incomplete word mapping ({error!r})", folder / META_FILE) from None
        try:  # what mapping.json says is there, missing from the tensors: their file is the one at fault
            means = {
                prefix: [tensors[f"{prefix}_mean_{i}"] for i in range(steps.count("center"))]
                if fitted[prefix]
                else None
                for prefix in ("src", "tgt")
            }
            transforms = tensors["src_transform"], tensors["tgt_transform"]
        except KeyError as error:
            raise DataError(f"incomplete word mapping: no tensor {error}", folder / TENSORS_FILE) from None
        try:
            return cls(*transforms, steps, meta.get("method", "custom"), meta.get("history", []),
                       means["src"], means["tgt"], meta.get("info", {}), str(folder))  # fmt: skip
        except ValueError as error:  # the matrices and means disagree in shape
            raise DataError(f"inconsistent word mapping: {error}", folder / TENSORS_FILE) from None


def _same_means(a: list[np.ndarray] | None, b: list[np.ndarray] | None) -> bool:
    """Return whether two lists of centering means (or None) hold equal arrays."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _jsonable(value: Any) -> Any:
    """Return `value` with numpy scalars and arrays turned into plain Python for JSON."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
