"""BLI against what its mapping was trained on: the seed dictionary (never the test set) and the vectors
files (never others, never swapped), as the mapping's info records them; mappings saved before that record
existed still evaluate."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from xling.alignment.words.align import WordAlignConfig, align_word_vector_files
from xling.alignment.words.mapping import META_FILE, WordMapping
from xling.alignment.words.provenance import seed_overlap
from xling.alignment.words.translate import translate_words
from xling.errors import DataError, XlingError
from xling.evaluation.bli import BLIConfig, evaluate_bli, evaluate_bli_from_files
from xling.vectors import WordVectors, load_vectors, save_vectors

WORDS = 60


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A folder with src.vec (w0..), tgt.vec (t0.., the source rotated), train.tsv (w0-w29), test.tsv
    (w30-w59) and `map`, a procrustes mapping trained on train.tsv."""
    folder = tmp_path_factory.mktemp("bli_provenance")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((WORDS, 8)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    save_vectors(WordVectors([f"w{i}" for i in range(WORDS)], x), folder / "src.vec")
    save_vectors(
        WordVectors([f"t{i}" for i in range(WORDS)], x @ rotation.astype(np.float32)), folder / "tgt.vec"
    )
    pairs(folder / "train.tsv", range(30))
    pairs(folder / "test.tsv", range(30, WORDS))
    config = WordAlignConfig(dictionary=str(folder / "train.tsv"), refinements=0, criterion=False)
    align_word_vector_files(folder / "src.vec", folder / "tgt.vec", folder / "map", config)
    return folder


def pairs(path: Path, rows: range, *, reverse: bool = False) -> Path:
    lines = (f"t{i}\tw{i}\n" if reverse else f"w{i}\tt{i}\n" for i in rows)
    path.write_text("".join(lines), encoding="utf-8")
    return path


def bli(folder: Path, dictionary: Path, src: str = "src.vec", tgt: str = "tgt.vec", mapping: str = "map"):
    return evaluate_bli_from_files(
        folder / src, folder / tgt, folder / mapping, BLIConfig(dictionary=str(dictionary))
    )


def test_the_mapping_records_its_seed_and_vectors_files(trained):
    info = WordMapping.load(trained / "map").info
    assert info["seed"]["file"]["path"] == str((trained / "train.tsv").resolve())
    assert info["seed"]["file"]["src_words"] == sorted(f"w{i}" for i in range(30))
    size = (trained / "src.vec").stat().st_size
    first = [f"w{i}" for i in range(20)]
    assert info["src_vectors"] == {"path": str(trained / "src.vec"), "bytes": size, "first_words": first}
    assert info["tgt_vectors"]["first_words"][:2] == ["t0", "t1"]


def test_a_held_out_test_dictionary_scores_with_its_seed_overlap(trained):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither the vectors nor the dictionary are warned about
        result = bli(trained, trained / "test.tsv")
    assert result.average == 100.0 and result.settings["seed_overlap"] == 0.0


def test_the_seed_dictionary_as_the_test_set_is_refused_naming_both_files(trained, tmp_path):
    with pytest.raises(DataError, match="test dictionary is the seed dictionary") as error:
        bli(trained, trained / "train.tsv")
    assert str(trained / "train.tsv") in str(error.value) and str(trained / "map") in str(error.value)
    copy = tmp_path / "yacle.test.freq.2k.en-de.tsv"  # the same pairs under a test set's name
    shutil.copy(trained / "train.tsv", copy)
    with pytest.raises(DataError, match=rf"^{copy}: the test dictionary is the seed dictionary {trained}"):
        bli(trained, copy)
    # the path alone decides nothing: a held-out split written at the seed's path later is measured
    moved = tmp_path / "moved"
    shutil.copytree(trained, moved)
    pairs(moved / "train.tsv", range(30, WORDS))
    mapping = WordMapping.load(moved / "map")
    mapping.info["seed"]["file"]["path"] = str((moved / "train.tsv").resolve())
    assert seed_overlap(mapping, moved / "train.tsv") == 0.0


def test_a_test_set_sharing_most_seed_source_words_is_warned_about(trained, tmp_path):
    mixed = pairs(tmp_path / "mixed.tsv", range(12, 32))  # w12-w29 seeded: 18 of 20
    with pytest.warns(
        UserWarning, match=r"mixed\.tsv: 90% of the test dictionary's source words are in the seed"
    ):
        result = bli(trained, mixed)
    assert result.settings["seed_overlap"] == 0.9


def test_swapped_vectors_are_refused_and_other_vectors_warned_about(trained, tmp_path):
    reverse = pairs(tmp_path / "reverse.tsv", range(30, WORDS), reverse=True)
    with pytest.raises(XlingError, match="source and target vectors are swapped"):
        bli(trained, reverse, src="tgt.vec", tgt="src.vec")
    src, tgt = (load_vectors(trained / name) for name in ("src.vec", "tgt.vec"))
    with pytest.raises(XlingError, match="swapped"):  # word translation checks so too
        translate_words(["t3"], tgt, src, WordMapping.load(trained / "map"))
    other = WordVectors([f"v{i}" for i in range(WORDS)], tgt.vectors, str(tmp_path / "other.vec"))
    mapping = WordMapping.load(trained / "map")
    (tmp_path / "v.tsv").write_text("".join(f"w{i}\tv{i}\n" for i in range(30, 40)), encoding="utf-8")
    with pytest.warns(
        UserWarning, match=r"other\.vec: these target vectors are not those the mapping .*map was"
    ):
        evaluate_bli(src, other, mapping, BLIConfig(dictionary=str(tmp_path / "v.tsv")))


def test_a_mapping_saved_before_the_records_still_evaluates(trained, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(trained / "map", old)
    meta = json.loads((old / META_FILE).read_text(encoding="utf-8"))
    meta["info"] = {"src_words": WORDS, "tgt_words": WORDS,
                    "seed": {k: v for k, v in meta["info"]["seed"].items() if k != "file"}}  # fmt: skip
    (old / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    reverse = pairs(tmp_path / "reverse.tsv", range(30, WORDS), reverse=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # unchecked, as before: no error, no warning
        on_seed = bli(trained, trained / "train.tsv", mapping=str(old))
        swapped = bli(trained, reverse, src="tgt.vec", tgt="src.vec", mapping=str(old))
    assert on_seed.average == 100.0 and on_seed.settings["seed_overlap"] is None
    assert swapped.settings["seed_overlap"] is None
