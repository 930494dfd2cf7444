"""Configs of the export commands: defaults live here, light to import (no torch, no ONNX)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xling.errors import ConfigError

INT8_MIN_COSINE = 0.993
"""Default target of the optimized int8 graph: mean cosine to fp32 on the check sentences."""
FP32_MIN_COSINE = 0.999
"""Below this minimum cosine to PyTorch on the check sentences an fp32 graph computes something else: the
export is withdrawn (an error)."""
INT8_OUTLIER_CHANNELS = 4
"""FFN channels per layer that the optimized int8 graph keeps in fp32."""


@dataclass
class OnnxExportConfig:
    """`xling export onnx`: which ONNX Runtime graphs to write and how they are checked."""

    int8: bool = False
    """Also write a dynamic int8 graph (`model_int8.onnx`)."""
    optimize: bool = False
    """Also write ONNX Runtime's fused transformer graph (and its int8 version with `int8`)."""
    int8_min_cosine: float = INT8_MIN_COSINE
    """Optimized int8: keep whole FFN output projections in fp32 until the mean cosine to fp32 reaches this."""
    int8_outlier_channels: int = INT8_OUTLIER_CHANNELS
    """Optimized int8: FFN activation channels per layer kept in fp32 (the largest on the check sentences)."""
    sample: Path | None = None
    """Check sentences, one per line (default: 64 per language of the bundled sample corpus)."""

    def validate(self) -> None:
        if not 0.0 < self.int8_min_cosine <= 1.0:
            raise ConfigError(f"int8_min_cosine: must be in (0, 1], not {self.int8_min_cosine}")
        if self.int8_outlier_channels < 0:
            raise ConfigError(f"int8_outlier_channels: must be >= 0, not {self.int8_outlier_channels}")


CT2_QUANTIZATIONS = (
    "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32",
)  # fmt: skip
"""Weight types CTranslate2's converter writes: int8 / int8_float32 pay off on CPUs, *float16 on GPUs."""


@dataclass
class Ct2ExportConfig:
    """`xling export ct2`: how a translation model is converted to CTranslate2."""

    quantization: str = "int8"
    """Weight type of the conversion (one of CT2_QUANTIZATIONS); int8 is the fast CPU path, float32 decodes
    exactly like the PyTorch model."""
    overwrite: bool = False
    """Replace another model's CTranslate2 conversion at the output (this model's own earlier one is always
    replaced; a folder of other files never is)."""

    def validate(self) -> None:
        if self.quantization not in CT2_QUANTIZATIONS:
            raise ConfigError(
                f"quantization: {self.quantization!r} is not one of {', '.join(CT2_QUANTIZATIONS)}"
            )
