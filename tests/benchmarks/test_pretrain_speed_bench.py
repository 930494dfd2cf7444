"""benchmarks/pretrain_speed.py: the held-out text every contender is scored on is masked once, the same for
all, and xling's tokens to the Trainer's held-out loss are read where it reaches it to stay."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


@pytest.fixture
def pretrain_speed(load_benchmark):
    return load_benchmark("pretrain_speed")


def test_heldout_rows_are_masked_once_alike_and_specials_never(pretrain_speed):
    rows = [[0, *range(10, 30), 2], [0, 11, 2], [0, 2]]  # <s> ... </s>; the last has nothing to mask
    first = pretrain_speed.masked_once(rows, mask_id=4, first_regular_id=5, seed=0)
    assert first == pretrain_speed.masked_once(rows, mask_id=4, first_regular_id=5, seed=0)
    assert first != pretrain_speed.masked_once(rows, mask_id=4, first_regular_id=5, seed=1)
    assert len(first) == 2  # a row without a regular token is left out
    (ids, labels), (short_ids, short_labels) = first
    masked = [i for i, label in enumerate(labels) if label != -100]
    assert len(masked) == 3  # 15% of 20, rounded
    assert all(ids[i] == 4 and labels[i] == rows[0][i] for i in masked)
    assert ids[0] == 0 and ids[-1] == 2 and labels[0] == labels[-1] == -100
    assert short_ids == [0, 4, 2] and short_labels == [-100, 11, -100]  # at least one token


def test_truncation_keeps_the_closing_token(pretrain_speed):
    assert pretrain_speed.truncated([0, 7, 8, 9, 2], 4) == [0, 7, 8, 2]
    assert pretrain_speed.truncated([0, 7, 2], 4) == [0, 7, 2]


def test_tokens_to_match_is_where_the_loss_stays_at_or_below_the_target(pretrain_speed, monkeypatch):
    losses = iter([9.0, 7.95, 8.1, 8.0, 7.9])  # a dip below the target, back above, then below to stay

    def run_xling(work, settings, steps, timed_from, evaluations=None, eval_every=0):
        for step in range(eval_every, steps + 1, eval_every):
            evaluations["heldout"](SimpleNamespace(model=None), step)
        return SimpleNamespace(step_tokens=[100] * steps)

    monkeypatch.setattr(pretrain_speed, "run_xling", run_xling)
    monkeypatch.setattr(pretrain_speed, "heldout_loss", lambda model, rows, pad: next(losses))
    monkeypatch.setattr(pretrain_speed, "xling_steps_for_tokens", lambda work, settings, tokens: 10)
    work = SimpleNamespace(tokenizer=SimpleNamespace(pad_token_id=1), heldout={"verses": []})
    settings = SimpleNamespace(loss_tokens=500, match_every=2)
    match = pretrain_speed.tokens_to_match(work, settings, target=8.0)
    assert (match["steps"], match["tokens"]) == (8, 800)
    assert match["crossing_tokens"] == 800  # 8.1 at 600 tokens, 8.0 at 800: the target is met at 800
    assert (match["first_steps"], match["first_tokens"]) == (4, 400)
    assert match["curve"] == {200: 9.0, 400: 7.95, 600: 8.1, 800: 8.0, 1000: 7.9}
    losses = iter([9.0, 7.9, 7.9, 7.9, 8.1])  # below for a while, not at the end
    assert pretrain_speed.tokens_to_match(work, settings, target=8.0)["tokens"] is None
