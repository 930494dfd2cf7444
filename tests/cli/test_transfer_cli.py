"""`xling transfer train/predict/eval` and `xling classify` on a toy shared-space encoder (tests/transfer/toy.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xling.cli import app, main

runner = CliRunner()


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        f"transfer_{name}", Path(__file__).parents[1] / "transfer" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toy = _load("toy")
mounts = _load("mounts")


def write_tsv(path: Path, data) -> Path:
    path.write_text(
        "".join(f"{t}\t{label}\n" for t, label in zip(data.texts, data.labels, strict=True)), "utf-8"
    )
    return path


@pytest.fixture
def trained(tmp_path):
    """Return (classifier folder, tmp_path) after `xling transfer train` on the toy English data."""
    encoder = toy.build_encoder(tmp_path / "enc")
    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    dev = write_tsv(tmp_path / "dev.tsv", toy.texts("eng"))
    out = tmp_path / "clf"
    result = runner.invoke(app, ["transfer", "train", "--train", str(train), "--dev", str(dev), "--language", "en",
                                 "--encoder", str(encoder), "--output", str(out), "--set", "C_grid=[0.1,1.0]",
                                 "--json", str(tmp_path / "train.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out, tmp_path


def test_train_writes_a_classifier_and_its_figures(trained):
    out, tmp_path = trained
    assert (out / "head.safetensors").is_file() and (out / "xling.json").is_file()
    report = json.loads((tmp_path / "train.json").read_text("utf-8"))
    assert report["labels"] == ["negative", "neutral", "positive"] and report["dev"]["macro_f1"] == 100.0
    assert report["train"]["language"] == "eng" and set(report["dev"]["C_grid"]) == {"0.1", "1.0"}


def test_predict_and_classify_label_german(trained):
    out, tmp_path = trained
    german = toy.texts("deu")
    (tmp_path / "in.txt").write_text("\n".join(german.texts) + "\n", "utf-8")
    result = runner.invoke(app, ["transfer", "predict", "--model", str(out), "--input", str(tmp_path / "in.txt"),
                                 "--output", str(tmp_path / "out.jsonl"), "--language", "de"])  # fmt: skip
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [r["label"] for r in records] == german.labels and [r["text"] for r in records] == german.texts
    assert abs(sum(records[0]["probabilities"].values()) - 1) < 1e-4
    result = runner.invoke(
        app,
        ["transfer", "predict", "--model", str(out), "--input", str(tmp_path / "in.txt"), "--language", "de"],
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "label\tnegative\tneutral\tpositive\ttext" and len(lines) == len(german) + 1
    assert [line.split("\t")[0] for line in lines[1:]] == german.labels
    result = runner.invoke(app, ["classify", "--model", str(out), "der film war toll", "ein schrecklich tag",
                                 "--json", str(tmp_path / "c.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "positive" in result.stdout and "p(neutral)" in result.stdout
    report = json.loads((tmp_path / "c.json").read_text("utf-8"))
    assert [p["label"] for p in report["predictions"]] == ["positive", "negative"]


def test_adapt_saves_a_language_that_classify_then_uses(trained):
    out, tmp_path = trained
    german = toy.texts("deu")
    few = tmp_path / "few.txt"
    few.write_text("\n".join(german.texts[:3]) + "\n", "utf-8")
    result = runner.invoke(
        app, ["transfer", "adapt", "--model", str(out), "--language", "de", "--input", str(few)]
    )
    assert result.exit_code != 0 and f"{few}: 3 texts to adapt de from" in str(result.exception)  # which file
    test_split = tmp_path / "test_text.txt"
    test_split.write_text("\n".join(german.texts) + "\n", "utf-8")
    result = runner.invoke(
        app, ["transfer", "adapt", "--model", str(out), "--language", "de", "--input", str(test_split)]
    )
    assert (
        result.exit_code != 0
        and "--input: " in str(result.exception)
        and "is a test set" in str(result.exception)
    )
    (tmp_path / "de.txt").write_text("\n".join(german.texts) + "\n", "utf-8")
    result = runner.invoke(app, ["transfer", "adapt", "--model", str(out), "--language", "de", "--input",
                                 str(tmp_path / "de.txt")])  # fmt: skip
    assert result.exit_code == 0, result.output
    meta = json.loads((out / "xling.json").read_text("utf-8"))
    assert meta["standardized_languages"] == ["deu", "eng"]
    result = runner.invoke(app, ["classify", "--model", str(out), "--language", "de", *german.texts,
                                 "--json", str(tmp_path / "c.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "c.json").read_text("utf-8"))
    assert [p["label"] for p in report["predictions"]] == german.labels


def test_classify_with_a_new_language_encodes_its_texts_once(trained, monkeypatch):
    """Adapting on the input encoded every text, then labelling it encoded them all again."""
    from xling.embeddings.encoder import Encoder

    out, tmp_path = trained
    french = toy.texts("deu")  # read as Dutch, a language the classifier has not adapted to
    encoded: list[str] = []
    real = Encoder.encode
    monkeypatch.setattr(
        Encoder, "encode", lambda self, texts, **kw: encoded.extend(texts) or real(self, texts, **kw)
    )
    result = runner.invoke(app, ["classify", "--model", str(out), "--language", "nl", *french.texts,
                                 "--json", str(tmp_path / "n.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    # adapted on, then labelled: each input text encoded once (besides the classifier's own probe texts)
    assert [encoded.count(text) for text in set(french.texts)] == [1] * len(set(french.texts))


def test_eval_scores_the_target_language(trained):
    out, tmp_path = trained
    test = write_tsv(tmp_path / "de.tsv", toy.texts("deu"))
    # a test file has no train split to adapt from: adapting on its texts is asked for (and said)
    result = runner.invoke(app, ["transfer", "eval", "--model", str(out), "--test", f"de={test}",
                                 "--adapt-on-test", "--json", str(tmp_path / "eval.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "adapted to deu from its test texts" in " ".join(result.output.split())
    report = json.loads((tmp_path / "eval.json").read_text("utf-8"))
    assert report["task"] == "transfer" and report["scores"]["de"]["macro_f1"] == 100.0
    assert "zero-shot avg" in result.stdout


def write_umsab(root: Path, folder: str, split: str, data) -> None:
    codes = {"negative": "0", "neutral": "1", "positive": "2"}
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{split}_text.txt").write_text("\n".join(data.texts), "utf-8")
    (root / folder / f"{split}_labels.txt").write_text("\n".join(codes[x] for x in data.labels), "utf-8")


def test_umsab_train_and_eval(tmp_path):
    encoder = toy.build_encoder(tmp_path / "enc")
    root = tmp_path / "umsab"
    for split in ("train", "val", "test"):
        write_umsab(root, "english", split, toy.texts("eng"))
    write_umsab(root, "german", "train", toy.texts("deu"))  # adapted to from its texts, labels unused
    write_umsab(root, "german", "test", toy.texts("deu"))
    out = tmp_path / "clf"
    result = runner.invoke(app, ["transfer", "train", "--umsab", str(root), "--language", "english",
                                 "--encoder", str(encoder), "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["transfer", "eval", "--model", str(out), "--umsab", str(root),
                                 "--json", str(tmp_path / "eval.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "eval.json").read_text("utf-8"))
    assert set(report["scores"]) == {"german"} and report["scores"]["german"]["macro_f1"] == 100.0
    assert report["settings"]["source"]["language"] == "eng"  # the source language: scored, not averaged


def _run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.strip()


def test_bad_training_line_is_one_line_naming_file_and_line(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "train.tsv"
    bad.write_text("good day\tpositive\nno tab\n", "utf-8")
    code, err = _run_main(
        monkeypatch, capsys, "transfer", "train", "--train", bad, "--output", tmp_path / "o"
    )
    assert code == 2 and "train.tsv:2: expected text<TAB>label" in err and "\n" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--output", "o"], "--train FILE or --umsab DIR"),
        (["--train", "t.tsv", "--umsab", "u", "--output", "o"], "--train FILE or --umsab DIR"),
        (["--umsab", "u", "--output", "o"], "--umsab needs --language"),
        (["--train", "t.tsv", "--output", "o", "--method", "magic"], "method: 'magic' must be one of"),
        (["--train", "t.tsv", "--output", "o", "--set", "nope=1"], "unknown field 'nope'"),
        (["--train", "missing.tsv", "--output", "o"], "missing.tsv: file not found"),
        (
            ["--train", "t.tsv", "--language", "xx1", "--output", "o"],
            "the language of t.tsv: unknown language code",
        ),
        (
            ["--train", "t.tsv", "--language", "en", "--target-train", "xx1=t.tsv", "--output", "o"],
            "the language of t.tsv: unknown language code 'xx1'",
        ),
        # UMSAB's test tweets as text to adapt on, or any test split as training data, are refused
        (
            ["--train", "t.tsv", "--language", "en", "--unlabelled", "de=test_text.txt", "--output", "o"],
            "--unlabelled: test_text.txt is a test set",
        ),  # fmt: skip
        (
            ["--train", "t.tsv", "--dev", "de_gsd-ud-test.conllu", "--output", "o"],
            "--dev: de_gsd-ud-test.conllu is a test set",
        ),
    ],
)
def test_bad_train_options_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.tsv").write_text("good\tpositive\nbad\tnegative\n", "utf-8")
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", *args)
    assert code == 2 and message in err and "\n" not in err


def test_one_label_and_existing_output_are_errors(tmp_path, monkeypatch, capsys):
    one = tmp_path / "one.tsv"
    one.write_text("good\tpositive\ngreat\tpositive\n", "utf-8")
    code, err = _run_main(
        monkeypatch, capsys, "transfer", "train", "--train", one, "--output", tmp_path / "o"
    )
    assert code == 2 and "at least 2 labels" in err
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("x")
    code, err = _run_main(
        monkeypatch, capsys, "transfer", "train", "--train", one, "--output", tmp_path / "o"
    )
    assert code == 2 and "holds files that are not a classifier; choose another output folder" in err
    # a data file inside the output: --overwrite would delete it with the folder
    inside = tmp_path / "o" / "train.tsv"
    inside.write_text("good\tpositive\nbad\tnegative\n", "utf-8")
    code, err = _run_main(
        monkeypatch, capsys, "transfer", "train", "--train", inside, "--output", tmp_path / "o", "--overwrite"
    )
    assert code == 2 and "contains the --train file" in err and inside.is_file()


def test_bad_predict_eval_and_classify_inputs_exit_2(trained, monkeypatch, capsys):
    out, tmp_path = trained
    (tmp_path / "blank.txt").write_text("der film war gut\n\nein tag\n", "utf-8")
    code, err = _run_main(
        monkeypatch, capsys, "transfer", "predict", "--model", out, "--input", tmp_path / "blank.txt"
    )
    assert code == 2 and "blank.txt:2: blank line" in err
    code, err = _run_main(monkeypatch, capsys, "classify", "--model", tmp_path / "nothing", "hallo")
    assert code == 2 and "no such classifier folder" in err
    code, err = _run_main(monkeypatch, capsys, "classify", "--model", out, "ok", " ")
    assert code == 2 and "text 1 is empty" in err
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("der film war gut\tpositive\nein tag\tangry\n", "utf-8")
    code, err = _run_main(monkeypatch, capsys, "transfer", "eval", "--model", out, "--test", f"de={unknown}")
    # a two-line test set is too small to adapt to (one warning line says so), then the one-line error
    assert code == 2 and "unknown.tsv:2: gold label 'angry'" in err.strip().splitlines()[-1]
    code, err = _run_main(monkeypatch, capsys, "transfer", "eval", "--model", out, "--test", "de")
    assert code == 2 and "expected LANG=FILE" in err
    texts = tmp_path / "texts.txt"
    texts.write_text("der film war gut\n", "utf-8")
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", out, "--input", texts,
                          "--output", texts)  # fmt: skip
    assert code == 2 and "is also an input file" in err
    assert texts.read_text("utf-8") == "der film war gut\n"  # the texts are still there
    texts.write_text("der film\twar gut\n", "utf-8")
    for output in ([], ["--output", tmp_path / "p.tsv"]):  # a TSV row would get one cell too many
        code, err = _run_main(
            monkeypatch, capsys, "transfer", "predict", "--model", out, "--input", texts, *output
        )
        assert code == 2 and "texts.txt:1: the text holds a tab" in err and ".jsonl" in err
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", out, "--input", texts,
                          "--output", tmp_path / "p.jsonl")  # fmt: skip
    assert code == 0, err
    assert json.loads((tmp_path / "p.jsonl").read_text("utf-8"))["text"] == "der film\twar gut"
    texts.write_text("der film\rwar gut\u2028wirklich\n", "utf-8")  # one line to the reader
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", out, "--input", texts,
                          "--output", tmp_path / "p.tsv")  # fmt: skip
    assert code == 0, err
    rows = (tmp_path / "p.tsv").read_text("utf-8").splitlines()
    assert len(rows) == 2 and rows[1].endswith("\tder film war gut wirklich")


@pytest.mark.parametrize("verb", [["transfer"], ["transfer", "train"], ["transfer", "predict"], ["transfer", "eval"],
                                  ["classify"]])  # fmt: skip
def test_transfer_verbs_have_help(verb):
    result = runner.invoke(app, [*verb, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_target_train_adds_labelled_examples_of_another_language(tmp_path):
    """Few-shot from the CLI: with German vectors unrelated to the English ones (no shared space), English
    alone labels held-out German sentences poorly; two German frames given with --target-train (weighing
    --set target_weight) and German unlabelled text for its statistics label the other three frames much
    better."""
    encoder = toy.build_encoder(tmp_path / "enc", shared=False)
    english, german = toy.texts("eng"), toy.texts("deu")
    shots = [i for i, text in enumerate(german.texts) if text.startswith(("der film", "ein "))]
    held_out = [i for i in range(len(german)) if i not in shots]
    train = write_tsv(tmp_path / "train.tsv", english)
    few = tmp_path / "few.de.tsv"
    few.write_text("".join(f"{german.texts[i]}\t{german.labels[i]}\n" for i in shots), "utf-8")
    test = tmp_path / "test.de.tsv"
    test.write_text("".join(f"{german.texts[i]}\t{german.labels[i]}\n" for i in held_out), "utf-8")
    (tmp_path / "de.txt").write_text("\n".join(german.texts) + "\n", "utf-8")
    scores = {}
    for name, extra in (("zero", []), ("few", ["--target-train", f"de={few}"])):
        out = tmp_path / name
        result = runner.invoke(app, ["transfer", "train", "--train", str(train), "--language", "en", *extra,
                                     "--unlabelled", f"de={tmp_path / 'de.txt'}", "--encoder", str(encoder),
                                     "--output", str(out), "--set", "C=1.0", "--set", "target_weight=3",
                                     "--set", "self_train_rounds=0", "--json", str(tmp_path / f"{name}.json")])  # fmt: skip
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["transfer", "eval", "--model", str(out), "--test", f"de={test}",
                                     "--json", str(tmp_path / f"{name}-eval.json")])  # fmt: skip
        assert result.exit_code == 0, result.output
        scores[name] = json.loads((tmp_path / f"{name}-eval.json").read_text("utf-8"))["scores"]["de"][
            "macro_f1"
        ]
    report = json.loads((tmp_path / "few.json").read_text("utf-8"))
    assert [p["language"] for p in report["train"]["parts"]] == ["eng", "deu"]
    assert report["train"]["target_weight"] == 3.0 and report["train"]["examples"] == len(english) + len(
        shots
    )
    assert scores["few"] >= scores["zero"] + 25, scores  # measured 66.1 against 34.1


def test_target_train_and_unlabelled_options_are_checked(tmp_path, monkeypatch, capsys):
    (tmp_path / "t.tsv").write_text("good\tpositive\nbad\tnegative\n", "utf-8")
    for args, message in (
        (["--target-train", "de"], "--target-train 'de': expected LANG=FILE"),
        (["--unlabelled", "=x.txt"], "--unlabelled '=x.txt': expected LANG=FILE"),
        (["--target-train", f"de={tmp_path / 't.tsv'}"], "--target-train needs --language"),
        (["--language", "en", "--method", "finetune", "--unlabelled", f"de={tmp_path / 't.tsv'}"],
         "--unlabelled: method finetune does not adapt"),
    ):  # fmt: skip
        code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", tmp_path / "t.tsv",
                              "--output", tmp_path / "o", *args)  # fmt: skip
        assert code == 2 and message in err, err


def test_static_finetune_resumes_from_the_command_line(tmp_path):
    encoder = toy.build_encoder(tmp_path / "enc")
    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    out = tmp_path / "clf"
    common = ["transfer", "train", "--method", "static-finetune", "--train", str(train), "--language", "en",
              "--encoder", str(encoder), "--output", str(out)]  # fmt: skip
    first = runner.invoke(app, [*common, "--set", "training.max_steps=20"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, [*common, "--resume", "--set", "training.max_steps=30"])
    assert again.exit_code == 0, again.output
    training = json.loads((out / "xling.json").read_text("utf-8"))["training"]
    assert (training["steps"], training["resumed_from"]) == (30, 20)
    # the finished run left its checkpoints: --overwrite trains a new one (the loop refused it)
    anew = runner.invoke(app, [*common, "--overwrite", "--set", "training.max_steps=10"])
    assert anew.exit_code == 0, anew.output
    training = json.loads((out / "xling.json").read_text("utf-8"))["training"]
    assert (training["steps"], training["resumed_from"]) == (10, 0)
    # a run killed before it saved a classifier (checkpoints and a log only) is started again too
    import shutil

    for entry in out.iterdir():
        if entry.name not in ("checkpoints", "train_log.jsonl"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    killed = runner.invoke(app, [*common, "--overwrite", "--set", "training.max_steps=10"])
    assert killed.exit_code == 0, killed.output
    assert (out / "xling.json").is_file()
    # a recipe's [transfer.finetune] resume counts as --resume does (the check read only the command line)
    recipe = tmp_path / "r.toml"
    recipe.write_text("[transfer.finetune]\nresume = true\n[transfer.training]\nmax_steps = 15\n", "utf-8")
    again = runner.invoke(app, [*common, "--recipe", str(recipe)])
    assert again.exit_code == 0, again.output
    training = json.loads((out / "xling.json").read_text("utf-8"))["training"]
    assert (training["steps"], training["resumed_from"]) == (15, 10)


def test_a_fine_tuned_classifier_records_its_language_and_majority_for_eval(tmp_path, monkeypatch, capsys):
    encoder = toy.build_encoder(tmp_path / "enc")
    english = toy.texts("eng")
    skewed = [(text, label) for text, label in zip(english.texts, english.labels, strict=True)
              if label == "positive" or text.startswith("a ")]  # fmt: skip
    train = tmp_path / "train.tsv"
    train.write_text("".join(f"{text}\t{label}\n" for text, label in skewed), "utf-8")
    out = tmp_path / "clf"
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--method", "static-finetune", "--train",
                          train, "--language", "en", "--encoder", encoder, "--output", out,
                          "--set", "training.max_steps=10")  # fmt: skip
    assert code == 0, err
    test = write_tsv(tmp_path / "de.tsv", toy.texts("deu"))
    # no --source: the classifier says it learnt English; the baseline is its most frequent label
    code, err = _run_main(monkeypatch, capsys, "transfer", "eval", "--model", out, "--test", f"de={test}",
                          "--json", tmp_path / "eval.json")  # fmt: skip
    assert code == 0, err
    settings = json.loads((tmp_path / "eval.json").read_text("utf-8"))["settings"]
    assert settings["majority_label"] == "positive"


def test_overwrite_replaces_a_classifier_not_a_folder_of_other_files(trained, monkeypatch, capsys):
    classifier, root = trained
    train = root / "train.tsv"
    encoder = root / "enc"
    others = root / "others"
    others.mkdir()
    (others / "notes.txt").write_text("important", "utf-8")
    for method in ("frozen", "finetune"):
        code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", train, "--encoder", encoder,
                              "--method", method, "--output", others, "--overwrite")  # fmt: skip
        assert code == 2 and "nothing was deleted" in err, err
    assert (others / "notes.txt").read_text("utf-8") == "important"
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", train, "--encoder", encoder,
                          "--output", classifier, "--overwrite", "--set", "C_grid=[1.0]")  # fmt: skip
    assert code == 0, err  # a classifier is replaced
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", classifier, "--input", train,
                          "--output", others)  # fmt: skip
    assert code == 2 and "is a folder" in err, err


def test_overwrite_with_another_method_starts_from_an_empty_folder(trained, monkeypatch, capsys):
    from xling.transfer.classifier import clear_other_method

    classifier, root = trained  # a frozen classifier: encoder/, head.safetensors, xling.json
    (classifier / "head.safetensors").rename(classifier / "old-head.safetensors")  # stands for the old files
    clear_other_method(classifier, "frozen")  # its own method: left for the atomic save to replace
    assert (classifier / "old-head.safetensors").exists()
    # the fine-tuning methods write into the folder in place: another method's files would stay beside theirs
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", root / "train.tsv", "--language",
                          "en", "--encoder", root / "enc", "--method", "static-finetune", "--output", classifier,
                          "--overwrite", "--set", "training.max_steps=5")  # fmt: skip
    assert code == 0, err
    assert not (classifier / "old-head.safetensors").exists()
    assert json.loads((classifier / "xling.json").read_text("utf-8"))["kind"] == "classifier/static-finetune"
    # frozen replaces the folder whole when it is done: a run that fails first leaves the classifier there
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", root / "train.tsv", "--language",
                          "en", "--encoder", root / "no-such-encoder", "--output", classifier, "--overwrite")  # fmt: skip
    assert code == 2 and (classifier / "xling.json").is_file(), err


def test_fine_tuning_over_another_method_into_a_mount_point_saves_into_it(trained, monkeypatch, capsys):
    """`--method finetune --overwrite --output /vol` over a frozen classifier: clearing it ran shutil.rmtree on
    the mount point, which deleted the old classifier and then failed (EBUSY), with nothing trained."""
    from safetensors import safe_open

    from xling.transfer.classifier import load_classifier

    classifier, root = trained  # a frozen classifier: encoder/, head.safetensors, xling.json
    (classifier / "old-notes.txt").write_text("the frozen one's", "utf-8")  # stands for its other files
    mounts.pretend_mount_point(monkeypatch, classifier)
    common = ["transfer", "train", "--train", root / "train.tsv", "--language", "en", "--encoder", root / "enc",
              "--output", classifier]  # fmt: skip
    # a model of another method is replaced only with --overwrite: refused, nothing is deleted
    code, err = _run_main(monkeypatch, capsys, *common, "--method", "static-finetune", "--set",
                          "training.max_steps=5")  # fmt: skip
    assert code == 2 and "--overwrite" in err, err
    assert json.loads((classifier / "xling.json").read_text("utf-8"))["kind"] == "classifier/frozen"
    # a failure before the old model is cleared (the data) leaves it whole
    code, err = _run_main(monkeypatch, capsys, *[root / "nothing.tsv" if a == root / "train.tsv" else a
                                                 for a in common],
                          "--method", "static-finetune", "--overwrite")  # fmt: skip
    assert code == 2 and (classifier / "old-notes.txt").is_file(), err
    assert json.loads((classifier / "xling.json").read_text("utf-8"))["kind"] == "classifier/frozen"
    # with --overwrite the fine-tuned model is saved into the mount point, in place of the frozen one
    code, err = _run_main(monkeypatch, capsys, *common, "--method", "static-finetune", "--overwrite", "--set",
                          "training.max_steps=5")  # fmt: skip
    assert code == 0, err
    assert classifier.is_dir() and not (classifier / "old-notes.txt").exists()
    assert json.loads((classifier / "xling.json").read_text("utf-8"))["kind"] == "classifier/static-finetune"
    with safe_open(str(classifier / "head.safetensors"), "pt") as head:
        assert sorted(head.keys()) == ["bias", "weight"]  # the frozen head's coef/intercept are gone
    assert load_classifier(classifier).predict(["good day"])  # it loads and labels


def test_a_fine_tuned_classifier_with_target_examples_records_the_source_language(
    tmp_path, monkeypatch, capsys
):
    encoder = toy.build_encoder(tmp_path / "enc")
    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    few = write_tsv(tmp_path / "few.de.tsv", toy.texts("deu"))
    out = tmp_path / "clf"
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--method", "static-finetune", "--train", train,
                          "--language", "en", "--target-train", f"de={few}", "--encoder", encoder, "--output", out,
                          "--set", "training.max_steps=5")  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "xling.json").read_text("utf-8"))["language"] == "eng"
    code, err = _run_main(monkeypatch, capsys, "transfer", "eval", "--model", out, "--test", f"de={few}")
    assert code == 0, err  # needed --source before


def test_swapped_columns_and_a_compressed_prediction_file_are_refused(trained, monkeypatch, capsys):
    classifier, root = trained
    data = toy.texts("eng")
    swapped = root / "swapped.tsv"
    swapped.write_text("".join(f"{label}\t{text}\n" for text, label in zip(data.texts, data.labels, strict=True)),
                       "utf-8")  # fmt: skip
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--train", swapped, "--language", "en",
                          "--encoder", root / "enc", "--output", root / "clf-swapped")  # fmt: skip
    assert code == 2 and "are the columns swapped?" in err and "swapped.tsv" in err, err
    from xling.data.labelled import read_labelled

    intents = root / "intents.tsv"  # one example per intent: distinct labels, and distinct texts too
    intents.write_text("".join(f"sentence number {i}\tintent{i}\n" for i in range(12)), "utf-8")
    assert len(read_labelled(intents, "en").label_set) == 12
    lines = root / "lines.txt"
    lines.write_text("the film was good\n", "utf-8")
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", classifier, "--input", lines,
                          "--output", root / "p.jsonl.gz")  # fmt: skip
    assert code == 2 and "compressed" in err and not (root / "p.jsonl.gz").exists(), err
    code, err = _run_main(monkeypatch, capsys, "transfer", "predict", "--model", classifier, "--input", lines,
                          "--output", root / "p.JSONL")  # fmt: skip
    assert code == 0 and json.loads((root / "p.JSONL").read_text("utf-8").splitlines()[0])["label"], err


def _spy_adapt(monkeypatch) -> list[dict[str, list[str]]]:
    """Record the unlabelled texts each call of adapt_languages gets ({language: texts})."""
    import xling.transfer.classifier as classifier_module

    calls: list[dict[str, list[str]]] = []
    original = classifier_module.adapt_languages

    def spy(classifier, unlabelled, **kwargs):
        calls.append({language: list(texts) for language, texts in unlabelled.items()})
        return original(classifier, unlabelled, **kwargs)

    monkeypatch.setattr(classifier_module, "adapt_languages", spy)
    return calls


def test_eval_adapts_from_the_train_split_whether_the_language_is_a_folder_or_a_code(tmp_path, monkeypatch):
    from types import SimpleNamespace

    encoder = toy.build_encoder(tmp_path / "enc")
    root = tmp_path / "umsab"
    for split in ("train", "val", "test"):
        write_umsab(root, "english", split, toy.texts("eng"))
    german = toy.texts("deu")
    write_umsab(root, "german", "train", german)
    # the test split: other texts in another order, so that adapting on them shows
    test = SimpleNamespace(texts=[t.upper() for t in german.texts[::-1]], labels=german.labels[::-1])
    write_umsab(root, "german", "test", test)
    out = tmp_path / "clf"
    result = runner.invoke(app, ["transfer", "train", "--umsab", str(root), "--language", "english",
                                 "--encoder", str(encoder), "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    calls = _spy_adapt(monkeypatch)
    for language in ("german", "de", "deu"):
        result = runner.invoke(app, ["transfer", "eval", "--model", str(out), "--umsab", str(root),
                                     "--languages", language])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert calls[-1] == {"deu": german.texts}, language  # the train split, never the test texts
        assert "adapted to deu" in result.output


def test_eval_never_adapts_on_test_texts_unless_asked(trained, monkeypatch):
    out, tmp_path = trained
    german = toy.texts("deu")
    test = write_tsv(tmp_path / "de.tsv", german)
    root = tmp_path / "umsab"
    write_umsab(root, "german", "test", german)  # a UMSAB language without a train split
    calls = _spy_adapt(monkeypatch)
    for data in (["--test", f"de={test}"], ["--umsab", str(root), "--languages", "de"]):
        result = runner.invoke(app, ["transfer", "eval", "--model", str(out), *data])
        assert result.exit_code == 0, result.output
        assert calls[-1] == {} and "adapted to deu from" not in result.output
        assert "not adapted" in result.output and "--adapt-on-test" in result.output
        # transductive adaptation on the test texts (their labels unused) is the user's choice, and said
        result = runner.invoke(app, ["transfer", "eval", "--model", str(out), *data, "--adapt-on-test"])
        assert result.exit_code == 0, result.output
        assert calls[-1] == {"deu": german.texts}
        assert "adapted to deu from its test texts" in " ".join(result.output.split())


def test_classify_adapts_to_the_language_as_predict_does(trained, monkeypatch):
    out, tmp_path = trained
    german = toy.texts("deu")
    (tmp_path / "de.txt").write_text("\n".join(german.texts) + "\n", "utf-8")
    calls = _spy_adapt(monkeypatch)
    result = runner.invoke(app, ["transfer", "predict", "--model", str(out), "--input", str(tmp_path / "de.txt"),
                                 "--language", "de", "--output", str(tmp_path / "p.jsonl")])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["classify", "--model", str(out), "--language", "de", *german.texts,
                                 "--json", str(tmp_path / "c.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert calls == [{"de": german.texts}, {"de": german.texts}]
    predicted = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text("utf-8").splitlines()]
    classified = json.loads((tmp_path / "c.json").read_text("utf-8"))["predictions"]
    assert [r["label"] for r in classified] == [r["label"] for r in predicted]
    for a, b in zip(classified, predicted, strict=True):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)
    # too few texts to adapt: both read them with the source statistics, as before
    result = runner.invoke(app, ["classify", "--model", str(out), "--language", "de", "der film war gut"])
    assert result.exit_code == 0, result.output
    assert calls[-1] == {"de": ["der film war gut"]}


def test_a_bad_test_label_names_its_file_line_past_a_header_and_blank_lines(trained, monkeypatch, capsys):
    out, tmp_path = trained
    test = tmp_path / "de.tsv"
    test.write_text("text\tlabel\nder film war gut\tpositive\n\nein tag\tneutral\n\n\nein schlecht tag\tangry\n",
                    "utf-8")  # fmt: skip
    code, err = _run_main(monkeypatch, capsys, "transfer", "eval", "--model", out, "--test", f"de={test}")
    assert code == 2 and "de.tsv:7: gold label 'angry' of example 3" in err.strip().splitlines()[-1]


def test_a_frozen_classifier_over_a_fine_tuned_one_leaves_none_of_its_files(tmp_path):
    """--overwrite with method frozen over a static-finetune classifier kept its weights and checkpoints."""
    encoder = toy.build_encoder(tmp_path / "enc")
    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    out = tmp_path / "clf"
    common = ["transfer", "train", "--train", str(train), "--language", "en", "--encoder", str(encoder),
              "--output", str(out)]  # fmt: skip
    tuned = runner.invoke(app, [*common, "--method", "static-finetune", "--set", "training.max_steps=10"])
    assert tuned.exit_code == 0, tuned.output
    before = {entry.name for entry in out.iterdir()}
    frozen = runner.invoke(app, [*common, "--method", "frozen", "--overwrite"])
    assert frozen.exit_code == 0, frozen.output
    after = {entry.name for entry in out.iterdir()}
    assert "checkpoints" in before and not {"checkpoints", "train_log.jsonl"} & after
    assert json.loads((out / "xling.json").read_text("utf-8"))["kind"] == "classifier/frozen"


def test_under_torchrun_only_the_main_process_clears_another_methods_classifier(trained, monkeypatch, capsys):
    """Every torchrun process runs the command: each deleted the folder (one failing on files another had
    already deleted, or deleting what the main one had started writing); only rank 0 may touch files."""
    import shutil

    import xling.training
    from xling.errors import XlingError

    classifier, root = trained  # a frozen classifier: encoder/, head.safetensors, xling.json
    frozen = sorted(entry.name for entry in classifier.iterdir())
    shutil.copytree(classifier, root / "copy")
    seen = []

    def train(*args, **kwargs):  # the training loop: records what the folder holds when training starts
        seen.append(sorted(entry.name for entry in classifier.iterdir()) if classifier.exists() else [])
        raise XlingError("stopped before training")

    monkeypatch.setattr(xling.training, "train", train)
    args = ["transfer", "train", "--train", root / "train.tsv", "--language", "en", "--encoder", root / "enc",
            "--method", "static-finetune", "--output", classifier, "--overwrite"]  # fmt: skip
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    code, err = _run_main(monkeypatch, capsys, *args)
    assert code == 2 and "stopped before training" in err, err
    assert seen[-1] == frozen  # another rank: nothing deleted
    monkeypatch.setenv("RANK", "0")  # the main process clears it (its contents: it may be a mount point)
    code, err = _run_main(monkeypatch, capsys, *args)
    assert code == 2 and seen[-1] == [] and not any(classifier.iterdir()), err
    # plain python (no torchrun): as before, the one process clears it
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    shutil.copytree(root / "copy", classifier, dirs_exist_ok=True)
    code, err = _run_main(monkeypatch, capsys, *args)
    assert code == 2 and seen[-1] == [] and not any(classifier.iterdir()), err


@pytest.mark.parametrize("option", ["--overwrite", "--resume", None])
def test_a_fine_tuning_run_killed_before_its_first_checkpoint_is_started_again(
    tmp_path, monkeypatch, capsys, option
):
    """A run killed before its first checkpoint (a log line every 20 steps, a checkpoint every 100) left only
    the loop's files: --overwrite was refused as "files that are not a classifier", and --resume pointed to
    checkpoints that were not there. The loop starts such a run anew (with --resume too: nothing to resume);
    without either it is refused, as the files may be another command's run."""
    import shutil

    encoder = toy.build_encoder(tmp_path / "enc")
    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    out = tmp_path / "clf"
    out.mkdir()
    (out / "train_log.jsonl").write_text('{"step": 20, "loss": 1.5, "lr": 0.001}\n', "utf-8")
    (out / "best").mkdir()  # an evaluation's best weights, written before any checkpoint
    (out / ".xling.json.4242.tmp").mkdir()  # a save killed part way
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--method", "static-finetune", "--train", train,
                          "--language", "en", "--encoder", encoder, "--output", out,
                          *([option] if option else []), "--set", "training.max_steps=5")  # fmt: skip
    if option is None:
        assert code == 2 and "not a classifier" in err, err
        assert (out / "train_log.jsonl").read_text("utf-8").startswith('{"step": 20')
        return
    assert code == 0, err
    saved = json.loads((out / "xling.json").read_text("utf-8"))
    assert saved["kind"] == "classifier/static-finetune" and saved["training"]["resumed_from"] == 0
    log = (out / "train_log.jsonl").read_text("utf-8").splitlines()
    assert [json.loads(line)["step"] for line in log] == [5]  # the killed run's line is gone
    # checkpoints of a killed run are still only taken up with --resume or replaced with --overwrite
    for entry in out.iterdir():
        if entry.name not in ("checkpoints", "train_log.jsonl"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--method", "static-finetune", "--train", train,
                          "--language", "en", "--encoder", encoder, "--output", out, "--set",
                          "training.max_steps=5")  # fmt: skip
    assert code == 2 and "resume the run whose checkpoints are there" in err, err


def test_a_failure_before_training_leaves_another_methods_classifier_whole(trained, monkeypatch, capsys):
    """`--method finetune --overwrite --encoder /nonexistent` over a frozen classifier deleted it, then
    failed on the encoder ("no such model folder"), leaving an empty folder."""
    classifier, root = trained  # a frozen classifier: encoder/, head.safetensors, xling.json
    frozen = sorted(entry.name for entry in classifier.iterdir())
    common = ["transfer", "train", "--train", root / "train.tsv", "--language", "en", "--output", classifier,
              "--overwrite"]  # fmt: skip
    code, err = _run_main(
        monkeypatch, capsys, *common, "--method", "finetune", "--encoder", root / "nonexistent"
    )
    assert code == 2 and "no such model folder" in err, err
    assert sorted(entry.name for entry in classifier.iterdir()) == frozen
    # a static encoder for a transformer's fine-tuning, and a dev label the training data lacks
    code, err = _run_main(monkeypatch, capsys, *common, "--method", "finetune", "--encoder", root / "enc")
    assert code == 2 and "fine-tuning needs one" in err, err
    dev = root / "dev-other.tsv"
    dev.write_text("good day\tpositive\nsome day\tmixed\n", "utf-8")
    code, err = _run_main(monkeypatch, capsys, *common, "--method", "static-finetune", "--encoder", root / "enc",
                          "--dev", dev)  # fmt: skip
    assert code == 2 and "dev label 'mixed' of example 2" in err, err
    assert sorted(entry.name for entry in classifier.iterdir()) == frozen
    assert json.loads((classifier / "xling.json").read_text("utf-8"))["kind"] == "classifier/frozen"
    # an encoder whose weights fail to load: the trainer's own load, after the command's checks had passed
    import shutil

    broken = root / "broken-enc"
    shutil.copytree(root / "enc", broken)
    for weights in broken.rglob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    code, err = _run_main(monkeypatch, capsys, *common, "--method", "static-finetune", "--encoder", broken)
    assert code != 0, err
    assert sorted(entry.name for entry in classifier.iterdir()) == frozen


def test_under_torchrun_only_the_main_process_reports_and_writes_the_figures(tmp_path, monkeypatch, capsys):
    """Every torchrun process printed "saved to ..." and wrote the --json file."""
    from types import SimpleNamespace

    import xling.transfer.classifier as classifier_module

    train = write_tsv(tmp_path / "train.tsv", toy.texts("eng"))
    trained = SimpleNamespace(labels=["negative", "neutral", "positive"], metadata={"method": "finetune"})
    monkeypatch.setattr(classifier_module, "train_classifier", lambda config, train, dev, **options: trained)
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in ("1", "0"):
        monkeypatch.setenv("RANK", rank)
        report = tmp_path / f"rank{rank}.json"
        code, err = _run_main(monkeypatch, capsys, "transfer", "train", "--method", "finetune", "--train", train,
                              "--output", tmp_path / f"clf{rank}", "--json", report)  # fmt: skip
        assert code == 0, err
        assert ("saved to" in err) == report.is_file() == (rank == "0"), err
