"""Tests of xling.vectors.train: tokenisation, config checks, and tiny training runs that must learn."""

from __future__ import annotations

import gzip
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from xling.errors import ConfigError, DataError
from xling.vectors import VectorsTrainConfig, WordVectors, load_vectors, tokenize_words, train_vectors

FRUIT = ["apple", "banana", "cherry", "grape", "lemon", "mango"]
VEHICLES = ["car", "bus", "train", "plane", "boat", "truck"]


def topic_sentences(n: int = 300, seed: int = 0) -> list[str]:
    """Return sentences that each use words of one topic only, with skewed word frequencies."""
    rng = random.Random(seed)
    sentences = []
    for i in range(n):
        topic = FRUIT if i % 2 else VEHICLES
        words = rng.choices(topic, weights=[6, 5, 4, 3, 2, 1], k=8)
        sentences.append(" ".join(words).capitalize() + ".")
    return sentences


def tiny_config(corpus: Path, output: Path, **overrides) -> VectorsTrainConfig:
    """Return a config small enough to train in well under a second."""
    values = dict(dim=16, window=3, min_count=1, epochs=5, sample=0, threads=1, buckets=1000)
    values.update(overrides)
    return VectorsTrainConfig(corpus=str(corpus), output=str(output), **values)


def nearest_neighbours(vectors: WordVectors) -> dict[str, str]:
    """Return each word's nearest other word by cosine similarity."""
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -2.0)
    return {word: vectors.words[j] for word, j in zip(vectors.words, similarity.argmax(axis=1), strict=True)}


@pytest.fixture
def topic_corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(topic_sentences()) + "\n", encoding="utf-8")
    return path


# --- tokenisation --------------------------------------------------------------------------------------


def test_tokenize_words_drops_punctuation_and_keeps_inner_apostrophes() -> None:
    text = "Don't stop—the dog's bowl, 'tis O’Neil! snake_case 3.14"
    assert tokenize_words(text) == [
        "don't",
        "stop",
        "the",
        "dog's",
        "bowl",
        "tis",
        "o’neil",
        "snake",
        "case",
        "3",
        "14",
    ]
    assert tokenize_words("Hello World", lowercase=False) == ["Hello", "World"]


def test_tokenize_words_keeps_combining_marks_and_spaceless_runs() -> None:
    assert tokenize_words("हिन्दी भाषा, naïve Ελληνικά") == ["हिन्दी", "भाषा", "naïve", "ελληνικά"]
    assert tokenize_words("中文字符。好") == ["中文字符", "好"]  # the known limit: runs, not words
    assert tokenize_words(" ... !? ") == []


# --- training ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["word2vec", "fasttext"])
def test_nearest_neighbours_share_a_topic(tmp_path: Path, topic_corpus: Path, model: str) -> None:
    vectors = train_vectors(tiny_config(topic_corpus, tmp_path / "v.vec", model=model), progress=False)
    assert sorted(vectors.words) == sorted(FRUIT + VEHICLES)
    for word, neighbour in nearest_neighbours(vectors).items():
        assert (word in FRUIT) == (neighbour in FRUIT), f"{word} -> {neighbour}"


def test_vocabulary_in_frequency_order_and_output_written(tmp_path: Path, topic_corpus: Path) -> None:
    vectors = train_vectors(tiny_config(topic_corpus, tmp_path / "v.npy", model="word2vec"), progress=False)
    counts = Counter(word for line in topic_sentences() for word in tokenize_words(line))
    assert [counts[w] for w in vectors.words] == sorted(counts.values(), reverse=True)
    saved = load_vectors(tmp_path / "v.npy")
    assert saved.words == vectors.words
    np.testing.assert_array_equal(saved.vectors, vectors.vectors)


def test_max_vocab_keeps_the_most_frequent(tmp_path: Path, topic_corpus: Path) -> None:
    config = tiny_config(topic_corpus, tmp_path / "v.vec", model="fasttext", max_vocab=4)
    vectors = train_vectors(config, progress=False)
    counts = Counter(word for line in topic_sentences() for word in tokenize_words(line))
    assert len(vectors) == 4
    assert vectors.words == [w for w, _ in counts.most_common(4)]
    assert load_vectors(tmp_path / "v.vec").words == vectors.words


@pytest.mark.parametrize("model", ["word2vec", "fasttext"])
def test_max_vocab_keeps_exactly_that_many_words_among_ties(tmp_path: Path, model: str) -> None:
    """gensim's max_final_vocab raised min_count past the count of the max_vocab-th word and so dropped
    every word tied with it: max_vocab=5 over 3 words seen 4 times and 6 seen twice kept 3."""
    corpus = tmp_path / "c.txt"
    # frequent: a b c (4 times each); tied: the six words seen twice, in this order of first appearance;
    # rare: once each, left out by min_count=2 even when max_vocab leaves room
    lines = ["a b c", "kiwi fig lime", "a b c", "plum pear date", "a b c kiwi fig lime", "a b c plum pear date",
             "once only"]  # fmt: skip
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = tiny_config(corpus, tmp_path / "v.vec", model=model, min_count=2, max_vocab=5, max_n=3)
    vectors = train_vectors(config, progress=False)
    # most frequent first, tied words in order of first appearance (gensim put the later first: cut to its
    # first 4 words, the file kept `fig`, where max_vocab=4 keeps `kiwi`)
    assert vectors.words == ["a", "b", "c", "kiwi", "fig"]  # the first two of the six tied ones
    again = train_vectors(replace(config, output=str(tmp_path / "w.vec")), progress=False)
    assert again.words == vectors.words
    np.testing.assert_array_equal(vectors.vectors, again.vectors)  # seeded, one thread
    roomy = train_vectors(replace(config, output=str(tmp_path / "x.vec"), max_vocab=100), progress=False)
    assert set(roomy.words) == {"a", "b", "c", "kiwi", "fig", "lime", "plum", "pear", "date"}  # not "once"


def test_one_thread_and_a_seed_give_the_same_vectors(tmp_path: Path, topic_corpus: Path) -> None:
    first = train_vectors(tiny_config(topic_corpus, tmp_path / "a.vec", seed=3), progress=False)
    second = train_vectors(tiny_config(topic_corpus, tmp_path / "b.vec", seed=3), progress=False)
    other = train_vectors(tiny_config(topic_corpus, tmp_path / "c.vec", seed=4), progress=False)
    np.testing.assert_array_equal(first.vectors, second.vectors)
    assert not np.array_equal(first.vectors, other.vectors)


@pytest.mark.parametrize("model", ["word2vec", "fasttext"])
def test_a_corpus_kept_in_memory_trains_as_one_read_every_epoch(tmp_path, topic_corpus, monkeypatch, model):
    """A small corpus is read and cut into words once, not once per epoch, and gives the same vectors."""
    from xling.vectors import train as train_module

    passes = []
    read = train_module._Sentences.__iter__

    def counted(self):
        passes.append(1)
        return read(self)

    monkeypatch.setattr(train_module._Sentences, "__iter__", counted)
    config = tiny_config(topic_corpus, tmp_path / "memory.vec", model=model, seed=3)
    in_memory = train_vectors(config, progress=False)
    assert len(passes) == 1
    monkeypatch.setattr(train_module, "IN_MEMORY_WORDS", 100)  # the corpus has 2,400 words: read per epoch
    streamed = train_vectors(replace(config, output=str(tmp_path / "streamed.vec")), progress=False)
    assert len(passes) == 2 + config.epochs
    assert in_memory.words == streamed.words
    np.testing.assert_array_equal(in_memory.vectors, streamed.vectors)


def test_progress_false_prints_nothing_and_true_does_not_break(
    tmp_path: Path, topic_corpus: Path, capfd
) -> None:
    train_vectors(tiny_config(topic_corpus, tmp_path / "v.vec", epochs=2), progress=False)
    assert capfd.readouterr() == ("", "")
    again = tiny_config(topic_corpus, tmp_path / "v.vec", epochs=2, overwrite=True)  # replaces the first
    assert len(train_vectors(again, progress=True)) == 12


def test_min_count_and_lowercase(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("Alpha beta alpha\nALPHA beta Gamma\n", encoding="utf-8")
    config = tiny_config(corpus, tmp_path / "v.vec", model="word2vec", min_count=2)
    assert train_vectors(config, progress=False).words == ["alpha", "beta"]
    config = tiny_config(corpus, tmp_path / "v.vec", model="word2vec", min_count=2, lowercase=False,
                         overwrite=True)  # fmt: skip
    assert train_vectors(config, progress=False).words == ["beta"]


def test_no_frequent_word_is_a_data_error(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text("one two three\n", encoding="utf-8")
    with pytest.raises(DataError, match="c.txt: no word occurs at least min_count=5 times"):
        train_vectors(tiny_config(corpus, tmp_path / "v.vec", min_count=5), progress=False)
    assert not (tmp_path / "v.vec").exists()


def test_a_line_longer_than_gensim_trains_on_is_read_in_pieces(tmp_path: Path) -> None:
    """gensim trains on a sentence's first 10,000 words and drops the rest: a document given as one line
    kept its later words in the vocabulary at their random starting vectors."""
    from xling.vectors.train import MAX_SENTENCE_WORDS, _Sentences

    corpus = tmp_path / "doc.txt"
    words = [f"w{i % 50}" for i in range(2 * MAX_SENTENCE_WORDS + 7)]
    corpus.write_text(" ".join(words) + "\nshort line\n", encoding="utf-8")
    pieces = list(_Sentences(corpus, (), lowercase=True))
    assert [len(piece) for piece in pieces] == [MAX_SENTENCE_WORDS, MAX_SENTENCE_WORDS, 7, 2]
    assert [word for piece in pieces[:3] for word in piece] == words


def test_held_out_prefixes_that_match_nothing_or_everything_are_errors(tmp_path: Path) -> None:
    """`jhn.` for `JHN.` held nothing out (the other corpus commands refuse it); holding out every verse
    said that no word occurred min_count times."""
    corpus = tmp_path / "eng.tsv"
    corpus.write_text("".join(f"GEN.1.{i}\tin the beginning\n" for i in range(1, 9)), encoding="utf-8")
    config = tiny_config(corpus, tmp_path / "v.vec", model="word2vec", heldout_prefixes=["jhn."])
    with pytest.raises(ConfigError, match="jhn."):
        train_vectors(config, progress=False)
    with pytest.raises(DataError, match=r"no sentence with a word once heldout_prefixes \['GEN.'\]"):
        train_vectors(replace(config, heldout_prefixes=["GEN."]), progress=False)
    assert not (tmp_path / "v.vec").exists()


def test_tsv_folder_with_language_and_heldout_prefixes(tmp_path: Path) -> None:
    folder = tmp_path / "bible"
    folder.mkdir()
    rows = [f"GEN.1.{i}\t{s}" for i, s in enumerate(topic_sentences(100), start=1)]
    rows += [f"JHN.1.{i}\tzebra zebra zebra" for i in range(1, 20)]
    with gzip.open(folder / "eng.tsv.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join(rows) + "\n")
    config = tiny_config(folder, tmp_path / "v.vec", language="en", model="word2vec")
    assert "zebra" in train_vectors(config, progress=False).words
    config.heldout_prefixes, config.overwrite = ["JHN."], True
    vectors = train_vectors(config, progress=False)
    assert "zebra" not in vectors.words
    assert "apple" in vectors.words


# --- config checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dim", 0),
        ("dim", 2.5),
        ("window", -1),
        ("min_count", 0),
        ("epochs", True),
        ("negative", 0),
        ("max_vocab", 0),
        ("threads", -1),
        ("sg", 2),
        ("model", "glove"),
        ("sample", 1.5),
        ("lowercase", "yes"),
        ("output", "vectors.bin"),
        ("output", "vectors.csv"),
        ("max_n", 2),
        ("heldout_prefixes", ["JHN."]),
        ("corpus", "does/not/exist.txt"),
        ("corpus", ""),
    ],
)
def test_bad_config_field_is_named(tmp_path: Path, topic_corpus: Path, field: str, value: object) -> None:
    config = tiny_config(topic_corpus, tmp_path / "v.vec")
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        config.validate()
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        train_vectors(config, progress=False)


def test_folder_corpus_needs_a_language_with_a_file(tmp_path: Path) -> None:
    (tmp_path / "deu.tsv").write_text("GEN.1.1\tam Anfang\n", encoding="utf-8")
    config = tiny_config(tmp_path, tmp_path / "v.vec")
    with pytest.raises(ConfigError, match="^language: needed"):
        config.validate()
    config.language = "fra"
    with pytest.raises(ConfigError, match="^language: .*fra"):
        config.validate()
    config.language = "de"
    config.validate()
    assert config.corpus_file() == tmp_path / "deu.tsv"


def test_defaults_match_fasttext_published_vectors() -> None:
    config = VectorsTrainConfig()
    assert (config.model, config.dim, config.sg, config.window, config.negative) == ("fasttext", 300, 1, 5, 5)
    assert (config.max_vocab, config.min_count, config.epochs, config.lowercase) == (200_000, 3, 5, True)


# --- real data ----------------------------------------------------------------------------------------


def test_bible_english_first_verses(tmp_path: Path, shared_data_dir: Path) -> None:
    source = shared_data_dir / "bible" / "eng.tsv.gz"
    if not source.is_file():
        pytest.skip(f"{source} is not there")
    with gzip.open(source, "rt", encoding="utf-8") as handle:
        verses = [line for _, line in zip(range(2000), handle, strict=False)]
    corpus = tmp_path / "eng.tsv"
    corpus.write_text("".join(verses), encoding="utf-8")
    config = tiny_config(corpus, tmp_path / "eng.vec", dim=20, epochs=1, min_count=3, sample=1e-4)
    config.heldout_prefixes = ["GEN.1."]
    vectors = train_vectors(config, progress=False)
    assert 500 < len(vectors) <= config.max_vocab
    assert vectors.dim == 20
    assert set(vectors.words[:10]) & {"the", "and", "of"}
    assert np.isfinite(vectors.vectors).all()
    assert load_vectors(tmp_path / "eng.vec").words == vectors.words


def test_library_training_prints_nothing_unless_asked(topic_corpus, tmp_path, capfd):
    train_vectors(tiny_config(topic_corpus, tmp_path / "quiet.vec"))
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_a_test_set_is_refused_as_the_corpus(tmp_path: Path) -> None:
    tatoeba = tmp_path / "tatoeba.deu-eng.deu"
    tatoeba.write_text("Guten Tag.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^corpus: .*tatoeba\.deu-eng\.deu is a test set"):
        train_vectors(VectorsTrainConfig(corpus=str(tatoeba), output=str(tmp_path / "v.vec")), progress=False)
    assert not (tmp_path / "v.vec").exists()
