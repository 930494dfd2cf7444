"""Settings of `xling adapt`: add a language to an existing encoder (static or transformer)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.alignment.sentences.clauses import clause_split
from xling.data.languages import special_code_meaning
from xling.errors import ConfigError
from xling.training import TrainingConfig

KINDS = ("parallel", "dictionary", "text", "transliteration")


@dataclass
class AdaptVocabularyConfig:
    """How the new language's sub-words join the vocabulary (xling.tokenization.vocabulary_extension)."""

    max_new: int = 16000
    """Most pieces added: the most probable of those learned on the new language's text that the vocabulary
    lacks; 0 = keep the vocabulary as it is."""

    learn_size: int = 16000
    """Size of the Unigram model learned on the new language's text (and dictionary words); a small text
    supports fewer, and gets fewer."""

    scripts: list[str] = field(default_factory=list)
    """ISO 15924 scripts a new piece's letters may be in; []: the script of most of the new language's
    letters (with Han for Japanese and Korean)."""

    protect: list[str] = field(default_factory=list)
    """Text files (one sentence a line, or CoNLL-U) in the model's own languages whose segmentation must not
    change: a new piece they would use is not added. Always protected besides: the bundled parallel sample's
    languages that the model has, the pivot side of the dictionary and parallel pairs, and the text files the
    model's earlier adaptations of other languages read (where they still exist)."""

    drop_marks: bool = True
    """Remove, in the tokenizer's normalizer, the marks the new language's script writes at will (Arabic
    script: harakat, shadda, sukun, the dagger alef, Quranic signs and tatweel; no other script yet) where the
    old vocabulary has no piece with them and no protected text uses them: vocalised text then reads as
    unvocalised text does instead of falling apart into letters and bytes. A run recorded before this
    setting existed dropped none (`recorded_defaults`)."""


@dataclass
class AdaptStaticConfig:
    """Training of a static encoder's new rows (the old rows never change unless
    `train_unprotected_old_rows`)."""

    scale: float = 40.0
    """Softmax scale of the ranking loss on cosines (as xling-mini's training)."""

    margin: float = 0.3
    """Additive margin subtracted from each translation's cosine in the ranking loss."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"parallel": 1.0, "dictionary": 1.0, "text": 1.0}
    )
    """Share of the batches drawn from each kind of example (parallel pairs, dictionary pairs, text
    sentences with their word-by-word dictionary translation, the new language's texts with their
    transliteration into the `relative`'s script); a kind not named weighs 1, except "transliteration",
    which then weighs 1 only when there are no word or sentence pairs (with pairs, its targets pull against
    theirs: Hindi dev retrieval 72.3 at weight 0, 68.1 at 0.3, 66.0 at 1, 70.2 without a relative); kinds
    without examples are skipped (`--set static.weights.text=0` leaves text out)."""

    gloss_features: bool = True
    """Also gloss into the pivot's words what a CoNLL-U text's morphological features say and its words do
    not (negation, a pro-drop subject, a possessor, the case of a phrase head without an adposition:
    `bilmiyorum` -> `know not I`), for an English pivot (xling.adaptation.words.feature_words; chosen on
    Turkish dev pairs). A run recorded before this setting existed glossed none (`recorded_defaults`)."""

    lemma_endings: list[str] = field(default_factory=list)
    """Endings that make a text's lemma a dictionary word: a CoNLL-U lemma the dictionary lacks is glossed as
    lemma + the first of these that gives one of its words (Turkish `["mak", "mek"]`: UD Turkish-IMST's verb
    lemmas are roots, `gel`, the dictionary's verbs infinitives, `gelmek`). Empty: lemmas as written."""

    clause_pairs: int = 0
    """Also train on the clause pairs cut from the training sentence pairs, as more sentence pairs
    (xling.alignment.sentences.clauses: both sides cut after clause punctuation, paired in order where the
    counts and length shares agree): 0 = off, else the most clauses a pair may have (>= 2). Held-out pairs
    are never cut. On held-out UDHR pairs (8 seeds) it helped Arabic and hurt Turkish, whose clauses come in
    another order than English's (docs/adapt.md)."""

    clause_length_ratio: float = 2.0
    """How far (as a ratio, >= 1) a clause's share of its side's length may differ from its partner's."""

    train_unprotected_old_rows: bool = False
    """Also train the old rows that the new language's training examples use and no protected text uses
    (old pieces such as Turkish `▁bir` or `lar`, whose rows mean what other languages made them mean), from
    their old values; every old row a protected text uses stays frozen, so the protected texts keep their
    vectors bit for bit, but other old-language text that uses a trained row moves."""


@dataclass
class AdaptTransformerConfig:
    """Continued masked language modelling of a transformer encoder on the new language's text."""

    mlm_probability: float = 0.15
    """Share of the tokens masked (BERT's 80/10/10 replacement)."""

    max_length: int = 128
    """Longest input in tokens; longer text is cut into windows."""

    lora: bool = False
    """Train a LoRA adapter (peft), saved apart from the base model, instead of all weights; the new
    embedding rows are trained with it either way."""

    lora_rank: int = 8
    """The LoRA rank r (lora_alpha = 2r)."""

    replay: float = 0.25
    """Share of each batch drawn from the protected old-language text, so that continued training on the new
    language does not wipe out the old ones (without it the old languages' perplexity exploded in the tests);
    in [0, 1)."""


@dataclass
class AdaptTrainingConfig(TrainingConfig):
    """Optimisation of `xling adapt`, with defaults that suit a static encoder's new rows; it remembers which
    fields were set once it was made (by code, or marked by `load_adapt_config` from a recipe or `--set`), so
    that a transformer takes its own defaults for the others only (xling.adaptation.transformer
    .transformer_training), whatever value was set. `dataclasses.replace` makes one that remembers none."""

    # 400, not 2,000: chosen on held-out dev pairs (recipes/xling-mini-languages.toml has the table); with a
    # few hundred examples, 2,000 steps of 256 are hundreds of passes over each, and they were learnt by heart
    max_steps: int = 400
    batch_size: int = 256
    lr: float = 0.05
    weight_decay: float = 0.0
    clip_norm: float = 0.0
    precision: str = "fp32"
    log_every: int = 50
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        # not a field: config_to_dict, run configs and xling.json hold the values only
        object.__setattr__(self, "_given", set())

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        given = self.__dict__.get("_given")
        if given is not None:  # None while __init__ sets the defaults
            given.add(name)

    def mark_given(self, names: Iterable[str]) -> None:
        """Return nothing after noting `names` as set (fields a recipe or `--set` gave)."""
        self._given.update(name for name in names if name in _TRAINING_FIELDS)


_TRAINING_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainingConfig))


def given_training(training: TrainingConfig) -> dict[str, object]:
    """Return the fields of `training` that were set, with their values: those marked or assigned on an
    AdaptTrainingConfig, every field of any other TrainingConfig (given whole, it is taken as it is)."""
    names = training._given if isinstance(training, AdaptTrainingConfig) else _TRAINING_FIELDS
    return {name: getattr(training, name) for name in sorted(names) if name in _TRAINING_FIELDS}


@dataclass
class AdaptConfig:
    """Settings of `xling adapt`."""

    model: str = "xling-mini"
    """The encoder to extend: a folder or shipped name (static sentence encoder or XLM-R-style transformer)."""

    language: str = ""
    """The language to add (any code form; stored as ISO 639-3). Required; not one of ISO 639's codes that
    name no language (und, mul, zxx, mis)."""

    text: list[str] = field(default_factory=list)
    """Monolingual text files of the new language: one sentence a line (.txt[.gz]; `id<TAB>text`, as the
    Bible corpus's files, gives its text), or CoNLL-U (.conllu[.gz]), whose lemmas help the dictionary
    translate inflected words."""

    dictionary: list[str] = field(default_factory=list)
    """Bilingual word lists "pivot<TAB>new" a line; "xxx-yyy=path" names the columns' languages (one must
    be the pivot, the other the new language); "swadesh" takes the data root's Swadesh 207 lists."""

    parallel: list[str] = field(default_factory=list)
    """Translated sentences "pivot<TAB>new" a line (or "xxx-yyy=path"); "udhr" pairs the data root's UDHR
    articles with the pivot's; "sample" takes the bundled everyday sample's pairs (9 languages)."""

    pivot: str = "eng"
    """The language the dictionary and parallel data translate into; the model must already have it."""

    relative: str = ""
    """A language the model has that is close to the new one and written in a sister script (Brahmic: hin,
    mar or nep -> guj, tam -> mal; Arabic script -> heb or syr), or "": the new language's text is
    transliterated letter by letter into the relative's script (xling.adaptation.transliteration, as RelateLM
    does), so cognates meet. The old model's reading of a transliterated piece starts that piece's row; for
    a static encoder, its reading of each transliterated training text is also a target ("transliteration"
    examples)."""

    output: str = "runs/adapt"
    """The folder to write: a model folder like the base one, plus checkpoints and train_log.jsonl."""

    data: str = ""
    """The data root for "udhr" and "swadesh" (see xling.data.root); "": $XLING_DATA, else ../shared/data."""

    replace: bool = False
    """Allow a language the model already lists (a static encoder's old rows still stay as they are; a
    transformer trains its shared weights again: all of them, or with LoRA the adapters and every bias)."""

    overwrite: bool = False
    """Replace a finished `output` folder."""

    resume: bool = False
    """Take up the newest checkpoint in `output`."""

    dev_share: float = 0.1
    """Share held out to measure before and after, in [0, 0.5): of the parallel pairs (else of the
    dictionary pairs) for retrieval, and for a transformer also of the text's sentences (MLM perplexity)."""

    seed: int = 0
    """Seeds the dev split, the new pieces' and rows' initialisation, and (via training.seed) the batches."""

    vocabulary: AdaptVocabularyConfig = field(default_factory=AdaptVocabularyConfig)
    """Vocabulary extension: `[adapt.vocabulary]` in a recipe."""

    static: AdaptStaticConfig = field(default_factory=AdaptStaticConfig)
    """Training of a static encoder: `[adapt.static]`."""

    transformer: AdaptTransformerConfig = field(default_factory=AdaptTransformerConfig)
    """Training of a transformer encoder: `[adapt.transformer]`."""

    training: AdaptTrainingConfig = field(default_factory=AdaptTrainingConfig)
    """Optimisation (`[adapt.training]`); the defaults suit a static encoder's new rows, a transformer takes
    its own for the fields not set (AdaptTrainingConfig). A plain TrainingConfig is taken as it is."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if not self.language.strip():
            raise ConfigError("language: required (the code of the language to add, e.g. tur)")
        not_a_language = special_code_meaning(self.language)
        if not_a_language:
            # the model's xling.json would list it among its languages, and `und` is what a detector answers
            raise ConfigError(f"language: {self.language!r} names no language ({not_a_language}); give the "
                              "code of the language the data is in (e.g. tur)")  # fmt: skip
        if not (self.text or self.dictionary or self.parallel):
            raise ConfigError("text, dictionary, parallel: give at least one source of the new language")
        if not 0 <= self.dev_share < 0.5:
            raise ConfigError(f"dev_share: {self.dev_share} must be in [0, 0.5)")
        from xling.config import check_int

        # before the new language's sub-words are learnt, not after (max_new) or inside the learner (learn_size)
        check_int("vocabulary.max_new", self.vocabulary.max_new, 0)
        check_int("vocabulary.learn_size", self.vocabulary.learn_size, 1)
        scale = self.static.scale
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < float("inf"):
            # a negative scale turns the ranking loss's logits over: it trains away from the translations
            raise ConfigError(f"static.scale: {scale!r} must be a positive number")
        if not 0 <= self.static.margin < 1:  # NaN too: the ranking loss became NaN
            raise ConfigError(f"static.margin: {self.static.margin!r} must be in [0, 1) (a cosine's share)")
        unknown = set(self.static.weights) - set(KINDS)
        if unknown:
            raise ConfigError(f"static.weights: unknown kinds {sorted(unknown)} (known: {', '.join(KINDS)})")
        for kind, weight in self.static.weights.items():
            # inf made the batch shares NaN: a traceback from the sampler
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int | float)
                or not 0 <= weight < float("inf")
            ):
                raise ConfigError(
                    f"static.weights.{kind}: {weight!r} must be a share of 0 or more (a finite number)"
                )
        clause_split(self.static.clause_pairs, self.static.clause_length_ratio, "static.")
        if not 0 <= self.transformer.replay < 1:
            raise ConfigError(f"transformer.replay: {self.transformer.replay} must be in [0, 1)")
        if self.transformer.max_length < 8:
            raise ConfigError(f"transformer.max_length: {self.transformer.max_length} must be at least 8")
        if self.transformer.lora_rank < 1:
            raise ConfigError(f"transformer.lora_rank: {self.transformer.lora_rank} must be at least 1")
        if not 0 < self.transformer.mlm_probability < 1:
            raise ConfigError(
                f"transformer.mlm_probability: {self.transformer.mlm_probability} must be in (0, 1)"
            )
        self.training.validate()


def recorded_defaults() -> AdaptConfig:
    """Return the settings a recorded run that lacks a field ran with: the defaults, but for
    `vocabulary.drop_marks` and `static.gloss_features`, which runs recorded before they existed did not do."""
    config = AdaptConfig()
    config.vocabulary.drop_marks = False
    config.static.gloss_features = False
    return config


def load_adapt_config(recipe: str | Path | None, overrides: Iterable[str], **fields: Any) -> AdaptConfig:
    """Return the AdaptConfig of a recipe's `[adapt]` table, CLI `fields` and `--set` overrides
    (xling.config.load_config), its `training` marked with the fields the recipe or an override set."""
    from xling.config import given_fields, load_config

    config = load_config(AdaptConfig, recipe, list(overrides), section="adapt", **fields)
    if isinstance(config.training, AdaptTrainingConfig):
        config.training.mark_given(given_fields(config, "training") or ())
    return config
