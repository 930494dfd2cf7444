"""Outputs named `.gz` are written gzipped, so that xling's own readers (which decompress every `.gz`) read
them back (`xling detect --output`: tests/test_atomic.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

from translation.tiny_models import build_xling  # tests/ is on the path (no tests/__init__.py)
from typer.testing import CliRunner

from xling.cli import app
from xling.data.readers import decoded_lines, line_text

runner = CliRunner()


def _read_lines(path: Path) -> list[str]:
    return [line_text(line, path) for line in decoded_lines(path, None, allow_blank=True)]


def test_translate_output_named_gz_is_gzipped(tmp_path):
    model = build_xling(tmp_path / "model", languages=("eng", "deu"))
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
