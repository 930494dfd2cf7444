"""`align sentences` saves its encoder into the run's folder staged, with xling.json written last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xling.alignment.sentences.align import AlignConfig, save_student
from xling.data.config import CorpusConfig


class Student:
    """An encoder whose save writes its weights, then fails (a full disk) when `fails`."""

    kind = "transformer"
    dimension = 4

    def __init__(self, fails: bool) -> None:
        self.fails = fails

    def save(self, folder: Path) -> None:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / "model.safetensors").write_text("new weights", encoding="utf-8")
        if self.fails:
            raise OSError("disk full")


def _config(output: Path) -> AlignConfig:
    return AlignConfig(output=str(output), data=CorpusConfig("sample"), tokenizer="tok")


def test_a_save_that_fails_leaves_the_earlier_encoder_whole(tmp_path):
    """The encoder was saved straight into the folder: a save that failed (or was killed) after the weights
    left them beside the earlier xling.json, which says the encoder is finished."""
    output = tmp_path / "encoder"
    save_student(Student(fails=False), output, _config(output), ["deu", "eng"], {"steps": 1}, {})
    (output / "model.safetensors").write_text("old weights", encoding="utf-8")
    with pytest.raises(OSError, match="disk full"):
        save_student(Student(fails=True), output, _config(output), ["deu", "eng"], {"steps": 2}, {})
    assert (output / "model.safetensors").read_text(encoding="utf-8") == "old weights"
    assert json.loads((output / "xling.json").read_text(encoding="utf-8"))["training"] == {"steps": 1}
    assert not list(output.glob(".model.*"))
