"""Guards of the command line: --json never lands on a model's own files, an output folder under a file is
refused before the work, invalid UTF-8 text arguments are named, progress bars stay off stdout."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.errors import ConfigError

runner = CliRunner()


def _model(folder):
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "xlm-roberta"}', encoding="utf-8")
    (folder / "xling.json").write_text('{"kind": "encoder"}', encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "tatoeba", "--model", "{m}", "--langs", "deu", "--json", "{m}/report.json"],
        ["eval", "mining", "--model", "{m}", "--langs", "deu", "--json", "{m}/sub/report.json"],
        ["eval", "mt", "--model", "{m}", "--directions", "eng-deu", "--json", "{m}/report.json"],
        ["transfer", "train", "--train", "{t}/train.tsv", "--language", "en", "--output", "{t}/new",
         "--json", "{t}/new/report.json"],
        ["transfer", "train", "--train", "{t}/train.tsv", "--language", "en", "--encoder", "{m}",
         "--output", "{t}/new", "--json", "{m}/r.json"],
        ["tag", "a b", "--model", "{m}", "--json", "{m}/r.json"],
        ["classify", "a b", "--model", "{m}", "--json", "{m}/r.json"],
        ["bot", "build", "--faq", "{t}/faq.tsv", "--output", "{t}/bot", "--json", "{t}/bot/r.json"],
        ["index", "search", "{t}/ix", "query", "--model", "{m}", "--json", "{m}/r.json"],
        ["langid", "train", "--output", "{t}/lid", "--json", "{t}/lid/r.json"],
        ["export", "onnx", "--model", "{m}", "--output", "{t}/onnx", "--json", "{t}/onnx/r.json"],
    ],
)  # fmt: skip
def test_json_inside_the_model_or_output_folder_is_refused_before_the_work(tmp_path, args):
    model = _model(tmp_path / "m")
    (tmp_path / "ix").mkdir()
    args = [a.format(m=model, t=tmp_path) for a in args]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, ConfigError), (result.exception, result.output)
    assert str(result.exception).startswith("--json:"), result.exception
    assert not list(tmp_path.rglob("r*.json"))


def test_json_named_like_a_model_file_beside_a_model_is_refused(tmp_path):
    model = _model(tmp_path / "m")
    for name in ("xling.json", "config.json", "tokenizer_config.json"):
        before = (model / name).read_bytes() if (model / name).exists() else None
        if before is None:
            (model / name).write_text('{"a": 1}', encoding="utf-8")
            before = (model / name).read_bytes()
        # a command whose model is elsewhere (here the default one) must not replace another model's files
        result = runner.invoke(app, ["eval", "tatoeba", "--langs", "deu", "--json", str(model / name)])
        said = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and "--json" in said and "file of the model" in said, result.output
        assert (model / name).read_bytes() == before
    # a report named config.json in a folder that holds no model is no model file: the guard lets it through
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "config.json").write_text(json.dumps({"old": 1}), encoding="utf-8")
    result = runner.invoke(app, ["eval", "tatoeba", "--langs", "deu", "--json", str(reports / "config.json")])
    assert "file of the model" not in " ".join(result.output.replace("│", " ").split()), result.output


@pytest.mark.parametrize(
    "args",
    [
        ["index", "build", "{f}/ix", "--input", "{t}/docs.tsv", "--model", "{t}/nomodel"],
        ["bot", "build", "--faq", "{t}/faq.tsv", "--output", "{f}/bot", "--encoder", "{t}/nomodel"],
        ["quickstart", "--output", "{f}"],
        ["quickstart", "--output", "{f}/run"],
        ["align", "words", "--src", "{t}/a.vec", "--tgt", "{t}/b.vec", "--output", "{f}/map", "--set",
         "seed_pairs=identical"],
    ],
)  # fmt: skip
def test_an_output_folder_under_a_file_is_refused_before_the_work(tmp_path, args):
    from xling.errors import DataError

    afile = tmp_path / "t3.txt"
    afile.write_text("text\n", encoding="utf-8")
    args = [a.format(f=afile, t=tmp_path) for a in args]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, DataError), (result.exception, result.output)
    assert f"{afile} is a file" in str(result.exception)


def test_atomic_folder_under_a_file_is_a_data_error(tmp_path):
    from xling.atomic import atomic_folder
    from xling.errors import DataError

    (tmp_path / "f").write_text("x", encoding="utf-8")
    with pytest.raises(DataError, match="is a file"), atomic_folder(tmp_path / "f" / "a" / "b"):
        pass


BAD = "abc \udcff def"  # how Python hands over the bytes of an argument that was not UTF-8


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["tag", "ok", BAD, "--model", "{t}/m"], "SENTENCE 2"),
        (["classify", BAD, "--model", "{t}/m"], "TEXT 1"),
        (["bot", "ask", "{t}/bot", BAD], "QUESTION 1"),
        (["index", "search", "{t}/ix", "ok", BAD], "QUERY 2"),
        (["fill-mask", "--model", "{t}/m", BAD], "TEXT 1"),
        (["translate", BAD, "--tgt", "de", "--model", "{t}/m"], "TEXT 1"),
        (["detect", BAD], "TEXT 1"),
        (["vectors", "translate", BAD, "--src", "{t}/a.vec", "--tgt", "{t}/b.vec", "--mapping", "{t}/map"],
         "WORD 1"),
    ],
)  # fmt: skip
def test_a_text_argument_that_is_not_utf8_is_named(tmp_path, args, named):
    from xling.errors import DataError

    result = runner.invoke(app, [a.format(t=tmp_path) for a in args])
    assert isinstance(result.exception, DataError), (result.exception, result.output)
    assert str(result.exception) == f"{named} is not valid UTF-8 text"


def test_detect_to_a_file_draws_its_progress_bar_on_stderr_not_stdout(tmp_path):
    (tmp_path / "in.txt").write_text("Guten Morgen, wie geht es dir?\nGood morning, how are you?\n", "utf-8")
    result = runner.invoke(
        app, ["detect", "--input", str(tmp_path / "in.txt"), "--output", str(tmp_path / "o.tsv")]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "", result.stdout
    assert len((tmp_path / "o.tsv").read_text("utf-8").splitlines()) == 2


def test_embed_mine_and_index_build_keep_stdout_free_of_bars(tmp_path, sample_tokenizer_dir):
    import torch
    from tokenizers import Tokenizer

    from xling.embeddings.static import StaticSentenceEncoder

    torch.manual_seed(0)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    StaticSentenceEncoder(tokenizer, dimension=16).save(tmp_path / "model")
    model = str(tmp_path / "model")
    (tmp_path / "de.txt").write_text("Guten Morgen\nDanke schön\nWie geht es?\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("Thank you\nGood morning\nHow are you?\n", encoding="utf-8")
    (tmp_path / "docs.tsv").write_text("deu\tGuten Morgen\neng\tThank you\n", encoding="utf-8")
    for args in (
        ["embed", "--model", model, "--input", str(tmp_path / "de.txt"), "--output", str(tmp_path / "de.npy")],
        ["mine", str(tmp_path / "de.txt"), str(tmp_path / "en.txt"), "--model", model,
         "--output", str(tmp_path / "mined.tsv"), "--threshold", "none"],
        ["index", "build", str(tmp_path / "ix"), "--input", str(tmp_path / "docs.tsv"), "--model", model],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.stdout == "", (args[0], result.stdout)


class _LetterEncoder:
    """Encodes a text as its letter counts: enough for `mine` to pair a line with its copy."""

    name = "letters"
    dimension = 26

    def encode(self, texts, batch_size=64, normalize=True, show_progress=None):
        import numpy as np

        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for letter in text.lower():
                if "a" <= letter <= "z":
                    vectors[row, ord(letter) - ord("a")] += 1.0
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@pytest.mark.parametrize("name", ["out[/x].tsv", "pairs[red].tsv", "a:smile:b.tsv"])
def test_an_output_path_that_looks_like_markup_is_printed_as_given(tmp_path, monkeypatch, name):
    """Paths went into rich markup as they were: `out[/x].tsv` was written, then the command died with a
    MarkupError (exit 1); `pairs[red].tsv` was announced as `pairs.tsv`."""
    from xling.cli import mine as mine_cli

    monkeypatch.setattr(mine_cli, "load_encoder", lambda model, **options: _LetterEncoder())
    (tmp_path / "en.txt").write_text("the cat sleeps\na storm is coming\n", encoding="utf-8")
    (tmp_path / "de.txt").write_text("a storm is coming\nthe cat sleeps\n", encoding="utf-8")
    out = tmp_path / name
    result = runner.invoke(app, ["mine", str(tmp_path / "en.txt"), str(tmp_path / "de.txt"), "--output", str(out),
                                 "--threshold", "none"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"pairs written to {out} from" in result.output and out.is_file()


def test_literal_shows_any_value_as_it_is():
    from rich.text import Text

    from xling.cli.common import literal

    for value in ("Hello world [/INST]", "[bold]x[/bold]", "ends in a backslash\\", "[red]", "a [b] c"):
        assert Text.from_markup(f"[green]{literal(value)}[/]").plain == value


def test_an_empty_folder_field_is_no_folder():
    """model_folder("") was Path("."): an unset field (mt train's tokenizer when fine-tuning without one)
    made every --json under the current folder lie "inside the tokenizer folder " (named blank)."""
    from xling.cli.common import model_folder

    assert model_folder("") is None and model_folder(None) is None and model_folder(".") is not None


def test_mt_train_without_a_tokenizer_writes_its_json_in_the_current_folder(tmp_path, monkeypatch):
    from translation.tiny_models import PARALLEL, build_xling  # tests/ is on the path

    model = build_xling(tmp_path / "model", languages=("eng", "deu"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    pairs = zip(PARALLEL["eng"], PARALLEL["deu"], strict=True)
    (work / "p.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in pairs), "utf-8")
    result = runner.invoke(app, ["mt", "train", "--model", str(model), "--parallel", "eng-deu=p.tsv", "--output",
                                 str(tmp_path / "tuned"), "--max-steps", "1", "--json", "report.json", "--set",
                                 "dev_fraction=0", "--set", "training.precision=fp32", "--set",
                                 "training.threads=1", "--set", "training.progress=false"])  # fmt: skip
    assert result.exit_code == 0, (result.exception, result.output)
    assert json.loads((work / "report.json").read_text())["family"] == "xling"
