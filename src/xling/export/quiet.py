"""Silence the ONNX exporter's and quantizer's progress lines and warnings (each export is checked anyway)."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_tools() -> Iterator[None]:
    """Within the block: torch.onnx, onnxscript, onnx_ir and root-logger messages below ERROR, no warnings."""
    names = ("torch.onnx", "onnxscript", "onnx_ir", None)  # None: the root logger (the quantizer's hints)
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
