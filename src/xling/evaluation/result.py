"""The one result type of every evaluation: what was scored, on what, the figures, and how.

`Result.to_dict()` is what `xling eval ... --json` writes and what model cards and `xling.json` store:

    {"task": "tatoeba", "model": "xling-mini", "data": "../shared/data/tatoeba",
     "scores": {"deu": {"src2eng": 80.1, "eng2src": 79.4, "accuracy": 79.75, "n": 1000}, ...},
     "average": 61.6, "primary": "accuracy", "settings": {"scoring": "margin", "k": 4}, "seconds": 12.3}

`scores` holds one row per language or language pair (metric name -> value); `primary` names the metric
whose mean over the rows is `average` (as sentence-transformers' evaluators name a primary metric).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xling.errors import DataError

__all__ = ["Result"]

FIELDS = ("task", "model", "data", "scores", "average", "primary", "settings", "seconds")


@dataclass
class Result:
    """The figures of one evaluation run."""

    task: str
    """What was evaluated: "tatoeba", "mining", "bli", ..."""
    model: str
    """The model (or mapping) scored, as named by the user."""
    data: str
    """The test data: a folder or file, and the part of it used."""
    scores: dict[str, dict[str, Any]]
    """One row per language or pair: metric name -> value (units as the task reports them)."""
    average: float
    """The mean of the `primary` metric over the rows of `scores`."""
    primary: str
    """The metric that `average` averages and that comparisons should use."""
    settings: dict[str, Any] = field(default_factory=dict)
    """How it was scored (scoring, k, margin, ...): what a reader needs to reproduce the figures."""
    seconds: float = 0.0
    """Wall-clock time of the evaluation."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data (the layout of `--json` files)."""
        return {
            "task": self.task,
            "model": self.model,
            "data": self.data,
            "scores": {key: dict(row) for key, row in self.scores.items()},
            "average": self.average,
            "primary": self.primary,
            "settings": dict(self.settings),
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "result") -> Result:
        """Return the Result that `to_dict` wrote; a DataError naming `source` and the missing fields."""
        missing = [name for name in FIELDS if name not in data and name not in ("settings", "seconds")]
        if missing:
            raise DataError(f"not an evaluation result: no {', '.join(missing)}", source)
        return cls(
            task=str(data["task"]),
            model=str(data["model"]),
            data=str(data["data"]),
            scores={str(key): dict(row) for key, row in data["scores"].items()},
            average=float(data["average"]),
            primary=str(data["primary"]),
            settings=dict(data.get("settings") or {}),
            seconds=float(data.get("seconds") or 0.0),
        )

    def primary_scores(self) -> dict[str, Any]:
        """Return {language or pair: value of the primary metric}."""
        return {key: row.get(self.primary) for key, row in self.scores.items()}
