"""Reading what `xling adapt` learns from: strict files, warnings that name the line, UDHR and Swadesh."""

from __future__ import annotations

import gzip
import re

import pytest

from xling.adaptation.config import AdaptConfig
from xling.adaptation.data import AdaptData, read_adapt_data
from xling.adaptation.words import translate_words, translations
from xling.data.swadesh import swadesh_pairs
from xling.data.udhr import read_udhr_articles, udhr_pairs
from xling.errors import ConfigError, DataError

from .conftest import cipher, sample_sentences


def config(**fields) -> AdaptConfig:
    return AdaptConfig(language=fields.pop("language", "tur"), **fields)


def test_dictionary_line_without_a_tab_names_file_and_line(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("book\tkitap\nhouse ev\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path.name}:2: no tab"):
        read_adapt_data(config(dictionary=[str(path)]))


def test_named_columns_are_put_in_pivot_new_order(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("kitap\tbook\n", encoding="utf-8")
    assert read_adapt_data(config(dictionary=[f"tur-eng={path}"])).dictionary == [("book", "kitap")]
    with pytest.raises(ConfigError, match="one column must be the pivot"):
        read_adapt_data(config(dictionary=[f"deu-fra={path}"]))


@pytest.mark.parametrize(
    ("spec", "language", "line"),
    [("tr-TR-en={}", "tr-TR", "kitap\tbook"), ("en-tr-TR={}", "tr-TR", "book\tkitap"),
     ("tur_Latn-eng={}", "tur", "kitap\tbook"), ("es-419-en={}", "es-419", "kitap\tbook"),
     ("TR-EN={}", "tur", "kitap\tbook")],
)  # fmt: skip
def test_named_columns_may_carry_a_region(tmp_path, spec, language, line):
    """`--language tr-TR` is accepted, so is `tr-TR-en=FILE` (it was taken for a file of that name)."""
    path = tmp_path / "dict.tsv"
    path.write_text(line + "\n", encoding="utf-8")
    assert read_adapt_data(config(language=language, dictionary=[spec.format(path)])).dictionary == [
        ("book", "kitap")
    ]


def test_empty_fields_after_the_two_are_no_column(tmp_path):
    """A spreadsheet's `cat<TAB>kedi<TAB>` is two columns, as read_parallel_tsv reads it; a filled third is not."""
    path = tmp_path / "dict.tsv"
    path.write_text("cat\tkedi\t\ndog\tköpek\t \t\n", encoding="utf-8")
    assert read_adapt_data(config(dictionary=[str(path)])).dictionary == [("cat", "kedi"), ("dog", "köpek")]
    path.write_text("cat\tkedi\t\ndog\tköpek\t\t17\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path.name}:2: 4 tab-separated columns; expected 2"):
        read_adapt_data(config(dictionary=[str(path)]))


@pytest.mark.parametrize(
    ("field", "spec"),
    [("text", "tr_imst-ud-test.conllu.gz"), ("dictionary", "eng-tur=yacle.test.freq.2k.en-tr.tsv"),
     ("parallel", "eng-tur=tatoeba.tur-eng.tur")],
)  # fmt: skip
def test_test_sets_are_refused_before_anything_is_read(field, spec):
    with pytest.raises(ConfigError, match=rf"{field}: .* is a test set"):
        read_adapt_data(config(**{field: [spec]}))  # the file does not even exist


def test_sentences_given_as_a_dictionary_are_refused(tmp_path):
    path = tmp_path / "dict.tsv"
    path.write_text("cat\tkedi\n\n\nthis is a whole sentence of many words\tbu bir cümle\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path}:4: not a word.*--parallel"):
        read_adapt_data(config(dictionary=[str(path)]))


def test_line_in_another_script_is_a_warning_naming_it(tmp_path):
    path = tmp_path / "text.txt"
    # a BOM and a carriage return inside a line must not shift the numbers the warning gives
    path.write_text("\ufeffbu bir kitap\n\nev \rbüyük\nэто книга\nkedi küçük\n", encoding="utf-8")
    data = read_adapt_data(config(text=[str(path)]))
    assert len(data.texts) == 4
    assert any(w.startswith(f"{path}:4:") and "Cyrl" in w and "Latn" in w for w in data.warnings), (
        data.warnings
    )


def test_detector_reports_text_in_another_language(tmp_path, tiny_detector_folder):
    from xling.langid import load_identifier

    path = tmp_path / "text.txt"
    path.write_text("\n".join(sample_sentences("rus")[:40]) + "\n", encoding="utf-8")
    data = read_adapt_data(
        config(language="deu", text=[str(path)]), detector=load_identifier(str(tiny_detector_folder))
    )
    assert any(f"{path}:1:" in w and "rus" in w and "not deu" in w for w in data.warnings), data.warnings


def test_detector_reports_sentence_pairs_in_another_language(tmp_path, tiny_detector_folder):
    from xling.langid import load_identifier

    path = tmp_path / "pairs.tsv"
    pairs = zip(sample_sentences("eng")[:40], sample_sentences("rus")[:40], strict=True)
    path.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
    detector = load_identifier(str(tiny_detector_folder))
    data = read_adapt_data(config(language="deu", parallel=[str(path)]), detector=detector)
    assert any(f"{path}:1:" in w and "rus" in w and "not deu" in w for w in data.warnings), data.warnings
    assert not read_adapt_data(config(language="rus", parallel=[str(path)]), detector=detector).warnings


def test_a_dictionary_whose_columns_are_the_other_way_round_is_a_warning(tmp_path, tiny_detector_folder):
    from xling.langid import load_identifier

    english = sorted({w.strip(".,?!").lower() for s in sample_sentences("eng") for w in s.split()})[:200]
    german = sorted({w.strip(".,?!").lower() for s in sample_sentences("deu") for w in s.split()})[:200]
    path = tmp_path / "dict.tsv"  # eng<TAB>deu lines, given as deu-eng (German first)
    path.write_text("".join(f"{e}\t{d}\n" for e, d in zip(english, german, strict=True)), encoding="utf-8")
    detector = load_identifier(str(tiny_detector_folder))
    wrong = read_adapt_data(config(language="deu", dictionary=[f"deu-eng={path}"]), detector=detector)
    said = [w for w in wrong.warnings if "other way round" in w]
    assert (
        said
        and said[0].startswith(f"{path}: its deu column reads as eng")
        and "as eng-deu=dict.tsv" in said[0]
    )
    right = read_adapt_data(config(language="deu", dictionary=[f"eng-deu={path}"]), detector=detector)
    assert not [w for w in right.warnings if "other way round" in w], right.warnings
    # a deu<TAB>eng file given without its order (read as eng first): named as deu-eng
    flipped = tmp_path / "flipped.tsv"
    flipped.write_text("".join(f"{d}\t{e}\n" for e, d in zip(english, german, strict=True)), encoding="utf-8")
    unnamed = read_adapt_data(config(language="deu", dictionary=[str(flipped)]), detector=detector)
    assert any("as deu-eng=flipped.tsv" in w for w in unnamed.warnings), unnamed.warnings


def test_conllu_text_keeps_lemmas_for_the_dictionary(tmp_path):
    path = tmp_path / "t.conllu"
    path.write_text("# text = Kitapları okudum\n1\tKitapları\tkitap\tNOUN\t_\t_\t2\tobj\t_\t_\n"
                    "2\tokudum\toku\tVERB\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")  # fmt: skip
    data = read_adapt_data(config(text=[str(path)]))
    assert data.lemmas == [[("Kitapları", "kitap"), ("okudum", "oku")]]
    table = translations([("book", "kitap"), ("read", "oku")])
    assert translate_words(data.texts[0], data.lemmas[0], table) == ("book read", 2, 2)
    # without lemmas the longest known prefix stands in for the stem
    assert translate_words("kitaplarımız", None, table) == ("book", 1, 1)
    assert translate_words("kit", None, table) == ("", 0, 1)  # too short to guess


def test_conllu_features_gloss_into_english_words_only_when_asked(tmp_path, sample_tokenizer_dir):
    from tokenizers import Tokenizer

    from xling.adaptation.static import build_examples

    path = tmp_path / "t.conllu"
    path.write_text("# text = Kitabımı okumadım\n"
                    "1\tKitabımı\tkitap\tNOUN\t_\tCase=Acc|Number=Sing|Person[psor]=1|Number[psor]=Sing\t2\tobj\t_\t_\n"
                    "2\tokumadım\toku\tVERB\t_\tMood=Ind|Number=Sing|Person=1|Polarity=Neg|Tense=Past\t0\troot\t_\t_\n"
                    "3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n\n", encoding="utf-8")  # fmt: skip
    plain_text = tmp_path / "p.txt"
    plain_text.write_text("Kitap okudum\n", encoding="utf-8")
    data = read_adapt_data(config(text=[str(plain_text), str(path)], dictionary=[]))
    assert data.feature_words == [None, ["my", "not", "I"]]  # a plain text file has none
    data.dictionary = [("book", "kitap"), ("read", "oku")]
    tokenizer = Tokenizer.from_file(str(sample_tokenizer_dir / "tokenizer.json"))
    plain, _, pivots = build_examples(data, tokenizer, 0.0, 0)
    glossed, _, glossed_pivots = build_examples(data, tokenizer, 0.0, 0, gloss_features=True)
    text_target = [i for i, kind in zip(plain.target, plain.kind, strict=True) if kind == "text"]
    assert sorted(pivots[i] for i in text_target) == ["book read", "book read"]
    text_target = [i for i, kind in zip(glossed.target, glossed.kind, strict=True) if kind == "text"]
    assert sorted(glossed_pivots[i] for i in text_target) == ["book read", "book read my not I"]


def test_conllu_head_outside_its_sentence_is_an_error_naming_the_file(tmp_path):
    """feature_words indexed the head's word: a HEAD past the sentence raised a bare IndexError."""
    path = tmp_path / "t.conllu"
    path.write_text("1\tev\tev\tNOUN\t_\tCase=Loc\t0\troot\t_\t_\n2\tx\tx\tNOUN\t_\t_\t7\tconj\t_\t_\n\n",
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match=rf"{path}:1: HEAD '7' is not 0 or the ID of a word"):
        read_adapt_data(config(text=[str(path)]))


def test_japanese_lines_of_kanji_alone_are_in_the_languages_script(tmp_path):
    path = tmp_path / "ja.txt"
    path.write_text("今日は良い天気です。\n東京大学\n", encoding="utf-8")
    assert not read_adapt_data(config(language="jpn", text=[str(path)])).warnings


def test_conllu_text_without_heads_keeps_its_lemmas_and_warns_that_it_gets_no_feature_glosses(tmp_path):
    path = tmp_path / "t.conllu"
    path.write_text("# text = Kitapları okudum\n1\tKitapları\tkitap\tNOUN\t_\tCase=Acc\t_\t_\t_\t_\n"
                    "2\tokudum\toku\tVERB\t_\tPerson=1\t_\t_\t_\t_\n\n", encoding="utf-8")  # fmt: skip
    data = read_adapt_data(config(text=[str(path)]))
    assert data.lemmas == [[("Kitapları", "kitap"), ("okudum", "oku")]] and data.feature_words == [None]
    assert any(f"{path}:2: no HEAD tag" in w and "no feature glosses" in w for w in data.warnings), (
        data.warnings
    )


def test_conllu_text_is_read_as_written_not_as_syntactic_words(tmp_path):
    """A multiword token (`birisiyse` = `birisi` + `yse`) is one word of the text: its parts would teach
    word-start pieces (`▁yse`) that never start a word; the lemmas still come from the syntactic words."""
    path = tmp_path / "t.conllu"
    path.write_text("# text = Kitap birisiyse.\n1\tKitap\tkitap\tNOUN\t_\t_\t2\tnsubj\t_\t_\n"
                    "2-3\tbirisiyse\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n2\tbirisi\tbiri\tPRON\t_\t_\t0\troot\t_\t_\n"
                    "3\tyse\ti\tAUX\t_\t_\t2\tcop\t_\t_\n4\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n\n", encoding="utf-8")  # fmt: skip
    data = read_adapt_data(config(text=[str(path)]))
    assert data.texts == ["Kitap birisiyse."]
    # the multiword token as written is looked up by its first word's lemma
    pairs = [("Kitap", "kitap"), ("birisi", "biri"), ("yse", "i"), (".", "."), ("birisiyse", "biri")]
    assert data.lemmas == [pairs]
    from xling.adaptation.words import translate_words

    assert translate_words(data.texts[0], data.lemmas[0], {"biri": ["someone"], "kitap": ["book"]})[0] == (
        "book someone"
    )


def test_conllu_protect_files_are_read_as_written(tmp_path):
    from xling.adaptation.adapt import protected_texts

    path = tmp_path / "en.conllu"
    path.write_text("1-2\tdidn't\t_\t_\t_\t_\t_\t_\t_\t_\n1\tdid\tdo\tAUX\t_\t_\t3\taux\t_\t_\n"
                    "2\tn't\tnot\tPART\t_\t_\t3\tadvmod\t_\t_\n3\tgo\tgo\tVERB\t_\t_\t0\troot\t_\t_\n\n",
                    encoding="utf-8")  # fmt: skip
    protect = AdaptConfig()
    protect.vocabulary.protect = [str(path)]
    assert protected_texts(protect, ["eng"], "tur")[-1] == "didn't go"


def test_tokenised_only_conllu_is_read_as_text_without_lemmas(tmp_path):
    """A tokenizer's CoNLL-U (FORM and MISC only) was refused: "no UPOS tag (column 4 is '_')"."""
    from xling.adaptation.adapt import protected_texts

    path = tmp_path / "tok.conllu"
    path.write_text("# sent_id = 1\n# text = Ev büyük.\n1\tEv\t_\t_\t_\t_\t_\t_\t_\t_\n"
                    "2\tbüyük\t_\t_\t_\t_\t_\t_\t_\tSpaceAfter=No\n3\t.\t_\t_\t_\t_\t_\t_\t_\t_\n\n",
                    encoding="utf-8")  # fmt: skip
    data = read_adapt_data(config(text=[str(path)]))
    assert data.texts == ["Ev büyük."] and data.lemmas == [None]
    protect = AdaptConfig()
    protect.vocabulary.protect = [str(path)]
    assert protected_texts(protect, ["eng"], "tur")[-1] == "Ev büyük."


@pytest.mark.parametrize(("mwt", "line", "message"), [("3-4", 2, "range ends at word 4, but its sentence has 2"),
                                                      ("0-1", 2, "bad multiword token range '0-1'")])  # fmt: skip
def test_a_multiword_range_outside_its_sentence_names_file_and_line(tmp_path, mwt, line, message):
    """3-4 in a two-word sentence was an IndexError traceback; 0-1 took the last word's lemma (t[-1])."""
    path = tmp_path / "mwt.conllu"
    path.write_text(f"# text = evde kitap\n{mwt}\tevde\t_\t_\t_\t_\t_\t_\t_\t_\n"
                    "1\tev\tev\tNOUN\t_\t_\t0\troot\t_\t_\n2\tkitap\tkitap\tNOUN\t_\t_\t1\tnmod\t_\t_\n\n",
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(DataError, match=rf"mwt\.conllu:{line}: .*{message}"):
        read_adapt_data(config(text=[str(path)]))


def _udhr(path, lines):
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def test_udhr_articles_pair_by_number_and_paragraph(tmp_path):
    _udhr(tmp_path / "eng.txt.gz", ["Universal Declaration of Human Rights", "Preamble", "Whereas recognition of the inherent dignity of all members,", "Whereas disregard for rights,",
                                    "Article 1", "All are free.", "Article 2", "First part.", "Second part.", "Article 3", "Everyone has the right to life."])  # fmt: skip
    _udhr(tmp_path / "tha.txt.gz", ["ปฏิญญา", "คำปรารภ", "โดยที่การยอมรับนับถือเกียรติศักดิ์ประจำตัว และสิทธิเท่าเทียมกันและโอนมิได้ของบรรดาสมาชิก", "โดยที่การไม่นำพาและการเหยียดหยามต่อสิทธิมนุษยชน ยังผลให้มีการกระทำอันป่าเถื่อน",
                                    "ข้อ ๑", "มนุษย์ทั้งหลาย", "ข้อ ๒", "ทั้งหมดในย่อหน้าเดียว", "ข้อ ๓", "บุคคลมีสิทธิในการมีชีวิต", "a footer line"])  # fmt: skip
    # article 3 is the last heading found, not article 30: where it ends is unknown, so it is left out
    assert sorted(read_udhr_articles(tmp_path / "tha.txt.gz")) == [0, 1, 2]
    pairs = udhr_pairs(tmp_path, "tha")
    assert ("All are free.", "มนุษย์ทั้งหลาย") in pairs
    assert ("First part. Second part.", "ทั้งหมดในย่อหน้าเดียว") in pairs  # paragraph counts differ: joined
    # the preamble is one pair, less the titles and its heading, even where its paragraph counts agree
    preamble = ("Whereas recognition of the inherent dignity of all members, Whereas disregard for rights,",
                "โดยที่การยอมรับนับถือเกียรติศักดิ์ประจำตัว และสิทธิเท่าเทียมกันและโอนมิได้ของบรรดาสมาชิก "
                "โดยที่การไม่นำพาและการเหยียดหยามต่อสิทธิมนุษยชน ยังผลให้มีการกระทำอันป่าเถื่อน")  # fmt: skip
    assert pairs[0] == preamble and len(pairs) == 3


def test_an_unrecognised_udhr_heading_leaves_out_the_article_that_would_swallow_the_next(tmp_path, caplog):
    lines = ["Title", "Whereas every member of the human family is equal in dignity and in rights,"]
    for number in range(1, 31):
        lines += [
            f"Article {number}",
            f"The text of the article called {'I' * number}.",
        ]  # no digit: no heading
    _udhr(tmp_path / "eng.txt.gz", lines)
    lines[lines.index("Article 7")] = "The seventh of the articles of this declaration, 7"  # not heading-like
    _udhr(tmp_path / "hau.txt.gz", lines)
    articles = read_udhr_articles(tmp_path / "hau.txt.gz")
    assert (
        6 not in articles
        and 7 not in articles
        and sorted(articles) == [n for n in range(31) if n not in (6, 7)]
    )
    with caplog.at_level("WARNING", logger="xling.data.udhr"):
        pairs = udhr_pairs(tmp_path, "hau")
    assert all(eng == hau for eng, hau in pairs[1:]) and len(pairs) == 29  # every pair is one article's text
    assert "28 of the 30 articles" in caplog.text


def test_swadesh_lists_join_line_by_line(tmp_path):
    (tmp_path / "eng-000.txt").write_text("1 sg.\tI\nwater\n\nsun\n", encoding="utf-8")
    (tmp_path / "tur-000.txt").write_text("ben\nsu\nbir\n-ler\n", encoding="utf-8")
    assert swadesh_pairs(tmp_path, "tur") == [("I", "ben"), ("water", "su")]


def test_udhr_and_swadesh_files_that_are_not_utf8_name_file_and_line(tmp_path):
    import gzip

    with gzip.open(tmp_path / "tha.txt.gz", "wb") as handle:
        handle.write("ปฏิญญา\nข้อ ๑\n".encode() + b"\xff\xfe\n")
    with pytest.raises(DataError, match=r"tha\.txt\.gz:3:.*UTF-8"):
        read_udhr_articles(tmp_path / "tha.txt.gz")
    (tmp_path / "eng-000.txt").write_text("I\nwater\nsun\n", encoding="utf-8")
    (tmp_path / "tur-000.txt").write_bytes(b"ben\nsu\n\xff\n")
    with pytest.raises(DataError, match=r"tur-000\.txt:3:.*UTF-8"):
        swadesh_pairs(tmp_path, "tur")


def test_real_udhr_and_swadesh_when_present(shared_data_dir):
    pairs = udhr_pairs(shared_data_dir / "udhr", "arb")
    assert len(pairs) >= 40
    assert len(swadesh_pairs(shared_data_dir / "swadesh" / "swadesh207", "tha")) >= 150


def test_bundled_sample_pairs_by_id():
    data = read_adapt_data(config(language="ar", parallel=["sample"]))
    assert len(data.parallel) == 330
    assert data.parallel[0] == (sample_sentences("eng")[0], sample_sentences("ara")[0])
    with pytest.raises(DataError, match="no tur"):
        read_adapt_data(config(parallel=["sample"]))


@pytest.mark.parametrize("language", ["yue", "wuu", "lzh", "arz", "swc"])
def test_the_sample_of_a_macrolanguage_is_its_default_members_only(language):
    """The sample's zho is Mandarin, its ara Standard Arabic: Cantonese was silently trained on Mandarin."""
    from xling.adaptation.data import sample_pairs

    with pytest.raises(
        DataError, match=rf"the bundled sample has no {language} \(it has .*; its (zho|ara|swa) is"
    ):
        sample_pairs(language, "eng")
    for code in ("zh", "zho", "cmn"):
        assert sample_pairs(code, "eng")[0] == (sample_sentences("eng")[0], sample_sentences("zho")[0])
    assert len(sample_pairs("arb", "en")) == 330


def test_the_language_script_comes_from_the_pairs_when_there_are_any(tmp_path):
    # romanised tweets must not make Latin the script of Hindi when the word pairs say Devanagari
    text = tmp_path / "tweets.txt"
    text.write_text("kya hua yaar\nbahut accha\nनमस्ते दोस्त\n", encoding="utf-8")
    words = tmp_path / "dict.tsv"
    words.write_text("water\tपानी\nsun\tसूरज\n", encoding="utf-8")
    data = read_adapt_data(config(language="hin", text=[str(text)], dictionary=[str(words)]))
    assert data.script == "Deva"
    assert any(
        w.startswith(f"{text}:1:") and "2 of 3" in w and "the language's Deva" in w for w in data.warnings
    )


def test_udhr_and_swadesh_files_are_found_for_macrolanguages_and_varieties(tmp_path, caplog):
    from xling.adaptation.data import _swadesh_code, _udhr_code

    for stem in ("eng", "arb", "pes_1", "por_BR", "por_PT", "srp_cyrl", "srp_latn", "cmn_hans", "cmn_hant"):
        (tmp_path / f"{stem}.txt.gz").touch()
    found = {
        code: _udhr_code(tmp_path, code) for code in ("eng", "ara", "arb", "fas", "por", "zho", "cmn_Hant")
    }
    assert found == {"eng": "eng", "ara": "arb", "arb": "arb", "fas": "pes_1", "por": "por_BR", "zho": "cmn_hans",
                     "cmn_Hant": "cmn_hant"}  # fmt: skip
    caplog.clear()
    assert _udhr_code(tmp_path, "srp") == "srp_cyrl"
    assert "srp_cyrl, srp_latn" in caplog.text  # the choice among varieties is said
    assert _udhr_code(tmp_path, "srp", "Latn") == "srp_latn"  # the script of the user's text or settings
    with pytest.raises(DataError, match="no UDHR text for 'tur'"):
        _udhr_code(tmp_path, "tur")
    for code in ("eng", "cmn", "yue", "arb", "nob", "ekk"):
        (tmp_path / f"{code}-000.txt").touch()
    assert [_swadesh_code(tmp_path, code) for code in ("zho", "ara", "nor", "est", "eng")] == [
        "cmn", "arb", "nob", "ekk", "eng"]  # fmt: skip
    with pytest.raises(DataError, match="no Swadesh list for 'fas'.*pes-000.txt"):
        _swadesh_code(tmp_path, "fas")


def test_the_udhr_variety_follows_the_script_of_the_text(tmp_path):
    udhr = tmp_path / "udhr"
    udhr.mkdir()
    for stem, lines in {"eng": ["Article 1", "All are free.", "Article 2", "Everyone counts."],
                        "srp_cyrl": ["Члан 1", "Сви су слободни.", "Члан 2", "Сви се рачунају."],
                        "srp_latn": ["Član 1", "Svi su slobodni.", "Član 2", "Svi se računaju."]}.items():  # fmt: skip
        _udhr(udhr / f"{stem}.txt.gz", lines)
    text = tmp_path / "sr.txt"
    text.write_text("Dobar dan, kako ste?\nHvala, dobro sam.\n", encoding="utf-8")
    config = AdaptConfig(model="m", language="sr", output=str(tmp_path / "out"), text=[str(text)],
                         parallel=["udhr"], data=str(tmp_path))  # fmt: skip
    data = read_adapt_data(config)
    assert ("All are free.", "Svi su slobodni.") in data.parallel
    # the script the language code names, with no text to tell it: srp_Latn read the Cyrillic version
    for code in ("srp_Latn", "sr-Latn"):
        named = AdaptConfig(model="m", language=code, output=str(tmp_path / "out"), parallel=["udhr"],
                            data=str(tmp_path))  # fmt: skip
        assert ("All are free.", "Svi su slobodni.") in read_adapt_data(named).parallel, code


@pytest.mark.parametrize("option", ["dictionary", "parallel"])
def test_a_third_column_names_file_and_line(tmp_path, option):
    """A Tatoeba-style `id<TAB>eng<TAB>kat` file would pair each id with the English sentence."""
    path = tmp_path / "pairs.tsv"
    path.write_text("book\tkitap\n\n17\tthe house\tev\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"{path.name}:3: 3 tab-separated columns; expected 2"):
        read_adapt_data(config(**{option: [str(path)]}))


@pytest.mark.parametrize(
    ("spec", "content", "message"),
    [("{}", "book\tkitap\nbook\t\n", "empty tur (new language) side (column 2)"),
     ("{}", "book\tkitap\n\tkitap\n", "empty eng (pivot) side (column 1)"),
     ("eng-tur={}", "book\tkitap\n\tkitap\n", "empty eng (pivot) side (column 1)"),
     ("tur-eng={}", "kitap\tbook\nkitap\t\n", "empty eng (pivot) side (column 2)"),
     ("tur-eng={}", "kitap\tbook\n\tbook\n", "empty tur (new language) side (column 1)")],
)  # fmt: skip
def test_an_empty_side_names_its_language_and_column_from_1(tmp_path, spec, content, message):
    """Lines are numbered from 1, so are columns; "source" and "target" would not say which is the pivot."""
    path = tmp_path / "dict.tsv"
    path.write_text(content, encoding="utf-8")
    for option in ("dictionary", "parallel"):
        with pytest.raises(DataError, match=rf"{path.name}:2: {re.escape(message)}$"):
            read_adapt_data(config(**{option: [spec.format(path)]}))


@pytest.mark.parametrize(
    ("spec", "order"),
    [("{}", "eng (pivot)<TAB>tur (new language), or name their order as xxx-yyy=FILE)"),
     ("tur-eng={}", "tur (new language)<TAB>eng (pivot))")],
)  # fmt: skip
def test_a_third_column_says_which_column_is_the_pivot(tmp_path, spec, order):
    path = tmp_path / "pairs.tsv"
    path.write_text("kitap\tbook\n17\tev\thouse\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=rf"{path.name}:2: 3 tab-separated columns; expected 2 \({re.escape(order)}"
    ):
        read_adapt_data(config(dictionary=[spec.format(path)]))


def test_data_in_another_script_than_the_language_is_a_warning_naming_the_line(tmp_path):
    georgian = [cipher(s) for s in sample_sentences("eng")[:5]]
    text = tmp_path / "text.txt"
    text.write_text("\n".join(georgian) + "\n", encoding="utf-8")
    data = read_adapt_data(config(language="ell", text=[str(text)]))
    assert any(w.startswith(f"{text}:1:") and "Geor" in w and "Grek" in w for w in data.warnings), (
        data.warnings
    )
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("\n\nbook\t" + cipher("book") + "\n", encoding="utf-8")
    data = read_adapt_data(config(language="el", parallel=[str(pairs)]))
    assert any(w.startswith(f"{pairs}:3:") and "Geor" in w for w in data.warnings), data.warnings
    # the script named (with the language or vocabulary.scripts) or the language's own: nothing to say
    assert not read_adapt_data(config(language="ell_Geor", text=[str(text)])).warnings
    assert not read_adapt_data(config(language="kat", text=[str(text)])).warnings
    greek = tmp_path / "greek.txt"
    greek.write_text("το βιβλίο είναι εδώ\n", encoding="utf-8")
    assert not read_adapt_data(config(language="ell", text=[str(greek)])).warnings


def test_data_without_letters_is_a_warning(tmp_path):
    """A dictionary of emoji was taken without a word (one piece added): no script to check, none to learn."""
    emoji = tmp_path / "emoji.tsv"
    emoji.write_text("one\t😀\ntwo\t😀😀\n", encoding="utf-8")
    data = read_adapt_data(config(language="ron", dictionary=[f"eng-ron={emoji}"]))
    assert any("has no letters" in w and "emoji.tsv" in w for w in data.warnings), data.warnings


def test_a_source_that_gives_nothing_is_a_warning(tmp_path):
    # a UDHR text whose article headings are words (Persian's مادهٔ اول) aligns no article: it was only logged
    udhr = tmp_path / "udhr"
    udhr.mkdir()
    _udhr(udhr / "eng.txt.gz", ["Universal Declaration of Human Rights", "Preamble", "Whereas all are equal,",
                                "Article 1", "All are free.", "Article 2", "Everyone has rights."])  # fmt: skip
    _udhr(
        udhr / "tha.txt.gz", ["ปฏิญญา", "คำปรารภ", "โดยที่การยอมรับ", "ข้อหนึ่ง", "มนุษย์ทั้งหลาย", "ข้อสอง", "บุคคลมีสิทธิ"]
    )
    words = tmp_path / "dict.tsv"
    words.write_text("human\tมนุษย์\nright\tสิทธิ\n", encoding="utf-8")
    data = read_adapt_data(
        config(language="tha", parallel=["udhr"], dictionary=[str(words)], data=str(tmp_path))
    )
    assert data.parallel == []
    assert "parallel udhr: no sentence pairs of tha read from it" in data.warnings
    assert not any("dict.tsv" in warning for warning in data.warnings)


def test_a_turkish_dotted_capital_is_found_in_the_dictionary():
    from xling.adaptation.words import fold_word, translate_words

    assert fold_word("İnsan") == fold_word("I\u0307nsan") == "insan"  # str.lower gave i and a combining dot
    assert translate_words("İnsan hakları", None, {"insan": ["human"], "hak": ["right"]}) == (
        "human right",
        2,
        2,
    )
    # and the dotless capital: `IŞIK` and a sentence's first `Işık` are `ışık` in Turkish, not `işik`
    from xling.adaptation.static import build_examples
    from xling.adaptation.words import translations, word_folder

    assert fold_word("IŞIK", dotless_i=True) == fold_word("Işık", dotless_i=True) == "ışık"
    assert fold_word("IŞIK") == "işik"  # another language's I is i
    turkish = word_folder("tur")
    table = translations([("light", "ışık"), ("on", "açık")], turkish)
    assert translate_words("IŞIK AÇIK", None, table, turkish)[:2] == ("light on", 2)
    from tokenizers import Tokenizer, models, pre_tokenizers

    tokenizer = Tokenizer(models.WordLevel({"[UNK]": 0, "x": 1}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    data = AdaptData(
        "tur", "eng", texts=["IŞIK AÇIK"], lemmas=[None], dictionary=[("light", "ışık"), ("on", "açık")]
    )
    train, _, pivots = build_examples(data, tokenizer, 0.0, 0)
    assert "light on" in pivots and "text" in train.kind  # the Turkish text's gloss trains


def test_an_earlier_adaptations_text_not_found_from_here_is_a_warning(tmp_path, monkeypatch, caplog):
    # its paths are recorded as given (relative): from another folder its text went unprotected in silence
    import json

    from xling.adaptation.adapt import earlier_adaptation_texts

    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "tweets.txt").write_text("مرحبا\n", encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    record = {
        "adaptations": [{"language": "arb", "data": [{"kind": "text", "source": "tweets.txt", "items": 1}]}]
    }
    (model / "xling.json").write_text(json.dumps(record), encoding="utf-8")
    monkeypatch.chdir(tmp_path / "run")
    assert [p.name for p in earlier_adaptation_texts(model, "pes")] == ["tweets.txt"]
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("WARNING", logger="xling"):
        assert earlier_adaptation_texts(model, "pes") == []
    assert "arb's adaptation read tweets.txt, not found" in caplog.text and "not protected" in caplog.text
    warnings: list[str] = []  # the adapted model's xling.json says it too (it was in the log only)
    earlier_adaptation_texts(model, "pes", warnings)
    assert len(warnings) == 1 and "tweets.txt, not found" in warnings[0]


def test_a_text_file_of_id_tab_text_lines_gives_its_text(tmp_path):
    """The Bible corpus's `GEN.1.1<TAB>text` lines were taken whole: every sentence began with its id, learnt
    as pieces (`▁G EN . 1 . 1`) and trained on, as vocabulary.protect reads such files without them."""
    dictionary = tmp_path / "dict.tsv"
    dictionary.write_text("book\tkitap\nhouse\tev\n", encoding="utf-8")
    text = tmp_path / "tur.tsv"
    text.write_text("GEN.1.1\tKitap evde.\nGEN.1.2\tEv büyük.\n", encoding="utf-8")
    data = read_adapt_data(config(dictionary=[str(dictionary)], text=[str(text)]))
    assert data.texts == ["Kitap evde.", "Ev büyük."]


def test_a_transformer_adaptations_protect_files_are_protected_too(tmp_path):
    """A transformer adaptation records its settings under `config` (a static one under `settings`): its
    vocabulary.protect files were not found, so the next adaptation did not protect them."""
    import json

    from xling.adaptation.adapt import earlier_adaptation_texts

    protect = tmp_path / "protect.txt"
    protect.write_text("ışık\n", encoding="utf-8")
    model = tmp_path / "model"
    model.mkdir()
    entry = {"language": "tur", "kind": "transformer", "data": [],
             "config": {"vocabulary": {"protect": [str(protect)]}}}  # fmt: skip
    (model / "xling.json").write_text(json.dumps({"adaptations": [entry]}), encoding="utf-8")
    assert earlier_adaptation_texts(model, "pes") == [protect]
