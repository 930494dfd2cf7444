"""Fixtures of the adaptation tests: a tiny static encoder over the sample tokenizer, and a made-up language."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from xling.artifacts import write_metadata
from xling.data.sources import sample_corpus_dir

# the made-up language: English spelled in Georgian letters, a script the sample tokenizer never saw
CIPHER = str.maketrans({chr(ord("a") + i): chr(0x10D0 + i) for i in range(26)})
OLD_LANGUAGES = ["eng", "deu", "fra", "spa", "rus"]


def cipher(text: str) -> str:
    """Return `text` in the made-up language: lower case, letters mapped to Georgian ones."""
    return text.lower().translate(CIPHER)


def sample_sentences(lang: str) -> list[str]:
    """Return the bundled sample's sentences of `lang`, in id order."""
    lines = (sample_corpus_dir() / f"{lang}.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t", 1)[1] for line in lines if line.strip()]


def make_static_model(folder: Path, tokenizer_dir: Path, *, int8: bool = False) -> Path:
    """Write a static encoder with random 32-dimensional rows over the sample tokenizer into `folder`."""
    from tokenizers import Tokenizer

    from xling.embeddings.static import StaticSentenceEncoder

    torch.manual_seed(0)
    encoder = StaticSentenceEncoder(Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json")), dimension=32)
    encoder.save(folder, dtype=torch.int8 if int8 else torch.float32)
    write_metadata(
        folder, {"name": folder.name, "kind": "sentence-encoder/static", "languages": OLD_LANGUAGES}
    )
    return folder


@pytest.fixture
def tiny_static(tmp_path, sample_tokenizer_dir) -> Path:
    return make_static_model(tmp_path / "base", sample_tokenizer_dir)


@pytest.fixture
def cipher_data(tmp_path) -> dict[str, Path]:
    """Write the made-up language's data: a dictionary (eng<TAB>new), parallel pairs and monolingual text."""
    english = sample_sentences("eng")
    words = sorted(
        {w for s in english for w in s.lower().replace(".", " ").replace(",", " ").split() if w.isalpha()}
    )
    dictionary = tmp_path / "dict.tsv"
    dictionary.write_text("".join(f"{w}\t{cipher(w)}\n" for w in words), encoding="utf-8")
    parallel = tmp_path / "parallel.tsv"
    parallel.write_text("".join(f"{s}\t{cipher(s)}\n" for s in english[:200]), encoding="utf-8")
    text = tmp_path / "text.txt"
    # only the paired sentences: the tests score the others, which no input file may hold whole
    text.write_text("".join(f"{cipher(s)}\n" for s in english[:200]), encoding="utf-8")
    return {"dictionary": dictionary, "parallel": parallel, "text": text}
