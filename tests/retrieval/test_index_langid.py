"""The search index with a language detector: detected languages stored per document, `detected=` and
`--detected-lang` filters (macrolanguage aware), `und` documents taking their detected language, indexes
made before detection (no `detected` column) and the CLI options."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from typer.testing import CliRunner

from xling.cli import app
from xling.cli import index as index_cli
from xling.errors import BusyError, XlingError
from xling.langid import LanguageIdentifier
from xling.retrieval.index import DB_FILE, SearchIndex

# Sentences the tiny detector tells apart (tests/langid checks it on these); the second French one is
# declared English, as a mislabelled corpus line would be.
DOCS = [
    ("Morgen fahren wir mit dem Zug nach Hamburg und besuchen meine Großmutter.", "deu"),
    ("Ich habe das Buch gestern Abend zu Ende gelesen, es war wirklich spannend.", "deu"),
    ("Demain nous prendrons le train pour aller voir ma grand-mère à Lyon.", "fra"),
    ("J'ai fini de lire ce livre hier soir, il était vraiment passionnant.", "eng"),
    ("Tomorrow we are taking the train to visit my grandmother in Leeds.", "eng"),
    ("I finished reading the book last night and it was really gripping.", "eng"),
    ("Завтра мы поедем на поезде к моей бабушке в Казань.", "rus"),
]
DETECTED = ["deu", "deu", "fra", "fra", "eng", "eng", "rus"]
runner = CliRunner()


@pytest.fixture(scope="module")
def detector_folder(tiny_detector_folder):
    return tiny_detector_folder


@pytest.fixture(scope="module")
def detector(detector_folder) -> LanguageIdentifier:
    return LanguageIdentifier.from_pretrained(detector_folder)


def build(path, encoder, detector=None) -> SearchIndex:
    index = SearchIndex.create(path, encoder.name, encoder.dimension)
    texts, languages = zip(*DOCS, strict=True)
    index.add_texts(encoder, texts, list(languages), detector=detector)
    return index


def strip_detected_column(folder) -> None:
    """Make the index's database as an xling before detection wrote it (no `detected` column)."""
    db = sqlite3.connect(folder / DB_FILE)
    db.execute("DROP INDEX documents_detected")
    db.execute("ALTER TABLE documents DROP COLUMN detected")
    db.commit()
    db.close()


def test_each_document_keeps_its_given_and_its_detected_language(tmp_path, fake_encoder, detector):
    index = build(tmp_path / "idx", fake_encoder, detector)
    hits = index.search_texts(fake_encoder, [text for text, _ in DOCS], k=1)
    assert [(h[0].language, h[0].detected) for h in hits] == list(
        zip([lang for _, lang in DOCS], DETECTED, strict=True)
    )
    assert index.detected_languages() == {"deu": 2, "eng": 2, "fra": 2, "rus": 1}
    query = ["the book last night"]
    # the mislabelled French line: English by its label, French by the detector
    french = index.search_texts(fake_encoder, query, k=7, detected="fr")[0]
    assert {h.text for h in french} == {DOCS[2][0], DOCS[3][0]}
    given = index.search_texts(fake_encoder, query, k=7, languages="en")[0]
    assert {h.text for h in given} == {DOCS[3][0], DOCS[4][0], DOCS[5][0]}
    both = index.search_texts(fake_encoder, query, k=7, languages="eng", detected=["fra", "rus"])[0]
    assert [h.text for h in both] == [DOCS[3][0]]
    assert index.search_texts(fake_encoder, query, k=3, detected="spa") == [[]]
    index.close()
    with SearchIndex.open(tmp_path / "idx") as again:  # stored, not recomputed
        assert [h.detected for h in again.search_texts(fake_encoder, query, k=7, detected="deu")[0]] == [
            "deu"
        ] * 2


def test_the_detected_filter_widens_and_falls_back_to_an_id_selector(tmp_path, fake_encoder, detector,
                                                                    monkeypatch):  # fmt: skip
    index = build(tmp_path / "idx", fake_encoder, detector)
    english = [f"We are taking the train to visit my grandmother, day {i}." for i in range(40)]
    index.add_texts(fake_encoder, english, "eng", detector=detector)
    query = [DOCS[4][0]]
    hits = index.search_texts(fake_encoder, query, k=2, detected="deu")[0]
    assert [h.detected for h in hits] == ["deu", "deu"]
    monkeypatch.setattr("xling.retrieval.index.WIDEN_ROUNDS", 1)
    assert index.search_texts(fake_encoder, query, k=2, detected="deu")[0] == hits
    # a common language: the over-fetch path, every hit still English
    assert {h.detected for h in index.search_texts(fake_encoder, query, k=30, detected="en")[0]} == {"eng"}


def test_a_common_language_widens_then_falls_back_and_both_find_the_true_nearest(
    tmp_path, fake_encoder, detector, monkeypatch
):
    from xling.retrieval.index import OVERFETCH, SearchIndex

    index = build(tmp_path / "idx", fake_encoder, detector)
    english = [f"We are taking the train to visit my grandmother, day {i}." for i in range(40)]
    german = [f"Morgen fahren wir mit dem Zug nach Hamburg, Tag {i}." for i in range(16)]
    index.add_texts(fake_encoder, english + german, ["eng"] * 40 + ["deu"] * 16, detector=detector)
    total, wanted = len(index), 16 + sum(1 for _, lang in DOCS if lang == "deu")
    assert wanted * OVERFETCH >= total  # German is common enough for the over-fetch path
    query = ["We are taking the train to visit my grandmother, day 7."]  # its nearest are all English
    everything = index.search_texts(fake_encoder, query, k=total)[0]
    truth = [h.id for h in everything if h.detected == "deu"][:2]
    assert len(truth) == 2 and everything[0].detected == "eng"

    calls: list[bool] = []  # per FAISS search: whether it ran with an id selector
    collect = SearchIndex._collect

    def spy(self, *args, **kwargs):
        calls.append(kwargs.get("selector") is not None)
        return collect(self, *args, **kwargs)

    monkeypatch.setattr(SearchIndex, "_collect", spy)
    widened = index.search_texts(fake_encoder, query, k=2, detected="deu")[0]
    assert [h.id for h in widened] == truth and len(calls) > 1 and not any(calls)  # doubled, no selector
    calls.clear()
    monkeypatch.setattr("xling.retrieval.index.WIDEN_ROUNDS", 1)
    fallback = index.search_texts(fake_encoder, query, k=2, detected="deu")[0]
    assert [h.id for h in fallback] == truth and calls == [False, True]  # one round, then the selector


def test_macrolanguages_and_scripts(tmp_path, fake_encoder, detector):
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    chinese = "明天我们坐火车去看望住在北京的奶奶。"
    index.add_texts(fake_encoder, [chinese, DOCS[0][0]], ["cmn", "deu"], detector=detector)
    [hit] = index.search_texts(fake_encoder, [chinese], k=1)[0]
    assert (hit.language, hit.detected) == ("cmn", "zho")  # the tiny detector knows Chinese as zho
    for code in ("zh", "cmn", "zho", "zh-Hans"):
        assert [h.text for h in index.search_texts(fake_encoder, [chinese], k=2, detected=code)[0]] == [
            chinese
        ]
        # the given-language filter is macrolanguage aware too: zh finds a document given as cmn (it keeps
        # no script, so a code with one is refused: see test_a_language_filter_with_a_script_is_refused)
        if code != "zh-Hans":
            assert [h.text for h in index.search_texts(fake_encoder, [chinese], k=2, languages=code)[0]] == [
                chinese
            ]
    # a label with a script (as a detector that knows Chinese in two scripts gives it): a sibling language or
    # another script is not it
    vector = fake_encoder.encode(["明天"])
    index.add(["明天"], vector, "cmn", detected=["cmn_Hans"])
    assert [h.detected for h in index.search(vector, k=3, detected="zh-Hans")[0]] == ["cmn_Hans", "zho"]
    assert [h.detected for h in index.search(vector, k=3, detected="zh-Hant")[0]] == ["zho"]
    assert [h.detected for h in index.search(vector, k=3, detected="yue")[0]] == ["zho"]
    with pytest.raises(XlingError, match="detected language: unknown language code 'xx-nope'"):
        index.search_texts(fake_encoder, [chinese], detected="xx-nope")


def test_a_member_filter_finds_its_macrolanguage_only_as_its_default_member(tmp_path, fake_encoder):
    """A document given as `ms` (Malay: Malaysian Malay) came back for Indonesian, one given as `no`
    (Norwegian: Bokmål) for Nynorsk."""
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    index.add_texts(fake_encoder, ["Saya suka makan nasi.", "Jeg liker å lese bøker."], ["ms", "no"])
    query = ["makan nasi lese bøker"]
    found = {code: {h.language for h in index.search_texts(fake_encoder, query, k=2, languages=code)[0]}
             for code in ("id", "zsm", "ms", "nn", "nb", "no")}  # fmt: skip
    assert found == {"id": set(), "zsm": {"msa"}, "ms": {"msa"}, "nn": set(), "nb": {"nor"}, "no": {"nor"}}


def test_und_documents_take_their_detected_language(tmp_path, fake_encoder, detector):
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    texts = [DOCS[0][0], DOCS[2][0], "🎉🎉🎉"]
    index.add_texts(fake_encoder, texts, "und", detector=detector)
    hits = index.search_texts(fake_encoder, texts, k=1)
    assert [(h[0].language, h[0].detected) for h in hits] == [("deu", "deu"), ("fra", "fra"), ("und", "und")]
    assert [h.text for h in index.search_texts(fake_encoder, texts[:1], k=3, languages="de")[0]] == texts[:1]
    assert [h.text for h in index.search_texts(fake_encoder, texts[:1], k=3, detected="und")[0]] == texts[2:]
    # the content key is made with the detected language: adding the same lines again adds nothing
    assert index.add_texts(fake_encoder, texts, "und", detector=detector).skipped == 3
    assert index.add_texts(fake_encoder, [texts[0]], "deu").skipped == 1


def test_an_index_without_detected_languages(tmp_path, fake_encoder):
    build(tmp_path / "idx", fake_encoder).close()  # no detector
    with SearchIndex.open(tmp_path / "idx") as index:
        assert index.detected_languages() == {}
        with pytest.raises(XlingError, match=r"records no detected languages .*--detect-language"):
            index.search_texts(fake_encoder, ["Zug"], detected="de")
        assert index.search_texts(fake_encoder, ["Zug"], k=1, languages="de")[0][0].detected is None


def test_the_detected_language_calls_on_a_locked_index_are_busy_errors(tmp_path, fake_encoder, detector,
                                                                        monkeypatch):  # fmt: skip
    """A large `xling index add` holds the write lock until it commits: check_detected and detected_languages
    let a raw sqlite3.OperationalError out (a server's 500), where the other reads give a BusyError (503)."""
    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    build(tmp_path / "idx", fake_encoder, detector).close()
    other = sqlite3.connect(tmp_path / "idx" / DB_FILE, isolation_level=None)
    with SearchIndex.open(tmp_path / "idx") as index:
        other.execute("BEGIN EXCLUSIVE")  # another process in the middle of a large add
        try:
            with pytest.raises(BusyError, match="the index is busy"):
                index.check_detected("deu")
            with pytest.raises(BusyError, match="the index is busy"):
                index.detected_languages()
        finally:
            other.execute("ROLLBACK")
            other.close()
        index.check_detected("deu")  # once the writer is done, the same calls pass
        assert index.detected_languages()["deu"] == 2


def test_an_index_made_before_detection_reads_adds_and_gets_the_column(tmp_path, fake_encoder, detector,
                                                                       caplog):  # fmt: skip
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    strip_detected_column(folder)
    with SearchIndex.open(folder) as index:
        before = index.search_texts(fake_encoder, [DOCS[0][0]], k=3)
        assert before[0][0].text == DOCS[0][0] and {h.detected for h in before[0]} == {None}
        with pytest.raises(XlingError, match="records no detected languages"):
            index.search_texts(fake_encoder, ["Zug"], detected="de")
        index.add_texts(fake_encoder, ["no detector here either"], "eng")  # the old way still works
        added = index.add_texts(fake_encoder, ["Wir lesen heute Abend zusammen ein spannendes Buch."], "deu",
                                detector=detector)  # fmt: skip
        with caplog.at_level(logging.WARNING, logger="xling"):
            hits = index.search_texts(fake_encoder, [DOCS[0][0]], k=5, detected="deu")[0]
        assert [h.id for h in hits] == added.ids  # the old German documents have no detected language
        assert "8 documents were added without a language detector" in caplog.text
    with SearchIndex.open(folder) as again:
        assert again.detected_languages() == {"deu": 1}


def test_an_open_index_sees_the_detected_column_another_process_added(tmp_path, fake_encoder, detector):
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    strip_detected_column(folder)
    with (
        SearchIndex.open(folder) as server,
        SearchIndex.open(folder) as writer,
    ):  # the writer: another process
        added = writer.add_texts(fake_encoder, ["Wir lesen heute Abend zusammen ein spannendes Buch."], "deu",
                                 detector=detector)  # fmt: skip
        hits = server.search_texts(fake_encoder, ["Buch"], k=5, detected="de")[0]
        assert [h.id for h in hits] == added.ids and hits[0].detected == "deu"


def test_two_open_objects_both_adding_detected_labels_add_the_column_once(tmp_path, fake_encoder):
    """An object opened before another one added the `detected` column decided from what it saw at open and
    ran ALTER TABLE again: a raw sqlite3.OperationalError (duplicate column name) instead of the add."""
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    strip_detected_column(folder)
    with SearchIndex.open(folder) as first, SearchIndex.open(folder) as second:
        second.add(["hello"], fake_encoder.encode(["hello"]), "eng", detected=["eng"])
        added = first.add(["bonjour"], fake_encoder.encode(["bonjour"]), "fra", detected=["fra"])
        assert added.added == 1 and len(first) == len(DOCS) + 2
    with SearchIndex.open(folder) as again:
        assert again.detected_languages() == {"eng": 1, "fra": 1}


def test_replace_updates_and_given_labels_are_normalised(tmp_path, fake_encoder, detector):
    index = build(tmp_path / "idx", fake_encoder, detector)
    index.add_texts(fake_encoder, [DOCS[0][0]], "deu", keys=["k"], detector=detector)
    index.add_texts(fake_encoder, [DOCS[2][0]], "fra", keys=["k"], on_duplicate="replace", detector=detector)
    [hit] = index.search_texts(fake_encoder, [DOCS[2][0]], k=1, detected="fr", languages="fr")[0][:1]
    assert hit.detected == "fra"
    vectors = fake_encoder.encode(["zwei Wörter", "two words"])
    ids = index.add(["zwei Wörter", "two words"], vectors, ["deu", "eng"], detected=["de", None]).ids
    hits = index.search(vectors, k=1)
    assert [(h[0].id, h[0].detected) for h in hits] == [(ids[0], "deu"), (ids[1], None)]
    with pytest.raises(XlingError, match="1 detected languages given for 2 texts"):
        index.add(["a", "b"], vectors, "eng", detected=["de"])


# --- the CLI ---------------------------------------------------------------------------------------------


@pytest.fixture
def docs_file(tmp_path):
    path = tmp_path / "docs.tsv"
    path.write_text("".join(f"{lang}\t{text}\n" for text, lang in DOCS), encoding="utf-8")
    return path


def test_cli_build_with_a_detector_and_search_by_detected_language(tmp_path, monkeypatch, fake_encoder,
                                                                   detector_folder, docs_file):  # fmt: skip
    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    folder = str(tmp_path / "idx")
    result = runner.invoke(app, ["index", "build", folder, "--model", "fake", "--input", str(docs_file),
                                 "--detector", str(detector_folder)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "detected: deu 2, eng 2, fra 2, rus 1" in " ".join(result.output.split())
    out = tmp_path / "hits.json"
    result = runner.invoke(app, ["index", "search", folder, "the book", "--k", "5", "--detected-lang", "fr",
                                 "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(out.read_text())["results"][0]["hits"]
    assert sorted((h["language"], h["detected"]) for h in hits) == [("eng", "fra"), ("fra", "fra")]
    assert "detected" in result.output  # the table's column


def test_cli_lang_auto_detects_each_line_of_a_plain_file(
    tmp_path, monkeypatch, fake_encoder, detector_folder
):
    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"{text}\n" for text, _ in DOCS), encoding="utf-8")
    folder = str(tmp_path / "idx")
    result = runner.invoke(app, ["index", "build", folder, "--model", "fake", "--input", str(plain),
                                 "--lang", "auto", "--detector", str(detector_folder)])  # fmt: skip
    assert result.exit_code == 0, result.output
    with SearchIndex.open(folder) as index:
        hits = index.search_texts(fake_encoder, [text for text, _ in DOCS], k=1)
        assert [h[0].language for h in hits] == DETECTED
    result = runner.invoke(app, ["index", "add", folder, "--input", str(plain), "--lang", "auto",
                                 "--detector", str(detector_folder)])  # fmt: skip
    assert result.exit_code == 0 and "added 0 documents" in result.output


def test_cli_without_a_detector(tmp_path, monkeypatch, capsys, fake_encoder, docs_file):
    from xling.cli import main

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)

    def no_detector(name):
        raise XlingError(f"{name}: no such language identifier folder")

    monkeypatch.setattr("xling.langid.load_identifier", no_detector)

    def run(*args):
        monkeypatch.setattr("sys.argv", ["xling", *map(str, args)])
        with pytest.raises(SystemExit) as exc:
            main()
        return exc.value.code, capsys.readouterr().err.strip()

    folder = tmp_path / "idx"
    # nothing asked for detection and none is there: indexed without it, and said so in the log
    code, err = run("index", "build", folder, "--model", "fake", "--input", docs_file)
    assert code == 0 and "indexed without their detected languages" in err
    code, err = run("index", "search", folder, "Zug", "--detected-lang", "de")
    assert code == 2 and len(err.splitlines()) == 1 and "records no detected languages" in err
    code, err = run("index", "search", folder, "Zug", "--lang", "de", "--k", "1")
    assert code == 0
    # asked for, it must be there
    for option in (["--detect-language"], ["--lang", "auto"], ["--detector", "mine"]):
        code, err = run(
            "index", "build", tmp_path / "other", "--model", "fake", "--input", docs_file, *option
        )
        assert code == 2 and "needs a language detector" in err, err
    code, err = run("index", "build", tmp_path / "other", "--model", "fake", "--input", docs_file, "--lang",
                    "auto", "--no-detect-language")  # fmt: skip
    assert code == 2 and "cannot go with --no-detect-language" in err


# --- scripts: the given-language filter keeps none, the detected one does ------------------------------------

SERBIAN = {"Сутра идемо возом код баке у Ниш.": "srp_Cyrl", "Sutra idemo vozom kod bake u Niš.": "srp_Latn"}


class ScriptDetector:
    """Says srp_Cyrl or srp_Latn by the script of the text, as a detector that knows both would."""

    def predict(self, texts):
        from types import SimpleNamespace

        return [[SimpleNamespace(label=SERBIAN.get(text, "und"), probability=1.0)] for text in texts]


def test_a_language_filter_with_a_script_is_refused(tmp_path, fake_encoder):
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    index.add_texts(fake_encoder, list(SERBIAN), ["sr-Cyrl", "sr-Latn"], detector=ScriptDetector())
    query = ["Sutra idemo vozom"]
    # the given language is kept without its script: a script in the filter would be dropped unsaid
    for code, script in (("sr-Latn", "Latn"), ("zh-Hant", "Hant"), ("srp_Cyrl", "Cyrl"), ("zh-TW", "Hant")):
        with pytest.raises(
            XlingError, match=rf"'{code}' names a script \({script}\).*--detected-lang {code}"
        ):
            index.search_texts(fake_encoder, query, k=5, languages=code)
    with pytest.raises(
        XlingError, match=r"'pt-BR' names a region or variant \(BR\).*language alone \('por'\)"
    ):
        index.search_texts(fake_encoder, query, k=5, languages=["deu", "pt-BR"])
    assert {h.language for h in index.search_texts(fake_encoder, query, k=5, languages="sr")[0]} == {"srp"}
    assert len(index.search_texts(fake_encoder, query, k=5, languages=["sr", "zh-yue"])[0]) == 2
    # the detected filter keeps the script
    for code, text in (("sr-Latn", list(SERBIAN)[1]), ("sr-Cyrl", list(SERBIAN)[0])):
        assert [h.text for h in index.search_texts(fake_encoder, query, k=5, detected=code)[0]] == [text]
    index.close()


def test_cli_lang_auto_keeps_the_detected_script_and_search_lang_with_a_script_is_refused(
    tmp_path, monkeypatch, fake_encoder
):
    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    monkeypatch.setattr("xling.langid.load_identifier", lambda name: ScriptDetector())
    plain = tmp_path / "plain.txt"
    plain.write_text("".join(f"{text}\n" for text in SERBIAN), encoding="utf-8")
    folder = str(tmp_path / "idx")
    result = runner.invoke(app, ["index", "build", folder, "--model", "fake", "--input", str(plain),
                                 "--lang", "auto"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with SearchIndex.open(folder) as index:
        hits = index.search_texts(fake_encoder, list(SERBIAN), k=1)
        # the language takes the detected language; the detector's label, script and all, is kept beside it
        assert [(h[0].language, h[0].detected) for h in hits] == [("srp", "srp_Cyrl"), ("srp", "srp_Latn")]
    result = runner.invoke(app, ["index", "search", folder, "Sutra", "--lang", "sr-Latn"])
    assert result.exit_code != 0
    assert "--detected-lang sr-Latn" in str(result.exception or result.output)
    out = tmp_path / "hits.json"
    result = runner.invoke(app, ["index", "search", folder, "Sutra", "--detected-lang", "sr-Latn",
                                 "--json", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = json.loads(out.read_text())["results"][0]["hits"]
    assert [(h["language"], h["detected"]) for h in hits] == [("srp", "srp_Latn")]
