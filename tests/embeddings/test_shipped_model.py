"""The shipped xling-mini: loads by name on a fresh clone and reproduces the scores its model card states."""

from __future__ import annotations

import json

import pytest

from xling.embeddings.encoder import SHIPPED_MODELS, Encoder

MODEL = SHIPPED_MODELS / "xling-mini"
pytestmark = pytest.mark.skipif(
    not (MODEL / "modules.json").is_file(), reason="src/xling/models/xling-mini not shipped"
)


def test_loads_by_name_small_and_cross_lingual():
    encoder = Encoder.load("xling-mini")
    size = sum(p.stat().st_size for p in MODEL.rglob("*") if p.is_file())
    assert size < 42 * 2**20
    vectors = encoder.encode(["Where is the train station?", "Wo ist der Bahnhof?", "Где вокзал?",
                              "I would like to pay by card.", "Ich möchte mit Karte bezahlen."])  # fmt: skip
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[1, 3] and sims[0, 2] > sims[2, 3] and sims[3, 4] > sims[0, 4]


@pytest.mark.parametrize("scoring", ["cosine", "margin"])
def test_reproduces_the_tatoeba_scores_of_its_card(shared_data_dir, scoring):
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba

    card = json.loads((MODEL / "xling.json").read_text(encoding="utf-8"))["scores"][f"tatoeba_{scoring}"]
    result = evaluate_tatoeba(Encoder.load("xling-mini"), TatoebaConfig(data=str(shared_data_dir), scoring=scoring,
                                                                      languages=list(card["scores"])))  # fmt: skip
    for lang, row in card["scores"].items():
        assert result.scores[lang]["src2eng"] == pytest.approx(row["src2eng"], abs=0.11)
        assert result.scores[lang]["eng2src"] == pytest.approx(row["eng2src"], abs=0.11)
    assert result.average == pytest.approx(card["average"], abs=0.05)


def test_its_tokenizer_sets_no_truncation_so_whole_texts_are_read():
    """A static encoder keeps the truncation its tokenizer.json sets (as sentence-transformers does):
    xling-mini's sets none, so its vectors are those of whole texts."""
    encoder = Encoder.load("xling-mini")
    assert encoder.module.tokenizer.truncation is None and encoder.module.max_length is None
    long_text = "Where is the train station? " * 600
    assert encoder.encode_with_stats([long_text])[1].truncated == 0
