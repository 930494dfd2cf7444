"""Clause pairs cut from verse pairs: shorter translation pairs for a corpus of long units.

An English Bible verse averages 24.7 words, a sentence of the bundled everyday sample 8.2. Both sides of a
verse pair are cut after clause punctuation (commas, semicolons, full stops, their CJK / Arabic / Indic
forms; not before a digit); when the two sides have the same number of clauses and each clause's share of
its side's length agrees within a ratio, the clauses are paired in order. Translations mostly keep clause
order, so these pairs are mostly right, and the in-batch ranking loss tolerates the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xling.errors import ConfigError

# after one of these a clause ends: Latin, CJK full-width, Arabic, Devanagari, Armenian, Ethiopic, Greek
CLAUSE_END = ",;:.!?，；：。！？、،؛؟।॥։՝።፣፤·"
# not before a digit: 3.5, 10,000 and 3:16 stay whole
_SPLIT = re.compile(f"(?<=[{re.escape(CLAUSE_END)}])(?!\\d)")


@dataclass(frozen=True)
class ClauseSplit:
    """When a unit pair is cut: clause counts between 2 and `max_clauses`, shares within `length_ratio`."""

    max_clauses: int = 8
    length_ratio: float = 2.0


def clause_split(clause_pairs: int, length_ratio: float, prefix: str = "") -> ClauseSplit | None:
    """Return the ClauseSplit of a command's `clause_pairs` / `clause_length_ratio` settings, None when off
    (0); a ConfigError naming the field (under `prefix`, e.g. "static.") for a bad value."""
    if clause_pairs == 1 or clause_pairs < 0:
        raise ConfigError(f"{prefix}clause_pairs: {clause_pairs} must be 0 (off) or the most clauses (>= 2)")
    if length_ratio < 1:
        raise ConfigError(f"{prefix}clause_length_ratio: {length_ratio} must be >= 1")
    return ClauseSplit(clause_pairs, length_ratio) if clause_pairs else None


def split_clauses(text: str) -> list[str]:
    """Return the clauses of `text`: cut after clause punctuation, pieces without a letter or digit dropped."""
    pieces = (piece.strip() for piece in _SPLIT.split(text))
    return [piece for piece in pieces if any(ch.isalnum() for ch in piece)]


def clause_pairs(src: str, tgt: str, split: ClauseSplit = ClauseSplit()) -> list[tuple[str, str]]:
    """Return the in-order clause pairs of a translation pair, or [] when its two sides do not match up."""
    a, b = split_clauses(src), split_clauses(tgt)
    if not 2 <= len(a) <= split.max_clauses or len(a) != len(b):
        return []
    total_a, total_b = sum(map(len, a)), sum(map(len, b))
    for x, y in zip(a, b, strict=True):
        share = (len(y) / total_b) / (len(x) / total_a)
        if not 1 / split.length_ratio <= share <= split.length_ratio:
            return []
    return list(zip(a, b, strict=True))
