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
    assert counts.sum() == len(ids) and counts[2].sum() == offsets[6] - offsets[4]
    scorer = NaiveBayesScorer.fit(counts, 0.5)
    queries = ["der gato sleeps", "the hund", "el", "zzz"]
    q_ids, q_offsets = featurizer.ids(queries)
    matrix = np.zeros((len(queries), 512))
    np.add.at(matrix, (np.repeat(np.arange(len(queries)), np.diff(q_offsets)), q_ids), 1)
    reference = MultinomialNB(alpha=0.5, fit_prior=False, force_alpha=True).fit(counts, [0, 1, 2])
    expected = reference.predict_joint_log_proba(matrix) - np.log(1 / 3)  # its uniform prior, taken out
    np.testing.assert_allclose(scorer.log_likelihoods(q_ids, q_offsets), expected, rtol=2e-3)
    with pytest.raises(ValueError, match="alpha"):
        NaiveBayesScorer.fit(counts, 0.0)


def test_fitted_temperature_recovers_the_true_one():
    rng = np.random.default_rng(0)
    true_logits = rng.normal(0, 2, size=(4000, 5))
    probabilities = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(5, p=row) for row in probabilities])
    # scores 30 times too sharp, as naive Bayes' sums over features are
    assert fit_temperature(30 * true_logits, gold) == pytest.approx(30, rel=0.1)
    assert fit_temperature(true_logits[:0], gold[:0]) == 1.0


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


def test_broken_naive_bayes_files_are_clear_errors(naive_bayes, tmp_path):
    import shutil

    folder = tmp_path / "broken"
    shutil.copytree(naive_bayes.output, folder)
    tensors = load_file(str(folder / "model.safetensors"))
    save_file(
        {**tensors, "log_ratio_indptr": tensors["log_ratio_indptr"][:-1]}, str(folder / "model.safetensors")
    )
    with pytest.raises(DataError, match="do not form a matrix of config.json's 16384 buckets and 9 labels"):
        LanguageIdentifier.from_pretrained(folder)
    save_file(
        {key: value for key, value in tensors.items() if key != "unseen"}, str(folder / "model.safetensors")
    )
    with pytest.raises(DataError, match=r"missing tensors \['unseen'\]"):
        LanguageIdentifier.from_pretrained(folder)
    config = json.loads((folder / "config.json").read_text("utf-8"))
    (folder / "config.json").write_text(json.dumps({**config, "family": "svm"}), "utf-8")
    with pytest.raises(DataError, match="family 'svm' is not one of linear, naive_bayes"):
        LanguageIdentifier.from_pretrained(folder)


def test_config_checks_family_and_alpha(tmp_path):
    with pytest.raises(ConfigError, match="family: must be one of linear, naive_bayes"):
        replace(tiny_config(tmp_path), family="svm").validate()
    with pytest.raises(ConfigError, match="alpha: must be above 0"):
        replace(tiny_config(tmp_path), family="naive_bayes", alpha=0).validate()
