"""Translation quality (`xling eval mt`): sacrebleu BLEU and chrF++ per direction, direct and through a pivot.

Each direction of a test set (xling.translation.testsets: a held-out Bible book, NTREX, Tatoeba) is
translated by the model and scored at corpus level against its one reference, as sacrebleu defines the
metrics (sacrebleu 2.x, `sacrebleu/metrics/bleu.py` and `sacrebleu/metrics/chrf.py`):

- BLEU: `BLEU()` with sacrebleu's defaults (mixed case, exp smoothing, 4-grams) and the tokenizer sacrebleu
  picks for the target language (`BLEU._TOKENIZER_MAP`, as `sacrebleu -l src-tgt` does): `zh` for Chinese,
  `ja-mecab` for Japanese, `ko-mecab` for Korean, `13a` otherwise. Without MeCab installed, Japanese and Korean
  fall back to `char` (logged; the signature says `tok:char`).
- chrF++: `CHRF(word_order=2)` (character 6-grams and word 2-grams, beta 2; Popović 2017).

Every score comes with sacrebleu's signature (`metric.get_signature()`), so a figure can be reproduced and
compared only with figures of the same signature. The primary metric is chrF++: BLEU on 200 verses of a
small model is mostly zero and tokenizer-dependent.

With a pivot (`pivot = "eng"`), every direction that does not involve the pivot is also translated
src -> pivot -> tgt, and scored on the same references, beside the direct translation: whether a model
translates directly between two languages better than through English.

On the bible test set the model's own record (`xling.json`: the training config `xling mt train` wrote) is
checked: a model trained on an aligned corpus without holding out the book scored (its
`data.heldout_prefixes` do not cover `heldout_prefixes`) is scored on verses it was trained on. That is a
warning naming the book and the model, and `settings["test_seen_in_training"]` says so in the result.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sacrebleu.metrics import BLEU, CHRF

from xling.artifacts import read_metadata
from xling.atomic import atomic_write, check_apart, writable_file
from xling.config import given_fields
from xling.data.languages import MACROLANGUAGES, normalize_language
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.result import Result
from xling.translation.decoding import LARGEST, DecodeOptions
from xling.translation.languages import parse_language
from xling.translation.testsets import (
    TESTSETS,
    DirectionData,
    bible_folder,
    bible_test,
    ntrex_folder,
    ntrex_test,
    parse_direction,
    plain_language,
    tatoeba_folder,
    tatoeba_test,
    training_records,
    unused_variants,
)

__all__ = [
    "DEFAULT_DIRECTIONS",
    "MTEvalConfig",
    "TextTranslator",
    "bleu_metric",
    "corpus_scores",
    "evaluate_mt",
    "expand_directions",
    "load_tests",
    "score_directions",
    "training_heldout",
]

logger = logging.getLogger(__name__)

# The yardstick of the default model (issue 15, section 4): English into German, French and Spanish.
DEFAULT_DIRECTIONS = ["eng-deu", "eng-fra", "eng-spa"]
# sacrebleu's BLEU tokenizers that download nothing (spm, flores101, flores200 and spBLEU-1K fetch a
# SentencePiece model on first use); ja-mecab and ko-mecab need extra packages instead.
OFFLINE_TOKENIZERS = ("none", "zh", "13a", "intl", "char", "ja-mecab", "ko-mecab")
# sacrebleu picks a BLEU tokenizer from these target-language codes (BLEU._TOKENIZER_MAP).
_SACREBLEU_LANG = {"zho": "zh", **{code: "zh" for code in MACROLANGUAGES["zho"]}, "jpn": "ja", "kor": "ko"}


class TextTranslator(Protocol):
    """What the evaluation needs of a model: `xling.translation.translator.Translator` is one."""

    def translate(
        self,
        texts: Sequence[str],
        src: str | Sequence[str] | None,
        tgt: str | Sequence[str],
        options: DecodeOptions | None = None,
        *,
        progress: bool = False,
    ) -> list[str]:
        """Return one translation per text, in order."""
        ...

    def decode_options(
        self, options: DecodeOptions | None = None, given: Iterable[str] | None = None
    ) -> DecodeOptions:
        """Return the options a call decodes with: `options` with the model's own settings in the fields not
        in `given` (`Translator.decode_options`)."""
        ...


@dataclass
class MTEvalConfig:
    """Settings of `xling eval mt`."""

    model: str = ""
    """Translation model folder or shipped name; "": the one `xling translate` uses by default."""
    backend: str = "auto"
    """Translator backend: auto uses the model's ctranslate2/ conversion when present, else PyTorch."""
    testset: str = "bible"
    """bible (held-out verses of an aligned corpus), ntrex (news, eng -> xx and xx -> yy) or tatoeba (xx <-> eng)."""
    data: str = ""
    """Data root holding bible/, ntrex/ or tatoeba/ (or that folder itself); "": $XLING_DATA, else ../shared/data."""
    directions: list[str] = field(default_factory=lambda: list(DEFAULT_DIRECTIONS))
    """Directions scored, "src-tgt" each (eng-deu, deu-fra)."""
    pivot: str = ""
    """Also translate each direction not involving this language through it (src -> pivot -> tgt); "": off."""
    heldout_prefixes: list[str] = field(default_factory=lambda: ["JHN."])
    """bible: the verse ids scored are those starting with one of these (John, held out of training)."""
    max_sentences: int = 0
    """Score the first N sentences of each direction (deterministic); 0: all."""
    variants: list[str] = field(default_factory=list)
    """ntrex: reference files replacing their language's default, by tag (zho-TW, fra-CA, srp-Latn); the model
    is asked for that side in the tag's script and region (zho-TW: Traditional Chinese)."""
    bleu_tokenize: str = ""
    """BLEU tokenizer; "": sacrebleu's choice for the target language (13a; zh, ja-mecab, ko-mecab)."""
    hypotheses: str = ""
    """Folder to write each direction's translations to (<src>-<tgt>.txt, <src>-<tgt>.pivot.txt; `~` is the
    home folder, as in every path field); "": none."""
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    """How to decode (beam size, length penalty, batch size, ...). Made by `load_config` (a recipe, flags,
    --set), the fields it leaves unset are the model's own settings (its generation_config.json, as
    `xling translate` decodes); built in code, it is taken as it is, so pass
    `translator.decode_options()` for the model's settings."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field (DataError naming the path for a
        `hypotheses` folder that cannot be written)."""
        if self.testset not in TESTSETS:
            raise ConfigError(f"testset: {self.testset!r} must be one of {', '.join(TESTSETS)}")
        if not self.directions:
            raise ConfigError("directions: name at least one direction, e.g. eng-deu")
        for direction in self.directions:
            parse_direction(direction)
        if (
            isinstance(self.max_sentences, bool)
            or not isinstance(self.max_sentences, int)
            or not 0 <= self.max_sentences <= LARGEST
        ):
            raise ConfigError(f"max_sentences: {self.max_sentences!r} must be 0 (all) or a positive integer "
                              f"up to {LARGEST:,}")  # fmt: skip
        if self.pivot and (tag := parse_language(self.pivot, where="pivot")) and (tag.script or tag.region):
            # dropped, the model would be asked for the pivot's default script (zh-TW through zho_Hans)
            raise ConfigError(f"pivot: {self.pivot!r} names a script or region, which a pivot does not carry: "
                              f"give the language alone ({tag.language})")  # fmt: skip
        if self.bleu_tokenize and self.bleu_tokenize not in BLEU.TOKENIZERS:
            raise ConfigError(
                f"bleu_tokenize: {self.bleu_tokenize!r} must be one of {', '.join(BLEU.TOKENIZERS)}"
            )
        if self.bleu_tokenize:  # built here: one that cannot be is said before anything is translated
            _check_bleu_tokenizer(self.bleu_tokenize)
        if self.testset == "bible" and not [p for p in self.heldout_prefixes if p]:
            raise ConfigError("heldout_prefixes: name at least one verse id prefix, e.g. JHN.")
        if self.variants and self.testset != "ntrex":
            raise ConfigError(
                f"variants: {self.variants!r} choose NTREX reference files; {self.testset} has none"
            )
        if unused := unused_variants(self.variants, [parse_direction(d) for d in self.directions]):
            # else scored against the default file while the results recorded the variant (cmn-TW for zho)
            raise ConfigError(f"variants: {', '.join(map(repr, unused))} names no side of the directions "
                              f"{', '.join(self.directions)} (a variant is written as the side's language with a "
                              "script or region, e.g. zho-TW for zho)")  # fmt: skip
        self.decode.validate()
        if self.hypotheses:
            self._check_hypotheses()

    def _check_hypotheses(self) -> None:
        """Return nothing if every file of `hypotheses` can be written there; else ConfigError (a file where
        the folder should be) or DataError naming the path (no permission): found before any translating,
        not when the first direction's translations are written."""
        folder = Path(self.hypotheses).expanduser()
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"hypotheses: {folder} is a file, not a folder: name a folder for the "
                              "translations (one file per direction)")  # fmt: skip
        for path in self.hypothesis_files():
            writable_file(path)

    def hypothesis_files(self) -> list[Path]:
        """Return the files the run writes into `hypotheses` (none without it): `<src>-<tgt>.txt` per
        direction, and `<src>-<tgt>.pivot.txt` where the pivot is neither side."""
        if not self.hypotheses:
            return []
        folder = Path(self.hypotheses).expanduser()
        via = normalize_language(self.pivot) if self.pivot else ""
        files = []
        for src, tgt in dict.fromkeys(parse_direction(direction) for direction in self.directions):
            files.append(folder / f"{src}-{tgt}.txt")
            if via and via not in (src, tgt):
                files.append(folder / f"{src}-{tgt}.pivot.txt")
        return files


def _check_bleu_tokenizer(name: str) -> None:
    """Return nothing when sacrebleu builds the BLEU tokenizer `name`; else ConfigError naming bleu_tokenize and
    why: ja-mecab and ko-mecab need extra packages, the SentencePiece ones (flores101, flores200, spBLEU-1K)
    download their model on first use, which fails offline (a URLError)."""
    try:
        BLEU(tokenize=name)
    except Exception as exc:  # noqa: BLE001 (ImportError, RuntimeError, a URLError or any other: one message)
        why = str(exc).strip() or type(exc).__name__
        if isinstance(exc, OSError) and name not in OFFLINE_TOKENIZERS:
            why = (f"sacrebleu downloads its SentencePiece model on first use, which failed ({why}): no network? "
                   f"Tokenizers that need no download: {', '.join(OFFLINE_TOKENIZERS)} (the last two with "
                   "sacrebleu[ja] / sacrebleu[ko] installed)")  # fmt: skip
        raise ConfigError(f"bleu_tokenize: {name}: {why}") from None


def expand_directions(sources: Sequence[str], targets: Sequence[str]) -> list[str]:
    """Return "src-tgt" for every source and target language that differ, sources first, as ISO 639-3;
    ConfigError for a code with a script or region (`zh-TW`), which a direction cannot carry."""
    src_codes = [plain_language(code, "--src") for code in sources]
    tgt_codes = [plain_language(code, "--tgt") for code in targets]
    directions = [f"{s}-{t}" for s in src_codes for t in tgt_codes if s != t]
    if not directions:
        raise ConfigError("directions: --src and --tgt give no pair of different languages")
    return directions


def test_folder(config: MTEvalConfig) -> Path:
    """Return the folder `config.testset` is read from under `config.data`."""
    find = {"bible": bible_folder, "ntrex": ntrex_folder}.get(config.testset, tatoeba_folder)
    return Path(find(config.data))


def load_tests(config: MTEvalConfig) -> tuple[str, list[DirectionData]]:
    """Return (what was read, for Result.data) and the test of each direction of `config`, in its order."""
    config.validate()
    pairs = list(dict.fromkeys(parse_direction(direction) for direction in config.directions))
    n = config.max_sentences
    folder = test_folder(config)
    if config.hypotheses:
        _check_hypotheses_apart(config.hypotheses, folder)
    if config.testset == "bible":
        prefixes = [p for p in config.heldout_prefixes if p]
        tests = [bible_test(folder, src, tgt, prefixes, n) for src, tgt in pairs]
        return f"{folder}, ids starting {' '.join(prefixes)}", tests
    if config.testset == "ntrex":
        return str(folder), [ntrex_test(folder, src, tgt, n, config.variants) for src, tgt in pairs]
    return str(folder), [tatoeba_test(folder, src, tgt, n) for src, tgt in pairs]


def _check_hypotheses_apart(hypotheses: str | Path, data: Path) -> None:
    """Return nothing if the `hypotheses` folder is neither the test set's folder `data` nor inside it (the
    translations would be written among the references); else ConfigError naming both. A folder that
    holds the data folder is fine: the translations go into it, beside the data, never over it."""
    out = Path(hypotheses).expanduser().resolve()
    if out in data.resolve().parents:
        return
    check_apart(hypotheses, [(f"the test data folder {data}", data)],
                "choose a --hypotheses folder outside the test data")  # fmt: skip


def bleu_metric(tgt: str, tokenize: str = "") -> BLEU:
    """Return sacrebleu's BLEU for target language `tgt`: its tokenizer for that language unless `tokenize`."""
    trg_lang = _SACREBLEU_LANG.get(normalize_language(tgt), "")
    if tokenize:
        return BLEU(tokenize=tokenize, trg_lang=trg_lang)
    try:
        return BLEU(trg_lang=trg_lang)
    except (ImportError, RuntimeError) as exc:  # ja-mecab / ko-mecab need sacrebleu[ja] / sacrebleu[ko]
        logger.warning("BLEU into %s: %s; scoring with the char tokenizer instead", tgt, str(exc).strip())
        return BLEU(tokenize="char")


def corpus_scores(
    hypotheses: Sequence[str], references: Sequence[str], tgt: str, bleu_tokenize: str = ""
) -> tuple[dict[str, float], dict[str, str]]:
    """Return ({"bleu", "chrf++"}, their sacrebleu signatures) of corpus-level scores against one reference."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    bleu, chrf = bleu_metric(tgt, bleu_tokenize), CHRF(word_order=2)
    refs = [list(references)]
    scores = {"bleu": round(bleu.corpus_score(list(hypotheses), refs).score, 2),
              "chrf++": round(chrf.corpus_score(list(hypotheses), refs).score, 2)}  # fmt: skip
    return scores, {"bleu": str(bleu.get_signature()), "chrf++": str(chrf.get_signature())}


class _Memo:
    """Translations already made in this run: a pivot reuses the src -> pivot outputs of its source side."""

    def __init__(self, translator: TextTranslator, options: DecodeOptions, progress: bool) -> None:
        self.translator, self.options, self.progress = translator, options, progress
        self.done: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}

    def __call__(self, texts: Sequence[str], src: str, tgt: str) -> list[str]:
        """Return the translations of `texts` from `src` into `tgt`, one per text."""
        key = (src, tgt, tuple(texts))
        if key not in self.done:
            out = list(self.translator.translate(list(texts), src, tgt, self.options, progress=self.progress))
            if len(out) != len(texts):
                raise ValueError(f"the translator returned {len(out)} translations for {len(texts)} texts")
            self.done[key] = out
        return self.done[key]


def score_directions(
    translator: TextTranslator,
    tests: Sequence[DirectionData],
    *,
    options: DecodeOptions | None = None,
    pivot: str = "",
    bleu_tokenize: str = "",
    hypotheses: str | Path = "",
    show_progress: bool = False,
    on_direction: Callable[[str], object] | None = None,
) -> tuple[dict[str, dict[str, float | int]], dict[str, dict[str, str]]]:
    """Return per direction {bleu, chrf++, n[, pivot_bleu, pivot_chrf++]} and its sacrebleu signatures.

    The pivot columns are there for directions that involve neither side of `pivot`. `on_direction` is
    called with each direction ("deu-fra", "deu-eng-fra") before it is translated; `show_progress` is passed
    to the translator.
    """
    options = options or DecodeOptions()
    via = normalize_language(pivot) if pivot else ""
    _check_languages(translator, tests, via)  # before any work: a late direction it lacks lost the earlier
    translate = _Memo(translator, options, show_progress)
    scores: dict[str, dict[str, float | int]] = {}
    signatures: dict[str, dict[str, str]] = {}
    for test in tests:
        if on_direction:
            on_direction(test.label)
        # the codes that say the script or region of an NTREX variant's text (zho-TW), not just the language
        src, tgt = test.codes
        outputs = {"": translate(test.sources, src, tgt)}
        if via and via not in (test.src, test.tgt):
            if on_direction:
                on_direction(f"{test.src}-{via}-{test.tgt}")
            outputs["pivot_"] = translate(translate(test.sources, src, via), via, tgt)
        row: dict[str, float | int] = {}
        for prefix, hyps in outputs.items():
            # The pivot's outputs are scored on the same references, so both share one signature.
            figures, signatures[test.label] = corpus_scores(hyps, test.references, test.tgt, bleu_tokenize)
            row.update({f"{prefix}{name}": value for name, value in figures.items()})
        scores[test.label] = {**row, "n": len(test.sources)}
        logger.info("%s: %s (%d sentences of %s)", test.label,
                    ", ".join(f"{name} {value}" for name, value in row.items()), len(test.sources), test.origin)  # fmt: skip
        if hypotheses:
            _write_hypotheses(Path(hypotheses).expanduser(), test.label, outputs)
    if via and not any("pivot_chrf++" in row for row in scores.values()):
        logger.warning("pivot %s: every direction involves it, so nothing was translated through it", via)
    return scores, signatures


def _check_languages(translator: TextTranslator, tests: Sequence[DirectionData], via: str) -> None:
    """Return nothing; raise the translator's own error for the first language of `tests` (or the pivot) its
    model cannot translate from or into (translators without language conventions are not checked)."""
    conventions = getattr(translator, "conventions", None)
    if conventions is None:
        return
    for test in tests:
        first, last = test.codes
        legs = [(first, via), (via, last)] if via and via not in (test.src, test.tgt) else []
        for src, tgt in [(first, last), *legs]:
            conventions.source_token(src)
            conventions.target_token(tgt)


def training_heldout(folder: str | Path | None) -> list[tuple[str, tuple[str, ...]]]:
    """Return (corpus, held-out id prefixes) of every aligned corpus a model folder's xling.json says went into
    its weights: its own training's (`config.data` of `xling mt train`) and those of the models it was
    fine-tuned from (`base_data`); [] when it records none (no training config, parallel files only, or not
    a folder)."""
    meta = _model_metadata(folder)
    if meta is None:
        return []
    return [
        (str(record["corpus"]), tuple(str(p) for p in record["heldout_prefixes"] if p))
        if isinstance(record["heldout_prefixes"], list) else (str(record["corpus"]), ())
        for record in training_records(meta)
    ]  # fmt: skip


def _model_metadata(folder: str | Path | None) -> dict[str, Any] | None:
    """Return a model folder's xling.json; None when `folder` is none, not a folder or has no readable one."""
    if folder is None or not Path(folder).is_dir():
        return None
    try:
        return read_metadata(folder)
    except XlingError:
        return None


def untrained_directions(folder: str | Path | None, directions: Sequence[str]) -> list[str] | None:
    """Return the `directions` ("src-tgt") a model trained from scratch by `xling mt train` had no training
    pairs of (zero-shot: its xling.json's `directions`); None where that is not known (no such record, or a
    model fine-tuned from another, whose own training is not recorded)."""
    from xling.translation.presets import PRESETS

    meta = _model_metadata(folder)
    if meta is None:
        return None
    trained, config = meta.get("directions"), meta.get("config")
    if not isinstance(trained, dict) or not isinstance(config, dict):
        return None
    if (config.get("model") or "") not in ("", *PRESETS):  # "": the default preset
        return None
    return [label for label in directions if label not in trained]


def _prefixes_trained_on(
    prefixes: list[str], held: tuple[str, ...], tests: Sequence[DirectionData]
) -> list[str]:
    """Return the scored prefixes with a verse the training did not hold out (`held`: its prefixes): judged
    on the verse ids scored, so "JHN" and "JHN." are the same book; on the prefixes when no ids are known."""
    ids = [ident for test in tests for ident in test.ids]
    if not ids:
        return [p for p in prefixes if not p.startswith(held)]
    return [p for p in prefixes if any(i.startswith(p) and not i.startswith(held) for i in ids)]


def _same_corpus(recorded: str, test_folder: Path) -> bool:
    """Return whether a training corpus as a model's config recorded it (a path relative to where training
    ran, or a name) is the test folder: the same resolved folder, or the same folder name (`bible`)."""
    path = Path(recorded).expanduser()
    if path.is_dir() and path.resolve() == Path(test_folder).resolve():
        return True
    return path.name == Path(test_folder).name


def _backend_settings(translator: Any, asked: str) -> dict[str, Any]:
    """Return {"backend": what translated, "backend_asked", and for CTranslate2 "ct2_quantization"}: with
    "auto", a model's int8 conversion is what gets scored, not its own weights, and the result says so."""
    used = getattr(translator, "backend_name", asked)
    settings: dict[str, Any] = {"backend": used, "backend_asked": asked}
    folder = getattr(getattr(translator, "backend", None), "folder", None)
    if used == "ct2" and folder is not None:
        with contextlib.suppress(Exception):  # a conversion without xling.json: the quantization is unknown
            settings["ct2_quantization"] = read_metadata(Path(folder)).get("quantization")
    return settings


def _model_folder(translator: TextTranslator, config: MTEvalConfig) -> Path | None:
    """Return the folder of the model scored: the translator's (a `Translator`), else `config.model`."""
    folder = getattr(translator, "folder", None)
    if folder is not None:
        return Path(folder)
    return Path(config.model).expanduser() if config.model else None


def _write_hypotheses(folder: Path, label: str, outputs: dict[str, list[str]]) -> None:
    """Return nothing after writing one file of translations per output kind, line i for source i; a write
    that fails (disk full, a folder made read-only since the start) is a DataError naming the file."""
    for prefix, hyps in outputs.items():
        path = folder / (f"{label}.pivot.txt" if prefix else f"{label}.txt")
        try:
            with atomic_write(path) as handle:
                # A line break inside an output would shift every later line away from its source.
                handle.writelines(" ".join(h.splitlines()) + "\n" for h in hyps)
        except OSError as error:
            raise DataError(f"cannot write the translations: {error.strerror or error}", path) from error


def _decode_options(translator: TextTranslator, config: MTEvalConfig) -> DecodeOptions:
    """Return the options the test decodes with: config.decode, with the model's own settings (its
    generation_config.json: `Translator.decode_options`) in the fields the recipe, flags or --set left unset."""
    return translator.decode_options(config.decode, given_fields(config, "decode"))


def evaluate_mt(
    translator: TextTranslator,
    config: MTEvalConfig,
    *,
    tests: tuple[str, list[DirectionData]] | None = None,
    show_progress: bool = False,
    on_direction: Callable[[str], object] | None = None,
) -> Result:
    """Return BLEU and chrF++ per direction of `config`'s test set, their mean chrF++ being the average.

    Rows are keyed "src-tgt" and hold bleu, chrf++ and n (and pivot_bleu, pivot_chrf++ with a pivot);
    settings hold the sacrebleu signatures per direction, the decoding options and what was read.
    `tests` is what `load_tests(config)` returned, when the caller read the data before loading the model.
    """
    config.validate()
    started = time.perf_counter()
    data, tests = tests if tests is not None else load_tests(config)
    options = _decode_options(translator, config)
    scores, signatures = score_directions(
        translator, tests, options=options, pivot=config.pivot, bleu_tokenize=config.bleu_tokenize,
        hypotheses=config.hypotheses, show_progress=show_progress, on_direction=on_direction,
    )  # fmt: skip
    average = sum(float(row["chrf++"]) for row in scores.values()) / len(scores)
    settings = {
        "testset": config.testset,
        "directions": list(scores),
        "pivot": normalize_language(config.pivot) if config.pivot else None,
        "max_sentences": config.max_sentences,
        "origins": {test.label: test.origin for test in tests},
        "signatures": signatures,
        "bleu_tokenize": config.bleu_tokenize or "sacrebleu default for the target language",
        "decode": dataclasses.asdict(options),
        **_backend_settings(translator, config.backend),
    }
    # a library call may leave config.model empty: the translator's own name, else its folder
    model = config.model or str(
        getattr(translator, "name", None) or getattr(translator, "folder", None) or "?"
    )
    if config.testset == "bible":
        prefixes = [p for p in config.heldout_prefixes if p]
        settings["heldout_prefixes"] = prefixes
        folder = _model_folder(translator, config)
        recorded = training_heldout(folder)
        # each training that went into the weights (its own, its base's): one that did not hold the book out
        # of this corpus trained on these verses (another corpus: none of them)
        corpus_here = bible_folder(config.data)
        here = [(corpus, held) for corpus, held in recorded if _same_corpus(corpus, corpus_here)]
        seen_by = [(corpus, held, seen) for corpus, held in here
                   if (seen := _prefixes_trained_on(prefixes, held, tests))]  # fmt: skip
        settings["test_seen_in_training"] = bool(seen_by) if recorded else None
        if seen_by:
            corpus, held, seen = seen_by[0]
            logger.warning("the test book (verse ids starting %s) was not held out of the training of %s: a "
                           "training that went into it (its own, or that of a model it was fine-tuned from) "
                           "holds out %s of corpus %s, so these scores are on verses it was trained on",
                           " ".join(seen), config.model or folder, " ".join(held) or "nothing", corpus)  # fmt: skip
    if config.testset == "ntrex":
        settings["variants"] = list(config.variants)
    if pivoted := [row for row in scores.values() if "pivot_chrf++" in row]:
        # direct against through the pivot, over the directions translated both ways
        settings["pivot_average"] = {
            "directions": len(pivoted),
            "chrf++": round(sum(float(row["chrf++"]) for row in pivoted) / len(pivoted), 2),
            "pivot_chrf++": round(sum(float(row["pivot_chrf++"]) for row in pivoted) / len(pivoted), 2),
        }
    if (zero_shot := untrained_directions(_model_folder(translator, config), list(scores))) is not None:
        settings["zero_shot"] = zero_shot
        if zero_shot:
            logger.info("zero-shot (no training pairs of their own): %s", ", ".join(zero_shot))
    return Result(task="mt", model=model, data=data, scores=scores, average=round(average, 2), primary="chrf++",
                  settings=settings, seconds=time.perf_counter() - started)  # fmt: skip
