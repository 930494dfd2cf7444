"""xling.training.dropout: a cheaper CPU dropout mask that keeps torch's dropout contract."""

from __future__ import annotations

import threading

import pytest
import torch

from xling.training import dropout
from xling.training.dropout import cpu_dropout, faster_cpu_dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_elements_drop_with_probability_p_and_the_rest_keep_the_mean(p, dtype):
    torch.manual_seed(0)
    x = torch.ones(1000, 1001, dtype=dtype)  # an odd count: the last 64-bit draw is shared out in part
    y = cpu_dropout(x, p)
    dropped = (y == 0).float().mean().item()
    assert dropped == pytest.approx(p, abs=0.003)  # 1M elements: the standard error is <= 0.0005
    kept = y[y != 0].float()
    assert torch.allclose(
        kept, torch.full_like(kept, 1 / (1 - p)), rtol=1e-2 if dtype == torch.bfloat16 else 1e-4
    )
    assert y.float().mean().item() == pytest.approx(1.0, abs=0.01)
    assert y.dtype == dtype and y.shape == x.shape


def test_each_share_of_a_draw_is_its_own_coin():
    """Elements 4k..4k+3 come from one 64-bit draw: each position must drop at rate p on its own, and
    neighbours must not drop together more than chance says."""
    torch.manual_seed(1)
    drops = (cpu_dropout(torch.ones(400_000, 4), 0.3) == 0).float()
    assert drops.mean(0).tolist() == pytest.approx([0.3] * 4, abs=0.005)
    both = (drops[:, 0] * drops[:, 1]).mean().item()
    assert both == pytest.approx(0.09, abs=0.004)


def test_gradients_flow_through_the_kept_elements_only():
    torch.manual_seed(2)
    x = torch.randn(64, 33, requires_grad=True)
    y = cpu_dropout(x, 0.25)
    y.sum().backward()
    kept = y.detach() != 0
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 1 / 0.75))
    assert torch.all(x.grad[~kept] == 0)


def test_eval_mode_zero_p_and_in_place_are_torchs_dropout():
    x = torch.randn(10, 10)
    assert cpu_dropout(x, 0.5, training=False) is x
    assert torch.equal(cpu_dropout(x, 0.0), x)
    assert torch.equal(cpu_dropout(x, 1.0), torch.zeros_like(x))
    torch.manual_seed(3)
    theirs = torch.nn.functional.dropout(x.clone(), 0.5, inplace=True)
    torch.manual_seed(3)
    assert torch.equal(cpu_dropout(x.clone(), 0.5, inplace=True), theirs)
    with pytest.raises(ValueError, match="dropout probability"):
        cpu_dropout(x, 1.5)


def test_a_p_within_16_bits_of_0_or_1_and_integer_tensors_are_torchs_dropout():
    """(1 - p) x 65536 rounds to 65536 or 0 there: drawn with 16 bits it would drop every element or divide
    by zero."""
    torch.manual_seed(5)
    nearly_none = cpu_dropout(torch.ones(10_000), 1e-6)
    assert (nearly_none == 0).sum() <= 2 and nearly_none.max() == pytest.approx(1 / (1 - 1e-6))
    assert (cpu_dropout(torch.ones(10_000), 1 - 1e-6) != 0).sum() <= 2
    assert (cpu_dropout(torch.ones(10_000), 2**-16) == 0).sum() <= 10  # the smallest p drawn with 16 bits
    for p in (0.5, 1e-6):
        with pytest.raises(RuntimeError) as theirs:
            torch.nn.functional.dropout(torch.ones(4, dtype=torch.long), p)
        with pytest.raises(type(theirs.value)):
            cpu_dropout(torch.ones(4, dtype=torch.long), p)


def test_the_same_seed_gives_the_same_mask():
    """Training runs resume to the same weights: the mask comes from torch's seeded generator."""
    torch.manual_seed(4)
    a = cpu_dropout(torch.ones(300), 0.1)
    torch.manual_seed(4)
    assert torch.equal(cpu_dropout(torch.ones(300), 0.1), a)


def spy_on_cpu_dropout(monkeypatch) -> list[str]:
    """Return the names of the threads whose dropout went through cpu_dropout from now on."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(threading.current_thread().name)
        return cpu_dropout(*args, **kwargs)

    monkeypatch.setattr(dropout, "cpu_dropout", spy)
    return calls


def test_torchs_dropout_comes_back_after_the_block_even_on_an_error(monkeypatch):
    original = torch.nn.functional.dropout
    calls = spy_on_cpu_dropout(monkeypatch)
    with pytest.raises(RuntimeError), faster_cpu_dropout():
        torch.nn.functional.dropout(torch.ones(8), 0.5)
        raise RuntimeError("a failing step")
    assert calls == [threading.current_thread().name]
    assert torch.nn.functional.dropout is original


def test_a_dropout_patched_before_the_block_is_kept_and_put_back(monkeypatch):
    calls = spy_on_cpu_dropout(monkeypatch)
    theirs = []

    def patched(input, p=0.5, training=True, inplace=False):
        theirs.append(p)
        return input

    monkeypatch.setattr(torch.nn.functional, "dropout", patched)
    with faster_cpu_dropout():
        torch.nn.functional.dropout(torch.ones(8), 0.5)
        other = threading.Thread(target=lambda: torch.nn.functional.dropout(torch.ones(8), 0.25))
        other.start()
        other.join(10)
    assert torch.nn.functional.dropout is patched
    assert len(calls) == 1 and theirs == [0.25]


def test_only_the_threads_in_a_block_get_it_and_the_last_block_out_restores_torchs(monkeypatch):
    """Blocks of two threads that close in the order they opened (A in, B in, A out, B out) must leave
    torch's dropout in place, and a thread outside any block keeps torch's own meanwhile."""
    original = torch.nn.functional.dropout
    calls = spy_on_cpu_dropout(monkeypatch)
    a_in, b_in, a_out, outsider_done = (threading.Event() for _ in range(4))
    errors = []

    def thread_a():
        with faster_cpu_dropout():
            a_in.set()
            b_in.wait(10)
            outsider_done.wait(10)  # the outsider's call lands while both blocks are open
            torch.nn.functional.dropout(torch.ones(8), 0.5)
        a_out.set()

    def thread_b():
        a_in.wait(10)
        with faster_cpu_dropout():
            b_in.set()
            a_out.wait(10)
            torch.nn.functional.dropout(torch.ones(8), 0.5)

    def outsider():
        b_in.wait(10)
        try:
            torch.nn.functional.dropout(torch.ones(8), 0.5)
        except Exception as error:  # noqa: BLE001  (reported below, in the test's thread)
            errors.append(error)
        outsider_done.set()

    threads = [threading.Thread(target=f, name=f.__name__) for f in (thread_a, thread_b, outsider)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    assert sorted(calls) == ["thread_a", "thread_b"]
    assert torch.nn.functional.dropout is original


def test_the_translation_objective_trains_with_it_and_evaluates_without(monkeypatch):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    from xling.translation.objective import Seq2SeqObjective

    config = M2M100Config(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, dropout=0.3,
                          max_position_embeddings=32, pad_token_id=1)  # fmt: skip
    objective = Seq2SeqObjective(M2M100ForConditionalGeneration(config), label_smoothing=0.0)
    calls = spy_on_cpu_dropout(monkeypatch)
    ids = torch.randint(3, 50, (2, 5))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "decoder_input_ids": ids,
             "decoder_attention_mask": torch.ones_like(ids), "labels": ids}  # fmt: skip
    objective.train()(batch)
    trained = len(calls)
    objective.eval()(batch)
    Seq2SeqObjective(objective.model, cpu_dropout=False).train()(batch)
    assert trained > 0 and len(calls) == trained  # the layers' dropout calls, in training only
