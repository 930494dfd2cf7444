"""Shared fixtures: a small tokenizer trained once per session on the bundled sample corpus."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path | None:
    """Return ../shared/data (or $XLING_DATA) when it is there, else None."""
    path = Path(os.environ.get("XLING_DATA", REPO.parent / "shared" / "data"))
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def xling_mini_rows() -> np.ndarray:
    """Return the first 2,500 rows of the shipped xling-mini table as float32 (as its loader reads them)."""
    from xling.embeddings.static import MODULE_DIR, StaticSentenceEncoder

    folder = REPO / "src/xling/models/xling-mini" / MODULE_DIR
    if not (folder / "model.safetensors").is_file():
        pytest.skip("needs src/xling/models/xling-mini (shipped with the repository)")
    return StaticSentenceEncoder.load(folder).embedding.weight[:2500].detach().numpy().copy()


@pytest.fixture(scope="session")
def sample_tokenizer_dir(tmp_path_factory) -> Path:
    from xling.data.sources import TextSources
    from xling.tokenization.vocabulary import VocabConfig, train_vocabulary

    out = tmp_path_factory.mktemp("tokenizer")
    sources = TextSources.from_options("sample", [], [])
    train_vocabulary(
        sources.text_factories(), VocabConfig(output=str(out), vocab_size=1600, sample_sentences=20_000)
    )
    return out


@pytest.fixture
def shared_data_dir() -> Path:
    """Return ../shared/data (or $XLING_DATA); skip the test cleanly when it is absent."""
    path = shared_data()
    if path is None:
        pytest.skip("needs the shared data folder (../shared/data or $XLING_DATA)")
    return path
