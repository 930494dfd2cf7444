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


@pytest.fixture(scope="module")
def detector(tiny_detector_folder):
    return tiny_detector_folder


def expected(model, texts, src="en", tgt="de"):
    translator = Translator.from_pretrained(model, backend="torch")
    return translator.translate(texts, src, tgt, DecodeOptions(beam_size=1, max_length_cap=8))


def run_main(monkeypatch, capsys, *args, stdout=False):
    monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    if stdout:
        return exc.value.code, captured.out, captured.err
    return exc.value.code, captured.err.strip()


def test_texts_are_printed_one_per_line(model):
    texts = PARALLEL["eng"][:2]
    result = runner.invoke(
        app, ["translate", "--src", "en", "--tgt", "de", "--model", str(model), *GREEDY, *texts]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == expected(model, texts)


def test_a_text_argument_with_line_breaks_is_printed_on_one_line(model):
    text = f"{PARALLEL['eng'][0]}\n{PARALLEL['eng'][1]}\n\n{PARALLEL['eng'][2]}"  # a paragraph break too
    result = runner.invoke(
        app, ["translate", "--src", "en", "--tgt", "de", "--model", str(model), *GREEDY, text]
    )
    assert result.exit_code == 0, result.output
    lines = expected(model, [text])[0].splitlines()
    assert len(lines) == 4 and lines[2] == ""  # the translation keeps the layout ...
    # ... printed with one space between its lines (the blank line gave two)
    assert result.stdout.splitlines() == [" ".join(line for line in lines if line)]
    assert "  " not in result.stdout


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
        (["--tgt", "de", "--detector", "no-such-detector", "Hello."], "needs a language detector"),
        (["--src", "en", "Hello."], "--tgt"),
        (["--src", "xx-nope", "--tgt", "de", "Hello."], "unknown language code 'xx-nope'"),
        (["--src", "en", "--tgt", "de"], "TEXT arguments or --input"),
        (["--src", "en", "--tgt", "de", "--beam", "0", "Hello."], "beam_size"),
        (["--src", "en", "--tgt", "de", "--device", "tpu", "Hello."], "'tpu' is not cpu, cuda"),
        (["--src", "en", "--tgt", "de", "Hello \udcff."], "TEXT 1 is not valid UTF-8 text"),
        (
            ["--src", "en", "--tgt", "de", "--max-length-a", "inf", "Hello."],
            "max_length_a must be a finite number, got inf",
        ),
        (
            ["--src", "en", "--tgt", "de", "--repetition-penalty", "inf", "Hello."],
            "repetition_penalty must be a finite",
        ),
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


@pytest.mark.parametrize("auto", [["--src", "auto"], []])
def test_auto_source_detects_each_text_and_logs_it_not_on_stdout(model, detector, monkeypatch, capsys, auto):
    texts = [PARALLEL["deu"][0], "🎉", PARALLEL["eng"][1]]
    code, out, err = run_main(monkeypatch, capsys, "translate", *auto, "--tgt", "fr", "--model", model,
                              "--detector", detector, *GREEDY, *texts, stdout=True)  # fmt: skip
    assert code == 0, err
    assert out.splitlines() == expected(model, texts, src=["de", None, "en"], tgt="fr")
    assert "source languages detected: deu, none (no letters), eng" in err


def test_auto_source_of_a_file(model, detector, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text(f"{PARALLEL['deu'][0]}\n{PARALLEL['fra'][1]}\n{PARALLEL['deu'][2]}\n", "utf-8")
    output = tmp_path / "out.txt"
    code, err = run_main(monkeypatch, capsys, "translate", "--tgt", "en", "--model", model, "--detector",
                         detector, *GREEDY, "--input", source, "--output", output)  # fmt: skip
    assert code == 0, err
    assert "source languages detected: deu 2, fra 1" in err
    texts = source.read_text("utf-8").splitlines()
    assert output.read_text("utf-8").splitlines() == expected(model, texts, src=["de", "fr", "de"], tgt="en")


def test_a_text_in_a_language_the_model_lacks_is_one_line_naming_it(model, detector, monkeypatch, capsys):
    code, err = run_main(monkeypatch, capsys, "translate", "--tgt", "fr", "--model", model, "--detector",
                         detector, "Hello there.", "Завтра мы поедем на поезде к моей бабушке.")  # fmt: skip
    assert code == 2 and len(err.splitlines()) == 1
    # counted from 1, as every other error about TEXT arguments counts them ("TEXT 1 is not valid UTF-8")
    assert "TEXT 2 ('Завтра" in err and "detected as rus" in err and "--src" in err


def test_an_empty_input_file_writes_an_empty_output(model, tmp_path, monkeypatch, capsys):
    source, output = tmp_path / "empty.txt", tmp_path / "out.txt"
    source.write_bytes(b"")
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "de", "--model", model,
                         "--input", source, "--output", output)  # fmt: skip
    assert code == 0, err
    assert output.read_bytes() == b"" and "0 lines written" in err


def test_an_output_path_that_looks_like_markup_is_reported_as_given(model, tmp_path, monkeypatch, capsys):
    source, output = tmp_path / "in.txt", tmp_path / "out[/x].txt"
    source.write_text("Hello.\n", encoding="utf-8")
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "de", "--model", model,
                         "--input", source, "--output", output)  # fmt: skip
    assert code == 0, err
    assert output.is_file() and "out[/x].txt" in err


@pytest.mark.parametrize("bad", ["missing input", "folder output", "output is the input"])
def test_file_paths_are_checked_before_the_model_loads(model, bad_file_paths, monkeypatch, capsys, bad):
    loads = []

    def no_load(*args, **kwargs):  # loading takes seconds (xling-mt-bible) to minutes (NLLB)
        loads.append(args)
        raise AssertionError("the model was loaded before the paths were checked")

    monkeypatch.setattr(Translator, "from_pretrained", no_load)
    source, output, message = bad_file_paths(bad, "Hello.\n")
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "de", "--model", model,
                         "--input", source, "--output", output)  # fmt: skip
    assert code == 2 and message in err and not loads, err
    assert source.name in err or output.name in err


def test_the_recipe_is_no_output(model, tmp_path, monkeypatch, capsys):
    """`--recipe r.toml --output r.toml` wrote the translations over the recipe."""
    source = tmp_path / "in.txt"
    source.write_text("Hello.\n", "utf-8")
    recipe = tmp_path / "r.toml"
    recipe.write_text("[translate]\nbeam_size = 1\n", "utf-8")
    code, err = run_main(monkeypatch, capsys, "translate", "--src", "en", "--tgt", "de", "--model", model,
                         "--recipe", recipe, "--input", source, "--output", recipe)  # fmt: skip
    assert code == 2 and "r.toml is also an input file" in err, err
    assert recipe.read_text("utf-8") == "[translate]\nbeam_size = 1\n"
