"""A toy cross-lingual task for transfer tests: a static encoder whose English and German sentiment words
share vectors (a shared space), and labelled sentences in both languages.

Imported by tests/transfer (as a conftest fixture) and tests/cli (by file path), so it depends on nothing
but the library.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers

from xling.data.labelled import LabelledTexts
from xling.embeddings.static import StaticSentenceEncoder

# label -> (English words, German words); word i of each language shares its vector
WORDS = {
    "positive": (["good", "great", "lovely", "happy"], ["gut", "toll", "schön", "froh"]),
    "negative": (["bad", "awful", "terrible", "sad"], ["schlecht", "furchtbar", "schrecklich", "traurig"]),
    "neutral": (["okay", "average", "normal", "fine"], ["okay", "mittel", "normal", "passabel"]),
}
FRAMES = {
    "eng": ["the film was {}", "{} service", "a {} day", "my food is {}", "this phone is {}"],
    "deu": ["der film war {}", "{} service", "ein {} tag", "mein essen ist {}", "dieses handy ist {}"],
}


def build_encoder(folder: Path, dimension: int = 12, seed: int = 0, shared: bool = True) -> Path:
    """Write a static sentence-encoder folder (sentence-transformers layout) to `folder`; return it.

    `shared=False` gives each German sentiment word a random vector of its own (the control: no shared space).
    """
    generator = torch.Generator().manual_seed(seed)
    anchors = {label: torch.randn(dimension, generator=generator) * 2 for label in WORDS}
    vocab: dict[str, int] = {"[UNK]": 0}
    rows = [torch.zeros(dimension)]
    for label, (english, german) in WORDS.items():
        for en, de in zip(english, german, strict=True):
            row = anchors[label] + torch.randn(dimension, generator=generator) * 0.5
            for word in (en, de):
                if word not in vocab:
                    vocab[word] = len(rows)
                    rows.append(
                        row if shared or word == en else torch.randn(dimension, generator=generator) * 2
                    )
    for frame in itertools.chain.from_iterable(FRAMES.values()):  # filler words: their own random vectors
        for word in frame.replace("{}", " ").split():
            if word not in vocab:
                vocab[word] = len(rows)
                rows.append(torch.randn(dimension, generator=generator))
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    StaticSentenceEncoder(tokenizer, torch.stack(rows)).save(folder)
    return folder


def texts(language: str, labels: tuple[str, ...] = tuple(WORDS), source: str = "toy") -> LabelledTexts:
    """Return every frame x word sentence of `language` ("eng" or "deu") for `labels`."""
    side = 0 if language == "eng" else 1
    out_texts, out_labels = [], []
    for label in labels:
        for frame in FRAMES[language]:
            for word in WORDS[label][side]:
                out_texts.append(frame.format(word))
                out_labels.append(label)
    return LabelledTexts(out_texts, out_labels, source, language)
