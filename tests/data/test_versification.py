"""Tests for xling.data.versification: chapters whose verses, joined on their ids, are not translations."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from xling.data import versification
from xling.data.versification import chapters_apart, last_verses, numbered_apart, same_numbering

WORDS = ["and", "the", "lord", "said", "unto", "them", "behold", "my", "people", "shall", "go", "out",
         "of", "land", "in", "peace", "for", "ever"]  # fmt: skip


def verse(rng: random.Random, length: int) -> str:
    """Return a made-up verse of about `length` characters."""
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def translate(rng: random.Random, text: str, ratio: float = 1.15) -> str:
    """Return a made-up translation of `text`: its length times `ratio`, give or take 10%."""
    return verse(rng, round(len(text) * ratio * rng.uniform(0.9, 1.1)))


def bible(shifted: dict[str, int], seed: int = 0, books: int = 30) -> tuple[dict[str, str], dict[str, str]]:
    """Return (ours, theirs): `books` chapters of 12 verses numbered alike (GEN.1 ...), and each chapter of
    `shifted` ({chapter: its number of verses}) numbered as a title-as-verse-1 Bible mapped onto the KJV's
    numbering: their verse 1 is a short title, their verse v + 1 translates our verse v, and their last verse
    our last two (both end on the same verse)."""
    rng = random.Random(seed)
    ours: dict[str, str] = {}
    theirs: dict[str, str] = {}
    for chapter in range(1, books + 1):
        for v in range(1, 13):
            ours[f"GEN.{chapter}.{v}"] = verse(rng, rng.randint(30, 250))
            theirs[f"GEN.{chapter}.{v}"] = translate(rng, ours[f"GEN.{chapter}.{v}"])
    for chapter, n in shifted.items():
        lengths = [rng.choice((40, 70, 120, 200, 260)) for _ in range(n)]
        mine = [verse(rng, length) for length in lengths]
        ours |= {f"{chapter}.{v}": text for v, text in enumerate(mine, 1)}
        theirs[f"{chapter}.1"] = "A psalm of David."
        theirs |= {f"{chapter}.{v + 1}": translate(rng, text) for v, text in enumerate(mine[: n - 2], 1)}
        theirs[f"{chapter}.{n}"] = translate(rng, mine[-2] + " " + mine[-1])
    return ours, theirs


def kept_chapters(ours: dict[str, str], theirs: dict[str, str], **options) -> set[str]:
    shared = [sid for sid in ours if sid in theirs]
    kept = same_numbering(shared, last_verses(ours), last_verses(theirs), "eng-nld", **options)
    return {sid.rpartition(".")[0] for sid in kept}


def test_a_chapter_numbered_one_verse_apart_with_the_same_last_verse_is_left_out_given_the_texts(caplog):
    """A psalm's title as verse 1 and its last two verses merged: it ends on the same verse as the KJV's,
    yet every verse pairs with its neighbour's translation. Verse lengths show it."""
    ours, theirs = bible({"PSA.3": 8})
    assert last_verses(ours)["PSA.3"] == last_verses(theirs)["PSA.3"] == 8
    every = {sid.rpartition(".")[0] for sid in ours}
    assert (
        kept_chapters(ours, theirs) == every
    )  # the last verse alone cannot tell (and without texts, as before)
    with caplog.at_level("INFO", logger="xling.data.versification"):
        assert kept_chapters(ours, theirs, texts=(ours, theirs)) == every - {"PSA.3"}
    assert "eng-nld: left out 8 verse pairs in 1 chapters" in caplog.text
    # the other way round (our verse 1 is the title) alike
    assert kept_chapters(theirs, ours, texts=(theirs, ours)) == every - {"PSA.3"}
    assert versification.shifted_chapters(ours, theirs, last_verses(ours), last_verses(theirs)) == {"PSA.3"}


def test_chapters_numbered_alike_are_kept_whatever_their_verse_lengths(monkeypatch):
    """Translations whose lengths vary are kept; so are chapters whose lengths cannot tell: verses of like
    length (a pairing one apart may fit better by a hair) and chapters of fewer than 5 verses."""
    ours, theirs = bible({}, seed=1, books=60)
    rng = random.Random(5)
    for v, length in enumerate((80, 84) * 4, 1):  # theirs fit ours one verse later, by a hair
        ours[f"JOB.17.{v}"] = "j" * length
        theirs[f"JOB.17.{v + 1}"] = "k" * round(length * 1.15)
    theirs["JOB.17.1"], ours["JOB.17.9"] = "k" * 92, "j" * 80
    for v, length in enumerate((40, 200, 60, 150), 1):  # four verses whose lengths fit one apart by chance
        ours[f"PSA.133.{v}"] = verse(rng, length)
    for v, length in enumerate((50, 46, 230, 69), 1):
        theirs[f"PSA.133.{v}"] = verse(rng, length)
    every = {sid.rpartition(".")[0] for sid in ours}
    assert kept_chapters(ours, theirs, texts=(ours, theirs)) == every
    assert kept_chapters(ours, dict(ours), texts=(ours, dict(ours))) == every  # one text against itself
    # what keeps them: their own fit is no worse than any pair's; too few verses
    monkeypatch.setattr(versification, "SHIFT_MISFIT", 0.0)
    monkeypatch.setattr(versification, "MIN_SHIFT_PAIRS", 3)
    assert kept_chapters(ours, theirs, texts=(ours, theirs)) == every - {"JOB.17", "PSA.133"}


def test_a_chapter_already_numbered_apart_or_ending_apart_is_not_tested():
    ours, theirs = bible({"PSA.3": 8, "PSA.4": 8})
    del theirs["PSA.4.8"]
    found = versification.shifted_chapters(
        ours, theirs, last_verses(ours), last_verses(theirs), apart={"PSA.3"}
    )
    assert found == frozenset()


def test_when_enough_titled_psalms_are_one_verse_apart_every_titled_psalm_is_left_out():
    """A Bible that counts psalm titles as verses under a KJV label: some titled psalms have verses of like
    length and fit any pairing; once TITLED_SHIFTS of them show the shift, all of them are left out."""
    titled = ["PSA.3", "PSA.4", "PSA.5", "PSA.6", "PSA.7"]
    ours, theirs = bible(dict.fromkeys(titled, 10), seed=2)
    rng = random.Random(7)
    for chapter in ("PSA.8", "PSA.2"):  # titled (its shift hidden by verses of like length) and untitled
        ours |= {f"{chapter}.{v}": verse(rng, 90) for v in range(1, 10)}
        theirs |= {f"{chapter}.{v}": translate(rng, ours[f"{chapter}.{v}"]) for v in range(1, 10)}
    assert {"PSA.3", "PSA.8"} <= versification.TITLED_PSALMS and "PSA.2" not in versification.TITLED_PSALMS
    last_ours, last_theirs = last_verses(ours), last_verses(theirs)
    assert versification.shifted_chapters(ours, theirs, last_ours, last_theirs) == {*titled, "PSA.8"}
    # four shifted titled psalms are no evidence about the others
    fewer = {sid: text for sid, text in theirs.items() if not sid.startswith("PSA.7.")}
    assert versification.shifted_chapters(ours, fewer, last_ours, last_verses(fewer)) == set(titled) - {
        "PSA.7"
    }


def early_start(ours: dict[str, str], theirs: dict[str, str], seed: int, begins_early: bool = True) -> None:
    """Add HOS.13 (our 16 verses, their 15) and HOS.14 (9 verses of like length) to `ours` and `theirs`: with
    `begins_early`, their HOS.14.1 translates our HOS.13.16, their v + 1 our v and their 9 our 8-9 (swe's
    numbering against the KJV's); else their HOS.13.15 translates our 15-16 and HOS.14 is numbered alike."""
    rng = random.Random(seed)
    for v in range(1, 17):
        ours[f"HOS.13.{v}"] = verse(rng, rng.randint(30, 250))
        theirs[f"HOS.13.{v}"] = translate(rng, ours[f"HOS.13.{v}"])
    mine = [verse(rng, length) for length in (80, 80, 80, 80, 100, 120, 120, 100, 100)]
    ours |= {f"HOS.14.{v}": text for v, text in enumerate(mine, 1)}
    del theirs["HOS.13.16"]
    if begins_early:
        theirs["HOS.14.1"] = translate(rng, ours["HOS.13.16"])
        theirs |= {f"HOS.14.{v + 1}": translate(rng, text) for v, text in enumerate(mine[:7], 1)}
        theirs["HOS.14.9"] = translate(rng, mine[7] + " " + mine[8])
    else:
        theirs["HOS.13.15"] = translate(rng, ours["HOS.13.15"] + " " + ours["HOS.13.16"])
        theirs |= {f"HOS.14.{v}": translate(rng, text) for v, text in enumerate(mine, 1)}


def test_a_chapter_that_begins_early_after_a_chapter_that_ends_early_is_left_out():
    """swe's HOS.13 ends a verse before the KJV's and its HOS.14 begins a verse early, merging its last two
    verses: both end on verse 9. Its verses, of like length, fit one apart too little for `SHIFT_RATIO`; the
    chapter before ending apart shows which way, and the verse it lost is HOS.14's first."""
    ours, theirs = bible({}, seed=0)
    early_start(ours, theirs, seed=6)
    last_ours, last_theirs = last_verses(ours), last_verses(theirs)
    assert (last_ours["HOS.13"], last_theirs["HOS.13"]) == (16, 15)
    assert last_ours["HOS.14"] == last_theirs["HOS.14"] == 9
    assert versification.shifted_chapters(ours, theirs, last_ours, last_theirs) == {"HOS.14"}
    assert versification.shifted_chapters(theirs, ours, last_theirs, last_ours) == {"HOS.14"}  # either side
    every = {sid.rpartition(".")[0] for sid in ours}
    assert kept_chapters(ours, theirs, texts=(ours, theirs)) == every - {"HOS.13", "HOS.14"}
    # the chapter before ending apart alone is no evidence: here HOS.13 merged its last two verses
    ours, theirs = bible({}, seed=0)
    early_start(ours, theirs, seed=6, begins_early=False)
    assert versification.shifted_chapters(ours, theirs, last_verses(ours), last_verses(theirs)) == frozenset()
    assert kept_chapters(ours, theirs, texts=(ours, theirs)) == every - {"HOS.13"}


def test_numbered_apart_drops_the_links_of_a_chapter_one_verse_apart_from_the_reference():
    ours, theirs = bible({"PSA.3": 8})
    ids = list(theirs)
    args = ("nld", ids, last_verses(theirs), "eng", last_verses(ours))
    assert numbered_apart(*args) == set()
    assert numbered_apart(*args, texts=(theirs, ours)) == {f"PSA.3.{v}" for v in range(1, 9)}
    assert numbered_apart("eng", list(ours), *args[2:], texts=(ours, ours)) == set()


def test_schemes_that_count_psalm_titles_as_verses_number_the_titled_psalms_apart_from_the_kjv():
    """Luther's Psalm 13 counts its title as verse 1 and ends on verse 6 as the NRSV's does."""
    assert {"PSA.3", "PSA.13", "PSA.51"} <= chapters_apart("Luther", "NRSV") == versification.TITLED_PSALMS
    assert (
        chapters_apart("NRSV", "Leningrad") == chapters_apart("KJV", "German") == versification.TITLED_PSALMS
    )
    assert chapters_apart("Luther", "German") == chapters_apart("KJV", "NRSV") == frozenset()
    assert chapters_apart("Catholic", "") == frozenset()  # a scheme unknown
    greek = chapters_apart("Synodal", "NRSV")  # Greek numbering and titles as verses
    assert {"PSA.3", "PSA.10", "PSA.62", "PSA.147"} <= greek and not {"PSA.2", "PSA.148"} & greek
    assert chapters_apart("Synodal", "Luther") == {f"PSA.{n}" for n in range(9, 148)}


# --- the real Bible corpus (skipped when the shared data is absent) -----------------------------------


def shared_bible() -> Path:
    """Return the shared Bible folder: $XLING_DATA/bible, else shared/data/bible next to the repository."""
    if env := os.environ.get("XLING_DATA"):
        return Path(env) / "bible"
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "bible"


BIBLE = shared_bible()


@pytest.mark.skipif(not (BIBLE / "nld.tsv.gz").is_file(), reason=f"Bible corpus not found at {BIBLE}")
def test_real_bible_psalms_numbered_one_verse_apart_are_left_out_and_clean_pairs_keep_every_chapter():
    from xling.data.readers import AlignedCorpus

    corpus = AlignedCorpus.from_dir(BIBLE, ["eng", "nld", "por"])
    schemes = corpus.versification()
    texts = {lang: dict(corpus.sentences(lang)) for lang in corpus.languages}
    last = {lang: last_verses(rows) for lang, rows in texts.items()}

    def left_out(lang: str) -> set[str]:
        eng, other = texts["eng"], texts[lang]
        shared = [sid for sid in eng if sid in other]
        apart = chapters_apart(schemes.get("eng", ""), schemes.get(lang, ""))
        before = same_numbering(shared, last["eng"], last[lang], "x", apart=apart)
        after = same_numbering(shared, last["eng"], last[lang], "x", apart=apart, texts=(eng, other))
        return {sid.rpartition(".")[0] for sid in set(before) - set(after)}

    nld = left_out("nld")
    assert {"PSA.3", "PSA.12", "PSA.13", "PSA.18"} <= nld and len(nld) > 50
    assert left_out("por") == set()


@pytest.mark.skipif(not (BIBLE / "swe.tsv.gz").is_file(), reason=f"Bible corpus not found at {BIBLE}")
def test_real_bible_chapters_that_begin_early_after_one_that_ends_early_are_left_out():
    """swe's HOS.14.1 is the KJV's HOS.13.16 and dan's NAM.2.1 its NAM.1.15, though both chapters end on the
    same verse; REV.13 and ACT.20 follow a chapter that ends apart (REV.12.18, ACT.19.41) yet begin alike."""
    from xling.data.readers import AlignedCorpus

    corpus = AlignedCorpus.from_dir(BIBLE, ["eng", "swe", "dan"])
    texts = {lang: dict(corpus.sentences(lang)) for lang in corpus.languages}
    last = {lang: last_verses(rows) for lang, rows in texts.items()}
    assert texts["swe"]["HOS.14.1"].startswith("Samarien")  # the KJV's HOS.13.16
    for lang, chapter in (("swe", "HOS.14"), ("dan", "NAM.2")):
        found = versification.shifted_chapters(texts["eng"], texts[lang], last["eng"], last[lang])
        assert chapter in found and not {"REV.13", "ACT.20"} & found
        assert last["eng"][chapter] == last[lang][chapter]
