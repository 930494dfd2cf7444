"""TextSources: which files a run's text comes from, per language."""

from pathlib import Path

import pytest

from xling.data.languages import LanguageCodeError
from xling.data.sources import TextSources
from xling.errors import ConfigError


def test_text_files_are_found_under_any_code_form(tmp_path: Path) -> None:
    (tmp_path / "de.txt").write_text("Guten Tag\nWie geht es?\n", encoding="utf-8")
    sources = TextSources.from_options("sample", ["eng", "deu"], [f"de={tmp_path / 'de.txt'}"])
    canonical = list(sources.texts("deu"))
    assert canonical[-2:] == ["Guten Tag", "Wie geht es?"]
    assert list(sources.texts("de")) == canonical == list(sources.texts("de-DE"))


def test_a_bad_language_code_names_the_field() -> None:
    with pytest.raises(LanguageCodeError, match=r"data\.languages: unknown language code 'english'"):
        TextSources.from_options("sample", ["english"], [])


def test_languages_without_a_corpus_is_an_error_not_ignored(tmp_path):
    """data.languages picks corpus files: with --text files only it chose nothing, and every file trained."""
    german = tmp_path / "de.txt"
    german.write_text("Guten Tag.\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"data.languages \(eng\) picks files of a corpus, and no corpus"):
        TextSources.from_options(None, ["eng"], [f"deu={german}"])
    assert TextSources.from_options(None, [], [f"deu={german}"]).languages == ["deu"]


def test_a_text_file_joins_the_corpus_language_it_is_kept_under(tmp_path):
    """`zh=news.txt` beside a corpus's cmn.tsv became a second language, zho, with its own language token and
    sampling share, and the news was not in cmn's text."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for code, text in (("eng", "Hello."), ("cmn", "你好。"), ("nob", "Hei.")):
        (corpus / f"{code}.tsv").write_text(f"GEN.1.1\t{text}\n", encoding="utf-8")
    news = tmp_path / "news.zh.txt"
    news.write_text("新闻。\n", encoding="utf-8")
    norwegian = tmp_path / "news.no.txt"
    norwegian.write_text("Nyheter.\n", encoding="utf-8")
    sources = TextSources.from_options(str(corpus), ["eng", "zh", "no"], [f"zh={news}", f"no={norwegian}"])
    assert sources.languages == ["cmn", "eng", "nob"]
    assert list(sources.texts("cmn")) == ["你好。", "新闻。"] and list(sources.texts("nob")) == [
        "Hei.",
        "Nyheter.",
    ]
    # a corpus language not chosen is not pulled in by a text file of it: the file stands alone
    alone = TextSources.from_options(str(corpus), ["eng"], [f"zh={news}"])
    assert alone.languages == ["eng", "zho"] and list(alone.texts("zho")) == ["新闻。"]
    # nor when the file is named by the corpus's own code: cmn.tsv's verse came with it
    alone = TextSources.from_options(str(corpus), ["eng"], [f"cmn={news}"])
    assert alone.languages == ["cmn", "eng"] and list(alone.texts("cmn")) == ["新闻。"]
    assert alone.aligned().languages == ["eng"]


def test_texts_come_in_nfc_from_the_corpus_and_from_text_files(tmp_path):
    """NFD text went to the tokenizer's sample and to pretraining as it was: SentencePiece composes its marks,
    the converted Hugging Face tokenizer dropped some, so the saved tokenizer failed its check or pretraining
    encoded the language unlike the vocabulary."""
    import unicodedata

    words = "Tiếng Việt, Ångström, 태초에"
    nfd = unicodedata.normalize("NFD", words)
    assert nfd != words
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "vie.tsv").write_text(f"GEN.1.1\t{nfd}\nGEN.1.2\t{nfd} 2\n", encoding="utf-8")
    news = tmp_path / "news.vi.txt"
    news.write_text(f"{nfd} 3\n", encoding="utf-8")
    sources = TextSources.from_options(str(corpus), [], [f"vi={news}"], ["GEN.1.2"])
    assert list(sources.texts("vie")) == [words, f"{words} 3"]
    assert list(sources.texts_from_file(news)) == [f"{words} 3"]
    # held-out ids too, which pretraining keeps aside for its evaluation
    assert list(sources.corpus_sentences(sources.aligned(), "vie")) == [
        ("GEN.1.1", words),
        ("GEN.1.2", f"{words} 2"),
    ]
