"""Tiny models for the server tests, built once per session in a temporary folder (a few seconds in all):
the toy shared-space encoder (tests/transfer/toy.py), a detector of eng/deu/fra trained on the tiny
translation models' parallel sentences, a tiny xling translation model (tests/translation/tiny_models.py),
a frozen-encoder sentiment classifier on the toy encoder, and a search index of toy sentences."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

TESTS = Path(__file__).resolve().parents[1]


def _module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toy = _module("serving_transfer_toy", TESTS / "transfer" / "toy.py")
tiny_models = _module("serving_tiny_models", TESTS / "translation" / "tiny_models.py")


@dataclass(frozen=True)
class Models:
    """Folders of the tiny models."""

    encoder: Path
    detector: Path
    translator: Path
    classifier: Path
    index: Path
    bot: Path


def build_encoder(root: Path) -> Path:
    """Return the toy shared-space encoder with a non-zero vector for unknown words: the index's fingerprint
    sentences are all unknown words to it, and a zero vector matches nothing, not even itself."""
    import torch

    from xling.embeddings.static import MODULE_DIR, StaticSentenceEncoder

    folder = toy.build_encoder(root / "encoder")
    module = StaticSentenceEncoder.load(folder / MODULE_DIR)
    with torch.no_grad():
        module.embedding.weight[0] = torch.linspace(-1.0, 1.0, module.dimension)
    module.save(folder)
    return folder


def build_detector(root: Path) -> Path:
    """Return the folder of a small eng/deu/fra detector trained on the parallel sentences (about a second)."""
    from xling.langid.features import FeatureConfig
    from xling.langid.train import LangidDataConfig, LangidTrainConfig, train_identifier

    tsv = root / "langid.tsv"
    tsv.write_text("".join(f"{lang}\t{text}\n" for lang, texts in tiny_models.PARALLEL.items() for text in texts),
                   encoding="utf-8")  # fmt: skip
    config = LangidTrainConfig(
        output=str(root / "detector"),
        data=LangidDataConfig(corpora=[], tsv=[str(tsv)], min_examples_per_label=200, dev_fraction=0.1),
        family="linear", prior_weight=0.0, features=FeatureConfig(buckets=2**12), dim=16, epochs=3, lr=0.03, threads=1,
    )  # fmt: skip
    return Path(train_identifier(config).output)


def build_classifier(root: Path, encoder: Path) -> Path:
    """Return a frozen-encoder sentiment classifier trained on the toy English sentences."""
    from xling.config import load_config
    from xling.transfer.classifier import train_classifier
    from xling.transfer.config import ClassifierConfig

    classifier = train_classifier(load_config(ClassifierConfig, encoder=str(encoder)), toy.texts("eng"))
    classifier.save(root / "classifier")
    return root / "classifier"


DOCUMENTS = [  # (id, language, text): the toy frames with one sentiment word each
    ("en-good", "eng", "the film was good"), ("en-bad", "eng", "the film was bad"),
    ("en-okay", "eng", "the film was okay"), ("de-good", "deu", "der film war gut"),
    ("de-bad", "deu", "der film war schlecht"), ("de-okay", "deu", "der film war okay"),
    ("en-day", "eng", "a lovely day"), ("de-day", "deu", "ein schön tag"),
]  # fmt: skip


def build_index(root: Path, encoder: Path) -> Path:
    """Return a search index of DOCUMENTS made with the toy encoder."""
    from xling.data.documents import Document
    from xling.embeddings.encoder import Encoder
    from xling.retrieval.index import SearchIndex

    documents = [Document(text, lang, key) for key, lang, text in DOCUMENTS]
    index, _ = SearchIndex.build(root / "index", Encoder.load(encoder), documents, model=str(encoder))
    index.close()
    return root / "index"


FAQ = [  # (id, question, answer, German answer)
    ("film-good", "the film was good", "Glad you liked the film.", "Schön, dass dir der Film gefallen hat."),
    ("food-bad", "my food is awful", "Sorry about your food.", ""),
    ("phone-okay", "this phone is okay", "Thanks for the feedback on the phone.", ""),
]  # fmt: skip


def build_support_bot(root: Path, encoder: Path) -> Path:
    """Return a support bot of FAQ made with the toy encoder (its German answer stored for one entry)."""
    from xling.bot import FaqEntry, build_bot
    from xling.bot.bot import BotBuildConfig

    entries = [
        FaqEntry(key, question, answer, {"deu": german} if german else {})
        for key, question, answer, german in FAQ
    ]
    # the toy detector of these tests knows a few languages and is less sure of them than xling-langid
    config = BotBuildConfig(min_language_probability=0.0)
    return Path(build_bot(entries, root / "bot", str(encoder), config))


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> Models:
    root = tmp_path_factory.mktemp("serving-models")
    encoder = build_encoder(root)
    return Models(encoder=encoder, detector=build_detector(root),
                  translator=tiny_models.build_xling(root / "translator", ("eng", "deu", "fra")),
                  classifier=build_classifier(root, encoder), index=build_index(root, encoder),
                  bot=build_support_bot(root, encoder))  # fmt: skip


@pytest.fixture(scope="session")
def make_config(models):
    """Return a function building a ServeConfig of the tiny models, `overrides` as `--set key=value` items."""
    from xling.config import load_config
    from xling.serving.config import ServeConfig

    def make(*overrides: str, **fields) -> ServeConfig:
        base = dict(encoder=str(models.encoder), detector=str(models.detector), translator=str(models.translator),
                    classifier=str(models.classifier), indexes={"toy": str(models.index)},
                    translator_backend="torch")  # fmt: skip
        base.update(fields)
        return load_config(ServeConfig, None, ["decoding.beam_size=1", "decoding.max_length_b=4",
                                               "decoding.max_length_a=1.0", *overrides], **base)  # fmt: skip

    return make
