"""Tests of xling.vectors.formats: round trips, header-less files, limits, and every bad-file case."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from xling.errors import ConfigError, DataError
from xling.vectors import WordVectors, convert_vectors, load_vectors, save_vectors
from xling.vectors.formats import vocab_path


def make_vectors(n: int = 40, dim: int = 7, seed: int = 0) -> WordVectors:
    """Return `n` random vectors for distinct words, some non-ASCII."""
    rng = np.random.default_rng(seed)
    words = [f"wörd{i}" if i % 3 else f"w{i}_€" for i in range(n)]
    return WordVectors(words, rng.standard_normal((n, dim)).astype(np.float32))


def write(path: Path, text: str | bytes) -> Path:
    """Return `path` after writing `text` (str as UTF-8) to it."""
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# --- round trips ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v.vec", "v.vec.gz", "v.txt", "v.txt.gz"])
def test_text_round_trip(tmp_path: Path, name: str) -> None:
    original = make_vectors()
    save_vectors(original, tmp_path / name)
    loaded = load_vectors(tmp_path / name)
    assert loaded.words == original.words
    assert loaded.vectors.dtype == np.float32
    np.testing.assert_allclose(loaded.vectors, original.vectors, rtol=1e-5, atol=1e-6)
    assert loaded.source == str(tmp_path / name)


def test_text_precision_9_is_exact(tmp_path: Path) -> None:
    original = make_vectors()
    save_vectors(original, tmp_path / "v.vec", precision=9)
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.vec").vectors, original.vectors)


def test_gz_output_is_gzip_with_header(tmp_path: Path) -> None:
    save_vectors(make_vectors(5, 3), tmp_path / "v.vec.gz")
    with gzip.open(tmp_path / "v.vec.gz", "rt", encoding="utf-8") as handle:
        assert handle.readline() == "5 3\n"


def test_npy_round_trip_is_exact_and_memory_mapped(tmp_path: Path) -> None:
    original = make_vectors()
    save_vectors(original, tmp_path / "v.npy")
    assert vocab_path(tmp_path / "v.npy") == tmp_path / "v.vocab.txt"
    assert (tmp_path / "v.vocab.txt").read_text(encoding="utf-8").splitlines() == original.words
    loaded = load_vectors(tmp_path / "v.npy")
    assert loaded.words == original.words
    np.testing.assert_array_equal(loaded.vectors, original.vectors)
    assert isinstance(loaded.vectors, np.memmap)
    assert not list(tmp_path.glob(".*tmp"))


def test_npy_words_may_hold_spaces_but_vec_rejects_them(tmp_path: Path) -> None:
    vectors = WordVectors(["new york", "paris"], np.ones((2, 3), dtype=np.float32))
    save_vectors(vectors, tmp_path / "v.npy")
    assert load_vectors(tmp_path / "v.npy").words == ["new york", "paris"]
    with pytest.raises(DataError, match="'new york' contains whitespace"):
        save_vectors(vectors, tmp_path / "v.vec")
    assert not (tmp_path / "v.vec").exists()


def test_converting_to_text_keeps_the_values(tmp_path: Path) -> None:
    original = make_vectors()
    save_vectors(original, tmp_path / "v.npy")
    convert_vectors(tmp_path / "v.npy", tmp_path / "v.vec")
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.vec").vectors, original.vectors)


def test_convert_vec_to_npy_with_max_words(tmp_path: Path) -> None:
    original = make_vectors()
    save_vectors(original, tmp_path / "v.vec")
    converted = convert_vectors(tmp_path / "v.vec", tmp_path / "out.npy", max_words=10)
    assert converted.words == original.words[:10]
    assert load_vectors(tmp_path / "out.npy").words == original.words[:10]


# --- reading variants ----------------------------------------------------------------------------------


def test_fasttext_trailing_spaces_crlf_bom_and_final_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "\ufeff2 3\r\nthe 1 2 3 \r\nof -1.5 2e-3 0 \r\n\n\n")
    loaded = load_vectors(path)
    assert loaded.words == ["the", "of"]
    np.testing.assert_allclose(loaded.vectors, [[1, 2, 3], [-1.5, 0.002, 0]])


def test_header_less_glove_file(tmp_path: Path) -> None:
    path = write(tmp_path / "glove.txt", "the 0.1 0.2 0.3\nof 0.4 0.5 0.6\nand 1 1 1\n")
    loaded = load_vectors(path)
    assert loaded.words == ["the", "of", "and"]
    assert loaded.dim == 3
    np.testing.assert_allclose(loaded.vectors[1], [0.4, 0.5, 0.6], rtol=1e-6)


def test_glove_words_holding_spaces_are_read(tmp_path: Path) -> None:
    # glove.840B.300d.txt has rows such as ". . . 0.1 ..." and "at name@domain.com 0.2 ...": the width is
    # known from the first row, so the word is what comes before the last `dim` values
    path = write(tmp_path / "glove.txt", "the 0.1 0.2 0.3\n. . . 1 2 3\nat name@domain.com 4 5 6\n")
    loaded = load_vectors(path)
    assert loaded.words == ["the", ". . .", "at name@domain.com"]
    np.testing.assert_array_equal(loaded.vectors[1:], [[1, 2, 3], [4, 5, 6]])
    extra_number = write(
        tmp_path / "bad.txt", "the 0.1 0.2 0.3\nof 7 1 2 3\n"
    )  # a value too many, not a word
    with pytest.raises(DataError, match=r"bad\.txt:2: expected 3 values after the word, got 4"):
        load_vectors(extra_number)


def test_words_with_non_ascii_spaces_survive(tmp_path: Path) -> None:
    # fastText splits words on ASCII whitespace only, so its vocabularies hold words with U+00A0 or U+3000.
    path = write(tmp_path / "v.vec", "2 2\na\u00a0b 1 2\n\u3000 3 4\n")
    assert load_vectors(path).words == ["a\u00a0b", "\u3000"]


@pytest.mark.parametrize("name", ["v.vec", "v.npy"])
def test_max_words_keeps_the_first_rows(tmp_path: Path, name: str) -> None:
    original = make_vectors(30, 4)
    save_vectors(original, tmp_path / name, precision=9)
    loaded = load_vectors(tmp_path / name, max_words=7)
    assert loaded.words == original.words[:7]
    np.testing.assert_array_equal(loaded.vectors, original.vectors[:7])


def test_max_words_spans_chunks_and_header_only_promises(tmp_path: Path, monkeypatch) -> None:
    import xling.vectors.formats as formats

    monkeypatch.setattr(formats, "_CHUNK_ROWS", 4)
    original = make_vectors(30, 4)
    save_vectors(original, tmp_path / "v.vec", precision=9)
    np.testing.assert_array_equal(load_vectors(tmp_path / "v.vec").vectors, original.vectors)
    assert load_vectors(tmp_path / "v.vec", max_words=11).words == original.words[:11]
    # A truncated file is fine when max_words stops before the end.
    lines = (tmp_path / "v.vec").read_text(encoding="utf-8").splitlines()
    write(tmp_path / "cut.vec", "\n".join(lines[:16]) + "\n")
    assert len(load_vectors(tmp_path / "cut.vec", max_words=15)) == 15


def test_repeated_words_keep_the_first_row_and_warn(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "4 2\na 1 1\nb 2 2\na 3 3\nc 4 4\n")
    with pytest.warns(UserWarning, match=r"v\.vec: dropped 1 repeated word.*'a' on line 4") as record:
        loaded = load_vectors(path)
    assert record[0].filename == __file__  # points at the caller, not at xling's internals
    assert loaded.words == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.vectors[:, 0], [1, 2, 4])


def test_repeated_words_in_npy_vocab_keep_the_first_row(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.arange(6, dtype=np.float32).reshape(3, 2))
    write(tmp_path / "v.vocab.txt", "x\ny\nx\n")
    with pytest.warns(UserWarning, match="'x' on line 3") as record:
        loaded = load_vectors(tmp_path / "v.npy")
    assert record[0].filename == __file__
    assert loaded.words == ["x", "y"]
    np.testing.assert_array_equal(loaded.vectors, [[0, 1], [2, 3]])


def test_clean_file_does_not_warn(tmp_path: Path) -> None:
    save_vectors(make_vectors(), tmp_path / "v.vec")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_vectors(tmp_path / "v.vec")


# --- bad files -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["abc def", "10", "0 5", "3 -2", "3 x"])
def test_malformed_header(tmp_path: Path, header: str) -> None:
    path = write(tmp_path / "v.vec", f"{header}\na 1 2\n")
    with pytest.raises(DataError, match=r"v\.vec:1: malformed header"):
        load_vectors(path)


def test_row_of_wrong_width_names_line_and_widths(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "3 3\na 1 2 3\nb 1 2\nc 1 2 3\n")
    with pytest.raises(DataError, match=r"v\.vec:3: expected 3 values after the word, got 2"):
        load_vectors(path)


def test_short_and_long_rows_that_balance_out_are_caught(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "3 3\na 1 2 3\nb 1 2\nc 1 2 3 4\n")
    with pytest.raises(DataError, match=r":3: expected 3 values after the word, got 2"):
        load_vectors(path)


def test_odd_spacing_inside_a_row_is_tolerated(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "2 3\na 1  2\t3\nb 4 5 6\n")
    np.testing.assert_array_equal(load_vectors(path).vectors, [[1, 2, 3], [4, 5, 6]])


@pytest.mark.parametrize("bad", ["x", "1,5", "1.5.5", "0x10", "1-2"])
def test_non_number_value(tmp_path: Path, bad: str) -> None:
    path = write(tmp_path / "v.vec", f"2 3\na 1 2 3\nb 1 {bad} 3\n")
    with pytest.raises(DataError, match=rf"v\.vec:3: value 2 '{bad}' is not a number"):
        load_vectors(path)


def test_nan_value(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "2 2\na 1 2\nb nan 3\n")
    with pytest.raises(DataError, match=r":3: value is not a finite number"):
        load_vectors(path)


@pytest.mark.parametrize("row", [b"b\xff 1 2", b"b 1 \xe92"])
def test_non_utf8_bytes(tmp_path: Path, row: bytes) -> None:
    path = write(tmp_path / "v.vec", b"2 2\na 1 2\n" + row + b"\n")
    with pytest.raises(DataError, match=r"v\.vec:3: invalid UTF-8 byte 0x(ff|e9)"):
        load_vectors(path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(DataError, match=r"v\.vec: file is empty"):
        load_vectors(write(tmp_path / "v.vec", content))


def test_truncated_file(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "5 2\na 1 2\nb 3 4\nc 5 6\n")
    with pytest.raises(DataError, match=r"v\.vec: header says 5 rows, file has 3"):
        load_vectors(path)
    with pytest.raises(DataError, match="header says 5 rows, file has 3"):
        load_vectors(path, max_words=4)


def test_more_rows_than_the_header_says(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "2 2\na 1 2\nb 3 4\nc 5 6\n")
    with pytest.raises(DataError, match=r"v\.vec:4: header says 2 rows, but the file has more"):
        load_vectors(path)


def test_blank_line_between_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "v.vec", "2 2\na 1 2\n\nb 3 4\n")
    with pytest.raises(DataError, match=r"v\.vec:3: blank line between rows"):
        load_vectors(path)


def test_corrupt_gzip(tmp_path: Path) -> None:
    save_vectors(make_vectors(2000, 10), tmp_path / "v.vec.gz")
    data = (tmp_path / "v.vec.gz").read_bytes()
    write(tmp_path / "cut.vec.gz", data[: len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.vec\.gz:\d+: cannot read past this line"):
        load_vectors(tmp_path / "cut.vec.gz")


def test_npy_without_vocab_file(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(DataError, match=r"v\.npy: missing vocabulary file .*v\.vocab\.txt"):
        load_vectors(tmp_path / "v.npy")


def test_npy_count_mismatch_names_both_files(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((3, 2), dtype=np.float32))
    write(tmp_path / "v.vocab.txt", "a\nb\n")
    with pytest.raises(DataError, match=r"v\.vocab\.txt has 2 words but .*v\.npy has 3 rows"):
        load_vectors(tmp_path / "v.npy")


def test_npy_vocab_with_bad_bytes_or_blank_line(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.zeros((3, 2), dtype=np.float32))
    write(tmp_path / "v.vocab.txt", b"a\nb\xff\nc\n")
    with pytest.raises(DataError, match=r"v\.vocab\.txt:2: invalid UTF-8 byte 0xff at byte offset 1"):
        load_vectors(tmp_path / "v.npy")
    write(tmp_path / "v.vocab.txt", "a\n\nc\n")
    with pytest.raises(DataError, match=r"v\.vocab\.txt:2: blank line"):
        load_vectors(tmp_path / "v.npy")


def test_npy_that_is_not_a_matrix(tmp_path: Path) -> None:
    write(tmp_path / "v.npy", b"not numpy at all")
    write(tmp_path / "v.vocab.txt", "a\n")
    with pytest.raises(DataError, match=r"v\.npy: not a readable \.npy matrix"):
        load_vectors(tmp_path / "v.npy")
    np.save(tmp_path / "v.npy", np.zeros(3, dtype=np.float32))
    with pytest.raises(DataError, match="expected a 2-d matrix"):
        load_vectors(tmp_path / "v.npy")


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_vectors(tmp_path / "nope.vec")
    with pytest.raises(ConfigError, match="unknown word-vector format"):
        load_vectors(tmp_path / "v.csv")
    with pytest.raises(ConfigError, match="max_words"):
        load_vectors(tmp_path / "v.vec", max_words=0)
    with pytest.raises(ConfigError, match="writing .bin is not supported"):
        save_vectors(make_vectors(), tmp_path / "v.bin")
    with pytest.raises(ConfigError, match="precision"):
        save_vectors(make_vectors(), tmp_path / "v.vec", precision=12)


# --- failed saves keep the earlier file -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["v.vec", "v.vec.gz"])
def test_failed_text_save_keeps_the_earlier_file(tmp_path: Path, monkeypatch, name: str) -> None:
    import xling.vectors.formats as formats

    monkeypatch.setattr(formats, "_CHUNK_ROWS", 5)
    good = make_vectors(20, 3)
    save_vectors(good, tmp_path / name)
    before = (tmp_path / name).read_bytes()
    bad = make_vectors(20, 3, seed=1)
    bad.vectors[17, 1] = np.nan  # found only after the first chunks were written to the temporary file
    with pytest.raises(DataError, match="word 17 .* is not finite"):
        save_vectors(bad, tmp_path / name)
    assert (tmp_path / name).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_failed_npy_save_keeps_both_earlier_files(tmp_path: Path) -> None:
    save_vectors(make_vectors(), tmp_path / "v.npy")
    before = (tmp_path / "v.npy").read_bytes(), (tmp_path / "v.vocab.txt").read_bytes()
    bad = WordVectors(["a", "b\nc"], np.ones((2, 2), dtype=np.float32))
    with pytest.raises(DataError, match="line break"):
        save_vectors(bad, tmp_path / "v.npy")
    assert ((tmp_path / "v.npy").read_bytes(), (tmp_path / "v.vocab.txt").read_bytes()) == before
    assert len(list(tmp_path.iterdir())) == 2


def test_saving_over_the_memory_mapped_source(tmp_path: Path) -> None:
    save_vectors(make_vectors(), tmp_path / "v.npy")
    loaded = load_vectors(tmp_path / "v.npy")
    save_vectors(loaded.most_frequent(5), tmp_path / "v.npy")
    assert load_vectors(tmp_path / "v.npy").words == loaded.words[:5]


# --- .bin (word2vec read here, fastText through gensim) ---------------------------------------------------------------------------------


def test_word2vec_binary_round_trip(tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    original = make_vectors(25, 6)
    keyed = KeyedVectors(vector_size=6)
    keyed.add_vectors(original.words, original.vectors)
    keyed.save_word2vec_format(str(tmp_path / "w2v.bin"), binary=True)
    loaded = load_vectors(tmp_path / "w2v.bin")
    assert loaded.words == original.words
    np.testing.assert_array_equal(loaded.vectors, original.vectors)
    assert load_vectors(tmp_path / "w2v.bin", max_words=4).words == original.words[:4]


def test_fasttext_binary_keeps_vocabulary_in_frequency_order(tmp_path: Path) -> None:
    from gensim.models import FastText
    from gensim.models.fasttext import save_facebook_model

    sentences = [["common"] * 5 + ["middle"] * 3 + ["rare"] for _ in range(20)]
    model = FastText(sentences, vector_size=8, min_count=1, bucket=500, epochs=1, workers=1, seed=0)
    save_facebook_model(model, str(tmp_path / "ft.bin"))
    loaded = load_vectors(tmp_path / "ft.bin")
    assert loaded.words == ["common", "middle", "rare"]
    assert loaded.vectors.shape == (3, 8)
    np.testing.assert_allclose(loaded.vectors, model.wv.vectors, rtol=1e-4, atol=1e-6)
    assert load_vectors(tmp_path / "ft.bin", max_words=2).words == ["common", "middle"]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (b"\xba\x16\x4f\x2f\x0c\x00\x00\x00garbage", "cannot read fastText binary file"),
        (b"3 2\nab\x00\x01", "row 1 of 3: the file ends inside its word"),
        (b"3 2\n" + b"x" * 5000, "row 1 of 3: no space within 4096 bytes: not a word2vec binary file"),
        (b"3 2\n ab", "row 1 of 3: an empty word"),
        (b"three 2\nab", "cannot read word2vec binary file: malformed header 'three 2'"),
        (b"3 2\nab\xff 12345678", "row 1 of 3: the word is not UTF-8"),
    ],
)
def test_broken_binary_file(tmp_path: Path, content: bytes, error: str) -> None:
    with pytest.raises(DataError, match=rf"broken\.bin(:1)?: {error}"):
        load_vectors(write(tmp_path / "broken.bin", content))


def _word2vec_bin(path: Path, words: list[str], dim: int = 3) -> bytes:
    """Return the bytes of a word2vec binary file gensim wrote to `path` (rows 0, 1, 2... counting up)."""
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=dim)
    keyed.add_vectors(words, np.arange(len(words) * dim, dtype=np.float32).reshape(len(words), dim))
    keyed.save_word2vec_format(str(path), binary=True)
    return path.read_bytes()


def test_word2vec_binary_with_more_rows_than_its_header_is_refused(tmp_path: Path) -> None:
    data = _word2vec_bin(tmp_path / "w.bin", ["alpha", "beta", "gamma", "delta"])
    write(tmp_path / "fewer.bin", data.replace(b"4 3", b"2 3", 1))
    with pytest.raises(DataError, match=r"fewer\.bin: header says 2 rows, but the file has more after row 2"):
        load_vectors(tmp_path / "fewer.bin")
    assert load_vectors(tmp_path / "fewer.bin", max_words=2).words == ["alpha", "beta"]  # asked for no more
    write(tmp_path / "more.bin", data.replace(b"4 3", b"5 3", 1))
    with pytest.raises(DataError, match="header says 5 rows, file has 4"):
        load_vectors(tmp_path / "more.bin")
    write(tmp_path / "cut.bin", data[:-5])
    with pytest.raises(DataError, match="row 4 of 4: the file ends inside its vector"):
        load_vectors(tmp_path / "cut.bin")


def test_word2vec_binary_repeated_word_keeps_its_first_row(tmp_path: Path) -> None:
    data = _word2vec_bin(tmp_path / "w.bin", ["alpha", "beta", "gamma", "delta"])
    write(tmp_path / "dup.bin", data.replace(b"gamma ", b"alpha ", 1))
    with pytest.warns(UserWarning, match=r"dropped 1 repeated word\(s\) \(first: 'alpha' at row 3\)"):
        loaded = load_vectors(tmp_path / "dup.bin")
    assert loaded.words == ["alpha", "beta", "delta"]  # gensim's reader left a None word with a zero row
    np.testing.assert_array_equal(loaded.vectors, [[0, 1, 2], [3, 4, 5], [9, 10, 11]])


def test_text_file_named_bin_and_nan_in_word2vec_binary_are_refused(tmp_path: Path) -> None:
    save_vectors(make_vectors(4, 3), tmp_path / "t.vec")
    write(tmp_path / "text.bin", (tmp_path / "t.vec").read_bytes())
    with pytest.raises(DataError, match="text\\.bin: this is a text vectors file .* name it .vec or .txt"):
        load_vectors(tmp_path / "text.bin")
    data = _word2vec_bin(tmp_path / "w.bin", ["alpha", "beta"])
    nan = np.float32("nan").tobytes()
    write(tmp_path / "nan.bin", data[:-4] + nan)  # beta's last value (gensim ends rows without a newline)
    with pytest.raises(DataError, match="row 2 \\(word 'beta'\\) holds a value that is not a finite"):
        load_vectors(tmp_path / "nan.bin")


def test_float64_npy_beyond_float32_range_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "big.npy", np.array([[1.0, 2.0], [1e300, 0.0]]))
    write(tmp_path / "big.vocab.txt", "a\nb\n")
    with pytest.raises(DataError, match="row 2 \\(word 'b'\\) .* beyond"):
        load_vectors(tmp_path / "big.npy")


def test_npy_save_refuses_a_first_word_the_vocabulary_would_change(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="starts with U\\+FEFF"):
        save_vectors(WordVectors(["\ufeffa", "b"], np.ones((2, 2), dtype=np.float32)), tmp_path / "v.npy")
    assert list(tmp_path.iterdir()) == []


def test_npy_save_failing_late_keeps_matrix_and_vocabulary_together(tmp_path: Path, monkeypatch) -> None:
    save_vectors(WordVectors(["cat", "dog"], np.eye(2, dtype=np.float32)), tmp_path / "v.npy")
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the disk fills up while the matrix is flushed, after the vocabulary
        if os.readlink(f"/proc/self/fd/{fd}").endswith(f".npy.{os.getpid()}.tmp"):
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="No space"):
        save_vectors(WordVectors(["dog", "cat"], np.eye(2, dtype=np.float32)), tmp_path / "v.npy")
    monkeypatch.undo()
    loaded = load_vectors(tmp_path / "v.npy")
    assert loaded.words == ["cat", "dog"] and loaded.vectors.tolist() == [[1, 0], [0, 1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy", "v.vocab.txt"]


def test_row_without_values_is_named_when_dim_is_1(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"one\.vec:3: expected 1 values after the word, got 0"):
        load_vectors(write(tmp_path / "one.vec", "3 1\na 0.5\nb\nc 0.25\n"))


def test_word2vec_binary_rows_ending_in_newlines_read_as_gensim_reads_them(tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    rows = {"ab": [0.5, -1.0], "cé": [2.0, 3.25]}  # word2vec's C tool ends each row with a newline
    data = b"2 2\n" + b"".join(
        w.encode() + b" " + np.array(v, "<f4").tobytes() + b"\n" for w, v in rows.items()
    )
    loaded = load_vectors(write(tmp_path / "c.bin", data))
    reference = KeyedVectors.load_word2vec_format(str(tmp_path / "c.bin"), binary=True)
    assert loaded.words == list(reference.index_to_key) == list(rows)
    np.testing.assert_array_equal(loaded.vectors, reference.vectors)


def test_a_headerless_file_whose_first_word_holds_a_space(tmp_path):
    """The width of a header-less (GloVe-style) file is its first row's trailing values: "a b 1 2" is the
    word "a b" in 2 dimensions, as it is after a header (it was read as 3 values, and line 2 blamed)."""
    from xling.vectors import load_vectors

    path = tmp_path / "spaced.vec"
    path.write_bytes(b"a b 1 2\nc 3 4\n")
    vectors = load_vectors(path)
    assert vectors.words == ["a b", "c"] and vectors.vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("name", ["lone.vec", "lone.npy"])
def test_a_word_utf8_cannot_write_is_named_before_any_file_is_written(tmp_path, name):
    vectors = WordVectors(["ok", "bad\ud800"], np.ones((2, 2), dtype=np.float32), "mine")
    with pytest.raises(DataError, match=r"mine: word 2 \('bad.*'\) holds a lone surrogate"):
        save_vectors(vectors, tmp_path / name)
    assert not list(tmp_path.iterdir())


# --- words that are not UTF-8 (official fastText files hold some: cc.ko.300, wiki-news-300d-1M-subword) ---


def _cut_utf8_files(tmp_path: Path) -> list[Path]:
    """Return a .vec, a word2vec .bin and a .npy whose 2nd and 4th words are cut multi-byte sequences."""
    words = [b"\xec\x95\x88", b"\xed\x95", b"foo", b"bar\xff"]  # "안", a cut "하", foo, a stray byte
    rows = np.arange(8, dtype=np.float32).reshape(4, 2)
    text = b"4 2\n" + b"".join(w + b" %g %g\n" % tuple(v) for w, v in zip(words, rows, strict=True))
    binary = b"4 2\n" + b"".join(
        w + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in zip(words, rows, strict=True)
    )
    np.save(tmp_path / "v.npy", rows)
    write(tmp_path / "v.vocab.txt", b"\n".join(words) + b"\n")
    return [write(tmp_path / "v.vec", text), write(tmp_path / "v.bin", binary), tmp_path / "v.npy"]


def test_a_word_that_is_not_utf8_is_refused_naming_the_way_through(tmp_path: Path) -> None:
    vec, binary, npy = _cut_utf8_files(tmp_path)
    hint = r"--unicode-errors skip, or .* --unicode-errors replace"
    with pytest.raises(DataError, match=rf"v\.vec:3: invalid UTF-8 byte 0xed at byte offset 0 .*{hint}"):
        load_vectors(vec)
    with pytest.raises(DataError, match=rf"v\.bin: row 2 of 4: the word is not UTF-8 .*{hint}"):
        load_vectors(binary)
    with pytest.raises(DataError, match=rf"v\.vocab\.txt:2: invalid UTF-8 byte 0xed .*{hint}"):
        load_vectors(npy)
    with pytest.raises(ConfigError, match="unicode_errors: 'ignore' must be one of strict, skip, replace"):
        load_vectors(vec, unicode_errors="ignore")


@pytest.mark.parametrize(
    ("name", "first"), [("v.vec", "on line 3"), ("v.bin", "at row 2"), ("v.npy", "on line 2")]
)
def test_unicode_errors_skip_drops_such_rows_with_one_warning(tmp_path: Path, name: str, first: str) -> None:
    _cut_utf8_files(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_vectors(tmp_path / name, unicode_errors="skip")
    assert [str(w.message) for w in caught] == [
        f"{tmp_path / name.replace('.npy', '.vocab.txt')}: dropped 2 row(s) whose word is not UTF-8 "
        f"(first: b'\\xed\\x95' {first}), as unicode_errors='skip' asks"
    ]
    assert loaded.words == ["안", "foo"]
    assert loaded.vectors.tolist() == [[0, 1], [4, 5]]
    with pytest.warns(UserWarning, match=r"dropped [12] row"):  # a dropped row is no word of max_words
        assert load_vectors(tmp_path / name, max_words=2, unicode_errors="skip").words == ["안", "foo"]


@pytest.mark.parametrize("name", ["v.vec", "v.bin", "v.npy"])
def test_unicode_errors_replace_keeps_the_row_and_a_word_it_repeats_is_dropped(tmp_path: Path, name) -> None:
    _cut_utf8_files(tmp_path)
    loaded = load_vectors(tmp_path / name, unicode_errors="replace")
    assert loaded.words == ["안", "\ufffd", "foo", "bar\ufffd"]
    assert loaded.vectors.tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    # "a\xff" and "a\xfe" are both "a\ufffd" once replaced: the second is a repeat, dropped as any is
    write(tmp_path / "two.vec", b"3 2\na\xff 1 2\nb 3 4\na\xfe 5 6\n")
    with pytest.warns(UserWarning, match="dropped 1 repeated word\\(s\\) \\(first: 'a\ufffd' on line 4\\)"):
        loaded = load_vectors(tmp_path / "two.vec", unicode_errors="replace")
    assert loaded.words == ["a\ufffd", "b"] and loaded.vectors.tolist() == [[1, 2], [3, 4]]


def test_unicode_errors_in_glove_words_with_spaces_and_in_values(tmp_path: Path) -> None:
    path = write(tmp_path / "g.txt", b"the 1 2\nat \xffx 3 4\nof 5 6\n")  # the second part of a spaced word
    with pytest.warns(UserWarning, match=r"dropped 1 row\(s\) .* on line 2"):
        assert load_vectors(path, unicode_errors="skip").words == ["the", "of"]
    assert load_vectors(path, unicode_errors="replace").words == ["the", "at \ufffdx", "of"]
    bad_value = write(tmp_path / "v.vec", b"2 2\na 1 2\nb 1 \xe92\n")  # a damaged value is no word to skip
    with pytest.raises(DataError, match="v\\.vec:3: value 2 '\ufffd2' is not a number"):
        load_vectors(bad_value, unicode_errors="skip")


def test_unicode_errors_default_and_convert(tmp_path: Path) -> None:
    vec, _, _ = _cut_utf8_files(tmp_path)
    with pytest.raises(DataError, match="invalid UTF-8"):  # strict unless told
        load_vectors(vec)
    with pytest.raises(ConfigError, match="unicode_errors"):
        load_vectors(vec, unicode_errors="bogus")
    converted = convert_vectors(vec, tmp_path / "out.npy", unicode_errors="replace")
    assert load_vectors(tmp_path / "out.npy").words == converted.words == ["안", "\ufffd", "foo", "bar\ufffd"]


@pytest.mark.parametrize(
    "content",
    [b"foo 1 2 x\nbar 1 2 3\n", b"2 3 x\nfoo 1 2 3\n", b"foo bar baz\nqux 1 2\n", b"a b 1\nc 2\n"],
)
def test_a_first_line_neither_header_nor_row_is_named_at_line_1(tmp_path: Path, content: bytes) -> None:
    """A first row whose last field is no number (or with one value only) is no header-less file's first
    row: it was read as a row of 0 (or 1) values, and line 2 blamed for its width."""
    with pytest.raises(DataError, match=r"g\.txt:1: damaged header or first row .*: expected 'N dim'"):
        load_vectors(write(tmp_path / "g.txt", content))
