"""Hard negatives for translation ranking: the loss, mining (FAISS, margin filter, cache), batches, a run."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from xling.alignment.sentences import hard_negatives
from xling.alignment.sentences.align import AlignConfig, align_sentences
from xling.alignment.sentences.data import (
    PairBatches,
    PairSampling,
    ParallelBank,
    TokenBank,
    build_parallel_bank,
)
from xling.alignment.sentences.hard_negatives import (
    HardNegativeTable,
    cached_hard_negatives,
    mine_hard_negatives,
)
from xling.alignment.sentences.losses import translation_ranking_loss
from xling.alignment.sentences.objective import SentenceAlignmentObjective
from xling.config import load_config
from xling.data.config import CorpusConfig
from xling.embeddings.static import bag_features
from xling.errors import ConfigError
from xling.training import TrainingConfig


def test_ranking_loss_with_negatives_is_the_hand_computed_cross_entropy():
    src = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    tgt = torch.tensor([[0.8, 0.6], [0.6, 0.8]])
    neg = torch.tensor([[3.0, 4.0]])  # normalised to (0.6, 0.8)
    scale, margin = 10.0, 0.1

    def ce(logits, label):
        return -logits[label] + math.log(sum(math.exp(x) for x in logits))

    # src -> tgt: candidates tgt0, tgt1, neg0 (margin on the positive only); tgt -> src: in-batch only
    forward = [ce([scale * (0.8 - margin), scale * 0.6, scale * 0.6], 0),
               ce([scale * 0.6, scale * (0.8 - margin), scale * 0.8], 1)]  # fmt: skip
    backward = [ce([scale * (0.8 - margin), scale * 0.6], 0), ce([scale * 0.6, scale * (0.8 - margin)], 1)]
    expected = (sum(forward) / 2 + sum(backward) / 2) / 2
    loss = translation_ranking_loss(src, tgt, scale, margin, tgt_negatives=neg)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    plain = translation_ranking_loss(src, tgt, scale, margin)
    assert loss > plain
    for none in (None, torch.zeros(0, 2)):
        assert torch.equal(translation_ranking_loss(src, tgt, scale, margin, tgt_negatives=none), plain)


def test_ranking_loss_sends_gradient_to_the_negatives():
    torch.manual_seed(0)
    src, tgt = torch.randn(4, 8), torch.randn(4, 8)
    neg = torch.randn(6, 8, requires_grad=True)
    translation_ranking_loss(src, tgt, tgt_negatives=neg).backward()
    assert neg.grad is not None and neg.grad.abs().sum() > 0


class FakeEncoder:
    """Encodes each text to a given vector (and counts calls)."""

    def __init__(self, vectors: dict[str, np.ndarray]):
        self.vectors, self.calls = vectors, 0

    def encode(self, texts, batch_size=64, show_progress=None):
        self.calls += 1
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def _toy_bank(per_unit: dict[str, list[str | None]]) -> ParallelBank:
    """Return a bank from per-language lists of each unit's text (None: the language lacks that unit)."""
    n = len(next(iter(per_unit.values())))
    banks, row, texts = {}, {}, {}
    for lang, column in per_unit.items():
        present = [i for i, t in enumerate(column) if t is not None]
        texts[lang] = [column[i] for i in present]
        # a text's bytes as its ids: batches take no sentence twice (PairBatches.distinct), so distinct texts
        # must have distinct ids
        banks[lang] = TokenBank.build(texts[lang], lambda ts: ([list(t.encode()) for t in ts], 0))
        row[lang] = np.full(n, -1, dtype=np.int64)
        row[lang][present] = np.arange(len(present))
    return ParallelBank([f"u{i}" for i in range(n)], banks, row, texts)


def _unit(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([math.cos(a), math.sin(a)], dtype=np.float32)


def test_mining_skips_the_translation_and_candidates_within_the_margin():
    # unit 0's pivot points at 0 degrees; its translation scores cos 25.8 = 0.90, so with margin 0.05 any
    # sentence scoring >= 0.855 is skipped as a likely paraphrase: d1 (0.88) goes, d2 (0.80) and d3 (0.50)
    # are the two hard negatives, in that order
    angles = {"d0": 25.84, "d1": -28.36, "d2": 36.87, "d3": -60.0, "d4": 78.46}
    vectors = {name: _unit(a) for name, a in angles.items()} | {f"e{i}": _unit(i * 70.0) for i in range(5)}
    bank = _toy_bank({"eng": ["e0", "e1", "e2", "e3", "e4"], "deu": ["d0", "d1", "d2", "d3", "d4"]})
    table = mine_hard_negatives(FakeEncoder(vectors), bank, ["deu"], "eng", k=2, margin=0.05).table
    assert table.shape == (5, 1, 2) and table.dtype == np.int32
    assert table[0, 0].tolist() == [2, 3]
    loose = mine_hard_negatives(FakeEncoder(vectors), bank, ["deu"], "eng", k=2, margin=0.0).table
    assert loose[0, 0].tolist() == [1, 2]  # without the margin the near-duplicate is the hardest negative
    for u in range(5):
        assert u not in table[u, 0]  # never the unit's own translation


def _reference(q, base, pivot_rows, rows, k, margin, range_min):
    out = np.full((len(rows), k), -1)
    for u in range(len(rows)):
        if pivot_rows[u] < 0 or rows[u] < 0:
            continue
        scores = base @ q[pivot_rows[u]]
        ranked = [j for j in np.argsort(-scores, kind="stable") if j != rows[u]][range_min:]
        kept = [j for j in ranked if scores[j] < scores[rows[u]] * (1 - margin)][:k]
        out[u, : len(kept)] = kept
    return out


@pytest.mark.parametrize("range_min", [0, 2])
def test_mining_in_chunks_matches_brute_force(range_min):
    rng = np.random.default_rng(0)
    n, dim = 40, 8
    pivot = rng.normal(size=(n, dim))
    deu = pivot + 0.3 * rng.normal(size=(n, dim))  # translations: close to their pivot sentence
    pivot[1] = pivot[0] + 0.01 * rng.normal(size=dim)  # a repeated sentence (as Bible verses repeat) ...
    deu[1] = deu[0] + 0.01 * rng.normal(size=dim)  # ... so unit 1's translation nearly duplicates unit 0's
    eng_texts = [f"e{i}" if i % 9 != 5 else None for i in range(n)]  # some units lack the pivot ...
    deu_texts = [f"d{i}" if i % 7 != 3 else None for i in range(n)]  # ... or the other language
    vectors = {f"e{i}": pivot[i] for i in range(n)} | {f"d{i}": deu[i] for i in range(n)}
    bank = _toy_bank({"eng": eng_texts, "deu": deu_texts})
    encoder = FakeEncoder(vectors)
    mined = mine_hard_negatives(encoder, bank, ["eng", "deu"], "eng", k=4, margin=0.05, chunk=3,
                                range_min=range_min)  # fmt: skip
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)  # noqa: E731
    bases = {"eng": unit(pivot[bank.row["eng"] >= 0]), "deu": unit(deu[bank.row["deu"] >= 0])}
    for column, lang in enumerate(("eng", "deu")):
        expected = _reference(bases["eng"], bases[lang], bank.row["eng"], bank.row[lang], 4, 0.05, range_min)
        assert mined.table[:, column].tolist() == expected.tolist(), lang
        own = bank.row[lang]
        assert not (
            (mined.table[:, column] == own[:, None]) & (own[:, None] >= 0)
        ).any()  # never the translation
    assert (mined.table[bank.row["eng"] < 0] == -1).all()  # no pivot sentence: nothing mined
    assert (mined.table[bank.row["deu"] < 0, 1] == -1).all()  # no translation: no deu negatives
    scores = bases["deu"] @ bases["eng"][bank.row["eng"][0]]
    assert np.argsort(-scores)[:2].tolist() in ([0, 1], [1, 0])  # the duplicate is the hardest candidate ...
    assert 1 not in mined.table[0, 1]  # ... and skipped as a likely false negative
    assert encoder.calls == 2  # the pivot once, deu once
    same = mine_hard_negatives(FakeEncoder(vectors), bank, ["eng", "deu"], "eng", k=4, chunk=1000,
                               range_min=range_min)  # fmt: skip
    assert np.array_equal(same.table, mined.table)


def test_mined_table_is_cached_and_reused(tmp_path):
    rng = np.random.default_rng(1)
    vectors = {f"{p}{i}": rng.normal(size=4) for p in "ed" for i in range(12)}
    bank = _toy_bank({"eng": [f"e{i}" for i in range(12)], "deu": [f"d{i}" for i in range(12)]})
    loads = []

    def load():
        loads.append(1)
        return FakeEncoder(vectors)

    first = cached_hard_negatives(
        load, bank, ["eng", "deu"], "eng", tmp_path, {"encoder": "fake"}, k=3, margin=0.05
    )
    again = cached_hard_negatives(
        load, bank, ["eng", "deu"], "eng", tmp_path, {"encoder": "fake"}, k=3, margin=0.05
    )
    assert len(loads) == 1 and np.array_equal(first.table, again.table)
    assert json.loads((tmp_path / "hard_negatives.json").read_text())["k"] == 3
    cached_hard_negatives(load, bank, ["eng", "deu"], "eng", tmp_path, {"encoder": "fake"}, k=2, margin=0.05)
    assert len(loads) == 2  # another setting: mined again
    assert np.load(tmp_path / "hard_negatives.npy").shape == (12, 2, 2)
    # another corpus of the same ids and sizes (another English Bible): mined again, not the old table
    vectors.update({f"x{i}": rng.normal(size=4) for i in range(12)})
    other = _toy_bank({"eng": [f"x{i}" for i in range(12)], "deu": [f"d{i}" for i in range(12)]})
    cached_hard_negatives(load, other, ["eng", "deu"], "eng", tmp_path, {"encoder": "fake"}, k=2, margin=0.05)
    assert len(loads) == 3


def test_pair_batches_draw_hard_negatives_purely_and_never_a_batch_translation():
    rng = np.random.default_rng(2)
    n = 60
    vectors = {f"{p}{i}": rng.normal(size=6) for p in "edr" for i in range(n)}
    bank = _toy_bank({"eng": [f"e{i}" for i in range(n)], "deu": [f"d{i}" for i in range(n)],
                      "rus": [f"r{i}" for i in range(n)]})  # fmt: skip
    table = mine_hard_negatives(FakeEncoder(vectors), bank, ["eng", "deu", "rus"], "eng", k=5, margin=0.0)
    sampling = PairSampling("eng", xx_yy_ratio=0.5)
    plain = PairBatches(bank, bag_features, 8, sampling, seed=3)
    batches = PairBatches(bank, bag_features, 8, sampling, seed=3, negatives=table, hard_negatives=2)
    seen_tgt_langs = set()
    for step in range(12):
        a, b, c = batches.get(step, 0, 0, 1), batches.get(step, 0, 0, 1), plain.get(step, 0, 0, 1)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)  # pure
        assert all(torch.equal(a[k], c[k]) for k in c)  # the pairs are those of a run without negatives
        units, drawn = a["units"].numpy(), a["negative_rows"].numpy()
        assert 0 < len(drawn) <= 2 * len(units) and len(set(drawn)) == len(drawn)
        _, tgt, _ = batches.pair(np.random.default_rng([3, step, 0, 0]))  # the draw get() made first
        seen_tgt_langs.add(tgt)
        assert not np.isin(drawn, bank.row[tgt][units]).any()  # never a translation in this batch
        column = table.languages.index(tgt)
        assert np.isin(drawn, table.table[units, column]).all()  # drawn from these units' candidates
        assert len(a["neg_offsets"]) == len(drawn)
    assert len(seen_tgt_langs) > 1  # xx-yy batches draw negatives in their own tgt language


def test_objective_counts_negative_tokens_and_uses_them():
    from tokenizers import Tokenizer, models

    from xling.embeddings.static import StaticSentenceEncoder

    torch.manual_seed(0)
    student = StaticSentenceEncoder(
        Tokenizer(models.WordLevel({"a": 0, "b": 1, "c": 2}, unk_token="a")), dimension=4
    )
    objective = SentenceAlignmentObjective(student)
    batch = {f"src_{k}": v for k, v in bag_features([[0, 1], [2]]).items()}
    batch |= {f"tgt_{k}": v for k, v in bag_features([[1], [2, 0]]).items()}
    plain = objective(batch)
    batch |= {f"neg_{k}": v for k, v in bag_features([[0, 1, 2], [1]]).items()}
    with_negatives = objective(batch)
    assert plain["tokens"].item() == 6 and with_negatives["tokens"].item() == 10
    assert with_negatives["ranking"] > plain["ranking"]


@pytest.mark.parametrize("changes, field", [
    ({"hard_negatives": 1}, "hard_negative_encoder"),  # a new static student cannot mine
    ({"hard_negatives": -1}, "hard_negatives"),
    ({"hard_negatives": 3, "hard_negative_encoder": "xling-mini", "hard_negative_candidates": 2},
     "hard_negative_candidates"),
    ({"hard_negative_margin": 1.0}, "hard_negative_margin"),
    ({"hard_negatives": 1, "hard_negative_encoder": "xling-mini", "ranking_weight": 0.0, "teacher": "t",
      "distill_weight": 1.0}, "hard_negatives"),
])  # fmt: skip
def test_hard_negative_config_errors_name_the_field(changes, field):
    config = AlignConfig(data=CorpusConfig(corpus="sample"), tokenizer="t")
    for key, value in changes.items():
        setattr(config, key, value)
    with pytest.raises(ConfigError, match=f"^{field}:"):
        config.validate()
    student = AlignConfig(data=CorpusConfig(corpus="sample"), student="some/encoder", hard_negatives=2)
    student.validate()  # an encoder-folder student mines for itself


def test_hard_negative_fields_come_through_set():
    sets = ["hard_negatives=2", "hard_negative_encoder=xling-mini", "hard_negative_candidates=8",
            "hard_negative_margin=0.1"]  # fmt: skip
    config = load_config(AlignConfig, None, sets, data={"corpus": "sample"}, tokenizer="t")  # as the CLI does
    assert (config.hard_negatives, config.hard_negative_encoder) == (2, "xling-mini")
    assert (config.hard_negative_candidates, config.hard_negative_margin) == (8, 0.1)


def test_alignment_with_hard_negatives_trains_and_resumes_exactly(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    def run(folder, steps, resume=False, negatives=1):
        config = AlignConfig(
            output=str(folder), data=CorpusConfig("sample", ["eng", "deu", "rus"], heldout_fraction=0.2),
            tokenizer=str(sample_tokenizer_dir), dimension=16, resume=resume, xx_yy_ratio=0.5, hard_negatives=negatives,
            hard_negative_encoder="xling-mini", hard_negative_candidates=4,
            training=TrainingConfig(max_steps=steps, batch_size=16, lr=0.02, schedule="constant", warmup_steps=0,
                                    checkpoint_every=5, log_every=1, progress=False),
        )  # fmt: skip
        return align_sentences(config)

    straight = run(tmp_path / "a", 10)
    run(tmp_path / "plain", 1, negatives=0)
    table = np.load(tmp_path / "a" / "hard_negatives.npy")
    assert table.shape[1:] == (3, 4) and (table >= 0).mean() > 0.9
    assert _first_loss(tmp_path / "a") > _first_loss(tmp_path / "plain")  # same pairs, more negatives
    assert straight.training["final_loss"] < _first_loss(tmp_path / "a")
    first_tokens = [json.loads((tmp_path / x / "train_log.jsonl").read_text().splitlines()[0])["tokens"]
                    for x in ("a", "plain")]  # fmt: skip
    assert first_tokens[0] > first_tokens[1]  # the negatives' tokens are counted

    def must_not_mine(*args, **kwargs):
        raise AssertionError("mined again despite a valid cached table")

    monkeypatch.setattr(hard_negatives, "mine_hard_negatives", must_not_mine)
    (tmp_path / "b").mkdir()
    for name in ("hard_negatives.npy", "hard_negatives.json"):  # the same settings: reused, as on resume
        shutil.copy(tmp_path / "a" / name, tmp_path / "b" / name)
    run(tmp_path / "b", 5)
    resumed = run(tmp_path / "b", 10, resume=True)
    # resumed at step 5, not started again (per-step seeds would give the same weights either way)
    assert resumed.training["steps"] == 10 and resumed.training["resumed_from"] == 5
    assert [
        json.loads(line)["step"] for line in (tmp_path / "b" / "train_log.jsonl").read_text().splitlines()
    ] == list(range(1, 11))
    assert resumed.training["final_loss"] == straight.training["final_loss"]
    weights = [load_file(str(tmp_path / x / "0_StaticEmbedding" / "model.safetensors")) for x in ("a", "b")]
    assert torch.equal(weights[0]["embedding.weight"], weights[1]["embedding.weight"])


def _first_loss(run_dir):
    return json.loads((run_dir / "train_log.jsonl").read_text().splitlines()[0])["loss"]


def test_hard_negatives_are_mined_again_when_the_miner_folder_is_replaced(tmp_path, sample_tokenizer_dir,
                                                                          monkeypatch):  # fmt: skip
    """The cached table's key holds the miner's weights, not only its path: a miner replaced in place (other
    weights, as a re-trained model) mines again, even with --overwrite's cache kept; the same one does not."""
    from tokenizers import Tokenizer

    from xling.alignment.sentences.align import hard_negative_table
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir
    from xling.embeddings.static import StaticSentenceEncoder

    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    corpus = AlignedCorpus.from_dir(sample_corpus_dir())
    tokenize = lambda texts: ([[len(t)] for t in texts], 0)  # noqa: E731
    bank = build_parallel_bank(corpus, ["eng", "deu"], tokenize, keep=lambda _ident: True, keep_texts=["eng"])
    miner, run = tmp_path / "miner", tmp_path / "run"
    run.mkdir()
    config = AlignConfig(hard_negatives=1, hard_negative_encoder=str(miner), hard_negative_candidates=3)
    mined = []
    mine = hard_negatives.mine_hard_negatives
    monkeypatch.setattr(
        hard_negatives, "mine_hard_negatives", lambda *a, **k: mined.append(1) or mine(*a, **k)
    )

    def table(seed: int) -> np.ndarray:
        torch.manual_seed(seed)
        shutil.rmtree(miner, ignore_errors=True)
        StaticSentenceEncoder(tokenizer, dimension=16).save(miner)
        return np.asarray(hard_negative_table(config, bank, ["eng", "deu"], run).table)

    first = table(0)
    assert np.array_equal(table(0), first) and len(mined) == 1  # the same weights: the cached table
    other = table(1)
    assert len(mined) == 2 and not np.array_equal(other, first)


def test_a_hard_negative_is_never_the_text_of_a_batch_translation_held_in_another_row():
    # the English Bible repeats verses word for word: rows 0 and 2 hold one text, rows 4 and 5 another
    eng = ["x", "y", "x", "z", "w", "w"]
    bank = _toy_bank({"eng": eng, "deu": [f"d{i}" for i in range(len(eng))]})
    table = np.full((len(eng), 1, 2), -1, dtype=np.int32)
    table[1, 0] = [2, 4]  # row 2 is unit 0's translation in all but its row
    table[3, 0] = [5, -1]  # row 5 is row 4's text again
    batches = PairBatches(bank, bag_features, 3, PairSampling("eng"), negatives=HardNegativeTable(table, ["eng"]),
                          hard_negatives=2)  # fmt: skip
    units = np.array([0, 1, 3])
    for seed in range(8):  # whichever candidate each unit draws first
        drawn = batches.negative_batch("eng", units, np.random.default_rng(seed))["negative_rows"]
        assert drawn.tolist() in ([4], [5])  # not row 2, and w once
