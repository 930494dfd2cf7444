"""Tests for xling.data.readers: good input (plain and gzip) and every bad-input case, raising and skipping."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pytest

from xling.data import (
    AlignedCorpus,
    ReadStats,
    open_text,
    read_id_text_tsv,
    read_monolingual,
    read_parallel_files,
    read_parallel_tsv,
    read_tatoeba,
)
from xling.errors import ConfigError, DataError, LanguageCodeError


def write(path: Path, content: str | bytes) -> Path:
    """Return `path` after writing `content` to it (gzip-compressed when the name ends in .gz)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if path.name.endswith(".gz"):
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def esc(path: Path) -> str:
    """Return `path` escaped for use in a `pytest.raises(match=...)` pattern."""
    return re.escape(str(path))


# --- open_text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["text.txt", "text.txt.gz"])
def test_open_text_plain_and_gzip(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "Grüße\nzweite Zeile\n")
    with open_text(path) as handle:
        assert handle.read().splitlines() == ["Grüße", "zweite Zeile"]


def test_open_text_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    with pytest.raises(DataError, match=f"^{esc(missing)}: file not found"):
        open_text(missing)


# --- read_monolingual ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mono.txt", "mono.txt.gz"])
def test_read_monolingual_good(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "\ufeffFirst sentence.\r\n\n  Second one.  \n\n\u4f60\u597d\u3002")
    stats = ReadStats()
    assert list(read_monolingual(path, stats=stats)) == ["First sentence.", "Second one.", "你好。"]
    assert stats.lines_read == 5
    assert stats.skipped == 0


def test_read_monolingual_keeps_unicode_line_separators_inside_a_line(tmp_path: Path) -> None:
    # U+2028 and U+0085 are line breaks for str.splitlines but not for the file format.
    path = write(tmp_path / "mono.txt", "a\u2028b\u0085c\nd\n")
    assert list(read_monolingual(path)) == ["a\u2028b\u0085c", "d"]


@pytest.mark.parametrize("name", ["mac.tsv", "mac.tsv.gz"])
def test_a_file_of_bare_carriage_returns_is_read_line_by_line(tmp_path: Path, name: str) -> None:
    # classic Mac OS line endings: the whole file used to be one line, its texts one text
    path = write(tmp_path / name, "Hello\tHallo\rGood day\tGuten Tag\r\rThanks\tDanke\r")
    stats = ReadStats()
    assert list(read_parallel_tsv(path, stats=stats)) == [
        ("Hello", "Hallo"),
        ("Good day", "Guten Tag"),
        ("Thanks", "Danke"),
    ]
    assert stats.lines_read == 4
    bad = write(tmp_path / f"bad-{name}", "one\ttwo\rthree\r")
    with pytest.raises(DataError, match=f"^{esc(bad)}:2: "):
        list(read_parallel_tsv(bad))
    # a bare CR inside a file of \n endings stays in its line: line numbers keep matching `wc -l`
    mixed = write(tmp_path / f"mixed-{name}", "a\rb\tA\rB\nc\tC\n")
    assert list(read_parallel_tsv(mixed)) == [("a\rb", "A\rB"), ("c", "C")]


def test_aligned_corpus_reads_each_languages_versification_from_its_table(tmp_path: Path) -> None:
    write(tmp_path / "eng.tsv", "PSA.1.1\tBlessed\n")
    write(tmp_path / "rus.tsv.gz", "PSA.1.1\tБлажен\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    assert corpus.versification() == {}  # no languages.tsv
    table = write(tmp_path / "languages.tsv", "lang\tversification\tverses\neng\tNRSV\t1\n\nrus\tSynodal\t1\n"
                                              "lat\tVulg\t1\n")  # fmt: skip
    assert corpus.versification() == {"eng": "NRSV", "rus": "Synodal"}
    write(table, "lang\tverses\neng\t1\n")
    assert corpus.versification() == {}  # no such column
    write(table, "lang\tversification\neng\tNRSV\nrus\n")
    with pytest.raises(DataError, match=f"^{esc(table)}:3: only 1 of the header's 2 columns"):
        corpus.versification()


def test_versification_table_in_two_letter_codes_names_the_corpus_languages(tmp_path: Path) -> None:
    # corpus languages are ISO 639-3: a table saying `ru` gave {}, and the Synodal psalm shift was missed
    write(tmp_path / "en.tsv", "PSA.23.1\tThe Lord is my shepherd\n")
    write(tmp_path / "ru.tsv", "PSA.23.1\tГосподь - Пастырь мой\n")
    write(tmp_path / "languages.tsv", "lang\tversification\nen\tKJV\nru-RU\tSynodal\nsee below\tx\n")
    assert AlignedCorpus.from_dir(tmp_path).versification() == {"eng": "KJV", "rus": "Synodal"}


def test_read_monolingual_accepts_str_path(tmp_path: Path) -> None:
    path = write(tmp_path / "mono.txt", "x\n")
    assert list(read_monolingual(str(path))) == ["x"]


@pytest.mark.parametrize(
    ("name", "content"), [("e.txt", b""), ("e.txt.gz", b""), ("blank.txt", b"\n  \n\t\n")]
)
def test_empty_file_is_an_error(tmp_path: Path, name: str, content: bytes) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=f"^{esc(path)}: file is empty$"):
        list(read_monolingual(path))
    # skip_bad does not make an empty file acceptable
    with pytest.raises(DataError, match="file is empty"):
        list(read_monolingual(path, skip_bad=True, stats=ReadStats()))


@pytest.mark.parametrize(
    "reader",
    [read_monolingual, read_parallel_tsv, read_id_text_tsv, lambda p, **kw: read_parallel_files(p, p, **kw)],
)
def test_every_reader_rejects_empty_file(tmp_path: Path, reader) -> None:
    path = write(tmp_path / "empty.tsv", b"")
    with pytest.raises(DataError, match="file is empty"):
        list(reader(path))


def test_missing_file_is_reported_at_the_call(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(DataError, match=f"^{esc(missing)}: file not found"):
        read_monolingual(missing)  # not iterated: the error comes before the first line


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a regular file"):
        read_monolingual(tmp_path)


@pytest.mark.parametrize("name", ["bad.txt", "bad.txt.gz"])
def test_non_utf8_byte_names_file_line_and_offset(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"fine\nalso fine\nbad \xff here\nok\n")
    with pytest.raises(DataError) as info:
        list(read_monolingual(path))
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert "0xff" in message and "byte offset 4" in message
    assert info.value.line == 3


def test_non_utf8_byte_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.txt", b"fine\nbad \xff\nworse \xc3\nok\n")
    stats = ReadStats()
    assert list(read_monolingual(path, skip_bad=True, stats=stats)) == ["fine", "ok"]
    assert (stats.lines_read, stats.skipped) == (4, 2)
    assert stats.messages[0].startswith(f"{path}:2: ")
    assert stats.messages[1].startswith(f"{path}:3: ")


def test_latin1_file_is_not_silently_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "latin1.txt", "Grüße\n".encode("latin-1"))
    with pytest.raises(DataError, match=r":1: invalid UTF-8 byte 0xfc at byte offset 2"):
        list(read_monolingual(path))


def test_truncated_gzip_is_a_data_error(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.txt.gz", "line\n" * 2000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=esc(path)):
        list(read_monolingual(path, skip_bad=True))


# --- ReadStats ----------------------------------------------------------------------------------------


def test_read_stats_keeps_only_first_five_messages(tmp_path: Path) -> None:
    lines = [f"no tab {i}" for i in range(7)] + ["good\tline"]
    path = write(tmp_path / "many.tsv", "\n".join(lines) + "\n")
    stats = ReadStats()
    assert list(read_parallel_tsv(path, skip_bad=True, stats=stats)) == [("good", "line")]
    assert (stats.lines_read, stats.skipped) == (8, 7)
    assert len(stats.messages) == 5
    assert [m.split(": ")[0] for m in stats.messages] == [f"{path}:{n}" for n in range(1, 6)]


# --- read_parallel_tsv --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["par.tsv", "par.tsv.gz"])
def test_read_parallel_tsv_good(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "Hello\tHallo\n\n Good day \t Guten Tag \r\n")
    stats = ReadStats()
    assert list(read_parallel_tsv(path, stats=stats)) == [("Hello", "Hallo"), ("Good day", "Guten Tag")]
    assert (stats.lines_read, stats.skipped) == (3, 0)


def test_read_parallel_tsv_other_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv", "1\tHallo\tHello\n2\tTschüss\tBye\n")
    assert list(read_parallel_tsv(path, columns=(2, 1))) == [("Hello", "Hallo"), ("Bye", "Tschüss")]


def test_read_parallel_tsv_line_without_tab(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv", "a\tb\nno tab here\nc\td\n")
    with pytest.raises(DataError, match=f"^{esc(path)}:2: no tab in line"):
        list(read_parallel_tsv(path))
    stats = ReadStats()
    assert list(read_parallel_tsv(path, skip_bad=True, stats=stats)) == [("a", "b"), ("c", "d")]
    assert (stats.lines_read, stats.skipped) == (3, 1)
    assert stats.messages == [f"{path}:2: no tab in line (expected tab-separated columns)"]


def test_read_parallel_tsv_too_few_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv", "1\ta\tb\n2\tc\n")
    with pytest.raises(
        DataError, match=f"^{esc(path)}:2: expected at least 3 tab-separated columns, found 2"
    ):
        list(read_parallel_tsv(path, columns=(1, 2)))
    stats = ReadStats()
    assert list(read_parallel_tsv(path, columns=(1, 2), skip_bad=True, stats=stats)) == [("a", "b")]
    assert stats.skipped == 1


def test_read_parallel_tsv_a_line_of_only_tabs_is_not_a_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv", "dog\tHund\n\t\ncat\tKatze\n \t \n")
    with pytest.raises(DataError, match=f"^{esc(path)}:2: every column is empty"):
        list(read_parallel_tsv(path))  # was read as two pairs, without a word


@pytest.mark.parametrize(
    ("content", "side"),
    [("a\tb\n\tx\n", "source side (column 1)"), ("a\tb\nx\t  \n", "target side (column 2)")],
)
def test_read_parallel_tsv_empty_side(tmp_path: Path, content: str, side: str) -> None:
    path = write(tmp_path / "par.tsv", content)
    # columns are numbered from 1, as lines are: `x<TAB>` is empty in its second column
    with pytest.raises(DataError, match=f"^{esc(path)}:2: empty {re.escape(side)}$"):
        list(read_parallel_tsv(path))
    stats = ReadStats()
    assert list(read_parallel_tsv(path, skip_bad=True, stats=stats)) == [("a", "b")]
    assert (stats.lines_read, stats.skipped) == (2, 1)


def test_read_parallel_tsv_empty_side_names_the_side_and_its_column(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv", "1\tHallo\tHello\n2\tTschüss\t\n")
    with pytest.raises(DataError, match=rf"^{esc(path)}:2: empty source side \(column 3\)$"):
        list(read_parallel_tsv(path, columns=(2, 1)))
    with pytest.raises(DataError, match=rf"^{esc(path)}:2: empty eng \(pivot\) side \(column 3\)$"):
        list(read_parallel_tsv(path, columns=(2, 1), sides=("eng (pivot)", "deu (new language)")))


def test_read_parallel_tsv_non_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "par.tsv.gz", b"a\tb\nc\td\n\xe9\tx\n")
    with pytest.raises(DataError, match=f"^{esc(path)}:3: invalid UTF-8"):
        list(read_parallel_tsv(path))
    stats = ReadStats()
    assert len(list(read_parallel_tsv(path, skip_bad=True, stats=stats))) == 2
    assert stats.skipped == 1


def test_read_parallel_tsv_refuses_a_line_with_more_columns_than_the_default_two(tmp_path: Path) -> None:
    # what `xling mine --output` writes: read as (score, source) pairs, it trained without a word
    mined = write(tmp_path / "mined.tsv", "1.234567\tThe house is red.\tDas Haus ist rot.\n")
    with pytest.raises(DataError, match=rf"^{esc(mined)}:1: 3 tab-separated columns; expected 2 "
                                        r"\(source<TAB>target\): this looks like .*`xling mine`.*"
                                        r"cut -f2,3.*columns=\(1, 2\)"):  # fmt: skip
        list(read_parallel_tsv(mined))
    assert list(read_parallel_tsv(mined, columns=(1, 2))) == [("The house is red.", "Das Haus ist rot.")]
    # a tab inside a text used to cut it silently
    cut = write(tmp_path / "cut.tsv", "dog\tHund\nName:\tName:\tJohn\n")
    expected = rf"^{esc(cut)}:2: 3 tab-separated columns; expected 2 \(eng<TAB>deu\): a tab inside a text"
    with pytest.raises(DataError, match=expected) as caught:
        list(read_parallel_tsv(cut, sides=("eng", "deu")))
    assert "xling mine" not in str(caught.value)
    stats = ReadStats()
    assert list(read_parallel_tsv(cut, skip_bad=True, stats=stats)) == [("dog", "Hund")]
    assert stats.skipped == 1
    # columns given: a wider file is the caller's choice, as before
    assert list(read_parallel_tsv(cut, columns=(0, 1), skip_bad=True)) == [
        ("dog", "Hund"),
        ("Name:", "Name:"),
    ]


def test_read_parallel_tsv_an_integer_id_column_is_not_taken_for_xling_mine_output(tmp_path: Path) -> None:
    # `xling mine` writes its scores as %.6f; an integer first column is an id, not a score
    path = write(tmp_path / "ids.tsv", "1276\teng\trus\n")
    with pytest.raises(DataError, match=rf"^{esc(path)}:1: 3 tab-separated columns; expected 2 "
                                        r"\(source<TAB>target\): a tab inside a text .*an id"):  # fmt: skip
        list(read_parallel_tsv(path))
    negative = write(tmp_path / "mined.tsv", "-0.012345\tA house.\tEin Haus.\n")
    with pytest.raises(DataError, match="looks like .*`xling mine`"):
        list(read_parallel_tsv(negative))


def test_read_parallel_tsv_ignores_empty_fields_after_the_two_columns(tmp_path: Path) -> None:
    # spreadsheets export `a<TAB>b<TAB>`: read as before the more-than-two-columns check
    path = write(tmp_path / "sheet.tsv", "hello\thallo\t\ndog\tHund\t \t\ncat\tKatze\n")
    assert list(read_parallel_tsv(path)) == [("hello", "hallo"), ("dog", "Hund"), ("cat", "Katze")]
    filled = write(tmp_path / "filled.tsv", "hello\thallo\t\tthird\n")  # a filled field after them is one
    with pytest.raises(DataError, match=rf"^{esc(filled)}:1: 4 tab-separated columns; expected 2"):
        list(read_parallel_tsv(filled))


@pytest.mark.parametrize("columns", [(0, 0), (-1, 1), (0,), (0, 1, 2), (0.0, 1)])
def test_read_parallel_tsv_bad_columns(tmp_path: Path, columns) -> None:
    path = write(tmp_path / "par.tsv", "a\tb\n")
    with pytest.raises(ConfigError, match="columns"):
        read_parallel_tsv(path, columns=columns)


# --- read_parallel_files ------------------------------------------------------------------------------


def test_read_parallel_files_good(tmp_path: Path) -> None:
    src = write(tmp_path / "train.de", "Hallo\n\nGuten Tag\n")
    tgt = write(tmp_path / "train.en.gz", "Hello\n\nGood day")  # no final newline on one side
    stats = ReadStats()
    assert list(read_parallel_files(src, tgt, stats=stats)) == [("Hallo", "Hello"), ("Guten Tag", "Good day")]
    assert (stats.lines_read, stats.skipped) == (3, 0)


@pytest.mark.parametrize("skip_bad", [False, True])
def test_read_parallel_files_unequal_length_source_shorter(tmp_path: Path, skip_bad: bool) -> None:
    src = write(tmp_path / "a.de", "1\n2\n")
    tgt = write(tmp_path / "a.en", "1\n2\n3\n4\n")
    with pytest.raises(DataError) as info:
        list(read_parallel_files(src, tgt, skip_bad=skip_bad))
    assert str(info.value).startswith(
        f"{src}:2: file ends at line 2, but {tgt} continues (3 lines read so far)"
    )
    assert (info.value.path, info.value.line) == (str(src), 2)


@pytest.mark.parametrize("skip_bad", [False, True])
def test_read_parallel_files_unequal_length_target_shorter(tmp_path: Path, skip_bad: bool) -> None:
    src = write(tmp_path / "a.de", "1\n2\n3\n")
    tgt = write(tmp_path / "a.en", "1\n")
    pairs = []
    with pytest.raises(DataError, match=f"^{esc(tgt)}:1: file ends at line 1, but {esc(src)} continues"):
        pairs.extend(read_parallel_files(src, tgt, skip_bad=skip_bad))
    assert pairs == [("1", "1")]  # streaming: what was aligned so far was already delivered


def test_read_parallel_files_one_blank_side(tmp_path: Path) -> None:
    src = write(tmp_path / "a.de", "eins\n\ndrei\nvier\n")
    tgt = write(tmp_path / "a.en", "one\ntwo\nthree\n\n")
    with pytest.raises(DataError, match=f"^{esc(src)}:2: empty line, but line 2 of {esc(tgt)} is not"):
        list(read_parallel_files(src, tgt))
    stats = ReadStats()
    assert list(read_parallel_files(src, tgt, skip_bad=True, stats=stats)) == [
        ("eins", "one"),
        ("drei", "three"),
    ]
    assert (stats.lines_read, stats.skipped) == (4, 2)
    assert stats.messages[1].startswith(f"{tgt}:4: empty line")


def test_read_parallel_files_non_utf8_keeps_alignment(tmp_path: Path) -> None:
    src = write(tmp_path / "a.de", b"eins\nzw\xf6lf\ndrei\n")
    tgt = write(tmp_path / "a.en", b"one\ntwelve\nthree\n")
    with pytest.raises(DataError, match=f"^{esc(src)}:2: invalid UTF-8 byte 0xf6 at byte offset 2"):
        list(read_parallel_files(src, tgt))
    stats = ReadStats()
    assert list(read_parallel_files(src, tgt, skip_bad=True, stats=stats)) == [
        ("eins", "one"),
        ("drei", "three"),
    ]
    assert (stats.lines_read, stats.skipped) == (3, 1)


def test_read_parallel_files_empty_side_file(tmp_path: Path) -> None:
    src = write(tmp_path / "a.de", "eins\n")
    tgt = write(tmp_path / "a.en", "")
    with pytest.raises(DataError, match=f"^{esc(tgt)}: file is empty$"):
        list(read_parallel_files(src, tgt, skip_bad=True))


def test_read_parallel_files_missing_file(tmp_path: Path) -> None:
    src = write(tmp_path / "a.de", "eins\n")
    with pytest.raises(DataError, match="a.en: file not found"):
        read_parallel_files(src, tmp_path / "a.en")


# --- read_id_text_tsv ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deu.tsv", "deu.tsv.gz"])
def test_read_id_text_tsv_good(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, "GEN.1.1\tIm Anfang\tschuf Gott\n\nGEN.1.2\tUnd die Erde\n")
    assert list(read_id_text_tsv(path)) == [("GEN.1.1", "Im Anfang\tschuf Gott"), ("GEN.1.2", "Und die Erde")]


def test_read_id_text_tsv_line_without_tab(tmp_path: Path) -> None:
    path = write(tmp_path / "deu.tsv", "GEN.1.1\ta\nGEN.1.2 b\nGEN.1.3\tc\n")
    with pytest.raises(DataError, match=f"^{esc(path)}:2: no tab in line"):
        list(read_id_text_tsv(path))
    stats = ReadStats()
    assert list(read_id_text_tsv(path, skip_bad=True, stats=stats)) == [("GEN.1.1", "a"), ("GEN.1.3", "c")]
    assert (stats.lines_read, stats.skipped) == (3, 1)


@pytest.mark.parametrize(
    ("line", "what"), [("\tno id", "empty id"), ("GEN.1.2\t ", "empty text for id 'GEN.1.2'")]
)
def test_read_id_text_tsv_empty_side(tmp_path: Path, line: str, what: str) -> None:
    path = write(tmp_path / "deu.tsv", f"GEN.1.1\ta\n{line}\n")
    with pytest.raises(DataError, match=f"^{esc(path)}:2: {what}"):
        list(read_id_text_tsv(path))
    stats = ReadStats()
    assert list(read_id_text_tsv(path, skip_bad=True, stats=stats)) == [("GEN.1.1", "a")]
    assert stats.skipped == 1


# --- read_tatoeba -------------------------------------------------------------------------------------


def make_tatoeba(root: Path, code: str, xx: list[str], eng: list[str]) -> None:
    """Write the two files of one LASER-layout Tatoeba pair."""
    write(root / f"tatoeba.{code}-eng.{code}", "".join(f"{s}\n" for s in xx))
    write(root / f"tatoeba.{code}-eng.eng", "".join(f"{s}\n" for s in eng))


def test_read_tatoeba_good_with_code_forms(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "deu", ["Hallo.", "Danke."], ["Hello.", "Thanks."])
    expected = (["Hallo.", "Danke."], ["Hello.", "Thanks."])
    for code in ["deu", "de", "ger", "de-DE"]:
        assert read_tatoeba(tmp_path, code) == expected


def test_read_tatoeba_macrolanguage_resolves_to_individual_file(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "swh", ["Jambo."], ["Hello."])
    assert read_tatoeba(tmp_path, "sw") == (["Jambo."], ["Hello."])


def test_read_tatoeba_ambiguous_macrolanguage(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "cmn", ["你好。"], ["Hello."])
    make_tatoeba(tmp_path, "yue", ["你好。"], ["Hello."])
    assert read_tatoeba(tmp_path, "zh") == (["你好。"], ["Hello."])  # the member zh stands for: cmn
    make_tatoeba(tmp_path, "yue", ["你好嘢。"], ["Hello."])
    assert read_tatoeba(tmp_path, "yue") == (["你好嘢。"], ["Hello."])
    make_tatoeba(tmp_path, "hrv", ["Bok."], ["Hello."])
    make_tatoeba(tmp_path, "srp", ["Здраво."], ["Hello."])
    with pytest.raises(DataError, match="hbs is ambiguous here: Tatoeba has hrv, srp"):
        read_tatoeba(tmp_path, "sh")  # Serbo-Croatian stands for no one member


def test_read_tatoeba_filipino_is_the_tagalog_file(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "tgl", ["Kumusta."], ["Hello."])
    assert read_tatoeba(tmp_path, "fil") == (["Kumusta."], ["Hello."])


def test_read_tatoeba_laser_codes_outside_iso_639_3(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "ber", ["Azul."], ["Hello."])
    assert read_tatoeba(tmp_path, "ber") == (["Azul."], ["Hello."])
    with pytest.raises(LanguageCodeError, match="'kzj'"):
        read_tatoeba(tmp_path, "kzj")  # neither a known code nor present


def test_read_tatoeba_missing_files_lists_what_was_looked_for(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"no Tatoeba files for fra \(French\): looked for tatoeba\.fra-eng\.fra and "
    ):
        read_tatoeba(tmp_path, "fr")
    write(tmp_path / "tatoeba.fra-eng.fra", "Bonjour.\n")
    with pytest.raises(DataError, match=r"looked for tatoeba\.fra-eng\.eng"):
        read_tatoeba(tmp_path, "fr")
    with pytest.raises(DataError, match="Tatoeba folder not found"):
        read_tatoeba(tmp_path / "nowhere", "fr")


def test_read_tatoeba_unequal_length(tmp_path: Path) -> None:
    make_tatoeba(tmp_path, "fra", ["Bonjour.", "Merci."], ["Hello."])
    with pytest.raises(DataError, match=r"tatoeba\.fra-eng\.eng:1: file ends at line 1, but"):
        read_tatoeba(tmp_path, "fra")


# --- AlignedCorpus ------------------------------------------------------------------------------------


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """Return a folder with eng (plain), deu (gzip), fra (plain) and metadata files that are not languages."""
    root = tmp_path / "corpus"
    root.mkdir()
    write(root / "eng.tsv", "v1\tOne\nv2\tTwo\nv3\tThree\nv4\tFour\n")
    write(root / "deu.tsv.gz", "v4\tVier\nv2\tZwei\nv1\tEins\nv9\tNeun\n")
    write(root / "fra.tsv", "v3\tTrois\n")
    write(root / "languages.tsv", "lang\tname\neng\tEnglish\n")
    write(root / "README.md", "not data\n")
    return root


def test_aligned_corpus_from_dir(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir)
    assert corpus.root == corpus_dir
    assert corpus.languages == ["deu", "eng", "fra"]
    assert corpus.files == {
        "deu": corpus_dir / "deu.tsv.gz",
        "eng": corpus_dir / "eng.tsv",
        "fra": corpus_dir / "fra.tsv",
    }


def test_aligned_corpus_language_subset_in_any_code_form(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir, languages=["en-US", "ger"])
    assert corpus.languages == ["deu", "eng"]
    assert AlignedCorpus.from_dir(corpus_dir, languages="fr").languages == ["fra"]


def test_aligned_corpus_two_letter_file_names(tmp_path: Path) -> None:
    write(tmp_path / "de.tsv", "v1\tEins\n")
    write(tmp_path / "en_GB.tsv.gz", "v1\tOne\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    assert corpus.languages == ["deu", "eng"]
    assert list(corpus.pairs("en", "de")) == [("v1", "One", "Eins")]


def test_aligned_corpus_two_files_for_one_language(tmp_path: Path) -> None:
    write(tmp_path / "de.tsv", "v1\tEins\n")
    write(tmp_path / "deu.tsv.gz", "v1\tEins\n")
    with pytest.raises(DataError, match="two files for language deu"):
        AlignedCorpus.from_dir(tmp_path)


def test_aligned_corpus_sentences_and_count(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir)
    assert list(corpus.sentences("de")) == [("v4", "Vier"), ("v2", "Zwei"), ("v1", "Eins"), ("v9", "Neun")]
    assert corpus.count("eng") == 4
    assert corpus.count("en") == 4
    assert corpus.count("fra") == 1


def test_aligned_corpus_count_is_cached(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir)
    assert corpus.count("eng") == 4
    os.remove(corpus_dir / "eng.tsv")
    assert corpus.count("eng") == 4


def test_aligned_corpus_pairs_join_on_id_in_source_order(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir)
    # v3 is missing in deu, v9 is missing in eng
    expected = [("v1", "One", "Eins"), ("v2", "Two", "Zwei"), ("v4", "Four", "Vier")]
    assert list(corpus.pairs("eng", "deu")) == expected
    assert list(corpus.pairs("deu", "eng")) == [
        ("v4", "Vier", "Four"),
        ("v2", "Zwei", "Two"),
        ("v1", "Eins", "One"),
    ]
    assert list(corpus.pairs("eng", "fra")) == [("v3", "Three", "Trois")]
    assert list(corpus.pairs("fra", "deu")) == []


def test_aligned_corpus_pairs_keep_source_order_whichever_side_is_held(tmp_path: Path) -> None:
    # A large source and a small target, then the reverse: both code paths of the join.
    write(tmp_path / "eng.tsv", "".join(f"v{i}\tsentence number {i} " + "x" * 50 + "\n" for i in range(50)))
    write(tmp_path / "deu.tsv", "v30\tdreißig\nv7\tsieben\nv99\tneunundneunzig\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    assert [row[0] for row in corpus.pairs("eng", "deu")] == ["v7", "v30"]
    assert [row[0] for row in corpus.pairs("deu", "eng")] == ["v30", "v7"]


def test_aligned_corpus_pairs_restricted_to_ids(corpus_dir: Path) -> None:
    corpus = AlignedCorpus.from_dir(corpus_dir)
    assert list(corpus.pairs("eng", "deu", ids={"v2", "v3", "v4"})) == [
        ("v2", "Two", "Zwei"),
        ("v4", "Four", "Vier"),
    ]
    assert [r[0] for r in corpus.pairs("eng", "deu", ids=lambda i: i != "v1")] == ["v2", "v4"]
    with pytest.raises(ConfigError, match="not the string"):
        corpus.pairs("eng", "deu", ids="v1")


def test_aligned_corpus_requested_language_without_file(corpus_dir: Path) -> None:
    with pytest.raises(DataError, match=r"no file for language\(s\) spa; available: deu, eng, fra"):
        AlignedCorpus.from_dir(corpus_dir, languages=["eng", "es"])
    corpus = AlignedCorpus.from_dir(corpus_dir, languages=["eng", "deu"])
    with pytest.raises(DataError, match="language fra is not in this corpus; available: deu, eng"):
        corpus.sentences("fr")


def test_aligned_corpus_finds_a_macrolanguage_member_and_the_same_written_language(tmp_path: Path) -> None:
    # as the Tatoeba reader does: the Bible has cmn, lzh and swh, users say zh and sw; fil is written tgl
    for code in ("cmn", "lzh", "swh", "tgl", "eng"):
        write(tmp_path / f"{code}.tsv", f"v1\t{code} text\n")
    corpus = AlignedCorpus.from_dir(tmp_path, ["zh", "sw", "fil", "en"])
    assert corpus.files == {code: tmp_path / f"{code}.tsv" for code in ("cmn", "swh", "tgl", "eng")}
    assert list(corpus.pairs("zh", "fil")) == [("v1", "cmn text", "tgl text")]
    assert AlignedCorpus.from_dir(tmp_path, ["lzh"]).languages == ["lzh"]  # a member with its own file
    write(tmp_path / "wuu.tsv", "v1\tx\n")
    write(tmp_path / "hrv.tsv", "v1\tx\n")
    write(tmp_path / "srp.tsv", "v1\tx\n")
    with pytest.raises(DataError, match="hbs is ambiguous here: this corpus has hrv, srp"):
        AlignedCorpus.from_dir(tmp_path, ["sh"])
    with pytest.raises(DataError, match=r"no file for language\(s\) ara"):
        AlignedCorpus.from_dir(tmp_path, ["ar"])


def test_aligned_corpus_code_names_the_code_a_language_is_kept_under(tmp_path: Path) -> None:
    # what align and the mining test compare and hash: zh and cmn are one file, fil and tgl another
    for code in ("cmn", "tgl", "eng"):
        write(tmp_path / f"{code}.tsv", f"v1\t{code} text\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    assert [corpus.code(x) for x in ("zh", "zho", "cmn", "fil", "tgl", "en")] == [
        "cmn", "cmn", "cmn", "tgl", "tgl", "eng"
    ]  # fmt: skip
    assert corpus.code("fra") is None and corpus.code("ar") is None
    write(tmp_path / "hrv.tsv", "v1\tx\n")
    write(tmp_path / "srp.tsv", "v1\tx\n")
    with pytest.raises(DataError, match="hbs is ambiguous here: this corpus has hrv, srp"):
        AlignedCorpus.from_dir(tmp_path).code("sh")


def test_aligned_corpus_unknown_language_code(corpus_dir: Path) -> None:
    with pytest.raises(LanguageCodeError, match="'qqq'"):
        AlignedCorpus.from_dir(corpus_dir, languages=["eng", "qqq"])
    corpus = AlignedCorpus.from_dir(corpus_dir)
    with pytest.raises(LanguageCodeError, match="'english'"):
        corpus.pairs("english", "deu")


def test_aligned_corpus_ignores_metadata_files(tmp_path: Path) -> None:
    write(tmp_path / "languages.tsv", "lang\tname\n")
    write(tmp_path / "_train-split.tsv", "a\tb\n")
    write(tmp_path / "notes.txt", "not a corpus file\n")
    with pytest.raises(DataError, match="no <lang>.tsv or <lang>.tsv.gz files"):
        AlignedCorpus.from_dir(tmp_path)
    write(tmp_path / "deu.tsv", "a\tHallo\n")
    assert AlignedCorpus.from_dir(tmp_path).languages == ["deu"]


NOT_A_LANGUAGE = ".* is not a language code.*rename it"
# dev and val are also ISO 639-3 codes (Domung, Vehes): read as languages, their sentences would train
SPLIT = ".* names a data split, not a language"
OTHER_FORMAT = "a file of language .* would be left out unread"


@pytest.mark.parametrize(
    ("name", "message"),
    [("xyz.tsv", NOT_A_LANGUAGE), ("englsh.tsv.gz", NOT_A_LANGUAGE), ("de-x-verylongvariant.tsv", NOT_A_LANGUAGE),
     ("dev.tsv", SPLIT), ("val.tsv.gz", SPLIT), ("deu_test.tsv", SPLIT), ("en-dev.tsv", SPLIT),
     ("train-split.tsv", SPLIT), ("deu.txt", OTHER_FORMAT), ("fra.tsv.xz", OTHER_FORMAT), ("spa.TXT", OTHER_FORMAT)],
)  # fmt: skip
def test_aligned_corpus_file_that_is_no_language_file_is_an_error(
    tmp_path: Path, name: str, message: str
) -> None:
    write(tmp_path / "eng.tsv", "a\tHello\n")
    write(tmp_path / name, "a\tHallo\n")
    with pytest.raises(DataError, match=rf"{re.escape(name)}: {message}"):
        AlignedCorpus.from_dir(tmp_path)


def test_aligned_corpus_suffix_in_capitals_is_read(tmp_path: Path) -> None:
    write(tmp_path / "eng.tsv", "a\tHello\n")
    write(tmp_path / "deu.TSV", "a\tHallo\n")
    write(tmp_path / "README.md", "about this corpus\n")
    for side_file in ("deu.tsv.sha256", "eng.tsv~", "deu.tsv.gz.part"):  # not a language's sentences
        write(tmp_path / side_file, "x\n")
    assert AlignedCorpus.from_dir(tmp_path).languages == ["deu", "eng"]


def test_aligned_corpus_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="corpus folder not found"):
        AlignedCorpus.from_dir(tmp_path / "missing")


def test_aligned_corpus_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path / "eng.tsv", "v1\tOne\nv2\tTwo\nv1\tUno\nv3\tThree\n")
    write(tmp_path / "deu.tsv", "v1\tEins\nv3\tDrei\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    with pytest.raises(DataError, match=f"^{esc(path)}:3: duplicate id 'v1' \\(first on line 1\\)"):
        list(corpus.sentences("eng"))
    with pytest.raises(DataError, match="duplicate id"):
        list(corpus.pairs("deu", "eng"))
    stats = ReadStats()
    assert list(corpus.sentences("eng", skip_bad=True, stats=stats)) == [
        ("v1", "One"),
        ("v2", "Two"),
        ("v3", "Three"),
    ]
    assert (stats.lines_read, stats.skipped) == (4, 1)
    stats = ReadStats()
    rows = list(corpus.pairs("eng", "deu", skip_bad=True, stats=stats))
    assert rows == [("v1", "One", "Eins"), ("v3", "Three", "Drei")]
    assert stats.skipped == 1


def test_aligned_corpus_bad_lines_in_skip_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "eng.tsv.gz", b"v1\tOne\nv2 Two\nv3\tTh\xffree\nv4\tFour\n")
    corpus = AlignedCorpus.from_dir(tmp_path)
    with pytest.raises(DataError, match=f"^{esc(path)}:2: no tab"):
        list(corpus.sentences("eng"))
    stats = ReadStats()
    assert list(corpus.sentences("eng", skip_bad=True, stats=stats)) == [("v1", "One"), ("v4", "Four")]
    assert (stats.lines_read, stats.skipped) == (4, 2)
    assert stats.messages[1].startswith(f"{path}:3: invalid UTF-8 byte 0xff")


# --- the real Bible corpus (skipped when the shared data is absent) -----------------------------------


def shared_data_dir() -> Path:
    """Return the shared data folder: $XLING_DATA, else `shared/data` next to the repository root."""
    if env := os.environ.get("XLING_DATA"):
        return Path(env)
    repo_root = Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "data"


BIBLE = shared_data_dir() / "bible"


@pytest.mark.skipif(not (BIBLE / "eng.tsv.gz").is_file(), reason=f"Bible corpus not found at {BIBLE}")
def test_real_bible_corpus_eng_deu_john() -> None:
    corpus = AlignedCorpus.from_dir(BIBLE)
    assert len(corpus.languages) >= 50
    assert {"eng", "deu", "cmn", "grc"} <= set(corpus.languages)
    rows = list(corpus.pairs("en", "de", ids=lambda verse: verse.startswith("JHN.")))
    assert len(rows) > 800  # John has 879 verses; a few may not line up across versifications
    assert all(verse.startswith("JHN.") for verse, _, _ in rows)
    by_id = {verse: (eng, deu) for verse, eng, deu in rows}
    eng, deu = by_id["JHN.3.16"]
    assert "God" in eng and "Gott" in deu
    assert rows[0][0] == "JHN.1.1"


def test_book_verses_takes_the_first_of_a_book_per_language(tmp_path):
    import gzip

    from xling.data.sources import book_verses

    (tmp_path / "eng.tsv").write_text("GEN.1.1\tIn the beginning\nJHN.1.1\tOne\nJHN.1.2\tTwo\nJHN.1.3\tThree\n",
                                      encoding="utf-8")  # fmt: skip
    with gzip.open(tmp_path / "deu.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("JHN.1.1\tEins\nMAT.1.1\tAnfang\n")
    assert book_verses(tmp_path, prefix="JHN.", per_language=2) == ["Eins", "One", "Two"]
    assert book_verses(tmp_path, prefix="JHN.", per_language=5, languages=["eng"]) == ["One", "Two", "Three"]
    # metadata files are not languages, and any code form names a language
    (tmp_path / "languages.tsv").write_text("code\tname\neng\tEnglish\n", encoding="utf-8")
    (tmp_path / "_splits.tsv").write_text("no tab here\n", encoding="utf-8")
    assert book_verses(tmp_path, prefix="JHN.", per_language=2) == ["Eins", "One", "Two"]
    assert book_verses(tmp_path, prefix="JHN.", per_language=1, languages=["en", "de-DE"]) == ["Eins", "One"]
    with pytest.raises(DataError, match="no file for language"):
        book_verses(tmp_path, prefix="JHN.", per_language=1, languages=["fra"])


def test_a_plain_file_named_gz_is_not_a_readable_gzip_file(tmp_path: Path) -> None:
    fake = tmp_path / "fake.txt.gz"
    fake.write_text("plain text\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"fake\.txt\.gz: not a readable gzip file") as caught:
        list(read_monolingual(fake))
    assert ":0:" not in str(caught.value)


@pytest.mark.parametrize("name", ["news.de.txt", "news.de"])
def test_gzip_data_in_a_file_not_named_gz_says_so(tmp_path: Path, name: str) -> None:
    # it used to say "invalid UTF-8 byte 0x8b", which sent users hunting for an encoding problem
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"Hallo Welt\n"))
    with pytest.raises(
        DataError, match=rf"^{esc(path)}: the file is gzip-compressed .*rename it to {name}\.gz"
    ):
        list(read_monolingual(path))
    with pytest.raises(DataError, match="gzip-compressed"):
        open_text(path)
    # a text that starts with one of the two bytes is read as ever
    text = write(tmp_path / "text.txt", b"\x1fA\n")
    with open_text(text) as handle:
        assert handle.read() == "\x1fA\n"


def test_a_byte_order_mark_inside_a_file_is_no_part_of_the_line(tmp_path: Path) -> None:
    # two files concatenated (a gzip of several members): the second one's BOM would hide its first id
    path = tmp_path / "eng.tsv"
    path.write_bytes(b"A.1.1\tone\n" + "\ufeffA.1.2\ttwo\n".encode())
    assert list(read_id_text_tsv(path)) == [("A.1.1", "one"), ("A.1.2", "two")]


def test_udhr_placeholders_for_missing_paragraphs_are_no_text(tmp_path: Path) -> None:
    import gzip

    from xling.data.udhr import is_placeholder, read_udhr_articles

    assert is_placeholder("            [Missing 15.2]") and not is_placeholder("Article 15")
    path = tmp_path / "xyz.txt.gz"
    path.write_bytes(
        gzip.compress(b"Title\nArticle 1\nAll are born free.\n[Missing 1.2]\nArticle 2\nEveryone.\n")
    )
    assert read_udhr_articles(path)[1] == ["All are born free."]


def test_tatoeba_files_of_a_macrolanguage_serve_only_the_member_they_hold(tmp_path: Path) -> None:
    from xling.data.readers import tatoeba_code

    for code in ("kur", "ara", "lvs"):
        for side in (code, "eng"):
            (tmp_path / f"tatoeba.{code}-eng.{side}").write_text("x\n", encoding="utf-8")
    assert [tatoeba_code(tmp_path, c) for c in ("kmr", "arb", "ar", "lav", "lv")] == [
        "kur",
        "ara",
        "ara",
        "lvs",
        "lvs",
    ]
    # Tatoeba's kur is Latin-script Kurmanji and its ara Standard Arabic: not Sorani's or Moroccan's test set
    for code, macro in (("ckb", "kur"), ("ary", "ara")):
        with pytest.raises(DataError, match=rf"no Tatoeba files for {code} .*its {macro} files hold"):
            tatoeba_code(tmp_path, code)
