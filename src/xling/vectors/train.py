"""Training monolingual word vectors (fastText or word2vec, via gensim) on a text or Bible TSV corpus.

A corpus of up to IN_MEMORY_WORDS words is cut into words once and kept in memory for every epoch; a larger
one is streamed from disk on every pass gensim makes (one to count words, one per epoch), so memory holds the
model, not the corpus. A line longer than gensim's MAX_SENTENCE_WORDS is trained on in pieces of that many
words (gensim drops the rest of it). The same config and seed give the same vectors only with `threads=1`:
gensim's worker threads race on the shared weights.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from xling.config import check_int
from xling.data.readers import AlignedCorpus, read_id_text_tsv, read_monolingual
from xling.data.root import check_not_test_set
from xling.errors import ConfigError, DataError, XlingError
from xling.vectors.core import WordVectors
from xling.vectors.formats import check_output, save_vectors, vectors_format

__all__ = ["VectorsTrainConfig", "tokenize_words", "train_vectors"]

_MODELS = ("fasttext", "word2vec")
_TSV_SUFFIXES = (".tsv", ".tsv.gz")
# Corpora of at most this many words are cut into words once and kept in memory for every epoch (about
# 8 bytes a word: one copy of each distinct word is kept). A pass over the file re-reads and re-cuts it:
# 0.8 s a pass for the English Bible's 768k words, which 10 word2vec epochs took 10 times.
IN_MEMORY_WORDS = 20_000_000
# gensim trains on the first 10,000 words of a sentence and silently drops the rest (MAX_WORDS_IN_BATCH):
# a document given as one line would keep words in the vocabulary at their random starting vectors
MAX_SENTENCE_WORDS = 10_000


@dataclass
class VectorsTrainConfig:
    """Settings of `xling vectors train`; the shape of fastText's published vectors (skip-gram, 300-d), its
    settings otherwise, trained through gensim, with these differences: gensim's learning rate (0.025,
    fastText's 0.05), `min_count` 3 (fastText's 5), `max_vocab` 200,000 words kept, and words read by
    `tokenize_words` (punctuation split off, lower case by default), where fastText splits on whitespace only.

    `corpus` is a text file (one sentence per line, optionally .gz), a Bible-style TSV file of
    `verse_id<TAB>text` lines (.tsv/.tsv.gz), or a folder of such files together with `language`, which
    picks `<folder>/<language>.tsv.gz`. `heldout_prefixes` skips verses whose id starts with one of them
    (e.g. ["JHN."]), for TSV corpora only. `sample` is the downsampling threshold of frequent words
    (fastText's `-t`; 0 turns it off, which tiny corpora need). `max_vocab` keeps the most frequent words;
    `threads` 0 uses all usable cores. `min_n`, `max_n` and `buckets` are fastText's character n-gram settings.
    """

    corpus: str = ""
    """A text file (one sentence a line, optionally .gz), a `verse_id<TAB>text` .tsv/.tsv.gz file, or a
    folder of such files (then `language` picks one); required."""

    output: str = "runs/vectors/vectors.vec"
    """Where the vectors are saved, most frequent word first: a .vec (text) or .npy file (not .bin)."""

    overwrite: bool = False
    """Replace a vectors file already at `output` (never the corpus itself)."""

    language: str | None = None
    """The language whose file to read when `corpus` is a folder (`<folder>/<language>.tsv[.gz]`)."""

    model: str = "fasttext"
    """The gensim model: "fasttext" (with character n-grams) or "word2vec"."""

    dim: int = 300
    """Vector size (fastText's published vectors: 300)."""

    window: int = 5
    """Context words on each side of the centre word."""

    min_count: int = 3
    """Words seen fewer times are left out of the vocabulary."""

    epochs: int = 5
    """Passes over the corpus."""

    sg: int = 1
    """1 = skip-gram, 0 = CBOW."""

    negative: int = 5
    """Negative samples per positive example."""

    sample: float = 1e-4
    """Downsampling threshold of frequent words (fastText's `-t`), in [0, 1); 0 turns it off, which tiny
    corpora need."""

    max_vocab: int = 200_000
    """The most frequent words kept (at least 1)."""

    lowercase: bool = True
    """Lowercase the text before cutting it into words."""

    threads: int = 0
    """gensim worker threads; 0 = every usable core. Only 1 makes a seeded run reproducible."""

    seed: int = 0
    """gensim's random seed."""

    heldout_prefixes: list[str] = field(default_factory=list)
    """Verses whose id starts with one of these (e.g. ["JHN."]) are skipped; TSV corpora only."""

    min_n: int = 3
    """fastText: shortest character n-gram."""

    max_n: int = 6
    """fastText: longest character n-gram (>= min_n); 0 = no n-grams."""

    buckets: int = 2_000_000
    """fastText: hash buckets shared by the character n-grams."""

    def validate(self) -> None:
        """Return nothing if every field is usable; raise ConfigError naming the first bad field."""
        for name in ("dim", "window", "min_count", "epochs", "negative", "max_vocab", "min_n", "buckets"):
            check_int(name, getattr(self, name), 1)
        for name in ("threads", "seed", "max_n"):
            check_int(name, getattr(self, name), 0)
        if (
            isinstance(self.sample, bool)
            or not isinstance(self.sample, int | float)
            or not 0 <= self.sample < 1
        ):
            raise ConfigError(
                f"sample: {self.sample!r} must be a number in [0, 1) (0 turns downsampling off)"
            )
        if self.model not in _MODELS:
            raise ConfigError(f"model: {self.model!r} must be one of {', '.join(_MODELS)}")
        if self.sg not in (0, 1) or isinstance(self.sg, bool):
            raise ConfigError(f"sg: {self.sg!r} must be 1 (skip-gram) or 0 (CBOW)")
        if self.max_n and self.max_n < self.min_n:
            raise ConfigError(
                f"max_n: {self.max_n} must be at least min_n ({self.min_n}), or 0 for no n-grams"
            )
        if not isinstance(self.lowercase, bool):
            raise ConfigError(f"lowercase: {self.lowercase!r} must be true or false")
        if not isinstance(self.output, str | os.PathLike) or not str(self.output):
            raise ConfigError("output: a file path ending in .vec or .npy is required")
        try:
            kind = vectors_format(self.output)
        except ConfigError as exc:
            raise ConfigError(f"output: {exc}") from None
        if kind == "bin":
            raise ConfigError(f"output: {self.output}: cannot write .bin; use .vec or .npy")
        if not isinstance(self.heldout_prefixes, list | tuple) or not all(
            isinstance(prefix, str) and prefix for prefix in self.heldout_prefixes
        ):
            raise ConfigError(
                f"heldout_prefixes: {self.heldout_prefixes!r} must be a list of non-empty strings"
            )
        if not isinstance(self.overwrite, bool):
            raise ConfigError(f"overwrite: {self.overwrite!r} must be true or false")
        path = self.corpus_file()
        check_not_test_set(path, "corpus")
        if self.heldout_prefixes and not _is_tsv(path):
            raise ConfigError(
                f"heldout_prefixes: needs a verse_id<TAB>text corpus (.tsv/.tsv.gz); {path} is plain text"
            )
        if self.heldout_prefixes:  # `jhn.` for `JHN.` would hold nothing out: the test book trained on
            from xling.data.sources import check_prefixes_match

            # read only until every prefix has matched (a prefix of the first book: its first lines)
            ids = (ident for ident, _ in read_id_text_tsv(path))
            check_prefixes_match(ids, self.heldout_prefixes, path, "heldout_prefixes")
        # before training, not after: a folder there, the corpus itself (a .txt corpus is a valid vectors
        # name), an earlier file replaced unasked
        try:
            check_output(self.output, self.overwrite, inputs=[path])
        except XlingError as exc:
            raise ConfigError(f"output: {exc}") from None

    def corpus_file(self) -> Path:
        """Return the file to read: `corpus` itself, or `<corpus>/<language>.tsv[.gz]` for a folder."""
        if not isinstance(self.corpus, str | os.PathLike) or not str(self.corpus):
            raise ConfigError("corpus: a text file, a .tsv/.tsv.gz file or a folder of them is required")
        path = Path(self.corpus)
        if path.is_file():
            return path
        if not path.is_dir():
            raise ConfigError(f"corpus: {path} not found")
        if not self.language:
            raise ConfigError(f"language: needed to pick a file from the corpus folder {path}")
        try:
            corpus = AlignedCorpus.from_dir(path, [self.language])
        except XlingError as exc:
            raise ConfigError(f"language: {exc}") from None
        return corpus.files[corpus.languages[0]]


def _is_tsv(path: Path) -> bool:
    """Return whether `path` is named like a `verse_id<TAB>text` corpus file."""
    return path.name.lower().endswith(_TSV_SUFFIXES)


# --- tokenisation ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _word_pattern() -> re.Pattern[str]:
    """Return the compiled word regex: letters/digits with combining marks, apostrophes inside words."""
    # Python's \w leaves out combining marks (Mn/Mc/Me), which would cut Hindi, Tamil, Thai... words apart.
    ranges = [c for c in range(0x20000) if unicodedata.category(chr(c)).startswith("M")]
    ranges += range(0xE0100, 0xE01F0)  # variation selectors supplement, the only marks above U+1FFFF
    marks = "".join(_class_ranges(ranges))
    # ZWNJ/ZWJ join parts of Persian and Indic words.
    part = f"(?:[^\\W_]|[{marks}\u200c\u200d])+"
    return re.compile(f"{part}(?:['\u2019]{part})*")


def _class_ranges(codes: list[int]) -> Iterator[str]:
    """Return regex character-class ranges (`\\uXXXX-\\uYYYY`) covering the sorted code points `codes`."""
    start = previous = codes[0]
    for code in [*codes[1:], -2]:
        if code != previous + 1:
            yield f"{re.escape(chr(start))}-{re.escape(chr(previous))}"
            start = code
        previous = code


def tokenize_words(text: str, lowercase: bool = True) -> list[str]:
    """Return the words of `text`: Unicode letter/digit runs, keeping apostrophes inside words (don't).

    Punctuation and underscores are dropped; combining marks stay with their letters. Known limit: scripts
    written without spaces (Chinese, Japanese, Thai) come out as whole runs of characters, not words.
    """
    if lowercase:
        text = text.lower()
    return _word_pattern().findall(text)


# --- corpus ------------------------------------------------------------------------------------------


class _Sentences:
    """A restartable iterable over the tokenised sentences of a corpus file; each pass re-reads the file."""

    def __init__(self, path: Path, heldout_prefixes: tuple[str, ...], lowercase: bool):
        self.path, self.heldout, self.lowercase = path, heldout_prefixes, lowercase

    def _texts(self) -> Iterator[str]:
        """Return an iterator over the sentence texts, held-out verses left out."""
        if not _is_tsv(self.path):
            return read_monolingual(self.path)
        rows = read_id_text_tsv(self.path)
        if not self.heldout:
            return (text for _, text in rows)
        return (text for ident, text in rows if not ident.startswith(self.heldout))

    def __iter__(self) -> Iterator[list[str]]:
        """Return a fresh pass over the sentences as word lists, a line longer than MAX_SENTENCE_WORDS in
        pieces of that many; sentences without words are skipped."""
        for text in self._texts():
            words = tokenize_words(text, self.lowercase)
            for start in range(0, len(words), MAX_SENTENCE_WORDS):
                yield words[start : start + MAX_SENTENCE_WORDS]


# --- training ----------------------------------------------------------------------------------------


def _threads(requested: int) -> int:
    """Return the number of worker threads: `requested`, or every usable core when it is 0."""
    if requested:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _build_model(config: VectorsTrainConfig) -> Any:
    """Return an untrained gensim FastText or Word2Vec model set up from `config`."""
    from gensim.models import FastText, Word2Vec

    common = {
        "vector_size": config.dim,
        "window": config.window,
        "min_count": config.min_count,
        "sg": config.sg,
        "negative": config.negative,
        "sample": config.sample,
        "epochs": config.epochs,
        "workers": _threads(config.threads),
        "seed": config.seed,
        "sorted_vocab": 1,
    }
    if config.model == "fasttext":
        return FastText(min_n=config.min_n, max_n=config.max_n, bucket=config.buckets, **common)
    return Word2Vec(**common)


def _count_words(sentences: Iterable[list[str]]) -> tuple[Counter[str], int, int, list[list[str]] | None]:
    """Return each word's count (in order of first appearance), the number of sentences and of words, and
    the sentences themselves while they total at most IN_MEMORY_WORDS words (else None)."""
    counts: Counter[str] = Counter()
    corpus_count = total_words = 0
    kept: list[list[str]] | None = []
    one_copy: dict[str, str] = {}  # each distinct word stored once, not once per occurrence
    for words in sentences:
        counts.update(words)
        corpus_count += 1
        total_words += len(words)
        if kept is not None:
            kept.append([one_copy.setdefault(word, word) for word in words])
            if total_words > IN_MEMORY_WORDS:
                kept = None
    return counts, corpus_count, total_words, kept


def _top_words(counts: Counter[str], min_count: int, max_vocab: int) -> dict[str, int]:
    """Return the `max_vocab` most frequent words seen at least `min_count` times, with their counts.

    Exactly `max_vocab` when enough words are frequent enough: words tied at the cut are taken in order of
    first appearance. The words keep the order of `counts`.
    """
    frequent = [(word, count) for word, count in counts.items() if count >= min_count]
    # sorted() is stable: among equal counts, the word seen first stays first
    kept = {word for word, _ in sorted(frequent, key=lambda item: -item[1])[:max_vocab]}
    return {word: count for word, count in frequent if word in kept}


def train_vectors(config: VectorsTrainConfig, progress: bool = False) -> WordVectors:
    """Return word vectors trained on `config.corpus`, most frequent word first, after saving them to `output`.

    Raises ConfigError for a bad field and DataError for a bad corpus or one with no word seen `min_count`
    times. With `progress`, a rich progress line shows the epochs; nothing is printed otherwise.
    """
    config.validate()
    path = config.corpus_file()
    sentences = _Sentences(path, tuple(config.heldout_prefixes), config.lowercase)
    model = _build_model(config)
    with _Progress(config.epochs, progress) as bar:
        bar.status("counting words")
        counts, corpus_count, total_words, in_memory = _count_words(sentences)
        # gensim's max_final_vocab raises min_count past the count of the max_vocab-th word, dropping every
        # word tied with it: the vocabulary is chosen here and handed to gensim as counts instead
        model.build_vocab_from_freq(_top_words(counts, config.min_count, config.max_vocab),
                                    corpus_count=corpus_count)  # fmt: skip
        # as build_vocab sets it, from its own pass over the corpus (replaced by the one above)
        model.corpus_total_words = total_words
        if corpus_count == 0:
            held = (
                f" once heldout_prefixes {config.heldout_prefixes} are left out"
                if config.heldout_prefixes
                else ""
            )
            raise DataError(f"no sentence with a word{held}", path)
        if len(model.wv) == 0:
            raise DataError(f"no word occurs at least min_count={config.min_count} times", path)
        bar.status(f"training {config.model} on {len(model.wv):,} words")
        model.train(
            corpus_iterable=sentences if in_memory is None else in_memory,
            total_examples=model.corpus_count,
            epochs=config.epochs,
            callbacks=[bar.callback()],
        )
    # most frequent first, ties in order of first appearance, as _top_words cut them (gensim's own order
    # puts the later of tied words first: a file cut to its first N words kept other words than max_vocab N)
    seen = {word: i for i, word in enumerate(counts)}
    words = sorted(model.wv.index_to_key, key=lambda word: (-counts[word], seen[word]))
    matrix = np.array(model.wv.vectors[[model.wv.key_to_index[word] for word in words]], dtype=np.float32)
    vectors = WordVectors(words, matrix, str(config.output))
    save_vectors(vectors, config.output)
    return vectors


class _Progress:
    """A rich progress line over training epochs, or nothing when not shown."""

    def __init__(self, epochs: int, show: bool):
        self.epochs, self.show = epochs, show
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> _Progress:
        if self.show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("epochs"),
                TimeElapsedColumn(),
                transient=True,
                console=Console(stderr=True),  # stdout may be the data (a pipe)
            )
            self.bar.start()
            self.task = self.bar.add_task("vectors", total=self.epochs)
        return self

    def status(self, text: str) -> None:
        """Return nothing; show `text` as the line's description."""
        if self.bar is not None:
            self.bar.update(self.task, description=text)

    def callback(self) -> Any:
        """Return a gensim callback that advances the bar at the end of each epoch."""
        from gensim.models.callbacks import CallbackAny2Vec

        progress = self

        class _EpochEnd(CallbackAny2Vec):
            def on_epoch_end(self, model: Any) -> None:
                """Return nothing; one more epoch is done."""
                if progress.bar is not None:
                    progress.bar.advance(progress.task)

        return _EpochEnd()

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
