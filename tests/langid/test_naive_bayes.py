"""The naive-Bayes family of the detector: scikit-learn's MultinomialNB stored sparse, trained by counting,
calibrated by a fitted temperature, saved and loaded like the linear family."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from xling.errors import ConfigError, DataError
from xling.langid import LanguageIdentifier
from xling.langid.features import FeatureConfig, Featurizer
from xling.langid.scorers import NaiveBayesScorer
from xling.langid.train import Examples, count_features, fit_temperature, train_identifier

from .conftest import tiny_config

UNSEEN = {  # sentences written for this test: not in the bundled sample
    "deu": "Mein Bruder repariert morgen das alte Fahrrad im Keller.",
    "fra": "Ma sœur prépare une tarte aux pommes pour les voisins.",
    "spa": "Los niños juegan en el parque hasta que anochece.",
    "rus": "Вчера вечером мы долго гуляли по набережной.",
}


@pytest.fixture(scope="module")
def naive_bayes(tmp_path_factory):
    config = replace(
        tiny_config(tmp_path_factory.mktemp("nb") / "detector"), family="naive_bayes", alpha=0.05
    )
    return train_identifier(config)


def test_scores_are_scikit_learns_multinomial_naive_bayes():
    from sklearn.naive_bayes import MultinomialNB

    featurizer = Featurizer(FeatureConfig(buckets=512))
    texts = ["der hund schläft", "die katze", "the dog sleeps", "the cat", "el perro duerme", "el gato"]
    examples = Examples(texts, [0, 0, 1, 1, 2, 2])
    counts = count_features(featurizer, examples, 3, chunk=4)  # two chunks
    ids, offsets = featurizer.ids(texts)
    exact = np.zeros((3, 512))
    np.add.at(exact, (np.repeat([0, 0, 1, 1, 2, 2], np.diff(offsets)), ids), 1)
    assert np.array_equal(counts, exact)
    scorer = NaiveBayesScorer.fit(counts, 0.5)
    queries = ["der gato sleeps", "the hund", "el", "zzz"]
    q_ids, q_offsets = featurizer.ids(queries)
    matrix = np.zeros((len(queries), 512))
    np.add.at(matrix, (np.repeat(np.arange(len(queries)), np.diff(q_offsets)), q_ids), 1)
    reference = MultinomialNB(alpha=0.5, fit_prior=False, force_alpha=True).fit(counts, [0, 1, 2])
    expected = reference.predict_joint_log_proba(matrix) - np.log(1 / 3)  # its uniform prior, taken out
    # the log-ratios are stored as float16: an absolute error of a few hundredths on sums of tens
    np.testing.assert_allclose(scorer.log_likelihoods(q_ids, q_offsets), expected, rtol=0, atol=0.05)
    for alpha in (0.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            NaiveBayesScorer.fit(counts, alpha)


def test_fitted_temperature_recovers_the_true_one():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=(4000, 5))
    probabilities = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(5, p=row) for row in probabilities])
    # scores 30 times too sharp, as naive Bayes' sums over features are
    assert fit_temperature(30 * true_logits, gold) == pytest.approx(30, rel=0.1)
    assert fit_temperature(true_logits[:0], gold[:0]) == 1.0


def test_temperature_fit_refuses_nan_and_warns_at_the_edge_of_its_search(caplog):
    gold = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="not finite"):
        fit_temperature(np.array([[0.0, np.nan]] * 4), gold)
    separated = np.where(np.eye(2)[gold] > 0, 0.0, -1000.0)  # every text right by a wide margin
    with caplog.at_level("WARNING"):
        assert fit_temperature(separated, gold) <= 0.1
    assert "end of its search" in caplog.text
    # an optimum just inside the search is found, without a warning
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, size=(4000, 5))
    probabilities = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    sampled = np.array([rng.choice(5, p=row) for row in probabilities])
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert fit_temperature(0.12 * true_logits, sampled) == pytest.approx(0.12, rel=0.1)
    assert "end of its search" not in caplog.text


def test_trained_by_counting_tells_languages_apart_and_reloads(naive_bayes, tmp_path):
    detector = naive_bayes.identifier
    assert detector.family == "naive_bayes" and naive_bayes.dev_accuracy > 0.9
    assert detector.scorer.temperature > 1  # the raw sums are overconfident
    predictions = detector.predict(list(UNSEEN.values()))
    assert [p[0].label for p in predictions] == list(UNSEEN)
    assert all(0.3 < p[0].probability <= 1 for p in predictions)
    assert detector.detect("12345 :-)").label == "und"
    config = json.loads((naive_bayes.output / "config.json").read_text("utf-8"))
    assert config["family"] == "naive_bayes" and config["alpha"] == 0.05 and "dim" not in config
    reloaded = LanguageIdentifier.from_pretrained(naive_bayes.output)
    texts = [*UNSEEN.values(), "ok", "Das Haus"]
    assert np.array_equal(reloaded.probabilities(texts)[0], detector.probabilities(texts)[0])
    # one text alone gets the same bits as in a batch
    alone = np.stack([detector.probabilities([text])[0][0] for text in texts])
    assert np.array_equal(alone, detector.probabilities(texts)[0])
    weights_file = (naive_bayes.output / "model.safetensors").stat().st_size
    assert (
        reloaded.size_bytes == detector.size_bytes and 0 <= weights_file - detector.size_bytes < 1024
    )  # header


def _twice_in_a_bucket(t):
    """The weights with the first bucket that holds two labels listing its first label twice."""
    indptr, labels = t["log_ratio_indptr"], t["log_ratio_labels"].copy()
    start = indptr[:-1][np.diff(indptr) >= 2][0]
    labels[start + 1] = labels[start]
    return {**t, "log_ratio_labels": labels}


BROKEN_TENSORS = {  # what a broken or hand-made weights file may hold, and the error it must give
    "indptr one short": (lambda t: {**t, "log_ratio_indptr": t["log_ratio_indptr"][:-1]},
                         "do not form a matrix of config.json's 16384 buckets and 9 labels"),
    "no unseen": (lambda t: {k: v for k, v in t.items() if k != "unseen"}, r"missing tensors \['unseen'\]"),
    "negative label": (lambda t: {**t, "log_ratio_labels": t["log_ratio_labels"].astype(np.int32) - 1},
                       "do not form a matrix"),
    "label twice in a bucket": (_twice_in_a_bucket, "must increase within each bucket"),
    "NaN value": (lambda t: {**t, "log_ratio_values": np.where(np.arange(len(t["log_ratio_values"])) == 3, np.nan,
                                                               t["log_ratio_values"]).astype(np.float16)}, "not finite"),
    "infinite unseen": (lambda t: {**t, "unseen": np.full_like(t["unseen"], -np.inf)}, "not finite"),
    "float64 past float32": (lambda t: {**t, "unseen": np.full(t["unseen"].shape, -1e300)}, "not finite"),
    "float pointers": (lambda t: {**t, "log_ratio_indptr": t["log_ratio_indptr"].astype(np.float32)},
                       "'log_ratio_indptr' must hold integers"),
    "2-D values": (lambda t: {**t, "log_ratio_values": t["log_ratio_values"][:, None]}, "must be 1-D"),
    "integer unseen": (lambda t: {**t, "unseen": t["unseen"].astype(np.int32)}, "'unseen' must hold floats"),
}  # fmt: skip

BROKEN_CONFIG = {  # config.json entries that cannot be (from the saved config), and the error they must give
    "infinite temperature": (lambda c: {"temperature": float("inf")}, "temperature must be a finite number"),
    "vanishing temperature": (lambda c: {"temperature": 1e-320}, "temperature must be a finite number of at least"),
    "text temperature": (lambda c: {"temperature": "hot"}, "temperature must be a finite number .*, not 'hot'"),
    "no alpha": (lambda c: {"alpha": None}, "alpha must be a finite number"),
    "list family": (lambda c: {"family": ["naive_bayes"]}, r"family \['naive_bayes'\] is not one of"),
    "threshold 2": (lambda c: {"threshold": 2}, r"threshold must be a finite number in \[0, 1\]"),
    "huge threshold": (lambda c: {"threshold": 10**400}, "threshold must be a finite number"),
    "null threshold": (lambda c: {"threshold": None}, "threshold must be a finite number in .*, not None"),
    "text prior weight": (lambda c: {"prior_weight": "x"}, "prior_weight must be a finite number"),
    "no labels": (lambda c: {"labels": None}, "labels must be a non-empty list"),
    "a label twice": (lambda c: {"labels": [*c["labels"][:-1], c["labels"][0]]}, "labels repeat: "),
    "no code": (lambda c: {"labels": [*c["labels"][:-1], "!!"]}, "labels that are no language code: '!!'"),
    "garbled features": (lambda c: {"features": {"buckets": 16384, "colour": 1}},
                         "features must be the feature settings"),
    "text buckets": (lambda c: {"features": {"buckets": "many"}}, "buckets must be a whole number"),
    # each n up to max_n is a pass over the text: a long text's featurising was quadratic in it
    "huge max_n": (lambda c: {"features": {**c["features"], "max_n": 10**6}}, r"min_n <= max_n <= 16, not"),
    "text words": (lambda c: {"features": {**c["features"], "words": "no"}}, "features.words must be true or false"),
    "NaN prior": (lambda c: {"log_prior": {**c["log_prior"], "deu": float("nan")}}, "log_prior.deu must be a finite"),
    "huge prior": (lambda c: {"log_prior": {**c["log_prior"], "deu": -1e300}}, "log_prior.deu must be a finite"),
}  # fmt: skip


@pytest.mark.parametrize("case", BROKEN_TENSORS)
def test_broken_naive_bayes_weights_are_clear_errors_naming_the_file(naive_bayes, tmp_path, case):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(naive_bayes.output, folder)
    change, message = BROKEN_TENSORS[case]
    save_file(change(load_file(str(folder / "model.safetensors"))), str(folder / "model.safetensors"))
    with pytest.raises(DataError, match=message) as error:
        LanguageIdentifier.from_pretrained(folder)
    assert "model.safetensors" in str(error.value)


@pytest.mark.parametrize("case", BROKEN_CONFIG)
def test_broken_naive_bayes_configs_are_clear_errors_naming_the_file(naive_bayes, tmp_path, case):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(naive_bayes.output, folder)
    config = json.loads((folder / "config.json").read_text("utf-8"))
    change, message = BROKEN_CONFIG[case]
    (folder / "config.json").write_text(json.dumps({**config, **change(config)}), "utf-8")
    with pytest.raises(DataError, match=message) as error:
        LanguageIdentifier.from_pretrained(folder)
    assert "broken/config.json" in str(error.value)


def test_unreadable_detector_files_are_clear_errors(naive_bayes, tmp_path):
    import shutil

    import torch
    from safetensors.torch import save_file as save_torch

    folder = tmp_path / "broken"
    shutil.copytree(naive_bayes.output, folder)
    weights, config = folder / "model.safetensors", folder / "config.json"
    tensors = {name: torch.from_numpy(array) for name, array in load_file(str(weights)).items()}
    for damage, message in [
        (lambda: weights.unlink(), "missing: the detector's weights"),
        (lambda: weights.write_bytes(b"not safetensors"), "not a readable safetensors file"),
        # numpy reads bfloat16 only once ml_dtypes (imported by onnx) has registered it
        (
            lambda: save_torch({**tensors, "unseen": torch.zeros(9, dtype=torch.bfloat16)}, str(weights)),
            "numpy cannot read|'unseen' must hold floats",
        ),
    ]:
        damage()
        with pytest.raises(DataError, match=message):
            LanguageIdentifier.from_pretrained(folder)
    config.write_text("[1, 2]", "utf-8")
    with pytest.raises(DataError, match="expected a JSON object, found list"):
        LanguageIdentifier.from_pretrained(folder)
    config.write_bytes(b'{"model_type": "\xff"}')
    with pytest.raises(DataError, match="not UTF-8"):
        LanguageIdentifier.from_pretrained(folder)


def test_card_information_never_replaces_the_models_own_settings(naive_bayes, tmp_path):
    detector = naive_bayes.identifier
    copy = replace(detector, info={**detector.info, "family": "linear", "temperature": 99.0, "note": "kept"})
    config = json.loads((copy.save_pretrained(tmp_path / "saved") / "config.json").read_text("utf-8"))
    assert config["family"] == "naive_bayes" and config["temperature"] == detector.scorer.temperature
    assert config["note"] == "kept"


def test_config_checks_family_and_alpha(tmp_path):
    with pytest.raises(ConfigError, match="family: must be one of linear, naive_bayes"):
        replace(tiny_config(tmp_path), family="svm").validate()
    for alpha in (0, float("inf")):
        with pytest.raises(ConfigError, match="alpha: must be a finite number above 0"):
            replace(tiny_config(tmp_path), family="naive_bayes", alpha=alpha).validate()
