"""Dictionary files, coverage accounting, seed pairs and dictionary induction."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from xling.alignment.words.dictionary import (
    identical_strings,
    induce_dictionary,
    numeral_pairs,
    read_dictionary,
)
from xling.errors import ConfigError, DataError

SRC = {"the": 0, "house": 1, "cat": 2, "The": 3, "dog": 4}
TGT = {"das": 0, "Haus": 1, "Katze": 2, "Hund": 3, "der": 4}


def write(tmp_path, text: str | bytes, name: str = "dict.tsv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_pairs_and_coverage(tmp_path):
    path = write(
        tmp_path,
        "\ufeffthe\tdas\nthe\tder\nhouse\tHaus\n\ncat\tKatze\ncat\tKatze\nbird\tVogel\nhouse\tGebäude\n"
        "dog\tHund\nfish\tHund\r\n",
    )
    dictionary = read_dictionary(path, SRC, TGT)
    np.testing.assert_array_equal(dictionary.pairs, [[0, 0], [0, 4], [1, 1], [2, 2], [4, 3]])
    coverage = dictionary.coverage.to_dict()
    assert coverage == {
        "lines": 8,  # distinct pairs; the repeated cat line counts once
        "pairs_covered": 5,
        "src_words": 6,  # the, house, cat, bird, dog, fish
        "src_words_covered": 4,
        "oov_src_pairs": 2,  # bird, fish
        "oov_tgt_pairs": 2,  # Vogel, Gebäude
        "oov_both_pairs": 1,  # bird-Vogel
        "duplicate_lines": 1,
        "fraction": 0.625,
    }


def test_space_separated_lines_as_in_muse_files(tmp_path):
    dictionary = read_dictionary(write(tmp_path, "the das\nhouse  Haus\n"), SRC, TGT)
    np.testing.assert_array_equal(dictionary.pairs, [[0, 0], [1, 1]])


def test_lowercase_looks_up_the_most_frequent_spelling(tmp_path):
    dictionary = read_dictionary(write(tmp_path, "THE\tDas\nHouse\thaus\n"), SRC, TGT, lowercase=True)
    np.testing.assert_array_equal(dictionary.pairs, [[0, 0], [1, 1]])  # "the" is row 0, "The" row 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("the\tdas\nhouse\n", 2),
        ("the\tdas\tder\n", 1),
        ("the\tdas\n\nhouse\t\n", 3),
        ("\tdas\n", 1),
        ("a b c\n", 1),
    ],
)
def test_bad_lines_name_path_and_line(tmp_path, text, line):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match="two words") as error:
        read_dictionary(path, SRC, TGT)
    assert str(error.value).startswith(f"{path}:{line}: ")
    assert error.value.line == line


def test_unreadable_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="not valid UTF-8") as error:
        read_dictionary(write(tmp_path, b"the\tdas\nh\xffuse\tHaus\n"), SRC, TGT)
    assert error.value.line == 2
    with pytest.raises(DataError, match="no word pairs"):
        read_dictionary(write(tmp_path, "\n\n"), SRC, TGT)
    with pytest.raises(DataError, match="no such dictionary file"):
        read_dictionary(tmp_path / "missing.tsv", SRC, TGT)


def test_gzip_dictionaries_are_read_and_keep_line_numbers(tmp_path):
    # as vectors files: a .gz dictionary was refused as "not valid UTF-8"
    path = write(tmp_path, gzip.compress(b"the\tdas\nhouse\tHaus\n"), "dict.tsv.gz")
    assert read_dictionary(path, SRC, TGT).pairs.tolist() == [[0, 0], [1, 1]]
    bad = write(tmp_path, gzip.compress(b"the\tdas\n\nhouse\n"), "bad.tsv.gz")
    with pytest.raises(DataError, match="two words") as error:
        read_dictionary(bad, SRC, TGT)
    assert str(error.value).startswith(f"{bad}:3: ")
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_dictionary(write(tmp_path, "the\tdas\n", "plain.tsv.gz"), SRC, TGT)
    with pytest.raises(DataError, match="truncated"):
        read_dictionary(write(tmp_path, gzip.compress(b"the\tdas\n" * 50)[:-12], "cut.tsv.gz"), SRC, TGT)


def test_nothing_covered_is_not_an_error_here(tmp_path):
    dictionary = read_dictionary(write(tmp_path, "bird\tVogel\n"), SRC, TGT)
    assert dictionary.pairs.shape == (0, 2)
    assert dictionary.coverage.fraction == 0.0


def test_identical_strings_and_numerals():
    src = ["the", "1984", "paris", "7", "berlin", "7"]
    tgt = ["der", "berlin", "7", "1984", "paris", "x1"]
    np.testing.assert_array_equal(identical_strings(src, tgt), [[1, 3], [2, 4], [3, 2], [4, 1]])
    np.testing.assert_array_equal(identical_strings(src, tgt, max_rank=4), [[1, 3], [3, 2]])
    np.testing.assert_array_equal(numeral_pairs(src, tgt), [[1, 3], [3, 2]])
    assert identical_strings(["a"], ["b"]).shape == (0, 2)


def brute_best(src: np.ndarray, tgt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    sims = src @ tgt.T
    csls = 2 * sims - np.sort(sims, 1)[:, -k:].mean(1)[:, None] - np.sort(sims, 0)[-k:].mean(0)[None, :]
    return csls.argmax(1), csls.argmax(0)


def assert_modes(src, tgt, s2t: set, t2s: set, **options) -> None:
    """Check induce_dictionary's four modes (k=5) against the brute-force S2T and T2S candidate sets."""
    found = {}
    for mode in ("s2t", "t2s", "mutual", "union"):
        pairs = induce_dictionary(src, tgt, k=5, mode=mode, chunk_size=7, **options)
        assert pairs.dtype == np.int64 and (np.diff(pairs[:, 0]) >= 0).all()
        found[mode] = {(int(i), int(j)) for i, j in pairs}
    assert found == {"s2t": s2t, "t2s": t2s, "mutual": s2t & t2s, "union": s2t | t2s}


def test_induction_modes_against_brute_force():
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal((60, 16)), rng.standard_normal((50, 16))
    src_unit = src / np.linalg.norm(src, axis=1, keepdims=True)
    tgt_unit = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    forward, backward = brute_best(src_unit[:40], tgt_unit[:40], 5)
    s2t = {(i, int(j)) for i, j in enumerate(forward)}
    t2s = {(int(i), j) for j, i in enumerate(backward)}

    assert_modes(src, tgt, s2t, t2s, max_rank=40)
    with pytest.raises(ConfigError, match="mode"):
        induce_dictionary(src, tgt, mode="S2T&T2S")


def test_induction_finds_a_permutation():
    rng = np.random.default_rng(4)
    src = rng.standard_normal((300, 32)).astype(np.float32)
    order = rng.permutation(300)
    pairs = induce_dictionary(src, src[order], max_rank=0)
    np.testing.assert_array_equal(order[pairs[:, 1]], pairs[:, 0])
    assert len(pairs) == 300


def brute_muse(src: np.ndarray, tgt: np.ndarray, k: int, rank: int) -> tuple[set, set]:
    """Return MUSE's S2T and T2S candidates with dico_max_rank `rank`, from the full CSLS matrix: the first
    `rank` rows of a side search ALL rows of the other, r terms over all rows, rows > rank dropped."""
    a = src / np.linalg.norm(src, axis=1, keepdims=True)
    b = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    sims = a @ b.T
    csls = 2 * sims - np.sort(sims, 1)[:, -k:].mean(1)[:, None] - np.sort(sims, 0)[-k:].mean(0)[None, :]
    s2t = {(i, int(csls[i].argmax())) for i in range(min(rank, len(a)))}
    t2s = {(int(csls[:, j].argmax()), j) for j in range(min(rank, len(b)))}
    return {p for p in s2t if p[1] <= rank}, {p for p in t2s if p[0] <= rank}


def test_muse_rank_mode_against_brute_force():
    rng = np.random.default_rng(6)
    src, tgt = rng.standard_normal((70, 16)), rng.standard_normal((90, 16))
    s2t, t2s = brute_muse(src, tgt, 5, 30)

    assert_modes(src, tgt, s2t, t2s, max_rank=30, rank_mode="muse")
    # the cutoff differs here: it pairs the first 30 rows among themselves only
    assert {(int(i), int(j)) for i, j in induce_dictionary(src, tgt, k=5, max_rank=30)} != s2t & t2s
    with pytest.raises(ConfigError, match="rank_mode"):
        induce_dictionary(src, tgt, rank_mode="MUSE")


def test_muse_rank_mode_drops_a_word_whose_best_match_ranks_beyond_max_rank():
    """Source 0's best target is row 3, beyond max_rank 2: MUSE drops it, the cutoff pairs it within rank."""
    tgt = np.eye(4, dtype=np.float32)
    src = np.array([[0.1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    muse = induce_dictionary(src, tgt, method="nn", max_rank=2, mode="s2t", rank_mode="muse")
    cutoff = induce_dictionary(src, tgt, method="nn", max_rank=2, mode="s2t")
    np.testing.assert_array_equal(muse, [[1, 1]])
    np.testing.assert_array_equal(cutoff, [[0, 0], [1, 1]])
    np.testing.assert_array_equal(induce_dictionary(src, tgt, method="nn", max_rank=0, rank_mode="muse"),
                                  induce_dictionary(src, tgt, method="nn", max_rank=0))  # fmt: skip
