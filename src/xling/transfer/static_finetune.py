"""Method c of transfer, table fine-tuned: a static sentence encoder's embedding table trained with a head.

A static encoder (xling-mini: the mean of sub-word vectors, `xling.embeddings.static`) and a linear head
on its unit-length sentence vectors are trained together on the source language's labelled texts,
through `xling.training.train` (sparse gradients of the table with LazyAdamW, resume, the best checkpoint
by the source language's dev macro-F1 as the named evaluation "dev").

Only the rows of sub-words in the training texts move. A word seen only in English would drift away from
its translations, whose rows stay where alignment put them; `anchor_weight` adds, to the cross-entropy,
anchor_weight x the mean over the batch's distinct rows of the squared L2 distance of each row to its
value before fine-tuning, which holds the touched rows near the shared space (0: no anchor).

Saved folder (never a pickle): `encoder/` (the tuned table, sentence-transformers layout written by
`StaticSentenceEncoder.save`, so `SentenceTransformer(folder / "encoder")` loads it), `head.safetensors`
(`weight` [labels, dimension], `bias` [labels], float32) and `xling.json` (kind "classifier/static-finetune":
labels, scale, the original encoder, dev scores, training figures). Probabilities are
softmax(head(scale x unit vector)).
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

from xling.artifacts import CLASSIFIER_FAMILY, METADATA_FILE, read_metadata, write_metadata
from xling.config import config_to_dict, given_fields
from xling.embeddings.static import GatherRows, StaticSentenceEncoder
from xling.errors import ConfigError, DataError
from xling.training.distributed import launched_world_size
from xling.training.loop import TrainingConfig
from xling.transfer.classifier import data_metadata, register_kind, register_method, replace_other_method
from xling.transfer.finetune import (
    ClassificationBatches,
    dev_schedule,
    label_indices,
    labelled_data_files,
    steps_per_epoch,
)

if TYPE_CHECKING:
    from xling.data.labelled import LabelledTexts
    from xling.transfer.config import ClassifierConfig

__all__ = [
    "KIND",
    "METHOD",
    "StaticFinetuneConfig",
    "StaticFinetunedClassifier",
    "finetune_static",
]

METHOD = "static-finetune"
KIND = f"{CLASSIFIER_FAMILY}/static-finetune"
ENCODER_DIR = "encoder"
HEAD_FILE = "head.safetensors"
DEV_METRICS = ("macro_f1", "accuracy")
# besides the training bookkeeping (xling.training.resume): fields a resumed run may change
RESUMABLE = ("output", "resume", "overwrite", "batch_size")
logger = logging.getLogger(__name__)


def _static_training() -> TrainingConfig:
    """Return the default loop settings of tuning a static table: Adam's step must move rows of norm ~13
    (xling-mini), so a larger learning rate than a transformer's; no weight decay (it would pull rows to 0)."""
    return TrainingConfig(max_steps=300, batch_size=32, lr=1e-2, warmup_steps=30, weight_decay=0.0,
                          log_every=20, checkpoint_every=300)  # fmt: skip


@dataclass
class StaticFinetuneConfig:
    """Fine-tuning a static encoder's table together with a linear head (method "static-finetune")."""

    encoder: str = "xling-mini"
    """The static sentence encoder: a folder or shipped model name whose first module is a StaticEmbedding."""
    anchor_weight: float = 1.0
    """Weight of the pull of each touched table row towards its value before fine-tuning (mean squared
    L2 distance over a batch's distinct rows, added to the cross-entropy); 0 = no anchor. Chosen on the
    UMSAB target val splits (English -> 5 languages, zero-shot macro-F1: 0: 33.4, 1: 34.5, 10: 33.4, 100:
    33.8; benchmarks/transfer_static.py)."""
    train_table: bool = True
    """Whether the table trains; False trains the head only on the frozen table (the control)."""
    scale: float = 0.0
    """Sentence vectors are unit length times this before the head; 0 = the square root of the dimension
    (so a coordinate is about 1 in size, like the standardised vectors of the frozen method)."""
    batch_size: int = 256
    """Texts per call when predicting (and scoring the dev split)."""
    seed: int = 0
    """Seed of the head's initialisation and of the run, unless training.seed is set."""
    eval_every_epoch: bool = True
    """With a dev split and training.eval_every = 0: score the dev split once per pass over the training
    data (and at the end), and keep the best by training.best_metric (default "dev_macro_f1")."""
    output: str | None = None
    """The run folder (checkpoints, train_log.jsonl, best/) where the classifier is saved at the end; None:
    a temporary run folder, and the caller saves the classifier."""
    resume: bool = False
    """Continue the run in `output` from its newest checkpoint."""
    overwrite: bool = False
    """Start a new run in `output` over an earlier run there (its checkpoints, log and best weights are
    deleted; the command line's --overwrite)."""
    training: TrainingConfig = field(default_factory=_static_training)
    """Optimisation and bookkeeping of the training loop."""

    def validate(self) -> None:
        if not self.encoder:
            raise ConfigError("encoder: must name a static encoder folder or shipped model")
        if not self.anchor_weight >= 0:
            raise ConfigError(f"anchor_weight: must be 0 or more, not {self.anchor_weight}")
        if not self.scale >= 0:
            raise ConfigError(f"scale: must be 0 (square root of the dimension) or more, not {self.scale}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size: must be at least 1, not {self.batch_size}")
        if self.resume and not self.output:
            raise ConfigError("resume: needs output (the folder of the run to continue)")
        self.training.validate()


# ---------------------------------------------------------------------------------------------- the model


class StaticHeadModel(nn.Module):
    """A static encoder and a linear head: logits = head(scale x the unit-length mean of sub-word rows)."""

    def __init__(self, encoder: StaticSentenceEncoder, n_labels: int, scale: float):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.dimension, n_labels)
        self.scale = float(scale)

    def logits_of(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.head(nn.functional.normalize(vectors.float(), dim=-1) * self.scale)

    @torch.inference_mode()
    def predict_logits(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        """Return float32 logits [len(texts), labels], the model in eval mode."""
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        out = []
        try:
            for start in range(0, len(texts), batch_size):
                features, _ = self.encoder.featurize(texts[start : start + batch_size])
                vectors = self.encoder({k: v.to(device) for k, v in features.items()})
                out.append(self.logits_of(vectors).float().cpu().numpy())
        finally:
            self.train(was_training)
        return np.concatenate(out) if out else np.zeros((0, self.head.out_features), dtype=np.float32)


class StaticClassificationObjective(nn.Module):
    """forward(batch) -> {"loss": cross-entropy + anchor_weight x anchor, "tokens", "anchor"}.

    The anchor is the mean over the batch's distinct table rows of ||row - row before fine-tuning||^2; the
    rows before fine-tuning are kept outside the state dict (checkpoints hold the model only).
    """

    def __init__(self, model: StaticHeadModel, anchor_weight: float):
        super().__init__()
        self.model = model
        self.anchor_weight = float(anchor_weight)
        self.original = model.encoder.embedding.weight.detach().clone() if anchor_weight > 0 else None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        weight = self.model.encoder.embedding.weight
        ids, offsets = batch["input_ids"], batch["offsets"]
        rows, local_ids = torch.unique(ids, return_inverse=True)
        table = GatherRows.apply(weight, rows) if weight.requires_grad else weight[rows]
        vectors = nn.functional.embedding_bag(local_ids, table, offsets, mode="mean")
        loss = nn.functional.cross_entropy(self.model.logits_of(vectors), batch["labels"])
        out = {"loss": loss, "tokens": torch.tensor(ids.numel())}
        if self.original is not None and weight.requires_grad:
            if self.original.device != weight.device:
                self.original = self.original.to(weight.device)
            anchor = (table.float() - self.original[rows]).pow(2).sum(dim=1).mean()
            out["loss"] = loss + self.anchor_weight * anchor
            out["anchor"] = anchor.detach()
        return out


class StaticBatches(ClassificationBatches):
    """The batch source: fine-tuning's example stream (`ClassificationBatches`), as bags of token ids."""

    def __init__(self, ids: list[list[int]], labels: Sequence[int], batch_size: int, grad_accum: int,
                 seed: int):  # fmt: skip
        super().__init__(ids, labels, batch_size, grad_accum, pad_id=0, seed=seed)

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        from xling.embeddings.static import bag_features

        chosen = self.indices(step, micro, rank, world_size)
        batch = bag_features([self.ids[i] for i in chosen])
        batch["labels"] = torch.from_numpy(self.labels[chosen])
        return batch


def _load_static(encoder: str) -> tuple[StaticSentenceEncoder, str]:
    """Return (a trainable copy of the static module of `encoder`, its name); another kind is a ConfigError."""
    from xling.embeddings.encoder import Encoder

    loaded = Encoder.load(encoder)
    if not isinstance(loaded.module, StaticSentenceEncoder):
        raise ConfigError(f"encoder: {encoder} is a {loaded.kind} encoder; static-finetune needs a static one "
                          "(use method 'finetune' for transformers)")  # fmt: skip
    module = loaded.module
    weight = module.embedding.weight.detach().to("cpu", torch.float32).clone()
    return StaticSentenceEncoder(module.tokenizer, weight, sparse=True, prompt=module.prompt), loaded.name


# ---------------------------------------------------------------------------------------------- training


def finetune_static(
    train: LabelledTexts,
    dev: LabelledTexts | None = None,
    config: StaticFinetuneConfig | None = None,
    *,
    show_progress: bool | None = None,
) -> StaticFinetunedClassifier:
    """Return a static encoder + head fine-tuned on `train` (source language), selected on `dev` (same
    language) by macro-F1 when given: the weights of the best dev evaluation are the ones returned.

    With `config.output` the run lives there and the classifier is saved there at the end; otherwise the
    run uses a temporary folder and the caller saves the classifier.
    """
    config = config or StaticFinetuneConfig()
    config.validate()
    if show_progress is not None:
        config = dataclasses.replace(
            config, training=dataclasses.replace(config.training, progress=show_progress)
        )
    if config.output:
        return _run(config, train, dev, Path(config.output), save=True)
    if launched_world_size() > 1:  # each rank's own temporary folder: only rank 0's would hold best/
        raise ConfigError("output: several processes (torchrun) need one run folder they all see")
    with tempfile.TemporaryDirectory(prefix="xling-static-finetune-") as run_dir:
        return _run(config, train, dev, Path(run_dir), save=False)


def _run(config: StaticFinetuneConfig, train: LabelledTexts, dev: LabelledTexts | None, run_dir: Path,
         save: bool) -> StaticFinetunedClassifier:  # fmt: skip
    from xling.training import load_checkpoint
    from xling.training import train as run_training
    from xling.transfer.metrics import classification_scores

    labels = sorted(set(train.labels))
    if len(labels) < 2:
        raise DataError(f"the training data has {len(labels)} label(s) {labels}; a classifier needs two",
                        train.source)  # fmt: skip
    targets = label_indices(train, labels, "training")
    if dev is not None:
        label_indices(dev, labels, "dev")  # fail before training, not at the first evaluation
    encoder, encoder_name = _load_static(config.encoder)
    ids, _ = encoder.token_ids(train.texts)
    empty = [index for index, row in enumerate(ids) if not row]
    if empty:
        raise DataError(f"{len(empty)} training text(s) have no tokens (first: example {empty[0] + 1})",
                        train.source, train.line(empty[0]))  # fmt: skip
    training = dev_schedule(config.training, config.seed, config.eval_every_epoch,
                            steps_per_epoch(len(ids), config.training), dev is not None)  # fmt: skip
    scale = config.scale or float(encoder.dimension) ** 0.5
    torch.manual_seed(training.seed)  # the head's initialisation
    model = StaticHeadModel(encoder, len(labels), scale)
    encoder.embedding.weight.requires_grad_(config.train_table)
    objective = StaticClassificationObjective(model, config.anchor_weight if config.train_table else 0.0)

    evaluations = None
    if dev is not None and training.eval_every:

        def evaluate(_objective: nn.Module, _step: int) -> dict[str, float]:
            logits = model.predict_logits(dev.texts, config.batch_size)
            predicted = [labels[i] for i in logits.argmax(axis=1)]
            scores = classification_scores(dev.labels, predicted, labels, source=dev.source, lines=dev.lines)
            return {name: float(scores[name]) for name in DEV_METRICS}

        evaluations = {"dev": evaluate}
    batches = StaticBatches(ids, targets, training.batch_size, training.grad_accum, training.seed)
    run_config = config_to_dict(config)
    run_config["training"] = config_to_dict(training)
    original = encoder.embedding.weight.detach().clone()
    logger.info("fine-tuning the table of %s (anchor_weight %g) and a %d-label head on %d texts, %d steps",
                encoder_name, config.anchor_weight, len(labels), len(ids), training.max_steps)  # fmt: skip
    if save:  # another method's classifier goes once everything that can fail on the input has passed
        replace_other_method(run_dir, METHOD, config.overwrite)
    result = run_training(objective, batches, training, run_dir, resume=config.resume, restart=config.overwrite,
                          evaluations=evaluations,
                          run_config=run_config, may_change=RESUMABLE, description="static fine-tune",
                          data_files=labelled_data_files(train, dev))  # fmt: skip
    dev_scores = dict(result.metrics)
    if result.best is not None:  # the weights kept are the best dev evaluation's, not the last step's
        dev_scores = load_checkpoint(Path(result.best["path"]), objective).get("metrics", dev_scores)
    model.cpu()
    moved = (encoder.embedding.weight.detach() - original).norm(dim=1)
    touched = int((moved > 0).sum())
    meta = {
        **data_metadata(labels, train, dev, dev_scores, len(ids)),
        "base_encoder": encoder_name,
        "anchor_weight": config.anchor_weight,
        "train_table": config.train_table,
        "train_examples": len(ids),
        "counts": train.counts(),
        "rows_moved": touched,
        "mean_row_shift": round(float(moved[moved > 0].mean()), 6) if touched else 0.0,
        "training": result.to_dict(),
        "config": run_config,
    }
    classifier = StaticFinetunedClassifier(model, labels, batch_size=config.batch_size, metadata=meta)
    if save and result.is_main:
        classifier.save(run_dir)
    return classifier


def train_static_finetune(config: ClassifierConfig, train: LabelledTexts, dev: LabelledTexts | None = None, *,
                          static: StaticFinetuneConfig | None = None,
                          show_progress: bool | None = None) -> StaticFinetunedClassifier:  # fmt: skip
    """The `train_classifier` entry of method "static-finetune": `static` (default StaticFinetuneConfig())
    with the encoder, seed, batch size, output, `finetune.resume` and `finetune.overwrite` of the
    ClassifierConfig, and the
    training fields it sets (`--set training.max_steps=60`) over a static table's own defaults."""
    static = static or StaticFinetuneConfig()
    static = dataclasses.replace(static, encoder=config.encoder, seed=config.seed, batch_size=config.batch_size,
                                 output=config.output, resume=config.finetune.resume or static.resume,
                                 overwrite=config.finetune.overwrite or static.overwrite,
                                 training=_set_fields(config, static.training))  # fmt: skip
    return finetune_static(train, dev, static, show_progress=show_progress)


def _set_fields(config: ClassifierConfig, base: TrainingConfig) -> TrainingConfig:
    """Return `base` (a static table's training defaults) with the training fields the user set for the
    transfer command, while a transformer's defaults (lr 5e-5) stay out of a static table: the fields that
    differ from ClassifierConfig's default training, and those a recipe, an option or `--set` named
    (`load_config`), whatever their value (`--set training.lr=5e-5` is 5e-5 here too)."""
    from xling.transfer.config import _finetune_training

    given, defaults = config.training, _finetune_training()
    changed = {
        f.name
        for f in dataclasses.fields(TrainingConfig)
        if getattr(given, f.name) != getattr(defaults, f.name)
    }
    named = {name for name in given_fields(config, "training") or () if "." not in name}
    return dataclasses.replace(base, **{name: getattr(given, name) for name in changed | named})


# ---------------------------------------------------------------------------------------------- the classifier


class StaticFinetunedClassifier:
    """A fine-tuned static encoder and its head: `.labels`, `.predict`, `.predict_proba`, `.save`, `load`."""

    kind = KIND

    def __init__(self, model: StaticHeadModel, labels: Sequence[str], *, batch_size: int = 256,
                 metadata: dict[str, Any] | None = None):  # fmt: skip
        if model.head.out_features != len(labels):
            raise DataError(f"a head of {model.head.out_features} outputs does not fit {len(labels)} labels")
        self.model = model.eval()
        self.labels = list(labels)
        self.batch_size = batch_size
        self.metadata = dict(metadata or {})

    @property
    def encoder_name(self) -> str | None:
        """The encoder the table was tuned from (for the transfer report's language coverage)."""
        return self.metadata.get("base_encoder")

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 logits [len(texts), len(labels)]."""
        from xling.embeddings.encoder import check_texts

        return self.model.predict_logits(check_texts(texts), self.batch_size)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Return [len(texts), len(labels)] probabilities (softmax of the logits); columns follow .labels."""
        logits = self.logits(texts).astype(np.float64)
        if not len(logits):
            return logits
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """Return the most probable label of each text."""
        return [self.labels[i] for i in self.logits(texts).argmax(axis=1)]

    def save(self, folder: str | Path) -> Path:
        """Return `folder` after writing encoder/, head.safetensors and xling.json there (see the module
        docstring); other files there (a run's checkpoints) are kept."""
        import shutil

        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / METADATA_FILE).unlink(missing_ok=True)  # an older classifier there is gone, not mixed in
        staging = folder / f".{ENCODER_DIR}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        self.model.encoder.save(staging)
        head = {"weight": self.model.head.weight.detach().cpu().float().contiguous(),
                "bias": self.model.head.bias.detach().cpu().float().contiguous()}  # fmt: skip
        save_file(head, str(folder / f".{HEAD_FILE}.partial"))
        shutil.rmtree(folder / ENCODER_DIR, ignore_errors=True)
        staging.replace(folder / ENCODER_DIR)
        (folder / f".{HEAD_FILE}.partial").replace(folder / HEAD_FILE)
        # xling.json last: a folder whose save was interrupted has no kind, so it does not load half-written
        write_metadata(folder, {**self.metadata, "kind": KIND, "labels": self.labels, "scale": self.model.scale,
                                "batch_size": self.batch_size})  # fmt: skip
        return folder

    @classmethod
    def load(cls, folder: str | Path, *, device: str = "cpu") -> StaticFinetunedClassifier:
        """Return the classifier saved in `folder`, its model on `device` (a torch device name)."""
        from xling.embeddings.static import MODULE_DIR
        from xling.embeddings.weights import load_safetensors

        folder = Path(folder)
        meta = read_metadata(folder)
        if meta.get("kind") != KIND:
            raise DataError(f"not a static fine-tuned classifier (kind {meta.get('kind')!r})", folder)
        labels = meta.get("labels")
        if not isinstance(labels, list) or len(labels) < 2 or not isinstance(meta.get("scale"), int | float):
            raise DataError(
                "xling.json lacks the labels or the scale of the classifier", folder / "xling.json"
            )
        from xling.embeddings.encoder import default_prompt

        # the prompt the encoder was trained with (the classifier's inputs were prompted texts)
        encoder = StaticSentenceEncoder.load(
            folder / ENCODER_DIR / MODULE_DIR, prompt=default_prompt(folder / ENCODER_DIR)
        )
        head = load_safetensors(folder / HEAD_FILE)
        if "weight" not in head or "bias" not in head:
            raise DataError(f"expected tensors weight and bias, found {sorted(head)}", folder / HEAD_FILE)
        if tuple(head["weight"].shape) != (len(labels), encoder.dimension):
            raise DataError(f"head of shape {tuple(head['weight'].shape)} does not fit {len(labels)} labels on "
                            f"{encoder.dimension}-dimensional vectors", folder / HEAD_FILE)  # fmt: skip
        model = StaticHeadModel(encoder, len(labels), float(meta["scale"]))
        model.head.load_state_dict({"weight": head["weight"].float(), "bias": head["bias"].float()})
        model.to(device)
        return cls(model, labels, batch_size=int(meta.get("batch_size", 256)), metadata=meta)


register_method(METHOD, train_static_finetune)
register_kind(KIND, StaticFinetunedClassifier.load)
