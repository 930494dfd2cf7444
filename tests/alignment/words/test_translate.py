"""Word translation by retrieval: the one look-up behind `xling vectors translate` and the quickstart."""

from __future__ import annotations

import numpy as np
import pytest

from xling.alignment.words.mapping import WordMapping
from xling.alignment.words.translate import WordTranslateConfig, translate_words, translate_words_from_files
from xling.config import load_config
from xling.errors import ConfigError, XlingError
from xling.vectors import WordVectors, save_vectors


@pytest.fixture
def rotated():
    """Source words w0..w49 and target words t0..t49 whose vectors are the source's rotated."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 16)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((16, 16)))
    src = WordVectors([f"w{i}" for i in range(50)], x, "src.vec")
    tgt = WordVectors([f"t{i}" for i in range(50)], x @ rotation.astype(np.float32), "tgt.vec")
    return src, tgt, WordMapping(rotation, np.eye(16), [], "oracle")


def test_translates_through_the_mapping_best_first(rotated):
    src, tgt, mapping = rotated
    found = translate_words(["w3", "w40"], src, tgt, mapping, WordTranslateConfig(top=2))
    assert list(found) == ["w3", "w40"] and [t for t, _ in found["w3"]][0] == "t3"
    assert found["w40"][0][0] == "t40" and found["w40"][0][1] >= found["w40"][1][1]
    unmapped = translate_words(["w3"], src, tgt, None, WordTranslateConfig(retrieval="nn", top=50))
    assert len(unmapped["w3"]) == 50  # without a mapping the spaces are taken as shared


def test_rows_of_any_length_are_ranked_by_cosine_as_bli_ranks_them(rotated):
    """Raw dot products made long target rows hubs: vectors translate and eval bli disagreed on one mapping."""
    src, tgt, mapping = rotated
    lengths = np.random.default_rng(1).uniform(0.5, 3.0, (50, 1)).astype(np.float32)
    long_rows = WordVectors(tgt.words, tgt.vectors * lengths, "tgt.vec")
    words = [f"w{i}" for i in range(50)]
    for retrieval in ("nn", "csls"):
        found = translate_words(
            words, src, long_rows, mapping, WordTranslateConfig(retrieval=retrieval, top=1)
        )
        assert [found[w][0][0] for w in words] == [f"t{i}" for i in range(50)]
    assert translate_words(["w3"], src, long_rows, mapping, WordTranslateConfig(retrieval="nn"))["w3"][0][
        1
    ] == pytest.approx(1.0, abs=1e-5)  # a cosine


def test_words_are_looked_up_lowercased_in_a_lowercased_vocabulary(rotated):
    """Vectors trained lowercased (vectors train's default) hold "god": "God" is looked up as a dictionary is."""
    src, tgt, mapping = rotated
    assert [t for t, _ in translate_words(["W3"], src, tgt, mapping)["w3"]][0] == "t3"


def test_unknown_words_are_named_or_skipped(rotated):
    src, tgt, mapping = rotated
    with pytest.raises(XlingError, match=r"not in the source vocabulary \(src.vec\): nope, nix"):
        translate_words(["w1", "nope", "nix"], src, tgt, mapping)
    skipped = translate_words(["nope", "w1"], src, tgt, mapping, WordTranslateConfig(unknown="skip"))
    assert list(skipped) == ["w1"]


def test_config_defaults_and_errors():
    config = load_config(WordTranslateConfig, retrieval=None, top=None, max_vocab=None)
    assert (config.retrieval, config.top, config.max_vocab) == ("csls", 5, 200000)
    with pytest.raises(ConfigError, match="retrieval"):
        load_config(WordTranslateConfig, retrieval="cosine")
    with pytest.raises(ConfigError, match="top"):
        load_config(WordTranslateConfig, top=0)


def test_from_files_loads_at_most_max_vocab_words(tmp_path, rotated):
    src, tgt, mapping = rotated
    save_vectors(src, tmp_path / "src.vec")
    save_vectors(tgt, tmp_path / "tgt.vec")
    mapping.save(tmp_path / "map")
    found = translate_words_from_files(["w2"], tmp_path / "src.vec", tmp_path / "tgt.vec", tmp_path / "map",
                                       WordTranslateConfig(top=1, max_vocab=10))  # fmt: skip
    assert found == {"w2": [("t2", pytest.approx(found["w2"][0][1]))]}
    with pytest.raises(XlingError, match="w20"):  # beyond the 10 words loaded
        translate_words_from_files(["w20"], tmp_path / "src.vec", tmp_path / "tgt.vec", tmp_path / "map",
                                   WordTranslateConfig(max_vocab=10))  # fmt: skip


def test_a_dimension_mismatch_names_the_vectors_file_and_the_mapping_folder(tmp_path, rotated):
    src, tgt, mapping = rotated
    mapping.save(tmp_path / "map")
    narrow = WordVectors(src.words, src.vectors[:, :8], "src8.vec")
    with pytest.raises(XlingError, match="16-dimensional") as error:
        translate_words(["w1"], narrow, tgt, WordMapping.load(tmp_path / "map"))
    assert "src8.vec" in str(error.value) and str(tmp_path / "map") in str(error.value)
    save_vectors(narrow, tmp_path / "src8.vec")
    save_vectors(tgt, tmp_path / "tgt.vec")
    with pytest.raises(XlingError, match="16-dimensional") as error:
        translate_words_from_files(["w1"], tmp_path / "src8.vec", tmp_path / "tgt.vec", tmp_path / "map")
    assert str(tmp_path / "src8.vec") in str(error.value) and str(tmp_path / "map") in str(error.value)
