"""ONNX export: the exported graph gives the PyTorch encoder's vectors; int8 stays close; clear errors."""

from __future__ import annotations

import json
import shutil
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


def truncated(encoder: Encoder) -> int:
    """Return how many texts of BATCH `encoder` cuts at its length limit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return encoder.encode_with_stats(BATCH, batch_size=4)[1].truncated


@pytest.fixture(scope="module")
def exported(tmp_path_factory, sample_tokenizer_dir):
    """A mean-pooling folder exported (fp32 + int8, plain and optimized) elsewhere; (source, export, report)."""
    from xling.export.onnx import export_onnx

    root = tmp_path_factory.mktemp("onnx")
    source = tiny_st_folder(root, sample_tokenizer_dir, "mean")
    report = export_onnx(source, root / "exported", int8=True, optimize=True, sentences=TEXTS * 4)
    return source, root / "exported", report


def op_types(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node}


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
    assert truncated(onnx) == 1  # the same truncation report as the torch encoder
    assert np.allclose(np.linalg.norm(theirs, axis=1), 1.0, atol=1e-5)
    variants = {v.name: v for v in report.variants}
    assert set(variants) == {"torch fp32", "onnx fp32", "onnx int8", "onnx-opt fp32", "onnx-opt int8"}
    assert report.sentences == len(TEXTS) * 4 and variants["onnx-opt int8"].backend == "onnx-opt-int8"
    assert variants["onnx fp32"].min_cosine >= 0.9999 and variants["onnx fp32"].sentences_per_s > 0


def test_normalize_false_gives_the_torch_backends_raw_vectors(exported):
    source, out, _ = exported
    raw = Encoder.load(out, backend="onnx", normalize=False).encode(TEXTS)
    torch_raw = Encoder.load(source, normalize=False).encode(TEXTS)
    np.testing.assert_allclose(raw, torch_raw, atol=1e-4)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)  # not unit vectors


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


def test_optimized_graph_is_fused_and_gives_the_torch_vectors(exported):
    source, out, report = exported
    meta = json.loads((out / "onnx" / "export.json").read_text())
    assert meta["files"] == {"fp32": "model.onnx", "int8": "model_int8.onnx", "opt": "model_opt.onnx",
                             "opt_int8": "model_opt_int8.onnx"}  # fmt: skip
    optimized = meta["optimized"]
    assert optimized["graph"] == "torchscript, eager attention" and optimized["fused_ops"]["Attention"] == 2
    assert optimized["num_heads"] == 2 and optimized["hidden_size"] == 32
    ops = op_types(out / "onnx" / "model_opt.onnx")
    assert "Attention" in ops and "Softmax" not in ops and "SkipLayerNormalization" not in ops
    ours, theirs, _, opt = encode_both(source, out, "onnx-opt")
    assert opt.kind == "onnx" and opt.module.disabled_optimizers == ["SkipLayerNormFusion"]
    assert cosines(ours, theirs).min() >= 0.9999 and truncated(opt) == 1
    row = next(v for v in report.variants if v.name == "onnx-opt fp32")
    assert row.min_cosine >= 0.9999 and row.file == "model_opt.onnx"


def test_optimized_int8_stays_close(exported):
    source, out, report = exported
    int8, reference, _, _ = encode_both(source, out, "onnx-opt-int8")
    same = cosines(int8, reference)
    assert same.mean() >= 0.99 and same.min() >= 0.95  # bounds as for onnx-int8 above
    assert (np.argmax(int8 @ reference.T, axis=1) == np.arange(len(BATCH))).all()
    ops = op_types(out / "onnx" / "model_opt_int8.onnx")
    assert {"QAttention", "MatMulInteger", "MatMul"} <= ops and "Attention" not in ops
    meta = json.loads((out / "onnx" / "export.json").read_text())["opt_int8"]
    assert meta["min_cosine_target"] == 0.993 and meta["per_channel"] and meta["fp32_nodes"] == []
    assert meta["outlier_channels"] == 4 and meta["split_ffn_layers"] == 2
    assert meta["search"] == [{"fp32_nodes": 0, "mean_cosine": meta["sample_mean_cosine"]}]
    assert meta["sample_mean_cosine"] >= 0.993
    rows = {v.name: v for v in report.variants}
    assert rows["onnx-opt int8"].mean_cosine >= 0.99
    size = {name: (out / "onnx" / name).stat().st_size for name in ("model_opt.onnx", "model_opt_int8.onnx")}
    assert size["model_opt_int8.onnx"] < size["model_opt.onnx"]  # the embeddings (most here) stay fp32


def test_int8_search_keeps_ffn_outputs_fp32_until_the_target(exported, tmp_path):
    import onnx

    from xling.export.quantize import int8_fp32_candidates, quantize_optimized_int8

    _, out, _ = exported
    opt = out / "onnx" / "model_opt.onnx"
    candidates = int8_fp32_candidates(onnx.load(str(opt)).graph)
    assert len(candidates) == 2 and "layer.0/output/dense" in candidates[0]
    assert "layer.1/output/dense" in candidates[1]
    measured = iter([0.95, 0.97, 0.995])
    meta = quantize_optimized_int8(opt, tmp_path / "q.onnx", lambda path: next(measured), 0.99)
    assert meta["fp32_nodes"] == candidates and meta["sample_mean_cosine"] == 0.995
    assert [row["fp32_nodes"] for row in meta["search"]] == [0, 1, 2]
    graph = onnx.load(str(tmp_path / "q.onnx")).graph
    fp32 = {node.name for node in graph.node if node.op_type == "MatMul" and node.name in candidates}
    assert fp32 == set(candidates) and "MatMulInteger" in {node.op_type for node in graph.node}
    with pytest.warns(UserWarning, match="below 0.99 even with all 2 FFN output projections in fp32"):
        meta = quantize_optimized_int8(opt, tmp_path / "q.onnx", lambda path: 0.5, 0.99)
    assert meta["fp32_nodes"] == candidates and len(meta["search"]) == 3


def test_ffn_outlier_split_keeps_the_function_and_moves_the_largest_channels(exported):
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from xling.export.quantize import ffn_activation_peaks, split_ffn_outliers

    source, out, _ = exported
    path = str(out / "onnx" / "model_opt.onnx")
    original, model = onnx.load(path), onnx.load(path)
    features, _ = Encoder.load(source).module.featurize(BATCH)
    feeds = {name: tensor.numpy() for name, tensor in features.items()}
    peaks = ffn_activation_peaks(model, [feeds])
    assert len(peaks) == 2  # one per layer: the 64 channels of each FFN output projection's input
    assert all(p.shape == (64,) and (p >= 0).all() and p.max() > 0 for p in peaks.values())
    made_up = {name: np.isin(np.arange(64), [3, 17, 40]).astype(np.float32) for name in peaks}
    side = split_ffn_outliers(model, made_up, 3)  # these three channels are the "largest"
    assert len(side) == 4 and all("/outliers/" in name for name in side)
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    before = {init.name: numpy_helper.to_array(init) for init in original.graph.initializer}
    fo = next(n for n in original.graph.node if n.name.endswith("layer.0/output/dense/MatMul"))
    prefix = f"{fo.name}/outliers"
    assert weights[f"{prefix}/w_in_top"].shape == (32, 3) and weights[f"{prefix}/w_out"].shape == (61, 32)
    assert np.array_equal(weights[f"{prefix}/w_out_top"], before[fo.input[1]][[3, 17, 40]])
    runs = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
            for m in (original, model)]  # fmt: skip
    assert np.allclose(runs[0], runs[1], atol=1e-5)  # the same function in fp32


def test_optimized_bert_fuses_embeddings_and_gives_the_torch_vectors(tmp_path, sample_tokenizer_dir):
    from transformers import BertConfig, BertModel

    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean")
    xlmr = json.loads((folder / "config.json").read_text())
    torch.manual_seed(1)
    config = BertConfig(vocab_size=xlmr["vocab_size"], pad_token_id=xlmr["pad_token_id"], hidden_size=32,
                        num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                        max_position_embeddings=64)  # fmt: skip
    BertModel(config).save_pretrained(folder)  # BERT (MiniLM's architecture) instead of XLM-R
    export_onnx(folder, tmp_path / "bert", optimize=True, sentences=TEXTS)
    fused = json.loads((tmp_path / "bert" / "onnx" / "export.json").read_text())["optimized"]["fused_ops"]
    assert fused["EmbedLayerNormalization"] == 1 and fused["Attention"] == 2 and fused["BiasGelu"] == 2
    ours, theirs, _, _ = encode_both(folder, tmp_path / "bert", "onnx-opt")
    assert cosines(ours, theirs).min() >= 0.9999
    assert not (tmp_path / "bert" / "onnx" / "model_opt_int8.onnx").exists()


def test_cli_exports_cls_pooling_in_place(tmp_path, sample_tokenizer_dir):
    from typer.testing import CliRunner

    from xling.cli import app

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "cls", layers=1)
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
    with pytest.raises(DataError, match=r"no onnx/model_opt_int8.onnx .* --optimize --int8"):
        Encoder.load(folder, backend="onnx-opt-int8")
    # trained into the folder again: the graphs hold the old weights, so they are refused, not used
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"made from other weights: model.safetensors has changed"):
        Encoder.load(folder, backend="onnx")


def test_cli_optimized_int8_then_plain_export_removes_stale_graphs(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    from typer.testing import CliRunner

    from xling.cli import app

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    sample = tmp_path / "sample.txt"
    sample.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    args = [
        "export",
        "onnx",
        "--model",
        str(folder),
        "--output",
        str(tmp_path / "out"),
        "--sample",
        str(sample),
    ]
    result = CliRunner().invoke(app, [*args, "--optimize", "--int8", "--int8-min-cosine", "0.9"])
    assert result.exit_code == 0, result.output
    assert "'onnx-opt-int8'" in result.output and "onnx-opt int8" in result.output
    meta = json.loads((tmp_path / "out" / "onnx" / "export.json").read_text())
    assert meta["opt_int8"]["min_cosine_target"] == 0.9
    ours, theirs, _, _ = encode_both(folder, tmp_path / "out", "onnx-opt-int8")
    assert cosines(ours, theirs).mean() >= 0.99
    from test_onnx_checks import reuse_graph  # the same model's graph, not traced again (seconds)

    reuse_graph(monkeypatch, tmp_path / "out" / "onnx" / "model.onnx")
    result = CliRunner().invoke(app, args)  # plain fp32 again: the optimized graphs no longer match
    assert result.exit_code == 0, result.output
    assert not any((tmp_path / "out" / "onnx").glob("model_*.onnx"))
    meta = json.loads((tmp_path / "out" / "onnx" / "export.json").read_text())
    assert meta["files"]["opt_int8"] is None and meta["optimized"] is None
    with pytest.raises(DataError, match=r"no onnx/model_opt.onnx .* --optimize`"):
        Encoder.load(tmp_path / "out", backend="onnx-opt")


def test_static_folder_is_refused(tmp_path, sample_tokenizer_dir):
    from xling.export.onnx import export_onnx

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
    with pytest.raises(
        ConfigError, match="backend 'tensorrt' must be one of torch, onnx, onnx-int8, onnx-opt,"
    ):
        Encoder.load(out, backend="tensorrt")
    with pytest.raises(ConfigError, match="pooling is fixed in the exported graph"):
        Encoder.load(out, backend="onnx", pooling="cls")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        Encoder.load(out, backend="onnx", precision="int8")
    with pytest.raises(ConfigError, match="runs on the CPU"):
        Encoder.load(out, backend="onnx-opt-int8", precision="bf16")
    from xling.export.onnx import export_onnx

    with pytest.raises(ConfigError, match=r"int8_min_cosine must be in \(0, 1\], not 1.5"):
        export_onnx(source, tmp_path / "bad", int8=True, optimize=True, int8_min_cosine=1.5, sentences=TEXTS)
    assert not (tmp_path / "bad").exists()


def test_an_fp32_graph_unlike_pytorch_withdraws_the_export(tmp_path, exported, monkeypatch):
    from xling.errors import XlingError
    from xling.export.onnx import export_onnx

    source, earlier, _ = exported
    shutil.copytree(earlier, tmp_path / "out")  # a good export of the same model, made before
    before = {
        p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    # the graph is the earlier export's (tracing it again takes seconds and is what other tests check):
    # what matters here is what happens after it is written
    graph = (earlier / "onnx" / "model.onnx").read_bytes()

    def earlier_graph(module, path, opset):
        path.write_bytes(graph)
        return "dynamo"

    monkeypatch.setattr("xling.export.onnx._export_graph", earlier_graph)
    # an impossible bar stands in for a graph that computes something else
    monkeypatch.setattr("xling.export.onnx.FP32_MIN_COSINE", 1.01)
    with pytest.raises(XlingError, match="fp32 graph .* vectors that are not PyTorch.s.*export withdrawn"):
        export_onnx(source, tmp_path / "out", sentences=TEXTS)
    # the new graphs were measured beside the earlier export, which stays as it was and still loads
    after = {
        p.relative_to(tmp_path / "out"): p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()
    }
    assert after == before
    Encoder.load(tmp_path / "out", backend="onnx")


def test_optimized_int8_of_an_ffn_not_fused_to_biasgelu_is_written(tmp_path, sample_tokenizer_dir):
    """A relu FFN (T5, GTR; gelu_new is fused to FastGelu, alike) has no BiasGelu block: no outlier channels
    to split, and the export still writes model_opt_int8.onnx and export.json (a run asking for no outputs
    got them all, and failed)."""
    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    export_onnx(folder, tmp_path / "out", int8=True, optimize=True, sentences=TEXTS)
    meta = json.loads((tmp_path / "out" / "onnx" / "export.json").read_text())["opt_int8"]
    assert meta["split_ffn_layers"] == 0 and meta["outlier_channels"] == 0
    assert "MatMulInteger" in op_types(tmp_path / "out" / "onnx" / "model_opt_int8.onnx")
    int8, reference, _, _ = encode_both(folder, tmp_path / "out", "onnx-opt-int8")
    assert cosines(int8, reference).min() >= 0.95  # bounds as for onnx-int8 above


@pytest.mark.parametrize("given", ["folder", "encoder"])
def test_a_float16_model_is_exported_as_its_float32_function(tmp_path, sample_tokenizer_dir, given):
    """A float16 checkpoint (as many on the Hub are) gave a float16 graph reported as "onnx fp32", and an
    int8 graph ONNX Runtime refused. An Encoder loads such a folder in float32 (it ran in float16 as "fp32")."""
    import onnx
    from transformers import XLMRobertaModel

    from xling.export.onnx import export_onnx

    folder = tiny_st_folder(tmp_path, sample_tokenizer_dir, "mean", layers=1)
    XLMRobertaModel.from_pretrained(folder).half().save_pretrained(folder)
    loaded = Encoder.load(folder)
    assert next(loaded.module.parameters()).dtype == torch.float32
    report = export_onnx(
        loaded if given == "encoder" else folder, tmp_path / "out", int8=True, sentences=TEXTS
    )
    graph = onnx.load(str(tmp_path / "out" / "onnx" / "model.onnx")).graph
    assert graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    reference = Encoder(Encoder.load(folder).module.float(), name="float32").encode(BATCH)
    for backend in ("onnx", "onnx-int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the long text is cut
            vectors = Encoder.load(tmp_path / "out", backend=backend).encode(BATCH)
        assert cosines(vectors, reference).min() >= (0.9999 if backend == "onnx" else 0.95)
    assert {v.name for v in report.variants} == {"torch fp32", "onnx fp32", "onnx int8"}
