"""benchmarks/finetune_speed.py: full fine-tuning and LoRA take turns over the rounds, the order alternating,
and each row holds the medians and every round's figures."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest


@pytest.fixture
def finetune_speed(load_benchmark):
    return load_benchmark("finetune_speed")


def test_methods_alternate_over_rounds_and_rows_hold_medians(finetune_speed, monkeypatch):
    calls: list[str] = []
    speeds = {"full": iter([10.0, 30.0, 20.0]), "lora": iter([50.0, 40.0, 60.0])}

    def speed_row(name, encoder, method, train, dev, root, args):
        calls.append(method)
        speed = next(speeds[method])
        return {"model": name, "method": method, "parameters": 5, "train_examples_per_s": speed,
                "train_tokens_per_s": 2 * speed, "predict_examples_per_s": 3 * speed, "final_loss": 1.5}  # fmt: skip

    monkeypatch.setattr(finetune_speed, "speed_row", speed_row)
    rows = finetune_speed.model_rows("mini", Path("enc"), ("full", "lora"), None, None, Path("."),
                                     Namespace(rounds=3))  # fmt: skip
    assert calls == ["full", "lora", "lora", "full", "full", "lora"]
    full, lora = rows
    assert (full["method"], full["train_examples_per_s"], full["train_tokens_per_s"]) == ("full", 20.0, 40.0)
    assert lora["train_examples_per_s"] == 50.0 and lora["predict_examples_per_s"] == 150.0
    assert [r["train_examples_per_s"] for r in full["rounds"]] == [10.0, 30.0, 20.0]
    assert full["rounds"][0] == {"train_examples_per_s": 10.0, "train_tokens_per_s": 20.0,
                                 "predict_examples_per_s": 30.0, "final_loss": 1.5}  # fmt: skip
