import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

from xling.config import load_config
from xling.pretraining.pretrain import PretrainConfig, pretrain
from xling.training.checkpoint import list_checkpoints

RECIPE = """
[pretrain]
tokenizer = "{tokenizer}"
model = "tiny"
max_length = 48
tlm_ratio = 0.5
eval_max_sentences = 30

[pretrain.data]
corpus = "sample"
heldout_fraction = 0.1

[pretrain.training]
max_steps = {steps}
batch_size = 16
lr = 2e-3
warmup_steps = 10
checkpoint_every = {every}
log_every = 1
progress = false
seed = 3
threads = 1
"""


def _recipe(tmp_path: Path, tokenizer: Path, steps: int, every: int) -> Path:
    path = tmp_path / f"recipe-{steps}-{every}.toml"
    path.write_text(RECIPE.format(tokenizer=tokenizer, steps=steps, every=every))
    return path


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "xling", *args]


@pytest.fixture(scope="module")
def tiny_run(sample_tokenizer_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tiny")
    config = load_config(PretrainConfig, _recipe(tmp, sample_tokenizer_dir, 150, 1000), section="pretrain",
                         output=str(tmp / "run"))  # fmt: skip
    return pretrain(config)


def test_tiny_pretraining_loss_falls(tiny_run):
    log = _log(tiny_run.output)
    assert len(log) == 150
    first = sum(e["loss"] for e in log[:5]) / 5
    last = sum(e["loss"] for e in log[-10:]) / 10
    assert first > 6.5  # about ln(vocabulary) at random init
    assert last < first - 1.5
    assert all(e["tokens_per_s"] > 0 for e in log)
    assert log[-1]["lr"] < log[20]["lr"]  # linear decay after warm-up


def test_evaluation_reports_every_language(tiny_run):
    evaluation = tiny_run.evaluation
    assert set(evaluation["perplexity"]) == {"ara", "deu", "eng", "fra", "hin", "rus", "spa", "swa", "zho"}
    assert set(evaluation["retrieval"]) == set(evaluation["perplexity"]) - {"eng"}
    vocab_size = json.loads((tiny_run.output / "config.json").read_text())["vocab_size"]
    # a random model's perplexity is about the vocabulary size (1,600): 150 steps take every language below
    # it, most far below (measured: 140-380, Chinese 1,219 with its many rare characters)
    perplexities = sorted(evaluation["perplexity"].values())
    assert perplexities[0] > 1 and perplexities[-1] < vocab_size, evaluation
    assert perplexities[len(perplexities) // 2] < vocab_size / 4, evaluation
    assert all(s["chance"] == pytest.approx(100 / s["n"], abs=0.01) for s in evaluation["retrieval"].values())


def test_saved_model_reloads_with_equal_outputs(tiny_run):
    folder = tiny_run.output
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()
    meta = json.loads((folder / "xling.json").read_text())
    assert meta["objectives"]["tlm"] == 0.5 and meta["training"]["steps"] == 150
    tok = AutoTokenizer.from_pretrained(str(folder))
    batch = tok(["Where is my parcel?", "我的包裹在哪里?"], padding=True, return_tensors="pt")
    model = tiny_run.model.eval()
    reloaded = AutoModelForMaskedLM.from_pretrained(str(folder)).eval()
    encoder = AutoModel.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        expected = model(**batch).logits
        assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-5)
        hidden = model.base_model(**batch).last_hidden_state
        assert torch.allclose(encoder(**batch).last_hidden_state, hidden, atol=1e-5)


def test_killed_run_resumes_to_the_same_end(sample_tokenizer_dir, tmp_path):
    steps, every = 40, 16  # the kill lands at the first checkpoint: 24 steps still to go
    recipe = _recipe(tmp_path, sample_tokenizer_dir, steps, every)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference = tmp_path / "reference"  # uninterrupted, in this process (a third process start saved)
    pretrain(load_config(PretrainConfig, recipe, section="pretrain", output=str(reference)))

    crashed = tmp_path / "crashed"
    proc = subprocess.Popen(_cli("pretrain", "--recipe", str(recipe), "--output", str(crashed)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while not list_checkpoints(crashed) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    killed_at = int(list_checkpoints(crashed)[-1].name.split("-")[1])
    assert 0 < killed_at < steps

    # resumed in this process, through the CLI (an interpreter start saved: the kill needed its own process)
    from typer.testing import CliRunner

    from xling.cli import app

    resumed = CliRunner().invoke(
        app, ["pretrain", "--recipe", str(recipe), "--output", str(crashed), "--resume"]
    )
    assert resumed.exit_code == 0, resumed.output
    assert f"resumed from step {killed_at}" in " ".join(resumed.output.split())
    ref_log, res_log = _log(reference), _log(crashed)
    assert [e["step"] for e in res_log] == list(range(1, steps + 1))
    assert res_log[-1]["loss"] == pytest.approx(ref_log[-1]["loss"], abs=1e-6)
    assert [e["loss"] for e in res_log[killed_at:]] == pytest.approx(
        [e["loss"] for e in ref_log[killed_at:]], abs=1e-6
    )
    a = load_file(str(reference / "model.safetensors"))
    b = load_file(str(crashed / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_two_process_ddp_keeps_ranks_in_sync(sample_tokenizer_dir, tmp_path):
    recipe = _recipe(tmp_path, sample_tokenizer_dir, 8, 4)
    out = tmp_path / "ddp.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "xling",
           "pretrain", "--recipe", str(recipe), "--output", str(tmp_path / "ddp"), "--json", str(out)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["world_size"] == 2
    assert len(report["rank_fingerprints"]) == 2
    assert report["rank_fingerprints"][0] == report["rank_fingerprints"][1]
    assert report["steps"] == 8
    # the saved model is the one the ranks agreed on (the loop's fingerprint: sum and absolute sum)
    saved = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "ddp"))
    with torch.no_grad():
        fingerprint = sum(float(p.double().sum()) + float(p.double().abs().sum()) for p in saved.parameters())
    assert fingerprint == pytest.approx(report["rank_fingerprints"][0], rel=1e-9)


def test_fill_mask_command_prints_guesses(tiny_run):
    from typer.testing import CliRunner

    from xling.cli import app

    result = CliRunner().invoke(app, ["fill-mask", "--model", str(tiny_run.output), "Where is my <mask>?"])
    assert result.exit_code == 0, result.output
    assert result.output.count("'") >= 10  # five guesses for the one mask, each quoted


def test_a_fresh_run_never_overwrites_another_runs_checkpoints(tiny_run, sample_tokenizer_dir, tmp_path):
    from xling.errors import XlingError

    before = list_checkpoints(tiny_run.output)
    assert before
    config = load_config(PretrainConfig, _recipe(tmp_path, sample_tokenizer_dir, 5, 1000), section="pretrain",
                         output=str(tiny_run.output))  # fmt: skip
    with pytest.raises(XlingError, match="--resume"):
        pretrain(config)
    assert list_checkpoints(tiny_run.output) == before


def test_resume_with_another_preset_or_tlm_ratio_names_the_fields(tiny_run, sample_tokenizer_dir, tmp_path):
    from xling.errors import ConfigError

    before = list_checkpoints(tiny_run.output)
    log = (tiny_run.output / "train_log.jsonl").read_text()
    # a longer run (max_steps may change on resume), but with another preset and TLM share: refused by name
    config = load_config(PretrainConfig, _recipe(tmp_path, sample_tokenizer_dir, 300, 1000), section="pretrain",
                         output=str(tiny_run.output), resume=True, model="mini", tlm_ratio=0.25)  # fmt: skip
    with pytest.raises(
        ConfigError, match="model: 'tiny' in the run, 'mini' now; tlm_ratio: 0.5 in the run, 0.25"
    ):
        pretrain(config)
    assert list_checkpoints(tiny_run.output) == before
    assert (tiny_run.output / "train_log.jsonl").read_text() == log


def test_dropout_setting_reaches_the_model_and_is_checked(sample_tokenizer_dir):
    from xling.errors import ConfigError
    from xling.pretraining.pretrain import build_model
    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    config = PretrainConfig(tokenizer=str(sample_tokenizer_dir), model="tiny", dropout=0.0)
    model = build_model(config, tokenizer)
    assert model.config.hidden_dropout_prob == 0.0 and model.config.attention_probs_dropout_prob == 0.0
    assert (
        build_model(PretrainConfig(tokenizer="t", model="tiny"), tokenizer).config.hidden_dropout_prob == 0.1
    )
    with pytest.raises(ConfigError, match="dropout"):
        PretrainConfig(tokenizer="t", dropout=1.5).validate()


def test_held_out_evaluation_keeps_within_a_short_position_table(sample_tokenizer_dir, tmp_path):
    from xling.data.config import CorpusConfig
    from xling.training import TrainingConfig

    model = tmp_path / "model.json"  # 34 positions: 32 tokens after XLM-R's padding offset of 2
    model.write_text(json.dumps({"model_type": "xlm-roberta", "vocab_size": 1600, "hidden_size": 32,
                                 "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64,
                                 "max_position_embeddings": 34, "pad_token_id": 1, "bos_token_id": 0,
                                 "eos_token_id": 2, "type_vocab_size": 1}))  # fmt: skip
    config = PretrainConfig(tokenizer=str(sample_tokenizer_dir), model=str(model), max_length=32,
                            output=str(tmp_path / "run"), data=CorpusConfig(corpus="sample", heldout_fraction=0.1),
                            max_sentences_per_language=60,
                            training=TrainingConfig(max_steps=2, batch_size=4, warmup_steps=0, device="cpu",
                                                    precision="fp32", progress=False, threads=1))  # fmt: skip
    result = pretrain(config)  # the evaluation encoded 128 tokens: an index error, and no model saved
    assert result.evaluation["perplexity"] and (tmp_path / "run" / "model.safetensors").is_file()


def test_held_out_retrieval_pairs_a_language_on_the_ids_it_shares_with_the_pivot(
    sample_tokenizer_dir, caplog
):
    """Each language was cut to its first eval_max_sentences held-out rows and then paired with the pivot's
    first ones: a language of only later ids (a New Testament beside a whole Bible) got no pairs at all."""
    import logging

    from xling.pretraining.data import PretrainingData
    from xling.pretraining.presets import model_config
    from xling.pretraining.pretrain import evaluate_heldout
    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(model_config("tiny", len(tokenizer), 64))
    ids = [f"GEN.1.{i}" for i in range(1, 9)] + [f"MAT.1.{i}" for i in range(1, 9)]

    def rows(lang, chosen):
        return [(sid, f"{lang} verse {sid} of the book, number {n}") for n, sid in enumerate(chosen)]

    # swa has the second half only (after the pivot's first 5); hin has one verse: too few pairs, a warning
    heldout = {"eng": rows("eng", ids), "deu": rows("deu", ids), "swa": rows("swa", ids[8:]),
               "hin": rows("hin", ids[-1:])}  # fmt: skip
    data = PretrainingData(list(heldout), {}, None, {}, heldout)
    config = PretrainConfig(tokenizer=str(sample_tokenizer_dir), eval_max_sentences=5)
    with caplog.at_level(logging.WARNING, logger="xling.pretraining.pretrain"):
        evaluation = evaluate_heldout(model, tokenizer, data, config)
    assert {lang: s["n"] for lang, s in evaluation["retrieval"].items()} == {"deu": 5, "swa": 5}
    assert set(evaluation["perplexity"]) == {"eng", "deu", "swa", "hin"}
    assert "hin" in caplog.text and "swa" not in caplog.text


def test_a_held_out_language_with_nothing_masked_has_no_perplexity_not_nan(sample_tokenizer_dir, monkeypatch):
    """NaN went into xling.json as a bare NaN token, which strict JSON readers refuse."""
    import json

    import xling.pretraining.pretrain as pretrain
    from xling.pretraining.data import PretrainingData
    from xling.pretraining.presets import model_config
    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    model = AutoModelForMaskedLM.from_config(model_config("tiny", len(tokenizer), 64))
    heldout = {lang: [("GEN.1.1", f"{lang} verse")] for lang in ("eng", "deu")}
    data = PretrainingData(list(heldout), {}, None, {}, heldout)
    real = pretrain.masked_lm_perplexity
    monkeypatch.setattr(pretrain, "masked_lm_perplexity",
                        lambda model, tokenizer, texts, **kw: float("nan") if texts[0].startswith("deu") else real(model, tokenizer, texts, **kw))  # fmt: skip
    config = PretrainConfig(tokenizer=str(sample_tokenizer_dir))
    evaluation = pretrain.evaluate_heldout(model, tokenizer, data, config)
    assert evaluation["perplexity"]["deu"] is None and evaluation["perplexity"]["eng"] > 0
    json.dumps(evaluation, allow_nan=False)


def _short_run(tokenizer: Path, tmp_path: Path, steps: int, **options):
    """Return the config and result of a `steps`-step run on a copy of the sample corpus in tmp_path."""
    import shutil

    from xling.data.sources import resolve_corpus

    corpus = tmp_path / "corpus"
    if not corpus.exists():
        shutil.copytree(resolve_corpus("sample"), corpus)
    recipe = tmp_path / f"short-{steps}.toml"
    text = RECIPE.format(tokenizer=tokenizer, steps=steps, every=2).replace('"sample"', f'"{corpus}"')
    recipe.write_text(text.replace("eval_max_sentences = 30", "eval_max_sentences = 4"), encoding="utf-8")
    config = load_config(PretrainConfig, recipe, section="pretrain", output=str(tmp_path / "run"), **options)
    return config, pretrain(config)


def test_resume_refuses_a_corpus_edited_in_place_naming_the_file(sample_tokenizer_dir, tmp_path):
    """The hash of two batches that a checkpoint kept missed most edits of a corpus; its files' contents
    are fingerprinted now."""
    from xling.errors import ConfigError

    _short_run(sample_tokenizer_dir, tmp_path, 2)
    deu = tmp_path / "corpus" / "deu.tsv"
    lines = deu.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[-1] = lines[-1].replace("e", "a")  # one verse of one language, in place
    deu.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"step-00000002: --resume reads other training data .*deu\.tsv"):
        _short_run(sample_tokenizer_dir, tmp_path, 4, resume=True)


def test_a_run_of_an_older_xling_without_a_newer_field_resumes(sample_tokenizer_dir, tmp_path):
    """A field an upgrade added (data.skip_bad, tlm_pivot) is missing from an older run's checkpoint: it
    compares as its default, or the run could never be resumed (no setting gives None)."""
    _short_run(sample_tokenizer_dir, tmp_path, 2)
    [checkpoint] = list_checkpoints(tmp_path / "run")
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    del state["config"]["data"]["skip_bad"], state["config"]["tlm_pivot"]
    (checkpoint / "trainer_state.json").write_text(json.dumps(state))
    _, resumed = _short_run(sample_tokenizer_dir, tmp_path, 4, resume=True)
    assert resumed.train.resumed_from == 2


def test_resume_refuses_a_parallel_file_edited_in_place_naming_it(sample_tokenizer_dir, tmp_path):
    """The files of `parallel` were not fingerprinted: a resume after an edit of one went on silently."""
    from xling.errors import ConfigError

    pairs = tmp_path / "pairs.tsv"
    rows = [f"The house number {i} is red.\tDas Haus Nummer {i} ist rot.\n" for i in range(20)]
    pairs.write_text("".join(rows), encoding="utf-8")
    parallel = [f"eng-deu={pairs}"]
    _short_run(sample_tokenizer_dir, tmp_path, 2, parallel=parallel)
    pairs.write_text("".join(rows[:-1] + [rows[-1].replace("red", "blue")]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"step-00000002: --resume reads other training data .*pairs\.tsv"):
        _short_run(sample_tokenizer_dir, tmp_path, 4, resume=True, parallel=parallel)


def test_a_save_that_fails_leaves_the_earlier_model_whole(sample_tokenizer_dir, tmp_path, monkeypatch):
    """The model was saved straight into the folder: a save that failed (or was killed) after the weights
    left new weights beside the earlier xling.json, which says the model is finished."""
    from types import SimpleNamespace

    import xling.pretraining.pretrain as pretrain_module
    from xling.pretraining.pretrain import save_pretrained_model
    from xling.tokenization.vocabulary import load_tokenizer

    config, first = _short_run(sample_tokenizer_dir, tmp_path, 2)
    before = (first.output / "model.safetensors").read_bytes()
    with torch.no_grad():
        for parameter in first.model.parameters():
            parameter.add_(1.0)

    def killed(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pretrain_module, "save_tokenizer", killed)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained_model(first.model, load_tokenizer(sample_tokenizer_dir), first.output, config,
                              SimpleNamespace(languages=["deu"]), first.train, {})  # fmt: skip
    assert (first.output / "model.safetensors").read_bytes() == before
    assert json.loads((first.output / "xling.json").read_text())["training"]["steps"] == 2


def test_a_zh_eval_pivot_retrieves_against_the_corpus_cmn(sample_tokenizer_dir, caplog):
    """`zh` was normalised to zho, which the corpus keeps as cmn: no retrieval figures, without a word."""
    import logging

    from xling.pretraining.data import PretrainingData
    from xling.pretraining.presets import model_config
    from xling.pretraining.pretrain import evaluate_heldout
    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(sample_tokenizer_dir)
    torch.manual_seed(0)
    model = AutoModelForMaskedLM.from_config(model_config("tiny", len(tokenizer), 64))
    heldout = {lang: [(f"GEN.1.{i}", f"{lang} verse {i}") for i in range(1, 5)] for lang in ("cmn", "eng")}
    data = PretrainingData(list(heldout), {}, None, {}, heldout)
    config = PretrainConfig(tokenizer=str(sample_tokenizer_dir), eval_pivot="zh")
    evaluation = evaluate_heldout(model, tokenizer, data, config)
    assert evaluation["pivot"] == "cmn" and set(evaluation["retrieval"]["eng"]) >= {"eng2cmn", "cmn2eng"}
    with caplog.at_level(logging.WARNING, logger="xling.pretraining.pretrain"):
        evaluation = evaluate_heldout(model, tokenizer, data, replace(config, eval_pivot="deu"))
    assert evaluation["retrieval"] == {} and "eval_pivot: deu has no held-out sentences" in caplog.text


def test_a_model_folder_takes_the_length_the_run_made_it_for(sample_tokenizer_dir, tmp_path):
    """tokenizer_config.json said 512 whatever max_length (up to 4096) the model was made for: pipelines cut
    or warned at 512. The tokenizer folder itself keeps 512."""
    config, _ = _short_run(sample_tokenizer_dir, tmp_path, 1, max_length=600, eval_max_sentences=2,
                           max_sentences_per_language=8, **{"training.batch_size": 2})  # fmt: skip
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["max_position_embeddings"] == 602
    assert json.loads((run / "tokenizer_config.json").read_text())["model_max_length"] == 600
    assert AutoTokenizer.from_pretrained(str(run)).model_max_length == 600
    assert AutoTokenizer.from_pretrained(str(sample_tokenizer_dir)).model_max_length == 512
