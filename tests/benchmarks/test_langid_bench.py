"""benchmarks/langid.py: scoring rules (macrolanguage aware, "und" wrong, headline macro over the languages
every contender supports), the NTREX file choice, an end-to-end run on a Tatoeba-layout folder, and speed
timed on each identifier's own call (mapping its answers to ISO 639-3 codes left outside the clock)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

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
    # Thai: 15 letters, 4 vowel and tone marks ("I like fried rice very much": 6 English words); its marks
    # counted as characters, two a word, made 10 words of it
    assert bench.word_count("ฉันชอบกินข้าวผัดมาก") == 4


def test_a_member_the_table_lists_is_right_for_its_macrolanguage_and_another_member_is_not(bench):
    """xling names Oromo gax, which the table lacked: NTREX's orm scored 0. SIL's whole table would count
    Minangkabau or Banjar right for Malay."""
    assert bench.matches("gax", "orm") and bench.supports(frozenset({"gax"}), "orm")
    assert not bench.matches("orm", "gax") and not bench.matches("kzj", "eng")
    assert not any(bench.matches(member, gold) for member, gold in (("min", "msa"), ("bjn", "msa")))


def test_ntrex_keeps_one_reference_per_language_and_script(bench, tmp_path):
    for code in ("spa", "spa-MX", "srp-Cyrl", "srp-Latn", "zho-CN", "zho-TW", "eng-GB", "eng-US"):
        with gzip.open(tmp_path / f"newstest2019-ref.{code}.txt.gz", "wt", encoding="utf-8") as handle:
            handle.write("x\n")
    kept = {language.key: language.gold for language in bench.ntrex_languages(tmp_path)}
    # a macrolanguage is the member it stands for: Chinese here is Mandarin, so Cantonese is no right answer
    assert kept == {"spa": "spa", "srp-Cyrl": "srp", "srp-Latn": "srp", "zho-CN": "cmn", "zho-TW": "cmn",
                    "eng-GB": "eng"}  # fmt: skip
    assert bench.matches("cmn", "cmn") and bench.matches("zho", "cmn") and not bench.matches("yue", "cmn")
    assert bench.gold_code("msa") == "zsm" and not bench.matches("ind", bench.gold_code("msa"))


def test_script_accuracy_counts_xling_labels_in_the_gold_script(bench):
    languages = [bench.Language("srp-Latn", "srp", ["a", "b", "c", "d"]), bench.Language("srp-Cyrl", "srp", ["e"]),
                 bench.Language("zho-TW", "cmn", ["f", "g"]), bench.Language("deu", "deu", ["h"]),
                 bench.Language("sna-Latn", "sna", ["i"])]  # fmt: skip
    answers = {"a": "srp_Latn", "b": "srp_Cyrl", "c": "hrv", "d": "srp_Latn", "e": "und", "f": "cmn_Hant",
               "g": "cmn_Hans", "h": "deu", "i": "sna"}  # fmt: skip
    labels = {"ntrex": {lang.key: [answers[t] for t in lang.sentences] for lang in languages}}
    figures = bench.script_accuracy(labels, {"ntrex": languages})
    # of the sentences whose language is right (hrv and und are not), the share in the code's script;
    # a code without a script (deu) and a language the detector knows in one script (sna) are not scored
    assert figures == {"ntrex": {
        "srp-Latn": {"right_language": 3, "right_script": 2, "accuracy": 0.6667},
        "srp-Cyrl": {"right_language": 0, "right_script": 0, "accuracy": None},
        "zho-TW": {"right_language": 2, "right_script": 1, "accuracy": 0.5}}}  # fmt: skip


def small_tatoeba(root: Path) -> Path:
    """Return a Tatoeba-layout folder of three German and three French sentences (English sides beside)."""
    folder = root / "tatoeba"
    folder.mkdir()
    german = ["Ich habe heute keine Zeit, weil ich arbeiten muss.", "Wir fahren morgen mit dem Zug nach Berlin.",
              "Das Wetter ist heute wirklich schön."]  # fmt: skip
    french = ["Je ne sais pas où il est allé hier soir.", "Nous allons au marché tous les samedis matin.",
              "Il fait très beau aujourd'hui dans la ville."]  # fmt: skip
    (folder / "tatoeba.deu-eng.deu").write_text("\n".join(german) + "\n", encoding="utf-8")
    (folder / "tatoeba.deu-eng.eng").write_text("I have no time today.\n" * 3, encoding="utf-8")
    (folder / "tatoeba.fra-eng.fra").write_text("\n".join(french) + "\n", encoding="utf-8")
    (folder / "tatoeba.fra-eng.eng").write_text("It is nice today.\n" * 3, encoding="utf-8")
    return folder


def test_tatoeba_folder_end_to_end_with_the_shipped_detector(bench, tmp_path):
    # runs wherever the tests run (py3langid and pycld2 are bench extras, not dev ones)
    out = tmp_path / "report.json"
    bench.main(["--tatoeba", str(small_tatoeba(tmp_path)), "--sets", "tatoeba", "--langs", "deu,fra",
                "--contenders", "xling", "--speed-sentences", "6", "--json", str(out)])  # fmt: skip
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["accuracy"]["xling"] == {"deu": 1.0, "fra": 1.0}
    assert report["macro"]["xling"] == 1.0 and report["sentences_per_s"]["xling"] > 0


def test_tatoeba_folder_end_to_end(bench, tmp_path):
    pytest.importorskip("py3langid")
    pytest.importorskip("pycld2")
    folder = small_tatoeba(tmp_path)
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


def test_umsab_scores_test_splits_only(bench, tmp_path):
    (tmp_path / "german").mkdir()
    (tmp_path / "german" / "test_text.txt").write_text("Guten Morgen\n", encoding="utf-8")
    (tmp_path / "german" / "val_text.txt").write_text("Guten Abend\n", encoding="utf-8")
    (tmp_path / "italian").mkdir()  # UMSAB's Italian and Portuguese have no test split
    (tmp_path / "italian" / "val_text.txt").write_text("Buongiorno\n", encoding="utf-8")
    (tmp_path / "hindi").mkdir()  # UMSAB's Hindi test tweets are romanised: no contender can label them
    (tmp_path / "hindi" / "test_text.txt").write_text("kya baat hai yaar\nबहुत अच्छा\n", encoding="utf-8")
    languages, skipped = bench.umsab_sets(tmp_path)
    assert [(x.key, x.sentences) for x in languages] == [("deu", ["Guten Morgen"])]
    assert bench.umsab_languages(tmp_path) == languages
    assert sorted(skipped) == ["hin", "ita"] and "mostly written in Latn, not Deva" in skipped["hin"]


def tatoeba_folder(root: Path, codes: list[str]) -> Path:
    folder = root / "tatoeba"
    folder.mkdir()
    for code in codes:
        (folder / f"tatoeba.{code}-eng.{code}").write_text("x\n", encoding="utf-8")
        (folder / f"tatoeba.{code}-eng.eng").write_text("x\n", encoding="utf-8")
    return folder


def test_tatoeba_folder_without_files_is_an_error(bench, tmp_path):
    with pytest.raises(SystemExit, match="no folder"):
        bench.set_folders(bench.parse_args(["--tatoeba", str(tmp_path / "absent")]))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "tatoeba.deu-eng.eng").write_text("x\n", encoding="utf-8")  # the English side only
    with pytest.raises(SystemExit, match="no tatoeba"):
        bench.set_folders(bench.parse_args(["--tatoeba", str(empty)]))


def test_a_line_that_is_not_utf8_is_an_error_naming_file_and_line(bench, tmp_path):
    from xling.errors import DataError

    path = tmp_path / "tatoeba.deu-eng.deu"
    path.write_bytes(b"Guten Tag\n\nWie geht's?\nSch\xf6n\n")  # \xf6: Latin-1, not UTF-8
    with pytest.raises(DataError, match=r"tatoeba\.deu-eng\.deu:4"):
        bench.read_lines(path)
    path.write_text("Guten Tag\n\n  Wie geht's?  \n", encoding="utf-8")
    assert bench.read_lines(path) == ["Guten Tag", "Wie geht's?"]  # blank lines left out, text stripped


def test_headline_set_is_never_swapped_silently(bench, tmp_path):
    data = tmp_path / "data"
    (data / "ntrex").mkdir(parents=True)
    with gzip.open(data / "ntrex" / "newstest2019-ref.deu.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("x\n")
    with pytest.raises(SystemExit, match="no Tatoeba folder"):  # a default run without Tatoeba
        bench.set_folders(bench.parse_args(["--data", str(data)]))
    assert list(bench.set_folders(bench.parse_args(["--data", str(data), "--sets", "ntrex"]))) == ["ntrex"]
    folder = tatoeba_folder(data, ["fra"])
    args = ["--data", str(data), "--tatoeba", str(folder), "--sets", "ntrex,tatoeba"]
    assert list(bench.set_folders(bench.parse_args(args))) == ["tatoeba", "ntrex"]  # the headline first
    with pytest.raises(SystemExit, match="headline set: no language left after --langs"):
        bench.load_sets(bench.parse_args([*args, "--langs", "deu"]))  # only NTREX has German


def test_langs_is_macrolanguage_aware(bench, tmp_path):
    folder = tatoeba_folder(tmp_path, ["cmn", "pes", "zsm", "ind", "lvs", "nob", "deu"])
    args = ["--tatoeba", str(folder), "--sets", "tatoeba"]
    sets, _ = bench.load_sets(bench.parse_args([*args, "--langs", "zh,fa,ms,lv,no"]))
    assert [x.key for x in sets["tatoeba"]] == ["cmn", "lvs", "nob", "pes", "zsm"]  # "ms" is not Indonesian
    with pytest.raises(SystemExit, match="--langs: xx names no language"):
        bench.load_sets(bench.parse_args([*args, "--langs", "de,xx"]))


def test_xling_must_load(bench, monkeypatch):
    class Fake:
        how = "fake"
        fails: tuple[str, ...] = ("pycld2",)

        def __init__(self, model, threads):
            self.name = next(name for name, cls in fakes.items() if cls is type(self))

        def load(self):
            if self.name in Fake.fails:
                raise bench.Unavailable("cannot load")

    fakes = {name: type(name, (Fake,), {}) for name in bench.DEFAULT_CONTENDERS}
    monkeypatch.setattr(bench, "CONTENDERS", fakes)
    loaded, skipped, _ = bench.load_contenders(bench.parse_args([]))
    assert "pycld2" in skipped and "xling" in loaded  # another contender that cannot run is skipped
    Fake.fails = ("pycld2", "xling")
    with pytest.raises(SystemExit, match="xling: cannot load"):
        bench.load_contenders(bench.parse_args(["--model", "missing"]))


def test_memory_baseline_comes_before_the_code_tables(tmp_path):
    # in a fresh interpreter, as the probe runs: numpy and pycountry are not imported at the baseline reading
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(BENCHMARKS)!r})\n"
        "import langid\n"
        "def baseline():\n"
        "    sys.exit(','.join(m for m in ('numpy', 'pycountry') if m in sys.modules) or 0)\n"
        "langid.peak_rss_kib = baseline\n"
        f"langid.main(['--_probe', 'py3langid', '--_texts', {str(tmp_path / 't.json')!r}])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


class SlowMapping:
    """A contender whose own call is instant and whose mapping to codes takes MAP_S seconds."""

    MAP_S = 0.2

    def predict_raw(self, texts):
        return ["en"] * len(texts)

    def to_codes(self, raw):
        time.sleep(self.MAP_S)
        return ["eng" for _ in raw]


def test_speed_and_accuracy_passes_time_the_call_not_the_mapping(bench):
    texts = ["Where is the station?"] * 10
    speeds = bench.timed_rounds({"slow": SlowMapping()}, texts)
    assert len(speeds["slow"]) == bench.ROUNDS
    assert min(speeds["slow"]) > len(texts) / SlowMapping.MAP_S  # the mapping's sleep is not in the figure
    _, codes, seconds = bench.label_texts(SlowMapping(), texts)
    assert codes == ["eng"] * 10 and seconds < SlowMapping.MAP_S  # mapped, but after the clock stopped


def test_library_contenders_map_codes_outside_their_raw_call(bench, monkeypatch):
    contenders = sys.modules[bench.Contender.__module__]

    def never(code):
        raise AssertionError("to_iso3 inside the timed call")

    py3langid = bench.CONTENDERS["py3langid"]("m", 1)
    py3langid.ident = SimpleNamespace(classify=lambda text: ("iw", 0.9))
    pycld2 = bench.CONTENDERS["pycld2"]("m", 1)
    pycld2.module = SimpleNamespace(error=ValueError, detect=lambda text, bestEffort: (True, 9, (("HEBREW", "iw", 99, 1.0),)))  # fmt: skip
    gcld3 = bench.CONTENDERS["gcld3"]("m", 1)
    gcld3.ident = SimpleNamespace(FindLanguage=lambda text: SimpleNamespace(language="iw"))
    for contender in (py3langid, pycld2, gcld3):
        with monkeypatch.context() as patch:
            patch.setattr(contenders, "to_iso3", never)
            raw = contender.predict_raw(["שלום", "עולם"])
        assert raw == ["iw", "iw"]
        assert contender.to_codes(raw) == ["heb", "heb"] == contender.predict(["שלום", "עולם"])


def test_pycld2_text_it_cannot_read_is_und(bench):
    pycld2 = bench.CONTENDERS["pycld2"]("m", 1)

    def detect(text, bestEffort):
        raise ValueError("input contains invalid UTF-8")

    pycld2.module = SimpleNamespace(error=ValueError, detect=detect)
    assert pycld2.predict_raw(["x"]) == [None] and pycld2.predict(["x"]) == ["und"]
