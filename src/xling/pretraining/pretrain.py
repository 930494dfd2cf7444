"""`xling pretrain`: MLM (+ TLM) pretraining of an XLM-R-style encoder, saved as a Hugging Face folder."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xling.artifacts import MASKED_LM_KIND, METADATA_FILE, read_metadata
from xling.atomic import check_apart, same_path, shown_names
from xling.config import config_to_dict
from xling.data.config import CorpusConfig
from xling.data.languages import normalize_language
from xling.data.sources import TextSources
from xling.embeddings.pooling import encode_mean_pooled
from xling.embeddings.transformer import position_limit
from xling.embeddings.weights import WEIGHTS_FILES, has_weights
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.translation_accuracy import retrieval_accuracy
from xling.pretraining.data import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    POSITION_OFFSET,
    PretrainBatches,
    PretrainingData,
    build_pretraining_data,
    parse_parallel_spec,
    training_language,
)
from xling.pretraining.masking import IGNORE_INDEX, first_regular_id, mask_tokens
from xling.pretraining.objective import MaskedLMObjective
from xling.pretraining.presets import MAX_NEW_MODEL_LENGTH, PRESETS, model_config
from xling.tokenization.vocabulary import language_token, load_tokenizer, save_tokenizer, tokenizer_metadata
from xling.training import TrainingConfig, TrainResult, train
from xling.training.checkpoint import list_checkpoints
from xling.training.loop import entries_besides_the_run
from xling.training.model_folder import save_model_folder

logger = logging.getLogger(__name__)

# besides the training bookkeeping (xling.training.resume): fields a resumed run may change, as they only
# shape the evaluation after training
RESUMABLE = ("output", "resume", "eval_pivot", "eval_layer", "eval_max_sentences")
KIND = MASKED_LM_KIND


@dataclass
class PretrainConfig:
    """Settings of `xling pretrain`."""

    output: str = "runs/pretrain"
    """The model folder to write (Hugging Face layout + xling.json); it also holds the run's checkpoints."""

    tokenizer: str = ""
    """The folder made by `xling tokenizer train` (required); it needs a language token for every language."""

    data: CorpusConfig = field(default_factory=CorpusConfig)
    """The text to pretrain on, held-out ids excluded: `[pretrain.data]` in a recipe (xling.data.config)."""

    parallel: list[str] = field(default_factory=list)
    """Extra translation pairs as `src-tgt=path.tsv`: added to both languages' text and, as TLM pairs, to
    the units."""

    max_sentences_per_language: int = 0
    """At most this many training sentences per language (held-out ones not counted): a hashed id subset of
    the aligned corpus (nested across languages, so translations stay paired), then text files up to it;
    `parallel` is not capped. 0 = no cap."""

    model: str = "small"
    """A size preset (tiny, mini, small, base, xlmr-base; xling.pretraining.presets), a config.json, or a
    model folder to continue pretraining from (config.json and weights: *.safetensors or pytorch_model.bin,
    sharded or not)."""

    dropout: float | None = None
    """Hidden and attention dropout, in [0, 1): of a new model, or of a model folder continued. None keeps
    the preset's 0.1 (the folder's own); short runs from scratch learn faster without dropout (as in
    "cramming")."""

    max_length: int = 128
    """Tokens per training sequence, at least 8: an MLM stream, or a TLM pair of up to max_length // 2 per
    side. A new model (a preset) takes at most 4096; a model folder or config.json at most its
    max_position_embeddings - 2."""

    mlm_probability: float = 0.15
    """Share of tokens masked for MLM and TLM, in (0, 1) (BERT's 0.15)."""

    tlm_ratio: float = 0.0
    """Share of steps that train on translation pairs (TLM) instead of monolingual streams, in [0, 1]; above
    0 it needs parallel data (an aligned corpus or `parallel`)."""

    tlm_pivot: str = ""
    """TLM pairs: "" draws them between any two languages of a unit; a training language in any code form,
    e.g. "eng" or "en", makes them all eng-xx (XLM); "zh" names a corpus's cmn."""

    alpha: float = 0.3
    """Smoothing exponent of the language sampling p_i ~ n_i^alpha, n_i being language i's training lines
    (sentences, not tokens: a language written a paragraph per line is sampled by its lines, however long),
    in [0, 1] (XLM-R: 0.3; 1 = as in the data, 0 = uniform)."""

    resume: bool = False
    """Continue from the newest checkpoint in `output`; without it a folder with checkpoints is refused."""

    eval_pivot: str = "eng"
    """The language every other one is retrieved against in the held-out evaluation (any code form, as
    tlm_pivot: "en" and "eng" name the same one, "zh" a corpus's cmn); no retrieval figures, with a warning,
    when it is no training language or has no held-out sentences."""

    eval_layer: int | None = None
    """Hidden state the evaluation mean-pools (0 = embeddings, i = after layer i, negative from the end);
    None: the last layer."""

    eval_max_sentences: int = 1000
    """Held-out sentences per language that perplexity and retrieval are measured on, at least 1: perplexity
    on a language's first ones, retrieval on the first ones it shares (by id) with eval_pivot."""

    training: TrainingConfig = field(default_factory=TrainingConfig)
    """The training loop (`[pretrain.training]`): steps, batch, learning rate, checkpoints."""

    def validate(self) -> None:
        if not self.tokenizer:
            raise ConfigError("tokenizer: give the folder made by `xling tokenizer train`")
        self.data.validate()
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"mlm_probability: {self.mlm_probability} must be in (0, 1)")
        if not 0 <= self.tlm_ratio <= 1:
            raise ConfigError(f"tlm_ratio: {self.tlm_ratio} must be in [0, 1]")
        if (
            isinstance(self.alpha, bool)
            or not isinstance(self.alpha, int | float)
            or not 0 <= self.alpha <= 1
        ):
            raise ConfigError(f"alpha: {self.alpha} must be in [0, 1] (0.3 as in XLM-R, 1 = as in the data, "
                              "0 = uniform)")  # fmt: skip
        # the codes before any data is read: an unknown eval_pivot failed only after training, unsaved
        for name in ("tlm_pivot", "eval_pivot"):
            if getattr(self, name):
                normalize_language(getattr(self, name), where=name)
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: {self.dropout} must be in [0, 1)")
        if self.max_length < 8:
            raise ConfigError(f"max_length: {self.max_length} is too short")
        if self.model in PRESETS and self.max_length > MAX_NEW_MODEL_LENGTH:
            # the preset's position table is made max_length + 2 rows long: bound it before torch sees it
            raise ConfigError(f"max_length: {self.max_length} is above {MAX_NEW_MODEL_LENGTH}, the most a new "
                              f"model ({self.model}) is made for")  # fmt: skip
        if self.max_sentences_per_language < 0:
            raise ConfigError(
                f"max_sentences_per_language: {self.max_sentences_per_language} must be >= 0 (0 = no cap)"
            )
        if self.eval_max_sentences < 1:
            raise ConfigError(f"eval_max_sentences: {self.eval_max_sentences} must be at least 1")
        self.training.validate()


@dataclass
class PretrainResult:
    """A finished pretraining run: where the model is, how training went, what held-out evaluation gave."""

    output: Path
    train: TrainResult
    evaluation: dict[str, Any]
    model: torch.nn.Module | None = None


def build_model(config: PretrainConfig, tokenizer) -> torch.nn.Module:
    """Return a fresh XLMRobertaForMaskedLM for a preset, or a pretrained one to continue from a folder.

    ConfigError when the model does not fit the tokenizer or max_length, or eval_layer is not one of its
    hidden states: before training, not after it.
    """
    from transformers import XLMRobertaForMaskedLM

    from xling.embeddings.weights import load_pretrained

    path = Path(config.model)
    dropout = {} if config.dropout is None else {
        "hidden_dropout_prob": config.dropout, "attention_probs_dropout_prob": config.dropout
    }  # fmt: skip
    if (path / "config.json").is_file():
        if not has_weights(path):
            raise ConfigError(f"model: {path} has a config.json but no weights file ({', '.join(WEIGHTS_FILES)} "
                              "or *.safetensors) to continue pretraining from; to start a new model of its "
                              f"shape, give its config.json (--model {path / 'config.json'})")  # fmt: skip
        check_model_tokenizer(path, config.tokenizer, tokenizer)
        hf_config = model_config(config.model, vocab_size=len(tokenizer))
        check_model_fits(hf_config, config, tokenizer)
        check_continued_model(path, hf_config)
        # in float32 whatever the folder's dtype: AdamW on bf16 weights rounds most small updates away (as
        # adaptation loads its base); autocast still computes in bf16 where training.precision says so
        model, loading = load_pretrained(XLMRobertaForMaskedLM, path, output_loading_info=True,
                                         dtype=torch.float32, **dropout)  # fmt: skip
        if missing := [key for key in loading.get("missing_keys", ()) if not key.startswith("lm_head.")]:
            raise ConfigError(f"model: {path} lacks {len(missing)} encoder weight(s) of XLM-R ({missing[0]}, "
                              "...): they would start random; give an XLM-R / RoBERTa masked LM or encoder")  # fmt: skip
        return model
    # a new model pads, begins and ends as xling's batches do, whatever a config.json it takes its shape from
    # says (a BERT one pads with 0, which is `<s>` here: that row would never train, and `<pad>`'s would)
    special = {"pad_token_id": PAD_ID, "bos_token_id": BOS_ID, "eos_token_id": EOS_ID}
    hf_config = model_config(
        config.model, vocab_size=len(tokenizer), max_length=config.max_length, **dropout, **special
    )
    check_model_fits(hf_config, config, tokenizer)
    return XLMRobertaForMaskedLM(hf_config)


def check_continued_model(folder: Path, hf_config: Any) -> None:
    """Return nothing when the model folder to continue is an XLM-R / RoBERTa one padded with id PAD_ID, as
    the batches are; else ConfigError naming it (a BERT folder loaded as XLM-R starts every weight random,
    and its padding row, id 0, is `<s>` in xling's vocabulary). `hf_config`: the folder's, as XLM-R's."""
    model_type = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("model_type")
    if model_type not in ("xlm-roberta", "roberta"):
        raise ConfigError(f"model: {folder} is a {model_type!r} model; pretraining continues an XLM-R / "
                          "RoBERTa one (config.json's model_type xlm-roberta or roberta)")  # fmt: skip
    if hf_config.pad_token_id != PAD_ID:
        raise ConfigError(f"model: {folder} pads with id {hf_config.pad_token_id}, xling's batches with "
                          f"{PAD_ID} (<pad>): its config.json's pad_token_id must be {PAD_ID}")  # fmt: skip


def check_model_tokenizer(model: Path, tokenizer_path: str, tokenizer) -> None:
    """Return nothing when the tokenizer saved in model folder `model` (if any) has the same vocabulary as
    `tokenizer`; else ConfigError naming both folders: the model's embeddings mean its own pieces' ids."""
    if not (model / "tokenizer.json").is_file() and not (model / "tokenizer_config.json").is_file():
        return
    if load_tokenizer(model).get_vocab() != tokenizer.get_vocab():
        raise ConfigError(f"model: {model} was trained with another tokenizer than {tokenizer_path} (their "
                          f"vocabularies differ); continue it with its own (--tokenizer {model}), or start a new model "
                          "from a preset")  # fmt: skip


def check_model_fits(hf_config, config: PretrainConfig, tokenizer) -> None:
    """Return nothing when a model config has a row per tokenizer id, room for max_length positions and an
    eval_layer hidden state; else ConfigError naming the option and both numbers."""
    if hf_config.vocab_size != len(tokenizer):
        raise ConfigError(f"model: {config.model} has vocab_size {hf_config.vocab_size} but the tokenizer "
                          f"{config.tokenizer} has {len(tokenizer)} ids; give the tokenizer it was trained "
                          "with")  # fmt: skip
    # XLM-R's positions start at padding_idx + 1 = 2, so a sequence of n tokens needs n + 2 rows
    positions = hf_config.max_position_embeddings
    if config.max_length + POSITION_OFFSET > positions:
        raise ConfigError(f"max_length: {config.max_length} needs {config.max_length + POSITION_OFFSET} "
                          f"positions, but model {config.model} has max_position_embeddings {positions}; use "
                          f"max_length <= {positions - POSITION_OFFSET}")  # fmt: skip
    layers = hf_config.num_hidden_layers
    if config.eval_layer is not None and not -(layers + 1) <= config.eval_layer <= layers:
        raise ConfigError(f"eval_layer: {config.eval_layer} is not a hidden state of model {config.model}, "
                          f"which has {layers} layers; use {-(layers + 1)} to {layers}")  # fmt: skip


def check_output(config: PretrainConfig) -> None:
    """Return nothing when the run may write `config.output`; else XlingError naming the folder.

    A missing or empty folder may be written, and so may a run folder of this command (the training loop
    resumes it, or refuses it without resume). A file, the tokenizer folder (xling.atomic.check_apart, a
    ConfigError), a finished model and a folder of other files are refused, also with resume: without a
    checkpoint the loop starts a new run there.
    """
    output = Path(config.output)
    if output.exists() and not output.is_dir():
        raise XlingError(f"{output}: a file is there, not a model folder; choose another output folder")
    if config.tokenizer:  # "" would compare with the current folder; validate() asks for a tokenizer
        # the recipes keep the tokenizer inside the run folder: only the same folder is refused
        check_apart(output, [(f"the tokenizer folder {config.tokenizer}", config.tokenizer)], nesting_ok=True)
    if not output.is_dir() or list_checkpoints(output):
        return
    # the tokenizer folder inside the run folder (the recipes' layout) is no one else's file
    others = entries_besides_the_run(output, config.tokenizer)
    if not others:
        return  # empty, or a run killed before its first checkpoint
    if (output / METADATA_FILE).is_file() and read_metadata(output).get("kind") == KIND:
        continue_it = "" if same_path(config.model, output) else f", or continue it with --model {output}"
        raise XlingError(f"{output}: a pretrained model is already there (and no checkpoint to resume); "
                         f"choose another output folder{continue_it}")  # fmt: skip
    raise XlingError(f"{output}: the folder is not empty ({shown_names(others)}) and is no pretraining run; choose another "
                     "output folder")  # fmt: skip


def make_batches(config: PretrainConfig, data: PretrainingData, tokenizer) -> PretrainBatches:
    """Return the batch source for a pretraining config."""
    return PretrainBatches(
        data=data,
        batch_size=config.training.batch_size,
        max_length=config.max_length,
        mask_id=tokenizer.mask_token_id,
        first_regular_id=first_regular_id(tokenizer),
        vocab_size=len(tokenizer),
        mlm_probability=config.mlm_probability,
        tlm_ratio=config.tlm_ratio,
        alpha=config.alpha,
        seed=config.training.seed,
        tlm_pivot=tlm_pivot_code(config, data.languages),
    )


def pivot_code(value: str, languages: Sequence[str], field: str) -> str | None:
    """Return the training language that pivot option `field` (`value`, any code form) names, under the code
    the run keeps it under: zh and zho find cmn when the corpus's file is cmn.tsv, as the corpus maps codes
    (AlignedCorpus.code); "" for ""; None when it is none of `languages`. ConfigError naming `field` when it
    stands for several of them (a macrolanguage with no default member among them)."""
    if not value:
        return ""
    code = normalize_language(value, where=field)
    try:
        return training_language(code, languages)
    except DataError:
        raise ConfigError(f"{field}: {value} names several training languages ({', '.join(languages)}); give "
                          "one of them") from None  # fmt: skip


def tlm_pivot_code(config: PretrainConfig, languages: Sequence[str]) -> str:
    """Return config.tlm_pivot as a code of `languages` (`pivot_code`; "" for none); ConfigError naming the
    field and the training languages when it is none of them."""
    code = pivot_code(config.tlm_pivot, languages, "tlm_pivot")
    if code is None:
        raise ConfigError(f"tlm_pivot: {config.tlm_pivot} is not a training language; the run's are "
                          f"{', '.join(languages)}")  # fmt: skip
    return code


def eval_pivot_code(config: PretrainConfig, languages: Sequence[str]) -> str:
    """Return config.eval_pivot as a code of `languages` (`pivot_code`), or its own code, with a warning,
    when it is none of them: retrieval then gives no figures, which only the evaluation misses."""
    code = pivot_code(config.eval_pivot, languages, "eval_pivot")
    if code is None:
        logger.warning("eval_pivot: %s is not a training language (%s): the held-out evaluation will give no "
                       "retrieval figures", config.eval_pivot, ", ".join(languages))  # fmt: skip
        return normalize_language(config.eval_pivot)
    return code


def check_pivots(config: PretrainConfig, sources: TextSources) -> None:
    """Return nothing when tlm_pivot is a language of the run (the corpus's, the text files', `parallel`'s),
    before any text is read; else ConfigError (it failed once all data was read). An eval_pivot that is none
    of them is a warning (`eval_pivot_code`)."""
    languages = list(sources.languages)
    for spec in config.parallel:
        languages += [lang for lang in parse_parallel_spec(spec)[:2] if lang not in languages]
    tlm_pivot_code(config, languages)
    eval_pivot_code(config, languages)


def pretrain(config: PretrainConfig) -> PretrainResult:
    """Return the result of pretraining as the config says; the model folder is written to config.output."""
    config.validate()
    check_output(config)  # before the data is read: a refused run should not take minutes to say so
    tokenizer = load_tokenizer(config.tokenizer)
    # the model before the data, so a model that does not fit fails at once (reading data uses no torch RNG)
    torch.manual_seed(config.training.seed)
    model = build_model(config, tokenizer)
    sources = training_sources(config, tokenizer)
    check_pivots(config, sources)  # `zh` finds the corpus's cmn, before minutes of reading
    data = build_pretraining_data(sources, tokenizer, config.parallel, config.max_sentences_per_language)
    objective = MaskedLMObjective(model)
    batches = make_batches(config, data, tokenizer)
    output = Path(config.output)
    result = train(objective, batches, config.training, output, resume=config.resume, description="pretrain",
                   run_config=config_to_dict(config), may_change=RESUMABLE,
                   run_defaults=config_to_dict(PretrainConfig()), data_files=data_files(sources, config.parallel))  # fmt: skip

    evaluation: dict[str, Any] = {}
    if result.is_main:
        evaluation = evaluate_heldout(model, tokenizer, data, config)
        save_pretrained_model(model, tokenizer, output, config, data, result, evaluation)
    return PretrainResult(output, result, evaluation, model)


def training_sources(config: PretrainConfig, tokenizer) -> TextSources:
    """Return the text sources of the run, checked against the tokenizer before any text is read.

    Without data.languages, the corpus's and text files' languages that the tokenizer has language tokens
    for: a tokenizer trained on some of a corpus's languages (`--languages eng,deu,rus`) pretrains on those,
    not on every file of the folder. A language asked for whose token the tokenizer lacks is a ConfigError.
    """
    sources = TextSources.from_config(config.data)
    vocab = tokenizer.get_vocab()
    known = [lang for lang in sources.languages if language_token(lang) in vocab]
    if not config.data.languages and known and len(known) < len(sources.languages):
        left_out = sorted(set(sources.languages) - set(known))
        logger.warning("data.languages not set: the %d languages of the tokenizer (%s left out: no language "
                       "token)", len(known), ", ".join(left_out))  # fmt: skip
        mono = {lang: paths for lang, paths in sources.mono_files.items() if lang in known}
        sources = replace(sources, languages=known, mono_files=mono)
    missing = [lang for lang in sources.languages if lang not in known]
    if missing:
        raise ConfigError(f"data.languages: the tokenizer {config.tokenizer} has no language token for "
                          f"{', '.join(missing)}; leave them out or retrain the tokenizer with them")  # fmt: skip
    return sources


def data_files(sources: TextSources, parallel: Sequence[str] = ()) -> list[Path]:
    """Return the files a run reads its text from: the corpus's files of its languages, the text files, then
    the files of the `parallel` entries (their contents are fingerprinted, so a resume notices a corpus
    edited in place)."""
    aligned = sources.aligned()
    corpus = list(aligned.files.values()) if aligned is not None else []
    pairs = [parse_parallel_spec(spec)[2] for spec in parallel]
    return corpus + [path for paths in sources.mono_files.values() for path in paths] + pairs


def save_pretrained_model(model, tokenizer, output: Path, config, data, result, evaluation) -> None:
    """Write the Hugging Face folder (config.json, model.safetensors, tokenizer) and xling.json.

    The folder is also the run's (save_model_folder): the files are staged and xling.json comes last, so a
    crash mid-save never leaves the xling.json of an earlier save (a run stopped for time) beside new weights.
    """

    def write(folder: Path) -> None:
        model.save_pretrained(folder)
        # what the model takes, not the tokenizer folder's 512: pipelines cut input to it (max_length 4096)
        save_tokenizer(tokenizer, folder, model_max_length=position_limit(model))

    meta = {
        "kind": KIND,
        "languages": data.languages,
        "objectives": {"mlm": 1 - config.tlm_ratio, "tlm": config.tlm_ratio},
        "pooling": "mean",
        "config": config_to_dict(config),
        "training": result.to_dict(),
        "evaluation": evaluation,
        "tokenizer": tokenizer_metadata(config.tokenizer),
    }
    save_model_folder(output, write, meta)


@torch.inference_mode()
def masked_lm_perplexity(
    model,
    tokenizer,
    texts: list[str],
    *,
    mlm_probability: float = 0.15,
    seed: int = 0,
    batch_size: int = 32,
    max_length: int = 128,
) -> float:
    """Return exp(mean cross-entropy) over masked tokens of `texts`, with a fixed seeded masking."""
    model.eval()
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    first_regular = first_regular_id(tokenizer)
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start : start + batch_size], padding=True, truncation=True, max_length=max_length,
                        return_tensors="pt")  # fmt: skip
        masked, labels = mask_tokens(
            enc["input_ids"], mask_id=tokenizer.mask_token_id, first_regular_id=first_regular,
            vocab_size=len(tokenizer), probability=mlm_probability, generator=generator,
        )  # fmt: skip
        logits = model(input_ids=masked.to(device), attention_mask=enc["attention_mask"].to(device)).logits
        selected = labels != IGNORE_INDEX
        if selected.any():
            loss = torch.nn.functional.cross_entropy(
                logits[selected.to(device)].float(), labels[selected].to(device), reduction="sum"
            )
            total += float(loss)
            count += int(selected.sum())
    model.train()
    return math.exp(total / count) if count else float("nan")


HELDOUT_MAX_TOKENS = 128  # a held-out sentence's tokens scored (perplexity) and encoded (retrieval)


def _rounded(perplexity: float) -> float | None:
    """Return a perplexity to 3 decimals; None where no token was masked (NaN, which JSON has no word for)."""
    return round(perplexity, 3) if math.isfinite(perplexity) else None


def evaluate_heldout(model, tokenizer, data: PretrainingData, config: PretrainConfig) -> dict[str, Any]:
    """Return per-language MLM perplexity and pivot-vs-language retrieval accuracy on held-out sentences."""
    heldout = {lang: rows[: config.eval_max_sentences] for lang, rows in data.heldout.items() if rows}
    if not heldout:
        return {}
    # the evaluations' usual 128 tokens, within the model's positions (XLM-R's start at padding_idx + 1)
    max_length = min(HELDOUT_MAX_TOKENS, position_limit(model))
    perplexity = {
        lang: _rounded(masked_lm_perplexity(model, tokenizer, [t for _, t in rows], seed=config.training.seed,
                                            max_length=max_length))
        for lang, rows in heldout.items()
    }  # fmt: skip
    retrieval: dict[str, dict[str, float]] = {}
    pivot = pivot_code(config.eval_pivot, data.languages, "eval_pivot")
    pivot = normalize_language(config.eval_pivot) if pivot is None else pivot
    if pivot and pivot not in heldout:
        logger.warning("eval_pivot: %s has no held-out sentences: no retrieval figures", pivot)
    if pivot in heldout:
        # each language's pairs: the first eval_max_sentences of the ids it shares with the pivot over both
        # whole held-out lists (cutting each list first paired a New Testament with a Genesis: no pairs)
        pivot_text = dict(data.heldout[pivot])
        pairs = {
            lang: [(sid, text) for sid, text in data.heldout[lang] if sid in pivot_text][
                : config.eval_max_sentences
            ]
            for lang in heldout
            if lang != pivot
        }
        too_few = sorted(lang for lang, shared in pairs.items() if len(shared) < 2)
        if too_few:
            logger.warning("held-out retrieval against %s leaves out %s: fewer than 2 held-out sentences with "
                           "a %s translation", pivot, ", ".join(too_few), pivot)  # fmt: skip
        # the pivot side is encoded once: every pivot sentence some language is paired with
        pivot_ids = list(
            dict.fromkeys(sid for shared in pairs.values() if len(shared) >= 2 for sid, _ in shared)
        )
        pivot_row = {sid: i for i, sid in enumerate(pivot_ids)}
        if pivot_ids:
            pivot_vectors = encode_mean_pooled(model, tokenizer, [pivot_text[sid] for sid in pivot_ids],
                                               layer=config.eval_layer, max_length=max_length)  # fmt: skip
        for lang, shared in pairs.items():
            if len(shared) < 2:
                continue
            src = encode_mean_pooled(model, tokenizer, [t for _, t in shared], layer=config.eval_layer,
                                     max_length=max_length)  # fmt: skip
            tgt = pivot_vectors[[pivot_row[s] for s, _ in shared]]
            score = retrieval_accuracy(src, tgt)
            retrieval[lang] = {
                f"{lang}2{pivot}": round(100 * score.src2tgt, 2),
                f"{pivot}2{lang}": round(100 * score.tgt2src, 2),
                "n": score.n,
                "chance": round(100 * score.chance, 2),
            }
    averages = [np.mean([v for k, v in s.items() if "2" in k]) for s in retrieval.values()]
    return {
        "perplexity": perplexity,
        "retrieval": retrieval,
        "retrieval_average": round(float(np.mean(averages)), 2) if averages else None,
        "pivot": pivot,
    }
