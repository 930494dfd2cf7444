"""ONNX export: a bad --output is refused before any model loads; the folder's Pooling config matches the graph."""

from __future__ import annotations

import json

import pytest
from test_encoder import TEXTS, cosines, tiny_st_folder

from xling.embeddings.encoder import Encoder
from xling.errors import DataError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


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


def test_pooling_override_is_written_to_the_exported_pooling_config(tmp_path, sample_tokenizer_dir):
    from xling.export.onnx import export_onnx

    source = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    export_onnx(source, tmp_path / "out", sentences=TEXTS, pooling="cls")
    config = json.loads((tmp_path / "out" / "1_Pooling" / "config.json").read_text())
    assert config["pooling_mode_cls_token"] and not config["pooling_mode_mean_tokens"]
    assert json.loads((source / "1_Pooling" / "config.json").read_text())[
        "pooling_mode_mean_tokens"
    ]  # untouched
    # the graph pools as its folder now says
    onnx = Encoder.load(tmp_path / "out", backend="onnx").encode(TEXTS)
    assert cosines(onnx, Encoder.load(source, pooling="cls").encode(TEXTS)).min() >= 0.9999


def test_another_models_folder_is_refused_and_an_earlier_export_is_replaced(tmp_path, sample_tokenizer_dir):
    from xling.export.onnx import export_onnx

    source = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "config.json").write_text('{"model_type": "xlm-roberta"}', encoding="utf-8")
    # its config.json, xling.json and tokenizer would have been replaced by the exported encoder's
    with pytest.raises(DataError, match=r"victim: output: the folder holds other files \(config.json\)"):
        export_onnx(source, victim, sentences=TEXTS)
    assert (victim / "config.json").read_text(encoding="utf-8") == '{"model_type": "xlm-roberta"}'
    export_onnx(source, tmp_path / "out", sentences=TEXTS)
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
