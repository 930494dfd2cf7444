"""Benchmark: zero-shot cross-lingual sentiment transfer on UMSAB (XLM-T), methods side by side.

Train on the English train split (C chosen by macro-F1 on the English val split, never on target data),
label the other languages' test splits (zero-shot), next to in-language training on each language's own
train split (tuned on its own val split: the upper bound) and the majority-class baseline. Every figure is
macro-F1 in percent on the test splits; test splits are only ever predicted, never used to choose anything.

Methods (`--methods`, comma-separated; all on the frozen `--encoder`, default xling-mini):
  frozen        xling.transfer.train_classifier with ClassifierConfig(method="frozen") as shipped: vectors
                standardised per language (standardize = true), logistic regression, C from
                ClassifierConfig.C_grid; each target adapted with xling.transfer.classifier.adapt_languages
                on the texts of its TRAIN split, labels unused, which also self-trains a head per target
                (self_train_rounds, self_train_per_class; --self-train-rounds, --self-train-per-class and
                --c-grid override the shipped values, to compare them on --eval-split val)
  frozen-raw    raw sentence vectors (standardize = false), no self-training (self_train_rounds = 0)
  standardised  each language's vectors standardised with that language's own mean and standard deviation
                per dimension before the head (source: the English train texts; each target: the texts of
                its TRAIN split, labels unused), then logistic regression (C from WIDE_GRID on English val).
                A static encoder trained on the Bible leaves each language's tweets in its own region of
                the space (a language offset plus per-dimension scales); removing both is the first
                moment-matching step of unsupervised domain adaptation (CORAL without the rotation).
  self-train    the library's self-training (xling.transfer.classifier: FrozenEncoderClassifier.adapt) with
                the settings first measured here, fixed up-front and not tuned on any target data:
                standardised vectors, C from WIDE_GRID, SELF_TRAIN["rounds"] rounds adding the
                SELF_TRAIN["per_class"] most confident predictions per predicted class of the target's
                unlabelled train texts with their predicted labels, refitting the head (same C).
In-language classifiers (the upper bound) are trained on the target itself, so they only adapt statistics.
The best default pipeline (`--best`, default frozen) fills the top-level zero_shot / in_language /
zero_shot_avg of `--json`; "methods" holds every method's evaluate_transfer Result.

`--fewshot` adds the few-shot curve of `--fewshot-method` (default frozen, the library default): k = 0, 8, 32, 128
labelled examples per class from each target's TRAIN split, 5 seeds (xling.transfer.fewshot). The frozen
methods train on the English part and the target part as the library takes labelled texts of several
languages (xling.transfer.classifier.train_frozen): each part standardised with its own language's
statistics (the target's from its TRAIN split's texts), C chosen on English val with the English part alone,
a target example weighing `--fewshot-target-weight` (default the library's TARGET_WEIGHT); the classifier
then adapts (self-training included) to the target of the part, or to every target at k = 0.
`--pos` adds zero-shot UD POS tagging (benchmarks/transfer_pos.py with its defaults) under "pos".

Translate-test (on unless `--no-translate-test`): each target's test texts are translated into the source
language by `--translate-test-model` (default xling-mt-bible, beam `--translate-test-beam`, default 2), then
labelled by the best default pipeline's source-trained classifier reading them as source-language texts
(its source statistics and head). "translate_test" in `--json` is {language: macro-F1}, null for a language
the model does not translate from (named with the reason under "translate_test_details", never dropped);
the details hold each language's translation time and a few translations. The shipped model learnt the
Bible only: tweets are far outside its domain, so this row measures that model, not the method. The
control next to it, "untranslated" (the same classifier reading the target texts as they are, as if they
were source-language texts), shows what the translation itself adds or loses.

    .venv/bin/python benchmarks/transfer.py --json runs/bench/transfer.json            # ~1 min on 2 cores
    .venv/bin/python benchmarks/transfer.py --eval-split val --methods frozen --self-train-rounds 0
    .venv/bin/python benchmarks/transfer.py --methods frozen,standardised --fewshot    # + ~5 min
    .venv/bin/python benchmarks/transfer.py --data DIR --eval-langs french,german --source english
    .venv/bin/python benchmarks/transfer.py --methods frozen --translate-test-model path/to/nllb --translate-test-beam 4
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
METHODS = ("frozen", "frozen-raw", "standardised", "self-train")
WIDE_GRID = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
SELF_TRAIN = {"rounds": 2, "per_class": 300}


def default_data() -> Path:
    root = Path(os.environ["XLING_DATA"]) if os.environ.get("XLING_DATA") else REPO.parent / "shared" / "data"
    return root / "sentiment" / "umsab"


class VectorCache:
    """The encoder's vectors of each text, encoded once (few-shot retrains reuse them)."""

    def __init__(self, encoder: Any):
        self.encoder, self.cache = encoder, {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            self.cache.update(zip(missing, self.encoder.encode(missing, batch_size=256), strict=True))
        return np.stack([self.cache[t] for t in texts])


class StandardisedClassifier:
    """Logistic regression on per-language standardised vectors; `for_language` picks the statistics."""

    def __init__(self, vectors: VectorCache, stats: dict[str, tuple[np.ndarray, np.ndarray]], model: Any,
                 labels: list[str], language: str | None = None, encoder: str = ""):  # fmt: skip
        self.vectors, self.stats, self.model, self.labels = vectors, stats, model, labels
        self.language, self.encoder_ref = language, encoder

    def for_language(self, code: str) -> StandardisedClassifier:
        if code not in self.stats:
            raise KeyError(f"no unlabelled {code} texts were given to standardise with")
        return StandardisedClassifier(
            self.vectors, self.stats, self.model, self.labels, code, self.encoder_ref
        )

    def features(self, texts: list[str], code: str | None = None) -> np.ndarray:
        mean, std = self.stats[code or self.language]
        return (self.vectors(texts) - mean) / std

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.model.predict_proba(self.features(list(texts)))

    def predict(self, texts: list[str]) -> list[str]:
        return [self.labels[i] for i in self.model.predict(self.features(list(texts)))]


def language_stats(
    vectors: VectorCache, unlabelled: dict[str, list[str]]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {language: (mean, std) per dimension} of each language's unlabelled texts."""
    stats = {}
    for code, texts in unlabelled.items():
        x = vectors(texts)
        stats[code] = (x.mean(axis=0), x.std(axis=0) + 1e-6)
    return stats


def train_standardised(parts, dev, vectors, stats, encoder):
    """Return a StandardisedClassifier fitted on `parts` (each standardised with its own language's
    statistics), C by dev macro-F1 (few-shot parts mix languages, which the library's classifier does not)."""
    from sklearn.linear_model import LogisticRegression

    from xling.transfer.metrics import classification_scores

    labels = sorted({label for part in parts for label in part.labels})
    x = np.vstack(
        [(vectors(part.texts) - stats[part.language][0]) / stats[part.language][1] for part in parts]
    )
    y = np.array([labels.index(label) for part in parts for label in part.labels])
    best = None
    for c in WIDE_GRID if dev is not None else [1.0]:
        model = LogisticRegression(C=c, max_iter=3000).fit(x, y)
        if dev is None:
            best = (0.0, c, model)
            break
        clf = StandardisedClassifier(vectors, stats, model, labels, dev.language, encoder)
        score = classification_scores(dev.labels, clf.predict(dev.texts), labels, source=dev.source)[
            "macro_f1"
        ]
        if best is None or score > best[0]:
            best = (score, c, model)
    return StandardisedClassifier(vectors, stats, best[2], labels, parts[0].language, encoder)


def untranslatable(translator: Any, code: str | None, into: str) -> str | None:
    """Return why `translator` cannot translate `code` texts into `into` (its error message), or None."""
    from xling.errors import XlingError

    if code is None:
        return "the test set has no language code"
    try:
        translator.conventions.source_token(code)
        translator.conventions.target_token(into)
    except XlingError as error:
        return str(error)
    return None


def translate_test(classifier: Any, tests: dict[str, Any], translator: Any, options: Any, *,
                   into: str, examples: int = 3) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Return {language: scores} of `classifier` on each test set translated into `into` by `translator`.

    A translatable language's row has macro_f1, accuracy, n, seconds (translation only), `untranslated_f1`
    (the control: the same reader on the texts as they are) and `examples` (text, translation) pairs; any
    other language's row is {"macro_f1": None, "translatable": False, "reason": ...}. The translations are
    read as `into` texts (`for_language(into)` where the classifier has it): the source statistics and head,
    not the target's.
    """
    from xling.transfer.metrics import classification_scores

    reader = classifier.for_language(into) if hasattr(classifier, "for_language") else classifier
    labels = [str(label) for label in classifier.labels]
    rows: dict[str, dict[str, Any]] = {}
    for lang, data in tests.items():
        why = untranslatable(translator, data.language, into)
        if why is not None:
            rows[lang] = {"macro_f1": None, "translatable": False, "reason": why}
            continue
        t0 = time.perf_counter()
        translated = translator.translate(list(data.texts), src=data.language, tgt=into, options=options)
        seconds = time.perf_counter() - t0
        predicted = [str(label) for label in reader.predict(translated)]
        row = classification_scores(data.labels, predicted, labels, source=data.source)
        # the control: the same reader on the untranslated texts, so the table shows what translating adds
        untranslated = [str(label) for label in reader.predict(list(data.texts))]
        row["untranslated_f1"] = classification_scores(data.labels, untranslated, labels, source=data.source)[
            "macro_f1"
        ]
        row.update({"translatable": True, "seconds": round(seconds, 2),
                    "texts_per_s": round(len(translated) / seconds, 1) if seconds > 0 else None,
                    "examples": [[text, out] for text, out in zip(data.texts[:examples], translated, strict=False)]})  # fmt: skip
        rows[lang] = row
    return rows


def render_translate_test(rows: dict[str, dict[str, Any]], best: dict[str, Any]) -> str:
    """Return translate-test next to the best pipeline's zero-shot and in-language macro-F1, one line a language."""
    head = ["language", "zero-shot F1", "translate-test F1", "untranslated F1", "in-language F1", "translate s",
            "texts/s"]  # fmt: skip
    lines = []
    for lang, row in rows.items():
        scores = best["scores"].get(lang, {})
        lines.append([lang, _cell(scores.get("macro_f1")),
                      "not translatable" if not row["translatable"] else f"{row['macro_f1']:.1f}",
                      _cell(row.get("untranslated_f1")), _cell(scores.get("in_language_f1")),
                      _cell(row.get("seconds")), _cell(row.get("texts_per_s"))])  # fmt: skip
    done = [lang for lang, row in rows.items() if row["translatable"]]
    if done:
        lines.append([f"avg ({len(done)} translatable)",
                      _cell(np.mean([best["scores"][lang]["macro_f1"] for lang in done])),
                      _cell(np.mean([rows[lang]["macro_f1"] for lang in done])),
                      _cell(np.mean([rows[lang]["untranslated_f1"] for lang in done])),
                      _cell(_mean_or_none([best["scores"][lang].get("in_language_f1") for lang in done])),
                      _cell(sum(rows[lang]["seconds"] for lang in done)), ""])  # fmt: skip
    text_note = "untranslated F1: the same classifier, read as the source language, on the texts as they are"
    widths = [max(len(cells[i]) for cells in [head, *lines]) for i in range(len(head))]
    text = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(cells))
            for cells in [head, *lines]]  # fmt: skip
    text += [
        f"not translatable: {lang}: {row['reason']}" for lang, row in rows.items() if not row["translatable"]
    ]
    return "\n".join([*text, text_note] if done else text)


def _cell(value: Any) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _mean_or_none(values: list[Any]) -> float | None:
    """Return the mean of `values`, or None when any is missing (no average over a different set)."""
    return None if not values or any(v is None for v in values) else round(float(np.mean(values)), 2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from xling.config import config_to_dict
    from xling.data.labelled import read_umsab
    from xling.embeddings.encoder import Encoder
    from xling.embeddings.remembering import RememberingEncoder
    from xling.transfer.classifier import adapt_languages, train_classifier
    from xling.transfer.config import ClassifierConfig
    from xling.transfer.evaluate import evaluate_transfer, render_transfer
    from xling.transfer.fewshot import concat, fewshot_curve, render_curve

    started = time.perf_counter()
    data = Path(args.data)
    langs = [x.strip() for x in args.eval_langs.split(",") if x.strip()]
    split = {
        (lang, s): read_umsab(data, lang, s)
        for lang in [args.source, *langs]
        for s in ("train", "val", "test")
    }
    source_train, source_dev = split[args.source, "train"], split[args.source, "val"]
    tests = {lang: split[lang, args.eval_split] for lang in [args.source, *langs]}
    encoder = Encoder.load(args.encoder)
    vectors = VectorCache(encoder)
    # each language's unlabelled texts: its TRAIN split, labels unused
    unlabelled = {split[lang, "train"].language: split[lang, "train"].texts for lang in [args.source, *langs]}
    standardised = "standardised" in args.methods or (args.fewshot and args.fewshot_method == "standardised")
    stats = language_stats(vectors, unlabelled) if standardised else {}  # only that method's head reads them
    targets = [split[lang, "test"].language for lang in langs]

    def frozen_config(method: str) -> ClassifierConfig:
        config = ClassifierConfig(encoder=args.encoder, method="frozen")
        if method == "frozen":
            if args.self_train_rounds is not None:
                config.self_train_rounds = args.self_train_rounds
            if args.self_train_per_class is not None:
                config.self_train_per_class = args.self_train_per_class
            if args.c_grid:
                config.C_grid = [float(c) for c in args.c_grid.split(",")]
        elif method == "self-train":
            config.C_grid = list(WIDE_GRID)
            config.self_train_rounds = SELF_TRAIN["rounds"]
            config.self_train_per_class = SELF_TRAIN["per_class"]
        else:  # frozen-raw (WIDE_GRID is ClassifierConfig's default C_grid now)
            config.standardize, config.self_train_rounds = False, 0
        config.validate()
        return config

    def trainer(method: str, adapt_to: list[str] | None):
        def train(parts, dev):
            if method != "standardised":
                config = frozen_config(method)
                classifier = train_classifier(config, concat(parts), dev, encoder=encoder)
                if adapt_to is None:  # in-language (or few-shot): statistics only
                    adapt_languages(classifier, unlabelled, self_train=False)
                else:
                    adapt_languages(classifier, {code: unlabelled[code] for code in adapt_to})
                return classifier
            return train_standardised(parts, dev, vectors, stats, args.encoder)

        return train

    def fewshot_trainer(method: str):
        if method == "standardised":
            return trainer(method, targets)
        remembering = RememberingEncoder(encoder)  # dozens of heads on the same texts: each encoded once

        def train(parts, dev):
            # each target is scored only with its own draws: adapt to that one (all of them at k = 0)
            adapt_to = [part.language for part in parts[1:]] or targets
            config = frozen_config(method)
            config.target_weight = args.fewshot_target_weight
            return train_classifier(config, parts, dev, encoder=remembering,
                                    unlabelled={code: unlabelled[code] for code in adapt_to})  # fmt: skip

        return train

    report: dict[str, Any] = {"settings": {"data": str(data), "source": args.source, "eval_langs": langs,
                                           "encoder": args.encoder, "wide_grid": WIDE_GRID, "self_train": SELF_TRAIN,
                                           "frozen": config_to_dict(frozen_config("frozen")),
                                           "eval_split": args.eval_split, "best": args.best}, "methods": {}}  # fmt: skip
    classifiers: dict[str, Any] = {}
    for method in args.methods:
        t0 = time.perf_counter()
        classifier = trainer(method, targets)([source_train], source_dev)
        seconds = time.perf_counter() - t0
        upper = {lang: trainer(method, None)([split[lang, "train"]], split[lang, "val"]) for lang in langs}
        result = evaluate_transfer(classifier, tests, source_lang=args.source, in_language=upper,
                                   majority_labels=source_train.labels, model=f"{args.encoder} {method}",
                                   data=str(data))  # fmt: skip
        result.settings["train_seconds"] = round(seconds, 2)
        print(f"\n== {method} (trained on {args.source} in {seconds:.1f} s)")
        print(render_transfer(result))
        report["methods"][method] = result.to_dict()
        classifiers[method] = classifier
    best_name = args.best if args.best in report["methods"] else next(iter(report["methods"]))
    best = report["methods"][best_name]
    report["best_method"] = best["model"]
    report["zero_shot"] = {lang: row["macro_f1"] for lang, row in best["scores"].items()}
    report["in_language"] = {lang: row["in_language_f1"] for lang, row in best["scores"].items()}
    report["zero_shot_avg"] = best["average"]
    report["majority"] = {lang: row["majority_f1"] for lang, row in best["scores"].items()}
    if "source" in best["settings"]:
        report["source"] = {args.source: best["settings"]["source"]["macro_f1"]}
    print(
        "\nzero-shot average macro-F1: "
        + ", ".join(f"{m} {r['average']:.1f}" for m, r in report["methods"].items())
    )
    if args.translate_test:
        report.update(
            run_translate_test(args, classifiers[best_name], best, tests, langs, source_train.language)
        )
    report["settings"]["translate_test"] = (
        report["translate_test_details"]["settings"] if args.translate_test else "off (--no-translate-test)"
    )
    if args.fewshot:
        method = args.fewshot_method
        upper = {lang: report["methods"][method]["scores"][lang]["in_language_f1"]
                 for lang in langs} if method in report["methods"] else None  # fmt: skip
        # the few-shot heads adapt to the targets as the zero-shot one does (self-training included)
        curve = fewshot_curve(fewshot_trainer(method), source_train, source_dev,
                              {lang: split[lang, "train"] for lang in langs}, {lang: tests[lang] for lang in langs},
                              ks=args.ks, seeds=args.seeds, in_language=upper, model=f"{args.encoder} {method}")  # fmt: skip
        print(f"\n== few-shot curve, {method}: macro-F1 mean ± std over {args.seeds} seeds")
        print(render_curve(curve))
        curve_dict = curve.to_dict()
        curve_dict["settings"]["target_weight"] = args.fewshot_target_weight
        report["fewshot"] = curve_dict
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def run_translate_test(args: argparse.Namespace, classifier: Any, best: dict[str, Any], tests: dict[str, Any],
                       langs: list[str], source_code: str | None) -> dict[str, Any]:  # fmt: skip
    """Return the translate-test part of the report ("translate_test", its details), printing its table."""
    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import Translator

    t0 = time.perf_counter()
    translator = Translator.from_pretrained(args.translate_test_model, threads=args.threads)
    load = time.perf_counter() - t0
    options = DecodeOptions(beam_size=args.translate_test_beam, batch_size=args.translate_test_batch)
    into = source_code or args.source
    rows = translate_test(classifier, {lang: tests[lang] for lang in langs}, translator, options, into=into)
    done = [lang for lang, row in rows.items() if row["translatable"]]
    settings = {"model": args.translate_test_model, "backend": translator.backend_name,
                "beam_size": options.beam_size, "batch_size": options.batch_size, "threads": args.threads,
                "into": into, "classifier": best["model"], "texts": f"all of each {args.eval_split} split (no subset)",
                "load_seconds": round(load, 2)}  # fmt: skip
    details = {"settings": settings, "per_language": rows,
               "translated": done, "not_translatable": [lang for lang in langs if lang not in done],
               "seconds": round(sum(rows[lang]["seconds"] for lang in done), 2),
               # each average over the translatable languages only, so the three compare like with like
               "average": _mean_or_none([rows[lang]["macro_f1"] for lang in done]),
               "untranslated_average": _mean_or_none([rows[lang]["untranslated_f1"] for lang in done]),
               "zero_shot_average_same_languages": _mean_or_none([best["scores"][lang]["macro_f1"] for lang in done]),
               "in_language_average_same_languages": _mean_or_none(
                   [best["scores"][lang].get("in_language_f1") for lang in done])}  # fmt: skip
    print(f"\n== translate-test: {args.translate_test_model} (beam {options.beam_size}, {translator.backend_name}, "
          f"loaded in {load:.1f} s) into {into}, labelled by {best['model']} trained on {args.source}")  # fmt: skip
    print(render_translate_test(rows, best))
    return {
        "translate_test": {lang: row["macro_f1"] for lang, row in rows.items()},
        "translate_test_details": details,
    }


def run_pos(ud_data: str) -> dict[str, Any]:
    """Return the figures of benchmarks/transfer_pos.py (zero-shot UPOS from English) run with its defaults."""
    import importlib.util
    import tempfile

    spec = importlib.util.spec_from_file_location("transfer_pos", Path(__file__).with_name("transfer_pos.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "pos.json"
        if module.main(["--data", ud_data, "--json", str(out)]) != 0:
            raise RuntimeError("benchmarks/transfer_pos.py failed")
        return json.loads(out.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(default_data()), help="UMSAB-layout folder")
    parser.add_argument("--source", default="english")
    parser.add_argument("--eval-langs", default="arabic,french,german,hindi,spanish")
    parser.add_argument(
        "--eval-split",
        default="test",
        choices=("test", "val"),
        help="val: compare methods without touching the test splits (in-language is then tuned "
        "and scored on the same val split, so only its zero-shot rows are meaningful)",
    )
    parser.add_argument("--encoder", default="xling-mini")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--best", default="frozen", help="the method reported at the top of --json")
    parser.add_argument("--self-train-rounds", type=int, default=None,
                        help="frozen: self_train_rounds instead of the library default")  # fmt: skip
    parser.add_argument(
        "--c-grid", default=None, help="frozen: C_grid (comma-separated) instead of the default"
    )
    parser.add_argument("--self-train-per-class", type=int, default=None,
                        help="frozen: self_train_per_class instead of the library default")  # fmt: skip
    parser.add_argument("--translate-test", action=argparse.BooleanOptionalAction, default=True,
                        help="translate each target's test texts into the source language and label them with the "
                        "best pipeline's source classifier (--no-translate-test: skip)")  # fmt: skip
    parser.add_argument("--translate-test-model", default="xling-mt-bible",
                        help="translation model folder or shipped name for translate-test")  # fmt: skip
    parser.add_argument("--translate-test-beam", type=int, default=2,
                        help="translate-test beam size (1 = greedy)")  # fmt: skip
    parser.add_argument(
        "--translate-test-batch", type=int, default=32, help="translate-test sentences per batch"
    )
    parser.add_argument("--fewshot", action="store_true")
    parser.add_argument("--fewshot-method", default="frozen")
    parser.add_argument("--fewshot-target-weight", type=float, default=None,
                        help="frozen few-shot: weight of a target example (default: the library's TARGET_WEIGHT)")  # fmt: skip
    parser.add_argument(
        "--pos",
        action="store_true",
        help="also UD POS: benchmarks/transfer_pos.py with its defaults, under 'pos' in --json",
    )
    parser.add_argument("--ud-data", default=os.environ.get("XLING_DATA", "../shared/data"),
                        help="--pos: the folder holding ud/")  # fmt: skip
    parser.add_argument("--ks", default="0,8,32,128")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    args.ks = [int(k) for k in args.ks.split(",")]
    if args.fewshot_target_weight is None:
        from xling.transfer.config import TARGET_WEIGHT

        args.fewshot_target_weight = TARGET_WEIGHT
    unknown = [m for m in [*args.methods, args.fewshot_method] if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)} (known: {', '.join(METHODS)})")
    import torch

    torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.WARNING)
    from xling.errors import XlingError

    try:
        report = run(args)
        if args.pos:
            report["pos"] = run_pos(args.ud_data)
    except XlingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        from xling.atomic import write_json_atomically

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(args.json, report)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
