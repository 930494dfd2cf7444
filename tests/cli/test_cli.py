import json

import pytest
from typer.testing import CliRunner

from xling.cli import app, main

runner = CliRunner()


@pytest.mark.parametrize("verb", [[], ["tokenizer"], ["tokenizer", "train"], ["tokenizer", "transfer"], ["pretrain"], ["quickstart"],
                                  ["fill-mask"], ["embed"], ["align"], ["align", "sentences"], ["eval"],
                                  ["eval", "tatoeba"], ["eval", "mining"], ["mine"], ["index"], ["index", "build"],
                                  ["index", "add"], ["index", "delete"], ["index", "search"], ["export", "onnx"],
                                  ["vectors", "train"], ["vectors", "convert"], ["vectors", "translate"], ["align", "words"], ["eval", "bli"]])  # fmt: skip
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
    # 20k sampled sentences (of 440) instead of the default 500k: 1.8 s instead of 34 s, the same checks
    args = ["tokenizer", "train", "--corpus", "sample", "--languages", "eng,deu", "--vocab-size", "500",
            "--output", str(tmp_path / "tok"), "--set", "sample_sentences=20000"]  # fmt: skip
    result = runner.invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["vocab_size"] == 500 and set(report["counts"]) == {"eng", "deu"}
    # the run above was not on a terminal: a progress line per stage, the SentencePiece one included
    assert "counting sentences: eng" in result.output
    assert "SentencePiece: learning 500 pieces" in result.output
    # an existing tokenizer is replaced only with --overwrite
    before = (tmp_path / "tok" / "tokenizer.json").read_bytes()
    result = runner.invoke(app, [*args, "--set", "seed=1"])
    message = str(result.exception)
    assert "a tokenizer is already there" in message and "--overwrite" in message and "=True" not in message
    assert (tmp_path / "tok" / "tokenizer.json").read_bytes() == before
    result = runner.invoke(app, [*args, "--languages", "eng,fra", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert set(json.loads((tmp_path / "tok" / "xling.json").read_text())["languages"]) == {"eng", "fra"}


def test_corpus_file_that_is_not_a_language_code_is_named(tmp_path, monkeypatch, capsys):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "eng.tsv").write_text("a\tHello there\n", encoding="utf-8")
    (corpus / "xyz.tsv").write_text("a\tHallo\n", encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "tokenizer", "train", "--corpus", str(corpus), "--output",
                          str(tmp_path / "tok"))  # fmt: skip
    assert code == 2 and "xyz.tsv" in err and "not a language code" in err


def _static_model(folder, tokenizer_dir, dimension=32):
    import torch
    from tokenizers import Tokenizer

    from xling.embeddings.static import StaticSentenceEncoder

    torch.manual_seed(0)
    StaticSentenceEncoder(
        Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")), dimension=dimension
    ).save(folder)
    return folder


def test_embed_mine_and_index_from_the_command_line(tmp_path, sample_tokenizer_dir, monkeypatch, capsys):
    import numpy as np

    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir

    model = str(_static_model(tmp_path / "model", sample_tokenizer_dir))
    pairs = list(AlignedCorpus.from_dir(sample_corpus_dir()).pairs("deu", "eng"))[:40]
    (tmp_path / "de.txt").write_text("\n".join(d for _, d, _ in pairs) + "\n", encoding="utf-8")
    (tmp_path / "en.txt").write_text("\n".join(e for _, _, e in reversed(pairs)) + "\n", encoding="utf-8")

    result = runner.invoke(app, ["embed", "--model", model, "--input", str(tmp_path / "de.txt"),
                                 "--output", str(tmp_path / "de.npy")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "de.npy").shape == (40, 32)

    result = runner.invoke(app, ["mine", str(tmp_path / "de.txt"), str(tmp_path / "en.txt"), "--model", model,
                                 "--output", str(tmp_path / "mined.tsv"), "--threshold", "none"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = (tmp_path / "mined.tsv").read_text(encoding="utf-8").splitlines()
    assert rows and all(len(r.split("\t")) == 3 for r in rows)
    for report in ("de.txt", "mined.tsv"):  # the report may replace neither an input nor the pairs
        before = (tmp_path / report).read_bytes()
        result = runner.invoke(app, ["mine", str(tmp_path / "de.txt"), str(tmp_path / "en.txt"), "--model", model,
                                     "--output", str(tmp_path / "mined.tsv"), "--json", str(tmp_path / report)])  # fmt: skip
        assert result.exit_code != 0 and (tmp_path / report).read_bytes() == before

    docs = tmp_path / "docs.tsv"
    docs.write_text("".join(f"deu\t{d}\neng\t{e}\n" for _, d, e in pairs), encoding="utf-8")
    index = str(tmp_path / "index")
    assert (
        runner.invoke(app, ["index", "build", index, "--model", model, "--input", str(docs)]).exit_code == 0
    )
    result = runner.invoke(app, ["index", "search", index, pairs[0][1], "--k", "2", "--lang", "de",
                                 "--model", model, "--json", str(tmp_path / "hits.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads((tmp_path / "hits.json").read_text())["results"][0]["hits"]
    assert hits[0]["text"] == pairs[0][1] and {h["language"] for h in hits} == {"deu"}
    assert runner.invoke(app, ["index", "delete", index, str(hits[0]["id"])]).exit_code == 0
    result = runner.invoke(app, ["index", "search", index, pairs[0][1], "--k", "2", "--lang", "de",
                                 "--model", model, "--json", str(tmp_path / "hits.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    after = json.loads((tmp_path / "hits.json").read_text())["results"][0]["hits"]
    assert hits[0]["id"] not in {h["id"] for h in after} and after[0]["id"] == hits[1]["id"]

    # another encoder (here also of another dimension) must not write into this index
    other = str(_static_model(tmp_path / "other", sample_tokenizer_dir, dimension=16))
    code, err = _run_main(monkeypatch, capsys, "index", "add", index, "--input", str(docs), "--model", other)
    assert code == 2 and "was built with model" in " ".join(err.split())


def test_eval_tatoeba_writes_the_report(tmp_path, sample_tokenizer_dir):
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir

    model = str(_static_model(tmp_path / "model", sample_tokenizer_dir))
    data = tmp_path / "data" / "tatoeba"
    data.mkdir(parents=True)
    pairs = list(AlignedCorpus.from_dir(sample_corpus_dir()).pairs("rus", "eng"))[:30]
    (data / "tatoeba.rus-eng.rus").write_text("\n".join(r for _, r, _ in pairs) + "\n", encoding="utf-8")
    (data / "tatoeba.rus-eng.eng").write_text("\n".join(e for _, _, e in pairs) + "\n", encoding="utf-8")
    out = tmp_path / "tatoeba.json"
    result = runner.invoke(app, ["eval", "tatoeba", "--model", model, "--data", str(tmp_path / "data"),
                                 "--langs", "ru", "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["task"] == "tatoeba" and set(report["scores"]) == {"rus"}
    assert report["scores"]["rus"]["n"] == 30
    # the command's figure is the library's on the same model and data
    from xling.embeddings.encoder import Encoder
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba

    direct = evaluate_tatoeba(
        Encoder.load(model), TatoebaConfig(data=str(tmp_path / "data"), languages=["ru"])
    )
    assert (
        report["average"] == pytest.approx(direct.average) and report["scores"] == direct.to_dict()["scores"]
    )
    # the table's last column is the primary metric, the average under it
    lines = [line for line in result.output.splitlines() if "rus" in line or "average" in line]
    assert lines[0].split("│")[-2].strip() == f"{report['scores']['rus']['accuracy']:.1f}"
    assert (
        lines[1].split("│")[-2].strip() == f"{report['average']:.1f}" and lines[1].split("│")[2].strip() == ""
    )


def test_eval_tatoeba_finds_the_files_of_an_individual_language_and_checks_data_before_the_model(
    tmp_path, monkeypatch
):
    import xling.cli.evaluate as evaluate_cli

    data = tmp_path / "data" / "tatoeba"
    data.mkdir(parents=True)
    (data / "tatoeba.swh-eng.swh").write_text("habari\nasante\n", encoding="utf-8")
    (data / "tatoeba.swh-eng.eng").write_text("hello\nthank you\n", encoding="utf-8")

    def no_model(name):
        raise AssertionError(f"the model {name} was loaded before the data was checked")

    monkeypatch.setattr(evaluate_cli, "load_encoder", no_model)
    swahili = runner.invoke(app, ["eval", "tatoeba", "--data", str(tmp_path / "data"), "--langs", "sw"])
    assert "was loaded before" in str(swahili.exception)  # sw found its swh files: the data passed
    (data / "tatoeba.swh-eng.eng").write_text("hello\n", encoding="utf-8")
    broken = runner.invoke(app, ["eval", "tatoeba", "--data", str(tmp_path / "data"), "--langs", "sw"])
    assert "tatoeba.swh-eng.eng:1" in str(broken.exception)  # a damaged file, before the model
    unknown = runner.invoke(app, ["eval", "tatoeba", "--data", str(tmp_path / "data"), "--langs", "fr"])
    assert "languages: 'fr': " in str(unknown.exception) and "no Tatoeba files for fra" in str(
        unknown.exception
    )


def test_word_alignment_and_bli_from_the_command_line(tmp_path, monkeypatch, capsys):
    import numpy as np

    from xling.vectors import WordVectors, load_vectors, save_vectors

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(400)]
    src = rng.standard_normal((400, 32)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((32, 32)))
    tgt = src @ rotation.astype(np.float32) + rng.normal(0, 0.01, src.shape).astype(np.float32)
    save_vectors(WordVectors(words, src), tmp_path / "src.vec")
    save_vectors(WordVectors([f"t{i}" for i in range(400)], tgt), tmp_path / "tgt.npy")
    (tmp_path / "train.tsv").write_text("".join(f"w{i}\tt{i}\n" for i in range(100)), encoding="utf-8")
    # the last two test pairs are out of vocabulary on one side: counted, not dropped
    test_lines = [f"w{i}\tt{i}\n" for i in range(200, 300)] + ["w5\tnope\n", "nope\tt5\n"]
    (tmp_path / "test.tsv").write_text("".join(test_lines), encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "align", "words", "--src", str(tmp_path / "src.vec"), "--tgt",
                          str(tmp_path / "tgt.npy"), "--output", str(tmp_path / "map"), "--dictionary",
                          str(tmp_path / "train.tsv"), "--write-mapped")  # fmt: skip
    assert code in (0, None), err
    mapped = load_vectors(tmp_path / "map" / "src.mapped.vec")
    assert mapped.words == words
    code, err = _run_main(monkeypatch, capsys, "eval", "bli", "--src", str(tmp_path / "src.vec"), "--tgt",
                          str(tmp_path / "tgt.npy"), "--mapping", str(tmp_path / "map"), "--dictionary",
                          str(tmp_path / "test.tsv"), "--json", str(tmp_path / "bli.json"))  # fmt: skip
    assert code in (0, None), err
    report = json.loads((tmp_path / "bli.json").read_text())
    assert (
        report["task"] == "bli" and report["settings"]["retrieval"] == "csls" and report["primary"] == "p@1"
    )
    row = report["scores"]["test"]  # the pair is named by the file name when it names none
    assert row["p@1"] >= 99.0 == min(99.0, report["average"])
    assert row["coverage"]["pairs_covered"] == 100 and row["coverage"]["lines"] == 102
    result = runner.invoke(app, ["vectors", "translate", "w250", "w7", "--src", str(tmp_path / "src.vec"), "--tgt",
                                 str(tmp_path / "tgt.npy"), "--mapping", str(tmp_path / "map"), "--top", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "t250 (" in result.output and "t7 (" in result.output
    code, err = _run_main(monkeypatch, capsys, "vectors", "translate", "nope", "--src", str(tmp_path / "src.vec"),
                          "--tgt", str(tmp_path / "tgt.npy"), "--mapping", str(tmp_path / "map"))  # fmt: skip
    assert code == 2 and "nope" in err
    code, err = _run_main(monkeypatch, capsys, "align", "words", "--src", str(tmp_path / "src.vec"), "--tgt",
                          str(tmp_path / "tgt.npy"), "--output", str(tmp_path / "map2"))  # fmt: skip
    assert code == 2 and "dictionary" in err


def test_serve_options_reach_the_servers_config(monkeypatch):
    import uvicorn

    import xling.serving.app

    built = []
    monkeypatch.setattr(xling.serving.app, "create_app", lambda settings: built.append(settings) or "app")
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: None)
    result = runner.invoke(
        app, ["serve", "--bot", "runs/bot", "--bot-translator", "runs/mt", "--port", "8123"]
    )
    assert result.exit_code == 0, result.output
    assert (built[0].bot, built[0].bot_translator, built[0].port) == ("runs/bot", "runs/mt", 8123)


def test_a_json_path_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    for path, message in [(tmp_path, "is a folder"), (tmp_path / "afile" / "out.json", "is a file")]:
        result = runner.invoke(app, ["eval", "tatoeba", "--json", str(path)])
        said = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
        assert result.exit_code == 2 and "--json" in said and message in said, result.output


def test_a_library_warning_prints_as_one_warning_line(tmp_path):
    import subprocess
    import sys

    vectors = tmp_path / "v.vec"
    vectors.write_text("3 2\na 1 0\nb 0 1\na 1 1\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "xling", "vectors", "convert", str(vectors), str(tmp_path / "v.npy")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "warning: " + str(vectors) + ": dropped 1 repeated word(s)" in proc.stderr
    assert "UserWarning" not in proc.stderr and "formats.py" not in proc.stderr


def test_vectors_commands_read_words_that_are_not_utf8_as_unicode_errors_says(tmp_path, monkeypatch, capsys):
    """Official fastText files hold words that are not UTF-8 (cc.ko.300): every command that loads vectors
    refuses them by default, saying how to read them, and reads them with --unicode-errors skip/replace."""
    import numpy as np

    from xling.alignment.words.mapping import WordMapping
    from xling.vectors import load_vectors

    rows = "".join(f"w{i} {' '.join(str(v) for v in np.eye(4)[i % 4] + i)}\n" for i in range(8))
    (tmp_path / "src.vec").write_bytes(b"9 4\n" + rows.encode() + b"bad\xff 1 2 3 4\n")
    (tmp_path / "tgt.vec").write_bytes(b"9 4\n" + rows.encode() + b"Bad\xfe 1 2 3 4\n")
    (tmp_path / "dict.tsv").write_text("".join(f"w{i}\tw{i}\n" for i in range(8)), encoding="utf-8")
    WordMapping(np.eye(4), np.eye(4), [], "identity").save(tmp_path / "map")
    src, tgt, folder = str(tmp_path / "src.vec"), str(tmp_path / "tgt.vec"), str(tmp_path / "map")
    commands = {
        "convert": ["vectors", "convert", src, str(tmp_path / "out.npy")],
        "translate": ["vectors", "translate", "w1", "--src", src, "--tgt", tgt, "--mapping", folder],
        "align": ["align", "words", "--src", src, "--tgt", tgt, "--output", str(tmp_path / "aligned"),
                  "--dictionary", str(tmp_path / "dict.tsv")],
        "bli": ["eval", "bli", "--src", src, "--tgt", tgt, "--mapping", folder, "--dictionary",
                str(tmp_path / "dict.tsv"), "--json", str(tmp_path / "bli.json")],
    }  # fmt: skip
    for name, args in commands.items():
        code, err = _run_main(monkeypatch, capsys, *args)
        assert code == 2 and "src.vec:10: invalid UTF-8 byte 0xff" in err, name
        assert "--unicode-errors skip" in " ".join(err.split()), name
        code, err = _run_main(monkeypatch, capsys, *args, "--unicode-errors", "skip")
        assert code in (0, None), (name, err)
    assert load_vectors(tmp_path / "out.npy").words == [f"w{i}" for i in range(8)]
    assert json.loads((tmp_path / "bli.json").read_text())["settings"]["lowercase"] is True
    code, err = _run_main(
        monkeypatch, capsys, *commands["convert"], "--overwrite", "--unicode-errors", "replace"
    )
    assert code in (0, None), err
    assert load_vectors(tmp_path / "out.npy").words[-1] == "bad\ufffd"
    code, err = _run_main(
        monkeypatch, capsys, *commands["bli"], "--unicode-errors", "replace", "--case-sensitive"
    )
    assert code in (0, None), err
    assert json.loads((tmp_path / "bli.json").read_text())["settings"]["lowercase"] is False


def test_a_recipe_error_under_max_steps_names_the_recipe_not_set(tmp_path, monkeypatch, capsys):
    """--max-steps is passed on as a --set item, whose key the error's hint named: it was blamed on --set."""
    recipe = tmp_path / "r2.toml"
    recipe.write_text('[pretrain]\ntokenizer = "x"\nmax_steps = 5\n', encoding="utf-8")
    code, err = _run_main(monkeypatch, capsys, "pretrain", "--recipe", str(recipe), "--max-steps", "7")
    err = " ".join(err.split())  # rich wraps long lines
    assert code == 2 and "r2.toml: unknown field 'max_steps'" in err and "--set" not in err, err


def test_a_set_of_training_max_steps_beats_the_max_steps_option():
    """The documented order is defaults, recipe, CLI options, then --set: --max-steps came after --set."""
    from xling.cli.common import training_overrides
    from xling.config import load_config
    from xling.pretraining.pretrain import PretrainConfig

    overrides = training_overrides(["tokenizer=t", "training.max_steps=5"], 7)
    assert load_config(PretrainConfig, None, overrides).training.max_steps == 5
    assert load_config(PretrainConfig, None, training_overrides(["tokenizer=t"], 7)).training.max_steps == 7
    assert training_overrides(None, None) == []
