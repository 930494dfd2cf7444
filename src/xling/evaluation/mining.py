"""A BUCC-style bitext mining test built from the parallel Bible: find the translations among distractors.

The gold pairs are the verses of a held-out book (John by default) present in both languages, in chapters
both number alike (xling.data.versification, as the training bank: cmn numbers a chapter of John otherwise
than eng, the Synodal and Vulgate schemes most psalms; those verses are left out of the test). Each side
also gets non-parallel distractor verses from the other books. Distractor books are split at random between
the two sides, so no distractor has its translation on the other side: not where two Bibles number a
book's chapters differently (Joel 3 of one is Joel 4 of the other), and not between books that tell the
same passages (PARALLEL_BOOKS: Samuel, Kings and Chronicles with the passages prophets and psalms share
with them and the genealogies of Genesis and Ruth; Ezra and Nehemiah; the law's four books; the synoptic
gospels; 2 Peter and Jude), which go to one side together; the held-out book's own parallels are left out.
Shorter shared quotations (a verse of the law quoted in Matthew) can still stand on both sides. Both sides
are shuffled. Mining is scored with BUCC's measures: precision, recall and F1 of the mined pairs against the
gold pairs, at the score threshold that gives the best F1. That threshold is chosen on this test's own gold
pairs (an oracle: BUCC's protocol, as LASER's `bucc.py`, fits it on training gold and applies it to the
test), so the figure is an upper bound, comparable between models, not a mining run's expected F1.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from xling.data.languages import normalize_language
from xling.data.readers import AlignedCorpus
from xling.data.root import bible_folder
from xling.data.versification import chapters_apart, last_verses, same_numbering
from xling.embeddings.protocol import TextEncoder
from xling.errors import ConfigError, DataError
from xling.evaluation.result import Result
from xling.retrieval.mining import MineConfig, MinedPair, encode_texts, mine_embeddings

__all__ = [
    "DEFAULT_DISTRACTORS",
    "MiningEvalConfig",
    "MiningScore",
    "MiningTest",
    "best_f1",
    "bible_folder",
    "build_mining_test",
    "build_mining_tests",
    "evaluate_mining",
    "evaluate_mining_from_config",
]

# Distractors per side when none are asked for: about 6x John's 879 verses, which a CPU encodes in
# minutes. Fewer are used when a language has fewer verses outside the held-out book (New Testaments).
DEFAULT_DISTRACTORS = 5000
# books that share passages word for word, kept on one side of a mining test (USFM codes)
PARALLEL_BOOKS = (
    # Samuel-Kings-Chronicles and the passages the prophets and psalms share with them (Isaiah 36-39, Micah
    # 4 as Isaiah 2, Jeremiah 52, Obadiah as Jeremiah 49, Psalm 18), the genealogies, Ezra-Nehemiah
    frozenset({"GEN", "RUT", "1SA", "2SA", "1KI", "2KI", "1CH", "2CH", "ISA", "MIC", "JER", "OBA", "PSA", "EZR",
               "NEH"}),
    frozenset({"EXO", "LEV", "NUM", "DEU"}),  # the law told twice (the commandments: Exodus 20, Deuteronomy 5)
    frozenset({"MAT", "MRK", "LUK"}),  # the synoptic gospels
    frozenset({"2PE", "JUD"}),
)  # fmt: skip


@dataclass(frozen=True)
class MiningTest:
    """Two shuffled sides of sentences and the gold (src index, tgt index) pairs among them."""

    src_lang: str
    tgt_lang: str
    book: str
    data: str
    src: list[str]
    tgt: list[str]
    gold: frozenset[tuple[int, int]]
    src_ids: list[str] = field(repr=False)
    tgt_ids: list[str] = field(repr=False)

    @property
    def pair(self) -> str:
        """Return the `<src>-<tgt>` key this test is reported under."""
        return f"{self.src_lang}-{self.tgt_lang}"


def _book(verse_id: str) -> str:
    """Return the book code of a `BOOK.chapter.verse` id."""
    return verse_id.split(".", 1)[0]


def _chapter(verse_id: str) -> str:
    """Return the `BOOK.chapter` part of a `BOOK.chapter.verse` id."""
    return verse_id.rsplit(".", 1)[0]


def build_mining_test(
    bible_dir: str | os.PathLike[str],
    src_lang: str,
    tgt_lang: str,
    book: str = "JHN",
    n_distractors: int | None = None,
    seed: int = 0,
) -> MiningTest:
    """Return a mining test: `book`'s verses in both languages among distractor verses of other books.

    `n_distractors` verses are added to each side (None: up to DEFAULT_DISTRACTORS, as many as both
    languages have); asking for more than the languages have is a DataError.
    """
    if not isinstance(book, str) or not book or "." in book:
        raise ConfigError(f"mining test: book must be a book code such as 'JHN', got {book!r}")
    if n_distractors is not None and (
        not isinstance(n_distractors, int) or isinstance(n_distractors, bool) or n_distractors < 0
    ):
        raise ConfigError(f"mining test: n_distractors must be a non-negative integer, got {n_distractors!r}")
    src_code, tgt_code = normalize_language(src_lang), normalize_language(tgt_lang)
    if src_code == tgt_code:
        raise ConfigError(f"mining test: source and target are the same language ({src_code})")
    corpus = AlignedCorpus.from_dir(bible_dir, [src_code, tgt_code])
    kept = corpus.code(src_code)
    if kept == corpus.code(tgt_code):  # two codes of one file (zho and cmn: cmn.tsv), mined against itself
        raise ConfigError(f"mining test: source and target are the same language ({src_code} and {tgt_code} "
                          f"both read the {kept} file)")  # fmt: skip
    src_rows = dict(corpus.sentences(src_code))
    tgt_rows = dict(corpus.sentences(tgt_code))
    shared = [i for i in src_rows if _book(i) == book and i in tgt_rows]
    if not shared:
        raise DataError(f"book {book} has no verse in both {src_code} and {tgt_code}", corpus.root)
    gold_ids = _same_numbering(corpus, src_code, tgt_code, src_rows, tgt_rows, shared)
    if not gold_ids:
        raise DataError(f"book {book}: its {len(shared)} verses in both {src_code} and {tgt_code} sit in chapters "
                        "numbered otherwise in one of them (xling.data.versification): no gold pair is left",
                        corpus.root)  # fmt: skip

    rng = np.random.default_rng(seed)
    src_pool, tgt_pool = _split_books(src_rows, tgt_rows, book, rng)
    n = min(DEFAULT_DISTRACTORS, len(src_pool), len(tgt_pool)) if n_distractors is None else n_distractors
    if n > min(len(src_pool), len(tgt_pool)):
        raise DataError(
            f"{n} distractors per side asked for, but the books drawn for each side hold only "
            f"{len(src_pool)} ({src_code}) and {len(tgt_pool)} ({tgt_code}) verses outside {book}",
            corpus.root,
        )
    src_ids = gold_ids + [src_pool[i] for i in sorted(rng.choice(len(src_pool), n, replace=False))]
    tgt_ids = gold_ids + [tgt_pool[i] for i in sorted(rng.choice(len(tgt_pool), n, replace=False))]
    src_order = rng.permutation(len(src_ids))
    tgt_order = rng.permutation(len(tgt_ids))
    src_ids = [src_ids[i] for i in src_order]
    tgt_ids = [tgt_ids[i] for i in tgt_order]
    # gold verse g sits at src position where src_order == g, tgt alike (the first len(gold_ids) entries)
    src_position = np.argsort(src_order)[: len(gold_ids)]
    tgt_position = np.argsort(tgt_order)[: len(gold_ids)]
    return MiningTest(
        src_lang=src_code,
        tgt_lang=tgt_code,
        book=book,
        data=str(corpus.root),
        src=[src_rows[i] for i in src_ids],
        tgt=[tgt_rows[i] for i in tgt_ids],
        gold=frozenset(zip(src_position.tolist(), tgt_position.tolist(), strict=True)),
        src_ids=src_ids,
        tgt_ids=tgt_ids,
    )


def _same_numbering(corpus: AlignedCorpus, src_code: str, tgt_code: str, src_rows: dict[str, str],
                    tgt_rows: dict[str, str], shared: list[str]) -> list[str]:  # fmt: skip
    """Return the ids of `shared` whose chapter both languages number alike, as the training bank keeps them
    (xling.data.versification: the same last verse, and not psalms that the two schemes number apart); the
    count left out is logged. Joined on their id, the verses of a chapter numbered otherwise are not
    translations of each other (Russian `PSA.23.1` is Psalm 24's first verse), so they make no gold pair."""
    src_scheme, tgt_scheme = corpus.schemes_of(src_code, tgt_code)
    return same_numbering(shared, last_verses(src_rows), last_verses(tgt_rows), f"{src_code}-{tgt_code}",
                          "gold pairs", chapters_apart(src_scheme, tgt_scheme), texts=(src_rows, tgt_rows))  # fmt: skip


def _split_books(
    src_rows: dict[str, str], tgt_rows: dict[str, str], book: str, rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """Return (src verse ids, tgt verse ids) outside `book`, from books assigned to one side each (the books
    of a PARALLEL_BOOKS group together; chapters, where a small corpus has one other book): in a random
    order, each to the side with fewer verses so far, so that both sides get about half."""
    # the held-out book's parallels are no distractors on either side: they retell the gold verses
    kin = next((group for group in PARALLEL_BOOKS if book in group), frozenset({book}))
    src_rows = {i: text for i, text in src_rows.items() if _book(i) == book or _book(i) not in kin}
    tgt_rows = {i: text for i, text in tgt_rows.items() if _book(i) == book or _book(i) not in kin}
    books = sorted({_book(i) for i in (*src_rows, *tgt_rows) if _book(i) != book})
    unit = {name: min(next((group for group in PARALLEL_BOOKS if name in group), {name})) for name in books}
    if len(set(unit.values())) < 2:  # one other book (a small test corpus): its chapters are the units
        unit = {}
    units = sorted(set(unit.values())) or sorted(
        {_chapter(i) for i in (*src_rows, *tgt_rows) if _book(i) != book}
    )
    unit_of = (lambda ident: unit[_book(ident)]) if unit else _chapter
    # each side's own language's verses (a language may lack books)
    sizes = {name: [0, 0] for name in units}  # per unit: tgt verses, src verses
    for side, rows in ((0, tgt_rows), (1, src_rows)):
        for ident in rows:
            if _book(ident) != book:
                sizes[unit_of(ident)][side] += 1
    to_src: dict[str, bool] = {}
    filled = [0, 0]
    for index in rng.permutation(len(units)).tolist():
        side = int(filled[1] < filled[0]) if filled[0] != filled[1] else int(rng.random() < 0.5)
        to_src[units[index]] = bool(side)
        filled[side] += sizes[units[index]][side]
    src_pool = [i for i in src_rows if _book(i) != book and to_src[unit_of(i)]]
    tgt_pool = [i for i in tgt_rows if _book(i) != book and not to_src[unit_of(i)]]
    return src_pool, tgt_pool


@dataclass(frozen=True)
class MiningScore:
    """Best-F1 operating point of one language pair, and the counts behind it."""

    precision: float
    recall: float
    f1: float
    threshold: float | None
    gold: int
    mined: int
    correct: int
    candidates: int
    sentences: tuple[int, int]

    def to_dict(self) -> dict[str, Any]:
        """Return the score as a JSON-ready dict."""
        values = asdict(self)
        values["sentences"] = list(self.sentences)
        return values


def best_f1(
    pairs: Sequence[MinedPair], gold: frozenset[tuple[int, int]], sentences: tuple[int, int]
) -> MiningScore:
    """Return the precision, recall and F1 at the score threshold that maximises F1 over `pairs`.

    Every distinct score of `pairs` is tried as a threshold (keep pairs with score >= it); pairs with
    equal scores are kept or dropped together. With no correct pair, F1 is 0 and the threshold None.
    """
    ordered = sorted(pairs, key=lambda p: -p.score)
    if not ordered or not gold:
        return MiningScore(0.0, 0.0, 0.0, None, len(gold), 0, 0, len(ordered), sentences)
    scores = np.array([p.score for p in ordered], dtype=np.float64)
    correct = np.cumsum([(p.src_index, p.tgt_index) in gold for p in ordered])
    kept = np.arange(1, len(ordered) + 1)
    cuts = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))  # last pair of each tie group
    precision = correct[cuts] / kept[cuts]
    recall = correct[cuts] / len(gold)
    with np.errstate(invalid="ignore"):
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    best = int(np.argmax(f1))  # first maximum: the highest threshold reaching it
    if f1[best] == 0:
        return MiningScore(0.0, 0.0, 0.0, None, len(gold), 0, 0, len(ordered), sentences)
    cut = cuts[best]
    return MiningScore(
        precision=float(precision[best]),
        recall=float(recall[best]),
        f1=float(f1[best]),
        threshold=float(scores[cut]),
        gold=len(gold),
        mined=int(kept[cut]),
        correct=int(correct[cut]),
        candidates=len(ordered),
        sentences=sentences,
    )


@dataclass
class MiningEvalConfig:
    """Settings of `xling eval mining`: which Bible, which languages, which book is hidden."""

    model: str = "xling-mini"
    """Encoder folder, shipped name or Hub id."""
    data: str = ""
    """Folder holding bible/ (or the Bible TSVs themselves); "": $XLING_DATA, else ../shared/data."""
    languages: list[str] = field(default_factory=lambda: ["deu", "fra", "rus", "cmn"])
    """Languages mined against `pivot`, one test each."""
    pivot: str = "eng"
    """The other side of every test."""
    book: str = "JHN"
    """Held-out book whose verses are the true pairs (John: held out of xling-mini's training)."""
    distractors: int | None = None
    """Non-parallel verses added to each side (None: up to DEFAULT_DISTRACTORS, as many as both have)."""
    seed: int = 0
    """Seed of the distractor draw and the shuffles."""

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the first bad field."""
        if not self.languages:
            raise ConfigError("languages: name at least one language to mine against the pivot")
        if not isinstance(self.book, str) or not self.book or "." in self.book:
            raise ConfigError(f"book: must be a book code such as 'JHN', got {self.book!r}")
        if self.distractors is not None and (
            isinstance(self.distractors, bool)
            or not isinstance(self.distractors, int)
            or self.distractors < 0
        ):
            raise ConfigError(
                f"distractors: must be a non-negative integer or None, got {self.distractors!r}"
            )


def build_mining_tests(config: MiningEvalConfig) -> list[MiningTest]:
    """Return one mining test per language of `config`, each against its pivot, from its data root."""
    config.validate()
    bible = bible_folder(config.data)
    return [build_mining_test(bible, lang, config.pivot, book=config.book, n_distractors=config.distractors,
                              seed=config.seed) for lang in config.languages]  # fmt: skip


def evaluate_mining_from_config(encoder: TextEncoder, config: MiningEvalConfig) -> Result:
    """Return `evaluate_mining` on the tests `config` describes (`xling eval mining`)."""
    return evaluate_mining(encoder, build_mining_tests(config))


def evaluate_mining(
    encoder: TextEncoder, test: MiningTest | Sequence[MiningTest], config: MineConfig | None = None
) -> Result:
    """Return the best-F1 mining scores of `encoder` on one test or several (one row per pair).

    Pairs are mined with `config`'s k, margin, mode and index but no threshold: the threshold is the one
    that gives the best F1 on this test's gold pairs (an upper bound, see the module docstring). Rows hold
    MiningScore's fields (fractions, not percent); the primary metric is f1 and `average` its mean over the
    pairs.
    """
    config = replace(config or MineConfig(), threshold=None)
    tests = [test] if isinstance(test, MiningTest) else list(test)
    start = time.perf_counter()
    scores: dict[str, dict[str, Any]] = {}
    # each distinct text once: the tests share their pivot side (four tests against English held 23,463
    # English texts, 5,857 of them distinct)
    texts = list(dict.fromkeys(text for item in tests for side in (item.src, item.tgt) for text in side))
    vectors = encode_texts(encoder, texts, config.batch_size) if texts else np.zeros((0, 0), np.float32)
    row = {text: i for i, text in enumerate(texts)}
    for item in tests:
        src, tgt = (vectors[[row[text] for text in side]] for side in (item.src, item.tgt))
        pairs = mine_embeddings(src, tgt, config)
        scores[item.pair] = best_f1(pairs, item.gold, (len(item.src), len(item.tgt))).to_dict()
    data = sorted({f"{Path(item.data)} ({item.book})" for item in tests})
    setup = {key: value for key, value in asdict(config).items() if key in ("k", "margin", "mode", "index")}
    average = float(np.mean([row["f1"] for row in scores.values()])) if scores else 0.0
    return Result(task="mining", model=str(getattr(encoder, "name", "?")), data=", ".join(data), scores=scores,
                  average=average, primary="f1", settings=setup,
                  seconds=round(time.perf_counter() - start, 3))  # fmt: skip
