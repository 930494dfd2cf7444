"""A bad label or text is reported at its file line, not at its position among the examples: a header line
and blank lines are skipped by the readers, so the two differ."""

from __future__ import annotations

import pytest

from xling.data.labelled import LabelledTexts, read_labelled, read_umsab
from xling.errors import DataError
from xling.training.loop import TrainingConfig
from xling.transfer.evaluate import evaluate_transfer
from xling.transfer.fewshot import sample_per_class
from xling.transfer.finetune import label_indices
from xling.transfer.metrics import classification_scores
from xling.transfer.static_finetune import StaticFinetuneConfig, finetune_static

from .toy import texts

LABELS = ["negative", "neutral", "positive"]


@pytest.fixture
def dev_file(tmp_path):
    """A TSV whose third example ('neutrl') is on line 5: a header, then a blank line before it."""
    path = tmp_path / "dev.tsv"
    path.write_text("text\tlabel\ngreat\tpositive\nbad\tnegative\n\nso so\tneutrl\n", "utf-8")
    return path


def test_the_readers_keep_each_example_line(dev_file, tmp_path):
    data = read_labelled(dev_file)
    assert data.texts == ["great", "bad", "so so"] and data.lines == [2, 3, 5]
    assert data.line(2) == 5
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('\n{"text": "a", "label": "x"}\n\n{"text": "b", "label": "y"}\n', "utf-8")
    assert read_labelled(jsonl).lines == [2, 4]
    (tmp_path / "u" / "german").mkdir(parents=True)
    (tmp_path / "u" / "german" / "test_text.txt").write_text("a\nb\nc\n", "utf-8")
    (tmp_path / "u" / "german" / "test_labels.txt").write_text("0\n1\n2\n", "utf-8")
    assert read_umsab(tmp_path / "u", "de", "test").lines == [1, 2, 3]
    # texts made in memory have no lines: none is named
    assert LabelledTexts(["a"], ["x"], "memory").line(0) is None
    with pytest.raises(DataError, match="2 texts but 1 lines"):
        LabelledTexts(["a", "b"], ["x", "y"], "memory", lines=[1])


def test_a_bad_gold_label_names_its_file_line(dev_file):
    data = read_labelled(dev_file)
    with pytest.raises(DataError, match=r"dev\.tsv:5: gold label 'neutrl' of example 3 "):
        classification_scores(data.labels, ["positive"] * 3, LABELS, source=data.source, lines=data.lines)
    with pytest.raises(DataError, match=r"dev\.tsv:5: dev label 'neutrl' of example 3 "):
        label_indices(data, LABELS, "dev")
    classifier = type("Fixed", (), {"labels": LABELS, "predict": lambda self, t: ["positive"] * len(t)})()
    with pytest.raises(DataError, match=r"dev\.tsv:5: gold label 'neutrl' of example 3 "):
        evaluate_transfer(classifier, {"de": data}, source_lang="eng", encoder_langs=[])
    # without lines (texts made in memory) the file is named, not a line it does not know
    memory = LabelledTexts(data.texts, data.labels, "dev.tsv")
    with pytest.raises(DataError, match=r"^dev\.tsv: gold label 'neutrl' of example 3 "):
        classification_scores(
            memory.labels, ["positive"] * 3, LABELS, source=memory.source, lines=memory.lines
        )
    with pytest.raises(DataError, match=r"^dev\.tsv: dev label 'neutrl' of example 3 "):
        label_indices(memory, LABELS, "dev")


def test_a_few_shot_sample_keeps_the_lines_of_its_examples(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\n" + "".join(f"t{i}\t{'ab'[i % 2]}\n\n" for i in range(10)), "utf-8")
    data = read_labelled(path)
    sample = sample_per_class(data, 2, seed=0)
    assert sample.lines == [data.lines[data.texts.index(text)] for text in sample.texts]


def test_static_fine_tuning_names_the_file_line(toy_encoder, dev_file):
    config = StaticFinetuneConfig(encoder=str(toy_encoder), training=TrainingConfig(max_steps=1, threads=1))
    with pytest.raises(DataError, match=r"dev\.tsv:5: dev label 'neutrl' of example 3 "):
        finetune_static(texts("eng"), read_labelled(dev_file), config)
    english = texts("eng")
    train = LabelledTexts([*english.texts[:3], " ", *english.texts[3:]], [*english.labels[:3], "positive",
                          *english.labels[3:]], "train.tsv", "eng", lines=[2 * i + 2 for i in range(61)])  # fmt: skip
    with pytest.raises(
        DataError, match=r"train\.tsv:8: 1 training text\(s\) have no tokens \(first: example 4\)"
    ):
        finetune_static(train, None, config)
