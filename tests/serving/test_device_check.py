"""`xling serve`'s `device`: checked by the project's one device check (xling.devices.check_device), so a
name that is no device is a config error naming the field before any model loads."""

from __future__ import annotations

import pytest
import torch
import uvicorn

from xling.cli import main
from xling.errors import ConfigError
from xling.serving.app import create_app
from xling.serving.config import ServeConfig
from xling.serving.models import ModelRegistry


def _gpus(monkeypatch, count: int) -> None:
    """Make torch see `count` CUDA devices (none: no CUDA), whatever this machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("device", ["cuda:x", "cuda:", "cuda:-1", "gpu", "CPU"])
def test_a_device_that_is_none_is_a_config_error_naming_the_field_before_any_model_loads(
    device, monkeypatch, capsys
):
    _gpus(monkeypatch, 2)
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: started.append(args))
    monkeypatch.setattr(ModelRegistry, "load_all", lambda self: pytest.fail("a model was loaded"))
    monkeypatch.setattr("sys.argv", ["xling", "serve", "--set", f"device={device}"])
    with pytest.raises(SystemExit) as exc:
        main()
    err = capsys.readouterr().err
    assert exc.value.code == 2 and not started, err
    assert f"device: {device!r} is not cpu, cuda, cuda:N or auto" in " ".join(err.split()), err
    with pytest.raises(ConfigError, match="device: "):
        create_app(ServeConfig(device=device))


def test_the_valid_devices_keep_their_meaning(monkeypatch):
    _gpus(monkeypatch, 2)
    for device in ("cpu", "cuda", "cuda:0", "cuda:1", "auto"):
        ServeConfig(device=device).validate()
    with pytest.raises(ConfigError, match=r"device: cuda:2 asked for, but torch sees 2 CUDA device"):
        ServeConfig(device="cuda:2").validate()
    _gpus(monkeypatch, 0)
    for device in ("cpu", "auto"):
        ServeConfig(device=device).validate()
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ConfigError, match="device: .*torch sees no CUDA device"):
            ServeConfig(device=device).validate()


def test_auto_runs_the_encoder_and_an_index_on_the_cpu_without_a_gpu(monkeypatch, make_config):
    """auto was accepted, but the encoder took it as a torch device name and failed to load (503)."""
    _gpus(monkeypatch, 0)
    registry = ModelRegistry(make_config("device=auto", translator=None, detector=None, classifier=None))
    encoder = registry.get("encoder")
    assert encoder.device.type == "cpu"
    assert registry.get("index:toy").encoder is encoder
    registry.close()
