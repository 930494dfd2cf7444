"""FAQ files: the three layouts, and every bad line named by file and line."""

from __future__ import annotations

import json

import pytest

from xling.bot.faq import read_faq, read_questions, sample_faq_dir
from xling.errors import DataError


def test_tsv_without_ids_numbers_the_entries(tmp_path):
    path = tmp_path / "faq.tsv"
    path.write_text("How do I pay?\tBy card.\n\nWhere is my parcel?\tOn its way.\n", encoding="utf-8")
    entries = read_faq(path)
    assert [(e.id, e.question, e.answer) for e in entries] == [
        ("1", "How do I pay?", "By card."), ("2", "Where is my parcel?", "On its way."),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("a\tb\nno tab here\n", 2, "expected question<TAB>answer"),
        ("q1\ta\tb\nq\tanswer\n", 2, "2 tab-separated fields where line 1 has 3"),
        ("q1\ta\tb\nq1\tc\td\n", 2, "already used on line 1"),
        ("a\tb\n\t answer\n", 2, "empty question"),
    ],
)
def test_bad_tsv_line_is_named(tmp_path, text, line, words):
    path = tmp_path / "faq.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=words) as error:
        read_faq(path)
    assert str(error.value).startswith(f"{path}:{line}:")


def test_jsonl_keeps_answers_in_other_languages(tmp_path):
    path = tmp_path / "faq.jsonl"
    rows = [{"id": "pay", "question": "How do I pay?", "answer": "By card.", "answers": {"de": "Mit Karte."}},
            {"question": "Where is my parcel?", "answer": "On its way."}]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    entries = read_faq(path)
    assert entries[0].answers == {"deu": "Mit Karte."}
    assert entries[1].id == "2" and entries[1].answers == {}


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('{"question": "q"}', 'needs "question" and "answer"'),
        ("{not json", "not valid JSON"),
        ('{"question": "q", "answer": "a", "answers": {"xx-nope": "t"}}', "xx-nope"),
        ('["q", "a"]', "expected a JSON object"),
        ('{"question": "q", "answer": "a", "answers": []}', '"answers" must be an object'),
        ('{"question": "q", "answer": "a", "answers": ""}', '"answers" must be an object'),
        (
            '{"question": "q", "answer": "a", "answers": {"de": "Hallo", "deu": "Tschuess"}}',
            "second answer in deu",
        ),
        ('{"question": "q", "answer": "a", "answers": {"en": "another"}}', "FAQ's own language"),
        ('{"question": "q", "answer": "By card \\ud800."}', "lone UTF-16 surrogate"),
    ],
)
def test_bad_jsonl_line_is_named(tmp_path, line, words):
    path = tmp_path / "faq.jsonl"
    path.write_text('{"question": "q0", "answer": "a0"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=words) as error:
        read_faq(path)
    assert str(error.value).startswith(f"{path}:2:")


def test_folder_answer_with_unknown_id_is_named(tmp_path):
    (tmp_path / "faq.eng.tsv").write_text("pay\tHow do I pay?\tBy card.\n", encoding="utf-8")
    (tmp_path / "answers.deu.tsv").write_text("pay\tMit Karte.\nship\tPer Post.\n", encoding="utf-8")
    with pytest.raises(DataError, match="'ship' is not in faq.eng.tsv") as error:
        read_faq(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'answers.deu.tsv'}:2:")


def test_bundled_sample_is_complete_and_aligned():
    root = sample_faq_dir()
    entries = read_faq(root)
    ids = {entry.id for entry in entries}
    languages = ("deu", "fra", "spa", "rus", "zho", "ara", "hin", "swa")
    assert len(entries) >= 40
    assert all(set(entry.answers) == set(languages) for entry in entries)
    stored = {entry.question for entry in entries}
    for lang in ("eng", *languages):
        questions = read_questions(root / f"questions.{lang}.tsv")
        assert {q.id for q in questions} == ids  # every entry asked once per language
        assert not stored & {q.text for q in questions}  # in other words than the stored question
        offtopic = read_questions(root / f"offtopic.{lang}.tsv")
        assert len(offtopic) >= 20
        dev = read_questions(root / f"dev.{lang}.tsv")
        assert sum(q.id is None for q in dev) == 10 and sum(q.id is not None for q in dev) == 10
        assert not {q.text for q in dev} & {q.text for q in questions + offtopic}  # dev is not evaluation


def test_bundled_dev_questions_are_not_rewordings_of_evaluation_questions():
    """Dev chose the threshold and scoring: a dev question that nearly repeats an evaluation question (a
    swapped word or two) would leak the evaluation into that choice."""
    from difflib import SequenceMatcher

    root = sample_faq_dir()
    for lang in ("eng", "deu", "fra", "spa", "rus", "zho", "ara", "hin", "swa"):
        evaluation = [q.text.lower() for name in ("questions", "offtopic")
                      for q in read_questions(root / f"{name}.{lang}.tsv")]  # fmt: skip
        for dev in read_questions(root / f"dev.{lang}.tsv"):
            closest = max(SequenceMatcher(None, dev.text.lower(), text).ratio() for text in evaluation)
            assert closest < 0.8, (lang, dev.text)


def test_jsonl_fields_an_entry_does_not_have_are_a_warning_naming_the_line(tmp_path):
    path = tmp_path / "faq.jsonl"
    path.write_text('{"question": "q0", "answer": "a0"}\n{"question": "q", "answer": "a", "anwsers": {"de": "b"}}\n',
                    encoding="utf-8")  # fmt: skip
    with pytest.warns(UserWarning, match=r"faq\.jsonl:2: unknown field\(s\) anwsers ignored"):
        read_faq(path)


@pytest.mark.parametrize(
    ("files", "words", "where"),
    [
        ({"answers.deu.tsv": "pay\tMit Karte.\npay\tBar.\n"}, "'pay' was already answered on line 1", "answers.deu.tsv:2"),
        ({"answers.de.tsv": "pay\tMit Karte.\n", "answers.deu.tsv": "pay\tBar.\n"},
         "answers.de.tsv and answers.deu.tsv are both deu", "answers.deu.tsv"),
        ({"answers.en.tsv": "pay\tBy cash.\n"}, "answers in the FAQ's own language", "answers.en.tsv"),
    ],
)  # fmt: skip
def test_folder_answers_that_would_replace_others_unseen_are_refused(tmp_path, files, words, where):
    (tmp_path / "faq.eng.tsv").write_text("pay\tHow do I pay?\tBy card.\n", encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=words) as error:
        read_faq(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / where}:")


def test_question_sets_of_one_language_in_two_files_are_refused(tmp_path):
    from xling.bot.faq import read_question_sets

    (tmp_path / "questions.es.tsv").write_text("pay\t¿Cómo pago?\n", encoding="utf-8")
    (tmp_path / "questions.spa.tsv").write_text("pay\t¿Cómo se paga?\n", encoding="utf-8")
    with pytest.raises(DataError, match="questions.es.tsv and questions.spa.tsv are both spa"):
        read_question_sets(tmp_path, "questions")


def test_folder_files_whose_language_code_has_digits_are_read(tmp_path):
    """`answers.es-419.tsv` (a region's digits) was skipped without a word, and `faq.es-419.tsv` gave "no
    faq.<lang>.tsv files"."""
    (tmp_path / "faq.eng.tsv").write_text("pay\tHow do I pay?\tBy card.\n", encoding="utf-8")
    (tmp_path / "answers.es-419.tsv").write_text("pay\tCon tarjeta.\n", encoding="utf-8")
    assert read_faq(tmp_path)[0].answers == {"spa": "Con tarjeta."}
    spanish = tmp_path / "spanish"
    spanish.mkdir()
    (spanish / "faq.es-419.tsv").write_text("pay\t¿Cómo pago?\tCon tarjeta.\n", encoding="utf-8")
    from xling.bot.faq import faq_language

    assert faq_language(spanish) == "spa" and read_faq(spanish)[0].answer == "Con tarjeta."


@pytest.mark.parametrize("name", ["answers.x9.tsv", "faq.x9.tsv"])
def test_a_folder_file_with_an_unknown_language_code_is_an_error_naming_it(tmp_path, name):
    if name.startswith("answers"):
        (tmp_path / "faq.eng.tsv").write_text("pay\tHow do I pay?\tBy card.\n", encoding="utf-8")
    (tmp_path / name).write_text("pay\tHow do I pay?\tBy card.\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown language code 'x9'") as error:
        read_faq(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / name}:")


def test_jsonl_entries_without_an_id_get_one_no_given_id_has(tmp_path):
    """Line 1 gives id "2", line 2 none: its number (2) is taken, so it gets the next free one. A file
    giving no id numbers its entries as it always has; a given id used twice is still an error."""
    path = tmp_path / "faq.jsonl"
    rows = [{"id": "2", "question": "How do I pay?", "answer": "By card."},
            {"question": "Where is my parcel?", "answer": "On its way."},
            {"question": "Can I return it?", "answer": "Within 30 days."},
            {"id": 5, "question": "Do you ship abroad?", "answer": "Yes."},
            {"question": "When are you open?", "answer": "From 9 to 8."}]  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    assert [entry.id for entry in read_faq(path)] == ["2", "3", "4", "5", "6"]
    path.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "id"}) + "\n" for row in rows),
                    encoding="utf-8")  # fmt: skip
    assert [entry.id for entry in read_faq(path)] == ["1", "2", "3", "4", "5"]
    path.write_text("".join(json.dumps(row) + "\n" for row in [rows[0], rows[1], {**rows[2], "id": "2"}]),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match="id '2' was already used on line 1") as error:
        read_faq(path)
    assert str(error.value).startswith(f"{path}:3:")
    path.write_text(json.dumps({**rows[0], "id": None}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match='"id" must be a string or a number'):
        read_faq(path)


def test_a_gzipped_jsonl_faq_is_read_as_jsonl_and_the_no_answer_id_is_refused(tmp_path):
    import gzip

    rows = [{"id": "pay", "question": "How do I pay?", "answer": "By card."},
            {"id": "ship", "question": "Where is my parcel?", "answer": "On its way."}]  # fmt: skip
    path = tmp_path / "faq.jsonl.gz"  # was read as TSV: "found 1 tab-separated fields" on every line
    path.write_bytes(gzip.compress("".join(json.dumps(row) + "\n" for row in rows).encode()))
    assert [entry.id for entry in read_faq(path)] == ["pay", "ship"]
    # question sets mark an off-topic question with `-`: an entry of that id could never be right
    tsv = tmp_path / "faq.tsv"
    tsv.write_text(
        "id\tquestion\tanswer\npay\tHow do I pay?\tBy card.\n-\tWhat else?\tNothing.\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"faq\.tsv:3: id '-' is reserved"):
        read_faq(tsv)


def test_the_faq_language_keeps_its_script_and_refuses_answers_in_it(tmp_path):
    """`faq.zh-Hant.tsv` was `zho` while `answers.zh-TW.tsv` was `zho_Hant`: a second set of answers in the
    FAQ's own language and script was taken as another language's. The Simplified ones are another's."""
    from xling.bot.faq import faq_language

    (tmp_path / "faq.zh-Hant.tsv").write_text("pay\t我要怎麼付款？\t原本的答案\n", encoding="utf-8")
    (tmp_path / "answers.zh-TW.tsv").write_text("pay\t另一個答案\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"answers in the FAQ's own language \(zho_Hant\)") as error:
        read_faq(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'answers.zh-TW.tsv'}:")
    (tmp_path / "answers.zh-TW.tsv").rename(tmp_path / "answers.zh-Hans.tsv")
    assert faq_language(tmp_path) == "zho_Hant"
    assert read_faq(tmp_path)[0].answers == {"zho_Hans": "另一個答案"}
    # a code of no script keeps the language alone, as before
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "faq.zh.tsv").write_text("pay\t我怎么付款？\t用卡支付。\n", encoding="utf-8")
    (plain / "answers.zh-Hant.tsv").write_text("pay\t用卡支付。（繁體）\n", encoding="utf-8")
    assert faq_language(plain) == "zho" and read_faq(plain)[0].answers == {"zho_Hant": "用卡支付。（繁體）"}
    # a JSONL FAQ in zh-Hant: an answer under zh-Hant or zh-TW is in its own language
    path = tmp_path / "faq.jsonl"
    line = {"question": "我要怎麼付款？", "answer": "原本的答案", "answers": {"zh-Hant": "另一個答案"}}
    path.write_text(json.dumps(line, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"\"answers\".\"zh-Hant\" is in the FAQ's own language \(zho_Hant\)"):
        read_faq(path, "zh-Hant")
    assert faq_language(path, "zh-TW") == "zho_Hant"
    path.write_text(json.dumps({**line, "answers": {"zh-TW": "原本的答案", "zh-Hans": "原本的答案（简体）"}},
                               ensure_ascii=False) + "\n", encoding="utf-8")  # fmt: skip
    # its own answer again is dropped, as in any FAQ language
    assert read_faq(path, "zh-Hant")[0].answers == {"zho_Hans": "原本的答案（简体）"}
