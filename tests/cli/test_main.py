"""The root of the command line: --version, one-line errors in logs, help texts that fit the verb."""

import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from xling.cli import app

runner = CliRunner()


def test_version_prints_the_installed_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"xling {version('xling')}"


def test_a_piped_error_stays_on_one_line(tmp_path):
    missing = tmp_path / ("a-folder-name-long-enough-to-pass-eighty-columns-" * 3)
    texts = tmp_path / "x.txt"  # an input that exists: embed checks its paths before the model it names
    texts.write_text("hello\n", encoding="utf-8")
    output = tmp_path / "y.npy"
    proc = subprocess.run(
        [sys.executable, "-m", "xling", "embed", "--model", str(missing), "--input", str(texts), "--output", str(output)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and str(missing) in lines[0]


def test_pretrain_help_lists_every_preset():
    from xling.pretraining.presets import PRESETS

    output = runner.invoke(app, ["pretrain", "--help"], terminal_width=200).output
    for name in PRESETS:
        assert name in output


def test_set_example_names_training_only_on_verbs_that_train():
    def help_of(*verb: str) -> str:
        return runner.invoke(app, [*verb, "--help"], terminal_width=200).output

    assert "training.lr" in help_of("pretrain")
    assert "training.lr" in help_of("align", "sentences")
    for verb in (("eval", "tatoeba"), ("mine",), ("vectors", "train"), ("tokenizer", "train")):
        assert "training.lr" not in help_of(*verb), verb


def test_an_error_quoting_brackets_is_printed_verbatim(tmp_path):
    recipe = tmp_path / "[pretrain.data].toml"
    proc = subprocess.run(
        [sys.executable, "-m", "xling", "eval", "tatoeba", "--recipe", str(recipe)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "[pretrain.data].toml" in proc.stderr


def test_library_logs_reach_stderr_as_plain_lines(capsys):
    import logging

    from xling.cli.main import show_library_logs

    logger = logging.getLogger("xling")
    before = list(logger.handlers)
    for handler in before:  # an earlier main() in this process bound its handler to an older stderr
        logger.removeHandler(handler)
    try:
        show_library_logs()
        show_library_logs()  # a second call adds no second handler
        logging.getLogger("xling.training.loop").info("resuming run from step-4 (step 4)")
        logging.getLogger("xling.training.checkpoint").warning("step-8 is damaged")
        err = capsys.readouterr().err.splitlines()
        assert err == ["resuming run from step-4 (step 4)", "warning: step-8 is damaged"]
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        for handler in before:
            logger.addHandler(handler)


def test_json_reports_replace_earlier_reports_only(tmp_path):
    import typer

    from xling.cli.common import _writable_json

    (tmp_path / "old.json").write_text('{"task": "bli"}', encoding="utf-8")
    (tmp_path / "dict.tsv").write_text("dog\tHund\n", encoding="utf-8")
    assert _writable_json(tmp_path / "old.json") == tmp_path / "old.json"
    assert _writable_json(tmp_path / "new.json") == tmp_path / "new.json"
    with pytest.raises(typer.BadParameter, match="dict.tsv exists and is not a JSON file"):
        _writable_json(tmp_path / "dict.tsv")  # an input named by mistake: `eval bli --json dict.tsv`
    (tmp_path / "recipe.toml").write_text(
        "[tatoeba]\nk = 4\n", encoding="utf-8"
    )  # starts as a JSON list would
    with pytest.raises(typer.BadParameter, match="recipe.toml exists and is not a JSON file"):
        _writable_json(tmp_path / "recipe.toml")


def test_an_os_error_is_one_line_naming_the_path(monkeypatch, capsys):
    """A place the machine refuses (here /proc, where nothing can be made) passed the checks of where a run
    writes, then ended in a traceback (exit 1) once the work had begun."""
    from xling.cli.main import main

    monkeypatch.setattr("sys.argv", ["xling", "tokenizer", "train", "--corpus", "sample", "--output", "/proc/xling-no",
                                     "--set", "vocab_size=300"])  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip().startswith("error:")]
    assert exit_.value.code == 2 and len(lines) == 1 and "xling-no" in lines[0], err  # its staging folder
    assert "Traceback" not in err
