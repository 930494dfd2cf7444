"""What `xling adapt` learns a language from: text, dictionaries and translations, read and checked.

Every source is read strictly: a dictionary or parallel line without a tab or with more than two columns,
an empty side or bad UTF-8 is a DataError naming the file and line. Data mostly in another script than the
language is usually written in (USUAL_SCRIPTS), lines in another script than most of the data, and text
that the language detector takes for another language are reported as warnings naming the file and its
first such line.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xling.adaptation.config import AdaptConfig
from xling.adaptation.words import feature_words
from xling.data.conllu import read_conllu
from xling.data.languages import (
    MACROLANGUAGES,
    SAME_WRITTEN_LANGUAGE,
    USUAL_SCRIPTS,
    default_member,
    normalize_language,
    same_language,
)
from xling.data.readers import ascii_digits, read_monolingual, read_parallel_tsv
from xling.data.root import check_not_test_set
from xling.data.sources import sample_corpus_dir
from xling.data.swadesh import swadesh_file, swadesh_folder, swadesh_pairs
from xling.data.udhr import udhr_file, udhr_folder, udhr_pairs
from xling.errors import ConfigError, DataError, LanguageCodeError

logger = logging.getLogger(__name__)

# a language code with an optional script (`tur_Latn`) and region (`tr-TR`, `es-419`): the region upper case, as
# BCP 47 writes it, so that `en-tr-TR` is eng and tr-TR, not en-TR and tr
_CODE = r"[A-Za-z]{2,3}(?:[_-][A-Za-z]{4})?(?:[_-](?:[A-Z]{2}|[0-9]{3}))?"
NAMED_SPEC = re.compile(rf"^(?P<a>{_CODE})-(?P<b>{_CODE})=(?P<path>.+)$")
SOURCE_KEYWORDS = {"text": (), "dictionary": ("swadesh",), "parallel": ("sample", "udhr")}
"""The settings that list data files (or `xxx-yyy=path` specs), with the words that name no file in each."""
CONLLU_SUFFIXES = (".conllu", ".conllu.gz", ".conll", ".conll.gz")
# how many lines of each text file the language detector reads (it is a check, not a filter)
DETECT_LINES = 2000
WRONG_SHARE = 0.5
DICTIONARY_GROUP = 20  # dictionary words detected together: one word alone says little of its language


@dataclass
class AdaptData:
    """The new language's data, in memory."""

    language: str
    pivot: str
    texts: list[str] = field(default_factory=list)
    """Sentences of the new language."""
    lemmas: list[list[tuple[str, str]] | None] = field(default_factory=list)
    """Per text: its (word, lemma) pairs when read from CoNLL-U, else None."""
    feature_words: list[list[str] | None] = field(default_factory=list)
    """Per text read from a CoNLL-U file with UPOS, FEATS, HEAD and DEPREL columns: the pivot words that say
    what its morphological features say and its words do not (xling.adaptation.words.feature_words), else
    None."""
    dictionary: list[tuple[str, str]] = field(default_factory=list)
    """(pivot word, new word) pairs."""
    parallel: list[tuple[str, str]] = field(default_factory=list)
    """(pivot sentence, new sentence) pairs."""
    sources: list[dict[str, object]] = field(default_factory=list)
    """What was read: {"kind", "source", "items"} each (for xling.json)."""
    script: str | None = None
    """The script of most of the new language's letters (ISO 15924), from its pairs when it has any, else
    its text; None without letters."""
    files: list[Path] = field(default_factory=list)
    """The files read (the training run keeps their hashes: a resume on files edited since is refused)."""
    warnings: list[str] = field(default_factory=list)
    """Things a user should look at (wrong script, another language), each naming a file and line."""
    seen_by_base: bool = False
    """Whether the base model was trained on a pair file the dev pairs come from: `before` measures recall."""
    reading: Callable[..., str] | None = None
    """How the `relative` language's script writes a text of the new language (xling.adaptation
    .transliteration: `reading(text, word_start=True)`); None without a relative."""
    relative: str = ""
    """The relative and the script pair of `reading` (`guj, Deva>Gujr`), for the record; "" without one."""

    def new_texts(self) -> list[str]:
        """Return all the new language's text there is: sentences, the new side of pairs, dictionary words."""
        return [*self.texts, *(new for _, new in self.parallel), *(new for _, new in self.dictionary)]


def read_adapt_data(config: AdaptConfig, *, detector: object | None = None) -> AdaptData:
    """Return the data `config` names, read and checked (see the module docstring).

    `detector` (a xling.langid.LanguageIdentifier) checks that the text, and the new side of sentence pairs
    read from files, is in the new language.
    """
    language = normalize_language(config.language, where="language")
    pivot = normalize_language(config.pivot, where="pivot")
    data = AdaptData(language, pivot)
    for field_name, path in spec_files(config):
        check_not_test_set(path, field_name)
    text_files = [_read_text(data, Path(spec)) for spec in config.text]
    pair_files: list[tuple[Path, list[str]]] = []  # each pair file with the new side of its pairs
    # the dictionaries: each file, the new side of its pairs, whether it was read new-pivot
    dictionary_files: list[tuple[Path, list[str], bool]] = []
    sentence_files: list[tuple[Path, list[str]]] = []  # the parallel ones among them
    for spec in config.dictionary:
        if spec == "swadesh":
            folder = swadesh_folder(config.data or None)
            codes = _swadesh_code(folder, language), _swadesh_code(folder, pivot)
            _add(data, "dictionary", "swadesh", swadesh_pairs(folder, *codes))
            data.files.extend(swadesh_file(folder, code) for code in codes)
        else:
            path, pairs, new_first = _read_pairs(spec, "dictionary", language, pivot)
            _check_words(pairs, path)
            _add(data, "dictionary", str(path), pairs)
            data.files.append(path)
            pair_files.append((path, [new for _, new in pairs]))
            dictionary_files.append((path, pair_files[-1][1], new_first))
    for spec in config.parallel:
        if spec == "sample":
            _add(data, "parallel", "sample", sample_pairs(language, pivot))
        elif spec == "udhr":
            folder = udhr_folder(config.data or None)
            codes = _udhr_code(folder, language, _wanted_script(config, data)), _udhr_code(folder, pivot)
            _add(data, "parallel", "udhr", udhr_pairs(folder, *codes))
            data.files.extend(udhr_file(folder, code) for code in codes)
        else:
            path, pairs, _ = _read_pairs(spec, "parallel", language, pivot)
            _add(data, "parallel", str(path), pairs)
            data.files.append(path)
            pair_files.append((path, [new for _, new in pairs]))
            sentence_files.append(pair_files[-1])
    # a source that gives nothing: a UDHR text whose article headings are words (Persian's مادهٔ اول) aligns none
    units = {"text": "sentences", "dictionary": "word pairs", "parallel": "sentence pairs"}
    for source in data.sources:
        if not source["items"]:
            unit = units.get(str(source["kind"]), "items")
            data.warnings.append(f"{source['kind']} {source['source']}: no {unit} of {language} read from it")
    data.script = _language_script(data)
    if data.script is None and (data.parallel or data.dictionary or data.texts):
        # nothing to learn pieces from or to check the script of: a file of emoji or numbers, likely the
        # wrong one (a run then adds a piece or two, and said nothing)
        sources = ", ".join(str(source["source"]) for source in data.sources)
        data.warnings.append(f"the {data.language} data has no letters ({sources}): wrong file?")
    if problem := _usual_script_problem(config, data, pair_files, text_files):
        # a warning, not an error: a digraphic language's other script (Serbian in Latin) is a real choice
        data.warnings.append(problem)
    for texts, lines, path in text_files:
        data.warnings.extend(_text_warnings(texts, lines, path, data, detector))
    if detector is not None:  # sentence pairs whose new side is in another language of the same script
        for path, news in sentence_files:
            news = news[:DETECT_LINES]
            lines = _nonblank_line_numbers(path, len(news))
            data.warnings.extend(_language_warning(news, lines, path, language, detector))
        for path, news, new_first in dictionary_files:  # a dictionary whose columns are the other way round
            data.warnings.extend(_pivot_column_warning(news, path, language, pivot, new_first, detector))
    if not (data.texts or data.dictionary or data.parallel):
        raise DataError("no text, word pairs or sentence pairs in the given sources", ", ".join(
            [*config.text, *config.dictionary, *config.parallel]))  # fmt: skip
    return data


def _add(data: AdaptData, kind: str, source: str, pairs: list[tuple[str, str]]) -> None:
    getattr(data, kind).extend(pairs)
    data.sources.append({"kind": kind, "source": source, "items": len(pairs)})


def spec_files(config: AdaptConfig) -> list[tuple[str, str]]:
    """Return (setting, path) of each file the text, dictionary and parallel settings read: a dictionary or
    parallel spec's `eng-tur=` prefix dropped, the named sources (SOURCE_KEYWORDS: udhr, swadesh, sample)
    left out."""
    files = []
    for field_name, specs in (("text", config.text), ("dictionary", config.dictionary),
                              ("parallel", config.parallel)):  # fmt: skip
        for spec in specs:
            if spec not in SOURCE_KEYWORDS[field_name]:
                match = NAMED_SPEC.match(spec) if field_name != "text" else None
                files.append((field_name, match["path"] if match else spec))
    return files


def _columns(spec: str, language: str, pivot: str, field_name: str) -> tuple[Path, bool]:
    """Return (the file of `spec`, whether its columns are new-pivot rather than pivot-new)."""
    match = NAMED_SPEC.match(spec)
    if not match:
        return Path(spec), False
    a = normalize_language(match["a"], where=field_name)
    b = normalize_language(match["b"], where=field_name)
    if same_language(a, pivot) and same_language(b, language):
        return Path(match["path"]), False
    if same_language(a, language) and same_language(b, pivot):
        return Path(match["path"]), True
    raise ConfigError(f"{field_name}: {spec!r} names {a}-{b}; one column must be the pivot ({pivot}) and the "
                      f"other the new language ({language})")  # fmt: skip


def _read_pairs(
    spec: str, field_name: str, language: str, pivot: str
) -> tuple[Path, list[tuple[str, str]], bool]:
    """Return (the file of `spec`, its (pivot, new) pairs, whether it was read new-pivot): a two-column TSV
    file, pivot-new unless `spec` names the order new-pivot (see _columns). A line with more columns is a DataError naming it (a Tatoeba
    `id<TAB>eng<TAB>kat` file would pair the ids); a message about a column says which language it holds."""
    from xling.data.readers import decoded_lines

    path, swap = _columns(spec, language, pivot, field_name)
    sides = _side_names(language, pivot, swap)
    for line in decoded_lines(path, None):
        # a line that is not UTF-8 is read_parallel_tsv's to report, at its place in the file; empty fields
        # after the two are no column (`a<TAB>b<TAB>`, as spreadsheets export), as read_parallel_tsv counts
        fields = line.text.split("\t") if line.text is not None else []
        if any(extra.strip() for extra in fields[2:]):
            named = "" if NAMED_SPEC.match(spec) else ", or name their order as xxx-yyy=FILE"
            raise DataError(f"{len(fields)} tab-separated columns; expected 2 ({'<TAB>'.join(sides)}{named}); cut "
                            "any id or other column first", path, line.number)  # fmt: skip
    # the reader's "source" and "target" would not say which column holds which language
    return path, [(b, a) if swap else (a, b) for a, b in read_parallel_tsv(path, sides=sides)], swap


def _side_names(language: str, pivot: str, swap: bool) -> tuple[str, str]:
    """Return what a pair file's first and second columns hold, for messages: ("eng (pivot)", "tur (new
    language)"), the other way round when `swap` (a new-pivot file named as tur-eng=FILE)."""
    names = (f"{pivot} (pivot)", f"{language} (new language)")
    return (names[1], names[0]) if swap else names


def _check_words(pairs: list[tuple[str, str]], path: Path) -> None:
    """Raise DataError naming the line when a dictionary 'word' looks like a sentence (a parallel file given
    as one)."""
    for i, (a, b) in enumerate(pairs):
        if max(len(a.split()), len(b.split())) > 6:
            line = _nonblank_line_numbers(path, i + 1)[i]
            raise DataError(f"not a word or short phrase ({a[:40]!r}); give sentence pairs as --parallel",
                            path, line)  # fmt: skip


def _language_script(data: AdaptData) -> str | None:
    """Return the script of most of the new language's letters: in its word and sentence pairs when there
    are any (curated data), else in its text."""
    from xling.langid.scripts import dominant_script

    curated = [new for _, new in (*data.parallel, *data.dictionary)]
    return dominant_script(curated) or dominant_script(data.texts)


def usual_script(language: str) -> str | None:
    """Return the script `language` is usually written in (ISO 15924): the script subtag it names
    (`srp_Latn`), else the one xling's language maps give (USUAL_SCRIPTS, the translation models' default
    scripts of languages written in several, transliteration's); None where none says."""
    from xling.adaptation.transliteration import LANGUAGE_SCRIPTS, language_script
    from xling.translation.languages import DEFAULT_SCRIPTS

    named = language_script(language)
    if named is not None:
        return named
    code = normalize_language(language, where="language")
    return USUAL_SCRIPTS.get(code) or DEFAULT_SCRIPTS.get(code) or LANGUAGE_SCRIPTS.get(code)


def written_scripts(language: str) -> set[str]:
    """Return the scripts text of `language` is usually written in, as dominant_script names them: its usual
    script (Han for Simplified and Traditional Chinese alike), Han too for Japanese and Korean; none where
    nothing says or the code is unknown (a model's xling.json may list anything)."""
    from xling.langid.scripts import letter_script

    try:
        script = usual_script(language)
    except LanguageCodeError:
        return set()
    if script is None:
        return set()
    family = letter_script(script)
    return {family, "Hani"} if family in ("Jpan", "Kore") else {family}


def _usual_script_problem(config: AdaptConfig, data: AdaptData, pair_files: list[tuple[Path, list[str]]],
                          text_files: list[tuple[list[str], list[int], Path]]) -> str | None:  # fmt: skip
    """Return what is wrong when most of the new language's letters are in another script than it is usually
    written in (or than `vocabulary.scripts` names), naming the first file and line in that other script;
    None when nothing is."""
    from xling.langid.scripts import dominant_script, letter_script

    expected = [*config.vocabulary.scripts] or [usual_script(config.language)]
    wanted = {letter_script(script) for script in expected if script}
    if wanted & {"Jpan", "Kore"}:
        wanted.add("Hani")  # Japanese and Korean text also write Han characters (new_scripts allows them)
    if not wanted or data.script is None or letter_script(data.script) in wanted:
        return None
    expectation = ("vocabulary.scripts names " if config.vocabulary.scripts
                   else f"{data.language} is usually written in ") + " or ".join(sorted(wanted))  # fmt: skip
    where = ", ".join(str(source["source"]) for source in data.sources)  # udhr, swadesh: no line to name
    candidates = [(path, new, None) for path, new in pair_files] + [(p, t, n) for t, n, p in text_files]
    for path, texts, numbers in candidates:
        odd = next((i for i, text in enumerate(texts[:DETECT_LINES])
                    if (script := dominant_script([text])) and letter_script(script) not in wanted), None)  # fmt: skip
        if odd is not None:
            line = numbers[odd] if numbers is not None else _nonblank_line_numbers(path, odd + 1)[odd]
            where = f"{path}:{line}"
            break
    return (f"{where}: the {data.language} data is mostly in {data.script}, but {expectation}: wrong file or "
            f"language code? (if the script is meant, name it: --language {data.language}_{data.script}, or "
            "vocabulary.scripts)")  # fmt: skip


def _feature_words(path: Path, pivot: str, warnings: list[str]) -> list[list[str] | None]:
    """Return each sentence's feature words (AdaptData.feature_words) of a CoNLL-U file whose lemmas were
    read; all None, with a warning naming the file and line, when a token lacks one of the columns they
    need (UPOS, HEAD or DEPREL `_`: a lemmatised-only file)."""
    try:
        sentences = [read_conllu(path, column=name) for name in ("upos", "feats", "head", "deprel")]
    except DataError as error:
        warnings.append(f"{error}: its sentences get no feature glosses (static.gloss_features)")
        return [None] * len(read_conllu(path, column=None).words)
    columns = [sentence.tags for sentence in sentences]
    for heads, line in zip(columns[2], sentences[2].lines, strict=True):
        # a HEAD past the sentence's words raised a bare IndexError in feature_words
        wrong = next((head for head in heads if not ascii_digits(head) or int(head) > len(heads)), None)
        if wrong is not None:
            raise DataError(f"HEAD {wrong!r} is not 0 or the ID of a word of its sentence ({len(heads)} words; "
                            "the sentence starts on the line named)", path, line)  # fmt: skip
    return [feature_words(*sentence, pivot=pivot) for sentence in zip(*columns, strict=True)]


def _read_text(data: AdaptData, path: Path) -> tuple[list[str], list[int], Path]:
    """Add the sentences of one text file (plain or CoNLL-U) to `data`; return (its texts, their line
    numbers, the path) for the checks."""
    name = path.name.lower()
    if name.endswith(CONLLU_SUFFIXES):
        try:
            sentences = read_conllu(path, column="lemma")
            # a multiword token is looked up by its first word's lemma (`kitabındaki`: `kitap`), since the
            # text it is looked up in is written with it
            lemmas: list[list[tuple[str, str]] | None] = [
                [*zip(w, t, strict=True), *((form, t[first]) for form, first in multiword)]
                for w, t, multiword in zip(sentences.words, sentences.tags, sentences.multiword, strict=True)
            ]
            feature_words = _feature_words(path, data.pivot, data.warnings)
        except DataError as error:
            if "LEMMA" not in str(error):
                raise
            # no lemmas (a tokenised-only file, its other columns `_` too): its sentences, with no tag required
            sentences = read_conllu(path, column=None)
            lemmas = [None] * len(sentences.words)
            feature_words = [None] * len(sentences.words)
        # the sentences as written (`birisiyse`), not their syntactic words (`birisi yse`): the new pieces are
        # learnt from it and it is read so; the words give the lemmas to look its words up by
        texts = sentences.texts
        lines = sentences.lines
    else:
        # as `vocabulary.protect` reads it: a corpus file's `id<TAB>text` lines gave their ids as words
        # (`GEN.1.1`), learnt as pieces and trained in every sentence
        texts = [line.split("\t", 1)[-1] for line in read_monolingual(path)]
        lemmas = [None] * len(texts)
        feature_words = [None] * len(texts)
        lines = _nonblank_line_numbers(path, len(texts))
    if not texts:
        raise DataError("no text in this file", path)
    data.texts.extend(texts)
    data.lemmas.extend(lemmas)
    data.feature_words.extend(feature_words)
    data.sources.append({"kind": "text", "source": str(path), "items": len(texts)})
    data.files.append(path)
    return texts, lines, path


def _nonblank_line_numbers(path: Path, count: int) -> list[int]:
    """Return the line numbers of the first `count` non-blank lines of a (maybe gzip) text file, counted as
    xling's readers count them (lines end at \\n only; a BOM is no text): item i they read is on line
    numbers[i]."""
    from xling.data.readers import decoded_lines

    numbers = []
    for line in decoded_lines(path, None):
        if line.text is None or line.text.strip():
            numbers.append(line.number)
            if len(numbers) == count:
                break
    return numbers


def _text_warnings(
    texts: list[str], lines: list[int], path: Path, data: AdaptData, detector: object | None
) -> list[str]:
    """Return warnings about lines in another script than the language's (or, without pairs to tell, than
    most of the file), and about a file the detector takes mostly for another language."""
    from xling.langid.scripts import dominant_script, letter_script

    warnings = []
    scripts = [dominant_script([text]) for text in texts[:DETECT_LINES]]
    counted = Counter(s for s in scripts if s)
    if counted:
        main, whose = (
            (data.script, "the language's") if data.script else (counted.most_common(1)[0][0], "the file's")
        )
        # a line's script read as _usual_script_warning reads it: Japanese and Korean lines of Han characters
        # alone (Hani) are in their language's script
        same = {letter_script(main)} | ({"Hani"} if letter_script(main) in ("Jpan", "Kore") else set())
        odd = [i for i, s in enumerate(scripts) if s and letter_script(s) not in same]
        if odd:
            warnings.append(f"{path}:{lines[odd[0]]}: {len(odd)} of {len(scripts)} line(s) in another script "
                            f"than {whose} {main} (first: {scripts[odd[0]]})")  # fmt: skip
    if detector is not None:
        warnings.extend(_language_warning(texts[:DETECT_LINES], lines, path, data.language, detector))
    return warnings


def _language_warning(texts: list[str], lines: list[int], path: Path, language: str, detector) -> list[str]:
    """Return a warning when most lines of `texts` are detected as another language than `language`."""
    from xling.langid.labels import label_matches, parse_label

    if not any(label_matches(parse_label(label), language) for label in detector.labels):
        return []  # the detector does not know the language: it cannot judge
    predictions = [best[0].label for best in detector.predict(texts)]
    wrong = [
        i
        for i, label in enumerate(predictions)
        if label != "und" and not label_matches(parse_label(label), language)
    ]
    if len(wrong) < WRONG_SHARE * len(texts):
        return []
    common = Counter(predictions[i] for i in wrong).most_common(1)[0][0]
    return [f"{path}:{lines[wrong[0]]}: {len(wrong)} of {len(texts)} lines look like {common}, not {language} "
            "(wrong file or language code?)"]  # fmt: skip


def _pivot_column_warning(news: list[str], path: Path, language: str, pivot: str, new_first: bool, detector
                          ) -> list[str]:  # fmt: skip
    """Return a warning when the new-language column of a dictionary (read as new-pivot when `new_first`)
    reads as the pivot language: its words detected in groups of DICTIONARY_GROUP (one word says little),
    most groups the pivot's. The warning names the other order."""
    from xling.langid.labels import label_matches, parse_label

    words = news[: DETECT_LINES * DICTIONARY_GROUP]
    groups = [" ".join(words[i : i + DICTIONARY_GROUP]) for i in range(0, len(words), DICTIONARY_GROUP)]
    if len(groups) < 2 or not any(label_matches(parse_label(label), pivot) for label in detector.labels):
        return []
    found = [best[0].label for best in detector.predict(groups)]
    as_pivot = sum(label != "und" and label_matches(parse_label(label), pivot) for label in found)
    if as_pivot < WRONG_SHARE * len(groups):
        return []
    first, second = (pivot, language) if new_first else (language, pivot)
    return [f"{path}: its {language} column reads as {pivot} ({as_pivot} of {len(groups)} groups of "
            f"{DICTIONARY_GROUP} words): are the columns the other way round? If the {first} word comes first "
            f"on each line, give it as {first}-{second}={path.name}"]  # fmt: skip


def language_in_data(code: str) -> str:
    """Return the ISO 639-3 code of the one language `code` names in data: a macrolanguage as the member it
    stands for (`ara`: `arb`, `zh`: `cmn`; DEFAULT_MEMBER), Filipino as Tagalog (one written language), any
    other code as it is."""
    language = normalize_language(code)
    return default_member(SAME_WRITTEN_LANGUAGE.get(language, language))


def names_same_language(a: str, b: str) -> bool:
    """Return whether two codes name one language in data (`de` and `deu`; `zho` and its default member
    `cmn`); unlike same_language, not a macrolanguage and another of its members (`ara` and `arz`, `que` and
    `quz`: a language of its own, which a model listing the macrolanguage lacks)."""
    return language_in_data(a) == language_in_data(b)


def sample_pairs(language: str, pivot: str) -> list[tuple[str, str]]:
    """Return the bundled everyday sample's (pivot, language) sentence pairs, joined by sentence id."""
    files = {path.stem: path for path in sample_corpus_dir().glob("*.tsv")}
    found = {}
    for code in (pivot, language):
        # the sample's `zho` is Mandarin and its `ara` Standard Arabic: never Cantonese's or Egyptian's text
        stem = next((stem for stem in files if names_same_language(stem, code)), None)
        if stem is None:
            # `zho` among the files would look like Cantonese's: say which member it is
            members = "".join(f"; its {other} is {language_in_data(other)}"
                              for other in sorted(files) if same_language(other, code))  # fmt: skip
            raise DataError(f"the bundled sample has no {code} (it has {', '.join(sorted(files))}{members})",
                            sample_corpus_dir())  # fmt: skip
        lines = files[stem].read_text(encoding="utf-8").splitlines()
        found[code] = dict(line.split("\t", 1) for line in lines if line.strip())
    ours, theirs = found[pivot], found[language]
    return [(ours[i], theirs[i]) for i in ours if i in theirs]


def _variety_codes(language: str) -> list[str]:
    """Return the codes a data file of `language` may be named by: its own (without a script), then, for a
    macrolanguage, its members, the most spoken first (zho: cmn first; ara: arb first)."""
    from xling.langid.prior import SPEAKERS_MILLIONS

    base = language.split("_")[0]
    members = sorted(MACROLANGUAGES.get(base, ()), key=lambda code: (-SPEAKERS_MILLIONS.get(code, 0.0), code))
    return [base, *members]


def _swadesh_code(folder: Path, language: str) -> str:
    """Return the Swadesh file code of `language` in `folder` (`zho` reads `cmn-000.txt`)."""
    codes = _variety_codes(language)
    for code in codes:
        if (folder / f"{code}-000.txt").is_file():
            return code
    raise DataError(f"no Swadesh list for {language!r} (looked for {', '.join(f'{c}-000.txt' for c in codes)})",
                    folder)  # fmt: skip


def _wanted_script(config: AdaptConfig, data: AdaptData) -> str | None:
    """Return the script the new language is wanted in: the first of `vocabulary.scripts`, else the one
    `language` names (`srp_Latn`, `sr-Latn`: its script was dropped, and the UDHR's Cyrillic Serbian read),
    else that of most of the text and pairs read so far; None when nothing says."""
    from xling.langid.scripts import dominant_script
    from xling.translation.languages import parse_language

    if config.vocabulary.scripts:
        return config.vocabulary.scripts[0]
    if named := parse_language(config.language, where="language").script:
        return named
    return dominant_script(data.new_texts())


def _udhr_code(folder: Path, language: str, script: str | None = None) -> str:
    """Return the UDHR file stem for `language` (e.g. `arb`, `cmn_hans`, `pes_1`); of several varieties
    (`srp_cyrl`, `srp_latn`; `por_BR`, `por_PT`) the one in `script` (ISO 15924) when there is one, else the
    first by name, with a warning naming the others."""
    codes = _variety_codes(language)
    stems = [language.lower(), *(stem for code in codes for stem in (code, f"{code}_1"))]
    for stem in stems:
        if (folder / f"{stem}.txt.gz").is_file():
            return stem
    for code in codes:
        varieties = sorted(path.name.removesuffix(".txt.gz") for path in folder.glob(f"{code}_*.txt.gz"))
        in_script = [
            name for name in varieties if script and name.partition("_")[2].lower() == script.lower()
        ]
        if in_script:
            return in_script[0]
        if varieties:
            if len(varieties) > 1:
                logger.warning("%s: UDHR texts %s; reading %s", language, ", ".join(varieties), varieties[0])
            return varieties[0]
    raise DataError(
        f"no UDHR text for {language!r} (looked for {', '.join(codes)} and their varieties)", folder
    )
