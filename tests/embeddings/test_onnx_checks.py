"""ONNX export: a bad --output is refused before any model loads; the folder's Pooling config matches the graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_encoder import TEXTS, cosines, tiny_st_folder

from xling.embeddings.encoder import Encoder
from xling.errors import DataError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def reuse_graph(monkeypatch, graph: Path) -> None:
    """Make later exports write `graph` (an export of the same model) instead of tracing the model again:
    for checks of what happens around the graph, whose tracing other tests check (seconds each)."""
    data = graph.read_bytes()

    def written(module, path, opset):
        path.write_bytes(data)
        return "dynamo"

    monkeypatch.setattr("xling.export.onnx._export_graph", written)


@pytest.mark.parametrize("where", ["file", "under-file", "onnx-file"])
def test_output_that_cannot_be_a_folder_is_refused_before_loading(tmp_path, where):
    from xling.export.onnx import export_onnx

    (tmp_path / "file").write_text("x")
    out = {"file": tmp_path / "file", "under-file": tmp_path / "file" / "sub", "onnx-file": tmp_path / "o"}[
        where
    ]
    if where == "onnx-file":
        out.mkdir()
        (out / "onnx").write_text("x")
    # a model folder that does not exist: the output is checked first, so its error is the one raised
    with pytest.raises(
        DataError, match=r"is a file, not a folder to write the ONNX export into|so no folder can be made"
    ):
        export_onnx(tmp_path / "no-such-model", out)


def test_cli_export_onnx_to_an_existing_file_is_one_clear_error(tmp_path):
    from typer.testing import CliRunner

    from xling.cli import app

    (tmp_path / "file").write_text("x")
    result = CliRunner().invoke(app, ["export", "onnx", "--model", str(tmp_path / "no-such-model"), "--output",
                                      str(tmp_path / "file")])  # fmt: skip
    assert isinstance(result.exception, DataError)
    assert str(result.exception).startswith(f"{tmp_path / 'file'}: output: is a file")


def test_pooling_override_is_written_to_the_exported_pooling_config(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    from xling.export.onnx import export_onnx

    source = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    export_onnx(source, tmp_path / "out", sentences=TEXTS, pooling="cls", max_length=16)
    config = json.loads((tmp_path / "out" / "1_Pooling" / "config.json").read_text())
    assert config["pooling_mode_cls_token"] and not config["pooling_mode_mean_tokens"]
    assert json.loads((source / "1_Pooling" / "config.json").read_text())[
        "pooling_mode_mean_tokens"
    ]  # untouched
    # another token limit is said to sentence-transformers readers too (the source's 64 was copied)
    assert json.loads((tmp_path / "out" / "sentence_bert_config.json").read_text())["max_seq_length"] == 16
    assert json.loads((source / "sentence_bert_config.json").read_text())["max_seq_length"] == 64
    # the graph pools as its folder now says
    onnx = Encoder.load(tmp_path / "out", backend="onnx").encode(TEXTS)
    assert cosines(onnx, Encoder.load(source, pooling="cls", max_length=16).encode(TEXTS)).min() >= 0.9999
    # a source with a null limit (sentence-transformers 6 writes none) says the exported one too
    (source / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": None}))
    reuse_graph(monkeypatch, tmp_path / "out" / "onnx" / "model.onnx")  # the same settings: the same graph
    null_source_out = tmp_path / "null"
    export_onnx(source, null_source_out, sentences=TEXTS, pooling="cls", max_length=16)
    assert json.loads((null_source_out / "sentence_bert_config.json").read_text())["max_seq_length"] == 16


def test_another_models_folder_is_refused_and_an_earlier_export_is_replaced(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    from xling.export.onnx import export_onnx

    source = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_text('{"model_type": "xlm-roberta"}', encoding="utf-8")
    # its config.json, xling.json and tokenizer would have been replaced by the exported encoder's
    with pytest.raises(DataError, match=r"victim: output: the folder holds other files \(config.json\)"):
        export_onnx(source, victim, sentences=TEXTS)
    assert (victim / "config.json").read_text(encoding="utf-8") == '{"model_type": "xlm-roberta"}'
    export_onnx(source, tmp_path / "out", sentences=TEXTS)
    reuse_graph(monkeypatch, tmp_path / "out" / "onnx" / "model.onnx")
    export_onnx(source, tmp_path / "out", sentences=TEXTS, int8=True)  # the same model's export again
    assert (tmp_path / "out" / "onnx" / "model_int8.onnx").is_file()
    # a fine-tuned copy of the model (the same config.json, weights of its own) with an onnx/ folder is not
    # an export of this model that stopped early
    import shutil

    copy = tmp_path / "fine-tuned"
    shutil.copytree(source, copy)
    (copy / "onnx").mkdir()
    with pytest.raises(DataError, match="fine-tuned: output: the folder holds other files"):
        export_onnx(source, copy, sentences=TEXTS)


def st_folder_in_modules(root: Path, tokenizer_dir: Path) -> Path:
    """Return a sentence-transformers folder whose Transformer is in 0_Transformer/, with a Dense head, and no
    sentence_bert_config.json (its limit: the tokenizer's model_max_length, 16)."""
    from safetensors.torch import save_file

    folder = tiny_st_folder(root, tokenizer_dir, "mean", layers=1)
    (folder / "sentence_bert_config.json").unlink()
    settings = json.loads((folder / "tokenizer_config.json").read_text())
    (folder / "tokenizer_config.json").write_text(json.dumps({**settings, "model_max_length": 16}))
    (folder / "0_Transformer").mkdir()
    for path in list(folder.iterdir()):
        if path.is_file() and path.name != "modules.json":
            path.rename(folder / "0_Transformer" / path.name)
    (folder / "2_Dense").mkdir()
    (folder / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 32, "out_features": 8, "bias": True,
        "activation_function": "torch.nn.modules.activation.Tanh"}))  # fmt: skip
    torch.manual_seed(1)
    save_file({"linear.weight": torch.randn(8, 32), "linear.bias": torch.randn(8)},
              str(folder / "2_Dense" / "model.safetensors"))  # fmt: skip
    modules = [
        {"idx": 0, "name": "0", "path": "0_Transformer", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    return folder


def _flip_last_byte(path: Path) -> bytes:
    """Return the file's bytes after changing one bit of its last byte (a weight trained again)."""
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    return data


def test_an_export_is_stale_when_a_module_folders_weights_or_settings_change(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    """The record covered the root's config.json and weights only: a Transformer in 0_Transformer/, a Dense
    head or the Pooling config changed since an in-place export went unseen, and the old graph was used."""
    from xling.export.onnx import export_onnx

    folder = st_folder_in_modules(tmp_path, sample_tokenizer_dir)
    export_onnx(folder, folder, sentences=TEXTS)
    recorded = json.loads((folder / "onnx" / "export.json").read_text())
    assert {"0_Transformer/model.safetensors", "2_Dense/model.safetensors", "1_Pooling/config.json",
            "modules.json"} <= set(recorded["source_files"])  # fmt: skip
    assert recorded["max_length"] == 16  # no sentence_bert_config.json: the tokenizer's limit, as torch reads
    onnx = Encoder.load(folder, backend="onnx").encode(TEXTS)
    assert cosines(onnx, Encoder.load(folder).encode(TEXTS)).min() >= 0.9999
    for changed in ("2_Dense/model.safetensors", "0_Transformer/model.safetensors", "1_Pooling/config.json"):
        before = _flip_last_byte(folder / changed)
        with pytest.raises(
            DataError, match=f"made from other weights: {changed} has changed since the export"
        ):
            Encoder.load(folder, backend="onnx")
        (folder / changed).write_bytes(before)  # the same bytes again: the export is current
        Encoder.load(folder, backend="onnx")
    # a settings file written since the export (a default prompt; a length limit) changes the vectors too
    for added, content in (("config_sentence_transformers.json", {"prompts": {"q": "query: "},
                                                                   "default_prompt_name": "q"}),
                           ("sentence_bert_config.json", {"max_seq_length": 4})):  # fmt: skip
        (folder / added).write_text(json.dumps(content), encoding="utf-8")
        with pytest.raises(DataError, match=f"made from other weights: {added} was added since the export"):
            Encoder.load(folder, backend="onnx")
        (folder / added).unlink()
    Encoder.load(folder, backend="onnx")
    # an export into a folder of its own holds a copy of the Dense head, not the model: nothing to compare
    reuse_graph(monkeypatch, folder / "onnx" / "model.onnx")
    export_onnx(folder, tmp_path / "out", sentences=TEXTS)
    assert (tmp_path / "out" / "2_Dense" / "model.safetensors").is_file()
    onnx = Encoder.load(tmp_path / "out", backend="onnx").encode(TEXTS)
    assert cosines(onnx, Encoder.load(folder).encode(TEXTS)).min() >= 0.9999


def test_an_in_place_export_refuses_options_the_folder_would_not_read(tmp_path, sample_tokenizer_dir):
    """export_onnx(F, F, pooling="cls") on a mean folder left 1_Pooling saying mean, export.json cls: the
    folder's torch and ONNX backends gave different vectors."""
    from xling.errors import ConfigError
    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    for option in ({"pooling": "cls"}, {"layer": 1}, {"max_length": 8}):
        name = next(iter(option))
        with pytest.raises(
            ConfigError, match=f"{name}=.*export into the model folder itself takes the folder's"
        ):
            export_onnx(folder, folder, sentences=TEXTS, **option)
    assert not (folder / "onnx").exists()
    assert json.loads((folder / "1_Pooling" / "config.json").read_text())["pooling_mode_mean_tokens"]


def test_an_in_place_export_keeps_a_graph_that_is_not_xlings(tmp_path, sample_tokenizer_dir):
    """A Hub folder's own onnx/model.onnx (sentence-transformers' or Optimum's, token states out) was
    replaced without a word, and sentence-transformers' ONNX backend no longer loaded the folder."""
    import onnx
    from onnx import TensorProto, helper

    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input_ids"], ["last_hidden_state"])], "theirs",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.INT64, ["batch", "sequence"])],
    )  # fmt: skip
    (folder / "onnx").mkdir()
    onnx.save(helper.make_model(graph), str(folder / "onnx" / "model.onnx"))
    before = (folder / "onnx" / "model.onnx").read_bytes()
    with pytest.raises(DataError, match=r"onnx/model.onnx is not a graph of xling's .*'last_hidden_state'"):
        export_onnx(folder, folder, sentences=TEXTS)
    assert (folder / "onnx" / "model.onnx").read_bytes() == before
    with pytest.raises(DataError, match="onnx/model.onnx here is no xling export .* --output DIR"):
        Encoder.load(folder, backend="onnx")  # and loading it says where to export instead


def test_a_loaded_encoder_exported_into_its_own_folder_takes_the_folders_settings(
    tmp_path, sample_tokenizer_dir
):
    # export_onnx(Encoder.load(F, pooling="cls"), F) was accepted: the folder's two backends then gave
    # cosines of 0.35-0.65, and no fingerprints of the weights were recorded to catch a retraining
    from xling.errors import ConfigError
    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    (folder / "xling.json").write_text(json.dumps({"name": "tiny", "kind": "sentence-encoder/transformer"}))
    with pytest.raises(ConfigError, match="pooling='cls'.*loaded from .* with other settings"):
        export_onnx(Encoder.load(folder, pooling="cls"), folder, sentences=TEXTS)
    assert not (folder / "onnx").exists()
    export_onnx(Encoder.load(folder), folder, sentences=TEXTS)
    meta = json.loads((folder / "onnx" / "export.json").read_text())
    assert meta["source_files"]  # a retraining into the folder makes the graphs stale, and it is caught
    onnx = Encoder.load(folder, backend="onnx").encode(TEXTS)
    assert cosines(onnx, Encoder.load(folder).encode(TEXTS)).min() >= 0.9999
    # weights changed in memory since the load: the folder's fingerprints would vouch for other weights
    changed = Encoder.load(folder)
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in changed.module.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    with pytest.raises(ConfigError, match="weights are not those saved in"):
        export_onnx(changed, folder, sentences=TEXTS)
