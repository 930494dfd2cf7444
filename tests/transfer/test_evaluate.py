"""Transfer evaluation: scores, the unknown-label error, the Result's rows, averages, gap and coverage."""

from __future__ import annotations

import pytest
from sklearn.metrics import f1_score

from xling.data.labelled import LabelledTexts
from xling.errors import ConfigError, DataError
from xling.transfer.evaluate import encoder_languages, evaluate_transfer, language_code, render_transfer
from xling.transfer.metrics import classification_scores, majority_scores

# a toy "shared vocabulary": each label has one word per language; texts are padded with noise words
WORDS = {"eng": {"good": "pos", "bad": "neg", "okay": "neu"},
         "deu": {"gut": "pos", "schlecht": "neg", "naja": "neu"},
         "ara": {"jayid": "pos", "sayi": "neg", "aadi": "neu"}}  # fmt: skip


class WordClassifier:
    """A toy classifier: the label of the first word it knows, else its fallback label."""

    def __init__(self, lexicon: dict[str, str], fallback: str = "neg", encoder: str | None = None):
        self.lexicon, self.fallback, self.encoder = lexicon, fallback, encoder
        self.labels = sorted(set(lexicon.values()) | {fallback})

    def predict(self, texts):
        return [next((self.lexicon[w] for w in t.split() if w in self.lexicon), self.fallback) for t in texts]


def toy_set(lang: str, n: int = 30, source: str = "toy") -> LabelledTexts:
    words = list(WORDS[lang].items())
    texts = [f"noise{i} {words[i % 3][0]} more" for i in range(n)]
    return LabelledTexts(texts, [words[i % 3][1] for i in range(n)], f"{source}/{lang}.tsv", lang)


def test_scores_match_scikit_learn_in_percent():
    gold = ["a", "a", "b", "c", "c", "c"]
    predicted = ["a", "b", "b", "c", "a", "c"]
    scores = classification_scores(gold, predicted, ["a", "b", "c"])
    assert scores["n"] == 6
    assert scores["accuracy"] == pytest.approx(100 * 4 / 6, abs=0.01)
    assert scores["macro_f1"] == pytest.approx(100 * f1_score(gold, predicted, average="macro"), abs=0.01)


def test_unknown_gold_label_names_file_and_line(tmp_path):
    with pytest.raises(DataError, match=r"test\.tsv:5: gold label 'positiv' of example 3 "):
        classification_scores(["neg", "pos", "positiv"], ["neg", "pos", "pos"], ["neg", "pos"],
                              source=str(tmp_path / "test.tsv"), lines=[2, 3, 5])  # fmt: skip
    # UMSAB layout: the labels live in test_labels.txt beside test_text.txt, so that file is named
    (tmp_path / "test_text.txt").write_text("a\nb\n")
    (tmp_path / "test_labels.txt").write_text("0\n7\n")
    with pytest.raises(DataError, match=r"test_labels\.txt:2:"):
        classification_scores(
            ["neg", "7"], ["neg", "neg"], ["neg", "pos"], source=str(tmp_path / "test_text.txt"), lines=[1, 2]
        )
    with pytest.raises(DataError, match="2 gold labels but 1 predictions"):
        classification_scores(["neg", "pos"], ["neg"], ["neg", "pos"])


def test_majority_baseline_uses_the_most_frequent_training_label():
    scores = majority_scores(["pos", "neg", "neg"], ["neg", "pos", "neu", "neg"])
    assert scores["label"] == "neg" and scores["accuracy"] == 50.0
    # F1 of "neg" is 2/3, the other two present classes score 0
    assert scores["macro_f1"] == pytest.approx(100 * (2 / 3) / 3, abs=0.01)


def test_transfer_result_rows_average_gap_and_coverage():
    lexicon = dict(WORDS["eng"]) | {"gut": "pos"}  # knows English and one German word
    classifier = WordClassifier(lexicon)
    tests = {"eng": toy_set("eng"), "deu": toy_set("deu"), "arabic": toy_set("ara")}
    upper = {"deu": WordClassifier(WORDS["deu"]), "arabic": WordClassifier(WORDS["ara"])}
    result = evaluate_transfer(classifier, tests, source_lang="eng", in_language=upper,
                               encoder_langs=["eng", "deu", "fra"], majority_labels=["pos", "pos", "neg"])  # fmt: skip
    assert result.task == "transfer" and result.primary == "macro_f1"
    assert set(result.scores) == {"deu", "arabic"}  # the source language is not a zero-shot row
    assert result.settings["source"]["accuracy"] == 100.0
    deu, ara = result.scores["deu"], result.scores["arabic"]
    assert deu["accuracy"] == pytest.approx(
        100 * 20 / 30, abs=0.01
    )  # "gut" right, "schlecht" right by falling back to neg, "naja" wrong
    assert ara["accuracy"] == pytest.approx(100 / 3, abs=0.01)
    assert result.average == pytest.approx((deu["macro_f1"] + ara["macro_f1"]) / 2, abs=0.01)
    assert deu["in_language_f1"] == 100.0 and deu["gap"] == pytest.approx(100 - deu["macro_f1"], abs=0.01)
    assert deu["covered"] is True and ara["covered"] is False and ara["language"] == "ara"
    assert result.settings["not_seen_by_encoder"] == ["arabic"]
    assert result.settings["majority_label"] == "pos" and deu["majority_accuracy"] == pytest.approx(
        100 / 3, abs=0.01
    )
    table = render_transfer(result)
    assert (
        "eng (source)" in table
        and "NO *" in table
        and "not among the encoder's training languages: arabic" in table
    )
    assert result.to_dict()["scores"]["deu"]["gap"] == deu["gap"]


def test_coverage_is_read_from_the_encoder_xling_json():
    languages = encoder_languages("xling-mini")  # shipped in the repository: None is the bug, not a skip
    assert languages is not None
    assert "deu" in languages and "urd" not in languages and "ben" not in languages
    classifier = WordClassifier(WORDS["eng"], encoder="xling-mini")
    urdu = toy_set("ara")
    urdu.language = "urd"  # a language xling-mini has not learnt
    result = evaluate_transfer(classifier, {"deu": toy_set("deu"), "urdu": urdu}, source_lang="en")
    assert result.scores["deu"]["covered"] is True and result.scores["urdu"]["covered"] is False
    # a fine-tuned classifier names its encoder in its metadata (xling.json's "encoder") only
    fine_tuned = WordClassifier(WORDS["eng"])
    fine_tuned.metadata = {"kind": "finetune", "encoder": "xling-mini"}
    result = evaluate_transfer(fine_tuned, {"deu": toy_set("deu"), "urdu": urdu}, source_lang="en")
    assert result.scores["deu"]["covered"] is True and result.settings["not_seen_by_encoder"] == ["urdu"]
    assert result.model == "WordClassifier"  # not the encoder it was fine-tuned from
    # an encoder without a language list is "unknown", never "covered"
    unknown = evaluate_transfer(WordClassifier(WORDS["eng"]), {"deu": toy_set("deu")}, source_lang="eng")
    assert unknown.scores["deu"]["covered"] is None and "unknown" in render_transfer(unknown)


def test_language_codes_of_folder_names():
    assert (
        language_code("arabic") == "ara"
        and language_code("de") == "deu"
        and language_code("spanish") == "spa"
    )


def test_a_classifier_told_the_language_gets_it():
    class PerLanguage(WordClassifier):
        def for_language(self, code):
            return WordClassifier(WORDS[code])

    result = evaluate_transfer(PerLanguage(WORDS["eng"]), {"deu": toy_set("deu"), "ara": toy_set("ara")},
                               source_lang="eng", encoder_langs=[])  # fmt: skip
    assert result.average == 100.0


def test_bad_calls_are_config_errors():
    with pytest.raises(ConfigError, match="no target language"):
        evaluate_transfer(WordClassifier(WORDS["eng"]), {"english": toy_set("eng")}, source_lang="eng")
    # a source that names no language and no test set: English was scored as a zero-shot language
    with pytest.raises(ConfigError, match="source_lang: 'englsh' is no language code or name"):
        evaluate_transfer(WordClassifier(WORDS["eng"]), {"eng": toy_set("eng"), "deu": toy_set("deu")},
                          source_lang="englsh")  # fmt: skip
    with pytest.raises(ConfigError, match="in_language: 'fra' has no test set"):
        evaluate_transfer(WordClassifier(WORDS["eng"]), {"deu": toy_set("deu")}, source_lang="eng",
                          in_language={"fra": WordClassifier(WORDS["deu"])})  # fmt: skip
    # texts made in memory have no lines: the source is named, and the example
    with pytest.raises(DataError, match=r"toy/deu\.tsv: gold label 'pos' of example 1 "):
        evaluate_transfer(WordClassifier({"bad": "neg"}), {"deu": toy_set("deu")}, source_lang="eng")


def test_the_source_set_is_the_exact_language_else_one_member_of_its_macrolanguage():
    def arabic(code: str) -> LabelledTexts:
        base = toy_set("ara")
        return LabelledTexts(base.texts, base.labels, f"toy/{code}.tsv", code)

    classifier = WordClassifier(dict(WORDS["eng"]) | dict(WORDS["ara"]))
    # the exact code is the source; Moroccan Arabic, another member of `ara`, stays a target
    exact = evaluate_transfer(classifier, {"arb": arabic("arb"), "ary": arabic("ary"), "deu": toy_set("deu")},
                              source_lang="arb", encoder_langs=["arb"])  # fmt: skip
    assert set(exact.scores) == {"ary", "deu"}
    # the macrolanguage names its one member present
    one = evaluate_transfer(classifier, {"arb": arabic("arb"), "deu": toy_set("deu")}, source_lang="ara",
                            encoder_langs=["arb"])  # fmt: skip
    assert set(one.scores) == {"deu"}
    with pytest.raises(ConfigError, match="arb, ary are all forms of the source language 'ara'"):
        evaluate_transfer(classifier, {"arb": arabic("arb"), "ary": arabic("ary"), "deu": toy_set("deu")},
                          source_lang="ara", encoder_langs=["arb"])  # fmt: skip
