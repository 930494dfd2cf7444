"""Benchmark: word-embedding alignment methods side by side, bilingual lexicon induction (BLI) P@1 and time.

Word vectors: word2vec skip-gram (gensim, dim 300, 20 epochs) trained here on each language's Bible in
`../shared/data/bible` (all verses; cached in `--vectors-dir`), so anyone can re-run it. On a corpus this
small (~0.8M words a language) fastText's character n-grams swamp the meaning (its neighbours of "king"
are "talking", "shaking"; word2vec's are "tiglath", "hazael") and a Procrustes fit on 500 dictionary pairs
reached 3% P@1 on its own training pairs vs 65% with word2vec. Dictionaries: Glavaš et al. 2019 ("xling-eval") in `../shared/data/bli_xling_eval`: the 5k train split
seeds the supervised method, the 2k test split is only evaluated on. A Bible vocabulary (~7-20k words)
covers only part of those Wikipedia-frequency dictionaries: the coverage is printed for every pair.

Methods, all through `xling.alignment.words.align_words` on the same vectors, each evaluated with nearest
neighbour and CSLS (k=10) retrieval over the whole target vocabulary:
  procrustes   supervised: Procrustes on the train dictionary + 5 MUSE refinements
  identical    semi-supervised: seeded with identical strings + 5 refinements
  adversarial  unsupervised MUSE (CPU-sized settings, see ADVERSARIAL) + 5 refinements (~9 min on en-de)
  selflearn    unsupervised VecMap self-learning (its --unsupervised defaults; ~15 min on en-de)
The two unsupervised methods run on `--unsupervised-pairs` only (default en-de). A method that cannot run
on a pair (identical strings between Latin and Cyrillic vocabularies) is reported as n/a.

A second table times the supervised pipeline (Procrustes on 5k pairs + 5 refinements + CSLS BLI of 1.5k
test words over the full target vocabulary) on 200k x 300 synthetic vocabularies: a random matrix with a
decaying spectrum and its rotation plus noise (P@1 should be ~100%).

    .venv/bin/python benchmarks/bli.py --json runs/bench/bli.json           # ~45 min on 2 cores
    .venv/bin/python benchmarks/bli.py --methods procrustes,identical      # ~15 min: no unsupervised runs
    .venv/bin/python benchmarks/bli.py --quick         # one pair, small vectors, no 200k timing
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BIBLE_CODE = {"en": "eng", "de": "deu", "fr": "fra", "fi": "fin", "ru": "rus", "hr": "hrv"}
METHODS = ("procrustes", "identical", "adversarial", "selflearn")
RETRIEVALS = ("nn", "csls")
# MUSE's schedule and discriminator shape with fewer samples per epoch and a 512-wide discriminator: MUSE's
# 5 x 1M samples through a 2048-wide one is ~8 hours on 2 cores (180 ms an iteration); this is ~10 minutes.
# One thread: its small matmuls (32 x 300 @ 300 x 512) lose more to threading than they gain.
ADVERSARIAL = {"epochs": 5, "epoch_size": 200_000, "dis_hid_dim": 512, "threads": 1}
UNSUPERVISED = ("adversarial", "selflearn")
HUB_VOCAB = 20_000


@dataclass
class BenchSettings:
    """Everything that defines a run (written into the JSON)."""

    data: str
    vectors_dir: str = "runs/bench/vectors"
    pairs: list[str] = field(default_factory=lambda: ["en-de", "en-fr", "en-fi", "en-ru"])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    # the unsupervised methods take ~10 minutes a pair here: by default they run on the first pair only
    unsupervised_pairs: list[str] = field(default_factory=lambda: ["en-de"])
    model: str = "word2vec"
    dim: int = 300
    epochs: int = 20
    max_vocab: int = 200_000
    synthetic_words: int = 200_000
    threads: int = 2
    quick: bool = False


def parse_args(argv: list[str] | None = None) -> tuple[BenchSettings, Path | None]:
    """Return the settings and the --json path from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    parser.add_argument("--vectors-dir", default="runs/bench/vectors", help="cache of trained vectors")
    parser.add_argument("--pairs", default="en-de,en-fr,en-fi,en-ru")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--unsupervised-pairs", default="en-de", help="pairs adversarial/selflearn run on")
    parser.add_argument("--synthetic-words", type=int, default=200_000, help="0 skips the timing table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="one pair, dim 50, 2 epochs, no 200k timing")
    args = parser.parse_args(argv)
    settings = BenchSettings(
        data=args.data, vectors_dir=args.vectors_dir, pairs=[p for p in args.pairs.split(",") if p],
        methods=args.methods.split(","), synthetic_words=args.synthetic_words, threads=args.threads,
        unsupervised_pairs=args.unsupervised_pairs.split(","),
    )  # fmt: skip
    if args.quick:
        settings = BenchSettings(data=args.data, vectors_dir=str(Path(args.vectors_dir) / "quick"),
                                 pairs=settings.pairs[:1], methods=settings.methods, dim=50, epochs=2,
                                 synthetic_words=0, threads=args.threads, quick=True,
                                 unsupervised_pairs=settings.pairs[:1])  # fmt: skip
    return settings, args.json


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_vectors(settings: BenchSettings, lang: str):
    """Return the Bible fastText vectors of `lang` (ISO 639-1), training and caching them if needed."""
    from xling.vectors import VectorsTrainConfig, load_vectors, train_vectors

    name = f"{BIBLE_CODE[lang]}-{settings.model}-d{settings.dim}-e{settings.epochs}.npy"
    path = Path(settings.vectors_dir) / name
    if not path.is_file():
        started = time.perf_counter()
        config = VectorsTrainConfig(corpus=str(Path(settings.data) / "bible"), language=BIBLE_CODE[lang],
                                    output=str(path), model=settings.model, dim=settings.dim,
                                    epochs=settings.epochs,
                                    threads=settings.threads)  # fmt: skip
        train_vectors(config, progress=False)
        log(f"trained {path} in {time.perf_counter() - started:.0f} s")
    return load_vectors(path)


def dictionary(settings: BenchSettings, pair: str, split: str) -> Path:
    """Return the xling-eval dictionary file of `pair` ("train" 5k or "test" 2k)."""
    name = "train.freq.5k" if split == "train" else "test.freq.2k"
    path = Path(settings.data) / "bli_xling_eval" / pair / f"yacle.{name}.{pair}.tsv"
    if not path.is_file():
        sys.exit(f"no {split} dictionary for {pair} at {path}")
    return path


def run_method(settings: BenchSettings, pair: str, method: str, src, tgt) -> dict[str, Any]:
    """Return one method's alignment time and BLI figures (nn and csls) on one pair."""
    from xling.alignment.words.align import WordAlignConfig, align_words
    from xling.errors import XlingError
    from xling.evaluation.bli import BLIConfig, evaluate_bli

    config = WordAlignConfig(method=method, max_vocab=settings.max_vocab)
    if method == "procrustes":
        config.dictionary = str(dictionary(settings, pair, "train"))
    if method == "adversarial":
        config.adversarial = dict(ADVERSARIAL)
    started = time.perf_counter()
    try:
        mapping = align_words(src, tgt, config, progress=False)
    except XlingError as error:  # e.g. no identical strings between Latin and Cyrillic vocabularies
        log(f"{pair} {method:11s} n/a: {error}")
        return {"error": str(error)}
    align_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"align_seconds": round(align_seconds, 2)}
    for retrieval in RETRIEVALS:
        started = time.perf_counter()
        result = evaluate_bli(src, tgt, mapping, BLIConfig(dictionary=str(dictionary(settings, pair, "test")),
                                                          retrieval=retrieval, pair=pair))  # fmt: skip
        out[retrieval] = {"p@1": result["p@1"], "p@5": result["p@5"], "p@10": result["p@10"],
                          "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
        out["coverage"] = result["coverage"]
    log(f"{pair} {method:11s} P@1 nn {out['nn']['p@1']:.2f} csls {out['csls']['p@1']:.2f} "
        f"({align_seconds:.1f} s to align)")  # fmt: skip
    return out


def synthetic_pipeline(settings: BenchSettings) -> dict[str, Any]:
    """Return the time of the supervised pipeline on synthetic 200k x 300 vocabularies, stage by stage."""
    from xling.alignment.words.normalize import fit_normalization
    from xling.alignment.words.procrustes import procrustes, refine
    from xling.evaluation.bli import bli_from_matrices

    n, d = settings.synthetic_words, 300
    rng = np.random.default_rng(0)
    # a decaying spectrum, as real embeddings have (a flat one would make every method's job trivial)
    src = (rng.standard_normal((n, d)) * np.linspace(1.0, 0.1, d)).astype(np.float32)
    rotation, _ = np.linalg.qr(rng.standard_normal((d, d)))
    tgt = (src @ rotation + rng.normal(0, 0.02, (n, d))).astype(np.float32)
    train = np.stack([np.arange(5000), np.arange(5000)], axis=1)
    test = np.stack([np.arange(5000, 6500), np.arange(5000, 6500)], axis=1)
    started = time.perf_counter()
    x, _ = fit_normalization(src, "unit,center,unit")
    z, _ = fit_normalization(tgt, "unit,center,unit")
    w = procrustes(x[train[:, 0]], z[train[:, 1]])
    w, history = refine(x, z, w, iterations=5, criterion=False, stop_at_fixed_point=False)
    aligned = time.perf_counter()
    mapped = x @ w
    figures = bli_from_matrices(mapped, z, test, ks=(1,), method="csls")
    done = time.perf_counter()
    # CSLS's target terms against the 20k most frequent sources only (BLIConfig.hub_vocab), not all 200k
    capped = bli_from_matrices(mapped, z, test, ks=(1,), method="csls", hub_vocab=HUB_VOCAB)
    capped_seconds = time.perf_counter() - done
    return {"words": n, "dim": d, "align_seconds": round(aligned - started, 2),
            "bli_seconds": round(done - aligned, 2), "total_seconds": round(done - started, 2),
            "p@1": figures["p@1"], "refinements": len(history), "hub_vocab": HUB_VOCAB,
            "bli_seconds_hub_vocab": round(capped_seconds, 2), "p@1_hub_vocab": capped["p@1"],
            "total_seconds_hub_vocab": round(aligned - started + capped_seconds, 2)}  # fmt: skip


def print_tables(report: dict[str, Any]) -> None:
    """Print the per-pair table and the timing table."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="BLI on xling-eval test dictionaries (Bible word2vec vectors), P@1 %")
    for column in ("pair", "method", "P@1 nn", "P@1 csls", "P@5 csls", "align s", "coverage"):
        table.add_column(column, justify="left" if column in ("pair", "method") else "right")
    for pair, methods in report["pairs"].items():
        for method, row in methods.items():
            if "error" in row:
                table.add_row(pair, method, "n/a", "n/a", "n/a", "", row["error"][-40:])
                continue
            coverage = row["coverage"]
            table.add_row(pair, method, f"{row['nn']['p@1']:.2f}", f"{row['csls']['p@1']:.2f}",
                          f"{row['csls']['p@5']:.2f}", f"{row['align_seconds']:.1f}",
                          f"{coverage['pairs_covered']}/{coverage['lines']}")  # fmt: skip
    console = Console()
    console.width = max(console.width, 110)
    console.print(table)
    medians = report.get("median_p@1_csls", {})
    if medians:
        console.print(
            "median P@1 (csls) over pairs: " + ", ".join(f"{m} {v:.2f}" for m, v in medians.items())
        )
    synthetic = report.get("synthetic")
    if synthetic:
        console.print(f"supervised pipeline on {synthetic['words']:,} x {synthetic['dim']} synthetic words: "
                      f"align (Procrustes + 5 refinements) {synthetic['align_seconds']:.1f} s, CSLS BLI "
                      f"{synthetic['bli_seconds']:.1f} s, total {synthetic['total_seconds']:.1f} s "
                      f"(P@1 {synthetic['p@1']:.1f}); with CSLS's target terms over the {HUB_VOCAB:,} most "
                      f"frequent sources: BLI {synthetic['bli_seconds_hub_vocab']:.1f} s, total "
                      f"{synthetic['total_seconds_hub_vocab']:.1f} s (P@1 {synthetic['p@1_hub_vocab']:.1f})")  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Return the report after running the benchmark (and writing --json if given)."""
    import torch

    settings, json_path = parse_args(argv)
    torch.set_num_threads(settings.threads)
    if not (Path(settings.data) / "bible").is_dir():
        sys.exit(f"no Bible corpus under {settings.data}: pass --data or set XLING_DATA")
    started = time.perf_counter()
    report: dict[str, Any] = {"pairs": {}}
    for pair in settings.pairs:
        src_lang, tgt_lang = pair.split("-")
        src, tgt = ensure_vectors(settings, src_lang), ensure_vectors(settings, tgt_lang)
        methods = [
            m for m in settings.methods if m not in UNSUPERVISED or pair in settings.unsupervised_pairs
        ]
        report["pairs"][pair] = {m: run_method(settings, pair, m, src, tgt) for m in methods}
    report["median_p@1_csls"] = {
        m: statistics.median(
            row[m]["csls"]["p@1"] for row in report["pairs"].values() if "csls" in row.get(m, {})
        )
        for m in settings.methods
        if any("csls" in row.get(m, {}) for row in report["pairs"].values())
    }
    if settings.synthetic_words:
        report["synthetic"] = synthetic_pipeline(settings)
    report["config"] = asdict(settings) | {"adversarial": ADVERSARIAL, "torch": torch.__version__,
                                           "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    print_tables(report)
    if json_path is not None:
        from xling.atomic import write_json_atomically

        write_json_atomically(json_path, report)
        log(f"figures written to {json_path}")
    return report


if __name__ == "__main__":
    main()
