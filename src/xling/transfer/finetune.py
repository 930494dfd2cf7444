"""Method b of transfer: fine-tune a transformer encoder for sequence classification through xling's loop.

Any Hugging Face encoder folder (XLM-R, mBERT, LaBSE-like, what `xling pretrain` or `xling align sentences`
writes) gets a classification head (`AutoModelForSequenceClassification`, label names in its config.json)
and is trained through `xling.training.train`: resume, DDP, bf16, progress, and the source language's dev
split as the named evaluation "dev" (`dev_macro_f1`, `dev_accuracy`), whose best checkpoint
(`training.best_metric`) is the one saved. With `finetune.lora_r > 0` only LoRA adapters (peft) and the
head are trained; the adapters are merged into the weights before saving, so the folder loads with plain
transformers either way:

    model = AutoModelForSequenceClassification.from_pretrained(folder)   # model.config.id2label: the labels
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from xling.artifacts import CLASSIFIER_FAMILY, read_metadata
from xling.config import config_to_dict
from xling.embeddings.st_modules import MODULES_FILE, read_st_modules
from xling.embeddings.transformer import capped_length, pad_batch
from xling.errors import ConfigError, DataError
from xling.training.distributed import launched_world_size
from xling.training.model_folder import save_model_folder
from xling.transfer.classifier import data_metadata, register_kind, register_method, replace_other_method

if TYPE_CHECKING:
    from xling.data.labelled import LabelledTexts
    from xling.training.loop import TrainingConfig
    from xling.transfer.config import ClassifierConfig

KIND = f"{CLASSIFIER_FAMILY}/finetune"
DEV_METRICS = ("macro_f1", "accuracy")
# besides the training bookkeeping (xling.training.resume): fields a resumed run may change
RESUMABLE = ("output", "finetune.resume", "finetune.overwrite", "batch_size")
logger = logging.getLogger(__name__)


@dataclass
class FinetuneConfig:
    """Settings only fine-tuning has (`[transfer.finetune]` in a recipe); the loop's are in `training`."""

    max_length: int = 128
    """Tokens per text, special tokens included; longer texts are cut (how many reached it is logged and
    kept in xling.json)."""
    lora_r: int = 0
    """0 = full fine-tuning (every weight trains); above 0, the rank of LoRA adapters (peft) on the
    attention projections: only they and the classification head train, and they are merged into the
    weights before saving."""
    lora_alpha: float = 16.0
    """LoRA's scaling numerator: the adapters' update is scaled by lora_alpha / lora_r."""
    lora_dropout: float = 0.1
    """Dropout on the input of the LoRA adapters, in [0, 1)."""
    lora_targets: list[str] = field(default_factory=list)
    """Names of the Linear modules that get adapters (e.g. ["query", "value"]); empty = peft's default for
    the model type (query and value for XLM-R and BERT)."""
    classifier_dropout: float | None = None
    """Dropout before the classification head, in [0, 1); None keeps the encoder's hidden dropout."""
    eval_every_epoch: bool = True
    """With a dev split and training.eval_every = 0: score the dev split once per pass over the training
    data (and at the end), and keep the best by training.best_metric (default "dev_macro_f1")."""
    resume: bool = False
    """Continue the run in `output` from its newest checkpoint; without it a folder with checkpoints is
    refused."""
    overwrite: bool = False
    """Start a new run in `output` over an earlier fine-tuning run there (its checkpoints, log and best
    weights are deleted; the command line's --overwrite)."""

    def validate(self) -> None:
        if self.max_length < 4:
            raise ConfigError(f"finetune.max_length: {self.max_length} is too short (at least 4)")
        if self.lora_r < 0:
            raise ConfigError(f"finetune.lora_r: {self.lora_r} must be 0 (full fine-tuning) or more")
        if not 0 <= self.lora_dropout < 1:
            raise ConfigError(f"finetune.lora_dropout: {self.lora_dropout} must be in [0, 1)")
        if self.classifier_dropout is not None and not 0 <= self.classifier_dropout < 1:
            raise ConfigError(f"finetune.classifier_dropout: {self.classifier_dropout} must be in [0, 1)")
        if self.lora_alpha <= 0:
            raise ConfigError(f"finetune.lora_alpha: {self.lora_alpha} must be above 0")


# ---------------------------------------------------------------------------------------------- the model


def encoder_folder(name_or_path: str | Path) -> Path:
    """Return the Hugging Face folder of an encoder: the folder itself, or the Transformer module of a
    sentence-transformers folder. A static encoder (or anything else) is a ConfigError naming it."""
    from xling.embeddings.encoder import resolve_model

    folder = resolve_model(name_or_path)
    if (folder / "config.json").is_file():
        return folder
    if (folder / MODULES_FILE).is_file():
        first = read_st_modules(folder, required=True)[0]
        sub = folder / first.path
        # by suffix, not `.kind`: this also takes Transformer subclasses (sentence-transformers'
        # MLMTransformer), whose folder holds a Hugging Face model too
        if first.type.endswith("Transformer") and sub.is_dir() and (sub / "config.json").is_file():
            return sub
        raise ConfigError(f"encoder: {folder} is a {first.type or '?'} sentence encoder, not a "
                          "transformer; fine-tuning needs one (use method 'frozen' for static encoders)")  # fmt: skip
    raise ConfigError(f"encoder: {folder} has neither config.json nor modules.json")


def build_model(encoder: str | Path, labels: Sequence[str], finetune: FinetuneConfig, seed: int) -> nn.Module:
    """Return the encoder with a new classification head for `labels` (seeded), LoRA-wrapped with lora_r."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    from xling.embeddings.weights import load_pretrained

    folder = encoder_folder(encoder)
    extra: dict[str, Any] = {}
    if finetune.classifier_dropout is not None:
        extra["classifier_dropout"] = finetune.classifier_dropout
    torch.manual_seed(seed)  # the new head's initialisation
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized: classifier.*" is what fine-tuning means
    try:
        model = load_pretrained(
            AutoModelForSequenceClassification, folder, num_labels=len(labels),
            id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
            problem_type="single_label_classification", **extra,
        )  # fmt: skip
    finally:
        hf_logging.set_verbosity(verbosity)
    if finetune.lora_r > 0:
        model = add_lora(model, finetune)
    return model


def add_lora(model: nn.Module, finetune: FinetuneConfig) -> nn.Module:
    """Return `model` wrapped by peft with LoRA adapters; the classification head stays fully trainable."""
    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError as error:
        raise ConfigError("finetune.lora_r: LoRA needs the peft package (pip install peft)") from error
    lora = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=finetune.lora_r, lora_alpha=finetune.lora_alpha,
        lora_dropout=finetune.lora_dropout, target_modules=list(finetune.lora_targets) or None,
    )  # fmt: skip
    try:
        return get_peft_model(model, lora)
    except ValueError as error:  # no module of that name, or a model type peft has no default for
        raise ConfigError(f"finetune.lora_targets: {error}") from error


def plain_model(model: nn.Module) -> nn.Module:
    """Return the transformers model inside: LoRA adapters merged into the weights (peft), or `model`."""
    if hasattr(model, "merge_and_unload"):
        return model.merge_and_unload()
    return model


# ---------------------------------------------------------------------------------------------- training


class ClassificationObjective(nn.Module):
    """Wraps a sequence classifier; forward(batch) returns {"loss": cross-entropy, "tokens": real tokens}."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = nn.functional.cross_entropy(logits.float(), batch["labels"])
        return {"loss": loss, "tokens": batch["attention_mask"].sum()}


class ClassificationBatches:
    """The batch source of fine-tuning: a pure function of (step, micro, rank, world size) and the seed.

    The training examples form one endless stream, each pass over them in its own seeded order; micro-batch
    number (step x grad_accum + micro) x world_size + rank takes the next `batch_size` of them, so every
    process sees different examples and a resumed run sees what an uninterrupted one would.
    """

    def __init__(self, ids: list[list[int]], labels: Sequence[int], batch_size: int, grad_accum: int,
                 pad_id: int, seed: int):  # fmt: skip
        if not ids:
            raise DataError("no training examples")
        self.ids = ids
        self.labels = np.asarray(labels, dtype=np.int64)
        self.batch_size, self.grad_accum, self.pad_id, self.seed = batch_size, grad_accum, pad_id, seed
        self._orders: dict[int, np.ndarray] = {}

    def order(self, epoch: int) -> np.ndarray:
        """Return the order of the examples in pass `epoch` (seeded by the seed and the pass)."""
        if epoch not in self._orders:
            if len(self._orders) > 4:
                self._orders.clear()
            self._orders[epoch] = np.random.default_rng([self.seed, epoch]).permutation(len(self.ids))
        return self._orders[epoch]

    def indices(self, step: int, micro: int, rank: int, world_size: int) -> list[int]:
        """Return the example indices of one micro-batch."""
        position = ((step * self.grad_accum + micro) * world_size + rank) * self.batch_size
        n = len(self.ids)
        return [int(self.order(i // n)[i % n]) for i in range(position, position + self.batch_size)]

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        chosen = self.indices(step, micro, rank, world_size)
        batch = pad_batch([self.ids[i] for i in chosen], self.pad_id)
        batch["labels"] = torch.from_numpy(self.labels[chosen])
        return batch


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Return the token ids of each text (special tokens added, cut at max_length)."""
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


@torch.inference_mode()
def predict_logits(model: nn.Module, tokenizer, texts: Sequence[str], *, max_length: int,
                   batch_size: int = 64) -> np.ndarray:  # fmt: skip
    """Return float32 logits [len(texts), labels]; batches of similar length, the model in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = tokenize(tokenizer, texts, max_length)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = pad_batch([ids[i] for i in chosen], tokenizer.pad_token_id)
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out[chosen] = logits.float().cpu().numpy()
    finally:
        model.train(was_training)
    return out


def label_indices(data: LabelledTexts, labels: Sequence[str], what: str) -> list[int]:
    """Return the index of each example's label in `labels`; an unknown one is a DataError naming it and
    the file line it was read from (when known)."""
    from xling.transfer.metrics import label_file

    index = {label: i for i, label in enumerate(labels)}
    for number, label in enumerate(data.labels):
        if label not in index:
            raise DataError(f"{what} label {label!r} of example {number + 1} is not among the training labels "
                            f"({', '.join(labels)})", label_file(data.source), data.line(number))  # fmt: skip
    return [index[label] for label in data.labels]


def dev_evaluation(model: nn.Module, tokenizer, dev: LabelledTexts, labels: Sequence[str], *,
                   max_length: int, batch_size: int):  # fmt: skip
    """Return the loop evaluation `(objective, step) -> {"macro_f1", "accuracy"}` on the dev split."""
    from xling.transfer.metrics import classification_scores

    label_indices(dev, labels, "dev")  # fail before training, not at the first evaluation

    def evaluate(objective: nn.Module, step: int) -> dict[str, float]:
        logits = predict_logits(model, tokenizer, dev.texts, max_length=max_length, batch_size=batch_size)
        predicted = [labels[i] for i in logits.argmax(axis=1)]
        scores = classification_scores(
            dev.labels, predicted, list(labels), source=dev.source, lines=dev.lines
        )
        return {name: float(scores[name]) for name in DEV_METRICS}

    return evaluate


def training_section(config: ClassifierConfig, epoch_steps: int, with_dev: bool):
    """Return the loop's config: config.training with the run's seed (training.seed, else config.seed) and,
    with a dev split and finetune.eval_every_epoch, the dev split scored once per epoch and the best kept."""
    return dev_schedule(config.training, config.seed, config.finetune.eval_every_epoch, epoch_steps, with_dev)


def labelled_data_files(*sets: LabelledTexts | None) -> list[Path]:
    """Return the files the labelled texts were read from (train, then dev; `LabelledTexts.files`): their
    contents are fingerprinted, so a resume notices a file edited in place. Texts made in memory name none."""
    files = (file for data in sets if data is not None for file in data.files)
    return [Path(file) for file in dict.fromkeys(files)]


def steps_per_epoch(examples: int, training: TrainingConfig) -> int:
    """Return the optimizer steps one pass over `examples` takes: each step draws batch_size x grad_accum
    examples on each of the processes torchrun started."""
    per_step = training.batch_size * training.grad_accum * launched_world_size()
    return max(1, -(-examples // per_step))


def dev_schedule(training: TrainingConfig, seed: int, eval_every_epoch: bool, epoch_steps: int,
                 with_dev: bool) -> TrainingConfig:  # fmt: skip
    """Return `training` with seed `seed` unless it has its own (a training.seed other than 0, its default:
    0 cannot be told from unset, so `seed` is the field that chooses 0) and, with a dev split: evaluations
    once per epoch when `eval_every_epoch` and no eval_every is set, and dev_macro_f1 (max) as the best
    metric."""
    training = dataclasses.replace(training, seed=training.seed or seed)
    if with_dev and training.eval_every == 0 and eval_every_epoch:
        training = dataclasses.replace(training, eval_every=epoch_steps)
    if with_dev and training.eval_every and not training.best_metric:
        training = dataclasses.replace(training, best_metric="dev_macro_f1", best_mode="max")
    return training


def finetune_classifier(
    config: ClassifierConfig,
    train: LabelledTexts,
    dev: LabelledTexts | None = None,
    *,
    show_progress: bool | None = None,
) -> FineTunedClassifier:
    """Return a classifier fine-tuned on `train` (source language) and selected on `dev` (same language).

    The run (checkpoints, train_log.jsonl, best/) lives in `config.output`, and the classifier is saved
    there at the end (by the main process), so it is the model folder; without an output (library calls)
    the run uses a temporary folder and the caller saves the classifier. With a dev split the classifier
    holds the weights of the best dev evaluation (`training.best_metric`, default dev_macro_f1), not the
    last step's. `show_progress`, when given, overrides training.progress.
    """
    finetune: FinetuneConfig = config.finetune
    finetune.validate()
    config.training.validate()
    if show_progress is not None:
        config = dataclasses.replace(
            config, training=dataclasses.replace(config.training, progress=show_progress)
        )
    if config.output:
        return _finetune(config, train, dev, Path(config.output))
    if finetune.resume:
        raise ConfigError("finetune.resume: needs output (the folder of the run to continue)")
    if launched_world_size() > 1:
        raise ConfigError("output: several processes (torchrun) need one run folder they all see")
    with tempfile.TemporaryDirectory(prefix="xling-finetune-") as run_dir:
        return _finetune(config, train, dev, Path(run_dir), save=False)


def _finetune(config: ClassifierConfig, train: LabelledTexts, dev: LabelledTexts | None, run_dir: Path,
              save: bool = True) -> FineTunedClassifier:  # fmt: skip
    from xling.training import load_checkpoint
    from xling.training import train as run_training

    finetune: FinetuneConfig = config.finetune
    labels = sorted(set(train.labels))
    if len(labels) < 2:
        raise DataError(f"the training data has {len(labels)} label(s) {labels}; a classifier needs two",
                        train.source)  # fmt: skip
    targets = label_indices(train, labels, "training")
    folder = encoder_folder(config.encoder)
    tokenizer = load_encoder_tokenizer(folder)
    training = training_section(config, steps_per_epoch(len(train), config.training), dev is not None)
    model = build_model(folder, labels, finetune, training.seed)
    # more tokens than the model has positions would fail inside its forward pass (training, dev, predict)
    max_length = capped_length(finetune.max_length, model, folder)
    ids = tokenize(tokenizer, train.texts, max_length)
    at_limit = sum(len(row) >= max_length for row in ids)
    if at_limit:
        logger.info("%d of %d training texts reach max_length %d (cut there)", at_limit, len(ids),
                    max_length)  # fmt: skip
    examples_per_step = config.training.batch_size * config.training.grad_accum
    evaluations = None
    if dev is not None and training.eval_every:
        evaluations = {"dev": dev_evaluation(model, tokenizer, dev, labels, max_length=max_length,
                                             batch_size=config.batch_size)}  # fmt: skip
    objective = ClassificationObjective(model)
    batches = ClassificationBatches(ids, targets, training.batch_size, training.grad_accum,
                                    tokenizer.pad_token_id, training.seed)  # fmt: skip
    run_config = config_to_dict(config)
    run_config["training"] = config_to_dict(training)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    logger.info("fine-tuning %s (%s of %s parameters train) on %d texts, %d labels, %d steps",
                config.encoder, f"{trainable:,}", f"{total:,}", len(ids), len(labels),
                training.max_steps)  # fmt: skip
    if save:  # another method's classifier goes once everything that can fail on the input has passed
        replace_other_method(run_dir, "finetune", finetune.overwrite)
    result = run_training(
        objective, batches, training, run_dir, resume=finetune.resume, restart=finetune.overwrite,
        evaluations=evaluations,
        run_config=run_config, may_change=RESUMABLE, description="fine-tune",
        data_files=labelled_data_files(train, dev),
    )  # fmt: skip
    dev_scores = dict(result.metrics)
    if result.best is not None:  # the weights kept are the best dev evaluation's, not the last step's
        dev_scores = load_checkpoint(Path(result.best["path"]), objective).get("metrics", dev_scores)
    trained = (result.steps - result.resumed_from) * examples_per_step * result.world_size
    meta = {
        "kind": KIND,
        **data_metadata(labels, train, dev, dev_scores, len(ids)),
        "encoder": str(config.encoder),
        "method": "finetune/lora" if finetune.lora_r else "finetune/full",
        "max_length": max_length,
        "train_examples": len(ids),
        "train_at_max_length": at_limit,
        "parameters": {"total": total, "trained": trainable},
        "training": {
            **result.to_dict(),
            "examples": trained,
            "examples_per_s": round(trained / max(result.seconds, 1e-9), 2),
        },  # fmt: skip
        "config": run_config,
    }
    classifier = FineTunedClassifier(plain_model(model), tokenizer, labels, max_length=max_length,
                                     batch_size=config.batch_size, metadata=meta)  # fmt: skip
    if save and result.is_main:
        classifier.save(run_dir)
    return classifier


# ---------------------------------------------------------------------------------------------- the classifier


def load_encoder_tokenizer(folder: Path):
    """Return the tokenizer of a Hugging Face folder; a missing or broken one is a DataError naming it."""
    from xling.tokenization.vocabulary import load_folder_tokenizer

    tokenizer = load_folder_tokenizer(folder)
    if tokenizer.pad_token_id is None:
        raise DataError("the tokenizer has no padding token", folder)
    return tokenizer


class FineTunedClassifier:
    """A fine-tuned sequence classifier: `.labels`, `.predict`, `.predict_proba`, `.save`, `load`.

    The folder it saves is a plain transformers one (`AutoModelForSequenceClassification.from_pretrained`
    gives the same logits; label names in config.json's id2label), with its tokenizer and xling.json
    (kind "classifier/finetune": labels, source language, dev scores, training figures).
    """

    kind = KIND

    def __init__(self, model: nn.Module, tokenizer, labels: Sequence[str], *, max_length: int = 128,
                 batch_size: int = 64, metadata: dict[str, Any] | None = None):  # fmt: skip
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.max_length = max_length
        self.batch_size = batch_size
        self.metadata = dict(metadata or {})

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 logits [len(texts), len(labels)]."""
        from xling.embeddings.encoder import check_texts

        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return predict_logits(self.model, self.tokenizer, texts, max_length=self.max_length,
                              batch_size=self.batch_size)  # fmt: skip

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return [len(texts), len(labels)] probabilities (softmax of the logits); columns follow .labels."""
        logits = self.logits(texts)
        logits = logits - logits.max(axis=1, keepdims=True) if len(logits) else logits
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return the most probable label of each text."""
        return [self.labels[i] for i in self.logits(texts).argmax(axis=1)]

    def save(self, folder: str | Path) -> Path:
        """Return `folder` after writing the model (safetensors), its tokenizer and xling.json there.

        The folder is also the training run's (checkpoints), so it is not replaced whole: the files are
        staged and renamed in, the old xling.json goes first and the new one comes last (save_model_folder).
        A failure mid-save leaves the earlier classifier as it was, a kill no classifier to load.
        """

        def write(staging: Path) -> None:
            self.model.save_pretrained(staging)
            self.tokenizer.save_pretrained(staging)

        meta = {**self.metadata, "kind": KIND, "labels": self.labels, "max_length": self.max_length}
        return save_model_folder(folder, write, meta)

    @classmethod
    def load(cls, folder: str | Path, *, device: str = "cpu") -> FineTunedClassifier:
        """Return the classifier saved in `folder` (or any sequence-classification folder with id2label)."""
        from transformers import AutoModelForSequenceClassification

        from xling.embeddings.weights import load_pretrained

        folder = Path(folder)
        model = load_pretrained(AutoModelForSequenceClassification, folder).to(device)
        meta = read_metadata(folder)
        labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if meta.get("labels") and list(meta["labels"]) != labels:
            raise DataError(f"xling.json labels {meta['labels']} differ from config.json's id2label {labels}",
                            folder)  # fmt: skip
        tokenizer = load_encoder_tokenizer(folder)
        # a folder saved before max_length was capped (or written by other tools) may ask for more tokens
        max_length = capped_length(int(meta.get("max_length", min(512, tokenizer.model_max_length))), model,
                                   folder)  # fmt: skip
        return cls(model, tokenizer, labels, max_length=max_length, metadata=meta)


register_method("finetune", finetune_classifier)
register_kind(KIND, FineTunedClassifier.load)

__all__ = [
    "ClassificationBatches",
    "ClassificationObjective",
    "FineTunedClassifier",
    "FinetuneConfig",
    "finetune_classifier",
]
