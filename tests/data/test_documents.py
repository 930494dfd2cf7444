"""xling.data.documents: every accepted form of a documents file, and bad lines named by file:line."""

from __future__ import annotations

import gzip
import json

import pytest

from xling.data.documents import Document, read_documents
from xling.errors import DataError, XlingError


def test_lang_tab_text_lines(tmp_path):
    path = tmp_path / "docs.tsv"
    path.write_text("en\tHello there\nde-DE\tGuten Tag\twith a tab\n", encoding="utf-8")
    assert read_documents(path) == [
        Document("Hello there", "eng"),
        Document("Guten Tag\twith a tab", "deu"),  # the text is the rest of the line
    ]


def test_plain_text_with_a_given_language(tmp_path):
    path = tmp_path / "docs.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("first line\nsecond\tline\n")
    assert read_documents(path, "fr") == [Document("first line", "fra"), Document("second\tline", "fra")]


def test_header_names_the_columns(tmp_path):
    path = tmp_path / "docs.tsv"
    path.write_text("id\tlang\ttext\n7\teng\tHello\ndoc-b\tdeu\tHallo\tWelt\n", encoding="utf-8")
    assert read_documents(path) == [Document("Hello", "eng", "7"), Document("Hallo\tWelt", "deu", "doc-b")]
    path.write_text("ID\tText\na\tone\n", encoding="utf-8")
    assert read_documents(path, "eng") == [Document("one", "eng", "a")]
    with pytest.raises(DataError, match=r"docs\.tsv:1: header 'ID\\tText' has no lang column"):
        read_documents(path)


def test_a_one_word_header_of_a_plain_file_is_said(tmp_path, caplog):
    path = tmp_path / "docs.txt"
    path.write_text("Text\nHello world\n", encoding="utf-8")
    assert read_documents(path, "eng") == [Document("Hello world", "eng")]
    assert "docs.txt:1: 'Text' is taken as the header line, not a document" in caplog.text


def test_json_lines(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [
        {"id": 1, "lang": "en", "text": " Hello ", "metadata": {"url": "a"}},
        {"text": "Bonjour"},
        {"id": "x", "lang": "de", "text": "Hallo"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert read_documents(path, "fra") == [
        Document("Hello", "eng", "1", {"url": "a"}),
        Document("Bonjour", "fra"),
        Document("Hallo", "deu", "x"),
    ]
    with pytest.raises(DataError, match=r"docs\.jsonl:2: no 'lang' field"):
        read_documents(path)


@pytest.mark.parametrize(
    ("content", "lang", "message"),
    [
        ("eng\tok\nno tab here\n", None, r"docs\.tsv:2: expected lang<TAB>text \(or pass --lang"),
        ("eng\tok\nxx-nope\ttext\n", None, r"docs\.tsv:2: unknown language code 'xx-nope'"),
        ("eng\tok\neng\t   \n", None, r"docs\.tsv:2: empty text"),  # each field is stripped, not the tabs
        ("text\nok\n", "eng", None),
        ("eng\tok\n\neng\tmore\n", None, r"docs\.tsv:2: blank line"),
        # a leading tab is an empty first field (it read as a missing column: "expected id<TAB>lang<TAB>text")
        ("id\tlang\ttext\n\teng\tno id\n", None, r"docs\.tsv:2: empty id"),
        ("id\tlang\ttext\nonly\ttwo\n", None, r"docs\.tsv:2: expected id<TAB>lang<TAB>text"),
    ],
)
def test_bad_tsv_lines_name_file_and_line(tmp_path, content, lang, message):
    path = tmp_path / "docs.tsv"
    path.write_text(content, encoding="utf-8")
    if message is None:
        assert read_documents(path, lang) == [Document("ok", "eng")]
        return
    with pytest.raises(XlingError, match=message):
        read_documents(path, lang)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", r"docs\.jsonl:2: not valid JSON \(Expecting value at column 1\)"),
        ('{"text": "a", "id": 1' + "0" * 5000 + "}", r"docs\.jsonl:2: not valid JSON \(Exceeds the limit"),
        ("[1, 2]", r"docs\.jsonl:2: expected a JSON object, found list"),
        ('{"text": "a", "lang": "en", "tags": []}', r"docs\.jsonl:2: unknown field\(s\) tags"),
        ('{"text": 3, "lang": "en"}', r"docs\.jsonl:2: field 'text' must be a string"),
        ('{"text": "a", "lang": "en", "id": true}', r"docs\.jsonl:2: field 'id' must be"),
        (
            '{"text": "a", "lang": "en", "metadata": [1]}',
            r"docs\.jsonl:2: field 'metadata' must be an object",
        ),
        ('{"text": "a", "lang": "zz-bad"}', r"docs\.jsonl:2: unknown language code"),
        # an id of spaces passed, and failed in the index as "key 2 must be a non-empty string"
        ('{"text": "a", "lang": "en", "id": "  "}', r"docs\.jsonl:2: field 'id' must be"),
        # invisible characters alone: a zero vector was indexed
        ('{"text": "\u200b", "lang": "en"}', r"docs\.jsonl:2: empty text"),
    ],
)
def test_bad_json_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "fine", "lang": "en"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(XlingError, match=message):
        read_documents(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_documents(tmp_path / "nowhere.tsv")


def test_a_bad_language_of_every_line_names_the_option(tmp_path):
    from xling.data.languages import LanguageCodeError

    path = tmp_path / "docs.txt"
    path.write_text("Hello\n", encoding="utf-8")
    with pytest.raises(LanguageCodeError, match=r"^lang: unknown language code 'xx'"):
        read_documents(path, "xx")
