"""Few-shot curve: per-class draws from the target train split, nested and seeded; mean, std, gap closed."""

from __future__ import annotations

from collections import Counter

import pytest

from xling.data.labelled import LabelledTexts
from xling.embeddings.remembering import RememberingEncoder
from xling.errors import ConfigError
from xling.transfer import classifier as classifier_module
from xling.transfer.classifier import train_classifier
from xling.transfer.config import ClassifierConfig
from xling.transfer.fewshot import concat, fewshot_curve, render_curve, sample_per_class

from .toy import build_encoder, texts

LABELS = ["neg", "neu", "pos"]


def toy(lang: str, words: list[str], n: int, offset: int = 0) -> LabelledTexts:
    """n texts `<id> <word of its class>`; ids differ between splits (offset) so texts never repeat."""
    texts = [f"{lang}{offset + i} {words[i % 3]}" for i in range(n)]
    return LabelledTexts(texts, [LABELS[i % 3] for i in range(n)], f"toy/{lang}-{offset}.tsv", lang)


class Memoriser:
    """A toy trained classifier: votes of the words it saw with each label; unknown texts get "neg"."""

    labels = LABELS

    def __init__(self, data: LabelledTexts):
        self.votes: dict[str, Counter] = {}
        for text, label in zip(data.texts, data.labels, strict=True):
            for word in text.split()[1:]:
                self.votes.setdefault(word, Counter())[label] += 1

    def predict(self, texts):
        out = []
        for text in texts:
            votes = sum((self.votes.get(w, Counter()) for w in text.split()[1:]), Counter())
            out.append(votes.most_common(1)[0][0] if votes else "neg")
        return out


def test_draws_are_per_class_seeded_and_nested():
    data = toy("deu", ["schlecht", "naja", "gut"], 90)
    eight = sample_per_class(data, 8, seed=3)
    assert Counter(eight.labels) == {"neg": 8, "neu": 8, "pos": 8}
    assert sample_per_class(data, 8, seed=3).texts == eight.texts  # same seed, same draw
    assert sample_per_class(data, 8, seed=4).texts != eight.texts
    assert set(eight.texts) <= set(sample_per_class(data, 16, seed=3).texts)  # nested
    assert len(sample_per_class(data, 100, seed=0)) == 90  # a class with fewer than k gives all it has
    with pytest.raises(ConfigError, match="k: -1"):
        sample_per_class(data, -1, seed=0)


def test_curve_learns_the_target_words_from_target_train_only():
    source_train = toy("eng", ["bad", "meh", "good"], 60)
    source_dev = toy("eng", ["bad", "meh", "good"], 15, offset=100)
    target_train = {"deu": toy("deu", ["schlecht", "naja", "gut"], 300)}
    tests = {"deu": toy("deu", ["schlecht", "naja", "gut"], 60, offset=1000)}
    seen: list[str] = []
    devs: list[str] = []

    def train(parts, dev):
        data = concat(parts)
        seen.extend(data.texts)
        devs.append(dev.source)
        return Memoriser(data)

    result = fewshot_curve(train, source_train, source_dev, target_train, tests, ks=[0, 1, 8], seeds=3,
                           in_language={"deu": 100.0})  # fmt: skip
    row = result.scores["deu"]
    assert result.task == "transfer-fewshot" and result.primary == "k8"
    assert row["k0"] == pytest.approx(100 * (1 / 2) / 3, abs=0.01)  # everything falls back to "neg"
    assert row["k0_std"] == 0 and len(row["runs"]["0"]) == 1
    assert row["k1"] == 100.0 and row["k8"] == 100.0 and len(row["runs"]["8"]) == 3
    assert row["gap_closed"] == 1.0 and result.settings["averages"]["k0"] == row["k0"]
    assert not set(seen) & set(tests["deu"].texts)  # never trained on test texts
    assert set(devs) == {source_dev.source}  # model selection on the source dev split only
    assert "k=8" in render_curve(result) and "100%" in render_curve(result)


def test_spread_over_seeds_is_reported():
    # a noisy target train split: some draws hold mislabelled examples, so seeds disagree
    target = toy("deu", ["schlecht", "naja", "gut"], 60)
    target.labels[:6] = ["pos", "pos", "neg", "neu", "neg", "pos"]  # flips on texts of all three classes
    tests = {"deu": toy("deu", ["schlecht", "naja", "gut"], 30, offset=500)}
    result = fewshot_curve(lambda parts, dev: Memoriser(concat(parts)), toy("eng", ["bad", "meh", "good"], 30),
                           None, {"deu": target}, tests, ks=[1], seeds=5)  # fmt: skip
    runs = result.scores["deu"]["runs"]["1"]
    assert len(runs) == 5 and result.scores["deu"]["k1_std"] > 0
    assert result.scores["deu"]["k1"] == pytest.approx(sum(runs) / 5, abs=0.01)


def test_bad_settings():
    data = toy("eng", ["bad", "meh", "good"], 30)
    with pytest.raises(ConfigError, match="seeds"):
        fewshot_curve(lambda p, d: Memoriser(concat(p)), data, None, {"deu": data}, {"deu": data}, seeds=0)
    with pytest.raises(ConfigError, match="no train split for fra"):
        fewshot_curve(lambda p, d: Memoriser(concat(p)), data, None, {}, {"fra": data}, ks=[0, 8])


def test_the_frozen_classifier_learns_a_language_from_a_few_of_its_examples(tmp_path, monkeypatch):
    """End to end with the library's frozen classifier, which takes the parts with their languages: German
    sentiment words of its own (no shared space), so a few German examples per class teach what English
    cannot. German's statistics come from its train split's texts only, never the test split's."""
    monkeypatch.setattr(classifier_module, "MIN_ADAPT_TEXTS", 30)  # the toy language has 60 texts in all
    folder = build_encoder(tmp_path / "unshared", dimension=32, shared=False)
    german = texts("deu")
    train_rows = [i for i, text in enumerate(german.texts) if not text.startswith(("mein", "dieses"))]
    test_rows = [i for i in range(len(german)) if i not in train_rows]

    def split(rows: list[int], name: str) -> LabelledTexts:
        return LabelledTexts([german.texts[i] for i in rows], [german.labels[i] for i in rows], name, "deu")

    target_train, test = split(train_rows, "deu-train.tsv"), split(test_rows, "deu-test.tsv")
    config = ClassifierConfig(encoder=str(folder))
    languages = []

    def train(parts, dev):
        languages.append([part.language for part in parts])
        return train_classifier(config, parts, dev, unlabelled={"deu": target_train.texts})

    result = fewshot_curve(
        train, texts("eng"), None, {"deu": target_train}, {"deu": test}, ks=[0, 4], seeds=2
    )
    assert languages == [["eng"], ["eng", "deu"], ["eng", "deu"]]
    assert result.scores["deu"]["k4"] > result.scores["deu"]["k0"] + 15, result.scores["deu"]
    # the same curve when every training shares one encoder that encodes each text once
    from xling.embeddings.encoder import Encoder

    encoded: list[str] = []
    plain = Encoder.load(str(folder))
    counting = RememberingEncoder(plain)
    real_encode = plain.encode
    plain.encode = lambda texts, **kwargs: encoded.extend(texts) or real_encode(texts, **kwargs)

    def remembered(parts, dev):
        return train_classifier(config, parts, dev, encoder=counting, unlabelled={"deu": target_train.texts})

    again = fewshot_curve(
        remembered, texts("eng"), None, {"deu": target_train}, {"deu": test}, ks=[0, 4], seeds=2
    )
    assert again.scores == result.scores
    import copy

    assert copy.copy(counting).encoder is plain  # a copy is a working wrapper (it recursed without end)
    assert len(encoded) == len(set(encoded))  # three trainings, each text encoded once
