"""Benchmark: add languages to xling-mini with `xling adapt`, before and after side by side in one run.

Each language of recipes/xling-mini-languages.toml (the recipe the shipped xling-mini's added languages come
from) is added to the base model on its own (by default the 60-language xling-mini before any language was
added, runs/xling-mini-languages/base, taken from git as recipes/ship_xling_mini_languages.py does), with
that recipe's data and settings, never a test set: Turkish a bilingual dictionary (the en-tr BLI train
split), UD Turkish-IMST train and dev text and its UDHR article pairs; Arabic its UDHR articles, its Swadesh
list, the UMSAB train tweets' text and the bundled everyday sample; Hindi the same but the tweets
(romanised); Thai, Georgian and Tamil their UDHR articles and Swadesh lists. Then, on test data
only ever scored:

- Tatoeba xx-eng accuracy (cosine, both directions averaged, percent) before and after;
- NTREX retrieval accuracy (eng vs xx over its 1,997 news sentences, both directions averaged);
- the Tatoeba-10 average of the languages the model already had, with the adapted model (its old rows are
  frozen; only text whose segmentation changes can move);
- the adapted model's size (its model files) and the CPU time of the adaptation (process CPU seconds, all
  threads; JSON `seconds`, wall time in `wall_seconds`).

A language whose adaptation (the recipe's data, with any `--set`) does not train on its UDHR articles
also gets a dev figure: retrieval accuracy on its UDHR article pairs with English, before and after;
settings are compared on it, never on Tatoeba or NTREX. (Turkish trains on them since 2026-12-05: compare
its settings with `--set 'parallel=[]'`.) `--set static.train_unprotected_old_rows=true` (repeatable; `xling adapt --set`'s syntax)
changes a setting of every run.

`--ablation` adds, for Turkish, the dictionary alone, the dictionary with the text used for pieces only
(no glossed sentences; text alone cannot train a static encoder: `xling adapt` refuses it), the dictionary
with the text, and the recipe's whole data (with its UDHR pairs);
and for the first UDHR-only language, UDHR alone and Swadesh alone next to both. The old languages' protected text (pieces it would use are not
added) is the recipe's: the first 300 verses of John in each of the 60 Bible languages, the book xling-mini
held out.

    .venv/bin/python benchmarks/adapt.py --json runs/bench/adapt.json            # ~10 min on 2 cores
    .venv/bin/python benchmarks/adapt.py --langs tur --ablation --json runs/bench/adapt-tur.json
    .venv/bin/python benchmarks/adapt.py --langs tur --set static.train_unprotected_old_rows=true
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import log, quiet_libraries, write_json

from xling.adaptation import AdaptConfig, adapt
from xling.config import load_config
from xling.data.root import data_root
from xling.data.udhr import udhr_folder, udhr_pairs
from xling.embeddings.encoder import Encoder
from xling.errors import DataError
from xling.evaluation.tatoeba import DEFAULT_LANGUAGES, TatoebaConfig, evaluate_tatoeba
from xling.evaluation.translation_accuracy import ntrex_retrieval, retrieval_accuracy
from xling.translation.testsets import ntrex_folder

UDHR_ONLY = ("tha", "kat", "tam")
BASE = Path("runs/xling-mini-languages/base")


def ship_script():
    """Return recipes/ship_xling_mini_languages.py as a module: the base, protected text and settings of the
    recipe are made as the shipped model's were."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes"))
    import ship_xling_mini_languages

    return ship_xling_mini_languages


def base_from_git(folder: Path) -> Path:
    """Return `folder` holding the 60-language xling-mini (recipes/ship_xling_mini_languages.py's base)."""
    return ship_script().base_from_git(folder)


def check_not_listed(model: str, langs: Sequence[str]) -> None:
    """Return nothing if `model` lacks every language of `langs`; else raise SystemExit naming the base to use
    (its "before" would score a model that already has the language, and adapt refuses it)."""
    from xling.artifacts import read_metadata
    from xling.embeddings.encoder import resolve_model

    listed = set(read_metadata(resolve_model(model)).get("languages", []))
    if had := [lang for lang in langs if lang in listed]:
        raise SystemExit(f"--model {model} already lists {', '.join(had)}: benchmark the model before they "
                         f"were added (--model {BASE}, the default)")  # fmt: skip


@dataclass
class Recipe:
    """The data one language is adapted from (AdaptConfig fields)."""

    text: list[str] = field(default_factory=list)
    dictionary: list[str] = field(default_factory=list)
    parallel: list[str] = field(default_factory=list)
    relative: str = ""
    vocabulary: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    static: dict[str, Any] = field(default_factory=dict)
    """The language's own sections, added to the shared ones (Arabic's [languages.arb.static] clause_pairs)."""


def load_recipe(path: Path) -> tuple[dict[str, Any], dict[str, Recipe]]:
    """Return (the settings shared by every language, each language's data) of the languages recipe."""
    recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    # every language the recipe describes: those it ships (`order`) and those it only measures
    plans = {lang: Recipe(**fields) for lang, fields in recipe["languages"].items()}
    return recipe.get("adapt", {}), plans


def write_protect_files(shared: dict[str, Any], data: Path) -> None:
    """Write the recipe's protected-text files (John in every Bible language) when they are missing."""
    write_protect_file = ship_script().write_protect_file
    for path in shared.get("vocabulary", {}).get("protect", []):
        if "protect.bible" in path:
            write_protect_file(Path(path), data)


def scores(model: str, lang: str, data: Path) -> dict[str, float]:
    """Return {"tatoeba", "ntrex"} accuracies (percent, both directions averaged) of `model` for `lang`."""
    encoder = Encoder.load(model)
    tatoeba = evaluate_tatoeba(
        encoder, TatoebaConfig(model=model, data=str(data), languages=[_tatoeba_code(lang)])
    )
    ntrex = ntrex_retrieval(encoder, ntrex_folder(str(data)), lang)
    return {"tatoeba": tatoeba.average, "ntrex": round(100 * ntrex.average, 2)}


def udhr_dev(model: str, lang: str, data: Path) -> float:
    """Return the retrieval accuracy (percent, both directions averaged) of `model` on `lang`'s UDHR article
    pairs with English: the dev figure of a language that does not train on them."""
    pairs = udhr_pairs(udhr_folder(str(data)), lang)
    encoder = Encoder.load(model)
    score = retrieval_accuracy(
        encoder.encode([new for _, new in pairs]), encoder.encode([eng for eng, _ in pairs])
    )
    return round(100 * score.average, 2)


def trains_on_udhr(sources: Sequence[Mapping[str, Any]], data: Path) -> bool:
    """Return whether an adaptation that read `sources` (AdaptResult.data) trained on UDHR articles: the
    `udhr` pairs, or a file of the data root's UDHR folder (a text, say); its UDHR figure is then no dev one."""
    if any(source["source"] == "udhr" for source in sources):
        return True
    try:
        folder = udhr_folder(str(data)).resolve()
    except DataError:
        return False  # no UDHR folder: no file of it was read
    return any(Path(str(source["source"])).resolve().parent == folder for source in sources)


def _tatoeba_code(lang: str) -> str:
    return {"arb": "ara"}.get(lang, lang)


def old_average(model: str, data: Path) -> float:
    """Return the Tatoeba-10 average (percent) of `model` over the languages xling-mini was trained on."""
    return evaluate_tatoeba(Encoder.load(model), TatoebaConfig(model=model, data=str(data),
                                                               languages=list(DEFAULT_LANGUAGES))).average  # fmt: skip


def run_adaptation(
    base: str,
    lang: str,
    recipe: Recipe,
    output: Path,
    shared: dict[str, Any],
    steps: int | None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the adaptation's figures (CPU and wall seconds, size, what AdaptResult says); `overrides` are
    `key=value` settings (`--set`) over the recipe's."""
    own = {"vocabulary": recipe.vocabulary, "training": recipe.training, "static": recipe.static}
    fields = ship_script().language_settings(shared, own)
    # two threads unless the recipe says otherwise, given before the overrides: `--set training.threads=1` wins
    fields["training"] = {"threads": 2, **fields.get("training", {})}
    config = load_config(AdaptConfig, None, overrides, model=base, language=lang, output=str(output), overwrite=True,
                         text=recipe.text, dictionary=recipe.dictionary, parallel=recipe.parallel,
                         relative=recipe.relative, **fields)  # fmt: skip
    if steps:
        config.training.max_steps = steps
    cpu, wall = time.process_time(), time.perf_counter()
    result = adapt(config)
    model_files = [output / "modules.json", output / "xling.json", *(output / "0_StaticEmbedding").iterdir()]
    size = sum(p.stat().st_size for p in model_files)
    return {"seconds": round(time.process_time() - cpu, 1), "wall_seconds": round(time.perf_counter() - wall, 1),
            "size_mb": round(size / 1e6, 1), "added_pieces": result.vocabulary.get("added"),
            "old_rows_trained": result.vocabulary.get("old_rows_trained"),
            "examples": result.examples, "dev_before": result.before, "dev_after": result.after,
            "data": result.data}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(BASE),
                        help=f"the model to add each language to (default: {BASE}, the 60-language xling-mini "
                             "before any language was added, taken from git when missing; the shipped "
                             "xling-mini already has the recipe's languages)")  # fmt: skip
    parser.add_argument("--data", default=None, help="data root (default $XLING_DATA, else ../shared/data)")
    parser.add_argument("--langs", default="tur,arb,hin,tha,kat,tam")
    parser.add_argument("--recipe", type=Path, default=Path("recipes/xling-mini-languages.toml"))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the recipe's)")
    parser.add_argument("--work", type=Path, default=Path("runs/bench/adapt"))
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of every adaptation over the recipe's, e.g. static.train_unprotected_old_rows=true")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_libraries()
    data = data_root(args.data).path
    langs = [lang.strip() for lang in args.langs.split(",") if lang.strip()]
    if Path(args.model) == BASE:
        base_from_git(BASE)
    check_not_listed(args.model, langs)
    args.work.mkdir(parents=True, exist_ok=True)
    shared, plans = load_recipe(args.recipe)
    write_protect_files(shared, data)
    report: dict[str, Any] = {"model": args.model, "recipe": str(args.recipe), "steps": args.steps,
                              "overrides": args.overrides, "languages": {}, "old_languages": {}}  # fmt: skip
    report["old_languages"]["before"] = old_average(args.model, data)
    afters = {}
    for lang in langs:
        log(f"{lang}: before")
        before = scores(args.model, lang, data)
        log(f"{lang}: adapting")
        output = args.work / f"xling-mini+{lang}"
        figures = run_adaptation(args.model, lang, plans[lang], output, shared, args.steps, args.overrides)
        after = scores(str(output), lang, data)
        # from the data the adaptation read, not the recipe's: `--set 'parallel=["udhr"]'` trains on them
        if not trains_on_udhr(figures["data"], data):
            before["udhr_dev"], after["udhr_dev"] = (
                udhr_dev(args.model, lang, data),
                udhr_dev(str(output), lang, data),
            )
        afters[lang] = old_average(str(output), data)
        report["languages"][lang] = {
            "before": before,
            "after": after,
            **figures,
            "old_languages_after": afters[lang],
        }
        log(f"{lang}: tatoeba {before['tatoeba']} -> {after['tatoeba']}, ntrex {before['ntrex']} -> "
            f"{after['ntrex']}, udhr dev {before.get('udhr_dev')} -> {after.get('udhr_dev')}, "
            f"{figures['seconds']} CPU s")  # fmt: skip
    if afters:
        # the worst of the adapted models, each adapted alone from --model (the shipped model adds them one after
        # another: recipes/ship_xling_mini_languages.py measures that one)
        after = report["old_languages"]["after"] = min(afters.values())
        report["old_languages"]["drop"] = round(report["old_languages"]["before"] - after, 2)
        report["old_languages"]["within_0_5"] = report["old_languages"]["drop"] <= 0.5  # the bound
    if args.ablation:
        report["ablation"] = ablation(args, plans, langs, data, shared)
    print_table(report)
    write_json(report, args.json)
    return 0


def ablation(
    args, plans: dict[str, Recipe], langs: list[str], data: Path, shared: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Return {variant: scores} for Turkish's data kinds and a UDHR-only language with and without Swadesh."""
    variants: dict[str, tuple[str, Recipe, dict[str, Any]]] = {}
    if "tur" in langs:
        tur = plans["tur"]
        variants["tur: dictionary only"] = ("tur", Recipe(dictionary=tur.dictionary), shared)
        # text alone gives a static encoder pieces but nothing to align them to (adapt refuses it): the text's
        # two uses are measured apart instead, as the source of pieces only, and as glossed training sentences
        # each variant built from its own data (the recipe's Turkish also trains on UDHR pairs since
        # 2026-12-05, which the text-only rows must not carry), and the recipe's whole data next to them
        no_gloss = {**shared, "static": {"weights": {"text": 0.0}}}
        with_text = Recipe(dictionary=tur.dictionary, text=tur.text)
        variants["tur: dictionary + text for pieces only"] = ("tur", with_text, no_gloss)
        variants["tur: dictionary + text"] = ("tur", with_text, shared)
        if tur.parallel:
            variants[f"tur: dictionary + text + {', '.join(tur.parallel)}"] = ("tur", tur, shared)
    udhr_lang = next((lang for lang in langs if lang in UDHR_ONLY), None)
    if udhr_lang:
        variants[f"{udhr_lang}: udhr only"] = (udhr_lang, Recipe(parallel=["udhr"]), shared)
        variants[f"{udhr_lang}: swadesh only"] = (udhr_lang, Recipe(dictionary=["swadesh"]), shared)
    out = {}
    for name, (lang, recipe, settings) in variants.items():
        log(f"ablation {name}")
        output = args.work / "ablation"
        figures = run_adaptation(args.model, lang, recipe, output, settings, args.steps, args.overrides)
        out[name] = {**scores(str(output), lang, data), "seconds": figures["seconds"]}
    return out


def print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"xling adapt on {report['model']} ({report['recipe']})")
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
                      f"{row['old_languages_after']:.2f}", f"{row['seconds']:.0f}", f"{row['size_mb']:.1f}")  # fmt: skip
    Console().print(table)
    print(f"old languages (Tatoeba-10): before {report['old_languages'].get('before')}, worst after "
          f"{report['old_languages'].get('after')}")  # fmt: skip
    for name, row in report.get("ablation", {}).items():
        print(f"  {name}: tatoeba {row['tatoeba']:.1f}, ntrex {row['ntrex']:.1f}")


if __name__ == "__main__":
    sys.exit(main())
