"""`xling tagger train/eval` and `xling tag` on toy languages that share word vectors."""

from __future__ import annotations

import json

import pytest

from xling.cli import main

from .test_tagging import build_static_encoder, toy_sentences


def write_conllu(path, sentences) -> None:
    """Write TaggedSentences as CoNLL-U (10 columns, UPOS in the 4th)."""
    blocks = []
    for words, tags in zip(sentences.words, sentences.tags, strict=True):
        rows = [
            f"{i}\t{w}\t_\t{t}\t_\t_\t_\t_\t_\t_" for i, (w, t) in enumerate(zip(words, tags, strict=True), 1)
        ]
        blocks.append("\n".join(rows))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


def test_train_eval_and_tag_across_languages(tmp_path, monkeypatch, capsys):
    encoder = build_static_encoder(tmp_path / "encoder")
    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 200, seed=1))
    write_conllu(tmp_path / "a-dev.conllu", toy_sentences(0, 40, seed=2))
    write_conllu(tmp_path / "b-test.conllu", toy_sentences(1, 60, seed=3))
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--dev", str(tmp_path / "a-dev.conllu"), "--encoder", str(encoder), "--output",
                       str(tmp_path / "tagger"), "--language", "en")  # fmt: skip
    assert code in (0, None), err
    code, out, err = run(monkeypatch, capsys, "tagger", "eval", "--model", str(tmp_path / "tagger"), "--test",
                         f"de={tmp_path / 'b-test.conllu'}", "--json", str(tmp_path / "eval.json"))  # fmt: skip
    assert code in (0, None), err
    result = json.loads((tmp_path / "eval.json").read_text())
    assert result["scores"]["de"]["accuracy"] >= 90  # language B tagged through the shared vectors
    code, out, err = run(monkeypatch, capsys, "tag", "--model", str(tmp_path / "tagger"), "der hund rennt .")
    assert code in (0, None), err
    assert "hund/NOUN" in out and "rennt/VERB" in out
    # a second train into the same folder is refused before training, naming --overwrite
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--encoder", str(encoder), "--output", str(tmp_path / "tagger"))  # fmt: skip
    assert code == 2 and "--overwrite" in err


def test_a_bad_conllu_line_is_one_line_naming_file_and_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.conllu").write_text("1\tdog\t_\tNOUN\n", encoding="utf-8")
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "bad.conllu"),
                       "--output", str(tmp_path / "t"))  # fmt: skip
    assert code == 2
    assert "bad.conllu:1" in err and len(err.strip().splitlines()) == 1


def test_a_test_split_is_refused_for_training_or_choosing(tmp_path, monkeypatch, capsys):
    """`tagger train` read a UD test split as --train or --dev without a word (the other commands refuse it)."""
    write_conllu(tmp_path / "en_toy-ud-train.conllu", toy_sentences(0, 4, seed=1))
    write_conllu(tmp_path / "en_toy-ud-test.conllu", toy_sentences(0, 4, seed=2))
    for option, name in (("--train", "en_toy-ud-test.conllu"), ("--dev", "en_toy-ud-test.conllu")):
        train = tmp_path / ("en_toy-ud-train.conllu" if option == "--dev" else name)
        code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(train), option, str(tmp_path / name),
                           "--output", str(tmp_path / "t"))  # fmt: skip
        assert code == 2 and f"{option}: " in err and "is a test set" in err, err
    assert not (tmp_path / "t").exists()


def test_eval_keeps_the_training_language_out_of_the_average_and_codes_are_checked(
    tmp_path, monkeypatch, capsys
):
    encoder = build_static_encoder(tmp_path / "encoder")
    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 200, seed=1))
    write_conllu(tmp_path / "a-test.conllu", toy_sentences(0, 40, seed=2))
    write_conllu(tmp_path / "b-test.conllu", toy_sentences(1, 60, seed=3))
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--encoder", str(encoder), "--output", str(tmp_path / "tagger"), "--language", "xx")  # fmt: skip
    assert code == 2 and "a-train.conllu" in err and "'xx'" in err
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--encoder", str(encoder), "--output", str(tmp_path / "tagger"), "--language", "en")  # fmt: skip
    assert code in (0, None), err
    # no --source: the tagger says it learnt English, so English is its source row, not a zero-shot one
    code, _, err = run(monkeypatch, capsys, "tagger", "eval", "--model", str(tmp_path / "tagger"), "--test",
                       f"de={tmp_path / 'b-test.conllu'}", "--test", f"en={tmp_path / 'a-test.conllu'}",
                       "--json", str(tmp_path / "eval.json"))  # fmt: skip
    assert code in (0, None), err
    result = json.loads((tmp_path / "eval.json").read_text())
    assert list(result["scores"]) == ["de"] and result["settings"]["source"]["language"] == "en"
    assert result["average"] == result["scores"]["de"]["accuracy"]
    # a language given twice: the second file would replace the first without a word
    code, _, err = run(monkeypatch, capsys, "tagger", "eval", "--model", str(tmp_path / "tagger"), "--test",
                       f"de={tmp_path / 'b-test.conllu'}", "--test", f"de={tmp_path / 'a-test.conllu'}")  # fmt: skip
    assert code == 2 and "de has a test set already" in err
    # a --source that names no language: English was counted in the zero-shot average (69.8 for 41.0)
    code, _, err = run(monkeypatch, capsys, "tagger", "eval", "--model", str(tmp_path / "tagger"), "--test",
                       f"de={tmp_path / 'b-test.conllu'}", "--test", f"en={tmp_path / 'a-test.conllu'}",
                       "--source", "englsh")  # fmt: skip
    assert code == 2 and "'englsh' is no language code or name" in err
    # a training file inside the output: --overwrite would delete it with the folder
    inside = tmp_path / "tagger" / "train.conllu"
    inside.write_bytes((tmp_path / "a-train.conllu").read_bytes())
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(inside), "--encoder", str(encoder),
                       "--output", str(tmp_path / "tagger"), "--overwrite")  # fmt: skip
    assert code == 2 and "contains the --train file" in err and inside.is_file()


def test_tagger_train_resume_continues_a_stopped_fine_tuning_run(tiny_xlmr, tmp_path, monkeypatch, capsys):
    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 40, seed=1))
    out = tmp_path / "tagger"
    common = ["tagger", "train", "--train", str(tmp_path / "a-train.conllu"), "--method", "finetune",
              "--encoder", str(tiny_xlmr), "--output", str(out), "--set", "training.batch_size=8",
              "--set", "training.device=cpu", "--set", "training.precision=fp32", "--set", "training.threads=1",
              "--set", "training.warmup_steps=0", "--set", "training.eval_every=0",
              "--set", "training.checkpoint_every=100", "--set", "training.max_steps=4"]  # fmt: skip
    # stopped by its time limit after the first step, with a checkpoint to take up
    code, _, err = run(monkeypatch, capsys, *common, "--set", "training.max_minutes=1e-9")
    assert code in (0, None), err
    assert "--resume" in err  # the loop says how to finish it: with an option the command has
    first = json.loads((out / "xling.json").read_text())["training"]
    assert first["steps"] < 4
    code, _, err = run(monkeypatch, capsys, *common, "--resume")
    assert code in (0, None), err
    training = json.loads((out / "xling.json").read_text())["training"]
    assert (training["steps"], training["resumed_from"]) == (4, first["steps"])
    # --no-resume leaves the run's checkpoints alone: the loop refuses them, naming the option it has now
    code, _, err = run(monkeypatch, capsys, *common, "--no-resume")
    assert code == 2 and "holds checkpoints of an earlier run" in err and "pass --resume" in err


def test_tagger_train_overwrite_with_another_method_replaces_the_tagger_whole(
    tiny_xlmr, tmp_path, monkeypatch, capsys
):
    """A fine-tuned tagger saved over a frozen one kept the frozen head.safetensors beside its model."""
    encoder = build_static_encoder(tmp_path / "encoder")
    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 40, seed=1))
    out = tmp_path / "tagger"
    common = ["tagger", "train", "--train", str(tmp_path / "a-train.conllu"), "--output", str(out)]
    code, _, err = run(monkeypatch, capsys, *common, "--encoder", str(encoder))
    assert code in (0, None), err
    frozen = sorted(p.name for p in out.iterdir())
    assert "head.safetensors" in frozen
    finetune = [*common, "--method", "finetune", "--encoder", str(tiny_xlmr), "--overwrite",
                "--set", "training.batch_size=8", "--set", "training.device=cpu",
                "--set", "training.precision=fp32", "--set", "training.threads=1",
                "--set", "training.warmup_steps=0", "--set", "training.eval_every=0",
                "--set", "training.max_steps=2"]  # fmt: skip
    # a run that fails before training (no transformer to fine-tune) leaves the frozen tagger whole
    code, _, err = run(monkeypatch, capsys, *[a if a != str(tiny_xlmr) else str(encoder) for a in finetune])
    assert code == 2 and "not a Hugging Face transformer folder" in err
    assert sorted(p.name for p in out.iterdir()) == frozen
    assert json.loads((out / "xling.json").read_text())["kind"] == "tagger/frozen"
    code, _, err = run(monkeypatch, capsys, *finetune)
    assert code in (0, None), err
    assert not (out / "head.safetensors").exists()
    assert json.loads((out / "xling.json").read_text())["kind"] == "tagger/finetune"
    code, out_text, err = run(monkeypatch, capsys, "tag", "--model", str(out), "der hund rennt .")
    assert code in (0, None), err
    # and back: the frozen save replaces the fine-tuned folder, its checkpoints and config.json included
    code, _, err = run(monkeypatch, capsys, *common, "--encoder", str(encoder), "--overwrite")
    assert code in (0, None), err
    assert sorted(p.name for p in out.iterdir()) == frozen


@pytest.mark.parametrize("option", ["--overwrite", "--resume", None])
def test_a_fine_tuning_run_killed_before_its_first_checkpoint_is_started_again(
    tiny_xlmr, tmp_path, monkeypatch, capsys, option
):
    """A run killed before its first checkpoint left only the loop's files (train_log.jsonl, a best/): the
    check for a tagger refused them with or without --overwrite or --resume, though the loop starts it anew;
    without either it is refused, as the files may be another command's run."""
    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 40, seed=1))
    out = tmp_path / "tagger"
    out.mkdir()
    (out / "train_log.jsonl").write_text('{"step": 20, "loss": 1.5, "lr": 0.001}\n', encoding="utf-8")
    (out / "best").mkdir()
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--method", "finetune", "--encoder", str(tiny_xlmr), "--output", str(out),
                       *([option] if option else []), "--set", "training.batch_size=8",
                       "--set", "training.device=cpu", "--set", "training.precision=fp32",
                       "--set", "training.threads=1", "--set", "training.eval_every=0",
                       "--set", "training.log_every=1", "--set", "training.max_steps=2")  # fmt: skip
    if option is None:
        assert code == 2 and "not a tagger" in err, err
        assert (out / "train_log.jsonl").read_text().startswith('{"step": 20')
        return
    assert code in (0, None), err
    training = json.loads((out / "xling.json").read_text())["training"]
    assert (training["steps"], training["resumed_from"]) == (2, 0)
    log = (out / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log] == [1, 2]  # the killed run's line is gone


def test_under_torchrun_only_the_main_process_checks_the_folder_reports_and_writes_the_figures(
    tmp_path, monkeypatch, capsys
):
    """Every torchrun process printed "saved to ..." and wrote the --json file, and checked the folder that
    the main one may be clearing (a frozen tagger replaced by a fine-tuned one)."""
    from types import SimpleNamespace

    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 4, seed=1))
    trained = SimpleNamespace(labels=["NOUN", "VERB"], meta={"method": "finetune"})
    monkeypatch.setattr("xling.transfer.tagging.train_tagger", lambda config, train, dev: trained)
    monkeypatch.setenv("WORLD_SIZE", "2")
    others = tmp_path / "others"
    others.mkdir()
    (others / "notes.txt").write_text("mine", encoding="utf-8")
    for rank, output in (("1", others), ("0", tmp_path / "tagger")):
        monkeypatch.setenv("RANK", rank)
        report = tmp_path / f"rank{rank}.json"
        code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                           "--method", "finetune", "--output", str(output), "--json", str(report))  # fmt: skip
        assert code in (0, None), err  # rank 1 leaves the folder to rank 0, whose refusal stops the job
        assert ("saved to" in err) == report.is_file() == (rank == "0"), err
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--method", "finetune", "--output", str(others))  # fmt: skip
    assert code == 2 and "holds files that are not a tagger" in err, err


@pytest.mark.parametrize("method", ["frozen", "finetune"])
def test_fine_tuning_draws_its_own_progress_without_a_spinner(tmp_path, monkeypatch, capsys, method):
    """A spinner around fine-tuning and the training loop's progress bar overwrote each other on a terminal."""
    from types import SimpleNamespace

    from xling.cli.common import console

    write_conllu(tmp_path / "a-train.conllu", toy_sentences(0, 4, seed=1))
    monkeypatch.setattr("xling.transfer.tagging.train_tagger",
                        lambda config, train, dev: SimpleNamespace(labels=["NOUN"], meta={}))  # fmt: skip
    spinners = []
    status = console.status
    monkeypatch.setattr(
        console, "status", lambda *args, **kwargs: spinners.append(args) or status(*args, **kwargs)
    )
    code, _, err = run(monkeypatch, capsys, "tagger", "train", "--train", str(tmp_path / "a-train.conllu"),
                       "--method", method, "--output", str(tmp_path / "tagger"))  # fmt: skip
    assert code in (0, None), err
    assert len(spinners) == (method == "frozen")
