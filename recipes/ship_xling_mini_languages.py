"""Add the languages of recipes/xling-mini-languages.toml to xling-mini with `xling adapt`, score, and ship.

    .venv/bin/python recipes/ship_xling_mini_languages.py                     # ~10 min on 2 cores
    .venv/bin/python recipes/ship_xling_mini_languages.py --no-ship --output runs/try

The base is the 60-language model of recipes/xling-mini.toml. Without --base it is taken from git as it was
shipped before any language was added (commit BASE_COMMIT), so the chain always starts from the same model.
Each language is adapted from the previous step's model; two normalisation repairs follow (Russian `ё` read
as `е`; Traditional Chinese pieces copying their Simplified twins, with OpenCC from the bench extra), each
measured on the bundled sample (dev) before and after; then every added language is scored on Tatoeba
and NTREX (test sets, only ever scored) before and after, with the Tatoeba-10 average of the old languages,
and the result is copied into src/xling/models/xling-mini with its card extended.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tomllib
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")

BASE_COMMIT = "add686f"
BASE_PATH = "src/xling/models/xling-mini"
TEN = ["deu", "fra", "spa", "rus", "cmn", "jpn", "fin", "nld", "heb", "epo"]
TATOEBA_CODE = {"arb": "ara"}
MODEL_FILES = ["modules.json", "0_StaticEmbedding/model.safetensors", "0_StaticEmbedding/tokenizer.json"]


def base_from_git(folder: Path) -> Path:
    """Return `folder` holding xling-mini as of BASE_COMMIT (extracted with git archive when missing)."""
    if not (folder / "modules.json").is_file():
        archive = subprocess.run(
            ["git", "archive", BASE_COMMIT, BASE_PATH], check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            for member in tar.getmembers():
                if member.isfile():
                    target = folder / Path(member.name).relative_to(BASE_PATH)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())
        (folder / "1_Normalize").mkdir(exist_ok=True)
    return folder


SECTIONS = ("vocabulary", "training", "static")


def language_settings(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Return one language's AdaptConfig fields: the recipe's shared [adapt] settings with the language's own
    over them, where a section of its own ([languages.arb.static]) adds to the shared one, not replaces it."""
    fields = {k: v for k, v in {**shared, **own}.items() if k not in SECTIONS}
    for name in SECTIONS:
        if section := {**shared.get(name, {}), **own.get(name, {})}:
            fields[name] = section
    return fields


def write_protect_file(path: Path, data: Path, per_language: int = 300) -> None:
    """Write the first `per_language` verses of John of every Bible language into `path` (once)."""
    from xling.data.sources import book_verses

    if path.is_file():
        return
    lines = book_verses(data / "bible", prefix="JHN.", per_language=per_language)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def scores(model: str, langs: list[str], data: Path) -> dict[str, Any]:
    """Return Tatoeba and NTREX accuracy per language and the old languages' Tatoeba-10 average."""
    from xling.embeddings.encoder import Encoder
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba
    from xling.evaluation.translation_accuracy import ntrex_retrieval
    from xling.translation.testsets import ntrex_folder

    encoder = Encoder.load(model)
    out: dict[str, Any] = {"languages": {}}
    for lang in langs:
        tatoeba = evaluate_tatoeba(
            encoder, TatoebaConfig(data=str(data), languages=[TATOEBA_CODE.get(lang, lang)])
        )
        ntrex = ntrex_retrieval(encoder, ntrex_folder(str(data)), lang)
        out["languages"][lang] = {"tatoeba": tatoeba.average, "ntrex": round(100 * ntrex.average, 2)}
    out["old_tatoeba10"] = evaluate_tatoeba(encoder, TatoebaConfig(data=str(data), languages=TEN)).average
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", default="recipes/xling-mini-languages.toml")
    parser.add_argument("--base", default="", help="the 60-language model (default: from git, BASE_COMMIT)")
    parser.add_argument("--output", default="runs/xling-mini-languages")
    parser.add_argument("--target", default=BASE_PATH)
    parser.add_argument("--ship", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--reuse", action="store_true", help="ship the finished run in --output as it is")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from xling.adaptation import AdaptConfig, adapt
    from xling.config import load_config

    recipe = tomllib.loads(Path(args.recipe).read_text(encoding="utf-8"))
    work = Path(args.output)
    base = Path(args.base) if args.base else base_from_git(work / "base")
    shared = recipe["adapt"]
    data = Path(shared.get("data", "../shared/data"))
    if args.reuse:
        report = json.loads((work / "report.json").read_text(encoding="utf-8"))
        ship(work / "repaired", base, Path(args.target), report, recipe, data)
        return report
    for path in shared.get("vocabulary", {}).get("protect", []):
        if "protect.bible" in path:
            write_protect_file(Path(path), data)
    model, steps = str(base), []
    for lang in recipe["order"]:
        fields = language_settings(shared, recipe["languages"][lang])
        config = load_config(AdaptConfig, None, [], model=model, language=lang, output=str(work / f"+{lang}"),
                             overwrite=True, **fields)  # fmt: skip
        print(f"adding {lang} to {model}", flush=True)
        result = adapt(config)
        steps.append(result.to_dict())
        print(f"  {result.vocabulary.get('added')} pieces, dev {result.before} -> {result.after}, "
              f"{result.seconds} s", flush=True)  # fmt: skip
        model = str(result.output)
    model = str(repair(Path(model), work / "repaired"))
    print("scoring", flush=True)
    report = {"before": scores(str(base), recipe["order"], data), "after": scores(model, recipe["order"], data),
              "steps": steps}  # fmt: skip
    (work / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({k: report[k] for k in ("before", "after")}, indent=1))
    if args.ship:
        ship(Path(model), base, Path(args.target), report, recipe, data)
    return report


def repair(model: Path, output: Path) -> Path:
    """Return `output` holding `model` with the two normalisation repairs, each measured on dev data:
    Russian `ё` read as `е`, and Traditional Chinese pieces copying their Simplified twins (OpenCC)."""
    import opencc

    from xling.adaptation.repair import repair_static
    from xling.embeddings.static import MODULE_DIR
    from xling.tokenization.normalization import alias_characters, han_characters, variant_pieces
    from xling.tokenization.vocabulary_extension import extend_tokenizer

    tokenizer = Tokenizer.from_file(str(model / MODULE_DIR / "tokenizer.json"))
    to_traditional, to_simplified = opencc.OpenCC("s2t").convert, opencc.OpenCC("t2s").convert
    variants = variant_pieces(tokenizer, to_traditional)
    with_variants = extend_tokenizer(tokenizer, [(piece, score) for piece, score, _ in variants])
    aliases = variants + alias_characters(with_variants, to_simplified, han_characters())
    before = dev_figures(str(model), to_traditional)
    repair_static(model, output, replacements={"ё": "е", "Ё": "Е"}, aliases=aliases)
    after = dev_figures(str(output), to_traditional)
    print(f"repairs: dev {before} -> {after}", flush=True)
    meta_path = output / "xling.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["repairs"][-1].update({"dev_before": before, "dev_after": after, "traditional_variants": len(variants),
                                "traditional_characters": len(aliases) - len(variants)})  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    return output


def dev_figures(model: str, to_traditional) -> dict[str, float]:
    """Return retrieval accuracy vs English (percent, both directions) on the bundled sample (our dev set):
    Russian as is, and Chinese converted to Traditional characters."""
    from xling.data.sources import sample_corpus_dir
    from xling.embeddings.encoder import Encoder
    from xling.evaluation.translation_accuracy import retrieval_accuracy

    def read(code: str) -> list[str]:
        lines = (sample_corpus_dir() / f"{code}.tsv").read_text(encoding="utf-8").splitlines()
        return [line.split("\t", 1)[1] for line in lines if line.strip()]

    encoder = Encoder.load(model)
    english = encoder.encode(read("eng"))
    russian = retrieval_accuracy(encoder.encode(read("rus")), english).average
    traditional = retrieval_accuracy(
        encoder.encode([to_traditional(s) for s in read("zho")]), english
    ).average
    return {"rus": round(100 * russian, 2), "zho_traditional": round(100 * traditional, 2)}


def ship(
    model: Path, base: Path, target: Path, report: dict[str, Any], recipe: dict[str, Any], data: Path
) -> None:
    """Copy the model into `target` with the card and scores of recipes/ship_xling_mini.py (re-measured on
    this model), then add the section on the added languages and their before/after figures."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import ship_xling_mini

    ship_xling_mini.main(["--run", str(model), "--target", str(target), "--data", str(data)])
    meta = json.loads((target / "xling.json").read_text(encoding="utf-8"))
    meta["name"] = "xling-mini"
    meta["added_language_scores"] = {k: report[k] for k in ("before", "after")}
    (target / "xling.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    card = (target / "README.md").read_text(encoding="utf-8")
    (target / "README.md").write_text(card.rstrip() + "\n\n" + languages_card(report, recipe, target),
                                      encoding="utf-8")  # fmt: skip


def languages_card(report: dict[str, Any], recipe: dict[str, Any], target: Path) -> str:
    """Return the model card's section on the languages added by `xling adapt`."""
    size = sum((target / name).stat().st_size for name in MODEL_FILES) / 2**20
    lines = ["## Languages added with `xling adapt`", "",
             "Added one after the other to the 60-language model above by `recipes/ship_xling_mini_languages.py`"
             " (`recipes/xling-mini-languages.toml`); its old rows are unchanged. Tatoeba (xx-eng) and NTREX "
             "(eng vs xx, 1,997 news sentences) retrieval accuracy in percent, both directions averaged, "
             "cosine; test sets, never trained or tuned on.", "",
             "| language | data | new pieces | Tatoeba before | after | NTREX before | after |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for lang, step in zip(recipe["order"], report["steps"], strict=True):
        data = ", ".join(f"{s['kind']} {Path(str(s['source'])).name} ({s['items']:,})" for s in step["data"])
        # a language's own recipe settings, as the adaptation recorded them
        own = recipe["languages"][lang].get("static", {})
        used = step.get("settings", {}).get("static", {})
        data += "".join(f"; static.{key} = {used[key]}" for key in own if key in used)
        before, after = report["before"]["languages"][lang], report["after"]["languages"][lang]
        lines.append(f"| {lang} | {data} | {step['vocabulary'].get('added', 0):,} | {before['tatoeba']:.1f} | "
                     f"{after['tatoeba']:.1f} | {before['ntrex']:.1f} | {after['ntrex']:.1f} |")  # fmt: skip
    repairs = json.loads((target / "xling.json").read_text(encoding="utf-8")).get("repairs", [{}])[-1]
    lines += ["", "Normalisation repairs, measured on the bundled sample (dev; retrieval vs English, percent): "
              "Russian `ё` is read as `е` (the Bible has no `ё` piece, so the letter fell back to bytes), "
              f"and {repairs.get('traditional_variants', 0):,} Traditional Chinese spellings of Simplified "
              f"pieces plus {repairs.get('traditional_characters', 0):,} Traditional characters copy their "
              f"Simplified rows (OpenCC): {repairs.get('dev_before')} -> {repairs.get('dev_after')} "
              "(Chinese converted to Traditional for the test)."]  # fmt: skip
    lines += ["", f"Tatoeba-10 average of the old languages: {report['before']['old_tatoeba10']:.2f} before, "
              f"{report['after']['old_tatoeba10']:.2f} after. Model files: {size:.1f} MiB.", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()
