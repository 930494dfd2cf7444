"""LazyAdamW: AdamW on dense gradients, touched-rows-only Adam on sparse ones; clipping handles both."""

from __future__ import annotations

import torch

from xling.training.optim import LazyAdamW, clip_grad_norm


def test_dense_steps_match_torch_adamw():
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(5, 3))
    b = torch.nn.Parameter(a.detach().clone())
    ours = LazyAdamW([a], lr=0.1, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    ref = torch.optim.AdamW([b], lr=0.1, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    for _ in range(4):
        grad = torch.randn(5, 3)
        a.grad, b.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
    assert torch.allclose(a, b, atol=1e-6)


def test_sparse_steps_touch_only_the_rows_used_and_match_adam_on_them():
    torch.manual_seed(0)
    table = torch.nn.Parameter(torch.randn(10, 4))
    before = table.detach().clone()
    rows = torch.tensor([1, 7])
    values = torch.randn(2, 4)
    table.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), values, (10, 4))
    LazyAdamW([table], lr=0.1).step()
    untouched = [i for i in range(10) if i not in (1, 7)]
    assert torch.equal(table[untouched], before[untouched])
    # first Adam step: update = lr * g / (|g| + eps) = lr * sign(g)
    assert torch.allclose(table[rows], before[rows] - 0.1 * values.sign(), atol=1e-5)


def test_static_encoder_training_step_equals_a_dense_embedding_bag():
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    from xling.embeddings.static import StaticSentenceEncoder

    tok = Tokenizer(WordLevel({w: i for i, w in enumerate(["a", "b", "c", "d", "e", "f"])}, unk_token="a"))
    tok.pre_tokenizer = Whitespace()
    torch.manual_seed(0)
    model = StaticSentenceEncoder(tok, dimension=3)
    dense = torch.nn.EmbeddingBag.from_pretrained(
        model.embedding.weight.detach().clone(), freeze=False, mode="mean"
    )
    features = model.featurize(["a b b", "c f", "d"])[0]
    model(features).pow(2).sum().backward()
    dense(features["input_ids"], features["offsets"]).pow(2).sum().backward()
    assert model.embedding.weight.grad.is_sparse
    assert torch.allclose(model.embedding.weight.grad.to_dense(), dense.weight.grad, atol=1e-6)


def test_clip_scales_dense_and_sparse_gradients_together():
    p = torch.nn.Parameter(torch.zeros(2, 2))
    q = torch.nn.Parameter(torch.zeros(4, 2))
    p.grad = torch.full((2, 2), 3.0)
    q.grad = torch.sparse_coo_tensor(torch.tensor([[0]]), torch.tensor([[4.0, 0.0]]), (4, 2))
    total = clip_grad_norm([p, q], 1.0)
    assert abs(total - (4 * 9 + 16) ** 0.5) < 1e-5
    norm = (p.grad.pow(2).sum() + q.grad.to_dense().pow(2).sum()).sqrt()
    assert abs(float(norm) - 1.0) < 1e-4


def test_dense_model_gets_the_fused_adamw_with_the_plain_update():
    from xling.training.loop import TrainingConfig, build_optimizer

    torch.manual_seed(0)
    fused_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    plain_model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    plain_model.load_state_dict(fused_model.state_dict())
    config = TrainingConfig(lr=0.01, weight_decay=0.1)
    fused = build_optimizer(fused_model, config)
    assert fused.defaults["fused"]
    # the same groups and settings through the for-loop kernel: equal up to rounding
    plain = torch.optim.AdamW(
        [{"params": [plain_model[0].weight], "weight_decay": 0.1},
         {"params": [plain_model[0].bias, *plain_model[1].parameters()], "weight_decay": 0.0}],
        lr=0.01, betas=config.adam_betas, eps=config.adam_eps, fused=False,
    )  # fmt: skip
    for _ in range(3):
        x = torch.randn(8, 4)
        for model, optimizer in ((fused_model, fused), (plain_model, plain)):
            optimizer.zero_grad()
            model(x).pow(2).sum().backward()
            optimizer.step()
    for a, b in zip(fused_model.parameters(), plain_model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_resumed_optimizer_keeps_its_own_kernel_and_the_saved_moments(tmp_path):
    """torch's load_state_dict takes the saved groups' settings: a checkpoint written by the for-loop kernel
    (before fused AdamW) must not turn the resumed run's optimizer unfused."""
    from xling.training.checkpoint import load_checkpoint, save_checkpoint
    from xling.training.loop import TrainingConfig, build_optimizer

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    # the groups build_optimizer makes: matrices with weight decay, the bias without
    plain = torch.optim.AdamW([{"params": [model.weight]}, {"params": [model.bias]}], lr=0.01, fused=False)
    model(torch.randn(8, 4)).pow(2).sum().backward()
    plain.step()
    scheduler = torch.optim.lr_scheduler.LambdaLR(plain, lambda step: 1.0)
    save_checkpoint(tmp_path, 1, model, plain, scheduler, {"step": 1})
    resumed = build_optimizer(model, TrainingConfig(lr=0.01))
    load_checkpoint(tmp_path / "checkpoints" / "step-00000001", model, resumed)
    assert all(group["fused"] for group in resumed.param_groups)
    assert torch.equal(resumed.state[model.weight]["exp_avg"], plain.state[model.weight]["exp_avg"])
