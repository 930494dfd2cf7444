import json

import pytest
from typer.testing import CliRunner

from xling.cli import app, main

runner = CliRunner()


@pytest.mark.parametrize("verb", [[], ["tokenizer"], ["tokenizer", "train"], ["pretrain"], ["quickstart"],
                                  ["fill-mask"]])  # fmt: skip
def test_every_verb_has_help(verb):
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def _run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


def test_bad_corpus_line_is_reported_with_file_and_line(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "eng.tsv").write_text("a\tHello there\nb no tab on this line\n", encoding="utf-8")
    (corpus / "deu.tsv").write_text("a\tHallo\nb\tWelt\n", encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", str(corpus), "--output",
                          str(tmp_path / "tok"), "--vocab-size", "300")  # fmt: skip
    assert code == 2
    assert "eng.tsv:2" in err.replace("\n", "")


def test_unknown_language_is_a_clear_error(monkeypatch, capsys, tmp_path):
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", "sample", "--languages",
                          "eng,xx-nope", "--output", str(tmp_path / "t"))  # fmt: skip
    assert code == 2 and "xx-nope" in err


def test_missing_tokenizer_folder_is_a_clear_error(monkeypatch, capsys, tmp_path):
    code, err = _run_main(monkeypatch, capsys, "pretrain", "--tokenizer", str(tmp_path / "none"), "--corpus",
                          "sample", "--output", str(tmp_path / "run"))  # fmt: skip
    assert code == 2 and "tokenizer" in err


def test_tokenizer_train_writes_json(tmp_path):
    out = tmp_path / "tok.json"
    result = runner.invoke(app, ["tokenizer", "train", "--corpus", "sample", "--languages", "eng,deu",
                                 "--vocab-size", "500", "--output", str(tmp_path / "tok"), "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["vocab_size"] == 500 and set(report["counts"]) == {"eng", "deu"}
