"""Benchmark: how well a model reads a language it lacks once the text is written in a relative's script.

Before any adaptation, each language's UDHR articles are encoded as they are and transliterated into the
script of a related language the model has (xling.adaptation.transliteration, what `xling adapt --relative`
does), and retrieved against the English articles (accuracy in percent, both directions averaged). The
UDHR is training data for `xling adapt`, never a test set, so this is the figure to choose a relative on.

    .venv/bin/python benchmarks/relative_reading.py --model runs/xling-mini-60 --json runs/bench/relative.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench_common import quiet_libraries, write_json

from xling.adaptation.transliteration import language_script, transliterate
from xling.data.udhr import udhr_folder, udhr_pairs
from xling.embeddings.encoder import Encoder
from xling.evaluation.translation_accuracy import retrieval_accuracy
from xling.langid.scripts import dominant_script

# new language -> relatives to try (languages xling-mini has)
PAIRS = {"hin": ["guj", "mal"], "mar": ["guj"], "nep": ["guj"], "ben": ["guj"], "pan": ["guj"],
         "kan": ["mal"], "tam": ["mal", "guj"], "arb": ["heb", "syr"], "urd": ["heb"]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="runs/xling-mini-60")
    parser.add_argument("--data", default=None, help="data root (default $XLING_DATA, else ../shared/data)")
    parser.add_argument("--langs", default=",".join(PAIRS), help=f"among {', '.join(PAIRS)}")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    quiet_libraries()
    encoder = Encoder.load(args.model)
    folder = udhr_folder(args.data)
    report: dict[str, dict[str, float]] = {}
    for lang in (code.strip() for code in args.langs.split(",") if code.strip()):
        pairs = udhr_pairs(folder, lang)
        english = encoder.encode([eng for eng, _ in pairs])
        texts = [new for _, new in pairs]
        script = dominant_script(texts)
        row = {"pairs": len(pairs), "raw": _accuracy(encoder.encode(texts), english)}
        for relative in PAIRS[lang]:
            read = [transliterate(text, script, language_script(relative)) for text in texts]
            row[relative] = _accuracy(encoder.encode(read), english)
        report[lang] = row
        print(f"{lang} ({script}, {len(pairs)} articles): raw {row['raw']:.1f}, "
              + ", ".join(f"as {r} {row[r]:.1f}" for r in PAIRS[lang]), flush=True)  # fmt: skip
    write_json({"model": args.model, "udhr_retrieval": report}, args.json)
    return 0


def _accuracy(vectors, english) -> float:
    return round(100 * retrieval_accuracy(vectors, english).average, 1)


if __name__ == "__main__":
    sys.exit(main())
