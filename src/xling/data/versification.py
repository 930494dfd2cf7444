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
on last verses alone, the 8 left out this way are exactly the shifted ones.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence

logger = logging.getLogger(__name__)

GREEK_PSALM_SCHEMES = frozenset({"synodal", "orthodox", "vulg", "lxx"})
"""Versification schemes (SWORD's names, lower-cased) that number the psalms as the Septuagint does: its Psalm 9
is the Hebrew 9 and 10, 113 the Hebrew 114 and 115, 114 and 115 the Hebrew 116, 146 and 147 the Hebrew 147."""
SHIFTED_PSALMS = frozenset(f"PSA.{number}" for number in range(9, 148))
"""The psalm chapters whose number differs between the Greek and the Hebrew numbering."""


def chapters_apart(scheme: str, other: str) -> frozenset[str]:
    """Return the chapters (`BOOK.chapter`) that two versification schemes number apart whatever their
    lengths: the psalms 9-147 between the Greek numbering and another; none when a scheme is unknown ("")."""
    if not scheme or not other:
        return frozenset()
    greek = scheme.strip().lower() in GREEK_PSALM_SCHEMES
    return SHIFTED_PSALMS if greek != (other.strip().lower() in GREEK_PSALM_SCHEMES) else frozenset()


def same_numbering(
    shared: Sequence[str],
    last_ours: Mapping[str, int],
    last_theirs: Mapping[str, int],
    direction: str,
    what: str = "verse pairs",
    apart: Collection[str] = frozenset(),
) -> list[str]:
    """Return the ids of `shared` that sit in a chapter numbered alike on both sides (`last_verses` of each
    side's ids) and not in `apart` (`chapters_apart` of the two schemes); ids not of the form
    `BOOK.chapter.verse` are kept.

    What is left out is logged, counted as `what`, under `direction` (e.g. `eng-deu`).
    """
    kept = [sid for sid in shared if (chapter := _chapter(sid)) is None
            or (last_ours.get(chapter) == last_theirs.get(chapter) and chapter not in apart)]  # fmt: skip
    if len(kept) < len(shared):
        chapters = {_chapter(sid) for sid in shared} - {_chapter(sid) for sid in kept}
        logger.info("%s: left out %d %s in %d chapters numbered differently (versification)",
                    direction, len(shared) - len(kept), what, len(chapters))  # fmt: skip
    return kept


def numbered_apart(
    lang: str,
    ids: Sequence[str],
    last: Mapping[str, int],
    reference: str,
    reference_last: Mapping[str, int],
    apart: Collection[str] = frozenset(),
) -> set[str]:
    """Return the ids of `lang`'s `ids` whose chapter is numbered otherwise than in `reference` (`last` and
    `reference_last`: `last_verses` of every id each language has; `apart`: `chapters_apart` of their
    schemes): links to drop from id-aligned units.

    Every verse kept agrees with the reference's numbering, so any two languages kept agree with each other.
    """
    if lang == reference:
        return set()
    kept = same_numbering(
        ids, last, reference_last, f"{lang} against {reference}", "verses from the units", apart
    )
    return set(ids).difference(kept)


def _chapter(sid: str) -> str | None:
    """Return `BOOK.chapter` of a `BOOK.chapter.verse` id, None for an id of another form."""
    chapter, dot, verse = sid.rpartition(".")
    return chapter if dot and verse.isdigit() and chapter.count(".") == 1 else None


def last_verses(ids: Iterable[str]) -> dict[str, int]:
    """Return {chapter: its highest verse number} of `BOOK.chapter.verse` ids."""
    last: dict[str, int] = {}
    for sid in ids:
        chapter = _chapter(sid)
        if chapter is not None:
            verse = int(sid.rpartition(".")[2])
            last[chapter] = max(last.get(chapter, 0), verse)
    return last
