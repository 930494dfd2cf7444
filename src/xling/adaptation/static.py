"""Add a language to a static sentence encoder: new vocabulary rows trained against the frozen old space.

The old rows never change (they are a buffer, not a parameter), so every language the model had keeps its
vectors bit for bit wherever its text keeps its segmentation (which `protect` checks on a sample; text
outside the sample may segment with a new piece when the piece's script is one the old languages use: a
warning then says so, and xling.json records it under the adaptation's `old_languages`). Only the
new language's pieces are trained (with `static.train_unprotected_old_rows`, also the old rows its examples
use that no protected text uses), with the translation ranking loss of xling-mini's own training, against
fixed targets: the old model's vectors of the pivot side of each example. Three kinds of example, each
optional:

- parallel: a sentence and its translation (e.g. UDHR articles);
- dictionary: a word and its translation (a bilingual list, a Swadesh list);
- text: a sentence of the new language and its word-by-word dictionary translation (xling.adaptation.words:
  by form, CoNLL-U lemma, or longest known prefix);
  the pseudo-translation only has to point the sentence to the right region of the space;
- transliteration (with `relative`): a text of the new language (a sentence, or the new side of a training
  pair) and the old model's reading of it written in the relative's script.

A share of the parallel pairs (else of the dictionary pairs) is held out: retrieval accuracy on it before
and after says what the adaptation bought, on data it never trained on.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer
from torch import nn

from xling.adaptation.config import KINDS, AdaptConfig, recorded_defaults
from xling.adaptation.data import AdaptData, names_same_language, written_scripts
from xling.adaptation.initialize import initial_rows
from xling.adaptation.output import (
    check_output,
    check_run_record,
    comparable_settings,
    restore_set_aside,
    run_progress,
    set_aside_folder,
    write_run_record,
)
from xling.adaptation.result import AdaptResult, add_warning, derived_metadata, listed_languages
from xling.adaptation.words import (
    fold_word,
    translate_words,
    translations,
    with_lemma_keys,
    word_folder,
)
from xling.alignment.sentences.clauses import ClauseSplit, clause_pairs, clause_split
from xling.alignment.sentences.losses import translation_ranking_loss
from xling.artifacts import METADATA_FILE, read_metadata, write_metadata
from xling.atomic import atomic_write, write_json_atomically
from xling.config import config_to_dict
from xling.embeddings.encoder import default_prompt
from xling.embeddings.st_modules import read_st_modules
from xling.embeddings.static import (
    GatherRows,
    StaticSentenceEncoder,
    bag_features,
    quantize_rows,
    static_module_dir,
)
from xling.embeddings.weights import load_safetensors
from xling.errors import ConfigError, DataError
from xling.evaluation.translation_accuracy import gold_retrieval_accuracy
from xling.tokenization.vocabulary_extension import extend_vocabulary, unigram_vocabulary
from xling.training import train

TOKENIZER_CACHE = "vocabulary/tokenizer.json"
ENCODE_BATCH = 1024
PROTECTED_SCRIPT_SAMPLE = 5000
"""Most protected texts whose scripts are read to tell which scripts the old languages are written in."""


class ExtendedStaticEncoder(nn.Module):
    """A static encoder whose first `old_size` rows are frozen (a buffer) and whose new rows are trained.

    forward(features) gives the mean of the token rows of each text, as StaticSentenceEncoder does; the
    trained rows get sparse gradients (LazyAdamW updates only the rows a batch touched). `trained_old` (sorted
    old ids) are old rows trained too, from their old values.
    """

    def __init__(
        self, old_rows: torch.Tensor, new_rows: torch.Tensor, trained_old: torch.Tensor | None = None
    ):
        super().__init__()
        trained_old = torch.zeros(0, dtype=torch.long) if trained_old is None else trained_old.long()
        # not persistent: checkpoints hold the trained rows only, the base model holds the rest
        self.register_buffer("old_rows", old_rows.float(), persistent=False)
        self.register_buffer("trained_old", trained_old, persistent=False)
        # the trained old rows come first: slots then grow with ids, as GatherRows' coalesced gradient needs
        start = torch.cat([self.old_rows[trained_old], new_rows.float()])
        self.added = nn.EmbeddingBag.from_pretrained(start, freeze=False, mode="mean", sparse=True)
        slots = torch.full((len(old_rows) + len(new_rows),), -1, dtype=torch.long)
        slots[trained_old] = torch.arange(len(trained_old))
        slots[len(old_rows) :] = torch.arange(len(trained_old), len(start))
        self.register_buffer("slots", slots, persistent=False)

    @property
    def old_size(self) -> int:
        return self.old_rows.shape[0]

    def new_rows(self) -> torch.Tensor:
        """Return the trained rows of the new pieces."""
        return self.added.weight.detach()[len(self.trained_old) :]

    def old_table(self) -> torch.Tensor:
        """Return the old rows as trained (the frozen ones as they were)."""
        table = self.old_rows.clone()
        table[self.trained_old] = self.added.weight.detach()[: len(self.trained_old)]
        return table

    def table(self) -> torch.Tensor:
        """Return the whole table (old rows, then new ones)."""
        return torch.cat([self.old_table(), self.new_rows()])

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        ids, offsets = features["input_ids"], features["offsets"]
        rows, local_ids = torch.unique(ids, return_inverse=True)
        slots = self.slots[rows]
        frozen = slots < 0
        # on the rows' device: the training loop moves the module (and the batch) to its device
        table = torch.empty(
            (len(rows), self.old_rows.shape[1]), dtype=self.old_rows.dtype, device=rows.device
        )
        table[frozen] = self.old_rows[rows[frozen]]
        # gathered even when no row is trained (an empty gradient): a batch of texts spelled with frozen rows
        # only must still give a loss that backward accepts, not a tensor without a graph
        table[~frozen] = GatherRows.apply(self.added.weight, slots[~frozen])
        return nn.functional.embedding_bag(local_ids, table, offsets, mode="mean")


class AdaptationObjective(nn.Module):
    """forward(batch) -> {"loss", "tokens"}: translation ranking of the new texts against fixed target vectors."""

    def __init__(self, encoder: ExtendedStaticEncoder, targets: torch.Tensor, scale: float, margin: float):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("targets", targets, persistent=False)
        self.scale = scale
        self.margin = margin

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        vectors = self.encoder({"input_ids": batch["input_ids"], "offsets": batch["offsets"]})
        loss = translation_ranking_loss(vectors, self.targets[batch["target"]], self.scale, self.margin)
        return {"loss": loss, "tokens": torch.tensor(batch["input_ids"].numel(), device=loss.device)}


@dataclass
class Examples:
    """Training (or dev) examples: token ids of each new-language text, the index of its target vector, its
    kind."""

    texts: list[str] = field(default_factory=list)
    ids: list[list[int]] = field(default_factory=list)
    target: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: self.kind.count(k) for k in KINDS if k in self.kind}

    def without(self, kinds: set[str]) -> Examples:
        """Return these examples less those of `kinds` (kinds that weigh 0 teach nothing, nor count)."""
        keep = [i for i, kind in enumerate(self.kind) if kind not in kinds]
        return Examples([self.texts[i] for i in keep], [self.ids[i] for i in keep],
                        [self.target[i] for i in keep], [self.kind[i] for i in keep])  # fmt: skip


def kind_weights(weights: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """Return the share of each kind of example there is: `weights`' (1 for a kind not named), except that
    "transliteration", not named, weighs 0 when a kind with pivot-side targets trains (with them, its targets
    pull against theirs on dev) and 1 when none does."""
    paired = any(counts.get(k) and weights.get(k, 1.0) > 0 for k in ("parallel", "dictionary", "text"))
    default = {"transliteration": 0.0 if paired else 1.0}
    return {k: weights.get(k, default.get(k, 1.0)) for k in KINDS if counts.get(k)}


class AdaptBatches:
    """Batches of examples drawn by kind shares; a pure function of (seed, step, micro, rank) for resume."""

    def __init__(self, examples: Examples, weights: dict[str, float], batch_size: int, seed: int):
        self.batch_size = batch_size
        self.seed = seed
        self.pools = {k: np.flatnonzero(np.asarray(examples.kind) == k) for k in KINDS}
        shares = kind_weights(weights, examples.counts())
        total = sum(shares.values())
        if not total:
            raise ConfigError(
                f"static.weights: every kind of example there is ({', '.join(shares)}) has weight 0"
            )
        self.kinds = [k for k in shares if shares[k] > 0]
        self.p = np.array([shares[k] / total for k in self.kinds])
        self.ids = examples.ids
        self.target = np.asarray(examples.target)

    def get(self, step: int, micro: int, rank: int, world_size: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, micro, rank])
        kinds = rng.choice(len(self.kinds), size=self.batch_size, p=self.p)
        chosen = np.concatenate([rng.choice(self.pools[self.kinds[k]], size=int((kinds == k).sum()))
                                 for k in range(len(self.kinds))])  # fmt: skip
        # one example per target: a second one would be a false negative of the first
        _, first = np.unique(self.target[chosen], return_index=True)
        chosen = chosen[np.sort(first)]
        features = bag_features([self.ids[i] for i in chosen])
        return {**features, "target": torch.from_numpy(self.target[chosen])}


def _int8_table(folder: Path) -> bool:
    """Return whether the static encoder in `folder` stores its table as int8 rows and scales (xling-mini)."""
    from safetensors import safe_open

    with safe_open(str(folder / static_module_dir(folder) / "model.safetensors"), "pt") as weights:
        return _int8_layout(set(weights.keys()))


def _int8_layout(names: set[str] | dict[str, object]) -> bool:
    """Return whether tensors of these names are model2vec's int8 table (rows and a scale each, no mapping)."""
    return "embeddings" in names and "weights" in names and "mapping" not in names


def adapt_static(
    config: AdaptConfig,
    folder: Path,
    data: AdaptData,
    protected: Sequence[str],
    *,
    say: Callable[[str], object] | None = None,
) -> AdaptResult:
    """Return the result of adding `data.language` to the static encoder in `folder` (module docstring)."""
    output = Path(config.output)
    with _replacing(output, config):
        return _adapt_static(config, folder, data, protected, output, say or (lambda message: None))


def _adapt_static(config: AdaptConfig, folder: Path, data: AdaptData, protected: Sequence[str], output: Path,
                  say: Callable[[str], object]) -> AdaptResult:  # fmt: skip
    started = time.perf_counter()
    # the base's default prompt goes before every text, new and pivot alike, as the adapted model will read them
    base = StaticSentenceEncoder.load(folder / static_module_dir(folder), prompt=default_prompt(folder))
    old_rows = base.embedding.weight.detach()[: base.tokenizer.get_vocab_size()].clone()
    held = held_out_pairs(data, config.dev_share, config.seed)
    say("learning the new language's sub-words")
    tokenizer, vocabulary, resumed = _extended_tokenizer(base.tokenizer, data, config, protected, output,
                                                         {new for new, _ in held})  # fmt: skip
    pieces = [piece for piece, _ in unigram_vocabulary(tokenizer)[len(old_rows) :]]
    # a run whose saved vocabulary predates vocabulary.drop_marks dropped none
    dropped = str(vocabulary.get("dropped_marks", ""))
    fold = word_folder(data.language, dropped)
    rows, init_counts = initial_rows(
        base.tokenizer, old_rows.numpy(), pieces, _train_dictionary(data, held, fold), data.reading, fold
    )

    say("building examples")
    train_set, dev_set, pivot_texts = build_examples(
        data,
        tokenizer,
        config.dev_share,
        config.seed,
        base.prompt,
        ignore=dropped,
        gloss_features=config.static.gloss_features,
        lemma_endings=config.static.lemma_endings,
        clause_split=clause_split(config.static.clause_pairs, config.static.clause_length_ratio, "static."),
    )
    shares = kind_weights(config.static.weights, train_set.counts())
    unused = {k for k, w in shares.items() if w == 0}
    if shares and len(unused) == len(shares):  # said before the vocabulary is saved, which a rerun would find
        raise ConfigError(
            f"static.weights: every kind of example there is ({', '.join(shares)}) has weight 0"
        )
    train_set = train_set.without(unused)
    trained_old = torch.zeros(0, dtype=torch.long)
    if config.static.train_unprotected_old_rows:
        trained_old = unprotected_old_rows(tokenizer, train_set.ids, protected, len(old_rows), base.prompt)
    # checked before anything is written: a run with nothing to train leaves no folder to resume or refuse
    check_trainable(config, data, vocabulary, len(pieces), len(trained_old), train_set.ids, len(old_rows))
    if not resumed:
        _save_vocabulary(output, tokenizer, vocabulary, config, data.files)
    # the model's languages but the one adapted (again, with --replace): its own text is meant to change
    others = [
        old
        for old in read_metadata(folder).get("languages", [])
        if not names_same_language(old, data.language)
    ]
    old_languages, warning = old_language_changes(pieces, protected, len(trained_old), others)
    if warning:
        add_warning(data.warnings, warning)
    torch.manual_seed(config.seed)
    encoder = ExtendedStaticEncoder(old_rows, torch.from_numpy(rows), trained_old)
    targets = _unit(_encode_texts(base, pivot_texts))
    before = _dev_scores(base, dev_set, targets, old=True)
    objective = AdaptationObjective(encoder, targets, config.static.scale, config.static.margin)
    batches = AdaptBatches(train_set, config.static.weights, config.training.batch_size, config.training.seed)
    say(f"training {len(pieces)} new rows and {len(trained_old)} old ones on {len(train_set.ids):,} examples")
    result = train(objective, batches, config.training, output, resume=config.resume,
                   run_config=comparable_settings(config_to_dict(config)),
                   may_change=("output", "resume", "overwrite"), description=f"adapt {data.language}",
                   run_defaults=comparable_settings(config_to_dict(recorded_defaults())),
                   recorded_form=comparable_settings, data_files=data.files)  # fmt: skip
    # trained where training.device put it (a GPU with "auto"); scored and saved on the CPU, as the base is
    encoder.cpu()
    if _int8_table(folder):  # scored as saved: save_adapted stores the trained rows as int8 too
        with torch.no_grad():
            quantized, scale = quantize_rows(encoder.added.weight)
            encoder.added.weight.copy_(quantized.float() * scale[:, None])
    after = _dev_scores(encoder, dev_set, targets, old=False)
    adaptation = AdaptResult(
        output=output, language=data.language, kind="static",
        vocabulary={**vocabulary, "initialised": init_counts, "old_rows_trained": len(trained_old)},
        data=data.sources,
        examples={f"train_{k}": v for k, v in train_set.counts().items()}
        | {f"dev_{k}": v for k, v in dev_set.counts().items()},
        training=result.to_dict(), before=before, after=after, relative=data.relative,
        warnings=data.warnings, old_languages=old_languages, before_is_recall=data.seen_by_base,
        settings=config_to_dict(config),
    )  # fmt: skip
    if result.is_main:
        adaptation.seconds = round(time.perf_counter() - started, 1)
        save_adapted(folder, output, tokenizer, encoder, adaptation)
    return adaptation


@contextmanager
def _replacing(output: Path, config: AdaptConfig) -> Iterator[None]:
    """Return a context for making a model in `output` (xling.adaptation.output.check_output says when it
    may): `resume` with the run's progress there takes it up in place; otherwise, with `overwrite`, whatever
    is there is set aside and deleted only once the new model is saved (put back if anything fails)."""
    # before anything is checked or moved: a model an interrupted --overwrite run set aside must not be lost
    restore_set_aside(output, overwrite=config.overwrite)
    check_output(output, resume=config.resume, overwrite=config.overwrite)
    if config.resume and run_progress(output):
        yield
        return
    aside = set_aside_folder(output)
    moved = config.overwrite and output.is_dir()
    if moved:
        output.replace(aside)  # restore_set_aside left no aside, or only a model-less one it removed
    try:
        yield
    except BaseException:
        if moved:
            shutil.rmtree(output, ignore_errors=True)
            aside.replace(output)
        raise
    if moved:
        shutil.rmtree(aside, ignore_errors=True)


def _extended_tokenizer(
    base: Tokenizer, data: AdaptData, config: AdaptConfig, protected: Sequence[str], output: Path,
    held_out: set[str],
) -> tuple[Tokenizer, dict[str, object], bool]:  # fmt: skip
    """Return (the extended tokenizer, the extension's counts, whether it is the one a resumed run saved),
    learnt on the new language's texts but the `held_out` ones (the dev pairs' new sides); a new one is saved
    by `_save_vocabulary` once it is known to have something to train. A saved one made with other settings
    or data is a ConfigError naming them (xling.adaptation.output.check_run_record)."""
    cache = output / TOKENIZER_CACHE
    meta_file = cache.with_suffix(".meta.json")
    if config.resume and cache.is_file() and meta_file.is_file():  # the meta is written last: all or redo
        # a run killed before its first checkpoint leaves the training loop nothing to compare: the
        # vocabulary's own record says whether this resume has the run's settings and data
        check_run_record(cache.parent, config, data.files)
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            return Tokenizer.from_file(str(cache)), meta, True
        except Exception as error:  # JSON, file and the tokenizers library's own (a bare Exception) errors
            raise DataError(f"the run's saved vocabulary cannot be read ({str(error).splitlines()[0]}); start "
                            "the run again with --overwrite", cache.parent) from None  # fmt: skip
    from xling.adaptation.adapt import new_scripts

    learnt_from = [text for text in data.new_texts() if text not in held_out]
    tokenizer, report = extend_vocabulary(base, learnt_from, max_new=config.vocabulary.max_new,
                                          learn_size=config.vocabulary.learn_size, protected_texts=protected,
                                          scripts=new_scripts(config, data),
                                          drop_marks=config.vocabulary.drop_marks)  # fmt: skip
    return tokenizer, report.to_dict(), False


def _save_vocabulary(output: Path, tokenizer: Tokenizer, vocabulary: dict[str, object], config: AdaptConfig,
                     files: Sequence[Path]) -> None:  # fmt: skip
    """Write the run's extended tokenizer, its counts and what it was made with (`config`, the data `files`:
    xling.adaptation.output.RUN_RECORD) to `output`, for a resumed run to take up."""
    cache = output / TOKENIZER_CACHE
    with atomic_write(cache) as handle:  # whole or not at all: a killed write would break a resume
        handle.write(tokenizer.to_str())
    write_run_record(cache.parent, config, files)
    write_json_atomically(cache.with_suffix(".meta.json"), vocabulary)  # last: a resume takes up all three


def check_trainable(config: AdaptConfig, data: AdaptData, vocabulary: dict[str, object], added: int,
                    trained_old: int, train_ids: Sequence[Sequence[int]], old_size: int) -> None:  # fmt: skip
    """Return nothing when the run has rows to train (`added` new ones, `trained_old` old ones) that its
    examples use; else raise ConfigError (nothing asked for) or DataError (nothing learned) saying why: the
    loss would have no gradient."""
    if added + trained_old == 0:
        if config.vocabulary.max_new == 0:
            raise ConfigError("vocabulary.max_new: 0 keeps the vocabulary as it is, so a static encoder has no "
                              "new pieces to train (its old rows stay frozen unless "
                              "static.train_unprotected_old_rows); allow new pieces")  # fmt: skip
        counts = ", ".join(f"{vocabulary.get(name, 0)} {why}" for name, why in (
            ("known", "already in the vocabulary"), ("protected", "would change protected text's segmentation"),
            ("other_script", "outside the language's scripts"), ("no_script", "of no script (digits, symbols)"),
            ("capped", "over vocabulary.max_new")))  # fmt: skip
        raise DataError(f"no new pieces to train: of the {vocabulary.get('learned', 0)} pieces learned on the "
                        f"{data.language} data, {counts} (check the data's script and vocabulary.scripts, or "
                        "set static.train_unprotected_old_rows)", _sources(data))  # fmt: skip
    if not any(i >= old_size for ids in train_ids for i in ids) and trained_old == 0:
        raise DataError(f"no training example uses the {added} new pieces (the {data.language} examples are "
                        "all spelled with old ones)", _sources(data))  # fmt: skip


def _sources(data: AdaptData) -> str:
    """Return the data's sources, comma-separated (what a DataError about all of it names)."""
    return ", ".join(str(source["source"]) for source in data.sources)


def unprotected_old_rows(
    tokenizer: Tokenizer, train_ids: Sequence[Sequence[int]], protected: Sequence[str], old_size: int,
    prompt: str = "",
) -> torch.Tensor:  # fmt: skip
    """Return the sorted old ids that the training examples use and no protected text uses (nor a special
    token: every language's text shares those). `prompt`: the model's default prompt, which the training
    examples begin with and the model reads before every protected text too."""
    used = {i for ids in train_ids for i in ids if i < old_size}
    # read by the extended tokenizer, as the model reads them: the rows their vectors are made of
    for encoding in tokenizer.encode_batch([prompt + text for text in protected], add_special_tokens=False):
        used.difference_update(encoding.ids)
    used.difference_update(tokenizer.get_added_tokens_decoder())
    return torch.tensor(sorted(used), dtype=torch.long)


def old_language_changes(
    pieces: Sequence[str], protected: Sequence[str], trained_old: int, languages: Sequence[str] = ()
) -> tuple[dict[str, object], str | None]:
    """Return (what the adaptation may change for the old languages, for xling.json; a warning or None).

    The protected texts keep their segmentation, hence their vectors. Other old-language text may segment
    with a new piece where the piece's script is one the old languages are written in (read from the
    protected texts, and the usual scripts of the model's other `languages`: an old language none of whose
    text is protected, as Hebrew when Yiddish is added, is one too), and its vector then moves; so does
    that of text using an old row trained with `static.train_unprotected_old_rows`.
    """
    from xling.langid.scripts import dominant_script

    step = max(1, len(protected) // PROTECTED_SCRIPT_SAMPLE)  # a spread sample finds every script cheaply
    old_scripts = {dominant_script([text]) for text in protected[::step]} - {None}
    old_scripts |= {script for language in languages for script in written_scripts(language)}
    piece_scripts = {dominant_script([piece]) for piece in pieces} - {None}
    shared = sorted(str(script) for script in old_scripts & piece_scripts)
    record: dict[str, object] = {
        "protected_texts": "kept", "other_texts": "may move" if shared or trained_old else "kept",
        "shared_scripts": shared, "old_rows_trained": trained_old,
    }  # fmt: skip
    if not shared:
        return record, None
    return record, (f"vocabulary: new pieces are in {', '.join(shared)}, a script of the old languages too: their "
                    "text outside the protected sample may segment with them and its vectors move (add such "
                    "text to vocabulary.protect to keep it as it is)")  # fmt: skip


# --- examples ------------------------------------------------------------------------------------------


def build_examples(
    data: AdaptData, tokenizer: Tokenizer, dev_share: float, seed: int, prompt: str = "", ignore: str = "",
    gloss_features: bool = False, clause_split: ClauseSplit | None = None, lemma_endings: Sequence[str] = (),
) -> tuple[Examples, Examples, list[str]]:  # fmt: skip
    """Return (training examples, dev examples, the pivot texts their targets index). The dev pairs
    (`held_out_pairs`) teach nothing: neither the glosses of text sentences nor, as a text sentence, a held-out
    sentence itself. `prompt` (the model's default prompt) goes before each new text, as the model reads it;
    words are glossed without the characters of `ignore` (the marks `tokenizer` drops), and with
    `gloss_features` a CoNLL-U sentence's gloss also says what its words' features say (AdaptData
    .feature_words); a lemma the dictionary lacks is looked up with each of `lemma_endings` added
    (`with_lemma_keys`)."""
    pivots: dict[str, int] = {}
    held = held_out_pairs(data, dev_share, seed)
    # as words are looked up (Turkish I is ı): another spelling the model reads alike is the same word or sentence
    fold = word_folder(data.language, ignore)
    held_texts = {fold(new) for new, _ in held}  # كِتَاب held out: كتاب (the marks the tokenizer drops) too
    held_pivots = {pivot for _, pivot in held}
    pairs: list[tuple[str, str, str]] = [(new, pivot, "parallel") for pivot, new in data.parallel]
    if clause_split is not None:
        # shorter pairs cut from the training ones, never from a held-out sentence: not from its pair, nor
        # from another pair of the same sentence (given twice, with another translation) or translation
        pairs += [(new_clause, pivot_clause, "parallel") for pivot, new in data.parallel
                  if fold(new) not in held_texts and pivot not in held_pivots
                  for pivot_clause, new_clause in clause_pairs(pivot, new, clause_split)]  # fmt: skip
    pairs += [(new, pivot, "dictionary") for pivot, new in data.dictionary]
    table = translations(_train_dictionary(data, held, fold), fold)
    if lemma_endings:
        table = with_lemma_keys(table, (lemma for lemmas in data.lemmas for _, lemma in lemmas or []),
                                lemma_endings, fold)  # fmt: skip
    # AdaptData made in code may leave feature_words out; read_adapt_data fills it for every text
    extra_words = data.feature_words or [None] * len(data.texts)
    for text, lemmas, extra in zip(data.texts, data.lemmas, extra_words, strict=True):
        if fold(text) in held_texts:
            continue
        translation, translated, words = translate_words(text, lemmas, table, fold)
        if translated >= max(1, 0.3 * words):
            if gloss_features and extra:
                translation = " ".join([translation, *extra])
            pairs.append((text, translation, "text"))
    if data.reading is not None:
        taught = [*data.texts, *(new for _, new in data.parallel), *(new for _, new in data.dictionary)]
        for text in dict.fromkeys(t for t in taught if fold(t) not in held_texts):
            reading = data.reading(text)
            if reading != text:
                pairs.append((text, reading, "transliteration"))
    dev_kind = "parallel" if data.parallel else "dictionary"
    train_set, dev_set = Examples(), Examples()
    encodings = tokenizer.encode_batch([prompt + new for new, _, _ in pairs], add_special_tokens=False)
    for (new, pivot, kind), encoding in zip(pairs, encodings, strict=True):
        if not encoding.ids:
            continue
        held_out = kind == dev_kind and (new, pivot) in held
        if not held_out and kind != "text" and fold(new) in held_texts:
            continue  # a held-out word or sentence with another translation: it would teach the dev pair
        chosen = dev_set if held_out else train_set
        chosen.texts.append(new)
        chosen.ids.append(encoding.ids)
        chosen.target.append(pivots.setdefault(pivot, len(pivots)))
        chosen.kind.append(kind)
    if not train_set.ids:
        raise ConfigError("dictionary, parallel: a static encoder learns the new language from word or sentence "
                          "pairs (text alone only gives its pieces, with nothing to align them to); give "
                          "--dictionary or --parallel")  # fmt: skip
    return train_set, dev_set, list(pivots)


def held_out_pairs(data: AdaptData, dev_share: float, seed: int) -> set[tuple[str, str]]:
    """Return the (new, pivot) pairs held out for dev: a `dev_share` of the parallel pairs, or when there are
    none, every pair of a `dev_share` of the dictionary's new words (a word held out with one translation
    and trained with another, as acı with "suffered" and "pain", would make its dev figure recall)."""
    if data.parallel:
        return {(new, pivot) for pivot, new in data.parallel if _is_dev(new, pivot, seed, dev_share)}
    return {(new, pivot) for pivot, new in data.dictionary if _is_dev(new, "", seed, dev_share)}


def _train_dictionary(
    data: AdaptData, held: set[tuple[str, str]], fold: Callable[[str], str] = fold_word
) -> list[tuple[str, str]]:
    """Return the dictionary's (pivot, new) pairs whose new side is no held-out text, compared as `fold`
    gives words (`word_folder`: without the marks the tokenizer drops, Turkish I as ı): what may seed rows
    and glosses."""
    held_new = {fold(new) for new, _ in held}
    return [(pivot, new) for pivot, new in data.dictionary if fold(new) not in held_new]


def _is_dev(new: str, pivot: str, seed: int, share: float) -> bool:
    """Return whether a pair is held out: a hash of its texts and the seed, below `share`."""
    digest = hashlib.sha256(f"{seed}\t{pivot}\t{new}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


# --- vectors and dev scores ----------------------------------------------------------------------------


@torch.no_grad()
def _encode_ids(model: nn.Module, ids: Sequence[Sequence[int]]) -> np.ndarray:
    """Return the unnormalised mean-of-rows vectors of token id lists (read on the model's device)."""
    device = next(chain(model.parameters(), model.buffers()), torch.zeros(0)).device
    out = []
    for i in range(0, len(ids), ENCODE_BATCH):
        features = {k: v.to(device) for k, v in bag_features(ids[i : i + ENCODE_BATCH]).items()}
        out.append(model(features).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


def _encode_texts(base: StaticSentenceEncoder, texts: Sequence[str]) -> np.ndarray:
    ids, _ = base.token_ids(texts)
    return _encode_ids(base, [x or [0] for x in ids])


def _unit(vectors: np.ndarray) -> torch.Tensor:
    tensor = torch.from_numpy(vectors).float()
    return nn.functional.normalize(tensor, dim=-1)


def _dev_scores(model: nn.Module, dev: Examples, targets: torch.Tensor, *, old: bool) -> dict[str, float]:
    """Return {"dev_retrieval": accuracy in percent, both directions averaged, "dev_pairs": n} on the dev
    examples (a hit is any translation of a text: a dictionary word held out with two; `gold_retrieval_
    accuracy`); the old model (`old`) reads their texts with its own tokenizer."""
    if len(dev.ids) < 2:
        return {}
    vectors = _encode_texts(model, dev.texts) if old else _encode_ids(model, dev.ids)
    score = gold_retrieval_accuracy(_unit(vectors).numpy(), targets[dev.target].numpy(), dev.texts,
                                    [str(target) for target in dev.target])  # fmt: skip
    return {"dev_retrieval": round(100 * score.average, 2), "dev_pairs": len(dev.ids)}


# --- saving --------------------------------------------------------------------------------------------


def save_adapted(base_folder: Path, output: Path, tokenizer: Tokenizer, encoder: ExtendedStaticEncoder,
                 result: AdaptResult) -> None:  # fmt: skip
    """Write the adapted encoder into `output` (the base's layout and number format) and its xling.json last.

    When the base table is int8 (model2vec's layout), the old rows' int8 values and scales are copied as
    they are and only the new (and trained old) rows are quantized, so the frozen old rows load back bit for
    bit.
    """
    # a folder with xling.json is a finished model: a resumed run's earlier one goes first, so that a crash
    # while the files below are written leaves a folder that is not taken for a model
    (output / METADATA_FILE).unlink(missing_ok=True)
    # in the base's layout: its StaticEmbedding module where its modules.json says (xling's 0_StaticEmbedding/,
    # or sentence-transformers 6's root), the later modules' folders (Normalize) copied
    where = static_module_dir(base_folder)
    module = output / where
    module.mkdir(parents=True, exist_ok=True)
    for later in (read_st_modules(base_folder) or [])[1:]:
        if later.path not in (where, PurePosixPath(".")) and (base_folder / later.path).is_dir():
            shutil.copytree(base_folder / later.path, output / later.path, dirs_exist_ok=True)
    old = load_safetensors(base_folder / where / "model.safetensors")
    # on the CPU, where the base's tensors are read, whichever device the encoder was trained on
    new_rows = encoder.new_rows().float().cpu()
    n_old, trained = encoder.old_size, encoder.trained_old.cpu()
    trained_rows = encoder.old_table().cpu()[trained]
    if _int8_layout(old):
        new_int8, new_scale = quantize_rows(torch.cat([trained_rows, new_rows]))
        old_int8, old_scale = old["embeddings"][:n_old].clone(), old["weights"][:n_old].float().clone()
        old_int8[trained], old_scale[trained] = new_int8[: len(trained)], new_scale[: len(trained)]
        tensors = {"embeddings": torch.cat([old_int8, new_int8[len(trained) :]]).contiguous(),
                   "weights": torch.cat([old_scale, new_scale[len(trained) :]]).contiguous()}  # fmt: skip
    elif "embedding.weight" in old:
        table = old["embedding.weight"]
        old_part = table[:n_old].clone()
        old_part[trained] = trained_rows.to(table.dtype)
        tensors = {"embedding.weight": torch.cat([old_part, new_rows.to(table.dtype)]).contiguous()}
    else:
        tensors = {"embedding.weight": encoder.table().cpu().contiguous()}
    save_file(tensors, str(module / "model.safetensors"))
    tokenizer.save(str(module / "tokenizer.json"), pretty=False)
    shutil.copy2(base_folder / "modules.json", output / "modules.json")
    prompts = base_folder / "config_sentence_transformers.json"  # a default prompt, kept as the base has it
    if prompts.is_file():
        shutil.copy2(prompts, output / prompts.name)
    meta = derived_metadata(read_metadata(base_folder), output.name)
    languages = listed_languages(meta.get("languages", []), result.language)
    meta.update({
        "kind": meta.get("kind", "sentence-encoder/static"), "languages": languages,
        "vocab_size": tokenizer.get_vocab_size(),
        "adaptations": [*meta.get("adaptations", []), {"base_model": str(base_folder), **result.to_dict()}],
    })  # fmt: skip
    write_metadata(output, meta)


__all__ = ["ExtendedStaticEncoder", "adapt_static", "build_examples"]
