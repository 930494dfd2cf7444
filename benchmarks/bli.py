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
  adversarial  unsupervised MUSE (CPU-sized settings, see ADVERSARIAL) + 5 refinements (~8 min on en-de),
               `--adversarial-restarts` times (default 3, seeds 0, 1, 2), the best by MUSE's criterion kept
  selflearn    unsupervised VecMap self-learning (its --unsupervised defaults; ~15 min on en-de)
The two unsupervised methods run on `--unsupervised-pairs` only (default en-de). A method that cannot run
on a pair (identical strings between Latin and Cyrillic vocabularies) is reported as n/a.
MUSE's protocol throughout: dictionary words are looked up lowercased (the Bible vocabularies are lowercase,
the dictionaries capitalise German nouns: case-sensitive lookups lose 60% of the en-de pairs), and
refinement bounds dictionary induction as MUSE's dico_max_rank does (`max_rank_mode="muse"`; the Finnish
and Russian vocabularies exceed its 15k words, where the cheaper cutoff would induce other dictionaries).

`--reference-muse DIR` also runs MUSE's own supervised.py from your MUSE checkout DIR (its top-level
supervised.py, or facebook_muse/supervised.py; it needs torch and scipy in this Python) as a subprocess on
the same vectors (written as .vec), the same lowercased dictionaries and the same settings (Procrustes +
5 refinements, S2T&T2S CSLS, dico_max_rank 15000, renorm,center,renorm, CPU), and prints its P@1 next to
xling's procrustes row. No MUSE code is part of xling.

A second table times the supervised pipeline (Procrustes on 5k pairs + 5 refinements + CSLS BLI of 1.5k
test words over the full target vocabulary) on 200k x 300 synthetic vocabularies: a random matrix with a
decaying spectrum and its rotation plus noise (P@1 should be ~100%). Exact CSLS (r_src over all 200k
sources) is timed for P@1 (top 1) and for P@1/5/10 (top 10, `xling eval bli`'s default), next to CSLS
with r_src over the 20k most frequent sources only (hub_vocab); `--brute-force` also times the old exact
path that measures r_src for every target (~5 min) and checks that both give the same top 10 of every word.

    .venv/bin/python benchmarks/bli.py --json runs/bench/bli.json           # ~45 min on 2 cores
    .venv/bin/python benchmarks/bli.py --methods procrustes,identical      # ~15 min: no unsupervised runs
    .venv/bin/python benchmarks/bli.py --quick         # one pair, small vectors, no 200k timing
    .venv/bin/python benchmarks/bli.py --methods procrustes --synthetic-words 0 --reference-muse ~/MUSE
    .venv/bin/python benchmarks/bli.py --synthetic-only --brute-force   # the 200k timing table only
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import log

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BIBLE_CODE = {"en": "eng", "de": "deu", "fr": "fra", "fi": "fin", "ru": "rus", "hr": "hrv"}
METHODS = ("procrustes", "identical", "adversarial", "selflearn")
RETRIEVALS = ("nn", "csls")
# MUSE's schedule and discriminator shape with fewer samples per epoch and a 512-wide discriminator: MUSE's
# 5 x 1M samples through a 2048-wide one is ~8 hours on 2 cores (180 ms an iteration); this is ~10 minutes.
# One thread: its small matmuls (32 x 300 @ 300 x 512) lose more to threading than they gain.
ADVERSARIAL = {"epochs": 5, "epoch_size": 200_000, "dis_hid_dim": 512, "threads": 1}
UNSUPERVISED = ("adversarial", "selflearn")
HISTORY_KEYS = ("stage", "restart", "seed", "epoch", "iteration", "criterion", "criteria", "dis_accuracy",
                "pairs", "seconds")  # fmt: skip
HUB_VOCAB = 20_000
# xling's defaults in MUSE's spelling, for --reference-muse (Procrustes + 5 refinements, as run_method's).
MUSE_SETTINGS = {"n_refinement": "5", "dico_method": "csls_knn_10", "dico_build": "S2T&T2S",
                 "dico_max_rank": "15000", "normalize_embeddings": "renorm,center,renorm",
                 "max_vocab": "200000", "cuda": "False", "export": ""}  # fmt: skip


@dataclass
class BenchSettings:
    """Everything that defines a run (written into the JSON)."""

    data: str
    vectors_dir: str = "runs/bench/vectors"
    pairs: list[str] = field(default_factory=lambda: ["en-de", "en-fr", "en-fi", "en-ru"])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    # the unsupervised methods take ~10 minutes a pair here: by default they run on the first pair only
    unsupervised_pairs: list[str] = field(default_factory=lambda: ["en-de"])
    # one seed in several fails outright on these small vocabularies; MUSE's criterion picks the good one
    adversarial_restarts: int = 3
    model: str = "word2vec"
    dim: int = 300
    epochs: int = 20
    max_vocab: int = 200_000
    synthetic_words: int = 200_000
    threads: int = 2
    quick: bool = False
    reference_muse: str = ""
    brute_force: bool = False


def parse_args(argv: list[str] | None = None) -> tuple[BenchSettings, Path | None]:
    """Return the settings and the --json path from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    parser.add_argument("--vectors-dir", default="runs/bench/vectors", help="cache of trained vectors")
    parser.add_argument("--pairs", default="en-de,en-fr,en-fi,en-ru")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--unsupervised-pairs", default="en-de", help="pairs adversarial/selflearn run on")
    parser.add_argument("--adversarial-restarts", type=int, default=3,
                        help="adversarial runs (seeds 0..N-1); the best by the unsupervised criterion is kept")  # fmt: skip
    parser.add_argument("--synthetic-words", type=int, default=200_000, help="0 skips the timing table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="one pair, dim 50, 2 epochs, no 200k timing")
    parser.add_argument("--reference-muse", default="", metavar="DIR",
                        help="your MUSE checkout: also run its supervised.py on the same inputs")  # fmt: skip
    parser.add_argument(
        "--synthetic-only", action="store_true", help="no language pairs: the 200k table only"
    )
    parser.add_argument("--brute-force", action="store_true",
                        help="also time exact CSLS with r_src for every target (~5 min at 200k)")  # fmt: skip
    args = parser.parse_args(argv)
    settings = BenchSettings(
        data=args.data, vectors_dir=args.vectors_dir, pairs=[p for p in args.pairs.split(",") if p],
        methods=args.methods.split(","), synthetic_words=args.synthetic_words, threads=args.threads,
        unsupervised_pairs=args.unsupervised_pairs.split(","), reference_muse=args.reference_muse,
        brute_force=args.brute_force, adversarial_restarts=args.adversarial_restarts,
    )  # fmt: skip
    if args.synthetic_only:
        settings.pairs = []
    if args.quick:
        settings = BenchSettings(data=args.data, vectors_dir=str(Path(args.vectors_dir) / "quick"),
                                 pairs=settings.pairs[:1], methods=settings.methods, dim=50, epochs=2,
                                 synthetic_words=0, threads=args.threads, quick=True,
                                 unsupervised_pairs=settings.pairs[:1],
                                 adversarial_restarts=args.adversarial_restarts,
                                 reference_muse=args.reference_muse)  # fmt: skip
    return settings, args.json


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

    # MUSE's protocol: lowercased dictionary lookups, MUSE's dico_max_rank (see the module docstring)
    config = WordAlignConfig(
        method=method, max_vocab=settings.max_vocab, lowercase=True, max_rank_mode="muse"
    )
    if method == "procrustes":
        config.dictionary = str(dictionary(settings, pair, "train"))
    if method == "adversarial":
        config.adversarial = dict(ADVERSARIAL)
        config.restarts = settings.adversarial_restarts
    started = time.perf_counter()
    try:
        mapping = align_words(src, tgt, config, progress=False)
    except XlingError as error:  # e.g. no identical strings between Latin and Cyrillic vocabularies
        log(f"{pair} {method:11s} n/a: {error}")
        return {"error": str(error)}
    align_seconds = time.perf_counter() - started
    out: dict[str, Any] = {"align_seconds": round(align_seconds, 2)}
    if method in UNSUPERVISED:  # the criterion per epoch / round: did model selection see a failure?
        out["history"] = [{k: v for k, v in entry.items() if k in HISTORY_KEYS} for entry in mapping.history]
        chosen = mapping.history[-1]
        if chosen.get("stage") == "selection":
            criteria = ", ".join(f"{value:.4f}" for value in chosen["criteria"])
            log(f"{pair} {method}: criterion per restart {criteria}; kept seed {chosen['seed']}")
    for retrieval in RETRIEVALS:
        started = time.perf_counter()
        result = evaluate_bli(src, tgt, mapping, BLIConfig(dictionary=str(dictionary(settings, pair, "test")),
                                                          retrieval=retrieval, pair=pair,
                                                          lowercase=True))  # fmt: skip
        row = result.scores[pair]
        out[retrieval] = {"p@1": row["p@1"], "p@5": row["p@5"], "p@10": row["p@10"],
                          "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip
        out["coverage"] = row["coverage"]
    log(f"{pair} {method:11s} P@1 nn {out['nn']['p@1']:.2f} csls {out['csls']['p@1']:.2f} "
        f"({align_seconds:.1f} s to align)")  # fmt: skip
    return out


def reference_muse(settings: BenchSettings, pair: str, src, tgt) -> dict[str, Any]:
    """Return P@1 (nn, csls), scored words and time of MUSE's own supervised.py on this pair's inputs.

    Runs the user's MUSE checkout (`--reference-muse`) as a subprocess in a temporary folder: the vectors
    as .vec text (xling's saver, 9 digits: float32 exactly), the dictionaries lowercased and
    space-separated (MUSE asserts lowercase lines), MUSE_SETTINGS. Figures of MUSE's last iteration, read
    from its train.log (MUSE exports its best iteration by test P@1; xling returns the last).
    """
    import json
    import re
    import subprocess
    import tempfile

    from xling.alignment.words.dictionary import read_word_pairs
    from xling.vectors import save_vectors

    muse = Path(settings.reference_muse).expanduser()
    if (muse / "facebook_muse" / "supervised.py").is_file():
        command = [sys.executable, "-m", "facebook_muse.supervised"]
    elif (muse / "supervised.py").is_file():
        command = [sys.executable, "supervised.py"]
    else:
        return {"error": f"no supervised.py (or facebook_muse/supervised.py) in {muse}"}
    with tempfile.TemporaryDirectory(prefix="xling-muse-") as folder:
        tmp = Path(folder)
        save_vectors(src, tmp / "src.vec", precision=9)
        save_vectors(tgt, tmp / "tgt.vec", precision=9)
        for split in ("train", "test"):
            words = read_word_pairs(dictionary(settings, pair, split), lowercase=True)
            lines = "".join(f"{source} {target}\n" for source, target in words.pairs)
            (tmp / f"{split}.txt").write_text(lines, encoding="utf-8")
        src_lang, tgt_lang = pair.split("-")
        options = {**MUSE_SETTINGS, "src_lang": src_lang, "tgt_lang": tgt_lang, "emb_dim": str(settings.dim),
                   "src_emb": str(tmp / "src.vec"), "tgt_emb": str(tmp / "tgt.vec"),
                   "dico_train": str(tmp / "train.txt"), "dico_eval": str(tmp / "test.txt"),
                   "exp_path": str(tmp / "exp"), "exp_name": "xling", "exp_id": pair}  # fmt: skip
        started = time.perf_counter()
        run = subprocess.run(command + [f"--{name}={value}" for name, value in options.items()],
                             cwd=muse, capture_output=True, text=True, check=False)  # fmt: skip
        seconds = time.perf_counter() - started
        log_file = tmp / "exp" / "xling" / pair / "train.log"
        text = log_file.read_text(encoding="utf-8") if log_file.is_file() else ""
        entries = [json.loads(entry) for entry in re.findall(r"__log__:(\{.*\})", text)]
        scored = re.findall(r"(\d+) source words - csls_knn_10 - Precision at k = 1:", text)
    if run.returncode != 0 or not entries:
        return {"error": f"MUSE failed (exit {run.returncode}): {(run.stderr or run.stdout)[-300:].strip()}"}
    last = entries[-1]
    out = {"nn": round(last["precision_at_1-nn"], 2), "csls": round(last["precision_at_1-csls_knn_10"], 2),
           "words": int(scored[-1]), "iterations": len(entries), "seconds": round(seconds, 1)}  # fmt: skip
    log(f"{pair} MUSE ref.   P@1 nn {out['nn']:.2f} csls {out['csls']:.2f} over {out['words']} words "
        f"({seconds:.1f} s, supervised.py)")  # fmt: skip
    return out


def synthetic_pipeline(settings: BenchSettings) -> dict[str, Any]:
    """Return the time of the supervised pipeline on synthetic 200k x 300 vocabularies, stage by stage."""
    from xling.alignment.words import csls
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
    align_seconds = aligned - started
    mapped = x @ w
    pruning = PruneCounts()
    logging.getLogger(csls.__name__).addHandler(pruning)
    logging.getLogger(csls.__name__).setLevel(logging.DEBUG)
    out: dict[str, Any] = {"words": n, "dim": d, "align_seconds": round(align_seconds, 2),
                           "refinements": len(history), "test_words": len(test)}  # fmt: skip
    # exact CSLS (r_src over all sources), pruned to the targets in reach of a test word's top
    for name, ks in (("p@1", (1,)), ("p@10", (1, 5, 10))):
        pruning.reset()
        started = time.perf_counter()
        figures = bli_from_matrices(mapped, z, test, ks=ks, method="csls")
        seconds = time.perf_counter() - started
        out[f"exact_{name}"] = {**{f"p@{k}": figures[f"p@{k}"] for k in ks}, "bli_seconds": round(seconds, 2),
                                "total_seconds": round(align_seconds + seconds, 2),
                                "pruned": pruning.rounds > 0, "r_src_measured_targets": pruning.measured,
                                "bounds_tightened": pruning.tightened, "rounds": pruning.rounds,
                                "stage_seconds": pruning.seconds}  # fmt: skip
        log(f"exact CSLS BLI to top {max(ks)}: {seconds:.1f} s, r_src measured for {pruning.measured:,} of "
            f"{n:,} targets in {pruning.rounds} rounds ({pruning.seconds}), P@1 {figures['p@1']:.1f}")  # fmt: skip
    # CSLS's target terms against the 20k most frequent sources only (BLIConfig.hub_vocab), not all 200k
    started = time.perf_counter()
    capped = bli_from_matrices(mapped, z, test, ks=(1,), method="csls", hub_vocab=HUB_VOCAB)
    seconds = time.perf_counter() - started
    out["hub_vocab"] = {"sources": HUB_VOCAB, "p@1": capped["p@1"], "bli_seconds": round(seconds, 2),
                        "total_seconds": round(align_seconds + seconds, 2)}  # fmt: skip
    if settings.brute_force:  # the old exact path: r_src for every target (translate, as BLI calls it)
        queries = test[:, 0]
        xu, zu = csls.unit_rows(mapped), csls.unit_rows(z)
        started = time.perf_counter()
        brute = csls.translate(xu, zu, queries, top=10, pruned=False)
        seconds = time.perf_counter() - started
        pruned = csls.translate(xu, zu, queries, top=10, pruned=True)
        out["brute_force"] = {"p@1": round(100.0 * float((brute[1][:, 0] == test[:, 1]).mean()), 2),
                              "bli_seconds": round(seconds, 2),
                              "total_seconds": round(align_seconds + seconds, 2),
                              "top10_identical": bool((brute[1] == pruned[1]).all()),
                              "max_score_difference": float(np.abs(brute[0] - pruned[0]).max())}  # fmt: skip
        same = out["brute_force"]["top10_identical"]
        log(f"brute-force exact CSLS: {seconds:.1f} s; the same top 10 as pruned: {same}")
    logging.getLogger(csls.__name__).removeHandler(pruning)
    return out


class PruneCounts(logging.Handler):
    """Keeps the counts of the last pruned CSLS retrieval from the retrieval module's debug record."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.reset()

    def reset(self) -> None:
        self.measured = self.tightened = self.rounds = 0
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("pruned CSLS"):
            self.measured, _, self.tightened, _, self.rounds, *seconds = record.args  # type: ignore[misc]
            self.seconds = dict(
                zip(
                    ("bound", "lists", "tightening", "measuring"), (round(s, 2) for s in seconds), strict=True
                )
            )


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
    reference = report.get("reference_muse", {})
    if reference:
        compare = Table(title="xling procrustes vs MUSE supervised.py on the same inputs, P@1 %")
        for column in ("pair", "xling nn", "MUSE nn", "xling csls", "MUSE csls", "words xling / MUSE"):
            compare.add_column(column, justify="left" if column == "pair" else "right")
        for pair, muse in reference.items():
            ours = report["pairs"][pair].get("procrustes", {})
            if "error" in muse or "nn" not in ours:
                compare.add_row(pair, "", "", "", "", (muse.get("error") or ours.get("error", ""))[-60:])
                continue
            compare.add_row(pair, f"{ours['nn']['p@1']:.2f}", f"{muse['nn']:.2f}", f"{ours['csls']['p@1']:.2f}",
                            f"{muse['csls']:.2f}",
                            f"{ours['coverage']['src_words_covered']} / {muse['words']}")  # fmt: skip
        console.print(compare)
    medians = report.get("median_p@1_csls", {})
    if medians:
        pairs = report.get("median_pairs", {})
        console.print("median P@1 (csls), each over the pairs it scored: " + ", ".join(
            f"{m} {v:.2f} ({', '.join(pairs.get(m, []))})" for m, v in medians.items()))  # fmt: skip
    synthetic = report.get("synthetic")
    if synthetic:
        exact, exact10, capped = synthetic["exact_p@1"], synthetic["exact_p@10"], synthetic["hub_vocab"]
        brute = synthetic.get("brute_force")
        console.print(f"supervised pipeline on {synthetic['words']:,} x {synthetic['dim']} synthetic words, "
                      f"{synthetic['test_words']:,} test words: align (Procrustes + 5 refinements) "
                      f"{synthetic['align_seconds']:.1f} s; exact CSLS BLI (P@1) "
                      f"{exact['bli_seconds']:.1f} s, "
                      f"total {exact['total_seconds']:.1f} s (P@1 {exact['p@1']:.1f}, r_src measured for "
                      f"{exact['r_src_measured_targets']:,} targets); to P@10 {exact10['bli_seconds']:.1f} s "
                      f"({exact10['r_src_measured_targets']:,} targets); with r_src over the {HUB_VOCAB:,} "
                      f"most frequent sources: BLI {capped['bli_seconds']:.1f} s (P@1 {capped['p@1']:.1f})"
                      + (f"; brute-force exact CSLS {brute['bli_seconds']:.1f} s (P@1 {brute['p@1']:.1f}, "
                         f"same top 10: {brute['top10_identical']})" if brute else ""))  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Return the report after running the benchmark (and writing --json if given)."""
    import torch

    settings, json_path = parse_args(argv)
    torch.set_num_threads(settings.threads)
    if settings.pairs and not (Path(settings.data) / "bible").is_dir():
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
        if settings.reference_muse and "procrustes" in methods:
            report.setdefault("reference_muse", {})[pair] = reference_muse(settings, pair, src, tgt)
    # each method over the pairs it scored (unsupervised methods run on unsupervised_pairs only, a method can
    # fail on a pair): the pairs go along, so medians over different pairs are not read as one comparison
    scored = {
        m: [pair for pair, row in report["pairs"].items() if "csls" in row.get(m, {})]
        for m in settings.methods
    }
    report["median_p@1_csls"] = {
        m: statistics.median(report["pairs"][pair][m]["csls"]["p@1"] for pair in pairs)
        for m, pairs in scored.items()
        if pairs
    }
    report["median_pairs"] = {m: pairs for m, pairs in scored.items() if pairs}
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
