"""`Encoder`: sentences of any language -> unit vectors in one space, from any encoder folder.

`Encoder.load` reads, in this order of preference:
- a sentence-transformers folder (`modules.json`: Transformer or StaticEmbedding, Pooling, Dense, Normalize);
- a Hugging Face encoder folder (XLM-R, BERT/mBERT, LaBSE-like; pooling from `xling.json` or mean);
- a name of a model shipped with xling (`xling-mini`), looked up in `$XLING_MODELS`, then
  `$XLING_HOME/models`, then the installed package's own `xling/models/` (package data, so an installed
  xling finds it offline, not only a source checkout);
- a Hub id, fetched through the Hugging Face cache where the network allows it.

`Encoder.encode` keeps no state of a call on the object (its statistics come back from `encode_with_stats`),
so one Encoder serves several threads at once; it shows a progress bar only when asked (`show_progress`).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from xling.artifacts import (
    LANGUAGE_IDENTIFIER_KIND,
    SUPPORT_BOT_KIND,
    TOKENIZER_KIND,
    TRANSLATION_KIND,
    WORD_MAPPING_KIND,
    read_json_file,
    read_metadata,
)
from xling.devices import resolve_device
from xling.embeddings.st_modules import read_st_modules, st_config_file
from xling.embeddings.static import StaticSentenceEncoder
from xling.embeddings.transformer import (
    ST_PROMPT_CONFIG,
    DenseLayer,
    TransformerSentenceEncoder,
    activation_name,
)
from xling.embeddings.weights import load_pretrained, load_safetensors, load_torch_weights
from xling.errors import ConfigError, DataError, XlingError

logger = logging.getLogger(__name__)

# sentence_transformers.models.Dense's activation_function when its config.json names none
ST_DENSE_DEFAULT_ACTIVATION = "torch.nn.modules.activation.Tanh"

# Models shipped with xling are package data (src/xling/models/<name>), so they travel with `pip install .`.
SHIPPED_MODELS = Path(__file__).resolve().parents[1] / "models"


# fp32; bf16 autocast (CPUs with AVX512-BF16/AMX, GPUs); int8: dynamic int8 weights (see quantize_int8)
PRECISIONS = ("fp32", "bf16", "int8")


def quantize_int8(module: nn.Module) -> nn.Module:
    """Return `module` with its Linear layers dynamically quantized to int8 (CPU only), down-projections kept.

    Weights get a scale per output channel, and the layers that narrow their input (in_features >
    out_features: the FFN output projections) stay in float32: dynamic quantization gives a whole
    activation tensor one scale, and the FFN's activations carry a few outlier channels that take that scale
    over (as in LLM.int8()). Quantizing them too left all-MiniLM-L6-v2's vectors at cosine 0.89 to float32
    and dependent on what else was in the batch (0.94); this way 0.986, at about 7% of the int8 speed-up.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    chosen = {name: per_channel_dynamic_qconfig for name, layer in module.named_modules()
              if isinstance(layer, nn.Linear) and layer.in_features <= layer.out_features}  # fmt: skip
    with warnings.catch_warnings():  # torch marks the eager quantization API as moving to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(module, chosen, dtype=torch.qint8)


@dataclass
class EncodeStats:
    """What one `encode_with_stats` call did: how many texts, how many were cut to the length limit."""

    texts: int = 0
    truncated: int = 0
    seconds: float = 0.0


# Folders xling writes that hold no text encoder: loaded as one, the language identifier (config.json with
# model_type "xling-langid") failed inside transformers with "Transformers is out of date".
_NOT_ENCODERS = {
    TOKENIZER_KIND: "a tokenizer (`xling tokenizer train`)",
    WORD_MAPPING_KIND: "a word mapping (`xling align words`)",
    LANGUAGE_IDENTIFIER_KIND: "a language identifier (`xling detect --model`)",
    TRANSLATION_KIND: "a translation model (`xling translate --model`)",
    SUPPORT_BOT_KIND: "a support bot (`xling bot`)",
}


def _check_not_another_kind(folder: Path, meta: Mapping[str, Any]) -> None:
    """Raise DataError naming the folder and what it holds when its xling.json says it is no encoder."""
    kind = str(meta.get("kind", ""))
    family = kind.split("/", 1)[0]
    what = _NOT_ENCODERS.get(kind) or _NOT_ENCODERS.get(family)
    if what is not None:
        raise DataError(f"not an encoder: this folder holds {what}", folder)


@dataclass
class EncoderOptions:
    """How to read a folder: override its pooling, layer, length limit; where and how to run."""

    pooling: str | None = None
    layer: int | None = None
    max_length: int | None = None
    device: str = "cpu"
    precision: str = "fp32"  # see PRECISIONS
    # torch, or a graph `xling export onnx` wrote in the folder: onnx, onnx-int8 (--int8), onnx-opt
    # (--optimize: ONNX Runtime's fused graph), onnx-opt-int8 (--optimize --int8: the fastest on CPU)
    backend: str = "torch"
    normalize: bool = True


class Encoder:
    """Encodes texts of any language into float32 vectors; `encode` is the one method most users need.

    Weights run in float32 (a float16 checkpoint's module is cast in place: there is no fp16 precision, so
    on a GPU it takes twice its stored memory), int8 (dynamic quantisation) or under bf16 autocast."""

    def __init__(self, module: nn.Module, *, name: str, normalize: bool = True, device: str = "cpu",
                 precision: str = "fp32", meta: dict[str, Any] | None = None):  # fmt: skip
        if precision not in PRECISIONS:
            raise ConfigError(f"precision {precision!r} must be one of {', '.join(PRECISIONS)}")
        if any(
            t.is_floating_point() and t.dtype != torch.float32
            for t in chain(module.parameters(), module.buffers())
        ):
            # a float16 checkpoint (many on the Hub): it ran in float16 as "fp32", and int8 quantisation and
            # bf16 autocast failed on its weights ("expected scalar type Float but found Half")
            module = module.float()
        self.module = module.to(device).eval()
        if precision == "int8":
            self.module = quantize_int8(self.module)
        self.name = name
        self.normalize = normalize
        self.device = torch.device(device)
        self.precision = precision
        self.meta = meta or {}
        self.source: str | None = None
        """What `load` was given (a folder, shipped name or Hub id); None for an encoder built otherwise. A
        bot or index stores it so as to load the same model again (`name` may be a folder's base name)."""

    @property
    def dimension(self) -> int:
        return self.module.dimension

    @property
    def kind(self) -> str:
        return self.module.kind

    @classmethod
    def load(cls, name_or_path: str | Path, **options: Any) -> Encoder:
        """Return the encoder in a folder, shipped model name or Hub id (see the module docstring)."""
        opts = EncoderOptions(**options)
        _check_options(opts)  # before a Hub look-up or a model load that a bad option would waste
        opts.device = resolve_device(opts.device)  # auto: a GPU when torch sees one
        folder = resolve_model(name_or_path, onnx=opts.backend != "torch")
        meta = read_metadata(folder)
        _check_not_another_kind(folder, meta)
        if opts.backend != "torch":
            from xling.embeddings.backends.onnx import load_onnx_module

            module, normalize = load_onnx_module(folder, opts)
        elif (folder / "modules.json").is_file():
            module, normalize = _load_sentence_transformers(folder, opts, meta)
        elif (folder / "config.json").is_file():
            module, normalize = _load_hf_encoder(folder, opts, meta), opts.normalize
        else:
            raise DataError("not an encoder folder: no modules.json or config.json", folder)
        encoder = cls(module, name=str(meta.get("name", name_or_path)), normalize=normalize, device=opts.device,
                      precision=opts.precision, meta=meta)  # fmt: skip
        encoder.source = str(name_or_path)
        return encoder

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        normalize: bool | None = None,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Return float32 vectors [len(texts), dimension] in input order (unit length unless normalize=False).

        Texts are encoded in batches of similar length (less padding); how many were cut at the length limit
        is logged once as a warning (and returned by `encode_with_stats`). Safe to call from several
        threads at once.
        """
        return self.encode_with_stats(texts, batch_size, normalize, show_progress)[0]

    def encode_with_stats(
        self,
        texts: Sequence[str],
        batch_size: int = 64,
        normalize: bool | None = None,
        show_progress: bool = False,
    ) -> tuple[np.ndarray, EncodeStats]:
        """Return (the vectors `encode` returns, what the call did: texts, truncated, seconds)."""
        texts = check_texts(texts)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a whole number >= 1, not {batch_size!r}")
        normalize = self.normalize if normalize is None else normalize
        started = time.perf_counter()
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        truncated = 0  # local: the object holds no state of a call, so threads can share it
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), autocast, _progress(len(texts), bool(show_progress)) as advance:
            for idx in similar_length_batches(texts, order, batch_size):
                features, cut = self.module.featurize([texts[i] for i in idx])
                truncated += cut
                features = {k: v.to(self.device) for k, v in features.items()}
                vectors = self.module(features).float()
                if normalize:
                    vectors = nn.functional.normalize(vectors, dim=-1)
                out[idx] = vectors.cpu().numpy()
                advance(len(idx))
        stats = EncodeStats(len(texts), truncated, time.perf_counter() - started)
        if truncated:
            limit = getattr(self.module, "max_length", None)
            # logged, not warnings.warn: a notice for people, not a quoted source line of xling's
            logger.warning("%d of %d texts were cut to the %s-token limit", truncated, len(texts), limit)
        return out, stats


def similar_length_batches(texts: Sequence[str], order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Return the batches (indices into `texts`) of `order` (longest first): at most `batch_size` texts, a new
    batch begun where a text is under half the batch's longest. A short text never rides with a long one:
    no long padding for it, and in int8 its activations are not quantized on the long text's scale (one
    scale per tensor: "A cat." beside a 40-sentence text came out at cosine 0.9797 to itself alone)."""
    start = 0
    while start < len(order):
        longest = len(texts[order[start]])
        end = start + 1
        while end < min(start + batch_size, len(order)) and 2 * len(texts[order[end]]) >= longest:
            end += 1
        yield order[start:end]
        start = end


def check_texts(texts: Sequence[str]) -> list[str]:
    """Return `texts` as a list; raise DataError naming the first entry that is not a non-empty string."""
    if isinstance(texts, str):
        raise DataError("encode() takes a list of texts, not one string (wrap it: [text])")
    if not isinstance(texts, Iterable):
        raise DataError(f"encode() takes a list of texts, not a {type(texts).__name__}")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"text {i} is a {type(text).__name__}, not a string")
        if not text.strip():
            raise DataError(f"text {i} is empty (an empty text has no meaning to encode)")
    return texts


def model_roots() -> list[Path]:
    """Return the folders searched for a shipped model name, in order: $XLING_MODELS, $XLING_HOME/models,
    the package's own models/."""
    roots = []
    if os.environ.get("XLING_MODELS"):
        roots.append(Path(os.environ["XLING_MODELS"]).expanduser())
    if os.environ.get("XLING_HOME"):
        roots.append(Path(os.environ["XLING_HOME"]).expanduser() / "models")
    return [*roots, SHIPPED_MODELS]


def shipped_folder(name: str) -> Path | None:
    """Return the folder `name` under the first of model_roots() that has one (None when none has)."""
    for root in model_roots():
        if (root / name).is_dir():
            return root / name
    return None


HUB_UNREAD_FILES = ("*.h5", "*.msgpack", "*.ot", "*.tflite", "*.mlmodel", "*.mlpackage/*", "openvino/*",
                    "coreml/*")  # fmt: skip
"""Files of a Hub model repository xling never reads, left out of its download: other frameworks' weights
(TensorFlow, Flax, Rust, TFLite, Core ML) and OpenVINO graphs: a repository that ships its weights in several
formats would otherwise be downloaded several times over. ONNX graphs (`onnx/`) are left out too unless an
ONNX backend is asked for (it reads the graphs `xling export onnx` wrote there)."""


def resolve_model(name_or_path: str | Path, *, onnx: bool = False) -> Path:
    """Return the local folder for a path, a shipped model name or a Hub id (cached or fetched; its `onnx/`
    folder only when `onnx`)."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    name = str(name_or_path)
    if (shipped := shipped_folder(name)) is not None:
        return shipped
    if path.exists():
        raise DataError("is a file, not a model folder", path)
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise DataError("no such model folder (nor a shipped model name such as xling-mini)", path)
    try:  # a Hub id such as sentence-transformers/LaBSE: the cache, or the network where there is one
        from huggingface_hub import snapshot_download

        unread = [*HUB_UNREAD_FILES, *(() if onnx else ("onnx/*",))]
        return Path(snapshot_download(name, ignore_patterns=unread))
    except Exception as error:  # offline, unknown repo, no access: say which and why
        raise XlingError(
            f"{name}: not a local folder, and fetching it from the Hub failed ({error})"
        ) from error


def _load_hf_encoder(folder: Path, opts: EncoderOptions, meta: dict[str, Any], *, pooling: str = "mean",
                     max_length: int | None = None, dense=(), lowercase: bool = False, prompt: str = "",
                     sentence_transformers: bool = False) -> TransformerSentenceEncoder:  # fmt: skip
    """Return a transformer encoder over the HF model in `folder` (options beat xling.json beat defaults).

    `max_length` None (a plain Hugging Face folder, or a null max_seq_length) means the model's own limit:
    the lower of its position table and its tokenizer's model_max_length, as sentence-transformers reads
    it. `sentence_transformers`: `folder` is a sentence-transformers Transformer module, whose T5-family
    model is read as its encoder stack whatever its architectures say (GTR, sentence-t5).
    """
    from xling.tokenization.vocabulary import load_folder_tokenizer

    encoder_class = _encoder_only_class(folder, sentence_transformers=sentence_transformers)
    if encoder_class is None:
        _refuse_encoder_decoder(folder)
    # xling.json (`meta`) may say how to pool: {"pooling": "mean", "layer": 3, "max_length": 128}
    pooling = opts.pooling or meta.get("pooling", pooling)
    model = _load_encoder_model(folder, pooling, encoder_class)
    tokenizer = load_folder_tokenizer(folder)
    check_vocabulary(tokenizer, getattr(model.config, "vocab_size", None), folder)
    return TransformerSentenceEncoder(
        model,
        tokenizer,
        pooling=pooling,
        layer=opts.layer if opts.layer is not None else meta.get("layer"),
        max_length=opts.max_length or meta.get("max_length", max_length),
        dense=dense,
        lowercase=lowercase,
        prompt=prompt,
    )


def check_vocabulary(tokenizer: Any, vocab_size: int | None, folder: Path) -> None:
    """Return nothing unless the tokenizer holds far fewer tokens than the model's embedding rows: with its
    vocabulary file gone (tokenizer.json, vocab.txt), transformers still builds a tokenizer of a handful of
    special tokens, every word reads as unknown, and the vectors mean nothing."""
    if isinstance(vocab_size, int) and len(tokenizer) < vocab_size / 2:
        raise DataError(f"the tokenizer holds {len(tokenizer):,} tokens for a model of {vocab_size:,}: its "
                        "vocabulary file (tokenizer.json, vocab.txt, sentencepiece.bpe.model...) is missing or "
                        "is another model's", folder)  # fmt: skip


# encoder-decoder families whose encoder stack is a sentence encoder (GTR, sentence-t5): model_type -> the
# transformers class of that stack, as sentence-transformers' Transformer module loads them
ENCODER_ONLY_CLASSES = {"t5": "T5EncoderModel", "mt5": "MT5EncoderModel", "umt5": "UMT5EncoderModel",
                        "longt5": "LongT5EncoderModel"}  # fmt: skip


def _model_config(folder: Path) -> dict[str, Any]:
    """Return the folder's config.json as a dict; DataError naming it when missing or not a JSON object."""
    config = read_json_file(
        folder / "config.json", missing="not a Hugging Face model folder (no config.json)"
    )
    if not isinstance(config, dict):
        raise DataError("not a Hugging Face config (a JSON object)", folder / "config.json")
    return config


def _encoder_only_class(folder: Path, *, sentence_transformers: bool) -> Any | None:
    """Return the transformers class of the encoder stack to load from `folder` (T5EncoderModel), or None
    for AutoModel's model.

    A T5-family model (ENCODER_ONLY_CLASSES) is read as its encoder stack where its architectures name that
    stack (a saved T5EncoderModel), or, in a sentence-transformers folder, whatever they name, as
    sentence-transformers does; a T5 checkpoint anywhere else is a translation model (refused).
    """
    config = _model_config(folder)
    name = ENCODER_ONLY_CLASSES.get(str(config.get("model_type", "")))
    architectures = [str(a) for a in config.get("architectures") or []]
    if name is None or not (sentence_transformers or name in architectures):
        return None
    import transformers

    return getattr(transformers, name)


def _refuse_encoder_decoder(folder: Path, what: str | None = None) -> None:
    """Raise DataError naming `folder` when its config.json (or, with `what`, the model built from it) is
    an encoder-decoder (translation) model.

    AutoModel would build it, and it would fail only at encode time asking for decoder inputs.
    """
    if what is None:
        config = _model_config(folder)
        architectures = [str(a) for a in config.get("architectures") or []]
        generative = [a for a in architectures if a.endswith("ForConditionalGeneration")]
        if not (config.get("is_encoder_decoder") or generative):
            return
        what = ", ".join(generative) or f"model_type {config.get('model_type')!r}, is_encoder_decoder"
    raise DataError(
        f"a translation model, not a sentence encoder ({what}); use it with `xling translate`, and give "
        "embed an encoder folder (sentence-transformers, XLM-R, BERT)",
        folder,
    )


def _load_encoder_model(folder: Path, pooling: str, model_class: Any | None = None) -> nn.Module:
    """Return the base model in `folder` (AutoModel's, or `model_class`'s: T5EncoderModel); refuse pooling
    'pooler' when the checkpoint has no trained pooler, and an encoder-decoder model (DataError).

    A masked LM or classifier checkpoint has no pooler weights: AutoModel fills them with random ones, so
    pooler vectors would differ on every load. Transformers' own load report (a table of unused head and
    missing pooler keys) is silenced; one logged line says what was used instead.
    """
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = load_pretrained(model_class or AutoModel, folder, output_loading_info=True)
    finally:
        hf_logging.set_verbosity(level)
    # AutoModel's model of a config.json that leaves the flag to its default (T5Config's is an
    # encoder-decoder); an encoder stack (UMT5EncoderModel) may keep the flag of its checkpoint
    if model_class is None and getattr(model.config, "is_encoder_decoder", False):
        _refuse_encoder_decoder(folder, f"{type(model).__name__}, is_encoder_decoder")
    missing_pooler = sorted(k for k in info.get("missing_keys", ()) if k.split(".")[0] == "pooler")
    if pooling == "pooler" and (missing_pooler or getattr(model, "pooler", None) is None):
        raise ConfigError(
            f"pooling 'pooler': {folder} has no trained pooler weights ({', '.join(missing_pooler) or 'no pooler'})"
            ", so its pooler output would be random; use pooling cls, mean or max"
        )
    unused = sorted(info.get("unexpected_keys", ()))
    if unused:
        head = sorted({k.split(".")[0] for k in unused})
        logger.info("%s: using the encoder of this checkpoint; its %s weights are not used",
                    folder, ", ".join(head))  # fmt: skip
    return model


def _load_sentence_transformers(
    folder: Path, opts: EncoderOptions, meta: dict[str, Any]
) -> tuple[nn.Module, bool]:
    """Return (the module a sentence-transformers folder describes, whether `Encoder` normalises its vectors).

    The second is `opts.normalize`, True unless asked otherwise, whether or not the folder ends with a
    Normalize module: xling gives unit vectors by default (what retrieval and mining compare). The raw
    vectors sentence-transformers gives for a folder without Normalize come with
    `Encoder.load(folder, normalize=False)` or `encode(texts, normalize=False)`. A Normalize module between
    Pooling and a Dense layer is applied there, as sentence-transformers applies it.
    """
    modules = read_st_modules(folder, required=True)
    kinds = [(module.kind, folder / module.path) for module in modules]
    normalize = opts.normalize  # unit vectors by default, Normalize module or not (see the docstring)
    # sentence-transformers writes the default prompt before every text, whatever the first module
    prompt = default_prompt(folder)
    first_kind, first_dir = kinds[0]
    if first_kind == "StaticEmbedding":
        _refuse_transformer_options(opts, folder)
        rest = [kind for kind, _ in kinds[1:] if kind != "Normalize"]
        if rest:
            raise DataError(
                f"modules after StaticEmbedding are not supported: {rest}", folder / "modules.json"
            )
        return StaticSentenceEncoder.load(first_dir, prompt=prompt), normalize
    if first_kind != "Transformer":
        raise DataError(f"first module {first_kind!r} is not supported (Transformer, StaticEmbedding)",
                        folder / "modules.json")  # fmt: skip
    # unit: a Normalize module stands since the last Pooling or Dense, so the next Dense gets a unit vector
    pooling, dense, prompt_pooled, unit = "mean", [], True, False
    for kind, path in kinds[1:]:
        if kind == "Pooling":
            pooling_config = read_json_file(path / "config.json")
            if not isinstance(pooling_config, dict):
                raise DataError("expected a JSON object of pooling settings", path / "config.json")
            pooling = _st_pooling(pooling_config, path / "config.json")
            prompt_pooled = pooling_config.get("include_prompt", True) is not False
            # a Normalize before Pooling has no sentence vector yet: sentence-transformers skips it
            unit = False
        elif kind == "Dense":
            dense.append(_st_dense(path, normalize_input=unit))
            unit = False
        elif kind == "Normalize":
            unit = True
        else:
            raise DataError(
                f"module {kind!r} is not supported (Pooling, Dense, Normalize)", folder / "modules.json"
            )
    max_length, lowercase = _st_transformer_config(st_config_file(first_dir))
    if prompt and not prompt_pooled:
        raise DataError(f"its default prompt {prompt!r} is left out of the pooling (include_prompt false), which "
                        "xling does not do; load it with sentence-transformers", folder)  # fmt: skip
    module = _load_hf_encoder(first_dir, opts, meta, pooling=pooling, max_length=max_length, dense=dense,
                              lowercase=lowercase, prompt=prompt, sentence_transformers=True)  # fmt: skip
    return module, normalize


def default_prompt(folder: str | Path) -> str:
    """Return the default prompt of a sentence-transformers folder's config_sentence_transformers.json ("" when
    it names none)."""
    return _st_default_prompt(Path(folder) / ST_PROMPT_CONFIG)


def _st_default_prompt(path: Path) -> str:
    """Return the prompt a config_sentence_transformers.json names as its default ("" when none)."""
    if not path.is_file():
        return ""
    config = read_json_file(path)
    name = config.get("default_prompt_name") if isinstance(config, dict) else None
    if not name:
        return ""
    prompts = config.get("prompts") or {}
    if not isinstance(prompts, dict) or not isinstance(prompts.get(name), str):
        raise DataError(f"default_prompt_name {name!r} is not one of its prompts", path)
    return prompts[name]


def _st_transformer_config(path: Path) -> tuple[int | None, bool]:
    """Return (max_seq_length, do_lower_case) of a sentence_bert_config.json (None, False without one).

    A null or missing max_seq_length, or no file, means the model's own limit, as in sentence-transformers
    (None here: the tokenizer's model_max_length, capped by the position table, or the `model_max_length`
    of its `tokenizer_args`, which sentence-transformers gives the tokenizer); sentence-transformers 6
    writes none and keeps its limit as the tokenizer's model_max_length.
    """
    if not path.is_file():
        return None, False
    config = read_json_file(path)
    if not isinstance(config, dict):
        raise DataError("not a sentence-transformers config (a JSON object)", path)
    field, max_length = "max_seq_length", config.get("max_seq_length")
    tokenizer_args = config.get("tokenizer_args")
    if max_length is None and isinstance(tokenizer_args, dict):
        field, max_length = "tokenizer_args.model_max_length", tokenizer_args.get("model_max_length")
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1
    ):
        raise DataError(f"{field} {max_length!r} must be a whole number >= 1 or null", path)
    lowercase = config.get("do_lower_case", False)
    if not isinstance(lowercase, bool):
        raise DataError(f"do_lower_case {lowercase!r} must be true or false", path)
    return max_length, lowercase


def _check_options(opts: EncoderOptions) -> None:
    """Raise ConfigError naming the option for values no encoder can use: a max_length or layer that is no
    whole number (max_length < 1), a device that is not cpu, cuda or cuda:N or that torch does not see (a
    misspelt one failed inside torch once the model had loaded)."""
    from xling.devices import check_device

    for name in ("max_length", "layer"):
        value = getattr(opts, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
    if opts.max_length is not None and opts.max_length < 1:
        raise ConfigError(f"max_length must be >= 1, not {opts.max_length}")
    if str(opts.device).split(":", 1)[0] not in ("mps", "xpu"):  # torch's other accelerators, unchecked
        check_device(str(opts.device), "device")


def _refuse_transformer_options(opts: EncoderOptions, folder: Path) -> None:
    """Raise ConfigError when pooling, layer or max_length are set for a static encoder (it has none)."""
    given = [name for name in ("pooling", "layer", "max_length") if getattr(opts, name) is not None]
    if given:
        raise ConfigError(
            f"{', '.join(given)}: not options of the static encoder {folder} (its vector is the mean of its "
            "token vectors: no pooling choice, no layers, no length limit); leave them out"
        )


def _st_pooling(config: dict[str, Any], path: Path) -> str:
    """Return xling's pooling name for a sentence-transformers Pooling config (old or new keys)."""
    if "pooling_mode" in config:
        mode = config["pooling_mode"]
        if isinstance(mode, list) and len(mode) == 1:  # sentence-transformers 6 may save modes as a list
            mode = mode[0]
        if not isinstance(mode, str):
            raise DataError(f"pooling modes {mode!r} are not supported (exactly one of cls/mean/max)", path)
    else:
        modes = [k for k in ("cls_token", "mean_tokens", "max_tokens") if config.get(f"pooling_mode_{k}")]
        extra = [k for k, v in config.items() if k.startswith("pooling_mode_") and v and k[13:] not in
                 ("cls_token", "mean_tokens", "max_tokens")]  # fmt: skip
        if len(modes) != 1 or extra:
            raise DataError(
                f"pooling modes {modes + extra} are not supported (exactly one of cls/mean/max)", path
            )
        mode = modes[0]
    names = {"cls_token": "cls", "mean_tokens": "mean", "max_tokens": "max", "cls": "cls", "mean": "mean",
             "max": "max"}  # fmt: skip
    if mode not in names:
        raise DataError(f"pooling mode {mode!r} is not supported (cls, mean, max)", path)
    return names[mode]


def _st_dense(path: Path, *, normalize_input: bool = False) -> DenseLayer:
    """Return the Dense layer saved in a sentence-transformers module folder (`normalize_input`: a Normalize
    module stands before it)."""
    config = read_json_file(path / "config.json")
    if not isinstance(config, dict):
        raise DataError("not a sentence-transformers Dense config (a JSON object)", path / "config.json")
    weights_file = path / "model.safetensors"
    if weights_file.is_file():
        weights = load_safetensors(weights_file)
    else:
        bin_file = path / "pytorch_model.bin"
        if not bin_file.is_file():
            raise DataError("Dense module has no model.safetensors or pytorch_model.bin", path)
        weights = load_torch_weights(bin_file)
    if "linear.weight" not in weights:
        raise DataError(
            f"Dense module weights have no linear.weight (found: {', '.join(sorted(weights))})", path
        )
    for key in ("module_input_name", "module_output_name"):
        # another name (token_embeddings) projects what the pooling reads, or puts the output aside
        if config.get(key) not in (None, "sentence_embedding"):
            raise DataError(f"Dense {key} {config[key]!r} is not supported: only a Dense over the sentence "
                              f"embedding is (sentence_embedding)", path / "config.json")  # fmt: skip
    use_residual = bool(config.get("use_residual", False))
    out_features, in_features = weights["linear.weight"].shape
    residual_weight = weights.get("residual.weight") if use_residual and in_features != out_features else None
    if use_residual and in_features != out_features and residual_weight is None:
        raise DataError(f"Dense with use_residual from {in_features} to {out_features} features has no "
                        "residual.weight", path)  # fmt: skip
    return DenseLayer(
        weights["linear.weight"],
        weights.get("linear.bias"),
        # no activation_function: sentence-transformers builds the Dense with its default, Tanh
        activation_name(config.get("activation_function", ST_DENSE_DEFAULT_ACTIVATION)),
        normalize_input=normalize_input,
        use_residual=use_residual,
        residual_weight=residual_weight,
    )


class _progress:
    """A rich progress bar over encoded texts, or nothing when not shown."""

    def __init__(self, total: int, show: bool):
        self.total, self.show, self.bar = total, show, None

    def __enter__(self):
        if not self.show:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        # on stderr: stdout may be the data (a pipe), and a bar there would land in it
        self.bar = Progress(
            "encoding",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=Console(stderr=True),
        )
        self.bar.start()
        task = self.bar.add_task("encoding", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
