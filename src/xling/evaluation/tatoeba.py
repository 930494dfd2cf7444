"""Tatoeba similarity search (LASER / XTREME protocol): find each sentence's translation among all others.

The search of one direction is theirs; the primary figure is the mean of both directions (xx -> eng and
eng -> xx), as xling's issues define "Tatoeba accuracy". XTREME reports one direction, xx -> eng
(`src2eng` here: google-research/xtreme, third_party/evaluate_retrieval.py), and LASER reports each
direction's error apart: compare published figures with `src2eng`.

For each language, both sides are encoded; the nearest neighbour of each xx sentence among all English
sentences (and of each English sentence among all xx sentences) must be its translation. Scorings:

- cosine: the most similar sentence of the other side.
- margin (the default margin, LASER's): as LASER's xsim (facebookresearch/LASER, `source/xsim.py`,
  `_score_knn` and `_score_margin`): the k=4 nearest neighbours by cosine are re-ranked by the ratio
  margin cos(x, y) / ((avg_x + avg_y) / 2) (Artetxe & Schwenk 2019), avg_x being the mean cosine of x
  with its k nearest neighbours on the other side. Only those k candidates compete, as in xling's miner
  (both use xling.retrieval.knn.margin_nearest). xsim scores one direction; Tatoeba runs it both ways.
- margin-full: the ratio margin over the whole similarity matrix (every sentence a candidate). xling
  reported this as "margin" before; it is kept under its own name for comparison, not LASER's figure.

Test set only: never train or tune on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xling.data.readers import read_tatoeba, tatoeba_code
from xling.data.root import data_folder
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.result import Result
from xling.retrieval.knn import (
    as_unit_rows,
    cosine_nearest,
    knn,
    margin_nearest,
    margin_scores,
    neighbourhood_means,
    top1_accuracy,
)

__all__ = [
    "DEFAULT_LANGUAGES",
    "SCORINGS",
    "TatoebaConfig",
    "evaluate_tatoeba",
    "languages_to_run",
    "nearest_accuracy",
    "tatoeba_folder",
]

# The ten languages of the yardstick (all present in ../shared/data/tatoeba).
DEFAULT_LANGUAGES = ["deu", "fra", "spa", "rus", "cmn", "jpn", "fin", "nld", "heb", "epo"]
SCORINGS = ("cosine", "margin", "margin-full")


@dataclass
class TatoebaConfig:
    """Settings of `xling eval tatoeba`."""

    model: str = "xling-mini"
    """Encoder folder, shipped name or Hub id."""
    data: str = ""
    """Folder holding tatoeba/ (or the Tatoeba files themselves); "": $XLING_DATA, else ../shared/data."""
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    """Languages scored against English; [] or ["all"]: every language in the folder."""
    scoring: str = "cosine"
    """cosine, margin (LASER's xsim: ratio margin among the k nearest) or margin-full (whole matrix)."""
    k: int = 4
    """Neighbours whose mean similarity the margin divides by (and, for margin, the candidates)."""
    batch_size: int = 256
    """Sentences per encoder batch."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if self.scoring not in SCORINGS:
            raise ConfigError(f"scoring: {self.scoring!r} must be one of {', '.join(SCORINGS)}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k: {self.k!r} must be an integer of at least 1")


def tatoeba_folder(data: str | Path | None) -> Path:
    """Return the Tatoeba folder inside the data root `data` (see xling.data.root), or the root itself."""
    return data_folder(data, "tatoeba", "Tatoeba files (tatoeba.<lang>-eng.<lang>)",
                       lambda folder: any(folder.glob("tatoeba.*-eng.eng")))  # fmt: skip


def nearest_accuracy(
    src: np.ndarray, tgt: np.ndarray, scoring: str = "cosine", k: int = 4,
    texts: tuple[Sequence[str], Sequence[str]] | None = None,
) -> tuple[float, float]:  # fmt: skip
    """Return top-1 accuracy (src->tgt, tgt->src) for vectors whose row i translate each other.

    `scoring` is one of SCORINGS (see the module docstring); rows are compared by cosine. With the rows'
    `texts` (src, tgt), a hit is a row with the right text, as LASER counts (`top1_accuracy`). Raises
    XlingError when the sides hold different numbers of rows (or of texts): no row would be scored right.
    """
    rows = [len(src), len(tgt)] + ([] if texts is None else [len(texts[0]), len(texts[1])])
    if len(set(rows)) > 1:
        raise XlingError(f"tatoeba: row i of each side must translate row i of the other, but the sides hold "
                         f"{' / '.join(map(str, rows))} (vectors{' / texts' if texts is not None else ''})")  # fmt: skip
    if scoring == "cosine":
        forward, backward = cosine_nearest(src, tgt)
    elif scoring == "margin":
        (forward, _), (backward, _) = margin_nearest(as_unit_rows(src), as_unit_rows(tgt), k, "ratio")
    elif scoring == "margin-full":
        forward, backward = _margin_full_nearest(as_unit_rows(src), as_unit_rows(tgt), k)
    else:
        raise ConfigError(f"scoring: {scoring!r} must be one of {', '.join(SCORINGS)}")
    src_texts, tgt_texts = texts if texts is not None else (None, None)
    return top1_accuracy(forward, tgt_texts), top1_accuracy(backward, src_texts)


def _margin_full_nearest(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the best y of every x row and the best x of every y row by ratio margin over all pairs.

    A row whose every score is -inf (no positive neighbourhood mean) gets -1, a miss, as in `margin_best`.
    """
    avg_x = neighbourhood_means(*knn(x, y, k))
    avg_y = neighbourhood_means(*knn(y, x, k))
    scores = margin_scores(x @ y.T, avg_x[:, None], avg_y[None, :], "ratio")
    return _best_or_none(scores, axis=1), _best_or_none(scores, axis=0)


def _best_or_none(scores: np.ndarray, axis: int) -> np.ndarray:
    """Return the argmax of `scores` along `axis`, -1 where that maximum is not finite.

    argmax of an all -inf line is 0: that row would be predicted, a hit when it is the row's translation.
    """
    if scores.shape[axis] == 0:
        return np.full(scores.shape[1 - axis], -1, dtype=np.int64)
    best = scores.argmax(axis=axis)
    return np.where(np.isfinite(scores.max(axis=axis)), best, -1)


def load_tatoeba(config: TatoebaConfig) -> tuple[Path, dict[str, tuple[list[str], list[str]]]]:
    """Return the Tatoeba folder and each language's (sentences, English translations) that `config` asks
    for, every file read, so a bad code or a damaged file is reported before a model loads."""
    config.validate()
    folder = tatoeba_folder(config.data)
    return folder, {lang: read_tatoeba(folder, lang) for lang in languages_to_run(folder, config.languages)}


def evaluate_tatoeba(
    encoder,
    config: TatoebaConfig,
    *,
    tests: tuple[Path, dict[str, tuple[list[str], list[str]]]] | None = None,
    progress: Callable[[str], object] | None = None,
) -> Result:
    """Return accuracy in both directions (percent) per language and their average (XTREME reports src2eng).

    Each language's row holds src2eng, eng2src, accuracy (their mean, the primary metric) and n.
    `tests` is what `load_tatoeba(config)` returned, when the caller read the data before loading the model.
    `progress`, when given, is called with each language code before it is scored.
    """
    folder, pairs = tests if tests is not None else load_tatoeba(config)
    started = time.perf_counter()
    scores: dict[str, dict[str, float]] = {}
    for lang, (xx, eng) in pairs.items():
        if progress:
            progress(lang)
        a = encoder.encode(xx, batch_size=config.batch_size, show_progress=False)
        b = encoder.encode(eng, batch_size=config.batch_size, show_progress=False)
        src2eng, eng2src = nearest_accuracy(a, b, config.scoring, config.k, texts=(xx, eng))
        scores[lang] = {"src2eng": round(100 * src2eng, 2), "eng2src": round(100 * eng2src, 2),
                        "accuracy": round(50 * (src2eng + eng2src), 2), "n": len(xx)}  # fmt: skip
    average = float(np.mean([(s["src2eng"] + s["eng2src"]) / 2 for s in scores.values()]))
    settings = {"scoring": config.scoring, "k": config.k}
    return Result(task="tatoeba", model=str(getattr(encoder, "name", "?")), data=str(folder), scores=scores,
                  average=round(average, 2), primary="accuracy", settings=settings,
                  seconds=time.perf_counter() - started)  # fmt: skip


def languages_to_run(folder: Path, languages: Sequence[str]) -> list[str]:
    """Return the canonical codes to evaluate: the given ones (checked to exist), or all in `folder`."""
    available = sorted({p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng")})
    if not languages or list(languages) == ["all"]:
        return available
    out = []
    for lang in languages:
        # the files' own code, where Tatoeba names an individual language (swh, pes) for a user's sw, fa
        try:
            code = lang if lang in available else tatoeba_code(folder, lang)
        except DataError as error:
            raise ConfigError(f"languages: {lang!r}: {error}") from None
        out.append(code)
    return out
