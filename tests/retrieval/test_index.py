"""The persistent search index: round trips, language filters, reopening, crash repair and errors."""

from __future__ import annotations

import numpy as np
import pytest

from xling.errors import ConfigError, DataError, XlingError
from xling.retrieval.index import CACHE_FILE, DB_FILE, INFO_FILE, SearchIndex

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
    new_ids = index.add_texts(fake_encoder, ["a storm is coming tonight"], "en")
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
    # the same answer when widening gives up at once and an id selector takes over
    monkeypatch.setattr("xling.retrieval.index.WIDEN_ROUNDS", 1)
    assert summary([index.search_texts(fake_encoder, query, k=3, languages="deu")[0]]) == summary([hits])


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


def test_failed_transaction_keeps_nothing(tmp_path, fake_encoder):
    index = build(tmp_path / "idx", fake_encoder)
    with pytest.raises(XlingError, match="2 languages given for 1 texts"):
        index.add_texts(fake_encoder, ["x"], ["eng", "deu"])
    with pytest.raises(XlingError, match="metadata item 0 is not JSON"):
        index.add_texts(fake_encoder, ["x"], "eng", [{"bad": object()}])
    assert len(index) == 6


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
    with pytest.raises(XlingError, match="not 'fake-trigram-128'"):
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
    with pytest.raises(XlingError, match="already exists here; pass overwrite=True"):
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
    (folder / INFO_FILE).unlink()  # a create that crashed before its last step
    with pytest.raises(DataError, match="not a search index folder"):
        SearchIndex.open(folder)
    assert len(SearchIndex.create(folder, fake_encoder.name, 256)) == 0


def test_vectors_are_stored_unit_length_and_empty_cases(tmp_path):
    index = SearchIndex.create(tmp_path / "idx", "m", 2)
    assert index.search(np.array([[1.0, 0.0]])) == [[]]
    assert index.add([], np.zeros((0, 2)), "eng") == []
    assert index.delete([]) == 0
    ids = index.add(["east", "north"], np.array([[10.0, 0.0], [0.0, 0.5]]), ["eng", "eng"])
    hits = index.search(np.array([3.0, 3.0]), k=5)[0]
    assert {h.id for h in hits} == set(ids)
    assert [h.score for h in hits] == pytest.approx([np.sqrt(0.5)] * 2, abs=1e-6)
