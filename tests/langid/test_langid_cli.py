"""`xling detect` and `xling langid train` from the command line."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from xling.cli import app, main
from xling.langid.sources import read_sample

runner = CliRunner()


@pytest.fixture(scope="module")
def folder(sample_identifier, tmp_path_factory):
    return sample_identifier.save_pretrained(tmp_path_factory.mktemp("cli") / "detector")


def run_main(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
    with pytest.raises(SystemExit) as exc:
        main()
    return exc.value.code, capsys.readouterr().err.strip()


def test_detect_prints_a_label_per_text(folder):
    result = runner.invoke(app, ["detect", "--model", str(folder), "Guten Morgen, wie geht es dir heute?",
                                 "Bonjour, comment vas-tu aujourd'hui ?", "🎉"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["deu", "fra", "und"]


def test_detect_json_top_k_and_spans(folder):
    result = runner.invoke(app, ["detect", "--model", str(folder), "--json", "--k", "2", "Das ist gut."])
    payload = json.loads(result.stdout)
    assert [p["language"] for p in payload["predictions"]][0] == "deu" and len(payload["predictions"]) == 2
    mixed = "I finished reading the book last night Morgen fahren wir mit dem Zug nach Hamburg"
    result = runner.invoke(app, ["detect", "--model", str(folder), "--spans", "--json", mixed])
    assert [span["language"] for span in json.loads(result.stdout)] == ["eng", "deu"]


def test_detect_a_file_writes_line_i_for_line_i(folder, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Guten Morgen, wie geht es dir?\n\nMañana vamos a la playa con mis amigos.\n", "utf-8")
    output = tmp_path / "out.tsv"
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--input", str(source), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[0] for line in output.read_text("utf-8").splitlines()] == ["deu", "und", "spa"]


def test_a_file_of_blank_lines_gets_und_per_line_and_an_empty_file_is_an_error(folder, tmp_path):
    from xling.errors import ConfigError, DataError
    from xling.langid.files import detect_file
    from xling.langid.model import LanguageIdentifier

    detector = LanguageIdentifier.from_pretrained(folder)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n  \n\n", "utf-8")
    assert [row.split("\t")[0] for row in detect_file(detector, blank).rows] == ["und", "und", "und"]
    empty = tmp_path / "empty.txt"
    empty.write_text("", "utf-8")
    with pytest.raises(DataError, match="empty"):
        detect_file(detector, empty)
    broken = tmp_path / "broken.txt"  # a bad line after blank ones is still an error naming it
    broken.write_bytes(b"\n\xff\n")
    with pytest.raises(DataError, match="broken.txt:2"):
        detect_file(detector, broken)
    with pytest.raises(ConfigError, match="is also an input file"):
        detect_file(detector, blank, blank)  # the texts would be replaced by their labels
    assert blank.read_text("utf-8") == "\n  \n\n"
    import gzip

    truncated = tmp_path / "cut.txt.gz"  # a .gz cut short is an error, not the lines read so far
    truncated.write_bytes(
        gzip.compress("".join(f"line {i} of the text\n" for i in range(5000)).encode())[:-200]
    )
    with pytest.raises(DataError, match="cut.txt.gz"):
        detect_file(detector, truncated)


def test_bad_input_file_is_one_clear_line_and_keeps_the_old_output(folder, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_bytes(b"Guten Morgen\n\xff\xfe broken\n")
    output = tmp_path / "out.tsv"
    output.write_text("earlier\n", "utf-8")
    code, err = run_main(
        monkeypatch, capsys, "detect", "--model", folder, "--input", source, "--output", output
    )
    assert code == 2 and "in.txt:2" in err and "UTF-8" in err
    assert output.read_text("utf-8") == "earlier\n"


def test_langid_train_from_a_users_tsv(tmp_path, monkeypatch, capsys):
    lines = {
        "de": [
            "Guten Morgen, wie geht es dir?",
            "Ich wohne in einer kleinen Stadt.",
            "Das Wetter ist schön.",
        ],
        "fi": ["Hyvää huomenta, mitä kuuluu?", "Asun pienessä kaupungissa.", "Sää on kaunis tänään."],
    }
    path = tmp_path / "mine.tsv"
    path.write_text(
        "".join(f"{code}\t{line}\n" for code, texts in lines.items() for line in texts * 10), "utf-8"
    )
    output = tmp_path / "det"
    result = runner.invoke(app, ["langid", "train", "--corpus", "sample", "--lang", "de", "--lang", "fr",
                                 "--lang", "fi", "--tsv", str(path), "--output", str(output), "--epochs", "2",
                                 "--set", "features.buckets=4096", "--set", "dim=8", "--set", "threads=1",
                                 "--json", str(tmp_path / "run.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["labels"] == 3
    # Finnish has 3 distinct lines, too few to hold one out: it is in no held-out figure, and that is said
    assert "fin" not in report["dev_accuracy"] and report["dev_not_measured"] == {"fin": 3}
    assert "not measured: fin (3 lines)" in result.output
    card = json.loads((output / "config.json").read_text())
    assert card["dev_not_measured"] == {"fin": 3}
    # the user's file of two languages is one file (the sample's files of de and fr, and mine.tsv)
    assert card["source_files"] == len(list(read_sample(frozenset({"deu", "fra"})))) + 1
    detected = runner.invoke(app, ["detect", "--model", str(output), "Asun pienessä kaupungissa."])
    assert detected.stdout.split("\t")[0] == "fin"
    code, err = run_main(monkeypatch, capsys, "langid", "train", "--tsv", tmp_path / "missing.tsv",
                         "--corpus", "sample", "--output", tmp_path / "det2")  # fmt: skip
    assert code == 2 and "missing.tsv" in err and "not found" in err
    code, err = run_main(monkeypatch, capsys, "langid", "train", "--corpus", "sample", "--output", output)
    assert code == 2 and "already there" in err and "--overwrite" in err  # refused before training
    # a --tsv file inside the output: --overwrite replaced the folder and deleted it
    inside = output / "mine.tsv"
    inside.write_bytes(path.read_bytes())
    code, err = run_main(monkeypatch, capsys, "langid", "train", "--corpus", "sample", "--tsv", inside,
                         "--output", output, "--overwrite")  # fmt: skip
    assert code == 2 and "contains the --tsv file" in err and inside.is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "0", "Hallo"], "k: 0 must be at least 1"),
        (["--threshold", "1.5", "Hallo"], "threshold: 1.5 must be a probability"),
        (["--threshold", "nan", "Hallo"], "threshold: nan must be a probability"),
        (["--spans", "--threshold", "1.5", "Hallo"], "threshold: 1.5 must be a probability"),
        (["--json", "Hallo \udcff"], "TEXT 1 is not valid UTF-8"),
    ],
)
def test_detect_options_out_of_range_and_text_that_is_not_utf8_are_one_line(
    folder, monkeypatch, capsys, args, message
):
    code, err = run_main(monkeypatch, capsys, "detect", "--model", folder, *args)
    assert code == 2 and len(err.splitlines()) == 1 and message in err, err


def test_detect_output_that_is_a_folder_is_refused_before_the_work(folder, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in.txt"
    source.write_text("Guten Morgen\n", encoding="utf-8")
    (tmp_path / "adir").mkdir()
    code, err = run_main(monkeypatch, capsys, "detect", "--model", folder, "--input", source, "--output",
                         tmp_path / "adir")  # fmt: skip
    assert code == 2 and "is a folder" in err, err


def test_detect_languages_restricts_the_answers(folder, tmp_path):
    text = "Guten Morgen, wie geht es dir heute?"
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--json", "--k", "5", "--languages", "es,fr", text]
    )
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)["predictions"]
    assert {p["language"] for p in predictions} == {"spa", "fra"}  # k is cut to the two allowed
    assert sum(p["probability"] for p in predictions) == pytest.approx(1.0, abs=1e-3)
    mixed = "I finished reading the book last night Morgen fahren wir mit dem Zug nach Hamburg"
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--spans", "--json", "--languages", "eng,fra", mixed]
    )
    assert result.exit_code == 0, result.output
    found = [span["language"] for span in json.loads(result.stdout)]
    assert found and set(found) <= {"eng", "fra"} and found[0] == "eng", found
    source = tmp_path / "in.txt"
    source.write_text(f"{text}\n", "utf-8")
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--input", str(source), "--languages", "spa"]
    )
    assert result.stdout.split("\t")[0] == "spa"


def test_detect_languages_the_detector_lacks_is_a_clear_error(folder, monkeypatch, capsys):
    code, err = run_main(
        monkeypatch, capsys, "detect", "--model", folder, "--languages", "de,nl,tha", "Hallo"
    )
    assert code != 0 and "--languages: nl, tha not known" in err, err
    # every code that is no language code is named (the first one only before)
    code, err = run_main(monkeypatch, capsys, "detect", "--model", folder, "--languages", "de,xx,yy", "Hallo")
    assert code != 0 and "--languages: xx, yy: not language codes" in " ".join(err.split()), err
    # an empty value (an unset shell variable) is no restriction left out silently
    code, err = run_main(monkeypatch, capsys, "detect", "--model", folder, "--languages", "", "Hallo")
    assert code != 0 and "--languages: no language code given" in err, err


@pytest.mark.parametrize("size", ["0", "-5"])
def test_detect_a_file_with_a_bad_batch_size_is_a_clear_error(folder, tmp_path, monkeypatch, capsys, size):
    source = tmp_path / "in.txt"
    source.write_text("Guten Morgen\n", "utf-8")
    output = tmp_path / "out.tsv"
    code, err = run_main(monkeypatch, capsys, "detect", "--model", folder, "--input", source, "--output", output,
                         "--batch-size", size)  # fmt: skip
    assert code != 0 and f"batch_size: {size} must be at least 1" in err, err
    assert not output.exists()


def test_detect_a_file_as_json_lines_and_spans_line_i_for_line_i(folder, tmp_path):
    german, spanish = "Guten Morgen, wie geht es dir?", "Mañana vamos a la playa con mis amigos."
    source = tmp_path / "in.txt"
    source.write_text(f"{german}\n\n{spanish}\n", "utf-8")
    base = ["detect", "--model", str(folder), "--input", str(source)]
    result = runner.invoke(app, [*base, "--json", "--k", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == [german, "", spanish]
    assert [row["predictions"][0]["language"] for row in rows] == ["deu", "und", "spa"]
    assert len(rows[0]["predictions"]) == 2 and rows[1]["predictions"] == [
        {"language": "und", "probability": 0.0}
    ]
    result = runner.invoke(app, [*base, "--spans"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"[deu] {german}", "[und]", f"[spa] {spanish}"]
    output = tmp_path / "spans.jsonl"
    result = runner.invoke(app, [*base, "--spans", "--json", "--output", str(output)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in output.read_text("utf-8").splitlines()]
    assert [[span["language"] for span in row] for row in rows] == [["deu"], ["und"], ["spa"]]
    assert rows[0][0]["text"] == german and rows[1][0]["text"] == ""
    # a carriage return or U+2028 inside a line: one line to the reader, several to splitlines
    source.write_text(f"{german}\r{german}\n{spanish}\u2028{spanish}\n", "utf-8")
    result = runner.invoke(app, [*base, "--spans"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"[deu] {german} {german}", f"[spa] {spanish} {spanish}"]
    for json_options in (["--json"], ["--spans", "--json"]):  # JSON keeps them, escaped
        result = runner.invoke(app, [*base, *json_options])
        assert result.exit_code == 0, result.output
        assert len(result.stdout.splitlines()) == 2 and "\\u2028" in result.stdout


def test_detect_spans_of_a_blank_text_print_und_and_follow_the_threshold(folder):
    result = runner.invoke(app, ["detect", "--model", str(folder), "--spans", "", "  ", "Das ist gut."])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["[und]", "[und]"] and lines[2].startswith("[deu]")
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--spans", "--threshold", "1.0", "Das ist gut."]
    )
    assert result.stdout.splitlines() == ["[und] Das ist gut."]


@pytest.mark.parametrize("bad", ["missing input", "folder output", "output is the input", "missing, stdout"])
def test_detect_file_paths_are_checked_before_the_detector_loads(bad_file_paths, monkeypatch, capsys, bad):
    from xling.langid import LanguageIdentifier

    loads = []

    def no_load(*args, **kwargs):  # a large detector takes seconds to load
        loads.append(args)
        raise AssertionError("the detector was loaded before the paths were checked")

    monkeypatch.setattr(LanguageIdentifier, "from_pretrained", no_load)
    source, output, message = bad_file_paths(bad, "Guten Morgen\n", "out.tsv")
    where = [] if bad == "missing, stdout" else ["--output", output]
    code, err = run_main(monkeypatch, capsys, "detect", "--input", source, *where)
    assert code == 2 and message in err and not loads, err


def test_detect_top_k_rows_of_a_file_all_have_k_pairs(folder, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("Guten Morgen, wie geht es dir?\n\n🎉\nMañana vamos a la playa.\n", "utf-8")
    base = ["detect", "--model", str(folder), "--input", str(source), "--k", "3"]
    output = tmp_path / "out.tsv"
    to_file = ["--output", str(output)]
    for args in (base, [*base, *to_file], [*base, "--threshold", "1.0", *to_file]):  # stdout, file, all und
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        text = output.read_text("utf-8") if "--output" in args else result.stdout
        rows = [line.split("\t") for line in text.split("\n")[:-1]]
        assert len(rows) == 4 and all(len(row) == 6 for row in rows), rows  # 3 (label, probability) pairs
        assert rows[1] == ["und", "0.0000", "", "", "", ""] and rows[2][0] == "und"
    assert rows[0][0] == "und" and rows[0][2:] == ["", "", "", ""]  # under the threshold
    # TEXT arguments print the same rows; JSON lists only the candidates
    result = runner.invoke(app, ["detect", "--model", str(folder), "--k", "3", "Das ist gut.", "🎉"])
    assert [len(line.split("\t")) for line in result.stdout.splitlines()] == [6, 6]
    result = runner.invoke(app, [*base, "--json"])
    blank = json.loads(result.stdout.splitlines()[1])
    assert blank["predictions"] == [{"language": "und", "probability": 0.0}]


def test_a_k_beyond_the_detectors_labels_pads_to_its_labels_only(folder, sample_identifier, tmp_path):
    # each row was padded to the k typed: --k 10**9 was a MemoryError traceback, 10**8 a 200 MB line
    labels = len(sample_identifier.labels)
    result = runner.invoke(app, ["detect", "--model", str(folder), "--k", str(10**9), "Das ist gut."])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()[0].split("\t")) == 2 * labels
    result = runner.invoke(
        app, ["detect", "--model", str(folder), "--k", "50", "--languages", "de,fr", "Das ist gut."]
    )
    assert len(result.stdout.splitlines()[0].split("\t")) == 4
    source = tmp_path / "in.txt"
    source.write_text("Das ist gut.\n", "utf-8")
    result = runner.invoke(app, ["detect", "--model", str(folder), "--input", str(source), "--k", str(10**9)])
    assert len(result.stdout.splitlines()[0].split("\t")) == 2 * labels
    # a k below 1 is refused before the work (it was at the first batch, the progress bar drawn)
    from xling.errors import ConfigError
    from xling.langid.files import detect_file

    with pytest.raises(ConfigError, match="k: 0 must be at least 1"):
        detect_file(sample_identifier, tmp_path / "missing.txt", k=0)
    # the Python API: no text at all is named (None was a TypeError from list())
    from xling.langid import detect

    with pytest.raises(ConfigError, match="text: give a string or a list of strings, not NoneType"):
        detect(None, model=str(folder))


def test_a_file_is_detected_batch_by_batch_and_a_failure_keeps_the_old_output(sample_identifier, tmp_path):
    # written as it goes (a file of any size is never held whole): a crash mid-way must still leave the
    # earlier output, not half of the new one
    from xling.langid.files import detect_file

    source = tmp_path / "in.txt"
    source.write_text("".join(f"Guten Morgen, wie geht es dir am Tag {i}?\n" for i in range(7)), "utf-8")
    output = tmp_path / "out.tsv"
    whole = detect_file(sample_identifier, source, batch_size=1024).rows
    assert detect_file(sample_identifier, source, output, batch_size=3).lines == 7
    assert output.read_text("utf-8").splitlines() == whole
    printed: list[str] = []  # stdout: each line handed on as its batch is done, none kept
    report = detect_file(sample_identifier, source, batch_size=3, write=printed.append)
    assert printed == whole and report.lines == 7 and report.rows == []
    output.write_text("earlier\n", "utf-8")
    seen: list[int] = []
    predict = sample_identifier.predict

    def failing(texts, **options):
        seen.append(len(texts))
        if len(seen) == 2:
            raise RuntimeError("killed")
        return predict(texts, **options)

    sample_identifier.predict = failing
    try:
        with pytest.raises(RuntimeError, match="killed"):
            detect_file(sample_identifier, source, output, batch_size=3)
    finally:
        del sample_identifier.predict
    assert seen == [3, 3] and output.read_text("utf-8") == "earlier\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.tsv"]
