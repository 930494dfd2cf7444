"""INSTALLED-PACKAGE TEST (~10 s: builds and installs xling): the shipped xling-mini is found by name from a
non-editable install outside the checkout, offline, as `pip install .` into a fresh environment gives it.

The source tree is copied to a temporary folder and installed from there with pip (`--target`, no
dependencies, no build isolation, no index: nothing is downloaded, and the checkout gets no build/ folder).
The run happens from another working directory with only the installed copy of xling on the path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """Return the folder where a non-editable build of the working tree was installed."""
    root = tmp_path_factory.mktemp("install")
    source = root / "source"
    (source / "src").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "src" / "xling", source / "src" / "xling",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    target = root / "site"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if run.returncode != 0:
        pytest.fail(f"pip install failed:\n{run.stderr[-3000:]}")
    return target


def test_installed_package_ships_xling_mini_and_embeds_offline(installed, tmp_path):
    model = installed / "xling" / "models" / "xling-mini"
    assert (model / "modules.json").is_file() and (
        model / "0_StaticEmbedding" / "model.safetensors"
    ).is_file()
    (tmp_path / "in.txt").write_text("Where is the train station?\nWo ist der Bahnhof?\n", encoding="utf-8")
    script = (
        "import sys, xling\n"
        f"assert xling.__file__.startswith({str(installed)!r}), xling.__file__\n"
        "from xling.cli.main import main\n"
        "sys.argv = ['xling', 'embed', '--model', 'xling-mini', '--input', 'in.txt', '--output', 'out.npy']\n"
        "main()\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(installed),
        "HF_HUB_OFFLINE": "1",
        "XLING_HOME": str(tmp_path / "h"),
    }
    env.pop("XLING_MODELS", None)
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    vectors = np.load(tmp_path / "out.npy")
    assert vectors.shape == (2, 256) and float(vectors[0] @ vectors[1]) > 0.3


def test_xling_home_models_come_before_the_shipped_ones(tmp_path, monkeypatch):
    from xling.embeddings.encoder import SHIPPED_MODELS, model_roots, resolve_model

    (tmp_path / "models" / "xling-mini").mkdir(parents=True)
    monkeypatch.delenv("XLING_MODELS", raising=False)
    monkeypatch.setenv("XLING_HOME", str(tmp_path))
    assert model_roots() == [tmp_path / "models", SHIPPED_MODELS]
    assert resolve_model("xling-mini") == tmp_path / "models" / "xling-mini"
    monkeypatch.delenv("XLING_HOME")
    assert resolve_model("xling-mini") == SHIPPED_MODELS / "xling-mini"


def test_a_shipped_folder_is_the_first_root_s_folder_of_that_name(tmp_path, monkeypatch):
    from xling.embeddings.encoder import shipped_folder

    monkeypatch.setenv("XLING_MODELS", str(tmp_path / "env"))
    monkeypatch.setenv("XLING_HOME", str(tmp_path / "home"))
    monkeypatch.setattr("xling.embeddings.encoder.SHIPPED_MODELS", tmp_path / "shipped")
    for root in ("env", "home/models", "shipped"):
        (tmp_path / root / "both").mkdir(parents=True)
    (tmp_path / "shipped" / "last").mkdir()
    (tmp_path / "env" / "a-file").write_text("not a model folder")
    assert shipped_folder("both") == tmp_path / "env" / "both"
    assert shipped_folder("last") == tmp_path / "shipped" / "last"
    assert shipped_folder("a-file") is None and shipped_folder("missing") is None
