"""A small detector trained once per session on the bundled sample (9 languages), in seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from xling.langid import LanguageIdentifier
from xling.langid.features import FeatureConfig
from xling.langid.train import LangidDataConfig, LangidTrainConfig, LangidTrainResult, train_identifier


def tiny_config(output: Path, **data) -> LangidTrainConfig:
    """Return a config that trains in a few seconds: the bundled sample, 2^14 buckets, the linear family with
    16 dimensions and no prior (the trainer's defaults are the recipe's naive Bayes and prior 0.1; these tests
    of the linear model and of the prior's effect were written for this one)."""
    return LangidTrainConfig(
        output=str(output), data=LangidDataConfig(**{"corpora": ["sample"], "min_examples_per_label": 600, **data}),
        features=FeatureConfig(buckets=2**14), family="linear", dim=16, epochs=3, lr=0.03, prior_weight=0.0,
        threads=1,
    )  # fmt: skip


@pytest.fixture(scope="session")
def sample_training(tmp_path_factory) -> LangidTrainResult:
    return train_identifier(tiny_config(tmp_path_factory.mktemp("langid") / "detector"))


@pytest.fixture(scope="session")
def sample_identifier(sample_training) -> LanguageIdentifier:
    return sample_training.identifier
