"""The data root: --data, else $XLING_DATA, else ../shared/data, and errors that say which and why."""

from __future__ import annotations

import re

import pytest

from xling.data.root import check_not_test_set, data_folder, data_root
from xling.data.sources import TextSources
from xling.errors import ConfigError, DataError


def test_option_then_environment_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLING_DATA", raising=False)
    assert data_root(None).path == (tmp_path.parent / "shared" / "data")
    assert data_root(None).given == "the default"
    monkeypatch.setenv("XLING_DATA", str(tmp_path / "env"))
    assert data_root("").path == tmp_path / "env" and data_root(None).given == "$XLING_DATA"
    assert data_root("opt").path == tmp_path / "opt" and data_root("opt").given == "--data"


def test_folder_inside_the_root_or_the_root_itself(tmp_path):
    (tmp_path / "bible").mkdir()
    (tmp_path / "bible" / "eng.tsv").write_text("x\ty\n")
    holds = lambda folder: any(folder.glob("*.tsv"))  # noqa: E731
    assert data_folder(tmp_path, "bible", "Bible files", holds) == tmp_path / "bible"
    assert data_folder(tmp_path / "bible", "bible", "Bible files", holds) == tmp_path / "bible"


def test_error_names_the_folder_its_origin_and_the_way_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XLING_DATA", raising=False)
    with pytest.raises(DataError) as error:
        data_folder(None, "tatoeba", "Tatoeba files", lambda folder: False)
    message = str(error.value)
    assert message.startswith(f"{tmp_path.parent / 'shared' / 'data'}: no Tatoeba files")
    assert "(no such folder)" in message and f"the default ../shared/data (from {tmp_path})" in message
    assert message.endswith("Point to the data folder with --data PATH or $XLING_DATA=PATH")


@pytest.mark.parametrize(
    "name",
    ["tatoeba.deu-eng.deu", "newstest2019-ref.deu.txt.gz", "newstest2019-src.eng.txt.gz", "tr_imst-ud-test.conllu.gz",
     "test_text.txt", "yacle.test.freq.2k.en-de.tsv", "en-de.5000-6500.txt"],
)  # fmt: skip
def test_test_set_files_are_refused_as_training_data(tmp_path, name):
    with pytest.raises(ConfigError, match=rf"text: .*{re.escape(name)} is a test set"):
        check_not_test_set(tmp_path / name, "text")
    with pytest.raises(ConfigError, match=r"text 'deu=.*': .* is a test set"):
        TextSources.from_options(None, [], [f"deu={tmp_path / name}"])


@pytest.mark.parametrize("name", ["Tatoeba.deu-eng.deu", "TEST_TEXT.TXT", "test_text.txt.gz",
                                  "yacle.test.freq.2k.en-de.tsv.gz", "NEWSTEST2019-ref.deu.txt"])  # fmt: skip
def test_test_sets_under_another_case_gzipped_or_behind_a_link_are_refused(tmp_path, name):
    with pytest.raises(ConfigError, match="is a test set"):
        check_not_test_set(tmp_path / name, "text")
    (tmp_path / "tatoeba.deu-eng.deu").write_text("Hallo\n", encoding="utf-8")
    (tmp_path / "train.txt").symlink_to(tmp_path / "tatoeba.deu-eng.deu")
    with pytest.raises(ConfigError, match="is a test set"):
        check_not_test_set(tmp_path / "train.txt", "text")


@pytest.mark.parametrize("name", ["tr_imst-ud-train.conllu.gz", "train_text.txt", "yacle.train.freq.5k.en-de.tsv",
                                  "news.deu.txt", "deu.tsv", "en-de.0-5000.txt", "en-de.txt"])  # fmt: skip
def test_train_splits_are_not_test_sets(tmp_path, name):
    check_not_test_set(tmp_path / name, "text")
