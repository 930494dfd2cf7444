"""Readers of word-tagged sentences: CoNLL-U (Universal Dependencies) and CoNLL-2003-style NER columns.

Both return `TaggedSentences`: each sentence as its words and one tag per word, plus where it came from
(the file and the line each sentence starts on, so later errors can name them). Plain and `.gz` files are
read line by line through `xling.data.readers`, so a bad byte or a bad line is a DataError naming
`file:line`.

- CoNLL-U: 10 tab-separated columns, `ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC`; comment lines
  (`# ...`), multiword-token ranges (`1-2`) and empty nodes (`1.1`) are no words; a blank line ends a sentence.
  The tag is UPOS by default (`column="xpos"` takes XPOS; `column=None` reads a tokenised-only file, whose
  tags are all `_`). Each sentence's text as written is kept too (`texts`: its `# text =` comment, else its
  tokens, a multiword token as its one surface form).
- CoNLL-2003: `word ... tag` separated by spaces or tabs, the tag in the last column, every token line of a
  file with the same number of columns; blank lines between sentences; `-DOCSTART-` lines are skipped.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from xling.data.readers import ascii_digits, numbered_lines, open_binary, require_file
from xling.errors import ConfigError, DataError

__all__ = ["TaggedSentences", "find_ud_file", "read_conll_ner", "read_conllu"]

PathLike = str | os.PathLike[str]
CONLLU_COLUMNS = 10
CONLLU_TAG_COLUMNS = {"lemma": 2, "upos": 3, "xpos": 4, "feats": 5, "head": 6, "deprel": 7}
# UD's universal part-of-speech tags (universaldependencies.org/u/pos): the only values of the UPOS column
UD_UPOS = frozenset(["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
                     "PUNCT", "SCONJ", "SYM", "VERB", "X"])  # fmt: skip
TEXT_COMMENT = re.compile(r"^#\s*text\s*=\s?(?P<text>.*)$")
"""A sentence's `# text = ...` comment (not `# text_en = ...`, a translation)."""
# Universal Dependencies names a treebank's files LANG_TREEBANK-ud-SPLIT.conllu in a folder UD_LANGUAGE-TREEBANK
# (UD_English-ParTUT/en_partut-ud-train.conllu)
UD_FILE_NAME = re.compile(r"^(?P<language>[a-z]{2,3})_\w+-ud-(?P<split>train|dev|test)\.conllu(?:\.gz)?$")
# Norwegian's treebanks are named by their written standard, under the macrolanguage's code
UD_TREEBANK_LANGUAGES = {"no_bokmaal": "nb", "no_nynorsk": "nn", "no_nynorsklia": "nn"}


def ud_name_language(match: re.Match[str]) -> str:
    """Return the language code of a UD file name matched by UD_FILE_NAME (`en` of en_ewt-ud-dev.conllu, `nn`
    of no_nynorsk-ud-dev.conllu)."""
    return UD_TREEBANK_LANGUAGES.get(match[0].split("-ud-", 1)[0], match["language"])


def ud_file_language(path: str | os.PathLike) -> str | None:
    """Return the language code a Universal Dependencies treebank's file gives (`en` for
    UD_English-EWT/en_ewt-ud-dev.conllu): a file so named in a `UD_` folder, with a code xling knows (UD's own
    codes such as `qtd` for Turkish-German are none); None otherwise (`my_data-ud-train.conllu` is no
    Burmese treebank)."""
    from xling.data.languages import language_code_of

    path = Path(path)
    match = UD_FILE_NAME.match(path.name)
    if not match or not path.parent.name.startswith("UD_") or language_code_of(match["language"]) is None:
        return None
    return ud_name_language(match)


@dataclass
class TaggedSentences:
    """Sentences as words with one tag per word, and where they came from."""

    words: list[list[str]]
    """The words of each sentence (non-empty lists of non-empty strings)."""
    tags: list[list[str]]
    """One tag per word, parallel to `words`."""
    source: str
    """The file the sentences were read from (or a name the caller gave)."""
    language: str | None = None
    """The language, when the caller knows it (e.g. "de")."""
    lines: list[int] = field(default_factory=list)
    """The 1-based line each sentence starts on in `source` (empty when not read from a file)."""
    texts: list[str] = field(default_factory=list)
    """Each sentence as written (CoNLL-U: its `# text =` comment, else its tokens joined by spaces, but where
    SpaceAfter=No says (none) or SpacesAfter= (what it says: `\\s\\s` two spaces, `\\u00A0` a no-break space),
    with a multiword token as its one surface form: `didn't`, not `did n't`); empty when the reader has none
    (CoNLL-2003)."""
    multiword: list[list[tuple[str, int]]] = field(default_factory=list)
    """Per sentence (CoNLL-U; empty for other readers): each multiword token's surface form and the index
    in `words` of the first word it stands for (`didn't` -> `did`)."""

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise DataError(f"{len(self.words)} sentences but {len(self.tags)} tag sequences", self.source)
        if self.texts and len(self.texts) != len(self.words):
            raise DataError(f"{len(self.words)} sentences but {len(self.texts)} texts", self.source)
        for i, (words, tags) in enumerate(zip(self.words, self.tags, strict=True)):
            if len(words) != len(tags):
                raise DataError(
                    f"sentence {i + 1} has {len(words)} words but {len(tags)} tags", self.source, self.line(i)
                )
            if not words:
                raise DataError(f"sentence {i + 1} has no words", self.source, self.line(i))

    def __len__(self) -> int:
        return len(self.words)

    def line(self, index: int) -> int | None:
        """Return the line sentence `index` starts on, None when unknown."""
        return self.lines[index] if index < len(self.lines) else None

    @property
    def tokens(self) -> int:
        """Return the number of words over all sentences."""
        return sum(len(words) for words in self.words)

    def tag_counts(self) -> Counter[str]:
        """Return how often each tag occurs."""
        return Counter(tag for tags in self.tags for tag in tags)


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Return an iterator over (1-based number, text without line end) of a plain or .gz UTF-8 file."""
    with open_binary(path) as handle:
        for number, raw in numbered_lines(handle, path):
            raw = raw.rstrip(b"\r\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"invalid UTF-8 byte 0x{raw[exc.start]:02x} at byte offset {exc.start} of the line",
                    path,
                    number,
                ) from None
            if text.startswith("\ufeff"):
                # a BOM marks an encoding, not a token: first in a file, or where `cat` joined treebanks
                text = text[1:]
            yield number, text


def read_conllu(
    path: PathLike, *, column: str | None = "upos", language: str | None = None
) -> TaggedSentences:
    """Return the sentences of a CoNLL-U file (plain or .gz) with the tag `column` ("upos", "xpos", "lemma":
    each word's lemma as its tag, "feats": its morphological features, `Case=Dat|Number=Sing`, "" for none,
    "head" or "deprel").

    The words are the syntactic words (`do`, `n't`), the `texts` the sentences as written (`don't`: the
    `# text =` comment, else the surface tokens). A token line without exactly 10 tab-separated columns, a
    bad ID, a token ID out of sequence, a multiword range outside its sentence's words, an empty form or an
    unannotated tag ("_") or a UPOS tag outside UD's 17 is a DataError naming the file and line; so is a
    file with no sentence. An unannotated lemma is the word's form instead (UD leaves a few unspecified in
    real treebanks), and unannotated features are none. `column` None reads the words and texts only (a
    tokenised-only file, as a tokenizer writes it: FORM and MISC filled, the rest `_`): no tag is required,
    and every tag is "_". `language` defaults to the one a UD file name gives (`ud_file_language`), so that a
    tagger trained on en_partut-ud-train.conllu knows its source language.
    """
    if column is not None and column not in CONLLU_TAG_COLUMNS:
        raise ConfigError(f"column: {column!r} must be one of {', '.join(CONLLU_TAG_COLUMNS)}")
    path = require_file(path)
    tag_index = CONLLU_TAG_COLUMNS[column] if column is not None else None
    out = TaggedSentences([], [], str(path), language or ud_file_language(path))
    words: list[str] = []
    tags: list[str] = []
    start = 0
    unspecified = 0  # lemmas given as "_", read as the form
    surface = _SurfaceText()
    ranges: list[tuple[int, int]] = []  # (last word, line) of the sentence's multiword tokens

    for number, text in _decoded_lines(path):
        if not text.strip():
            # taken even when no token came: a comment block with no tokens describes no sentence
            _check_ranges(ranges, len(words), path)
            _finish(out, words, tags, start, surface)
            continue
        if text.startswith("#"):
            surface.comment(text)
            continue
        fields = text.split("\t")
        if len(fields) != CONLLU_COLUMNS:
            raise DataError(
                f"CoNLL-U token line with {len(fields)} tab-separated columns, expected {CONLLU_COLUMNS}",
                path,
                number,
            )
        token_id = fields[0]
        if "-" in token_id or "." in token_id:  # multiword token range, empty node
            if not _is_range_or_node(token_id):
                raise DataError(f"bad token ID {token_id!r}", path, number)
            if "-" in token_id:  # the words it spans are written as this one form
                first, last = (int(part) for part in token_id.split("-"))
                if not 1 <= first <= last:  # 0-1 would look its lemma up at word -1: the last one
                    raise DataError(f"bad multiword token range {token_id!r} (expected first-last, 1 <= "
                                    "first <= last, e.g. 2-3)", path, number)  # fmt: skip
                ranges.append((last, number))
                surface.token(fields[1], fields[9], first_word=first, last_word=last)
            continue
        if not ascii_digits(token_id):
            raise DataError(f"bad token ID {token_id!r} (expected 1, 2, ... or a range 1-2 or node 1.1)",
                            path, number)  # fmt: skip
        if int(token_id) != len(words) + 1:
            raise DataError(
                f"token ID {token_id} where {len(words) + 1} was expected (a missing blank line between "
                "sentences?)",
                path,
                number,
            )
        form, tag = fields[1], fields[tag_index].strip() if tag_index is not None else "_"
        if not form.strip():
            raise DataError("empty FORM column", path, number)
        if tag == "_" and column == "lemma":
            # UD leaves some lemmas unspecified (`goeswith` parts, typos) in EWT, TDT, IMST, ...: the form
            # stands in, so that one such token does not cost a treebank all its lemmas
            tag = form
            unspecified += 1
        if tag == "_" and column == "feats":  # a word with no features (a particle, punctuation)
            tag = ""
        elif tag_index is not None and (not tag or tag == "_"):
            raise DataError(f"no {column.upper()} tag (column {tag_index + 1} is {fields[tag_index]!r})",
                            path, number)  # fmt: skip
        elif column == "upos" and tag not in UD_UPOS:
            # a typo (NOUNN) or a tagset of one's own would train a class of its own without a word said
            raise DataError(f"UPOS {tag!r} is not one of UD's 17 universal tags ({' '.join(sorted(UD_UPOS))}); "
                            "a tagset of your own belongs in the XPOS column (column 5)", path, number)  # fmt: skip
        if not words:
            start = number
        words.append(form)
        tags.append(tag)
        surface.word(len(words), form, fields[9])
    _check_ranges(ranges, len(words), path)
    _finish(out, words, tags, start, surface)
    if not out.words:
        raise DataError("no sentences (no token lines)", path)
    if unspecified and unspecified == out.tokens:  # a treebank without lemmas: not forms under another name
        raise DataError("no LEMMA tags (column 3 is '_' on every token)", path)
    return out


def _check_ranges(ranges: list[tuple[int, int]], words: int, path: Path) -> None:
    """Return nothing once every multiword token of a sentence of `words` words spans words it has, and
    empty `ranges` ((last word, line) each); else raise DataError naming the first range's line."""
    for last, number in ranges:
        if last > words:
            raise DataError(f"multiword token range ends at word {last}, but its sentence has {words} "
                            "word(s)", path, number)  # fmt: skip
    ranges.clear()


def _finish(
    out: TaggedSentences, words: list[str], tags: list[str], start: int, surface: _SurfaceText | None = None
) -> None:
    """Append the sentence in `words`/`tags` (starting on line `start`; its text and multiword tokens from
    `surface` when the reader keeps them) to `out` and empty them; none if empty. `surface` starts on the
    next sentence either way."""
    text, multiword = surface.take() if surface is not None else (None, [])
    if words:
        out.words.append(list(words))
        out.tags.append(list(tags))
        out.lines.append(start)
        if text is not None:
            out.texts.append(text)
            out.multiword.append(multiword)
        words.clear()
        tags.clear()


class _SurfaceText:
    """The text of the CoNLL-U sentence being read: its `# text =` comment, else its surface tokens."""

    def __init__(self) -> None:
        self.given: str | None = None
        self.tokens: list[str] = []
        self.covered = 0  # the last word id a multiword token spans: its words are not written apart
        self.multiword: list[tuple[str, int]] = []  # (form, index of its first word)

    def comment(self, line: str) -> None:
        """Return nothing after noting the sentence's text if `line` is its `# text =` comment."""
        match = TEXT_COMMENT.match(line)
        if match:
            self.given = match["text"].strip()

    def token(self, form: str, misc: str, first_word: int, last_word: int) -> None:
        """Return nothing after noting a multiword token's surface form (spanning word ids `first_word` to
        `last_word`)."""
        self._add(form, misc)
        self.multiword.append((form, first_word - 1))
        self.covered = max(self.covered, last_word)

    def word(self, word_id: int, form: str, misc: str) -> None:
        """Return nothing after noting a word's form, unless a multiword token wrote it already."""
        if word_id > self.covered:
            self._add(form, misc)

    def _add(self, form: str, misc: str) -> None:
        # UD marks a token written without a space after it in MISC, and one followed by other whitespace
        # (two spaces, a no-break space, a newline) by SpacesAfter=, which says it exactly
        fields = misc.split("|")
        spaces = next((f[len("SpacesAfter=") :] for f in fields if f.startswith("SpacesAfter=")), None)
        if spaces is not None:
            self.tokens.append(form + _unescape_spaces_after(spaces))
        else:
            self.tokens.append(form if "SpaceAfter=No" in fields else form + " ")

    def take(self) -> tuple[str, list[tuple[str, int]]]:
        """Return the sentence's text (the comment, else its tokens) and its multiword tokens, and start on
        the next sentence."""
        text, multiword = self.given or "".join(self.tokens).strip(), self.multiword
        self.given, self.tokens, self.covered, self.multiword = None, [], 0, []
        return text, multiword


_SPACES_ESCAPES = {"s": " ", "t": "\t", "n": "\n", "r": "\r", "p": "|", "\\": "\\"}
_SPACES_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|.)")


def _unescape_spaces_after(value: str) -> str:
    """Return the whitespace a MISC `SpacesAfter=` value stands for, unescaped as the CoNLL-U spec has it
    (universaldependencies.org/misc.html): \\s space, \\t tab, \\n newline, \\r carriage return, \\p pipe,
    \\\\ backslash, \\uXXXX the character of that code point; any other character, or an unknown escape, is
    kept as written."""

    def one(match: re.Match[str]) -> str:
        escape = match[1]
        if len(escape) == 5:  # uXXXX
            return chr(int(escape[1:], 16))
        return _SPACES_ESCAPES.get(escape, match[0])

    return _SPACES_ESCAPE.sub(one, value)


def _is_range_or_node(token_id: str) -> bool:
    """Return whether `token_id` is a multiword range ("3-4") or an empty node ("3.1")."""
    for sep in ("-", "."):
        left, found, right = token_id.partition(sep)
        if found:
            return ascii_digits(left) and ascii_digits(right)
    return False


def read_conll_ner(path: PathLike, *, language: str | None = None) -> TaggedSentences:
    """Return the sentences of a CoNLL-2003-style file: `word [other columns] tag`, blank lines between.

    Columns are separated by spaces or tabs; the tag is the last one. `-DOCSTART-` lines are skipped. A token
    line whose column count differs from the file's first token line, or that has fewer than 2 columns, is a
    DataError naming the file and line; so is a file with no sentence.
    """
    path = require_file(path)
    out = TaggedSentences([], [], str(path), language or ud_file_language(path))
    words: list[str] = []
    tags: list[str] = []
    start = 0
    expected: int | None = None
    first_line = 0

    for number, text in _decoded_lines(path):
        fields = text.split()
        if not fields:
            _finish(out, words, tags, start)
            continue
        if fields[0] == "-DOCSTART-":
            _finish(out, words, tags, start)
            continue
        if len(fields) < 2:
            raise DataError(f"token line with {len(fields)} column, expected a word and a tag", path, number)
        if expected is None:
            expected, first_line = len(fields), number
        elif len(fields) != expected:
            raise DataError(
                f"token line with {len(fields)} columns, expected {expected} (as on line {first_line})",
                path,
                number,
            )
        if not words:
            start = number
        words.append(fields[0])
        tags.append(fields[-1])
    _finish(out, words, tags, start)
    if not out.words:
        raise DataError("no sentences (no token lines)", path)
    return out


def find_ud_file(root: PathLike, treebank: str, split: str) -> Path:
    """Return the CoNLL-U file of one split ("train", "dev", "test") of a treebank folder under `root`.

    `treebank` is a folder name such as "UD_English-ParTUT"; the file is `*-ud-<split>.conllu` or `.gz`.
    """
    folder = Path(root) / treebank
    if not folder.is_dir():
        raise DataError("no such treebank folder", folder)
    found = sorted(folder.glob(f"*-ud-{split}.conllu")) + sorted(folder.glob(f"*-ud-{split}.conllu.gz"))
    if not found:
        raise DataError(f"no *-ud-{split}.conllu(.gz) file in the treebank folder", folder)
    return found[0]
