"""Fixtures of the transfer tests: the toy shared-space encoder (see toy.py)."""

from __future__ import annotations

import pytest

from .toy import build_encoder


@pytest.fixture
def toy_encoder(tmp_path):
    """Return the folder of a tiny static encoder whose English and German sentiment words share vectors."""
    return build_encoder(tmp_path / "toy-encoder")
