"""Embedding normalisation before mapping: a chain of steps such as "unit,center,unit" (as VecMap's).

`unit` scales every row to length 1, `center` subtracts the mean row; applied left to right. The default
"unit,center,unit" is VecMap's recommended `--normalize unit center unit` (MUSE spells the same chain
`--normalize_embeddings renorm,center,renorm`).

`fit_normalization` also returns the means it subtracted, so that the same transformation can be repeated
later on other rows (one word, a larger vocabulary) without re-estimating them there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xling.errors import ConfigError

NORMALIZATION_STEPS: tuple[str, ...] = ("unit", "center", "none")


def parse_normalization(spec: str | Sequence[str]) -> list[str]:
    """Return the steps of `spec` ("unit,center,unit", or a list of steps); "none" and "" add no step."""
    parts = spec.replace(",", " ").split() if isinstance(spec, str) else [str(s).strip() for s in spec]
    steps = []
    for part in parts:
        step = part.lower()
        if step not in NORMALIZATION_STEPS:
            raise ConfigError(
                f"normalize: unknown step {part!r} in {spec!r}; use unit, center or none, "
                "comma-separated (e.g. 'unit,center,unit')"
            )
        if step != "none":
            steps.append(step)
    return steps


def unit_length(x: np.ndarray) -> np.ndarray:
    """Return the rows of `x` scaled to length 1 (a new float32 array); all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    # Zero rows (padding, unknown words) would otherwise become NaN and poison every similarity.
    return x / np.where(norms > 0, norms, 1.0).astype(np.float32)


def fit_normalization(
    matrix: np.ndarray, steps: str | Sequence[str], *, means: Sequence[np.ndarray] | None = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return `matrix` normalised by `steps` (a new float32 array) and the mean each `center` step removed.

    With `means` (one per center step, from an earlier fit) those are subtracted instead of this
    matrix's own column means.
    """
    steps = parse_normalization(steps)
    centers = steps.count("center")
    if means is not None and len(means) != centers:
        raise ValueError(f"{centers} center steps but {len(means)} means")
    out = np.array(matrix, dtype=np.float32, copy=True)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-d matrix, got shape {out.shape}")
    used: list[np.ndarray] = []
    for step in steps:
        if step == "unit":
            out = unit_length(out)
            continue
        if means is not None:
            mean = np.asarray(means[len(used)], dtype=np.float32)
        else:
            # float64 accumulation: a float32 sum over 200k rows loses the digits the mean is made of.
            mean = out.mean(axis=0, dtype=np.float64).astype(np.float32)
        out -= mean
        used.append(mean)
    return out, used


def normalize_embeddings(matrix: np.ndarray, steps: str | Sequence[str]) -> np.ndarray:
    """Return `matrix` normalised by `steps` (a new float32 array; centering uses this matrix's means)."""
    return fit_normalization(matrix, steps)[0]
