"""`xling mt train`: train (or continue training) a many-to-many M2M-100-style translation model.

The model folder it writes is a Hugging Face one (`M2M100ForConditionalGeneration`, tokenizer) plus
`xling.json` (kind "translation", family "xling", the language tokens), so `transformers` loads it and
`xling.Translator` knows its conventions: source `__src__ pieces </s>`, decoding from `</s>` with the
target language token `__tgt__` forced first, as M2M-100 does with its two-letter codes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xling.artifacts import write_metadata
from xling.config import config_to_dict
from xling.data.config import CorpusConfig
from xling.errors import ConfigError
from xling.tokenization.vocabulary import language_token, load_tokenizer, save_tokenizer, tokenizer_metadata
from xling.training import TrainingConfig, TrainResult, train
from xling.training.checkpoint import load_checkpoint
from xling.translation.data import (
    DIRECTION_MODES,
    ParallelData,
    TranslationBatches,
    build_parallel_data,
    parse_direction,
)
from xling.translation.objective import Seq2SeqObjective
from xling.translation.presets import model_config

logger = logging.getLogger(__name__)

# besides the training bookkeeping (xling.training.resume): fields a resumed run may change, as they only
# shape the evaluation or the files written after training
RESUMABLE = ("output", "resume", "dev_directions", "dev_max_sentences")


@dataclass
class MTTrainConfig:
    """Settings of `xling mt train`."""

    output: str = "runs/mt"
    """The model folder to write (Hugging Face layout + xling.json); it also holds the run's checkpoints."""

    tokenizer: str = ""
    """The folder made by `xling tokenizer train`, with a language token for every language trained on;
    "" takes the tokenizer of `model` when that is a model folder."""

    model: str = "mini"
    """A size preset (tiny, mini, small, base; xling.translation.presets), a config.json, or an xling
    translation model folder to go on training (fine-tuning)."""

    dropout: float = 0.1
    """Dropout of a new model's hidden states, in [0, 1)."""

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
    trained in both directions."""

    temperature: float = 5.0
    """Direction sampling p_d ~ n_d^(1/T) over the directions' pair counts (M2M-100 and mBART: 5)."""

    max_length: int = 128
    """Longest side of a training pair in tokens (language token and </s> included); longer pairs are
    dropped."""

    label_smoothing: float = 0.1
    """Label smoothing of the cross-entropy, in [0, 1)."""

    dev_fraction: float = 0.01
    """A stable hashed share of the corpus ids kept out of training as the dev set, in [0, 0.5)."""

    dev_directions: list[str] = field(default_factory=list)
    """Directions whose dev chrF++ is measured during training (`src-tgt`); empty: every corpus direction
    out of the pivot. `dev_chrf` (their average) is what training.best_metric watches."""

    dev_max_sentences: int = 100
    """Dev sentences per direction decoded (greedy) at each evaluation."""

    resume: bool = False
    """Continue from the newest checkpoint in `output`; without it a folder with checkpoints is refused."""

    training: TrainingConfig = field(default_factory=TrainingConfig)
    """The training loop (`[mt.training]`): steps, batch (pairs per micro-batch), learning rate, checkpoints."""

    def validate(self) -> None:
        self.data.validate()
        if self.directions not in DIRECTION_MODES:
            raise ConfigError(f"directions: {self.directions!r} must be one of {', '.join(DIRECTION_MODES)}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout: {self.dropout} must be in [0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing: {self.label_smoothing} must be in [0, 1)")
        if not 0 <= self.dev_fraction < 0.5:
            raise ConfigError(f"dev_fraction: {self.dev_fraction} must be in [0, 0.5)")
        if self.max_length < 4:
            raise ConfigError(f"max_length: {self.max_length} is too short")
        if self.temperature <= 0:
            raise ConfigError(f"temperature: {self.temperature} must be above 0")
        for item in self.dev_directions:
            parse_direction(item, "dev_directions")
        self.training.validate()


@dataclass
class MTTrainResult:
    """A finished translation training run: where the model is, how training went, its dev scores."""

    output: Path
    train: TrainResult
    evaluation: dict[str, Any]
    model: torch.nn.Module | None = None


def is_model_folder(path: str | Path) -> bool:
    """Return whether `path` is a model folder (config.json and safetensors weights)."""
    folder = Path(path)
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def build_model(config: MTTrainConfig, tokenizer) -> torch.nn.Module:
    """Return a fresh M2M100ForConditionalGeneration for a preset, or the model of a folder to go on from."""
    from transformers import M2M100ForConditionalGeneration

    from xling.embeddings.weights import load_pretrained

    if is_model_folder(config.model):
        model = load_pretrained(M2M100ForConditionalGeneration, Path(config.model))
        if model.config.vocab_size != len(tokenizer):
            raise ConfigError(
                f"model: vocab_size {model.config.vocab_size} != tokenizer size {len(tokenizer)}"
            )
        return model
    hf_config = model_config(config.model, vocab_size=len(tokenizer), dropout=config.dropout)
    if hf_config.vocab_size != len(tokenizer):
        raise ConfigError(f"model: vocab_size {hf_config.vocab_size} != tokenizer size {len(tokenizer)}")
    return M2M100ForConditionalGeneration(hf_config)


def dev_directions(config: MTTrainConfig, data: ParallelData) -> list[str]:
    """Return the dev directions to evaluate: the configured ones, or every dev direction out of the pivot."""
    if config.dev_directions:
        names = ["-".join(parse_direction(d, "dev_directions")) for d in config.dev_directions]
        missing = [n for n in names if n not in data.dev]
        if missing:
            raise ConfigError(f"dev_directions: no dev sentences for {', '.join(missing)} (corpus directions "
                              f"with dev ids: {', '.join(sorted(data.dev)) or 'none'})")  # fmt: skip
        return names
    pivot = parse_direction(f"{config.pivot}-{config.pivot}")[0]
    return [name for name in data.dev if name.startswith(f"{pivot}-")]


@torch.inference_mode()
def greedy_translate(model, tokenizer, texts: list[str], src: str, tgt: str, *, batch_size: int = 32,
                     max_length: int = 128) -> list[str]:  # fmt: skip
    """Return greedy translations of `texts` by an xling translation model (M2M-100 conventions).

    For the dev evaluation during training; `xling.Translator` is the full decoder (beam search, batching
    by length, long documents, other model families).
    """
    device = next(model.parameters()).device
    src_id = tokenizer.convert_tokens_to_ids(language_token(src))
    tgt_id = tokenizer.convert_tokens_to_ids(language_token(tgt))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    outputs: list[str] = []
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        pieces = tokenizer(chunk, add_special_tokens=False, truncation=True, max_length=max_length - 2)[
            "input_ids"
        ]
        rows = [[src_id, *p, eos] for p in pieces]
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
        generated = model.generate(
            input_ids=input_ids.to(device),
            attention_mask=(input_ids != pad).long().to(device),
            decoder_input_ids=torch.tensor([[eos, tgt_id]] * len(rows), device=device),
            num_beams=1,
            do_sample=False,
            # max_length, not max_new_tokens: the saved generation config sets max_length, and giving both
            # makes transformers warn; it counts the two forced decoder tokens
            max_length=2 + int(1.5 * width) + 10,
        )
        outputs.extend(tokenizer.batch_decode(generated[:, 2:], skip_special_tokens=True))
    return outputs


def chrf_evaluation(tokenizer, data: ParallelData, directions: list[str], max_sentences: int):
    """Return the training loop's dev evaluation: greedy chrF++ (sacrebleu, word_order=2) per direction."""
    from sacrebleu.metrics import CHRF

    chrf = CHRF(word_order=2)

    def evaluate(objective: torch.nn.Module, step: int) -> dict[str, float]:
        scores: dict[str, float] = {}
        for name in directions:
            sources, references = data.dev[name]
            src, tgt = name.split("-")
            hypotheses = greedy_translate(objective.model, tokenizer, sources[:max_sentences], src, tgt)
            scores[f"chrf_{name}"] = chrf.corpus_score(hypotheses, [references[:max_sentences]]).score
        scores["chrf"] = sum(scores.values()) / max(1, len(scores))
        return scores

    return evaluate


def train_translation(config: MTTrainConfig) -> MTTrainResult:
    """Return the result of training a translation model as the config says; the folder goes to config.output."""
    config.validate()
    tokenizer_path = config.tokenizer or (config.model if is_model_folder(config.model) else "")
    if not tokenizer_path:
        raise ConfigError(
            "tokenizer: give the folder made by `xling tokenizer train` (or a model folder as model)"
        )
    tokenizer = load_tokenizer(tokenizer_path)
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
    )
    logger.info("%d directions, %d training pairs (read in %.0f s)", len(data.directions),
                sum(data.counts().values()), time.perf_counter() - started)  # fmt: skip
    torch.manual_seed(config.training.seed)
    model = build_model(config, tokenizer)
    objective = Seq2SeqObjective(model, config.label_smoothing)
    batches = TranslationBatches(data, tokenizer, batch_size=config.training.batch_size,
                                 temperature=config.temperature, seed=config.training.seed)  # fmt: skip
    evaluations = {}
    evaluated = dev_directions(config, data)
    if evaluated and config.training.eval_every:
        evaluations["dev"] = chrf_evaluation(tokenizer, data, evaluated, config.dev_max_sentences)
    output = Path(config.output)
    result = train(objective, batches, config.training, output, resume=config.resume, evaluations=evaluations,
                   description="mt train", run_config=config_to_dict(config), may_change=RESUMABLE)  # fmt: skip
    evaluation: dict[str, Any] = dict(result.metrics)
    if result.best is not None:  # the model saved is the best one on dev chrF++, not the last
        load_checkpoint(Path(result.best["path"]), objective)
        evaluation = {"best": result.best}
    if result.is_main:
        save_translation_model(model, tokenizer, output, config, data, result, evaluation, tokenizer_path)
    return MTTrainResult(output, result, evaluation, model)


def save_translation_model(model, tokenizer, output: Path, config: MTTrainConfig, data: ParallelData,
                           result: TrainResult, evaluation: dict[str, Any], tokenizer_path: str) -> None:  # fmt: skip
    """Write the Hugging Face folder (config.json, model.safetensors, generation config, tokenizer) and xling.json."""
    # without this, transformers' generate stops at 20 tokens (its default max_length)
    model.generation_config.max_length = 256
    model.generation_config.decoder_start_token_id = tokenizer.eos_token_id
    model.save_pretrained(output)
    save_tokenizer(tokenizer, output)
    write_metadata(output, {
        "kind": "translation",
        "family": "xling",
        "languages": data.languages,
        "language_tokens": {lang: language_token(lang) for lang in data.languages},
        "directions": data.counts(),
        "config": config_to_dict(config),
        "training": result.to_dict(),
        "evaluation": evaluation,
        "tokenizer": tokenizer_metadata(tokenizer_path),
    })  # fmt: skip
