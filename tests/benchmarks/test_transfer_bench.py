"""benchmarks/transfer.py translate-test: target texts translated into the source language are labelled by the
source classifier read as that language, an untranslatable language is reported (not dropped), and the
untranslated control is scored next to it. A fake translator and classifier keep it to milliseconds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from xling.data.labelled import LabelledTexts
from xling.errors import XlingError

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("transfer_bench", BENCHMARKS / "transfer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeConventions:
    def __init__(self, languages: set[str]):
        self.languages = languages

    def source_token(self, code: str) -> str:
        if code not in self.languages:
            raise XlingError(f"fake-mt cannot translate from {code}")
        return f"__{code}__"

    def target_token(self, code: str) -> str:
        return self.source_token(code)


class FakeTranslator:
    """Translates word by word with a dictionary; records what it was asked."""

    def __init__(self, words: dict[str, str], languages: set[str]):
        self.words, self.conventions, self.calls = words, FakeConventions(languages), []

    def translate(self, texts, src, tgt, options=None):
        self.calls.append((list(texts), src, tgt, options))
        return [" ".join(self.words.get(w, w) for w in text.split()) for text in texts]


class FakeClassifier:
    """Positive when an English positive word is in the text; remembers the language it was read as."""

    labels = ["negative", "positive"]

    def __init__(self, language: str | None = None, read_as: list | None = None):
        self.language, self.read_as = language, read_as if read_as is not None else []

    def for_language(self, code: str) -> FakeClassifier:
        self.read_as.append(code)
        return FakeClassifier(code, self.read_as)

    def predict(self, texts):
        return ["positive" if {"good", "great"} & set(text.split()) else "negative" for text in texts]


def test_translate_test_scores_translations_and_marks_untranslatable(bench):
    french = LabelledTexts(["très bon", "mauvais film", "super"], ["positive", "negative", "positive"],
                           "fr/test_text.txt", "fra")  # fmt: skip
    arabic = LabelledTexts(["جيد", "سيء"], ["positive", "negative"], "ar/test_text.txt", "ara")
    translator = FakeTranslator(
        {"très": "very", "bon": "good", "mauvais": "bad", "super": "great"}, {"fra", "eng"}
    )
    classifier = FakeClassifier()
    options = object()

    rows = bench.translate_test(
        classifier, {"french": french, "arabic": arabic}, translator, options, into="eng"
    )

    assert [call[1:] for call in translator.calls] == [("fra", "eng", options)]  # arabic never sent
    assert classifier.read_as == ["eng"]  # translations read with the source language's statistics and head
    assert rows["french"]["macro_f1"] == 100.0 and rows["french"]["n"] == 3
    # untranslated, the English-reading classifier finds no positive word: all negative
    assert rows["french"]["untranslated_f1"] == 25.0
    assert rows["french"]["examples"][0] == ["très bon", "very good"]
    assert rows["arabic"] == {
        "macro_f1": None,
        "translatable": False,
        "reason": "fake-mt cannot translate from ara",
    }

    best = {"scores": {"french": {"macro_f1": 40.0, "in_language_f1": 60.0},
                       "arabic": {"macro_f1": 30.0, "in_language_f1": 50.0}}}  # fmt: skip
    table = bench.render_translate_test(rows, best)
    arabic_line = next(line for line in table.splitlines() if line.startswith("arabic"))
    assert "not translatable" in arabic_line and "30.0" in arabic_line
    # the average row: zero-shot, translate-test, untranslated, in-language over the translatable languages only
    average = next(line for line in table.splitlines() if line.startswith("avg (1 translatable)"))
    assert average.split()[3:7] == ["40.0", "100.0", "25.0", "60.0"]
