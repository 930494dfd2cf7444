"""Margin-based bitext mining: scoring, selection modes, chunked kNN and mining files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xling.config import load_config
from xling.errors import ConfigError, DataError, XlingError
from xling.retrieval.knn import knn, margin_scores
from xling.retrieval.mining import MineConfig, mine_embeddings, mine_files, read_sentences


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def angles(*degrees: float) -> np.ndarray:
    return np.array(
        [[math.cos(math.radians(d)), math.sin(math.radians(d))] for d in degrees], dtype=np.float32
    )


def planted(n_src: int, n_tgt: int, n_pairs: int, dim: int = 64, noise: float = 0.3, seed: int = 0):
    """Return (src, tgt, gold): random unit rows with n_pairs noisy copies of src rows planted in tgt."""
    rng = np.random.default_rng(seed)
    src = unit(rng.standard_normal((n_src, dim)))
    tgt = unit(rng.standard_normal((n_tgt, dim)))
    src_rows = rng.choice(n_src, n_pairs, replace=False)
    tgt_rows = rng.choice(n_tgt, n_pairs, replace=False)
    tgt[tgt_rows] = unit(src[src_rows] + noise * rng.standard_normal((n_pairs, dim)) / math.sqrt(dim) * 4)
    return src, tgt, set(zip(src_rows.tolist(), tgt_rows.tolist(), strict=True))


def reference_mine(
    x: np.ndarray, y: np.ndarray, k: int, margin: str, mode: str
) -> dict[tuple[int, int], float]:
    """The same definition computed the dense, obvious way: {(src, tgt): score}."""
    sims = x.astype(np.float64) @ y.astype(np.float64).T
    fwd_ids = np.argsort(-sims, axis=1)[:, : min(k, len(y))]
    bwd_ids = np.argsort(-sims.T, axis=1)[:, : min(k, len(x))]
    avg_x = np.take_along_axis(sims, fwd_ids, 1).mean(1)
    avg_y = np.take_along_axis(sims.T, bwd_ids, 1).mean(1)

    def score(i: int, j: int) -> float:
        cos, mean = sims[i, j], (avg_x[i] + avg_y[j]) / 2
        return {"ratio": cos / mean, "distance": cos - mean, "absolute": cos}[margin]

    fwd = {i: int(max(fwd_ids[i], key=lambda j, i=i: score(i, j))) for i in range(len(x))}
    bwd = {j: int(max(bwd_ids[j], key=lambda i, j=j: score(i, j))) for j in range(len(y))}
    if mode == "forward":
        chosen = list(fwd.items())
    elif mode == "backward":
        chosen = [(i, j) for j, i in bwd.items()]
    elif mode == "intersect":
        chosen = [(i, j) for i, j in fwd.items() if bwd[j] == i]
    else:
        candidates = sorted(
            [(score(i, j), i, j) for i, j in fwd.items()] + [(score(i, j), i, j) for j, i in bwd.items()],
            reverse=True,
        )
        used_src, used_tgt, chosen = set(), set(), []
        for _, i, j in candidates:
            if i not in used_src and j not in used_tgt:
                used_src.add(i)
                used_tgt.add(j)
                chosen.append((i, j))
    return {(i, j): score(i, j) for i, j in chosen}


# --- scoring -----------------------------------------------------------------------------------------


def test_margin_scores_by_hand():
    cos, avg_x, avg_y = np.array([0.8, 0.3]), np.array([0.5, 0.5]), np.array([0.3, 0.1])
    assert margin_scores(cos, avg_x, avg_y, "ratio") == pytest.approx([0.8 / 0.4, 0.3 / 0.3])
    assert margin_scores(cos, avg_x, avg_y, "distance") == pytest.approx([0.8 - 0.4, 0.3 - 0.3], abs=1e-6)
    assert margin_scores(cos, avg_x, avg_y, "absolute") == pytest.approx([0.8, 0.3])
    # a zero neighbourhood mean cannot be divided by: it sorts last instead of producing inf or nan
    assert margin_scores(np.array([0.5]), np.array([0.2]), np.array([-0.2]), "ratio")[0] == -np.inf
    # over a negative mean a negative cosine is no large score ("Hello" paired with the less similar of two
    # sentences: -0.041 / -0.0104 = 3.93 beat the similar one's 0.082 / ...)
    neighbourhood = margin_scores(np.array([-0.041, 0.082]), np.array([0.02, 0.02]), np.array([-0.04, 0.02]),
                                  "ratio")  # fmt: skip
    assert neighbourhood[0] == -np.inf and neighbourhood[1] > 0
    with pytest.raises(ConfigError, match="margin"):
        margin_scores(cos, avg_x, avg_y, "cosine")


def test_mined_scores_match_a_hand_computed_example():
    # sources at 0 and 90 degrees, targets at 10, 80 and 40 degrees; k = 2
    x, y = angles(0, 90), angles(10, 80, 40)
    c = {d: math.cos(math.radians(d)) for d in (10, 40, 50, 80)}
    avg_x = [(c[10] + c[40]) / 2, (c[10] + c[50]) / 2]  # x0: y0, y2; x1: y1, y2
    avg_y = [(c[10] + c[80]) / 2, (c[10] + c[80]) / 2, (c[40] + c[50]) / 2]  # y0: x0, x1; y1: x1, x0; y2
    x0y0 = c[10] / ((avg_x[0] + avg_y[0]) / 2)
    x1y1 = c[10] / ((avg_x[1] + avg_y[1]) / 2)
    x0y2 = c[40] / ((avg_x[0] + avg_y[2]) / 2)

    config = MineConfig(k=2, mode="forward", threshold=None)
    pairs = mine_embeddings(x, y, config)
    assert x1y1 > x0y0  # x1's neighbourhood is less dense, so its pair stands out more and comes first
    assert [(p.src_index, p.tgt_index) for p in pairs] == [(1, 1), (0, 0)]
    assert [p.score for p in pairs] == pytest.approx([x1y1, x0y0], rel=1e-5)

    backward = mine_embeddings(x, y, MineConfig(k=2, mode="backward", threshold=None))
    assert {(p.src_index, p.tgt_index): p.score for p in backward} == pytest.approx(
        {(0, 0): x0y0, (1, 1): x1y1, (0, 2): x0y2}, rel=1e-5
    )
    # y2 picks x0 backward, but x0 prefers y0: only the two mutual pairs survive intersect and max
    for mode in ("intersect", "max"):
        mined = mine_embeddings(x, y, MineConfig(k=2, mode=mode, threshold=None))
        assert [(p.src_index, p.tgt_index) for p in mined] == [(1, 1), (0, 0)]

    distance = mine_embeddings(x, y, MineConfig(k=2, margin="distance", mode="forward", threshold=None))
    assert {(p.src_index, p.tgt_index): p.score for p in distance}[0, 0] == pytest.approx(
        c[10] - (avg_x[0] + avg_y[0]) / 2, rel=1e-5
    )
    absolute = mine_embeddings(x, y, MineConfig(k=2, margin="absolute", mode="forward", threshold=None))
    assert [p.score for p in absolute] == pytest.approx([c[10], c[10]], rel=1e-5)


@pytest.mark.parametrize("margin", ["ratio", "distance", "absolute"])
@pytest.mark.parametrize("mode", ["forward", "backward", "intersect", "max"])
def test_modes_match_the_dense_reference(mode, margin):
    src, tgt, _ = planted(40, 55, 15, dim=16, seed=3)
    expected = reference_mine(src, tgt, 4, margin, mode)
    mined = mine_embeddings(
        src, tgt, MineConfig(k=4, margin=margin, mode=mode, threshold=None, query_chunk=7)
    )
    got = {(p.src_index, p.tgt_index): p.score for p in mined}
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)
    scores = [p.score for p in mined]
    assert scores == sorted(scores, reverse=True)


def test_mode_invariants():
    src, tgt, _ = planted(60, 80, 20, dim=16, seed=5)
    pick = {
        mode: {
            (p.src_index, p.tgt_index)
            for p in mine_embeddings(src, tgt, MineConfig(mode=mode, threshold=None))
        }
        for mode in ("forward", "backward", "intersect", "max")
    }
    assert len(pick["forward"]) == 60 and len({i for i, _ in pick["forward"]}) == 60
    assert len(pick["backward"]) == 80 and len({j for _, j in pick["backward"]}) == 80
    assert pick["intersect"] == pick["forward"] & pick["backward"]
    assert pick["max"] <= pick["forward"] | pick["backward"]
    assert pick["intersect"] <= pick["max"]
    assert len({i for i, _ in pick["max"]}) == len({j for _, j in pick["max"]}) == len(pick["max"])


def test_threshold_auto_and_explicit():
    src, tgt, _ = planted(50, 50, 10, dim=16, seed=2)
    everything = mine_embeddings(src, tgt, MineConfig(threshold=None))
    auto = mine_embeddings(src, tgt, MineConfig())
    assert MineConfig().effective_threshold() == 1.06
    assert MineConfig(margin="distance").effective_threshold() == 0.0
    assert MineConfig(margin="absolute").effective_threshold() is None
    assert auto == [p for p in everything if p.score > 1.06]
    cut = everything[2].score
    assert mine_embeddings(src, tgt, MineConfig(threshold=cut)) == everything[:2]  # above the cut, as LASER
    # at k = 1 every pair's distance margin is 0: it stands out from nothing, and "auto" keeps none of them
    # (a >= test kept them all, where the ratio margin's 1.0 kept none)
    for margin in ("distance", "ratio"):
        assert mine_embeddings(src, tgt, MineConfig(k=1, margin=margin, threshold="auto")) == []


def test_planted_translations_are_mined_with_high_precision():
    src, tgt, gold = planted(400, 500, 120, dim=64, seed=1)
    # Random 64-d vectors have dense, flat neighbourhoods: mutual nearest strangers reach ratios around
    # 1.1-1.2 here, planted pairs (cosine ~0.65) about 1.6. 1.06 is a cut for real sentence embeddings.
    for mode in ("intersect", "max"):
        config = MineConfig(mode=mode, threshold=1.3)
        mined = {(p.src_index, p.tgt_index) for p in mine_embeddings(src, tgt, config)}
        correct = len(mined & gold)
        assert correct / max(len(mined), 1) >= 0.95, mode
        assert correct / len(gold) >= 0.9, mode


def test_unnormalised_input_is_normalised_and_bad_input_rejected():
    src, tgt, _ = planted(30, 30, 10, dim=8)
    scaled, plain = mine_embeddings(src * 3.0, tgt * 0.5), mine_embeddings(src, tgt)
    assert [(p.src_index, p.tgt_index) for p in scaled] == [(p.src_index, p.tgt_index) for p in plain]
    assert [p.score for p in scaled] == pytest.approx([p.score for p in plain], rel=1e-5)
    with pytest.raises(XlingError, match="dimension: 8 and 9"):
        mine_embeddings(src, np.ones((3, 9), dtype=np.float32))
    with pytest.raises(XlingError, match="2-D"):
        mine_embeddings(src[0], tgt)
    assert mine_embeddings(src[:0], tgt) == []


def test_config_errors_name_the_field():
    with pytest.raises(ConfigError, match="margin"):
        MineConfig(margin="cos")
    with pytest.raises(ConfigError, match="mode"):
        MineConfig(mode="both")
    with pytest.raises(ConfigError, match="k must"):
        MineConfig(k=0)
    with pytest.raises(ConfigError, match="threshold"):
        MineConfig(threshold="high")
    with pytest.raises(ConfigError, match="index"):
        MineConfig(index="annoy")


@pytest.mark.parametrize(
    ("given", "kept", "effective"),
    [("auto", "auto", 1.06), ("none", None, None), ("NONE", None, None), ("1.05", 1.05, 1.05),
     (" 2 ", 2.0, 2.0), (0.5, 0.5, 0.5)],
)  # fmt: skip
def test_threshold_text_is_read_by_the_config(given, kept, effective):
    """`xling mine --threshold` passes its text as it is: the config reads numbers, 'auto' and 'none'."""
    config = load_config(MineConfig, threshold=given)
    assert config.threshold == kept and config.effective_threshold() == effective
    assert load_config(MineConfig, overrides=[f"threshold={given}"]).effective_threshold() == effective
    assert load_config(MineConfig, threshold=None).threshold == "auto"  # None: the option was not given


@pytest.mark.parametrize("bad", ["high", "nan", "inf", ""])
def test_threshold_errors_say_what_is_accepted(bad):
    with pytest.raises(ConfigError, match=r"threshold must be a number, 'auto' or 'none', got"):
        load_config(MineConfig, threshold=bad)


# --- nearest neighbours ------------------------------------------------------------------------------


def test_chunked_knn_equals_unchunked_and_brute_force():
    rng = np.random.default_rng(0)
    queries, base = unit(rng.standard_normal((257, 32))), unit(rng.standard_normal((300, 32)))
    sims, ids = knn(queries, base, 5, chunk=10_000)
    chunked_sims, chunked_ids = knn(queries, base, 5, chunk=16)
    np.testing.assert_array_equal(chunked_ids, ids)
    np.testing.assert_allclose(chunked_sims, sims, atol=1e-6)
    dense = queries @ base.T
    np.testing.assert_array_equal(ids, np.argsort(-dense, axis=1)[:, :5])
    assert sims.dtype == np.float32 and ids.dtype == np.int64 and sims.shape == (257, 5)


def test_knn_caps_k_and_approximate_indexes_find_the_nearest():
    rng = np.random.default_rng(1)
    base = unit(rng.standard_normal((2000, 16)))
    queries = unit(base[:200] + 0.05 * rng.standard_normal((200, 16)))
    assert knn(queries[:3], base[:2], 4)[1].shape == (3, 2)
    for kind in ("hnsw", "ivf"):
        sims, ids = knn(queries, base, 4, index_kind=kind, chunk=64)
        assert (ids[:, 0] == np.arange(200)).mean() >= 0.9, kind
        assert np.all(np.diff(sims, axis=1) <= 1e-6)


def test_approximate_indexes_mine_like_flat():
    src, tgt, gold = planted(300, 300, 100, dim=32, seed=4)
    for kind in ("hnsw", "ivf"):
        mined = {(p.src_index, p.tgt_index) for p in mine_embeddings(src, tgt, MineConfig(index=kind))}
        assert len(mined & gold) / len(gold) >= 0.85, kind


# --- files -------------------------------------------------------------------------------------------


SRC = ["the cat sleeps on the mat", "a storm is coming tonight", "bread and butter for breakfast",
       "the train leaves at noon", "green apples in a basket"]  # fmt: skip
TGT = ["quantum physics lecture notes", "The train leaves at noon!", "the cat sleeps on a mat",
       "Bread and butter for breakfast.", "a storm is coming tonight",
       "purple mountains far away"]  # fmt: skip


def test_mine_files_writes_sorted_tsv(tmp_path, fake_encoder):
    (tmp_path / "src.txt").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(TGT) + "\n", encoding="utf-8")
    output = tmp_path / "out" / "mined.tsv"
    report = mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", output, MineConfig(k=2))
    rows = [line.split("\t") for line in output.read_text(encoding="utf-8").splitlines()]
    assert report.src_sentences == 5 and report.tgt_sentences == 6 and report.pairs == len(rows)
    mined = {(src, tgt) for _, src, tgt in rows}
    assert {
        ("the cat sleeps on the mat", "the cat sleeps on a mat"),
        ("a storm is coming tonight", "a storm is coming tonight"),
        ("the train leaves at noon", "The train leaves at noon!"),
    } <= mined
    assert all(src != "green apples in a basket" for src, _ in mined)
    scores = [float(score) for score, _, _ in rows]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 1.06
    assert report.to_dict()["output"] == str(output)
    assert [p.name for p in output.parent.iterdir()] == ["mined.tsv"]  # no temporary file left


def test_mine_files_mines_each_distinct_line_once_as_laser_unify_does(tmp_path, fake_encoder):
    # a line given twice was two sentences: its pair written twice, and its copy crowding the neighbourhoods
    (tmp_path / "src.txt").write_text("\n".join([*SRC, SRC[1]]) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join([*TGT, TGT[4], TGT[4]]) + "\n", encoding="utf-8")
    output = tmp_path / "mined.tsv"
    config = MineConfig(k=2, mode="forward", threshold=None)
    report = mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", output, config)
    rows = [tuple(line.split("\t")[1:]) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(set(rows)) == len(SRC)
    assert (report.src_sentences, report.src_distinct, report.tgt_sentences, report.tgt_distinct) == (
        6,
        5,
        8,
        6,
    )
    alone = mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", tmp_path / "all.tsv",
                       MineConfig(k=2, mode="forward", threshold=None, unify=False))  # fmt: skip
    assert alone.pairs == 6 and alone.src_distinct == 6
    with pytest.raises(ConfigError, match="unify must be true or false"):
        MineConfig(unify="no")


def test_mine_files_empty_line_names_file_and_line(tmp_path, fake_encoder):
    (tmp_path / "src.txt").write_text("one\ntwo\n\nfour\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("one\ntwo\n", encoding="utf-8")
    output = tmp_path / "mined.tsv"
    output.write_text("earlier result\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"src\.txt:3: empty line") as caught:
        mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", output)
    assert caught.value.line == 3
    assert output.read_text(encoding="utf-8") == "earlier result\n"  # a failed run leaves it alone


def test_read_sentences_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_sentences(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_bytes(b"fine\n\xff\xfe\n")
    with pytest.raises(DataError, match=r"bad\.txt:2: invalid UTF-8"):
        read_sentences(tmp_path / "bad.txt")
    (tmp_path / "tab.txt").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"tab\.txt:1: tab"):
        read_sentences(tmp_path / "tab.txt")
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="file is empty"):
        read_sentences(tmp_path / "empty.txt")
    (tmp_path / "crlf.txt").write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert read_sentences(tmp_path / "crlf.txt") == ["one", "two"]
    for inside in (b"\r", "\u2028".encode(), b"\x0b"):  # a reader of the mined pairs would split the row
        (tmp_path / "cr.txt").write_bytes(b"one\ntwo" + inside + b"three\n")
        with pytest.raises(DataError, match=r"cr\.txt:2: a line break inside the line"):
            read_sentences(tmp_path / "cr.txt")


def test_mine_files_refuses_an_output_that_is_an_input_or_a_folder(tmp_path, fake_encoder):
    (tmp_path / "src.txt").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(TGT) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is also an input"):
        mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", tmp_path / "src.txt")
    assert (tmp_path / "src.txt").read_text(encoding="utf-8") == "\n".join(SRC) + "\n"
    with pytest.raises(DataError, match="is a folder"):
        mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", tmp_path)


def test_a_file_with_cr_line_ends_only_is_mined(tmp_path, fake_encoder):
    # a classic Mac OS file, read by embed, detect and translate (the shared readers) as three lines
    (tmp_path / "cr.txt").write_bytes(b"the cat sleeps\ra storm is coming\rbread and butter\r")
    assert read_sentences(tmp_path / "cr.txt") == ["the cat sleeps", "a storm is coming", "bread and butter"]
    (tmp_path / "tgt.txt").write_text("the cat sleeps!\nA storm is coming.\n", encoding="utf-8")
    report = mine_files(fake_encoder, tmp_path / "cr.txt", tmp_path / "tgt.txt", tmp_path / "out.tsv",
                        MineConfig(k=1, threshold=None))  # fmt: skip
    assert report.src_sentences == 3 and report.pairs >= 1
    (tmp_path / "blank.txt").write_bytes(b"one\r  \r")  # mine's own checks stay: a blank line is named
    with pytest.raises(DataError, match=r"blank\.txt:2: empty line"):
        read_sentences(tmp_path / "blank.txt")
    (tmp_path / "invisible.txt").write_text("one\n\u200b\u200d\n", encoding="utf-8")  # strip keeps these
    with pytest.raises(DataError, match=r"invisible\.txt:2: empty line"):
        read_sentences(tmp_path / "invisible.txt")
    from xling.retrieval.knn import cosine_nearest  # an empty side: -1 for each row, not a ValueError

    rows = np.ones((3, 4), dtype=np.float32)
    empty = np.zeros((0, 4), dtype=np.float32)
    assert [side.tolist() for side in cosine_nearest(empty, rows)] == [[], [-1, -1, -1]]


def test_a_gzip_file_without_a_gz_name_gets_the_shared_readers_advice(tmp_path):
    import gzip

    # it was "invalid UTF-8 at byte offset 1 of the line"
    (tmp_path / "packed.txt").write_bytes(gzip.compress(b"one\ntwo\n"))
    with pytest.raises(DataError, match=r"packed\.txt: the file is gzip.* rename it to packed\.txt\.gz"):
        read_sentences(tmp_path / "packed.txt")


def test_a_gz_name_in_capitals_is_read_as_gzip(tmp_path):
    import gzip

    (tmp_path / "upper.TXT.GZ").write_bytes(gzip.compress(b"one\ntwo\n"))
    assert read_sentences(tmp_path / "upper.TXT.GZ") == ["one", "two"]


def test_mine_files_a_failed_write_is_a_data_error_naming_the_output(tmp_path, fake_encoder, monkeypatch):
    import errno

    from xling.retrieval import mining

    (tmp_path / "src.txt").write_text("\n".join(SRC) + "\n", encoding="utf-8")
    (tmp_path / "tgt.txt").write_text("\n".join(TGT) + "\n", encoding="utf-8")

    def full_disk(path, mode="w"):  # what /proc/x.tsv or a full disk does after writable_file passed
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(mining, "atomic_write", full_disk)
    output = tmp_path / "mined.tsv"
    with pytest.raises(DataError, match=r"mined\.tsv: cannot write the mined pairs: No space left on device"):
        mine_files(fake_encoder, tmp_path / "src.txt", tmp_path / "tgt.txt", output, MineConfig(k=2))
    assert not output.exists()
