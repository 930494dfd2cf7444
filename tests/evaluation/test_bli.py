"""Bilingual lexicon induction: MUSE's scoring rules, coverage accounting, and a rotation that every
retrieval method must see through."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xling.alignment.words.mapping import WordMapping
from xling.errors import ConfigError, DataError
from xling.evaluation.bli import BLIConfig, bli_from_matrices, evaluate_bli
from xling.evaluation.result import Result
from xling.vectors.core import WordVectors


def test_any_gold_translation_counts_and_precision_is_per_source_word():
    tgt = np.eye(4, dtype=np.float32)
    src = np.array([[1, 0.5, 0, 0], [0, 0, 1, 0.9], [0, 0, 0.2, 1]], dtype=np.float32)
    # source 0: gold {1, 3} (best target 0, second 1); source 1: gold {2} (best); source 2: gold {0}.
    pairs = np.array([[0, 1], [0, 3], [1, 2], [2, 0], [1, 2]])
    scores = bli_from_matrices(src, tgt, pairs, ks=(1, 2, 4), method="nn")
    assert scores["n"] == 3  # three distinct source words, however many pairs
    assert scores["p@1"] == pytest.approx(100 / 3)  # only source 1
    assert scores["p@2"] == pytest.approx(200 / 3)  # source 0 through its second gold word
    assert scores["p@4"] == pytest.approx(100.0)
    # k beyond the target vocabulary is the whole vocabulary
    assert bli_from_matrices(src, tgt, pairs, ks=(10,), method="nn")["p@10"] == pytest.approx(100.0)


@pytest.fixture
def vocabularies() -> tuple[WordVectors, WordVectors]:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((6, 8)).astype(np.float32)
    src = WordVectors(["house", "cat", "dog", "tree", "sun", "moon"], vectors, "en.vec")
    tgt = WordVectors(["Haus", "Katze", "Hund", "Baum", "Sonne", "Mond"], vectors.copy(), "de.vec")
    return src, tgt


def identity(dim: int) -> WordMapping:
    eye = np.eye(dim, dtype=np.float32)
    return WordMapping(eye, eye, [], "identity")


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_coverage_is_counted_not_dropped(tmp_path, vocabularies):
    src, tgt = vocabularies
    path = write(
        tmp_path / "yacle.test.freq.2k.en-de.tsv",
        "house\tHaus\ncat\tKatze\ncat\tMieze\nbird\tVogel\nfish\tHund\nsun\tSonnen\n",
    )
    result = evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=path))
    assert (
        result.task == "bli" and list(result.scores) == ["en-de"] and result.settings["retrieval"] == "csls"
    )
    row = result.scores["en-de"]
    assert {"p@1", "p@5", "p@10", "n", "coverage"} <= set(row) and result.primary == "p@1"
    assert Result.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert row["coverage"] == {
        "lines": 6,
        "pairs_covered": 2,
        "src_words": 5,
        "src_words_covered": 2,  # house, cat: the precision's denominator
        "oov_src_pairs": 2,
        "oov_tgt_pairs": 3,
        "oov_both_pairs": 1,
        "duplicate_lines": 0,
        "fraction": round(2 / 6, 4),
    }
    assert row["p@1"] == 100.0 == result.average and row["n"] == 2


def test_lowercase_pair_name_and_errors(tmp_path, vocabularies):
    src, tgt = vocabularies
    path = write(tmp_path / "test.tsv", "HOUSE\thaus\n")
    with pytest.raises(DataError, match="no dictionary pair"):
        evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=path, lowercase=False))
    result = evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=path, lowercase=True, pair="en-de"))
    assert result.scores["en-de"]["p@1"] == 100.0
    bad = write(tmp_path / "bad.tsv", "house\tHaus\ncat Katze Mieze\n")
    with pytest.raises(DataError, match=r"bad\.tsv:2: "):
        evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=bad))
    narrow = WordVectors(src.words, src.vectors[:, :5], "en5.vec")
    with pytest.raises(DataError, match="8-dimensional"):
        evaluate_bli(
            narrow, tgt, identity(8), BLIConfig(dictionary=write(tmp_path / "ok.tsv", "house\tHaus\n"))
        )


def test_the_pair_is_read_from_the_dictionary_name(tmp_path, vocabularies):
    src, tgt = vocabularies
    names = {
        "yacle.test.freq.2k.en-de.tsv": "en-de",
        "en-de.5000-6500.txt": "en-de",  # MUSE's own test and train dictionaries: the pair comes first
        "en-de.0-5000.txt": "en-de",
        "test.tsv": "test",
    }
    for name, pair in names.items():
        config = BLIConfig(dictionary=write(tmp_path / name, "house\tHaus\n"))
        assert list(evaluate_bli(src, tgt, identity(8), config).scores) == [pair], name
    import gzip  # a gzipped dictionary is read, and named, as the plain one (it lost its pair)

    zipped = tmp_path / "yacle.test.freq.2k.en-de.tsv.gz"
    zipped.write_bytes(gzip.compress(b"house\tHaus\n"))
    assert list(evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=str(zipped))).scores) == ["en-de"]


def test_lowercased_vocabularies_find_capitalised_dictionary_words(tmp_path, vocabularies):
    """`xling vectors train` lowercases by default: German nouns of a test dictionary ("Haus") were scored
    out of vocabulary (1,430 of the 2,000 en-de test pairs for the quickstart's vectors)."""
    src, tgt = vocabularies
    lower = WordVectors([word.lower() for word in tgt.words], tgt.vectors, "de.lower.vec")
    path = write(tmp_path / "test.tsv", "house\tHaus\ncat\tKatze\n")
    result = evaluate_bli(src, lower, identity(8), BLIConfig(dictionary=path))
    assert result.scores["test"]["coverage"]["pairs_covered"] == 2 and result.settings["lowercase"] is True
    cased = evaluate_bli(src, tgt, identity(8), BLIConfig(dictionary=path, lowercase=False))  # as written
    assert cased.settings["lowercase"] is False and cased.scores["test"]["coverage"]["pairs_covered"] == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"dictionary": ""}, "dictionary"),
        ({"retrieval": "cosine"}, "retrieval"),
        ({"k": 0}, "k"),
        ({"ks": ()}, "ks"),
        ({"ks": (1, 0)}, "ks"),
        ({"hub_vocab": 0}, "hub_vocab"),
        ({"isf_beta": -1.0}, "isf_beta"),
        ({"isf_beta": float("inf")}, "isf_beta"),  # accepted, and every P@k read 0.00
        ({"isf_beta": float("nan")}, "isf_beta"),
    ],
)
def test_config_errors_name_the_field(fields, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        BLIConfig(**({"dictionary": "d.tsv"} | fields)).validate()


@pytest.fixture(scope="module")
def rotated_vocabularies(xling_mini_rows) -> tuple[WordVectors, WordVectors, np.ndarray]:
    """Return 1000 real xling-mini vectors, a rotated noisy copy (same words), and the rotation."""
    x = xling_mini_rows[1000:2000]
    rng = np.random.default_rng(1)
    q = np.linalg.qr(rng.standard_normal((256, 256)))[0].astype(np.float32)
    z = x @ q + rng.normal(0, 0.002, x.shape).astype(np.float32)
    words = [f"w{i}" for i in range(len(x))]
    return WordVectors(words, x), WordVectors(words, z), q


@pytest.mark.parametrize("retrieval", ["nn", "csls", "isf"])
def test_a_rotation_is_seen_through_by_every_retrieval(tmp_path, rotated_vocabularies, retrieval):
    src, tgt, rotation = rotated_vocabularies
    path = write(tmp_path / "gold.tsv", "".join(f"w{i}\tw{i}\n" for i in range(0, 1000, 3)))
    mapping = WordMapping(rotation, np.eye(256), ["unit"], "oracle")
    result = evaluate_bli(src, tgt, mapping, BLIConfig(dictionary=path, retrieval=retrieval, chunk_size=100))
    assert result.average >= 99.0 and result.scores["gold"]["coverage"]["src_words_covered"] == 334
    assert result.model == "oracle"
    unmapped = evaluate_bli(src, tgt, identity(256), BLIConfig(dictionary=path, retrieval=retrieval))
    assert unmapped.scores["gold"]["p@10"] < 10.0


def test_pruned_csls_scores_as_the_brute_force(rotated_vocabularies, monkeypatch):
    """Exact CSLS BLI measures r_src only for targets in reach of a test word's top (the default for few
    test words): the same precision, with a mapping that is off enough to get some words wrong."""
    from xling.alignment.words import csls

    calls = []
    pruned_topk = csls._csls_topk_pruned
    monkeypatch.setattr(csls, "_csls_topk_pruned", lambda *a, **kw: calls.append(1) or pruned_topk(*a, **kw))
    src, tgt, rotation = rotated_vocabularies
    noisy = rotation + np.random.default_rng(2).normal(0, 0.3, rotation.shape).astype(np.float32)
    pairs = np.stack([np.arange(0, 1000, 50), np.arange(0, 1000, 50)], axis=1)  # 20 words: pruned
    mapped = src.vectors @ noisy
    pruned = bli_from_matrices(mapped, tgt.vectors, pairs, ks=(1, 5, 10))
    brute = bli_from_matrices(mapped, tgt.vectors, pairs, ks=(1, 5, 10), pruned=False)
    assert pruned == brute and 0 < pruned["p@1"] < 100 and len(calls) == 1


def test_the_command_shows_the_ks_asked_for_and_writes_json_first(tmp_path, vocabularies, monkeypatch):
    from typer.testing import CliRunner

    import xling.cli.evaluate
    from xling.cli.main import app
    from xling.vectors import save_vectors

    src, tgt = vocabularies
    save_vectors(src, tmp_path / "en.vec")
    save_vectors(tgt, tmp_path / "de.vec")
    identity(8).save(tmp_path / "map")
    dictionary = write(tmp_path / "en-de.tsv", "house\tHaus\ncat\tKatze\ndog\tHund\n")
    args = ["eval", "bli", "--src", str(tmp_path / "en.vec"), "--tgt", str(tmp_path / "de.vec"), "--mapping",
            str(tmp_path / "map"), "--dictionary", dictionary, "--json", str(tmp_path / "bli.json")]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--set", "ks=[1, 3]"])
    assert result.exit_code == 0, result.output
    assert "P@1" in result.output and "P@3" in result.output and "P@5" not in result.output
    assert json.loads((tmp_path / "bli.json").read_text())["scores"]["en-de"]["p@1"] == 100.0
    # a table that fails to print does not take the evaluation with it
    (tmp_path / "bli.json").unlink()
    monkeypatch.setattr(xling.cli.evaluate, "Console", None)
    assert CliRunner().invoke(app, [*args, "--set", "ks=[1]"]).exit_code != 0
    assert sorted(json.loads((tmp_path / "bli.json").read_text())["scores"]["en-de"]) == [
        "coverage", "n", "p@1"]  # fmt: skip


def test_a_mapping_file_instead_of_a_folder_is_a_data_error(tmp_path, vocabularies):
    from xling.evaluation.bli import evaluate_bli_from_files
    from xling.vectors import save_vectors

    src, tgt = vocabularies
    save_vectors(src, tmp_path / "en.vec")
    save_vectors(tgt, tmp_path / "de.vec")
    config = BLIConfig(dictionary=write(tmp_path / "en-de.tsv", "house\tHaus\n"))
    with pytest.raises(DataError, match=r"en\.vec: a file, not a word mapping folder"):
        evaluate_bli_from_files(tmp_path / "en.vec", tmp_path / "de.vec", tmp_path / "en.vec", config)


@pytest.mark.parametrize("retrieval", ["nn", "csls"])
def test_lowercase_keeps_only_each_words_most_frequent_spelling(tmp_path, retrieval):
    """MUSE lowercases its vocabularies keeping each word's first (most frequent) spelling: "haus" beside a
    more frequent "Haus" is no candidate, so retrieving it cannot count as a miss (P@1 was 50)."""
    src = WordVectors(["house", "dog"], np.array([[1, 0, 0, 0], [0, 1, 0, 0]], np.float32), "en.vec")
    tgt = WordVectors(
        ["Haus", "Hund", "haus", "x"],
        np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0.01, 0], [0, 0, 0, 1]], np.float32),
        "de.vec",
    )
    path = write(tmp_path / "lc.en-de.tsv", "house\thaus\ndog\thund\n")
    config = BLIConfig(dictionary=path, lowercase=True, retrieval=retrieval, k=1, ks=(1,))
    result = evaluate_bli(src, tgt, identity(4), config)
    assert result.scores["en-de"]["p@1"] == 100.0 and result.settings["target_words"] == 3


def test_lowercase_csls_hub_terms_are_over_the_deduplicated_vocabularies(tmp_path):
    """CSLS's r terms are measured over MUSE's lowercased vocabularies (one row per lowercased word, the
    first): the same scores as evaluating on those vocabularies written out by hand."""
    rng = np.random.default_rng(3)
    n, dim = 60, 6
    base = rng.standard_normal((n, dim)).astype(np.float32)
    words = [f"w{i}" for i in range(n)]
    # later rows re-spell earlier words (capitalised), close to other words' vectors: extra hubs
    src_words = words + [w.upper() for w in words[:20]]
    tgt_words = words + [w.capitalize() for w in words[::2]]
    src_vectors = np.concatenate([base, base[20:40] + 0.1 * rng.standard_normal((20, dim))]).astype(
        np.float32
    )
    noisy = base + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    tgt_vectors = np.concatenate([noisy, base[1::2][:30] + 0.05 * rng.standard_normal((30, dim))])
    src = WordVectors(src_words, src_vectors, "en.vec")
    tgt = WordVectors(tgt_words, tgt_vectors.astype(np.float32), "de.vec")
    path = write(tmp_path / "gold.tsv", "".join(f"W{i}\tw{i}\n" for i in range(0, n, 2)))
    config = BLIConfig(dictionary=path, lowercase=True, retrieval="csls", k=3, ks=(1, 5))
    got = evaluate_bli(src, tgt, identity(dim), config)
    by_hand = evaluate_bli(WordVectors(words, src_vectors[:n], "en.vec"),
                           WordVectors(words, tgt_vectors[:n].astype(np.float32), "de.vec"),
                           identity(dim), config)  # fmt: skip
    assert got.scores["gold"] == by_hand.scores["gold"]
    assert got.settings["target_words"] == n


def test_dimension_errors_name_the_vectors_file_and_the_mapping_folder(tmp_path, vocabularies):
    from xling.evaluation.bli import evaluate_bli_from_files
    from xling.vectors import save_vectors

    src, tgt = vocabularies
    identity(5).save(tmp_path / "map5")
    mapping = WordMapping.load(tmp_path / "map5")
    config = BLIConfig(dictionary=write(tmp_path / "en-de.tsv", "house\tHaus\n"))
    with pytest.raises(DataError, match="5-dimensional") as error:
        evaluate_bli(src, tgt, mapping, config)
    assert "en.vec" in str(error.value) and "map5" in str(error.value)
    wide = WordVectors(tgt.words, np.concatenate([tgt.vectors[:, :5]] * 2, axis=1), "de10.vec")
    with pytest.raises(DataError, match="5-dimensional") as error:
        evaluate_bli(WordVectors(src.words, src.vectors[:, :5], "en5.vec"), wide, mapping, config)
    assert "de10.vec" in str(error.value) and "map5" in str(error.value) and "target" in str(error.value)
    save_vectors(src, tmp_path / "en.vec")
    save_vectors(tgt, tmp_path / "de.vec")
    with pytest.raises(DataError, match="5-dimensional") as error:
        evaluate_bli_from_files(tmp_path / "en.vec", tmp_path / "de.vec", tmp_path / "map5", config)
    assert str(tmp_path / "en.vec") in str(error.value) and str(tmp_path / "map5") in str(error.value)


def test_max_vocab_counts_distinct_lowercased_words_from_files(tmp_path):
    """MUSE's read_txt_embeddings stops at max_vocab distinct lowercased words: with "Haus", "haus", "HAUS"
    first in the file, max_vocab 2 still reaches "Hund" (the first two rows held one word)."""
    from xling.evaluation.bli import evaluate_bli_from_files
    from xling.vectors import save_vectors

    src = WordVectors(["house", "dog"], np.array([[1, 0, 0], [0, 1, 0]], np.float32), "en.vec")
    tgt = WordVectors(["Haus", "haus", "HAUS", "Hund", "Katze"],
                      np.array([[1, 0, 0], [1, 0, 0.1], [1, 0.1, 0], [0, 1, 0], [0, 0, 1]], np.float32))  # fmt: skip
    save_vectors(src, tmp_path / "en.vec")
    save_vectors(tgt, tmp_path / "de.vec")
    identity(3).save(tmp_path / "map")
    config = BLIConfig(dictionary=write(tmp_path / "en-de.tsv", "house\thaus\ndog\thund\n"), lowercase=True,
                       max_vocab=2, k=1, ks=(1,))  # fmt: skip
    result = evaluate_bli_from_files(tmp_path / "en.vec", tmp_path / "de.vec", tmp_path / "map", config)
    assert result.scores["en-de"]["p@1"] == 100.0 and result.settings["target_words"] == 2
    assert result.scores["en-de"]["coverage"]["oov_tgt_pairs"] == 0


def test_the_default_is_muses_lowercased_protocol_and_case_sensitive_is_the_variant(tmp_path):
    """MUSE lowercases both vocabularies for evaluation (read_txt_embeddings with lower=True, each word's
    first spelling): by default "HAUS" is found as "haus", and "Dog" after "dog" is no candidate. The
    case-sensitive variant (lowercase=False) misses the pair and retrieves "Hund", which is not "hund"."""
    src = WordVectors(["house", "dog"], np.array([[1, 0, 0], [0, 1, 0]], np.float32), "en.vec")
    tgt = WordVectors(
        ["HAUS", "hund", "Hund"], np.array([[1, 0, 0], [0, 0.8, 0.6], [0, 1, 0]], np.float32), "de.vec"
    )
    path = write(tmp_path / "en-de.tsv", "house\thaus\ndog\thund\n")
    default = evaluate_bli(src, tgt, identity(3), BLIConfig(dictionary=path, k=1, ks=(1,)))
    assert default.settings["lowercase"] is True and default.settings["target_words"] == 2
    assert default.scores["en-de"]["n"] == 2 and default.scores["en-de"]["p@1"] == 100.0
    cased = evaluate_bli(src, tgt, identity(3), BLIConfig(dictionary=path, k=1, ks=(1,), lowercase=False))
    assert cased.settings["lowercase"] is False and cased.settings["target_words"] == 3
    assert cased.scores["en-de"]["n"] == 1 and cased.scores["en-de"]["p@1"] == 0.0


def test_vectors_files_with_words_that_are_not_utf8(tmp_path):
    from xling.evaluation.bli import evaluate_bli_from_files

    (tmp_path / "en.vec").write_bytes(b"3 2\nhouse 1 0\nd\xffg 0 1\ncat 0 1\n")
    (tmp_path / "de.vec").write_bytes(b"2 2\nhaus 1 0\nkatze 0 1\n")
    identity(2).save(tmp_path / "map")
    path = write(tmp_path / "en-de.tsv", "house\thaus\ncat\tkatze\n")
    with pytest.raises(DataError, match=r"en\.vec:3: invalid UTF-8 .* --unicode-errors skip"):
        evaluate_bli_from_files(
            tmp_path / "en.vec", tmp_path / "de.vec", tmp_path / "map", BLIConfig(dictionary=path)
        )
    config = BLIConfig(dictionary=path, unicode_errors="skip", k=1, ks=(1,))
    with pytest.warns(UserWarning, match=r"en\.vec: dropped 1 row\(s\) whose word is not UTF-8"):
        result = evaluate_bli_from_files(tmp_path / "en.vec", tmp_path / "de.vec", tmp_path / "map", config)
    assert result.scores["en-de"]["p@1"] == 100.0 and result.scores["en-de"]["n"] == 2
    with pytest.raises(ConfigError, match="unicode_errors: 'ignore' must be one of strict, skip, replace"):
        BLIConfig(dictionary=path, unicode_errors="ignore").validate()
