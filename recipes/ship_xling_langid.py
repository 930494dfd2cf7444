"""Ship a trained language identifier as xling's default detector, src/xling/models/xling-langid.

    .venv/bin/xling langid train --recipe recipes/langid.toml
    .venv/bin/python benchmarks/langid.py --model runs/langid --json runs/bench/langid.json
    .venv/bin/python recipes/ship_xling_langid.py --run runs/langid --bench runs/bench/langid.json

Copies the run's config.json, model.safetensors and xling.json, and writes the model card (README.md) from
what the run and the benchmark measured: the labels with their languages' names, the sources, held-out
accuracy, and the benchmark's macro accuracy and speed beside the other detectors.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

FILES = ["config.json", "model.safetensors", "xling.json"]
SHIPPED = Path(__file__).resolve().parents[1] / "src/xling/models/xling-langid"


def _name(label: str) -> str:
    from xling.data.languages import language_name
    from xling.errors import LanguageCodeError

    code, _, script = label.partition("_")
    try:
        name = language_name(code)
    except (LanguageCodeError, KeyError):
        name = code
    return f"{name} ({script})" if script else name


def _bench_section(bench: dict[str, Any]) -> list[str]:
    lines = ["## Benchmark", "", "Measured by `benchmarks/langid.py` (same sentences for every detector, "
             f"command: `{bench.get('command', 'benchmarks/langid.py')}`).", ""]  # fmt: skip
    macro = bench.get("macro", {})
    speed = bench.get("sentences_per_s", {})
    own = bench.get("macro_own", {})
    lines += ["| detector | macro accuracy (shared languages) | macro accuracy (own languages) | sentences/s |",
              "|---|---|---|---|"]  # fmt: skip
    for name in macro:
        own_value = own.get(name)
        own_text = f"{own_value:.2%}" if isinstance(own_value, float) else "-"
        speed_value = speed.get(name)
        speed_text = f"{speed_value:,.0f}" if isinstance(speed_value, int | float) else "-"
        macro_text = f"{macro[name]:.2%}" if isinstance(macro[name], float) else "-"
        lines.append(f"| {name} | {macro_text} | {own_text} | {speed_text} |")
    sets = bench.get("sets", {})
    if sets:
        names = list(macro)
        lines += ["", "Macro accuracy per set (over the languages every detector supports there):", "",
                  "| set | languages | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]  # fmt: skip
        for set_name, figures in sets.items():
            values = [figures.get("macro", {}).get(name) for name in names]
            cells = [f"{value:.1%}" if isinstance(value, float) else "-" for value in values]
            lines.append(f"| {set_name} | {len(figures.get('common', []))} | " + " | ".join(cells) + " |")
        tatoeba = sets.get("tatoeba", {}).get("by_length", {})
        if tatoeba:
            lines += ["", "Tatoeba accuracy by length (words): " + "; ".join(
                f"{name} " + " / ".join(f"{value:.1%}" if value is not None else "-" for value in tatoeba[name].values())
                for name in names if name in tatoeba) + " (1-3 / 4-10 / 11+).", ""]  # fmt: skip
        size = bench.get("model_size_bytes", {})
        memory = bench.get("peak_memory_mb", {})
        lines += ["Size and peak memory: " + "; ".join(
            f"{name} {size.get(name, 0) / 1e6:.1f} MB / {memory.get(name, 0):,.0f} MB" for name in names) + ".",
            f"Speed: {bench.get('settings', {}).get('threads', 1)} thread(s); xling's batch `predict` against "
            "single-text calls of the others (none has a "
            "batch API but lingua's, whose parallel one is not used)."]  # fmt: skip
    shared = bench.get("common_languages")
    if shared:
        lines += ["", f"Shared languages ({len(shared)}): {', '.join(shared)}."]
    return [*lines, ""]


def _prior_section(config: dict[str, Any]) -> list[str]:
    """Return the model card's paragraph on the label prior (none when the detector has none)."""
    weight = config.get("prior_weight", 0.0)
    if not weight or "log_prior" not in config:
        return []
    return ["## Label prior", "",
            f"At prediction the logits get {weight:g} x the log of each language's speakers (first and second "
            "language, millions; `xling.langid.prior`, approximate figures after Wikipedia's list of languages by "
            "total speakers, a floor of 0.1 million for languages it does not list), so a short text that fits a "
            "big language and a small neighbour alike goes to the big one (Spanish over Asturian, Indonesian over "
            "Malay, Bokmål over Nynorsk). The weight was chosen on held-out crops of the training sources and "
            "UMSAB validation tweets (see recipes/langid.toml); `config.json` holds it (`prior_weight`) and the "
            "per-label values (`log_prior`): set the weight to 0 there for equal labels.", ""]  # fmt: skip


def _scripts_section(config: dict[str, Any]) -> list[str]:
    """Return the card's paragraph on the labels' scripts (none for a detector saved without them)."""
    from xling.langid.model import MAIN_SCRIPT_SHARE
    from xling.langid.train import MIN_SCRIPT_SHARE

    scripts = config.get("scripts")
    if not scripts:
        return []
    several = sorted(label for label, names in scripts.items() if len(names) > 1)
    every = sorted({name for names in scripts.values() for name in names})
    return ["## Scripts", "",
            f"Each label's writing systems are those of at least {MIN_SCRIPT_SHARE:.0%} of its training examples (`scripts` in "
            f"config.json; {len(every)} scripts in all: {', '.join(every)}). A text gets only a label of a "
            f"script that holds {MAIN_SCRIPT_SHARE:.0%} of its letters or the most of them, and a text in a script no label has (Ol Chiki, Runic) is `und` "
            f"with probability 0, as a text without letters is. Labels with two scripts ({len(several)}; most "
            "from a few lines of the other in their sources): "
            + ", ".join(f"`{label}` {'/'.join(scripts[label])}" for label in several) + ".", ""]  # fmt: skip


HAN_HEADING = "## Simplified and Traditional Chinese"


def _han_section(old_card: str) -> list[str]:
    """Return the card's section on the Han script rule (xling.langid.han), as the card being replaced held
    it: its figures come from `recipes/build_han_scripts.py --measure` on that detector, so a new detector's
    card keeps them with a note to measure again."""
    if HAN_HEADING not in old_card:
        return []
    body = old_card.split(HAN_HEADING, 1)[1].split("\n## ", 1)[0].strip()
    note = " (Figures of the detector shipped before this one: run `recipes/build_han_scripts.py --measure`.)"
    return [HAN_HEADING, "", body if body.endswith(note.strip()) else body + note, ""]


def _model_paragraph(config: dict[str, Any], size: int) -> str:
    """Return the card's description of the model family, its features and size."""
    features = (f"character 1-{config['features']['max_n']}-grams of each word and the words, hashed into "
                f"{config['features']['buckets']:,} buckets")  # fmt: skip
    if config.get("family", "linear") == "naive_bayes":
        model = (f"Multinomial naive Bayes (as langid.py) over {features}: each label's feature counts over its "
                 f"training examples, smoothed by alpha = {config['alpha']:g}, stored sparse (float16 "
                 "log-ratios where a label saw a feature); log-likelihoods divided by a temperature fitted on "
                 f"held-out lines and their 1-3 and 4-10-word crops ({config['temperature']:.1f}) give the probabilities. Chosen over the "
                 "fastText-style model by held-out accuracy (recipes/langid.toml).")  # fmt: skip
    else:
        model = (f"fastText-style: {features} of {config['dim']} dimensions (float16), averaged, then one "
                 "softmax layer.")  # fmt: skip
    return (f"{model} {size / 1e6:.1f} MB. Text is normalised first (NFKC, lower case; URLs, @mentions, "
            "#hashtags, digits, emoji and punctuation removed); a text with no letter left is `und`.")  # fmt: skip


def model_card(config: dict[str, Any], bench: dict[str, Any] | None, size: int, old_card: str = "") -> str:
    """Return the model card of a detector folder's config (and the benchmark's figures, when given)."""
    labels = config["labels"]
    languages = sorted({label.split("_", 1)[0] for label in labels})
    lines = [
        "# xling-langid", "",
        f"Language identification for {len(languages)} languages ({len(labels)} labels: a language written in "
        "several scripts has one label per script, e.g. `srp_Cyrl`, `srp_Latn`), trained by "
        "`xling langid train --recipe recipes/langid.toml` and shipped by `recipes/ship_xling_langid.py`.", "",
        "```python", "import xling.langid", "xling.langid.detect(\"Wo ist der Bahnhof?\")  # Prediction(label='deu', ...)",
        "```", "", "Command line: `xling detect TEXT...`, `xling detect --input FILE`, `--k 3`, `--spans`.", "",
        "## Model", "",
        _model_paragraph(config, size), "",
        "## Training data", "",
        f"Sources: {', '.join(config.get('sources', []))} (`../shared/data`: the Bible, the UDHR, UMSAB train "
        "tweets, UD train/dev sentences, the PanLex Swadesh lists and the BLI dictionaries' train words where "
        "named). No test split, no Tatoeba, no NTREX sentence was read"
        + (", nor the bundled sample (the quickstart's step 8 scores the detector on it)"
           if "sample" not in config.get("sources", []) else "") + ". Each label is capped at "
        f"{config.get('max_units_per_label', 2000):,} texts and filled up to "
        f"{config.get('min_examples_per_label', 4000):,} examples; labels with less text are up-sampled with fresh "
        "random crops; half of the examples are 1-10 word crops, so short text is seen in training.", "",
        "Weak spots by construction: most languages have only the UDHR (about 1,800 words), a legal text, so "
        "everyday short sentences in those languages are harder than the held-out figures below suggest; close "
        "pairs with little text (bos/hrv/srp in Latin script, nob/nno/dan) are confused.", "",
        *_prior_section(config),
        *_scripts_section(config),
        *_han_section(old_card),
        "## Held-out accuracy", "",
        f"Macro accuracy over labels on held-out lines of the training sources: "
        f"{_dev_figure(config, 'dev_macro_accuracy')} (whole lines, cut at 24 words), "
        f"{_dev_figure(config, 'dev_short_macro_accuracy')} (1-3 word crops of them), "
        f"{_dev_figure(config, 'dev_medium_macro_accuracy')} (4-10 word crops)"
        + (" with the label prior." if config.get("prior_weight") else "."), "",
    ]  # fmt: skip
    weakest = sorted(config.get("dev_accuracy", {}).items(), key=lambda item: item[1])[:12]
    if weakest:
        lines += ["Weakest labels (held-out lines): " + ", ".join(f"{label} {value:.0%}" for label, value in weakest)
                  + ".", ""]  # fmt: skip
    if bench:
        lines += _bench_section(bench)
    lines += ["## Labels", "", ", ".join(f"`{label}` {_name(label)}" for label in labels), ""]
    return "\n".join(lines)


def _dev_figure(config: dict[str, Any], key: str) -> str:
    """Return a held-out figure of the run's config as a percentage, or "not measured" (a run that held out
    nothing records null)."""
    value = config.get(key)
    return f"{value:.2%}" if isinstance(value, (int, float)) else "not measured"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run", type=Path, default=Path("runs/langid"), help="Folder from xling langid train."
    )
    parser.add_argument("--bench", type=Path, required=True,
                        help="JSON written by benchmarks/langid.py on this run (its settings name the model).")  # fmt: skip
    parser.add_argument("--output", type=Path, default=SHIPPED)
    args = parser.parse_args()
    from xling.atomic import atomic_folder, same_path

    if same_path(args.run, args.output):
        raise SystemExit(f"not shipped: --run {args.run} is the shipped folder itself")
    config = json.loads((args.run / "config.json").read_text(encoding="utf-8"))
    bench = json.loads(args.bench.read_text(encoding="utf-8"))
    measured = str(bench.get("settings", {}).get("model", ""))
    if not measured or not same_path(measured, args.run):
        raise SystemExit(
            f"not shipped: {args.bench} measured the model {measured or '(none named)'}, not {args.run}"
        )
    card = args.output / "README.md"
    old_card = card.read_text(encoding="utf-8") if card.is_file() else ""
    # staged whole and swapped in at the end: a failure leaves the shipped detector and its card as they were
    with atomic_folder(args.output, overwrite=True, what="shipped detector") as staging:
        for name in FILES:
            shutil.copy2(args.run / name, staging / name)
        size = (staging / "model.safetensors").stat().st_size
        (staging / "README.md").write_text(model_card(config, bench, size, old_card), encoding="utf-8")
    print(f"shipped {args.run} to {args.output} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
