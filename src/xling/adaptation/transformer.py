"""Add a language to a transformer masked LM (XLM-R architecture): new vocabulary rows, then continued MLM.

The recipe of Glot500 / Chau et al. (2020), with starting rows from FVT and a bilingual lexicon
(xling.adaptation.initialize), in four steps:

1. the model's Unigram tokenizer gets the new language's pieces (xling.tokenization.vocabulary_extension:
   old ids never move, the protected old-language text keeps its segmentation); the embedding matrix grows
   by as many rows, which start where the old model puts the pieces that spell them, or a dictionary
   translation's pieces (xling.adaptation.initialize); the tied output rows follow, and the new tokens'
   output bias starts at the mean of the old regular tokens' (the transformers default, 0, would favour
   them over every old token of a trained model);
2. masked language modelling on the new language's sentences (text, and the new side of translations)
   through the one training loop (checkpoints and `--resume` in the output folder). With
   `transformer.lora` only LoRA adapters on attention (query, value), the new embedding rows (peft's
   trainable tokens) and the biases train, and the adapter is saved apart in `<output>/adapter`;
3. a share of the sentences (`dev_share`, seeded) is held out: masked-LM perplexity with one fixed masking
   seed before (base model and tokenizer) and after, the same on a sample of the protected old-language text
   (a forgetting check, on identical token ids and masks), and retrieval accuracy of held-out translation
   pairs when there are any;
4. the output is a Hugging Face model folder like the base one (LoRA merged in), with the new tokenizer and
   an `xling.json` whose `languages` gain the new one and whose `adaptations` record this run, with
   `old_languages`: the old languages' vectors move too, as the weights they share train (a line says so).
   A sentence-transformers base (its Transformer module at the folder's root) keeps its module stack: its
   modules.json, settings and Pooling / Dense / Normalize folders are copied over as they are.

A base without the masked-LM head's weights (an encoder-only checkpoint: XLMRobertaModel, a sentence
encoder) gets a random head drawn from the seed, trained by the continued MLM (with LoRA only its biases:
the adapter folder keeps the rest, `ADAPTER_HEAD_FILE`); a warning says so, and `before` has no perplexities
(they would be a random head's).

Per-token perplexities before and after are over different segmentations (the new pieces are longer
than the bytes or letters the old vocabulary spelled the language with), so they are a trend, not a ratio;
`tokens_per_sentence` says how the segmentation changed, and `unknown_share` which share of the held-out
tokens are `<unk>`, which no perplexity scores (a base without byte fallback, XLM-R's, spells every character
it lacks so: its "before" then scores the rest only).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch import nn

from xling.adaptation.config import AdaptConfig, given_training, recorded_defaults
from xling.adaptation.data import AdaptData
from xling.adaptation.initialize import initial_rows
from xling.adaptation.output import (
    STATIC_VOCABULARY,
    TRANSFORMER_STATE,
    check_output,
    check_run_record,
    clear_model,
    comparable_settings,
    run_progress,
    write_run_record,
)
from xling.adaptation.result import AdaptResult, add_warning, derived_metadata, listed_languages
from xling.adaptation.words import fold_word, word_folder
from xling.artifacts import METADATA_FILE, read_metadata, write_metadata
from xling.config import config_to_dict
from xling.data.sampling import evenly_spread
from xling.embeddings.encoder import check_vocabulary
from xling.embeddings.pooling import encode_mean_pooled
from xling.embeddings.st_modules import MODULES_FILE, read_st_modules
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.translation_accuracy import retrieval_accuracy
from xling.export.ct2 import ST_ROOT_FILES
from xling.pretraining.data import PAD_ID, PretrainBatches, PretrainingData, SentencePool
from xling.pretraining.masking import IGNORE_INDEX, first_regular_id, mask_tokens
from xling.tokenization.vocabulary import load_folder_tokenizer, save_tokenizer
from xling.tokenization.vocabulary_extension import VocabularyExtension, extend_vocabulary
from xling.training import TrainingConfig, train
from xling.training.checkpoint import latest_checkpoint, read_trainer_state
from xling.training.distributed import is_main_process

logger = logging.getLogger(__name__)

KIND = "transformer"
ADAPTER_DIR = "adapter"
ADAPTER_HEAD_FILE = "head.safetensors"
"""In the adapter folder, for a base without its masked-LM head: the head weights LoRA does not hold."""
# the run's extended tokenizer and vocabulary report, kept so that --resume continues with the very same
# vocabulary (the checkpoints' new rows belong to it) instead of learning it again
STATE_DIR = TRANSFORMER_STATE
DEV_MAX = 2000
"""Most held-out sentences (and translation pairs) measured; a larger share goes back to training."""
OLD_SAMPLE = 500
"""Most protected old-language sentences whose perplexity is measured before and after (evenly spread, a
fifth of them at most)."""
# and the static encoder's settings, which a transformer run does not read
RESUMABLE = ("output", "resume", "overwrite", "static")
LORA_TARGETS = ["query", "value"]

# The optimisation defaults of a transformer (continued pretraining, as Glot500 and MAD-X run it), taken
# for every `training` field the user did not set (AdaptConfig.training remembers which they set).
TRANSFORMER_TRAINING = TrainingConfig(
    max_steps=2000, batch_size=32, lr=1e-4, weight_decay=0.01, warmup_steps=100, clip_norm=1.0,
    precision="auto", log_every=50, checkpoint_every=500,
)  # fmt: skip
LORA_LR = 5e-4
"""LoRA's default peak learning rate: adapters (and new rows) start from nothing and take a larger one."""


def transformer_training(config: AdaptConfig) -> TrainingConfig:
    """Return the training settings of a transformer adaptation: the fields the user set (by a recipe,
    `--set` or code: xling.adaptation.config.given_training), whatever their value, else those of
    TRANSFORMER_TRAINING (lr LORA_LR with `transformer.lora`).

    The static defaults (lr 0.05, batch 256) suit a table of vectors and would wreck a transformer; a value
    set on purpose wins even when it equals one of them (precision fp32, weight_decay 0).
    """
    defaults = dataclasses.replace(
        TRANSFORMER_TRAINING, lr=LORA_LR if config.transformer.lora else TRANSFORMER_TRAINING.lr
    )
    given = given_training(config.training)
    if "warmup_steps" not in given:
        # the run's own when resuming (a resume may change max_steps, not the warm-up it derived from them);
        # else a short run must not be all warm-up: at most a tenth of it
        given["warmup_steps"] = resumed_warmup(config) or min(
            defaults.warmup_steps, max(1, given.get("max_steps", defaults.max_steps) // 10)
        )
    return dataclasses.replace(defaults, **given)


def resumed_warmup(config: AdaptConfig) -> int | None:
    """Return the warm-up steps the run that `--resume` continues trained with (None: no such run)."""
    newest = latest_checkpoint(Path(config.output)) if config.resume and config.output else None
    if newest is None:
        return None
    try:
        warmup = read_trainer_state(newest).get("config", {}).get("training", {}).get("warmup_steps")
    except (XlingError, AttributeError):
        return None  # the training loop names what is wrong with the checkpoint
    return warmup if isinstance(warmup, int) and not isinstance(warmup, bool) else None


def check_transformer_config(config: AdaptConfig, data: AdaptData, folder: Path) -> None:
    """Return nothing; raise ConfigError naming the first field a transformer adaptation cannot use."""
    if not (data.texts or data.parallel):
        raise ConfigError("text, parallel: a transformer learns the new language by masked language modelling "
                          "on sentences; give --text or --parallel (a dictionary alone cannot train it)")  # fmt: skip
    output = Path(config.output).resolve()
    if output == folder.resolve():
        raise ConfigError(f"output: {config.output} is the model folder itself; choose another folder")
    sentence_transformers_folders(folder)  # before the minutes of training: a module stack it cannot keep


def sentence_transformers_folders(folder: Path) -> list[str]:
    """Return the module folders (relative, POSIX) beside the Transformer module of a sentence-transformers
    `folder` (its Pooling, Dense, Normalize...; [] for a plain Hugging Face folder).

    ConfigError when its Transformer module is not the folder's root: the adapted model is written at the
    root, and a copy of the other files would still point at the old weights in the module's folder.
    """
    if not (folder / MODULES_FILE).is_file():  # a plain Hugging Face folder
        return []
    modules = read_st_modules(folder, required=True)
    transformers = [module.path for module in modules if module.kind == "Transformer"]
    if transformers != [PurePosixPath(".")]:
        where = ", ".join(f"{p.as_posix()}/" for p in transformers) or "none"
        raise ConfigError(f"model: {folder} is a sentence-transformers folder whose Transformer module is not "
                          f"at its root (modules.json: {where}); adapt that module's folder as a Hugging Face "
                          "model and build the sentence-transformers folder around the output")  # fmt: skip
    return list(dict.fromkeys(m.path.as_posix() for m in modules if m.path != PurePosixPath(".")))


def copy_sentence_transformers_files(base: Path, staging: Path) -> None:
    """Return nothing after copying the sentence-transformers files of `base` into `staging`, as the base has
    them: modules.json and the root settings (ST_ROOT_FILES) and the module folders beside the Transformer,
    so that the output pools and normalises as the base does (none for a plain Hugging Face folder)."""
    if not (base / "modules.json").is_file():
        return
    folders = sentence_transformers_folders(base)
    for name in ST_ROOT_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, staging / name)
    for module in folders:
        if (base / module).is_dir():  # a Normalize module may have no folder at all
            shutil.copytree(base / module, staging / module, dirs_exist_ok=True)


# ------------------------------------------------------------------------------------------ vocabulary


def load_masked_lm(folder: Path) -> tuple[nn.Module, Any, list[str]]:
    """Return (the masked LM in `folder`, its fast tokenizer, the LM head's weights its checkpoint lacks,
    which start random: all of them for an encoder-only checkpoint); ConfigError when it is not XLM-R-like."""
    from transformers import AutoModelForMaskedLM

    from xling.embeddings.weights import load_pretrained

    # in float32 whatever the checkpoint's dtype: AdamW on bf16 weights rounds most small updates away
    # (a bf16 base kept 29.5% of its weights and every LayerNorm weight exactly as they were); autocast
    # still computes in bf16 where the training precision says so
    model, loading = load_pretrained(
        AutoModelForMaskedLM, folder, output_loading_info=True, dtype=torch.float32
    )
    missing_head = sorted(key for key in loading.get("missing_keys", ()) if key.startswith("lm_head."))
    if not hasattr(model, "lm_head") or getattr(model.lm_head, "bias", None) is None:
        raise ConfigError(f"model: {folder} is a {model.config.model_type} masked LM; adapting a transformer "
                          "needs the XLM-R / RoBERTa architecture (an `lm_head` with an output bias)")  # fmt: skip
    tokenizer = load_folder_tokenizer(folder)
    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError(
            f"model: {folder} has no fast tokenizer (tokenizer.json); the vocabulary cannot grow"
        )
    # with no tokenizer file transformers builds one of 5 special tokens, and masking fails much later
    check_vocabulary(tokenizer, model.get_input_embeddings().weight.shape[0], folder)
    # the MLM batches are pretraining's: padding id 1 and positions from 2, as XLM-R's; another padding id
    # would train on shifted positions while perplexity is measured on the model's own
    pads = {model.config.pad_token_id, tokenizer.pad_token_id}
    if pads != {PAD_ID}:
        raise ConfigError(f"model: {folder} pads with id {', '.join(map(str, sorted(pads, key=str)))} (model, "
                          f"tokenizer); adapting a transformer needs XLM-R's padding id {PAD_ID}, from which "
                          "its positions are counted")  # fmt: skip
    if read_metadata(folder).get("pooling") == "pooler":
        raise ConfigError(f"model: {folder} pools with its pooler (xling.json), which a masked LM does not "
                          "load or save: the adapted model would have none; give it pooling cls or mean")  # fmt: skip
    return model, tokenizer, missing_head


def random_head_warning(folder: Path, missing: Sequence[str], lora: bool) -> str:
    """Return the warning for a base whose checkpoint lacks the LM head's weights `missing` (`lora`: trained
    with transformer.lora, which trains none of the head's weights but its biases)."""
    trains = ("with transformer.lora only its biases train, its other weights stay random (adapt without "
              "LoRA to train them)") if lora else "the continued MLM trains a new head"  # fmt: skip
    return (f"model: {folder} has no masked-LM head ({', '.join(missing)} not in its weights: an encoder-only "
            "checkpoint, such as a sentence encoder's); the head starts random, so the base's perplexities would "
            f"be a random head's and are left out of `before`; {trains}")  # fmt: skip


def extended_tokenizer(tokenizer, backend) -> Any:
    """Return a fast tokenizer over the `tokenizers` pipeline `backend` with `tokenizer`'s special tokens.

    The generic fast class on purpose (as xling.tokenization.vocabulary does): it keeps the pipeline as it
    is, and no SentencePiece model file describes a vocabulary it no longer has.
    """
    from transformers import PreTrainedTokenizerFast

    specials = dict(tokenizer.special_tokens_map)
    extra = list(getattr(tokenizer, "extra_special_tokens", None) or [])
    new = PreTrainedTokenizerFast(tokenizer_object=backend, extra_special_tokens=extra,
                                  model_max_length=tokenizer.model_max_length, **specials)  # fmt: skip
    if len(new) != backend.get_vocab_size(with_added_tokens=True):
        raise XlingError(f"the extended tokenizer lost tokens: {len(new)} != {backend.get_vocab_size()}")
    return new


def grow_embeddings(model: nn.Module, base_backend, pieces: Sequence[str], dictionary: Sequence[tuple[str, str]],
                    new_size: int, first_regular: int, reading: Callable[..., str] | None = None,
                    fold: Callable[[str], str] = fold_word) -> dict[str, int]:  # fmt: skip
    """Return how the new rows started (initial_rows' counts) after resizing `model` to `new_size` tokens.

    Rows old_size.. get the FVT / dictionary rows (input embeddings, and the output ones when they are not
    tied; FVT over `reading(piece)`, a transliteration, when given; pieces and dictionary words looked up
    as `fold` gives them: `word_folder` of the language, without the marks the extended tokenizer drops); the output bias of the new tokens gets the
    mean over the old regular tokens (ids first_regular..).
    """
    old_size = new_size - len(pieces)
    inputs = model.get_input_embeddings()
    rows_before = inputs.weight.shape[0]
    if rows_before < old_size:
        raise DataError(f"the model has {rows_before} embedding rows for a tokenizer of {old_size} tokens")
    old_inputs = inputs.weight.detach()[:old_size].float().cpu().numpy()
    outputs = model.get_output_embeddings()
    tied = outputs is not None and outputs.weight is inputs.weight
    old_outputs = (
        None if tied or outputs is None else outputs.weight.detach()[:old_size].float().cpu().numpy()
    )
    # the bias the logits use is the decoder's: the head's own `bias` is the same tensor only when the model
    # ties its embeddings (transformers 5 unties both with tie_word_embeddings false)
    used_bias = outputs.bias if outputs is not None and outputs.bias is not None else model.lm_head.bias
    start_bias = float(used_bias.detach()[first_regular:old_size].float().mean())
    # mean_resizing=False: every new row is set below, drawing them from the old rows' covariance is wasted
    model.resize_token_embeddings(max(rows_before, new_size), mean_resizing=False)
    decoder = model.get_output_embeddings()
    separate_bias = (
        decoder is not None and decoder.bias is not None and model.lm_head.bias is not decoder.bias
    )
    if separate_bias:
        # resizing grew the decoder's bias only: a head bias of the old size would keep the folder from
        # loading again (a size mismatch). A copy, not the decoder's tensor: save_pretrained would store a
        # shared tensor under one name, and the untied model would load the other as zeros
        model.lm_head.bias = nn.Parameter(decoder.bias.detach().clone())
    rows, counts = initial_rows(base_backend, old_inputs, pieces, dictionary, reading, fold)
    new = slice(old_size, new_size)
    with torch.no_grad():
        weight = model.get_input_embeddings().weight
        weight[new] = torch.from_numpy(rows).to(weight.dtype)
        if old_outputs is not None:
            out_rows, _ = initial_rows(base_backend, old_outputs, pieces, dictionary, reading, fold)
            out_weight = model.get_output_embeddings().weight
            out_weight[new] = torch.from_numpy(out_rows).to(out_weight.dtype)
        model.lm_head.bias[new] = start_bias
        if separate_bias:
            decoder.bias[new] = start_bias
    return counts


# ------------------------------------------------------------------------------------------ objective


def head_drops_bias(model: nn.Module) -> bool:
    """Return whether the model's output layer leaves its bias out of the logits.

    peft's trainable tokens, tied to an LM head, compute `F.linear(x, W)` without the head's bias
    (huggingface/peft#3649, open in peft 0.21): probed with a bias of ones and an input of zeros, so the
    objective adds it back only where it is missing, whichever peft version is installed.
    """
    decoder = model.get_output_embeddings()
    # both the head's bias and, in a model with untied embeddings, the decoder's own (the one it adds)
    own = getattr(decoder, "bias", None)
    biases = [
        model.lm_head.bias,
        *([own] if isinstance(own, torch.Tensor) and own is not model.lm_head.bias else []),
    ]
    bias = biases[0]
    with torch.no_grad():
        saved = [b.detach().clone() for b in biases]
        for b in biases:
            b.fill_(1.0)
        probe = decoder(torch.zeros(1, model.config.hidden_size, dtype=bias.dtype, device=bias.device))
        for b, values in zip(biases, saved, strict=True):
            b.copy_(values)
    return bool(probe.abs().max() < 0.5)


class AdaptObjective(nn.Module):
    """Masked-LM loss of an XLM-R masked LM (LoRA-wrapped or not); forward(batch) -> {"loss", "tokens",
    "items" (the masked tokens)}. The LM head runs on the masked positions only, as in xling.pretraining.objective."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.add_bias = head_drops_bias(model)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        hidden = self.model.base_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                       position_ids=batch.get("position_ids")).last_hidden_state  # fmt: skip
        labels = batch["labels"]
        selected = labels != IGNORE_INDEX
        logits = self.model.lm_head(hidden[selected])
        if self.add_bias:
            logits = logits + self.model.lm_head.bias
        if logits.shape[0] == 0:
            loss = hidden.sum() * 0.0  # nothing masked: a zero loss that still touches the graph
        else:
            loss = nn.functional.cross_entropy(logits.float(), labels[selected])
        # items: the tokens the loss is a mean over, so gradient accumulation weighs micro-batches by them
        return {"loss": loss, "tokens": batch["attention_mask"].sum(), "items": selected.sum()}


def add_lora(model: nn.Module, new_ids: Sequence[int], rank: int) -> nn.Module:
    """Return the peft model: LoRA (rank, alpha 2 x rank) on query and value, the rows `new_ids` of the input
    embeddings (and the tied output ones) trainable, and every bias, so that the adapter holds all that
    changes: it loads on the base model resized to the new vocabulary with nothing else to set."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise ConfigError("transformer.lora: LoRA needs the peft package (pip install peft)") from error
    lora = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=LORA_TARGETS, bias="all",
                      trainable_token_indices=list(new_ids) or None)  # fmt: skip
    try:
        return get_peft_model(model, lora)
    except ValueError as error:
        raise ConfigError(f"transformer.lora: {error}") from error


def load_adapter_model(output: str | Path) -> nn.Module:
    """Return the peft model of an adaptation made with `transformer.lora`: the base model its xling.json
    names, resized to the new vocabulary, with `<output>/adapter` on top; its logits are the merged model's
    in `output` (the LM head's bias, which peft 0.21 drops, is added back: see `restore_head_bias`)."""
    from peft import PeftModel
    from transformers import AutoModelForMaskedLM

    from xling.embeddings.weights import load_pretrained

    output = Path(output)
    adaptations = read_metadata(output).get("adaptations") or [{}]
    adapter = adaptations[-1].get("adapter")
    if not adapter or not (output / adapter["path"]).is_dir():
        raise DataError("no LoRA adapter here (made without transformer.lora?)", output)
    base = load_pretrained(AutoModelForMaskedLM, adapter["base_model"], dtype=torch.float32)
    base.resize_token_embeddings(adapter["vocab_size"], mean_resizing=False)
    head_file = output / adapter["path"] / ADAPTER_HEAD_FILE
    if head_file.is_file():  # the head an encoder-only base lacks: else drawn at random again here
        from safetensors.torch import load_file

        unexpected = base.load_state_dict(load_file(str(head_file)), strict=False).unexpected_keys
        if unexpected:
            raise DataError(f"{ADAPTER_HEAD_FILE} holds weights the base model has no place for: "
                            f"{', '.join(unexpected[:5])}", head_file)  # fmt: skip
    model = PeftModel.from_pretrained(base, str(output / adapter["path"]))
    restore_head_bias(model.get_base_model())
    return model


def save_missing_head(model: nn.Module, missing: Sequence[str], path: Path) -> None:
    """Return nothing after writing to `path` (safetensors) the LM head weights `missing` from the base's
    checkpoint, as `model` has them: an encoder-only base's head starts random and LoRA leaves all but its
    biases as drawn, so without them the adapter would load on another random head. The output layer tied to
    the input embeddings is left out (the adapter's new rows and the base give it)."""
    from safetensors.torch import save_file

    embeddings = model.get_input_embeddings().weight
    state = model.state_dict()
    kept = {key: state[key].detach().contiguous().clone() for key in missing
            if key in state and state[key].data_ptr() != embeddings.data_ptr()}  # fmt: skip
    save_file(kept, str(path))


def restore_head_bias(model: nn.Module) -> None:
    """Return nothing after making the output layer of a peft-wrapped masked LM add the LM head's bias when
    it leaves it out (`head_drops_bias`, huggingface/peft#3649), so its logits are the merged model's.

    A hook on peft's wrapper of the output layer: `merge_and_unload` puts the original layer back, bias and
    all, without it; the bias is read at each call, so further training of it counts.
    """
    if not head_drops_bias(model):
        return

    def add_bias(_layer: nn.Module, _inputs: Any, logits: torch.Tensor) -> torch.Tensor:
        return logits + model.lm_head.bias

    model.get_output_embeddings().register_forward_hook(add_bias)


# ------------------------------------------------------------------------------------------ data


def split_sentences(
    data: AdaptData, share: float, seed: int
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Return (training sentences, held-out sentences, held-out (pivot, new) pairs) of the new language.

    A seeded `share` of the text sentences and of the translation pairs (each at most DEV_MAX) is held out;
    a held-out sentence is removed from training wherever else it occurs.
    """
    rng = np.random.default_rng(seed)
    texts = list(dict.fromkeys(t for t in data.texts if t.strip()))
    pairs = list(dict.fromkeys((p, n) for p, n in data.parallel if p.strip() and n.strip()))
    dev_texts = _held_out(len(texts), share, rng)
    dev_pairs = _held_out(len(pairs), share, rng)
    heldout = [texts[i] for i in sorted(dev_texts)] + [pairs[i][1] for i in sorted(dev_pairs)]
    dev_set = set(heldout)
    candidates = [t for i, t in enumerate(texts) if i not in dev_texts] + [
        n for i, (_, n) in enumerate(pairs) if i not in dev_pairs
    ]
    training = [t for t in dict.fromkeys(candidates) if t not in dev_set]
    return training, list(dict.fromkeys(heldout)), [pairs[i] for i in sorted(dev_pairs)]


def _held_out(count: int, share: float, rng: np.random.Generator) -> set[int]:
    """Return the indexes of a seeded `share` of `count` items (at most DEV_MAX; none below 2)."""
    wanted = min(DEV_MAX, int(round(share * count)))
    if wanted < 2 or wanted >= count:
        return set()
    return set(rng.permutation(count)[:wanted].tolist())


def mlm_batches(tokenizer, texts: Sequence[str], language: str, *, batch_size: int, max_length: int,
                mlm_probability: float, seed: int) -> PretrainBatches:  # fmt: skip
    """Return the pretraining batch source over one language's sentences: MLM streams of `max_length`."""
    encoded = tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
    lengths = [len(ids) for ids in encoded]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.concatenate([np.asarray(ids, dtype=np.int32) for ids in encoded])
    data = PretrainingData(languages=[language], pools={language: SentencePool(tokens, offsets)},
                           units=np.zeros((0, 1), dtype=np.int32),
                           lang_token_ids={language: tokenizer.bos_token_id})  # fmt: skip
    return PretrainBatches(data=data, batch_size=batch_size, max_length=max_length,
                           mask_id=tokenizer.mask_token_id, first_regular_id=first_regular_id(tokenizer),
                           vocab_size=len(tokenizer), mlm_probability=mlm_probability, tlm_ratio=0.0,
                           seed=seed)  # fmt: skip


class ReplayBatches:
    """MLM batches of the new language with `old.batch_size` sequences of old-language text appended to
    each (replay against forgetting, as Glot500 keeps training on every language); deterministic in
    (step, micro, rank) as the training loop needs."""

    def __init__(self, new: PretrainBatches, old: PretrainBatches, pad_id: int):
        self.new, self.old, self.pad_id = new, old, pad_id

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        parts = [self.new.get(step, micro, rank, world_size), self.old.get(step, micro, rank, world_size)]
        length = max(part["input_ids"].shape[1] for part in parts)
        fill = {
            "input_ids": self.pad_id,
            "attention_mask": 0,
            "position_ids": self.pad_id,
            "labels": IGNORE_INDEX,
        }
        return {key: torch.cat([nn.functional.pad(part[key], (0, length - part[key].shape[1]), value=value)
                                for part in parts]) for key, value in fill.items()}  # fmt: skip


def training_batches(tokenizer, train_texts: Sequence[str], old_texts: Sequence[str], language: str, *,
                     training: TrainingConfig, max_length: int, mlm_probability: float,
                     replay: float) -> PretrainBatches | ReplayBatches:  # fmt: skip
    """Return the batch source of the adaptation: the new language's MLM streams, with a `replay` share of
    each batch drawn from the old-language text when there is some."""
    replayed = min(training.batch_size - 1, int(round(replay * training.batch_size))) if old_texts else 0
    new = mlm_batches(tokenizer, train_texts, language, batch_size=training.batch_size - replayed,
                      max_length=max_length, mlm_probability=mlm_probability, seed=training.seed)  # fmt: skip
    if replayed <= 0:
        return new
    # another seed: the old text's streams must not be drawn in lockstep with the new text's
    old = mlm_batches(tokenizer, old_texts, "old", batch_size=replayed, max_length=max_length,
                      mlm_probability=mlm_probability, seed=training.seed + 1)  # fmt: skip
    return ReplayBatches(new, old, tokenizer.pad_token_id)


# ------------------------------------------------------------------------------------------ measures


@torch.inference_mode()
def masked_perplexity(objective: AdaptObjective, tokenizer, texts: Sequence[str], *, mlm_probability: float,
                      seed: int, max_length: int, replace_below: int | None = None,
                      batch_size: int = 32) -> float:  # fmt: skip
    """Return exp(mean cross-entropy) over the masked tokens of `texts`, masked with a generator seeded by
    `seed` (random replacements drawn below `replace_below`, default the vocabulary size)."""
    if not texts:
        return float("nan")
    was_training = objective.training
    objective.eval()
    device = next(objective.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    first = first_regular_id(tokenizer)
    total, count = 0.0, 0
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(list(texts[start : start + batch_size]), padding=True, truncation=True,
                        max_length=max_length, return_tensors="pt")  # fmt: skip
        masked, labels = mask_tokens(enc["input_ids"], mask_id=tokenizer.mask_token_id, first_regular_id=first,
                                     vocab_size=replace_below or len(tokenizer), probability=mlm_probability,
                                     generator=generator)  # fmt: skip
        batch = {"input_ids": masked, "attention_mask": enc["attention_mask"], "labels": labels}
        out = objective({k: v.to(device) for k, v in batch.items()})
        total += float(out["loss"]) * int(out["items"])
        count += int(out["items"])
    objective.train(was_training)
    return math.exp(total / count) if count else float("nan")


def measure(objective: AdaptObjective, tokenizer, heldout: Sequence[str], old_texts: Sequence[str],
            pairs: Sequence[tuple[str, str]], config: AdaptConfig, max_length: int, old_vocab: int,
            perplexity: bool = True) -> dict[str, float]:  # fmt: skip
    """Return the held-out figures of one model: new-language perplexity and tokens per sentence, the old
    languages' perplexity (masks drawn as for the base model), and pair retrieval (%, both directions);
    no perplexities unless `perplexity` (a random LM head's mean nothing)."""
    probability, seed = config.transformer.mlm_probability, config.seed
    figures: dict[str, float] = {}
    if heldout and perplexity:
        figures["mlm_perplexity"] = round(masked_perplexity(
            objective, tokenizer, heldout, mlm_probability=probability, seed=seed, max_length=max_length), 3)  # fmt: skip
    if heldout:
        ids = tokenizer(list(heldout), add_special_tokens=False)["input_ids"]
        figures["tokens_per_sentence"] = round(float(np.mean([len(i) for i in ids])), 2)
        unknown = tokenizer.unk_token_id
        figures["unknown_share"] = round(
            sum(row.count(unknown) for row in ids) / max(1, sum(map(len, ids))), 4
        )
    if old_texts and perplexity:
        figures["old_mlm_perplexity"] = round(masked_perplexity(
            objective, tokenizer, old_texts, mlm_probability=probability, seed=seed, max_length=max_length,
            replace_below=old_vocab), 3)  # fmt: skip
    if len(pairs) >= 2:
        model = objective.model
        pivot = encode_mean_pooled(model, tokenizer, [p for p, _ in pairs], max_length=max_length)
        new = encode_mean_pooled(model, tokenizer, [n for _, n in pairs], max_length=max_length)
        score = retrieval_accuracy(new, pivot)
        figures["retrieval"] = round(100 * score.average, 2)
        figures["retrieval_pairs"] = float(score.n)
    return figures


def old_sample(texts: Sequence[str], limit: int = OLD_SAMPLE) -> list[str]:
    """Return at most `limit` of `texts`, evenly spread (the bundled sample lists its languages in turn)."""
    return evenly_spread([t for t in texts if t.strip()], limit)


def check_protected(old_tokenizer, new_tokenizer, texts: Sequence[str]) -> int:
    """Return how many of `texts` the new tokenizer segments otherwise than the old one."""
    if not texts:
        return 0
    old = old_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    new = new_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return sum(a != b for a, b in zip(old, new, strict=True))


# ------------------------------------------------------------------------------------------ output


def prepare_output(config: AdaptConfig) -> Path:
    """Return the output folder, checked (xling.adaptation.output.check_output: a non-empty folder needs
    `overwrite`, or `resume` with the run's progress there); with `overwrite`, unless `resume` takes up a
    run, the earlier run's checkpoints and log go (the model there stays until the new one replaces it)."""
    output = Path(config.output)
    check_output(output, resume=config.resume, overwrite=config.overwrite)
    resuming = config.resume and bool(run_progress(output))
    if config.overwrite and not resuming and is_main_process():
        for name in ("checkpoints", "best", STATE_DIR, STATIC_VOCABULARY):
            shutil.rmtree(output / name, ignore_errors=True)
        (output / "train_log.jsonl").unlink(missing_ok=True)
    return output


def run_state(output: Path, config: AdaptConfig, files: Sequence[Path]) -> tuple[Any, dict[str, Any]] | None:
    """Return (the tokenizer, the vocabulary report) the run that `config.resume` takes up was started with,
    or None; a ConfigError naming what changed when it was made with other settings or data `files` than
    these (xling.adaptation.output.check_run_record: a run killed before its first checkpoint leaves the
    training loop nothing to compare)."""
    state = output / STATE_DIR
    if not config.resume or not (state / "vocabulary.json").is_file():
        return None
    check_run_record(state, config, files)
    tokenizer = load_folder_tokenizer(state)
    return tokenizer, json.loads((state / "vocabulary.json").read_text(encoding="utf-8"))


def save_run_state(output: Path, tokenizer, vocabulary: dict[str, Any], config: AdaptConfig,
                   files: Sequence[Path]) -> None:  # fmt: skip
    """Write the run's tokenizer, vocabulary report and what it was made with (`config`, the data `files`)
    to `<output>/adapt-state` (read back by run_state)."""
    if not is_main_process():
        return
    state = output / STATE_DIR
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    save_tokenizer(tokenizer, state)
    write_run_record(state, config, files)
    # last: a state without it is one a killed write cut short, learnt again
    (state / "vocabulary.json").write_text(json.dumps(vocabulary, indent=2), encoding="utf-8")


def publish(staging: Path, output: Path) -> None:
    """Move the model files in `staging` into `output`, replacing the earlier model's; the old xling.json
    goes first and the new one comes last, so a folder with one is complete."""
    (output / METADATA_FILE).unlink(missing_ok=True)
    # every file but the run's own goes: a stale SentencePiece model would describe the old vocabulary, a
    # stale adapter another run, and a static model's modules.json would still load as that model
    clear_model(output, keep=(staging.name,))
    entries = sorted(staging.iterdir(), key=lambda p: p.name == METADATA_FILE)
    for entry in entries:
        target = output / entry.name
        if target.is_dir():
            shutil.rmtree(target)
        entry.replace(target)
    shutil.rmtree(staging, ignore_errors=True)


# ------------------------------------------------------------------------------------------ the whole


def adapt_transformer(
    config: AdaptConfig,
    folder: Path,
    data: AdaptData,
    protected_texts: Sequence[str],
    *,
    say: Callable[[str], object] | None = None,
) -> AdaptResult:
    """Return the result of adding `data.language` to the masked LM in `folder` (see the module docstring);
    the new model folder is `config.output`."""
    started = time.perf_counter()
    say = say or (lambda _line: None)
    check_transformer_config(config, data, folder)
    training = transformer_training(config)
    training.validate()
    if training.threads > 0:
        torch.set_num_threads(training.threads)
    output = prepare_output(config)
    resumed = run_state(output, config, data.files)  # before anything is measured: a refused resume is quick
    warnings = list(data.warnings)

    say(f"loading {folder}")
    torch.manual_seed(training.seed)  # a head the checkpoint lacks is drawn now: the seed decides it
    model, base_tokenizer, missing_head = load_masked_lm(folder)
    head = model.get_output_embeddings()
    if (
        config.transformer.lora
        and head is not None
        and head.weight is not model.get_input_embeddings().weight
    ):
        # the adapter holds the new input rows only: an untied output layer's new rows (and its bias, grown
        # apart) would not be in it, and the adapter's logits would not be the merged model's
        raise ConfigError(f"transformer.lora: {folder} has untied input and output embeddings "
                          "(tie_word_embeddings false); adapt it without LoRA (the whole model trains)")  # fmt: skip
    if missing_head:
        add_warning(warnings, random_head_warning(folder, missing_head, config.transformer.lora))
    max_length = min(config.transformer.max_length, model.config.max_position_embeddings - 2)
    if max_length < config.transformer.max_length:
        add_warning(warnings, f"transformer.max_length: {config.transformer.max_length} cut to {max_length}, "
                              "the model's longest input")  # fmt: skip
    train_texts, heldout, dev_pairs = split_sentences(data, config.dev_share, config.seed)
    if not train_texts:
        raise DataError("no training sentences left after holding out the dev share (lower dev_share)")
    if config.dev_share > 0 and not heldout:
        add_warning(warnings, "dev_share: too few sentences to hold any out; no perplexity before and after")
    # a fifth at most of the old-language text is measured; replay (if any) trains on the rest
    old_texts = old_sample(protected_texts, min(OLD_SAMPLE, len(protected_texts) // 5))
    old_vocab = len(base_tokenizer)
    device = _device(training.device)
    model.to(device)

    say(f"measuring the base model on {len(heldout)} held-out sentences")
    before = measure(AdaptObjective(model), base_tokenizer, heldout, old_texts, dev_pairs, config, max_length,
                     old_vocab, perplexity=not missing_head)  # fmt: skip

    say("learning the new language's pieces")
    tokenizer, pieces, vocabulary = new_vocabulary(
        config, output, base_tokenizer, data, protected_texts, warnings, held_out=heldout, resumed=resumed
    )
    old_size = vocabulary["old_size"]
    vocabulary["initialised"] = grow_embeddings(model, base_tokenizer.backend_tokenizer, pieces, data.dictionary,
                                                len(tokenizer), first_regular_id(base_tokenizer),
                                                data.reading, word_folder(data.language, str(vocabulary.get("dropped_marks", ""))))  # fmt: skip
    save_run_state(output, tokenizer, {k: v for k, v in vocabulary.items() if k != "initialised"}, config,
                   data.files)  # fmt: skip
    say(f"vocabulary {old_size:,} -> {len(tokenizer):,} tokens; training on {len(train_texts):,} sentences")
    say(f"note: {old_language_changes(config)['why']} (recorded in xling.json)")

    # LoRA draws its A matrices from the global generator: the seed decides them
    torch.manual_seed(training.seed)
    peft_model = add_lora(model, range(old_size, len(tokenizer)), config.transformer.lora_rank) \
        if config.transformer.lora else None  # fmt: skip
    trained = peft_model.get_base_model() if peft_model is not None else model
    objective = AdaptObjective(trained)
    replay = config.transformer.replay
    # not the measured old sentences, nor the pivot side of a held-out pair (its retrieval is a dev figure)
    measured = set(old_texts) | {pivot for pivot, _ in dev_pairs}
    replay_texts = [t for t in protected_texts if t.strip() and t not in measured] if replay > 0 else []
    run_config = {**config_to_dict(config), "training": config_to_dict(training)}
    run_config["transformer"]["replay"] = replay
    batches = training_batches(tokenizer, train_texts, replay_texts, data.language,
                               training=training, max_length=max_length,
                               mlm_probability=config.transformer.mlm_probability, replay=replay)  # fmt: skip
    # the checkpoints keep the codes and paths in one form: a resume may write them another way (`ka`, `kat`)
    result = train(objective, batches, training, output, resume=config.resume,
                   run_config=comparable_settings(run_config), may_change=RESUMABLE,
                   description=f"adapt {data.language}",
                   run_defaults=comparable_settings(config_to_dict(recorded_defaults())),
                   recorded_form=comparable_settings, data_files=data.files)  # fmt: skip

    staging = output / f".{STATE_DIR}-model.tmp"
    if result.is_main:  # the main process alone writes it: another one's rmtree could cut its files
        shutil.rmtree(staging, ignore_errors=True)
    if result.is_main and peft_model is not None:
        # only the new rows (trainable tokens), not the whole resized embedding matrix peft would add
        peft_model.save_pretrained(str(staging / ADAPTER_DIR), save_embedding_layers=False)
        (staging / ADAPTER_DIR / "README.md").unlink(missing_ok=True)  # peft's empty model-card template
        if missing_head:
            save_missing_head(trained, missing_head, staging / ADAPTER_DIR / ADAPTER_HEAD_FILE)
    final = peft_model.merge_and_unload() if peft_model is not None else model
    after = measure(
        AdaptObjective(final), tokenizer, heldout, old_texts, dev_pairs, config, max_length, old_vocab
    )
    adapt = AdaptResult(
        output=output, language=data.language, kind=KIND, vocabulary=vocabulary, data=list(data.sources),
        examples={"sentences": len(train_texts), "heldout": len(heldout), "heldout_pairs": len(dev_pairs),
                  "replay_sentences": len(replay_texts)},  # fmt: skip
        training=result.to_dict(), before=before, after=after, relative=data.relative, warnings=warnings,
        old_languages=old_language_changes(config), before_is_recall=data.seen_by_base,
        settings=run_config,  # with the training settings the transformer used
    )  # fmt: skip
    adapt.seconds = round(time.perf_counter() - started, 1)
    if result.is_main:
        say(f"writing {output}")
        _save(final, tokenizer, staging, folder, config, adapt, run_config)
        publish(staging, output)
    return adapt


def old_language_changes(config: AdaptConfig) -> dict[str, str]:
    """Return what the adaptation changes for the languages the model had (for xling.json): every text's
    vector moves, since the weights every language shares train (unlike a static encoder's frozen rows)."""
    how = ("the LoRA adapter merged into attention, and the biases, change" if config.transformer.lora
           else "continued training changes every weight")  # fmt: skip
    return {"vectors": "move", "why": f"the old languages' vectors move too: {how}"}


def _device(name: str) -> torch.device:
    """Return the device a training `device` setting names ("auto": a GPU when there is one)."""
    from xling.devices import resolve_device

    return torch.device(resolve_device(name))


def new_vocabulary(config: AdaptConfig, output: Path, base_tokenizer, data: AdaptData,
                   protected_texts: Sequence[str], warnings: list[str], held_out: Sequence[str] = (),
                   resumed: tuple[Any, dict[str, Any]] | None = None) -> tuple[Any, list[str], dict[str, Any]]:  # fmt: skip
    """Return (the extended tokenizer, its new pieces in id order, the extension's figures): learned on the
    new language's text but the `held_out` sentences (their perplexity after is a held-out figure), or the
    one a resumed run started with (`resumed`, run_state's)."""
    if resumed is not None:
        tokenizer, vocabulary = resumed
        return (
            tokenizer,
            tokenizer.convert_ids_to_tokens(list(range(vocabulary["old_size"], len(tokenizer)))),
            vocabulary,
        )
    from xling.adaptation.adapt import new_scripts

    unseen = set(held_out)
    backend, extension = extend_vocabulary(
        base_tokenizer.backend_tokenizer, [t for t in data.new_texts() if t not in unseen],
        max_new=config.vocabulary.max_new,
        learn_size=config.vocabulary.learn_size, protected_texts=protected_texts,
        scripts=new_scripts(config, data), drop_marks=config.vocabulary.drop_marks,
    )  # fmt: skip
    tokenizer = extended_tokenizer(base_tokenizer, backend)
    return (
        tokenizer,
        extension.pieces,
        _vocabulary_report(extension, base_tokenizer, tokenizer, protected_texts, warnings),
    )


def _vocabulary_report(extension: VocabularyExtension, base_tokenizer, tokenizer, protected_texts: Sequence[str],
                       warnings: list[str]) -> dict[str, Any]:  # fmt: skip
    """Return the vocabulary extension's figures, with how many protected sentences changed segmentation
    (a warning when any did)."""
    changed = check_protected(base_tokenizer, tokenizer, protected_texts)
    if changed:
        add_warning(warnings, f"vocabulary: {changed} of {len(protected_texts)} protected sentences "
                              "segment differently with the new pieces")  # fmt: skip
    return {**extension.to_dict(), "protected_texts": len(protected_texts), "protected_changed": changed}


def _save(model: nn.Module, tokenizer, staging: Path, base: Path, config: AdaptConfig, result: AdaptResult,
          run_config: dict[str, Any]) -> None:  # fmt: skip
    """Write the model folder (weights, tokenizer, xling.json) into `staging` (the adapter is there already);
    `run_config` is the config as the run used it (transformer training defaults and replay filled in)."""
    staging.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(staging))
    save_tokenizer(tokenizer, staging)
    copy_sentence_transformers_files(base, staging)
    meta = derived_metadata(read_metadata(base), Path(config.output).name)
    if not (base / "modules.json").is_file():
        # a sentence-transformers base pools as its Pooling module says: an xling.json pooling would win over it
        meta.setdefault("pooling", "mean")
    languages = listed_languages(meta.get("languages", []), result.language)
    base = base.resolve()
    entry: dict[str, Any] = {
        "language": result.language, "kind": KIND, "base_model": str(base),
        "method": "lora" if config.transformer.lora else "full", "data": result.data,
        "vocabulary": result.vocabulary, "examples": result.examples, "training": result.training,
        "before": result.before, "after": result.after, "old_languages": result.old_languages,
        # as a static adaptation records them (its result whole): a warning shown once was lost with the console
        "relative": result.relative, "before_is_recall": result.before_is_recall, "warnings": result.warnings,
        "seconds": result.seconds, "config": run_config,
    }  # fmt: skip
    if config.transformer.lora:
        # the rows the model has, which may be more than its tokens (a base padded to a multiple of 8, say):
        # the adapter's saved output bias has that many
        rows = model.get_input_embeddings().weight.shape[0]
        entry["adapter"] = {"path": ADAPTER_DIR, "base_model": str(base), "vocab_size": rows,
                            "rank": config.transformer.lora_rank, "targets": LORA_TARGETS}  # fmt: skip
    meta.update({
        "kind": meta.get("kind", "masked-lm"),
        "languages": languages,
        "adaptations": [*meta.get("adaptations", []), entry],
    })  # fmt: skip
    write_metadata(staging, meta)
