"""Device names: the check of translation's, training's and serving's `device`, and what `auto` means (the
CTranslate2 backend parses its own)."""

from __future__ import annotations

import re

from xling.errors import ConfigError

DEVICE_NAMES = re.compile(r"auto|cpu|cuda(:\d+)?")
"""auto (cuda when torch sees one, else cpu), cpu, cuda, or cuda:N (GPU N)."""


def check_device(device: object, field: str) -> str:
    """Return `device` after checking that it is auto, cpu, cuda or cuda:N and that a GPU it names is one
    torch sees; ConfigError naming `field` otherwise (a misspelt name ran on the CPU, and a GPU torch lacks
    failed inside torch with a traceback, after the model or data had loaded)."""
    if not isinstance(device, str) or not DEVICE_NAMES.fullmatch(device):
        raise ConfigError(f"{field}: {device!r} is not cpu, cuda, cuda:N or auto")
    if device.startswith("cuda"):
        import torch  # only here: a server's parent process checks its device and never loads a model

        if not torch.cuda.is_available():
            raise ConfigError(
                f"{field}: {device} asked for, but torch sees no CUDA device here (use cpu or auto)"
            )
        count = torch.cuda.device_count()
        if ":" in device and int(device.split(":", 1)[1]) >= count:
            raise ConfigError(f"{field}: {device} asked for, but torch sees {count} CUDA device(s): cuda:0 to "
                              f"cuda:{count - 1}")  # fmt: skip
    return device


def resolve_device(device: str) -> str:
    """Return the torch device name `device` stands for: `auto` as cuda when torch sees one, else cpu; any
    other name as it is (check it first with `check_device`)."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
