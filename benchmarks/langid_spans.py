"""Benchmark: language spans of mixed-language text (`xling detect --spans`, `xling.langid.language_spans`),
the settings a user may change (`switch_penalty`, `window`) side by side, and lingua's
`detect_multiple_languages_of` on the same texts where lingua is installed.

Texts are two or three UMSAB validation tweets of different languages joined by a space (Arabic, English,
French, German, Italian, Portuguese, Spanish: not Hindi, whose tweets are romanised and mixed already). The
val split is never read by `xling langid train`'s recipe (it reads the train split) and is not a test set,
so this benchmark may choose the spans' defaults; `--split test` (Italian and Portuguese have none: they are
left out) only reports. Each word is scored right when the span covering it names
its tweet's language (macrolanguage aware: `xling.langid.labels.label_matches`). Figures: word accuracy
(macro over the texts), the share of texts cut into exactly their tweets (same number of spans, every
border within one word of the true one, every span's language right), and texts/s.

    .venv/bin/python benchmarks/langid_spans.py --penalties 2,4,6,8,12 --windows 1,2,3 --json runs/bench/langid_spans.json
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path
from typing import Any

from bench_common import log, write_json

from xling.langid.labels import label_matches

LANGUAGES = {"arabic": "arb", "english": "eng", "french": "fra", "german": "deu", "italian": "ita",
             "portuguese": "por", "spanish": "spa"}  # fmt: skip
"""UMSAB folder -> ISO 639-3 code of the tweets whose val split builds the texts."""


def read_tweets(folder: Path, max_words: int, split: str = "val") -> dict[str, list[str]]:
    """Return each language's tweets of `split` (one line each) of at most `max_words` words, at least 3."""
    tweets = {}
    for name, code in LANGUAGES.items():
        path = folder / name / f"{split}_text.txt"
        if split == "test" and not path.is_file():  # UMSAB has no Italian or Portuguese test split
            continue
        lines = [" ".join(line.split()) for line in path.read_text("utf-8").splitlines()]
        tweets[code] = [line for line in lines if 3 <= len(line.split()) <= max_words]
    return tweets


def mixed_texts(tweets: dict[str, list[str]], n: int, seed: int) -> list[list[tuple[str, str]]]:
    """Return `n` texts, each a list of (language, tweet) parts: two parts, or three for every third text,
    neighbours in different languages."""
    rng = random.Random(seed)
    codes = sorted(tweets)
    texts = []
    for i in range(n):
        parts: list[tuple[str, str]] = []
        for _ in range(3 if i % 3 == 2 else 2):
            code = rng.choice([c for c in codes if not parts or c != parts[-1][0]])
            parts.append((code, rng.choice(tweets[code])))
        texts.append(parts)
    return texts


def gold_words(parts: list[tuple[str, str]]) -> tuple[str, list[tuple[int, int, str]], list[int]]:
    """Return the joined text, its words as (start, end, gold language) and the word index each part starts at."""
    text, words, starts = "", [], []
    for code, tweet in parts:
        if text:
            text += " "
        starts.append(len(words))
        for word in tweet.split(" "):
            words.append((len(text), len(text) + len(word), code))
            text += word + " "
        text = text[:-1]
    return text, words, starts


def score(spans: list[tuple[int, int, str]], words: list[tuple[int, int, str]], starts: list[int]
          ) -> tuple[float, bool]:  # fmt: skip
    """Return (share of words whose covering span names their language, whether the text was cut into its
    parts: one span per part, in its language, each starting within one word of the part)."""

    def label_at(start: int, end: int) -> str:
        middle = (start + end) // 2
        return next((label for first, last, label in spans if first <= middle < last), "und")

    right = sum(label_matches(label_at(start, end), gold) for start, end, gold in words) / len(words)
    if len(spans) != len(starts):
        return right, False
    # the word each span starts at (spans start at a word's first character)
    span_words = [
        next((i for i, word in enumerate(words) if word[0] >= first), len(words)) for first, _, _ in spans
    ]
    cut = all(abs(got - want) <= 1 and label_matches(label, words[want][2])
              for got, want, (_, _, label) in zip(span_words, starts, spans, strict=True))  # fmt: skip
    return right, cut


def xling_spans(identifier: Any, penalty: float, window: int):
    """Return a function giving a text's spans as (start, end, label) with these settings."""
    from xling.langid import language_spans

    def spans(text: str) -> list[tuple[int, int, str]]:
        return [
            (s.start, s.end, s.label)
            for s in language_spans(identifier, text, switch_penalty=penalty, window=window)
        ]

    return spans


def lingua_spans():
    """Return lingua's spans function (high accuracy mode, all languages), or None where lingua is missing."""
    try:
        from lingua import LanguageDetectorBuilder
    except ImportError:
        return None
    detector = LanguageDetectorBuilder.from_all_languages().build()

    def spans(text: str) -> list[tuple[int, int, str]]:
        return [(r.start_index, r.end_index, r.language.iso_code_639_3.name.lower())
                for r in detector.detect_multiple_languages_of(text)]  # fmt: skip

    return spans


def run(args: argparse.Namespace) -> dict[str, Any]:
    from xling.langid import load_identifier

    folder = Path(args.umsab) if args.umsab else Path(args.data) / "sentiment" / "umsab"
    texts = mixed_texts(read_tweets(folder, args.max_words, args.split), args.texts, args.seed)
    prepared = [gold_words(parts) for parts in texts]
    identifier = load_identifier(args.model)
    contenders = {f"xling penalty {p:g} window {w}": xling_spans(identifier, p, w)
                  for p in args.penalties for w in args.windows}  # fmt: skip
    if not args.no_lingua and (lingua := lingua_spans()) is not None:
        contenders["lingua (high accuracy)"] = lingua
    rows = {}
    for name, spans_of in contenders.items():
        started = time.perf_counter()  # the spans alone are timed, not their scoring
        found = [spans_of(text) for text, _, _ in prepared]
        seconds = time.perf_counter() - started
        results = [
            score(spans, words, starts) for spans, (_, words, starts) in zip(found, prepared, strict=True)
        ]
        rows[name] = {"word_accuracy": 100 * statistics.mean(r[0] for r in results),
                      "cut_right": 100 * statistics.mean(r[1] for r in results), "texts_per_s": len(prepared) / seconds}  # fmt: skip
        log(f"{name}: words {rows[name]['word_accuracy']:.1f}%, cut right {rows[name]['cut_right']:.1f}%")
    return {"model": args.model, "split": args.split, "texts": len(prepared), "parts": [len(t) for t in texts].count(3),
            "languages": sorted(LANGUAGES.values()), "seed": args.seed, "rows": rows}  # fmt: skip


def library_defaults() -> dict[str, Any]:
    """Return `language_spans`' default settings (switch_penalty, window, ...)."""
    import inspect

    from xling.langid import language_spans

    parameters = inspect.signature(language_spans).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="xling-langid", help="xling detector: a folder or a shipped name")
    parser.add_argument("--data", default="../shared/data", help="data root (UMSAB under sentiment/umsab)")
    parser.add_argument("--umsab", default=None, help="UMSAB folder (default DATA/sentiment/umsab)")
    parser.add_argument(
        "--split",
        default="val",
        choices=["val", "test"],
        help="UMSAB split the tweets come from: val chooses settings, test only reports",
    )
    parser.add_argument("--texts", type=int, default=600, help="mixed texts built")
    parser.add_argument("--max-words", type=int, default=30, help="longest tweet used, in words")
    defaults = library_defaults()
    parser.add_argument(
        "--penalties",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[defaults["switch_penalty"]],
        help="switch penalties (default: the library's)",
    )
    parser.add_argument("--windows", type=lambda v: [int(x) for x in v.split(",")],
                        default=[defaults["window"]], help="windows (default: the library's)")  # fmt: skip
    parser.add_argument("--no-lingua", action="store_true", help="leave lingua out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    report = run(args)
    print(f"{'spans of':36s} {'words %':>8s} {'cut right %':>12s} {'texts/s':>9s}   ({report['texts']} texts, "
          f"{report['parts']} of three tweets)")  # fmt: skip
    for name, row in report["rows"].items():
        print(f"{name:36s} {row['word_accuracy']:8.1f} {row['cut_right']:12.1f} {row['texts_per_s']:9.0f}")
    write_json(report, Path(args.json) if args.json else None)
    return report


if __name__ == "__main__":
    main()
