"""Which evaluations apply to which model kind, and how each runs through the project's own evaluation code.

A task is planned, then run. `plan` is cheap: it finds the test data under the data root and decides what
is scored (languages, directions, sizes); its settings are what the incremental runner compares with the
task's earlier run. A plan that finds no data raises an XlingError, and the runner reports the task as
skipped with that message. `run` returns the shared `xling.evaluation.result.Result`.

Model families (from the folder's xling.json `kind`):

| family | kinds | tasks |
|---|---|---|
| encoder | sentence-encoder/static, sentence-encoder/transformer, masked-lm, plain HF folders (no kind) | tatoeba, ntrex, mining, transfer, fewshot |
| translator | translation | mt-bible, mt-ntrex, mt-tatoeba |
| detector | language-identifier | langid-tatoeba, langid-ntrex, langid-ud |
| mapping | a word-mapping folder (mapping.json) | bli |
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xling.artifacts import (
    CLASSIFIER_FAMILY,
    CT2_KIND,
    LANGUAGE_IDENTIFIER_KIND,
    MASKED_LM_KIND,
    SENTENCE_ENCODER_FAMILY,
    SUPPORT_BOT_KIND,
    TAGGER_FAMILY,
    TRANSLATION_KIND,
    WORD_MAPPING_KIND,
    folder_fingerprint,
)
from xling.data.languages import normalize_language, same_language
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.evaluation.result import Result
from xling.report.config import ReportConfig

__all__ = ["TASKS", "Context", "ModelInfo", "Plan", "TaskSpec", "describe_model", "tasks_for"]

logger = logging.getLogger(__name__)

FAMILIES = {
    TRANSLATION_KIND: "translator",
    LANGUAGE_IDENTIFIER_KIND: "detector",
    WORD_MAPPING_KIND: "mapping",
}
# besides every kind of the sentence-encoder family; "": a plain Hugging Face folder
ENCODER_KINDS = ("", MASKED_LM_KIND)
# what to run instead on the kinds of folder xling makes that a report does not evaluate
OTHER_KINDS = {
    CLASSIFIER_FAMILY: "xling transfer eval",
    TAGGER_FAMILY: "xling tagger eval",
    SUPPORT_BOT_KIND: "xling eval bot",
    CT2_KIND: "xling report on the translation model folder that holds this conversion",
}
# NTREX file tags of another script or region than the language's default file: the benchmark's dedup
NTREX_SCRIPT_TAGS = {"zho-CN": "zho-Hans", "zho-TW": "zho-Hant"}
_REGION = re.compile(r"-(?:[A-Z]{2}|\d{3})$")


@dataclass
class ModelInfo:
    """The model a report is about: where it is, its kind and family, what it was trained on."""

    ref: str
    """The model as the user named it (a folder or a shipped name)."""
    path: Path
    """Its folder."""
    kind: str
    """xling.json `kind` ("sentence-encoder/static", "translation", ...; "word-mapping" for mapping folders)."""
    family: str
    """encoder, translator, detector or mapping: which tasks apply."""
    metadata: dict[str, Any]
    """Its xling.json ({} when it has none)."""
    fingerprint: str
    """sha256 over the folder's file names and contents: a changed model re-runs every task."""

    @property
    def name(self) -> str:
        """Return the name shown in the report (xling.json `name`, else the folder's name)."""
        return str(self.metadata.get("name") or self.path.name)

    @property
    def languages(self) -> list[str] | None:
        """Return the languages the model was trained on (xling.json `languages`); None when it does not say."""
        languages = self.metadata.get("languages")
        return [str(code) for code in languages] if isinstance(languages, list) and languages else None


def describe_model(ref: str, exclude: Path | None = None) -> ModelInfo:
    """Return the ModelInfo of a model folder or shipped name; DataError when there is no such folder.

    `exclude` (the report's output folder) is left out of the fingerprint when it lies inside the model folder.
    """
    from xling.artifacts import read_metadata
    from xling.embeddings.encoder import resolve_model

    path = resolve_model(ref)
    metadata = read_metadata(path)
    kind = WORD_MAPPING_KIND if (path / "mapping.json").is_file() else str(metadata.get("kind") or "")
    family = FAMILIES.get(kind) or _encoder_family(kind, path)
    return ModelInfo(ref=str(ref), path=path, kind=kind or "unknown", family=family, metadata=metadata,
                     fingerprint=model_fingerprint(path, exclude=exclude))  # fmt: skip


def _encoder_family(kind: str, path: Path) -> str:
    """Return "encoder" for the kinds of encoder; raise DataError naming the folder for any other kind (a
    classifier or a bot read as an encoder failed every task and still exited 0)."""
    if kind in ENCODER_KINDS or kind.startswith(f"{SENTENCE_ENCODER_FAMILY}/"):
        return "encoder"
    instead = OTHER_KINDS.get(kind) or OTHER_KINDS.get(kind.split("/")[0])
    hint = f"; use {instead}" if instead else ""
    raise DataError(f"xling report evaluates encoders, translation models, language identifiers and word "
                    f"mappings, not a {kind!r} (xling.json kind){hint}", path)  # fmt: skip


def model_fingerprint(folder: Path, exclude: Path | None = None) -> str:
    """Return the fingerprint of a model folder's files (xling.artifacts.folder_fingerprint), so that any
    change to the weights or the metadata changes it; files under `exclude` (a report folder written inside
    the model folder) are left out."""
    skip: tuple[str, ...] = ()
    if exclude is not None and Path(exclude).resolve().is_relative_to(folder.resolve()):
        skip = Path(exclude).resolve().relative_to(folder.resolve()).parts
    return folder_fingerprint(
        folder, leave_out=lambda relative: bool(skip) and relative.parts[: len(skip)] == skip
    )


@dataclass
class Plan:
    """What one task will score: its settings (compared with an earlier run) and what `run` needs."""

    settings: dict[str, Any]
    """JSON-ready: the data folder, languages, sizes. Equal settings and model: the earlier result stands."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """What `run` needs beyond the settings (not compared, not stored)."""


@dataclass
class Context:
    """What every task shares: the config, the model, and each runtime loaded once."""

    config: ReportConfig
    model: ModelInfo
    loaded: dict[str, Any] = field(default_factory=dict)

    def encoder(self):
        """Return the model as an Encoder (loaded once)."""
        if "encoder" not in self.loaded:
            from xling.embeddings.encoder import Encoder

            self.loaded["encoder"] = Encoder.load(str(self.model.path))
        return self.loaded["encoder"]

    def translator(self):
        """Return the model as a Translator (loaded once)."""
        if "translator" not in self.loaded:
            from xling.translation.translator import Translator

            self.loaded["translator"] = Translator.from_pretrained(str(self.model.path))
        return self.loaded["translator"]

    def detector(self):
        """Return the model as a LanguageIdentifier (loaded once)."""
        if "detector" not in self.loaded:
            from xling.langid.model import LanguageIdentifier

            self.loaded["detector"] = LanguageIdentifier.from_pretrained(self.model.path)
        return self.loaded["detector"]

    def pick(self, available: Sequence[str], yardstick: Sequence[str] = ()) -> list[str]:
        """Return the languages of `available` to score, in its order (see ReportConfig.languages).

        Each language finds its file as everywhere in xling (`_file_codes`): its own code, else the member a
        macrolanguage stands for ("ara" finds "arb"; "zh" finds "cmn", not also "yue" and "wuu"); by default
        the yardstick languages and the model's training languages that the test set has.
        """
        wanted = list(self.config.languages)
        if wanted == ["all"]:
            return list(available)
        if not wanted:
            wanted = [*yardstick, *(self.model.languages or [])]
        chosen = {code: _file_codes(code, available) for code in wanted}
        if self.config.languages and (missing := [code for code, found in chosen.items() if not found]):
            # asked for by name: say so rather than leave it out without a word
            logger.warning("no test data for %s in this task's test set; scored without %s",
                           ", ".join(missing), "them" if len(missing) > 1 else "it")  # fmt: skip
        return [code for code in available if any(code in found for found in chosen.values())]


def _file_codes(code: str, available: Sequence[str]) -> list[str]:
    """Return the codes of `available` that hold language `code`, chosen as `folder_language_code` chooses a
    folder's file: its own, else a macrolanguage's one member there or its default member (zh is cmn, not
    yue or wuu, as `tatoeba_code` reads it); every member there when none is the default (sh: bos, hrv
    and srp); [] when none is there."""
    from xling.data.readers import folder_language_code

    try:
        normal = normalize_language(code)
    except LanguageCodeError:
        return [code] if code in available else []
    try:
        found = folder_language_code(normal, set(available).__contains__, Path(), "this task's test set")
    except DataError:  # several members, none the default: each is the language asked for
        return [other for other in available if _same(code, other)]
    return [found] if found is not None else []


def _file_code_set(codes: Sequence[str], available: Sequence[str]) -> set[str]:
    """Return the codes of `available` that hold any of the languages `codes` (`_file_codes`)."""
    return {found for code in codes for found in _file_codes(code, available)}


def _same(a: str, b: str) -> bool:
    """Return whether two codes name one language; False when either is no known code."""
    try:
        return same_language(a, b)
    except LanguageCodeError:
        return a == b


@dataclass(frozen=True)
class TaskSpec:
    """One task of the report."""

    name: str
    """Its name in `--tasks`, report.json and `--fail-under`."""
    family: str
    """The model family it applies to."""
    title: str
    """The heading of its section in the page."""
    plan: Callable[[Context], Plan]
    run: Callable[[Context, Plan], Result]
    scale: float = 1.0
    """Multiplies the primary metric into points (0-100) for plots and baseline differences."""
    default: bool = True
    """Run when no --tasks are given."""


# --- sentence encoders ----------------------------------------------------------------------------------


def _plan_tatoeba(ctx: Context) -> Plan:
    from xling.evaluation.tatoeba import DEFAULT_LANGUAGES, languages_to_run, tatoeba_folder

    folder = tatoeba_folder(ctx.config.data)
    languages = ctx.pick(languages_to_run(folder, []), [*DEFAULT_LANGUAGES, *ctx.config.probe_languages])
    if not languages:
        raise DataError("none of the languages asked for has Tatoeba files", folder)
    return Plan({"data": str(folder), "languages": languages, "scoring": ctx.config.tatoeba_scoring})


def _run_tatoeba(ctx: Context, plan: Plan) -> Result:
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba

    s = plan.settings
    config = TatoebaConfig(model=ctx.model.ref, data=s["data"], languages=s["languages"], scoring=s["scoring"],
                           batch_size=ctx.config.batch_size)  # fmt: skip
    return evaluate_tatoeba(ctx.encoder(), config)


def ntrex_languages(folder: Path) -> list[str]:
    """Return one code per language with an NTREX reference (file tags without region or script variants)."""
    from xling.translation.testsets import NTREX_SOURCE

    tags = sorted(p.name.split(".")[1] for p in folder.glob("newstest2019-ref.*.txt.gz"))
    codes = dict.fromkeys(tag.split("-")[0] for tag in tags if tag.split("-")[0] != "eng")
    return list(codes) if (folder / NTREX_SOURCE).is_file() else []


def _plan_ntrex(ctx: Context) -> Plan:
    from xling.data.languages import language_code_of
    from xling.evaluation.tatoeba import DEFAULT_LANGUAGES
    from xling.translation.testsets import ntrex_folder

    folder = ntrex_folder(ctx.config.data)
    if ctx.config.languages == ["all"]:
        wanted = ntrex_languages(folder)
    else:  # a model's code (cmn) finds its file (zho-CN) as ntrex_test does
        wanted = ctx.config.languages or [
            *DEFAULT_LANGUAGES,
            *(ctx.model.languages or []),
            *ctx.config.probe_languages,
        ]
    files: dict[Path, str] = {}
    for code in wanted:
        if (language_code_of(code) or code) == "eng":  # the source side of every row (eng-GB too)
            continue
        variant = _ntrex_variant(folder, code)
        if variant is None:  # zh-HK: the Mandarin of another script or region would be scored as its text
            logger.warning("no NTREX reference in the script or region of %s; scored without it", code)
            continue
        path = _ntrex_file(folder, language_code_of(code) or code, [variant] if variant else [])
        if path is not None and path.name.split(".")[1] != "eng":
            # a variant's row is its file tag (zho-TW), which `_run_ntrex` reads back as the variant
            files.setdefault(path, variant or language_code_of(code) or code)
    if not files:
        raise DataError("none of the languages asked for has an NTREX reference", folder)
    return Plan({"data": str(folder), "languages": list(files.values())})


def _ntrex_variant(folder: Path, code: str) -> str | None:
    """Return the NTREX file tag of the script or region `code` names (zh-TW, zh-Hant and zho-TW: zho-TW;
    sr-Latn: srp-Latn), for `ntrex_test`'s `variants`; "" for a code that names neither, or whose language's
    default file has them (zh-Hans: zho-CN) or has no file of that region but is in its script (de-AT), or
    for no language code; None when no file is in its script (zh-HK: Traditional, but only zho-TW is Taiwan's).

    A script is compared with the one a file's region implies (REGION_SCRIPTS: zho-TW is Hant).
    """
    from xling.translation.languages import parse_language
    from xling.translation.testsets import NTREX_TAGS

    try:
        asked = parse_language(code)
    except LanguageCodeError:
        return ""
    if not asked.script and not asked.region:
        return ""
    default = NTREX_TAGS.get(asked.language, asked.language)  # cmn's file is zho-CN: its variants are zho's
    script = _tag_script(asked)
    for path in sorted(folder.glob(f"newstest2019-ref.{default.split('-')[0]}-*.txt.gz")):
        tag = path.name.split(".")[1]
        found = parse_language(tag)
        # a file tagged by script alone (srp-Latn) is every region's: sr-Latn-RS reads it
        region_fits = asked.region is None or found.region in (None, asked.region)
        if region_fits and script in (None, _tag_script(found)):
            return "" if tag == default else tag
    return "" if script in (None, _tag_script(parse_language(default))) else None


def _tag_script(tag: Any) -> str | None:
    """Return the script of a LanguageTag: the one it asks for (`wanted_script`), else its language's one
    script (USUAL_SCRIPTS); None when neither says."""
    from xling.data.languages import USUAL_SCRIPTS
    from xling.translation.languages import wanted_script

    return wanted_script(tag) or USUAL_SCRIPTS.get(tag.language)


def _ntrex_file(folder: Path, code: str, variants: Sequence[str] = ()) -> Path | None:
    """Return the NTREX file of a language (of its variant's file tag in `variants`), None when it has none."""
    from xling.translation.testsets import ntrex_reference

    try:
        return ntrex_reference(folder, code, variants)
    except (XlingError, LanguageCodeError):
        return None


def _run_ntrex(ctx: Context, plan: Plan) -> Result:
    """Return NTREX retrieval accuracy per language (eng source vs the xx reference, as benchmarks/adapt.py);
    a row keyed by a file tag (zho-TW, srp-Latn) reads that variant's reference."""
    import time

    from xling.evaluation.translation_accuracy import ntrex_retrieval

    started = time.perf_counter()
    encoder, batch = ctx.encoder(), ctx.config.batch_size
    scores: dict[str, dict[str, Any]] = {}
    for lang in plan.settings["languages"]:
        score = ntrex_retrieval(encoder, plan.settings["data"], lang, batch_size=batch,
                                variants=[lang] if "-" in lang else [])  # fmt: skip
        scores[lang] = {"src2eng": round(100 * score.src2tgt, 2), "eng2src": round(100 * score.tgt2src, 2),
                        "accuracy": round(100 * score.average, 2), "n": score.n}  # fmt: skip
    average = sum(row["accuracy"] for row in scores.values()) / len(scores)
    return Result(task="ntrex", model=ctx.model.ref, data=plan.settings["data"], scores=scores,
                  average=round(average, 2), primary="accuracy", settings={"scoring": "cosine"},
                  seconds=time.perf_counter() - started)  # fmt: skip


def bible_languages(folder: Path) -> list[str]:
    """Return the language codes of an id-aligned corpus folder (<lang>.tsv or <lang>.tsv.gz)."""
    return sorted({p.name.split(".")[0] for p in folder.glob("*.tsv*")})


def _plan_mining(ctx: Context) -> Plan:
    from xling.evaluation.mining import bible_folder

    folder = bible_folder(ctx.config.data)
    available = bible_languages(folder)
    if "eng" not in available:
        raise DataError("the mining test needs English verses (eng.tsv[.gz])", folder)
    if ctx.config.languages == ["all"]:  # every language the Bible folder has, as for the other tasks
        wanted = [code for code in available if code != "eng"]
        languages = list(wanted)
    else:
        wanted = list(ctx.config.languages) or ctx.config.mining_languages
        chosen = _file_code_set(wanted, available)  # zh: cmn, not also lzh
        languages = [code for code in available if code != "eng" and code in chosen]
    if not languages:
        raise DataError(f"no Bible of {', '.join(wanted) or 'a language other than English'}", folder)
    return Plan({"data": str(folder), "languages": languages, "book": ctx.config.mining_book,
                 "distractors": ctx.config.mining_distractors})  # fmt: skip


def _run_mining(ctx: Context, plan: Plan) -> Result:
    from xling.evaluation.mining import MiningEvalConfig, evaluate_mining_from_config

    s = plan.settings
    config = MiningEvalConfig(model=ctx.model.ref, data=s["data"], languages=s["languages"], book=s["book"],
                              distractors=s["distractors"])  # fmt: skip
    return evaluate_mining_from_config(ctx.encoder(), config)


def umsab_folder(data: str) -> Path:
    """Return the UMSAB folder (sentiment/umsab/ in the data root, or the root itself)."""
    from xling.data.root import data_folder

    return data_folder(data, "sentiment/umsab", "UMSAB folders (<language>/train_text.txt)",
                       lambda folder: any(folder.glob("*/train_text.txt")))  # fmt: skip


def _umsab_plan(ctx: Context, need_train: bool) -> Plan:
    from xling.data.labelled import language_folder, umsab_languages
    from xling.data.languages import language_code_of

    folder = umsab_folder(ctx.config.data)
    # a code as the UMSAB reader takes one (`en`, `eng`), not only the folder's name (`english`)
    source = language_folder(folder, ctx.config.transfer_source)[0].name
    if not (folder / source / "train_text.txt").is_file() or not (folder / source / "val_text.txt").is_file():
        raise DataError(f"no train and val split of the source language {source!r}", folder / source)
    names = [name for name in umsab_languages(folder) if name != source and (folder / name / "test_text.txt").is_file()
             and (not need_train or (folder / name / "train_text.txt").is_file())]  # fmt: skip
    codes = {name: language_code_of(name) or name for name in names}
    # every UMSAB target by default: there are few, and the languages a model never saw are the point
    picked = ctx.pick(list(codes.values())) if ctx.config.languages else list(codes.values())
    targets = [name for name in names if codes[name] in picked]
    if not targets:
        raise DataError("no target language with a test split among the languages asked for", folder)
    return Plan({"data": str(folder), "source": source, "targets": targets})


def _classifier_config(ctx: Context):
    from xling.transfer.config import ClassifierConfig

    return ClassifierConfig(encoder=str(ctx.model.path), method="frozen", batch_size=ctx.config.batch_size)


def _run_transfer(ctx: Context, plan: Plan) -> Result:
    """Return zero-shot transfer with a frozen head trained on the source, adapted to each target from its
    unlabelled train texts (as `xling transfer eval` adapts it), scored on the targets' test splits."""
    from xling.data.labelled import read_umsab
    from xling.transfer.classifier import train_classifier
    from xling.transfer.evaluate import evaluate_transfer

    s = plan.settings
    train, dev = read_umsab(s["data"], s["source"], "train"), read_umsab(s["data"], s["source"], "val")
    tests = {name: read_umsab(s["data"], name, "test") for name in s["targets"]}
    # a target's unlabelled train texts; never its test texts, which are scored (as `xling transfer eval`
    # without --adapt-on-test): a target without a train split is read with the source's statistics
    unlabelled = {test.language or name: read_umsab(s["data"], name, "train").texts
                  for name, test in tests.items() if (Path(s["data"]) / name / "train_text.txt").is_file()}  # fmt: skip
    classifier = train_classifier(
        _classifier_config(ctx), train, dev, encoder=ctx.encoder(), unlabelled=unlabelled
    )
    return evaluate_transfer(classifier, tests, source_lang=s["source"], majority_labels=train.labels,
                             encoder_langs=ctx.model.languages, model=ctx.model.ref, data=s["data"])  # fmt: skip


def _plan_fewshot(ctx: Context) -> Plan:
    plan = _umsab_plan(ctx, need_train=True)
    plan.settings.update(ks=sorted(set(ctx.config.fewshot_ks)), seeds=ctx.config.fewshot_seeds)
    return plan


def _run_fewshot(ctx: Context, plan: Plan) -> Result:
    """Return the few-shot curve: the frozen head retrained with k target examples per class (xling.transfer.fewshot)."""
    from xling.data.labelled import read_umsab
    from xling.embeddings.remembering import RememberingEncoder
    from xling.transfer.classifier import train_classifier
    from xling.transfer.fewshot import fewshot_curve

    s = plan.settings
    train, dev = read_umsab(s["data"], s["source"], "train"), read_umsab(s["data"], s["source"], "val")
    target_train = {name: read_umsab(s["data"], name, "train") for name in s["targets"]}
    tests = {name: read_umsab(s["data"], name, "test") for name in s["targets"]}
    unlabelled = {data.language or name: data.texts for name, data in target_train.items()}
    config, encoder = _classifier_config(ctx), RememberingEncoder(ctx.encoder())  # the same texts, many heads

    def fit(parts, source_dev):
        # adapt only to the language whose examples were added (all of them for the zero-shot head)
        shown = {part.language for part in parts[1:]} or set(unlabelled)
        chosen = {code: texts for code, texts in unlabelled.items() if code in shown}
        return train_classifier(config, parts, source_dev, encoder=encoder, unlabelled=chosen)

    return fewshot_curve(
        fit, train, dev, target_train, tests, ks=s["ks"], seeds=s["seeds"], model=ctx.model.ref
    )


# --- translators ----------------------------------------------------------------------------------------


def _plan_mt(testset: str) -> Callable[[Context], Plan]:
    def plan(ctx: Context) -> Plan:
        from xling.evaluation.mt import MTEvalConfig, load_tests, test_folder

        known = ctx.model.languages
        given = [code for code in ctx.config.languages if code != "all"]
        languages = [code for code in (given or ctx.config.mt_languages)
                     if known is None or any(_same(code, k) for k in known)]  # fmt: skip
        pairs = [f"{a}-{b}" for a in languages for b in languages if a != b]
        if testset == "tatoeba":
            pairs = [pair for pair in pairs if "eng" in pair.split("-")]
        if not pairs:
            raise ConfigError(f"mt-{testset}: no direction between languages the model translates "
                              f"({', '.join(languages) or 'none'})")  # fmt: skip
        kept, data, missing = [], "", []
        for pair in pairs:  # a direction without data is left out, not the whole task
            config = MTEvalConfig(model=ctx.model.ref, testset=testset, data=ctx.config.data, directions=[pair],
                                  max_sentences=ctx.config.mt_max_sentences)  # fmt: skip
            try:
                data, _ = load_tests(config)
            except DataError as error:
                missing.append(f"{pair}: {error}")
                continue
            kept.append(pair)
        if not kept:
            raise DataError(f"mt-{testset}: no direction has test data ({'; '.join(missing[:2])})")
        folder = str(test_folder(MTEvalConfig(model=ctx.model.ref, testset=testset, data=ctx.config.data)))
        return Plan({"testset": testset, "data": data, "data_folder": folder, "data_root": ctx.config.data,
                     "directions": kept, "max_sentences": ctx.config.mt_max_sentences, "beam": ctx.config.mt_beam,
                     "left_out": missing})  # fmt: skip

    return plan


def _run_mt(ctx: Context, plan: Plan) -> Result:
    from xling.evaluation.mt import MTEvalConfig, evaluate_mt
    from xling.translation.decoding import DecodeOptions

    s = plan.settings
    config = MTEvalConfig(model=ctx.model.ref, testset=s["testset"], data=s["data_root"], directions=s["directions"],
                          max_sentences=s["max_sentences"], decode=DecodeOptions(beam_size=s["beam"]))  # fmt: skip
    return evaluate_mt(ctx.translator(), config)


# --- language detectors ---------------------------------------------------------------------------------


def _gold_label(code: str) -> str | None:
    """Return the label a test set's language code is scored against (script kept, region dropped): a
    macrolanguage as the member it stands for in these sets (Tatoeba's `kur` is Kurmanji, NTREX's `msa`
    Malay), so that a sibling's label (Sorani, Indonesian) is no right answer, as in benchmarks/langid.py."""
    from xling.data.languages import default_member
    from xling.langid.labels import Label, try_parse_label

    code = NTREX_SCRIPT_TAGS.get(code, _REGION.sub("", code))
    label = try_parse_label(code)
    if label is None:
        return None
    return str(Label(default_member(label.language), label.script))


def langid_sets(testset: str, folder: Path) -> dict[str, list[Path]]:
    """Return {language key: files} of one language-id test set: tatoeba (the xx side of each pair), ntrex
    (one reference per language and script) or ud (the test treebanks, pooled per language)."""
    if testset == "tatoeba":
        return {p.name.split(".")[1].split("-")[0]: [p] for p in sorted(folder.glob("tatoeba.*-eng.*"))
                if p.name.split(".")[1].split("-")[0] == p.name.split(".")[-1] != "eng"}  # fmt: skip
    if testset == "ntrex":
        from xling.translation.testsets import NTREX_SOURCE

        out: dict[str, list[Path]] = (
            {"eng": [folder / NTREX_SOURCE]} if (folder / NTREX_SOURCE).is_file() else {}
        )
        seen = {_gold_label("eng")}
        paths = sorted(
            folder.glob("newstest2019-ref.*.txt.gz"), key=lambda p: ("-" in p.name.split(".")[1], p.name)
        )
        for path in paths:
            tag = path.name.split(".")[1]
            identity = _gold_label(tag) or tag
            if identity not in seen:
                seen.add(identity)
                out[tag] = [path]
        return out
    pooled: dict[str, list[Path]] = {}
    for path in sorted(folder.glob("*/*-ud-test.conllu*")):
        pooled.setdefault(path.name.split("_")[0], []).append(path)
    return pooled


def _langid_folder(testset: str, data: str) -> Path:
    from xling.data.root import data_folder
    from xling.translation.testsets import ntrex_folder, tatoeba_folder

    if testset == "tatoeba":
        return tatoeba_folder(data)
    if testset == "ntrex":
        return ntrex_folder(data)
    return data_folder(data, "ud", "Universal Dependencies test files (*/*-ud-test.conllu.gz)",
                       lambda folder: any(folder.glob("*/*-ud-test.conllu*")))  # fmt: skip


def _plan_langid(testset: str) -> Callable[[Context], Plan]:
    def plan(ctx: Context) -> Plan:
        folder = _langid_folder(testset, ctx.config.data)
        sets = langid_sets(testset, folder)
        keys = ctx.pick(list(sets), ()) if ctx.config.languages else list(sets)
        if ctx.config.languages and ctx.config.languages != ["all"]:  # region/script tags: by their language
            bases = {key: re.split("[-_]", key)[0] for key in sets}
            chosen = _file_code_set(ctx.config.languages, list(bases.values()))  # zh: not yue
            keys = [key for key in sets if bases[key] in chosen]
        if not keys:
            raise DataError(f"langid-{testset}: none of the languages asked for is in the test set", folder)
        return Plan({"testset": testset, "data": str(folder), "languages": keys, "limit": ctx.config.langid_limit},
                    {"files": {key: [str(p) for p in sets[key]] for key in keys}})  # fmt: skip

    return plan


def _texts(paths: Iterable[str], testset: str, limit: int) -> list[str]:
    """Return the first `limit` non-empty texts of a language's files (UD: its `# text = ` lines)."""
    out: list[str] = []
    for name in paths:
        path = Path(name)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line in handle:
                if testset == "ud":
                    if not line.startswith("# text = "):
                        continue
                    line = line[len("# text = ") :]
                if line.strip():
                    out.append(line.strip())
                if len(out) >= limit:
                    return out
    return out


def _run_langid(ctx: Context, plan: Plan) -> Result:
    """Return per-language accuracy of the detector: a prediction is right when its label names the gold
    language (xling.langid.labels.label_matches: macrolanguage aware, script checked), as benchmarks/langid.py."""
    import time

    from xling.langid.labels import label_matches

    started = time.perf_counter()
    detector, s = ctx.detector(), plan.settings
    scores: dict[str, dict[str, Any]] = {}
    unscored: list[str] = []  # codes no label can name (Tatoeba's collective `ber`, the retired `kzj`)
    for key in s["languages"]:
        gold = _gold_label(key)
        # scored 0 whatever the detector said, and averaged in; benchmarks/langid.py skips them too
        if gold is None:
            unscored.append(key)
            continue
        texts = _texts(plan.inputs["files"][key], s["testset"], s["limit"])
        if not texts:
            continue
        predicted = [row[0].label for row in detector.predict(texts)]
        right = sum(label_matches(label, gold) for label in predicted)
        # as the scoring reads it: a label that may be right for the gold (orm: gax) covers it
        covered = any(label_matches(label, gold) for label in detector.labels)
        scores[key] = {"accuracy": round(100 * right / len(texts), 2), "n": len(texts), "covered": covered}
    if not scores:
        raise DataError(f"langid-{s['testset']}: no text to score", s["data"])
    average = sum(row["accuracy"] for row in scores.values()) / len(scores)
    covered = [row["accuracy"] for row in scores.values() if row["covered"]]
    settings = {"testset": s["testset"], "limit": s["limit"], "labels": len(detector.labels),
                "covered_average": round(sum(covered) / len(covered), 2) if covered else None,
                "not_covered": [key for key, row in scores.items() if not row["covered"]],
                "unscored": unscored}  # fmt: skip
    return Result(task=f"langid-{s['testset']}", model=ctx.model.ref, data=s["data"], scores=scores,
                  average=round(average, 2), primary="accuracy", settings=settings,
                  seconds=time.perf_counter() - started)  # fmt: skip


# --- word mappings --------------------------------------------------------------------------------------


def _plan_bli(ctx: Context) -> Plan:
    c = ctx.config
    missing = [name for name in ("bli_src", "bli_tgt", "bli_dictionary") if not getattr(c, name)]
    if missing:
        raise ConfigError(
            f"bli needs the word vectors and a test dictionary: --set {'=... --set '.join(missing)}=..."
        )
    for name in ("bli_src", "bli_tgt", "bli_dictionary"):
        if not Path(getattr(c, name)).is_file():
            raise DataError(f"{name}: no such file", getattr(c, name))
    from xling.evaluation.bli import BLIConfig

    # the settings are the cache key: a result of another protocol (case-sensitive, before MUSE's became
    # the default) or of another reading of the files is not reused
    return Plan({"src": c.bli_src, "tgt": c.bli_tgt, "dictionary": c.bli_dictionary,
                 "lowercase": BLIConfig().lowercase, "unicode_errors": c.bli_unicode_errors})  # fmt: skip


def _run_bli(ctx: Context, plan: Plan) -> Result:
    from xling.evaluation.bli import BLIConfig, evaluate_bli_from_files

    s = plan.settings
    config = BLIConfig(
        dictionary=s["dictionary"], lowercase=s["lowercase"], unicode_errors=s["unicode_errors"]
    )
    return evaluate_bli_from_files(s["src"], s["tgt"], ctx.model.path, config)


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("tatoeba", "encoder", "Tatoeba retrieval (xx ↔ eng)", _plan_tatoeba, _run_tatoeba),
    TaskSpec("ntrex", "encoder", "NTREX retrieval (news, xx ↔ eng)", _plan_ntrex, _run_ntrex),
    TaskSpec("mining", "encoder", "Bible mining (held-out book among distractors), F1", _plan_mining, _run_mining,
             scale=100.0),
    TaskSpec("transfer", "encoder", "Zero-shot sentiment transfer (UMSAB, frozen head), macro-F1",
             lambda ctx: _umsab_plan(ctx, need_train=False), _run_transfer),
    TaskSpec("fewshot", "encoder", "Few-shot sentiment transfer (UMSAB), macro-F1", _plan_fewshot, _run_fewshot),
    TaskSpec("mt-bible", "translator", "MT on the held-out Bible book, chrF++", _plan_mt("bible"), _run_mt),
    TaskSpec("mt-ntrex", "translator", "MT on NTREX news, chrF++", _plan_mt("ntrex"), _run_mt),
    TaskSpec("mt-tatoeba", "translator", "MT on Tatoeba pairs, chrF++", _plan_mt("tatoeba"), _run_mt),
    TaskSpec("langid-tatoeba", "detector", "Language id on Tatoeba sentences", _plan_langid("tatoeba"), _run_langid),
    TaskSpec("langid-ntrex", "detector", "Language id on NTREX news", _plan_langid("ntrex"), _run_langid),
    TaskSpec("langid-ud", "detector", "Language id on UD test sentences", _plan_langid("ud"), _run_langid),
    TaskSpec("bli", "mapping", "Bilingual lexicon induction, P@1", _plan_bli, _run_bli),
)}  # fmt: skip


def tasks_for(model: ModelInfo, names: Sequence[str] = ()) -> list[TaskSpec]:
    """Return the tasks to run for `model`: `names` (checked to apply to its kind), or all its default ones."""
    if not names:
        return [spec for spec in TASKS.values() if spec.family == model.family and spec.default]
    out = []
    for name in names:
        spec = TASKS.get(name)
        if spec is None:
            raise ConfigError(f"tasks: unknown task {name!r} (known: {', '.join(TASKS)})")
        if spec.family != model.family:
            fitting = ", ".join(s.name for s in TASKS.values() if s.family == model.family)
            raise ConfigError(
                f"tasks: {name} does not apply to {model.ref} (kind {model.kind}); its tasks: {fitting}"
            )
        out.append(spec)
    return out


DATA_SETTINGS = ("data", "data_folder", "dictionary", "src", "tgt")
"""Settings that name the files a task reads: their contents' stamp is part of the settings key."""


@functools.cache
def code_fingerprint() -> str:
    """Return a short hash of the xling package's Python sources: an earlier result stands only for the same
    evaluation code (a fixed scorer must not leave its old figures served as cached; the version number does
    not move with each fix)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def settings_key(spec: TaskSpec, plan: Plan) -> str:
    """Return a short hash of a task's settings, of the data they name and of xling's code (what decides
    whether an earlier run still stands): test files edited, added or removed in place, or another xling, run
    the task again."""
    stamps = {name: data_stamp(Path(plan.settings[name])) for name in DATA_SETTINGS
              if isinstance(plan.settings.get(name), str) and Path(plan.settings[name]).exists()}  # fmt: skip
    for name in list(stamps):  # word vectors as NAME.npy read their words from NAME.vocab.txt beside it
        if plan.settings[name].endswith(".npy"):
            from xling.vectors.formats import vocab_path

            words = vocab_path(plan.settings[name])
            if words.is_file():
                stamps[f"{name}_vocabulary"] = data_stamp(words)
    text = json.dumps(
        {"task": spec.name, "settings": plan.settings, "data": stamps, "code": code_fingerprint()},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_stamp(path: Path) -> str:
    """Return a hash over the relative name, size and modification time of every file under `path` (or of the
    file): cheap on a large data folder, where hashing contents as `folder_fingerprint` does would cost a
    read of every test set on each report run."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    digest = hashlib.sha256()
    for file in files:
        status = file.stat()
        name = file.relative_to(path) if path.is_dir() else file.name
        digest.update(f"{name}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
