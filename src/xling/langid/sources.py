"""Training text for language identification, read from the corpora xling knows: the Bible (60 languages),
the UDHR (388 varieties), UMSAB tweets, UD treebanks, Swadesh and BLI word lists, wordfreq's word frequencies,
the bundled sample and a user's `lang<TAB>text` files.
Each gives `Source`s: texts of one language, with the script when the file name says it."""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from xling.data.conllu import UD_FILE_NAME, ud_name_language
from xling.data.languages import NOT_LANGUAGES, language_code_of, same_language
from xling.data.readers import decoded_lines, line_text, numbered_lines, open_binary, require_file
from xling.data.swadesh import concept_words, swadesh_lists
from xling.data.udhr import is_placeholder
from xling.errors import ConfigError, DataError, LanguageCodeError
from xling.langid.labels import Label, parse_label, try_parse_label
from xling.langid.normalize import normalize_text
from xling.langid.scripts import dominant_script, script_of

__all__ = [
    "Source",
    "count_texts",
    "read_bli",
    "read_bible",
    "read_labelled_tsv",
    "read_sample",
    "read_udhr",
    "read_ud",
    "read_umsab",
    "read_wordfreq",
    "transliterated",
]

logger = logging.getLogger(__name__)


# UDHR file names that are not ISO 639-3 (upstream naming; the declaration in Standard Malay is `mly`), and
# retired ISO 639-3 codes with one successor (ISO 639-3 change requests: Western Frisian `fri` is `fry`,
# the Provençal, Languedocien and Auvergnat declarations are Occitan `oci`, Chamula Tzotzil `tzc` is `tzo`,
# two Huastec codes are `hus`). Retired codes split among several (blu, flm, ccx, btb, eml) are skipped.
_UDHR_ALIASES = {"mly": "zsm", "fri": "fry", "prv": "oci", "lnc": "oci", "auv": "oci", "tzc": "tzo",
                 "hsf": "hus", "hva": "hus"}  # fmt: skip
_UD_SPLITS = ("train", "dev")  # never test: the benchmark scores UD test sentences


@dataclass(frozen=True)
class Source:
    """Texts in one language from one file."""

    label: Label
    """Language, and script when the file name gives it (`srp_cyrl`)."""
    texts: tuple[str, ...]
    origin: str
    """Where the texts came from (a file), for the model card and errors."""
    supplement: bool = False
    """Training-only texts (word lists): never held out, so held-out accuracy stays one of sentences."""
    mixed: bool = False
    """Code-mixed text (tweets): lines in a script the language's curated sources lack are dropped."""


def _nonblank_lines(path: Path) -> tuple[str, ...]:
    """Return the stripped non-blank lines of a text file (plain or .gz); none for an empty file. A line that
    is not UTF-8 is a DataError naming the file and line."""
    with open_binary(path) as handle:  # its reader's errors name the file (a .gz that is not gzip)
        if next(numbered_lines(handle, path), None) is None:
            return ()
    return tuple(text for line in decoded_lines(path, None) if (text := line_text(line, path).strip()))


def _without_evaluation_lines(
    texts: Iterable[str], evaluation_lines: Iterable[str], origin: Path
) -> tuple[str, ...]:
    """Return `texts` less those equal, once normalised (`normalize_text`), to a line of an evaluation split
    (a test split the benchmark scores, UMSAB's val tweets that langid_prior.py tunes on): a corpus's own
    splits share some lines (UD English-EWT dev: 119 of them, short ones such as "Thank you."). Those lines
    are read for this alone."""
    held = {normalize_text(text) for text in evaluation_lines} - {""}
    texts = tuple(texts)
    kept = tuple(text for text in texts if normalize_text(text) not in held)
    if len(kept) < len(texts):
        logger.info(
            "%s: %d lines left out, equal to lines of an evaluation split", origin, len(texts) - len(kept)
        )
    return kept


def _matches(label: Label, languages: frozenset[str] | None) -> bool:
    """Return whether a source's label is among the wanted languages (macrolanguage aware: `ara` keeps `arb`,
    `om` the UDHR's `gax`)."""
    return languages is None or any(same_language(label.language, language) for language in languages)


def read_bible(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per `<iso639-3>.tsv.gz` file of a Bible folder (`verse_id<TAB>text` lines; a verse
    without text is left out, a line without a tab is a DataError naming the file and line)."""
    for path in sorted(Path(folder).glob("*.tsv.gz")):
        label = parse_label(path.name.removesuffix(".tsv.gz"), where=str(path))
        if not _matches(label, languages):
            continue
        texts = []
        for line in decoded_lines(path, None):
            text = line_text(line, path)
            verse = text.split("\t", 1)
            if len(verse) != 2 and text.strip():
                raise DataError("expected verse_id<TAB>text: no tab on this line", path, line.number)
            if len(verse) == 2 and verse[1].strip():
                texts.append(verse[1].strip())
        yield Source(label, tuple(texts), str(path))


def udhr_label(stem: str) -> Label | None:
    """Return the label of a UDHR file name (`srp_cyrl` -> srp_Cyrl, `por_BR` -> por); None for the unnamed
    numbered files and codes no ISO table knows."""
    code, *rest = stem.split("_")
    code = _UDHR_ALIASES.get(code, code)
    try:
        return parse_label("_".join([code, *rest]))
    except LanguageCodeError:
        return None


def read_udhr(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per `<code>.txt.gz` file of a UDHR folder (one paragraph a line)."""
    skipped = []
    for path in sorted(Path(folder).glob("*.txt.gz")):
        label = udhr_label(path.name.removesuffix(".txt.gz"))
        if label is None:
            skipped.append(path.name.removesuffix(".txt.gz"))
            continue
        if not _matches(label, languages):
            continue
        if texts := [text for text in _nonblank_lines(path) if not is_placeholder(text)]:
            yield Source(label, texts, str(path))
    if skipped:
        logger.warning("%s: %d files skipped, their names hold no current ISO 639-3 code: %s", folder,
                       len(skipped), ", ".join(skipped))  # fmt: skip


def read_umsab(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per language folder of the UMSAB layout (`<language>/train_text.txt`); train only."""
    for path in sorted(Path(folder).glob("*/train_text.txt")):
        code = language_code_of(path.parent.name)
        if code is None:
            raise DataError(
                f"folder {path.parent.name!r} names no language (expected e.g. 'german')", path.parent
            )
        label = parse_label(code)
        if _matches(label, languages):
            # the val tweets are benchmarks/langid_prior.py's dev set, the test tweets benchmarks/langid.py's
            held = [path.with_name(name) for name in ("val_text.txt", "test_text.txt")]
            held_texts = [text for other in held if other.is_file() for text in _nonblank_lines(other)]
            texts = _without_evaluation_lines(_nonblank_lines(path), held_texts, path)
            yield Source(label, texts, str(path), mixed=True)


def read_ud(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per UD treebank file of the train and dev splits: the `# text = ` sentence lines, less
    those of a test split of the language (the benchmark pools a language's treebanks' test sentences)."""
    files = [
        (path, match)
        for path in sorted(Path(folder).glob("*/*.conllu*"))
        if (match := UD_FILE_NAME.match(path.name))
    ]
    test_files: dict[str, list[Path]] = {}
    for path, match in files:
        if match["split"] == "test":
            test_files.setdefault(ud_name_language(match), []).append(path)
    for path, match in files:
        if match["split"] not in _UD_SPLITS:
            continue
        language = ud_name_language(match)
        label = parse_label(language, where=str(path))
        if not _matches(label, languages):
            continue
        test_texts = [text for test in test_files.get(language, []) for text in _ud_sentences(test)]
        yield Source(label, _without_evaluation_lines(_ud_sentences(path), test_texts, path), str(path))


def _ud_sentences(path: Path) -> tuple[str, ...]:
    """Return the `# text = ` sentence lines of a CoNLL-U file."""
    prefix = "# text = "
    return tuple(line[len(prefix) :].strip() for line in _nonblank_lines(path) if line.startswith(prefix))


def read_swadesh(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per main variety (`<code>-000.txt`) of the PanLex Swadesh 207 lists: about 200 basic
    words (synonyms split, affixes and "etc." dropped), single-word texts that teach short input."""
    for path in sorted(swadesh_lists(Path(folder)).glob("*-000.txt")):
        label = try_parse_label(path.name.removesuffix("-000.txt"))
        if label is None or not _matches(label, languages):
            continue
        words = [word for line in _nonblank_lines(path) for word in concept_words(line)]
        if words:
            yield Source(label, tuple(dict.fromkeys(words)), str(path))


def read_bli(folder: Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per language of the BLI dictionaries' train splits (`<a>-<b>/yacle.train.*.tsv`,
    `word_a<TAB>word_b`): the 5,000 most frequent words of each side, everyday words the Bible and the UDHR
    lack. Test splits are never read."""
    words: dict[Label, dict[str, None]] = {}
    origins: dict[Label, list[str]] = {}
    for path in sorted(Path(folder).glob("*-*/yacle.train.*.tsv")):
        codes = path.name.rsplit(".", 2)[-2].split("-")
        if len(codes) != 2:
            continue
        labels = [parse_label(code, where=str(path)) for code in codes]
        for line in _nonblank_lines(path):
            for label, word in zip(labels, line.split("\t"), strict=False):
                if _matches(label, languages) and any(char.isalpha() for char in word):
                    words.setdefault(label, {})[word.strip()] = None
                    origins.setdefault(label, [])
        for label in labels:
            if label in origins and str(path) not in origins[label]:
                origins[label].append(str(path))
    # a word listed for two languages teaches nothing decisive, and is often a slip of the dictionary (a
    # German-Finnish pair translating "von" as "of")
    seen = Counter(word.lower() for found in words.values() for word in found)
    for label, found in sorted(words.items()):
        kept = tuple(word for word in found if seen[word.lower()] == 1)
        yield Source(label, kept, f"{Path(folder)} ({len(origins[label])} train files)")


# wordfreq codes whose ISO 639-3 reading is not the label its text belongs to: Filipino is standard Tagalog;
# `ms` and `zh` are macrolanguages, which would match Indonesian and every Chinese language, and their lists
# are Malaysian Malay and Mandarin. `sh` (Serbo-Croatian) is left out: Bosnian, Croatian and Serbian at once.
_WORDFREQ_CODES = {"fil": "tgl", "ms": "zsm", "zh": "cmn"}
_WORDFREQ_SKIPPED = frozenset({"sh"})
_UNSPACED = frozenset({"zh", "ja"})  # their word lists come from a segmenter; their text has no spaces


def read_wordfreq(
    languages: frozenset[str] | None = None,
    texts_per_language: int = 3000,
    top_words: int = 30000,
    exponent: float = 0.75,
    seed: int = 0,
) -> Iterator[Source]:
    """Return a Source per language of the `wordfreq` package (about 40 languages; word frequencies counted
    over subtitles, Wikipedia, news, web text, Twitter and Reddit): `texts_per_language` word sequences of
    1-10 words drawn from the `top_words` most frequent words with probability frequency^`exponent` (below 1,
    everyday words beyond the commonest are seen too). The bag-of-n-grams model never sees word order, so
    such sequences teach what the Bible's and the UDHR's registers lack: everyday vocabulary.

    Raises ConfigError when wordfreq is not installed.
    """
    try:
        import wordfreq
    except ImportError:
        raise ConfigError("data.corpora: 'wordfreq' needs the wordfreq package (pip install 'xling[langid]')"
                          ) from None  # fmt: skip
    version = _package_version("wordfreq")
    for code in sorted(wordfreq.available_languages("best")):
        if code in _WORDFREQ_SKIPPED:
            continue
        label = try_parse_label(_WORDFREQ_CODES.get(code, code))
        if label is None or not _matches(label, languages):
            continue
        buckets = wordfreq.get_frequency_list(code, "best")
        # the lists hold foreign words too (English ones in the Urdu list): keep the words written only in
        # the list's own script (for Japanese, kana and Han)
        script = dominant_script(word for found in buckets[:300] for word in found)
        scripts = {script, "Hani"} if script == "Jpan" else {script}
        words: list[str] = []
        weights: list[float] = []
        # bucket i holds the words of frequency 10^(-i/100) (centibels)
        for bucket, found in enumerate(buckets):
            for word in found:
                letters = {script_of(char) for char in word} - {None}
                if letters and letters <= scripts:
                    words.append(word)
                    weights.append(10 ** (-bucket * exponent / 100))
            if len(words) >= top_words:
                break
        rng = random.Random(f"wordfreq/{seed}/{code}")
        joiner = "" if code in _UNSPACED else " "
        cumulative = list(itertools.accumulate(weights))
        texts = tuple(
            joiner.join(rng.choices(words, cum_weights=cumulative, k=rng.randint(1, 10)))
            for _ in range(texts_per_language)
        )
        yield Source(label, texts, f"wordfreq {version} ({code}, {len(words)} words)")


def _package_version(name: str) -> str:
    """Return an installed distribution's version ("" when unknown)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return ""


def read_sample(languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per language of the bundled sample (parallel sentences and sentiment reviews)."""
    root = Path(__file__).resolve().parent.parent / "data" / "samples"
    for path in sorted([*root.glob("parallel/*.tsv"), *root.glob("sentiment/*.tsv")]):
        label = parse_label(path.stem, where=str(path))
        if _matches(label, languages):
            texts = [line.split("\t", 1)[-1].strip() for line in _nonblank_lines(path)]
            yield Source(label, tuple(text for text in texts if text), str(path))


def read_labelled_tsv(path: str | Path, languages: frozenset[str] | None = None) -> Iterator[Source]:
    """Return a Source per language of a `lang<TAB>text` file (any code form: `de`, `deu`, `sr-Latn`).

    Raises DataError naming the file and line of a line without a tab or with an unknown language code.
    """
    path = require_file(path)
    by_label: dict[Label, list[str]] = {}
    texts_seen = False
    for line in decoded_lines(path, None):
        text = line_text(line, path)
        if not text.strip():
            continue
        if "\t" not in text:
            raise DataError("expected `language<TAB>text` (no tab in this line)", path, line.number)
        code, sentence = text.split("\t", 1)
        try:
            label = parse_label(code)
        except LanguageCodeError:
            raise DataError(f"unknown language code {code.strip()!r} (expected e.g. de, deu, sr-Latn)",
                            path, line.number) from None  # fmt: skip
        if label.language in NOT_LANGUAGES:
            raise DataError(f"{code.strip()!r} names no language ({NOT_LANGUAGES[label.language]}); a detector "
                            "answers `und` itself where it cannot tell", path, line.number)  # fmt: skip
        if not sentence.strip():
            continue
        texts_seen = True
        if _matches(label, languages):
            by_label.setdefault(label, []).append(sentence.strip())
    if not texts_seen:
        raise DataError("no `language<TAB>text` line with text", path)
    if not by_label:  # lines of other languages only: the --lang filter left nothing, which is no error
        logger.info("%s: no line in %s", path, ", ".join(map(str, languages or ())))
    for label, texts in by_label.items():
        yield Source(label, tuple(texts), str(path))


def count_texts(sources: Iterable[Source]) -> int:
    """Return the number of texts in `sources`."""
    return sum(len(source.texts) for source in sources)


# ISO 639-3 -> cyrtranslit's code, for the languages it writes in both Cyrillic and Latin by the language's
# own standard (Serbian and Montenegrin are fully digraphic: one Latin letter or digraph per Cyrillic letter)
_CYRTRANSLIT_CODES = {"srp": "sr", "cnr": "me", "mkd": "mk", "bul": "bg", "rus": "ru", "ukr": "ua", "bel": "by",
                      "mon": "mn", "tgk": "tj"}  # fmt: skip


def transliterated(sources: Iterable[Source], spec: str) -> list[Source]:
    """Return copies of the sources of `spec`'s language in its first script, written in the second
    (`srp_Cyrl>srp_Latn`: the Serbian Bible, in Cyrillic here, also taught in Latin letters, as Serbian is
    written in both); each source's script is read from its letters. A source whose folder already holds the
    language in the target script is not copied. ConfigError for a spec that is not
    `lang_Script>lang_Script` of one language in Cyrillic and Latin that cyrtranslit writes."""
    source_label, _, target_label = spec.partition(">")
    where = f"data.transliterate ({spec!r})"
    try:
        source, target = parse_label(source_label, where=where), parse_label(target_label, where=where)
    except LanguageCodeError as error:
        raise ConfigError(str(error)) from None
    scripts = (source.script, target.script)
    if (source.language != target.language or source.language not in _CYRTRANSLIT_CODES
            or sorted(map(str, scripts)) != ["Cyrl", "Latn"]):  # fmt: skip
        raise ConfigError(f"{where}: expected `lang_Cyrl>lang_Latn` or `lang_Latn>lang_Cyrl` for one of "
                          f"{', '.join(sorted(_CYRTRANSLIT_CODES))}")  # fmt: skip
    try:
        import cyrtranslit
    except ImportError:
        raise ConfigError(f"{where} needs the cyrtranslit package (pip install 'xling[langid]')") from None

    code = _CYRTRANSLIT_CODES[source.language]
    write = cyrtranslit.to_latin if target.script == "Latn" else cyrtranslit.to_cyrillic
    mine = [(found, found.label.script or dominant_script(found.texts[:200])) for found in sources
            if same_language(found.label.language, source.language) and not found.mixed]  # fmt: skip
    # a corpus that has the language in the target script already (the UDHR's srp_latn) most likely holds the
    # same text there: its copy would only repeat it, and leak held-out lines into training
    written = {Path(found.origin).parent for found, script in mine if script == target.script}
    copies = []
    for found, script in mine:
        if script == source.script and Path(found.origin).parent not in written:
            copies.append(Source(target, tuple(write(text, code) for text in found.texts),
                                 f"{found.origin} (transliterated to {target.script})", found.supplement))  # fmt: skip
    return copies
