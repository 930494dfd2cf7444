"""Tatoeba similarity search (LASER / XTREME protocol): find each sentence's translation among all others.

For each language, both sides are encoded; the nearest neighbour of each xx sentence among all English
sentences (and of each English sentence among all xx sentences) must be its translation. Scored by cosine
or by the ratio margin (Artetxe & Schwenk 2019), which discounts "hub" sentences close to everything.
Test set only: never train or tune on it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xling.data.languages import normalize_language
from xling.data.readers import read_tatoeba
from xling.errors import ConfigError, DataError
from xling.retrieval.mining import margin_scores

# The ten languages of the yardstick (all present in ../shared/data/tatoeba).
DEFAULT_LANGUAGES = ["deu", "fra", "spa", "rus", "cmn", "jpn", "fin", "nld", "heb", "epo"]
SCORINGS = ("cosine", "margin")


@dataclass
class TatoebaConfig:
    """Settings of `xling eval tatoeba`."""

    model: str = "xling-mini"
    data: str = ""
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    scoring: str = "cosine"
    k: int = 4
    batch_size: int = 256

    def validate(self) -> None:
        if self.scoring not in SCORINGS:
            raise ConfigError(f"scoring: {self.scoring!r} must be one of {', '.join(SCORINGS)}")
        if self.k < 1:
            raise ConfigError(f"k: {self.k} must be at least 1")


@dataclass
class EvaluationResult:
    """An evaluation's figures: {task, model, data, scores: {lang: {...}}, average, seconds}."""

    task: str
    model: str
    data: str
    scores: dict[str, dict[str, float]]
    average: float
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "model": self.model, "data": self.data, "scores": self.scores,
                "average": self.average, "seconds": round(self.seconds, 2), "settings": self.settings}  # fmt: skip


def tatoeba_folder(data: str | Path) -> Path:
    """Return the Tatoeba folder inside `data` (or `data` itself when it holds the files)."""
    root = Path(data or os.environ.get("XLING_DATA", "../shared/data")).expanduser()
    for candidate in (root / "tatoeba", root):
        if candidate.is_dir() and any(candidate.glob("tatoeba.*-eng.eng")):
            return candidate
    raise DataError("no Tatoeba files (tatoeba.<lang>-eng.<lang>) here or in its tatoeba/ folder", root)


def nearest_accuracy(
    src: np.ndarray, tgt: np.ndarray, scoring: str = "cosine", k: int = 4
) -> tuple[float, float]:
    """Return top-1 accuracy (src->tgt, tgt->src) for unit vectors whose row i translate each other."""
    sims = src @ tgt.T
    if scoring == "margin":
        sims = ratio_margin(sims, k)
    gold = np.arange(len(src))
    return float((sims.argmax(1) == gold).mean()), float((sims.argmax(0) == gold).mean())


def ratio_margin(sims: np.ndarray, k: int) -> np.ndarray:
    """Return cos(x, y) / ((mean kNN cos of x + mean kNN cos of y) / 2) for a full similarity matrix."""
    k = min(k, sims.shape[0], sims.shape[1])
    fwd = np.sort(sims, axis=1)[:, -k:].mean(1)  # each src row: mean similarity of its k nearest tgt
    bwd = np.sort(sims, axis=0)[-k:, :].mean(0)  # each tgt column: mean similarity of its k nearest src
    return margin_scores(sims, fwd[:, None], bwd[None, :], "ratio")


def evaluate_tatoeba(encoder, config: TatoebaConfig, *, progress=None) -> EvaluationResult:
    """Return accuracy in both directions (percent) per language and the average, as LASER/XTREME report."""
    config.validate()
    folder = tatoeba_folder(config.data)
    started = time.perf_counter()
    scores: dict[str, dict[str, float]] = {}
    for lang in languages_to_run(folder, config.languages):
        if progress:
            progress(lang)
        xx, eng = read_tatoeba(folder, lang)
        a = encoder.encode(xx, batch_size=config.batch_size, show_progress=False)
        b = encoder.encode(eng, batch_size=config.batch_size, show_progress=False)
        src2eng, eng2src = nearest_accuracy(a, b, config.scoring, config.k)
        scores[lang] = {"src2eng": round(100 * src2eng, 2), "eng2src": round(100 * eng2src, 2), "n": len(xx)}
    average = float(np.mean([(s["src2eng"] + s["eng2src"]) / 2 for s in scores.values()]))
    return EvaluationResult("tatoeba", getattr(encoder, "name", "?"), str(folder), scores, round(average, 2),
                            time.perf_counter() - started, {"scoring": config.scoring, "k": config.k})  # fmt: skip


def languages_to_run(folder: Path, languages: Sequence[str]) -> list[str]:
    """Return the canonical codes to evaluate: the given ones (checked to exist), or all in `folder`."""
    available = sorted({p.name.split(".")[1].split("-")[0] for p in folder.glob("tatoeba.*-eng.eng")})
    if not languages or list(languages) == ["all"]:
        return available
    out = []
    for lang in languages:
        code = lang if lang in available else normalize_language(lang)
        if code not in available:
            raise ConfigError(f"languages: no Tatoeba files for {lang!r} in {folder}")
        out.append(code)
    return out
