"""ONNX Runtime fast path for transformer sentence encoders: export (fp32, dynamic int8) and run.

`export_onnx` writes `<output>/onnx/model.onnx` (and `model_int8.onnx`): one graph from `input_ids` and
`attention_mask` to the pooled sentence vector (layer choice, pooling and Dense layers are inside the graph;
normalisation stays in `Encoder`), with dynamic batch and sequence axes. Next to it go the tokenizer files,
the sentence-transformers metadata (so the folder still says how it pools) and `onnx/export.json`, which
is what `Encoder.load(folder, backend="onnx" | "onnx-int8")` reads. Each export is checked: the report holds
the cosine of every variant's vectors to the PyTorch fp32 encoder's on real sentences, and their speed.

With `optimize`, the export also writes ONNX Runtime's transformer-optimized graph (`model_opt.onnx`:
fused Attention, EmbedLayerNormalization, BiasGelu; `onnxruntime.transformers.optimizer`) and, with `int8`
too, its dynamic int8 version (`model_opt_int8.onnx`, backend "onnx-opt-int8"): per-channel int8 weights
for the Attention and MatMul nodes, except for the few FFN channels per layer whose activations on the
sample are largest (an fp32 side path, `split_ffn_outliers`) and, only where the vectors' mean cosine to
fp32 on the sample is still below `int8_min_cosine`, the FFN output projections of the first layers
(which ones is in export.json).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from xling.atomic import write_json_atomically
from xling.embeddings.transformer import TransformerSentenceEncoder, _position_limit, _truncating_backend
from xling.errors import ConfigError, DataError, XlingError

if TYPE_CHECKING:
    from xling.embeddings.encoder import Encoder, EncoderOptions

ONNX_DIR = "onnx"
EXPORT_META = "export.json"
MODEL_FILES = {  # backend -> file in ONNX_DIR
    "onnx": "model.onnx",
    "onnx-int8": "model_int8.onnx",
    "onnx-opt": "model_opt.onnx",
    "onnx-opt-int8": "model_opt_int8.onnx",
}
BACKENDS = ("torch", *MODEL_FILES)
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "sentence_embedding"
# Files a Transformer module folder holds besides its weights: the tokenizer, the model config, ST's config.
TOKENIZER_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model", "sentencepiece.model",
    "tokenizer.model", "bpe.codes", "sentence_bert_config.json",
)  # fmt: skip
ROOT_META_FILES = (
    "modules.json",
    "config_sentence_transformers.json",
    "sentence_bert_config.json",
    "xling.json",
)
EXTERNAL_DATA_BYTES = 1_500_000_000  # protobuf caps one file at 2 GB: bigger models keep weights beside it
# ONNX Runtime re-fuses Add + LayerNormalization into SkipLayerNormalization when it loads a graph; on CPU
# (onnxruntime 1.32, AVX-512) that kernel is ~5x slower than the two ops it replaces, about 15% of an int8
# MiniLM's time, so the optimized graphs are written without it and loaded with the fusion turned off.
OPT_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
INT8_MIN_COSINE = 0.993  # default target of the optimized int8 graph (mean cosine to fp32 on the sample)
INT8_OUTLIER_CHANNELS = 4  # FFN channels per layer that the optimized int8 graph keeps in fp32
GELU_OPS = ("BiasGelu", "Gelu", "FastGelu", "QuickGelu")


def require_onnxruntime():
    """Return the onnxruntime module, or raise a XlingError saying how to install it."""
    try:
        import onnx  # noqa: F401  (the exporter and the quantizer need it)
        import onnxruntime
    except ImportError as error:
        raise XlingError(
            f"the ONNX backend needs onnx and onnxruntime ({error.name} is missing): "
            "pip install 'xling[onnx]'"
        ) from error
    return onnxruntime


class OnnxSentenceEncoder(nn.Module):
    """An exported sentence-encoder graph run by ONNX Runtime (CPU), with the encoder's own tokenisation.

    Same interface as `TransformerSentenceEncoder` as `Encoder` uses it: `featurize` (same ids, same
    truncation report), `collate`, `token_ids`, `dimension`, `max_length`; `forward` returns a torch tensor.
    """

    kind = "onnx"

    # Tokenisation is the transformer encoder's own code, so both backends see the very same ids.
    token_ids = TransformerSentenceEncoder.token_ids
    collate = TransformerSentenceEncoder.collate
    featurize = TransformerSentenceEncoder.featurize

    def __init__(self, model_path: str | Path, hf_tokenizer, *, max_length: int, dimension: int,
                 threads: int | None = None, disabled_optimizers: Sequence[str] = ()):  # fmt: skip
        super().__init__()
        ort = require_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only
        try:
            self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=list(disabled_optimizers) or None)  # fmt: skip
        except Exception as error:  # a truncated or foreign file: name it
            raise DataError(f"cannot load the ONNX model: {error}", model_path) from error
        names = [i.name for i in self.session.get_inputs()]
        if sorted(names) != sorted(INPUT_NAMES):
            raise DataError(f"ONNX inputs {names}, expected {list(INPUT_NAMES)}", model_path)
        self.model_path = Path(model_path)
        self.hf_tokenizer = hf_tokenizer
        self.max_length = max_length
        self._dimension = dimension
        self._tokenizer = _truncating_backend(hf_tokenizer, max_length)
        self.pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
        self._output = self.session.get_outputs()[0].name
        self.disabled_optimizers = list(disabled_optimizers)

    @property
    def dimension(self) -> int:
        return self._dimension

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        feeds = {
            name: features[name].detach().cpu().numpy().astype(np.int64, copy=False) for name in INPUT_NAMES
        }
        return torch.from_numpy(self.session.run([self._output], feeds)[0])


def load_onnx_module(folder: Path, opts: EncoderOptions) -> tuple[OnnxSentenceEncoder, bool]:
    """Return (the ONNX encoder `opts.backend` names in `folder`, whether its vectors are normalised)."""
    if opts.backend not in MODEL_FILES:
        raise ConfigError(f"backend {opts.backend!r} must be one of {', '.join(BACKENDS)}")
    meta_path = folder / ONNX_DIR / EXPORT_META
    model_path = folder / ONNX_DIR / MODEL_FILES[opts.backend]
    if not model_path.is_file() or not meta_path.is_file():
        hint = " --optimize" if opts.backend.startswith("onnx-opt") else ""
        hint += " --int8" if opts.backend.endswith("int8") else ""
        raise DataError(
            f"no {ONNX_DIR}/{model_path.name} (and {EXPORT_META}) here for backend {opts.backend!r}: "
            f"create it with `xling export onnx --model {folder} --output {folder}{hint}`",
            folder,
        )
    if opts.device != "cpu" or opts.precision != "fp32":
        raise ConfigError(
            f"backend {opts.backend!r} runs on the CPU in the precision it was exported in: "
            "leave device=cpu and precision=fp32 (use backend='onnx-int8' or 'onnx-opt-int8' for int8)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON ({error.msg})", meta_path, error.lineno) from error
    for option in ("pooling", "layer"):
        wanted = getattr(opts, option)
        if wanted is not None and wanted != meta.get(option):
            raise ConfigError(
                f"{option} is fixed in the exported graph ({meta.get(option)!r}); "
                f"re-export with {option}={wanted!r} to change it"
            )
    max_length = min(opts.max_length or meta["max_length"], meta.get("position_limit", meta["max_length"]))
    tokenizer = _load_tokenizer(folder / meta.get("tokenizer_dir", "."))
    disabled = meta.get("optimized", {}).get("disabled_optimizers", []) if "opt" in opts.backend else []
    module = OnnxSentenceEncoder(model_path, tokenizer, max_length=max_length, dimension=meta["dimension"],
                                 disabled_optimizers=disabled)  # fmt: skip
    return module, bool(meta.get("normalize")) or opts.normalize


def _load_tokenizer(path: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise DataError(f"cannot load the tokenizer of the ONNX export: {error}", path) from error


@dataclass
class VariantReport:
    """One way of running the encoder, measured on the sample against the PyTorch fp32 encoder."""

    name: str  # "torch fp32", "onnx fp32", "onnx int8"
    file: str | None
    megabytes: float | None
    mean_cosine: float
    min_cosine: float
    sentences_per_s: float
    backend: str = "torch"  # what Encoder.load(folder, backend=...) takes to run it


@dataclass
class ExportReport:
    """What `export_onnx` wrote, and how close and how fast each variant is."""

    output: Path
    exporter: str  # "dynamo" or "torchscript" (the fallback)
    opset: int
    sentences: int
    threads: int
    variants: list[VariantReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "output": str(self.output)}


def sample_sentences(per_language: int = 64, corpus: str | Path | None = None) -> list[str]:
    """Return the first `per_language` sentences of each language of a corpus (default: the bundled one)."""
    from xling.data.readers import AlignedCorpus
    from xling.data.sources import sample_corpus_dir

    aligned = AlignedCorpus.from_dir(corpus or sample_corpus_dir())
    return [text for lang in aligned.languages for _, text in islice(aligned.sentences(lang), per_language)]


def export_onnx(
    encoder_or_folder: Encoder | str | Path,
    output_dir: str | Path,
    *,
    int8: bool = False,
    optimize: bool = False,
    int8_min_cosine: float = INT8_MIN_COSINE,
    int8_outlier_channels: int = INT8_OUTLIER_CHANNELS,
    sentences: Sequence[str] | None = None,
    opset: int = 18,
    batch_size: int = 32,
    **options: Any,
) -> ExportReport:
    """Export a transformer encoder to `output_dir/onnx/` (fp32, and dynamic int8 with `int8`); measure it.

    `encoder_or_folder` is a loaded fp32 `Encoder` or anything `Encoder.load` takes (then `options`, such
    as pooling or max_length, go to it). `output_dir` may be the model folder itself. The report compares
    every variant with the PyTorch fp32 encoder on `sentences` (default: 64 per language of the bundled
    sample corpus). Static encoders are refused: they are a table lookup and a mean, nothing to speed up.
    `optimize` adds ONNX Runtime's fused transformer graph (`model_opt.onnx`, and `model_opt_int8.onnx`
    with `int8`: `int8_outlier_channels` FFN channels per layer in fp32, chosen on `sentences`, and whole
    FFN output projections in fp32 if needed to reach `int8_min_cosine`; see the module docstring).
    """
    from xling.embeddings.encoder import Encoder, check_texts, resolve_model

    require_onnxruntime()
    if not 0.0 < int8_min_cosine <= 1.0:
        raise ConfigError(f"int8_min_cosine must be in (0, 1], not {int8_min_cosine}")
    if int8_outlier_channels < 0:
        raise ConfigError(f"int8_outlier_channels must be >= 0, not {int8_outlier_channels}")
    source: Path | None = None
    if isinstance(encoder_or_folder, Encoder):
        if options:
            raise ConfigError(f"options {sorted(options)} only apply when exporting from a folder")
        encoder = encoder_or_folder
    else:
        source = resolve_model(encoder_or_folder)
        encoder = Encoder.load(source, **options)
    module = encoder.module
    if encoder.kind == "static":
        raise ConfigError(
            "static encoders (kind 'static') have nothing to gain from ONNX: encoding is already one "
            "embedding-table lookup and a mean; use the folder as it is"
        )
    if not isinstance(module, TransformerSentenceEncoder):
        raise ConfigError(f"only transformer encoders can be exported to ONNX, not kind {encoder.kind!r}")
    if encoder.precision != "fp32":
        raise ConfigError(
            f"export an fp32 encoder, not {encoder.precision} (use int8=True for an int8 graph)"
        )
    texts = check_texts(sentences if sentences is not None else sample_sentences())
    if not texts:
        raise DataError("no sentences to measure the export on")

    out = Path(output_dir)
    onnx_dir = out / ONNX_DIR
    onnx_dir.mkdir(parents=True, exist_ok=True)
    paths = {backend: onnx_dir / name for backend, name in MODEL_FILES.items()}
    wanted = {"onnx", *(["onnx-int8"] if int8 else []), *(["onnx-opt"] if optimize else []),
              *(["onnx-opt-int8"] if int8 and optimize else [])}  # fmt: skip
    for backend, path in paths.items():  # graphs of an earlier export would no longer match
        if backend not in wanted:
            for stale in (path, path.with_name(path.name + ".data")):
                stale.unlink(missing_ok=True)
    exporter = _export_graph(module, paths["onnx"], opset)
    if int8:
        _quantize_int8(paths["onnx"], paths["onnx-int8"])
    tokenizer_dir = _write_folder_files(encoder, source, out)
    meta = {
        "format": 1,
        "source": str(source) if source is not None else encoder.name,
        "exporter": exporter,
        "opset": opset,
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "files": {
            "fp32": paths["onnx"].name,
            "int8": paths["onnx-int8"].name if int8 else None,
            "opt": None,
            "opt_int8": None,
        },  # fmt: skip
        "int8": {"weights": "QInt8", "per_channel": True, "activations": "dynamic QUInt8"} if int8 else None,
        "optimized": None,
        "opt_int8": None,
        "pooling": module.pooling,
        "layer": module.layer,
        "dense_layers": len(module.dense),
        "dimension": module.dimension,
        "max_length": module.max_length,
        "position_limit": _position_limit(module.model),
        "normalize": encoder.normalize,
        "tokenizer_dir": tokenizer_dir,
        "torch": torch.__version__,
        "onnxruntime": require_onnxruntime().__version__,
    }
    with warnings.catch_warnings():  # texts cut at the limit are cut alike in every variant
        warnings.simplefilter("ignore")
        reference, torch_speed = _timed_encode(encoder, texts, batch_size)
        if optimize:
            meta["optimized"] = _optimize_graph(module, paths["onnx"], paths["onnx-opt"], opset)
            meta["files"]["opt"] = paths["onnx-opt"].name
            if int8:

                def mean_cosine(path: Path) -> float:
                    candidate = OnnxSentenceEncoder(
                        path, module.hf_tokenizer, max_length=module.max_length, dimension=module.dimension,
                        disabled_optimizers=OPT_DISABLED_OPTIMIZERS,
                    )  # fmt: skip
                    vectors = _encode_unit(candidate, texts, batch_size)
                    return float((vectors * reference).sum(1).mean())

                batches = [
                    {name: tensor.numpy() for name, tensor in module.featurize(texts[i : i + batch_size])[0].items()}
                    for i in range(0, len(texts), batch_size)
                ]  # fmt: skip
                meta["opt_int8"] = _quantize_optimized_int8(
                    paths["onnx-opt"], paths["onnx-opt-int8"], mean_cosine, int8_min_cosine, batches=batches,
                    outlier_channels=int8_outlier_channels,
                )  # fmt: skip
                meta["files"]["opt_int8"] = paths["onnx-opt-int8"].name
    _write_json(onnx_dir / EXPORT_META, meta)

    report = ExportReport(out, exporter, opset, len(texts), torch.get_num_threads())
    names = {"onnx": "onnx fp32", "onnx-int8": "onnx int8", "onnx-opt": "onnx-opt fp32",
             "onnx-opt-int8": "onnx-opt int8"}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.variants.append(VariantReport("torch fp32", None, None, 1.0, 1.0, torch_speed))
        for backend, name in names.items():
            if backend not in wanted:
                continue
            onnx_encoder = Encoder.load(out, backend=backend)
            vectors, speed = _timed_encode(onnx_encoder, texts, batch_size)
            cos = (vectors * reference).sum(1)  # both unit length
            path = paths[backend]
            report.variants.append(VariantReport(name, path.name, round(_megabytes(path), 1),
                                                 float(cos.mean()), float(cos.min()), speed, backend))  # fmt: skip
    _write_json(onnx_dir / EXPORT_META, {**meta, "report": report.to_dict()})
    return report


class _SentenceGraph(nn.Module):
    """The exported function: (input_ids, attention_mask) -> pooled sentence vector (before normalising)."""

    def __init__(self, module: TransformerSentenceEncoder):
        super().__init__()
        self.module = module

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.module({"input_ids": input_ids, "attention_mask": attention_mask})


def _export_graph(module: TransformerSentenceEncoder, path: Path, opset: int) -> str:
    """Write the graph of `module` to `path`; return which exporter did it.

    The dynamo exporter (torch.export + onnxscript, the default since torch 2.9) exports XLM-R and BERT
    encoders with mean/cls/max/pooler pooling and gives the same vectors (checked by the report); the
    TorchScript exporter (`dynamo=False`, deprecated) is kept as a fallback for models it cannot trace.
    """
    graph = _SentenceGraph(module).eval()
    device = next(module.parameters()).device
    features, _ = module.featurize(["A first sentence to trace.", "A second, longer one, so rows differ."])
    args = tuple(features[name].to(device) for name in INPUT_NAMES)  # batch 2: 1 would be specialised
    external = sum(p.numel() * p.element_size() for p in module.parameters()) > EXTERNAL_DATA_BYTES
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    try:
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                graph, args, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in INPUT_NAMES},
                opset_version=opset, dynamo=True, external_data=external, verbose=False,
            )  # fmt: skip
        return "dynamo"
    except Exception as error:  # noqa: BLE001  (any failure of the new exporter: try the old one)
        dynamo_error = error
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    try:
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                graph, args, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}}, opset_version=opset, dynamo=False,
            )  # fmt: skip
    except Exception as error:
        raise XlingError(
            f"ONNX export failed with both exporters: dynamo ({dynamo_error}); torchscript ({error})"
        ) from error
    return "torchscript"


def _quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Write a copy of the graph with int8 weights and dynamically quantized activations (MatMul/Gemm).

    Weights get one scale per output channel: on all-MiniLM-L6-v2 over the bundled sample this keeps a
    mean cosine to fp32 of 0.990 (min 0.974), against 0.933 (min 0.850) with one scale per tensor (the
    ONNX Runtime default), at the same speed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    external = fp32_path.with_name(fp32_path.name + ".data").exists()
    with _quiet():
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8, per_channel=True,
                         use_external_data_format=external)  # fmt: skip


def _optimize_graph(module: TransformerSentenceEncoder, plain_path: Path, opt_path: Path, opset: int
                    ) -> dict[str, Any]:  # fmt: skip
    """Write ONNX Runtime's fused transformer graph of `module` to `opt_path`; return what was done.

    The optimizer recognises attention in a TorchScript export of eager attention (the dynamo export and
    SDPA decompose it differently), so that is its input; where that export fails, the dynamo graph in
    `plain_path` is optimized instead (LayerNorm and Gelu fusions only). SkipLayerNormalization is left
    out (see OPT_DISABLED_OPTIMIZERS).
    """
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    config = module.model.config
    raw = opt_path.with_name(opt_path.stem + "_traced.onnx")
    try:
        _export_eager_torchscript(module, raw, opset)
        source, graph = raw, "torchscript, eager attention"
    except Exception:  # noqa: BLE001  (the deprecated exporter may refuse a model: fuse what dynamo wrote)
        source, graph = plain_path, "dynamo"
    options = FusionOptions("bert")
    options.enable_skip_layer_norm = False
    external = _megabytes(source) * 1e6 > EXTERNAL_DATA_BYTES
    try:
        with _quiet():
            model = optimize_model(str(source), model_type="bert", num_heads=config.num_attention_heads,
                                   hidden_size=config.hidden_size, opt_level=0, optimization_options=options)  # fmt: skip
            fused = {op: n for op, n in model.get_fused_operator_statistics().items() if n}
            for stale in (opt_path, opt_path.with_name(opt_path.name + ".data")):
                stale.unlink(missing_ok=True)
            model.save_model_to_file(str(opt_path), use_external_data_format=external)
    finally:
        for temporary in (raw, raw.with_name(raw.name + ".data")):
            temporary.unlink(missing_ok=True)
    return {
        "tool": "onnxruntime.transformers.optimizer (model_type bert, opt_level 0)",
        "graph": graph,
        "num_heads": config.num_attention_heads,
        "hidden_size": config.hidden_size,
        "fused_ops": fused,
        "disabled_optimizers": list(OPT_DISABLED_OPTIMIZERS),
    }


def _export_eager_torchscript(module: TransformerSentenceEncoder, path: Path, opset: int) -> None:
    """Write `module`'s graph with eager attention through the TorchScript exporter (restores the model)."""
    model = module.model
    before = getattr(model.config, "_attn_implementation", None)
    _set_attention(model, "eager")
    try:
        graph = _SentenceGraph(module).eval()
        device = next(module.parameters()).device
        features, _ = module.featurize(
            ["A first sentence to trace.", "A second, longer one, so rows differ."]
        )
        args = tuple(features[name].to(device) for name in INPUT_NAMES)
        axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
        with _quiet(), torch.no_grad():
            torch.onnx.export(
                graph, args, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}}, opset_version=opset, dynamo=False,
            )  # fmt: skip
    finally:
        if before is not None:
            _set_attention(model, before)


def _set_attention(model: nn.Module, name: str) -> None:
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(name)
    else:
        model.config._attn_implementation = name


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


def _ffn_blocks(graph) -> list[tuple[Any, Any, Any]]:
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
    for first, gelu, out in _ffn_blocks(graph):
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
    """Return, for each FFN output projection's input, the largest |value| of each channel on `batches`."""
    import onnx
    from onnx import helper

    ort = require_onnxruntime()
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = [out.input[0] for _, _, out in _ffn_blocks(probe.graph)]
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


def _quantize_optimized_int8(opt_path: Path, int8_path: Path, mean_cosine, target: float, *,
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
            with _quiet():
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


def _write_folder_files(encoder: Encoder, source: Path | None, out: Path) -> str:
    """Put the tokenizer and metadata in `out`; return the tokenizer's folder relative to `out`."""
    module: TransformerSentenceEncoder = encoder.module
    if source is None:  # a loaded Encoder: no folder to copy from; save the tokenizer and xling.json
        module.hf_tokenizer.save_pretrained(out)
        if encoder.meta:
            _write_json(out / "xling.json", encoder.meta)
        return "."
    modules_path = source / "modules.json"
    modules = json.loads(modules_path.read_text(encoding="utf-8")) if modules_path.is_file() else []
    first = modules[0].get("path", "") if modules else ""
    tokenizer_dir = first or "."
    if source.resolve() == out.resolve():
        return tokenizer_dir
    for name in ROOT_META_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    (out / tokenizer_dir).mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / tokenizer_dir / name).is_file():
            shutil.copy2(source / tokenizer_dir / name, out / tokenizer_dir / name)
    for entry in modules[1:]:  # Pooling, Dense, Normalize folders: how the vector is made (also in the graph)
        path = entry.get("path", "")
        if path and (source / path).is_dir():
            shutil.copytree(source / path, out / path, dirs_exist_ok=True)
    return tokenizer_dir


def _encode_unit(module: nn.Module, texts: list[str], batch_size: int) -> np.ndarray:
    """Return the unit vectors of `texts` by a sentence-encoder module (fp32, CPU)."""
    from xling.embeddings.encoder import Encoder

    encoder = Encoder(module, name="candidate")
    return encoder.encode(texts, batch_size=batch_size, normalize=True, show_progress=False)


def _timed_encode(encoder: Encoder, texts: list[str], batch_size: int) -> tuple[np.ndarray, float]:
    """Return (unit vectors of `texts`, sentences per second), after one warm-up batch."""
    encoder.encode(texts[:batch_size], batch_size=batch_size, normalize=True, show_progress=False)
    vectors = encoder.encode(texts, batch_size=batch_size, normalize=True, show_progress=False)
    return vectors, len(texts) / max(encoder.last_stats.seconds, 1e-9)


def _megabytes(path: Path) -> float:
    data = path.with_name(path.name + ".data")
    return (path.stat().st_size + (data.stat().st_size if data.exists() else 0)) / 1e6


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    write_json_atomically(path, payload)


@contextmanager
def _quiet():
    """Silence the exporter's and quantizer's progress lines and warnings (the report checks the result)."""
    names = ("torch.onnx", "onnxscript", "onnx_ir", None)  # None: the root logger (the quantizer's hints)
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
