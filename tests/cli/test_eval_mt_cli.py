"""`xling eval mt`: option parsing, the table and --json, errors; end to end on a tiny xling model."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from translation.tiny_models import build_xling  # tests/ is on the path (no tests/__init__.py)
from typer.testing import CliRunner

from xling.cli import app, main

runner = CliRunner()

# A tiny aligned corpus: two JHN verses (the test) and one GEN verse (never scored).
CORPUS = {
    "eng": {"GEN.1.1": "In the beginning", "JHN.1.1": "The cat sleeps on the bed.", "JHN.1.2": "Where is the train station?"},
    "deu": {"GEN.1.1": "Am Anfang", "JHN.1.1": "Die Katze schläft auf dem Bett.", "JHN.1.2": "Wo ist der Bahnhof?"},
    "fra": {"GEN.1.1": "Au commencement", "JHN.1.1": "Le chat dort sur le lit.", "JHN.1.2": "Où est la gare ?"},
}  # fmt: skip


def _write_corpus(root: Path) -> Path:
    folder = root / "bible"
    folder.mkdir()
    for lang, verses in CORPUS.items():
        (folder / f"{lang}.tsv").write_text(
            "".join(f"{v}\t{t}\n" for v, t in verses.items()), encoding="utf-8"
        )
    return folder


class ReferenceTranslator:
    """Returns the corpus text of the same verse in the target language, except for the (src, tgt) in `broken`."""

    def __init__(self, broken=()):
        self.broken = set(broken)
        self.calls = []

    def decode_options(self, options=None, given=None):  # no decoding settings of its own
        from xling.translation.decoding import DecodeOptions

        return options or DecodeOptions()

    def translate(self, texts, src, tgt, options=None, *, progress=False):
        self.calls.append((src, tgt, options.beam_size))
        if (src, tgt) in self.broken:
            return ["nichts" for _ in texts]
        verse = {text: v for v, text in CORPUS[src].items()}
        return [CORPUS[tgt][verse[t]] for t in texts]


def _fake_model(monkeypatch, translator):
    loaded = []
    monkeypatch.setattr("xling.cli.evaluate._load_translator",
                        lambda model, backend: loaded.append((model, backend)) or translator)  # fmt: skip
    return loaded


def test_src_tgt_pivot_table_and_json(tmp_path, monkeypatch):
    _write_corpus(tmp_path)
    translator = ReferenceTranslator(broken={("deu", "fra")})
    loaded = _fake_model(monkeypatch, translator)
    out = tmp_path / "mt.json"
    args = ["eval", "mt", "--model", "runs/m", "--data", str(tmp_path), "--src", "de,en", "--tgt", "fr",
            "--pivot", "eng", "--beam", "2", "--json", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert loaded == [("runs/m", "auto")]
    report = json.loads(out.read_text())
    assert report["task"] == "mt" and report["primary"] == "chrf++" and report["model"] == "runs/m"
    assert list(report["scores"]) == ["deu-fra", "eng-fra"]
    deu_fra = report["scores"]["deu-fra"]
    assert deu_fra["pivot_chrf++"] == 100.0 > deu_fra["chrf++"] and deu_fra["n"] == 2
    assert (
        report["scores"]["eng-fra"]["chrf++"] == 100.0 and "pivot_chrf++" not in report["scores"]["eng-fra"]
    )
    assert {beam for *_, beam in translator.calls} == {2} and report["settings"]["decode"]["beam_size"] == 2
    assert "nw:2" in report["settings"]["signatures"]["deu-fra"]["chrf++"]
    assert "chrF++ via eng" in result.output and "deu-fra" in result.output
    assert "signature: nrefs:1|case:mixed|eff:no|tok:13a" in result.output
    # direct against pivoted over the directions translated both ways, in the JSON as in the table
    both = report["settings"]["pivot_average"]
    assert both == {"directions": 1, "chrf++": round(deu_fra["chrf++"], 2), "pivot_chrf++": 100.0}
    assert re.search(rf"average \(1 pivoted\).*{deu_fra['chrf++']:.1f}.*100\.0", result.output)


def test_directions_and_bible_options_reach_the_config(tmp_path, monkeypatch):
    seen = {}

    def fake_evaluate(translator, config, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr("xling.evaluation.mt.evaluate_mt", fake_evaluate)
    _fake_model(monkeypatch, ReferenceTranslator())
    _write_corpus(tmp_path)
    args = ["eval", "mt", "--model", "m", "--data", str(tmp_path), "--directions", "eng-deu, deu-fra",
            "--max-sentences", "7", "--heldout-prefixes", "JHN.,MAT.", "--backend", "torch",
            "--set", "decode.length_penalty=0.5"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    config = seen["config"]
    assert config.directions == ["eng-deu", "deu-fra"] and config.testset == "bible"
    assert (config.max_sentences, config.heldout_prefixes, config.backend) == (7, ["JHN.", "MAT."], "torch")
    assert config.decode.length_penalty == 0.5 and config.decode.beam_size == 4


def _run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err


def test_user_errors_are_one_line_and_the_model_is_not_loaded(tmp_path, monkeypatch, capsys):
    loaded = _fake_model(monkeypatch, ReferenceTranslator())
    missing = tmp_path / "nowhere"
    code, err = _run_main(monkeypatch, capsys, "eval", "mt", "--model", "m", "--data", str(missing))
    assert code == 2 and str(missing) in err.replace("\n", "")
    code, err = _run_main(monkeypatch, capsys, "eval", "mt", "--model", "m", "--testset", "ntrex", "--data",
                          str(tmp_path))  # fmt: skip
    assert code == 2 and "ntrex" in err
    code, err = _run_main(monkeypatch, capsys, "eval", "mt", "--model", "m", "--src", "eng")
    assert code == 2 and "--tgt" in err
    code, err = _run_main(monkeypatch, capsys, "eval", "mt", "--model", "m", "--directions", "eng-xq")
    assert code == 2 and "xq" in err
    assert loaded == []


def test_end_to_end_on_a_tiny_xling_model(tmp_path):
    model = build_xling(tmp_path / "model", languages=("eng", "deu", "fra"))
    _write_corpus(tmp_path)
    out, hyps = tmp_path / "mt.json", tmp_path / "hyps"
    args = ["eval", "mt", "--model", str(model), "--data", str(tmp_path), "--directions", "eng-deu,deu-fra",
            "--pivot", "eng", "--beam", "1", "--hypotheses", str(hyps), "--json", str(out)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["scores"]["eng-deu"]["n"] == 2 and "pivot_chrf++" in report["scores"]["deu-fra"]
    for label in ("eng-deu", "deu-fra"):
        lines = (hyps / f"{label}.txt").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 2
        from sacrebleu.metrics import CHRF

        refs = [CORPUS[label[4:]][v] for v in ("JHN.1.1", "JHN.1.2")]
        expected = round(CHRF(word_order=2).corpus_score(lines, [refs]).score, 2)
        assert report["scores"][label]["chrf++"] == expected


def test_help_names_the_test_sets_and_the_pivot():
    result = runner.invoke(app, ["eval", "mt", "--help"])
    assert result.exit_code == 0, result.output
    assert "ntrex" in result.output and "--pivot" in result.output


def _eval_mt(monkeypatch, capsys, tmp_path, *extra):
    """Run `xling eval mt` on the tiny corpus with the reference translator; return (exit code, stderr, the
    translator's calls)."""
    translator = ReferenceTranslator()
    _fake_model(monkeypatch, translator)
    code, err = _run_main(monkeypatch, capsys, "eval", "mt", "--model", "m", "--data", str(tmp_path),
                          "--directions", "eng-deu,eng-fra", *map(str, extra))  # fmt: skip
    return code, " ".join(err.split()), translator.calls


def test_a_json_write_that_fails_after_the_work_is_one_error_line(tmp_path, monkeypatch, capsys):
    _write_corpus(tmp_path)
    # root passes the os.access check on /proc; the write itself fails
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--json", "/proc/xling-report.json")
    assert code == 2 and "/proc/xling-report.json: cannot write the figures" in err, err
    assert "Traceback" not in err and calls
    # a disk that fills up: the earlier report stays as it was
    report = tmp_path / "mt.json"
    report.write_text('{"old": true}', encoding="utf-8")

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("xling.atomic.os.replace", full)
    code, err, _ = _eval_mt(monkeypatch, capsys, tmp_path, "--json", report)
    assert code == 2 and f"{report}: cannot write the figures: No space left on device" in err, err
    assert json.loads(report.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bible", "mt.json"]  # no temporary left


def test_a_bad_hypotheses_folder_is_refused_before_anything_is_translated(tmp_path, monkeypatch, capsys):
    bible = _write_corpus(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("keep\n", encoding="utf-8")
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", afile)
    assert code == 2 and f"hypotheses: {afile} is a file, not a folder" in err and calls == [], err
    assert afile.read_text(encoding="utf-8") == "keep\n"
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", afile / "hy")
    assert code == 2 and f"{afile} is a file" in err and calls == [], err
    for inside in (bible, bible / "hy"):
        code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", inside)
        assert code == 2 and "test data folder" in err and "--hypotheses" in err and calls == [], err
    assert sorted(p.name for p in bible.iterdir()) == ["deu.tsv", "eng.tsv", "fra.tsv"]
    # a folder that holds the data folder takes the translations beside it
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", tmp_path)
    assert code == 0 and (tmp_path / "eng-deu.txt").is_file(), err


def test_a_hypotheses_folder_that_cannot_be_written_is_refused(tmp_path, monkeypatch, capsys):
    _write_corpus(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr("xling.atomic.os.access", lambda path, mode: Path(path) != locked)
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", locked / "hy")
    assert code == 2 and f"cannot write into {locked}" in err and calls == [], err


def test_a_hypotheses_write_that_fails_is_one_error_line(tmp_path, monkeypatch, capsys):
    _write_corpus(tmp_path)

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("xling.atomic.os.replace", full)
    code, err, _ = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", tmp_path / "hy")
    hyp = tmp_path / "hy" / "eng-deu.txt"
    assert code == 2 and f"{hyp}: cannot write the translations: No space left on device" in err, err


def test_a_json_report_named_as_a_translation_file_is_refused(tmp_path, monkeypatch, capsys):
    _write_corpus(tmp_path)
    hyps = tmp_path / "hy"  # not there yet: the report would have replaced the translations written first
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", hyps, "--json",
                                hyps / "eng-deu.txt")  # fmt: skip
    assert code == 2 and "one of the translation files --hypotheses writes" in err and "--json" in err, err
    assert calls == [] and not hyps.exists()
    # a report beside the translations, under its own name, is a common layout (runs/e1/report.json)
    code, err, _ = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses", hyps, "--json", hyps / "r.json")
    assert "translation files" not in err, err


def test_hypotheses_under_home_are_written_in_the_home_folder(tmp_path, monkeypatch, capsys):
    """`--hypotheses=~/h` was checked with `~` expanded but written into a literal ./~/h folder."""
    _write_corpus(tmp_path)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(), work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    code, err, calls = _eval_mt(monkeypatch, capsys, tmp_path, "--hypotheses=~/h")
    assert code == 0 and calls, err
    assert sorted(p.name for p in (home / "h").iterdir()) == ["eng-deu.txt", "eng-fra.txt"]
    assert not (work / "~").exists()
