"""Fine-tuning (method b): a tiny random XLM-R learns a separable toy task through xling's training loop."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from ranks import run_on_two_ranks
from safetensors.torch import load_file

from xling.config import load_config
from xling.data.labelled import LabelledTexts
from xling.errors import ConfigError, DataError
from xling.training.loop import TrainingConfig
from xling.transfer.config import ClassifierConfig
from xling.transfer.finetune import (
    ClassificationBatches,
    FinetuneConfig,
    FineTunedClassifier,
    dev_schedule,
    finetune_classifier,
    steps_per_epoch,
)

POSITIVE = ["wonderful", "excellent", "love", "perfect"]
NEGATIVE = ["terrible", "awful", "hate", "broken"]
FILLER = ["the", "shop", "was", "my", "order", "today", "staff", "and", "price", "phone", "delivery", "it"]


def toy(n: int, seed: int, source: str = "toy.tsv", flip: bool = False) -> LabelledTexts:
    """Return n short English texts whose label is given by one marker word (separable by a token)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        positive = i % 2 == 0
        words = rng.sample(FILLER, 4)
        words.insert(rng.randrange(5), rng.choice(POSITIVE if positive else NEGATIVE))
        texts.append(" ".join(words))
        labels.append("positive" if positive != flip else "negative")
    return LabelledTexts(texts, labels, source, "eng")


def save_random_xlmr(tokenizer_dir: Path, folder: Path, *, hidden: int, layers: int, positions: int) -> Path:
    """Return `folder` holding a random XLM-R masked LM of this shape with the tokenizer of `tokenizer_dir`,
    as `xling pretrain` would write it."""
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    from xling.tokenization.vocabulary import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=hidden, num_hidden_layers=layers,
                              num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=positions,
                              pad_token_id=tokenizer.pad_token_id, type_vocab_size=1)  # fmt: skip
    XLMRobertaForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_encoder(sample_tokenizer_dir, tmp_path_factory) -> Path:
    """A tiny random XLM-R masked LM with the sample tokenizer."""
    folder = tmp_path_factory.mktemp("encoder") / "mlm"
    return save_random_xlmr(sample_tokenizer_dir, folder, hidden=32, layers=2, positions=66)


def make_config(encoder: Path, output: Path | None, steps: int = 60, **finetune) -> ClassifierConfig:
    training = TrainingConfig(max_steps=steps, batch_size=16, lr=3e-3, warmup_steps=5, checkpoint_every=1000,
                              log_every=5, threads=1, precision="fp32", device="cpu", seed=1)  # fmt: skip
    return ClassifierConfig(encoder=str(encoder), method="finetune", output=str(output) if output else None,
                            training=training, finetune=FinetuneConfig(max_length=32, **finetune))  # fmt: skip


@pytest.fixture(scope="module")
def trained(tiny_encoder, tmp_path_factory):
    output = tmp_path_factory.mktemp("run") / "classifier"
    classifier = finetune_classifier(make_config(tiny_encoder, output), toy(64, 0), toy(32, 1, "dev.tsv"))
    return output, classifier


def test_an_epoch_counts_the_examples_of_every_torchrun_process(monkeypatch):
    training = TrainingConfig(batch_size=8, grad_accum=2)
    assert steps_per_epoch(100, training) == 7  # 16 examples a step
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert steps_per_epoch(100, training) == 4  # 16 on each of 2 processes
    assert dev_schedule(training, 0, True, steps_per_epoch(100, training), with_dev=True).eval_every == 4


def test_learns_a_separable_toy_task(trained):
    _, classifier = trained
    assert classifier.labels == ["negative", "positive"]
    train = toy(64, 0)
    accuracy = np.mean([p == g for p, g in zip(classifier.predict(train.texts), train.labels, strict=True)])
    assert accuracy >= 0.95
    held_out = toy(40, 7)  # new combinations of the same words
    assert (
        np.mean([p == g for p, g in zip(classifier.predict(held_out.texts), held_out.labels, strict=True)])
        >= 0.9
    )
    proba = classifier.predict_proba(held_out.texts[:5])
    assert proba.shape == (5, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.metadata["dev"]["macro_f1"] >= 90


def test_saved_folder_loads_with_plain_transformers(trained):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    output, classifier = trained
    texts = toy(6, 3).texts
    model = AutoModelForSequenceClassification.from_pretrained(output).eval()
    tokenizer = AutoTokenizer.from_pretrained(output)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(logits, classifier.logits(texts), atol=1e-5)
    meta = json.loads((output / "xling.json").read_text())
    assert meta["kind"] == "classifier/finetune"
    assert meta["labels"] == ["negative", "positive"] and meta["language"] == "eng"
    assert meta["dev"]["macro_f1"] == classifier.metadata["dev"]["macro_f1"]
    again = FineTunedClassifier.load(output)
    assert again.predict(texts) == classifier.predict(texts)
    np.testing.assert_allclose(again.predict_proba(texts), classifier.predict_proba(texts), atol=1e-6)


def test_load_classifier_dispatches_on_kind(trained):
    classifier_module = pytest.importorskip("xling.transfer.classifier")
    output, classifier = trained
    loaded = classifier_module.load_classifier(output)
    assert isinstance(loaded, FineTunedClassifier)
    assert loaded.predict(toy(4, 5).texts) == classifier.predict(toy(4, 5).texts)
    # the device goes to the loader, as the server passes its own (`meta`: no memory, no GPU, stands for one)
    on_device = classifier_module.load_classifier(output, device="meta")
    assert {parameter.device.type for parameter in on_device.model.parameters()} == {"meta"}


def test_train_classifier_dispatches_finetune(tiny_encoder, tmp_path):
    classifier_module = pytest.importorskip("xling.transfer.classifier")
    config = make_config(tiny_encoder, tmp_path / "out", steps=3)
    classifier = classifier_module.train_classifier(config, toy(16, 0), None)
    assert isinstance(classifier, FineTunedClassifier)
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_fine_tuning_over_a_frozen_classifier_into_a_mount_point_saves_into_it(
    tiny_encoder, toy_encoder, tmp_path, monkeypatch
):
    """`xling transfer train --method finetune --overwrite --output /vol` (a Docker volume holding a frozen
    classifier): clearing it ran shutil.rmtree on the mount point, which deleted the frozen classifier and
    then failed (EBUSY), with nothing trained."""
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.transfer.classifier import load_classifier, train_classifier

    from .mounts import pretend_mount_point
    from .toy import texts

    volume = tmp_path / "vol"
    train_classifier(load_config(ClassifierConfig, encoder=str(toy_encoder), output=str(volume)),
                     texts("eng")).save(volume)  # fmt: skip
    assert json.loads((volume / "xling.json").read_text("utf-8"))["kind"] == "classifier/frozen"
    pretend_mount_point(monkeypatch, volume)
    data = toy(16, 0)
    train = tmp_path / "train.tsv"
    train.write_text(
        "".join(f"{t}\t{label}\n" for t, label in zip(data.texts, data.labels, strict=True)), "utf-8"
    )
    settings = ["training.max_steps=3", "training.device=cpu", "training.precision=fp32", "training.threads=1",
                "finetune.max_length=32"]  # fmt: skip
    result = CliRunner().invoke(app, ["transfer", "train", "--method", "finetune", "--train", str(train),
                                      "--language", "en", "--encoder", str(tiny_encoder), "--output", str(volume),
                                      "--overwrite", *[a for s in settings for a in ("--set", s)]])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert volume.is_dir() and not (volume / "head.safetensors").exists()  # the frozen head is gone
    assert json.loads((volume / "xling.json").read_text("utf-8"))["kind"] == "classifier/finetune"
    assert isinstance(load_classifier(volume), FineTunedClassifier)


def test_the_best_dev_checkpoint_is_the_one_saved(tiny_encoder, tmp_path):
    """With dev labels flipped, dev macro-F1 falls as training learns: the saved weights are an early step's."""
    config = make_config(tiny_encoder, tmp_path / "out", steps=40)
    config.training.eval_every = 4
    config.training.checkpoint_every = 40
    classifier = finetune_classifier(config, toy(64, 0), toy(32, 1, "dev.tsv", flip=True))
    best = classifier.metadata["training"]["best"]
    log = [json.loads(line) for line in (tmp_path / "out" / "train_log.jsonl").read_text().splitlines()]
    scored = {e["step"]: e["dev_macro_f1"] for e in log if "dev_macro_f1" in e}
    assert max(scored.values()) == best["value"] > scored[40]
    assert scored[best["step"]] == best["value"] and best["step"] < 40
    assert classifier.metadata["dev"]["macro_f1"] == best["value"]
    kept = {
        k.removeprefix("model."): v
        for k, v in load_file(tmp_path / "out" / "best" / "model.safetensors").items()
    }
    saved = load_file(tmp_path / "out" / "model.safetensors")
    last = load_file(tmp_path / "out" / "checkpoints" / "step-00000040" / "model.safetensors")
    name = "classifier.out_proj.weight"
    assert torch.equal(saved[name], kept[name])
    assert not torch.equal(saved[name], last["model." + name])


def test_resume_after_a_stop_equals_an_uninterrupted_run(tiny_encoder, tmp_path):
    whole = finetune_classifier(make_config(tiny_encoder, tmp_path / "whole", steps=12), toy(32, 0))
    stopped = make_config(tiny_encoder, tmp_path / "parts", steps=12)
    stopped.training.max_minutes = 1e-9  # out of time after the first step: a checkpoint, then stop
    first = finetune_classifier(stopped, toy(32, 0))
    assert first.metadata["training"]["steps"] == 1
    resumed = make_config(tiny_encoder, tmp_path / "parts", steps=12, resume=True)
    second = finetune_classifier(resumed, toy(32, 0))
    assert second.metadata["training"]["resumed_from"] == 1 and second.metadata["training"]["steps"] == 12
    a = whole.model.state_dict()
    b = second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lora_trains_adapters_and_saves_a_plain_model(trained, tmp_path):
    """Only the adapters and a new head train; merged, the folder is a plain transformers one.

    LoRA adapts a pretrained encoder: here the tiny one fully fine-tuned above, saved without its head."""
    pytest.importorskip("peft")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    encoder = tmp_path / "encoder"
    trained[1].model.base_model.save_pretrained(encoder)
    trained[1].tokenizer.save_pretrained(encoder)
    output = tmp_path / "lora"
    config = make_config(encoder, output, steps=30, lora_r=4, lora_alpha=8, lora_dropout=0.0)
    classifier = finetune_classifier(config, toy(64, 0))
    parameters = classifier.metadata["parameters"]
    assert 0 < parameters["trained"] < parameters["total"] / 10
    assert classifier.metadata["method"] == "finetune/lora"
    held_out = toy(40, 7)
    assert (
        np.mean([p == g for p, g in zip(classifier.predict(held_out.texts), held_out.labels, strict=True)])
        >= 0.95
    )
    saved = load_file(output / "model.safetensors")
    assert not any("lora" in key for key in saved)
    base = {"roberta." + k: v for k, v in load_file(encoder / "model.safetensors").items()}
    embeddings = "roberta.embeddings.word_embeddings.weight"
    assert torch.equal(saved[embeddings], base[embeddings])  # frozen
    query = "roberta.encoder.layer.0.attention.self.query.weight"
    assert not torch.allclose(saved[query], base[query])  # the adapters, merged in
    texts = toy(8, 7).texts
    model = AutoModelForSequenceClassification.from_pretrained(output).eval()
    tokenizer = AutoTokenizer.from_pretrained(output)
    with torch.no_grad():
        logits = model(**tokenizer(texts, padding=True, return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(logits, classifier.logits(texts), atol=1e-5)


def test_batches_are_a_pure_function_of_the_step():
    ids = [[0, i + 5, 2] for i in range(10)]
    batches = ClassificationBatches(
        ids, [i % 2 for i in range(10)], batch_size=4, grad_accum=2, pad_id=1, seed=3
    )
    again = ClassificationBatches(
        ids, [i % 2 for i in range(10)], batch_size=4, grad_accum=2, pad_id=1, seed=3
    )
    assert torch.equal(batches.get(7, 1, 0, 1)["input_ids"], again.get(7, 1, 0, 1)["input_ids"])
    # one pass covers every example once; ranks and micro-batches take different examples
    first_pass = [i for step in range(2) for micro in range(2) for rank in range(2)
                  for i in batches.indices(step, micro, rank, 2)][:10]  # fmt: skip
    assert sorted(first_pass) == list(range(10))


def test_bad_input_is_a_clear_error(tiny_encoder, tmp_path):
    config = make_config(tiny_encoder, None, steps=2)
    dev = toy(8, 1, "dev.tsv")
    dev.labels[4] = "neutral"
    dev.lines = [i + 2 for i in range(8)]  # as read from a file with a header line
    with pytest.raises(DataError, match=r"dev.tsv:6: .*'neutral' of example 5"):
        finetune_classifier(config, toy(16, 0), dev)
    one_label = LabelledTexts(["a b", "c d"], ["x", "x"], "one.tsv")
    with pytest.raises(DataError, match="one.tsv"):
        finetune_classifier(config, one_label)
    with pytest.raises(ConfigError, match="lora_r"):
        finetune_classifier(make_config(tiny_encoder, None, lora_r=-1), toy(16, 0))
    with pytest.raises(ConfigError, match="static|transformer"):
        finetune_classifier(make_config(Path("xling-mini"), None), toy(16, 0))
    with pytest.raises(DataError, match="no such model folder"):
        FineTunedClassifier.load(tmp_path / "none")


def test_an_empty_text_is_refused_at_prediction(trained):
    with pytest.raises(DataError, match="text 1 is empty"):
        trained[1].predict(["good", "  "])


def test_two_process_ddp_fine_tuning_keeps_the_ranks_equal(tiny_encoder, tmp_path):
    """`xling transfer train --method finetune` on two ranks (as `torchrun --nproc_per_node=2` starts them):
    both ranks end with the same weights, the folder is written and the classifier learns the toy task."""
    import os

    for name, data in (("train", toy(64, 0)), ("dev", toy(32, 1))):
        (tmp_path / f"{name}.tsv").write_text(
            "".join(f"{t}\t{y}\n" for t, y in zip(data.texts, data.labels, strict=True)), "utf-8"
        )
    out, report_path = tmp_path / "ddp", tmp_path / "ddp.json"
    settings = ["training.max_steps=60", "training.batch_size=8", "training.lr=3e-3", "training.warmup_steps=5",
                "training.device=cpu", "training.precision=fp32", "training.checkpoint_every=1000",
                "training.threads=1", "finetune.max_length=32"]  # fmt: skip
    # two ranks as torchrun starts them, without its launcher (tests/ranks.py; pretraining's test uses torchrun)
    cmd = ["-m", "xling", "transfer", "train", "--train", str(tmp_path / "train.tsv"), "--dev", str(tmp_path / "dev.tsv"),
           "--language", "en", "--encoder", str(tiny_encoder), "--method", "finetune", "--output", str(out),
           "--json", str(report_path), *[x for s in settings for x in ("--set", s)]]  # fmt: skip
    proc = run_on_two_ranks(cmd, {**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("saved to") == 1, proc.stderr[-3000:]  # rank 0 says so, not every rank
    training = json.loads(report_path.read_text("utf-8"))["training"]
    assert training["world_size"] == 2 and training["steps"] == 60
    assert len(training["rank_fingerprints"]) == 2 and len(set(training["rank_fingerprints"])) == 1
    # each step saw 8 examples on each rank
    assert training["examples"] == 60 * 8 * 2
    classifier = FineTunedClassifier.load(out)
    test = toy(32, 2)
    accuracy = np.mean([p == y for p, y in zip(classifier.predict(test.texts), test.labels, strict=True)])
    assert (
        accuracy >= 0.8
    )  # chance 0.5; measured 1.0 after these 60 steps (0.69 after 30: too few to be sure)


def test_a_save_that_fails_leaves_the_earlier_classifier_whole(tiny_encoder, tmp_path, monkeypatch):
    """The classifier was saved straight into the run's folder, its xling.json removed first: a save that
    failed mid-way lost the earlier classifier and left half a new one."""
    from transformers import AutoModelForSequenceClassification

    from xling.transfer.finetune import load_encoder_tokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_encoder), num_labels=2)
    tokenizer = load_encoder_tokenizer(tiny_encoder)
    output = tmp_path / "classifier"
    FineTunedClassifier(model, tokenizer, ["negative", "positive"], metadata={"note": "first"}).save(output)
    before = (output / "model.safetensors").read_bytes()
    with torch.no_grad():
        model.classifier.out_proj.bias.add_(1.0)

    def fails(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(tokenizer), "save_pretrained", fails)
    second = FineTunedClassifier(model, tokenizer, ["negative", "positive"], metadata={"note": "second"})
    with pytest.raises(OSError, match="disk full"):
        second.save(output)
    assert (output / "model.safetensors").read_bytes() == before
    assert json.loads((output / "xling.json").read_text(encoding="utf-8"))["note"] == "first"


@pytest.fixture(scope="module")
def short_encoder(sample_tokenizer_dir, tmp_path_factory) -> Path:
    """A tiny random XLM-R with 24 position rows: fewer positions than the default max_length of 128."""
    folder = tmp_path_factory.mktemp("short") / "mlm"
    return save_random_xlmr(sample_tokenizer_dir, folder, hidden=16, layers=1, positions=24)


def test_max_length_is_capped_at_the_positions_the_model_has(short_encoder, tmp_path, caplog):
    import logging

    from xling.embeddings.transformer import position_limit
    from xling.transfer.classifier import load_classifier

    limit = position_limit(build_limit_model(short_encoder))
    assert limit < 128
    long = " ".join(FILLER * 4)  # far more sub-tokens than the model has positions
    train = LabelledTexts(
        [f"{long} wonderful", f"{long} terrible"] * 8, ["positive", "negative"] * 8, "t.tsv"
    )
    dev = LabelledTexts([f"{long} love", f"{long} hate"] * 2, ["positive", "negative"] * 2, "dev.tsv")
    config = make_config(short_encoder, tmp_path / "clf", steps=2)
    # the default max_length; the dev evaluation (every step) reads the long texts too
    config = dataclasses.replace(config, finetune=FinetuneConfig(), training=dataclasses.replace(
        config.training, eval_every=1))  # fmt: skip
    with caplog.at_level(logging.INFO, logger="xling.embeddings.transformer"):
        classifier = finetune_classifier(config, train, dev)
    assert f"max_length 128 lowered to {limit}" in caplog.text
    assert classifier.max_length == limit and classifier.metadata["max_length"] == limit
    assert classifier.metadata["train_at_max_length"] == len(train)
    assert json.loads((tmp_path / "clf" / "xling.json").read_text())["max_length"] == limit
    assert len(load_classifier(tmp_path / "clf").predict([long * 3])) == 1
    # a folder saved with more than the model's positions (by an earlier version) is read within them
    meta = json.loads((tmp_path / "clf" / "xling.json").read_text())
    (tmp_path / "clf" / "xling.json").write_text(json.dumps({**meta, "max_length": 128}))
    reloaded = FineTunedClassifier.load(tmp_path / "clf")
    assert reloaded.max_length == limit and len(reloaded.predict([long * 3])) == 1


def build_limit_model(folder: Path):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
