"""Training progress on stderr, only when asked: a rich bar on a terminal, plain lines every few seconds otherwise.

A rich bar draws nothing until the end when stderr is a file or a pipe (a job log, `nohup`, CI), so there a
line with the step, loss, speed and time left is written every `PLAIN_EVERY_S` seconds instead.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any, TextIO

PLAIN_EVERY_S = 10.0


class TrainingProgress:
    """Progress of one run (use as a context manager; `update` after every step)."""

    def __init__(self, description: str, total: int, completed: int, enabled: bool,
                 stream: TextIO | None = None, every_s: float = PLAIN_EVERY_S):  # fmt: skip
        from rich.console import Console

        self.enabled = enabled
        self.description, self.total, self.first = description, total, completed
        self.every_s = every_s
        self._stream = stream if stream is not None else sys.stderr
        self._console = Console(file=self._stream)
        self._bar = None
        self._started = self._last_line = time.perf_counter()
        self._step, self._loss, self._tokens_per_s = completed, float("nan"), 0.0
        if enabled and self._console.is_terminal:
            self._bar = self._make_bar(completed)

    def _make_bar(self, completed: int):
        bar = rich_bar("loss {task.fields[loss]:.4f}", "{task.fields[tps]:,.0f} tok/s", eta_label="eta",
                       console=self._console)  # fmt: skip
        self._task = bar.add_task(self.description, total=self.total, completed=completed, loss=float("nan"),
                                  tps=0.0)  # fmt: skip
        return bar

    def __enter__(self) -> TrainingProgress:
        if self._bar is not None:
            self._bar.__enter__()
        elif self.enabled:
            resumed = f", resumed at step {self.first:,}" if self.first else ""
            self._write(f"{self.description}: {self.total:,} steps{resumed}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self.enabled and exc[0] is None and self._step > self.first:
            self._write(self._line())

    def update(self, step: int, loss: float, tokens_per_s: float) -> None:
        """Record a finished step; draw the bar, or write a plain line when `every_s` has passed."""
        self._step, self._loss, self._tokens_per_s = step, loss, tokens_per_s
        if self._bar is not None:
            self._bar.update(self._task, completed=step, loss=loss, tps=tokens_per_s)
        elif self.enabled and time.perf_counter() - self._last_line >= self.every_s:
            self._write(self._line())

    def _line(self) -> str:
        """Return a plain progress line: step, share done, loss, tokens/s, elapsed and remaining time."""
        elapsed = time.perf_counter() - self._started
        done = self._step - self.first
        left = (self.total - self._step) * elapsed / done if done else float("nan")
        eta = _clock(left) if left == left else "?"
        return (f"{self.description}: step {self._step:,}/{self.total:,} ({100 * self._step / self.total:.0f}%), "
                f"loss {self._loss:.4f}, {self._tokens_per_s:,.0f} tok/s, {_clock(elapsed)} elapsed, eta {eta}")  # fmt: skip

    def _write(self, line: str) -> None:
        self._stream.write(line + "\n")
        self._stream.flush()
        self._last_line = time.perf_counter()


def rich_bar(*fields: str, elapsed: bool = True, remaining: bool = True, eta_label: str = "",
             transient: bool = False, console: Any = None) -> Any:  # fmt: skip
    """Return a rich Progress: the task's description, a bar, done/total, then `fields` (TextColumn formats,
    e.g. "loss {task.fields[loss]:.4f}"), the elapsed time and the time left (after `eta_label`, if any)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn()]
    columns += [TextColumn(text) for text in fields]
    if elapsed:
        columns.append(TimeElapsedColumn())
    if remaining:
        if eta_label:
            columns.append(TextColumn(eta_label))
        columns.append(TimeRemainingColumn())
    return Progress(*columns, transient=transient, console=console)


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))
