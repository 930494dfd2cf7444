"""The incremental report runner: each task planned, run (or taken from the folder), written as it finishes.

Layout of the output folder:

    DIR/tasks/<task>.json   one per task, written atomically when it finishes: status, reason, seconds,
                            the model fingerprint, the settings and their key, and the Result
    DIR/report.json         every task's Result, the model's xling.json, versions, machine, seconds
                            (a figure that is not a number written as null)
    DIR/report.html         one self-contained page (xling.report.html)

A task whose file holds a result for the same model fingerprint, settings and test files (their names, sizes
and modification times) is not run again (`force` re-runs it); a killed report so resumes after the last task
it finished. A task that finds no data is `skipped` with the reason (and tried again next time).

`--fail-under` guards (`parse_guard`): `TASK:METRIC=VALUE` or `TASK:METRIC@LANG=VALUE`, e.g.
`tatoeba:accuracy=50` (the task's average of its primary metric), `tatoeba:accuracy@deu=70` (one language),
`mining:f1=0.8` (values in the units report.json holds: mining's F1 is a fraction). METRIC is the task's
primary metric or `average` for the average; another metric of the rows is averaged over them. A figure
below VALUE or NaN, or a task not measured, fails the guard.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import platform
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from xling.artifacts import read_json_file
from xling.atomic import atomic_write, same_path, write_json_atomically
from xling.data.sources import HeldOut
from xling.errors import ConfigError, DataError, XlingError
from xling.evaluation.result import Result
from xling.report.config import ReportConfig
from xling.report.tasks import TASKS, Context, ModelInfo, describe_model, settings_key, tasks_for

__all__ = [
    "FORMAT",
    "Guard",
    "ReportOutcome",
    "TaskOutcome",
    "check_guards",
    "compare",
    "parse_guard",
    "run_report",
]

logger = logging.getLogger(__name__)

FORMAT = 1
Progress = Callable[[str, "TaskOutcome | None"], object]


@dataclass
class TaskOutcome:
    """What became of one task."""

    task: str
    status: str
    """done (run now), cached (an earlier run for the same model and settings), skipped (nothing to run it
    on: `reason`), failed (it broke on its data: `reason`; the command then exits 1)."""
    reason: str = ""
    seconds: float = 0.0
    result: Result | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as report.json holds it."""
        return {"status": self.status, "reason": self.reason, "seconds": round(self.seconds, 3),
                "settings": self.settings, "result": self.result.to_dict() if self.result else None}  # fmt: skip


@dataclass
class ReportOutcome:
    """What `run_report` wrote and found."""

    folder: Path
    report: dict[str, Any]
    """The content of report.json."""
    tasks: list[TaskOutcome]
    failures: list[str]
    """One line per `fail_under` guard that failed (empty: all passed)."""

    @property
    def json_path(self) -> Path:
        return self.folder / "report.json"

    @property
    def html_path(self) -> Path:
        return self.folder / "report.html"


def run_report(config: ReportConfig, *, progress: Progress | None = None) -> ReportOutcome:
    """Return what was written after running (or reusing) every task of `config` into `config.output`.

    `progress(task, None)` is called before a task starts and `progress(task, outcome)` when it is done.
    """
    config.validate()
    guards = [parse_guard(text) for text in config.fail_under]
    # a report written inside the model folder is no part of the model: left out of its fingerprint
    model = describe_model(config.model, exclude=Path(config.output))
    specs = tasks_for(model, config.tasks)
    baseline = load_baseline(config.baseline) if config.baseline else None
    folder = Path(config.output)
    _check_report_folder(folder, model, config.force)
    (folder / "tasks").mkdir(parents=True, exist_ok=True)
    context = Context(config, model)
    outcomes = []
    for spec in specs:
        if progress:
            progress(spec.name, None)
        outcome = _run_task(context, spec, folder / "tasks" / f"{spec.name}.json")
        outcomes.append(outcome)
        if progress:
            progress(spec.name, outcome)
    report = build_report(config, model, outcomes, baseline)
    write_json_atomically(folder / "report.json", json_ready(report))
    from xling.report.html import render_html

    with atomic_write(folder / "report.html") as handle:
        handle.write(render_html(report))
    return ReportOutcome(folder, report, outcomes, check_guards(report, guards))


def _check_report_folder(folder: Path, model: Any, force: bool) -> None:
    """Return nothing when `folder` may hold the report of `model` (a described model): missing, empty, or
    an earlier report of that model, by its path or its files' fingerprint (whose task results are reused;
    with `force`, of any model); XlingError naming it otherwise, before any task runs (a report rewrites
    report.html and report.json there)."""
    if folder.exists() and not folder.is_dir():
        raise XlingError(f"{folder}: a file is there, not a report folder")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not ((folder / "report.json").is_file() or (folder / "tasks").is_dir()):
        raise XlingError(f"{folder}: holds files that are not a report; choose another output folder")
    try:
        earlier = json.loads((folder / "report.json").read_text(encoding="utf-8")).get("model")
    except (OSError, ValueError, AttributeError):  # no readable report.json: its tasks alone are checked
        earlier = None
    other = earlier.get("path") if isinstance(earlier, dict) else None
    same = isinstance(earlier, dict) and earlier.get("fingerprint") == model.fingerprint
    if isinstance(other, str) and not force and not same and not same_path(other, model.path):
        raise XlingError(f"{folder}: holds the report of another model ({other}); choose another output "
                         "folder, or pass force (--force) to replace it")  # fmt: skip


def _run_task(context: Context, spec, path: Path) -> TaskOutcome:
    """Return the outcome of one task: its earlier result when it still stands, else a fresh run (written)."""
    model = context.model
    try:
        plan = spec.plan(context)
    except XlingError as error:
        return _skipped(spec.name, str(error), path, model)
    key = settings_key(spec, plan)
    earlier, earlier_result = _read_task(path)
    if (not context.config.force and earlier.get("status") in ("done", "cached") and earlier_result is not None
            and earlier.get("fingerprint") == model.fingerprint and earlier.get("settings_key") == key):  # fmt: skip
        return TaskOutcome(spec.name, "cached", seconds=float(earlier.get("seconds") or 0.0),
                           result=earlier_result, settings=plan.settings)  # fmt: skip
    started = time.perf_counter()
    try:
        result = spec.run(context, plan)
    except XlingError as error:  # planned and its data found, yet it broke (a bad line): not a skip
        return _skipped(spec.name, str(error), path, model, status="failed")
    outcome = TaskOutcome(spec.name, "done", seconds=time.perf_counter() - started, result=result,
                          settings=plan.settings)  # fmt: skip
    write_json_atomically(path, {**outcome.to_dict(), "task": spec.name, "fingerprint": model.fingerprint,
                                 "settings_key": key})  # fmt: skip
    return outcome


def _skipped(task: str, reason: str, path: Path, model: ModelInfo, status: str = "skipped") -> TaskOutcome:
    """Return a skipped (nothing to run it on) or failed (it broke) outcome, its reason logged and written (a
    later run tries the task again)."""
    (logger.info if status == "skipped" else logger.warning)("%s %s: %s", task, status, reason)
    outcome = TaskOutcome(task, status, reason=reason)
    write_json_atomically(path, {**outcome.to_dict(), "task": task, "fingerprint": model.fingerprint})
    return outcome


def _read_task(path: Path) -> tuple[dict[str, Any], Result | None]:
    """Return a task file's content and its result (None: it has none); ({}, None) when it is missing or
    unreadable, its result included (the task then runs again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, None
    if not isinstance(data, dict) or not isinstance(data.get("result"), dict | None):
        return {}, None
    if data["result"] is None:
        return data, None
    try:  # a damaged result (a field missing or of the wrong type) is unreadable too
        return data, Result.from_dict(data["result"], str(path))
    except (XlingError, TypeError, ValueError, AttributeError, KeyError):
        return {}, None


def load_baseline(path: str) -> dict[str, Any]:
    """Return an earlier report.json (a file or its folder); DataError when it is not one."""
    file = Path(path)
    file = file / "report.json" if file.is_dir() else file
    data = read_json_file(file, missing="no such baseline report (give an earlier report.json or its folder)")
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), dict):
        raise DataError("not a report.json of xling report (no tasks)", file)
    data["path"] = str(file)
    return data


def build_report(config: ReportConfig, model: ModelInfo, outcomes: list[TaskOutcome],
                 baseline: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    """Return the content of report.json."""
    tasks = {outcome.task: outcome.to_dict() for outcome in outcomes}
    report: dict[str, Any] = {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": {
            "ref": model.ref,
            "name": model.name,
            "path": str(Path(model.path).resolve()),  # absolute: compared from any working folder
            "kind": model.kind,
            "family": model.family,
            "fingerprint": model.fingerprint,
            "languages": model.languages,
        },
        "xling_json": model.metadata,
        "config": asdict(config),
        "tasks": tasks,
        "results": [outcome.result.to_dict() for outcome in outcomes if outcome.result is not None],
        "seconds": {outcome.task: round(outcome.seconds, 3) for outcome in outcomes},
        "versions": versions(),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "scales": {name: spec.scale for name, spec in TASKS.items()},
        "titles": {name: spec.title for name, spec in TASKS.items()},
        "training_data": training_data(config, model, outcomes),
    }
    if baseline is not None:
        report["baseline"] = {"path": baseline["path"], "model": baseline.get("model"),
                              "created": baseline.get("created"), "threshold": config.regression,
                              "tasks": compare(report, baseline, config.regression)}  # fmt: skip
    return report


def json_ready(value: Any) -> Any:
    """Return `value` with every NaN or infinite float replaced by None, so that report.json is JSON (null, as
    xling's other outputs write a figure that is not a number) rather than Python's bare NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(item) for item in value]
    return value


def versions() -> dict[str, str | None]:
    """Return the versions of xling, torch, numpy, sacrebleu, matplotlib and Python."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for package in ("xling", "torch", "numpy", "sacrebleu", "matplotlib"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def training_data(config: ReportConfig, model: ModelInfo, outcomes: list[TaskOutcome]) -> dict[str, Any]:
    """Return {"source", "counts": {language: training sentences}} of an encoder trained on the Bible (verses
    outside its held-out prefixes and its `heldout_fraction`'s hashed share, as `HeldOut` holds them out,
    counted in the data root's bible/ folder, for the scored languages among the model's `languages`), or
    {"note"} saying why not. The corpus and held-out settings are read from the top of the model's recorded
    config or, for `xling pretrain` models, from its `data` section."""
    if model.family != "encoder":
        return {"note": "only sentence encoders are plotted against their training data"}
    trained = model.metadata.get("config") or {}
    trained = trained if isinstance(trained, dict) else {}
    # `xling pretrain` keeps its corpus and held-out prefixes under config.data; the vector trainers at the top
    section = trained.get("data") if isinstance(trained.get("data"), dict) else {}
    named = trained.get("data") if isinstance(trained.get("data"), str) else ""
    corpus = str(trained.get("corpus") or section.get("corpus") or named)
    if "bible" not in corpus.lower():
        return {"note": f"the model's xling.json names no Bible corpus (corpus: {corpus or 'not recorded'}), "
                        "so its training data per language is not known"}  # fmt: skip
    from xling.evaluation.mining import bible_folder

    try:
        folder = bible_folder(config.data)
    except DataError as error:
        return {"note": f"no Bible folder to count the training verses in: {error}"}
    wanted = {
        key
        for o in outcomes
        if o.result is not None and o.task in ("tatoeba", "ntrex")
        for key in o.result.scores
    }
    from xling.report.tasks import _same, bible_languages

    held_out = tuple(trained.get("heldout_prefixes") or section.get("heldout_prefixes") or ())
    fraction = trained.get("heldout_fraction") or section.get("heldout_fraction") or 0.0
    # the membership the training used: held-out prefixes and the hashed share of `heldout_fraction`
    held = HeldOut(held_out, float(fraction) if isinstance(fraction, int | float) else 0.0)
    # only the languages the model trained on (xling.json `languages`) had Bible verses in its training data
    if model.languages is not None:
        wanted = {lang for lang in wanted if any(_same(lang, code) for code in model.languages)}
    counts = {}
    bibles = bible_languages(folder)
    for lang in sorted(wanted):
        # Tatoeba's lvs is the Bible's lav: an exact code first, else the macrolanguage's
        code = lang if lang in bibles else next((b for b in bibles if _same(lang, b)), None)
        path = next((p for p in (folder / f"{code}.tsv.gz", folder / f"{code}.tsv") if p.is_file()), None) \
            if code else None  # fmt: skip
        if path is not None:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                counts[lang] = sum(
                    1 for line in handle if line.strip() and line.split("\t", 1)[0] not in held
                )
    share = f" and {held.fraction:.0%} of the verses by hash" if held.fraction > 0 else ""
    return {
        "source": f"{folder} (verses outside {', '.join(held_out) or 'no held-out book'}{share})",
        "counts": counts,
    }


def _points(result: dict[str, Any], scale: float) -> dict[str, float]:
    """Return {row: primary metric in points} of a Result dict (rows without a number left out)."""
    out = {}
    for key, row in result["scores"].items():
        value = row.get(result["primary"]) if isinstance(row, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = float(value) * scale
    return out


def compare(report: dict[str, Any], baseline: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Return, per task in both reports, each language's primary metric now and before (points), the
    difference, and whether it dropped by more than `threshold` points (a regression); the averages over the
    rows both reports have. A task whose settings differ (another scoring, sentence count...: the task's
    scalar settings) is compared with no regression flagged, its `settings_differ` saying what changed."""
    out: dict[str, Any] = {}
    for task, entry in report["tasks"].items():
        old = baseline["tasks"].get(task) or {}
        before = old.get("result")
        if entry.get("result") is None or before is None:
            continue
        scale = report["scales"].get(task, 1.0)
        now, then = _points(entry["result"], scale), _points(before, scale)
        shared = [key for key in now if key in then]
        if not shared:
            continue
        # the result's settings that define what it measures, and the task's own (mining's distractors and
        # book: a result records only some; 200 against 3,000 distractors read as a 7.55-point regression)
        differ = {**_differing(entry["result"].get("settings") or {}, before.get("settings") or {},
                               TEST_SETTINGS.__contains__),
                  **_differing(entry.get("settings") or {}, old.get("settings") or {},
                               lambda key: key not in PLAN_PLACES)}  # fmt: skip
        rows = {}
        for key in shared:
            diff = now[key] - then[key]
            rows[key] = {"now": round(now[key], 2), "before": round(then[key], 2), "diff": round(diff, 2),
                         "regression": diff < -threshold and not differ}  # fmt: skip
        out[task] = {"rows": rows, "average_now": round(sum(now[k] for k in shared) / len(shared), 2),
                     "average_before": round(sum(then[k] for k in shared) / len(shared), 2),
                     "regressions": [key for key, row in rows.items() if row["regression"]],
                     "settings_differ": differ}  # fmt: skip
    return out


# settings that define what a task measures (its scoring, test size...): two results that differ in one are
# not comparable. Not the runtime's (a CTranslate2 int8 run against a PyTorch one is the comparison a baseline
# is for), nor figures a task keeps beside its scores (langid's covered_average, its label count)
TEST_SETTINGS = frozenset({"scoring", "k", "margin", "mode", "testset", "limit", "max_sentences", "pivot",
                           "bleu_tokenize", "retrieval", "hub_vocab", "lowercase", "isf_beta", "precision_over",
                           "ks", "seeds"})  # fmt: skip
# a task's own settings (report.json's `settings` beside its result) that say where its data is or which rows
# it has, not what a row measures: the rows both reports have are compared whatever these are
PLAN_PLACES = frozenset({"data", "data_folder", "data_root", "languages", "targets"})


def _differing(
    now: dict[str, Any], before: dict[str, Any], counts: Callable[[str], bool]
) -> dict[str, list[Any]]:
    """Return {setting: [before, now]} for the settings `counts` keeps that both record and that differ."""
    return {key: [before[key], value] for key, value in now.items()
            if counts(key) and key in before and before[key] != value}  # fmt: skip


@dataclass(frozen=True)
class Guard:
    """One `--fail-under` figure: TASK:METRIC[@LANG]=VALUE."""

    task: str
    metric: str
    language: str | None
    value: float
    text: str


def parse_guard(text: str) -> Guard:
    """Return the Guard of `TASK:METRIC=VALUE` or `TASK:METRIC@LANG=VALUE`; ConfigError naming the text."""
    head, sep, number = str(text).rpartition("=")
    task, colon, metric = head.partition(":")
    # a metric's own name may hold "@" (bli's p@1, p@5): "@LANG" is the part after one not followed by digits
    found = re.fullmatch(r"(?P<metric>[^@]*(?:@\d+)?)(?:(?P<at>@)(?P<language>.*))?", metric)
    metric, at, language = (
        (found["metric"], found["at"] or "", found["language"] or "") if found else (metric, "", "")
    )
    try:
        value = float(number)
    except ValueError:
        value = None
    if (
        not sep
        or not colon
        or not task.strip()
        or not metric.strip()
        or value is None
        or (at and not language)
    ):
        raise ConfigError(f"fail_under: {text!r} is not TASK:METRIC=VALUE (e.g. tatoeba:accuracy=50, "
                          "or tatoeba:accuracy@deu=70 for one language)")  # fmt: skip
    if not math.isfinite(value):
        raise ConfigError(f"fail_under (--fail-under) {text!r}: the threshold is not a finite number ({value}); give a "
                          "figure such as tatoeba:accuracy=50")  # fmt: skip
    if task.strip() not in TASKS:
        raise ConfigError(f"fail_under: {text!r}: unknown task {task.strip()!r} (known: {', '.join(TASKS)})")
    return Guard(task.strip(), metric.strip(), language.strip() or None, value, str(text))


def guard_value(report: dict[str, Any], guard: Guard) -> float | None:
    """Return the figure a guard checks in a report (None when the task or the figure is not there)."""
    entry = report["tasks"].get(guard.task) or {}
    result = entry.get("result")
    if result is None:
        return None
    rows = result["scores"]
    if guard.language is not None:
        value = (_row_of(rows, guard.language) or {}).get(
            result["primary"] if guard.metric == "average" else guard.metric
        )
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if guard.metric in ("average", result["primary"]):
        return float(result["average"])
    values = [row.get(guard.metric) for row in rows.values() if isinstance(row, dict)]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return sum(numbers) / len(numbers) if numbers else None


def _row_of(rows: dict[str, Any], language: str) -> dict[str, Any] | None:
    """Return the row of `language`: the row of that exact key, else the row the tasks read for it (a
    macrolanguage's default member), else the one whose language (its `language` field, or its key as a code
    or an English name: transfer's "german") is the same in any code form (`de`, `deu`, `german`); None when
    there is none."""
    if isinstance(rows.get(language), dict):
        return rows[language]
    from xling.data.languages import language_code_of
    from xling.report.tasks import _file_codes, _same

    # a macrolanguage is the member the tasks read for it (ms: zsm, not ind; no: nob, not nno)
    keys = [key for key, row in rows.items() if isinstance(row, dict)]
    found = _file_codes(language, keys)
    if len(found) == 1:
        return rows[found[0]]
    if not found and all(_is_language_code(key) for key in keys):
        # rows keyed by codes hold no file the tasks would read for it: a looser match would read another
        # language's row (ckb, Sorani, got Tatoeba's kur, which is Kurmanji; ary got ara)
        return None

    wanted = language_code_of(language)
    if wanted is None:
        return None
    for key, row in rows.items():
        if not isinstance(row, dict):
            continue
        code = row.get("language") if isinstance(row.get("language"), str) else None
        code = code or language_code_of(key)
        if code is not None and _same(code, wanted):
            return row
    return None


def _is_language_code(key: str) -> bool:
    """Return whether a row's key is a language code (Tatoeba's `kur`, NTREX's `srp-Latn`), not a name
    (transfer's `german`)."""
    from xling.data.languages import normalize_language
    from xling.errors import LanguageCodeError

    try:
        normalize_language(key)
    except LanguageCodeError:
        return False
    return True


def check_guards(report: dict[str, Any], guards: list[Guard]) -> list[str]:
    """Return one line per guard whose figure is below its value, is NaN, or was not measured."""
    failures = []
    for guard in guards:
        value = guard_value(report, guard)
        where = f"{guard.task} {guard.metric}" + (f" for {guard.language}" if guard.language else "")
        if value is None:
            failures.append(f"{guard.text}: {where} was not measured ({_unmeasured_reason(report, guard)})")
        elif math.isnan(value):  # every comparison with NaN is false: it would pass any threshold
            failures.append(f"{guard.text}: {where} is NaN (not a number), which fails every threshold")
        elif value < guard.value:
            failures.append(f"{guard.text}: {where} is {value:g}, below {guard.value:g}")
    return failures


def _unmeasured_reason(report: dict[str, Any], guard: Guard) -> str:
    """Return why a guard found no figure: the task's reason for not running, or what the task did measure."""
    entry = report["tasks"].get(guard.task) or {}
    result = entry.get("result")
    if result is None:
        return entry.get("reason") or "the task was not run"
    rows = {key: row for key, row in result["scores"].items() if isinstance(row, dict)}
    if guard.language is not None and _row_of(rows, guard.language) is None:
        return f"the task ran; its languages: {', '.join(rows)}"
    metrics = sorted({name for row in rows.values() for name in row} | {"average"})
    return f"the task ran; its metrics: {', '.join(metrics)}"
