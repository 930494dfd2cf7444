"""Mixed-language text cut into language spans: each word scored with a window of its neighbours, then the
best labelling that pays a penalty for every switch of language (Viterbi), so that one odd word does not
start a span of its own."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex

from xling.errors import ConfigError
from xling.langid.labels import UNDETERMINED
from xling.langid.model import LanguageIdentifier, check_threshold, language_codes, probabilities_of
from xling.langid.normalize import has_name
from xling.langid.scripts import script_of

__all__ = ["Span", "language_spans", "units"]

_WORD = regex.compile(r"\S+")
# Where a sentence ends inside a word (no space after it): a CJK full stop, exclamation or question mark
# before anything ("看书。Then"), or ASCII ones before a capital ("dela?Hello"; "e.g." and "example.com" go
# on), with the closing brackets and quotes that follow them.
_SENTENCE_END = regex.compile(
    r"(?:(?<![。！？｡])[。！？｡]+|(?<![.!?])[.!?]+(?=[\p{Pe}\p{Pf}\"']*[\p{Lu}\p{Lt}]))[\p{Pe}\p{Pf}\"']*(?=\S)"
)
# A comma or semicolon typed without its space between two words ("heute,but"): a clause, perhaps in another
# language, starts after it. Not a colon: Finnish and Swedish put case endings after one ("EU:n", "USA:s").
_CLAUSE_END = regex.compile(r"(?<=\p{L}\p{M}*)[,;](?=\p{L})")
# Han, kana and bopomofo are one run: Japanese writes kanji and kana without a space between them.
_SCRIPT_GROUPS = {"Hani": "CJK", "Jpan": "CJK", "Bopo": "CJK"}
# Words scored at a time: a long text's arrays of all labels stay (block x labels), not (words x labels)
# (a 500,000-character line held ~750 MB of them at once).
_BLOCK_WORDS = 4096


@dataclass(frozen=True)
class Span:
    """A stretch of text in one language."""

    start: int
    """Character offset of the span's first character in the text."""
    end: int
    """Character offset just past its last character."""
    text: str
    label: str
    """The span's language, or `und`: a text without letters, or a span whose probability is under the
    threshold (as `LanguageIdentifier.predict` says)."""
    probability: float
    """Mean probability of the label over the span's word windows; for `und`, as `predict` gives it: one minus
    that mean (0 for a span without letters)."""

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "language": self.label,
                "probability": round(self.probability, 4)}  # fmt: skip


def language_spans(identifier: LanguageIdentifier, text: str, *, window: int = 1, switch_penalty: float = 12.0,
                   candidates: int = 6, languages: Iterable[str] | None = None,
                   threshold: float | None = None) -> list[Span]:  # fmt: skip
    """Return the language spans of `text`, in order, covering every word; at least one span, so that every
    text gets an answer where `predict` gives one. A span runs from its first word's first character to its
    last word's last (the spaces between spans and around the text belong to none).

    `und` where `predict` would say it: a text without letters ("2024 🎉") is one `und` span from its first
    word to its last, a blank text ("" or spaces only, no word) one empty `und` span at 0, and a span whose
    mean probability is under `threshold` (default: the identifier's) is `und` (neighbouring `und` spans are
    one).

    Words are the text's whitespace-free stretches, cut where the script changes and after a sentence's end
    (`units`). `window`: words on each side, in the word's script, that score a word with it (with half the
    weight of the word alone; 0 or more, else a ConfigError).
    `switch_penalty`: log-probability a change of language costs (higher: fewer, longer spans). A word inside
    a text pays it twice to be a span of its own, and a word's score beats another label's by at most 1.5 x
    ln(1e9) = 31.1 (the floor below), so at 15.5 or more no one-word insertion ("a new 手机 yesterday") can be
    a span. The defaults (12, window 1) were chosen with benchmarks/langid_spans.py on mixed UMSAB val tweets
    among the penalties that leave such a word its span (6 and 2 before 2026-12-07: 91.3% of words right,
    46.0% of texts cut right, against 92.4% and 54.7%; 20 gave 93.6% and 65.7% on those long parts).
    `candidates`: the whole text's top labels considered, plus the top two of each window. `languages`:
    the only languages a span may be in (codes in any form; default all the detector knows; errors as in
    `predict`, whatever the text).
    """
    threshold = identifier.threshold if threshold is None else threshold
    check_threshold(threshold)
    if isinstance(window, bool) or not isinstance(window, int) or window < 0:
        raise ConfigError(f"window: {window!r} must be a whole number of words, 0 or more")
    languages = language_codes(languages)
    if languages is not None:
        identifier._mask(languages)  # an empty or unknown restriction is an error even for a blank text
    words = units(text)
    if not words:
        return [Span(0, 0, "", UNDETERMINED, 0.0)]
    word_texts = [text[start:end] for start, end in words]
    windows = _windows(text, words, window)
    blocks = [slice(i, i + _BLOCK_WORDS) for i in range(0, len(words), _BLOCK_WORDS)]
    # A first pass finds which words have letters and the labels worth a column; a text of several blocks
    # is scored again block by block in the second, so that no array is (words x all labels).
    letters, chosen, only_block = [], set(), None
    for block in blocks:
        scored = _scored(identifier, word_texts[block], windows[block], languages)
        letters.append(scored[1])
        chosen.update(np.argsort(-scored[2], axis=1)[:, :2].ravel().tolist())
        only_block = scored if len(blocks) == 1 else None
    has_letters = np.concatenate(letters)
    # Words without letters ("2024", "—"), or in a script no label (allowed) is written in, say nothing: they
    # join whichever span surrounds them.
    if not has_letters.any():
        start, end = words[0][0], words[-1][1]
        return [Span(start, end, text[start:end], UNDETERMINED, 0.0)]
    whole, _ = identifier.log_probabilities([text], languages)
    chosen.update(np.argsort(-whole[0])[:candidates].tolist())
    # none `languages` leaves out (the restriction's mask: the whole text's own -inf entries also hold the
    # Han script the text as a whole is not, which a Simplified span of a mostly Traditional text needs)
    allowed = identifier._mask(languages) if languages else np.ones(len(identifier.labels), dtype=bool)
    labels = sorted(label for label in chosen if allowed[label])
    alone_columns, window_columns = [], []
    for block in blocks:
        alone, _, ranked = only_block or _scored(identifier, word_texts[block], windows[block], languages)
        alone_columns.append(alone[:, labels])
        # ranked by log-probabilities: most probabilities besides the best one are 0.0 in float32
        window_columns.append(probabilities_of(ranked)[:, labels])
    probabilities = np.concatenate(window_columns)
    # The word's own score (`alone`) sharpens the border: the window of the last English word before a
    # German stretch is half German, the word alone is not.
    scores = np.log(probabilities + 1e-9) + 0.5 * np.log(np.concatenate(alone_columns) + 1e-9)
    scores[~has_letters] = 0.0
    path = _viterbi(scores, switch_penalty)
    columns = np.array([labels[column] for column in path])
    word_probability = probabilities[np.arange(len(words)), path]  # of the label each word is given

    def mean(first: int, end: int) -> float | None:
        """The mean of the words' probabilities over words first..end-1 with letters (None: no letters)."""
        letters = has_letters[first:end]
        return float(word_probability[first:end][letters].mean()) if letters.any() else None

    pieces: list[list[Any]] = []  # [first word, last word + 1, label]
    first = 0
    for i in range(1, len(words) + 1):
        if i == len(words) or path[i] != path[first]:
            probability = mean(first, i)
            label = identifier.labels[columns[first]]
            if probability is None or probability < threshold:
                label = UNDETERMINED
            if label == UNDETERMINED and pieces and pieces[-1][2] == UNDETERMINED:
                pieces[-1][1] = i
            else:
                pieces.append([first, i, label])
            first = i
    spans: list[Span] = []
    for first, end, label in pieces:
        probability = mean(first, end)
        if probability is None:  # a piece of words without letters is `und`, as such a text is
            probability = 0.0
        elif label == UNDETERMINED:
            probability = 1.0 - probability
        start, stop = words[first][0], words[end - 1][1]
        spans.append(Span(start, stop, text[start:stop], label, probability))
    return spans


def _scored(
    identifier: LanguageIdentifier, pieces: list[str], windows: list[str], languages: list[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (each word's probabilities alone, whether it has letters, its window's log-probabilities) over
    all labels, for the words `pieces` and their `windows`."""
    alone, has_letters = identifier.probabilities(pieces, languages)
    ranked, _ = identifier.log_probabilities(windows, languages)
    return alone, has_letters, ranked


def _windows(text: str, words: list[tuple[int, int]], window: int) -> list[str]:
    """Return each word's window: its text with up to `window` words on each side, of those in its script
    (Han and kana as one; words without letters go with any), joined by spaces where words of another
    script are left out. A word whose neighbours with letters are both in other scripts, and that is not Han
    or kana, keeps all its neighbours (a brand name in Chinese, "iPhone"; "AI" and "GDP"), or it would make a
    span of its own; a Chinese or Japanese run holds a phrase or a sentence.

    Naive Bayes adds evidence up: with all its neighbours, a Chinese sentence followed by two English words
    was English ("看书。Then we"), and no border was found where the script changes."""
    groups = [_script_group(text[start:end]) for start, end in words]
    lettered = [group for group in groups if group is not None]
    ends = [_ends_sentence(text, words, i) for i in range(len(words))]
    found = []
    position = -1  # of the word among the words with letters
    last_end = -1  # the last word before this one that ends a sentence
    for i, group in enumerate(groups):
        # a window stays inside its sentence: reaching across a full stop pulled the first or last word of a
        # sentence into its neighbour's language ("ce soir. We should": `soir.` scored with English)
        first, last = max(0, i - window, last_end + 1), min(len(words) - 1, i + window)
        last = next((j for j in range(i, last + 1) if ends[j]), last)
        if ends[i]:
            last_end = i
        kept = [j for j in range(first, last + 1) if groups[j] in (group, None)]
        lone = False
        if group is not None:
            position += 1
            beside = lettered[max(0, position - 1) : position] + lettered[position + 1 : position + 2]
            # both neighbours, as said above: the text's first or last word beside another script is not
            # lone ("Спасибо 今天天气很好" made one Chinese span of both)
            lone = group != "CJK" and len(beside) == 2 and group not in beside
        if lone or len(kept) == last + 1 - first:
            found.append(text[words[first][0] : words[last][1]])
        else:
            found.append(" ".join(text[words[j][0] : words[j][1]] for j in kept))
    return found


def _ends_sentence(text: str, words: list[tuple[int, int]], i: int) -> bool:
    """Return whether word `i` ends a sentence: it ends in a mark that only ends sentences (CJK full stops,
    the danda, the Arabic and Ethiopic ones), or in `.`, `!`, `?` or an ellipsis before a word that starts with
    a letter that is not lower case (a capital, or a letter of a script without case: Arabic, Devanagari,
    Han); closing brackets and quotes after the mark, opening ones before the next word, are looked past
    ("soir." before "We", not "e.g." before "apples"; "Dr. Müller" counts as an end too). A line break
    before the next word ends it too: a line of each language ("Das ist gut\nThis is good") is two texts."""
    word = _CLOSING.sub("", text[words[i][0] : words[i][1]])
    if word.endswith(_SENTENCE_MARKS):
        return True
    if i + 1 < len(words) and _LINE_BREAK.search(text, words[i][1], words[i + 1][0]):
        return True
    if not word.endswith((".", "!", "?", "\u2026")) or i + 1 == len(words):
        return False
    following = _OPENING.sub("", text[words[i + 1][0] : words[i + 1][1]])
    return bool(following) and following[0].isalpha() and not following[0].islower()


# what str.splitlines breaks lines at
_LINE_BREAK = regex.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# marks that end a sentence wherever they are: CJK full stops, exclamation and question marks; the danda and
# double danda; the Urdu full stop and Arabic question mark; the Ethiopic full stop
_SENTENCE_MARKS = ("。", "！", "？", "｡", "।", "॥", "۔", "؟", "።")
# closing brackets and quotes after a sentence's mark (German and Danish close with « and ‹: Pi), and the
# opening ones, then Spanish's ¿ ¡, before the next sentence's first letter
_CLOSING = regex.compile(r"(?<![\p{Pe}\p{Pf}\p{Pi}\"'])[\p{Pe}\p{Pf}\p{Pi}\"']+$")
_OPENING = regex.compile(r"^[\p{Ps}\p{Pi}\p{Pf}\"']*[¿¡\"']*")


def _script_group(word: str) -> str | None:
    """Return the script of a word's first letter, Han and kana as one (`CJK`); None without letters."""
    script = next((script for script in map(script_of, word) if script is not None), None)
    return _SCRIPT_GROUPS.get(script, script) if script is not None else None


def units(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of the units `language_spans` labels, in order: the text's
    whitespace-free words, each cut where its letters change script ("看书。Then", "English.这是") and after
    a sentence's end ("дела?Hello"), so that a language may change inside them. A word with a link, an
    e-mail, a @mention or a #hashtag stays whole: normalisation removes it whole."""
    found: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        start, end = match.span()
        word = match.group()
        cuts = set() if has_name(word) else _cuts(word)
        bounds = [start, *(start + cut for cut in sorted(cuts)), end]
        found.extend(zip(bounds, bounds[1:], strict=False))
    return found


def _cuts(word: str) -> set[int]:
    """Return the offsets inside `word` (neither 0 nor its length) where a new unit starts: after a
    sentence's end or a comma or semicolon between letters (`_CLAUSE_END`), and before the first letter of a new script (with the opening brackets and quotes right
    before it: "Hello「日本」" is "Hello" and "「日本」")."""
    cuts = {match.end() for match in _SENTENCE_END.finditer(word)}
    cuts |= {match.end() for match in _CLAUSE_END.finditer(word)}
    if word.isascii():  # one script: only the sentence ends can cut it
        return cuts
    group, last_letter = None, -1
    for i, char in enumerate(word):
        script = script_of(char)
        if script is None:
            continue
        script = _SCRIPT_GROUPS.get(script, script)
        if group is not None and script != group:
            cut = i
            while cut - 1 > last_letter and unicodedata.category(word[cut - 1]) in ("Ps", "Pi"):
                cut -= 1
            cuts.add(cut)
        group, last_letter = script, i
    return {cut for cut in cuts if 0 < cut < len(word)}


def _viterbi(scores: np.ndarray, switch_penalty: float) -> list[int]:
    """Return the column per row maximising the summed scores minus `switch_penalty` per change of column."""
    rows, columns = scores.shape
    best = scores[0].copy()
    back = np.zeros((rows, columns), dtype=np.int64)
    for row in range(1, rows):
        leader = int(best.argmax())
        switch = best[leader] - switch_penalty
        stay_better = best >= switch
        back[row] = np.where(stay_better, np.arange(columns), leader)
        best = np.where(stay_better, best, switch) + scores[row]
    path = [int(best.argmax())]
    for row in range(rows - 1, 0, -1):
        path.append(int(back[row, path[-1]]))
    return path[::-1]
