"""ONNX export: the exported graph gives the PyTorch encoder's vectors; int8 stays close; clear errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from test_encoder import TEXTS, cosines, tiny_st_folder
from tokenizers import Tokenizer

from xling.embeddings.encoder import Encoder
from xling.embeddings.static import StaticSentenceEncoder
from xling.errors import ConfigError, DataError

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

LONG = "Where is the train station, and how long does the walk take from here? " * 20  # > 64 tokens
BATCH = [*TEXTS, LONG, "ok?"]


def encode_both(source, exported, backend: str) -> tuple[np.ndarray, np.ndarray, Encoder, Encoder]:
    """Return (ONNX vectors, torch vectors, the torch encoder, the ONNX encoder) of BATCH."""
    reference, onnx = Encoder.load(source), Encoder.load(exported, backend=backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the long text is cut (checked below)
        return onnx.encode(BATCH, batch_size=4), reference.encode(BATCH, batch_size=4), reference, onnx


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_tokenizer_dir):
    """A mean-pooling folder exported (fp32 + int8) into a separate folder; (source, export, report)."""
    from xling.embeddings.onnx_export import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    source = tiny_st_folder(root, sample_tokenizer_dir, "mean")
    report = export_onnx(source, root / "exported", int8=True, sentences=TEXTS * 4)
    return source, root / "exported", report


def test_fp32_export_gives_the_torch_vectors(exported):
    source, out, report = exported
    assert (out / "onnx" / "model.onnx").is_file() and (out / "onnx" / "model_int8.onnx").is_file()
    assert (out / "modules.json").is_file() and (out / "1_Pooling" / "config.json").is_file()
    assert not (out / "model.safetensors").exists()  # the weights live in the graph only
    meta = json.loads((out / "onnx" / "export.json").read_text())
    assert meta["pooling"] == "mean" and meta["dimension"] == 32 and meta["max_length"] == 64
    ours, theirs, _, onnx = encode_both(source, out, "onnx")
    assert onnx.kind == "onnx" and onnx.dimension == 32 and onnx.module.max_length == 64
    assert ours.shape == theirs.shape == (len(BATCH), 32)
    assert cosines(ours, theirs).min() >= 0.9999
    assert onnx.last_stats.truncated == 1  # the same truncation report as the torch encoder
    assert np.allclose(np.linalg.norm(theirs, axis=1), 1.0, atol=1e-5)
    variants = {v.name: v for v in report.variants}
    assert set(variants) == {"torch fp32", "onnx fp32", "onnx int8"} and report.sentences == len(TEXTS) * 4
    assert variants["onnx fp32"].min_cosine >= 0.9999 and variants["onnx fp32"].sentences_per_s > 0


def test_int8_export_stays_close_and_tells_texts_apart(exported):
    source, out, report = exported
    int8, reference, _, _ = encode_both(source, out, "onnx-int8")
    same = cosines(int8, reference)
    # Measured ~0.99999 here. The bound sits above what a random model gives *different* texts (~0.94:
    # its vectors share one direction), and each text must also stay nearest to its own fp32 vector.
    assert same.mean() >= 0.99 and same.min() >= 0.95
    assert (np.argmax(int8 @ reference.T, axis=1) == np.arange(len(BATCH))).all()
    row = next(v for v in report.variants if v.name == "onnx int8")
    assert row.mean_cosine >= 0.99 and row.megabytes < next(
        v.megabytes for v in report.variants if v.name == "onnx fp32"
    )


def test_cli_exports_cls_pooling_in_place(tmp_path, sample_tokenizer_dir):
    from typer.testing import CliRunner

    from xling.cli import app

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "cls")
    sample = tmp_path / "sample.txt"
    sample.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["export", "onnx", "--model", str(folder), "--output", str(folder),
                                      "--sample", str(sample), "--json", str(tmp_path / "r.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "onnx fp32" in result.output and "onnx int8" not in result.output
    payload = json.loads((tmp_path / "r.json").read_text())
    assert payload["sentences"] == len(TEXTS) and payload["variants"][1]["min_cosine"] >= 0.9999
    ours, theirs, _, _ = encode_both(folder, folder, "onnx")  # in place: the torch weights are still there
    assert cosines(ours, theirs).min() >= 0.9999
    with pytest.raises(DataError, match=r"no onnx/model_int8.onnx .* --int8"):
        Encoder.load(folder, backend="onnx-int8")


def test_static_folder_is_refused(tmp_path, sample_tokenizer_dir):
    from xling.embeddings.onnx_export import export_onnx

    torch.manual_seed(0)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    StaticSentenceEncoder(tokenizer, dimension=8).save(tmp_path / "static")
    with pytest.raises(ConfigError, match="static encoders .* nothing to gain"):
        export_onnx(tmp_path / "static", tmp_path / "out", sentences=TEXTS)
    assert not (tmp_path / "out").exists()


def test_missing_export_and_bad_options_are_clear_errors(exported, tmp_path, sample_tokenizer_dir):
    source, out, _ = exported
    with pytest.raises(DataError, match=r"no onnx/model.onnx .*xling export onnx"):
        Encoder.load(source, backend="onnx")
    with pytest.raises(ConfigError, match="backend 'tensorrt' must be one of torch, onnx, onnx-int8"):
        Encoder.load(out, backend="tensorrt")
    with pytest.raises(ConfigError, match="pooling is fixed in the exported graph"):
        Encoder.load(out, backend="onnx", pooling="cls")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        Encoder.load(out, backend="onnx", precision="int8")
