"""Frozen-encoder classifier: learned in English, used in German through a shared space; saving, errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from xling.config import load_config
from xling.data.labelled import LabelledTexts
from xling.errors import ConfigError, DataError
from xling.transfer import classifier as classifier_module
from xling.transfer.classifier import (
    FrozenEncoderClassifier,
    join_parts,
    load_classifier,
    train_classifier,
)
from xling.transfer.config import TARGET_WEIGHT, ClassifierConfig
from xling.transfer.fewshot import sample_per_class

from .toy import build_encoder, texts


def config_for(encoder, **fields) -> ClassifierConfig:
    return load_config(ClassifierConfig, encoder=str(encoder), **fields)


@pytest.mark.parametrize("standardize", [True, False])
def test_a_head_learned_in_english_labels_german(toy_encoder, standardize):
    english, german = texts("eng"), texts("deu")
    # every C scores 100 on the toy's dev split and a tie goes to the smallest; 0.001 is too strong a
    # regularisation for raw vectors to transfer, so the raw head is chosen among C >= 0.1
    grid = {} if standardize else {"C_grid": [0.1, 0.3, 1.0, 3.0, 10.0]}
    model = train_classifier(config_for(toy_encoder, standardize=standardize, **grid), english,
                             dev=texts("eng", source="dev"))  # fmt: skip
    assert model.labels == ["negative", "neutral", "positive"]
    if standardize:  # German's own statistics, from its texts without their labels
        model = model.adapt("deu", german.texts).for_language("deu")
    assert model.predict(german.texts) == german.labels  # never saw a German label
    probabilities = model.predict_proba(german.texts)
    assert probabilities.shape == (len(german), 3) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [model.labels[i] for i in probabilities.argmax(axis=1)] == german.labels
    assert model.metadata["dev"]["macro_f1"] == 100.0 and model.metadata["train"]["examples"] == len(english)


def test_without_a_shared_space_the_head_does_not_transfer(tmp_path):
    """The control: German words with vectors of their own (not their English twins') are not learned."""
    folder = build_encoder(tmp_path / "unshared", shared=False)
    english, german = texts("eng"), texts("deu")
    model = train_classifier(config_for(folder), english).adapt("deu", german.texts).for_language("deu")
    assert model.predict(english.texts) == english.labels
    correct = sum(p == g for p, g in zip(model.predict(german.texts), german.labels, strict=True))
    assert correct < 0.7 * len(german)


def test_probabilities_are_scikit_learns(toy_encoder):
    from sklearn.linear_model import LogisticRegression

    english = texts("eng")
    for labels in (("negative", "neutral", "positive"), ("negative", "positive")):
        data = LabelledTexts(*_subset(english, labels), "toy")
        model = train_classifier(config_for(toy_encoder, C=0.5, standardize=False), data)
        vectors = model.vectors(data.texts)
        reference = LogisticRegression(C=0.5, max_iter=2000).fit(vectors, data.labels)
        assert list(reference.classes_) == model.labels
        assert np.allclose(model.predict_proba(data.texts), reference.predict_proba(vectors), atol=1e-5)


def _subset(data: LabelledTexts, labels) -> tuple[list[str], list[str]]:
    keep = [i for i, label in enumerate(data.labels) if label in labels]
    return [data.texts[i] for i in keep], [data.labels[i] for i in keep]


def test_C_is_chosen_on_the_dev_split_or_as_given(toy_encoder):
    english = texts("eng")
    chosen = train_classifier(config_for(toy_encoder, C_grid=[0.01, 1.0]), english, dev=texts("eng"))
    assert set(chosen.metadata["dev"]["C_grid"]) == {"0.01", "1.0"}
    grid = chosen.metadata["dev"]["C_grid"]
    assert chosen.metadata["C"] == min(float(c) for c, score in grid.items() if score == max(grid.values()))
    # a grid given in another order chooses alike: a tie keeps the smaller C (it kept the first one given)
    backwards = train_classifier(config_for(toy_encoder, C_grid=[1.0, 0.01]), english, dev=texts("eng"))
    assert backwards.metadata["C"] == chosen.metadata["C"] and backwards.metadata["dev"]["C_grid"] == grid
    fixed = train_classifier(config_for(toy_encoder, C=2.0), english, dev=texts("eng"))
    assert fixed.metadata["C"] == 2.0 and fixed.metadata["dev"]["C_grid"] == {}
    assert train_classifier(config_for(toy_encoder), english).metadata["C"] == 1.0  # no dev: the default


def test_saved_classifier_reloads_with_equal_probabilities_without_its_encoder_folder(toy_encoder, tmp_path):
    german = texts("deu")
    model = train_classifier(config_for(toy_encoder), texts("eng"), dev=texts("eng"))
    folder = model.save(tmp_path / "clf")
    meta = json.loads((folder / "xling.json").read_text("utf-8"))
    assert meta["kind"] == "classifier/frozen" and meta["labels"] == model.labels
    assert meta["encoder"] == "encoder" and (folder / "encoder" / "modules.json").is_file()  # copied in
    assert meta["config"]["encoder"] == str(toy_encoder) and "macro_f1" in meta["dev"]
    head = load_file(str(folder / "head.safetensors"))
    assert head["coef"].shape == (3, 12) and head["intercept"].shape == (3,)
    assert not [p for p in folder.rglob("*") if p.suffix in (".pkl", ".pickle", ".joblib")]
    shutil.rmtree(toy_encoder)  # the classifier is self-contained
    reloaded = load_classifier(folder)
    assert isinstance(reloaded, FrozenEncoderClassifier) and reloaded.labels == model.labels
    assert np.array_equal(reloaded.predict_proba(german.texts), model.predict_proba(german.texts))
    reloaded.save(tmp_path / "again")  # a reloaded classifier saves again, encoder copied once more
    assert np.array_equal(load_classifier(tmp_path / "again").predict_proba(german.texts),
                          model.predict_proba(german.texts))  # fmt: skip


def test_encoder_reference_rules(toy_encoder, tmp_path, monkeypatch):
    store = classifier_module._store_encoder
    (tmp_path / "a").mkdir()
    assert store("xling-mini", tmp_path / "a") == "xling-mini"  # a shipped name stays a name
    assert store("someone/some-model", tmp_path / "a") == "someone/some-model"  # a Hub id as given
    shipped = classifier_module.Path(classifier_module.__file__).parents[1] / "models" / "xling-mini"
    assert store(str(shipped), tmp_path / "a") == "xling-mini"  # the shipped folder by path: by name
    monkeypatch.setattr(classifier_module, "COPY_ENCODER_MAX_BYTES", 10)
    assert store(str(toy_encoder), tmp_path / "a") == str(toy_encoder.resolve())  # large: absolute path
    assert not (tmp_path / "a" / "encoder").exists()


def test_a_referenced_encoder_replaced_by_another_model_is_refused_at_load(
    toy_encoder, tmp_path, monkeypatch
):
    monkeypatch.setattr(classifier_module, "COPY_ENCODER_MAX_BYTES", 10)  # referenced, not copied in
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    folder = model.save(tmp_path / "clf")
    assert load_classifier(folder).labels == model.labels  # the same encoder passes its fingerprint
    shutil.rmtree(toy_encoder)
    build_encoder(toy_encoder, seed=1)  # another model of the same dimension, at the same path
    with pytest.raises(DataError, match=r"clf: the encoder .* is not the one this classifier was trained on"):
        load_classifier(folder)
    head = load_file(str(folder / "head.safetensors"))
    del head["encoder.probe"]  # a classifier saved before fingerprints loads as before
    save_file(head, str(folder / "head.safetensors"))
    assert load_classifier(folder).labels == model.labels


def test_fewer_than_two_labels_is_an_error(toy_encoder):
    one = LabelledTexts(["good day", "great day"], ["positive", "positive"], "one.tsv")
    with pytest.raises(DataError, match=r"one.tsv: a classifier needs at least 2 labels .* found 'positive'"):
        train_classifier(config_for(toy_encoder), one)


def test_a_dev_label_unknown_to_training_is_an_error(toy_encoder):
    dev = LabelledTexts(["good day", "bad day"], ["positive", "angry"], "dev.tsv", lines=[2, 4])
    with pytest.raises(DataError, match=r"dev.tsv:4: gold label 'angry' of example 2"):
        train_classifier(config_for(toy_encoder), texts("eng"), dev=dev)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"method": "magic"}, "method: 'magic' must be one of frozen, finetune"),
        ({"C": 0.0}, "C: must be > 0"),
        ({"C_grid": []}, "C_grid: must be a non-empty list"),
        ({"class_weight": "auto"}, "class_weight: 'auto' must be none or balanced"),
        ({"method": "finetune"}, "output: method finetune needs a folder"),
    ],
)
def test_bad_config_fields(fields, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ClassifierConfig, **fields)


def test_loading_what_is_not_a_classifier(tmp_path, toy_encoder):
    with pytest.raises(DataError, match="no such classifier folder"):
        load_classifier(tmp_path / "missing")
    with pytest.raises(DataError, match="no xling.json with a kind"):
        load_classifier(toy_encoder)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "xling.json").write_text('{"kind": "sentence-encoder/static"}', "utf-8")
    with pytest.raises(DataError, match="'sentence-encoder/static' is not a classifier"):
        load_classifier(tmp_path / "other")


def test_damaged_head_is_a_data_error(toy_encoder, tmp_path):
    folder = train_classifier(config_for(toy_encoder), texts("eng")).save(tmp_path / "clf")
    (folder / "head.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(DataError, match="head.safetensors"):
        load_classifier(folder)


def test_empty_text_at_prediction_is_a_data_error(toy_encoder):
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    with pytest.raises(DataError, match="text 1 is empty"):
        model.predict(["good day", "  "])


def offset_german(folder, **encoder_options):
    """Return a toy encoder folder (see build_encoder) whose German-only words are all moved far off by one
    constant vector: the language sits somewhere else in the space."""
    import torch
    from safetensors.torch import load_file as load_torch
    from safetensors.torch import save_file as save_torch

    build_encoder(folder, **encoder_options)
    table_path = next(folder.rglob("model.safetensors"))
    ((name, rows),) = load_torch(str(table_path)).items()
    vocab = json.loads(next(folder.rglob("tokenizer.json")).read_text("utf-8"))["model"]["vocab"]
    english_words = {w for text in texts("eng").texts for w in text.split()}
    offset = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(7)) * 20
    for word, row in vocab.items():
        if word not in english_words and word != "[UNK]":
            rows[row] += offset
    save_torch({name: rows.contiguous()}, str(table_path))
    return folder


def test_a_language_offset_is_removed_by_its_own_statistics(tmp_path):
    """German vectors moved far off by a constant: raw vectors fail to transfer, standardised ones do not."""
    folder = offset_german(tmp_path / "offset")
    english, german = texts("eng"), texts("deu")
    raw = train_classifier(config_for(folder, standardize=False, self_train_rounds=0), english)
    standardised = train_classifier(config_for(folder, self_train_rounds=0), english).adapt(
        "deu", german.texts
    )

    def accuracy(model) -> float:
        predicted = model.for_language("deu").predict(german.texts)
        return sum(p == g for p, g in zip(predicted, german.labels, strict=True)) / len(german)

    assert accuracy(raw) < 0.6 and accuracy(standardised) >= 0.9, (accuracy(raw), accuracy(standardised))
    saved = standardised.save(tmp_path / "clf")
    reloaded = load_classifier(saved)
    assert sorted(reloaded.standardization) == ["deu", "eng"]
    assert np.array_equal(reloaded.for_language("deu").predict_proba(german.texts),
                          standardised.for_language("deu").predict_proba(german.texts))  # fmt: skip


def test_adapting_needs_enough_texts_and_a_standardising_head(toy_encoder):
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    with pytest.raises(DataError, match="at least"):
        model.adapt("deu", texts("deu").texts[:10])
    raw = train_classifier(config_for(toy_encoder, standardize=False, self_train_rounds=0), texts("eng"))
    with pytest.raises(ConfigError, match="standardize"):
        raw.adapt("deu", texts("deu").texts)
    self_training = train_classifier(config_for(toy_encoder, standardize=False), texts("eng"))
    assert self_training.adapt("deu", texts("deu").texts).heads.keys() == {"deu"}  # raw vectors, own head


def test_self_training_fits_a_head_per_language_as_scikit_learn_would(toy_encoder):
    """One round: the source features plus the k most confident target texts of each predicted class, with
    those predictions as labels, refitted with the same C; the language then reads with that head."""
    from scipy.special import softmax
    from sklearn.linear_model import LogisticRegression

    english, german = texts("eng"), texts("deu")
    model = train_classifier(config_for(toy_encoder, C=0.5, self_train_rounds=1, self_train_per_class=4),
                             english)  # fmt: skip
    before = model.for_language("deu")
    model.adapt("deu", german.texts)
    x_source = model.training[0].astype(np.float32)
    assert np.allclose(x_source, model.features(english.texts), atol=1e-2)  # float16 copies of the features
    x_target = model.for_language("deu").features(german.texts)
    p = softmax((x_target @ before.coef.T + before.intercept).astype(np.float64), axis=1)
    guess, confidence = p.argmax(axis=1), p.max(axis=1)
    chosen = np.concatenate([np.flatnonzero(guess == k)[np.argsort(-confidence[guess == k], kind="stable")][:4]
                             for k in range(3)])  # fmt: skip
    assert len(chosen) == 12
    reference = LogisticRegression(C=0.5, max_iter=2000).fit(
        np.vstack([x_source, x_target[chosen]]), np.concatenate([model.training[1], guess[chosen]])
    )
    coef, intercept = model.heads["deu"]
    assert np.allclose(coef, reference.coef_, atol=1e-5) and np.allclose(
        intercept, reference.intercept_, atol=1e-5
    )
    assert not np.allclose(coef, model.coef)  # German has a head of its own ...
    assert np.allclose(
        model.for_language("deu").predict_proba(german.texts), reference.predict_proba(x_target), atol=1e-5
    )  # ... which it reads with
    assert np.array_equal(
        model.predict_proba(english.texts), before.for_language("eng").predict_proba(english.texts)
    )
    assert model.metadata["self_trained"]["deu"] == {
        "texts": len(german),
        "added": [{"negative": 4, "neutral": 4, "positive": 4}],
    }
    assert model.for_language("deu").predict(german.texts) == german.labels


def test_a_self_trained_classifier_reloads_and_self_trains_as_before_saving(toy_encoder, tmp_path):
    english, german = texts("eng"), texts("deu")
    model = train_classifier(config_for(toy_encoder, self_train_per_class=5), english, dev=texts("eng"))
    fresh = load_classifier(model.save(tmp_path / "trained"))  # saved with its training features
    model.adapt("deu", german.texts)
    fresh.adapt("deu", german.texts)
    assert all(np.array_equal(a, b) for a, b in zip(model.heads["deu"], fresh.heads["deu"], strict=True))
    folder = model.save(tmp_path / "adapted")
    head = load_file(str(folder / "head.safetensors"))
    assert {"coef.deu", "intercept.deu", "mean.deu", "std.deu", "train.features", "train.labels"} <= set(head)
    assert head["train.features"].dtype == np.float16 and head["train.features"].shape == (len(english), 12)
    meta = json.loads((folder / "xling.json").read_text("utf-8"))
    assert meta["self_trained_languages"] == ["deu"] and meta["self_train"] == {"rounds": 3, "per_class": 5}
    reloaded = load_classifier(folder)
    for language, data in (("deu", german), ("eng", english)):
        assert np.array_equal(reloaded.for_language(language).predict_proba(data.texts),
                              model.for_language(language).predict_proba(data.texts))  # fmt: skip
    # adapt_languages leaves a known language (and the source) as it is
    assert classifier_module.adapt_languages(reloaded, {"deu": german.texts, "eng": english.texts}) == []


def test_without_its_training_features_a_classifier_adapts_statistics_only(toy_encoder, tmp_path, monkeypatch,
                                                                           caplog):  # fmt: skip
    german = texts("deu")
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    monkeypatch.setattr(classifier_module, "TRAIN_FEATURES_MAX_BYTES", 10)
    with caplog.at_level("WARNING", logger="xling.transfer.classifier"):
        folder = model.save(tmp_path / "clf")
    assert "not saved" in caplog.text
    reloaded = load_classifier(folder)
    assert reloaded.training is None and reloaded.self_train_rounds == 3
    caplog.clear()
    with caplog.at_level("WARNING", logger="xling.transfer.classifier"):
        reloaded.adapt("deu", german.texts)
    assert "deu: no self-training" in caplog.text
    assert "deu" in reloaded.standardization and not reloaded.heads
    statistics_only = train_classifier(config_for(toy_encoder, self_train_rounds=0), texts("eng"))
    statistics_only.adapt("deu", german.texts)
    assert np.array_equal(reloaded.for_language("deu").predict_proba(german.texts),
                          statistics_only.for_language("deu").predict_proba(german.texts))  # fmt: skip


def test_adapt_languages_can_skip_self_training(toy_encoder):
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    assert classifier_module.adapt_languages(model, {"de": texts("deu").texts}, self_train=False) == ["deu"]
    assert "deu" in model.standardization and not model.heads


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"self_train_rounds": -1}, "self_train_rounds: must be 0 or more"),
     ({"self_train_per_class": 0}, "self_train_per_class: must be at least 1")],
)  # fmt: skip
def test_bad_self_training_fields(fields, message):
    with pytest.raises(ConfigError, match=message):
        load_config(ClassifierConfig, **fields)


def test_labelled_parts_of_several_languages_are_each_standardised_with_their_own_statistics(tmp_path):
    """Few-shot: English training data plus 4 labelled German examples per class, German far off in the
    space and with sentiment words of its own (so only its examples teach it). Each part is read with its
    own language's statistics (German's from its unlabelled texts), as texts are at prediction time."""
    from sklearn.linear_model import LogisticRegression

    folder = offset_german(tmp_path / "offset", dimension=32, shared=False)
    english, german = texts("eng"), texts("deu")
    shots = sample_per_class(german, 4, seed=0)
    config = config_for(folder, self_train_rounds=0)
    model = train_classifier(config, [english, shots], unlabelled={"de": german.texts})
    vectors = model.vectors(german.texts).astype(np.float64)
    assert sorted(model.standardization) == ["deu", "eng"] and model.source_language == "eng"
    assert np.allclose(model.standardization["deu"][0], vectors.mean(axis=0), atol=1e-4)
    assert np.allclose(model.standardization["deu"][1], vectors.std(axis=0), atol=1e-4)
    # the head is scikit-learn's on the parts so standardised, a German example weighing TARGET_WEIGHT
    x = np.vstack([model.for_language("eng").features(english.texts),
                   model.for_language("deu").features(shots.texts)])  # fmt: skip
    weights = np.r_[np.ones(len(english)), np.full(len(shots), TARGET_WEIGHT)]
    reference = LogisticRegression(C=1.0, max_iter=2000).fit(
        x, english.labels + shots.labels, sample_weight=weights
    )
    german_model = model.for_language("deu")
    assert np.allclose(german_model.predict_proba(german.texts),
                       reference.predict_proba(german_model.features(german.texts)), atol=1e-5)  # fmt: skip
    assert german_model.predict(shots.texts) == shots.labels  # the examples are read where they were learned
    # joined into one data set of no language (what few-shot training did before), the German examples were
    # standardised with the mixed data's statistics, mostly English ones, and sat where German texts never are
    joined = train_classifier(config, join_parts([english, shots])).adapt("deu", german.texts)
    assert joined.source_language == "und"
    assert joined.for_language("deu").predict(shots.texts) != shots.labels


def test_C_is_chosen_on_the_source_part_alone(toy_encoder, monkeypatch):
    """The dev split is in the source language: C is chosen by heads fitted on the source part only (the
    same choice and dev scores as without the German examples), then the head is refitted on all parts."""
    english, german = texts("eng"), texts("deu")
    shots = sample_per_class(german, 4, seed=0)
    config = config_for(toy_encoder, C_grid=[0.01, 1.0], self_train_rounds=0)
    alone = train_classifier(config, english, dev=texts("eng", source="dev"))
    fits = []
    logistic = classifier_module._logistic

    def spy(*args):
        model = logistic(*args)
        fit = model.fit

        def recorded(x, y, sample_weight=None):
            fits.append((len(x), None if sample_weight is None else sorted(set(sample_weight))))
            return fit(x, y, sample_weight=sample_weight)

        model.fit = recorded
        return model

    monkeypatch.setattr(classifier_module, "_logistic", spy)
    model = train_classifier(config, [english, shots], dev=texts("eng", source="dev"),
                             unlabelled={"deu": german.texts})  # fmt: skip
    assert fits == [(60, None), (60, None), (72, [1.0, TARGET_WEIGHT])]
    assert model.metadata["C"] == alone.metadata["C"]
    assert model.metadata["dev"]["C_grid"] == alone.metadata["dev"]["C_grid"]
    assert model.metadata["train"]["parts"][1] == {"source": shots.source, "language": "deu", "examples": 12}


def test_a_few_shot_classifier_self_trains_with_its_examples_and_reloads(toy_encoder, tmp_path):
    """Self-training a language with labelled examples refits on every training example (German ones
    weighing TARGET_WEIGHT) plus the most confident German texts; the examples' languages are saved, so the
    reloaded classifier self-trains the same way."""
    from scipy.special import softmax
    from sklearn.linear_model import LogisticRegression

    english, german = texts("eng"), texts("deu")
    shots = sample_per_class(german, 4, seed=0)
    config = config_for(toy_encoder, C=0.5, self_train_rounds=1, self_train_per_class=4)
    model = train_classifier(config, [english, shots], unlabelled={"deu": german.texts})
    x_train, rows = model.training[0].astype(np.float32), model.training[1]
    x_german = model.for_language("deu").features(german.texts)
    assert np.allclose(x_train[len(english) :], model.for_language("deu").features(shots.texts), atol=1e-2)
    p = softmax((x_german @ model.coef.T + model.intercept).astype(np.float64), axis=1)
    guess, confidence = p.argmax(axis=1), p.max(axis=1)
    chosen = np.concatenate([np.flatnonzero(guess == k)[np.argsort(-confidence[guess == k], kind="stable")][:4]
                             for k in range(3)])  # fmt: skip
    weights = np.r_[np.ones(len(english)), np.full(len(shots), TARGET_WEIGHT), np.ones(len(chosen))]
    reference = LogisticRegression(C=0.5, max_iter=2000).fit(
        np.vstack([x_train, x_german[chosen]]), np.r_[rows, guess[chosen]], sample_weight=weights
    )
    assert np.allclose(model.heads["deu"][0], reference.coef_, atol=1e-5)
    folder = model.save(tmp_path / "clf")
    head = load_file(str(folder / "head.safetensors"))
    meta = json.loads((folder / "xling.json").read_text("utf-8"))
    assert meta["train_languages"] == ["deu", "eng"] and meta["fit_options"]["target_weight"] == TARGET_WEIGHT
    assert head["train.languages"].tolist() == [1] * len(english) + [0] * len(shots)
    reloaded = load_classifier(folder)
    assert np.array_equal(reloaded.for_language("deu").predict_proba(german.texts),
                          model.for_language("deu").predict_proba(german.texts))  # fmt: skip
    # new German statistics: both re-standardise the German examples with them and self-train alike
    model.adapt("deu", german.texts[:55])
    reloaded.adapt("deu", german.texts[:55])
    assert all(np.array_equal(a, b) for a, b in zip(model.heads["deu"], reloaded.heads["deu"], strict=True))
    assert np.allclose(reloaded.training[0][len(english):].astype(np.float32),
                       reloaded.for_language("deu").features(shots.texts), atol=1e-2)  # fmt: skip


def test_a_classifier_saved_without_the_examples_languages_still_loads(toy_encoder, tmp_path):
    """Folders saved before labelled texts of several languages were taken hold source examples only."""
    from safetensors.numpy import save_file

    english, german = texts("eng"), texts("deu")
    model = train_classifier(config_for(toy_encoder, self_train_per_class=5), english)
    folder = model.save(tmp_path / "clf")
    head = load_file(str(folder / "head.safetensors"))
    del head["train.languages"]
    save_file(head, str(folder / "head.safetensors"))
    meta = json.loads((folder / "xling.json").read_text("utf-8"))
    del meta["train_languages"], meta["fit_options"]["target_weight"]
    (folder / "xling.json").write_text(json.dumps(meta), "utf-8")
    reloaded = load_classifier(folder)
    assert reloaded.training_languages is None and reloaded._weights() is None
    model.adapt("deu", german.texts)
    reloaded.adapt("deu", german.texts)
    assert np.array_equal(reloaded.for_language("deu").predict_proba(german.texts),
                          model.for_language("deu").predict_proba(german.texts))  # fmt: skip


def test_bad_parts_of_several_languages(toy_encoder):
    english, german = texts("eng"), texts("deu")
    config = config_for(toy_encoder)
    unnamed = LabelledTexts(german.texts, german.labels, "unnamed.tsv")
    with pytest.raises(
        DataError, match="unnamed.tsv: the training data mixes languages, so each part must name"
    ):
        train_classifier(config, [english, unnamed])
    shots = sample_per_class(german, 4, seed=0)
    with pytest.raises(DataError, match="12 labelled deu texts are too few .* give unlabelled deu texts"):
        train_classifier(config, [english, shots])
    with pytest.raises(DataError, match="10 unlabelled deu texts; at least 50"):
        train_classifier(config, [english, shots], unlabelled={"deu": german.texts[:10]})
    with pytest.raises(DataError, match=r"labels \['positive'\] occur only in parts of other languages"):
        train_classifier(config, [texts("eng", ("negative", "neutral")), german])
    # enough labelled texts of a language give its statistics when no unlabelled ones are
    assert sorted(train_classifier(config, [english, german]).standardization) == ["deu", "eng"]


@pytest.mark.parametrize("written", ["en", "english", "en-US"])
def test_the_source_language_is_the_source_however_its_code_was_written(toy_encoder, written, caplog):
    english = texts("eng")
    data = LabelledTexts(english.texts, english.labels, "toy", written)
    model = train_classifier(config_for(toy_encoder), data)
    assert model.source_language == written
    # its texts given as "eng" are the source: not adapted to as a language of their own, no head of their own
    adapted = classifier_module.adapt_languages(model, {"eng": english.texts, "de": texts("deu").texts})
    assert (
        adapted == ["deu"] and set(model.heads) == {"deu"} and set(model.standardization) == {written, "deu"}
    )
    caplog.clear()
    view = model.for_language("eng")
    assert view.predict(english.texts) == english.labels
    assert "no statistics" not in caplog.text  # read with the source's statistics, without a warning
    assert np.array_equal(view.predict_proba(english.texts), model.predict_proba(english.texts))
    # trained with unlabelled English texts: the source again, not a second language
    trained = train_classifier(config_for(toy_encoder), data, unlabelled={"eng": english.texts})
    assert not trained.heads and set(trained.standardization) == {written}


def test_too_few_unlabelled_texts_at_training_are_a_warning_naming_what_is_needed(tmp_path, caplog):
    import logging

    folder = offset_german(tmp_path / "offset", dimension=32, shared=False)
    with caplog.at_level(logging.WARNING, logger="xling"):
        model = train_classifier(config_for(folder, self_train_rounds=0), [texts("eng")],
                                 unlabelled={"deu": texts("deu").texts[:3]})  # fmt: skip
    assert "only 3 deu texts given with unlabelled: too few to adapt to" in caplog.text
    assert "deu" not in model.standardization


def test_saving_over_a_classifier_folder_keeps_the_files_save_does_not_write(toy_encoder, tmp_path):
    """`xling transfer adapt` saves over the classifier's folder: a user's predictions file (or folder)
    beside the model survives, while the model's own files are replaced."""
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    folder = model.save(tmp_path / "clf")
    (folder / "predictions.tsv").write_text("text\tlabel\n", encoding="utf-8")
    (folder / "notes").mkdir()
    (folder / "notes" / "a.txt").write_text("mine", encoding="utf-8")
    (folder / "head.safetensors").write_bytes(b"stale")  # written by save: replaced, not kept
    model.save(folder)
    assert (folder / "predictions.tsv").read_text(encoding="utf-8") == "text\tlabel\n"
    assert (folder / "notes" / "a.txt").read_text(encoding="utf-8") == "mine"
    german = texts("deu")
    assert np.array_equal(
        load_classifier(folder).predict_proba(german.texts), model.predict_proba(german.texts)
    )


def test_saving_over_a_classifier_folder_drops_the_old_classifiers_own_files(
    toy_encoder, tmp_path, monkeypatch
):
    """`transfer train --overwrite` with an encoder that is referenced, not copied: the old classifier's
    encoder/ copy was carried over beside the new head (a 42 MB stale encoder)."""
    folder = train_classifier(config_for(toy_encoder), texts("eng")).save(tmp_path / "clf")
    assert (folder / "encoder").is_dir()
    (folder / "predictions.tsv").write_text("text\tlabel\n", encoding="utf-8")
    # beside a frozen classifier, a file named like a fine-tuned model's is the user's: kept
    (folder / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(classifier_module, "COPY_ENCODER_MAX_BYTES", 0)
    model = train_classifier(config_for(toy_encoder), texts("eng"))
    model.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "head.safetensors",
        "predictions.tsv",
        "xling.json",
    ]
    assert json.loads((folder / "xling.json").read_text(encoding="utf-8"))["encoder"] == str(
        toy_encoder.resolve()
    )
    german = texts("deu")
    assert np.array_equal(
        load_classifier(folder).predict_proba(german.texts), model.predict_proba(german.texts)
    )
