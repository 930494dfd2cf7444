"""Tatoeba evaluation: the LASER/XTREME protocol on a folder the test writes, margin scoring, real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.result import Result
from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba, nearest_accuracy


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
    # eng->deu: "one" ties between "eins" and "vier" and the first candidate wins; "four" has no match
    assert scores["eng2src"] == 75.0 and scores["accuracy"] == 75.0
    assert result.to_dict()["task"] == "tatoeba" and json.dumps(result.to_dict())


def xsim_nearest(x, y, k):
    """Return each x row's best y row by LASER's xsim (source/xsim.py, _score_knn), step by step.

    An independent reference: cosine k nearest neighbours of x among y and of y among x, their mean
    cosines Ax and Ay, each of x's k candidates scored cos / ((Ax[i] + Ay[j]) / 2), the best of those k.
    """
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    y = y / np.linalg.norm(y, axis=1, keepdims=True)
    cos = x @ y.T
    near_xy = np.argsort(-cos, axis=1, kind="stable")[:, :k]
    near_yx = np.argsort(-cos.T, axis=1, kind="stable")[:, :k]
    avg_x = np.take_along_axis(cos, near_xy, 1).mean(1)
    avg_y = np.take_along_axis(cos.T, near_yx, 1).mean(1)
    best = []
    for i in range(len(x)):
        scores = [cos[i, j] / ((avg_x[i] + avg_y[j]) / 2) for j in near_xy[i]]
        best.append(near_xy[i][int(np.argmax(scores))])
    return np.array(best)


def test_margin_is_lasers_xsim_and_margin_full_is_not():
    """The default margin re-ranks only the k nearest by cosine (LASER); margin-full ranks every candidate."""
    differs, gain = 0, 0.0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(8, 3))
        y = x + rng.normal(scale=0.7, size=(8, 3))
        laser = (
            np.mean(xsim_nearest(x, y, 2) == np.arange(8)),
            np.mean(xsim_nearest(y, x, 2) == np.arange(8)),
        )
        assert nearest_accuracy(x, y, "margin", k=2) == pytest.approx(laser)
        differs += nearest_accuracy(x, y, "margin-full", k=2) != pytest.approx(laser)
        gain += sum(laser) - sum(nearest_accuracy(x, y, "cosine"))
    assert differs >= 2  # e.g. seed 3: margin 50.0 / 75.0, margin-full 62.5 / 75.0
    assert gain > 0  # the margin discounts hubs: more translations found than by cosine


def test_margin_with_one_neighbour_is_cosine():
    """With k=1 LASER's margin has one candidate per row: the cosine nearest neighbour."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 4)), rng.normal(size=(20, 4))
    assert nearest_accuracy(x, y, "margin", k=1) == nearest_accuracy(x, y, "cosine")


def test_sides_of_different_sizes_are_an_error_not_a_score():
    """An encoder that dropped a row scored 0.6 / 1.0 against the rows it kept."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 4))
    with pytest.raises(XlingError, match="hold 5 / 3 \\(vectors\\)"):
        nearest_accuracy(x, x[:3])
    with pytest.raises(XlingError, match="hold 5 / 5 / 5 / 4 \\(vectors / texts\\)"):
        nearest_accuracy(x, x, texts=(list("abcde"), list("abcd")))


def test_result_round_trips_and_names_its_primary_metric(tmp_path):
    table = {"a": np.array([1.0, 0.0]), "b": np.array([0.0, 1.0])}
    _write_tatoeba(tmp_path, "fra", ["a", "b"], ["a", "b"])
    result = evaluate_tatoeba(LookupEncoder(table), TatoebaConfig(data=str(tmp_path), languages=["fra"],
                                                                  scoring="margin"))  # fmt: skip
    assert result.primary == "accuracy" and result.scores["fra"]["accuracy"] == 100.0 == result.average
    assert result.settings == {"scoring": "margin", "k": 4}
    again = Result.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.to_dict() == result.to_dict() and again.primary_scores() == {"fra": 100.0}
    with pytest.raises(DataError, match="no primary"):
        Result.from_dict({k: v for k, v in result.to_dict().items() if k != "primary"})


def test_unknown_language_and_missing_folder_are_clear(tmp_path):
    _write_tatoeba(tmp_path, "deu", ["a"], ["b"])
    with pytest.raises(ConfigError, match="languages: 'fin': .*no Tatoeba files for fin"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data=str(tmp_path), languages=["fin"]))
    with pytest.raises(DataError, match="no Tatoeba files"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data=str(tmp_path / "nothing")))
    with pytest.raises(ConfigError, match="scoring: 'csls' must be one of cosine, margin, margin-full"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data=str(tmp_path), scoring="csls"))


def test_missing_data_says_where_it_looked_and_how_to_point_elsewhere(tmp_path, monkeypatch):
    """Defect 5.10: the default ../shared/data is resolved from the current directory; say so."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLING_DATA", raising=False)
    with pytest.raises(DataError) as default:
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig())
    message = str(default.value)
    assert str(tmp_path.parent / "shared" / "data") in message and str(tmp_path) in message
    assert "no --data or $XLING_DATA given" in message and "--data PATH or $XLING_DATA=PATH" in message
    monkeypatch.setenv("XLING_DATA", "elsewhere")
    with pytest.raises(DataError, match=r"\$XLING_DATA=elsewhere is .*elsewhere"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig())
    with pytest.raises(DataError, match=r"--data given is .*given.*--data PATH"):
        evaluate_tatoeba(LookupEncoder({}), TatoebaConfig(data="given"))


def test_a_sentence_listed_twice_is_found_at_either_copy_as_laser_counts():
    from xling.evaluation.translation_accuracy import retrieval_accuracy

    # rows 1 and 2 hold the same sentence on both sides: cosine ties send both to the first copy
    src = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    tgt = src.copy()
    texts = (["a", "b", "b"], ["A", "B", "B"])
    assert nearest_accuracy(src, tgt) == pytest.approx((2 / 3, 2 / 3))  # by index, row 2 missed
    assert nearest_accuracy(src, tgt, texts=texts) == (1.0, 1.0)  # by text (LASER's source/eval.py)
    assert retrieval_accuracy(src, tgt, texts=texts).average == 1.0


def _far_last_row() -> tuple[np.ndarray, np.ndarray]:
    """Return (x, y) unit rows whose row i translate each other, but x's last row points away from all y."""
    rng = np.random.default_rng(0)
    centre = np.zeros(8)
    centre[0] = 1
    y = centre + 0.2 * rng.normal(size=(5, 8))
    x = y + 0.05 * rng.normal(size=(5, 8))
    x[-1] = -centre  # every cosine with y is negative: its neighbourhood mean is below 0, no ratio margin
    return x / np.linalg.norm(x, axis=1, keepdims=True), y / np.linalg.norm(y, axis=1, keepdims=True)


def test_a_row_with_no_candidate_is_a_miss_not_the_last_or_first_row():
    """A ratio margin over a mean <= 0 scores -inf: the row found nothing, whatever row it would index."""
    from xling.retrieval.knn import top1_accuracy

    x, y = _far_last_row()
    texts = ([f"src {i}" for i in range(5)], [f"eng {i}" for i in range(5)])
    assert top1_accuracy(np.array([-1]), ["a"]) == 0.0  # texts[-1] is the row's own text
    assert nearest_accuracy(x, y, "margin", 4)[0] == pytest.approx(0.8)
    assert nearest_accuracy(x, y, "margin", 4, texts=texts)[0] == pytest.approx(0.8)
    assert nearest_accuracy(x, y, "margin-full", 4, texts=texts)[0] == pytest.approx(0.8)
    # margin-full: argmax of an all -inf row is 0, a hit when the far sentence is row 0
    swap = [4, 1, 2, 3, 0]
    assert nearest_accuracy(x[swap], y[swap], "margin-full", 4)[0] == pytest.approx(0.8)


def test_a_word_with_two_translations_is_right_at_either_as_bli_counts():
    from xling.evaluation.translation_accuracy import gold_retrieval_accuracy, retrieval_accuracy

    # acı -> "pain" and "suffered", each its own row; a perfect space puts acı between its two translations
    pain, suffered, house = np.eye(3)
    src = np.stack([pain + suffered, pain + suffered, house])
    tgt = np.stack([pain, suffered, house])
    words, glosses = ["acı", "acı", "ev"], ["pain", "suffered", "house"]
    assert retrieval_accuracy(src, tgt).average < 1.0  # row by row, one of acı's rows must miss
    score = gold_retrieval_accuracy(src, tgt, words, glosses)
    assert (score.src2tgt, score.tgt2src, score.n) == (1.0, 1.0, 2)
    wrong = gold_retrieval_accuracy(np.stack([house, house, pain]), tgt, words, glosses)
    assert wrong.src2tgt == 0.0  # acı finds "house", ev finds "pain"
    with pytest.raises(ValueError, match="aligned"):
        gold_retrieval_accuracy(src, tgt, words[:2], glosses)
