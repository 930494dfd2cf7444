"""Convert a Hugging Face translation model to CTranslate2 (`xling export ct2`), beside its weights.

`export_ct2(model)` writes `<model>/ctranslate2/` with CTranslate2's own converter
(`ctranslate2.converters.TransformersConverter`): `model.bin`, `config.json`, the vocabulary, and
`xling.json` recording what it was made from (the source folder, its architecture, the sizes and SHA-256
of its config and weight files) and the quantization. `xling.translation.ct2.CT2Backend` runs it and
`Translator` picks it up when the folder is there, unless the model's weights no longer match the record
(`stale_conversion`: a model trained or fine-tuned into the folder after the export). The new folder is
built beside the old one and swapped in when complete, so an export that fails leaves the previous one whole.

Families: M2M-100 and NLLB-200 (`M2M100Config`), Marian / OPUS-MT (`MarianConfig`), xling's own models
(`M2M100Config` with a `PreTrainedTokenizerFast`), and the other text-to-text architectures the converter
knows (BART, mBART, Pegasus, T5). After converting, every vocabulary entry is checked against the
tokenizer's id for it: a shifted vocabulary would decode to fluent-looking nonsense
(OpenNMT/CTranslate2#1039 was such a case), so a mismatch is an error, never a silent export.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from xling.artifacts import CT2_KIND, METADATA_FILE, read_json_file, read_metadata, write_metadata
from xling.atomic import atomic_folder
from xling.embeddings.st_modules import ST_TRANSFORMER_CONFIGS
from xling.errors import ConfigError, DataError, XlingError
from xling.export.config import CT2_QUANTIZATIONS

logger = logging.getLogger(__name__)

CT2_DIR = "ctranslate2"
"""Subfolder of a model folder that holds its CTranslate2 conversion."""
QUANTIZATIONS = CT2_QUANTIZATIONS
"""Weight types `ctranslate2.converters.Converter.convert` accepts."""
# model_type in config.json -> the architecture CTranslate2's converter builds (text-to-text seq2seq only:
# speech and decoder-only models are not translation models for xling)
SEQ2SEQ_MODEL_TYPES = {
    "m2m_100": "M2M100ForConditionalGeneration",
    "marian": "MarianMTModel",
    "bart": "BartForConditionalGeneration",
    "mbart": "MBartForConditionalGeneration",
    "pegasus": "PegasusForConditionalGeneration",
    "t5": "T5ForConditionalGeneration",
    "mt5": "MT5ForConditionalGeneration",
    "umt5": "UMT5ForConditionalGeneration",
}
# what transformers loads PyTorch weights from (each sharded format has its own index): a folder with none of
# them has nothing for CTranslate2's converter to read
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# A sentence-transformers folder's own settings, beside the module folders that modules.json lists: the
# Transformer's length limit and lowercasing, the default prompt (both read into an ONNX export's record)
ST_ROOT_FILES = ("modules.json", *ST_TRANSFORMER_CONFIGS, "config_sentence_transformers.json")
ST_MODULE_FILES = ("config.json", *ST_TRANSFORMER_CONFIGS)  # a module's settings: Pooling mode, Dense shape
VOCABULARY_FILES = ("shared_vocabulary.json", "source_vocabulary.json", "target_vocabulary.json")
CHECK_SENTENCES = (
    "The cat sleeps on the bed, and the dog runs in the garden.",
    "Die Kinder spielen draußen, während die Sonne scheint.",
    "Où est la gare ? Merci pour ton aide.",
    "В начале было Слово, и Слово было у Бога.",
)
"""Sequences the conversion is scored on (teacher-forced, each as source and target) against PyTorch."""
FLOAT32_TOLERANCE = 1e-2
"""Largest |token log-probability difference| a float32 conversion may show against the PyTorch model;
numerical noise is ~1e-5, a wrong weight mapping is off by whole units."""
INT8_MEAN_TOLERANCE = 0.5
"""Largest mean |token log-probability difference| an int8 (or other quantized) conversion may show. Rounding
noise is spread thin: 0.030 on average (0.20 at most) for the shipped xling-mt-bible (the check its
ctranslate2/xling.json records), at most 0.18 on average (a single token up to 4, so the largest is no test)
on the tests' tiny random models of every family (tests/export/test_ct2.py, as measured when this bound was set),
fine-tuned hard (init std 0.5, lr 3e-2) or not, which magnify it; a conversion that computes another
function moves most tokens by whole units. Only gross errors are caught: the float32 check is the exact one."""


@dataclass
class Ct2ExportReport:
    """What `export_ct2` wrote."""

    output: Path
    source: Path
    model_type: str
    quantization: str
    vocabulary_size: int
    megabytes: float
    seconds: float
    max_logprob_difference: float
    """Largest |token log-probability difference| to the PyTorch model on CHECK_SENTENCES."""
    mean_logprob_difference: float

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready values."""
        return {**asdict(self), "output": str(self.output), "source": str(self.source)}


def ct2_folder(model: str | Path) -> Path:
    """Return the folder that holds (or would hold) the CTranslate2 conversion of a model folder."""
    return Path(model) / CT2_DIR


def has_ct2(model: str | Path) -> bool:
    """Return whether a model folder holds a CTranslate2 conversion (`<model>/ctranslate2/model.bin`)."""
    return (ct2_folder(model) / "model.bin").is_file()


def weight_files(model: str | Path) -> list[str]:
    """Return the names of a model folder's PyTorch weight files: those of WEIGHT_FILES it has, and the
    shards its indexes (`model.safetensors.index.json`, `pytorch_model.bin.index.json`) list."""
    folder = Path(model)
    names = [name for name in WEIGHT_FILES if (folder / name).is_file()]
    for index in (folder / name for name in WEIGHT_INDEXES):
        if not index.is_file():
            continue
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map", {})
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            weight_map = {}
        if isinstance(weight_map, dict):
            names += sorted({str(shard) for shard in weight_map.values() if (folder / str(shard)).is_file()})
    return names


def stale_conversion(model: str | Path) -> str | None:
    """Return why the conversion in `<model>/ctranslate2/` no longer matches the model's weights, or None.

    The export's xling.json records the size and SHA-256 of every weight file it was made from and of
    config.json (`source_fingerprints`); see `changed_since`. Each file is hashed once per process (while its
    size and modification time stay the same).
    """
    recorded = read_metadata(ct2_folder(Path(model))).get("source_files")
    return changed_since(model, recorded) if isinstance(recorded, dict) else None


def source_fingerprints(source: str | Path) -> dict[str, dict[str, Any]]:
    """Return {file path relative to the folder: {bytes, mtime_ns, sha256}, or {absent: True} for one it lacks}
    of what a model folder's export is made from (`source_files`): config.json and the weight files; in a
    sentence-transformers folder also
    each module folder's (modules.json: a Transformer in 0_Transformer/, a Dense head) and the settings that
    shape the vectors (modules.json, sentence_bert_config.json, the Pooling config, the default prompt)."""
    folder = Path(source)
    files: dict[str, dict[str, Any]] = {}
    for name in _source_file_names(folder):
        path = folder / name
        if path.is_file():
            status = path.stat()
            files[name] = {
                "bytes": status.st_size,
                "mtime_ns": status.st_mtime_ns,
                "sha256": _cached_sha256(path),
            }
        else:  # a settings file written later (a default prompt, a length limit) changes the vectors too
            files[name] = {"absent": True}
    return files


def _source_file_names(folder: Path) -> list[str]:
    """Return the relative paths `source_fingerprints` records (present or not), each once, root first."""
    names = ["config.json", *weight_files(folder)]
    if (folder / "modules.json").is_file():
        names += ST_ROOT_FILES
    for module in _module_folders(folder):
        if module != ".":
            names += [f"{module}/{name}" for name in (*ST_MODULE_FILES, *weight_files(folder / module))]
    return list(dict.fromkeys(names))


def _module_folders(folder: Path) -> list[str]:
    """Return the folders (relative, POSIX; "." the root) of the modules a folder's modules.json lists, in order.

    A damaged list (unreadable, or a path outside the folder) names none: the loader reports it.
    """
    # imported here: the xling.embeddings package imports torch, and the CTranslate2 backend
    # (xling.translation.ct2) imports this module without it
    from xling.embeddings.st_modules import read_st_modules

    try:
        modules = read_st_modules(folder) or []
    except (DataError, OSError):
        return []
    return list(dict.fromkeys(module.path.as_posix() for module in modules))


def _recorded_weights(folder: Path, recorded: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Return (the weight files in the folders `recorded` covers now, those it records), as relative paths.

    Only the folders the record names are looked at: a record taken before module folders were recorded
    (the root's files only) is compared as it was taken, not found stale for the folders it left out.
    """
    covered = sorted({PurePosixPath(name).parent.as_posix() for name in recorded})
    now = {
        PurePosixPath(where, name).as_posix()
        for where in covered
        for name in weight_files(folder / where)
        if name in WEIGHT_FILES
    }
    then = {name for name in recorded if PurePosixPath(name).name in WEIGHT_FILES}
    return now, then


def changed_since(model: str | Path, recorded: dict[str, Any]) -> str | None:
    """Return why `model`'s config.json, weights or module files differ from `recorded` (`source_fingerprints`
    taken at an export), or None: a file that differs, is gone, or is new (another weight format). None also
    when there is nothing to compare: no record (an export made by hand), or no PyTorch weights in the
    folders it covers (a model shipped as its conversion only, or an export written to a folder of its own)."""
    folder = Path(model)
    # the main model: the first module's folder (a Transformer in 0_Transformer/), else the root. An export
    # in a folder of its own holds copies of the other modules (a Dense head's weights), never the model's
    main = (_module_folders(folder) or ["."])[0]
    if not recorded or not weight_files(folder / main):
        return None
    now, then = _recorded_weights(folder, recorded)
    # a record with no weight file was taken before sharded .bin weights were recorded (only config.json):
    # it is compared as it was taken, not found stale for what it left out
    if then and now != then:
        made_from = ", ".join(sorted(then)) or "none"
        return f"its weights are now {', '.join(sorted(now))}, it was made from {made_from}"
    for name, entry in sorted(recorded.items()):
        entry = entry if isinstance(entry, dict) else {}
        path = folder / name
        if entry.get("absent"):  # missing at the export (records made before 2026-12-05 list none)
            if path.is_file():
                return f"{name} was added since the export"
            continue
        if not path.is_file():
            return f"{name}, which it was made from, is gone"
        status = path.stat()
        if status.st_size != entry.get("bytes"):
            return f"{name} has changed since the export (its size differs)"
        if status.st_mtime_ns == entry.get("mtime_ns"):
            continue  # untouched since the export: no need to read gigabytes of weights
        if _cached_sha256(path) != entry.get("sha256"):
            return f"{name} has changed since the export (its SHA-256 differs)"
    return None


_DIGESTS: dict[tuple[str, int, int, int], str] = {}


def _cached_sha256(path: Path) -> str:
    """Return `_sha256(path)`, computed once per process for a file of one size and modification time."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = _sha256(path)
    return _DIGESTS[key]


def seq2seq_model_type(model: str | Path) -> str:
    """Return the model_type of a folder's config.json; raise XlingError if CTranslate2 cannot translate it."""
    config_file = Path(model) / "config.json"
    config = read_json_file(config_file, missing="no config.json: not a Hugging Face model folder")
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in SEQ2SEQ_MODEL_TYPES:
        known = ", ".join(sorted(SEQ2SEQ_MODEL_TYPES))
        raise XlingError(
            f"{config_file}: model_type {model_type!r} is not a sequence-to-sequence architecture that "
            f"CTranslate2 converts for translation ({known}); only translation models can be exported to ct2"
        )
    return str(model_type)


def export_ct2(
    model: str | Path,
    output: str | Path | None = None,
    *,
    quantization: str = "int8",
    overwrite: bool = False,
) -> Ct2ExportReport:
    """Return the report of converting the translation model folder `model` to CTranslate2.

    `output` defaults to `<model>/ctranslate2/`. An earlier conversion of this model there (its xling.json
    says so) is replaced; another model's conversion only with `overwrite`; a folder of other files never.
    `quantization` is one of QUANTIZATIONS.
    """
    if quantization not in QUANTIZATIONS:
        raise ConfigError(f"quantization: {quantization!r} is not one of {', '.join(QUANTIZATIONS)}")
    if importlib.util.find_spec("ctranslate2") is None:  # else an import error deep in the conversion
        raise XlingError("export ct2 needs the ctranslate2 package (pip install ctranslate2)")
    source = _resolve(model)
    model_type = seq2seq_model_type(source)
    _require_torch_weights(source)
    target = Path(output) if output is not None else ct2_folder(source)
    if target.resolve() == source.resolve():
        raise ConfigError(f"output: {target} is the model folder itself; write the conversion beside it")
    if source.resolve().is_relative_to(target.resolve()):  # replacing the output would delete the model
        raise ConfigError(f"output: {target} holds the model folder {source}; write the conversion inside "
                          "the model folder (the default) or beside it")  # fmt: skip
    # this model's own conversion is replaced unasked: the one inside its folder (made there, even if the
    # folder moved since), or one elsewhere made from it
    made_from = _conversion_of(target)
    earlier = made_from is not None and (
        target.resolve() == ct2_folder(source).resolve() or made_from == source.resolve()
    )
    started = time.perf_counter()
    with atomic_folder(
        target, overwrite=overwrite or earlier, what="CTranslate2 model", kind=CT2_KIND
    ) as staging:
        # the weights as the converter reads them: a training run saving into the folder meanwhile would
        # otherwise be recorded as what the conversion holds, and never be found stale
        read = source_fingerprints(source)
        tokenizer = _convert(source, staging, quantization)
        vocabulary = _check_vocabulary(staging, tokenizer)
        differences = _compare_scores(source, staging, tokenizer, len(vocabulary))
        largest, mean = max(differences), sum(differences) / len(differences)
        if quantization == "float32" and largest > FLOAT32_TOLERANCE:
            raise XlingError(
                f"{source}: the float32 CTranslate2 model does not reproduce the PyTorch model (token "
                f"log-probabilities differ by up to {largest:.3g}); not written"
            )
        if quantization != "float32" and mean > INT8_MEAN_TOLERANCE:
            raise XlingError(
                f"{source}: the {quantization} CTranslate2 model does not reproduce the PyTorch model (token "
                f"log-probabilities differ by {mean:.3g} on average, up to {largest:.3g}; rounding to "
                f"{quantization} stays under {INT8_MEAN_TOLERANCE} on average); not written. A float32 export "
                "tells whether the conversion itself is wrong"
            )
        check = {"sentences": len(CHECK_SENTENCES), "max_logprob_difference": largest,
                 "mean_logprob_difference": mean}  # fmt: skip
        if changed := changed_since(source, read):
            raise XlingError(
                f"{source} changed while it was converted ({changed}); not written: export again"
            )
        write_metadata(
            staging, {**_metadata(source, model_type, quantization, len(vocabulary), read), "check": check}
        )
    seconds = time.perf_counter() - started
    size = (target / "model.bin").stat().st_size / 1e6
    logger.debug(
        "CTranslate2 %s conversion of %s written to %s (%.1f MB)", quantization, source, target, size
    )
    return Ct2ExportReport(target, source, model_type, quantization, len(vocabulary), round(size, 2), seconds,
                           check["max_logprob_difference"], check["mean_logprob_difference"])  # fmt: skip


def _require_torch_weights(folder: Path) -> None:
    """Return nothing when `folder` has PyTorch weights to convert; raise DataError naming it otherwise.

    A folder that ships only its CTranslate2 conversion (xling-mt-bible) failed inside the converter with
    transformers' "no file named model.safetensors", reported as a missing tokenizer."""
    if any((folder / name).is_file() for name in WEIGHT_FILES):
        from xling.embeddings.weights import check_weights_folder

        check_weights_folder(folder)  # a truncated file was a SafetensorError traceback from the converter
        return
    shipped = f"; its CTranslate2 conversion ({CT2_DIR}/) is there already" if has_ct2(folder) else ""
    raise DataError(
        f"no PyTorch weights to convert (model.safetensors or pytorch_model.bin){shipped}", folder
    )


def _conversion_of(folder: Path) -> Path | None:
    """Return the model folder a CTranslate2 conversion in `folder` was made from (its xling.json), or None
    when `folder` holds no conversion."""
    if not (folder / "xling.json").is_file():
        return None
    try:
        meta = read_metadata(folder)
    except XlingError:
        return None
    if meta.get("kind") != CT2_KIND or not isinstance(meta.get("source"), str):
        return None
    return Path(meta["source"]).resolve()


def _resolve(model: str | Path) -> Path:
    """Return the local folder of `model` (a path, a shipped name, a cached Hub id), as `xling translate`."""
    from xling.translation.translator import resolve_translation_model

    return resolve_translation_model(model)


def _convert(source: Path, output: Path, quantization: str):
    """Return the tokenizer the converter read, after writing the CTranslate2 model of `source` to `output`."""
    from ctranslate2.converters import TransformersConverter

    class Converter(TransformersConverter):
        tokenizer: Any = None

        def load_tokenizer(self, tokenizer_class, model_name_or_path, **kwargs):
            loaded = super().load_tokenizer(tokenizer_class, model_name_or_path, **kwargs)
            self.tokenizer = _with_language_tokens(_refuse_separate_vocabularies(loaded, source))
            return self.tokenizer

    converter = Converter(str(source))
    with _quiet_transformers():
        try:
            converter.convert(str(output), quantization=quantization, force=True)
        except (ValueError, NotImplementedError, OSError, TypeError, KeyError) as error:
            # TypeError/KeyError: what transformers raises for a folder missing its tokenizer's files
            raise XlingError(f"{source}: CTranslate2 could not convert this model ({type(error).__name__}: "
                             f"{error}); is its tokenizer there?") from error  # fmt: skip
    return converter.tokenizer


def _refuse_separate_vocabularies(tokenizer, source: Path):
    """Return `tokenizer`; raise XlingError for a Marian model with separate source/target vocabularies.

    CTranslate2's Marian loader writes the source vocabulary for both sides, which would decode such a
    model's outputs with the wrong pieces.
    """
    if getattr(tokenizer, "separate_vocabs", False):
        raise XlingError(
            f"{source}: a Marian model with separate source and target vocabularies; CTranslate2's converter "
            "writes one shared vocabulary, so it cannot be converted correctly (use the PyTorch backend)"
        )
    return tokenizer


class _VocabularyView:
    """A tokenizer whose get_vocab() also lists the ids it maps implicitly (M2M100Tokenizer's languages)."""

    def __init__(self, tokenizer, vocabulary: dict[str, int]):
        self._tokenizer = tokenizer
        self._vocabulary = vocabulary

    def get_vocab(self) -> dict[str, int]:
        """Return every token the tokenizer gives an id to, with that id."""
        return dict(self._vocabulary)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._tokenizer(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tokenizer, name)


def _with_language_tokens(tokenizer):
    """Return `tokenizer`, or a view of it whose vocabulary includes its language tokens where it hides them.

    In transformers 5 `M2M100Tokenizer` keeps its 100 `__xx__` tokens in `lang_token_to_id` only: they are
    neither in `get_vocab()` nor in `special_tokens_map["additional_special_tokens"]` (renamed
    `extra_special_tokens` in v5, and left empty by this class), which are the two places ctranslate2 4.8's
    M2M100Loader.get_vocabulary reads. Its vocabulary then lacks them and the conversion fails ("Source
    vocabulary 0 has size 128012 but the model expected a vocabulary of size 128112"). Listing the ids the
    tokenizer itself assigns is the whole fix; the loader then appends the made-up words as before.
    """
    implicit = getattr(tokenizer, "lang_token_to_id", None)
    if not isinstance(implicit, dict):
        return tokenizer
    vocabulary = tokenizer.get_vocab()
    if all(token in vocabulary for token in implicit):
        return tokenizer  # transformers 4 lists them itself
    return _VocabularyView(tokenizer, {**vocabulary, **implicit})


def _check_vocabulary(folder: Path, tokenizer) -> list[str]:
    """Return the converted target vocabulary; raise XlingError if a token's id differs from the tokenizer's."""
    files = [folder / name for name in VOCABULARY_FILES if (folder / name).is_file()]
    if not files:
        raise XlingError(f"{folder}: the converter wrote no vocabulary file")
    vocabulary: list[str] = []
    for path in files:
        vocabulary = json.loads(path.read_text(encoding="utf-8"))
        # M2M-100's made-up words pad its embedding matrix; the tokenizer has no id for them
        ids = tokenizer.convert_tokens_to_ids([t for t in vocabulary if not t.startswith("madeupword")])
        expected = [i for i, t in enumerate(vocabulary) if not t.startswith("madeupword")]
        wrong = [(vocabulary[e], e, i) for e, i in zip(expected, ids, strict=True) if e != i]
        if wrong:
            token, position, tokenizer_id = wrong[0]
            raise XlingError(
                f"{path.name}: the converted vocabulary does not match the tokenizer ({len(wrong)} tokens "
                f"differ, e.g. {token!r} is entry {position} but tokenizer id {tokenizer_id}); its outputs "
                "would be nonsense"
            )
    return vocabulary


def _compare_scores(source: Path, folder: Path, tokenizer, vocabulary_size: int) -> list[float]:
    """Return |log p(token)| differences, CTranslate2 (in `folder`) vs PyTorch, over CHECK_SENTENCES.

    Each sentence is scored teacher-forced as its own translation (language conventions do not matter to
    a comparison of two implementations of one function). Loading the conversion here also makes a broken
    file fail now rather than at the first translation.
    """
    import ctranslate2
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from xling.embeddings.weights import load_pretrained

    translator = ctranslate2.Translator(str(folder), device="cpu", intra_threads=1)
    with _quiet_transformers():
        model = load_pretrained(AutoModelForSeq2SeqLM, source).float().eval()
    start, eos = model.config.decoder_start_token_id, tokenizer.eos_token
    pieces = [tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])
              for text in CHECK_SENTENCES]  # fmt: skip
    scored = translator.score_batch([[*p, eos] for p in pieces], pieces)

    def log_probs(ids: list[int]) -> torch.Tensor:
        with torch.no_grad():
            logits = model(
                input_ids=torch.tensor([ids]), decoder_input_ids=torch.tensor([[start, *ids[:-1]]])
            ).logits
        # Marian's conversion leaves out <pad> (its last id, never an output): softmax over the same tokens
        return logits[0, :, :vocabulary_size].log_softmax(-1)[torch.arange(len(ids)), torch.tensor(ids)]

    sequences = [tokenizer.convert_tokens_to_ids([*tokens, eos]) for tokens in pieces]
    expected = [log_probs(ids) for ids in sequences]
    differences: list[float] = []
    for result, model_scores in zip(scored, expected, strict=True):
        differences += (torch.tensor(result.log_probs) - model_scores).abs().tolist()
    if model.config.model_type == "marian":
        _check_marian_decoder_start(model, source, sequences, expected, log_probs)
    return differences


def _check_marian_decoder_start(model, source: Path, sequences: list[list[int]], expected: list[Any],
                                log_probs: Callable[[list[int]], Any]) -> None:  # fmt: skip
    """Return nothing when a Marian model decodes from a zero vector, as CTranslate2 (and Marian-NMT) do;
    XlingError naming the difference when its `<pad>` embedding row (the decoder start) is another vector
    that changes its scores, which no quantization of the conversion reproduces (a model fine-tuned with the
    row left free to move)."""
    import torch

    weight = model.get_decoder().embed_tokens.weight
    start = model.config.decoder_start_token_id
    if start is None or not weight[start].any():
        return
    with torch.no_grad():
        row = weight[start].clone()
        weight[start] = 0
        try:
            zero_start = [log_probs(ids) for ids in sequences]
        finally:
            weight[start] = row
    moved = max(float((a - b).abs().max()) for a, b in zip(expected, zero_start, strict=True))
    if moved > FLOAT32_TOLERANCE:
        raise XlingError(
            f"{source}: its <pad> embedding row, where a Marian model starts decoding, is not zero (norm "
            f"{float(row.norm()):.3g}; token log-probabilities differ by up to {moved:.3g} from a zero start), "
            "but CTranslate2 starts Marian models from a zero vector, so no conversion translates as this model "
            "does; not written (fine-tuning with xling mt train keeps the row at zero)"
        )


def _metadata(source: Path, model_type: str, quantization: str, vocabulary_size: int,
              files: dict[str, dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    """Return the xling.json of a conversion: what it was made from (`files`, source_fingerprints taken
    before the conversion read them), and how."""
    import ctranslate2
    import transformers

    tokenizer_config = source / "tokenizer_config.json"
    tokenizer_class = None
    if tokenizer_config.is_file():
        tokenizer_class = json.loads(tokenizer_config.read_text(encoding="utf-8")).get("tokenizer_class")
    parent = read_metadata(source) if (source / METADATA_FILE).is_file() else {}
    return {
        "kind": CT2_KIND,
        "source": str(source.resolve()),
        "model_type": model_type,
        "architecture": SEQ2SEQ_MODEL_TYPES[model_type],
        "family": parent.get("family"),
        "tokenizer_class": tokenizer_class,
        "quantization": quantization,
        "vocabulary_size": vocabulary_size,
        "source_files": files,
        "ctranslate2": ctranslate2.__version__,
        "transformers": transformers.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Within the block: no transformers progress bars or info messages (the library prints nothing)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    verbosity = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
