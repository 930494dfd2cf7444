"""Evaluations during training: named evaluation functions, the best checkpoint by one metric, early stopping.

An evaluation is a function `(objective, step) -> {metric: value}`; a run can have several, each under a
name, and their metrics reach the log and the result as `<name>_<metric>` (e.g. `dev_retrieval`), as
sentence-transformers prefixes an evaluator's metrics with its name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from xling.errors import ConfigError

Evaluation = Callable[[nn.Module, int], Mapping[str, float]]


def run_evaluations(
    evaluations: Mapping[str, Evaluation], objective: nn.Module, step: int
) -> dict[str, float]:
    """Return every evaluation's metrics, named `<evaluation>_<metric>`, with `objective` in eval mode.

    The objective is put back in train mode afterwards.
    """
    was_training = objective.training
    metrics: dict[str, float] = {}
    objective.eval()
    try:
        for name, evaluate in evaluations.items():
            metrics.update(
                {f"{name}_{key}": float(value) for key, value in evaluate(objective, step).items()}
            )
    finally:
        objective.train(was_training)
    return metrics


def broadcast_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Return rank 0's metrics on every process, so all ranks take the same best/stop decisions."""
    if not torch.distributed.is_initialized():
        return metrics
    box: list[Any] = [metrics]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


@dataclass
class BestTracker:
    """The best value of one metric so far, and how many evaluations in a row have not improved on it."""

    metric: str
    mode: str = "max"
    value: float | None = None
    step: int | None = None
    bad_evaluations: int = 0

    def update(self, metrics: Mapping[str, float], step: int) -> bool:
        """Return whether `metrics` improve on the best so far (and record them if so)."""
        if self.metric not in metrics:
            raise ConfigError(f"training.best_metric: {self.metric!r} is not among the evaluation metrics "
                              f"({', '.join(sorted(metrics)) or 'none'})")  # fmt: skip
        value = float(metrics[self.metric])
        if value != value:  # NaN never counts as an improvement
            improved = False
        elif self.value is None:
            improved = True
        else:
            improved = value > self.value if self.mode == "max" else value < self.value
        if improved:
            self.value, self.step, self.bad_evaluations = value, step, 0
        else:
            self.bad_evaluations += 1
        return improved

    def state(self) -> dict[str, Any]:
        """Return what a checkpoint keeps of the tracker (so a resumed run goes on comparing)."""
        return {"metric": self.metric, "mode": self.mode, "value": self.value, "step": self.step,
                "bad_evaluations": self.bad_evaluations}  # fmt: skip

    def restore(self, state: Mapping[str, Any] | None) -> None:
        """Take up the state a checkpoint kept (nothing when it kept none or tracked another metric)."""
        if state and state.get("metric") == self.metric and state.get("mode") == self.mode:
            self.value, self.step = state.get("value"), state.get("step")
            self.bad_evaluations = int(state.get("bad_evaluations", 0))
