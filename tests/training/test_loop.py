"""The training loop itself, on a linear regression: accumulation, schedule, evaluations, best, resume."""

from __future__ import annotations

import io
import json
import logging
import math
import time
from pathlib import Path

import pytest
import torch
from ranks import run_on_two_ranks
from torch import nn

from xling.errors import ConfigError, XlingError
from xling.training import TrainingConfig, learning_rate_factor, train
from xling.training.checkpoint import list_checkpoints, load_checkpoint
from xling.training.progress import TrainingProgress
from xling.training.resume import config_differences, resumable_fields

DATA_X = torch.randn(4096, 4, generator=torch.Generator().manual_seed(0))
DATA_Y = DATA_X @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(4096, generator=torch.Generator())


class Regression(nn.Module):
    """forward(batch) -> {"loss": mean squared error over the batch, "tokens": batch size}."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 1)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        prediction = self.linear(batch["x"]).squeeze(-1)
        return {
            "loss": nn.functional.mse_loss(prediction, batch["y"]),
            "tokens": torch.tensor(len(batch["y"])),
        }


class Rows:
    """A pure batch source: micro-batch `micro` of step `step` is the next `batch_size` rows of the data."""

    def __init__(self, batch_size: int, grad_accum: int) -> None:
        self.batch_size, self.grad_accum = batch_size, grad_accum

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        start = ((step * self.grad_accum + micro) * self.batch_size) % len(DATA_X)
        rows = slice(start, start + self.batch_size)
        return {"x": DATA_X[rows], "y": DATA_Y[rows]}


def _config(**fields) -> TrainingConfig:
    base = dict(max_steps=6, batch_size=8, lr=0.05, warmup_steps=0, schedule="constant", weight_decay=0.0,
                device="cpu", precision="fp32", checkpoint_every=1000, log_every=1, progress=False)  # fmt: skip
    return TrainingConfig(**{**base, **fields})


def _run(run_dir: Path, config: TrainingConfig, **options):
    objective = Regression()
    result = train(objective, Rows(config.batch_size, config.grad_accum), config, run_dir, **options)
    return objective, result


def _weights(objective: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in objective.parameters()])


def _log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "train_log.jsonl").read_text().splitlines()]


def test_accumulating_n_micro_batches_of_b_equals_steps_of_n_times_b(tmp_path):
    accumulated, a = _run(tmp_path / "a", _config(batch_size=8, grad_accum=4, max_steps=5))
    whole, b = _run(tmp_path / "b", _config(batch_size=32, grad_accum=1, max_steps=5))
    assert a.final_loss == pytest.approx(b.final_loss, rel=1e-5)
    assert torch.allclose(_weights(accumulated), _weights(whole), atol=1e-6)
    assert a.tokens == b.tokens == 5 * 32
    untouched = _weights(Regression())
    assert not torch.allclose(_weights(whole), untouched)  # the steps did move the weights


DATA_KEEP = torch.rand(4096, generator=torch.Generator().manual_seed(1)) < 0.3  # rows that count


class MaskedRegression(Regression):
    """The squared error over the rows a batch marks (a varying number, as masked tokens): a mean over them,
    reported as "items"."""

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        keep = batch["keep"]
        prediction = self.linear(batch["x"][keep]).squeeze(-1)
        return {"loss": nn.functional.mse_loss(prediction, batch["y"][keep]), "tokens": keep.sum(),
                "items": keep.sum()}  # fmt: skip


class MaskedRows(Rows):
    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        start = ((step * self.grad_accum + micro) * self.batch_size) % len(DATA_X)
        return {
            **super().get(step, micro, rank, world_size),
            "keep": DATA_KEEP[start : start + self.batch_size],
        }


def test_accumulated_micro_batches_of_varying_items_equal_one_batch(tmp_path):
    results = []
    for name, batch_size, grad_accum in (("a", 8, 4), ("b", 32, 1)):
        config = _config(batch_size=batch_size, grad_accum=grad_accum, max_steps=5)
        objective = MaskedRegression()
        result = train(objective, MaskedRows(batch_size, grad_accum), config, tmp_path / name)
        results.append((objective, result))
    (accumulated, a), (whole, b) = results
    # micro-batches of 8 rows hold 0-6 kept rows: averaging their means would weigh those rows unequally
    assert torch.allclose(_weights(accumulated), _weights(whole), atol=1e-6)
    assert a.final_loss == pytest.approx(b.final_loss, rel=1e-5)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_the_logged_learning_rate_follows_warm_up_then_decay(tmp_path, schedule):
    config = _config(max_steps=20, warmup_steps=5, schedule=schedule, min_lr_ratio=0.1)
    _, result = _run(tmp_path, config)
    # the lr logged at step k (counted from 1) is the one it ran at: learning_rate_factor counts from 0
    assert [e["lr"] for e in result.history] == pytest.approx(
        [0.05 * learning_rate_factor(e["step"] - 1, config) for e in result.history]
    )
    factors = [learning_rate_factor(s, config) for s in range(21)]
    assert factors[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])  # linear warm-up to the peak
    assert factors[5] == 1.0 and factors[20] == pytest.approx(0.1)  # decay to min_lr_ratio at max_steps
    # every step of the decay, written out: linear 1 - t, cosine (1 + cos(pi t)) / 2 (t = (step - 5) / 15)
    shape = (lambda t: 1 - t) if schedule == "linear" else (lambda t: 0.5 * (1 + math.cos(math.pi * t)))
    assert factors[5:] == pytest.approx([0.1 + 0.9 * shape((s - 5) / 15) for s in range(5, 21)], abs=1e-12)


def test_evaluations_run_on_their_own_schedule_and_at_the_end(tmp_path):
    calls = []

    def evaluate(objective, step):
        assert not objective.training  # evaluated in eval mode, put back in train mode afterwards
        calls.append(step)
        return {"score": float(step), "other": 1.0}

    objective, result = _run(tmp_path, _config(max_steps=10, log_every=5, eval_every=3),
                             evaluations={"dev": evaluate, "test": lambda o, s: {"acc": 0.5}})  # fmt: skip
    assert objective.training
    assert calls == [3, 6, 9, 10]
    log = _log(tmp_path)
    assert [e["step"] for e in log] == [3, 5, 6, 9, 10]
    assert [e.get("dev_score") for e in log] == [3.0, None, 6.0, 9.0, 10.0]
    assert log[0]["test_acc"] == 0.5 and "loss" in log[0]
    assert result.metrics == {"dev_score": 10.0, "dev_other": 1.0, "test_acc": 0.5}


@pytest.mark.parametrize(("mode", "best_step"), [("max", 4), ("min", 2)])
def test_the_best_checkpoint_is_kept_by_the_chosen_metric(tmp_path, mode, best_step):
    scores = {1: 0.3, 2: 0.1, 3: 0.5, 4: 0.9, 5: 0.4, 6: 0.6}
    snapshots = {}

    def evaluate(objective, step):
        snapshots[step] = _weights(objective).clone()
        return {"score": scores[step]}

    config = _config(eval_every=1, best_metric="dev_score", best_mode=mode)
    _, result = _run(tmp_path, config, evaluations={"dev": evaluate})
    assert result.best == {"metric": "dev_score", "value": scores[best_step], "step": best_step,
                           "path": str(tmp_path / "best")}  # fmt: skip
    restored = Regression()
    state = load_checkpoint(tmp_path / "best", restored)
    assert state["step"] == best_step
    assert torch.equal(_weights(restored), snapshots[best_step])


def test_an_unknown_best_metric_names_the_metrics_there_are(tmp_path):
    with pytest.raises(ConfigError, match="dev_acc.*dev_score"):
        _run(
            tmp_path,
            _config(eval_every=1, best_metric="dev_acc"),
            evaluations={"dev": lambda o, s: {"score": 1}},
        )
    with pytest.raises(ConfigError, match="eval_every"):
        _run(tmp_path / "b", _config(best_metric="dev_score"), evaluations={"dev": lambda o, s: {"score": 1}})
    with pytest.raises(ConfigError, match="best_metric"):
        _config(early_stopping_patience=2).validate()


def test_early_stopping_stops_after_patience_evaluations_without_improvement(tmp_path):
    scores = [0.5, 0.6, 0.6, 0.55, 0.7, 0.8]  # no improvement at steps 3 and 4: stop there

    def evaluate(objective, step):
        return {"score": scores[step - 1]}

    config = _config(max_steps=6, eval_every=1, best_metric="dev_score", early_stopping_patience=2)
    _, result = _run(tmp_path, config, evaluations={"dev": evaluate})
    assert result.stopped_early and result.steps == 4
    assert result.best["step"] == 2
    assert list_checkpoints(tmp_path)[-1].name == "step-00000004"  # a checkpoint where it stopped
    # resumed, it stays stopped: no further steps
    _, again = _run(tmp_path, config, evaluations={"dev": evaluate}, resume=True)
    assert again.steps == 4 and again.stopped_early and again.resumed_from == 4


def test_a_stop_for_time_reports_metrics_but_does_not_choose_the_best_checkpoint(tmp_path):
    def evaluate(objective, step):
        return {"score": float(step)}

    config = _config(max_steps=6, eval_every=3, best_metric="dev_score", max_minutes=1e-9)
    _, result = _run(tmp_path, config, evaluations={"dev": evaluate})
    assert result.steps == 1 and result.metrics == {"dev_score": 1.0}
    # step 1 is no evaluation step of the schedule: an uninterrupted run would not have chosen it
    assert result.best is None and not (tmp_path / "best").exists()
    assert result.stopped_for_time and result.to_dict()["stopped_for_time"]


def test_a_stop_for_time_says_how_to_finish_and_resume_without_checkpoints_says_it_starts_anew(
    tmp_path, caplog
):
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _run(tmp_path / "timed", _config(max_steps=6, max_minutes=1e-9))
    assert "at step 1 of 6" in caplog.text and "--resume" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _, fresh = _run(tmp_path / "new", _config(max_steps=2), resume=True)
    assert fresh.steps == 2 and not fresh.stopped_for_time
    assert "no checkpoint in" in caplog.text and "starting a new run" in caplog.text


@pytest.mark.parametrize(
    "field",
    [
        {"lr": 0.0},
        {"lr": -1.0},
        {"clip_norm": -1.0},
        {"max_minutes": -1.0},
        {"weight_decay": float("nan")},
        {"adam_betas": (0.9, 1.0)},
        {"threads": -2},
        {"seed": -1},
        {"seed": 2**40},  # the first step's torch seed overflowed
        {"seed": 1.5},
    ],  # fmt: skip
)
def test_out_of_range_optimiser_settings_are_refused_naming_the_field(field):
    with pytest.raises(ConfigError, match=f"training.{next(iter(field))}"):
        _config(**field).validate()


def test_resume_ends_like_an_uninterrupted_run_and_says_where_it_resumed(tmp_path, caplog):
    straight, _ = _run(tmp_path / "a", _config(max_steps=6))
    _, first = _run(tmp_path / "b", _config(max_steps=4, checkpoint_every=2))
    with caplog.at_level(logging.INFO, logger="xling.training"):
        resumed, result = _run(tmp_path / "b", _config(max_steps=6, checkpoint_every=2), resume=True)
    assert result.resumed_from == 4 and result.steps == 6
    # one run across its resumes; another run is another (a model folder tells its run's checkpoints by it)
    assert result.run_id == first.run_id != _run(tmp_path / "c", _config(max_steps=2))[1].run_id
    assert "step-00000004 (step 4)" in caplog.text
    assert torch.equal(_weights(straight), _weights(resumed))


def test_restart_starts_a_new_run_over_an_earlier_runs_checkpoints(tmp_path, caplog):
    straight, _ = _run(tmp_path / "a", _config(max_steps=6))
    _run(tmp_path / "b", _config(max_steps=4, checkpoint_every=2, lr=0.5))  # another run, another result
    with pytest.raises(XlingError, match="holds checkpoints of an earlier run"):
        _run(tmp_path / "b", _config(max_steps=6))
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        again, result = _run(tmp_path / "b", _config(max_steps=6, checkpoint_every=3), restart=True)
    assert "starting a new run" in caplog.text
    assert result.resumed_from == 0 and torch.equal(_weights(straight), _weights(again))
    assert [c.name for c in list_checkpoints(tmp_path / "b")] == ["step-00000003", "step-00000006"]
    assert [e["step"] for e in _log(tmp_path / "b")] == [1, 2, 3, 4, 5, 6]


def test_restart_never_deletes_another_commands_run(tmp_path):
    objective = Regression()
    train(objective, Rows(8, 1), _config(max_steps=2, checkpoint_every=2), tmp_path, description="pretrain")
    with pytest.raises(XlingError, match=r"holds the checkpoints of a run of `pretrain`, not of `tagger`"):
        train(Regression(), Rows(8, 1), _config(max_steps=2), tmp_path, restart=True, description="tagger")
    assert [c.name for c in list_checkpoints(tmp_path)] == ["step-00000002"]
    # checkpoints written before runs recorded their command: told apart by their config's fields
    state_file = list_checkpoints(tmp_path)[0] / "trainer_state.json"
    state = json.loads(state_file.read_text())
    del state["command"]
    state["config"] = {"tlm_ratio": 0.5, "training": state["config"]["training"]}
    state_file.write_text(json.dumps(state))
    with pytest.raises(XlingError, match="a run of another command"):
        train(Regression(), Rows(8, 1), _config(max_steps=2), tmp_path, restart=True, description="tagger")
    assert list_checkpoints(tmp_path)


def _recorded_rates(monkeypatch) -> list[float]:
    """Return the list each AdamW step appends the learning rate it runs at to, from now on."""
    rates: list[float] = []
    step = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    return rates


def test_the_logged_learning_rate_is_the_one_the_step_ran_at(tmp_path, monkeypatch):
    """train_log.jsonl gave each step the next step's rate (read after scheduler.step()): with warm-up 2
    and lr 1e-2, step 1 was logged at 0.01 though it ran at 0.005."""
    rates = _recorded_rates(monkeypatch)
    config = _config(max_steps=4, warmup_steps=2, lr=1e-2, schedule="linear")
    _run(tmp_path, config)
    assert rates[:2] == pytest.approx([0.005, 0.01])
    assert [e["lr"] for e in _log(tmp_path)] == pytest.approx(rates)


class CrashingRows(Rows):
    """Rows whose step `crash_at` fails, as a killed process would stop there."""

    def __init__(self, batch_size: int, grad_accum: int, crash_at: int) -> None:
        super().__init__(batch_size, grad_accum)
        self.crash_at = crash_at

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        if step == self.crash_at:
            raise RuntimeError("killed")
        return super().get(step, micro, rank, world_size)


def test_a_crashed_run_with_warm_up_and_decay_resumes_to_the_same_weights_and_rates(tmp_path):
    # a resume that lost the scheduler's or the optimizer's state would take other steps
    config = _config(max_steps=8, warmup_steps=3, schedule="cosine", checkpoint_every=2)
    straight, _ = _run(tmp_path / "a", config)
    with pytest.raises(RuntimeError, match="killed"):
        train(Regression(), CrashingRows(8, 1, crash_at=5), config, tmp_path / "b")
    resumed, result = _run(tmp_path / "b", config, resume=True)
    assert result.resumed_from == 4
    assert torch.equal(_weights(straight), _weights(resumed))
    assert [e["lr"] for e in _log(tmp_path / "b")] == [e["lr"] for e in _log(tmp_path / "a")]


def test_resume_after_a_log_line_cut_short_reads_as_one_run(tmp_path):
    straight, _ = _run(tmp_path / "a", _config(max_steps=6))
    _run(tmp_path / "b", _config(max_steps=5, checkpoint_every=4))
    with (tmp_path / "b" / "train_log.jsonl").open("a", encoding="utf-8") as log:
        log.write('{"step": 6, "loss": 0.1')  # the process was killed mid-line
    resumed, result = _run(tmp_path / "b", _config(max_steps=6, checkpoint_every=4), resume=True)
    assert result.resumed_from == 5  # the last step is always saved
    assert [e["step"] for e in _log(tmp_path / "b")] == [1, 2, 3, 4, 5, 6]
    assert torch.equal(_weights(straight), _weights(resumed))


@pytest.mark.parametrize("damaged", ["model.safetensors", "optimizer.pt", "trainer_state.json"])
def test_resume_falls_back_to_the_older_checkpoint_when_the_newest_is_damaged(tmp_path, caplog, damaged):
    straight, _ = _run(tmp_path / "a", _config(max_steps=6))
    _run(tmp_path / "b", _config(max_steps=4, checkpoint_every=2))
    newest = list_checkpoints(tmp_path / "b")[-1]
    path = newest / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a file cut short, as by a full disk
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        resumed, result = _run(tmp_path / "b", _config(max_steps=6, checkpoint_every=2), resume=True)
    assert str(path) in caplog.text
    assert result.resumed_from == 2
    assert torch.equal(_weights(straight), _weights(resumed))


def test_a_run_resumed_before_a_damaged_checkpoint_prunes_that_one_not_its_own(tmp_path):
    _run(tmp_path, _config(max_steps=4, checkpoint_every=2))
    damaged = list_checkpoints(tmp_path)[-1] / "optimizer.pt"
    damaged.write_bytes(damaged.read_bytes()[:10])
    _run(tmp_path, _config(max_steps=3, checkpoint_every=3, keep_checkpoints=1), resume=True)
    # step 4's damaged folder outranked step 3's by number: pruning kept it and deleted the good one
    assert [c.name for c in list_checkpoints(tmp_path)] == ["step-00000003"]


def test_raising_max_steps_on_resume_takes_the_next_step_at_the_new_schedules_rate(tmp_path, monkeypatch):
    rates = _recorded_rates(monkeypatch)
    linear = dict(schedule="linear", lr=0.002, min_lr_ratio=0.0)
    _run(tmp_path / "a", _config(max_steps=6, **linear))
    straight, rates[:] = list(rates), []
    _run(tmp_path / "b", _config(max_steps=3, checkpoint_every=3, **linear))
    _run(tmp_path / "b", _config(max_steps=6, checkpoint_every=3, **linear), resume=True)
    # the first 3 steps followed the 3-step schedule; from step 4 on, the 6-step one (it took 0.0 before)
    assert rates[3:] == pytest.approx(straight[3:]) and rates[3] > 0


def test_resume_with_no_loadable_checkpoint_names_the_folder(tmp_path):
    _run(tmp_path, _config(max_steps=4, checkpoint_every=2))
    for folder in list_checkpoints(tmp_path):
        (folder / "model.safetensors").write_bytes(b"\x00" * 10)
    with pytest.raises(XlingError, match=f"{tmp_path / 'checkpoints'}: no checkpoint could be loaded"):
        _run(tmp_path, _config(max_steps=6), resume=True)


def test_resume_refuses_a_changed_config_and_names_the_fields(tmp_path):
    def run_config(tlm_ratio, config):
        return {"model": "tiny", "tlm_ratio": tlm_ratio, "output": "x", "training": config.__dict__}

    first = _config(max_steps=2, checkpoint_every=2)
    _run(tmp_path, first, run_config=run_config(0.5, first))
    changed = _config(max_steps=4, batch_size=16)
    with pytest.raises(ConfigError, match=r"tlm_ratio: 0\.5 in the run, 0\.3 now; training\.batch_size: 8"):
        _run(tmp_path, changed, run_config=run_config(0.3, changed), resume=True)
    # max_steps, log/checkpoint schedule and progress may change on resume
    longer = _config(max_steps=4, checkpoint_every=3, log_every=2, progress=True)
    _, result = _run(tmp_path, longer, run_config={**run_config(0.5, longer), "output": "y"},
                     may_change=("output",), resume=True)  # fmt: skip
    assert result.resumed_from == 2 and result.steps == 4


class ShiftedRows(Rows):
    """Rows with the data edited in place after the first run: every row from `start` on is another one."""

    def __init__(self, batch_size: int, grad_accum: int, start: int) -> None:
        super().__init__(batch_size, grad_accum)
        self.start = start

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        batch = super().get(step, micro, rank, world_size)
        first = ((step * self.grad_accum + micro) * self.batch_size) % len(DATA_X)
        if first >= self.start:
            batch = {"x": batch["x"].flip(0), "y": batch["y"].flip(0)}
        return batch


def test_resume_refuses_batches_that_differ_from_the_runs_unless_told_to_go_on(tmp_path, caplog):
    _run(tmp_path / "b", _config(max_steps=4, checkpoint_every=2))
    longer = _config(max_steps=6, checkpoint_every=2)
    # the first batch is the same, the one after the checkpoint's step is not: the data changed past it
    with pytest.raises(ConfigError, match=r"step-00000004: --resume draws other batches than the run did"):
        train(Regression(), ShiftedRows(8, 1, start=4 * 8), longer, tmp_path / "b", resume=True)
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        result = train(Regression(), ShiftedRows(8, 1, start=4 * 8),
                       _config(max_steps=6, checkpoint_every=2, resume_on_changed_data=True),
                       tmp_path / "b", resume=True)  # fmt: skip
    assert result.resumed_from == 4 and result.steps == 6
    assert "going on with the data as it is now" in caplog.text
    # the same data resumes quietly (the resume test above compares the weights)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _run(tmp_path / "c", _config(max_steps=4, checkpoint_every=2))
        _run(tmp_path / "c", longer, resume=True)
    assert "batches" not in caplog.text


def test_resume_on_another_number_of_processes_is_refused_unless_told_to_go_on(tmp_path, caplog):
    _run(tmp_path, _config(max_steps=2, checkpoint_every=2))
    state_file = list_checkpoints(tmp_path)[-1] / "trainer_state.json"
    state = json.loads(state_file.read_text(encoding="utf-8"))
    assert state["world_size"] == 1
    state_file.write_text(json.dumps({**state, "world_size": 2}), encoding="utf-8")  # as a torchrun run's
    with pytest.raises(
        ConfigError, match=r"step-00000002: the run trained on 2 process\(es\) and --resume has 1"
    ):
        _run(tmp_path, _config(max_steps=4, checkpoint_every=2), resume=True)
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _, result = _run(tmp_path, _config(max_steps=4, checkpoint_every=2, resume_on_changed_data=True),
                         resume=True)  # fmt: skip
    assert result.resumed_from == 2 and result.steps == 4
    assert "the run trained on 2 process(es), this one has 1" in caplog.text


def test_config_differences_compare_nested_fields_and_skip_the_allowed_ones():
    saved = {"model": "tiny", "adam_betas": [0.9, 0.98], "training": {"max_steps": 10, "lr": 0.1}, "gone": 1}
    new = {"model": "small", "adam_betas": (0.9, 0.98), "training": {"max_steps": 20, "lr": 0.2}, "added": 2}
    assert config_differences(saved, new, resumable_fields()) == {
        "added": (None, 2), "gone": (1, None), "model": ("tiny", "small"), "training.lr": (0.1, 0.2)
    }  # fmt: skip
    assert config_differences(saved, new, {"model", "training", "gone", "added"}) == {}


def test_a_field_added_after_the_run_started_compares_as_its_default():
    saved = {"model": "small", "training": {"lr": 0.1}}  # written before `init_encoder` existed
    defaults = {"model": "mini", "init_encoder": "", "training": {"lr": 0.001, "warmup": 10}}
    same = {"model": "small", "init_encoder": "", "training": {"lr": 0.1, "warmup": 10}}
    assert config_differences(saved, same, (), defaults) == {}
    changed = {**same, "init_encoder": "xling-mini", "training": {"lr": 0.1, "warmup": 20}}
    assert config_differences(saved, changed, (), defaults) == {
        "init_encoder": ("", "xling-mini"), "training.warmup": (10, 20)
    }  # fmt: skip


def test_result_says_which_process_it_is_and_serialises_itself(tmp_path):
    _, result = _run(tmp_path, _config(max_steps=3))
    assert result.is_main and result.rank == 0
    figures = result.to_dict()
    assert figures["steps"] == 3 and figures["tokens"] == 24 and figures["world_size"] == 1
    assert "history" not in figures
    json.dumps(figures)


def test_without_a_terminal_progress_is_plain_lines_and_only_when_asked(tmp_path, capsys):
    stream = io.StringIO()
    with TrainingProgress("demo", 10, 4, enabled=True, stream=stream, every_s=0.0) as progress:
        progress.update(5, 1.25, 100.0)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "demo: 10 steps, resumed at step 4"
    assert lines[1].startswith("demo: step 5/10 (50%), loss 1.2500, 100 tok/s")
    _run(tmp_path / "quiet", _config(max_steps=3))
    assert capsys.readouterr().err == ""
    _run(tmp_path / "shown", _config(max_steps=3, progress=True))
    assert "training: step 3/3 (100%)" in capsys.readouterr().err


def test_a_checkpoint_whose_optimizer_trained_other_parameters_is_refused_before_loading(tmp_path):
    """A run whose trained parameters changed since (align's student with its pooler frozen) got torch's bare
    ValueError from the optimizer, after the checkpoint's weights had been loaded into the model."""
    _run(tmp_path, _config(max_steps=2, checkpoint_every=2))
    model = Regression()
    before = model.linear.weight.detach().clone()
    model.linear.bias.requires_grad_(False)  # one parameter fewer trained than when it was saved
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    with pytest.raises(
        XlingError,
        match=r"step-00000002: checkpoint's optimizer state does not fit .*\[1, 1\].*this run's \[1\]",
    ):
        load_checkpoint(list_checkpoints(tmp_path)[-1], model, optimizer)
    assert torch.equal(model.linear.weight, before)  # nothing loaded


def test_averaged_checkpoints_hold_the_mean_of_their_weights(tmp_path):
    from xling.training.checkpoint import average_checkpoints

    _, result = _run(tmp_path, _config(max_steps=6, checkpoint_every=2, keep_checkpoints=0))
    paths = list_checkpoints(tmp_path)[-2:]
    weights = []
    for path in paths:
        model = Regression()
        load_checkpoint(path, model)
        weights.append(model.linear.weight.detach().clone())
    assert not torch.equal(weights[0], weights[1])
    averaged = average_checkpoints(paths, Regression())
    torch.testing.assert_close(averaged.linear.weight, (weights[0] + weights[1]) / 2)
    with pytest.raises(XlingError, match="no checkpoints"):
        average_checkpoints([], Regression())


DDP_TIME_LIMIT_SCRIPT = """
import json, os, sys, time
import torch
from torch import nn
import xling.training.loop as loop
from xling.training import TrainingConfig, train

class Regression(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 1)
    def forward(self, batch):
        loss = nn.functional.mse_loss(self.linear(batch["x"]).squeeze(-1), batch["y"])
        return {"loss": loss, "tokens": torch.tensor(len(batch["y"]))}

class Rows:
    def get(self, step, micro, rank, world_size):
        x = torch.randn(8, 4, generator=torch.Generator().manual_seed(step * world_size + rank))
        return {"x": x, "y": x.sum(1)}

class SkewedClock:  # rank 1's clock runs an hour ahead once training has started
    calls = 0
    @staticmethod
    def perf_counter():
        SkewedClock.calls += 1
        return time.perf_counter() + (3600 if SkewedClock.calls > 1 else 0)

if os.environ["RANK"] == "1":
    loop.time = SkewedClock
config = TrainingConfig(max_steps=50, batch_size=8, lr=0.01, warmup_steps=0, device="cpu", precision="fp32",
                        checkpoint_every=1000, log_every=1000, progress=False, max_minutes=30)
result = train(Regression(), Rows(), config, sys.argv[1])
with open(os.path.join(sys.argv[1], f"rank{os.environ['RANK']}.json"), "w") as out:
    json.dump({"steps": result.steps, "stopped_for_time": result.stopped_for_time}, out)
"""


def test_a_time_limit_stops_every_ddp_rank_at_the_same_step(tmp_path):
    """Each rank reads its own clock: one rank past training.max_minutes stops them all at that step (it
    hung in the next step's all-reduce while the other went on)."""
    import os

    script = tmp_path / "run.py"
    script.write_text(DDP_TIME_LIMIT_SCRIPT, encoding="utf-8")
    proc = run_on_two_ranks([str(script), str(tmp_path / "run")], {**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / "run" / f"rank{r}.json").read_text(encoding="utf-8")) for r in (0, 1)]
    assert ranks[0] == ranks[1] == {"steps": 1, "stopped_for_time": True}
    assert [c.name for c in list_checkpoints(tmp_path / "run")] == ["step-00000001"]


DDP_RESUME_SCRIPT = (
    DDP_TIME_LIMIT_SCRIPT.split("class SkewedClock")[0]
    + """
first = len(sys.argv) > 2  # the run's first part, one process
if os.environ.get("RANK") == "1":  # this process cannot see the run's checkpoints (a node-local disk)
    loop._resume = lambda *args, **kwargs: None
config = TrainingConfig(max_steps=4 if first else 8, batch_size=8, lr=0.01, warmup_steps=0, device="cpu",
                        precision="fp32", checkpoint_every=2, log_every=1000, progress=False,
                        resume_on_changed_data=True)
train(Regression(), Rows(), config, sys.argv[1], resume=not first)
"""
)


def _run_here(script: Path, *args: str) -> None:
    """Run `script` with `args` in this process, as `python script args` would without torchrun."""
    import runpy
    import sys

    argv = sys.argv
    sys.argv = [str(script), *args]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv


def test_ddp_processes_resuming_from_different_steps_stop_with_a_clear_error(tmp_path):
    """Each process picks its checkpoint itself; one that found none started at step 0 beside one at step 4,
    and their all-reduces no longer lined up (a hang, or a run that diverged)."""
    import os

    script = tmp_path / "run.py"
    script.write_text(DDP_RESUME_SCRIPT, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    _run_here(script, str(tmp_path / "run"), "first")  # one process: this one (a process start saved)
    proc = run_on_two_ranks([str(script), str(tmp_path / "run")], env)
    assert proc.returncode != 0
    assert "the processes resume from different steps (0 to 4" in proc.stderr
    assert [c.name for c in list_checkpoints(tmp_path / "run")] == ["step-00000002", "step-00000004"]


def _scored(scores: dict[int, float]):
    """Return (an evaluation scoring step s as scores[s], {step: the weights it saw})."""
    seen: dict[int, torch.Tensor] = {}

    def evaluate(objective, step):
        seen[step] = _weights(objective).clone()
        return {"score": scores[step]}

    return evaluate, seen


def test_a_resume_puts_back_the_best_weights_of_the_tracker_it_restores(tmp_path, caplog):
    """best/ is written when an evaluation improves, the tracker with the next checkpoint: a kill between
    them resumed the older tracker beside the newer best/ (the run said "best at step 2", best/ held 3)."""
    import os

    config = _config(max_steps=6, eval_every=1, checkpoint_every=2, best_metric="dev_score")
    evaluate, seen = _scored({1: 0.1, 2: 0.5, 3: 0.9})
    with pytest.raises(RuntimeError, match="killed"):  # after step 3's evaluation, before step 4's checkpoint
        train(Regression(), CrashingRows(8, 1, crash_at=3), config, tmp_path, evaluations={"dev": evaluate})
    assert load_checkpoint(tmp_path / "best", Regression())["step"] == 3
    # the resumed evaluation of step 3 scores lower (a dev metric that varies): it is no new best
    again, _ = _scored({3: 0.2, 4: 0.3, 5: 0.4, 6: 0.45})
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _, result = _run(tmp_path, config, evaluations={"dev": again}, resume=True)
    assert result.resumed_from == 2 and result.best["step"] == 2
    restored = Regression()
    assert load_checkpoint(tmp_path / "best", restored)["step"] == 2
    assert torch.equal(_weights(restored), seen[2])
    assert (
        "put back to the best evaluation (step 2)" in caplog.text
        and "the one it held came after" in caplog.text
    )
    # a checkpoint keeps best/ as a hard link, not a copy
    kept = list_checkpoints(tmp_path)[-1] / "best" / "model.safetensors"
    assert os.path.samefile(kept, tmp_path / "best" / "model.safetensors")


def test_a_resume_puts_back_a_missing_best_and_says_it_was_missing(tmp_path, caplog):
    import shutil

    config = _config(max_steps=4, eval_every=1, checkpoint_every=2, best_metric="dev_score")
    evaluate, seen = _scored({1: 0.1, 2: 0.5, 3: 0.2})
    with pytest.raises(RuntimeError, match="killed"):  # after step 3's evaluation, before step 4's checkpoint
        train(Regression(), CrashingRows(8, 1, crash_at=3), config, tmp_path, evaluations={"dev": evaluate})
    shutil.rmtree(tmp_path / "best")
    again, _ = _scored({3: 0.2, 4: 0.3})
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _run(tmp_path, config, evaluations={"dev": again}, resume=True)
    restored = Regression()
    assert load_checkpoint(tmp_path / "best", restored)["step"] == 2 and torch.equal(
        _weights(restored), seen[2]
    )
    assert "put back to the best evaluation (step 2)" in caplog.text and "it was missing" in caplog.text


def test_a_resume_whose_tracker_has_no_best_yet_removes_a_later_best(tmp_path):
    config = _config(max_steps=6, eval_every=3, checkpoint_every=2, best_metric="dev_score")
    evaluate, _ = _scored({3: 0.9})
    with pytest.raises(RuntimeError, match="killed"):
        train(Regression(), CrashingRows(8, 1, crash_at=3), config, tmp_path, evaluations={"dev": evaluate})
    assert (tmp_path / "best").is_dir()  # step 3's, after step 2's checkpoint
    # resumed, no evaluation counts as a best (NaN never improves): no best/ may name one
    nan, _ = _scored({3: math.nan, 6: math.nan})
    _, result = _run(tmp_path, config, evaluations={"dev": nan}, resume=True)
    assert result.best is None and not (tmp_path / "best").exists()


def test_a_checkpoint_that_did_not_keep_best_says_it_cannot_put_it_back(tmp_path, caplog):
    import shutil

    config = _config(max_steps=6, eval_every=1, checkpoint_every=2, best_metric="dev_score")
    evaluate, _ = _scored({1: 0.1, 2: 0.5, 3: 0.9})
    with pytest.raises(RuntimeError, match="killed"):
        train(Regression(), CrashingRows(8, 1, crash_at=3), config, tmp_path, evaluations={"dev": evaluate})
    shutil.rmtree(list_checkpoints(tmp_path)[-1] / "best")  # as a checkpoint of an earlier xling
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _run(tmp_path, _config(max_steps=2, eval_every=1, checkpoint_every=2, best_metric="dev_score"),
             evaluations={"dev": evaluate}, resume=True)  # fmt: skip
    assert "does not hold the best evaluation (step 2)" in caplog.text


def test_a_kill_between_the_renames_of_best_leaves_a_run_that_resumes(tmp_path):
    """A kill between `best -> best.old` and `best.tmp -> best` left only best.old: every later resume
    trained, then failed reading best/."""
    import os

    from xling.training.loop import entries_besides_the_run

    scores = {1: 0.1, 2: 0.9, 3: 0.2, 4: 0.3, 5: 0.4, 6: 0.5}
    evaluations = {"dev": lambda o, s: {"score": scores[s]}}
    _run(tmp_path, _config(max_steps=4, eval_every=1, checkpoint_every=4, best_metric="dev_score"),
         evaluations=evaluations)  # fmt: skip
    os.replace(tmp_path / "best", tmp_path / "best.old")
    (tmp_path / "best.tmp").mkdir()
    (tmp_path / "best.tmp" / "model.safetensors").write_bytes(b"half")
    others = entries_besides_the_run(tmp_path)
    _, result = _run(tmp_path, _config(max_steps=6, eval_every=1, checkpoint_every=4, best_metric="dev_score"),
                     evaluations=evaluations, resume=True)  # fmt: skip
    assert result.best["step"] == 2
    assert load_checkpoint(Path(result.best["path"]), Regression())["step"] == 2
    assert not (tmp_path / "best.old").exists()
    assert others == []  # best.old and best.tmp are the loop's own, not someone else's files


def test_a_checkpoint_left_aside_by_a_kill_is_renamed_back(tmp_path):
    import os

    from xling.training.checkpoint import recover_interrupted_writes, save_best

    _run(tmp_path, _config(max_steps=4, checkpoint_every=2))
    newest = list_checkpoints(tmp_path)[-1]
    os.replace(newest, newest.with_name(newest.name + ".old"))
    recover_interrupted_writes(tmp_path)
    assert list_checkpoints(tmp_path)[-1] == newest
    # and a write of best/ takes up a best.old that is all there is, before it would delete it
    save_best(tmp_path, 1, Regression(), {"best": {"step": 1, "value": 0.5}})
    os.replace(tmp_path / "best", tmp_path / "best.old")
    objective = Regression()
    with torch.no_grad():
        objective.linear.bias.fill_(3.0)
    save_best(tmp_path, 2, objective, {"best": {"step": 2, "value": 0.6}})
    assert load_checkpoint(tmp_path / "best", Regression())["step"] == 2
    assert not (tmp_path / "best.old").exists()


def test_resume_refuses_training_data_edited_in_place_unless_told_to_go_on(tmp_path, caplog):
    """The batches a checkpoint hashes (the first, the next) missed most edits of a corpus."""
    data = tmp_path / "corpus.tsv"
    data.write_text("1\ta b\n" * 50, encoding="utf-8")
    _run(tmp_path / "run", _config(max_steps=2, checkpoint_every=2), data_files=[data])
    state = json.loads((list_checkpoints(tmp_path / "run")[-1] / "trainer_state.json").read_text())
    assert list(state["data_files"]) == [str(data)]
    data.write_text("1\ta c\n" * 50, encoding="utf-8")  # the same size; the batches (Rows) do not show it
    longer = _config(max_steps=4, checkpoint_every=2)
    with pytest.raises(ConfigError, match=r"step-00000002: --resume reads other training data .*corpus\.tsv"):
        _run(tmp_path / "run", longer, data_files=[data], resume=True)
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _, result = _run(tmp_path / "run", _config(max_steps=4, checkpoint_every=2, resume_on_changed_data=True),
                         data_files=[data], resume=True)  # fmt: skip
    assert result.resumed_from == 2 and "training data files changed" in caplog.text
    # the checkpoints after it keep the data as it is now: a further resume goes on quietly
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        _run(tmp_path / "run", _config(max_steps=6, checkpoint_every=2), data_files=[data], resume=True)
    assert "changed" not in caplog.text
    # the same files elsewhere (a corpus moved) are the same data
    moved = tmp_path / "moved.tsv"
    moved.write_bytes(data.read_bytes())
    _run(tmp_path / "run", _config(max_steps=8, checkpoint_every=2), data_files=[moved], resume=True)


def test_a_best_metric_without_evaluations_names_the_empty_dev_set(tmp_path):
    """`mt train --set dev_fraction=0` with best_metric=dev_chrf has eval_every set and no dev evaluation: the
    error asked for an eval_every that was there."""
    with pytest.raises(ConfigError, match=r"best_metric \(dev_score\): .*dev set is empty"):
        _run(tmp_path, _config(eval_every=2, best_metric="dev_score"), evaluations={})
    with pytest.raises(ConfigError, match=r"best_metric \(dev_score\): .*eval_every is 0"):
        _run(tmp_path, _config(best_metric="dev_score"), evaluations={"dev": lambda o, s: {"score": 1}})


def test_a_best_metric_its_caller_does_not_report_is_refused_before_the_first_step(tmp_path):
    """A mistyped best_metric ended the run at its first evaluation, eval_every steps (hours) in."""
    drawn: list[int] = []

    class Counted(Rows):
        def get(self, step, micro, rank, world_size):
            drawn.append(step)
            return super().get(step, micro, rank, world_size)

    config = _config(eval_every=4, checkpoint_every=2, best_metric="dev_Score")
    with pytest.raises(
        ConfigError, match=r"'dev_Score' is not among the evaluation metrics \(dev_score, dev_n\)"
    ):
        train(Regression(), Counted(8, 1), config, tmp_path / "run",
              evaluations={"dev": lambda o, s: {"score": 1.0}}, metric_names=["dev_score", "dev_n"])  # fmt: skip
    assert drawn == [] and not (tmp_path / "run").exists()
    # the names are the caller's to give: without them the run goes on as before, and a right one trains
    _, result = _run(tmp_path, _config(eval_every=2, best_metric="dev_score"),
                     evaluations={"dev": lambda o, s: {"score": float(s)}}, metric_names=["dev_score"])  # fmt: skip
    assert result.best["step"] == 6


def test_best_metric_may_change_on_resume_until_an_evaluation_counted_for_it(tmp_path):
    """A run killed by a mistyped best_metric (at its first evaluation, by an earlier xling or a caller that
    names no metrics) could never be resumed with the name fixed: best_metric may not change on --resume."""
    evaluations = {"dev": lambda o, s: {"score": -abs(s - 4.0)}}
    typo = _config(max_steps=6, eval_every=3, checkpoint_every=2, best_metric="dev_Score")
    with pytest.raises(ConfigError, match="'dev_Score' is not among the evaluation metrics"):
        _run(tmp_path / "b", typo, evaluations=evaluations)
    assert [c.name for c in list_checkpoints(tmp_path / "b")] == ["step-00000002"]
    fixed = _config(max_steps=6, eval_every=3, checkpoint_every=2, best_metric="dev_score", best_mode="min")
    _, result = _run(tmp_path / "b", fixed, evaluations=evaluations, resume=True)
    _, straight = _run(tmp_path / "a", fixed, evaluations=evaluations)
    assert result.resumed_from == 2 and result.best == {**straight.best, "path": str(tmp_path / "b" / "best")}
    # once an evaluation has counted, the best weights were chosen by the metric: it stays
    with pytest.raises(ConfigError, match="training.best_metric: 'dev_score' in the run, 'dev_other' now"):
        _run(tmp_path / "b", _config(max_steps=8, eval_every=3, checkpoint_every=2, best_metric="dev_other"),
             evaluations=evaluations, resume=True)  # fmt: skip
    with pytest.raises(ConfigError, match="training.best_mode: 'min' in the run, 'max' now"):
        _run(tmp_path / "b", _config(max_steps=8, eval_every=3, checkpoint_every=2, best_metric="dev_score"),
             evaluations=evaluations, resume=True)  # fmt: skip


def test_a_run_without_a_best_metric_may_start_watching_one_only_before_its_first_evaluation():
    from xling.training.resume import best_not_chosen

    def state(step: int, eval_every: int, **best) -> dict:
        return {"step": step, "config": {"training": {"eval_every": eval_every}}, **best}

    assert best_not_chosen(state(4, 0)) and best_not_chosen(state(4, 5))
    assert not best_not_chosen(state(4, 4)) and not best_not_chosen({"step": 4})  # evaluated, or unknown
    assert best_not_chosen(state(4, 2, best={"metric": "dev_x", "step": None, "bad_evaluations": 0}))
    # an evaluation that did not improve (NaN) counted as one without improvement: the tracker stays
    assert not best_not_chosen(state(4, 2, best={"metric": "dev_x", "step": None, "bad_evaluations": 1}))
    assert not best_not_chosen(state(4, 2, best={"metric": "dev_x", "step": 2, "value": 0.5}))


def test_every_file_of_a_checkpoint_and_of_best_is_on_disk_before_its_folder_is_renamed_in(
    tmp_path, monkeypatch
):
    """Only folders were fsynced: a power loss after the rename could leave a checkpoint of empty files."""
    import os

    from xling.training.checkpoint import save_best, save_checkpoint

    events: list[tuple[str, str]] = []
    opened: dict[int, str] = {}
    real_open, real_fsync, real_replace = os.open, os.fsync, os.replace

    def recording_open(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        opened[fd] = str(path)
        return fd

    def recording_fsync(fd):
        events.append(("fsync", opened.get(fd, "a file handle")))
        return real_fsync(fd)

    def recording_replace(source, target):
        events.append(("rename", str(source)))
        return real_replace(source, target)

    monkeypatch.setattr(os, "open", recording_open)
    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    model = Regression()
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    tracked = {"metric": "dev_score", "mode": "max", "value": 1.0, "step": 1, "bad_evaluations": 0}
    best = save_best(tmp_path, 1, model, {"best": tracked})
    final = save_checkpoint(tmp_path, 1, model, optimizer, scheduler, {"tokens": 0, "best": tracked})
    for folder in (best, final):
        staged = f"{folder}.tmp"
        renamed = events.index(("rename", staged))
        synced = [path for kind, path in events[:renamed] if kind == "fsync"]
        files = [path.relative_to(folder) for path in folder.rglob("*")]
        assert {"model.safetensors", "trainer_state.json", "best/model.safetensors"} & {str(f) for f in files}
        for name in files:  # the kept best/ (hard links) too, and the folders themselves
            assert f"{staged}/{name}" in synced, name
        assert staged in synced


DDP_ITEMS_SCRIPT = """
import json, sys
import torch
from torch import nn
from xling.training import TrainingConfig, train

X = torch.randn(256, 4, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([1.0, -2.0, 0.5, 3.0])

class Masked(nn.Module):  # the squared error over the rows a batch keeps, a mean reported with its items
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 1)
    def forward(self, batch):
        keep = batch["keep"]
        loss = nn.functional.mse_loss(self.linear(batch["x"][keep]).squeeze(-1), batch["y"][keep])
        return {"loss": loss, "tokens": keep.sum(), "items": keep.sum()}

class Rows:  # global batch g = micro x world + rank: 2 processes x 1 equal 1 process x 2 micro-batches
    def get(self, step, micro, rank, world_size):
        g = step * 2 + micro * world_size + rank
        rows = slice(g * 8 % 256, g * 8 % 256 + 8)
        keep = torch.arange(8) < (1 if g % 2 == 0 else 8)  # 1 item on one side, 8 on the other
        return {"x": X[rows], "y": Y[rows], "keep": keep}

accum = int(sys.argv[2])
config = TrainingConfig(max_steps=3, batch_size=8, grad_accum=accum, lr=0.05, warmup_steps=0, device="cpu",
                        precision="fp32", checkpoint_every=1000, log_every=1, progress=False)
result = train(Masked(), Rows(), config, sys.argv[1])
"""


def test_the_logged_ddp_loss_is_the_mean_over_all_items_of_the_step(tmp_path):
    """Each rank divided by its own items and the ranks' means were averaged: a rank with 1 item weighed as
    much as one with 8. Two processes must log what one process accumulating both batches logs."""
    import os

    script = tmp_path / "run.py"
    script.write_text(DDP_ITEMS_SCRIPT, encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = run_on_two_ranks([str(script), str(tmp_path / "ddp"), "1"], env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _run_here(script, str(tmp_path / "one"), "2")
    ddp_losses, one_losses = ([e["loss"] for e in _log(tmp_path / name)] for name in ("ddp", "one"))
    assert len(ddp_losses) == 3
    assert ddp_losses == pytest.approx(one_losses, rel=1e-5)


@pytest.mark.parametrize("keep", [2, 0])
def test_a_stop_for_time_leaves_the_scheduled_checkpoints_a_resumed_run_keeps(tmp_path, monkeypatch, keep):
    """keep_checkpoints counts the checkpoints of the schedule: a stop for time at step 5 (checkpoint_every 2,
    keep 2) must not push out step 4, or a resumed run keeps 5 and 6 where an uninterrupted one keeps 4 and 6,
    and mt train's average_last averages one checkpoint fewer. keep 0 keeps every checkpoint, step 5's too."""
    import xling.training.loop as loop
    from xling.training.checkpoint import last_scheduled, list_checkpoints

    config = _config(max_steps=6, checkpoint_every=2, keep_checkpoints=keep, max_minutes=10)
    _run(tmp_path / "straight", config)
    kept = ["step-00000004", "step-00000006"] if keep else ["step-00000002", "step-00000004", "step-00000006"]
    assert [p.name for p in list_checkpoints(tmp_path / "straight")] == kept

    class LateClock:  # an hour passes during step 5
        offset = 0.0

        @staticmethod
        def perf_counter() -> float:
            return time.perf_counter() + LateClock.offset

    class LateRows(Rows):
        def get(self, step, micro, rank, world_size):
            if step == 4:
                LateClock.offset = 3600.0
            return super().get(step, micro, rank, world_size)

    monkeypatch.setattr(loop, "time", LateClock)
    result = train(Regression(), LateRows(config.batch_size, config.grad_accum), config, tmp_path / "timed")
    assert result.stopped_for_time and result.steps == 5
    assert [p.name for p in list_checkpoints(tmp_path / "timed")] == ["step-00000002", "step-00000004",
                                                                      "step-00000005"]  # fmt: skip
    LateClock.offset = 0.0
    train(Regression(), Rows(config.batch_size, config.grad_accum), config, tmp_path / "timed", resume=True)
    resumed = kept if keep else ["step-00000002", "step-00000004", "step-00000005", "step-00000006"]
    assert [p.name for p in list_checkpoints(tmp_path / "timed")] == resumed
    assert [p.name for p in last_scheduled(tmp_path / "timed", 2)] == ["step-00000004", "step-00000006"]


def test_overwrite_replaces_a_run_whose_newest_checkpoint_is_damaged(tmp_path, caplog):
    """The run is judged by its newest readable checkpoint, as --resume falls back to it."""
    from xling.training.checkpoint import list_checkpoints

    config = _config(max_steps=4, checkpoint_every=2)
    _run(tmp_path, config)
    state = list_checkpoints(tmp_path)[-1] / "trainer_state.json"
    state.write_bytes(state.read_bytes()[:20])
    with caplog.at_level(logging.WARNING, logger="xling.training"):
        objective, result = _run(tmp_path, config, restart=True)
    assert result.steps == 4 and "unreadable; the run is judged by an older checkpoint" in caplog.text
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000002", "step-00000004"]


@pytest.mark.parametrize("ratio", [1.5, float("inf")])
def test_a_min_lr_ratio_above_one_is_refused(ratio):
    with pytest.raises(ConfigError, match="min_lr_ratio must be in"):
        _config(min_lr_ratio=ratio).validate()


@pytest.mark.parametrize("device", ["gpu", "GPU:0", "cuda:x", "cuda0", ""])
def test_a_device_that_is_not_auto_cpu_cuda_or_cuda_n_is_refused_naming_it(device):
    """gpu or GPU:0 trained on the CPU without a word (init_distributed took any other name for the CPU)."""
    with pytest.raises(ConfigError, match=rf"training\.device: '{device}' is not cpu, cuda, cuda:N or auto"):
        _config(device=device).validate()


def test_cuda_is_refused_where_torch_sees_no_gpu_and_taken_where_it_sees_one(monkeypatch):
    """Without a GPU, cuda was an AttributeError traceback from torch."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(
            ConfigError, match=rf"training\.device: {device} asked for, but torch sees no CUDA"
        ):
            _config(device=device).validate()
    for device in ("auto", "cpu"):
        _config(device=device).validate()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    for device in ("cuda", "cuda:1", "auto", "cpu"):
        _config(device=device).validate()
    # a GPU torch does not see failed in torch.cuda.set_device, after the data had loaded
    with pytest.raises(
        ConfigError, match=r"training\.device: cuda:7 asked for, but torch sees 2 CUDA device"
    ):
        _config(device="cuda:7").validate()


@pytest.mark.parametrize(
    ("device", "world", "local_rank", "expected"),
    [("cuda:1", "1", "0", 1), ("cuda", "1", "0", 0), ("cuda:1", "2", "0", 0), ("cuda:1", "2", "1", 1)],
)
def test_cuda_n_takes_gpu_n_alone_and_the_local_rank_under_torchrun(
    monkeypatch, device, world, local_rank, expected
):
    """training.device=cuda:1 in one process trained on GPU 0 without a word (the index was ignored)."""
    from xling.training import distributed

    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)  # no process group joined here
    monkeypatch.setenv("WORLD_SIZE", world)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    info = distributed.init_distributed(device)
    assert chosen == [expected] and info.device == torch.device("cuda", expected)


def test_a_resume_with_another_checkpoint_interval_keeps_keep_checkpoints(tmp_path):
    # step 3 and 6 were on the first run's schedule (every 3); the resumed run checkpoints every 4: its first
    # save deleted both as off its schedule, leaving one checkpoint where keep_checkpoints asks for two
    from xling.training.checkpoint import list_checkpoints

    _run(tmp_path, _config(max_steps=6, checkpoint_every=3, keep_checkpoints=2))
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000003", "step-00000006"]
    _run(tmp_path, _config(max_steps=8, checkpoint_every=4, keep_checkpoints=2), resume=True)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000006", "step-00000008"]


def test_a_killed_saves_staging_is_not_someone_elses_files(tmp_path):
    """A tokenizer save killed inside a run folder left `.tokenizer.25141.tmp`; the retry, another process,
    never cleans it, and `xling mt train` then refused the folder as "not empty"."""
    from xling.training.loop import entries_besides_the_run

    for name in (".tokenizer.25141.tmp", ".tokenizer.25141.2.tmp", ".best.77.old", "notes.txt", ".hidden"):
        (tmp_path / name).mkdir()
    assert entries_besides_the_run(tmp_path) == [".hidden", "notes.txt"]
