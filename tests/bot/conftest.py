"""Fixtures of the support bot tests: the shipped xling-mini encoder, a tiny detector trained on the bundled
sample in seconds, and a bot built from the bundled FAQ sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from xling.bot import SupportBot, build_bot, sample_faq_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mini_encoder():
    from xling import Encoder

    if not (REPO / "src/xling/models/xling-mini/0_StaticEmbedding/model.safetensors").is_file():
        pytest.skip("needs src/xling/models/xling-mini (shipped with the repository)")
    return Encoder.load("xling-mini")


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory):
    """A detector of the bundled sample's 9 languages (as tests/langid's tiny_config): no Portuguese."""
    from xling.langid.features import FeatureConfig
    from xling.langid.train import LangidDataConfig, LangidTrainConfig, train_identifier

    config = LangidTrainConfig(
        output=str(tmp_path_factory.mktemp("langid") / "detector"),
        data=LangidDataConfig(corpora=["sample"], min_examples_per_label=600),
        family="linear", prior_weight=0.0, features=FeatureConfig(buckets=2**14), dim=16, epochs=3, lr=0.03, threads=1,
    )  # fmt: skip
    return train_identifier(config).identifier


@pytest.fixture(scope="session")
def sample_bot_dir(tmp_path_factory, mini_encoder) -> Path:
    return build_bot(sample_faq_dir(), tmp_path_factory.mktemp("bots") / "sample", mini_encoder)


@pytest.fixture(scope="session")
def sample_bot(sample_bot_dir, mini_encoder, tiny_detector) -> SupportBot:
    return SupportBot.load(sample_bot_dir, encoder=mini_encoder, detector=tiny_detector, translator=None)


UNLIKE_EVERY_ENTRY = "lol"
"""A question whose cosine to every entry of `ratio_bot_dir`'s FAQ is below 0 with xling-mini: the ratio
margin scores it -inf."""


@pytest.fixture(scope="session")
def ratio_bot_dir(tmp_path_factory, mini_encoder) -> Path:
    """A two-entry bot scored with the ratio margin (a question unlike every entry scores -inf)."""
    from xling.bot import FaqEntry
    from xling.bot.bot import BotBuildConfig

    entries = [FaqEntry("pay", "How do I pay?", "By card."),
               FaqEntry("parcel", "Where is my parcel?", "Track it online.")]  # fmt: skip
    folder = tmp_path_factory.mktemp("bots") / "ratio"
    return build_bot(entries, folder, mini_encoder, BotBuildConfig(margin="ratio"))


@pytest.fixture(scope="session")
def ratio_bot(ratio_bot_dir, mini_encoder) -> SupportBot:
    bot = SupportBot.load(ratio_bot_dir, encoder=mini_encoder, detector=None, translator=None)
    score = bot.match([UNLIKE_EVERY_ENTRY])[0].score
    assert score == float("-inf"), f"the encoder changed ({score}): find another question"
    return bot
