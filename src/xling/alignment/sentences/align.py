"""`xling align sentences`: train a sentence encoder so translations land together, from parallel data.

Two students: a static one (mean of sub-word vectors over a multilingual vocabulary; the strong choice on
CPUs) and a transformer one (any encoder folder, e.g. what `xling pretrain` made). Two signals: translation
ranking on pivot-xx (and optionally xx-yy) pairs, and distillation of a frozen teacher's vector of the
pivot sentence. Training goes through `xling.training.train` (resume, DDP, bf16, progress).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from xling.alignment.sentences.clauses import ClauseSplit, clause_pairs, clause_split
from xling.alignment.sentences.data import (
    PairBatches,
    PairSampling,
    ParallelBank,
    add_pairs,
    build_parallel_bank,
)
from xling.alignment.sentences.hard_negatives import (
    CACHE_FILE,
    KEY_FILE,
    HardNegativeTable,
    cached_hard_negatives,
)
from xling.alignment.sentences.objective import SentenceAlignmentObjective, side
from xling.artifacts import SENTENCE_ENCODER_FAMILY, folder_fingerprint
from xling.atomic import check_apart, check_replaceable, same_path, save_keyed_array
from xling.config import check_int, config_to_dict
from xling.data.config import CorpusConfig
from xling.data.languages import normalize_language, pair_file_spec
from xling.data.readers import AlignedCorpus, read_parallel_tsv, require_file
from xling.data.root import check_not_test_set
from xling.data.sources import check_prefixes_match, corpus_ids, resolve_corpus
from xling.embeddings.encoder import Encoder, resolve_model
from xling.embeddings.static import StaticSentenceEncoder
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.translation_accuracy import retrieval_accuracy
from xling.tokenization.vocabulary_transfer import cached_transfer
from xling.training import TrainingConfig, load_checkpoint, train
from xling.training.checkpoint import list_checkpoints
from xling.training.distributed import barrier, init_distributed
from xling.training.evaluations import run_evaluations
from xling.training.loop import RUN_ENTRIES
from xling.training.model_folder import save_model_folder

logger = logging.getLogger(__name__)
TRANSFER_DIR = "vocabulary_transfer"
# float16 halves a static student's table; int8 (per-row scales) quarters it
SAVE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int8": torch.int8}
# besides the training bookkeeping (xling.training.resume): fields a resumed run may change, as they only
# shape the saved encoder
RESUMABLE = ("output", "resume", "overwrite", "name", "save_dtype")
KIND_FAMILY = SENTENCE_ENCODER_FAMILY
# input folders that `output` may never be (xling.atomic.check_apart): the run would write its encoder
# (and xling.json) over them
INPUT_FOLDERS = ("student", "tokenizer", "student_vocabulary", "teacher", "hard_negative_encoder")
TEACHER_FILES = ("teacher_vectors.npy", "teacher_vectors.json")
# what a run writes into `output` before its encoder: the loop's entries (its log, checkpoints, best/, and
# the best.old or best.tmp that a kill during a best write leaves: the loop renames best.old back at its
# start and replaces best.tmp at its next write), and the caches it reuses (keyed by their settings)
RUN_FILES = frozenset({*RUN_ENTRIES, *TEACHER_FILES, CACHE_FILE, KEY_FILE, TRANSFER_DIR})
# the personalisation of the unit_fraction draw's hash (in_unit_fraction): other buckets than the held-out
# split's crc32 ones (xling.data.sources.HeldOut), so the two draws are independent
UNIT_DRAW = b"xling-units"


@dataclass
class AlignConfig:
    """Settings of `xling align sentences`."""

    output: str = "runs/align"
    """The encoder folder to write; it also holds the run's checkpoints, train_log.jsonl and caches."""

    data: CorpusConfig = field(default_factory=CorpusConfig)
    """The id-aligned corpus (`data.corpus`, e.g. the Bible; languages empty: all) and the held-out ids, which
    are the dev set: `[align.data]` in a recipe (xling.data.config). `data.text` and `data.skip_bad` are
    refused."""

    pivot: str = "eng"
    """The language on one side of every pivot-xx pair (any code form); trained on even when not listed in
    data.languages."""

    student: str = "static"
    """Either "static" (a new static student over `tokenizer`) or an encoder folder / shipped name to keep
    training."""

    tokenizer: str = ""
    """The folder made by `xling tokenizer train` that a static student is built over (required for it)."""

    student_vocabulary: str = ""
    """A tokenizer folder: the encoder student first gets this vocabulary, new rows made from its own
    sub-token rows (vocabulary transfer, xling.tokenization.vocabulary_transfer), kept in
    <output>/vocabulary_transfer; "" keeps its own. Not for a static student."""

    dimension: int = 256
    """Vector size of a new static student; an encoder student keeps its own."""

    teacher: str = ""
    """A frozen encoder (folder or shipped name) whose pivot-sentence vectors both sides learn to match
    (distillation); required when distill_weight > 0, and refused without it (it would be ignored)."""

    ranking_weight: float = 1.0
    """Weight of the translation ranking loss (LaBSE's bidirectional in-batch softmax); 0 = distillation
    only."""

    distill_weight: float = 0.0
    """Weight of the distillation loss (MSE to the teacher's vector); 0 = no teacher."""

    scale: float = 20.0
    """The ranking loss's softmax scale on cosines (the start value when learn_scale); clamped to [1, 100]."""

    learn_scale: bool = False
    """Learn the scale (as a log, clamped to [1, 100]) instead of keeping it fixed."""

    margin: float = 0.0
    """Additive margin subtracted from each translation's cosine in the ranking loss; 0 = none."""

    hard_negatives: int = 0
    """Mined hard negatives (LaBSE; sentence-transformers' mine_hard_negatives): up to this many per pair and
    step, in the batch's tgt language; 0 = in-batch negatives only."""

    hard_negative_encoder: str = ""
    """The encoder (a folder or shipped name) that mines the candidates once per unit; "": the student, when
    it is an encoder folder (a static student needs one here)."""

    hard_negative_candidates: int = 10
    """Candidates mined per unit, from which each step draws `hard_negatives`; at least hard_negatives."""

    hard_negative_margin: float = 0.05
    """Candidates scoring >= the translation's score x (1 - hard_negative_margin) are skipped as likely false
    negatives; in [0, 1)."""

    alpha: float = 0.3
    """Smoothing exponent of the language sampling p_i ~ n_i^alpha over each language's pairs with the pivot,
    in [0, 1] (0.3 as XLM-R; 1 = in proportion, 0 = uniform)."""

    xx_yy_ratio: float = 0.0
    """Share of batches pairing two non-pivot languages (xx-yy) instead of pivot-xx, in [0, 1]."""

    pairs: list[str] = field(default_factory=list)
    """Extra translation pairs, e.g. the train split of a bilingual dictionary: "eng-deu=path.tsv" (columns
    in that order); they join the corpus units of that language pair."""

    pairs_repeat: int = 1
    """How many times each extra pair joins the bank: a weight against the corpus's far more numerous units
    (>= 1)."""

    clause_pairs: int = 0
    """Also train on clause pairs cut from the pivot-xx units (xling.alignment.sentences.clauses): shorter
    pairs, nearer the length of everyday sentences than Bible verses; 0 = off, else the most clauses a unit
    may have (>= 2), with each clause's share of its side's length agreeing within clause_length_ratio."""

    clause_length_ratio: float = 2.0
    """How far (as a ratio, >= 1) a clause's share of its side's length may differ from its partner's."""

    unit_fraction: float = 1.0
    """Train on a stable hashed share of the units only (e.g. to bound a teacher's embedding cost), in
    (0, 1]: about that share of the units not held out (a draw of its own, independent of the held-out split)."""

    dev_languages: list[str] = field(default_factory=list)
    """Languages scored against the pivot on the held-out ids (dev_retrieval, dev_<lang>); empty: no dev
    set."""

    dev_size: int = 500
    """The most held-out pairs per dev language that the dev retrieval accuracy is measured over (>= 1)."""

    save_dtype: str = "float32"
    """Number format of a static student's saved table: "float32", "float16" (half the size) or "int8"
    (per-row scales, a quarter); an encoder student saves float32 only."""

    name: str = ""
    """The encoder's name in its xling.json; "": the output folder's name."""

    resume: bool = False
    """Continue from the newest checkpoint in `output`; without it a folder with checkpoints is refused."""

    overwrite: bool = False
    """Train over a sentence encoder already in `output`; without it a non-empty `output` is refused before
    any data is read (a run's own checkpoints, log and caches excepted: see check_output)."""

    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(weight_decay=0.0, warmup_steps=50)
    )
    """The training loop (`[align.training]`); here without weight decay and with 50 warm-up steps."""

    def validate(self) -> None:
        self.data.validate()
        for spec in self.pairs:  # a BLI test dictionary would be scored on what the student learnt from it
            parse_pairs_spec(spec)
            check_not_test_set(spec.partition("=")[2], f"pairs {spec!r}")
        if not 1.0 <= self.scale <= 100.0:  # the objective keeps the scale in [1, 100], learned or not
            raise ConfigError(f"scale: {self.scale} must be in [1, 100]")
        check_int("dimension", self.dimension, 1)  # -1 and 0 failed in torch, or as a division by zero
        if not 0 <= self.alpha <= 1:  # here, not when the sampling starts: after the corpus is read
            raise ConfigError(f"alpha: {self.alpha} must be in [0, 1] (0.3 as in XLM-R, 1 = in proportion, 0 = "
                              "uniform)")  # fmt: skip
        for name in ("ranking_weight", "distill_weight"):  # a negative weight would push translations apart
            if not getattr(self, name) >= 0:  # `not >=` also refuses NaN
                raise ConfigError(f"{name}: {getattr(self, name)} must be 0 (off) or more")
        if not self.data.corpus:
            raise ConfigError("data.corpus: give a folder of id-aligned <lang>.tsv[.gz] files (the Bible)")
        if self.data.text:
            raise ConfigError("data.text: sentence alignment reads translations from data.corpus only; "
                              "extra translation pairs go in `pairs`")  # fmt: skip
        if self.data.skip_bad:
            raise ConfigError("data.skip_bad: sentence alignment reads every line (ids align the languages); "
                              "fix the lines it reports instead")  # fmt: skip
        if self.student == "static" and not self.tokenizer:
            raise ConfigError("tokenizer: a static student needs the folder made by `xling tokenizer train`")
        if self.student_vocabulary and self.student == "static":
            raise ConfigError("student_vocabulary: only an encoder-folder student takes a new vocabulary; "
                              "a static student is built over `tokenizer`")  # fmt: skip
        if self.distill_weight > 0 and not self.teacher:
            raise ConfigError("teacher: distill_weight > 0 needs a teacher encoder folder")
        if self.teacher and self.distill_weight <= 0:
            raise ConfigError(f"teacher: {self.teacher!r} is given but distill_weight is {self.distill_weight}, so "
                              "it would be ignored; set distill_weight (e.g. --set distill_weight=1.0) to distil "
                              "from it, or leave the teacher out")  # fmt: skip
        if self.ranking_weight <= 0 and self.distill_weight <= 0:
            raise ConfigError("ranking_weight and distill_weight are both 0: nothing to learn")
        if not 0 <= self.margin < 1:
            raise ConfigError(f"margin: {self.margin} must be in [0, 1) (a cosine's share)")
        if not 0 < self.unit_fraction <= 1:
            raise ConfigError(f"unit_fraction: {self.unit_fraction} must be in (0, 1]")
        if self.dev_size < 1:
            raise ConfigError(
                f"dev_size: {self.dev_size} must be >= 1 (the most held-out pairs per dev language)"
            )
        if self.dev_languages and not (self.data.heldout_prefixes or self.data.heldout_fraction):
            # it ran and reported "dev retrieval nan": there is no held-out pair to retrieve
            raise ConfigError("dev_languages: needs held-out pairs (data.heldout_prefixes or "
                              "data.heldout_fraction) to score on")  # fmt: skip
        for code in self.dev_languages:  # named here, not as a bare code error once the corpus is read
            normalize_language(code, where="dev_languages")
        # the same code only: a member of the pivot's macrolanguage may be a language of its own in the corpus
        # (pivot zh, dev lzh: the Bible's cmn and lzh); make_dev_evaluation checks again with the corpus's codes
        pivot = normalize_language(self.pivot)
        if self.dev_languages and all(normalize_language(code) == pivot for code in self.dev_languages):
            raise ConfigError(f"dev_languages: {self.dev_languages} holds only the pivot {self.pivot}; dev "
                              "retrieval pairs another language with it")  # fmt: skip
        if not 0 <= self.xx_yy_ratio <= 1:
            raise ConfigError(f"xx_yy_ratio: {self.xx_yy_ratio} must be in [0, 1]")
        if self.pairs_repeat < 1:
            raise ConfigError(f"pairs_repeat: {self.pairs_repeat} must be >= 1")
        clause_split(self.clause_pairs, self.clause_length_ratio)
        if self.save_dtype not in SAVE_DTYPES:
            raise ConfigError(f"save_dtype: {self.save_dtype!r} must be one of {', '.join(SAVE_DTYPES)}")

        self.validate_hard_negatives()
        self.training.validate()

    def validate_hard_negatives(self) -> None:
        if self.hard_negatives < 0:
            raise ConfigError(f"hard_negatives: {self.hard_negatives} must be >= 0 (0 = off)")
        if not 0 <= self.hard_negative_margin < 1:
            raise ConfigError(f"hard_negative_margin: {self.hard_negative_margin} must be in [0, 1)")
        if self.hard_negatives == 0:
            return
        if self.hard_negative_candidates < self.hard_negatives:
            raise ConfigError(f"hard_negative_candidates: {self.hard_negative_candidates} must be >= "
                              f"hard_negatives ({self.hard_negatives})")  # fmt: skip
        if self.ranking_weight <= 0:
            raise ConfigError("hard_negatives: only the ranking loss uses them, and ranking_weight is 0")
        if not self.hard_negative_encoder and self.student == "static":
            raise ConfigError("hard_negative_encoder: a new static student cannot mine; give an encoder "
                              "folder or shipped name (e.g. xling-mini)")  # fmt: skip


@dataclass
class AlignResult:
    """A finished alignment run: where the encoder is, its training figures and dev retrieval."""

    output: Path
    training: dict[str, Any]
    dev: dict[str, float]
    is_main: bool = True
    """Whether this is the main process (rank 0 under torchrun), the one that saved the encoder."""


def build_student(config: AlignConfig) -> torch.nn.Module:
    """Return the student module: a fresh static encoder, or the module of an existing encoder folder.

    ConfigError before any training for a student the run could not save (Dense layers, pooler pooling: it
    trained to its end, then failed to save, and --resume failed the same way). A transformer's pooler that
    its pooling does not read is frozen: it gets no gradient, which DDP refuses at the second step."""
    if config.student == "static":
        path = Path(config.tokenizer) / "tokenizer.json"
        if not path.is_file():
            raise ConfigError(f"tokenizer: {path} not found (make it with `xling tokenizer train`)")
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # the tokenizers library raises a bare Exception for a damaged file
            raise DataError(f"not a readable tokenizer: {error}", path) from None
        return StaticSentenceEncoder(tokenizer, dimension=config.dimension)
    module = Encoder.load(student_folder(config)).module
    if len(getattr(module, "dense", ())) or getattr(module, "pooling", None) == "pooler":
        raise ConfigError(f"student: {config.student} has Dense layers or pooler pooling, which an aligned "
                          "encoder cannot be saved with yet; give an encoder with cls, mean or max pooling and no "
                          "Dense module")  # fmt: skip
    # read at a hidden layer: the layers above would get no gradient
    if hasattr(module, "drop_unread_layers"):
        module.drop_unread_layers()
    pooler = getattr(getattr(module, "model", None), "pooler", None)
    if isinstance(pooler, torch.nn.Module):
        pooler.requires_grad_(False)
    return module


def student_folder(config: AlignConfig) -> str:
    """Return the encoder folder the student starts from: `student`, or its vocabulary-transferred copy.

    The copy is made once (by rank 0) in <output>/vocabulary_transfer and reused by a resumed run.
    """
    if not config.student_vocabulary:
        return config.student
    folder = Path(config.output) / TRANSFER_DIR
    if init_distributed(config.training.device).is_main:
        logger.info("transferring %s to the vocabulary %s", config.student, config.student_vocabulary)
        cached_transfer(config.student, config.student_vocabulary, folder, seed=config.training.seed)
    barrier()
    return str(folder)


def corpus_code(corpus: AlignedCorpus, lang: str) -> str:
    """Return the code `corpus` keeps `lang` (any code form) under (zh: cmn when the corpus has cmn.tsv, see
    AlignedCorpus.code), or `lang`'s own code when the corpus lacks it (a pivot or pairs language not in it)."""
    code = normalize_language(lang)
    return corpus.code(code) or code


def corpus_languages(config: AlignConfig, corpus: AlignedCorpus) -> list[str]:
    """Return the training languages, pivot first, each under the code the corpus keeps it under (zh: cmn)."""
    pivot = corpus_code(corpus, config.pivot)
    langs = [corpus_code(corpus, x) for x in config.data.languages] or list(corpus.languages)
    return [pivot] + [x for x in dict.fromkeys(langs) if x != pivot]


def _ends_in_normalize(name_or_path: str) -> bool:
    """Return whether a sentence-transformers folder's last module is Normalize (its output unit vectors)."""
    from xling.embeddings.st_modules import read_st_modules

    modules = read_st_modules(resolve_model(name_or_path)) or []
    return bool(modules) and modules[-1].kind == "Normalize"


def teacher_table(
    config: AlignConfig, bank: ParallelBank, pivot: str, output: Path, device: str = "cpu"
) -> np.ndarray:
    """Return the teacher's vectors of every unit's pivot sentence (NaN rows where the pivot lacks it), the
    teacher run on `device` (the training's: a transformer teacher over a Bible took hours on the CPU).

    The teacher's own output: the distillation targets of Reimers & Gurevych 2020 (sentence-transformers'
    make_multilingual example, MSELoss on `teacher.encode`), unit vectors for a teacher whose last module is
    Normalize (all-MiniLM-L6-v2's; they were its mean-pooled vectors before, not unit length), raw ones for
    another. Cached in the run folder (the teacher is
    frozen), so a resumed run does not embed again; keyed by the teacher's files (encoder_fingerprint), not
    only its path. `pivot` is the pivot's code in the bank (corpus_languages).
    """
    cache, meta_path = (output / name for name in TEACHER_FILES)
    key = {
        "teacher": config.teacher,
        "weights": encoder_fingerprint(config.teacher),  # the same folder re-trained or replaced: again
        "units": len(bank.unit_ids),
        "pivot": pivot,
        "texts": bank.fingerprint([pivot]),
        # tables cached before 2026-12-05 held unit vectors, those of 2026-12-05 to 12-07 raw ones: embedded again
        "normalized": "as the teacher",
    }
    if cache.is_file() and meta_path.is_file() and json.loads(meta_path.read_text()) == key:
        return np.load(cache)
    teacher = Encoder.load(config.teacher, device=device)
    logger.info(
        "embedding %s %s sentences with the teacher %s", f"{len(bank.texts[pivot]):,}", pivot, config.teacher
    )
    vectors = teacher.encode(bank.texts[pivot], batch_size=128, normalize=_ends_in_normalize(config.teacher),
                             show_progress=bool(config.training.progress))  # fmt: skip
    table = np.full((len(bank.unit_ids), vectors.shape[1]), np.nan, dtype=np.float32)
    table[np.flatnonzero(bank.row[pivot] >= 0)] = vectors
    save_keyed_array(cache, meta_path, table, key)  # a table without its key is embedded again
    return table


def encoder_fingerprint(name: str) -> str:
    """Return a hash of the encoder `name` (a folder, shipped name or Hub id): every file's relative path,
    size and bytes, so that weights replaced in place (re-trained, another model copied over the folder, in
    any dimension) give another hash. A cache key, exact: probe vectors (xling.embeddings.fingerprint) need
    the model loaded and differ in their last bits between devices. A run's own entries in the folder (its
    checkpoints, log and caches: RUN_FILES), which shape no vector, are left out."""
    return folder_fingerprint(resolve_model(name), leave_out=lambda relative: relative.parts[0] in RUN_FILES)


def hard_negative_languages(config: AlignConfig, langs: list[str]) -> list[str]:
    """Return the languages to mine hard negatives in: those a batch's tgt side can be (see PairBatches).

    pivot-xx batches put the pivot on the tgt side, so without xx-yy batches only the pivot is mined.
    """
    if config.hard_negatives <= 0:
        return []
    return list(langs) if config.xx_yy_ratio > 0 else [langs[0]]


def hard_negative_table(
    config: AlignConfig, bank: ParallelBank, langs: list[str], output: Path, device: str = "cpu"
) -> HardNegativeTable:
    """Return the mined hard-negative candidates of every unit (see hard_negatives.py), the miner run on
    `device`.

    Cached in the run folder (the miner is frozen), so a resumed run does not mine again; keyed by the miner's
    files (encoder_fingerprint), not only its path.
    """
    name = config.hard_negative_encoder or config.student
    mined = hard_negative_languages(config, langs)

    def load():
        logger.info("mining hard negatives in %s with %s", ", ".join(mined), name)
        return Encoder.load(name, device=device)

    key = {"encoder": name, "weights": encoder_fingerprint(name)}
    return cached_hard_negatives(load, bank, mined, langs[0], output, key,
                                 k=config.hard_negative_candidates, margin=config.hard_negative_margin)  # fmt: skip


def make_dev_evaluation(config: AlignConfig, corpus: AlignedCorpus, student, langs: list[str]):
    """Return (evaluate, dev languages), or (None, None) when there is no dev set.

    evaluate(objective, step) -> {"retrieval": mean accuracy, <lang>: accuracy} on held-out pairs; run it
    through run_evaluations (which sets eval mode) as the evaluation "dev" (dev_retrieval, dev_<lang>).
    """
    heldout = config.data.heldout()
    if not (heldout.prefixes or heldout.fraction) or not config.dev_languages:
        return None, None
    pivot = langs[0]
    # under the code the corpus keeps them under, as the training languages: a dev zh is the pivot cmn
    dev_langs = [pivot] + [
        code for code in dict.fromkeys(corpus_code(corpus, x) for x in config.dev_languages) if code != pivot
    ]
    if len(dev_langs) == 1:  # zho beside a pivot cmn: the corpus keeps them under one code
        raise ConfigError(f"dev_languages: {config.dev_languages} holds only the pivot {pivot} of this corpus; "
                          "dev retrieval pairs another language with it")  # fmt: skip
    bank = build_parallel_bank(
        corpus, dev_langs, student.token_ids, keep=heldout.__contains__, keep_texts=dev_langs
    )  # texts too: a repeated verse is found at either copy

    @torch.inference_mode()
    def evaluate(objective, step: int) -> dict[str, float]:
        scores = {}
        for lang in dev_langs[1:]:
            units = bank.shared(lang, pivot)[: config.dev_size]
            vectors, texts = [], []
            for code in (lang, pivot):
                rows = bank.banks[code].rows(bank.row[code][units])
                texts.append([bank.texts[code][row] for row in bank.row[code][units]])
                # collate builds CPU tensors; the student may sit on a GPU
                device = next(objective.student.parameters()).device
                batch = {name: value.to(device) for name, value in student.collate(rows).items()}
                vectors.append(objective.student(batch).float().cpu().numpy())
            # a verse repeated word for word is found at either copy, as LASER counts (it was a miss at one)
            scores[lang] = retrieval_accuracy(*vectors, texts=(texts[0], texts[1])).average
        return {"retrieval": round(float(np.mean(list(scores.values()))), 4),
                **{k: round(v, 4) for k, v in scores.items()}}  # fmt: skip

    return evaluate, dev_langs


def add_extra_pairs(
    bank: ParallelBank, spec: str, tokenize, repeat: int = 0, corpus: AlignedCorpus | None = None
) -> int:
    """Return the number of pairs added to `bank` from a `src-tgt=path.tsv` spec (see AlignConfig.pairs).

    `repeat` > 0 marks a further copy (AlignConfig.pairs_repeat): its unit ids get a `#repeat` suffix. With
    `corpus`, a language joins the code the corpus keeps it under (zh: cmn), as the training languages.
    """
    src, tgt, path = parse_pairs_spec(spec)
    langs = spec.partition("=")[0]
    pairs = list(read_parallel_tsv(path))
    prefix = f"pairs:{langs}" + (f"#{repeat}" if repeat else "")
    code = normalize_language if corpus is None else lambda lang: corpus_code(corpus, lang)
    return add_pairs(bank, code(src), code(tgt), pairs, tokenize, prefix)


def parse_pairs_spec(spec: str) -> tuple[str, str, str]:
    """Return (src code, tgt code, path) of a `src-tgt=path.tsv` spec (AlignConfig.pairs); a ConfigError for
    another form or one language on both sides (eng-en too), a LanguageCodeError naming the spec for an
    unknown code."""
    src, tgt, path = pair_file_spec(spec, "pairs", "eng-deu=dict.en-de.tsv")
    check_two_languages(spec, src, tgt)
    return src, tgt, path


def check_two_languages(spec: str, src: str, tgt: str) -> None:
    """Return nothing when the `pairs` spec's `src` and `tgt` are two languages; else a ConfigError naming it.
    Both sides would go to one language's bank (add_pairs), the second block's rows in place of the first's."""
    if src == tgt:
        raise ConfigError(f"pairs {spec!r}: both sides are {src}; give translation pairs of two languages, "
                          "e.g. eng-deu=dict.en-de.tsv")  # fmt: skip


def check_pairs_languages(config: AlignConfig, corpus: AlignedCorpus) -> None:
    """Return nothing when every `pairs` spec is trained on; else a ConfigError naming it. Called once the
    corpus's files are listed (its codes: zh-cmn is one language where the corpus keeps zh as cmn.tsv), before
    any text is read.

    With xx_yy_ratio 0 every batch pairs the pivot with another language (PairBatches.pair), so the units of
    a spec without the pivot would be read and tokenised, then never drawn.
    """
    pivot = corpus_code(corpus, config.pivot)
    for spec in config.pairs:
        src, tgt = (corpus_code(corpus, lang) for lang in parse_pairs_spec(spec)[:2])
        check_two_languages(spec, src, tgt)
        if config.xx_yy_ratio <= 0 and pivot not in (src, tgt):
            raise ConfigError(f"pairs {spec!r}: neither {src} nor {tgt} is the pivot {pivot}, and with xx_yy_ratio "
                              "0 every batch pairs the pivot with another language, so these pairs would never "
                              "be trained on; set xx_yy_ratio > 0 (e.g. --set xx_yy_ratio=0.2) to train non-pivot "
                              "pairs, or give pairs with the pivot")  # fmt: skip


def check_pairs_files(config: AlignConfig) -> None:
    """Return nothing when every `pairs` file is there; else a DataError naming its spec. Called before any
    data is read (not once the whole corpus is tokenised); not in validate, which runs whenever a recipe is
    loaded, also where its data is not."""
    for spec in config.pairs:
        try:
            require_file(parse_pairs_spec(spec)[2])
        except DataError as error:
            raise DataError(f"pairs {spec!r}: {error}") from None


def in_unit_fraction(ident: str, fraction: float) -> bool:
    """Return whether the unit `ident` is in the stable hashed `fraction` of the units (AlignConfig.unit_fraction).

    A hash of its own (blake2b personalised with UNIT_DRAW), not the held-out split's crc32 buckets: with those,
    the units dropped were the held-out ones first (unit_fraction 0.8 beside heldout_fraction 0.2 trained on
    every unit not held out).
    """
    if fraction >= 1:
        return True
    digest = hashlib.blake2b(ident.encode("utf-8", "surrogatepass"), digest_size=8, person=UNIT_DRAW).digest()
    return int.from_bytes(digest, "big") < fraction * 2**64


def add_clause_pairs(bank: ParallelBank, corpus: AlignedCorpus, langs: list[str], keep, tokenize,
                     split: ClauseSplit) -> int:  # fmt: skip
    """Return the number of clause pairs cut from the pivot-xx units that `keep` passes, added to `bank`.

    Only verses the bank pairs are cut: not those of a chapter numbered otherwise (see build_parallel_bank).
    """
    pivot = langs[0]
    pivot_texts = {ident: text for ident, text in corpus.sentences(pivot) if keep(ident)}
    added = 0
    for lang in langs[1:]:
        logger.debug("cutting clause pairs: %s-%s", pivot, lang)
        paired = {bank.unit_ids[u] for u in bank.shared(pivot, lang)}
        clauses = [pair for i, text in corpus.sentences(lang) if i in pivot_texts and i in paired
                   for pair in clause_pairs(pivot_texts[i], text, split)]  # fmt: skip
        if clauses:
            added += add_pairs(bank, pivot, lang, clauses, tokenize, f"clauses:{pivot}-{lang}")
    return added


def check_output(config: AlignConfig) -> None:
    """Return nothing when the run may write `config.output`; else raise ConfigError (a file there, or an
    input folder such as the tokenizer's: xling.atomic.check_apart) or
    XlingError (xling.atomic.check_replaceable: something is there and `overwrite` is off, or it is not a
    sentence encoder). Called before any data is read, so a bad output fails at once, not after the corpus
    is tokenised.

    A folder with checkpoints is left to the training loop, which resumes it (`resume`) or refuses it; a
    folder holding only what an unfinished run writes (RUN_FILES: stopped before its first checkpoint, or
    caches put there to be reused) is taken up as it is.
    """
    output = Path(config.output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"output: {output} is a file; give a folder for the encoder and its run")
    # only existing folders: a shipped model name or "static" names no folder the run could write into
    given = {name: getattr(config, name, "") for name in INPUT_FOLDERS}
    inputs = [(f"the {name} folder {path}", Path(path).expanduser()) for name, path in given.items()
              if path and Path(path).expanduser().is_dir()]  # fmt: skip
    # the recipes keep the tokenizer inside the run folder (the encoder is saved into the folder, which is
    # never replaced whole): only the same folder is refused
    check_apart(output, inputs, nesting_ok=True)
    checkpoints = list_checkpoints(output)
    if checkpoints and not (config.resume or config.overwrite):
        raise XlingError(f"{output} holds checkpoints of an earlier run ({checkpoints[-1].name}); pass --resume "
                         "to continue it, --overwrite to train again from the start, or choose another output "
                         "folder")  # fmt: skip
    if checkpoints:
        return  # the loop resumes the run, or with overwrite deletes its checkpoints and starts a new one
    if output.is_dir() and all(entry.name in RUN_FILES or any(same_path(entry, path) for _, path in inputs)
                               for entry in output.iterdir()):  # fmt: skip
        return  # nothing but a run's log and caches, which it reuses when their keys match, and its inputs
    check_replaceable(
        output, config.overwrite, "sentence encoder", kind=KIND_FAMILY, renamed=False
    )  # saved into it


def align_sentences(config: AlignConfig) -> AlignResult:
    """Return the result of aligning a student as the config says; the encoder is saved to config.output."""
    config.validate()
    check_pairs_files(config)
    check_output(config)
    # no process writes into `output` before every one of them has checked it (torchrun)
    device = str(init_distributed(config.training.device).device)  # where the teacher and the miner run too
    barrier()
    corpus = AlignedCorpus.from_dir(resolve_corpus(config.data.corpus))
    if config.data.heldout_prefixes:  # `John.` for `JHN.` held nothing out: the dev book trained on
        check_prefixes_match(corpus_ids(corpus, skip_bad=config.data.skip_bad), config.data.heldout_prefixes,
                             corpus.root)  # fmt: skip
    langs = corpus_languages(config, corpus)
    check_pairs_languages(config, corpus)
    heldout = config.data.heldout()
    drawn: dict[str, bool] = {}  # in_unit_fraction of each id: asked once per language
    torch.manual_seed(config.training.seed)
    student = build_student(config)
    if config.save_dtype != "float32" and not isinstance(student, StaticSentenceEncoder):
        raise ConfigError(f"save_dtype: {config.save_dtype} is for static students; an encoder saves float32")
    output = Path(config.output)
    # raw texts only where an encoder must embed them: the teacher (pivot) and the hard-negative miner (pivot,
    # plus every language with xx-yy batches: about the corpus's size as Python strings while they run, so
    # `bank.texts` is cleared right after)
    embedded = hard_negative_languages(config, langs) + ([langs[0]] if config.distill_weight > 0 else [])

    def keep(ident: str) -> bool:
        if ident in heldout:
            return False
        if config.unit_fraction >= 1:
            return True
        if ident not in drawn:
            drawn[ident] = in_unit_fraction(ident, config.unit_fraction)
        return drawn[ident]

    logger.info("reading and tokenizing the corpus (%d languages)", len(langs))
    bank = build_parallel_bank(
        corpus, langs, student.token_ids, keep=keep, keep_texts=embedded,
        progress=lambda lang: logger.debug("reading and tokenizing the corpus: %s", lang),
    )  # fmt: skip
    if split := clause_split(config.clause_pairs, config.clause_length_ratio):
        added = add_clause_pairs(bank, corpus, langs, keep, student.token_ids, split)
        logger.info("%s clause pairs cut from the %s-xx units", f"{added:,}", langs[0])
    for spec in config.pairs:
        for repeat in range(config.pairs_repeat):
            add_extra_pairs(bank, spec, student.token_ids, repeat, corpus)
    teacher = teacher_table(config, bank, langs[0], output, device) if config.distill_weight > 0 else None
    negatives = (
        hard_negative_table(config, bank, langs, output, device) if config.hard_negatives > 0 else None
    )
    bank.texts.clear()
    objective = SentenceAlignmentObjective(
        student, scale=config.scale, learn_scale=config.learn_scale, margin=config.margin,
        ranking_weight=config.ranking_weight, distill_weight=config.distill_weight,
        teacher_dimension=None if teacher is None else teacher.shape[1],
    )  # fmt: skip
    sampling = PairSampling(langs[0], config.alpha, config.xx_yy_ratio)
    batches = PairBatches(
        bank, student.collate, config.training.batch_size, sampling, config.training.seed, teacher,
        negatives, config.hard_negatives,
    )  # fmt: skip
    evaluate, dev_langs = make_dev_evaluation(config, corpus, student, langs)
    result = train(
        objective, batches, config.training, output, resume=config.resume, restart=config.overwrite,
        description="align",
        evaluations={"dev": evaluate} if evaluate else None, run_config=config_to_dict(config),
        may_change=RESUMABLE, data_files=data_files(config, corpus, [*langs, *(dev_langs or [])]),
    )  # fmt: skip
    dev = result.metrics
    if result.best is not None:  # training.best_metric: the encoder saved is the best one, not the last
        dev = load_checkpoint(Path(result.best["path"]), objective).get("metrics", dev)
    if evaluate and not dev:  # the loop scores the dev set at its last step only when eval_every is set
        dev = run_evaluations({"dev": evaluate}, objective, result.steps)
    # the pairs the batches held, not steps x batch_size: a batch is smaller where a language pair has fewer
    # units, or repeats it cannot replace
    pairs = batches.pairs_drawn(result.steps, config.training.grad_accum, result.world_size)
    training = {**result.to_dict(), "pairs": pairs}
    if result.is_main:
        # every language it trained on, those of `pairs` files alone too (eng-tur beside a Bible)
        trained = [*langs, *(lang for lang in bank.languages if lang not in langs)]
        save_student(student, output, config, trained, training, dev)
    return AlignResult(output, training, dev, is_main=result.is_main)


def data_files(config: AlignConfig, corpus: AlignedCorpus, langs: list[str]) -> list[Path]:
    """Return the files a run reads its pairs from: the corpus's files of `langs` (training and dev
    languages), then the extra `pairs` files (their contents are fingerprinted, so a resume notices a file
    edited in place)."""
    # a language under the code of its file (zh: cmn.tsv); one the corpus lacks (a pivot not in it) is read
    # nowhere: building the bank names it
    codes = (corpus.code(lang) for lang in dict.fromkeys(langs))
    corpus_files = [corpus.files[code] for code in dict.fromkeys(codes) if code is not None]
    return corpus_files + [Path(spec.partition("=")[2]) for spec in config.pairs]


def save_student(student, output: Path, config: AlignConfig, langs, training, dev) -> None:
    """Write the encoder folder (sentence-transformers layout) and its xling.json.

    The folder is also the run's (save_model_folder): the files are staged and xling.json comes last, so a
    crash mid-save never leaves the xling.json of an earlier encoder beside new weights.
    """

    def write(folder: Path) -> None:
        if isinstance(student, StaticSentenceEncoder):
            student.save(folder, dtype=SAVE_DTYPES[config.save_dtype])
        else:
            student.save(folder)

    meta = {
        "name": config.name or output.name,
        "kind": f"{KIND_FAMILY}/{student.kind}",
        "languages": langs,
        "dimension": student.dimension,
        "config": config_to_dict(config),
        "training": training,
        "dev": dev,
    }
    save_model_folder(output, write, meta)


__all__ = ["AlignConfig", "AlignResult", "align_sentences", "side"]
