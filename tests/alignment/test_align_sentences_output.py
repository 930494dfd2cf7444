"""`align sentences --output` is checked before any data is read: no file, no input folder (the tokenizer),
nothing replaced without overwrite, only a sentence encoder replaced with it; a run with checkpoints is
left to the training loop (resume)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from xling.alignment.sentences import align as align_module
from xling.alignment.sentences.align import AlignConfig, align_sentences
from xling.data.config import CorpusConfig
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError


def config(tmp_path: Path, output: Path, **fields) -> AlignConfig:
    """Return a static-student config whose corpus does not exist: reading any data would fail on it."""
    tokenizer = tmp_path / "tok"
    if not tokenizer.exists():
        tokenizer.mkdir()
        (tokenizer / "xling.json").write_text(json.dumps({"kind": "tokenizer"}), encoding="utf-8")
        (tokenizer / "tokenizer.json").write_text("{}", encoding="utf-8")
    return AlignConfig(output=str(output), data=CorpusConfig(str(tmp_path / "no-corpus")),
                       tokenizer=str(tokenizer), **fields)  # fmt: skip


def test_a_file_as_output_is_refused_before_the_corpus_is_read(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"output: .*out is a file"):
        align_sentences(config(tmp_path, tmp_path / "out", overwrite=True))


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_tokenizer_folder_is_never_the_output(tmp_path: Path, overwrite: bool) -> None:
    with pytest.raises(ConfigError, match="is the tokenizer folder"):
        align_sentences(config(tmp_path, tmp_path / "tok", overwrite=overwrite))
    assert json.loads((tmp_path / "tok" / "xling.json").read_text(encoding="utf-8")) == {"kind": "tokenizer"}


def test_a_folder_inside_or_holding_the_tokenizer_may_be_the_output(tmp_path: Path) -> None:
    align_module.check_output(config(tmp_path, tmp_path / "tok" / "encoder"))
    # recipes/xling-mini.toml trains the tokenizer into the run folder, then the encoder there
    run = tmp_path / "xling-mini"
    shutil.copytree(tmp_path / "tok", run / "tokenizer")
    recipe = replace(config(tmp_path, run), tokenizer=str(run / "tokenizer"))
    align_module.check_output(recipe)
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(XlingError, match="holds files that are not a sentence encoder"):
        align_module.check_output(recipe)


def test_a_folder_of_other_files_is_refused_even_with_overwrite(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(
        XlingError, match="holds files that are not a sentence encoder; choose another output folder"
    ):
        align_sentences(config(tmp_path, tmp_path / "out"))
    with pytest.raises(XlingError, match="files that are not a sentence encoder"):
        align_sentences(config(tmp_path, tmp_path / "out", overwrite=True))


def test_an_encoder_is_replaced_only_with_overwrite(tmp_path: Path) -> None:
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    (encoder / "xling.json").write_text(json.dumps({"kind": "sentence-encoder/static"}), encoding="utf-8")
    (encoder / "train_log.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(XlingError, match="a sentence encoder is already there; pass overwrite"):
        align_module.check_output(config(tmp_path, encoder))
    align_module.check_output(config(tmp_path, encoder, overwrite=True))


def test_an_unfinished_run_without_checkpoints_is_taken_up(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()  # stopped before its first checkpoint, or caches put there to be reused
    for name in ("train_log.jsonl", "teacher_vectors.npy", "hard_negatives.json"):
        (run / name).write_text("", encoding="utf-8")
    align_module.check_output(config(tmp_path, run))
    (run / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(XlingError, match="holds files that are not a sentence encoder"):
        align_module.check_output(config(tmp_path, run))


@pytest.mark.parametrize("left", ["best.old", "best.tmp"])
def test_a_run_killed_while_writing_its_best_weights_is_taken_up(tmp_path: Path, left: str) -> None:
    """A kill between the renames of a best write leaves best.old (the loop renames it back at its start), one
    before them best.tmp (replaced at its next write): the folder is still the run's own."""
    run = tmp_path / "run"
    (run / left).mkdir(parents=True)
    (run / "train_log.jsonl").write_text("", encoding="utf-8")
    align_module.check_output(config(tmp_path, run))
    align_module.check_output(config(tmp_path, run, resume=True))


def test_a_run_with_checkpoints_is_resumed_or_overwritten_and_otherwise_refused_before_any_data(
    tmp_path: Path,
) -> None:
    (tmp_path / "run" / "checkpoints" / "step-5").mkdir(parents=True)
    align_module.check_output(config(tmp_path, tmp_path / "run", resume=True))  # the loop takes it up
    align_module.check_output(config(tmp_path, tmp_path / "run", overwrite=True))  # the loop starts anew
    with pytest.raises(XlingError, match="holds checkpoints of an earlier run .*--resume .*--overwrite"):
        align_sentences(config(tmp_path, tmp_path / "run"))  # the corpus does not exist: not read
    # a killed run with best_metric leaves best/ before its first checkpoint: still a run of its own
    (tmp_path / "killed" / "best").mkdir(parents=True)
    (tmp_path / "killed" / "train_log.jsonl").write_text("", encoding="utf-8")
    align_module.check_output(config(tmp_path, tmp_path / "killed", resume=True))


@pytest.mark.parametrize("spec, error, message", [
    ("englsh-deu={dict}", LanguageCodeError, r"pairs 'englsh-deu=.*dict\.tsv': unknown language code 'englsh'"),
    ("eng-xx={dict}", LanguageCodeError, r"pairs 'eng-xx=.*': unknown language code 'xx'"),
    ("eng-deu{dict}", ConfigError, r"pairs: 'eng-deu.*' must be src-tgt=path\.tsv"),
    ("engdeu={dict}", ConfigError, r"pairs 'engdeu=.*': 'engdeu' must be exactly two language codes src-tgt"),
    ("eng-deu={missing}", DataError, r"pairs 'eng-deu=.*missing\.tsv': .*missing\.tsv: file not found"),
])  # fmt: skip
def test_a_bad_pairs_spec_is_refused_before_the_corpus_is_read(tmp_path: Path, spec, error, message) -> None:
    """Named with its spec, before the corpus (missing here) is read: not after tokenising all of it."""
    (tmp_path / "dict.tsv").write_text("house\tHaus\n", encoding="utf-8")
    spec = spec.format(dict=tmp_path / "dict.tsv", missing=tmp_path / "missing.tsv")
    with pytest.raises(error, match=message):
        align_sentences(config(tmp_path, tmp_path / "out", pairs=[spec]))


def test_a_teacher_without_distill_weight_is_refused_by_the_cli(tmp_path: Path) -> None:
    """`--teacher` alone (distill_weight 0, the default) would be ignored without a word: refused at once."""
    from typer.testing import CliRunner

    from xling.cli import app

    settings = config(tmp_path, tmp_path / "out")
    args = ["align", "sentences", "--corpus", settings.data.corpus, "--tokenizer", settings.tokenizer,
            "--output", settings.output, "--teacher", "xling-mini"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert isinstance(result.exception, ConfigError), result.output
    assert "set distill_weight" in str(result.exception) and not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, [*args, "--set", "distill_weight=1.0", "--max-steps", "1"])
    assert "distill_weight" not in str(result.exception)  # accepted: it fails later, on the missing corpus
    assert "no-corpus" in str(result.exception)
