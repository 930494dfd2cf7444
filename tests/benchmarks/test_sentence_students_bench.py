"""benchmarks/sentence_students.py: every trained contender's budget is one deadline around its whole
`align_sentences` call, so its set-up (corpus, student, teacher's vectors) counts against it, static alike."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest


@pytest.fixture
def students(load_benchmark):
    return load_benchmark("sentence_students")


def test_set_up_counts_against_every_contenders_budget(students, monkeypatch, tmp_path):
    import xling.alignment.sentences.align as align

    budgets: dict[str, float] = {}

    def train(objective, batches, training, run_dir, **options):
        budgets[run_dir] = training.max_minutes
        return SimpleNamespace(training={"pairs": 10, "seconds": 1.0})

    def align_sentences(config):
        time.sleep(0.3)  # reading the corpus, making the student, the teacher's vectors
        return align.train(None, None, config.training, config.output)

    monkeypatch.setattr(align, "train", train)
    monkeypatch.setattr(align, "align_sentences", align_sentences)
    monkeypatch.setattr(students, "minilm_folder", lambda: "minilm")
    args = students.parse_args(["--minutes", "0.1", "--work", str(tmp_path), "--tokenizer", "tok"])
    for name in ("static", "distill", "distill-fvt"):
        assert students.train_contender(name, args)["pairs_per_s"] == 10.0
    assert len(budgets) == 3
    for minutes in budgets.values():  # 6 s, less the 0.3 s of set-up before the loop
        assert 5.0 / 60 < minutes <= 5.7 / 60
    assert align.train is train  # the deadline's hook is gone after each run
