"""`xling mt train`: train a many-to-many M2M-100-style translation model, or fine-tune any translation model.

A new model (a size preset) is xling's own: the model folder it writes is a Hugging Face one
(`M2M100ForConditionalGeneration`, tokenizer) plus `xling.json` (kind "translation", family "xling", the
language tokens), so `transformers` loads it and `xling.Translator` knows its conventions: source
`__src__ pieces </s>`, decoding from `</s>` with the target language token `__tgt__` forced first, as M2M-100
does with its two-letter codes.

`model` may also be a model folder of any family `xling.Translator` runs (M2M-100, NLLB-200, Marian/OPUS-MT,
xling): it is loaded with `AutoModelForSeq2SeqLM` (local files, safetensors or a weights-only
`pytorch_model.bin`) and trained with that family's conventions (`languages.conventions_for`), and the
folder written keeps the family's tokenizer and records the family in `xling.json`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from xling.alignment.sentences.clauses import clause_split
from xling.artifacts import CT2_KIND, METADATA_FILE, TRANSLATION_KIND, read_metadata
from xling.atomic import check_folder_place, recorded_kind, shown_names, write_json_atomically
from xling.config import check_int, config_to_dict, given_fields
from xling.data.config import CorpusConfig
from xling.data.sampling import evenly_spread
from xling.devices import resolve_device
from xling.embeddings.weights import has_weights
from xling.errors import ConfigError, DataError, XlingError
from xling.hf_attention import attention_of, set_attention
from xling.tokenization.vocabulary import language_token, load_tokenizer, save_tokenizer, tokenizer_metadata
from xling.training import TrainingConfig, TrainResult, train
from xling.training.checkpoint import (
    BEST_DIR,
    UnreadableCheckpointError,
    average_checkpoints,
    last_scheduled,
    list_checkpoints,
    load_checkpoint,
    read_trainer_state,
)
from xling.training.distributed import is_main_process, launched_world_size
from xling.training.loop import entries_besides_the_run
from xling.training.model_folder import save_model_folder
from xling.translation.data import (
    DIRECTION_MODES,
    ParallelData,
    SequenceFormat,
    TranslationBatches,
    build_parallel_data,
    parse_direction,
)
from xling.translation.decoding import DecodeOptions
from xling.translation.languages import conventions_for, detect_family
from xling.translation.objective import Seq2SeqObjective
from xling.translation.presets import PRESETS, model_config
from xling.translation.testsets import training_records
from xling.translation.warm_start import layer_activation, load_encoder, warm_start

logger = logging.getLogger(__name__)

# besides the training bookkeeping (xling.training.resume): fields a resumed run may change, as they only
# shape the files written after training. The dev settings may not: the best dev chrF++ a checkpoint kept
# was measured on its dev set, and another set's figures would be compared with it.
RESUMABLE = ("output", "resume", "overwrite", "average_last", "attention")

ATTENTION_CHOICES = ("auto", "eager", "sdpa")


@dataclass
class MTTrainConfig:
    """Settings of `xling mt train`."""

    output: str = "runs/mt"
    """The model folder to write (Hugging Face layout + xling.json); it also holds the run's checkpoints."""

    tokenizer: str = ""
    """The folder made by `xling tokenizer train`, with a language token for every language trained on;
    "" takes the tokenizer of `model` when that is a model folder."""

    model: str = "mini"
    """A size preset (tiny, mini, small, base; xling.translation.presets), a config.json, or a translation
    model folder to fine-tune: xling's own, M2M-100, NLLB-200 or Marian (OPUS-MT), each trained with its
    family's language conventions."""

    dropout: float = 0.1
    """Dropout of a new model's hidden states, in [0, 1); a model folder keeps its own."""

    init_encoder: str = ""
    """An xling encoder (a shipped name such as xling-mini, or a folder from `xling pretrain` or `xling align`)
    that starts a new model: its vectors of the vocabulary's pieces become the shared embeddings, and a
    BERT-style transformer of the model's width also gives its layers to the encoder
    (`xling.translation.warm_start`). "" starts from random weights."""

    data: CorpusConfig = field(default_factory=CorpusConfig)
    """The id-aligned corpus and its held-out test ids (`[mt.data]`: corpus, languages, heldout_prefixes)."""

    directions: str = "pivot"
    """Which ordered language pairs of the corpus to train: "pivot" (pivot<->xx, English-centric as most
    many-to-many models) or "all" (every ordered pair)."""

    pivot: str = "eng"
    """The pivot language of directions = "pivot"."""

    extra_directions: list[str] = field(default_factory=list)
    """More corpus directions as `src-tgt` (e.g. `deu-fra`), trained besides the pivot-centric ones."""

    parallel: list[str] = field(default_factory=list)
    """Parallel files as `src-tgt=path.tsv` (`src<TAB>tgt` lines) or `src-tgt=path.src,path.tgt` (Moses),
    trained in both directions. A code's script or region is kept (`eng-zho_Hant`, `en-zh-TW`: the model's
    Traditional Chinese token, as `xling translate --tgt zh-Hant` asks for); `xling.translation.data.
    parse_direction` says how a spec with hyphens inside its tags is split."""

    temperature: float = 5.0
    """Direction sampling p_d ~ n_d^(1/T) over the directions' pair counts (M2M-100 and mBART: 5)."""

    length_groups: int = 1
    """Groups of like length a batch's pairs are drawn in, each from its own narrow band of lengths and run
    padded to its own longest pair. 1: a batch of pairs alike in length (little padding, less learnt per
    target token); 4 mixes lengths and learns per target token as random batches do, at ~10% of the speed
    on a 2-core CPU: after equal minutes neither was ahead (docs/translation.md, Settings tried). Worth
    trying where narrow forward passes cost little (a GPU, bigger batches)."""

    attention: str = "auto"
    """Attention kernels while training: "eager" (transformers' matmul-softmax attention), "sdpa" (torch's
    scaled_dot_product_attention) or "auto": eager on a CPU, where an M2M-100 training step ran 15-25%
    faster with it than with transformers' default SDPA (2-core Zen 5, bf16, batches of 48 pairs of 12-128
    tokens; docs/translation.md, Settings tried), and the model's own (SDPA) on a GPU. Outputs agree to
    rounding; the saved model does not keep the choice."""

    clause_pairs: int = 0
    """Also train on clause pairs cut from the training pairs (`xling.alignment.sentences.clauses`): shorter
    units than Bible verses, aligned by their punctuation; 0 = off, else the most clauses a pair may have
    (>= 2), with each clause's share of its side's length agreeing within clause_length_ratio. Dev and test
    texts stay whole."""

    clause_length_ratio: float = 2.0
    """How far (as a ratio, >= 1) a clause's share of its side's length may differ from its partner's."""

    max_length: int = 128
    """Longest side of a training pair in tokens (language token and </s> included); longer pairs are
    dropped."""

    label_smoothing: float = 0.1
    """Label smoothing of the cross-entropy, in [0, 1)."""

    dev_fraction: float = 0.01
    """A stable hashed share of the corpus ids kept out of training as the dev set, in [0, 0.5)."""

    dev_directions: list[str] = field(default_factory=list)
    """Directions whose dev chrF++ is measured during training (`src-tgt`); empty: every direction out of the
    pivot, and those of parallel files between two other languages. `dev_chrf` (their average) chooses the weights the run saves (its best evaluation)
    unless training.best_metric names another metric or average_last averages checkpoints; without dev
    sentences, with training.eval_every 0, or with training.best_metric given empty (a recipe or `--set
    training.best_metric=`) the last step's weights are saved."""

    dev_max_sentences: int = 100
    """Dev sentences per direction decoded (greedy) at each evaluation, spread evenly over its dev set."""

    resume: bool = False
    """Continue from the newest checkpoint in `output`; without it a folder with checkpoints is refused."""

    overwrite: bool = False
    """Train into an `output` that already holds a model (it is replaced once the new one is saved); not
    needed to fine-tune a model in place (`output` = `model`)."""

    average_last: int = 0
    """Save the mean of the run's last K checkpoints as the model (Vaswani et al. 2017; smooths the last
    steps' noise) instead of the best (training.best_metric) or last one; 0 or 1: off. Needs
    training.keep_checkpoints 0 or >= K; `benchmarks/mt_average.py` compares K on dev."""

    training: TrainingConfig = field(default_factory=TrainingConfig)
    """The training loop (`[mt.training]`): steps, batch (pairs per micro-batch), learning rate, checkpoints."""

    def validate(self) -> None:
        """Return nothing once the path fields are resolved (`resolve_paths`); raise ConfigError naming the
        first bad field, a model folder without weights to train included (before any data is read)."""
        self.resolve_paths()
        self.data.validate()
        if self.data.text:  # monolingual files: nothing here reads them, and they would be dropped unsaid
            raise ConfigError("data.text: mt train reads translations only: an aligned corpus (data.corpus) or "
                              "pairs (parallel = src-tgt=FILE)")  # fmt: skip
        if self.directions not in DIRECTION_MODES:
            raise ConfigError(f"directions: {self.directions!r} must be one of {', '.join(DIRECTION_MODES)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: {self.dropout} must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing: {self.label_smoothing} must be in [0, 1)")
        if not 0 <= self.dev_fraction < 0.5:
            raise ConfigError(f"dev_fraction: {self.dev_fraction} must be in [0, 0.5)")
        check_int("dev_max_sentences", self.dev_max_sentences, 1)  # 0 left nothing to score, -1 cut one
        if self.max_length < 4:
            raise ConfigError(f"max_length: {self.max_length} is too short")
        if self.temperature <= 0:
            raise ConfigError(f"temperature: {self.temperature} must be above 0")
        check_int("length_groups", self.length_groups, 1)
        clause_split(self.clause_pairs, self.clause_length_ratio)
        if self.attention not in ATTENTION_CHOICES:
            raise ConfigError(f"attention: {self.attention!r} must be one of {', '.join(ATTENTION_CHOICES)}")
        if self.init_encoder and is_model_folder(self.model):
            raise ConfigError("init_encoder: starts a new model (a size preset); the model folder "
                              f"{self.model} has trained weights of its own")  # fmt: skip
        check_trainable(self.model)
        for item in self.dev_directions:
            parse_direction(item, "dev_directions")
        keep = self.training.keep_checkpoints
        if self.average_last < 0:
            raise ConfigError(f"average_last: {self.average_last} must be 0 (off) or more")
        if self.average_last > 1 and 0 < keep < self.average_last:
            raise ConfigError(f"average_last: {self.average_last} checkpoints, but training.keep_checkpoints "
                              f"keeps {keep} (set it to 0, all, or >= {self.average_last})")  # fmt: skip
        training = self.training
        defaulted = "best_metric" not in (given_fields(self, "training") or ())
        if not training.best_metric and defaulted and training.eval_every and self.average_last <= 1:
            # dev_chrf is watched unless told otherwise (default_best_metric, once the data says whether dev
            # sentences are scored; the loop checks early stopping against it then): early_stopping_patience
            # alone was refused for want of a best_metric
            training = replace(training, best_metric="dev_chrf")
        training.validate()

    def resolve_paths(self) -> None:
        """Return nothing; expand `~` in every path field (output, tokenizer, model, init_encoder, data.corpus;
        `parallel`'s files are expanded where they are read, `parallel_paths`), as `xling translate` does
        with its model, and take a shipped model name as its folder (`shipped_model`). Done in place, so the
        run folder, its checks and the recorded config all name the paths the run used."""
        self.output = os.path.expanduser(self.output)
        self.tokenizer = os.path.expanduser(self.tokenizer)
        self.model = shipped_model(os.path.expanduser(self.model))
        self.init_encoder = os.path.expanduser(self.init_encoder)
        self.data.corpus = os.path.expanduser(self.data.corpus)


@dataclass
class MTTrainResult:
    """A finished translation training run: where the model is, how training went, its dev scores."""

    output: Path
    train: TrainResult
    evaluation: dict[str, Any]
    model: torch.nn.Module | None = None
    family: str = "xling"
    """The model family trained (its language conventions): xling, m2m100, nllb or marian."""


def is_model_folder(path: str | Path) -> bool:
    """Return whether `path` is a model folder (config.json and safetensors or PyTorch weights, in one file
    or in shards with their index, as transformers saves a large model)."""
    return (Path(path) / "config.json").is_file() and has_weights(path)


def shipped_model(model: str) -> str:
    """Return the folder of a shipped model name (`xling-mt-bible`, looked up as `xling translate` looks it
    up: $XLING_MODELS, $XLING_HOME/models, the package's models) when `model` is no preset and names nothing
    here; else `model` as given."""
    from xling.embeddings.encoder import shipped_folder

    if not model or model in PRESETS or Path(model).exists():
        return model
    shipped = shipped_folder(model)
    return model if shipped is None else str(shipped)


def check_trainable(model: str) -> None:
    """Return nothing unless `model` is a folder without PyTorch weights or a config.json that is not an
    M2M-100's (a preset, a model folder or a path that is none of them is judged later); else ConfigError
    naming it and what it lacks.

    A CTranslate2 conversion has no weights to train: the shipped xling-mt-bible keeps only its conversion
    (its float32 weights stay in its training run's folder), and `xling export ct2 --output DIR` writes one
    apart from its model."""
    folder = Path(model)
    if folder.is_file():  # a new model's config.json: said before the data is read
        model_config(model, vocab_size=8, dropout=0.0)
        return
    if not model or model in PRESETS or not folder.is_dir() or is_model_folder(folder):
        return
    meta = _metadata_or_empty(folder)
    if meta.get("kind") == CT2_KIND:
        source = meta.get("source") or "the model folder it was made from"
        raise ConfigError(f"model: {folder} is a CTranslate2 conversion (`xling export ct2` of {source}): it has "
                          f"no PyTorch weights, so it cannot be fine-tuned; fine-tune {source} instead")  # fmt: skip
    if (folder / "ctranslate2" / "model.bin").is_file() or (folder / "model.bin").is_file():
        recorded = meta.get("config")
        run = recorded.get("output") if isinstance(recorded, dict) else None
        where = (f"in the folder of its training run ({run}, as its xling.json records: `xling mt train` saved "
                 "the model there)" if run else "in the folder it was converted from")  # fmt: skip
        raise ConfigError(f"model: {folder} ships without PyTorch weights (only its CTranslate2 conversion), so it "
                          f"cannot be fine-tuned; its weights (model.safetensors) are {where}: give that folder "
                          "as model")  # fmt: skip
    raise ConfigError(f"model: {folder} is a folder without PyTorch weights (config.json with model.safetensors "
                      "or pytorch_model.bin, or their shards with an index); give a model folder with its "
                      f"weights, a size preset ({', '.join(PRESETS)}) or a config.json")  # fmt: skip


def _metadata_or_empty(folder: Path) -> dict[str, Any]:
    """Return a folder's xling.json ({} when it has none or it does not read: only a message depends on it)."""
    try:
        return read_metadata(folder)
    except XlingError:
        return {}


def model_family(config: MTTrainConfig) -> str:
    """Return the family of the model trained: "xling" for a preset, else the model folder's."""
    return detect_family(config.model) if is_model_folder(config.model) else "xling"


def family_format(config: MTTrainConfig, tokenizer) -> SequenceFormat | None:
    """Return how the model folder's family builds its sequences; None for xling's own (a preset or an xling
    folder), whose format comes from the tokenizer's language tokens (it may have more than the model was
    trained on).

    The decoder start is the model's `decoder_start_token_id` (`</s>` for M2M-100/NLLB, `<pad>` for Marian).
    """
    family = model_family(config)
    if family == "xling":
        return None
    folder = Path(config.model)
    return SequenceFormat(tokenizer, conventions_for(folder, tokenizer, family), decoder_start_id(folder))


def decoder_start_id(folder: Path) -> int:
    """Return the decoder start token id of a model folder (config.json, else its generation config)."""
    from transformers import AutoConfig, GenerationConfig

    start = AutoConfig.from_pretrained(str(folder), local_files_only=True).decoder_start_token_id
    if start is None and (folder / "generation_config.json").is_file():
        start = GenerationConfig.from_pretrained(str(folder), local_files_only=True).decoder_start_token_id
    if not isinstance(start, int):
        raise ConfigError(f"model: {folder / 'config.json'} has no decoder_start_token_id")
    return start


def build_model(config: MTTrainConfig, tokenizer, special_ids: Collection[int] = ()) -> torch.nn.Module:
    """Return a fresh M2M100ForConditionalGeneration for a preset, or the model of a folder to go on from.

    `special_ids` (the language tokens trained on) must have embeddings too. Under torchrun LayerDrop is
    turned off (M2M-100's configs have 0.05): each rank would skip other layers, whose weights then get no
    gradient on that rank, and DistributedDataParallel stops ("Expected to have finished reduction") or hangs.
    """
    model = _built_model(config, tokenizer, special_ids)
    dropped = {name: getattr(model.config, name, 0.0) for name in ("encoder_layerdrop", "decoder_layerdrop")}
    if launched_world_size() > 1 and any(value for value in dropped.values()):
        if is_main_process():  # said once, not by every process
            logger.warning("%s: LayerDrop (%s) is turned off for training on %d processes: DDP needs every rank "
                           "to use every layer", config.model, ", ".join(f"{k} {v}" for k, v in dropped.items()),
                           launched_world_size())  # fmt: skip
        # the encoder and decoder read it at each step from what their config said when built; the config
        # itself keeps the model's values, so the saved model keeps them too
        for stack in model.modules():
            if isinstance(getattr(stack, "layerdrop", None), float):
                stack.layerdrop = 0.0
    return model


def _built_model(config: MTTrainConfig, tokenizer, special_ids: Collection[int]) -> torch.nn.Module:
    """Return the model `build_model` gives, LayerDrop as its config says."""
    from transformers import AutoModelForSeq2SeqLM, M2M100ForConditionalGeneration

    from xling.embeddings.weights import load_pretrained

    if is_model_folder(config.model):
        # transformers reads a pytorch_model.bin with torch.load(weights_only=True); said here so it stays so
        model, loading = load_pretrained(
            AutoModelForSeq2SeqLM, Path(config.model), weights_only=True, output_loading_info=True
        )
        # transformers fills weights the checkpoint lacks with random ones and says so in a log table only:
        # fine-tuned, they would be saved as a trained model (transformers leaves out the tied and ignorable)
        if missing := sorted(loading.get("missing_keys", ())):
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise DataError(f"the checkpoint lacks {shown}: they would start random and be saved as trained",
                            Path(config.model))  # fmt: skip
        # a folder saved in half precision loads as such (transformers 5 reads dtype "auto"): the weights train
        # in float32 whatever training.precision says (mixed precision computes in half, updates in float32)
        model = model.float()
        rows = model.get_input_embeddings().num_embeddings
        # len(tokenizer) and get_vocab() leave out M2M-100's language tokens in transformers 5
        highest = max(len(tokenizer) - 1, *tokenizer.get_vocab().values(), *special_ids)
        if highest >= rows:
            raise ConfigError(f"model: {rows} embeddings in {config.model}, but its tokenizer has ids up to "
                              f"{highest}")  # fmt: skip
        # Weights a model never saves must not train: Marian's sinusoidal position tables come back from
        # from_pretrained with requires_grad=True (transformers 5.24), and AdamW's updates to them would be
        # lost on save, so the saved model would not be the trained one.
        unsaved = set(getattr(model, "_keys_to_ignore_on_save", None) or ())
        for name, param in model.named_parameters():
            if name in unsaved:
                param.requires_grad_(False)
        positions = getattr(model.config, "max_position_embeddings", None)
        # M2M-100's (and NLLB's) sinusoidal table grows with the input; Marian's is fixed: a longer batch was an
        # IndexError whenever one was drawn, hours into a run
        fixed = model.config.model_type != "m2m_100" and isinstance(positions, int)
        if fixed and config.max_length > positions:
            raise ConfigError(f"max_length: {config.max_length} is more than the {positions} positions of "
                              f"{config.model} ({model.config.model_type}); set max_length to {positions} "
                              "or less")  # fmt: skip
        if model.config.model_type == "marian":
            keep_decoder_start_row(model)
        return model
    hf_config = model_config(config.model, vocab_size=len(tokenizer), dropout=config.dropout)
    if hf_config.vocab_size != len(tokenizer):
        raise ConfigError(f"model: vocab_size {hf_config.vocab_size} != tokenizer size {len(tokenizer)}")
    if not config.init_encoder:
        return M2M100ForConditionalGeneration(hf_config)
    encoder = load_encoder(config.init_encoder)
    # layers copied from a transformer keep working only with the activation they were trained with; this is
    # decided here, so that a model rebuilt from the config to load a checkpoint has it too
    hf_config.activation_function = layer_activation(encoder, hf_config) or hf_config.activation_function
    model = M2M100ForConditionalGeneration(hf_config)
    warm_start(model, tokenizer, encoder, config.init_encoder, set(special_ids))
    return model


def training_attention(attention: str, device: str) -> str | None:
    """Return the attention implementation to train with on `device` (a torch device name or "auto"), or
    None to keep the model's own: `MTTrainConfig.attention` resolved."""
    if attention != "auto":
        return attention
    return "eager" if resolve_device(device).startswith("cpu") else None


def keep_decoder_start_row(model: torch.nn.Module) -> None:
    """Return nothing; make the `<pad>` rows of a Marian (OPUS-MT) model's embeddings and output layer get
    no gradient, so fine-tuning leaves them as they are (zero in OPUS-MT models).

    Marian decodes from `<pad>`: Marian-NMT and CTranslate2 start the decoder from a zero vector, which
    transformers reproduces by a zero `<pad>` embedding row. The row is tied to the output layer, where the
    softmax over `<pad>` would move it at every step (the lookups of `<pad>` get no gradient, being the
    embeddings' padding_idx), and the model would no longer be the one CTranslate2 runs.
    """
    pad = model.config.pad_token_id
    layers = (model.get_input_embeddings(), model.get_decoder().embed_tokens, model.get_output_embeddings())
    weights = {id(layer.weight): layer.weight for layer in layers if layer is not None}
    for weight in weights.values():
        if weight.requires_grad and pad is not None and 0 <= pad < weight.shape[0]:
            weight.register_hook(functools.partial(_without_row, row=pad))


def _without_row(grad: torch.Tensor, row: int) -> torch.Tensor:
    """Return `grad` with row `row` zeroed (a copy: autograd may hand the same tensor elsewhere)."""
    grad = grad.clone()
    grad[row] = 0
    return grad


def dev_directions(config: MTTrainConfig, data: ParallelData) -> list[str]:
    """Return the dev directions to evaluate: the configured ones, or every dev direction out of the pivot and
    those of parallel files between two other languages (every dev direction when that leaves none)."""
    if config.dev_directions:
        names = ["-".join(parse_direction(d, "dev_directions")) for d in config.dev_directions]
        missing = [n for n in names if n not in data.dev]
        if missing:
            raise ConfigError(f"dev_directions: no dev sentences for {', '.join(missing)} (corpus directions "
                              f"with dev ids: {', '.join(sorted(data.dev)) or 'none'})")  # fmt: skip
        return names
    from xling.data.languages import normalize_language

    if not config.pivot:  # directions "all" with no pivot named: every direction with dev sentences
        return list(data.dev)
    pivot = normalize_language(config.pivot, where="pivot")
    # the directions out of the pivot, and those of parallel files between two other languages (deu-fra):
    # their dev pairs were held out of training and never scored. A corpus's directions between two other
    # languages are not: directions "all" over 60 Bible languages has 3,540, 59 of them out of the pivot
    return [name for name in data.dev if name.startswith(f"{pivot}-")
            or (name in data.file_dev and pivot not in name.split("-"))] or list(data.dev)  # fmt: skip


@torch.inference_mode()
def greedy_translate(model, tokenizer, texts: list[str], src: str, tgt: str, *, batch_size: int = 32,
                     max_length: int = 128, sequence_format: SequenceFormat | None = None) -> list[str]:  # fmt: skip
    """Return greedy translations of `texts` by a translation model in its family's `sequence_format`
    (default: xling's, from the tokenizer's language tokens).

    For the dev evaluation during training; `xling.Translator` is the full decoder (beam search, batching
    by length, long documents).
    """
    sequence_format = sequence_format or SequenceFormat.xling(tokenizer, [src, tgt])
    marks = sequence_format.marks(src, tgt)
    pad = sequence_format.pad
    strip = sequence_format.target_language_ids | {pad}  # output ids: the target vocabulary's
    device = next(model.parameters()).device
    room = max(1, max_length - len(marks.before) - len(marks.after))
    prompt = [sequence_format.decoder_start, *marks.prefix]
    # the output limit is the Translator's (DecodeOptions' defaults), so that dev scores what `xling translate`
    # would give
    decode = DecodeOptions()
    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        rows = [[*marks.before, *p[:room], *marks.after] for p in sequence_format.encode(chunk)]
        width = max(map(len, rows))
        limits = [decode.output_limit(row) for row in rows]
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
        generated = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=(input_ids != pad).long().to(device),
            decoder_input_ids=torch.tensor([prompt] * len(rows), device=device),
            num_beams=1,
            do_sample=False,
            forced_bos_token_id=None,  # the target language is in the prompt (a fine-tuned model may set one)
            # max_length, not max_new_tokens: the saved generation config sets max_length, and giving both
            # makes transformers warn; it counts the forced decoder tokens
            max_length=len(prompt) + max(limits),
        )
        # each output within its own source's limit, as the backends hold it (the chunk ran to its longest's)
        ids = [[i for i in row[:limit] if i not in strip]
               for row, limit in zip(generated[:, len(prompt) :].tolist(), limits, strict=True)]  # fmt: skip
        outputs.extend(tokenizer.batch_decode(ids, skip_special_tokens=True))
    return outputs


def chrf_evaluation(data: ParallelData, directions: list[str], max_sentences: int, max_length: int = 128):
    """Return the training loop's dev evaluation: greedy chrF++ (sacrebleu, word_order=2) per direction, on
    sources cut at `max_length` tokens (the run's: the data's pairs fit it)."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF(word_order=2)
    sequence_format = data.format

    def evaluate(objective: torch.nn.Module, step: int) -> dict[str, float]:
        scores: dict[str, float] = {}
        for name in directions:
            # spread over the dev set: its first 100 Bible verses were all Genesis to 2 Kings, and a file's
            # dev pairs its first lines
            scored = evenly_spread(range(len(data.dev[name][0])), max_sentences)
            sources, references = ([side[i] for i in scored] for side in data.dev[name])
            src, tgt = name.split("-")
            hypotheses = greedy_translate(objective.model, sequence_format.tokenizer, sources, src, tgt,
                                          max_length=max_length, sequence_format=sequence_format)  # fmt: skip
            scores[f"chrf_{name}"] = chrf.corpus_score(hypotheses, [references]).score
        scores["chrf"] = sum(scores.values()) / max(1, len(scores))
        return scores

    return evaluate


def chrf_metric_names(directions: list[str]) -> list[str]:
    """Return the metrics the dev evaluation (`chrf_evaluation` as "dev") reports, as the loop names them:
    the average `dev_chrf` and `dev_chrf_<direction>` of each direction."""
    return ["dev_chrf", *(f"dev_chrf_{name}" for name in directions)]


def check_same_ids(tokenizer, config: MTTrainConfig) -> None:
    """Return nothing when `tokenizer` (config.tokenizer) gives every token of the fine-tuned model folder's own
    tokenizer the id the model learnt it under (it may add tokens after them: new languages); ConfigError
    naming the first that moved, as its embedding row would then stand for another token."""
    try:
        own = load_tokenizer(config.model).get_vocab()
    except Exception as error:  # noqa: BLE001 (a folder without a whole tokenizer of its own: nothing to compare)
        logger.warning("%s: its own tokenizer does not load (%s); the ids of %s are not checked against it",
                       config.model, str(error)[:200], config.tokenizer)  # fmt: skip
        return
    given = tokenizer.get_vocab()
    for token, index in sorted(own.items(), key=lambda item: item[1]):
        if given.get(token) != index:
            raise ConfigError(f"tokenizer: {config.tokenizer} gives {token!r} the id {given.get(token)}, but the "
                              f"model {config.model} learnt it as {index}: give the model's own tokenizer (or "
                              "leave tokenizer empty to use it)")  # fmt: skip


def train_translation(config: MTTrainConfig) -> MTTrainResult:
    """Return the result of training a translation model as the config says; the folder goes to config.output."""
    config.validate()
    tokenizer_path = config.tokenizer or (config.model if is_model_folder(config.model) else "")
    if not tokenizer_path:
        raise ConfigError(
            "tokenizer: give the folder made by `xling tokenizer train` (or a model folder as model)"
        )
    tokenizer = load_tokenizer(tokenizer_path)
    if config.tokenizer and is_model_folder(config.model):
        check_same_ids(tokenizer, config)
    check_output(config)  # before the data is read: a refused run should not take minutes to say so
    started = time.perf_counter()
    data = build_parallel_data(
        tokenizer,
        corpus=config.data.corpus,
        languages=config.data.languages,
        mode=config.directions,
        pivot=config.pivot,
        extra_directions=config.extra_directions,
        parallel=config.parallel,
        heldout=config.data.heldout(),
        dev_fraction=config.dev_fraction,
        max_length=config.max_length,
        skip_bad=config.data.skip_bad,
        sequence_format=family_format(config, tokenizer),
        clause_split=clause_split(config.clause_pairs, config.clause_length_ratio),
    )
    logger.info("%d directions, %d training pairs (read in %.0f s)", len(data.directions),
                sum(data.counts().values()), time.perf_counter() - started)  # fmt: skip
    if not config.data.corpus and (unused := _corpus_settings_given(config)):
        # the parallel files alone: a held-out book named here holds nothing out of them
        logger.warning("%s: read from an aligned corpus (data.corpus), and none is given: they do nothing to the "
                       "parallel files", ", ".join(unused))  # fmt: skip
    if config.data.corpus and not any(config.data.heldout_prefixes):
        logger.warning("data.heldout_prefixes is empty: every book of %s trains, so `xling eval mt` (which scores "
                       "the Gospel of John, JHN., by default) would score sentences the model was trained on; "
                       "hold the test book out (data.heldout_prefixes = [\"JHN.\"])", config.data.corpus)  # fmt: skip
    if not data.dev and config.dev_fraction and config.training.eval_every:
        logger.warning("no dev sentences: the dev share (dev_fraction %g) of the data held out none, so no dev "
                       "chrF++ is measured (raise it, or evaluate afterwards with xling eval mt)",
                       config.dev_fraction)  # fmt: skip
    torch.manual_seed(config.training.seed)
    model = build_model(config, tokenizer, data.format.language_ids)
    attention = training_attention(config.attention, config.training.device)
    if not set_attention(model, attention):
        logger.warning("attention: the model cannot switch to %s attention; it trains with its own (%s)",
                       attention, attention_of(model))  # fmt: skip
    objective = Seq2SeqObjective(model, config.label_smoothing)
    batches = TranslationBatches(data, batch_size=config.training.batch_size, temperature=config.temperature,
                                 seed=config.training.seed, length_groups=config.length_groups)  # fmt: skip
    evaluations = {}
    evaluated = dev_directions(config, data)
    if evaluated and config.training.eval_every:
        evaluations["dev"] = chrf_evaluation(data, evaluated, config.dev_max_sentences, config.max_length)
    # set in the config, so the run records it and a resumed run chooses as this one did
    config.training.best_metric = default_best_metric(config, bool(evaluations))
    if config.average_last > 1 and config.training.best_metric:
        logger.warning("average_last: the model saved is the mean of the last %d checkpoints; training.best_metric "
                       "(%s) is still tracked (best/, early stopping) but does not choose it",
                       config.average_last, config.training.best_metric)  # fmt: skip
    output = Path(config.output)
    result = train(objective, batches, config.training, output, resume=config.resume,
                   restart=config.overwrite or fine_tunes_in_place(config), evaluations=evaluations,
                   description="mt train", run_config=config_to_dict(config), may_change=RESUMABLE,
                   run_defaults=config_to_dict(MTTrainConfig()), data_files=data.files,
                   metric_names=chrf_metric_names(evaluated) if evaluations else None)  # fmt: skip
    evaluation: dict[str, Any] = dict(result.metrics)
    if config.average_last > 1:
        averaged = checkpoints_to_average(output, config, result)
        average_checkpoints(averaged, objective)
        evaluation = {"averaged_checkpoints": [p.name for p in averaged], "last": dict(result.metrics)}
        if "dev" in evaluations and result.is_main:
            objective.eval()
            evaluation["dev_averaged"] = evaluations["dev"](objective, result.steps)
    elif result.best is not None:  # the model saved is the best one on dev chrF++, not the last
        load_checkpoint(Path(result.best["path"]), objective)
        evaluation = {"best": result.best}
    if result.is_main:
        save_translation_model(model, tokenizer, output, config, data, result, evaluation, tokenizer_path)
    return MTTrainResult(output, result, evaluation, model, data.format.family)


def default_best_metric(config: MTTrainConfig, scores_dev: bool) -> str:
    """Return the metric whose best evaluation chooses the saved weights: training.best_metric where the
    recipe or `--set` gave it ("" keeps the last step's weights) or it is set; else, for a resumed run, what
    its newest readable checkpoint recorded ("" for a run begun before this default, or one recording no
    config); else "dev_chrf" when the run scores dev sentences and average_last does not average (a config
    built in code cannot tell "" from unset: it gets the default too)."""
    given = given_fields(config, "training")
    if config.training.best_metric or (given is not None and "best_metric" in given):
        return config.training.best_metric
    if config.resume:
        for checkpoint in reversed(list_checkpoints(Path(config.output))):
            try:
                recorded = read_trainer_state(checkpoint).get("config")
            except UnreadableCheckpointError:  # as the loop would, for an older one (one whose weights
                continue  # alone are damaged is read here: a run records one best_metric throughout)
            training = recorded.get("training") if isinstance(recorded, dict) else None
            return str(training.get("best_metric", "")) if isinstance(training, dict) else ""
    return "dev_chrf" if scores_dev and config.average_last <= 1 else ""


def checkpoints_to_average(output: Path, config: MTTrainConfig, result: TrainResult) -> list[Path]:
    """Return the last `average_last` checkpoints that an uninterrupted run writes: every checkpoint_every
    steps and at its last step. A stop for time (training.max_minutes) leaves a checkpoint at another step,
    which a resumed run would otherwise average in place of one of these. Fewer than asked: a warning."""
    return last_scheduled(
        output, config.average_last, config.training.checkpoint_every, result.steps, warn=result.is_main
    )


def _base_training_data(model: str) -> list[dict[str, Any]]:
    """Return the aligned-corpus data records (corpus and held-out prefixes) of the model a run fine-tunes
    (its `config.data`) and of the models it was fine-tuned from in turn (its `base_data`); [] for a preset
    or a model that records none."""
    if not is_model_folder(model) or not (Path(model) / METADATA_FILE).is_file():
        return []
    try:
        return training_records(read_metadata(model))
    except XlingError:
        return []


def check_output(config: MTTrainConfig) -> None:
    """Return nothing when the run may write `config.output`; XlingError naming the folder when it holds a
    model that the run would replace unasked: without `overwrite`, unless the model is the one fine-tuned
    in place; with `resume` and no checkpoint to take up (a fresh run would start over it); an earlier
    run's checkpoints without `resume`, `overwrite` or fine-tuning in place (which start a new run)."""
    output = Path(config.output)
    if output.exists() and not output.is_dir():
        raise XlingError(f"{output}: a file is there, not a model folder")
    check_folder_place(output)  # a file above it: mkdir failed after the data was read
    tokenizer = Path(config.tokenizer).expanduser() if config.tokenizer else None
    if tokenizer is not None and tokenizer.is_dir() and tokenizer.resolve() in output.resolve().parents:
        # the recipes keep the tokenizer inside the run, not the run inside the tokenizer: `xling tokenizer
        # train --overwrite` replaces that folder whole, the model with it
        raise ConfigError(f"output: {output} lies inside the tokenizer folder {config.tokenizer}; choose an output "
                          "folder outside it")  # fmt: skip
    checkpoints = list_checkpoints(output)
    # fine-tuning a model in place again starts a new run over a finished one, never over a killed one
    in_place = fine_tunes_in_place(config) and (not checkpoints or run_finished(output, checkpoints))
    if checkpoints and not (config.resume or config.overwrite or in_place):
        raise XlingError(f"{output} holds checkpoints of an earlier run ({checkpoints[-1].name}); pass --resume "
                         "to continue it, --overwrite to train again from the start, or choose another output "
                         "folder")  # fmt: skip
    recorded = recorded_kind(output / METADATA_FILE)
    if recorded not in (None, TRANSLATION_KIND):  # a tokenizer, an encoder...: never replaced by a run here
        raise XlingError(f"{output}: holds a {recorded!r} folder, not a translation model; choose another output "
                         "folder")  # fmt: skip
    holds_model = recorded == TRANSLATION_KIND or is_model_folder(output)
    if output.is_dir() and not holds_model and not checkpoints:
        # a run killed before its first checkpoint left only its own entries; the recipe keeps its
        # tokenizer inside the run folder
        others = entries_besides_the_run(output, config.tokenizer)
        if others:
            raise XlingError(f"{output}: the folder is not empty ({shown_names(others)}) and holds no translation "
                             "model or run; choose another output folder")  # fmt: skip
    if not holds_model or config.overwrite or checkpoints:
        return  # nothing to lose, asked to replace it, or a run the loop resumes (or restarts in place)
    if (
        config.resume and not in_place
    ):  # in place, --resume with no checkpoint yet starts the run (a job script)
        raise XlingError(f"{output}: a model is there but no checkpoint to resume from; pass overwrite "
                         "(--overwrite) to train it again from the start, or fine-tune it (--model "
                         f"{output})")  # fmt: skip
    if not in_place:
        raise XlingError(f"{output}: a model is already there; pass overwrite (--overwrite) to replace it, "
                         "or choose another output folder")  # fmt: skip


def _corpus_settings_given(config: MTTrainConfig) -> list[str]:
    """Return the names of the settings that only an aligned corpus reads, where they differ from their
    defaults (data.heldout_prefixes, data.languages, extra_directions)."""
    defaults = MTTrainConfig()
    given = {
        "data.heldout_prefixes": [p for p in config.data.heldout_prefixes if p]
        != [p for p in defaults.data.heldout_prefixes if p],
        "data.languages": config.data.languages != defaults.data.languages,
        "extra_directions": config.extra_directions != defaults.extra_directions,
    }
    return [name for name, differs in given.items() if differs]


def run_finished(output: Path, checkpoints: Sequence[Path]) -> bool:
    """Return whether the run of `checkpoints` (oldest first) ended and saved its model, by the newest one
    whose trainer state reads, as --resume falls back to it past a damaged one: the model saved in `output`
    records its run and step (at max_steps, or stopped early: by early stopping, not by
    `training.max_minutes`, after which the run is to be resumed; a model and checkpoint of before run ids:
    the step alone). A run at its max_steps killed while saving its model is not one: its last checkpoint
    holds the only trained weights, which a new run would delete (--resume saves them). None reads: not
    known to have ended."""
    state = None
    for checkpoint in reversed(checkpoints):
        with contextlib.suppress(UnreadableCheckpointError):
            state = read_trainer_state(checkpoint)
            break
    if state is None:
        return False
    with contextlib.suppress(Exception):  # no readable xling.json: not known to have ended
        training = read_metadata(output).get("training", {})
        # a killed second run in place can have saved a checkpoint at the step the first run's model ended at
        same_run = (
            not (training.get("run_id") and state.get("run_id")) or training["run_id"] == state["run_id"]
        )
        return (
            same_run and training.get("steps") == state.get("step") and not training.get("stopped_for_time")
        )
    return False


def recipe_config_of_run(recipe: str | Path, checkpoint: Path) -> MTTrainConfig:
    """Return the recipe's MTTrainConfig once the config a checkpoint recorded (its trainer state; for a
    run's `best/`, which keeps none, its run's newest checkpoint's) agrees with it; ConfigError naming the
    fields otherwise: tools that rebuild a run's model from its recipe (shipping, checkpoint averaging) would
    pair its weights with another tokenizer or shape. Where a run trained and for how long are not compared,
    nor fields the run predates (it trained as their defaults do now)."""
    from xling.config import load_config

    config = load_config(MTTrainConfig, str(recipe), section="mt")
    recorded = read_trainer_state(checkpoint).get("config")
    run = checkpoint.parent if checkpoint.name == BEST_DIR else checkpoint.parent.parent
    if not isinstance(recorded, dict) and (found := list_checkpoints(run)):
        recorded = read_trainer_state(found[-1]).get("config")
    if isinstance(recorded, dict):
        ours = json.loads(json.dumps(config_to_dict(config), default=str))
        skipped = {"output", "resume", "overwrite", "training"}
        differ = sorted(key for key in recorded.keys() & ours.keys()
                        if key not in skipped and ours[key] != recorded[key])  # fmt: skip
        if differ:
            raise ConfigError(
                f"{checkpoint} was trained with other settings than {recipe} ({', '.join(differ)})"
            )
    return config


def fine_tunes_in_place(config: MTTrainConfig) -> bool:
    """Return whether the run fine-tunes the model folder it writes (`--model` and `--output` the same)."""
    return is_model_folder(config.model) and Path(config.model).resolve() == Path(config.output).resolve()


def set_generation_defaults(model, decoder_start: int) -> None:
    """Return nothing; set the saved generation config's decoder start and a real output length limit."""
    generation = model.generation_config
    # without this, transformers' generate stops at 20 tokens (its default max_length)
    if not generation.max_length or generation.max_length <= 20:
        generation.max_length = 256
    generation.decoder_start_token_id = decoder_start


def save_translation_model(model, tokenizer, output: Path, config: MTTrainConfig, data: ParallelData,
                           result: TrainResult, evaluation: dict[str, Any], tokenizer_path: str) -> None:  # fmt: skip
    """Write the Hugging Face folder (config.json, model.safetensors, generation config, the family's
    tokenizer) and xling.json (the family, so `xling.Translator` applies its conventions).

    `output` may already hold a model (a run trained again, a model fine-tuned in place), and is also the
    run's folder (save_model_folder): the new files are staged whole inside it, so a failure there leaves
    the old model as it was; xling.json goes first and comes back last, so a crash in between leaves a
    folder without it, never old metadata beside new weights; an earlier save's safetensors weights of the
    other layout (one file, or shards) are deleted.
    """
    family = data.format.family
    set_generation_defaults(model, data.format.decoder_start)
    meta: dict[str, Any] = {"kind": TRANSLATION_KIND, "family": family}
    if family == "xling":
        # a fine-tuned xling model keeps the languages it had besides those trained now
        base = read_metadata(config.model) if is_model_folder(config.model) else {}
        tokens = {
            **base.get("language_tokens", {}),
            **{lang: language_token(lang) for lang in data.languages},
        }
        meta |= {"languages": sorted(tokens), "language_tokens": dict(sorted(tokens.items())),
                 "tokenizer": tokenizer_metadata(tokenizer_path)}  # fmt: skip
    else:
        meta |= {"base_model": str(config.model), "trained_languages": data.languages}
    if earlier := _base_training_data(config.model):
        meta["base_data"] = earlier  # `xling eval mt` still warns when a test book was in the base's training
    meta.update({
        "directions": data.counts(),
        "left_out": data.left_out,
        "config": config_to_dict(config),
        "training": result.to_dict(),
        "evaluation": evaluation,
    })  # fmt: skip

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        if family == "xling":
            save_tokenizer(tokenizer, folder)
        else:
            # the family's own tokenizer class and files; its language tokens are the model's languages
            tokenizer.save_pretrained(str(folder))
            _keep_marian_pair(folder, data)

    save_model_folder(output, write, meta)


def _keep_marian_pair(output: Path, data: ParallelData) -> None:
    """Record a fixed-pair OPUS-MT model's languages in its tokenizer config, where `languages` reads them
    (the original folder may have had them only in its name, `opus-mt-en-de`)."""
    conventions = data.format.conventions
    path = output / "tokenizer_config.json"
    if conventions.family != "marian" or not path.is_file():
        return
    settings = json.loads(path.read_text(encoding="utf-8"))
    pair = {
        "source_lang": "+".join(conventions.fixed_sources),
        "target_lang": "+".join(conventions.fixed_targets),
    }
    missing = {key: code for key, code in pair.items() if code and not settings.get(key)}
    if missing:
        write_json_atomically(path, {**settings, **missing})
