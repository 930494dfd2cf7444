"""Benchmark: xling's `mine_embeddings` against a plain FAISS + numpy baseline, 100k x 100k sentences.

Both contenders mine the same seeded embeddings: random unit vectors (dim 384) on each side, with a
fraction of the target rows replaced by noisy copies of source rows (cosine about 0.7), the "planted"
translations. Settings are LASER's: k=4 neighbours, ratio margin, pairs best in both directions
(intersect), threshold 1.06.

  a) xling   : `xling.retrieval.mine_embeddings` (exact flat index, queries searched in chunks).
  b) baseline: the straightforward way: an exact `faiss.IndexFlatIP` kNN of the whole set in each
               direction, then the margin, the best candidates and their intersection with numpy.

Each contender runs `--rounds` times (default 3), each time in a fresh subprocess, so that its peak
resident memory (`ru_maxrss`, which sees FAISS's allocations where tracemalloc would not) is its own; the
contenders take turns in every round, the order alternating from round to round, so that noise from a
shared machine hits both alike. The table shows the median wall time of the mining call and each round's,
then the peak RSS and the peak above what the process held once its input was made, both from one round,
the median one (whose seconds are the median: `summarize`), and how many of the planted pairs each found;
the line under it gives the `ratio`, the baseline's median seconds over xling's (above 1: xling is
faster). The two lists of mined pairs are then checked to be identical.

    .venv/bin/python benchmarks/mine_speed.py --json runs/bench/mine_speed.json
    .venv/bin/python benchmarks/mine_speed.py --quick      # 5k x 5k, 3 rounds: under a minute
    # memory at scale: 1M x 1M through xling's IVF index only (an exact baseline would take hours here)
    .venv/bin/python benchmarks/mine_speed.py --n 1000000 --dim 256 --index ivf --contenders xling
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import log, measured_rounds, round_medians, write_json

CONTENDERS = ("xling", "baseline")
LABELS = {"xling": "xling mine_embeddings", "baseline": "plain FAISS + numpy"}
THRESHOLD = 1.06  # LASER / CCMatrix ratio-margin cut, the same for both contenders
RATIO_MEANS = "baseline median seconds / xling median seconds: above 1 means xling is faster"


@dataclass
class BenchSettings:
    """Everything that defines one benchmark run (written into the JSON as `config`)."""

    n: int = 100_000
    dim: int = 384
    planted: float = 0.1  # fraction of the rows of each side that form planted pairs
    noise: float = 1.0  # norm of the noise added to a planted copy (1.0: cosine about 0.7)
    k: int = 4
    seed: int = 0
    threads: int | None = None
    index: str = "flat"  # xling's index kind (flat, ivf, hnsw); the baseline is always exact


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Return the parsed command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=BenchSettings.n, help="sentences per side")
    parser.add_argument("--dim", type=int, default=BenchSettings.dim)
    parser.add_argument("--planted", type=float, default=BenchSettings.planted)
    parser.add_argument("--k", type=int, default=BenchSettings.k)
    parser.add_argument("--seed", type=int, default=BenchSettings.seed)
    parser.add_argument("--threads", type=int, default=None, help="FAISS threads (default: all cores)")
    parser.add_argument("--index", default="flat", choices=("flat", "ivf", "hnsw"), help="xling's index")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="which to run (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each contender, the order alternating by round (medians are reported)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="5k x 5k instead of --n")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_embeddings(settings: BenchSettings) -> tuple[np.ndarray, np.ndarray, set[tuple[int, int]]]:
    """Return (src, tgt, planted pairs): seeded unit rows, tgt holding noisy copies of some src rows.

    Built in float32 and normalised in place, so that making the input leaves no large temporary behind
    to raise the memory high-water mark before mining starts.
    """
    rng = np.random.default_rng(settings.seed)
    src = rng.standard_normal((settings.n, settings.dim), dtype=np.float32)
    tgt = rng.standard_normal((settings.n, settings.dim), dtype=np.float32)
    count = int(settings.n * settings.planted)
    src_rows = rng.choice(settings.n, count, replace=False)
    tgt_rows = rng.choice(settings.n, count, replace=False)
    for side in (src, tgt):
        side /= np.sqrt(np.einsum("ij,ij->i", side, side))[:, None]
    noise = rng.standard_normal((count, settings.dim), dtype=np.float32)
    noise *= settings.noise / math.sqrt(settings.dim)
    tgt[tgt_rows] = src[src_rows] + noise
    tgt[tgt_rows] /= np.sqrt(np.einsum("ij,ij->i", tgt[tgt_rows], tgt[tgt_rows]))[:, None]
    return src, tgt, set(zip(src_rows.tolist(), tgt_rows.tolist(), strict=True))


def mine_xling(
    src: np.ndarray, tgt: np.ndarray, k: int, index: str = "flat"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (src indexes, tgt indexes, scores) mined by xling with LASER's settings."""
    from xling.retrieval.mining import MineConfig, mine_embeddings

    config = MineConfig(k=k, margin="ratio", mode="intersect", threshold=THRESHOLD, index=index)
    pairs = mine_embeddings(src, tgt, config)
    return (
        np.array([p.src_index for p in pairs], dtype=np.int64),
        np.array([p.tgt_index for p in pairs], dtype=np.int64),
        np.array([p.score for p in pairs], dtype=np.float64),
    )


def mine_baseline(src: np.ndarray, tgt: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (src indexes, tgt indexes, scores) mined the plain way: whole-set FAISS kNN + numpy margin."""
    import faiss

    def search(queries: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        index = faiss.IndexFlatIP(base.shape[1])
        index.add(base)
        return index.search(queries, k)

    fwd_sims, fwd_ids = search(src, tgt)
    bwd_sims, bwd_ids = search(tgt, src)
    avg_x, avg_y = fwd_sims.mean(axis=1), bwd_sims.mean(axis=1)
    fwd_scores = fwd_sims / ((avg_x[:, None] + avg_y[fwd_ids]) / 2)
    bwd_scores = bwd_sims / ((avg_y[:, None] + avg_x[bwd_ids]) / 2)
    fwd_best = fwd_ids[np.arange(len(src)), fwd_scores.argmax(axis=1)]
    bwd_best = bwd_ids[np.arange(len(tgt)), bwd_scores.argmax(axis=1)]
    mutual = np.flatnonzero(bwd_best[fwd_best] == np.arange(len(src)))
    scores = fwd_scores.max(axis=1)[mutual]
    keep = scores >= THRESHOLD
    return mutual[keep], fwd_best[mutual][keep], scores[keep].astype(np.float64)


def max_rss_mib() -> float:
    """Return this process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(name: str, settings: BenchSettings, out: Path) -> None:
    """Return nothing; make the input, mine it with contender `name`, and save figures and pairs in `out`."""
    import faiss

    import xling.retrieval.mining  # noqa: F401  (imported before measuring: import time is not mining time)

    if settings.threads is not None:
        faiss.omp_set_num_threads(settings.threads)
    src, tgt, planted = make_embeddings(settings)
    before = max_rss_mib()
    start = time.perf_counter()
    if name == "xling":
        src_idx, tgt_idx, scores = mine_xling(src, tgt, settings.k, settings.index)
    else:
        src_idx, tgt_idx, scores = mine_baseline(src, tgt, settings.k)
    seconds = time.perf_counter() - start
    peak = max_rss_mib()
    correct = sum((i, j) in planted for i, j in zip(src_idx.tolist(), tgt_idx.tolist(), strict=True))
    np.savez(out / f"{name}.npz", src=src_idx, tgt=tgt_idx, score=scores)
    figures = {
        "seconds": seconds,
        "peak_rss_mib": peak,
        "input_rss_mib": before,
        "peak_above_input_mib": peak - before,
        "pairs": len(src_idx),
        "planted": len(planted),
        "planted_found": correct,
        "precision": correct / len(src_idx) if len(src_idx) else 0.0,
        "faiss_threads": faiss.omp_get_max_threads(),
    }
    (out / f"{name}.json").write_text(json.dumps(figures), encoding="utf-8")


def run_contender(name: str, settings: BenchSettings, out: Path) -> dict[str, Any]:
    """Return the figures of contender `name`, run in a fresh subprocess."""
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--settings",
        json.dumps(asdict(settings)),
        "--out",
        str(out),
    ]
    log(f"running {name} ...")
    subprocess.run(command, check=True)
    return json.loads((out / f"{name}.json").read_text(encoding="utf-8"))


def run_rounds(
    names: tuple[str, ...], settings: BenchSettings, out: Path, rounds: int
) -> list[dict[str, dict[str, Any]]]:
    """Return each round's figures of the contenders `names` (each round keyed in `names` order), every run
    in a fresh subprocess, the order alternating from round to round."""

    def run_one(name: str) -> tuple[dict[str, Any], str]:
        figures = run_contender(name, settings, out)
        return figures, f"{figures['seconds']:.2f} s, peak RSS {figures['peak_rss_mib']:,.0f} MiB"

    return measured_rounds(rounds, names, run_one)


def summarize(rounds: list[dict[str, dict[str, Any]]]) -> tuple[dict[str, dict[str, Any]], float | None]:
    """Return each contender's figures over `rounds` and the ratio baseline median seconds / xling median
    seconds (None unless both ran).

    A contender's `seconds` is the median over the rounds, each round's are under `round_seconds`, and
    every other figure is its median round's, the round whose seconds are the median (of an even number,
    the lower of the middle two), 1-based under `median_round`: so peak_rss_mib, input_rss_mib and
    peak_above_input_mib come from one run, and above input is always peak minus input (separate medians
    could come from different rounds). The pair counts are the same in every round.
    """
    medians = round_medians(rounds, "seconds")
    results = {}
    for name in rounds[0]:
        middle = sorted(range(len(rounds)), key=lambda r: rounds[r][name]["seconds"])[(len(rounds) - 1) // 2]
        results[name] = {**rounds[middle][name], "seconds": medians[name], "median_round": middle + 1,
                         "round_seconds": [r[name]["seconds"] for r in rounds]}  # fmt: skip
    ratio = None
    if "xling" in results and "baseline" in results and results["xling"]["seconds"] > 0:
        ratio = round(results["baseline"]["seconds"] / results["xling"]["seconds"], 3)
    return results, ratio


def compare(out: Path) -> dict[str, Any]:
    """Return whether both contenders mined the same pairs, and how far apart their scores are."""
    mined = {name: np.load(out / f"{name}.npz") for name in CONTENDERS}
    keyed = {}
    for name, data in mined.items():
        order = np.lexsort((data["tgt"], data["src"]))
        keyed[name] = (data["src"][order], data["tgt"][order], data["score"][order])
    a, b = keyed["xling"], keyed["baseline"]
    same = len(a[0]) == len(b[0]) and bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
    diff = float(np.abs(a[2] - b[2]).max()) if same and len(a[2]) else None
    return {
        "identical_pairs": same,
        "max_score_diff": diff,
        "pairs": {n: len(k[0]) for n, k in keyed.items()},
    }


def print_table(report: dict[str, Any]) -> None:
    """Print the comparison as a rich table and the identity check under it."""
    from rich.console import Console
    from rich.table import Table

    config = report["config"]
    results = report["results"]
    first = next(iter(results.values()))
    title = (
        f"Bitext mining {config['n']:,} x {config['n']:,}, dim {config['dim']}, k={config['k']}, "
        f"ratio margin, intersect, threshold {THRESHOLD}, xling index {config['index']}, "
        f"{first['faiss_threads']} FAISS threads, medians of {config['rounds']} rounds (order alternating)"
    )
    table = Table(title=title)
    for column in ("contender", "wall s", "per round", "peak RSS MiB", "above input MiB", "pairs",
                   "planted found", "precision"):  # fmt: skip
        table.add_column(column, justify="left" if column == "contender" else "right")
    for name, r in results.items():
        per_round = " / ".join(f"{x:.2f}" for x in r["round_seconds"])
        table.add_row(LABELS[name], f"{r['seconds']:.2f}", per_round, f"{r['peak_rss_mib']:,.0f}",
                      f"{r['peak_above_input_mib']:,.0f}", f"{r['pairs']:,}",
                      f"{r['planted_found']:,} / {r['planted']:,}", f"{r['precision']:.4f}")  # fmt: skip
    console = Console()
    console.width = max(console.width, 140)  # piped output gets 80 columns: too narrow here
    console.print(table)
    if report["ratio"] is not None:
        console.print(f"ratio {report['ratio']:.2f}x ({report['ratio_means']})")
    check = report["check"]
    if check is None:
        return
    if check["identical_pairs"]:
        console.print(f"mined pairs identical: yes ({check['pairs']['xling']:,} pairs, "
                      f"max |score difference| {check['max_score_diff']:.2e})")  # fmt: skip
    else:
        console.print(f"mined pairs identical: NO ({check['pairs']})")


def main(argv: list[str] | None = None) -> int:
    """Return the exit status after running both contenders and reporting them."""
    args = parse_args(argv)
    if args.child:
        run_child(args.child, BenchSettings(**json.loads(args.settings)), args.out)
        return 0
    settings = BenchSettings(
        n=5_000 if args.quick else args.n,
        dim=args.dim,
        planted=args.planted,
        k=args.k,
        seed=args.seed,
        threads=args.threads,
        index=args.index,
    )
    with tempfile.TemporaryDirectory(prefix="mine-speed-") as folder:
        out = Path(folder)
        names = [name for name in args.contenders.split(",") if name]
        unknown = sorted(set(names) - set(CONTENDERS))
        if unknown:
            sys.exit(f"--contenders: unknown {', '.join(unknown)} (choose from {', '.join(CONTENDERS)})")
        if args.rounds < 1:
            sys.exit("--rounds: at least 1")
        rounds = run_rounds(tuple(dict.fromkeys(names)), settings, out, args.rounds)
        results, ratio = summarize(rounds)
        # only exact search on both sides must give the same pairs; an approximate index is compared
        # by its planted pairs found instead (every round mines the same pairs: the last round's are kept)
        check = compare(out) if len(results) == len(CONTENDERS) and settings.index == "flat" else None
    import faiss

    report = {
        "config": {**asdict(settings), "rounds": args.rounds},
        "results": results,
        "ratio": ratio,
        "ratio_means": RATIO_MEANS,
        "rounds": rounds,
        "check": check,
        "machine": {"cpus": os.cpu_count(), "faiss": faiss.__version__, "numpy": np.__version__},
    }
    print_table(report)
    write_json(report, args.json)
    return 0 if check is None or check["identical_pairs"] else 1


if __name__ == "__main__":
    sys.exit(main())
