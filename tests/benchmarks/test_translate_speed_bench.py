"""benchmarks/translate_speed.py: the inputs are John's single-sentence verses, cut to those there are (never
swapped for generated ones unless asked), the BLEU reference never changes silently, and the int8 check."""

from __future__ import annotations

import gzip
from pathlib import Path

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


def test_generate_baseline_searches_as_the_translator_does(translate_speed, tmp_path):
    """A checkpoint whose generation config forces `</s>` last and blocks repeated bigrams (as published
    OPUS-MT and NLLB configs set such things) must not change the baseline's search: generate and xling's
    PyTorch path give the same greedy output under the same DecodeOptions."""
    import importlib.util

    from transformers import GenerationConfig

    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import Translator

    path = Path(__file__).resolve().parents[1] / "translation" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models_for_bench", path)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = tiny.build_m2m100(tmp_path / "m2m")
    GenerationConfig(decoder_start_token_id=2, forced_eos_token_id=2, no_repeat_ngram_size=2,
                     bos_token_id=0, pad_token_id=1, eos_token_id=2).save_pretrained(folder)  # fmt: skip
    translator = Translator.from_pretrained(folder, backend="torch", threads=1)
    counting = translate_speed.Counting(translator)
    options = DecodeOptions(beam_size=1, batch_size=4, max_length_a=1.0, max_length_b=6)
    texts = ["the cat sleeps", "a dog runs in the house", "hello"]
    translator.translate(texts, "en", "de", options)
    generate = translate_speed.Generate(folder, translator)
    _, tokens = generate.translate(texts, "en", "de", options)
    # token by token, as the benchmark's identical_greedy check (the text layouts of the paths differ)
    assert generate.outputs == counting.outputs and tokens > 0
    # both count the tokens each sentence gets within its own length limit (a random model never stops:
    # generate's batch ran to its longest source's limit)
    assert counting.tokens == tokens


def test_tokens_decoded_again_are_counted_once(translate_speed, tmp_path):
    """CTranslate2 decodes a beam output that ran past its sentence's own limit again; the tokens of both
    calls were counted, up to 1.75x the tokens the Translator returned (a review's fake-backend count). The
    count is taken at the backend's answer, after its decoding again, so each sentence counts once."""
    import importlib.util

    from xling.export.ct2 import export_ct2
    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import Translator

    path = Path(__file__).resolve().parents[1] / "translation" / "tiny_models.py"
    spec = importlib.util.spec_from_file_location("tiny_models_for_bench", path)
    tiny = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tiny)
    folder = tiny.build_m2m100(tmp_path / "m2m")
    export_ct2(folder, quantization="float32")
    translator = Translator.from_pretrained(folder, backend="ct2", threads=1)
    counting = translate_speed.Counting(translator)
    options = DecodeOptions(beam_size=2, batch_size=4, max_length_a=1.0, max_length_b=2)
    texts = ["the cat sleeps", "a dog runs in the big old house today", "hello"]
    calls = []
    translate = counting.backend._translate
    counting.backend._translate = lambda sources, *args: calls.append(sources) or translate(sources, *args)
    translator.translate(texts, "en", "de", options)
    assert len(calls) > 1  # the short sentences were decoded again with their own limit
    limits = [options.max_new_tokens(len(s)) for s in calls[0]]
    assert counting.tokens == sum(len(row) for row in counting.outputs.values()) <= sum(limits)
    assert counting.tokens > sum(limits) // 2
