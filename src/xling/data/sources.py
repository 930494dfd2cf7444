"""Text sources named in configs: an id-aligned corpus folder plus monolingual files, and the held-out split.

Vocabulary training and pretraining both read text through `TextSources`, so that "which languages, which
files, which sentences are held out" is decided in one place.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from xling.data.languages import normalize_language
from xling.data.readers import AlignedCorpus, read_monolingual
from xling.data.root import check_not_test_set
from xling.errors import ConfigError

if TYPE_CHECKING:
    from xling.data.config import CorpusConfig


def in_nfc(text: str) -> str:
    """Return `text` in Unicode NFC, the form every text is trained and evaluated on.

    The same words in NFD (`Tiếng` with its marks as characters of their own, as some corpora spell it)
    encode otherwise in the two libraries xling uses: SentencePiece composes the marks, the `Precompiled`
    normalizer of `tokenizers` drops some of them (huggingface/tokenizers#2334). NFC, lossless unlike NFKC,
    gives both one text, so the vocabulary learns what pretraining and its evaluation then encode.
    """
    return unicodedata.normalize("NFC", text)


def sample_corpus_dir() -> Path:
    """Return the folder of the bundled parallel sample corpus (`<lang>.tsv`, ids aligned)."""
    return Path(str(resources.files("xling.data") / "samples" / "parallel"))


def sample_sentiment_dir() -> Path:
    """Return the folder of the bundled review-sentiment sample (`<lang>.tsv`, `label<TAB>text`)."""
    return Path(str(resources.files("xling.data") / "samples" / "sentiment"))


def book_verses(
    folder: Path, *, prefix: str, per_language: int, languages: list[str] | None = None
) -> list[str]:
    """Return the first `per_language` non-empty texts whose id starts with `prefix` (e.g. `JHN.`, a held-out
    book) of each language file of the corpus folder `folder`: all of them, or those of `languages` (any
    code form; a language without a file is a DataError). Metadata files (`languages.tsv`) are not read."""
    from xling.data.readers import read_id_text_tsv

    corpus = AlignedCorpus.from_dir(folder, languages)
    texts: list[str] = []
    for lang in corpus.languages:
        verses = (
            text.strip() for ident, text in read_id_text_tsv(corpus.files[lang]) if ident.startswith(prefix)
        )
        texts.extend([verse for verse in verses if verse][:per_language])
    return texts


def check_prefixes_match(
    ids: Iterable[str], prefixes: Sequence[str], root: object, field: str = "data.heldout_prefixes"
) -> None:
    """Return nothing when each of `prefixes` (held-out ids: a test book, `JHN.`) begins one of `ids` (the
    sentence ids of the corpus at `root`); else ConfigError naming it: a prefix that matches nothing (`jhn.`,
    `John.`) holds nothing out, and the test book it meant would be trained on without a word. `ids` are read
    until every prefix has matched (usually in the first file)."""
    left, example = set(prefixes), ""
    if not left:
        return
    for ident in ids:
        example = example or ident
        if any(ident.startswith(prefix) for prefix in left):
            left = {prefix for prefix in left if not ident.startswith(prefix)}
            if not left:
                return
    shown = ", ".join(repr(prefix) for prefix in sorted(left))
    raise ConfigError(f"{field}: {shown} begins no sentence id of {root} (ids look like "
                      f"{example!r}); nothing would be held out, and the book meant would be trained on")  # fmt: skip


def corpus_ids(corpus: AlignedCorpus, *, skip_bad: bool = False) -> Iterator[str]:
    """Return the sentence ids of `corpus`, file after file, read as they are needed."""
    from xling.data.readers import read_id_text_tsv

    for lang in corpus.languages:
        for ident, _ in read_id_text_tsv(corpus.files[lang], skip_bad=skip_bad):
            yield ident


def resolve_corpus(corpus: str) -> Path:
    """Return the folder a `corpus` option names: `sample` is the bundled corpus, else a path."""
    if corpus == "sample":
        return sample_corpus_dir()
    path = Path(corpus).expanduser()
    if not path.is_dir():
        raise ConfigError(f"corpus: {corpus} is not a folder of <lang>.tsv[.gz] files")
    return path


@dataclass(frozen=True)
class HeldOut:
    """Which sentence ids are held out of training: by id prefix (a Bible book `JHN.`) or a stable hash."""

    prefixes: tuple[str, ...] = ()
    fraction: float = 0.0

    def __contains__(self, sentence_id: str) -> bool:
        if self.prefixes and sentence_id.startswith(self.prefixes):
            return True
        # crc32, not hash(): the split must be the same in every process and every run
        return self.fraction > 0 and (zlib.crc32(sentence_id.encode()) % 10_000) < self.fraction * 10_000


@dataclass
class TextSources:
    """Monolingual text per language from an aligned corpus folder and/or `lang=path` files."""

    corpus: Path | None = None
    languages: list[str] = field(default_factory=list)
    mono_files: dict[str, list[Path]] = field(default_factory=dict)
    heldout: HeldOut = field(default_factory=HeldOut)
    skip_bad: bool = False
    corpus_languages: tuple[str, ...] | None = None
    """The corpus's languages that were chosen, under its codes (None: every file of the corpus): a text
    file of a language the corpus holds but that was not chosen (`cmn=news.txt` beside an unchosen cmn.tsv)
    is read alone, as the same file given as `zh=` is."""

    @classmethod
    def from_config(cls, data: CorpusConfig) -> TextSources:
        """Return the sources a config's data section names (see xling.data.config.CorpusConfig)."""
        data.validate()
        heldout = (data.heldout_prefixes, data.heldout_fraction)
        return cls.from_options(data.corpus, data.languages, data.text, *heldout, data.skip_bad)

    @classmethod
    def from_options(
        cls,
        corpus: str | None,
        languages: list[str],
        text: list[str],
        heldout_prefixes: list[str] | None = None,
        heldout_fraction: float = 0.0,
        skip_bad: bool = False,
    ) -> TextSources:
        """Return sources from config fields: `corpus` folder, language list, `lang=path` text files."""
        mono: dict[str, list[Path]] = {}
        for item in text:
            lang, sep, path = item.partition("=")
            if not sep:
                raise ConfigError(f"text: {item!r} must be lang=path, e.g. deu=news.de.txt.gz")
            check_not_test_set(path, f"text {item!r}")
            mono.setdefault(normalize_language(lang, where=f"text {item!r}"), []).append(Path(path))
        root = resolve_corpus(corpus) if corpus else None
        if root is None and not mono:
            raise ConfigError("no text given: set corpus (a folder, or 'sample') or text (lang=path)")
        languages = [normalize_language(code, where="data.languages") for code in languages]
        if languages and root is None:  # it would choose nothing: every text file is read whatever it says
            raise ConfigError(f"data.languages ({', '.join(languages)}) picks files of a corpus, and no corpus "
                              "is given: leave it out (each text file's language is read), or set corpus")  # fmt: skip
        aligned = AlignedCorpus.from_dir(root, languages or None) if root else None
        if aligned is not None and mono:
            # a file's language under the code the corpus keeps a chosen language under (zh=news.txt beside
            # the Bible's cmn.tsv), else it became a second language, with its own token and sampling share
            merged: dict[str, list[Path]] = {}
            for lang, paths in mono.items():
                merged.setdefault(aligned.code(lang) or lang, []).extend(paths)
            mono = merged
        if aligned is not None and heldout_prefixes:
            check_prefixes_match(corpus_ids(aligned, skip_bad=skip_bad), heldout_prefixes, aligned.root)
        langs = list(aligned.languages) if aligned else []
        langs += [lang for lang in mono if lang not in langs]
        heldout = HeldOut(tuple(heldout_prefixes or ()), heldout_fraction)
        chosen = tuple(aligned.languages) if aligned is not None else None
        return cls(root, sorted(langs), mono, heldout, skip_bad, chosen)

    def aligned(self) -> AlignedCorpus | None:
        """Return the aligned corpus restricted to the chosen languages, or None."""
        if self.corpus is None:
            return None
        corpus_langs = [
            lang for lang in self.languages if lang not in self.mono_files or self._in_corpus(lang)
        ]
        return AlignedCorpus.from_dir(self.corpus, corpus_langs)

    def _in_corpus(self, lang: str) -> bool:
        """Return whether `lang`'s text comes from the corpus folder too: a chosen language of it
        (`corpus_languages`), or, when none were recorded, one it has a file of under any name form (de.tsv,
        en_GB.tsv.gz)."""
        if self.corpus is None:
            return False
        if self.corpus_languages is not None:
            return normalize_language(lang) in self.corpus_languages
        return normalize_language(lang) in AlignedCorpus.from_dir(self.corpus).files

    def texts(self, lang: str) -> Iterator[str]:
        """Yield the training sentences of `lang` (held-out ids excluded) in NFC (`in_nfc`), corpus first,
        then files."""
        if self.corpus is not None and self._in_corpus(lang):
            corpus = AlignedCorpus.from_dir(self.corpus, [lang])
            for sentence_id, text in corpus.sentences(lang, skip_bad=self.skip_bad):
                if sentence_id not in self.heldout:
                    yield in_nfc(text)
        for path in self.mono_files.get(normalize_language(lang), []):
            yield from self.texts_from_file(path)

    def texts_from_file(self, path: Path) -> Iterator[str]:
        """Yield the sentences of one monolingual file (plain or .gz) in NFC (`in_nfc`)."""
        return map(in_nfc, read_monolingual(path, skip_bad=self.skip_bad))

    def corpus_sentences(self, corpus: AlignedCorpus, lang: str) -> Iterator[tuple[str, str]]:
        """Yield the (id, text) pairs of `lang` in `corpus` (held-out ids included), texts in NFC (`in_nfc`),
        read as `texts` reads them."""
        for sentence_id, text in corpus.sentences(lang, skip_bad=self.skip_bad):
            yield sentence_id, in_nfc(text)

    def text_factories(self) -> dict[str, Callable[[], Iterator[str]]]:
        """Return, per language, a function that starts a fresh pass over its sentences."""
        return {lang: (lambda lang=lang: self.texts(lang)) for lang in self.languages}
