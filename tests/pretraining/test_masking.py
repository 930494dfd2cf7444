import torch

from xling.pretraining.masking import IGNORE_INDEX, mask_tokens

FIRST_REGULAR, VOCAB, MASK = 20, 1000, 4


def _batch(n=400, length=256):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(FIRST_REGULAR, VOCAB, (n, length), generator=g)
    ids[:, 0] = 0  # <s>
    ids[:, -1] = 2  # </s>
    ids[::3, 100:] = 1  # padding
    ids[:, 50] = 7  # a language token
    return ids


def test_mask_rates_follow_80_10_10():
    ids = _batch()
    masked, labels = mask_tokens(ids, mask_id=MASK, first_regular_id=FIRST_REGULAR, vocab_size=VOCAB,
                                 generator=torch.Generator().manual_seed(0))  # fmt: skip
    regular = ids >= FIRST_REGULAR
    chosen = labels != IGNORE_INDEX
    assert abs(chosen.sum() / regular.sum() - 0.15) < 0.005
    as_mask = (masked == MASK) & chosen
    kept = (masked == ids) & chosen
    randomised = chosen & ~as_mask & ~kept
    n = chosen.sum()
    assert abs(as_mask.sum() / n - 0.8) < 0.01
    # a random draw can equal the original token (1 in 980), so "kept" is slightly above 10%
    assert abs(kept.sum() / n - 0.1) < 0.01
    assert abs(randomised.sum() / n - 0.1) < 0.01


def test_special_tokens_are_never_masked_or_drawn():
    ids = _batch()
    masked, labels = mask_tokens(ids, mask_id=MASK, first_regular_id=FIRST_REGULAR, vocab_size=VOCAB)
    special = ids < FIRST_REGULAR
    assert (labels[special] == IGNORE_INDEX).all()
    assert torch.equal(masked[special], ids[special])
    changed = (masked != ids) & (masked != MASK)
    assert (masked[changed] >= FIRST_REGULAR).all() and (masked[changed] < VOCAB).all()


def test_a_mask_token_after_the_regular_ones_is_never_chosen_or_drawn():
    """XLM-R keeps `<mask>` as its last id, among the regular ones: it was drawn as a random word, and a
    `<mask>` in the text could be chosen for masking."""
    small = 30  # the last id, 29, is <mask>: a draw over 20..29 would give it 1 time in 10
    ids = torch.randint(FIRST_REGULAR, small - 1, (400, 64), generator=torch.Generator().manual_seed(2))
    ids[:, 10] = small - 1  # a literal <mask> in the text
    masked, labels = mask_tokens(ids, mask_id=small - 1, first_regular_id=FIRST_REGULAR, vocab_size=small,
                                 generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert (labels[:, 10] == IGNORE_INDEX).all()
    randomised = (labels != IGNORE_INDEX) & (masked != small - 1) & (masked != ids)
    assert randomised.sum() > 100 and (masked[randomised] < small - 1).all()
    # every regular id can still be drawn, the one before <mask> included
    assert set(masked[randomised].tolist()) == set(range(FIRST_REGULAR, small - 1))


def test_labels_hold_the_original_ids_at_chosen_positions():
    ids = _batch(50, 64)
    masked, labels = mask_tokens(ids, mask_id=MASK, first_regular_id=FIRST_REGULAR, vocab_size=VOCAB)
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])


def test_same_generator_seed_same_masking():
    ids = _batch(20, 64)
    a = mask_tokens(ids, mask_id=MASK, first_regular_id=FIRST_REGULAR, vocab_size=VOCAB,
                    generator=torch.Generator().manual_seed(5))  # fmt: skip
    b = mask_tokens(ids, mask_id=MASK, first_regular_id=FIRST_REGULAR, vocab_size=VOCAB,
                    generator=torch.Generator().manual_seed(5))  # fmt: skip
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_the_first_regular_id_follows_the_opening_run_of_special_tokens():
    """XLM-R keeps <mask> last: one past the largest special id would be the vocabulary's end, nothing left
    to mask or draw; xling's vocabularies open with all their specials, where both rules agree."""
    from types import SimpleNamespace

    from xling.pretraining.masking import first_regular_id

    xlmr = SimpleNamespace(all_special_ids=[0, 1, 2, 3, 250001])
    assert first_regular_id(xlmr) == 4
    xling = SimpleNamespace(all_special_ids=list(range(8)))
    assert first_regular_id(xling) == 8 == max(xling.all_special_ids) + 1
