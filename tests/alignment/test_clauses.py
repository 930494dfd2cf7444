"""Clause pairs cut from verse pairs: split points, the agreement checks, and their place in the bank."""

from __future__ import annotations

import gzip

import pytest

from xling.alignment.sentences.align import AlignConfig, add_clause_pairs
from xling.alignment.sentences.clauses import ClauseSplit, clause_pairs, split_clauses
from xling.alignment.sentences.data import build_parallel_bank
from xling.data.config import CorpusConfig
from xling.data.readers import AlignedCorpus
from xling.errors import ConfigError


def test_split_clauses_cuts_after_latin_and_cjk_punctuation_and_drops_bare_marks():
    assert split_clauses("In the beginning, God created; and it was good.") == [
        "In the beginning,", "God created;", "and it was good."]  # fmt: skip
    assert split_clauses("地是空虚混沌，渊面黑暗。") == ["地是空虚混沌，", "渊面黑暗。"]
    assert split_clauses("Amen. — ") == ["Amen."]
    assert split_clauses("no punctuation here") == ["no punctuation here"]
    assert split_clauses("He paid 10,000 shekels in 3.5 days: see John 3:16.") == [
        "He paid 10,000 shekels in 3.5 days:", "see John 3:16."]  # numbers stay whole  # fmt: skip


def test_clause_pairs_pair_in_order_only_when_counts_and_lengths_agree():
    src = "And God said, Let there be light: and there was light."
    tgt = "Und Gott sprach: Es werde Licht! und es ward Licht."
    assert clause_pairs(src, tgt) == [
        ("And God said,", "Und Gott sprach:"), ("Let there be light:", "Es werde Licht!"),
        ("and there was light.", "und es ward Licht.")]  # fmt: skip
    assert clause_pairs(src, "Und Gott sprach: Es werde Licht und es ward Licht.") == []  # 3 vs 2 clauses
    assert clause_pairs("One clause only.", "Nur ein Satz.") == []
    lopsided = "A, and then a very long second clause that goes on and on and on."
    assert clause_pairs(lopsided, "Ein sehr langer erster Teilsatz der kein Ende nimmt, und dann B.") == []
    assert clause_pairs(lopsided, "Ein sehr langer erster Teilsatz der kein Ende nimmt, und dann B.",
                        ClauseSplit(length_ratio=100.0))  # fmt: skip
    assert clause_pairs("a, b, c.", "x, y, z.", ClauseSplit(max_clauses=2)) == []


def _write(folder, lang, rows):
    with gzip.open(folder / f"{lang}.tsv.gz", "wt", encoding="utf-8") as f:
        f.writelines(f"{ident}\t{text}\n" for ident, text in rows)


def test_clause_pairs_join_the_bank_as_pivot_xx_units_and_skip_held_out_ones(tmp_path):
    _write(tmp_path, "eng", [("GEN.1.1", "In the beginning, God made it."), ("JHN.1.1", "In the beginning, was the word."),
                             ("GEN.1.2", "Dark and void.")])  # fmt: skip
    _write(tmp_path, "deu", [("GEN.1.1", "Am Anfang, schuf Gott es."), ("JHN.1.1", "Im Anfang, war das Wort."),
                             ("GEN.1.2", "Wüst und leer.")])  # fmt: skip
    corpus = AlignedCorpus.from_dir(tmp_path)
    tokenize = lambda texts: ([[len(t)] for t in texts], 0)  # noqa: E731
    keep = lambda ident: not ident.startswith("JHN.")  # noqa: E731
    bank = build_parallel_bank(corpus, ["eng", "deu"], tokenize, keep=keep)
    assert add_clause_pairs(bank, corpus, ["eng", "deu"], keep, tokenize, ClauseSplit()) == 2
    clause_units = [u for u, ident in enumerate(bank.unit_ids) if ident.startswith("clauses:eng-deu:")]
    assert len(clause_units) == 2 and bank.shared("eng", "deu").tolist()[-2:] == clause_units
    lengths = [bank.banks["deu"].rows([bank.row["deu"][u]])[0].tolist() for u in clause_units]
    assert lengths == [[len("Am Anfang,")], [len("schuf Gott es.")]]


def test_clause_pairs_are_not_cut_from_verses_of_a_chapter_numbered_otherwise(renumbered_bible):
    corpus = AlignedCorpus.from_dir(renumbered_bible)
    tokenize = lambda texts: ([[len(t)] for t in texts], 0)  # noqa: E731
    keep = lambda ident: True  # noqa: E731
    bank = build_parallel_bank(corpus, ["eng", "deu"], tokenize, keep=keep, keep_texts=["eng", "deu"])
    # two clauses a verse, from Genesis 1 and Matthew 17 (less 17:21, which English lacks), none from Psalm 3
    assert add_clause_pairs(bank, corpus, ["eng", "deu"], keep, tokenize, ClauseSplit()) == 2 * (5 + 26)
    units = [u for u, ident in enumerate(bank.unit_ids) if ident.startswith("clauses:")]
    eng, deu = ([bank.texts[x][bank.row[x][u]] for u in units] for x in ("eng", "deu"))
    assert [t.split()[0] for t in eng[::2]] == [t.split()[0] for t in deu[::2]]
    assert not [t for t in eng if t.startswith("PSA.")]


@pytest.mark.parametrize(
    "field, value", [("clause_pairs", 1), ("clause_pairs", -2), ("clause_length_ratio", 0.5)]
)
def test_clause_settings_are_checked(field, value):
    config = AlignConfig(data=CorpusConfig(corpus="sample"), tokenizer="t")
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=field):
        config.validate()
