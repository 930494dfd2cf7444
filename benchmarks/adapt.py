"""Benchmark: add languages to xling-mini with `xling adapt`, before and after side by side in one run.

For each language the base model lacks, the adaptation gets only the data the issue names for it, never a
test set: Turkish a bilingual dictionary (the en-tr BLI train split) and UD Turkish-IMST train text; Arabic
its UDHR articles, its Swadesh list, the UMSAB train tweets' text and the bundled everyday sample; Thai,
Georgian and Tamil their UDHR articles and Swadesh lists. Then, on test data only ever scored:

- Tatoeba xx-eng accuracy (cosine, both directions averaged, percent) before and after;
- NTREX retrieval accuracy (eng vs xx over its 1,997 news sentences, both directions averaged);
- the Tatoeba-10 average of the languages the model already had, with the adapted model (its old rows are
  frozen; only text whose segmentation changes can move);
- the adapted model's size (its model files) and the CPU time of the adaptation (process CPU seconds, all threads).

`--ablation` adds, for Turkish, dictionary only / text only / both, and for the first UDHR-only language,
UDHR with and without the Swadesh list. The old languages' protected text (pieces it would use are not
added) is the first 300 verses of John in each of the 60 Bible languages, the book xling-mini held out.

    .venv/bin/python benchmarks/adapt.py --json runs/bench/adapt.json            # ~10 min on 2 cores
    .venv/bin/python benchmarks/adapt.py --langs tur --ablation --json runs/bench/adapt-tur.json
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import log, quiet_libraries, write_json

from xling.adaptation import AdaptConfig, adapt
from xling.data.root import data_root
from xling.data.sources import sample_corpus_dir
from xling.embeddings.encoder import Encoder
from xling.evaluation.tatoeba import DEFAULT_LANGUAGES, TatoebaConfig, evaluate_tatoeba
from xling.evaluation.translation_accuracy import retrieval_accuracy
from xling.translation.testsets import ntrex_folder, ntrex_test

UDHR_ONLY = ("tha", "kat", "tam")


@dataclass
class Recipe:
    """The data one language is adapted from (AdaptConfig fields)."""

    text: list[str] = field(default_factory=list)
    dictionary: list[str] = field(default_factory=list)
    parallel: list[str] = field(default_factory=list)


def recipes(data: Path, work: Path) -> dict[str, Recipe]:
    """Return the data of each benchmarked language (see the module docstring)."""
    return {
        "tur": Recipe(text=[str(data / "ud/UD_Turkish-IMST/tr_imst-ud-train.conllu.gz")],
                      dictionary=[f"eng-tur={data / 'bli_xling_eval/en-tr/yacle.train.freq.5k.en-tr.tsv'}"]),
        "arb": Recipe(text=[str(data / "sentiment/umsab/arabic/train_text.txt")], dictionary=["swadesh"],
                      parallel=["udhr", f"eng-arb={sample_pairs('ara', work)}"]),
        **{lang: Recipe(dictionary=["swadesh"], parallel=["udhr"]) for lang in UDHR_ONLY},
    }  # fmt: skip


def protect_file(data: Path, work: Path, per_language: int = 300) -> Path:
    """Return a file of the first `per_language` verses of John in each Bible language (the held-out book of
    xling-mini's training), written once: the old languages' text whose segmentation must not change."""
    import gzip

    path = work / f"protect.bible-jhn-{per_language}.txt"
    if not path.is_file():
        lines = []
        for bible in sorted((data / "bible").glob("*.tsv.gz")):
            with gzip.open(bible, "rt", encoding="utf-8") as handle:
                verses = [line.split("\t", 1)[1].strip() for line in handle if line.startswith("JHN.")]
            lines.extend(verse for verse in verses[:per_language] if verse)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sample_pairs(lang: str, work: Path) -> Path:
    """Return a TSV of the bundled sample's English-`lang` pairs (joined by sentence id), written once."""
    path = work / f"sample.eng-{lang}.tsv"
    if not path.is_file():

        def read(code: str) -> dict[str, str]:
            lines = (sample_corpus_dir() / f"{code}.tsv").read_text(encoding="utf-8").splitlines()
            return dict(line.split("\t", 1) for line in lines if line.strip())

        english, other = read("eng"), read(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "".join(f"{english[i]}\t{other[i]}\n" for i in english if i in other), encoding="utf-8"
        )
    return path


def scores(model: str, lang: str, data: Path) -> dict[str, float]:
    """Return {"tatoeba", "ntrex"} accuracies (percent, both directions averaged) of `model` for `lang`."""
    encoder = Encoder.load(model)
    tatoeba = evaluate_tatoeba(
        encoder, TatoebaConfig(model=model, data=str(data), languages=[_tatoeba_code(lang)])
    )
    test = ntrex_test(ntrex_folder(str(data)), "eng", lang)
    ntrex = retrieval_accuracy(encoder.encode(test.references), encoder.encode(test.sources))
    return {"tatoeba": tatoeba.average, "ntrex": round(100 * ntrex.average, 2)}


def _tatoeba_code(lang: str) -> str:
    return {"arb": "ara"}.get(lang, lang)


def old_average(model: str, data: Path) -> float:
    """Return the Tatoeba-10 average (percent) of `model` over the languages xling-mini was trained on."""
    return evaluate_tatoeba(Encoder.load(model), TatoebaConfig(model=model, data=str(data),
                                                               languages=list(DEFAULT_LANGUAGES))).average  # fmt: skip


def run_adaptation(
    base: str, lang: str, recipe: Recipe, output: Path, data: Path, steps: int, protect: Path
) -> dict[str, Any]:
    """Return the adaptation's figures (CPU and wall seconds, size, what AdaptResult says)."""
    config = AdaptConfig(model=base, language=lang, output=str(output), data=str(data), overwrite=True,
                         text=recipe.text, dictionary=recipe.dictionary, parallel=recipe.parallel)  # fmt: skip
    config.vocabulary.protect = [str(protect)]
    config.training.max_steps = steps
    config.training.threads = 2
    cpu, wall = time.process_time(), time.perf_counter()
    result = adapt(config)
    model_files = [output / "modules.json", output / "xling.json", *(output / "0_StaticEmbedding").iterdir()]
    size = sum(p.stat().st_size for p in model_files)
    return {"cpu_seconds": round(time.process_time() - cpu, 1), "seconds": round(time.perf_counter() - wall, 1),
            "size_mb": round(size / 1e6, 1), "added_pieces": result.vocabulary.get("added"),
            "examples": result.examples, "dev_before": result.before, "dev_after": result.after,
            "data": result.data}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="xling-mini")
    parser.add_argument("--data", default=None, help="data root (default $XLING_DATA, else ../shared/data)")
    parser.add_argument("--langs", default="tur,arb,tha,kat,tam")
    parser.add_argument("--steps", type=int, default=AdaptConfig().training.max_steps)
    parser.add_argument("--work", type=Path, default=Path("runs/bench/adapt"))
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_libraries()
    data = data_root(args.data).path
    args.work.mkdir(parents=True, exist_ok=True)
    plans = recipes(data, args.work)
    protect = protect_file(data, args.work)
    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    report: dict[str, Any] = {"model": args.model, "steps": args.steps, "languages": {}, "old_languages": {}}
    report["old_languages"]["before"] = old_average(args.model, data)
    afters = {}
    for lang in langs:
        log(f"{lang}: before")
        before = scores(args.model, lang, data)
        log(f"{lang}: adapting")
        output = args.work / f"xling-mini+{lang}"
        figures = run_adaptation(args.model, lang, plans[lang], output, data, args.steps, protect)
        after = scores(str(output), lang, data)
        afters[lang] = old_average(str(output), data)
        report["languages"][lang] = {
            "before": before,
            "after": after,
            **figures,
            "old_languages_after": afters[lang],
        }
        log(f"{lang}: tatoeba {before['tatoeba']} -> {after['tatoeba']}, ntrex {before['ntrex']} -> "
            f"{after['ntrex']}, {figures['cpu_seconds']} CPU s")  # fmt: skip
    if afters:
        report["old_languages"]["after"] = min(afters.values())  # the worst of the adapted models
    if args.ablation:
        report["ablation"] = ablation(args, plans, langs, data)
    print_table(report)
    write_json(report, args.json)
    return 0


def ablation(args, plans: dict[str, Recipe], langs: list[str], data: Path) -> dict[str, dict[str, float]]:
    """Return {variant: scores} for Turkish's data kinds and a UDHR-only language with and without Swadesh."""
    variants: dict[str, tuple[str, Recipe]] = {}
    if "tur" in langs:
        tur = plans["tur"]
        variants["tur: dictionary only"] = ("tur", Recipe(dictionary=tur.dictionary))
        variants["tur: text only"] = ("tur", Recipe(text=tur.text))
    udhr_lang = next((lang for lang in langs if lang in UDHR_ONLY), None)
    if udhr_lang:
        variants[f"{udhr_lang}: udhr only"] = (udhr_lang, Recipe(parallel=["udhr"]))
        variants[f"{udhr_lang}: swadesh only"] = (udhr_lang, Recipe(dictionary=["swadesh"]))
    out = {}
    for name, (lang, recipe) in variants.items():
        log(f"ablation {name}")
        output = args.work / "ablation"
        figures = run_adaptation(
            args.model, lang, recipe, output, data, args.steps, protect_file(data, args.work)
        )
        out[name] = {**scores(str(output), lang, data), "cpu_seconds": figures["cpu_seconds"]}
    return out


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"xling adapt on {report['model']} ({report['steps']} steps)")
    for column in (
        "language",
        "tatoeba before",
        "after",
        "ntrex before",
        "after",
        "old-10 after",
        "CPU s",
        "MB",
    ):
        table.add_column(column, justify="right")
    for lang, row in report["languages"].items():
        table.add_row(lang, f"{row['before']['tatoeba']:.1f}", f"{row['after']['tatoeba']:.1f}",
                      f"{row['before']['ntrex']:.1f}", f"{row['after']['ntrex']:.1f}",
                      f"{row['old_languages_after']:.2f}", f"{row['cpu_seconds']:.0f}", f"{row['size_mb']:.1f}")  # fmt: skip
    Console().print(table)
    print(f"old languages (Tatoeba-10): before {report['old_languages'].get('before')}, worst after "
          f"{report['old_languages'].get('after')}")  # fmt: skip
    for name, row in report.get("ablation", {}).items():
        print(f"  {name}: tatoeba {row['tatoeba']:.1f}, ntrex {row['ntrex']:.1f}")


if __name__ == "__main__":
    sys.exit(main())
