"""The persistent search index: round trips, language filters, reopening, crash repair and errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from xling.errors import BusyError, ConfigError, DataError, XlingError
from xling.retrieval.index import CACHE_FILE, DB_FILE, INFO_FILE, SearchIndex

from .conftest import FakeEncoder

DOCS = [
    ("the cat sleeps on the mat", "eng", {"source": "a"}),
    ("die Katze schläft auf der Matte", "deu", {"source": "b"}),
    ("le chat dort sur le tapis", "fra", None),
    ("a storm is coming tonight", "eng", {"source": "c", "n": 3}),
    ("ein Sturm zieht heute Nacht auf", "deu", None),
    ("une tempête arrive ce soir", "fra", {"tags": ["weather"]}),
]
QUERIES = ["the cat sleeps", "a storm tonight", "Katze Matte"]


def build(path, encoder, kind="flat") -> SearchIndex:
    index = SearchIndex.create(path, encoder.name, encoder.dimension, index_kind=kind)
    texts, languages, metadata = zip(*DOCS, strict=True)
    index.add_texts(encoder, texts, list(languages), list(metadata))
    return index


def summary(results):
    return [[(hit.id, round(hit.score, 5), hit.text, hit.language) for hit in hits] for hits in results]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_add_search_delete_round_trip(tmp_path, fake_encoder, kind):
    index = build(tmp_path / "idx", fake_encoder, kind)
    assert len(index) == 6
    hits = index.search_texts(fake_encoder, ["a storm is coming tonight"], k=3)[0]
    assert hits[0].text == "a storm is coming tonight" and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].language == "eng" and hits[0].metadata == {"source": "c", "n": 3}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert index.delete([hits[0].id, 12345]) == 1
    assert len(index) == 5
    after = index.search_texts(fake_encoder, ["a storm is coming tonight"], k=10)[0]
    assert hits[0].id not in {h.id for h in after} and len(after) == 5
    new_ids = index.add_texts(fake_encoder, ["a storm is coming tonight"], "en").ids
    assert new_ids[0] > max(h.id for h in after)  # ids are never reused after a delete
    assert index.search_texts(fake_encoder, ["a storm is coming tonight"], k=1)[0][0].id == new_ids[0]
    index.close()


def test_language_filter(tmp_path, fake_encoder):
    index = build(tmp_path / "idx", fake_encoder)
    # many English near-duplicates of the query crowd out the one German document at first
    index.add_texts(fake_encoder, [f"the cat sleeps on the mat {i}" for i in range(40)], "eng")
    hits = index.search_texts(fake_encoder, ["the cat sleeps on the mat"], k=2, languages="de")[0]
    assert [h.language for h in hits] == ["deu", "deu"]
    both = index.search_texts(fake_encoder, ["the cat sleeps on the mat"], k=3, languages=["fr", "deu"])[0]
    assert {h.language for h in both} <= {"fra", "deu"} and len(both) == 3
    assert index.search_texts(fake_encoder, ["the cat"], k=10, languages="fra")[0].__len__() == 2
    unfiltered = index.search_texts(fake_encoder, ["the cat sleeps on the mat"], k=5)[0]
    assert all(h.language == "eng" for h in unfiltered)
    assert index.search_texts(fake_encoder, ["cat"], k=3, languages="spa") == [[]]


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_language_filter_widens_when_the_language_is_common(tmp_path, fake_encoder, monkeypatch, kind):
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension, index_kind=kind)
    index.add_texts(fake_encoder, [f"the cat sleeps on the mat {i}" for i in range(40)], "eng")
    german = [f"Wort{i} Satz{i} Zeile{i}" for i in range(20)] + ["the cat sleeps auf der Matte"]
    index.add_texts(fake_encoder, german, "deu")
    query = ["the cat sleeps on the mat"]
    # German is a third of the index: over-fetch and widen, since the 40 nearest are all English
    hits = index.search_texts(fake_encoder, query, k=3, languages="deu")[0]
    assert len(hits) == 3 and {h.language for h in hits} == {"deu"}
    assert hits[0].text == "the cat sleeps auf der Matte"
    # the same answer when widening gives up at once and an id selector (flat) or exact scores take over
    # (equal scores may come in another order)
    monkeypatch.setattr("xling.retrieval.index.WIDEN_ROUNDS", 1)
    again = index.search_texts(fake_encoder, query, k=3, languages="deu")[0]
    assert [round(h.score, 5) for h in again] == [round(h.score, 5) for h in hits] and again[0].id == hits[
        0
    ].id


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_a_rare_language_on_an_approximate_index_gets_its_k_best_documents(tmp_path, kind):
    # an id selector inside IVF's or HNSW's approximate search found few or none of the rare documents
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3010, 32)).astype(np.float32)
    languages = ["eng"] * 3000 + ["deu"] * 10
    texts = [f"document {i}" for i in range(len(vectors))]
    indexes = {}
    for name in ("flat", kind):
        indexes[name] = SearchIndex.create(tmp_path / name, "random", 32, index_kind=name)
        indexes[name].add(texts, vectors, languages)
    queries = rng.standard_normal((20, 32)).astype(np.float32)
    approximate = indexes[kind].search(queries, k=5, languages="de")
    assert all(len(hits) == 5 for hits in approximate)
    assert summary(approximate) == summary(indexes["flat"].search(queries, k=5, languages="de"))


def test_reopen_gives_the_same_results(tmp_path, fake_encoder):
    index = build(tmp_path / "idx", fake_encoder)
    before = summary(index.search_texts(fake_encoder, QUERIES, k=4))
    index.close()
    with SearchIndex.open(
        tmp_path / "idx", expected_model=fake_encoder.name, expected_dimension=256
    ) as again:
        assert len(again) == 6 and again.kind == "flat"
        assert summary(again.search_texts(fake_encoder, QUERIES, k=4)) == before


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated"])
def test_damaged_cache_is_rebuilt_from_sqlite(tmp_path, fake_encoder, damage):
    index = build(tmp_path / "idx", fake_encoder)
    before = summary(index.search_texts(fake_encoder, QUERIES, k=4))
    index.close()
    cache = tmp_path / "idx" / CACHE_FILE
    if damage == "missing":
        cache.unlink()
    elif damage == "garbage":
        cache.write_bytes(b"not a faiss file at all")
    else:
        cache.write_bytes(cache.read_bytes()[:100])
    again = SearchIndex.open(tmp_path / "idx")
    assert summary(again.search_texts(fake_encoder, QUERIES, k=4)) == before
    assert cache.stat().st_size > 100  # the repaired cache was written back


def test_crash_between_sqlite_commit_and_cache_write_loses_nothing(tmp_path, fake_encoder, monkeypatch):
    index = build(tmp_path / "idx", fake_encoder)
    stale_cache = (tmp_path / "idx" / CACHE_FILE).read_bytes()

    def crash(self, generation):
        raise KeyboardInterrupt("simulated crash before the cache is written")

    monkeypatch.setattr(SearchIndex, "_save_cache", crash)
    with pytest.raises(KeyboardInterrupt):
        index.add_texts(fake_encoder, ["a brand new sentence about rivers"], "eng")
    with pytest.raises(KeyboardInterrupt):
        index.delete([1])
    monkeypatch.undo()
    assert (tmp_path / "idx" / CACHE_FILE).read_bytes() == stale_cache  # still the old generation
    again = SearchIndex.open(tmp_path / "idx")
    assert len(again) == 6
    hit = again.search_texts(fake_encoder, ["a brand new sentence about rivers"], k=1)[0][0]
    assert hit.text == "a brand new sentence about rivers" and hit.score == pytest.approx(1.0, abs=1e-5)
    assert 1 not in {h.id for h in again.search_texts(fake_encoder, [DOCS[0][0]], k=10)[0]}


def test_failed_transaction_keeps_nothing(tmp_path, fake_encoder, monkeypatch):
    index = build(tmp_path / "idx", fake_encoder)
    with pytest.raises(XlingError, match="2 languages given for 1 texts"):
        index.add_texts(fake_encoder, ["x"], ["eng", "deu"])
    with pytest.raises(XlingError, match="metadata item 0 is not JSON"):
        index.add_texts(fake_encoder, ["x"], "eng", [{"bad": object()}])
    assert len(index) == 6

    # a failure inside the transaction, after the rows are written: they are rolled back
    before = index.search_texts(fake_encoder, [DOCS[0][0]], k=10)[0]

    def fails(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(index), "_bump_generation", fails)
    with pytest.raises(RuntimeError, match="disk full"):
        index.add_texts(fake_encoder, ["a new sentence", "another new one"], "eng")
    with pytest.raises(RuntimeError, match="disk full"):  # a replacement of a stored document too
        index.add_texts(fake_encoder, ["changed"], "eng", keys=[before[0].key], on_duplicate="replace")
    monkeypatch.undo()
    assert len(index) == 6
    after = index.search_texts(fake_encoder, [DOCS[0][0]], k=10)[0]
    assert [(h.id, h.key, h.text) for h in after] == [(h.id, h.key, h.text) for h in before]


def test_model_and_dimension_mismatch(tmp_path, fake_encoder):
    fake = type(fake_encoder)
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    with pytest.raises(
        XlingError, match=r"idx: this index was built with model 'fake-trigram-256', not 'labse'"
    ):
        SearchIndex.open(folder, expected_model="labse")
    with pytest.raises(XlingError, match="holds 256-dimensional vectors, not 768-dimensional"):
        SearchIndex.open(folder, expected_dimension=768)
    index = SearchIndex.open(folder)
    with pytest.raises(
        XlingError, match="holds 256-dimensional vectors, got document vectors of dimension 128"
    ):
        index.add(["x"], np.ones((1, 128), dtype=np.float32), "eng")
    with pytest.raises(XlingError, match="got query vectors of dimension 3"):
        index.search(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(XlingError, match="encoder 'fake-trigram-128' makes 128-dimensional"):
        index.search_texts(fake(128), ["x"])
    with pytest.raises(XlingError, match="encoder 'fake-trigram-256' makes 64-dimensional"):
        index.add_texts(fake(64, name="fake-trigram-256"), ["x"], "eng")
    with pytest.raises(ConfigError, match="k must"):
        index.search(np.ones(256, dtype=np.float32), k=0)


def test_not_an_index_and_create_errors(tmp_path, fake_encoder):
    with pytest.raises(DataError, match="search index folder not found"):
        SearchIndex.open(tmp_path / "nowhere")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(DataError, match=r"plain: not a search index folder \(no index.json\)"):
        SearchIndex.open(tmp_path / "plain")
    with pytest.raises(DataError, match="not empty and is not a search index"):
        SearchIndex.create(tmp_path / "plain", "m", 4)
    assert (tmp_path / "plain" / "notes.txt").exists()

    build(tmp_path / "idx", fake_encoder).close()
    with pytest.raises(
        XlingError, match=r"already exists here; replace it with --overwrite \(overwrite=True\)"
    ):
        SearchIndex.create(tmp_path / "idx", fake_encoder.name, 256)
    fresh = SearchIndex.create(tmp_path / "idx", "other-model", 8, overwrite=True)
    assert len(fresh) == 0 and SearchIndex.open(tmp_path / "idx").model == "other-model"

    (tmp_path / "idx" / INFO_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match=r"index\.json: unreadable index description"):
        SearchIndex.open(tmp_path / "idx")
    with pytest.raises(ConfigError, match="dimension"):
        SearchIndex.create(tmp_path / "bad", "m", 0)
    with pytest.raises(ConfigError, match="index_kind"):
        SearchIndex.create(tmp_path / "bad", "m", 4, index_kind="annoy")


def test_missing_or_broken_database(tmp_path, fake_encoder):
    build(tmp_path / "idx", fake_encoder).close()
    (tmp_path / "idx" / DB_FILE).write_bytes(b"garbage" * 200)
    with pytest.raises(DataError, match=r"documents\.sqlite: not a readable search index database"):
        SearchIndex.open(tmp_path / "idx")
    (tmp_path / "idx" / DB_FILE).unlink()
    with pytest.raises(DataError, match="documents.sqlite is missing"):
        SearchIndex.open(tmp_path / "idx")


def test_interrupted_create_can_be_redone(tmp_path, fake_encoder):
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    (folder / INFO_FILE).unlink()  # a create that crashed before its last step (format 1 built in place)
    with pytest.raises(
        DataError, match=r"incomplete search index \(no index.json\): its build was interrupted"
    ):
        SearchIndex.open(folder)
    assert len(SearchIndex.create(folder, fake_encoder.name, 256)) == 0


def test_vectors_are_stored_unit_length_and_empty_cases(tmp_path):
    index = SearchIndex.create(tmp_path / "idx", "m", 2)
    assert index.search(np.array([[1.0, 0.0]])) == [[]]
    assert index.add([], np.zeros((0, 2)), "eng").ids == []
    assert index.delete([]) == 0
    ids = index.add(["east", "north"], np.array([[10.0, 0.0], [0.0, 0.5]]), ["eng", "eng"]).ids
    hits = index.search(np.array([3.0, 3.0]), k=5)[0]
    assert {h.id for h in hits} == set(ids)
    assert [h.score for h in hits] == pytest.approx([np.sqrt(0.5)] * 2, abs=1e-6)


# --- threads (issue 13, section 3) -------------------------------------------------------------------------


BATCHES = 40


def test_many_threads_search_while_one_adds(tmp_path, fake_encoder):
    import threading

    index = build(tmp_path / "idx", fake_encoder)
    queries = [*QUERIES, "the storm", "le chat"]
    expected = summary(index.search_texts(fake_encoder, queries, k=3))
    expected_de = summary(index.search_texts(fake_encoder, queries, k=2, languages="deu"))
    # the adder's vectors are all negative and the trigram vectors all non-negative: they never rank above
    # the stored documents, so every concurrent search must give exactly the sequential answer
    rng = np.random.default_rng(0)
    errors: list[BaseException] = []
    mismatches: list[int] = []
    start = threading.Barrier(9)

    def searcher(number: int) -> None:
        try:
            start.wait()
            for _ in range(25):
                if summary(index.search_texts(fake_encoder, queries, k=3)) != expected:
                    mismatches.append(number)
                if summary(index.search_texts(fake_encoder, queries, k=2, languages="de")) != expected_de:
                    mismatches.append(number)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    def adder() -> None:
        try:
            start.wait()
            for batch in range(BATCHES):
                vectors = -np.abs(rng.normal(size=(5, 256))).astype(np.float32)
                texts = [f"noise {batch} {i}" for i in range(5)]
                ids = index.add(texts, vectors, ["eng", "deu", "fra", "eng", "deu"]).ids
                if batch % 4 == 0:
                    index.delete(ids[:2])
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(8)]
    threads.append(threading.Thread(target=adder))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and mismatches == []
    assert len(index) == 6 + BATCHES * 5 - BATCHES // 4 * 2
    index.close()
    with SearchIndex.open(tmp_path / "idx") as again:  # the cache written from many threads is consistent
        assert len(again) == 6 + BATCHES * 5 - BATCHES // 4 * 2
        assert summary(again.search_texts(fake_encoder, queries, k=3)) == expected


# --- defect 5.1: the model is stored as what loads it from anywhere ------------------------------------------


def test_relative_model_path_is_stored_absolute_and_any_path_to_it_is_accepted(
    tmp_path, monkeypatch, fake_encoder
):
    FakeEncoder = type(fake_encoder)  # noqa: N806 - a class
    (tmp_path / "hf" / "tiny").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "work")
    built_with = FakeEncoder(name="../hf/tiny")  # Encoder.load names a folder model by the path it was given
    index, _ = SearchIndex.build("idx", built_with, [_doc(text, lang) for text, lang, _ in DOCS])
    index.close()
    absolute = str((tmp_path / "hf" / "tiny").resolve())

    monkeypatch.chdir(tmp_path / "elsewhere" / "deep")
    folder = tmp_path / "work" / "idx"
    with SearchIndex.open(folder) as again:
        assert again.model == absolute  # loadable from this directory too
    for same in ("../../hf/tiny", absolute, f"{tmp_path}/elsewhere/../hf/tiny"):
        with SearchIndex.open(folder, expected_model=same) as again:
            # the same model by another path: same vectors, so accepted whatever its name
            hits = again.search_texts(FakeEncoder(name=same), ["the cat sleeps"], k=1)[0]
            assert hits[0].text == "the cat sleeps on the mat"
    with pytest.raises(XlingError, match="was built with model"):
        SearchIndex.open(folder, expected_model="../hf/tiny")  # from here that is no folder, so a name
    with SearchIndex.open(folder) as again, pytest.raises(XlingError, match="its vectors differ"):
        again.search_texts(FakeEncoder(name=absolute, salt="other weights"), ["the cat"], k=1)


def _doc(text, lang, ident=None, metadata=None):
    from xling.data.documents import Document

    return Document(text, lang, ident, metadata)


def test_cli_index_built_with_a_relative_model_is_searched_from_another_directory(
    tmp_path, sample_tokenizer_dir, monkeypatch
):
    import json

    import torch
    from tokenizers import Tokenizer
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.embeddings.static import StaticSentenceEncoder

    torch.manual_seed(0)
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    StaticSentenceEncoder(tokenizer, dimension=16).save(tmp_path / "hf" / "tiny")
    (tmp_path / "work").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "work" / "docs.tsv").write_text(
        "".join(f"{lang}\t{text}\n" for text, lang, _ in DOCS), encoding="utf-8"
    )
    runner = CliRunner()
    monkeypatch.chdir(tmp_path / "work")
    result = runner.invoke(app, ["index", "build", "idx", "--model", "../hf/tiny", "--input", "docs.tsv"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "elsewhere")
    out = tmp_path / "hits.json"
    result = runner.invoke(
        app, ["index", "search", "../work/idx", DOCS[3][0], "--k", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["results"][0]["hits"][0]["text"] == DOCS[3][0]
    result = runner.invoke(app, ["index", "add", "../work/idx", "--input", "../work/docs.tsv",
                                 "--model", str(tmp_path / "hf" / "tiny")])  # fmt: skip
    assert result.exit_code == 0, result.output


# --- defect 5.2: a build appears whole or not at all ---------------------------------------------------------


class FailingEncoder:
    """Encodes like `inner` for `good` calls, then raises, as a crash in the middle of a build would."""

    def __init__(self, inner, good: int) -> None:
        self.inner, self.good = inner, good
        self.name, self.dimension = inner.name, inner.dimension

    def encode(self, texts, batch_size=64, normalize=True, show_progress=None):
        if self.good == 0:
            raise RuntimeError("simulated crash while encoding")
        self.good -= 1
        return self.inner.encode(texts, batch_size, normalize)


def _documents():
    return [_doc(text, lang, None, extra) for text, lang, extra in DOCS]


def test_failed_build_leaves_no_index_and_keeps_the_old_one(tmp_path, fake_encoder):
    parent = tmp_path / "indexes"
    with pytest.raises(RuntimeError, match="simulated crash"):
        SearchIndex.build(parent / "new", FailingEncoder(fake_encoder, 1), _documents())
    assert not (parent / "new").exists() and list(parent.iterdir()) == []

    old, _ = SearchIndex.build(parent / "old", fake_encoder, _documents()[:4])
    before = summary(old.search_texts(fake_encoder, QUERIES, k=2))
    old.close()
    with pytest.raises(RuntimeError, match="simulated crash"):
        SearchIndex.build(parent / "old", FailingEncoder(fake_encoder, 1), _documents(), overwrite=True)
    with SearchIndex.open(parent / "old") as again:
        assert len(again) == 4 and summary(again.search_texts(fake_encoder, QUERIES, k=2)) == before
    assert sorted(p.name for p in parent.iterdir()) == ["old"]  # no staging folder left behind

    replaced, result = SearchIndex.build(parent / "old", fake_encoder, _documents(), overwrite=True)
    assert len(replaced) == 6 and result.added == 6
    replaced.close()


BUILD_SCRIPT = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEncoder
from xling.data.documents import Document
from xling.retrieval.index import SearchIndex

class Slow(FakeEncoder):
    def encode(self, texts, *args, **kwargs):
        if len(texts) > 3:  # not the fingerprint: the documents
            open({started!r}, "w").close()
            time.sleep(60)
        return super().encode(texts, *args, **kwargs)

docs = [Document(f"document number {{i}}", "eng") for i in range(50)]
SearchIndex.build({folder!r}, Slow(), docs, overwrite=True)
"""


def test_killed_build_keeps_the_old_index(tmp_path, fake_encoder):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    started = tmp_path / "started"
    script = BUILD_SCRIPT.format(tests=str(Path(__file__).parent), started=str(started), folder=str(folder))
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the build did not start"
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    with SearchIndex.open(folder) as again:  # the old index, whole
        assert len(again) == 6
        assert again.search_texts(fake_encoder, [DOCS[0][0]], k=1)[0][0].text == DOCS[0][0]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx.")]
    assert len(leftovers) == 1 and leftovers[0].endswith(".tmp")  # the killed build's hidden staging
    # the next build of that folder clears it (its process is gone); a live build's staging is kept
    live = f".idx.{os.getppid()}.tmp"  # as if our parent process were building it now
    (tmp_path / live).mkdir()
    # a second save of the folder by another thread of the killed process stages as `.idx.PID.1.tmp`
    (tmp_path / f".idx.{process.pid}.1.tmp").mkdir()
    SearchIndex.build(folder, fake_encoder, _documents()[:2], overwrite=True)[0].close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".idx.")] == [live]


def test_an_interrupted_swap_names_where_the_old_index_is(tmp_path, fake_encoder):
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    folder.rename(tmp_path / ".idx.4242.old")  # killed between moving the old index aside and the new in
    with pytest.raises(DataError, match=r"interrupted and left the previous index in .*\.idx\.4242\.old"):
        SearchIndex.open(folder)


def test_a_folder_with_parts_missing_is_refused(tmp_path, fake_encoder):
    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    (folder / INFO_FILE).unlink()
    with pytest.raises(DataError, match="incomplete search index"):
        SearchIndex.open(folder)
    (folder / DB_FILE).unlink()
    with pytest.raises(DataError, match="not a search index folder"):
        SearchIndex.open(folder)


def test_an_older_format_is_refused_with_a_clear_error(tmp_path, fake_encoder):
    import json

    folder = tmp_path / "idx"
    build(folder, fake_encoder).close()
    info = json.loads((folder / INFO_FILE).read_text())
    (folder / INFO_FILE).write_text(json.dumps({**info, "format": 1}))
    with pytest.raises(DataError, match=r"older xling .*xling index build --overwrite"):
        SearchIndex.open(folder)


# --- defect 5.9: stable document keys, a defined behaviour on duplicates, all-or-nothing adds --------------


def test_adding_the_same_documents_again_adds_nothing(tmp_path, fake_encoder):
    index = build(tmp_path / "idx", fake_encoder)
    first = summary(index.search_texts(fake_encoder, QUERIES, k=6))
    calls = fake_encoder.calls
    texts, languages, metadata = zip(*DOCS, strict=True)
    again = index.add_texts(fake_encoder, texts, list(languages), list(metadata))
    assert (again.added, again.skipped, again.replaced) == (0, 6, 0)
    assert again.ids == list(range(1, 7)) and len(index) == 6
    assert fake_encoder.calls == calls  # skipped documents are not even encoded
    assert summary(index.search_texts(fake_encoder, QUERIES, k=6)) == first
    # the key is the language and the text: the same text in another language is another document
    other = index.add_texts(fake_encoder, [DOCS[0][0], DOCS[0][0]], ["fra", "fra"])
    assert (other.added, other.skipped) == (1, 1) and other.ids[0] == other.ids[1] == 7


def test_a_skipped_document_deleted_while_the_others_are_encoded_is_added_after_all(tmp_path, fake_encoder):
    """add_texts(on_duplicate="skip") looked up the stored keys, encoded the new texts outside the lock and
    then mapped every key to its row id: a skipped document that another writer deleted meanwhile was a bare
    KeyError, after the new documents were committed."""
    index = build(tmp_path / "idx", fake_encoder)
    other = SearchIndex.open(tmp_path / "idx")  # another writer (another process, in real life)

    class DeletingEncoder(type(fake_encoder)):
        def encode(self, texts, *args, **kwargs):
            if "a new document" in texts:
                other.delete_keys(["kept"])  # the delete lands while this add encodes
            return super().encode(texts, *args, **kwargs)

    encoder = DeletingEncoder(fake_encoder.dimension, name=fake_encoder.name)
    index.add_texts(encoder, ["the old document"], "eng", [{"v": 1}], keys=["kept"])
    result = index.add_texts(encoder, ["the old document", "a new document"], "eng", [{"v": 1}, None],
                             keys=["kept", "new"])  # fmt: skip
    other.close()
    assert (result.added, result.skipped, result.replaced) == (2, 0, 0) and len(index) == 8
    hits = index.search_texts(fake_encoder, ["the old document", "a new document"], k=1)
    assert [(h[0].id, h[0].key) for h in hits] == [(result.ids[0], "kept"), (result.ids[1], "new")]
    assert hits[0][0].metadata == {"v": 1}
    index.close()


def test_on_duplicate_error_adds_nothing_and_replace_keeps_the_row_id(tmp_path, fake_encoder):
    index = build(tmp_path / "idx", fake_encoder)
    with pytest.raises(XlingError, match=r"document 1 \(key 'doc-1'\) is given twice"):
        index.add_texts(
            fake_encoder, ["new a", "new b"], "eng", keys=["doc-1", "doc-1"], on_duplicate="error"
        )
    with pytest.raises(XlingError, match=r"is already in the index; choose on_duplicate skip or replace"):
        index.add_texts(fake_encoder, ["brand new", DOCS[0][0]], "eng", on_duplicate="error")
    assert len(index) == 6  # the new document before the duplicate was not kept either
    # found before encoding (a large file's hours), not after
    assert not {"new a", "new b", "brand new"} & set(fake_encoder.encoded)
    with pytest.raises(ConfigError, match="on_duplicate must be one of skip, error, replace"):
        index.add_texts(fake_encoder, ["x"], "eng", on_duplicate="merge")

    added = index.add_texts(fake_encoder, ["a first version"], "eng", [{"v": 1}], keys=["doc-1"])
    replaced = index.add_texts(
        fake_encoder, ["the second version"], "deu", [{"v": 2}], keys=["doc-1"], on_duplicate="replace"
    )
    assert (replaced.added, replaced.replaced) == (0, 1) and replaced.ids == added.ids
    hit = index.search_texts(fake_encoder, ["the second version"], k=1)[0][0]
    assert (hit.id, hit.key, hit.language, hit.metadata) == (added.ids[0], "doc-1", "deu", {"v": 2})
    assert "a first version" not in {
        h.text for h in index.search_texts(fake_encoder, ["a first version"], k=9)[0]
    }
    assert len(index) == 7
    # a new key given twice is added once (the last one wins: the first is counted skipped, so the counts
    # cover every document given) and replaces nothing stored
    twice = index.add_texts(
        fake_encoder, ["one", "two", "three"], "eng", keys=["doc-2", "doc-2", "doc-1"], on_duplicate="replace"
    )
    assert (twice.added, twice.replaced, twice.skipped) == (1, 1, 1) and len(index) == 8
    assert "one" not in fake_encoder.encoded  # superseded by "two": not encoded
    assert twice.ids[0] == twice.ids[1] != added.ids[0] and twice.ids[2] == added.ids[0]
    assert index.delete_keys(["doc-1", "doc-2", "unknown"]) == 2 and len(index) == 6


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_replace_keeps_faiss_and_sqlite_consistent(tmp_path, fake_encoder, kind):
    index = build(tmp_path / "idx", fake_encoder, kind)
    texts = [f"sentence number {i} about the sea" for i in range(30)]
    keys = [f"k{i}" for i in range(30)]
    index.add_texts(fake_encoder, texts, "eng", keys=keys)
    index.add_texts(fake_encoder, [t.replace("sea", "mountains") for t in texts], "eng", keys=keys,
                    on_duplicate="replace")  # fmt: skip
    assert len(index) == 36
    live = summary(index.search_texts(fake_encoder, ["sentence number 7 about the mountains"], k=5))
    assert live[0][0][2] == "sentence number 7 about the mountains"
    index.close()
    with SearchIndex.open(tmp_path / "idx") as again:  # the saved cache agrees with SQLite
        assert (
            summary(again.search_texts(fake_encoder, ["sentence number 7 about the mountains"], k=5)) == live
        )


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_two_writers_interleaving_leave_a_cache_that_agrees_with_sqlite(tmp_path, fake_encoder, kind):
    index = build(tmp_path / "idx", fake_encoder, kind)
    index.add_texts(fake_encoder, ["the lighthouse keeper sleeps", "a red balloon"], "eng", keys=["a", "b"])
    index.close()
    # two handles stand for two processes: each replaces a document from its own FAISS copy
    first, second = SearchIndex.open(tmp_path / "idx"), SearchIndex.open(tmp_path / "idx")
    first.add_texts(fake_encoder, ["the lighthouse keeper wakes"], "eng", keys=["a"], on_duplicate="replace")
    second.add_texts(fake_encoder, ["a blue kite"], "eng", keys=["b"], on_duplicate="replace")
    queries = ["the lighthouse keeper wakes", "a blue kite", "the cat sleeps"]
    # a handle that did not make the last write sees it at its next search
    seen = summary(first.search_texts(fake_encoder, queries, k=3))
    assert [hits[0][2] for hits in seen] == queries[:2] + ["the cat sleeps on the mat"]
    assert seen[0][0][1] == pytest.approx(1.0, abs=1e-5) and seen[1][0][1] == pytest.approx(1.0, abs=1e-5)
    assert summary(second.search_texts(fake_encoder, queries, k=3)) == seen
    first.close()
    second.close()
    with SearchIndex.open(tmp_path / "idx") as cached:  # the cache the writers left, taken as current
        assert summary(cached.search_texts(fake_encoder, queries, k=3)) == seen
    (tmp_path / "idx" / CACHE_FILE).unlink()
    with SearchIndex.open(tmp_path / "idx") as rebuilt:  # FAISS rebuilt from SQLite alone
        assert summary(rebuilt.search_texts(fake_encoder, queries, k=3)) == seen


def test_a_crash_inside_an_add_keeps_nothing_and_the_add_can_be_redone(tmp_path, fake_encoder, monkeypatch):
    index = build(tmp_path / "idx", fake_encoder)

    def crash(self):
        raise KeyboardInterrupt("simulated crash before the commit")

    monkeypatch.setattr(SearchIndex, "_bump_generation", crash)
    new = [f"new document {i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        index.add_texts(fake_encoder, new, "eng")
    monkeypatch.undo()
    assert len(index) == 6
    index.close()
    with SearchIndex.open(tmp_path / "idx") as again:
        assert len(again) == 6
        result = again.add_texts(fake_encoder, new, "eng")
        assert (result.added, result.skipped) == (10, 0)
        assert again.add_texts(fake_encoder, new, "eng").skipped == 10  # and a second run is harmless


def test_cli_search_json_may_not_replace_the_index_and_delete_ids_must_be_ascii_digits(
    tmp_path, monkeypatch, fake_encoder
):
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    build(tmp_path / "idx", fake_encoder).close()
    before = (tmp_path / "idx" / INFO_FILE).read_bytes()
    runner = CliRunner()
    result = runner.invoke(app, ["index", "search", str(tmp_path / "idx"), "cat", "--json",
                                 str(tmp_path / "idx" / INFO_FILE)])  # fmt: skip
    assert result.exit_code != 0 and "lies inside the index folder" in str(result.exception or result.output)
    assert (tmp_path / "idx" / INFO_FILE).read_bytes() == before
    result = runner.invoke(app, ["index", "delete", str(tmp_path / "idx"), "\u00b2"])
    assert result.exit_code != 0 and "is not a row id" in str(result.exception or result.output)


def test_cli_add_twice_skips_and_delete_by_key(tmp_path, monkeypatch, fake_encoder):
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    docs = tmp_path / "docs.tsv"
    docs.write_text("id\tlang\ttext\n" + "".join(f"d{i}\t{lang}\t{text}\n" for i, (text, lang, _) in
                                                 enumerate(DOCS)), encoding="utf-8")  # fmt: skip
    runner = CliRunner()
    folder = str(tmp_path / "idx")
    result = runner.invoke(app, ["index", "build", folder, "--model", "fake", "--input", str(docs)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["index", "add", folder, "--input", str(docs)])
    assert result.exit_code == 0, result.output
    assert (
        "added 0 documents, skipped 6 duplicate ids (already in the index or earlier in the input); 6 in all"
        in " ".join(result.output.split())
    )
    result = runner.invoke(app, ["index", "add", folder, "--input", str(docs), "--on-duplicate", "error"])
    assert result.exit_code != 0
    result = runner.invoke(app, ["index", "delete", folder, "--keys", "d0", "d3"])
    assert result.exit_code == 0 and "deleted 2 of 2 ids" in " ".join(result.output.split())
    result = runner.invoke(app, ["index", "delete", folder, "d1"])
    assert result.exit_code != 0
    with SearchIndex.open(folder) as index:
        assert len(index) == 4


def test_a_write_blocked_by_another_process_is_a_clear_error(tmp_path, fake_encoder, monkeypatch):
    import sqlite3

    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    index.add_texts(fake_encoder, ["the cat sleeps"], ["eng"])
    index.close()
    other = sqlite3.connect(tmp_path / "idx" / DB_FILE, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        with SearchIndex.open(tmp_path / "idx") as again, pytest.raises(XlingError, match="another process"):
            again.add_texts(fake_encoder, ["a storm is coming"], ["eng"])
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_commit_blocked_by_a_long_read_leaves_no_open_transaction(tmp_path, fake_encoder, monkeypatch):
    import sqlite3

    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    index = SearchIndex.create(tmp_path / "idx", fake_encoder.name, fake_encoder.dimension)
    index.add_texts(fake_encoder, [f"doc {i}" for i in range(10)], "eng")
    reader = sqlite3.connect(tmp_path / "idx" / DB_FILE, isolation_level=None)
    cursor = reader.execute("SELECT id, vector FROM documents")
    cursor.fetchone()  # a reader in the middle of a long read (another process rebuilding its cache)
    with pytest.raises(XlingError, match="the index is busy"):
        index.add_texts(fake_encoder, ["new doc a"], "eng")
    assert not index._db.in_transaction  # else the write lock stayed with this process until it exited
    cursor.close()
    reader.close()
    assert index.add_texts(fake_encoder, ["new doc b"], "eng").ids and len(index) == 11
    with SearchIndex.open(tmp_path / "idx") as other:
        other.add_texts(fake_encoder, ["new doc c"], "eng")
        assert len(other) == 12


# --- an empty build keeps its model; mismatches name the model given ----------------------------------------


def test_an_index_built_empty_keeps_its_models_fingerprint(tmp_path, fake_encoder):
    FakeEncoder = type(fake_encoder)  # noqa: N806 - a class
    index, result = SearchIndex.build(tmp_path / "idx", FakeEncoder(name="mini"), [])
    assert (len(index), result.added) == (0, 0)
    # the first encoder to add no longer sets the fingerprint: the build stored the model's
    with pytest.raises(XlingError, match="built with model 'mini', not 'other': its vectors differ"):
        index.add_texts(FakeEncoder(name="other", salt="other weights"), ["the cat"], "eng")
    assert len(index) == 0
    # the same model under another name (a copy) has the same vectors: accepted
    assert index.add_texts(FakeEncoder(name="copy"), ["the cat"], "eng").added == 1
    index.close()


def test_an_index_without_a_fingerprint_takes_only_its_model_by_name(tmp_path, fake_encoder):
    FakeEncoder = type(fake_encoder)  # noqa: N806 - a class
    index = SearchIndex.create(tmp_path / "idx", "mini", 256)  # no encoder yet: no fingerprint
    with pytest.raises(XlingError, match="built with model 'mini', not 'other'; vectors of different"):
        index.add_texts(FakeEncoder(name="other"), ["the cat"], "eng")
    assert len(index) == 0
    # what loaded the encoder names the index's model (a folder whose encoder calls itself otherwise)
    assert index.add_texts(FakeEncoder(name="other"), ["the cat"], "eng", model="mini").added == 1
    with pytest.raises(XlingError, match="its vectors differ"):  # that add stored the fingerprint
        index.add_texts(FakeEncoder(name="mini", salt="other weights"), ["a dog"], "eng")
    index.close()


def test_cli_an_index_built_empty_refuses_another_model(tmp_path, monkeypatch, fake_encoder):
    import json

    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    FakeEncoder = type(fake_encoder)  # noqa: N806 - a class
    encoders = {"mini": FakeEncoder(name="mini"), "other": FakeEncoder(name="other", salt="other weights")}
    monkeypatch.setattr(index_cli, "load_encoder", lambda model: encoders[model])
    header_only = tmp_path / "header-only.tsv"
    header_only.write_text("id\tlang\ttext\n", encoding="utf-8")
    docs = tmp_path / "docs.tsv"
    docs.write_text("".join(f"{lang}\t{text}\n" for text, lang, _ in DOCS), encoding="utf-8")
    folder = str(tmp_path / "idx")
    runner = CliRunner()
    result = runner.invoke(app, ["index", "build", folder, "--model", "mini", "--input", str(header_only)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["index", "add", folder, "--input", str(docs), "--model", "other"])
    assert result.exit_code != 0
    assert "built with model 'mini', not 'other'" in str(result.exception or result.output)
    assert json.loads((tmp_path / "idx" / INFO_FILE).read_text())["model"] == "mini"
    result = runner.invoke(app, ["index", "add", folder, "--input", str(docs)])  # its own model: accepted
    assert result.exit_code == 0, result.output
    with SearchIndex.open(folder) as index:
        assert len(index) == len(DOCS)


def test_cli_a_model_mismatch_names_the_path_given_beside_the_encoders_name(
    tmp_path, monkeypatch, fake_encoder
):
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    FakeEncoder = type(fake_encoder)  # noqa: N806 - a class
    copy = str(tmp_path / "mini-copy")  # a changed copy whose config still names it xling-mini
    encoders = {"xling-mini": FakeEncoder(name="xling-mini"),
                copy: FakeEncoder(name="xling-mini", salt="retrained")}  # fmt: skip
    monkeypatch.setattr(index_cli, "load_encoder", lambda model: encoders[model])
    docs = tmp_path / "docs.tsv"
    docs.write_text("".join(f"{lang}\t{text}\n" for text, lang, _ in DOCS), encoding="utf-8")
    folder = str(tmp_path / "idx")
    runner = CliRunner()
    assert runner.invoke(app, ["index", "build", folder, "--input", str(docs)]).exit_code == 0
    wanted = f"built with model 'xling-mini', not '{copy}' (encoder 'xling-mini'): its vectors differ"
    for command in (["search", folder, "the cat"], ["add", folder, "--input", str(docs)]):
        result = runner.invoke(app, ["index", *command, "--model", copy])
        assert result.exit_code != 0 and wanted in str(result.exception or result.output)


# --- IVF: as many hits as asked for, when the index holds them ----------------------------------------------


def _ivf_and_flat(tmp_path):
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((2000, 32)).astype(np.float32)
    languages = rng.choice(["eng", "deu"], size=len(vectors), p=[0.7, 0.3]).tolist()
    languages[:10] = ["yor"] * 10  # a rare language
    texts = [f"document {i}" for i in range(len(vectors))]
    indexes = {}
    for kind in ("flat", "ivf"):
        indexes[kind] = SearchIndex.create(tmp_path / kind, "random", 32, index_kind=kind)
        indexes[kind].add(texts, vectors, languages)
    return indexes, languages, rng.standard_normal((3, 32)).astype(np.float32)


def _ids_and_scores(results):
    return [sorted((h.id, round(h.score, 4)) for h in hits) for hits in results]


def test_ivf_returns_k_hits_when_k_exceeds_what_the_probed_lists_hold(tmp_path, monkeypatch):
    # 2,000 vectors in 51 lists, 16 probed: about 630 in reach, so FAISS padded the rest with -1
    indexes, languages, queries = _ivf_and_flat(tmp_path)
    german = languages.count("deu")
    for k, wanted in ((5000, None), (500, "deu"), (5000, "deu")):
        found = indexes["ivf"].search(queries, k=k, languages=wanted)
        available = len(languages) if wanted is None else german
        assert [len(hits) for hits in found] == [min(k, available)] * len(queries)
        exact = indexes["flat"].search(queries, k=k, languages=wanted)
        assert _ids_and_scores(found) == _ids_and_scores(exact)
    # a rare language through the id selector rather than exact scores (as an index past
    # EXACT_FILTERED_MAX searches it): every list is searched when the probed ones hold too few of it
    monkeypatch.setattr("xling.retrieval.index.EXACT_FILTERED_MAX", 0)
    found = indexes["ivf"].search(queries, k=8, languages="yor")
    assert _ids_and_scores(found) == _ids_and_scores(indexes["flat"].search(queries, k=8, languages="yor"))
    assert [len(hits) for hits in found] == [8] * len(queries)


def test_ivf_searches_every_list_only_for_queries_left_short(tmp_path, monkeypatch):
    indexes, _, queries = _ivf_and_flat(tmp_path)
    calls: list[int] = []
    every_list = SearchIndex._search_every_list

    def counted(self, short, fetch, selector):
        calls.append(len(short))
        return every_list(self, short, fetch, selector)

    monkeypatch.setattr(SearchIndex, "_search_every_list", counted)
    assert all(len(hits) == 10 for hits in indexes["ivf"].search(queries, k=10))
    assert all(len(hits) == 10 for hits in indexes["ivf"].search(queries, k=10, languages="deu"))
    assert calls == []  # the usual search (k well below the index) probes IVF_NPROBE lists only
    indexes["ivf"].search(queries, k=1500)
    assert calls == [len(queries)]


def test_an_open_index_follows_a_build_overwrite_and_refuses_another_model(tmp_path, fake_encoder):
    """`xling index build --overwrite` swaps in a new documents.sqlite: a server's open handle went on
    searching the deleted one (old documents) and failed to write with a raw sqlite3 error."""
    from xling.data.documents import Document

    path = tmp_path / "idx"
    SearchIndex.build(path, fake_encoder, [Document("old secret document", "eng", "a")])[0].close()
    server = SearchIndex.open(path)
    built = SearchIndex.build(
        path, fake_encoder, [Document("new public document", "eng", "b")], overwrite=True
    )
    built[0].close()
    assert [hit.key for hit in server.search_texts(fake_encoder, ["document"], k=5)[0]] == ["b"]
    assert server.add_documents(fake_encoder, [Document("added by the old handle", "eng", "c")]).added == 1
    assert len(server) == 2
    with SearchIndex.open(path) as fresh:
        assert sorted(hit.key for hit in fresh.search_texts(fake_encoder, ["document"], k=5)[0]) == ["b", "c"]
    # the server's encoder was chosen for the index it opened: another model's vectors are not searched
    other = type(fake_encoder)(fake_encoder.dimension, fake_encoder.name, salt="retrained")
    SearchIndex.build(path, other, [Document("another model", "eng", "d")], overwrite=True)[0].close()
    query = fake_encoder.encode(["document"])
    with pytest.raises(
        XlingError, match="replaced since it was opened by one built with model .*, whose vectors differ"
    ):
        server.search(query, k=5)
    with pytest.raises(XlingError, match="replaced since it was opened"):
        server.add_documents(fake_encoder, [Document("x", "eng", "e")])
    server.close()
    server = SearchIndex.open(path)
    shutil.rmtree(path)
    with pytest.raises(XlingError, match="replaced or removed since it was opened and cannot be reopened"):
        server.search(query, k=5)
    server.close()


def test_a_search_between_the_two_renames_of_a_build_overwrite_waits_for_the_new_folder(
    tmp_path, fake_encoder
):
    import threading

    from xling.data.documents import Document

    path, new = tmp_path / "idx", tmp_path / "new"
    SearchIndex.build(path, fake_encoder, [Document("old document", "eng", "a")])[0].close()
    SearchIndex.build(new, fake_encoder, [Document("new document", "eng", "b")])[0].close()
    server = SearchIndex.open(path)
    path.rename(tmp_path / "aside")  # the old folder moved aside, the new one not yet in place
    threading.Timer(0.2, new.rename, [path]).start()
    assert [hit.key for hit in server.search_texts(fake_encoder, ["document"], k=5)[0]] == ["b"]
    server.close()


def test_cli_shows_texts_queries_and_folders_that_look_like_markup_as_given(
    tmp_path, monkeypatch, fake_encoder
):
    """A stored text `Hello world [/INST]` ended every search that found it with a MarkupError traceback
    (before --json was written); `[bold]Le chat[/bold]` lost its brackets; a query was markup in the title."""
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    texts = ["Hello world [/INST]", "[bold]Le chat[/bold] est assis", "a grin :smile: here"]
    docs = tmp_path / "docs.tsv"
    docs.write_text("".join(f"eng\t{text}\n" for text in texts), encoding="utf-8")
    runner = CliRunner()
    folder = tmp_path / "idx[red]"
    result = runner.invoke(app, ["index", "build", str(folder), "--model", "fake", "--input", str(docs),
                                 "--no-detect-language"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"3 documents indexed in {folder}" in result.output
    out = tmp_path / "hits.json"
    result = runner.invoke(
        app, ["index", "search", str(folder), "hello [/x]", "--k", "3", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "query: hello [/x]" in result.output
    assert all(text in result.output for text in texts)
    assert {hit["text"] for hit in json.loads(out.read_text())["results"][0]["hits"]} == set(texts)


def test_cli_names_a_duplicate_id_by_its_file_and_line(tmp_path, monkeypatch, fake_encoder):
    """`index build --on-duplicate error` named the hidden staging folder and a 0-based position."""
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    runner = CliRunner()
    folder = tmp_path / "idx"
    dup = tmp_path / "dup.tsv"  # a header line, so document i is on line i + 2
    dup.write_text("id\tlang\ttext\na\teng\tHello\nb\teng\tWorld\na\tdeu\tHallo\n", encoding="utf-8")
    result = runner.invoke(app, ["index", "build", str(folder), "--model", "fake", "--input", str(dup),
                                 "--on-duplicate", "error", "--no-detect-language"])  # fmt: skip
    message = str(result.exception)
    assert result.exit_code != 0 and f"{dup}:4: id 'a' is given twice (first at {dup}:2)" in message
    assert ".tmp" not in message and not folder.exists()
    lines = tmp_path / "docs.jsonl"  # no header: document i is on line i + 1
    lines.write_text('{"id": "b", "lang": "eng", "text": "New"}\n{"id": "a", "lang": "eng", "text": "Hi"}\n')
    assert runner.invoke(app, ["index", "build", str(folder), "--model", "fake", "--input", str(dup),
                               "--no-detect-language"]).exit_code == 0  # fmt: skip
    result = runner.invoke(app, ["index", "add", str(folder), "--input", str(lines), "--on-duplicate", "error",
                                 "--no-detect-language"])  # fmt: skip
    assert f"{lines}:1: id 'b' is already in the index {folder}" in str(result.exception)


class BuildsMeanwhile(FakeEncoder):
    """Encodes like FakeEncoder; while it encodes the documents, another build of `folder` commits first."""

    def __init__(self, folder) -> None:
        super().__init__()
        self.folder, self.done = folder, False

    def encode(self, texts, *args, **kwargs):
        if len(texts) > 3 and not self.done:  # the documents, not the fingerprint
            self.done = True
            theirs = [_doc("their document", "eng", "theirs")]
            other, _ = SearchIndex.build(self.folder, FakeEncoder(), theirs)
            other.add_texts(FakeEncoder(), ["added to theirs"], "eng")
            other.close()
        return super().encode(texts, *args, **kwargs)


@pytest.mark.parametrize("remains", [False, True])
def test_a_build_without_overwrite_keeps_an_index_built_there_meanwhile(tmp_path, fake_encoder, remains):
    """`index build DIR` checked DIR before encoding and then swapped its index in whatever was there: an
    index another process built at DIR meanwhile (and what was added to it) was silently replaced."""
    folder = tmp_path / "idx"
    if remains:  # an interrupted create's remains, which a build may replace
        build(folder, fake_encoder).close()
        (folder / INFO_FILE).unlink()
    with pytest.raises(XlingError, match=rf"{folder}: .*appeared .*while this .* being (made|built)"):
        SearchIndex.build(folder, BuildsMeanwhile(folder), _documents())
    with SearchIndex.open(folder) as theirs:  # the other index, whole
        hits = theirs.search_texts(fake_encoder, ["their document"], k=5)[0]
        assert sorted(hit.text for hit in hits) == ["added to theirs", "their document"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]  # the new build discarded


def test_a_search_works_where_the_rebuilt_cache_cannot_be_saved(tmp_path, fake_encoder, monkeypatch, caplog):
    """A read-only index whose cache was stale or missing: the rebuilt cache was always saved, and the
    PermissionError ended the search."""
    import logging

    import xling.retrieval.index as index_module

    folder = tmp_path / "idx"
    with build(folder, fake_encoder) as index:
        expected = summary(index.search_texts(fake_encoder, QUERIES, k=3))
    (folder / CACHE_FILE).unlink()

    def read_only(path, mode="w"):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(index_module, "atomic_write", read_only)
    rebuilds = []
    original = SearchIndex._rebuild
    monkeypatch.setattr(SearchIndex, "_rebuild", lambda self: (rebuilds.append(1), original(self))[1])
    with caplog.at_level(logging.WARNING, logger="xling"), SearchIndex.open(folder) as index:
        assert summary(index.search_texts(fake_encoder, QUERIES, k=3)) == expected
        assert summary(index.search_texts(fake_encoder, QUERIES, k=3)) == expected
    assert not (folder / CACHE_FILE).exists()
    assert len(rebuilds) == 1  # kept in memory, not rebuilt by every search
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "cannot be saved (Permission denied); searching with it in memory" in warnings[0]


def test_the_same_text_or_id_in_nfc_and_nfd_is_one_document(tmp_path, fake_encoder):
    """The content key hashed the raw text and ids were not normalised: `café` in NFC and in NFD were
    stored twice, and a file added again in the other form was added again."""
    import unicodedata

    nfc, nfd = (unicodedata.normalize(form, "café crème") for form in ("NFC", "NFD"))
    assert nfc != nfd
    index, result = SearchIndex.build(tmp_path / "idx", fake_encoder, [_doc(nfc, "fra"), _doc(nfd, "fra")])
    assert (result.added, result.skipped) == (1, 1)
    assert index.add_texts(fake_encoder, [nfd], "fra").skipped == 1  # the file again, in the other form
    keyed = index.add_texts(fake_encoder, ["one", "two"], "eng", keys=[nfd, f" {nfc} "])
    assert (keyed.added, keyed.skipped) == (1, 1)
    hit = index.search_texts(fake_encoder, ["one"], k=1)[0][0]
    assert hit.key == nfc  # stored in NFC
    # a text in NFC hashes as before keys were normalised: indexes built before keep matching
    assert index.search_texts(fake_encoder, [nfc], k=1)[0][0].key == hashlib_key(nfc, "fra")
    assert len(index) == 2
    index.close()


def hashlib_key(text, lang):
    import hashlib

    return hashlib.sha256(f"{lang}\t{text}".encode()).hexdigest()[:32]


def _index_stored_before_keys_were_normalised(folder, fake_encoder) -> tuple[str, str]:
    """Return (NFC, NFD) of a text; build at `folder` an index that stores, as an earlier xling did, that text's
    NFD form under its content key of then and an NFD id as given."""
    import sqlite3
    import unicodedata

    nfc, nfd = (unicodedata.normalize(form, "naïve café") for form in ("NFC", "NFD"))
    SearchIndex.build(folder, fake_encoder, [_doc(nfd, "fra"), _doc("an id", "eng", nfd)])[0].close()
    with sqlite3.connect(folder / DB_FILE) as db:
        db.execute("UPDATE documents SET key = ? WHERE text = ?", (hashlib_key(nfd, "fra"), nfd))
        db.execute("UPDATE documents SET key = ? WHERE text = 'an id'", (nfd,))
    db.close()
    return nfc, nfd


def test_a_key_stored_before_keys_were_normalised_still_matches(tmp_path, fake_encoder):
    """An index built before stores NFD texts' content keys and NFD ids as they were given."""
    nfc, nfd = _index_stored_before_keys_were_normalised(tmp_path / "idx", fake_encoder)
    with SearchIndex.open(tmp_path / "idx") as index:
        again = index.add_documents(fake_encoder, [_doc(nfd, "fra"), _doc("an id", "eng", nfd)])
        assert (again.added, again.skipped) == (0, 2)
        replaced = index.add_documents(fake_encoder, [_doc("new text", "eng", nfd)], on_duplicate="replace")
        assert (replaced.added, replaced.replaced) == (0, 1) and len(index) == 2
        hit = index.search_texts(fake_encoder, ["new text"], k=1)[0][0]
        assert hit.key == nfc  # a replacement stores the key now
        assert index.delete_keys([hashlib_key(nfd, "fra")]) == 1  # deleted by the key it is stored under


def test_a_key_stored_decomposed_before_matches_the_text_or_id_given_composed(tmp_path, fake_encoder):
    """The same old index, the documents given again in NFC: found, not added a second time."""
    nfc, _ = _index_stored_before_keys_were_normalised(tmp_path / "idx", fake_encoder)
    with SearchIndex.open(tmp_path / "idx") as index:
        again = index.add_documents(fake_encoder, [_doc(nfc, "fra"), _doc("an id", "eng", nfc)])
        assert (again.added, again.skipped, len(index)) == (0, 2, 2)
        replaced = index.add_documents(fake_encoder, [_doc(nfc, "fra")], on_duplicate="replace")
        assert (replaced.added, replaced.replaced, len(index)) == (0, 1, 2)
        assert index.delete_keys([nfc]) == 1  # the id, stored decomposed, named composed
        assert len(index) == 1


def test_delete_keys_strips_and_normalises_keys_as_add_does(tmp_path, fake_encoder):
    """`--keys " spaced "` deleted 0 of 1: add stored the key stripped, delete looked it up as given."""
    import unicodedata

    nfd = unicodedata.normalize("NFD", "clé")
    index, _ = SearchIndex.build(tmp_path / "idx", fake_encoder, [_doc("one", "eng", " spaced "),
                                                                  _doc("two", "eng", nfd)])  # fmt: skip
    assert index.delete_keys([" spaced "]) == 1
    assert index.delete_keys([unicodedata.normalize("NFC", "clé")]) == 1
    assert len(index) == 0
    index.close()


def test_a_killed_writers_temporary_is_removed_by_the_next_add_or_delete(tmp_path, fake_encoder):
    """A killed `add` left `.vectors.faiss.PID.tmp` in the index folder, and only a build removed it."""
    import os
    import subprocess
    import sys

    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)  # fmt: skip
    folder = tmp_path / "idx"
    # this process's own (a second thread's name: the first is the one each cache save writes and renames)
    live = [f".{CACHE_FILE}.{os.getpid()}.7.tmp", f".{INFO_FILE}.{os.getppid()}.tmp", ".notes.123.tmp"]
    killed = [f".{CACHE_FILE}.{dead}.tmp", f".{CACHE_FILE}.{dead}.1.tmp", f".{INFO_FILE}.{dead}.tmp"]
    with build(folder, fake_encoder) as index:
        for name in live + killed:
            (folder / name).write_bytes(b"half a cache")
        index.add_texts(fake_encoder, ["one more document"], "eng")
        assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == sorted(live)
        (folder / killed[0]).write_bytes(b"half a cache")
        assert index.delete([1]) == 1
        assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == sorted(live)


def test_metadata_with_nan_or_infinity_is_refused(tmp_path, fake_encoder):
    """JSON Lines metadata `NaN`, `Infinity` or `1e999` was stored, and search --json wrote invalid JSON."""
    from typer.testing import CliRunner

    from xling.cli import app
    from xling.cli import index as index_cli

    index = SearchIndex.create(tmp_path / "api", fake_encoder.name, fake_encoder.dimension)
    with pytest.raises(XlingError, match=r"metadata item 1: field 'metadata.scores\[1\]' is Infinity"):
        index.add_texts(fake_encoder, ["a", "b"], "eng", [None, {"scores": [1.0, float("inf")]}])
    assert len(index) == 0
    index.close()
    runner = CliRunner()
    lines = tmp_path / "docs.jsonl"
    for number, shown in (("NaN", "NaN"), ("1e999", "Infinity"), ("-Infinity", "-Infinity")):
        lines.write_text('{"lang": "eng", "text": "fine", "metadata": {"n": 1.5}}\n'
                         f'{{"lang": "eng", "text": "bad", "metadata": {{"a": {{"x": {number}}}}}}}\n')  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
            result = runner.invoke(app, ["index", "build", str(tmp_path / "idx"), "--model", "fake", "--input",
                                         str(lines), "--no-detect-language"])  # fmt: skip
        assert result.exit_code != 0
        message = str(result.exception)
        assert f"{lines}:2: field 'metadata.a.x' is {shown}, which is not a JSON number" in message
        assert not (tmp_path / "idx").exists()


def _cli_index(tmp_path, monkeypatch, fake_encoder, lines):
    from xling.cli import index as index_cli

    monkeypatch.setattr(index_cli, "load_encoder", lambda model: fake_encoder)
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    folder = tmp_path / "idx"
    SearchIndex.build(folder, fake_encoder, index_cli.read_input(docs, None))[0].close()
    return folder


def test_cli_search_shows_control_characters_escaped_and_labels_row_ids(tmp_path, monkeypatch, fake_encoder):
    """`Text(hit.text)` let a stored ESC sequence reach the terminal; the row id's column was named `id`,
    easily taken for the input's id (which delete takes only with --keys)."""
    from typer.testing import CliRunner

    from xling.cli import app

    text = "red \x1b[31malert\x1b[0m\x07 here"
    folder = _cli_index(tmp_path, monkeypatch, fake_encoder, [
        {"id": "k\x1b]0;title\x07", "lang": "eng", "text": text}, {"lang": "eng", "text": "blue\nsky"}
    ])  # fmt: skip
    out = tmp_path / "hits.json"
    result = CliRunner().invoke(app, ["index", "search", str(folder), "alert\x1b[2J", "--json", str(out)],
                                env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    rows = [" ".join(line.split()) for line in result.output.splitlines()]
    assert "query: alert\\x1b[2J" in rows
    assert "┃ score ┃ lang ┃ detected ┃ row ┃ key ┃ text ┃" in rows
    assert "│ 1 │ k\\x1b]0;title\\x07 │ red \\x1b[31malert\\x1b[0m\\x07 here │" in rows[4]
    assert "│ 2 │ - │ blue\\nsky │" in rows[5]  # no id given: the key is a content hash (in --json)
    hits = json.loads(out.read_text(encoding="utf-8"))["results"][0]["hits"]
    assert hits[0]["text"] == text and hits[0]["key"] == "k\x1b]0;title\x07"  # --json keeps the exact text


def test_cli_an_empty_language_filter_is_refused_as_a_lone_comma_is(tmp_path, monkeypatch, fake_encoder):
    """`--lang ""` meant no filter, while `--lang ","` was an error."""
    from typer.testing import CliRunner

    from xling.cli import app

    folder = _cli_index(tmp_path, monkeypatch, fake_encoder, [{"lang": "eng", "text": "hello"}])
    runner = CliRunner()
    for option in ("--lang", "--detected-lang"):
        for value in ("", ","):
            result = runner.invoke(app, ["index", "search", str(folder), "hello", option, value])
            assert result.exit_code != 0 and result.exception is not None, (option, value, result.output)
            assert "''" in str(result.exception), (option, value, result.exception)


def test_cli_an_empty_query_is_named_as_other_errors_name_it(tmp_path, monkeypatch, fake_encoder):
    """An empty query was `text 0 is empty` (from the encoder, counted from 0); others say `QUERY 1`."""
    from typer.testing import CliRunner

    from xling.cli import app

    folder = _cli_index(tmp_path, monkeypatch, fake_encoder, [{"lang": "eng", "text": "hello"}])
    result = CliRunner().invoke(app, ["index", "search", str(folder), "hello", "  "])
    assert result.exit_code != 0 and "QUERY 2 is empty" in str(result.exception)
    # invisible characters alone (strip keeps U+200B): every document came back at score 0
    result = CliRunner().invoke(app, ["index", "search", str(folder), "\u200b"])
    assert result.exit_code != 0 and "QUERY 1 is empty" in str(result.exception)


def test_ivf_lists_follow_the_stored_documents_and_one_add_does_not_retrain(tmp_path, monkeypatch):
    """The lists were counted from the training sample's size, not the documents': with 64 sample rows a
    list, above about a million documents they came out half as many as wanted, and every later add
    (one document) retrained the whole index. A smaller sample per list shows it at 30,000 documents."""
    import faiss

    import xling.retrieval.index as index_module
    from xling.retrieval.knn import ivf_list_count

    monkeypatch.setattr(index_module, "IVF_TRAIN_PER_LIST", 40)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((30_000, 8)).astype(np.float32)
    index = SearchIndex.create(tmp_path / "ivf", "random", 8, index_kind="ivf")
    index.add([f"d{i}" for i in range(len(vectors))], vectors, "eng")
    nlist = faiss.extract_index_ivf(index._vectors).nlist
    assert nlist == ivf_list_count(30_000)  # 692; the sample alone gave 665
    rebuilds = []
    monkeypatch.setattr(index, "_rebuild", lambda: rebuilds.append(1))
    index.add(["one more"], vectors[:1], "eng")
    assert rebuilds == [] and len(index) == 30_001


def test_the_ivf_training_sample_spans_every_stored_row(tmp_path, monkeypatch):
    """A whole-number stride cut to the sample's size sampled the first rows only (57-81% of them): documents
    added last, another language, never shaped the lists."""
    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "IVF_TRAIN_PER_LIST", 2)
    index = SearchIndex.create(tmp_path / "ivf", "random", 4, index_kind="ivf")
    rows = np.zeros((3_000, 4), dtype=np.float32)
    rows[:, 0] = 1
    rows[2_000:] = [0, 1, 0, 0]  # the last third: another direction
    index.add([f"d{i}" for i in range(len(rows))], rows, "eng")
    sample = index._training_sample()
    assert len(sample) == min(3_000, 2 * index_module.ivf_list_count(3_000))
    assert (sample[:, 1] == 1).mean() == pytest.approx(1 / 3, abs=0.02)


def test_a_cache_that_cannot_be_saved_after_the_commit_keeps_the_add(
    tmp_path, fake_encoder, monkeypatch, caplog
):
    index = build(tmp_path / "idx", fake_encoder)

    def full_disk(generation):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index, "_save_cache", full_disk)
    with caplog.at_level("WARNING"):
        added = index.add_texts(fake_encoder, ["a new document"], "eng")
    assert added.added == 1 and "documents are stored, but the vector cache cannot be saved" in caplog.text
    assert index.search_texts(fake_encoder, ["a new document"], k=1)[0][0].text == "a new document"
    monkeypatch.undo()
    index.close()
    with SearchIndex.open(tmp_path / "idx") as again:
        assert len(again) == 7


def test_opening_an_index_another_process_holds_locked_is_a_busy_error(tmp_path, fake_encoder, monkeypatch):
    """It was a plain XlingError, which a server kept as a failed load until it was restarted: a BusyError
    says the same open may succeed once the writer commits (a server answers 503 and tries again)."""
    import sqlite3

    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    build(tmp_path / "idx", fake_encoder).close()
    other = sqlite3.connect(tmp_path / "idx" / DB_FILE, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process in the middle of a large add
    try:
        with pytest.raises(BusyError, match="the index is busy"):
            SearchIndex.open(tmp_path / "idx")
    finally:
        other.execute("ROLLBACK")
        other.close()
    with SearchIndex.open(tmp_path / "idx") as index:
        assert len(index) == 6


def test_a_search_blocked_by_a_writer_is_a_clear_error(tmp_path, fake_encoder, monkeypatch):
    """A large add holds SQLite's exclusive lock until it commits: a search that waited it out got a raw
    sqlite3.OperationalError."""
    import sqlite3

    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    build(tmp_path / "idx", fake_encoder).close()
    other = sqlite3.connect(tmp_path / "idx" / DB_FILE, isolation_level=None)
    with SearchIndex.open(tmp_path / "idx") as index:
        other.execute("BEGIN EXCLUSIVE")  # another process in the middle of a large add
        try:
            with pytest.raises(XlingError, match="the index is busy"):
                index.search_texts(fake_encoder, QUERIES, k=2)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert len(index.search_texts(fake_encoder, QUERIES, k=2)) == 3


def test_hnsw_gives_min_k_documents_hits_when_many_vectors_are_identical(tmp_path):
    """HNSW's graph left queries short when many stored vectors were one (1,133 hits of 3,000 asked for);
    `search` promises min(k, documents that pass) on every kind of index."""
    rng = np.random.default_rng(6)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    vectors[:1500] = vectors[0]
    index = SearchIndex.create(tmp_path / "idx", "m", 16, "hnsw")
    languages = ["en"] * 2000 + ["de"] * 1000
    index.add([f"t{i}" for i in range(3000)], vectors, languages)
    queries = rng.standard_normal((5, 16)).astype(np.float32)
    assert [len(hits) for hits in index.search(queries, k=3000)] == [3000] * 5
    assert [len(hits) for hits in index.search(queries, k=3000, languages="en")] == [2000] * 5
    hits = index.search(queries[:1], k=2500)[0]
    assert len({hit.id for hit in hits}) == 2500  # distinct documents
    index.close()
