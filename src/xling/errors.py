"""Errors a user can cause. Each names the file and line, or the field, it is about."""

from __future__ import annotations

from pathlib import Path


class XlingError(Exception):
    """Base class of every error caused by user input (files, options, codes)."""


class DataError(XlingError):
    """Bad input data; the message starts with `path:line:` where known."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class BusyError(XlingError):
    """A resource another process holds for now (an index it is writing to): the same call may succeed
    later; a server answers it 503 with Retry-After, not 400."""


class LanguageCodeError(XlingError):
    """A language code that is not ISO 639-1/639-3 or BCP-47."""


class ConfigError(XlingError):
    """A bad config field, recipe file or `--set key=value` override."""
