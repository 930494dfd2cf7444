"""benchmarks/langid_spans.py: mixed texts built from tweets of different languages, words scored by the
span covering them, and a text cut right only when its spans are its parts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports bench_common
    try:
        spec = importlib.util.spec_from_file_location("langid_spans_bench", BENCHMARKS / "langid_spans.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_words_are_scored_by_the_span_covering_them(bench):
    text, words, starts = bench.gold_words([("deu", "das ist gut"), ("eng", "very good indeed")])
    assert text == "das ist gut very good indeed" and starts == [0, 3]
    assert [text[a:b] for a, b, _ in words] == text.split()
    right = [(0, 11, "deu"), (12, 28, "eng")]
    assert bench.score(right, words, starts) == (1.0, True)
    one_off = [(0, 15, "deu"), (16, 28, "eng")]  # "very" taken for German: a border one word late
    assert bench.score(one_off, words, starts) == (5 / 6, True)
    merged = [(0, 28, "eng")]
    assert bench.score(merged, words, starts) == (0.5, False)
    wrong_language = [(0, 11, "nld"), (12, 28, "eng")]
    assert bench.score(wrong_language, words, starts) == (0.5, False)


def test_mixed_texts_never_repeat_a_language_next_to_itself(bench):
    tweets = {"deu": ["a b c"], "eng": ["d e f"], "fra": ["g h i"]}
    texts = bench.mixed_texts(tweets, 30, seed=1)
    assert [len(parts) for parts in texts[:3]] == [2, 2, 3]
    assert all(a[0] != b[0] for parts in texts for a, b in zip(parts, parts[1:], strict=False))


def test_end_to_end_on_a_umsab_layout_folder(bench, tmp_path):
    sentences = {
        "english": "I would like a cup of coffee please",
        "german": "Ich möchte bitte eine Tasse Kaffee haben",
        "french": "Je voudrais une tasse de café s'il vous plaît",
        "spanish": "Quisiera una taza de café por favor ahora",
        "italian": "Vorrei una tazza di caffè per favore adesso",
        "portuguese": "Eu gostaria de uma xícara de café por favor",
        "arabic": "أريد فنجان قهوة من فضلك الآن",
    }
    for name, line in sentences.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "val_text.txt").write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "spans.json"
    bench.main(
        ["--umsab", str(tmp_path), "--texts", "9", "--no-lingua", "--penalties", "2,20", "--json", str(out)]
    )
    report = json.loads(out.read_text())
    assert report["texts"] == 9 and report["parts"] == 3
    assert set(report["rows"]) == {"xling penalty 2 window 1", "xling penalty 20 window 1"}
    # whole sentences of seven well-separated languages: the shipped detector labels most words right
    assert report["rows"]["xling penalty 20 window 1"]["word_accuracy"] > 80
