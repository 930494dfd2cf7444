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
