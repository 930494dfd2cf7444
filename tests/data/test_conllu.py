"""CoNLL-U and CoNLL-2003 readers: what is kept, what is skipped, and errors naming file:line."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xling.data.conllu import TaggedSentences, find_ud_file, read_conll_ner, read_conllu
from xling.errors import ConfigError, DataError

CONLLU = """\
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tSleep\tsleep\tVERB\tVB\t_\t0\troot\t_\t_
1.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t0:root\t_
2\t!\t!\tPUNCT\t.\t_\t1\tpunct\t_\t_
"""


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["x.conllu", "x.conllu.gz"])
def test_conllu_keeps_words_and_upos_skips_comments_ranges_and_empty_nodes(tmp_path, name):
    data = read_conllu(write(tmp_path / name, CONLLU), language="en")
    assert data.words == [["I", "do", "n't", "know", "."], ["Sleep", "!"]]
    assert data.tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["VERB", "PUNCT"]]
    assert data.lines == [3, 11]
    assert data.language == "en" and data.source.endswith(name)
    assert data.tokens == 7 and len(data) == 2
    assert data.tag_counts()["PUNCT"] == 2
    xpos = read_conllu(tmp_path / name, column="xpos")
    assert xpos.tags[0] == ["PRP", "VBP", "RB", "VB", "."]


def test_conllu_texts_are_the_sentences_as_written(tmp_path):
    """The words split a multiword token (`do n't`); the text of a sentence is `don't`, as written: its
    `# text =` comment, else its surface tokens spaced as SpaceAfter says."""
    data = read_conllu(write(tmp_path / "x.conllu", CONLLU))
    assert data.texts == ["I don't know.", "Sleep !"]
    no_comments = "\n".join(line for line in CONLLU.splitlines() if not line.startswith("#")) + "\n"
    assert read_conllu(write(tmp_path / "bare.conllu", no_comments)).texts == ["I don't know.", "Sleep !"]
    turkish = ("# text_en = If it is someone\n1-2\tbirisiyse\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n"
               "1\tbirisi\tbiri\tPRON\t_\t_\t0\troot\t_\t_\n2\tyse\ti\tAUX\t_\t_\t1\tcop\t_\t_\n"
               "3\t.\t.\tPUNCT\t_\t_\t1\tpunct\t_\t_\n")  # fmt: skip
    lemmas = read_conllu(write(tmp_path / "tr.conllu", turkish), column="lemma")
    assert lemmas.texts == ["birisiyse."] and lemmas.words == [["birisi", "yse", "."]]
    assert read_conll_ner(write(tmp_path / "eng.train", NER)).texts == []  # no text to keep


def test_conllu_text_without_a_comment_keeps_the_spaces_that_spaces_after_says(tmp_path):
    r"""UD's MISC SpacesAfter= (universaldependencies.org/misc.html) gives the whitespace after a token that is
    not one space, escaped: \s space, \t tab, \n newline, \p pipe, \\ backslash, \uXXXX a code point."""
    rows = [("Hello", r"SpacesAfter=\s\s"), ("world", r"Gloss=x|SpacesAfter=\u00A0"), ("now", "SpaceAfter=No"),
            (",", r"SpacesAfter=\t"), ("a", r"SpacesAfter=\p\\"), ("b", r"SpacesAfter=\n"), ("c", "_")]  # fmt: skip
    lines = [f"{n}\t{form}\t_\tX\t_\t_\t0\troot\t_\t{misc}" for n, (form, misc) in enumerate(rows, 1)]
    path = write(tmp_path / "spaces.conllu", "\n".join(lines) + "\n\n")
    assert read_conllu(path).texts == ["Hello  world\u00a0now,\ta|\\b\nc"]


def test_conllu_byte_order_mark_of_a_joined_treebank_is_no_part_of_its_line(tmp_path):
    # `cat a.conllu b.conllu`: b's BOM used to make its first token ID '\ufeff1', a "bad token ID"
    second = "\ufeff1\tB\tb\tNOUN\t_\t_\t0\troot\t_\t_\n"
    path = write(tmp_path / "joined.conllu", "\ufeff1\tA\ta\tDET\t_\t_\t0\troot\t_\t_\n\n" + second)
    assert read_conllu(path).words == [["A"], ["B"]]
    comment = write(tmp_path / "comment.conllu", CONLLU + "\n\ufeff# sent_id = 3\n" + second)
    assert read_conllu(comment).words[-1] == ["B"]


def test_conllu_unspecified_lemma_is_the_form(tmp_path):
    # UD's goeswith parts have lemma "_" (EWT, IMST, ...): one of them must not fail the whole file
    text = CONLLU.replace("4\tknow\tknow\t", "4\tknow\t_\t", 1)
    lemmas = read_conllu(write(tmp_path / "x.conllu", text), column="lemma")
    assert lemmas.tags == [["I", "do", "not", "know", "."], ["sleep", "!"]]
    no_lemmas = "\n".join("\t".join(f[:2] + ["_"] + f[3:]) if len(f := line.split("\t")) == 10 else line
                          for line in CONLLU.splitlines())  # fmt: skip
    with pytest.raises(DataError, match=r"no LEMMA tags \(column 3 is '_' on every token\)"):
        read_conllu(write(tmp_path / "none.conllu", no_lemmas + "\n"), column="lemma")
    with pytest.raises(DataError, match=r"x\.conllu:11: no UPOS tag"):
        read_conllu(write(tmp_path / "x.conllu", text.replace("1\tSleep\tsleep\tVERB", "1\tSleep\tsleep\t_")))


def test_conllu_features_are_read_and_unannotated_ones_are_none(tmp_path):
    text = CONLLU.replace("1\tI\tI\tPRON\tPRP\t_\t", "1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1\t", 1)
    features = read_conllu(write(tmp_path / "x.conllu", text), column="feats")
    assert features.tags == [["Case=Nom|Number=Sing|Person=1", "", "", "", ""], ["", ""]]
    assert features.words == [["I", "do", "n't", "know", "."], ["Sleep", "!"]]


def test_conllu_wrong_column_count_names_file_and_line(tmp_path):
    bad = CONLLU.replace("4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No", "4\tknow\tVERB")
    path = write(tmp_path / "bad.conllu", bad)
    with pytest.raises(DataError, match=r"bad\.conllu:7: .*3 tab-separated columns, expected 10"):
        read_conllu(path)


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("1\tSleep\tsleep\tVERB", "x\tSleep\tsleep\tVERB", "bad token ID 'x'", 11),
        ("1\tSleep\tsleep\tVERB", "1\tSleep\tsleep\t_", "no UPOS tag", 11),
        (
            "1\tSleep\tsleep\tVERB",
            "1\tSleep\tsleep\tVERBB",
            "UPOS 'VERBB' is not one of UD's 17 universal tags",
            11,
        ),
        ("2\t!\t!\tPUNCT", "3\t!\t!\tPUNCT", "token ID 3 where 2 was expected", 13),
        ("2-3\tdon't", "2-x\tdon't", "bad token ID '2-x'", 4),
        # a digit of another script is a digit to str.isdigit and no number to int(): it was a ValueError
        ("1\tSleep\tsleep\tVERB", "\u00b9\tSleep\tsleep\tVERB", "bad token ID '\u00b9'", 11),
        ("2-3\tdon't", "2-\u0663\tdon't", "bad token ID '2-\u0663'", 4),
    ],
)
def test_conllu_bad_lines(tmp_path, old, new, message, line):
    path = write(tmp_path / "bad.conllu", CONLLU.replace(old, new, 1))
    with pytest.raises(DataError, match=rf"bad\.conllu:{line}: {message}"):
        read_conllu(path)


def test_a_tag_outside_ud_is_refused_in_upos_only(tmp_path):
    path = write(tmp_path / "own.conllu", CONLLU.replace("4\tknow\tknow\tVERB\tVB", "4\tknow\tknow\tV\tV", 1))
    with pytest.raises(DataError, match=r"own\.conllu:7: UPOS 'V' .*belongs in the XPOS column"):
        read_conllu(path)
    assert read_conllu(path, column="xpos").tags[0] == ["PRP", "VBP", "RB", "V", "."]  # XPOS is free


def test_conllu_missing_blank_line_between_sentences_is_caught(tmp_path):
    path = write(tmp_path / "merged.conllu", CONLLU.replace("\n\n# sent_id = 2", "\n# sent_id = 2"))
    with pytest.raises(DataError, match=r"merged\.conllu:10: token ID 1 where 6 was expected"):
        read_conllu(path)


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("2-3\tdon't", "0-1\tdon't", r"bad multiword token range '0-1' \(expected first-last, 1 <= first", 4),
        ("2-3\tdon't", "3-2\tdon't", r"bad multiword token range '3-2'", 4),
        ("2-3\tdon't", "5-6\tdon't", r"multiword token range ends at word 6, but its sentence has 5 word", 4),
        (
            "2\t!\t!",
            "2-3\t!!\t_\t_\t_\t_\t_\t_\t_\t_\n2\t!\t!",
            r"multiword token range ends at word 3, but its sentence has 2",
            13,
        ),
    ],
)
def test_conllu_multiword_range_outside_its_sentence_names_file_and_line(tmp_path, old, new, message, line):
    """A range 0-1 took the last word's lemma (index -1) for its first word's; one past the sentence's words
    was an IndexError traceback in `xling adapt`."""
    path = write(tmp_path / "bad.conllu", CONLLU.replace(old, new, 1))
    with pytest.raises(DataError, match=rf"bad\.conllu:{line}: {message}"):
        read_conllu(path, column="lemma")


def test_conllu_without_a_tag_column_reads_a_tokenised_only_file(tmp_path):
    """A tokenizer's output (UDPipe --tokenize) fills FORM and MISC only: its words and texts are there."""
    tokenised = ("# sent_id = 1\n# text = Ev büyük.\n1\tEv\t_\t_\t_\t_\t_\t_\t_\t_\n"
                 "2\tbüyük\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n3\t.\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
                 "1-2\tdidn't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdid\t_\t_\t_\t_\t_\t_\t_\t_\n"
                 "2\tn't\t_\t_\t_\t_\t_\t_\t_\t_\n3\tgo\t_\t_\t_\t_\t_\t_\t_\t_\n")  # fmt: skip
    path = write(tmp_path / "tok.conllu", tokenised)
    data = read_conllu(path, column=None)
    assert data.words == [["Ev", "büyük", "."], ["did", "n't", "go"]]
    assert data.texts == ["Ev büyük.", "didn't go"]
    assert data.tags == [["_"] * 3, ["_"] * 3]
    with pytest.raises(DataError, match=r"tok\.conllu:3: no UPOS tag"):  # a tag asked for is still required
        read_conllu(path)


def test_conllu_empty_missing_bad_bytes_and_bad_column(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_conllu(tmp_path / "missing.conllu")
    with pytest.raises(DataError, match=r"only\.conllu: no sentences"):
        read_conllu(write(tmp_path / "only.conllu", "# just a comment\n\n"))
    raw = tmp_path / "bytes.conllu"
    raw.write_bytes(CONLLU.encode().replace(b"Sleep", b"Sl\xffep"))
    with pytest.raises(DataError, match=r"bytes\.conllu:11: invalid UTF-8 byte 0xff"):
        read_conllu(raw)
    with pytest.raises(ConfigError, match="column"):
        read_conllu(tmp_path / "only.conllu", column="misc")


NER = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


@pytest.mark.parametrize("name", ["eng.train", "eng.train.gz"])
def test_conll_ner_reads_words_and_last_column(tmp_path, name):
    data = read_conll_ner(write(tmp_path / name, NER))
    assert data.words == [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]
    assert data.tags == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert data.lines == [3, 8]


def test_conll_ner_tab_separated_two_columns(tmp_path):
    data = read_conll_ner(write(tmp_path / "ner.tsv", "Paris\tB-LOC\nis\tO\n\n\nRome\tB-LOC\n"))
    assert data.words == [["Paris", "is"], ["Rome"]]


def test_conll_ner_wrong_column_count_names_line(tmp_path):
    path = write(tmp_path / "ner.txt", NER.replace("call NN I-NP O", "call O"))
    with pytest.raises(
        DataError, match=r"ner\.txt:6: token line with 2 columns, expected 4 \(as on line 3\)"
    ):
        read_conll_ner(path)
    with pytest.raises(DataError, match=r"one\.txt:1: token line with 1 column"):
        read_conll_ner(write(tmp_path / "one.txt", "lonely\n"))
    with pytest.raises(DataError, match="no sentences"):
        read_conll_ner(write(tmp_path / "doc.txt", "-DOCSTART- O\n\n"))


def test_tagged_sentences_checks_lengths():
    with pytest.raises(DataError, match="sentence 1 has 2 words but 1 tags"):
        TaggedSentences([["a", "b"]], [["X"]], "given")
    with pytest.raises(DataError, match="sentence 1 has no words"):
        TaggedSentences([[]], [[]], "given")


def test_find_ud_file(tmp_path):
    folder = tmp_path / "UD_Toy-One"
    folder.mkdir()
    write(folder / "xx_one-ud-dev.conllu.gz", CONLLU)
    assert find_ud_file(tmp_path, "UD_Toy-One", "dev").name == "xx_one-ud-dev.conllu.gz"
    with pytest.raises(DataError, match="no \\*-ud-test"):
        find_ud_file(tmp_path, "UD_Toy-One", "test")
    with pytest.raises(DataError, match="no such treebank folder"):
        find_ud_file(tmp_path, "UD_Missing", "dev")
