"""`xling translate` on texts and files with a tiny model."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from xling.cli import app, main
from xling.translation.decoding import DecodeOptions
from xling.translation.translator import Translator

from .tiny_models import PARALLEL, build_xling

runner = CliRunner()
GREEDY = ["--beam", "1", "--set", "max_length_cap=8"]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return build_xling(tmp_path_factory.mktemp("models") / "xling")


def expected(model, texts, src="en", tgt="de"):
    translator = Translator.from_pretrained(model, backend="torch")
    return translator.translate(texts, src, tgt, DecodeOptions(beam_size=1, max_length_cap=8))


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.strip()


def test_texts_are_printed_one_per_line(model):
    texts = PARALLEL["eng"][:2]
    result = runner.invoke(
        app, ["translate", "--src", "en", "--tgt", "de", "--model", str(model), *GREEDY, *texts]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected(model, texts)


def test_a_file_line_by_line(model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text(f"{PARALLEL['eng'][0]}\n\n{PARALLEL['eng'][1]} {PARALLEL['eng'][2]}\n", "utf-8")
    output = tmp_path / "out.txt"
    result = runner.invoke(app, ["translate", "--src", "eng", "--tgt", "fr", "--model", str(model), *GREEDY,
                                 "--input", str(source), "--output", str(output)])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = output.read_text("utf-8").split("\n")
    assert lines == [*expected(model, [PARALLEL["eng"][0], "", f"{PARALLEL['eng'][1]} {PARALLEL['eng'][2]}"],
                               tgt="fr"), ""]  # fmt: skip
    assert "3 lines written" in result.stderr


def test_a_failure_leaves_an_existing_output_untouched(model, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text("The cat sleeps.\n", "utf-8")
    output = tmp_path / "out.txt"
    output.write_text("keep me\n", "utf-8")
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "ja", "--model", model,
                         "--input", source, "--output", output)  # fmt: skip
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot translate into Japanese (jpn)" in err
    assert output.read_text("utf-8") == "keep me\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tgt", "de", "Hello."], "source language must be given"),
        (["--src", "en", "Hello."], "--tgt"),
        (["--src", "xx-nope", "--tgt", "de", "Hello."], "unknown language code 'xx-nope'"),
        (["--src", "en", "--tgt", "de"], "TEXT arguments or --input"),
        (["--src", "en", "--tgt", "de", "--beam", "0", "Hello."], "beam_size"),
    ],
)
def test_user_errors_are_one_line(model, monkeypatch, capsys, args, message):
    code, err = run_main(monkeypatch, capsys, "translate", "--model", model, *args)
    assert code == 2 and len(err.splitlines()) == 1
    assert message in err


def test_missing_default_model_is_a_clear_error(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("XLING_MODELS", str(tmp_path))
    monkeypatch.delenv("XLING_HOME", raising=False)
    monkeypatch.setattr("xling.embeddings.encoder.SHIPPED_MODELS", tmp_path / "shipped")  # once it ships
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "de", "Hello.")
    assert code == 2 and "xling-mt-bible: no such translation model" in err
