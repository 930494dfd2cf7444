"""benchmarks/mt_train_speed.py: the Trainer's tokens at equal loss are those of the seed whose held-out loss
is the median, and xling's are the median of its seeds' interpolated crossings."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def mt_train_speed(load_benchmark):
    return load_benchmark("mt_train_speed")


def test_the_trainers_tokens_are_the_median_loss_seeds(mt_train_speed):
    seeds = [{"heldout_loss": 6.339, "tokens": 150_964}, {"heldout_loss": 6.3035, "tokens": 150_423},
             {"heldout_loss": 6.285, "tokens": 151_186}]  # fmt: skip
    assert mt_train_speed.median_loss_tokens(seeds) == 150_423  # the median of the tokens would be 150,964
    assert mt_train_speed.median_loss_tokens(seeds[:2]) == 150_694  # an even count: the two middle ones


def test_the_match_is_the_median_of_each_seeds_crossing(mt_train_speed, monkeypatch):
    reached = iter([{"tokens": 300, "crossing_tokens": 260}, {"tokens": 200, "crossing_tokens": 190},
                    {"tokens": None, "crossing_tokens": None}])  # fmt: skip
    monkeypatch.setattr(mt_train_speed, "xling_steps_for_tokens", lambda work, settings, tokens: 10)
    monkeypatch.setattr(mt_train_speed, "tokens_to_reach", lambda *args: next(reached))
    settings = mt_train_speed.BenchSettings(corpus="", tokenizer="", loss_seeds=(0, 1, 2))
    match = mt_train_speed.tokens_to_match(SimpleNamespace(), settings, 6.3)
    assert (match["tokens"], match["crossing_tokens"]) == (300, 260)  # a seed not there counts as the worst
