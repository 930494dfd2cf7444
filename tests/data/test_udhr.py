"""Tests for xling.data.udhr: where article 30, the last, ends."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from xling.data.udhr import read_udhr_articles, udhr_pairs

ARTICLE_30 = (
    "Nothing in this Declaration may be interpreted as implying for any State any right to destroy them."
)


def write_udhr(path: Path, article_30: list[str]) -> Path:
    """Write a made-up UDHR file: a title, a preamble, articles 1-29 of one paragraph, then `article_30`."""
    lines = [
        "Universal Declaration of Human Rights",
        "Preamble",
        "Whereas recognition of the inherent dignity,",
    ]
    for number in range(1, 30):
        lines += [f"Article {number}", f"The text of article {'one' if number == 1 else 'another'}."]
    lines += ["Article 30", *article_30]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(
    "end_matter",
    [
        ["by SPRAT, Ahmedabad, India [www.sprat.in / khitab@sprat.in]"],  # urd: an address
        ["Versiono 1.4", "James Chandler 8-Feb-99."],  # ido: a version and a date
        ["28 अगस्त, 2007"],  # mai: a date, in another script
        ["Texto approbate per le Union Mundial pro Interlingua, adresse electronic: umi@example.org"],
        [
            "GAIRM CHOITCHEANN",
            "A THAOBH",
            "Air an deicheamh latha den Dùbhlachd 1948 ghabh ...",
        ],  # gla: title again
        [
            "Translated by (a lopukö ko)",
            "Sebur Anthony Lodu & Gordon Lucy Kiden.",
            "A closing note, long enough.",
        ],
        ["Авторы перевода", "Кандидат филологических наук, член Союза писателей России, Л.Н. Арбачакова"],
        [
            "Duna feddi xooren duŋe na dantaqi. Taagumansen ga ni 217 (III), a ga wuti Desamburu 10, 1948 siine"
        ],
    ],
)
def test_article_30_ends_where_credits_dates_addresses_or_the_title_follow_it(tmp_path, end_matter):
    path = write_udhr(tmp_path / "xyz.txt.gz", [ARTICLE_30, *end_matter])
    assert read_udhr_articles(path)[30] == [ARTICLE_30]
    write_udhr(tmp_path / "eng.txt.gz", [ARTICLE_30])
    assert udhr_pairs(tmp_path, "xyz")[-1] == (ARTICLE_30, ARTICLE_30)


def test_article_30_keeps_the_lines_that_wrap_its_own_text(tmp_path):
    """Some files wrap an article's text over lines (auc, krl, lot): long lines, the last ending the article
    with its full stop however short it is."""
    wrapped = [
        "Ni mi täh Deklaratsieh kirjutettu ei voi olla sellitetty, kui kudualetahto",
        "valdivole, rahvasjoukole libo erillizile rahvahile annettu oigevus",
        "toimie mittumaltahto alal libo luadie midätahto täh",
        "ananipa.",
    ]
    path = write_udhr(tmp_path / "krl.txt.gz", wrapped)
    assert read_udhr_articles(path)[30] == wrapped
    write_udhr(tmp_path / "eng.txt.gz", [ARTICLE_30])
    assert udhr_pairs(tmp_path, "krl")[-1] == (ARTICLE_30, " ".join(wrapped))


def test_a_file_ending_at_article_30s_heading_reads_its_other_articles(tmp_path):
    # no text under the last heading (a truncated file, or a placeholder line the reader drops): the
    # articles before it are read, article 30 is left out (the trimming of article 30 crashed on it)
    path = write_udhr(tmp_path / "xyz.txt.gz", [])
    articles = read_udhr_articles(path)
    assert 30 not in articles and 29 in articles
