"""Dynamic int8 quantisation of exported ONNX sentence-encoder graphs, with the outlier split.

`quantize_int8`: the plain graph with per-channel int8 weights. `quantize_optimized_int8`: ONNX Runtime's
fused graph, where the few FFN channels per layer with the largest activations on a sample first move to an
fp32 side path (`split_ffn_outliers`, as in LLM.int8()), and whole FFN output projections of the first
layers stay fp32 while the mean cosine to fp32 on the sample is below a target (`int8_fp32_candidates`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.embeddings.backends.onnx import require_onnxruntime
from xling.export.config import INT8_OUTLIER_CHANNELS
from xling.export.quiet import quiet_tools

GELU_OPS = ("BiasGelu", "Gelu", "FastGelu", "QuickGelu")


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Write a copy of the graph with int8 weights and dynamically quantized activations (MatMul/Gemm).

    Weights get one scale per output channel: on all-MiniLM-L6-v2 over the bundled sample this keeps a
    mean cosine to fp32 of 0.990 (min 0.974), against 0.933 (min 0.850) with one scale per tensor (the
    ONNX Runtime default), at the same speed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = fp32_path.with_name(fp32_path.name + ".data").exists()
    with quiet_tools():
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                         use_external_data_format=external)  # fmt: skip


def int8_fp32_candidates(graph, exclude: Sequence[str] = ()) -> list[str]:
    """Return the names of the MatMul nodes to keep in fp32 first, in order: the FFN output projections.

    Their input is the Gelu output, the widest-ranged activation, which one dynamic int8 scale per tensor
    resolves worst; errors of early layers grow through the later ones, so the first layers come first.
    Where no node follows a Gelu, every weight MatMul is a candidate, in graph order. `exclude`: names
    that are fp32 anyway (the outlier paths of `split_ffn_outliers`).
    """
    producers = {output: node for node in graph.node for output in node.output}
    weights = {init.name for init in graph.initializer}
    matmuls = [n for n in graph.node if n.op_type == "MatMul" and n.name and n.input[1] in weights
               and n.name not in exclude]  # fmt: skip
    after_gelu = [n.name for n in matmuls if getattr(producers.get(n.input[0]), "op_type", "") in GELU_OPS]
    return after_gelu or [n.name for n in matmuls]


def ffn_blocks(graph) -> list[tuple[Any, Any, Any]]:
    """Return the (FFN input MatMul, BiasGelu, FFN output MatMul) triples of a fused graph, in order.

    Only plain chains qualify: constant weights and bias, each intermediate used by the next node only.
    """
    producers = {output: node for node in graph.node for output in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1
    weights = {init.name for init in graph.initializer}
    blocks = []
    for out in graph.node:
        gelu = producers.get(out.input[0]) if out.op_type == "MatMul" else None
        if gelu is None or gelu.op_type != "BiasGelu" or out.input[1] not in weights:
            continue
        first = producers.get(gelu.input[0])
        if (first is not None and first.op_type == "MatMul" and first.input[1] in weights
                and gelu.input[1] in weights and uses[gelu.input[0]] == 1 and uses[out.input[0]] == 1):  # fmt: skip
            blocks.append((first, gelu, out))
    return blocks


def split_ffn_outliers(model, amax: dict[str, np.ndarray], channels: int) -> list[str]:
    """Move the `channels` FFN channels with the largest activations of each layer to an fp32 side path.

    In BERT-like encoders a few FFN channels carry activations ~20x the others' (the [CLS] token's above
    all); with one dynamic int8 scale per tensor they leave the rest a handful of levels. So, as in
    LLM.int8() (Dettmers et al. 2022) but chosen once on calibration sentences (`amax`: the largest |value|
    of each channel of each FFN output projection's input), every FFN becomes two: the other channels
    (int8) plus those few (fp32: MatMul [hidden x channels], BiasGelu, MatMul [channels x hidden]), summed.
    The same function in fp32; rewrites `model` in place and returns the names of the fp32 side MatMuls.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    replaced: dict[str, list] = {}
    drop: set[str] = set()
    side: list[str] = []
    for first, gelu, out in ffn_blocks(graph):
        peak = amax.get(out.input[0])
        if peak is None or channels <= 0 or channels >= peak.size:
            continue
        top = np.sort(np.argsort(peak, kind="stable")[-channels:])
        rest = np.setdiff1d(np.arange(peak.size), top)
        w_in, bias = numpy_helper.to_array(inits[first.input[1]]), numpy_helper.to_array(inits[gelu.input[1]])
        w_out = numpy_helper.to_array(inits[out.input[1]])
        prefix = f"{out.name}/outliers"
        tensors = {"w_in": w_in[:, rest], "bias": bias[rest], "w_out": w_out[rest],
                   "w_in_top": w_in[:, top], "bias_top": bias[top], "w_out_top": w_out[top]}  # fmt: skip
        for key, array in tensors.items():
            graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(array), f"{prefix}/{key}"))
        x, t = first.input[0], f"{prefix}/"
        ms = "com.microsoft"
        replaced[out.name] = [
            helper.make_node("MatMul", [x, t + "w_in"], [t + "hidden"], name=first.name),
            helper.make_node("BiasGelu", [t + "hidden", t + "bias"], [t + "act"], name=gelu.name, domain=ms),
            helper.make_node("MatMul", [t + "act", t + "w_out"], [t + "main"], name=out.name),
            helper.make_node("MatMul", [x, t + "w_in_top"], [t + "hidden_top"], name=t + "in"),
            helper.make_node(
                "BiasGelu", [t + "hidden_top", t + "bias_top"], [t + "act_top"], name=t + "gelu", domain=ms
            ),  # fmt: skip
            helper.make_node("MatMul", [t + "act_top", t + "w_out_top"], [t + "side"], name=t + "out"),
            helper.make_node("Add", [t + "main", t + "side"], [out.output[0]], name=t + "sum"),
        ]
        drop |= {first.name, gelu.name}
        side += [t + "in", t + "out"]
    nodes = []
    for node in graph.node:
        if node.name in replaced:
            nodes.extend(replaced[node.name])
        elif node.name not in drop:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return side


def ffn_activation_peaks(model, batches: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Return, for each FFN output projection's input, the largest |value| of each channel on `batches`.

    Empty where the graph has no fused FFN block (`ffn_blocks`: a relu or gelu_new FFN, as T5 and GTR
    have, is not fused to BiasGelu): there is nothing to split then.
    """
    import onnx
    from onnx import helper

    names = [out.input[0] for _, _, out in ffn_blocks(model.graph)]
    if not names:  # session.run with no output names would return every output of the graph
        return {}
    ort = require_onnxruntime()
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in names:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(probe.SerializeToString(), options, providers=["CPUExecutionProvider"])
    peaks: dict[str, np.ndarray] = {}
    for feeds in batches:
        real = feeds["attention_mask"].astype(bool)
        for name, values in zip(names, session.run(names, feeds), strict=True):
            peak = np.abs(values[real]).max(0)
            peaks[name] = np.maximum(peaks[name], peak) if name in peaks else peak
    return peaks


def quantize_optimized_int8(opt_path: Path, int8_path: Path, mean_cosine: Callable[[Path], float], target: float, *,
                             batches: Sequence[dict[str, np.ndarray]] = (),
                             outlier_channels: int = INT8_OUTLIER_CHANNELS) -> dict[str, Any]:  # fmt: skip
    """Write the dynamic int8 graph of the optimized graph; return what it did.

    First the `outlier_channels` FFN channels with the largest activations on `batches` go to fp32 side
    paths (`split_ffn_outliers`); then every Attention and weight MatMul is quantized (one int8 scale per
    output channel, activations dynamic) and the mean cosine to fp32 measured (`mean_cosine(path)`);
    while it is below `target`, the next candidate of `int8_fp32_candidates` stays fp32 as a whole.
    Embeddings stay fp32 (a lookup: int8 would only save disk there).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = opt_path.with_name(opt_path.name + ".data").exists()
    model = onnx.load(str(opt_path))
    peaks = ffn_activation_peaks(model, batches) if batches and outlier_channels > 0 else {}
    side = split_ffn_outliers(model, peaks, outlier_channels) if peaks else []
    split_path = int8_path.with_name(int8_path.stem + "_split.onnx")
    onnx.save(model, str(split_path), save_as_external_data=external, location=split_path.name + ".data")
    candidates = int8_fp32_candidates(model.graph, exclude=side)
    del model
    kept: list[str] = []
    search = []
    try:
        while True:
            with quiet_tools():
                quantize_dynamic(split_path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["Attention", "MatMul"], nodes_to_exclude=side + kept,
                                 use_external_data_format=external,
                                 extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})  # fmt: skip
            cosine = mean_cosine(int8_path)
            search.append({"fp32_nodes": len(kept), "mean_cosine": round(cosine, 5)})
            if cosine >= target or len(kept) == len(candidates):
                break
            kept.append(candidates[len(kept)])
    finally:
        for temporary in (split_path, split_path.with_name(split_path.name + ".data")):
            temporary.unlink(missing_ok=True)
    if cosine < target:
        warnings.warn(f"the optimized int8 graph reaches a mean cosine of {cosine:.4f} to fp32 on the sample, "
                      f"below {target} even with all {len(kept)} FFN output projections in fp32", stacklevel=3)  # fmt: skip
    return {
        "weights": "QInt8",
        "per_channel": True,
        "activations": "dynamic QUInt8",
        "quantized_ops": ["Attention", "MatMul"],
        "outlier_channels": outlier_channels if side else 0,
        "split_ffn_layers": len(side) // 2,
        "fp32_nodes": kept,
        "min_cosine_target": target,
        "sample_mean_cosine": round(cosine, 5),
        "search": search,
    }
