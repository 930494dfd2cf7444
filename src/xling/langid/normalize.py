"""Text normalisation before language identification: what carries no language is removed, so that a tweet
and a Bible verse in one language look alike, and `und` is said for text with nothing left."""

from __future__ import annotations

import unicodedata

import regex

__all__ = [
    "LINKS", "SPACELESS_PUNCTUATION", "SPACELESS_SCRIPTS", "has_name", "lower", "normalize_text",
]  # fmt: skip

# Fullwidth ASCII (U+FF01-FF5E) folded to ASCII first, one character for one, so that a fullwidth URL or
# hashtag is found as one and a fullwidth apostrophe stays an apostrophe.
_FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_HAS_FULLWIDTH = regex.compile(r"[\uFF01-\uFF5E]")
# A host ends at a space, or at a letter or punctuation mark of a script written without spaces:
# "请发邮件到info@example.com。谢谢" holds one address, not a sentence-long one ("info@example.com으로"). A URL's
# path ends at a space or at such a script's punctuation only, since a copied address keeps its letters
# (https://zh.wikipedia.org/wiki/北京). Both sets are also xling.translation.segmentation's, for its links.
SPACELESS_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
SPACELESS_PUNCTUATION = r"\u3000-\u303F\uFF00-\uFFEF"
_IN_HOST = rf"[^\s/{SPACELESS_SCRIPTS}{SPACELESS_PUNCTUATION}]"
_PATH = rf"(?:/[^\s{SPACELESS_PUNCTUATION}]*)?"
# A host without a scheme or www. ("google.com", "bit.ly/3xYz", "我在google.com上"): ASCII labels and a
# top-level domain in lower case, a common generic one or any two letters, so that sentences glued at a full
# stop before a capital ("gut.Das", "done.It"), abbreviations ("e.g.", "z.B.", "EE.UU.") and numbers
# ("3.14") are no hosts; a lower-case word glued to a two-letter one ("fertig.es") is taken for one, as
# are file names ("main.py"). Not the name before an e-mail's @ ("wang.li@example.com" is one address),
# and a letter of a script written without spaces may touch it.
_TOP_DOMAIN = r"(?-i:com|org|net|edu|gov|mil|int|info|biz|app|dev|xyz|online|site|[a-z]{2})"
# The labels are one atomic group, each dot followed by a letter or digit: the top-level domain is what
# follows the last such dot (backtracking into the labels took "foo.bar" of "foo.bar.baz", and a long run
# of them took quadratic time), and a full stop after a host ends no label ("Google.com. Then").
_BARE_HOST = (
    rf"(?<!(?![{SPACELESS_SCRIPTS}])[\w@./-])(?>(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.(?=[a-z0-9]))+)"
    rf"{_TOP_DOMAIN}(?!(?![{SPACELESS_SCRIPTS}])[\w@-])"
)
# A scheme starts where a run of its characters starts: tried inside a run of letters, it scanned the rest of
# the run from each of them (quadratic time).
# After a scheme, a host that starts with a letter of a script without spaces is an internationalised one
# in that script ("https://例子.测试/路径", which was read as Chinese): dotted labels followed by a path, a space,
# such a script's punctuation or the text's end, so that text glued on without a dot is no host
# ("访问http://北京大学今天天气很好" keeps its words; glued after a dotted host, they go with it).
_SCHEME = r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://"
_IDN_LABEL = rf"[^\s/.{SPACELESS_PUNCTUATION}]+"
_IDN_HOST = rf"{_IDN_LABEL}(?:\.{_IDN_LABEL})+(?=[\s/{SPACELESS_PUNCTUATION}]|$)"
_URL = rf"(?:{_SCHEME}(?:{_IN_HOST}+|{_IDN_HOST})|www\.{_IN_HOST}+|{_BARE_HOST}){_PATH}"
# An e-mail address is letters, digits and . _ % + - around its @ (not a word glued before it by a colon:
# "Kontakt:info@example.com" keeps "Kontakt"), in no script written without spaces.
_IN_ADDRESS = rf"(?:(?![{SPACELESS_SCRIPTS}])[\p{{L}}\p{{M}}\p{{N}}._%+-])"
# Tried only where a run of address characters starts, or where the previous match ended (\G: a mention
# "@user" leaves ".name@example.com"): tried inside a run, it scanned the rest of the run from every one of
# its characters (quadratic: 100,000 characters without a space took 90 s), and it fails there whenever it
# failed at the run's start, since both need the @ at the run's end.
_EMAIL = rf"(?:\G|(?<!{_IN_ADDRESS})){_IN_ADDRESS}+@{_IN_ADDRESS}+\.{_IN_ADDRESS}+"
# URLs and e-mail addresses (also xling.translation.segmentation's: nothing to translate in them).
LINKS = regex.compile(rf"{_URL}|{_EMAIL}", regex.IGNORECASE)
# URLs, e-mail addresses, @mentions and #hashtags are names, not language (a French tweet's "#BlackFriday").
# A Weibo topic is closed by a second # ("#东京#"); otherwise a tag, like a host, ends at a letter of a script
# written without spaces: "@小明你好吗" or "#東京#今日はとても暑いですね" lost their whole sentence (und).
# The closed form only for a topic in such a script: in "#love#instagood#happy" it took `#love#` and left
# every second tag as words (Polish with such a chain was English, 0.94).
_TAG = rf"#(?=[^#\s]*[{SPACELESS_SCRIPTS}])[^#\s]{{1,50}}#|[@#](?:(?![{SPACELESS_SCRIPTS}])[\p{{L}}\p{{M}}\p{{N}}_])+"
_NOISE = regex.compile(rf"{LINKS.pattern}|{_TAG}", regex.IGNORECASE)
# Each of _NOISE's patterns needs one of these: most texts have none, and `\S+@` backtracks through every
# word (half of the time of normalising a news sentence went there).
_NAME_MARK = regex.compile(r"[@#]|://|www\.", regex.IGNORECASE)  # a mark of a name, whatever follows it
_NOISE_MARK = regex.compile(rf"{_NAME_MARK.pattern}|[a-z0-9]\.(?-i:[a-z]{{2}})", regex.IGNORECASE)
# A character in emoji (U+FE0F) or text (U+FE0E) presentation is a pictograph even where it is a letter
# ("ℹ️", information source, is Ll): it goes with its selector.
_PRESENTED = regex.compile(r"[^\s\p{M}]\p{M}*?[\uFE0E\uFE0F]")
# Symbols, punctuation and digits go BEFORE NFKC, which would turn some into letters ("™" -> "TM", "Ⓜ" -> "M",
# "℃" -> "°C", "Ⅻ" -> "XII"); apostrophes stay for the in-word test below.
_SYMBOLS = regex.compile(r"[\p{S}\p{P}\p{N}--[']]+", regex.V1)
# The typographic apostrophe is the ASCII one: phones and word processors write "don’t" for "don't", and a
# corpus writes one or the other throughout (the French Bible ’ alone, the English one ' alone), so kept apart
# they taught the detector a typesetting habit ("don’t" was Low German, 0.34).
TYPOGRAPHIC_APOSTROPHE = "\u2019"
# Everything but letters, combining marks (Indic vowel signs are marks, not letters) and in-word apostrophes.
# A mark is kept only on a letter: emoji carry marks of their own (U+20E3 draws a keycap), which would
# otherwise leave "1⃣" a letter-like text to label.
# An apostrophe is in a word when a letter (and its marks) comes before and a letter after: a mark on no
# letter goes in the same pass, so "1\u0301'b" (digit, stray mark) gives "b", not "'b" (which a second pass
# would have turned into "b").
_NOT_LANGUAGE = regex.compile(r"[^\p{L}\p{M}\s']+|(?<![\p{L}\p{M}])\p{M}+|(?<!\p{L}\p{M}*)'|'(?!\p{L})")
# Invisible characters that join or hyphenate inside a word are no word break: the soft hyphen (U+00AD), the
# Mongolian vowel separator (U+180E), the zero-width joiner (U+200D, inside Indic words), the word joiner and
# invisible operators (U+2060-2064), the zero-width no-break space (U+FEFF); they go, where other non-letters
# become spaces ("Schmet\u00adterling" was "schmet terling", German 0.63 against 0.97). Not the zero-width
# space (U+200B), which marks a word break, nor direction marks, nor ZWNJ (U+200C: Persian writes it where a
# space also stands, "می‌خواهم" / "می خواهم"): spaces they stay.
_FORMAT = regex.compile(r"[\u00ad\u180e\u200d\u2060-\u2064\ufeff]+")
# Letters of the Turkic Latin alphabets (Turkish, Azerbaijani, Gagauz, Crimean Tatar) that no other
# alphabet xling knows has: a text with one lowers its `I` to `ı`, as Turkish does.
_TURKIC = regex.compile(r"[ıİğĞəƏ]")
# ş too, unless the text has a letter of Romanian's that Turkish never writes (ă ţ ș ț; not â î: "HÂLÂ"),
# Romanian being still often written with ş and ţ (cedilla) for ș and ț: "ŞTIRI DIN ŢARĂ" was "ştırı dın ţară".
# Romanian UDHR crops so written, in capitals, 77.6% / 93.8% right (1-3 / 4-10 words) with ş a Turkic letter,
# 79.6% / 97.0% with this rule (81.0% / 99.6% without ş at all, which lost "IŞIK"); Turkish UD IMST crops in
# Turkish capitals 85.5% / 99.8% each way (a /tmp script, not kept). "ŞTIRI DIN ROMÂNIA" still folds.
_TURKIC_S = regex.compile(r"[şŞ]")
_ROMANIAN = regex.compile(r"[ăĂţŢșȘțȚ]")
_TURKIC_WORD = regex.compile(r"\w*[ıİğĞşŞəƏ]\w*")  # a word with one of those letters
_TURKIC_LETTER = regex.compile(r"[ıİğĞşŞəƏ]")
_WORD = regex.compile(r"\p{L}[\p{L}\p{M}]*")
# Variation selectors choose a glyph (U+FE0F: emoji style, as in "❤️"), never a language.
_SELECTORS = regex.compile(r"\p{Variation_Selector}+")
# Emoticons drawn with letters, which the removal of punctuation would leave as words ("xD" was Italian, 0.31;
# the shrug's ツ Japanese, 1.0): a mouth letter after colon, semicolon or equals eyes (":D", ";-P", ":ooo",
# "=S"), x eyes, a nose and a grin or tongue ("x-D"; "xD" below, _X_FACE), a face of two like eyes around _ or ‿ ("o_O", "T_T", "ಠ_ಠ", "ʘ‿ʘ") and one
# letter alone in parentheses with what draws the face ("(ツ)", "(´・ω・`)"; also "(a)", a list marker). Not
# after a letter or digit ("EU:s", Swedish for "EU's", keeps its s; "haha:D" keeps a d), nor before one
# ("Re:Post").
_EMOTICON = regex.compile(
    r"(?<![\p{L}\p{M}\p{N}])(?:[:;=]['^-]?([dposbxc])\1*|x-([dp])\2*)(?![\p{L}\p{M}\p{N}])"
    r"|(?<![\p{L}\p{M}\p{N}])(\p{L})[_\u203f]\3(?![\p{L}\p{M}\p{N}])"
    r"|\([^\p{L}\p{M}\s()]*\p{L}\p{M}*[^\p{L}\p{M}\s()]*\)",
    regex.IGNORECASE,
)
# Each of _EMOTICON's patterns needs one of these: most texts have none, and the pattern tried at every letter
# made normalising a sentence much slower (an ad-hoc count and timing on 2026-12-07, not kept: 104 of 7,200
# Tatoeba sentences held a mark; 1.7x slower without this check, 1.13x with it and _X_FACE's pass below).
_EMOTICON_MARK = regex.compile(r"[:;=_\u203f(]|[xX]-")
# x eyes with a grin or tongue written without a nose ("xD", "XP", "xDDD"), looked for in the normalised text:
# a face that digits or NFKC leave alone ("2xD", "𝐱𝐃") would otherwise go only when normalised again
_X_FACE = regex.compile(r"(?<!\S)x(?:d+|p+)(?!\S)")


def lower(text: str) -> str:
    """Return `text` in lower case, with Turkish and Azerbaijani dotless `I` lowered to `ı` in a word that
    holds a letter only Turkic alphabets have (ı ğ ş İ ə, either case; ş not in a text with a Romanian
    letter), or in every word of a text written in capitals where a quarter of the words hold one
    (TURKIC_WORD_SHARE).

    `str.lower` knows no language: every `I` became a dotted `i`, so "IŞIK" was "işik", and an upper-case
    Turkish text had other features than its lower-case form. Word by word in mixed case, not for the whole
    text: one Turkish name ("I met Erdoğan in Istanbul") must not turn English "I" and "In" into "ı"; a word without
    such a letter ("KIZ") keeps `i`, as English and German capitals are far more common. `İ` still lowers to
    `i` and a combining dot (U+0307), as the shipped detector was trained: only Turkic text has it, and
    dropping it lost more upper-case Turkish than it won (tur 1-3 word upper-case crops of UD Turkish-IMST
    train 87.5% -> 85.1%; kept: 87.8%; measured once with a scratch script, not kept). Lower, not
    casefold: German ß is a clue."""
    if "I" in text and (_TURKIC.search(text) or (_TURKIC_S.search(text) and not _ROMANIAN.search(text))):
        if _mostly_upper(text) and _turkic_share(text) >= TURKIC_WORD_SHARE:
            text = text.replace("I", "ı")  # "SIĞIR ÇOK PAHALI": the text's capitals are Turkish, PAHALI's too
        else:
            text = _TURKIC_WORD.sub(lambda word: word.group().replace("I", "ı"), text)
    return text.lower()


TURKIC_WORD_SHARE = 0.25
"""Share of a capitals text's words that must hold a Turkic letter for every `I` of it to be `ı`: one Turkish
name in an English or German headline ("PRESIDENT ERDOĞAN VISITS WASHINGTON") made it Turkish. In UD
Turkish-IMST's 3,435 train sentences written in capitals, half the words hold one (the median share), and
88.6% of the sentences reach the quarter; the others fold word by word (2026-12-08, docs/langid.md)."""


def _turkic_share(text: str) -> float:
    """Return the share of the words of `text` that hold a letter only Turkic alphabets have."""
    words = _WORD.findall(text)
    return sum(bool(_TURKIC_LETTER.search(word)) for word in words) / max(len(words), 1)


def _mostly_upper(text: str) -> bool:
    """Return whether most of the cased letters of `text` are capitals (a text written in capitals)."""
    upper = sum(c.isupper() for c in text)
    return upper > sum(c.islower() for c in text)


def has_name(text: str) -> bool:
    """Return True when `text` may hold a URL, an e-mail address, a @mention or a #hashtag (what
    `normalize_text` removes whole): it holds `@`, `#`, `://` or `www.`, or a host without a scheme
    (`google.com`); a letter, a dot and two small letters alone ("fine.thanks") are no name."""
    if _NAME_MARK.search(text):
        return True
    return _NOISE_MARK.search(text) is not None and _NOISE.search(text) is not None


def normalize_text(text: str) -> str:
    """Return `text` in NFKC, lower-cased, without URLs, e-mails, @mentions, #hashtags, digits, emoji, symbols
    and punctuation, spaces collapsed; an empty string when no letter is left.

    Symbols, digits, punctuation and characters in emoji presentation (a character followed by U+FE0F or
    U+FE0E) are removed before NFKC, so that none becomes a letter ("™", "Ⓜ️", "ℹ️", "℃ ㎏" leave nothing);
    letters in compatibility forms (fullwidth "Ａ", the ligature "ﬁ") are letters and fold as before."""
    if _HAS_FULLWIDTH.search(text):  # the checks first: most texts have neither, and translating costs
        text = text.translate(_FULLWIDTH)
    if TYPOGRAPHIC_APOSTROPHE in text:
        text = text.replace(TYPOGRAPHIC_APOSTROPHE, "'")
    if _NOISE_MARK.search(text):
        text = _NOISE.sub(" ", text)
    if "\ufe0f" in text or "\ufe0e" in text:
        text = _PRESENTED.sub(" ", text)
    text = _SELECTORS.sub("", _FORMAT.sub("", text))
    if _EMOTICON_MARK.search(text):
        text = _EMOTICON.sub(" ", text)
    text = _SYMBOLS.sub(" ", text)
    text = unicodedata.normalize("NFKC", text)
    text = _NOT_LANGUAGE.sub(" ", lower(text))
    if "x" in text:
        text = _X_FACE.sub(" ", text)
    # str.split's whitespace is regex's \s plus U+001C-001F, which _NOT_LANGUAGE has already removed
    return " ".join(text.split())
