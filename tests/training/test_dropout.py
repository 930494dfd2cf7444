"""xling.training.dropout: a cheaper CPU dropout mask that keeps torch's dropout contract."""

from __future__ import annotations

import pytest
import torch

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


def test_the_same_seed_gives_the_same_mask():
    """Training runs resume to the same weights: the mask comes from torch's seeded generator."""
    torch.manual_seed(4)
    a = cpu_dropout(torch.ones(300), 0.1)
    torch.manual_seed(4)
    assert torch.equal(cpu_dropout(torch.ones(300), 0.1), a)


def test_torchs_dropout_comes_back_after_the_block_even_on_an_error():
    original = torch.nn.functional.dropout
    with pytest.raises(RuntimeError), faster_cpu_dropout():
        assert torch.nn.functional.dropout is cpu_dropout
        raise RuntimeError("a failing step")
    assert torch.nn.functional.dropout is original


def test_the_translation_objective_trains_with_it_and_evaluates_without(tmp_path):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    from xling.translation.objective import Seq2SeqObjective

    config = M2M100Config(vocab_size=50, d_model=16, encoder_layers=1, decoder_layers=1, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, encoder_attention_heads=2, decoder_attention_heads=2, dropout=0.3,
                          max_position_embeddings=32, pad_token_id=1)  # fmt: skip
    objective = Seq2SeqObjective(M2M100ForConditionalGeneration(config), label_smoothing=0.0)
    seen = []
    objective.model.model.encoder.register_forward_pre_hook(
        lambda *_: seen.append(torch.nn.functional.dropout)
    )
    ids = torch.randint(3, 50, (2, 5))
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "decoder_input_ids": ids,
             "decoder_attention_mask": torch.ones_like(ids), "labels": ids}  # fmt: skip
    objective.train()(batch)
    objective.eval()(batch)
    Seq2SeqObjective(objective.model, cpu_dropout=False).train()(batch)
    original = torch.nn.functional.dropout
    assert seen == [cpu_dropout, original, original]
    assert original is not cpu_dropout
