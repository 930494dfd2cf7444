"""Cross-lingual transfer evaluation: one classifier trained in a source language, scored in all the others.

`evaluate_transfer` returns the shared `Result` (task "transfer"): one row per target language with its
zero-shot macro-F1 and accuracy, the majority-class baseline, the in-language upper bound and the transfer gap
(in-language minus zero-shot, as XTREME reports it) when in-language classifiers are given, and whether the
encoder saw the language in training (read from the encoder's xling.json `languages`; a language it never
saw is marked, not hidden: True / False, or None when the encoder does not say). `average` is the zero-shot
macro-F1 averaged over the target languages (the source language, when it is among the test sets, is scored
under `settings["source"]` and is not part of the average). `render_transfer` prints it as a table.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from xling.data.languages import language_code_of, normalize_language, same_language
from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.evaluation.result import Result
from xling.transfer.metrics import classification_scores, majority_scores

__all__ = ["encoder_languages", "evaluate_transfer", "language_code", "render_transfer"]


def language_code(name: str, data: Any = None) -> str | None:
    """Return the ISO 639-3 code of a test set's key ("arabic", "ar", "ara"), or the one its data carries."""
    return getattr(data, "language", None) or language_code_of(name)


def check_source(name: str, code: str | None, test_sets: Mapping[str, Any], field: str) -> None:
    """Return nothing if a zero-shot evaluation's source language `name` (its ISO code `code`, None when it
    names none) is a language or a test set's key; else a ConfigError naming `field`: a typo would count the
    source language among the zero-shot ones."""
    if code is None and name not in test_sets:
        raise ConfigError(f"{field}: {name!r} is no language code or name (e.g. en, eng, english) and no test "
                          f"set's key ({', '.join(test_sets)})")  # fmt: skip


def encoder_languages(encoder: Any) -> list[str] | None:
    """Return the languages an encoder was trained on, from its xling.json `languages`; None if unknown.

    `encoder` is a folder, a shipped model name (`xling-mini`), or an object with a `name` or `folder`. Plain
    Hugging Face encoders (XLM-R, mBERT) have no such list here: None, shown as "unknown", never as covered.
    """
    from xling.artifacts import has_metadata, read_metadata
    from xling.embeddings.encoder import resolve_model

    if encoder is None:
        return None
    if not isinstance(encoder, str | Path):
        encoder = getattr(encoder, "folder", None) or getattr(encoder, "name", None)
        if encoder is None:
            return None
    try:
        folder = resolve_model(encoder)
    except XlingError:
        return None
    if not has_metadata(folder):
        return None
    languages = read_metadata(folder).get("languages")
    return [str(code) for code in languages] if isinstance(languages, list) and languages else None


def _classifier_encoder(classifier: Any) -> Any:
    """Return what names the encoder under a classifier (its `encoder` field, config or attribute)."""
    for holder in (classifier, getattr(classifier, "config", None)):
        for name in ("encoder_ref", "encoder_name", "encoder"):
            value = getattr(holder, name, None) if holder is not None else None
            if value:
                return value
    return None


def _languages_encoder(classifier: Any) -> Any:
    """Return the encoder whose languages a classifier's vectors know: its encoder, or the one a fine-tuned
    classifier (which names it in its metadata only) was fine-tuned from."""
    metadata = getattr(classifier, "metadata", None)
    fine_tuned_from = metadata.get("encoder") if isinstance(metadata, dict) else None
    return _classifier_encoder(classifier) or fine_tuned_from or None


def _covered(code: str | None, languages: Sequence[str] | None) -> bool | None:
    if code is None or languages is None:
        return None
    for seen in languages:
        try:
            if same_language(code, seen):
                return True
        except LanguageCodeError:
            continue
    return False


def _predict(classifier: Any, data: Any, code: str | None) -> list[str]:
    """Return the classifier's labels for `data.texts`; one with `for_language` is first told the language
    (pipelines that adapt to the target language, e.g. per-language centring, need it)."""
    if code is not None and hasattr(classifier, "for_language"):
        classifier = classifier.for_language(code)
    predicted = list(classifier.predict(list(data.texts)))
    if len(predicted) != len(data.texts):
        raise DataError(f"the classifier returned {len(predicted)} labels for {len(data.texts)} texts",
                        data.source)  # fmt: skip
    return [str(label) for label in predicted]


def evaluate_transfer(
    classifier: Any,
    test_sets: Mapping[str, Any],
    *,
    source_lang: str,
    in_language: Mapping[str, Any] | None = None,
    encoder_langs: Iterable[str] | None = None,
    majority_labels: Sequence[str] | None = None,
    model: str | None = None,
    data: str | None = None,
) -> Result:
    """Return the zero-shot transfer Result of `classifier` (trained on `source_lang`) on `test_sets`.

    test_sets: language (folder name or code) -> LabelledTexts of its test split; the source language may be
        among them (scored, but outside the zero-shot average).
    in_language: language -> a classifier trained on that language's own train split (the upper bound);
        each row then has `in_language_f1`, `in_language_accuracy`, `gap` (in-language minus zero-shot
        macro-F1) and `ratio` (zero-shot / in-language).
    encoder_langs: the encoder's training languages; None: read from the xling.json of the classifier's
        encoder (`classifier.encoder` or `classifier.config.encoder`), or unknown.
    majority_labels: the source training labels; their most frequent class (ties: first in sorted order)
        is the majority baseline. None: the classifier's first label in sorted order stands in for it.
    """
    started = time.perf_counter()
    labels = [str(label) for label in classifier.labels]
    source_code = language_code(source_lang)
    check_source(source_lang, source_code, test_sets, "source_lang")
    sources = _source_sets(test_sets, source_lang, source_code)
    targets = {lang: sets for lang, sets in test_sets.items() if lang not in sources}
    if not targets:
        raise ConfigError(f"test_sets: no target language besides the source language {source_lang!r}")
    for lang in in_language or {}:
        if lang not in test_sets:
            raise ConfigError(f"in_language: {lang!r} has no test set (test sets: {', '.join(test_sets)})")
    languages = (
        list(encoder_langs)
        if encoder_langs is not None
        else encoder_languages(_languages_encoder(classifier))
    )
    baseline = list(majority_labels) if majority_labels else [sorted(labels)[0]]

    def score(lang: str, sets: Any) -> dict[str, Any]:
        code = language_code(lang, sets)
        row = classification_scores(sets.labels, _predict(classifier, sets, code), labels, source=sets.source,
                                    lines=getattr(sets, "lines", None))  # fmt: skip
        majority = majority_scores(baseline, sets.labels, source=sets.source)
        row.update({"majority_f1": majority["macro_f1"], "majority_accuracy": majority["accuracy"],
                    "covered": _covered(code, languages), "language": code})  # fmt: skip
        own = (in_language or {}).get(lang)
        if own is not None:
            upper = classification_scores(sets.labels, _predict(own, sets, code), [str(x) for x in own.labels],
                                          source=sets.source, lines=getattr(sets, "lines", None))  # fmt: skip
            row.update({"in_language_f1": upper["macro_f1"], "in_language_accuracy": upper["accuracy"],
                        "gap": round(upper["macro_f1"] - row["macro_f1"], 2),
                        "ratio": round(row["macro_f1"] / upper["macro_f1"], 3) if upper["macro_f1"] else None})  # fmt: skip
        return row

    scores = {lang: score(lang, sets) for lang, sets in targets.items()}
    settings: dict[str, Any] = {
        "source_language": source_lang,
        "labels": labels,
        "majority_label": majority_scores(baseline, baseline)["label"],
        "encoder_languages_known": languages is not None,
        "not_seen_by_encoder": [lang for lang, row in scores.items() if row["covered"] is False],
        "majority_average": round(mean(row["majority_f1"] for row in scores.values()), 2),
    }
    with_upper = [row for row in scores.values() if "in_language_f1" in row]
    if with_upper:
        settings["in_language_average"] = round(mean(row["in_language_f1"] for row in with_upper), 2)
        settings["gap_average"] = round(mean(row["gap"] for row in with_upper), 2)
    for lang, sets in test_sets.items():
        if lang not in targets:
            settings["source"] = {"language": lang, **score(lang, sets)}
    return Result(
        task="transfer",
        model=model or str(_classifier_encoder(classifier) or type(classifier).__name__),
        data=data or ", ".join(str(getattr(sets, "source", lang)) for lang, sets in test_sets.items()),
        scores=scores,
        average=round(mean(row["macro_f1"] for row in scores.values()), 2),
        primary="macro_f1",
        settings=settings,
        seconds=time.perf_counter() - started,
    )


def _source_sets(test_sets: Mapping[str, Any], source_lang: str, source_code: str | None) -> list[str]:
    """Return the test sets that are the source language's (scored, outside the zero-shot average): the
    same name or code; else one set in a member or macrolanguage of it (`zh` -> `cmn`). Two such sets (`zh`
    with `cmn` and `yue`) are a ConfigError: neither can be said to be the source."""
    codes = {lang: language_code(lang, sets) for lang, sets in test_sets.items()}
    exact = [lang for lang, code in codes.items()
             if lang == source_lang or (code is not None and source_code is not None
                                        and normalize_language(code) == normalize_language(source_code))]  # fmt: skip
    if exact or source_code is None:
        return exact
    related = [lang for lang, code in codes.items() if code is not None and same_language(code, source_code)]
    if len(related) > 1:
        raise ConfigError(f"test_sets: {', '.join(related)} are all forms of the source language {source_lang!r}; "
                          "name the source by the exact language of its data (e.g. cmn, not zh)")  # fmt: skip
    return related


def render_transfer(result: Result) -> str:
    """Return the transfer Result as a plain-text table (one line per language, then the averages)."""
    rows = dict(result.scores)
    source = result.settings.get("source")
    upper = any("in_language_f1" in row for row in rows.values())
    head = ["language", "seen", "macro-F1", "accuracy", "majority F1"] + (
        ["in-language F1", "gap"] if upper else []
    )
    lines: list[list[str]] = []

    def seen(row: Mapping[str, Any]) -> str:
        return {True: "yes", False: "NO *", None: "unknown"}[row.get("covered")]

    def line(name: str, row: Mapping[str, Any]) -> list[str]:
        cells = [
            name,
            seen(row),
            f"{row['macro_f1']:.1f}",
            f"{row['accuracy']:.1f}",
            f"{row['majority_f1']:.1f}",
        ]
        if upper:
            cells += [_fmt(row.get("in_language_f1")), _fmt(row.get("gap"))]
        return cells

    if source:
        lines.append(line(f"{source['language']} (source)", source))
    for lang, row in rows.items():
        lines.append(line(lang, row))
    average = [
        "zero-shot avg",
        "",
        f"{result.average:.1f}",
        "",
        _fmt(result.settings.get("majority_average")),
    ]
    if upper:
        average += [
            _fmt(result.settings.get("in_language_average")),
            _fmt(result.settings.get("gap_average")),
        ]
    lines.append(average)
    widths = [max(len(str(cells[i])) for cells in [head, *lines]) for i in range(len(head))]
    text = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
            for cells in [head, *lines]]  # fmt: skip
    if result.settings.get("not_seen_by_encoder"):
        text.append(
            "* not among the encoder's training languages: "
            + ", ".join(result.settings["not_seen_by_encoder"])
        )
    return "\n".join(text)


def _fmt(value: Any) -> str:
    return "" if value is None else f"{value:.1f}"
