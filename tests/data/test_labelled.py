"""Labelled-text readers: TSV, JSONL and the UMSAB layout, and their errors (file:line)."""

from __future__ import annotations

import gzip
import json

import pytest

from xling.data.labelled import LabelledTexts, read_labelled, read_umsab
from xling.errors import DataError


def test_tsv_reads_texts_and_labels(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("I love it\tpositive\n\nawful, just awful\tnegative\r\nmeh\tneutral\n", "utf-8")
    data = read_labelled(path, language="en")
    assert data.texts == ["I love it", "awful, just awful", "meh"]
    assert data.labels == ["positive", "negative", "neutral"]
    assert data.language == "eng" and data.source == str(path)
    assert data.label_set == ["negative", "neutral", "positive"] and len(data) == 3


def test_jsonl_and_gzip(tmp_path):
    rows = [{"text": "gut", "label": "pos"}, {"text": "schlecht", "label": 0, "id": 7}]
    path = tmp_path / "train.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(row) for row in rows) + "\n")
    data = read_labelled(path)
    assert data.texts == ["gut", "schlecht"] and data.labels == ["pos", "0"] and data.language is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("a.tsv", "fine\tpos\nno tab here\n", r"a.tsv:2: expected text<TAB>label, found no tab"),
        ("a.tsv", "fine\tpos\n  \tneg\n", r"a.tsv:2: empty text"),
        ("a.tsv", "fine\tpos\nbad\t \n", r"a.tsv:2: empty label"),
        ("a.jsonl", '{"text": "x", "label": "a"}\n{"text": "y", "label": \n', r"a.jsonl:2: not valid JSON"),
        ("a.jsonl", '{"text": "x"}\n', r'a.jsonl:1: missing field "label"'),
        ("a.jsonl", '["x", "a"]\n', r"a.jsonl:1: expected a JSON object"),
        ("a.jsonl", '{"text": "", "label": "a"}\n', r"a.jsonl:1: empty text"),
        ("a.jsonl", '{"text": "x", "label": true}\n', r'a.jsonl:1: "label" must be a string or an integer'),
        ("a.csv", "x,a\n", r"a.csv: unknown labelled-data format"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, "utf-8")
    with pytest.raises(DataError, match=message):
        read_labelled(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_labelled(tmp_path / "none.tsv")


def write_umsab(root, folder, split, texts, labels):
    (root / folder).mkdir(parents=True, exist_ok=True)
    (root / folder / f"{split}_text.txt").write_text("\n".join(texts), "utf-8")  # no final newline, as UMSAB
    (root / folder / f"{split}_labels.txt").write_text("\n".join(labels), "utf-8")


@pytest.mark.parametrize("language", ["english", "en", "eng"])
def test_umsab_by_folder_name_or_code(tmp_path, language):
    write_umsab(tmp_path, "english", "train", ["so good", "meh", "it\\u2019s bad"], ["2", "1", "0"])
    data = read_umsab(tmp_path, language, "train")
    assert data.texts == ["so good", "meh", "it\u2019s bad"]  # the export's literal escapes decoded
    assert data.labels == ["positive", "neutral", "negative"]
    assert data.language == "eng"
    assert read_umsab(tmp_path, language, "train", label_names=None).labels == ["2", "1", "0"]


def test_umsab_dev_is_val_and_arabic_code(tmp_path):
    write_umsab(tmp_path, "arabic", "val", ["جيد"], ["2"])
    data = read_umsab(tmp_path, "ar", "dev")
    assert data.language == "ara" and data.labels == ["positive"]
    # Standard Arabic's own code finds the folder named after its macrolanguage (it looked for "standard arabic")
    assert read_umsab(tmp_path, "arb", "dev").texts == ["جيد"]
    with pytest.raises(DataError, match="no folder for language 'ary'"):  # another member: not its text
        read_umsab(tmp_path, "ary", "dev")


@pytest.mark.parametrize("labels", [["0", "1"], ["0", "1", "2", "2"]])
def test_umsab_label_file_of_another_length_names_both_files(tmp_path, labels):
    write_umsab(tmp_path, "english", "test", ["a", "b", "c"], labels)
    with pytest.raises(DataError) as error:
        read_umsab(tmp_path, "english", "test")
    message = str(error.value)
    assert f"test_labels.txt has {len(labels)} lines but" in message and "test_text.txt has 3" in message


def test_umsab_errors(tmp_path):
    write_umsab(tmp_path, "english", "train", ["a", " ", "c"], ["0", "1", "2"])
    with pytest.raises(DataError, match=r"train_text.txt:2: empty text"):
        read_umsab(tmp_path, "english", "train")
    write_umsab(tmp_path, "english", "val", ["a", "b"], ["0", "5"])
    with pytest.raises(DataError, match=r"val_labels.txt:2: unknown label '5'"):
        read_umsab(tmp_path, "english", "val")
    with pytest.raises(DataError, match=r"no folder for language 'german' \(there are: english\)"):
        read_umsab(tmp_path, "german", "train")
    with pytest.raises(DataError, match=r"no folder for language 'de'"):
        read_umsab(tmp_path, "de", "train")
    with pytest.raises(DataError, match="unknown split 'eval'"):
        read_umsab(tmp_path, "english", "eval")
    with pytest.raises(DataError, match="file not found"):
        read_umsab(tmp_path, "english", "test")


def test_labelled_texts_checks_lengths():
    with pytest.raises(DataError, match="2 texts but 1 labels"):
        LabelledTexts(["a", "b"], ["x"], "mem")


def test_a_tsv_header_line_is_skipped_not_read_as_a_label(tmp_path, caplog):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\ngood movie\tpositive\nbad movie\tnegative\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="xling.data.labelled"):
        data = read_labelled(path)
    assert data.labels == ["positive", "negative"] and data.texts == ["good movie", "bad movie"]
    assert f"{path}:1:" in caplog.text
    # the same words after the first line are data
    path.write_text("good movie\tpositive\ntext\tlabel\n", encoding="utf-8")
    assert read_labelled(path).labels == ["positive", "label"]


def test_tabs_at_the_end_of_a_line_are_no_column(tmp_path):
    """A spreadsheet's empty last column left 'great film<TAB>positive<TAB>': 'empty label' before."""
    path = tmp_path / "trailing.tsv"
    path.write_text("great film\tpositive\t\nawful\tnegative\t\t\n", encoding="utf-8")
    data = read_labelled(path)
    assert data.texts == ["great film", "awful"] and data.labels == ["positive", "negative"]
    (tmp_path / "empty.tsv").write_text("great film\t\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.tsv:1: empty label"):
        read_labelled(tmp_path / "empty.tsv")


def test_a_header_with_an_id_column_reads_the_text_and_label_columns(tmp_path, caplog):
    """`id<TAB>text<TAB>label` was a class "label" and texts "1<TAB>great film" before."""
    path = tmp_path / "ids.tsv"
    path.write_text("id\ttext\tlabel\n1\tgreat film\tpos\n2\tawful\tneg\t\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="xling.data.labelled"):
        data = read_labelled(path)
    assert data.texts == ["great film", "awful"] and data.labels == ["pos", "neg"] and data.lines == [2, 3]
    assert f"{path}:1:" in caplog.text
    # pandas' index column has no name, and the columns may come in any order
    path.write_text("\tlabel\tsentence\n0\tpos\tgreat film\n", encoding="utf-8")
    data = read_labelled(path)
    assert data.texts == ["great film"] and data.labels == ["pos"]
    # a third column that is no id leaves the first line data
    path.write_text("source\ttext\tlabel\nweb\tgreat film\tpos\n", encoding="utf-8")
    assert read_labelled(path).labels == ["label", "pos"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "id\ttext\tlabel\n1\tgreat film\tpos\ngreat\tneg\n",
            r"ids\.tsv:3: 2 tab-separated fields where the header on line 1 has 3 \(id<TAB>text<TAB>label\)",
        ),
        (
            "id\ttext\tlabel\n1\tgreat\tfilm\tpos\n",
            r"ids\.tsv:2: 4 tab-separated fields where the header on line 1 has 3",
        ),
        ("id\ttext\tlabel\n1\tgreat film\t\n", r"ids\.tsv:2: empty label"),
    ],
)
def test_a_line_with_another_number_of_fields_names_file_and_line(tmp_path, content, message):
    """A tab inside one text (or a missing column) was read as part of the text before."""
    path = tmp_path / "ids.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_labelled(path)


def test_tabs_inside_texts_of_a_headerless_tsv_stay_in_the_text(tmp_path):
    """Without a header the label is after each line's last tab, as before headers had columns: a file whose
    texts hold tabs on some lines only still reads (it was refused for a while)."""
    path = tmp_path / "tabs.tsv"
    path.write_text("great film\tpos\nit has\ta tab\tneu\ngreat\tfilm\tpos\t\n", encoding="utf-8")
    data = read_labelled(path)
    assert data.texts == ["great film", "it has\ta tab", "great\tfilm"] and data.labels == [
        "pos",
        "neu",
        "pos",
    ]
