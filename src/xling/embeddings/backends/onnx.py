"""ONNX Runtime backend of `Encoder`: an exported sentence-encoder graph run on the CPU.

`xling.export.onnx.export_onnx` writes `<folder>/onnx/model*.onnx` and `onnx/export.json`; this module reads
them for `Encoder.load(folder, backend="onnx" | "onnx-int8" | "onnx-opt" | "onnx-opt-int8")`. It imports
nothing from `xling.export` (the exporter imports this module, not the other way round).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from xling.artifacts import read_json_file
from xling.embeddings.transformer import TransformerSentenceEncoder, truncating_backend
from xling.errors import ConfigError, DataError, XlingError

if TYPE_CHECKING:
    from xling.embeddings.encoder import EncoderOptions

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
                 threads: int | None = None, disabled_optimizers: Sequence[str] = (), lowercase: bool = False,
                 prompt: str = ""):  # fmt: skip
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
        self.lowercase = lowercase  # as the source's do_lower_case: token_ids lowercases the texts first
        self.prompt = prompt  # as the source's default prompt: token_ids writes it before each text
        self._dimension = dimension
        self._tokenizer = truncating_backend(hf_tokenizer, max_length)
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


def _check_not_stale(folder: Path, meta: dict) -> None:
    """Return nothing when the export's recorded source files (config.json, weights) are those beside it, or
    when there is nothing to compare; DataError naming the change otherwise: graphs exported into a model
    folder that was trained again would give the old model's vectors without a sign."""
    from xling.export.ct2 import changed_since  # (xling.export imports this module)

    recorded = meta.get("source_files")
    why = changed_since(folder, recorded) if isinstance(recorded, dict) else None
    if why:
        raise DataError(f"the ONNX export here was made from other weights: {why}; export again with "
                        f"`xling export onnx --model {folder} --output {folder}`", folder / ONNX_DIR)  # fmt: skip


def load_onnx_module(folder: Path, opts: EncoderOptions) -> tuple[OnnxSentenceEncoder, bool]:
    """Return (the ONNX encoder `opts.backend` names in `folder`, whether its vectors are normalised)."""
    if opts.backend not in MODEL_FILES:
        raise ConfigError(f"backend {opts.backend!r} must be one of {', '.join(BACKENDS)}")
    meta_path = folder / ONNX_DIR / EXPORT_META
    model_path = folder / ONNX_DIR / MODEL_FILES[opts.backend]
    if not model_path.is_file() or not meta_path.is_file():
        hint = " --optimize" if opts.backend.startswith("onnx-opt") else ""
        hint += " --int8" if opts.backend.endswith("int8") else ""
        # another tool's graph (sentence-transformers', Optimum's): not replaced in place
        if model_path.is_file():
            raise DataError(f"{ONNX_DIR}/{model_path.name} here is no xling export (no {EXPORT_META}): create one "
                            f"in another folder with `xling export onnx --model {folder} --output DIR{hint}` "
                            "and load that", folder)  # fmt: skip
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
    meta = read_json_file(meta_path)
    if not isinstance(meta, dict) or not all(
        isinstance(meta.get(key), int) and not isinstance(meta.get(key), bool) for key in ("max_length", "dimension")
    ):  # fmt: skip
        raise DataError("expected the JSON object `xling export onnx` writes, with whole-number max_length and "
                        "dimension", meta_path)  # fmt: skip
    _check_not_stale(folder, meta)
    for option in ("pooling", "layer"):
        wanted = getattr(opts, option)
        if wanted is not None and wanted != meta.get(option):
            raise ConfigError(
                f"{option} is fixed in the exported graph ({meta.get(option)!r}); "
                f"re-export with {option}={wanted!r} to change it"
            )
    max_length = min(opts.max_length or meta["max_length"], meta.get("position_limit", meta["max_length"]))
    tokenizer = load_export_tokenizer(folder / meta.get("tokenizer_dir", "."))
    config_path = folder / "config.json"  # the model's own, written beside the export
    if config_path.is_file():
        from xling.embeddings.encoder import check_vocabulary

        config = read_json_file(config_path)
        check_vocabulary(tokenizer, config.get("vocab_size") if isinstance(config, dict) else None, folder)
    disabled = meta.get("optimized", {}).get("disabled_optimizers", []) if "opt" in opts.backend else []
    module = OnnxSentenceEncoder(model_path, tokenizer, max_length=max_length, dimension=meta["dimension"],
                                 disabled_optimizers=disabled, lowercase=bool(meta.get("lowercase", False)),
                                 prompt=str(meta.get("prompt", "")))  # fmt: skip
    return module, opts.normalize  # the graph gives raw pooled vectors; the Encoder normalises, as torch does


def load_export_tokenizer(path: Path):
    """Return the Hugging Face tokenizer saved beside an ONNX export."""
    from xling.tokenization.vocabulary import load_folder_tokenizer

    return load_folder_tokenizer(path)
