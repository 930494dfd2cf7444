"""Versification: which Bible verses joined on their id really translate each other.

Bible translations number some chapters differently: German and French count a psalm's title as verse 1;
Russian and Ukrainian (the Synodal scheme) and Latin (the Vulgate) shift most psalms by one, so `PSA.23.1` in
Russian is Psalm 24's first verse; the Synodal scheme also splits Exodus 22 elsewhere. Joined on ids, such a
chapter pairs verses that are not translations of each other. Every stage that joins verses on ids
(translation pairs, sentence alignment units, TLM units) keeps a chapter only where its last verse number is
the same on both sides (a verse one side leaves out does not move the others); ids not of the form
`BOOK.chapter.verse` are kept.

The last verse alone misses shifted psalms of equal length: Synodal Psalm 62 is the KJV's Psalm 63, and both
end at verse 12. Where the corpus names each language's scheme (`languages.tsv`'s versification column, as
the shared Bible's), psalms 9-147 are left out between a scheme of the Greek numbering and one of the Hebrew
(`chapters_apart`). Checked against CrossWire JSword's maps
(`src/main/resources/org/crosswire/jsword/versification/Synodal.properties`): of the 13 psalms eng-rus kept
on last verses alone, the 8 left out this way are exactly the shifted ones. The psalms whose title the Hebrew
numbering counts as a verse of its own (`TITLED_PSALMS`) are left out between a scheme that counts titles as
verses and one that does not.

Scheme names do not tell every numbering: several Bibles labelled KJV or NRSV (the shared nld, swe, pol, dan,
nob, hat) count a psalm's title as verse 1 and merge its last two verses, so the chapter ends on the same verse
and every verse pairs with its neighbour's translation; a few other chapters begin a verse early or late (NUM.13
in spa; ECC.2, HOS.14 and ISA.3 in hun). Where the texts are at hand, `same_numbering` also leaves out the
chapters that verse lengths show one verse apart (`shifted_chapters`), and every titled psalm of a pair where
`TITLED_SHIFTS` or more of them are.

A chapter can also begin early because the chapter before ends early on one side, and still end on the same verse
by merging verses (swe's HOS.13 ends on verse 15, eng's on 16, so swe's HOS.14.1 is eng's HOS.13.16; so dan's
NAM.2 and, three verses early, JOB.39 in dan, pol, spa, srp and swe). The chapter before ending apart is
not enough: most such chapters (the Hebrew numbering's 1SA.22, REV.13 after the 17 or 18 verses of REV.12) begin
alike. Such a chapter is left out when its verse lengths fit the other side's shifted back (`_starts_apart`).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence

from xling.data.readers import ascii_digits

logger = logging.getLogger(__name__)

GREEK_PSALM_SCHEMES = frozenset({"synodal", "orthodox", "vulg", "lxx"})
"""Versification schemes (SWORD's names, lower-cased) that number the psalms as the Septuagint does: its Psalm 9
is the Hebrew 9 and 10, 113 the Hebrew 114 and 115, 114 and 115 the Hebrew 116, 146 and 147 the Hebrew 147."""
SHIFTED_PSALMS = frozenset(f"PSA.{number}" for number in range(9, 148))
"""The psalm chapters whose number differs between the Greek and the Hebrew numbering."""
TITLE_VERSE_SCHEMES = GREEK_PSALM_SCHEMES | {"leningrad", "mt", "luther", "german", "catholic", "catholic2",
                                             "calvin"}  # fmt: skip
"""Versification schemes (SWORD's names, lower-cased) that count a psalm's title as its verse 1 (or 1-2): in the
shared Bible the Leningrad (hbo), Luther (deu), German (fra, mlg), Catholic (hrv, slv), Calvin (hun), Synodal
(rus) and Vulgate (lat) texts end Psalm 3 at verse 9, the KJV and the NRSV at verse 8."""
TITLED_PSALMS = frozenset(
    f"PSA.{number}"
    for number in (3, 4, 5, 6, 7, 8, 9, 12, 13, 18, 19, 20, 21, 22, 30, 31, 34, 36, 38, 39, 40, 41, 42, 44, 45, 46,
                   47, 48, 49, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 67, 68, 69, 70, 75, 76,
                   77, 80, 81, 83, 84, 85, 88, 89, 92, 102, 108, 140, 142)
)  # fmt: skip
"""The psalms whose title the Hebrew numbering counts as a verse: the Leningrad text (hbo) has one verse more than
the KJV in each (two in 51, 52, 54 and 60), and Psalm 13 as many (its title is verse 1, the KJV's 5-6 its 6).
Between a scheme that counts titles and one that does not, every verse of these is numbered apart."""

SHIFT_RATIO = 1.7
"""A chapter is one verse apart when its verses' lengths fit a neighbour's this many times better than their own
(`shifted_chapters`). On the shared Bible against eng, no chapter of rus, ukr or por fits a neighbour better than
1.53 times, and the psalms nld numbers apart (PSA.3, 12, 13, 18) fit 1.92 times or more."""
SHIFT_MISFIT = 2.0
"""A chapter is one verse apart only when its verses also fit their own this many times worse than a typical verse
pair of the two texts does: verses of like length fit every pairing about as well, so they tell nothing."""
MIN_SHIFT_PAIRS = 4
"""A chapter is tested when it has at least this many verse pairs one apart (5 verses): the lengths of a shorter
one fit a neighbour's better by chance."""
TITLED_SHIFTS = 5
"""When this many `TITLED_PSALMS` (of those numbered alike by their last verses) test one verse apart, the two
texts number the psalm titles apart, and all of them are left out: some fit any pairing as well (verses of like
length). In the shared Bible, a pair of a Bible that counts titles as verses under a KJV label (nld, swe, pol,
dan, nob, hat) with one that does not shows 7 to 47 of them; the other pairs of 37 languages 2 at most."""
BOUNDARY_SHIFT_RATIO = 1.2
"""A chapter that ends on the same verse on both sides begins k verses early on one side when the chapter before
ends k verses earlier there and its verses fit the other side's k back this many times better than their own
(`_starts_apart`); the chapter before ending apart is the evidence, so the bar is lower than `SHIFT_RATIO`. On
the shared Bible against eng, 590 chapters tested follow one that ends apart: the 13 this leaves out
(each read or word-matched as shifted) fit 1.34 to 3.21 times better; the others 1.03 times at most (lat PSA.148,
numbered alike), but for lat JOB.17 (1.51 times, numbered alike), whose own misfit is under `SHIFT_MISFIT`.
Leaving out every chapter after one that ends apart would drop 612 chapters more, nearly all numbered alike."""
_LENGTH_NOISE = 0.05
"""The least typical misfit (log length ratio) assumed of two texts: made-up or near-identical texts would make
any difference look large."""


def chapters_apart(scheme: str, other: str) -> frozenset[str]:
    """Return the chapters (`BOOK.chapter`) that two versification schemes number apart whatever their
    lengths: the psalms 9-147 between the Greek numbering and another, and the `TITLED_PSALMS` between a scheme
    that counts psalm titles as verses and one that does not; none when a scheme is unknown ("")."""
    if not scheme or not other:
        return frozenset()
    ours, theirs = scheme.strip().lower(), other.strip().lower()
    apart = (
        SHIFTED_PSALMS if (ours in GREEK_PSALM_SCHEMES) != (theirs in GREEK_PSALM_SCHEMES) else frozenset()
    )
    if (ours in TITLE_VERSE_SCHEMES) != (theirs in TITLE_VERSE_SCHEMES):
        apart |= TITLED_PSALMS
    return apart


def same_numbering(
    shared: Sequence[str],
    last_ours: Mapping[str, int],
    last_theirs: Mapping[str, int],
    direction: str,
    what: str = "verse pairs",
    apart: Collection[str] = frozenset(),
    texts: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
) -> list[str]:
    """Return the ids of `shared` that sit in a chapter numbered alike on both sides (`last_verses` of each
    side's ids) and not in `apart` (`chapters_apart` of the two schemes); ids not of the form
    `BOOK.chapter.verse` are kept. With `texts` ({id: text} of our side and of theirs), the chapters whose
    verses fit their neighbours' better (`shifted_chapters`) are left out too; pass every verse of each side,
    not only those of `shared`, so that every stage decides alike.

    What is left out is logged, counted as `what`, under `direction` (e.g. `eng-deu`).
    """
    if texts is not None:
        apart = set(apart) | shifted_chapters(texts[0], texts[1], last_ours, last_theirs, apart)
    kept = [sid for sid in shared if (chapter := _chapter(sid)) is None
            or (last_ours.get(chapter) == last_theirs.get(chapter) and chapter not in apart)]  # fmt: skip
    if len(kept) < len(shared):
        chapters = {_chapter(sid) for sid in shared} - {_chapter(sid) for sid in kept}
        logger.info("%s: left out %d %s in %d chapters numbered differently (versification)",
                    direction, len(shared) - len(kept), what, len(chapters))  # fmt: skip
    return kept


def shifted_chapters(
    ours: Mapping[str, str],
    theirs: Mapping[str, str],
    last_ours: Mapping[str, int],
    last_theirs: Mapping[str, int],
    apart: Collection[str] = frozenset(),
) -> frozenset[str]:
    """Return the chapters that both texts end on the same verse (`last_verses`), not in `apart`, yet number
    one verse apart, as verse lengths show; every one of `TITLED_PSALMS` when `TITLED_SHIFTS` of them are; and
    those that begin early on one side after a chapter that ends early there (`_starts_apart`).

    A verse's translation is about as long as the verse, give or take the two languages' ratio: the misfit of a
    pair is |log(len(theirs) / len(ours)) - the median of that over all verses both have|. A chapter (with at
    least `MIN_SHIFT_PAIRS` verse pairs one apart) is shifted when pairing each verse with the next (or the
    previous) verse of the other side fits `SHIFT_RATIO` times better, by mean misfit, than pairing it with its own
    id, and that own misfit is at least `SHIFT_MISFIT` times the median misfit of all pairs. Translations of
    verses of like length cannot be told apart this way: those chapters are kept. Only the texts' lengths are
    read; the sums run once over the verses both have (about 50 ms for 31,000 pairs).
    """
    lengths: dict[str, dict[int, tuple[float, float]]] = {}
    log = math.log
    for sid, text in ours.items():
        other = theirs.get(sid)
        if other is None:
            continue
        chapter, dot, verse = sid.rpartition(".")
        if dot and ascii_digits(verse) and chapter.count(".") == 1:  # as `_chapter`
            lengths.setdefault(chapter, {})[int(verse)] = (log(len(text) or 1), log(len(other) or 1))
    ratios = [b - a for verses in lengths.values() for a, b in verses.values()]
    if not ratios:
        return frozenset()
    centre = statistics.median(ratios)
    noise = max(statistics.median(abs(r - centre) for r in ratios), _LENGTH_NOISE)
    shifted = set()
    for chapter, verses in lengths.items():
        if chapter in apart or chapter not in last_ours or last_ours.get(chapter) != last_theirs.get(chapter):
            continue
        if _one_verse_apart(verses, centre, noise):
            shifted.add(chapter)
    if len(shifted & TITLED_PSALMS) >= TITLED_SHIFTS:
        shifted |= TITLED_PSALMS & lengths.keys()
    for chapter in lengths.keys() - shifted:
        if chapter in apart or chapter not in last_ours or last_ours.get(chapter) != last_theirs.get(chapter):
            continue
        if _starts_apart(chapter, ours, theirs, last_ours, last_theirs, centre, noise):
            shifted.add(chapter)
    return frozenset(shifted)


def _one_verse_apart(verses: Mapping[int, tuple[float, float]], centre: float, noise: float) -> bool:
    """Return whether the {verse: (log length ours, log length theirs)} of a chapter fit one verse apart."""
    following = [v for v in verses if v + 1 in verses]
    if len(following) < MIN_SHIFT_PAIRS:
        return False
    own = sum(abs(b - a - centre) for a, b in verses.values()) / len(verses)
    if own < SHIFT_MISFIT * noise:
        return False
    ahead = sum(abs(verses[v + 1][1] - verses[v][0] - centre) for v in following)  # theirs a verse later
    behind = sum(abs(verses[v][1] - verses[v + 1][0] - centre) for v in following)  # ours a verse later
    return own >= SHIFT_RATIO * min(ahead, behind) / len(following)


def _starts_apart(
    chapter: str,
    ours: Mapping[str, str],
    theirs: Mapping[str, str],
    last_ours: Mapping[str, int],
    last_theirs: Mapping[str, int],
    centre: float,
    noise: float,
) -> bool:
    """Return whether `chapter` begins k verses early on one side, where the chapter before ends k verses
    earlier on that side than on the other: its verses fit the other side's k verses back (the first k the
    other side's last k of the chapter before) `BOUNDARY_SHIFT_RATIO` times better than their own ids."""
    book, _, number = chapter.partition(".")
    if not ascii_digits(number):  # a chapter named otherwise (`ESG.A`) has no chapter before
        return False
    before = f"{book}.{int(number) - 1}"
    if before not in last_ours or before not in last_theirs or last_ours[before] == last_theirs[before]:
        return False
    k = abs(last_ours[before] - last_theirs[before])
    end = max(last_ours[before], last_theirs[before])
    early, other = (ours, theirs) if last_ours[before] < last_theirs[before] else (theirs, ours)
    own: list[float] = []
    moved: list[float] = []
    for v in range(1, last_ours[chapter] + 1):
        text, same = early.get(f"{chapter}.{v}"), other.get(f"{chapter}.{v}")
        back = other.get(f"{chapter}.{v - k}" if v > k else f"{before}.{end - k + v}")
        if text is None:
            continue
        if same is not None:
            own.append(_misfit(text, same, early is ours, centre))
        if back is not None:
            moved.append(_misfit(text, back, early is ours, centre))
    if len(own) <= MIN_SHIFT_PAIRS or not moved:  # as `_one_verse_apart`: 5 verses at least
        return False
    misfit = sum(own) / len(own)
    return misfit >= SHIFT_MISFIT * noise and misfit >= BOUNDARY_SHIFT_RATIO * sum(moved) / len(moved)


def _misfit(text: str, other: str, text_is_ours: bool, centre: float) -> float:
    """Return |log(len(theirs) / len(ours)) - centre| of a verse pair (`text` ours when `text_is_ours`)."""
    a, b = (text, other) if text_is_ours else (other, text)
    return abs(math.log(len(b) or 1) - math.log(len(a) or 1) - centre)


def numbered_apart(
    lang: str,
    ids: Sequence[str],
    last: Mapping[str, int],
    reference: str,
    reference_last: Mapping[str, int],
    apart: Collection[str] = frozenset(),
    texts: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
) -> set[str]:
    """Return the ids of `lang`'s `ids` whose chapter is numbered otherwise than in `reference` (`last` and
    `reference_last`: `last_verses` of every id each language has; `apart`: `chapters_apart` of their
    schemes; `texts`: {id: text} of every verse of `lang` and of `reference`, see `same_numbering`): links to
    drop from id-aligned units.

    Every verse kept agrees with the reference's numbering, so any two languages kept agree with each other.
    """
    if lang == reference:
        return set()
    kept = same_numbering(
        ids, last, reference_last, f"{lang} against {reference}", "verses from the units", apart, texts
    )
    return set(ids).difference(kept)


def _chapter(sid: str) -> str | None:
    """Return `BOOK.chapter` of a `BOOK.chapter.verse` id, None for an id of another form."""
    chapter, dot, verse = sid.rpartition(".")
    return chapter if dot and ascii_digits(verse) and chapter.count(".") == 1 else None


def last_verses(ids: Iterable[str]) -> dict[str, int]:
    """Return {chapter: its highest verse number} of `BOOK.chapter.verse` ids."""
    last: dict[str, int] = {}
    for sid in ids:
        chapter = _chapter(sid)
        if chapter is not None:
            verse = int(sid.rpartition(".")[2])
            last[chapter] = max(last.get(chapter, 0), verse)
    return last
