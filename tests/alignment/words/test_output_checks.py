"""`align words` output folders (checked before any vectors are read, replaced whole), mapping folders given
as files, and NaN scores in pruned CSLS (an error, not an endless loop)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from xling.alignment.words import align as align_module
from xling.alignment.words.align import WordAlignConfig, align_word_vector_files
from xling.alignment.words.csls import _csls_topk_pruned, unit_rows
from xling.alignment.words.mapping import WordMapping
from xling.errors import DataError, XlingError
from xling.vectors import WordVectors, load_vectors, save_vectors

CONFIG = {"method": "identical", "refinements": 0, "criterion": False}


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """Return (src.vec, tgt.npy): 200 words of 20 dimensions, the target a rotation of the source."""
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    src = rng.standard_normal((200, 20)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((20, 20)))
    save_vectors(WordVectors(words, src), tmp_path / "src.vec")
    save_vectors(WordVectors(words, src @ rotation.astype(np.float32)), tmp_path / "tgt.npy")
    return tmp_path / "src.vec", tmp_path / "tgt.npy"


def run(pair: tuple[Path, Path], output: Path, **options):
    return align_word_vector_files(*pair, output, WordAlignConfig(**CONFIG), **options)


@pytest.fixture
def no_loading(monkeypatch):
    """Make reading vectors fail: a check that passes this ran before any vectors were read."""

    def refuse(*args, **kwargs):
        raise AssertionError("vectors were read before the output was checked")

    import xling.vectors

    monkeypatch.setattr(xling.vectors, "load_vectors", refuse)


def test_an_input_file_as_output_is_refused_before_reading(pair, no_loading) -> None:
    before = pair[0].read_bytes()
    with pytest.raises(XlingError, match=r"output: .*src\.vec is the input .*src\.vec; "):
        run(pair, pair[0], overwrite=True)
    assert pair[0].read_bytes() == before


def test_a_folder_of_other_files_is_never_written_into(pair, tmp_path: Path, no_loading) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(
        XlingError, match="holds files that are not a word mapping; choose another output folder"
    ):
        run(pair, folder)
    with pytest.raises(XlingError, match="files that are not a word mapping"):
        run(pair, folder, overwrite=True)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_a_mapping_is_replaced_only_with_overwrite_and_whole(pair, tmp_path: Path) -> None:
    folder = tmp_path / "map"
    first = run(pair, folder, write_mapped=True)
    assert first.mapped["src"] == folder / "src.mapped.vec" and first.mapped["src"].is_file()
    assert json.loads((folder / "xling.json").read_text(encoding="utf-8"))["kind"] == "word-mapping"
    with pytest.raises(XlingError, match="a word mapping is already there; pass overwrite"):
        run(pair, folder)
    run(pair, folder, overwrite=True)
    # the earlier run's mapped vectors do not stay beside the new mapping, nor any staging folder
    assert sorted(p.name for p in folder.iterdir()) == ["mapping.json", "mapping.safetensors", "xling.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map", "src.vec", "tgt.npy", "tgt.vocab.txt"]
    assert WordMapping.load(folder).method == "identical"


def test_a_mapping_saved_before_xling_json_is_replaced_with_overwrite(pair, tmp_path: Path) -> None:
    folder = tmp_path / "map"
    run(pair, folder)
    (folder / "xling.json").unlink()
    run(pair, folder, overwrite=True)
    assert (folder / "xling.json").is_file()


def test_words_the_vec_format_cannot_hold_are_refused_before_aligning(pair, tmp_path, monkeypatch) -> None:
    vectors = load_vectors(pair[1])
    save_vectors(WordVectors(["new york", *vectors.words[1:]], vectors.vectors), tmp_path / "spaced.npy")
    monkeypatch.setattr(align_module, "align_words", lambda *a, **k: pytest.fail("aligned before the check"))
    with pytest.raises(DataError, match="'new york' contains whitespace"):
        align_word_vector_files(pair[0], tmp_path / "spaced.npy", tmp_path / "map", WordAlignConfig(**CONFIG),
                                write_mapped=True)  # fmt: skip
    assert not (tmp_path / "map").exists()


def test_a_mapping_path_that_is_a_file_is_a_data_error(tmp_path: Path) -> None:
    (tmp_path / "map.vec").write_text("1 1\na 1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"map\.vec: a file, not a word mapping folder"):
        WordMapping.load(tmp_path / "map.vec")


def test_pruned_csls_raises_on_nan_scores_instead_of_looping() -> None:
    rng = np.random.default_rng(1)
    x, z = unit_rows(rng.standard_normal((300, 20))), unit_rows(rng.standard_normal((300, 20)))
    z[5] = torch.nan

    def stuck(*_):
        raise TimeoutError("pruned CSLS did not return")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    try:
        with pytest.raises(DataError, match="CSLS scores are NaN"):
            _csls_topk_pruned(x, z, np.arange(10), 5)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_the_align_words_command_takes_overwrite(pair, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xling.cli.main import app

    args = ["align", "words", "--src", str(pair[0]), "--tgt", str(pair[1]), "--output", str(tmp_path / "map"),
            "--method", "identical", "--set", "refinements=0"]  # fmt: skip
    assert CliRunner().invoke(app, args).exit_code == 0
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code != 0 and "pass overwrite" in str(refused.exception)
    done = CliRunner().invoke(app, [*args, "--overwrite"])
    assert done.exit_code == 0, done.output


def test_an_output_folder_holding_an_input_is_refused_before_anything_is_deleted(pair, tmp_path, no_loading):
    from xling.errors import ConfigError

    with pytest.raises(ConfigError, match="contains the input"):  # the folder is replaced whole at the end
        run(pair, tmp_path, overwrite=True)
    assert pair[0].is_file() and pair[1].is_file()


def test_a_seed_dictionary_inside_the_output_folder_is_refused_before_anything_is_deleted(
    pair, tmp_path, no_loading
):
    from xling.errors import ConfigError

    output = tmp_path / "map"
    output.mkdir()
    seed = output / "seed.train.tsv"
    seed.write_text("".join(f"w{i}\tw{i}\n" for i in range(50)), encoding="utf-8")
    config = WordAlignConfig(method="procrustes", dictionary=str(seed), refinements=0, criterion=False)
    with pytest.raises(ConfigError, match="the seed dictionary"):
        align_word_vector_files(*pair, output, config, overwrite=True)
    assert seed.is_file()


def test_sentence_alignment_refuses_a_test_dictionary_as_extra_pairs():
    from xling.alignment.sentences.align import AlignConfig
    from xling.errors import ConfigError

    with pytest.raises(ConfigError, match="test set"):
        AlignConfig(pairs=["eng-deu=bli_xling_eval/en-de/yacle.test.freq.2k.en-de.tsv"]).validate()
