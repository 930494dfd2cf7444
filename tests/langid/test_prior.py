from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from xling.langid import LanguageIdentifier
from xling.langid.prior import FLOOR_MILLIONS, log_prior, speakers
from xling.langid.train import (
    LangidDataConfig,
    assign_labels,
    build_examples,
    collect_sources,
    train_identifier,
)

from .conftest import tiny_config


def test_log_prior_ranks_languages_by_speakers_and_scripts_share_theirs():
    labels = ["spa", "ast", "srp_Cyrl", "srp_Latn", "xyz"]
    prior = dict(zip(labels, log_prior(labels), strict=True))
    assert prior["spa"] > prior["srp_Latn"] == prior["srp_Cyrl"] > prior["ast"] > prior["xyz"]
    assert speakers("xyz") == FLOOR_MILLIONS  # a language the table does not list gets the floor
    assert abs(sum(prior.values())) < 1e-5  # centred: only differences between labels matter


def _close_call(identifier: LanguageIdentifier) -> tuple[str, str, str]:
    """Return (text, first label, second label) of a sample text the identifier is least sure of."""
    texts = ["das", "la", "en", "de", "Das ist gut.", "el gato", "le chat"]
    probabilities, _ = identifier.probabilities(texts)
    margins = np.sort(probabilities, axis=1)[:, -1] - np.sort(probabilities, axis=1)[:, -2]
    row = int(margins.argmin())
    first, second = np.argsort(-probabilities[row])[:2]
    return texts[row], identifier.labels[first], identifier.labels[second]


def test_prior_tips_a_close_call_and_is_saved_and_reloaded(sample_identifier, tmp_path):
    text, first, second = _close_call(sample_identifier)
    assert sample_identifier.detect(text).label == first
    # a prior that favours the runner-up by 10 nats (weight 0.5) tips the answer to it
    prior = np.array(
        [10.0 if label == second else 0.0 for label in sample_identifier.labels], dtype=np.float32
    )
    tipped = replace(sample_identifier, log_prior=prior, prior_weight=0.5)
    assert tipped.detect(text).label == second
    assert replace(tipped, prior_weight=0.0).detect(text).label == first  # weight 0: no prior
    # every detector carries the speakers prior, off until weighted
    assert sample_identifier.prior_weight == 0.0 and sample_identifier.log_prior is not None
    folder = tipped.save_pretrained(tmp_path / "with-prior")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config["prior_weight"] == 0.5 and config["log_prior"][second] == 10.0
    reloaded = LanguageIdentifier.from_pretrained(folder)
    assert reloaded.prior_weight == 0.5
    assert reloaded.detect(text).label == second
    np.testing.assert_allclose(reloaded.probabilities([text])[0], tipped.probabilities([text])[0], rtol=1e-5)


def test_held_out_lines_do_not_depend_on_the_training_caps():
    # runs with different caps are compared on the same held-out lines
    grouped = assign_labels(collect_sources(LangidDataConfig(corpora=["sample"])))
    _, few = build_examples(grouped, LangidDataConfig(corpora=["sample"], max_units_per_label=20), seed=0)
    _, many = build_examples(grouped, LangidDataConfig(corpora=["sample"], max_units_per_label=500), seed=0)
    assert few.lines.texts and few.lines.texts == many.lines.texts
    assert few.short.texts == many.short.texts and few.medium.texts == many.medium.texts


def test_trainer_saves_the_speakers_prior_with_its_weight(tmp_path):
    config = replace(tiny_config(tmp_path / "det"), prior_weight=0.3, epochs=1)
    identifier = LanguageIdentifier.from_pretrained(train_identifier(config).output)
    assert identifier.prior_weight == 0.3
    np.testing.assert_allclose(identifier.log_prior, log_prior(identifier.labels), rtol=1e-6)
