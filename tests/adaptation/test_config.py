"""AdaptConfig.validate: a bad setting is refused before anything is read, naming its field."""

from __future__ import annotations

import pytest

from xling.adaptation.config import AdaptConfig
from xling.errors import ConfigError


@pytest.mark.parametrize("code", ["und", "mul", "zxx", "mis", "UND", "und-Latn", "zxx_Zyyy"])
def test_a_code_that_names_no_language_is_refused(code):
    """The new model's xling.json would list `und` among its languages (and `und` is a detector's "don't know")."""
    with pytest.raises(ConfigError, match=rf"^language: '{code}' names no language \("):
        AdaptConfig(language=code, dictionary=["dict.tsv"]).validate()


@pytest.mark.parametrize("code", ["tur", "tr", "srp_Latn", "sr-Cyrl"])
def test_a_language_code_passes(code):
    AdaptConfig(language=code, dictionary=["dict.tsv"]).validate()


@pytest.mark.parametrize(
    ("setting", "field"),
    [({"max_new": -1}, "vocabulary.max_new"), ({"learn_size": 0}, "vocabulary.learn_size"),
     ({"scale": -5.0}, "static.scale"), ({"scale": 0}, "static.scale"),
     ({"margin": float("nan")}, "static.margin"), ({"margin": -0.2}, "static.margin"),
     ({"clause_pairs": 1}, "static.clause_pairs"), ({"clause_pairs": -2}, "static.clause_pairs"),
     ({"clause_length_ratio": 0.5}, "static.clause_length_ratio"),
     ({"weights": {"dictionary": float("inf")}}, "static.weights.dictionary"),
     ({"weights": {"text": -1.0}}, "static.weights.text"), ({"weights": {"text": float("nan")}}, "static.weights.text")],
)  # fmt: skip
def test_vocabulary_and_static_settings_are_checked_before_anything_is_read(setting, field):
    """learn_size 0 failed inside the sub-word learner (a traceback), max_new -1 only after learning, and a
    negative scale trained and saved a model whose ranking loss pushed the translations away."""
    from dataclasses import replace

    config = AdaptConfig(language="tur", dictionary=["dict.tsv"])
    static = {k: v for k, v in setting.items() if field.startswith("static.")}
    config.vocabulary = replace(config.vocabulary, **{k: v for k, v in setting.items() if k not in static})
    config.static = replace(config.static, **static)
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        config.validate()


def test_a_learn_size_below_the_texts_alphabet_is_named():
    from tokenizers import Tokenizer, models

    from xling.tokenization.vocabulary_extension import learn_pieces

    base = Tokenizer(models.Unigram([("a", -1.0)]))
    with pytest.raises(ConfigError, match=r"^vocabulary.learn_size: 3 pieces cannot hold every character"):
        learn_pieces(base, ["merhaba dünya", "günaydın"], vocab_size=3)


def test_special_code_meaning():
    from xling.adaptation.config import special_code_meaning

    assert special_code_meaning("und") == "undetermined"
    assert special_code_meaning("mul") == "multiple languages"
    assert special_code_meaning("deu") is None
    assert special_code_meaning("not a code") is None  # left to adapt's own "unknown language code" error


def test_clearing_an_old_model_keeps_what_a_killed_best_write_left(tmp_path):
    """A kill while best/ is renamed into place leaves best.old, which the training loop renames back at its
    next start: clearing the earlier model for a new one must not delete it."""
    from xling.adaptation.output import clear_model

    for name in ("best.old", "best.tmp", "checkpoints", "vocabulary"):
        (tmp_path / name).mkdir()
    (tmp_path / "xling.json").write_text("{}", encoding="utf-8")
    (tmp_path / "modules.json").write_text("[]", encoding="utf-8")
    clear_model(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.old", "best.tmp", "checkpoints", "vocabulary"]
