"""Export a transformer sentence encoder to ONNX Runtime graphs (fp32, int8, fused), each checked against it.

`export_onnx` writes `<output>/onnx/model.onnx` (and `model_int8.onnx`): one graph from `input_ids` and
`attention_mask` to the pooled sentence vector (layer choice, pooling and Dense layers are inside the graph;
normalisation stays in `Encoder`), with dynamic batch and sequence axes. Next to it go the tokenizer files,
the sentence-transformers metadata (so the folder still says how it pools) and `onnx/export.json`, which
is what `Encoder.load(folder, backend="onnx" | "onnx-int8")` reads (`xling.embeddings.backends.onnx`). Each
export is checked: the report holds the cosine of every variant's vectors to the PyTorch fp32 encoder's on
real sentences, and their speed.

With `optimize`, the export also writes ONNX Runtime's transformer-optimized graph (`model_opt.onnx`:
fused Attention, EmbedLayerNormalization, BiasGelu; `onnxruntime.transformers.optimizer`) and, with `int8`
too, its dynamic int8 version (`model_opt_int8.onnx`, backend "onnx-opt-int8"; `xling.export.quantize`).

An export is written into a hidden staging folder beside `onnx/` (`.onnx.PID.tmp`), checked there, and moved
into place only once every check has passed: one that fails (or is interrupted) leaves the folder's earlier
export, graphs, export.json and tokenizer, as it was, as the CTranslate2 export does. So a re-export needs room
for both exports at once on the output folder's disk (where the staging folder is) until the swap. The swap
renames files; where `onnx/` is a link to another disk it copies them instead: the earlier graphs out to the
output folder's disk (`.onnx.PID.old`, until the new ones are in) and the new ones across to the link's.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from copy import deepcopy as copy_module
from dataclasses import asdict, dataclass, field
from itertools import islice
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from torch import nn

from xling.artifacts import METADATA_FILE, write_metadata
from xling.atomic import (
    claim_temporary,
    is_staging_name,
    release_temporaries,
    same_path,
    shown_names,
    warn_of_leftovers,
    write_json_atomically,
)
from xling.embeddings.backends.onnx import (
    EXPORT_META,
    INPUT_NAMES,
    MODEL_FILES,
    ONNX_DIR,
    OUTPUT_NAME,
    OnnxSentenceEncoder,
    require_onnxruntime,
)
from xling.embeddings.encoder import Encoder, check_texts, resolve_model
from xling.embeddings.st_modules import ST_TRANSFORMER_CONFIGS, read_st_modules, st_config_file
from xling.embeddings.transformer import TransformerSentenceEncoder, position_table
from xling.errors import ConfigError, DataError, XlingError
from xling.export.config import FP32_MIN_COSINE, INT8_MIN_COSINE, INT8_OUTLIER_CHANNELS
from xling.export.ct2 import source_fingerprints
from xling.export.measure import encode_unit, megabytes, timed_encode
from xling.export.quantize import (
    quantize_int8,
    quantize_optimized_int8,
)
from xling.export.quiet import quiet_tools
from xling.hf_attention import attention_of, set_attention

logger = logging.getLogger(__name__)

# Files a Transformer module folder holds besides its weights: the tokenizer, the model config, ST's config.
TOKENIZER_FILES = (
    "config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.txt", "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model", "sentencepiece.model",
    "tokenizer.model", "bpe.codes", *ST_TRANSFORMER_CONFIGS,
)  # fmt: skip
ROOT_META_FILES = (
    "modules.json",
    "config_sentence_transformers.json",
    *ST_TRANSFORMER_CONFIGS,
    METADATA_FILE,
)
GRAPH_OPTIONS = ("pooling", "layer", "max_length")
"""Encoder.load options an export builds into its graph or export.json (refused for an in-place export)."""
EXTERNAL_DATA_BYTES = 1_500_000_000  # protobuf caps one file at 2 GB: bigger models keep weights beside it
# ONNX Runtime re-fuses Add + LayerNormalization into SkipLayerNormalization when it loads a graph; on CPU
# (onnxruntime 1.32, AVX-512) that kernel is ~5x slower than the two ops it replaces, about 15% of an int8
# MiniLM's time, so the optimized graphs are written without it and loaded with the fusion turned off.
OPT_DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


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
    as pooling or max_length, go to it). `output_dir` may be the model folder itself (then without the
    options GRAPH_OPTIONS: see `_check_in_place_options`). The report compares
    every variant with the PyTorch fp32 encoder on `sentences` (default: 64 per language of the bundled
    sample corpus). Static encoders are refused: they are a table lookup and a mean, nothing to speed up.
    `optimize` adds ONNX Runtime's fused transformer graph (`model_opt.onnx`, and `model_opt_int8.onnx`
    with `int8`: `int8_outlier_channels` FFN channels per layer in fp32, chosen on `sentences`, and whole
    FFN output projections in fp32 if needed to reach `int8_min_cosine`; see the module docstring).
    All of it is checked before any of it replaces what `output_dir` holds: an export that fails leaves an
    earlier one whole (no variant is written when one fails).
    """
    require_onnxruntime()
    if not 0.0 < int8_min_cosine <= 1.0:
        raise ConfigError(f"int8_min_cosine must be in (0, 1], not {int8_min_cosine}")
    if int8_outlier_channels < 0:
        raise ConfigError(f"int8_outlier_channels must be >= 0, not {int8_outlier_channels}")
    out = check_output_dir(output_dir)  # before loading a model, which a bad --output would waste
    source: Path | None = None
    given_encoder = isinstance(encoder_or_folder, Encoder)
    if given_encoder:
        if options:
            raise ConfigError(f"options {sorted(options)} only apply when exporting from a folder")
        encoder = encoder_or_folder
        source = _folder_loaded_from(encoder, out)  # an export into the folder the encoder was loaded from
        _check_export_target(out, source, encoder.name)
        if source is not None:
            _check_loaded_in_place(encoder, source)
    else:
        source = resolve_model(encoder_or_folder)
        _check_export_target(out, source, str(source))  # before loading the model, as above
        _check_in_place_options(out, source, options)
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
    encoder = _float32_encoder(encoder, copy=given_encoder)
    texts = check_texts(sentences if sentences is not None else sample_sentences())
    if not texts:
        raise DataError("no sentences to measure the export on")

    # everything is built in a staging folder beside onnx/ (`.onnx.PID.tmp`, laid out as the output folder)
    # and moved into place only once every check has passed (_swap_in): a failure, an exporter's, the
    # optimizer's or a check's, or Ctrl-C leaves an earlier export (graphs, export.json, tokenizer) as it was
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    onnx_dir = Path(os.path.abspath(out / ONNX_DIR))
    staging = claim_temporary(onnx_dir)  # its own name per thread as well as per process
    warn_of_leftovers(onnx_dir, staging)
    try:
        shutil.rmtree(staging, ignore_errors=True)  # left by a killed process that had this id
        (staging / ONNX_DIR).mkdir(parents=True)
        report = _build_export(encoder, source, out, staging, texts, int8=int8, optimize=optimize,
                               int8_min_cosine=int8_min_cosine, int8_outlier_channels=int8_outlier_channels,
                               opset=opset, batch_size=batch_size)  # fmt: skip
        _swap_in(staging, out)
    except BaseException:
        if created:  # a new output folder, which held nothing before: not left behind, empty or half-filled
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        release_temporaries([staging])
    return report


def _build_export(encoder: Encoder, source: Path | None, out: Path, staging: Path, texts: list[str], *,
                  int8: bool, optimize: bool, int8_min_cosine: float, int8_outlier_channels: int, opset: int,
                  batch_size: int) -> ExportReport:  # fmt: skip
    """Return the report of the export of `encoder` into `out`, after writing it into `staging` (laid out as
    `out`: the graphs and export.json in its onnx/, the tokenizer and metadata files beside them) and checking
    it there; XlingError when an fp32 graph's vectors are not PyTorch's. Nothing in `out` is touched."""
    module: TransformerSentenceEncoder = encoder.module
    staged = staging / ONNX_DIR
    paths = {backend: staged / name for backend, name in MODEL_FILES.items()}
    wanted = {"onnx", *(["onnx-int8"] if int8 else []), *(["onnx-opt"] if optimize else []),
              *(["onnx-opt-int8"] if int8 and optimize else [])}  # fmt: skip
    exporter = _export_graph(module, paths["onnx"], opset)
    if int8:
        quantize_int8(paths["onnx"], paths["onnx-int8"])
    in_place = source is not None and same_path(source, out)
    tokenizer_dir = _write_folder_files(encoder, source, out, staging)
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
        "lowercase": module.lowercase,
        "prompt": module.prompt,
        # the most tokens a load may ask for; a model without a position table (T5) is held to the exported
        # limit, which the backend's reader takes for a missing one too
        "position_limit": position_table(module.model) or module.max_length,
        "normalize": encoder.normalize,
        "tokenizer_dir": tokenizer_dir,
        "torch": torch.__version__,
        "onnxruntime": require_onnxruntime().__version__,
        # what the graphs were made from: an export in the model folder goes stale when the model is trained
        # into the folder again (its top-level config.json and weight files, as a CT2 conversion records)
        "source_files": source_fingerprints(source) if source is not None else {},
    }
    with warnings.catch_warnings(), _quiet_truncation():  # texts cut at the limit are cut alike everywhere
        warnings.simplefilter("ignore")
        reference, torch_speed = timed_encode(encoder, texts, batch_size)
        if optimize:
            meta["optimized"] = _optimize_graph(module, paths["onnx"], paths["onnx-opt"], opset)
            meta["files"]["opt"] = paths["onnx-opt"].name
            if int8:

                def mean_cosine(path: Path) -> float:
                    candidate = OnnxSentenceEncoder(
                        path, module.hf_tokenizer, max_length=module.max_length, dimension=module.dimension,
                        disabled_optimizers=OPT_DISABLED_OPTIMIZERS, lowercase=module.lowercase,
                        prompt=module.prompt,
                    )  # fmt: skip
                    vectors = encode_unit(candidate, texts, batch_size)
                    return float((vectors * reference).sum(1).mean())

                batches = [
                    {name: tensor.numpy() for name, tensor in module.featurize(texts[i : i + batch_size])[0].items()}
                    for i in range(0, len(texts), batch_size)
                ]  # fmt: skip
                meta["opt_int8"] = quantize_optimized_int8(
                    paths["onnx-opt"], paths["onnx-opt-int8"], mean_cosine, int8_min_cosine, batches=batches,
                    outlier_channels=int8_outlier_channels,
                )  # fmt: skip
                meta["files"]["opt_int8"] = paths["onnx-opt-int8"].name
    # the staged export is measured as a load of the folder reads it (Encoder.load): an export in place
    # copies no tokenizer, so the staged export.json names the folder's own, one level up, until the final
    # one is written below
    measured = PurePosixPath("..", tokenizer_dir).as_posix() if in_place else tokenizer_dir
    write_json_atomically(staged / EXPORT_META, {**meta, "tokenizer_dir": measured})

    report = ExportReport(out, exporter, opset, len(texts), torch.get_num_threads())
    names = {"onnx": "onnx fp32", "onnx-int8": "onnx int8", "onnx-opt": "onnx-opt fp32",
             "onnx-opt-int8": "onnx-opt int8"}  # fmt: skip
    with warnings.catch_warnings(), _quiet_truncation():
        warnings.simplefilter("ignore")
        report.variants.append(VariantReport("torch fp32", None, None, 1.0, 1.0, torch_speed))
        for backend, name in names.items():
            if backend not in wanted:
                continue
            onnx_encoder = Encoder.load(staging, backend=backend)
            vectors, speed = timed_encode(onnx_encoder, texts, batch_size)
            cos = (vectors * reference).sum(1)  # both unit length
            path = paths[backend]
            report.variants.append(VariantReport(name, path.name, round(megabytes(path), 1),
                                                 float(cos.mean()), float(cos.min()), speed, backend))  # fmt: skip
    # both fp32 graphs, the fused one too (another export, then ONNX Runtime's fusions), must be PyTorch's
    for fp32 in (variant for variant in report.variants if variant.backend in ("onnx", "onnx-opt")):
        if fp32.min_cosine < FP32_MIN_COSINE:  # the graph computes something else: withdraw the export
            # named by variant, not by path: out/onnx/ holds the earlier export's graph of that name, or none
            raise XlingError(f"the new {fp32.name} graph ({fp32.file}) of the export into {out} gives vectors that "
                             f"are not PyTorch's (min cosine {fp32.min_cosine:.4f} < {FP32_MIN_COSINE} on "
                             f"{len(texts)} sentences); export withdrawn: none of it was written into {out}, and "
                             "what the folder held before (an earlier export) is kept as it was")  # fmt: skip
    write_json_atomically(staged / EXPORT_META, {**meta, "report": report.to_dict()})
    return report


def _swap_in(staging: Path, out: Path) -> None:
    """Return nothing after moving every file under `staging` to the same place under `out`, export.json last,
    and taking away the earlier export's graphs that were not made again (a variant not asked for now, or an
    external-data file beside a graph that no longer has one); raise, `out` as it was, if a move fails (the
    files moved in and the folders made for them taken away again, the replaced ones put back).

    Each file keeps its name and folder: a graph over 2 GB names its weights file (`model.onnx.data`)
    relative to itself, so it stays valid. The files replaced wait in `.onnx.PID.old` beside `staging` until
    the new ones are all in place, and go back on a failure or Ctrl-C. The earlier export.json goes first:
    a kill during the swap (renames only) leaves no export.json vouching for a mix of old and new graphs;
    the earlier files are then in the `.onnx.PID.old` folder.
    """
    retired = staging.with_suffix(".old")
    meta = PurePosixPath(ONNX_DIR, EXPORT_META)
    new = sorted(PurePosixPath(path.relative_to(staging).as_posix()) for path in staging.rglob("*")
                 if path.is_file() and not path.is_symlink())  # fmt: skip
    new = [*(rel for rel in new if rel != meta), meta]  # export.json last
    stale = [PurePosixPath(ONNX_DIR, name) for graph in MODEL_FILES.values() for name in (graph, f"{graph}.data")
             if not (staging / ONNX_DIR / name).exists()]  # fmt: skip
    moved_out: list[PurePosixPath] = []
    moved_in: list[PurePosixPath] = []
    made: list[Path] = []  # the folders under `out` made for the new files, parents first
    shutil.rmtree(retired, ignore_errors=True)  # left by a killed process that had this id
    try:
        for rel in [meta, *stale, *(rel for rel in new if rel != meta)]:  # the earlier export.json first
            if (out / rel).is_file() or (out / rel).is_symlink():
                (retired / rel).parent.mkdir(parents=True, exist_ok=True)
                # a rename; a copy if onnx/ links to another disk (`retired` is on the output folder's)
                shutil.move(out / rel, retired / rel)
                moved_out.append(rel)
        for rel in new:
            _make_folders((out / rel).parent, out, made)
            shutil.move(staging / rel, out / rel)  # a rename; a copy only if onnx/ links to another disk
            moved_in.append(rel)
    except BaseException:
        for rel in reversed(moved_in):
            (out / rel).unlink(missing_ok=True)
        for rel in reversed(moved_out):
            shutil.move(retired / rel, out / rel)
        for folder in reversed(made):  # deepest first; a folder something else wrote into meanwhile stays
            with contextlib.suppress(OSError):
                folder.rmdir()
        shutil.rmtree(retired, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _make_folders(folder: Path, out: Path, made: list[Path]) -> None:
    """Return nothing after making `folder` (under `out`) and its missing parents up to `out`, appending
    each one made to `made`, parents first, so that a failed swap can take them away again."""
    missing = []
    while folder != out and not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made meanwhile by something else: not ours to take away
            continue
        made.append(path)


def _float32_encoder(encoder: Encoder, *, copy: bool) -> Encoder:
    """Return `encoder` when its weights are float32, else an Encoder over its module cast to float32 (a copy
    with `copy`, so that an encoder the caller passed in stays as it was).

    A float16 or bfloat16 folder (as many Hub checkpoints are) would export a float16 graph reported as
    fp32, which the int8 quantizer turns into a graph ONNX Runtime refuses; what is exported, and measured
    against, is the float32 function of the weights.
    """
    dtypes = {p.dtype for p in encoder.module.parameters() if p.is_floating_point()}
    if dtypes <= {torch.float32}:
        return encoder
    logger.info("%s: weights in %s, exported from a float32 copy", encoder.name,
                ", ".join(sorted(str(d).removeprefix("torch.") for d in dtypes)))  # fmt: skip
    module = copy_module(encoder.module) if copy else encoder.module
    return Encoder(module.float(), name=encoder.name, normalize=encoder.normalize, device=str(encoder.device),
                   meta=encoder.meta)  # fmt: skip


def check_output_dir(output_dir: str | Path) -> Path:
    """Return `output_dir` as a Path after checking that the export's folders can be made and written there.

    Raises DataError naming it when it, its onnx/ subfolder or a parent is a file, or it cannot be written.
    """
    out = Path(output_dir)
    for path in (out, out / ONNX_DIR):
        if path.exists() and not path.is_dir():
            raise DataError("output: is a file, not a folder to write the ONNX export into", path)
    parent = next((p for p in (out, *out.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise DataError(f"output: {parent} is a file, so no folder can be made there", out)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"output: cannot write into {parent} (permission denied)", out)
    return out


def _check_in_place_options(out: Path, source: Path, options: dict[str, Any]) -> None:
    """Return nothing unless an export into the model folder itself is given options that shape the vectors
    (GRAPH_OPTIONS); ConfigError naming them otherwise.

    In place, the folder's torch backend goes on reading its own Pooling config, sentence_bert_config.json
    and xling.json: a graph made with other settings would make the folder's two backends give different
    vectors. The folder's files are its own, so they are not rewritten to match.
    """
    given = {name: options[name] for name in GRAPH_OPTIONS if options.get(name) is not None}
    if given and same_path(out, source):
        shown = ", ".join(f"{name}={value!r}" for name, value in given.items())
        raise ConfigError(
            f"{shown}: an export into the model folder itself takes the folder's own settings (its torch "
            "backend reads them from the folder, and the two would give different vectors); export into "
            "another folder with these options, or change the folder's settings first"
        )


def _folder_loaded_from(encoder: Encoder, out: Path) -> Path | None:
    """Return the folder `encoder` was loaded from when it is `out` (an in-place export), else None."""
    if not encoder.source:
        return None
    try:
        folder = resolve_model(encoder.source)
    except XlingError:
        return None
    return folder if same_path(folder, out) else None


def _check_loaded_in_place(encoder: Encoder, folder: Path) -> None:
    """Return nothing unless `encoder`, loaded from `folder` and exported into it, was loaded with settings
    that shape the vectors otherwise than the folder's own (GRAPH_OPTIONS, normalize); ConfigError naming
    them otherwise, as `_check_in_place_options` for an export from the folder's path (a loaded encoder with
    pooling="cls" made the folder's ONNX backend give other vectors than its torch one)."""
    if encoder.kind == "static":
        return  # refused below: nothing to export
    own = Encoder.load(folder)
    given = {name: getattr(encoder.module, name, None) for name in GRAPH_OPTIONS
             if getattr(encoder.module, name, None) != getattr(own.module, name, None)}  # fmt: skip
    if encoder.normalize != own.normalize:
        given["normalize"] = encoder.normalize
    if given:
        shown = ", ".join(f"{name}={value!r}" for name, value in given.items())
        raise ConfigError(
            f"{shown}: the encoder was loaded from {folder} with other settings than the folder's own, and an "
            "export into that folder takes the folder's (its torch backend reads them from the folder, and the "
            "two would give different vectors); export into another folder, or load it with its own settings"
        )
    # the same settings: the same weights too, or the folder's fingerprints would vouch for others
    ours, theirs = encoder.module.state_dict(), own.module.state_dict()
    if ours.keys() != theirs.keys() or not all(torch.equal(ours[key], theirs[key]) for key in ours):
        raise ConfigError(f"the encoder's weights are not those saved in {folder} (changed since it was "
                          "loaded?): save it there first, or export into another folder")  # fmt: skip


def _check_export_target(out: Path, source: Path | None, name: str) -> None:
    """Return nothing if the export may write into `out`: a new or empty folder, the model folder `source`
    itself, or an earlier export of the same model (its export.json names `name`); else DataError naming it.
    The export writes config.json, xling.json and the tokenizer files there, which would turn another
    model's folder into a broken mix."""
    # a killed export's staging folder (`.onnx.PID.tmp`) does not make the folder another's
    entries = (
        sorted(entry.name for entry in out.iterdir() if not is_staging_name(entry.name))
        if out.is_dir()
        else []
    )
    if not entries:
        return
    if source is not None and same_path(out, source):
        _check_own_graphs(out)
        return
    earlier = out / ONNX_DIR / EXPORT_META
    if earlier.is_file():
        with contextlib.suppress(OSError, ValueError):
            if json.loads(earlier.read_text(encoding="utf-8")).get("source") == name:
                return
    # an export of this model that stopped before its export.json: the model's config.json beside onnx/, and
    # no weights of the folder's own (a fine-tuned copy of the model has the same config.json)
    has_weights = any(out.glob("*.safetensors")) or (out / "pytorch_model.bin").is_file()
    if source is not None and (out / ONNX_DIR).is_dir() and not has_weights:
        with contextlib.suppress(OSError):
            if (out / "config.json").read_bytes() == (source / "config.json").read_bytes():
                return
    # a loaded encoder exported into its own folder: that folder's xling.json names it
    if source is None and (out / METADATA_FILE).is_file():
        with contextlib.suppress(OSError, ValueError):
            if json.loads((out / METADATA_FILE).read_text(encoding="utf-8")).get("name") == name:
                return
    shown = shown_names(entries)
    raise DataError(f"output: the folder holds other files ({shown}); export into the model folder itself, an "
                    "empty or new folder, or the folder of an earlier export of this model", out)  # fmt: skip


def _check_own_graphs(folder: Path) -> None:
    """Return nothing unless `folder`'s onnx/ holds a graph of the names an export writes that is not
    xling's (a model from the Hub ships sentence-transformers' or Optimum's onnx/model.onnx, which gives token
    states and which sentence-transformers' ONNX backend loads); then DataError naming it: an export in place
    would replace it. xling's graphs: an export.json beside them, or the one output OUTPUT_NAME."""
    for name in MODEL_FILES.values():
        path = folder / ONNX_DIR / name
        if not path.is_file() or (folder / ONNX_DIR / EXPORT_META).is_file():
            continue
        try:
            import onnx

            outputs = [output.name for output in onnx.load(str(path), load_external_data=False).graph.output]
        except Exception:  # noqa: BLE001 (any unreadable file is another's as far as this check goes)
            outputs = []
        if outputs != [OUTPUT_NAME]:
            raise DataError(f"{ONNX_DIR}/{name} is not a graph of xling's (its outputs: {outputs or 'unreadable'}; "
                            "sentence-transformers' or Optimum's export?): an export in place would replace it; "
                            "export into another folder, or move it aside", folder)  # fmt: skip


@contextmanager
def _quiet_truncation() -> Iterator[None]:
    """Silence the encoder's truncation notice while measuring: texts are cut alike in every variant."""
    encoder_logger = logging.getLogger("xling.embeddings.encoder")
    level = encoder_logger.level
    encoder_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        encoder_logger.setLevel(level)


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
    args = _trace_inputs(module)
    external = sum(p.numel() * p.element_size() for p in module.parameters()) > EXTERNAL_DATA_BYTES
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    for stale in (path, path.with_name(path.name + ".data")):
        stale.unlink(missing_ok=True)
    try:
        with quiet_tools(), torch.no_grad():
            torch.onnx.export(
                graph, args, str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in INPUT_NAMES},
                opset_version=opset, dynamo=True, external_data=external, verbose=False,
            )  # fmt: skip
        return "dynamo"
    except Exception as error:  # noqa: BLE001  (any failure of the new exporter: try the old one)
        dynamo_error = error
    try:
        _export_torchscript(module, path, opset)
    except Exception as error:
        raise XlingError(
            f"ONNX export failed with both exporters: dynamo ({dynamo_error}); torchscript ({error})"
        ) from error
    return "torchscript"


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
    external = megabytes(source) * 1e6 > EXTERNAL_DATA_BYTES
    try:
        with quiet_tools():
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
    before = attention_of(model)
    if not set_attention(model, "eager"):  # the graph would hold SDPA, which the optimizer cannot fuse
        raise XlingError(f"{type(model).__name__} cannot switch to eager attention")
    try:
        _export_torchscript(module, path, opset)
    finally:
        if before is not None:
            set_attention(model, before)


def _trace_inputs(module: TransformerSentenceEncoder) -> tuple[torch.Tensor, ...]:
    """Return (input_ids, attention_mask) of two sentences to trace with (batch 2: 1 would be specialised)."""
    device = next(module.parameters()).device
    features, _ = module.featurize(["A first sentence to trace.", "A second, longer one, so rows differ."])
    return tuple(features[name].to(device) for name in INPUT_NAMES)


def _export_torchscript(module: TransformerSentenceEncoder, path: Path, opset: int) -> None:
    """Write `module`'s graph to `path` through the TorchScript exporter (`dynamo=False`), dynamic axes."""
    graph = _SentenceGraph(module).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    with quiet_tools(), torch.no_grad():
        torch.onnx.export(
            graph, _trace_inputs(module), str(path), input_names=list(INPUT_NAMES), output_names=[OUTPUT_NAME],
            dynamic_axes={**axes, OUTPUT_NAME: {0: "batch"}}, opset_version=opset, dynamo=False,
        )  # fmt: skip


def _write_max_seq_length(module: TransformerSentenceEncoder, path: Path) -> None:
    """Return nothing; make a copied sentence_bert_config.json say the exported token limit (an export with
    max_length=32 said the source's 256 to sentence-transformers readers)."""
    if not path.is_file():
        return
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # a copied file that is no JSON is left as the source has it
        return
    # a null limit too: it means the tokenizer's model_max_length, which the copied tokenizer keeps as the
    # source had it, not the exported one
    if isinstance(config, dict) and config.get("max_seq_length") != module.max_length:
        write_json_atomically(path, {**config, "max_seq_length": module.max_length})


def _write_folder_files(encoder: Encoder, source: Path | None, out: Path, into: Path) -> str:
    """Put the tokenizer and metadata that the export in `out` needs in `into` (the staging folder, laid out
    as `out`; nothing for an export into the model folder itself); return the tokenizer's folder relative to
    `out`."""
    module: TransformerSentenceEncoder = encoder.module
    if source is None:  # a loaded Encoder: no folder to copy from; save the tokenizer and xling.json
        module.hf_tokenizer.save_pretrained(into)
        if encoder.meta:
            write_metadata(into, encoder.meta)
        return "."
    modules = read_st_modules(source) or []
    tokenizer_dir = modules[0].path.as_posix() if modules else "."
    if same_path(source, out):
        return tokenizer_dir
    for name in ROOT_META_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, into / name)
    (into / tokenizer_dir).mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (source / tokenizer_dir / name).is_file():
            shutil.copy2(source / tokenizer_dir / name, into / tokenizer_dir / name)
    for folder in {into, into / tokenizer_dir}:  # copied with the root files and, again, with the tokenizer's
        _write_max_seq_length(module, st_config_file(folder))
    for entry in modules[1:]:  # Pooling, Dense, Normalize folders: how the vector is made (also in the graph)
        if entry.path == PurePosixPath("."):  # "" in modules.json: no folder of its own to copy
            continue
        if (source / entry.path).is_dir():
            shutil.copytree(source / entry.path, into / entry.path, dirs_exist_ok=True)
        if entry.kind == "Pooling":
            _write_pooling_config(module, into / entry.path / "config.json")
    return tokenizer_dir


def _write_pooling_config(module: TransformerSentenceEncoder, path: Path) -> None:
    """Write a sentence-transformers Pooling config that says how the exported graph pools.

    A pooling override (`pooling="cls"` on a mean folder) is inside the graph; the source's copied config
    would say otherwise. A pooler-output graph has no Pooling mode: the config is left as copied, and
    export.json says "pooler".
    """
    modes = {"cls": "cls_token", "mean": "mean_tokens", "max": "max_tokens"}
    if module.pooling not in modes:
        return
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    config = {k: v for k, v in config.items() if not k.startswith("pooling_mode")}
    config["word_embedding_dimension"] = module.model.config.hidden_size
    config.update({f"pooling_mode_{mode}": module.pooling == name for name, mode in modes.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, config)
