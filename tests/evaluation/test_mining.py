"""The BUCC-style Bible mining test: building it, scoring it, and a run on the real Bible when present."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from xling.errors import ConfigError, DataError
from xling.evaluation.mining import (
    MiningEvalConfig,
    best_f1,
    build_mining_test,
    evaluate_mining,
    evaluate_mining_from_config,
)
from xling.retrieval.mining import MineConfig, MinedPair

REPO = Path(__file__).resolve().parents[2]


def _fake_encoder_class():
    """Return the FakeEncoder of tests/retrieval/conftest.py (loaded by path: conftest is not importable)."""
    spec = importlib.util.spec_from_file_location(
        "xling_test_fake_encoder", REPO / "tests/retrieval/conftest.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FakeEncoder


FakeEncoder = _fake_encoder_class()
BOOKS = {"GEN": (6, 12), "PSA": (4, 10), "MAT": (6, 12), "JHN": (3, 10)}  # book: (chapters, verses)


def make_bible(root: Path, seed: int = 0) -> Path:
    """Write eng.tsv and deu.tsv where each German verse is its English verse slightly changed."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    eng, deu = [], []
    for book, (chapters, verses) in BOOKS.items():
        for chapter in range(1, chapters + 1):
            for verse in range(1, verses + 1):
                words = ["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(rng.integers(6, 11))]
                text = " ".join(words)
                ident = f"{book}.{chapter}.{verse}"
                eng.append(f"{ident}\t{text}")
                if ident != "JHN.1.5":  # a verse missing in German: not a gold pair
                    deu.append(f"{ident}\t{text.capitalize()} und so")
    # (no verse only one side has at a chapter's end: that chapter would be numbered otherwise, no gold pairs)
    root.mkdir(parents=True, exist_ok=True)
    (root / "eng.tsv").write_text("\n".join(eng) + "\n", encoding="utf-8")
    (root / "deu.tsv").write_text("\n".join(deu) + "\n", encoding="utf-8")
    (root / "languages.tsv").write_text("code\tname\neng\tEnglish\n", encoding="utf-8")  # ignored
    return root


def test_build_mining_test(tmp_path):
    bible = make_bible(tmp_path / "bible")
    test = build_mining_test(bible, "en", "deu", book="JHN", n_distractors=60, seed=1)
    assert (test.src_lang, test.tgt_lang, test.pair) == ("eng", "deu", "eng-deu")
    assert len(test.gold) == 29 and len(test.src) == len(test.tgt) == 29 + 60
    eng = dict(line.split("\t") for line in (bible / "eng.tsv").read_text(encoding="utf-8").splitlines())
    for i, j in test.gold:
        assert test.src_ids[i] == test.tgt_ids[j] and test.src_ids[i].startswith("JHN.")
    assert "JHN.1.5" not in test.src_ids
    assert [eng[i] for i in test.src_ids] == test.src
    src_other = {i for i in test.src_ids if not i.startswith("JHN.")}
    tgt_other = {i for i in test.tgt_ids if not i.startswith("JHN.")}
    assert len(src_other) == len(tgt_other) == 60
    # no distractor's translation is on the other side: no book is on both, nor are Genesis and the Psalms
    # (PARALLEL_BOOKS: they share passages with Samuel, Kings and Chronicles)
    src_books, tgt_books = ({i.split(".", 1)[0] for i in ids} for ids in (src_other, tgt_other))
    assert not src_books & tgt_books and {"GEN", "PSA"} in (
        {"GEN", "PSA"} & src_books,
        {"GEN", "PSA"} & tgt_books,
    )
    gold_positions = sorted(i for i, _ in test.gold)
    assert gold_positions != list(range(29))  # shuffled, not gold first

    again = build_mining_test(bible, "eng", "deu", n_distractors=60, seed=1)
    assert again.src == test.src and again.tgt == test.tgt and again.gold == test.gold
    assert build_mining_test(bible, "eng", "deu", n_distractors=60, seed=2).src != test.src
    default = build_mining_test(bible, "eng", "deu")  # as many distractors as both sides have
    assert len(default.src) == len(default.tgt) > 29 + 60


def test_build_mining_test_errors(tmp_path):
    bible = make_bible(tmp_path / "bible")
    with pytest.raises(DataError, match=r"bible: 500 distractors per side asked for"):
        build_mining_test(bible, "eng", "deu", n_distractors=500)
    with pytest.raises(DataError, match="book REV has no verse in both eng and deu"):
        build_mining_test(bible, "eng", "deu", book="REV")
    with pytest.raises(ConfigError, match="same language"):
        build_mining_test(bible, "en", "eng")
    with pytest.raises(ConfigError, match="n_distractors"):
        build_mining_test(bible, "eng", "deu", n_distractors=-1)
    with pytest.raises(DataError, match="no file for language"):
        build_mining_test(bible, "eng", "fra")


def test_build_mining_test_refuses_two_codes_of_one_file(tmp_path):
    # the corpus keeps zh under its file's code: zho and cmn (fil and tgl) would mine cmn.tsv against itself
    bible = make_bible(tmp_path / "bible")
    (bible / "deu.tsv").rename(bible / "cmn.tsv")
    with pytest.raises(ConfigError, match=r"same language \(zho and cmn both read the cmn file\)"):
        build_mining_test(bible, "zh", "cmn", n_distractors=10)
    (bible / "cmn.tsv").rename(bible / "tgl.tsv")
    with pytest.raises(ConfigError, match="same language"):
        build_mining_test(bible, "tgl", "fil", n_distractors=10)
    test = build_mining_test(bible, "eng", "fil", n_distractors=10)  # still the requested code
    assert (test.src_lang, test.tgt_lang, len(test.gold)) == ("eng", "fil", 29)


def test_best_f1_by_hand():
    gold = frozenset({(0, 0), (1, 1), (2, 2)})
    pairs = [MinedPair(0, 0, 0.9), MinedPair(5, 5, 0.8), MinedPair(1, 1, 0.7), MinedPair(6, 6, 0.6)]
    score = best_f1(pairs, gold, (10, 10))
    # cut after 0.9: P 1, R 1/3, F .5; 0.8: P .5, F .4; 0.7: P 2/3, R 2/3, F 2/3; 0.6: P .5, F .571
    assert (score.precision, score.recall, score.f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    assert score.threshold == 0.7 and (score.mined, score.correct, score.candidates) == (3, 2, 4)
    # a wrong pair tied with a right one cannot be cut apart from it
    tied = best_f1([MinedPair(0, 0, 0.9), MinedPair(4, 4, 0.9)], frozenset({(0, 0)}), (5, 5))
    assert (tied.precision, tied.mined) == (0.5, 2)
    none = best_f1([MinedPair(4, 4, 0.9)], gold, (5, 5))
    assert none.f1 == 0 and none.threshold is None


def test_evaluate_mining_with_fake_encoder(tmp_path):
    test = build_mining_test(make_bible(tmp_path / "bible"), "eng", "deu", n_distractors=60)
    result = evaluate_mining(FakeEncoder(), test, MineConfig(k=4))
    score = result.scores["eng-deu"]
    assert score["f1"] >= 0.95 and score["gold"] == 29 and score["sentences"] == [89, 89]
    report = json.loads(json.dumps(result.to_dict()))
    assert report["task"] == "mining" and report["model"] == "fake-trigram-256"
    assert set(report["scores"]["eng-deu"]) >= {"precision", "recall", "f1", "threshold"}
    assert report["average"] == pytest.approx(score["f1"]) and report["seconds"] >= 0
    assert "JHN" in report["data"] and report["settings"]["mode"] == "intersect" and report["primary"] == "f1"


def test_mining_from_config_finds_the_bible_in_the_data_root(tmp_path):
    make_bible(tmp_path / "bible")
    config = MiningEvalConfig(data=str(tmp_path), languages=["deu"], pivot="eng", distractors=60)
    result = evaluate_mining_from_config(FakeEncoder(), config)
    assert list(result.scores) == ["deu-eng"] and result.scores["deu-eng"]["gold"] == 29
    assert str((tmp_path / "bible").absolute()) in result.data
    with pytest.raises(DataError, match=r"no aligned corpus files .*--data PATH or \$XLING_DATA=PATH"):
        evaluate_mining_from_config(FakeEncoder(), MiningEvalConfig(data=str(tmp_path / "none")))
    with pytest.raises(ConfigError, match="book"):
        evaluate_mining_from_config(FakeEncoder(), MiningEvalConfig(data=str(tmp_path), book="JHN.1"))


def _bible_dir() -> Path | None:
    root = Path(os.environ.get("XLING_DATA", REPO.parent / "shared" / "data")) / "bible"
    return root if (root / "eng.tsv.gz").is_file() and (root / "deu.tsv.gz").is_file() else None


@pytest.mark.skipif(_bible_dir() is None, reason="../shared/data/bible is not here")
def test_real_bible_mining_test():
    test = build_mining_test(_bible_dir(), "eng", "deu", book="JHN", n_distractors=1000, seed=0)
    assert 850 <= len(test.gold) <= 900  # John has 879 verses
    assert len(test.src) == len(test.tgt) == len(test.gold) + 1000
    src_other = {i for i in test.src_ids if not i.startswith("JHN.")}
    tgt_other = {i for i in test.tgt_ids if not i.startswith("JHN.")}
    assert not src_other & tgt_other
    # the shipped xling-mini (John held out of its training) mines John's verse pairs among 1,000
    # distractors a side: measured F1 0.91 (chance is about 0)
    from xling.embeddings.encoder import Encoder

    result = evaluate_mining(Encoder.load("xling-mini"), test, MineConfig())
    score = result.scores["eng-deu"]
    assert score["f1"] > 0.8 and score["gold"] == len(test.gold)


def test_gold_pairs_leave_out_chapters_numbered_otherwise(tmp_path, caplog):
    """As the training bank (xling.data.versification): a chapter one language numbers otherwise gives no
    gold pair, as its verses of one id are not translations of each other, and the count is logged."""
    bible = make_bible(tmp_path / "bible")
    with (bible / "deu.tsv").open("a", encoding="utf-8") as handle:  # German John 2 runs to verse 11
        handle.write("JHN.2.11\tein Vers mehr und so\n")
    with caplog.at_level("INFO", logger="xling.data.versification"):
        test = build_mining_test(bible, "deu", "eng", book="JHN", n_distractors=10)
    assert len(test.gold) == 29 - 10
    assert not [i for i in (*test.src_ids, *test.tgt_ids) if i.startswith("JHN.2.")]
    assert "deu-eng: left out 10 gold pairs in 1 chapters" in caplog.text


def test_gold_pairs_leave_out_psalms_of_the_greek_numbering(greek_psalms_bible, caplog):
    """Synodal Psalm 62 is the NRSV's Psalm 63 though both end at verse 12: languages.tsv names the schemes,
    and its verses are no gold pairs (chapters_apart); Psalm 2 is numbered alike and stays."""
    with caplog.at_level("INFO", logger="xling.data.versification"):
        test = build_mining_test(greek_psalms_bible, "rus", "eng", book="PSA", n_distractors=0)
    assert sorted(test.src_ids) == sorted(test.tgt_ids) == sorted(f"PSA.2.{v}" for v in range(1, 13))
    assert len(test.gold) == 12 and "rus-eng: left out 12 gold pairs" in caplog.text


def test_a_book_numbered_otherwise_throughout_has_no_gold_pairs_and_says_why(renumbered_bible):
    # German counts Psalm 3's title as verse 1: the one psalm there is numbered otherwise than in English
    with pytest.raises(DataError, match="PSA: its 8 verses in both deu and eng sit in chapters numbered"):
        build_mining_test(renumbered_bible, "deu", "eng", book="PSA", n_distractors=0)
