"""Tatoeba evaluation: the LASER/XTREME protocol on a folder the test writes, margin scoring, real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xling.errors import ConfigError, DataError
from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba, nearest_accuracy, ratio_margin


class LookupEncoder:
    """Maps each known sentence to a fixed vector: a translation shares its vector unless told otherwise."""

    name = "lookup"

    def __init__(self, table):
        self.table = table

    def encode(self, texts, batch_size=64, show_progress=None):
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def _write_tatoeba(root, lang, xx, eng):
    (root / f"tatoeba.{lang}-eng.{lang}").write_text("\n".join(xx) + "\n", encoding="utf-8")
    (root / f"tatoeba.{lang}-eng.eng").write_text("\n".join(eng) + "\n", encoding="utf-8")


def test_scores_both_directions_per_language(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    eng = ["one", "two", "three", "four"]
    deu = ["eins", "zwei", "drei", "vier"]
    table = {**dict(zip(eng, vectors, strict=True)), **dict(zip(deu, vectors, strict=True))}
    table["vier"] = vectors[0]  # "vier" looks like "one": deu->eng misses it; eng->deu "one" ties with "eins"
    _write_tatoeba(tmp_path, "deu", deu, eng)
    result = evaluate_tatoeba(LookupEncoder(table), TatoebaConfig(data=str(tmp_path), languages=["de"]))
    scores = result.scores["deu"]
    assert scores["src2eng"] == 75.0 and scores["n"] == 4
    assert result.to_dict()["task"] == "tatoeba" and json.dumps(result.to_dict())


def test_margin_discounts_hubs():
    sims = np.array([[0.9, 0.8, 0.1], [0.85, 0.7, 0.1], [0.8, 0.1, 0.75]])
    assert nearest_accuracy(sims, np.eye(3), "cosine")[0] == pytest.approx(1 / 3)  # column 0 is a hub
    margin = ratio_margin(sims, k=2)
    assert margin[0, 0] == pytest.approx(0.9 / ((0.85 + 0.875) / 2))
    assert (margin.argmax(1) == [0, 1, 2]).sum() > 1  # the hub loses rows to their real translations


def test_unknown_language_and_missing_folder_are_clear(tmp_path):
    _write_tatoeba(tmp_path, "deu", ["a"], ["b"])
    with pytest.raises(ConfigError, match="no Tatoeba files for 'fin'"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data=str(tmp_path), languages=["fin"]))
    with pytest.raises(DataError, match="no Tatoeba files"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data=str(tmp_path / "nothing")))
