"""Checks that refuse bad vectors and bad output paths before any work: non-finite .npy rows, odd text
files, and `convert` / `train` outputs that would destroy an input or replace a file unasked."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xling.cli.main import app
from xling.errors import ConfigError, DataError
from xling.vectors import VectorsTrainConfig, WordVectors, convert_vectors, load_vectors, save_vectors


def small_vectors(n: int = 30, dim: int = 20) -> WordVectors:
    """Return `n` random 20-d vectors for the words w0, w1, ..."""
    rng = np.random.default_rng(0)
    return WordVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_npy_row_is_refused_naming_the_file_and_word(tmp_path: Path, bad: float) -> None:
    vectors = small_vectors()
    vectors.vectors[17, 3] = bad
    save_vectors(vectors, tmp_path / "v.npy")
    with pytest.raises(DataError, match=r"v\.npy: row 18 \(word 'w17'\) holds a value that is not a finite"):
        load_vectors(tmp_path / "v.npy")
    assert load_vectors(tmp_path / "v.npy", max_words=17).words[-1] == "w16"  # the bad row is not read


def test_a_non_finite_npy_row_after_a_repeated_word_is_named_by_its_file_row(tmp_path: Path) -> None:
    matrix = np.ones((4, 20), dtype=np.float32)
    matrix[3, 0] = np.nan
    np.save(tmp_path / "v.npy", matrix)
    (tmp_path / "v.vocab.txt").write_text("a\nb\na\nc\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="repeated"), pytest.raises(DataError, match=r"row 4 \(word 'c'\)"):
        load_vectors(tmp_path / "v.npy")


def test_a_gz_name_on_plain_text_says_so_not_line_0(tmp_path: Path) -> None:
    path = tmp_path / "v.vec.gz"
    path.write_text("1 2\na 1 2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"v\.vec\.gz: the name ends in \.gz but the file is not gzip") as err:
        load_vectors(path)
    assert ":0:" not in str(err.value)
    with gzip.open(path, "wt", encoding="utf-8") as handle:  # the real thing still reads
        handle.write("1 2\na 1 2\n")
    assert load_vectors(path).words == ["a"]


def test_tab_separated_rows_are_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "v.vec"
    path.write_text("2 3\na 1 2 3\nb\t1\t2\t3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"v\.vec:3: the row holds tabs; .* by spaces, not tabs"):
        load_vectors(path)


# --- convert ---------------------------------------------------------------------------------------------


def test_convert_refuses_an_existing_target_unless_overwrite(tmp_path: Path) -> None:
    save_vectors(small_vectors(), tmp_path / "src.vec")
    other = tmp_path / "tgt.vec"
    other.write_text("precious\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"tgt\.vec: .*tgt\.vec already exists; pass overwrite"):
        convert_vectors(tmp_path / "src.vec", other)
    assert other.read_text(encoding="utf-8") == "precious\n"
    convert_vectors(tmp_path / "src.vec", other, overwrite=True)
    assert load_vectors(other).words == small_vectors().words


def test_convert_refuses_an_existing_npy_vocabulary_too(tmp_path: Path) -> None:
    save_vectors(small_vectors(), tmp_path / "src.vec")
    (tmp_path / "out.vocab.txt").write_text("mine\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"out\.vocab\.txt already exists"):
        convert_vectors(tmp_path / "src.vec", tmp_path / "out.npy")


@pytest.mark.parametrize("target", ["src.vec", "./sub/../src.vec"])
def test_convert_never_writes_over_its_source(tmp_path: Path, target: str) -> None:
    save_vectors(small_vectors(), tmp_path / "src.vec")
    (tmp_path / "sub").mkdir()
    before = (tmp_path / "src.vec").read_bytes()
    with pytest.raises(DataError, match="is also an input"):
        convert_vectors(tmp_path / "src.vec", tmp_path / target, overwrite=True)
    assert (tmp_path / "src.vec").read_bytes() == before


def test_convert_never_writes_over_the_vocabulary_of_an_npy_source(tmp_path: Path) -> None:
    save_vectors(small_vectors(), tmp_path / "src.npy")
    with pytest.raises(DataError, match="is also an input"):
        convert_vectors(tmp_path / "src.npy", tmp_path / "src.vocab.txt", overwrite=True)
    assert load_vectors(tmp_path / "src.npy").words == small_vectors().words


def test_convert_command_has_overwrite(tmp_path: Path) -> None:
    runner = CliRunner()
    save_vectors(small_vectors(), tmp_path / "a.vec")
    save_vectors(small_vectors(5), tmp_path / "b.vec")
    args = ["vectors", "convert", str(tmp_path / "a.vec"), str(tmp_path / "b.vec")]
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0 and "already exists" in str(refused.exception or refused.output)
    assert len(load_vectors(tmp_path / "b.vec")) == 5
    done = runner.invoke(app, [*args, "--overwrite"])
    assert done.exit_code == 0, done.output
    assert len(load_vectors(tmp_path / "b.vec")) == 30


# --- train -----------------------------------------------------------------------------------------------


def train_config(corpus: Path, output: Path, **fields) -> VectorsTrainConfig:
    return VectorsTrainConfig(corpus=str(corpus), output=str(output), dim=20, min_count=1, **fields)


def test_train_refuses_the_corpus_as_output_even_with_overwrite(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n", encoding="utf-8")
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"output: .*corpus\.txt: is also an input"):
            train_config(corpus, tmp_path / "." / "corpus.txt", overwrite=overwrite).validate()
    assert corpus.read_text(encoding="utf-8") == "a b c\n"


def test_train_refuses_an_existing_output_file_unless_overwrite_and_a_folder_always(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a b c\n", encoding="utf-8")
    (tmp_path / "old.vec").write_text("1 1\nx 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"output: .*old\.vec already exists; pass overwrite"):
        train_config(corpus, tmp_path / "old.vec").validate()
    train_config(corpus, tmp_path / "old.vec", overwrite=True).validate()
    (tmp_path / "folder.vec").mkdir()
    with pytest.raises(ConfigError, match=r"output: .*folder\.vec: is a folder"):
        train_config(corpus, tmp_path / "folder.vec", overwrite=True).validate()
