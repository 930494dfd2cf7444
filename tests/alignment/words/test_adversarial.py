"""MUSE-style adversarial mapping: learning a rotation from scratch, model selection and the learning-rate
schedule, determinism, config and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xling.alignment.words import adversarial
from xling.alignment.words.adversarial import AdversarialConfig, adversarial_mapping
from xling.alignment.words.normalize import normalize_embeddings
from xling.alignment.words.procrustes import refine
from xling.errors import ConfigError, DataError

from .conftest import precision_at_1, random_rotation

# Scaled down from MUSE's settings (5 epochs of 1M words, 2048-unit discriminator, 75k words): 3 epochs of
# 1000 iterations and a 128-unit discriminator. In 8 dimensions one step moves W much further than in
# 300, so the mapping keeps up with a faster discriminator only with a stronger pull back to the
# orthogonal matrices (map_beta 0.1) and a larger step (map_lr 1). The data are clustered: adversarial
# training matches distributions, and the sub-word vectors of xling-mini are too close to isotropic
# (top principal component 2% of the variance) for that to pin a rotation down at this scale.
SMALL = {
    "epochs": 3,
    "epoch_size": 32_000,
    "dis_hid_dim": 128,
    "dis_most_frequent": 0,
    "map_lr": 1.0,
    "map_beta": 0.1,
    "threads": 1,
}


def clustered_rotation(seed: int, dim: int = 8, words: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Return (x, z): 20 Gaussian clusters in `dim` dimensions, and the same rows rotated plus noise.

    Both normalised unit,center,unit; row i of z translates row i of x.
    """
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((20, dim))
    x = centers[rng.integers(20, size=words)] + 0.3 * rng.standard_normal((words, dim))
    x = normalize_embeddings(x.astype(np.float32), "unit,center,unit")
    noise = rng.standard_normal(x.shape).astype(np.float32) * 0.01 / np.sqrt(dim)
    z = normalize_embeddings(x @ random_rotation(dim, seed + 100) + noise, "unit,center,unit")
    return x, z


def test_adversarial_training_then_refinement_recovers_a_rotation():
    x, z = clustered_rotation(seed=0)
    assert precision_at_1(x, z) < 0.05  # the identity, where training starts, is far from the answer
    w, history = adversarial_mapping(x, z, AdversarialConfig(**SMALL), progress=False)
    assert w.shape == (8, 8) and w.dtype == np.float32
    assert precision_at_1(x @ w, z) >= 0.9
    refined, _ = refine(x, z, w, iterations=5, max_rank=0, chunk_size=512, criterion=False)
    assert precision_at_1(x @ refined, z) >= 0.95
    assert len(history) == SMALL["epochs"]
    fields = {"epoch", "criterion", "dis_loss", "dis_accuracy", "map_lr", "dis_lr", "best", "seconds"}
    assert fields <= set(history[0])


TINY = {"epochs": 2, "epoch_size": 32 * 40, "dis_hid_dim": 32, "dis_most_frequent": 500, "threads": 1}


def test_same_seed_same_mapping(rotated):
    x = normalize_embeddings(rotated[0][:600, :32], "unit,center,unit")
    z = normalize_embeddings(rotated[1][:600, :32], "unit,center,unit")
    first, history = adversarial_mapping(x, z, AdversarialConfig(**TINY, seed=5), progress=False)
    second, again = adversarial_mapping(x, z, AdversarialConfig(**TINY, seed=5), progress=True)
    other, _ = adversarial_mapping(x, z, AdversarialConfig(**TINY, seed=6), progress=False)
    np.testing.assert_array_equal(first, second)
    assert [h["criterion"] for h in history] == [h["criterion"] for h in again]
    assert not np.array_equal(first, other)


def scripted_criterion(monkeypatch, values: list[float]) -> list[np.ndarray]:
    """Make the criterion return `values` in turn; return the list the scored mappings are added to."""
    seen: list[np.ndarray] = []

    def criterion(X, Z, w, config):
        seen.append(w.copy())
        return values[len(seen) - 1]

    monkeypatch.setattr(adversarial, "_criterion", criterion)
    return seen


def test_best_epoch_is_kept_and_the_rate_shrinks_from_the_second_fall(monkeypatch):
    x, z = clustered_rotation(seed=1, words=300)
    seen = scripted_criterion(monkeypatch, [0.1, 0.5, 0.3, 0.2, 0.25])
    w, history = adversarial_mapping(x, z, AdversarialConfig(**{**TINY, "epochs": 5}), progress=False)
    np.testing.assert_array_equal(w, seen[1])
    assert [h["best"] for h in history] == [True, True, False, False, False]
    rates = [h["map_lr"] for h in history]
    # decay 0.98 per epoch; the first fall below the best (epoch 2) only arms the shrink, the second
    # (epoch 3) halves the rate too
    expected = [0.1, 0.1 * 0.98, 0.1 * 0.98**2, 0.1 * 0.98**3, 0.1 * 0.98**4 * 0.5]
    assert rates == pytest.approx(expected)
    assert {h["dis_lr"] for h in history} == {0.1}


def test_training_stops_once_the_rate_is_below_min_lr(monkeypatch):
    x, z = clustered_rotation(seed=1, words=300)
    scripted_criterion(monkeypatch, [0.5, 0.4, 0.3, 0.2, 0.1])
    config = AdversarialConfig(**{**TINY, "epochs": 5}, min_lr=0.05, lr_shrink=0.1)
    _, history = adversarial_mapping(x, z, config, progress=False)
    assert len(history) == 3


def test_bfloat16_runs_and_gives_a_finite_mapping():
    x, z = clustered_rotation(seed=2, words=300)
    w, _ = adversarial_mapping(x, z, AdversarialConfig(**TINY, precision="bfloat16"), progress=False)
    assert np.isfinite(w).all()


def test_bfloat16_leaves_the_mapping_product_in_float32():
    # bfloat16 is the discriminator's arithmetic only: the mapped rows it is fed are x @ W in float32
    config = AdversarialConfig(dis_hid_dim=16, precision="bfloat16")
    generator = torch.Generator().manual_seed(0)
    discriminator = adversarial._Discriminator(8, config, generator)
    fed = []
    logits = discriminator.logits
    discriminator.logits = lambda rows, gen: fed.append(rows.detach().clone()) or logits(rows, gen)
    x = torch.randn(32, 8, generator=generator)
    mapping = torch.from_numpy(random_rotation(8, seed=1)).requires_grad_()
    expected = x @ mapping.detach()
    autocast = torch.autocast("cpu", dtype=torch.bfloat16)
    adversarial._mapping_step(x, discriminator, mapping, 0.1, config, autocast)
    assert fed[0].dtype == torch.float32 and torch.equal(fed[0], expected)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epochs", 0),
        ("epoch_size", 0),
        ("batch_size", 0),
        ("dis_hid_dim", 0),
        ("dis_most_frequent", -1),
        ("dis_input_dropout", 1.0),
        ("dis_smooth", 0.5),
        ("map_lr", 0.0),
        ("lr_decay", 1.5),
        ("lr_shrink", 0.0),
        ("precision", "float16"),
        ("threads", 0),
        ("dis_steps", 0),
    ],
)
def test_bad_config_fields_are_named(field, value):
    with pytest.raises(ConfigError, match=field):
        AdversarialConfig(**{field: value}).validate()


def test_bad_inputs_are_data_errors():
    x, z = clustered_rotation(seed=3, words=100)
    with pytest.raises(DataError, match="dimension"):
        adversarial_mapping(x, z[:, :4], AdversarialConfig(**TINY), progress=False)
    broken = x.copy()
    broken[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        adversarial_mapping(broken, z, AdversarialConfig(**TINY), progress=False)
