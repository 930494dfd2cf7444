"""benchmarks/translate_speed.py: the inputs are John's single-sentence verses, cut to those there are (never
swapped for generated ones unless asked), the BLEU reference never changes silently, and the int8 check."""

from __future__ import annotations

import gzip

import pytest


@pytest.fixture
def translate_speed(load_benchmark):
    return load_benchmark("translate_speed")


def write_bible(folder, lang: str, verses: dict[str, str]) -> None:
    (folder / "bible").mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "bible" / f"{lang}.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.writelines(f"{vid}\t{text}\n" for vid, text in verses.items())


def test_inputs_cut_to_the_verses_there_are(translate_speed, tmp_path):
    write_bible(tmp_path, "eng", {
        "JHN.1.1": "In the beginning was the Word.", "JHN.1.2": "The same was in the beginning with God.",
        "JHN.1.3": "He came. They saw him.", "GEN.1.1": "In the beginning God created the heaven.",
    })  # fmt: skip
    texts, ids, where = translate_speed.inputs(tmp_path, "eng", 10)
    assert ids == ["JHN.1.1", "JHN.1.2"]  # real verses, the two-sentence one left out
    assert texts[0] == "In the beginning was the Word."
    assert where.startswith("first 2 ")
    with pytest.raises(SystemExit, match="--generated-inputs"):
        translate_speed.inputs(tmp_path / "none", "eng", 10)
    texts, ids, _ = translate_speed.inputs(tmp_path / "none", "eng", 10, generated=True)
    assert len(texts) == 10 and ids == []


def test_bleu_reference_never_switches_silently(translate_speed, tmp_path):
    write_bible(tmp_path, "deu", {"JHN.1.1": "Im Anfang war das Wort."})
    refs, why = translate_speed.bleu_references(tmp_path, "deu", ["JHN.1.1"], trained=True, generated=False)
    assert refs == ["Im Anfang war das Wort."] and "deu verses" in why
    with pytest.raises(SystemExit, match="1 of the 2 John verses have no deu text"):
        translate_speed.bleu_references(
            tmp_path, "deu", ["JHN.1.1", "JHN.1.2"], trained=True, generated=False
        )
    refs, why = translate_speed.bleu_references(tmp_path, "deu", [], trained=False, generated=False)
    assert refs is None and "random model" in why


def test_int8_within_half_a_bleu_point(translate_speed):
    assert translate_speed.int8_within({"ct2-int8": 30.1, "ct2-float32": 30.5}) is True
    assert translate_speed.int8_within({"ct2-int8": 29.9, "ct2-float32": 30.5}) is False
    assert translate_speed.int8_within({"ct2-float32": 30.5}) is None
