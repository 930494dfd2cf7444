"""benchmarks/langid.py: scoring rules (macrolanguage aware, "und" wrong, headline macro over the languages
every contender supports), the NTREX file choice, and an end-to-end run on a Tatoeba-layout folder."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCHMARKS))  # the script imports bench_common and langid_contenders
    try:
        spec = importlib.util.spec_from_file_location("langid_bench", BENCHMARKS / "langid.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["langid_bench"] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("langid_bench", None)


def test_macro_is_over_languages_every_contender_supports(bench):
    languages = [
        bench.Language("deu", "deu", ["a", "b"]),
        bench.Language("ara", "ara", ["c", "d"]),
        bench.Language("fra", "fra", ["e", "f"]),
    ]
    predictions = {
        # "arb" names Tatoeba's "ara" (macrolanguage); "und" is never right
        "wide": {"deu": ["deu", "deu"], "ara": ["arb", "arb"], "fra": ["und", "fra"]},
        "narrow": {"deu": ["deu", "nld"], "ara": ["fas", "fas"], "fra": ["fra", "fra"]},
    }
    support = {"wide": frozenset({"deu", "fra", "arb"}), "narrow": frozenset({"deu", "fra"})}
    scores = bench.score_set(languages, predictions, support)
    assert scores.common == ["deu", "fra"]
    assert scores.accuracy["wide"] == {"deu": 1.0, "ara": 1.0, "fra": 0.5}
    assert scores.macro == {"wide": 0.75, "narrow": 0.75}
    assert scores.macro_own == {"wide": round(2.5 / 3, 4), "narrow": 0.75}
    assert scores.supported["narrow"] == ["deu", "fra"]
    # confusions only count languages the contender supports: narrow's "ara"->"fas" is left out
    assert scores.confusions["narrow"] == [["deu", "nld", 1, 0.5]]


def test_unspaced_scripts_count_two_characters_a_word(bench):
    assert bench.word_count("Tom ist hier.") == 3
    assert bench.bucket("我们今天下午去公园玩") == "4-10"  # 10 Han characters: 5 words
    assert bench.bucket("你好") == "1-3"


def test_ntrex_keeps_one_reference_per_language_and_script(bench, tmp_path):
    for code in ("spa", "spa-MX", "srp-Cyrl", "srp-Latn", "zho-CN", "zho-TW", "eng-GB", "eng-US"):
        with gzip.open(tmp_path / f"newstest2019-ref.{code}.txt.gz", "wt", encoding="utf-8") as handle:
            handle.write("x\n")
    kept = {language.key: language.gold for language in bench.ntrex_languages(tmp_path)}
    assert kept == {"spa": "spa", "srp-Cyrl": "srp", "srp-Latn": "srp", "zho-CN": "zho", "zho-TW": "zho",
                    "eng-GB": "eng"}  # fmt: skip


def test_tatoeba_folder_end_to_end(bench, tmp_path):
    pytest.importorskip("py3langid")
    pytest.importorskip("pycld2")
    folder = tmp_path / "tatoeba"
    folder.mkdir()
    german = ["Ich habe heute keine Zeit, weil ich arbeiten muss.", "Wir fahren morgen mit dem Zug nach Berlin.",
              "Das Wetter ist heute wirklich schön."]  # fmt: skip
    french = ["Je ne sais pas où il est allé hier soir.", "Nous allons au marché tous les samedis matin.",
              "Il fait très beau aujourd'hui dans la ville."]  # fmt: skip
    (folder / "tatoeba.deu-eng.deu").write_text("\n".join(german) + "\n", encoding="utf-8")
    (folder / "tatoeba.deu-eng.eng").write_text("I have no time today.\n" * 3, encoding="utf-8")
    (folder / "tatoeba.fra-eng.fra").write_text("\n".join(french) + "\n", encoding="utf-8")
    (folder / "tatoeba.fra-eng.eng").write_text("It is nice today.\n" * 3, encoding="utf-8")
    out = tmp_path / "report.json"
    bench.main(["--tatoeba", str(folder), "--sets", "tatoeba", "--langs", "deu,fra", "--contenders",
                "py3langid,pycld2", "--speed-sentences", "6", "--json", str(out)])  # fmt: skip
    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report["accuracy"]["py3langid"]) == {"deu", "fra"}  # the English side is not a language here
    assert report["accuracy"]["py3langid"] == {"deu": 1.0, "fra": 1.0}
    assert report["macro"]["pycld2"] == 1.0
    assert report["sentences_per_s"]["py3langid"] > 0
    assert report["speed_ratio_vs_py3langid"]["py3langid"] == 1.0
    assert report["peak_memory_mb"]["py3langid"] > 1  # the probe ran in a fresh process and loaded the model
