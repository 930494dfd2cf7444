"""Outputs named `.gz` are written gzipped, so that xling's own readers (which decompress every `.gz`) read
them back (`xling detect --output`: tests/test_atomic.py)."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.data.readers import decoded_lines, line_text

runner = CliRunner()
TINY_MODELS = Path(__file__).resolve().parents[1] / "translation" / "tiny_models.py"


def _read_lines(path: Path) -> list[str]:
    return [line_text(line, path) for line in decoded_lines(path, None, allow_blank=True)]


def test_translate_output_named_gz_is_gzipped(tmp_path):
    if importlib.util.find_spec("xling.translation.translator") is None or not TINY_MODELS.is_file():
        pytest.skip("needs xling.translation.translator and tests/translation/tiny_models.py")
    spec = importlib.util.spec_from_file_location("tiny_models", TINY_MODELS)
    tiny_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny_models)
    model = tiny_models.build_xling(tmp_path / "model", languages=("eng", "deu"))
    source = tmp_path / "in.txt"
    source.write_text("The cat sleeps.\n\nWhere is the station?\n", encoding="utf-8")
    plain, packed = tmp_path / "o.txt", tmp_path / "o.txt.gz"
    for output in (plain, packed):
        result = runner.invoke(app, ["translate", "--src", "en", "--tgt", "de", "--model", str(model), "--beam",
                                     "1", "--set", "max_length_cap=8", "--input", str(source), "--output",
                                     str(output)])  # fmt: skip
        assert result.exit_code == 0, result.output
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    assert len(_read_lines(packed)) == 3
    # and it can be the input of the next command
    again = runner.invoke(app, ["translate", "--src", "de", "--tgt", "en", "--model", str(model), "--beam", "1",
                                "--set", "max_length_cap=8", "--input", str(packed), "--output",
                                str(tmp_path / "back.txt")])  # fmt: skip
    assert again.exit_code == 0, again.output
