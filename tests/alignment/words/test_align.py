"""align_words end to end (procrustes, identical strings, numerals) on a rotated real embedding, its
config's errors, normalisation chains and WordMapping files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from xling.alignment.words.align import WordAlignConfig, align_words
from xling.alignment.words.mapping import WordMapping
from xling.alignment.words.normalize import fit_normalization, normalize_embeddings, parse_normalization
from xling.errors import ConfigError, DataError
from xling.vectors.core import WordVectors

from .conftest import precision_at_1

FAST = {"max_rank": 1000, "chunk_size": 512}


@pytest.fixture(scope="module")
def languages(rotated) -> tuple[WordVectors, WordVectors]:
    """Source words s0..; target words t0.. in another order (the gold pair of s{i} is t{i})."""
    src, tgt, _ = rotated
    order = np.random.default_rng(5).permutation(len(tgt))
    src_words = [f"s{i}" for i in range(len(src))]
    tgt_words = [f"t{i}" for i in order]
    return WordVectors(src_words, src, "src.vec"), WordVectors(tgt_words, tgt[order], "tgt.vec")


def p_at_1(mapping: WordMapping, src: WordVectors, tgt: WordVectors) -> float:
    """Return P@1 of every source word, the gold target row found by name (s{i} -> t{i})."""
    mapped, target = mapping.map_source(src.vectors), mapping.map_target(tgt.vectors)
    gold = np.array([tgt.index["t" + word[1:]] for word in src.words])
    return precision_at_1(mapped, target[gold])


def test_procrustes_from_a_seed_dictionary(tmp_path, languages):
    src, tgt = languages
    path = tmp_path / "seed.tsv"
    lines = [f"s{i}\tt{i}" for i in range(0, 1500, 5)] + ["s1\tunknown", "unknown\tt1"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = align_words(
        src, tgt, WordAlignConfig(dictionary=str(path), refinements=2, **FAST), progress=False
    )
    assert p_at_1(mapping, src, tgt) >= 0.99
    assert mapping.method == "procrustes" and mapping.normalize == ["unit", "center", "unit"]
    assert mapping.info["seed"]["pairs_covered"] == 300 and mapping.info["seed"]["oov_tgt_pairs"] == 1
    assert [entry["stage"] for entry in mapping.history] == ["refinement"] * len(mapping.history)
    np.testing.assert_array_equal(mapping.tgt_transform, np.eye(256, dtype=np.float32))


def test_identical_strings(rotated):
    src, tgt, _ = rotated
    words = [f"w{i}" for i in range(len(src))]
    config = WordAlignConfig(method="identical", refinements=1, criterion=False, **FAST)
    mapping = align_words(WordVectors(words, src), WordVectors(words, tgt), config, progress=False)
    assert precision_at_1(mapping.map_source(src), mapping.map_target(tgt)) >= 0.99
    assert mapping.info["seed"] == {"from": "identical", "pairs": 1500}
    assert mapping.history[0]["criterion"] is None


def test_numerals_seed_a_small_dictionary(rotated):
    src, tgt, _ = rotated
    src_words = [str(i) if i % 30 == 0 else f"s{i}" for i in range(len(src))]  # 50 numerals in common
    tgt_words = [str(i) if i % 30 == 0 else f"t{i}" for i in range(len(tgt))]
    config = WordAlignConfig(seed_pairs="numerals", refinements=3, **FAST)
    mapping = align_words(WordVectors(src_words, src), WordVectors(tgt_words, tgt), config, progress=False)
    assert mapping.info["seed"]["pairs"] == 50
    assert precision_at_1(mapping.map_source(src), mapping.map_target(tgt)) >= 0.99


def test_max_vocab_and_missing_seeds(rotated, tmp_path):
    src, tgt, _ = rotated
    a = WordVectors([f"s{i}" for i in range(len(src))], src, "a.vec")
    b = WordVectors([f"t{i}" for i in range(len(tgt))], tgt, "b.vec")
    with pytest.raises(DataError, match="no seed pair") as error:
        align_words(a, b, WordAlignConfig(method="identical", max_vocab=100), progress=False)
    assert "100 most frequent" in str(error.value)
    path = tmp_path / "seed.tsv"
    path.write_text("s1\tt1\ns1200\tt1200\n", encoding="utf-8")
    config = WordAlignConfig(dictionary=str(path), refinements=0, max_vocab=1000)
    mapping = align_words(a, b, config, progress=False)
    assert mapping.info["src_words"] == 1000 and mapping.info["seed"]["oov_src_pairs"] == 1
    with pytest.raises(DataError, match="equal dimensions"):
        align_words(a, WordVectors(b.words, tgt[:, :100], "b.vec"), config, progress=False)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"method": "muse"}, "method"),
        ({"normalize": "unit,whiten"}, "normalize"),
        ({"induction_mode": "S2T&T2S"}, "induction_mode"),
        ({"induction_method": "isf"}, "induction_method"),
        ({"seed_pairs": "cognates"}, "seed_pairs"),
        ({"refinements": -1}, "refinements"),
        ({"csls_k": 0}, "csls_k"),
        ({"chunk_size": "big"}, "chunk_size"),
        ({"dictionary": ""}, "dictionary"),
        ({"method": "identical", "dictionary": "d.tsv"}, "method"),
        ({"method": "adversarial", "dictionary": "d.tsv"}, "method"),
        ({"criterion": "yes"}, "criterion"),
        ({"lowercase": "yes"}, "lowercase"),
        ({"max_rank_mode": "vecmap"}, "max_rank_mode"),
        ({"method": "adversarial", "dictionary": "", "adversarial": {"epochz": 1}}, "adversarial"),
        ({"method": "selflearn", "selflearn": {"csls_k": "many"}}, "selflearn"),
        ({"selflearn": [1]}, "selflearn"),
        ({"adversarial": {"bogus": 1}}, "adversarial"),  # another method's table is checked too
        ({"dictionary": "yacle.test.freq.2k.en-de.tsv"}, "dictionary"),  # a test set is never a seed
        ({"method": "selflearn", "adversarial": {"epochs": "abc"}}, "adversarial"),
        ({"restarts": 0}, "restarts"),
        ({"restarts": 2}, "restarts"),
    ],
)
def test_config_errors_name_the_field(fields, field):
    config = WordAlignConfig(**({"dictionary": "seed.tsv"} | fields))
    with pytest.raises(ConfigError, match=f"^{field}: "):
        config.validate()


def test_adversarial_restarts_keep_the_seed_with_the_best_criterion(monkeypatch, languages):
    """A failed seed (a random rotation, as on small Bible vocabularies) loses to a working one by MUSE's
    unsupervised criterion alone; every run is logged, and the first seed is the config's."""
    from xling.alignment.words import adversarial
    from xling.alignment.words.procrustes import procrustes

    from .conftest import random_rotation

    src, tgt = languages
    gold = np.array([int(word[1:]) for word in tgt.words])  # target row j translates source row gold[j]
    seen = []

    def fake_adversarial(x, z, options, *, progress):
        seen.append(options.seed)
        w = procrustes(x[gold], z) if options.seed == 4 else random_rotation(x.shape[1], options.seed)
        return w, [{"epoch": 0, "criterion": 0.0}]

    monkeypatch.setattr(adversarial, "adversarial_mapping", fake_adversarial)
    config = WordAlignConfig(method="adversarial", seed=3, restarts=3, refinements=1, **FAST)
    mapping = align_words(src, tgt, config, progress=False)
    assert seen == [3, 4, 5]
    assert p_at_1(mapping, src, tgt) >= 0.99
    selection = mapping.history[-1]
    assert selection["stage"] == "selection" and (selection["restart"], selection["seed"]) == (1, 4)
    failed, working, other = selection["criteria"]
    assert working == selection["criterion"] and working > max(failed, other) + 0.3
    assert [(e["stage"], e["seed"]) for e in mapping.history[:-1] if "epoch" in e] == [
        ("adversarial", 3),
        ("adversarial", 4),
        ("adversarial", 5),
    ]


@pytest.mark.parametrize(
    ("scores", "kept", "line"),
    [
        ([0.7714, 0.739], 0, "kept the adversarial mapping before refinement (criterion 0.7714)"),
        ([0.5, 0.9], 1, "kept refinement 1/1 (criterion 0.9000)"),
    ],
)
def test_adversarial_log_and_console_say_which_mapping_was_kept(monkeypatch, capsys, languages, scores,
                                                                kept, line):  # fmt: skip
    """The unrefined adversarial W wins when no refinement beats its criterion (MUSE's reload_best); the
    console said only the last refinement's criterion, then "adversarial mapping written"."""
    import sys

    from xling.alignment.words import adversarial
    from xling.alignment.words.procrustes import refine

    from .conftest import random_rotation

    procrustes = sys.modules[refine.__module__]  # the package exports a function of the module's name

    src, tgt = languages
    start = random_rotation(src.dim, 11)  # a poor start: its refinement is another matrix
    monkeypatch.setattr(adversarial, "adversarial_mapping", lambda x, z, options, *, progress: (start, []))
    values = iter(scores)  # the criterion of the adversarial W, then of refinement 1
    monkeypatch.setattr(procrustes, "unsupervised_criterion", lambda *args, **kwargs: next(values))
    config = WordAlignConfig(method="adversarial", refinements=1, **FAST)
    mapping = align_words(src, tgt, config, progress=True)
    rounds = [entry for entry in mapping.history if entry["stage"] == "refinement"]
    assert [(entry["iteration"], entry["criterion"]) for entry in rounds] == [(0, scores[0]), (1, scores[1])]
    assert [entry["iteration"] for entry in rounds if entry["kept"]] == [kept]
    assert np.array_equal(mapping.src_transform, start) == (kept == 0)
    assert line in capsys.readouterr().err


def test_semi_supervised_and_unsupervised_configs_need_no_dictionary():
    WordAlignConfig(seed_pairs="identical").validate()
    WordAlignConfig(method="identical").validate()


def test_lowercase_matches_identical_strings_lowercased_the_first_spelling_winning():
    """lowercase was ignored with identical strings; MUSE matches them among lowercased vocabularies."""
    from xling.alignment.words.align import _seed_pairs

    rng = np.random.default_rng(6)
    src = WordVectors(["Paris", "Haus", "haus", "7", "x"], rng.standard_normal((5, 4)), "a.vec")
    tgt = WordVectors(["haus", "paris", "Haus", "7", "y"], rng.standard_normal((5, 4)), "b.vec")
    fields = {"method": "identical", "refinements": 0, "criterion": False}
    cased = _seed_pairs(src, tgt, WordAlignConfig(**fields), {})
    assert cased.tolist() == [[1, 2], [2, 0], [3, 3]]  # Haus, haus, 7 as written
    lowered = _seed_pairs(src, tgt, WordAlignConfig(lowercase=True, **fields), {})
    assert lowered.tolist() == [[0, 1], [1, 0], [3, 3]]  # paris, haus (each side's first spelling), 7
    mapping = align_words(src, tgt, WordAlignConfig(lowercase=True, **fields), progress=False)
    assert mapping.info["seed"] == {"from": "identical", "pairs": 3}
    numerals = WordAlignConfig(seed_pairs="numerals", lowercase=True, refinements=0, criterion=False)
    assert _seed_pairs(src, tgt, numerals, {}).tolist() == [[3, 3]]  # digits have no case


def test_mapping_equality_compares_every_saved_field(tmp_path):
    """A plain dataclass's == compared the ndarray fields, whose truth value is a ValueError."""
    rng = np.random.default_rng(4)
    _, means = fit_normalization(rng.standard_normal((10, 4)), "center")
    history, info = [{"criterion": np.float32(0.25)}], {"seed": {"pairs": np.int64(3)}}
    tgt = rng.standard_normal((4, 4))
    mapping = WordMapping(np.eye(4), tgt, ["center"], "procrustes", history, means, means, info)
    mapping.save(tmp_path / "m")
    assert WordMapping.load(tmp_path / "m") == mapping  # its source folder is no part of it
    changed = [
        dataclasses.replace(mapping, src_transform=np.eye(4) * 2),
        dataclasses.replace(mapping, tgt_means=None),
        dataclasses.replace(mapping, src_means=[means[0] + 1]),
        dataclasses.replace(mapping, info={"seed": {"pairs": 4}}),
        dataclasses.replace(mapping, method="selflearn"),
    ]
    assert all(other != mapping for other in changed) and mapping != "a mapping"


def test_normalization_chains():
    assert parse_normalization("unit,center,unit") == ["unit", "center", "unit"]
    assert parse_normalization(" unit , center ") == ["unit", "center"]
    assert parse_normalization(["center", "none"]) == ["center"]
    assert parse_normalization("") == parse_normalization("none") == []
    with pytest.raises(ConfigError, match="^normalize: unknown step 'whiten'"):
        parse_normalization("unit,whiten")
    x = np.random.default_rng(0).normal(3.0, 1.0, (50, 8)).astype(np.float32)
    x[7] = 0.0
    out = normalize_embeddings(x, "unit,center,unit")
    norms = np.linalg.norm(out, axis=1)
    assert np.isfinite(out).all() and np.allclose(np.delete(norms, 7), 1.0, atol=1e-5)
    centered = normalize_embeddings(x, "center")
    assert np.allclose(centered.mean(0), 0.0, atol=1e-5)
    assert np.allclose(normalize_embeddings(x, "center,unit")[0], normalize_embeddings(centered, "unit")[0])
    np.testing.assert_array_equal(normalize_embeddings(x, ""), x)


def test_fitted_means_repeat_on_other_rows():
    x = np.random.default_rng(1).normal(1.0, 1.0, (40, 6)).astype(np.float32)
    whole, means = fit_normalization(x, "unit,center,unit")
    again, _ = fit_normalization(x[:3], "unit,center,unit", means=means)
    np.testing.assert_allclose(again, whole[:3], atol=1e-6)


def test_mapping_files_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((30, 6)).astype(np.float32)
    _, means = fit_normalization(x, "unit,center,unit")
    mapping = WordMapping(
        rng.standard_normal((6, 4)), rng.standard_normal((5, 4)), ["unit", "center", "unit"], "selflearn",
        [{"stage": "selflearn", "criterion": np.float32(0.5)}], means, None, {"seed": {"pairs": 3}},
    )  # fmt: skip
    mapping.save(tmp_path / "m")
    loaded = WordMapping.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.map_source(x[:2]), mapping.map_source(x[:2]))
    np.testing.assert_array_equal(loaded.tgt_transform, mapping.tgt_transform)
    assert loaded.tgt_means is None and loaded.method == "selflearn" and loaded.info == mapping.info
    assert loaded.history == [{"stage": "selflearn", "criterion": 0.5}]
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [
        "mapping.json",
        "mapping.safetensors",
        "xling.json",
    ]
    with pytest.raises(DataError, match="6-dimensional"):
        mapping.map_source(x[:, :5])
    with pytest.raises(DataError, match="missing"):
        WordMapping.load(tmp_path)
    meta = json.loads((tmp_path / "m" / "mapping.json").read_text())
    (tmp_path / "m" / "mapping.json").write_text(
        json.dumps({k: v for k, v in meta.items() if k != "normalize"})
    )
    with pytest.raises(DataError, match="incomplete"):
        WordMapping.load(tmp_path / "m")


def test_a_bad_saved_mapping_is_a_data_error_naming_its_file(tmp_path):
    rng = np.random.default_rng(3)
    _, means = fit_normalization(rng.standard_normal((10, 4)), "center")
    WordMapping(np.eye(4), np.eye(4), ["center"], src_means=means).save(tmp_path / "m")
    meta_path = tmp_path / "m" / "mapping.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps(meta | {"normalize": ["centre"]}))
    with pytest.raises(DataError, match=r"m/mapping\.json: .*'centre'"):
        WordMapping.load(tmp_path / "m")
    # means of another width than the transform's input: named when loaded, not a broadcast error later
    meta_path.write_text(json.dumps(meta))
    tensors = load_file(tmp_path / "m" / "mapping.safetensors")
    save_file(tensors | {"src_mean_0": np.zeros(3, dtype=np.float32)}, tmp_path / "m" / "mapping.safetensors")
    with pytest.raises(ValueError, match=r"^src_means\[0\]: has shape \(3,\)"):
        WordMapping(np.eye(4), np.eye(4), ["center"], src_means=[np.zeros(3)])
    with pytest.raises(DataError, match=r"m/mapping\.safetensors: .*src_means\[0\]: has shape \(3,\)"):
        WordMapping.load(tmp_path / "m")
    # a tensor mapping.json promises, missing: the tensors' file is named (mapping.json was)
    save_file({k: v for k, v in tensors.items() if k != "src_mean_0"}, tmp_path / "m" / "mapping.safetensors")
    with pytest.raises(
        DataError, match=r"m/mapping\.safetensors: incomplete word mapping: no tensor 'src_mean_0'"
    ):
        WordMapping.load(tmp_path / "m")


def test_lowercase_seed_dictionary(tmp_path, languages):
    """MUSE's dictionaries are lowercase; a capitalised seed (German nouns) must not lose its pairs."""
    src, tgt = languages
    path = tmp_path / "seed.tsv"
    path.write_text("\n".join(f"S{i}\tT{i}" for i in range(0, 1500, 5)) + "\n", encoding="utf-8")
    config = WordAlignConfig(dictionary=str(path), refinements=0, criterion=False, lowercase=True, **FAST)
    mapping = align_words(src, tgt, config, progress=False)
    assert mapping.info["seed"]["pairs_covered"] == 300
    assert p_at_1(mapping, src, tgt) >= 0.99
    # both vocabularies are lowercase (as `xling vectors train` writes them): looked up so without asking
    unasked = align_words(src, tgt, dataclasses.replace(config, lowercase=False), progress=False)
    assert unasked.info["seed"]["pairs_covered"] == 300
    cased = WordVectors([w.upper() if i == 0 else w for i, w in enumerate(tgt.words)], tgt.vectors, "t.vec")
    with pytest.raises(DataError, match="no seed pair"):  # a vocabulary with case: the words as written
        align_words(src, cased, dataclasses.replace(config, lowercase=False), progress=False)


def test_muse_rank_mode_refines_like_cutoff_when_the_vocabularies_fit(tmp_path, languages):
    src, tgt = languages
    path = tmp_path / "seed.tsv"
    path.write_text("\n".join(f"s{i}\tt{i}" for i in range(0, 1500, 50)) + "\n", encoding="utf-8")
    fields = {"dictionary": str(path), "refinements": 2, "criterion": False, "max_rank": 0, "chunk_size": 512}
    cutoff = align_words(src, tgt, WordAlignConfig(**fields), progress=False)
    muse = align_words(src, tgt, WordAlignConfig(max_rank_mode="muse", **fields), progress=False)
    assert [e["pairs"] for e in muse.history] == [e["pairs"] for e in cutoff.history]
    np.testing.assert_allclose(muse.src_transform, cutoff.src_transform, atol=1e-5)
    assert p_at_1(muse, src, tgt) >= 0.99


def test_vector_files_are_mapped_and_written(tmp_path):
    from xling.alignment.words.align import align_word_vector_files
    from xling.vectors import load_vectors, save_vectors

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    base = rng.normal(size=(300, 16)).astype(np.float32)
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0].astype(np.float32)
    save_vectors(WordVectors(words, base), tmp_path / "src.vec")
    save_vectors(WordVectors(words, base @ rotation), tmp_path / "tgt.vec")
    config = WordAlignConfig(method="identical", max_vocab=200, refinements=1, **FAST)
    report = align_word_vector_files(tmp_path / "src.vec", tmp_path / "tgt.vec", tmp_path / "map", config,
                                     write_mapped=True)  # fmt: skip
    mapping = WordMapping.load(report.output)
    assert mapping.method == "identical" and set(report.mapped) == {"src", "tgt"}
    mapped_src, mapped_tgt = load_vectors(report.mapped["src"]), load_vectors(report.mapped["tgt"])
    assert len(mapped_src) == 200  # max_vocab: only the most frequent words are read
    assert precision_at_1(mapped_src.vectors, mapped_tgt.vectors) >= 0.99


@pytest.mark.parametrize("method", ["procrustes", "selflearn"])
@pytest.mark.parametrize("seed_pairs", ["identical", "numerals"])
def test_a_dictionary_beside_another_seed_source_is_an_error_not_ignored(method, seed_pairs):
    """A seed dictionary with seed_pairs "identical" or "numerals" was silently left unread."""
    config = WordAlignConfig(method=method, dictionary="seed.tsv", seed_pairs=seed_pairs)
    with pytest.raises(ConfigError, match="^dictionary: .*seed_pairs") as error:
        config.validate()
    assert repr(seed_pairs) in str(error.value)


def test_selflearn_checks_dimensions_naming_both_files():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(20)]
    src = WordVectors(words, rng.standard_normal((20, 12)).astype(np.float32), "en30.vec")
    tgt = WordVectors(words, rng.standard_normal((20, 8)).astype(np.float32), "de20.vec")
    config = WordAlignConfig(method="selflearn", seed_pairs="identical", selflearn={"max_iterations": 1})
    with pytest.raises(DataError, match=r"^en30\.vec: selflearn maps between equal dimensions.*de20\.vec"):
        align_words(src, tgt, config, progress=False)
