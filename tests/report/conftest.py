"""Fixtures of the report tests: a tiny static encoder (the adaptation tests' one) and a tiny data root written
from the bundled parallel sample: tatoeba/, ntrex/, bible/ and sentiment/umsab/ in their real layouts."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xling.data.sources import sample_corpus_dir

LANGUAGES = ("deu", "fra", "spa", "rus", "ara")  # ara: not among the tiny model's training languages
SENTENCES = 60


def sample(lang: str) -> dict[str, str]:
    """Return the bundled parallel sample of one language: id -> sentence."""
    lines = (sample_corpus_dir() / f"{lang}.tsv").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in lines if line.strip())


def write_data_root(root: Path) -> Path:
    """Write a tiny data root: Tatoeba and NTREX files of LANGUAGES, a Bible of eng/deu/fra (John = the first
    40 shared ids), UMSAB English and German from the sentiment sample. Return the root."""
    english = sample("eng")
    others = {lang: sample(lang) for lang in LANGUAGES}
    ids = [key for key in english if all(key in rows for rows in others.values())][:SENTENCES]
    tatoeba = root / "tatoeba"
    tatoeba.mkdir(parents=True)
    for lang, rows in others.items():
        (tatoeba / f"tatoeba.{lang}-eng.{lang}").write_text(
            "".join(rows[i] + "\n" for i in ids), encoding="utf-8"
        )
        (tatoeba / f"tatoeba.{lang}-eng.eng").write_text(
            "".join(english[i] + "\n" for i in ids), encoding="utf-8"
        )
    ntrex = root / "ntrex"
    ntrex.mkdir()
    with gzip.open(ntrex / "newstest2019-src.eng.txt.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(english[i] + "\n" for i in ids)
    for lang in ("deu", "fra", "rus"):
        with gzip.open(ntrex / f"newstest2019-ref.{lang}.txt.gz", "wt", encoding="utf-8") as handle:
            handle.writelines(others[lang][i] + "\n" for i in ids)
    bible = root / "bible"
    bible.mkdir()
    every = [key for key in english if key in others["deu"] and key in others["fra"]]
    verse = {key: (f"JHN.1.{n + 1}" if n < 40 else f"MAT.{(n - 40) // 10 + 1}.{(n - 40) % 10 + 1}")
             for n, key in enumerate(every)}  # fmt: skip
    for lang, rows in (("eng", english), ("deu", others["deu"]), ("fra", others["fra"])):
        (bible / f"{lang}.tsv").write_text(
            "".join(f"{verse[k]}\t{rows[k]}\n" for k in every), encoding="utf-8"
        )
    umsab = root / "sentiment" / "umsab"
    numbers = {"negative": "0", "neutral": "1", "positive": "2"}
    for lang, folder, splits in (("eng", "english", {"train": (0, 80), "val": (80, 120)}),
                                 ("deu", "german", {"train": (0, 60), "test": (60, 120)})):  # fmt: skip
        rows = [line.split("\t", 1) for line in (sample_corpus_dir().parent / "sentiment" / f"{lang}.tsv")
                .read_text(encoding="utf-8").splitlines() if line.strip()]  # fmt: skip
        (umsab / folder).mkdir(parents=True)
        for split, (start, end) in splits.items():
            part = rows[start:end]
            (umsab / folder / f"{split}_text.txt").write_text(
                "".join(t + "\n" for _, t in part), encoding="utf-8"
            )
            (umsab / folder / f"{split}_labels.txt").write_text("".join(numbers[label] + "\n" for label, _ in part),
                                                               encoding="utf-8")  # fmt: skip
    return root


@pytest.fixture(scope="module")
def report_data(tmp_path_factory) -> Path:
    return write_data_root(tmp_path_factory.mktemp("report-data"))


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory, sample_tokenizer_dir) -> Path:
    """Return a tiny static encoder (random 32-dimensional rows) trained, it says, on eng/deu/fra/spa/rus."""
    from adaptation.conftest import make_static_model

    from xling.artifacts import read_metadata, write_metadata

    folder = make_static_model(tmp_path_factory.mktemp("report-model") / "tiny", sample_tokenizer_dir)
    write_metadata(
        folder, {**read_metadata(folder), "config": {"corpus": "bible", "heldout_prefixes": ["JHN."]}}
    )
    return folder
