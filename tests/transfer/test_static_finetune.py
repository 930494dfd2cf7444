"""Method c, table fine-tuned: a static encoder's table and a head trained together (toy shared space)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from xling.errors import ConfigError, DataError
from xling.training.loop import TrainingConfig
from xling.transfer import static_finetune  # registers "static-finetune" / "classifier/static-finetune"
from xling.transfer.classifier import load_classifier
from xling.transfer.static_finetune import StaticFinetuneConfig, finetune_static

from .toy import build_encoder, texts


def _config(encoder, **fields) -> StaticFinetuneConfig:
    training = TrainingConfig(max_steps=200, batch_size=16, lr=0.05, warmup_steps=5, weight_decay=0.0,
                              log_every=50, checkpoint_every=200, threads=1)  # fmt: skip
    return StaticFinetuneConfig(encoder=str(encoder), training=training, **fields)


def _accuracy(classifier, data) -> float:
    return float(np.mean([p == g for p, g in zip(classifier.predict(data.texts), data.labels, strict=True)]))


def test_learns_english_and_labels_german_through_shared_rows(toy_encoder):
    classifier = finetune_static(texts("eng"), texts("eng"), _config(toy_encoder))
    assert _accuracy(classifier, texts("eng")) == 1.0
    assert _accuracy(classifier, texts("deu")) >= 0.9
    assert classifier.metadata["dev"]["macro_f1"] == 100.0
    assert classifier.metadata["rows_moved"] > 0  # the table did train
    probabilities = classifier.predict_proba(texts("deu").texts)
    assert probabilities.shape == (len(texts("deu")), 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_without_a_shared_space_german_is_not_labelled(tmp_path):
    unshared = build_encoder(tmp_path / "unshared", shared=False)
    classifier = finetune_static(texts("eng"), None, _config(unshared))
    assert _accuracy(classifier, texts("eng")) == 1.0
    assert _accuracy(classifier, texts("deu")) < 0.7


def test_anchor_holds_rows_near_the_shared_space_and_german_keeps_working(toy_encoder):
    free = finetune_static(texts("eng"), None, _config(toy_encoder, anchor_weight=0.0))
    anchored = finetune_static(texts("eng"), None, _config(toy_encoder, anchor_weight=1.0))
    assert anchored.metadata["mean_row_shift"] < 0.6 * free.metadata["mean_row_shift"]
    assert _accuracy(anchored, texts("deu")) >= 0.95
    frozen = finetune_static(texts("eng"), None, _config(toy_encoder, train_table=False))
    assert frozen.metadata["rows_moved"] == 0


def test_saved_classifier_reloads_with_equal_probabilities(toy_encoder, tmp_path):
    classifier = finetune_static(texts("eng"), texts("eng"), _config(toy_encoder, anchor_weight=0.5))
    folder = classifier.save(tmp_path / "clf")
    assert (folder / "encoder" / "modules.json").is_file() and (folder / "head.safetensors").is_file()
    reloaded = load_classifier(folder)
    assert isinstance(reloaded, static_finetune.StaticFinetunedClassifier)
    assert reloaded.labels == classifier.labels
    sample = texts("deu").texts + texts("eng").texts
    np.testing.assert_allclose(reloaded.predict_proba(sample), classifier.predict_proba(sample), atol=1e-6)
    assert reloaded.predict(sample) == classifier.predict(sample)


def test_the_classifier_loads_on_the_device_asked_for(toy_encoder, tmp_path):
    """Every classifier kind's loader takes `device` (the server loads its classifier on its own device); this
    one took none. The torch device `meta` (no memory, no GPU) shows where the weights went."""
    config = _config(toy_encoder)
    config = replace(config, training=replace(config.training, max_steps=3))
    folder = finetune_static(texts("eng"), None, config).save(tmp_path / "clf")
    on_cpu = static_finetune.StaticFinetunedClassifier.load(folder)
    assert {parameter.device.type for parameter in on_cpu.model.parameters()} == {"cpu"}
    for loaded in (static_finetune.StaticFinetunedClassifier.load(folder, device="meta"),
                   load_classifier(folder, device="meta")):  # fmt: skip
        assert {parameter.device.type for parameter in loaded.model.parameters()} == {"meta"}


def test_output_folder_is_the_run_and_the_classifier(toy_encoder, tmp_path):
    config = _config(toy_encoder, output=str(tmp_path / "run"))
    classifier = finetune_static(texts("eng"), texts("eng"), config)
    reloaded = load_classifier(tmp_path / "run")
    assert (tmp_path / "run" / "train_log.jsonl").is_file()
    sample = texts("deu").texts
    assert reloaded.predict(sample) == classifier.predict(sample)


def test_bad_input_is_a_clear_error(toy_encoder, tmp_path):
    with pytest.raises(ConfigError, match="anchor_weight"):
        finetune_static(texts("eng"), None, _config(toy_encoder, anchor_weight=-1.0))
    with pytest.raises(DataError, match="2 labels|needs two"):
        finetune_static(texts("eng", ("positive",)), None, _config(toy_encoder))
    dev = texts("eng")
    dev.labels[3] = "sarcastic"
    with pytest.raises(DataError, match="sarcastic"):
        finetune_static(texts("eng"), dev, _config(toy_encoder))
    (tmp_path / "nothing").mkdir()
    with pytest.raises(DataError):
        static_finetune.StaticFinetunedClassifier.load(tmp_path / "nothing")


def test_the_method_is_reached_through_classifier_config(tmp_path):
    """`method = "static-finetune"` goes through train_classifier and loads back through load_classifier,
    in a fresh interpreter that never imported xling.transfer.static_finetune itself."""
    import subprocess
    import sys
    from pathlib import Path

    toy_dir, clf = str(Path(__file__).parent), str(tmp_path / "clf")
    code = f"""
import sys
from pathlib import Path
sys.path.insert(0, {toy_dir!r})
from toy import build_encoder, texts
from xling.transfer.classifier import load_classifier, train_classifier
from xling.transfer.config import ClassifierConfig
config = ClassifierConfig(method="static-finetune", encoder=str(build_encoder(Path({str(tmp_path)!r}) / "enc")),
                          output={clf!r})
config.training.max_steps = 60
train_classifier(config, texts("eng"), texts("eng"))
loaded = load_classifier({clf!r})
print(loaded.kind, loaded.metadata["training"]["steps"], loaded.metadata["config"]["training"]["lr"])
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # the training field the caller set reaches the static run (the table's own lr stays: not 5e-5)
    assert proc.stdout.strip().splitlines()[-1] == "classifier/static-finetune 60 0.01"


def test_a_training_field_named_on_the_command_line_is_kept_even_at_the_transformer_default():
    from xling.config import load_config
    from xling.transfer.config import ClassifierConfig
    from xling.transfer.static_finetune import StaticFinetuneConfig, _set_fields

    table = StaticFinetuneConfig().training
    named = load_config(ClassifierConfig, overrides=["method=static-finetune", "training.lr=5e-5",
                                                     "training.max_steps=60"])  # fmt: skip
    assert (_set_fields(named, table).lr, _set_fields(named, table).max_steps) == (5e-5, 60)
    # not named: the table's own learning rate, not the transformer default the config holds
    unnamed = load_config(ClassifierConfig, overrides=["method=static-finetune", "training.max_steps=60"])
    assert unnamed.training.lr == 5e-5 and _set_fields(unnamed, table).lr == table.lr != 5e-5


def _write_tsv(path, data) -> None:
    path.write_text("".join(f"{t}\t{label}\n" for t, label in zip(data.texts, data.labels, strict=True)),
                    encoding="utf-8")  # fmt: skip


def test_a_resume_refuses_a_training_file_edited_in_place(toy_encoder, tmp_path):
    """The checkpoint keeps a hash of the labelled files; one edited since is named, not trained on."""
    from xling.data.labelled import read_labelled

    train_file = tmp_path / "train.tsv"
    _write_tsv(train_file, texts("eng"))

    def run(steps: int, resume: bool = False):
        config = _config(toy_encoder, output=str(tmp_path / "run"), resume=resume)
        config.training.max_steps, config.training.checkpoint_every = steps, 2
        return finetune_static(read_labelled(train_file), None, config)

    run(2)
    edited = texts("eng")
    edited.labels[0] = "negative" if edited.labels[0] != "negative" else "positive"
    _write_tsv(train_file, edited)
    with pytest.raises(ConfigError, match=r"step-00000002: --resume reads other training data .*train\.tsv"):
        run(4, resume=True)


def test_the_labelled_files_of_joined_parts_subsamples_and_umsab_splits_are_listed(tmp_path):
    from xling.data.labelled import read_labelled, read_umsab
    from xling.transfer.classifier import join_parts
    from xling.transfer.fewshot import sample_per_class
    from xling.transfer.finetune import labelled_data_files

    # a name with " + " in it is one file, not two parts
    english, german = tmp_path / "en + extra.tsv", tmp_path / "de.tsv"
    for path in (english, german):
        path.write_text("good\tpositive\nbad\tnegative\n", encoding="utf-8")
    umsab = tmp_path / "umsab" / "english"
    umsab.mkdir(parents=True)
    (umsab / "val_text.txt").write_text("x\n", encoding="utf-8")
    (umsab / "val_labels.txt").write_text("2\n", encoding="utf-8")
    joined = join_parts([read_labelled(english), sample_per_class(read_labelled(german), 1, seed=0)])
    dev = read_umsab(tmp_path / "umsab", "english", "val")
    assert labelled_data_files(joined, dev, None) == [
        english,
        german,
        umsab / "val_text.txt",
        umsab / "val_labels.txt",
    ]
    assert labelled_data_files(texts("eng")) == []  # texts made in memory name none


def test_a_static_encoders_default_prompt_is_kept_for_fine_tuning(toy_encoder):
    """The trainable copy reads texts as the encoder does: with its folder's default prompt before them."""
    import json

    from xling.transfer.static_finetune import _load_static

    (toy_encoder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}), encoding="utf-8"
    )
    module, _ = _load_static(str(toy_encoder))
    assert module.prompt == "query: "


def test_a_prompted_encoders_classifier_reloads_with_its_prompt_and_equal_probabilities(
    toy_encoder, tmp_path
):
    """The encoder's default prompt was saved beside the copy but not read back: the reloaded classifier read
    unprompted texts and its probabilities moved."""
    import json

    (toy_encoder / "config_sentence_transformers.json").write_text(
        json.dumps({"prompts": {"query": "query: "}, "default_prompt_name": "query"}), encoding="utf-8"
    )
    classifier = finetune_static(texts("eng"), texts("eng"), _config(toy_encoder, anchor_weight=0.5))
    reloaded = load_classifier(classifier.save(tmp_path / "clf"))
    assert reloaded.model.encoder.prompt == "query: "
    sample = texts("deu").texts + texts("eng").texts
    np.testing.assert_allclose(reloaded.predict_proba(sample), classifier.predict_proba(sample), atol=1e-6)


def test_several_processes_without_an_output_folder_are_refused(toy_encoder, monkeypatch):
    """Under torchrun each rank made its own temporary run folder, and only rank 0's held best/: the other
    ranks failed to load it at the end (finetune_classifier refused this already)."""
    monkeypatch.setattr(static_finetune, "launched_world_size", lambda: 2)
    with pytest.raises(ConfigError, match="several processes .* one run folder"):
        finetune_static(texts("eng"), texts("eng"), _config(toy_encoder))
