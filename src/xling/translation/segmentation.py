"""Cut a document into sentences for translation and put the translations back in its layout.

Sentences come from pysbd (rule-based, per language where it has rules, else those of a language written in
the text's script, so that `।`, `።` or `۔` end a sentence, else English's). Line breaks are kept: each line, and each paragraph break
(`\\n\\n`; `\\r`, U+2028, U+2029 and the other breaks of str.splitlines too), comes back where it was, with
the text's leading and trailing whitespace. A "sentence" without a letter once URLs, digits, emoji and
punctuation are set aside (`...`, `***`, `3:16`, a bare link), or one that is a single link or tag of any
script (`http://例子.测试/`, `mailto:...`, `#Straße`), is kept as it is rather than translated; a link inside
a sentence is translated with it. pysbd's time grows faster than the length of what it is given (about 0.2 s
for 10k characters, 3 s for 50k on one line), so a long line is first cut into blocks of about BLOCK_CHARS at
a sentence end (or a space, else anywhere) and each block is segmented alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import regex

from xling.langid.normalize import LINKS, SPACELESS_PUNCTUATION, SPACELESS_SCRIPTS
from xling.langid.scripts import dominant_script, script_of

BLOCK_CHARS = 2000

# Languages written without spaces between sentences: their translated sentences are joined with "". Thai,
# Lao, Khmer, Burmese and Tibetan leave words unspaced but mark sentence (and phrase) ends with a space, so
# they are not here.
NO_SPACE_LANGUAGES = frozenset({"zho", "cmn", "yue", "wuu", "lzh", "jpn"})

# what str.splitlines breaks lines at, not only "\n": pysbd ends a sentence at "\r" and U+2029 too, and a
# paragraph break written so must come back as one, not as a space
_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
# Tried only where a run of whitespace starts (not after a space that breaks no line): tried at every space of
# a long run without a break, it scanned the rest of the run each time (50,000 spaces: 12 s)
_LINE_BREAKS = re.compile(rf"((?<![^\S{_BREAKS}])\s*[{_BREAKS}]\s*)")
_A_BREAK = re.compile(rf"[{_BREAKS}]")
# a full stop followed by space, or a full-width one (Chinese and Japanese put no space after it) with the
# closing quotes and brackets that belong to its sentence (…ね。」と)
_CLOSERS = "」』）】〕〉》”’\"')"
_FULL_WIDTH_ENDS = "。！？" + _CLOSERS
# (with the sentence ends of Devanagari and Bengali `।`, Urdu `۔` `؟`, Ethiopic `።` `፧`, Burmese `။`, Armenian
# `։`, Khmer `។`, Tibetan `།`: a long Hindi line was cut at a space inside a sentence)
_SENTENCE_END = re.compile(rf"[.!?…।॥۔؟።፧။։។།\u037e]\s|[。！？][{re.escape(_CLOSERS)}]*")
_GREEK_SENTENCE_END = re.compile(rf"{_SENTENCE_END.pattern}|;\s")  # Greek asks with `;`
# closers that only close: moved onto the full-width sentence before them (an ASCII quote may open the next)
_ONLY_CLOSERS = _CLOSERS.replace('"', "").replace("'", "")
# links and e-mail addresses (the language detector's, which end where a script without spaces starts, but
# for a dotted host of such letters right after a scheme) and @mentions and #hashtags in ASCII (has_words):
# nothing to translate in them
_LINKS = regex.compile(rf"{LINKS.pattern}|[@#][A-Za-z0-9_]+", regex.IGNORECASE)
# A line or sentence that is one link or tag and nothing else, in any script: a URL of these schemes or www.
# whose host may be of any letters (http://例子.测试/), a mailto: address, a @mention or #hashtag of letters
# (#Straße). Matched whole only: inside a text, a host or a tag of any letters would take the words after it
# along, so there _LINKS decides (it takes such a host only dotted, after a scheme). As in LINKS, a URL ends
# at the punctuation of a script without spaces ("https://example.com。谢谢" holds a word), and a tag holds no
# letter of one ("#今天天气很好" is a sentence).
_WHOLE_LINK = regex.compile(
    rf"(?:(?:https?|ftps?|sftp)://|www\.|mailto:)[^\s{SPACELESS_PUNCTUATION}]+"
    rf"|[@#](?:(?![{SPACELESS_SCRIPTS}])[\p{{L}}\p{{M}}\p{{N}}_])+",
    regex.IGNORECASE,
)


# A list marker at the start of a line: a bullet, a lower-case letter or a small Roman numeral before `.` or
# `)`, a capital letter or a number before `)`, a Markdown heading's or quotation's `#`s or `>`, followed by
# space and text. Kept as it is: translated with its item, `- First item.` came back as `Folgen hat es. –`,
# pysbd made `II.` a sentence of its own (`Ich. Methioth`), and `## Setup` went to the model with its `##`.
# Not a number before `.`: a German date starts so (`3. Oktober ist ein Feiertag.`)
_LIST_MARKER = re.compile(
    r"(?:[-*•‣◦▪►·–—]|#{1,6}|>|\(?(?:[a-z]|[ivx]{2,5}|[IVX]{2,5})[.)]|\(?(?:[A-Z]|\d{1,3})\))[^\S\n]+(?=\S)"
)
# A capital letter before `.` is a marker only where two lines or more start with one or with a Roman numeral
# (`I. Overview` / `II. Methods`): alone it is an initial (`J. K. Rowling wrote it.`, `E. coli is ...`)
_CAPITAL_MARKER = re.compile(r"(?:[A-Z]|[IVX]{2,5})\.[^\S\n]+(?=\S)")


@dataclass(frozen=True)
class Layout:
    """A text as `gaps[0] + parts[0] + gaps[1] + parts[1] + ... + gaps[-1]`.

    `translate[i]` says whether part i is a sentence to translate (else it is kept as is: punctuation only).
    A gap is whitespace: the text's leading/trailing whitespace, a line or paragraph break, or the space
    between two sentences of one line (which becomes the target language's separator when rejoined); the
    gap before a line also holds its list marker (`- `, `2) `, `b. `), kept as it is.
    """

    parts: tuple[str, ...]
    translate: tuple[bool, ...]
    gaps: tuple[str, ...]

    @property
    def sentences(self) -> list[str]:
        """Return the parts to translate, in order."""
        return [part for part, keep in zip(self.parts, self.translate, strict=True) if keep]

    def join(self, translations: Sequence[str], target_language: str | None = None) -> str:
        """Return the text rebuilt with `translations` (one per sentence, in order) in place of the sentences."""
        if len(translations) != sum(self.translate):
            raise ValueError(f"{len(translations)} translations for {sum(self.translate)} sentences")
        space = "" if target_language in NO_SPACE_LANGUAGES else " "
        done = iter(translations)
        out = [self.gaps[0]]
        pending = ""  # the separator owed to the next sentence of the same line (none after an empty output)
        for i, (part, keep) in enumerate(zip(self.parts, self.translate, strict=True)):
            piece = next(done).strip() if keep else part
            if piece:
                out += [pending, piece]
            gap = self.gaps[i + 1]
            if i + 1 == len(self.parts) or _A_BREAK.search(gap):
                out.append(gap)
                pending = ""
            elif piece:
                pending = space
        return "".join(out)


def has_words(text: str) -> bool:
    """Return True when `text` holds a letter once links, e-mail addresses, and @mentions and #hashtags
    written in ASCII are set aside, and it is not one link or tag as a whole (`is_whole_link`): a bare number
    or link has nothing to translate, and a model would make up words for it. In a script without spaces
    (请发邮件到info@example.com。) only the address goes."""
    return not is_whole_link(text) and any(char.isalpha() for char in _LINKS.sub(" ", text))


def is_whole_link(text: str) -> bool:
    """Return True when `text` (surrounding whitespace aside) is one link or tag and nothing else, in any
    script: a URL (http, https, ftp, ftps, sftp or www.; http://例子.测试/), a mailto: address, a @mention
    or #hashtag of letters (#Straße)."""
    return _WHOLE_LINK.fullmatch(text.strip()) is not None


def segment(text: str, language: str | None = None) -> Layout:
    """Return the layout of `text`: its sentences (split for ISO 639-3 `language`) and the whitespace around them."""
    stripped = text.strip()
    lead = text[: len(text) - len(text.lstrip())]
    tail = text[len(text.rstrip()) :] if stripped else ""
    if not stripped:
        return Layout((), (), (text,))
    parts: list[str] = []
    gaps: list[str] = [lead]
    pieces = _LINE_BREAKS.split(stripped)
    capitals = sum(1 for piece in pieces[::2] if _CAPITAL_MARKER.match(piece)) > 1
    for index, piece in enumerate(pieces):
        if index % 2:  # a line break with the whitespace around it
            gaps[-1] = piece
            continue
        if marker := _LIST_MARKER.match(piece) or (capitals and _CAPITAL_MARKER.match(piece)):
            gaps[-1] += marker.group()
            piece = piece[marker.end() :]
        # a line that is one link stays one part, however long (blocks keep only the links LINKS knows whole)
        for sentence, after in [(piece, "")] if is_whole_link(piece) else _sentences(piece, language):
            parts.append(sentence)
            gaps.append(after)
    gaps[-1] = tail
    return Layout(tuple(parts), tuple(has_words(p) for p in parts), tuple(gaps))


def _sentences(line: str, language: str | None) -> list[tuple[str, str]]:
    """Return the sentences of one line (no line break in it), each with the whitespace after it."""
    out: list[tuple[str, str]] = []
    for block in _blocks(line, language):
        # pysbd's Greek rules end a question at `;` but not at the Greek question mark (U+037E), which NFKC
        # makes `;`: read as `;`, one character for one, so the block is cut where its copy is
        readable = block.replace("\u037e", ";") if "\u037e" in block else block
        sentences = _aligned(readable, _pysbd_segments(readable, language))
        if readable is not block:
            sentences = _cut_alike(block, readable, sentences)
        out += sentences
    return _join_abbreviations(out, language) or [(line, "")]


def _cut_alike(block: str, copy: str, sentences: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Return the (sentence, whitespace after it) pairs of `block` cut where `sentences` cut `copy`, a copy of
    it with some characters replaced one for one."""
    out, position = [], 0
    for sentence, after in sentences:
        start = copy.find(sentence, position)
        position = start + len(sentence)
        out.append((block[start:position], after))
    return out


# Titles before a name that pysbd ends a sentence at (its Spanish splits "El Sr. | García llegó."): joined when
# a capital or a name particle follows ("Mevr. de Vries")
_TITLES = {
    "spa": {"Sr", "Sra", "Srta", "Dr", "Dra", "Dña"}, "por": {"Sr", "Sra", "Srta", "Dr", "Dra"},
    "nld": {"Dhr", "Mevr", "Mw", "Dr", "Prof"}, "deu": {"Hr", "Dr", "Prof"}, "swe": {"Dr", "Prof"},
    "ell": {"κ", "Κ"}, "rus": {"г-н", "г-жа", "тов"}, "ukr": {"п", "д-р"},
}  # fmt: skip
_PARTICLES = {"de", "da", "das", "do", "dos", "del", "la", "van", "von", "der", "ter", "ten"}
# Abbreviations within a sentence that pysbd ends one at (none of Swedish: pysbd has no rules for it):
# joined when a lower-case word or a number follows, so one that ends a sentence still ends it. One written
# with a leading `-` ends a word (Hauptstr. 5)
_ABBREVIATIONS = {
    "swe": {"t.ex.", "bl.a.", "kl.", "s.k.", "dvs.", "d.v.s.", "m.fl.", "m.m.", "ca.", "resp.", "f.d.", "o.s.v."},
    "rus": {"т. е.", "т.е.", "т. к.", "т.к.", "т. н.", "т.н.", "напр.", "см.", "ок.", "им."},
    "ukr": {"т. зв.", "т.зв.", "т. е.", "напр.", "див.", "ім."},
    "ell": {"π.χ.", "δηλ.", "βλ."}, "spa": {"Ud.", "Uds.", "p. ej.", "aprox."}, "por": {"p. ex.", "aprox."},
    "deu": {"z. B.", "z.B.", "d. h.", "d.h.", "u. a.", "u.a.", "bzw.", "ca.", "vgl.", "Str.", "-str."},
    "eng": {"approx.", "ca.", "cf.", "resp.", "esp.", "incl.", "excl.", "est."},
    "nld": {"bijv.", "o.a.", "d.w.z.", "m.b.t."}, "fra": {"p. ex.", "c.-à-d.", "env."},
}  # fmt: skip


def _join_abbreviations(sentences: list[tuple[str, str]], language: str | None) -> list[tuple[str, str]]:
    """Return `sentences` with a sentence that ends at an abbreviation joined to the next: a title before a
    name (Sr. García), or an abbreviation of the language's list before a lower-case word or a number (t.ex.
    bra, т. е. хорошо, kl. 5), where pysbd's rules ended a sentence."""
    out: list[tuple[str, str]] = []
    for sentence, after in sentences:
        if out and out[-1][1].strip() == "" and after_abbreviation(out[-1][0], sentence, language):
            previous, gap = out.pop()
            sentence = previous + gap + sentence
        out.append((sentence, after))
    return out


def after_abbreviation(sentence: str, following: str, language: str | None) -> bool:
    """Return whether `sentence` ends at an abbreviation that `following` continues (see _join_abbreviations)."""
    if not sentence.endswith(".") or not following.strip():
        return False
    words = sentence[:-1].rsplit(None, 1)[-1:]  # its last word only (the whole split grew with each join)
    next_word = following.split(None, 1)[0]
    if words and words[-1] in _TITLES.get(language or "", ()):
        return next_word[0].isupper() or next_word in _PARTICLES
    abbreviations = _ABBREVIATIONS.get(language or "", ())
    # an abbreviation of several parts that pysbd cut between them ("т. | зв.")
    if any(_ends_with(sentence, head) and following.startswith(tail)
           for abbreviation in abbreviations for head, _, tail in _cuts(abbreviation)):  # fmt: skip
        return True
    continued = next_word[0].islower() or next_word[0].isdigit()
    return continued and any(_ends_with(sentence, a) for a in abbreviations)


def _ends_with(sentence: str, word: str) -> bool:
    """Return whether `sentence` ends with `word` as a whole word (as a word's end, for a `word` written with a
    leading `-`: `-str.` of Hauptstr.)."""
    if word.startswith("-"):
        return sentence.endswith(word[1:])
    return sentence.endswith(word) and (len(sentence) == len(word) or not sentence[-len(word) - 1].isalnum())


def _cuts(abbreviation: str) -> list[tuple[str, str, str]]:
    """Return the ways to cut `abbreviation` at one of its spaces: (head, " ", tail)."""
    return [(abbreviation[:i], " ", abbreviation[i + 1 :]) for i, c in enumerate(abbreviation) if c == " "]


def _aligned(block: str, segments: Sequence[str]) -> list[tuple[str, str]]:
    """Return (sentence, the whitespace after it) for pysbd's `segments` of `block`, cut from the block
    itself, so that no character is lost: pysbd drops some trailing punctuation (`Hello. ?!`, `no.?!`),
    which stays with the sentence before it, and a cut with no space at it (`search?q=cats`) is undone,
    unless it follows a full-width sentence end (Chinese and Japanese put no space after one)."""
    spans: list[tuple[int, int]] = []
    position = 0
    for raw in segments:
        sentence = raw.strip()
        if not sentence:
            continue
        start = block.find(sentence, position)
        if start < 0:  # pysbd changed the text itself: keep the block whole rather than guess
            whole = block.strip()
            return [(whole, block[len(block.rstrip()) :] or " ")] if whole else []
        end = start + len(sentence)
        if spans and start == spans[-1][1] and block[start - 1] in "。！？":
            # closing quotes and brackets after a full-width end belong to the sentence they close (pysbd
            # starts the next one with them: 他说：“你好。|”然后走了。)
            closed = start
            while closed < end and block[closed] in _ONLY_CLOSERS:
                closed += 1
            spans[-1] = (spans[-1][0], closed)
            if closed == end:
                position = end
                continue
            start = closed
        if spans:
            between = block[spans[-1][1] : start]
            if between.strip() or (not between and block[start - 1] not in _FULL_WIDTH_ENDS):
                spans[-1] = (spans[-1][0], end)
                position = end
                continue
        elif block[:start].strip():  # dropped text before the first sentence
            start = len(block) - len(block.lstrip())
        spans.append((start, end))
        position = end
    if not spans:  # pysbd gave nothing of a block that holds text (" !!", " ?!"): kept whole, not lost
        whole = block.strip()
        return [(whole, block[len(block.rstrip()) :] or " ")] if whole else []
    if block[spans[-1][1] :].strip():  # dropped text after the last sentence
        spans[-1] = (spans[-1][0], len(block.rstrip()))
    ends = [start for start, _ in spans[1:]] + [len(block)]
    return [
        (block[start:end], block[end:after] or " ") for (start, end), after in zip(spans, ends, strict=True)
    ]


def _blocks(line: str, language: str | None = None) -> list[str]:
    """Return `line` cut into pieces of at most about BLOCK_CHARS, at sentence ends where possible."""
    blocks = []
    ending = _GREEK_SENTENCE_END if language == "ell" else _SENTENCE_END
    while len(line) > BLOCK_CHARS:
        window = line[:BLOCK_CHARS]
        matches = list(ending.finditer(window))
        # an end that may be an abbreviation only where the window has no other (a text all in lower case)
        ends = [m.end() for m in matches if not _within_sentence(line, m)] or [m.end() for m in matches]
        cut = ends[-1] if ends else (window.rfind(" ") + 1 or BLOCK_CHARS)
        # a window that ends between 。 and its 」 (after ". " an ASCII quote opens the next sentence)
        while 0 < cut < len(line) and line[cut - 1] in _FULL_WIDTH_ENDS and line[cut] in _CLOSERS:
            cut += 1
        cut = _outside_links(line, cut)
        blocks.append(line[:cut])
        line = line[cut:]
    return [*blocks, line] if line else blocks


_LAST_WORD = re.compile(r"\S{1,4}$")
_CASED_SCRIPTS = frozenset({"Latn", "Cyrl", "Grek", "Armn"})


def _within_sentence(line: str, end: re.Match[str]) -> bool:
    """Return True when the full stop (or ellipsis) `end` matched in `line` may well not end a sentence: a
    lower-case word or a digit follows (`no... and left`, `See Fig. 3`), or a capitalised word of up to three
    letters comes before it (`Dr. Smith`, `J. K.`, `U.S. Army`). Such a place is a poor block boundary: the
    sentence would be translated in two halves. A true sentence end skipped so only moves the cut to an
    earlier one."""
    mark = line[end.start()]
    if mark not in ".…":
        return False
    following = line[end.end() : end.end() + 1]
    # lower case where sentences start with a capital (Georgian's letters are lower-case ones, Ll, with
    # capitals no one writes at a sentence start: every end was taken for an abbreviation)
    if following and (following.isdigit() or following.islower() and script_of(following) in _CASED_SCRIPTS):
        return True
    word = _LAST_WORD.search(line, max(0, end.start() - 4), end.start())
    if mark != "." or word is None or len(word.group()) > 3:
        return False
    if word.start() > 0 and not line[word.start() - 1].isspace():  # the end of a longer word
        return False
    return word.group()[0].isupper() and word.group().replace(".", "").isalpha()


def _outside_links(line: str, cut: int) -> int:
    """Return `cut`, or the end of the link it falls in: a link's second half would read as words to
    translate.

    Links are searched up to BLOCK_CHARS past the cut (a search to the end of a long line without links
    reads all of it for every block); one that reaches that bound is matched again from its start without
    it, so a link of any length ends where it ends, not at the bound (its tail was translated)."""
    bound = cut + BLOCK_CHARS
    for link in _LINKS.finditer(line, 0, bound):
        if link.start() < cut < link.end():
            whole = _LINKS.match(line, link.start()) if link.end() >= bound else None
            return max(link.end(), whole.end() if whole else 0)
    return cut


@lru_cache(maxsize=64)
def _segmenter(language: str):
    """Return pysbd's segmenter for a two-letter language it has rules for (built once)."""
    import pysbd

    return pysbd.Segmenter(language=language, clean=False)


# pysbd's rules for a script's sentence ends, for a language it has no rules of its own for (English's split
# at `.`, `!` and `?` alone: a Bengali, Nepali, Tigrinya or Pashto paragraph was one sentence): Hindi's end at
# `।` (Bengali, Gurmukhi and the other Indic scripts write it too), Amharic's at `።` and `፧`, Urdu's at `۔` and
# `؟`, Armenian's at `։`, Burmese's at `။`, Greek's at `;`, Chinese's and Japanese's at `。`
# the characters pysbd's English rules end a sentence at (pysbd.lang.english.English.Punctuations)
_ENGLISH_ENDS = re.compile("[。．.！!?？]")
_SCRIPT_RULES = {
    "Deva": "hi", "Beng": "hi", "Guru": "hi", "Gujr": "hi", "Orya": "hi", "Ethi": "am", "Arab": "ur",
    "Armn": "hy", "Mymr": "my", "Grek": "el", "Hani": "zh", "Jpan": "ja",
}  # fmt: skip


def _pysbd_segments(text: str, language: str | None) -> list[str]:
    """Return pysbd's sentences of `text` in ISO 639-3 `language`: by its own rules where pysbd has them, else
    by those of the language of the script most of `text` is written in (_SCRIPT_RULES) and then English's
    within each (Urdu's end no sentence at the `.` that Pashto, Uyghur and Sorani write, nor Hindi's at
    Gujarati's), else by English's."""
    from pysbd.languages import LANGUAGE_CODES

    two = _two_letter(language) if language else None
    if two in LANGUAGE_CODES:
        return _segmenter(two).segment(text)
    english = _segmenter("en")
    rules = _SCRIPT_RULES.get(dominant_script([text]) or "")
    if rules is None:
        return english.segment(text)
    # English's pass only where English would cut: a part without its sentence ends comes back whole (half
    # the time of a Bengali text went to passes that changed nothing)
    return [sentence for part in _segmenter(rules).segment(text)
            for sentence in (english.segment(part) if _ENGLISH_ENDS.search(part) else [part])]  # fmt: skip


@lru_cache(maxsize=256)
def _two_letter(language: str) -> str | None:
    """Return the ISO 639-1 code of an ISO 639-3 language (None where it has none)."""
    import pycountry

    from xling.data.languages import MACROLANGUAGES

    for code in (language, *(macro for macro, members in MACROLANGUAGES.items() if language in members)):
        found = pycountry.languages.get(alpha_3=code)
        if found is not None and getattr(found, "alpha_2", None):
            return found.alpha_2
    return None
