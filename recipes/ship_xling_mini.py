"""Ship a trained xling-mini run: copy the encoder into src/xling/models/xling-mini, score it, write its card.

    .venv/bin/python recipes/ship_xling_mini.py --run runs/xling-mini

Scores written into the card and into `xling.json` (`scores`), each reproducible with the command shown:
Tatoeba (10 languages of the issue, both directions, cosine and LASER's margin), all Tatoeba languages the model
was trained on, and the Bible mining test (John hidden among other verses).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FILES = [
    "modules.json",
    "0_StaticEmbedding/model.safetensors",
    "0_StaticEmbedding/tokenizer.json",
    "xling.json",
]
WEIGHTS = {
    "float16": "float16",
    "int8": "int8 with a float32 scale per token (model2vec's tensors, in sentence-transformers' module folder)",
}
TEN = ["deu", "fra", "spa", "rus", "cmn", "jpn", "fin", "nld", "heb", "epo"]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", default="runs/xling-mini")
    parser.add_argument("--target", default="src/xling/models/xling-mini")
    parser.add_argument("--data", default=os.environ.get("XLING_DATA", "../shared/data"))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from xling.embeddings.encoder import Encoder
    from xling.evaluation.mining import MiningEvalConfig, evaluate_mining_from_config
    from xling.evaluation.tatoeba import TatoebaConfig, evaluate_tatoeba, languages_to_run, tatoeba_folder

    run, target = Path(args.run), Path(args.target)
    shutil.rmtree(target, ignore_errors=True)
    for name in FILES:
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(run / name, target / name)
    (target / "1_Normalize").mkdir(exist_ok=True)
    encoder = Encoder.load(target)
    meta = json.loads((target / "xling.json").read_text(encoding="utf-8"))

    scores: dict[str, Any] = {}
    for scoring in ("cosine", "margin"):
        result = evaluate_tatoeba(encoder, TatoebaConfig(data=args.data, languages=TEN, scoring=scoring))
        scores[f"tatoeba_{scoring}"] = result.to_dict()
    folder = tatoeba_folder(args.data)
    trained = set(meta["languages"])
    seen = [x for x in languages_to_run(folder, []) if x in trained]
    scores["tatoeba_trained_languages"] = evaluate_tatoeba(
        encoder, TatoebaConfig(data=args.data, languages=seen)
    ).to_dict()
    mining = MiningEvalConfig(data=args.data, languages=["deu", "fra", "rus", "cmn"], book="JHN")
    scores["mining_jhn"] = evaluate_mining_from_config(encoder, mining).to_dict()
    meta["vocab_size"] = encoder.module.tokenizer.get_vocab_size()
    meta["scores"] = {k: {"average": v["average"], "scores": v["scores"]} for k, v in scores.items()}
    (target / "xling.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    (target / "README.md").write_text(model_card(meta, scores, target), encoding="utf-8")
    print(json.dumps({k: v["average"] for k, v in scores.items()}, indent=2))
    return scores


def vocabulary_note(meta: dict) -> str:
    """Return the card's count of pieces: the recipe's tokenizer's, and those `xling adapt` and the repairs
    added since (each language's pieces, the Traditional Chinese rows), from the model's xling.json."""
    total = meta["vocab_size"]
    adapted = sum(int(a.get("vocabulary", {}).get("added") or 0) for a in meta.get("adaptations", []))
    aliases = sum(int(r.get("aliases") or 0) for r in meta.get("repairs", []))
    if not adapted and not aliases:
        return f"{total:,} pieces (`[tokenizer]` of the recipe)"
    added = [f"`xling adapt`'s {len(meta['adaptations'])} languages, {adapted:,}"] if adapted else []
    added += [f"Traditional Chinese rows, {aliases:,}"] if aliases else []
    return (
        f"{total - adapted - aliases:,} pieces from `[tokenizer]` of the recipe, {total:,} with those added "
        f"since ({'; '.join(added)})"
    )


def repeat_note(config: dict[str, Any]) -> str:
    """Return the card's words on dictionary pairs entering more than once, or ""."""
    repeat = config.get("pairs_repeat", 1)
    return f" (each pair {repeat} times: `pairs_repeat = {repeat}`)" if repeat > 1 else ""


def clause_note(config: dict[str, Any]) -> str:
    """Return the card's sentence on clause pairs, or "" when the run had none."""
    if not config.get("clause_pairs"):
        return ""
    return (
        f"\n  Besides whole verses, clause pairs cut from them (`clause_pairs = {config['clause_pairs']}`: both sides "
        "split at clause\n  punctuation, kept when the clause counts and length shares agree)."
    )


def model_card(meta: dict[str, Any], scores: dict[str, Any], target: Path) -> str:
    """Return the model card (markdown): what it is, data, recipe, scores with the commands behind them."""
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20
    training = meta["training"]
    cosine, margin = scores["tatoeba_cosine"]["scores"], scores["tatoeba_margin"]["scores"]
    rows = "\n".join(
        f"| {lang} | {c['src2eng']:.1f} | {c['eng2src']:.1f} | {(c['src2eng'] + c['eng2src']) / 2:.1f} | "
        f"{(margin[lang]['src2eng'] + margin[lang]['eng2src']) / 2:.1f} |"
        for lang, c in cosine.items()
    )
    trained = scores["tatoeba_trained_languages"]
    mining = scores["mining_jhn"]
    mining_rows = "\n".join(f"| {pair} | {100 * s['precision']:.1f} | {100 * s['recall']:.1f} | {100 * s['f1']:.1f} |"
                            for pair, s in mining["scores"].items())  # fmt: skip
    config = meta["config"]
    return f"""---
license: other
language: [{", ".join(meta["languages"])}]
library_name: sentence-transformers
tags: [xling, static-embeddings, cross-lingual, sentence-similarity]
---
# xling-mini

A cross-lingual sentence encoder for {len(meta["languages"])} languages: the mean of multilingual sub-word
vectors (a static encoder, as sentence-transformers' `StaticEmbedding` / model2vec), {meta["dimension"]}
dimensions, unit-length output. It encodes tens of thousands of sentences per second on one CPU core.
{size:.1f} MiB on disk; weights stored as {WEIGHTS.get(config.get("save_dtype", "float32"), "float32")}.

```python
from xling import Encoder
encoder = Encoder.load("xling-mini")  # or SentenceTransformer("src/xling/models/xling-mini"), sentence-transformers >= 6.2
vectors = encoder.encode(["Where is the station?", "Wo ist der Bahnhof?"])
```

## Training
- Data: the verse-aligned Bible in `../shared/data/bible` (60 languages, mostly public domain; licences per
  language in `bible/languages.tsv`), English-xx verse pairs; the Gospel of John is held out of the
  vocabulary and of training (dev set and mining test). Plus the train splits (5,000 word pairs each) of
  the English-xx dictionaries of Glavaš et al. 2019 in `../shared/data/bli_xling_eval`:
  {", ".join(p.split("=")[0] for p in config.get("pairs", [])) or "none"}{repeat_note(config)}. Choices were made on the bundled
  everyday-sentence sample; no Tatoeba data was used for training or tuning.
- Vocabulary: SentencePiece unigram, {vocabulary_note(meta)}, smoothed
  language sampling (alpha 0.3), held-out John excluded.
- Objective: bidirectional in-batch translation ranking (scale {config["scale"]}, margin {config["margin"]}),
  one language pair per batch of {config["training"]["batch_size"]}, languages drawn with alpha {config["alpha"]}.{clause_note(config)}
- Run: {training["steps"]:,} steps, {training["pairs"]:,} pairs in {training["seconds"] / 60:.1f} min
  on 2 CPU cores. Recipe: `recipes/xling-mini.toml`:

```
xling tokenizer train --recipe recipes/xling-mini.toml
xling align sentences --recipe recipes/xling-mini.toml
.venv/bin/python recipes/ship_xling_mini.py      # copies into src/xling/models/xling-mini, scores, writes this card
```

## Scores
Tatoeba (LASER/XTREME protocol: accuracy of the nearest neighbour among all sentences of the other side,
both directions), `xling eval tatoeba --model xling-mini` (cosine) and `--scoring margin` (LASER's xsim:
the 4 nearest neighbours by cosine re-ranked by the ratio margin):

| language | xx->eng | eng->xx | average (cosine) | average (margin) |
|---|---|---|---|---|
{rows}
| **average** | | | **{scores["tatoeba_cosine"]["average"]:.1f}** | **{scores["tatoeba_margin"]["average"]:.1f}** |

All {len(trained["scores"])} Tatoeba languages it was trained on (`--langs {",".join(trained["scores"])}`):
average {trained["average"]:.1f}.

Bitext mining (`xling eval mining --model xling-mini`): the verses of John hidden among
non-parallel verses of other books on both sides (whole books to one side each, books that share passages
together, John's own parallels left out; shorter quotations can still stand on both sides);
precision/recall/F1 at the best threshold:

| pair | precision | recall | F1 |
|---|---|---|---|
{mining_rows}
| **average F1** | | | **{100 * mining["average"]:.1f}** |

## Limits
- Bible vocabulary: everyday and technical words that never occur in the Bible are only covered through
  their sub-words; expect weaker results on chat, product or news text than on Tatoeba-like sentences.
- A bag of sub-words: word order is ignored ("dog bites man" = "man bites dog").
- Languages outside the 60 are covered only as far as they share sub-words with them.
"""


if __name__ == "__main__":
    main()
