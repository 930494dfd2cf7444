"""`xling eval mt` library: test sets written in tmp_path, a fake translator, scores checked against sacrebleu."""

from __future__ import annotations

import gzip
import json

import pytest
from sacrebleu.metrics import BLEU, CHRF

from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.evaluation.mt import (
    MTEvalConfig,
    bleu_metric,
    corpus_scores,
    evaluate_mt,
    expand_directions,
    load_tests,
    score_directions,
    untrained_directions,
)
from xling.evaluation.result import Result
from xling.translation.decoding import DecodeOptions
from xling.translation.testsets import (
    DirectionData,
    ntrex_reference,
    ntrex_test,
    parse_direction,
    tatoeba_test,
)

# Six verses in three languages: GEN (training) and JHN (held out); line order differs per file.
VERSES = {
    "GEN.1.1": {"eng": "In the beginning God created the heaven", "deu": "Am Anfang schuf Gott Himmel",
                "fra": "Au commencement Dieu créa les cieux"},
    "JHN.1.1": {"eng": "In the beginning was the Word", "deu": "Im Anfang war das Wort",
                "fra": "Au commencement était la Parole"},
    "JHN.1.2": {"eng": "The same was in the beginning with God", "deu": "Dasselbe war im Anfang bei Gott",
                "fra": "Elle était au commencement avec Dieu"},
    "JHN.1.3": {"eng": "All things were made by him", "deu": "Alle Dinge sind durch dasselbe gemacht",
                "fra": "Toutes choses ont été faites par elle"},
    "JHN.1.4": {"eng": "In him was life", "deu": "In ihm war das Leben", "fra": "En elle était la vie"},
    "MAT.1.1": {"eng": "The book of the generation", "deu": "Dies ist das Buch von der Geburt",
                "fra": "Généalogie de Jésus-Christ"},
}  # fmt: skip
GARBAGE = "zzz qqq xxx"


class NoOwnSettings:
    """A stand-in model with no decoding settings of its own: the options come back as given."""

    def decode_options(self, options=None, given=None):
        return options or DecodeOptions()


class TableTranslator(NoOwnSettings):
    """Translates by looking the text up in VERSES; garbage for the (src, tgt) pairs in `broken` and for
    the source texts in `wrong`. Records every call."""

    name = "table"

    def __init__(self, broken=(), wrong=()):
        self.broken, self.wrong = set(broken), set(wrong)
        self.calls: list[tuple[str, str, list[str], DecodeOptions | None, bool]] = []
        self.lookup = {(text, lang): verse for verse, sides in VERSES.items() for lang, text in sides.items()}

    def translate(self, texts, src, tgt, options=None, *, progress=False):
        self.calls.append((src, tgt, list(texts), options, progress))
        if (src, tgt) in self.broken:
            return [GARBAGE for _ in texts]
        return [GARBAGE if t in self.wrong else VERSES[self.lookup[(t, src)]][tgt] for t in texts]


def _write_bible(root):
    folder = root / "bible"
    folder.mkdir()
    for lang in ("eng", "deu", "fra"):
        ids = list(VERSES) if lang != "deu" else list(reversed(VERSES))
        lines = "".join(f"{verse}\t{VERSES[verse][lang]}\n" for verse in ids)
        if lang == "fra":
            (folder / "fra.tsv.gz").write_bytes(gzip.compress(lines.encode()))
        else:
            (folder / f"{lang}.tsv").write_text(lines, encoding="utf-8")
    return folder


def _sacrebleu(hyps, refs, **bleu):
    return (round(BLEU(**bleu).corpus_score(hyps, [refs]).score, 2),
            round(CHRF(word_order=2).corpus_score(hyps, [refs]).score, 2))  # fmt: skip


def _john(lang):
    return [VERSES[v][lang] for v in VERSES if v.startswith("JHN.")]


def test_bible_scores_match_sacrebleu_on_the_outputs(tmp_path):
    _write_bible(tmp_path)
    wrong = {VERSES["JHN.1.2"]["eng"], VERSES["JHN.1.4"]["eng"]}
    translator = TableTranslator(wrong=wrong)
    config = MTEvalConfig(
        data=str(tmp_path), directions=["eng-deu", "en-fr"], decode=DecodeOptions(beam_size=2)
    )
    result = evaluate_mt(translator, config)

    assert list(result.scores) == ["eng-deu", "eng-fra"]
    for (src, tgt, texts, options, _), label in zip(translator.calls, result.scores, strict=True):
        assert (src, tgt) == tuple(label.split("-"))
        assert texts == _john("eng"), "only the held-out JHN verses, in the source file's order"
        assert options.beam_size == 2
    for tgt in ("deu", "fra"):
        hyps = [GARBAGE if e in wrong else r for e, r in zip(_john("eng"), _john(tgt), strict=True)]
        bleu, chrf = _sacrebleu(hyps, _john(tgt))
        row = result.scores[f"eng-{tgt}"]
        assert (row["bleu"], row["chrf++"], row["n"]) == (bleu, chrf, 4)
        assert 0 < chrf < 100
    assert result.primary == "chrf++" and result.task == "mt" and result.model == "table"
    # a translator without a name (xling's Translator) is named by its folder, not "?"
    unnamed = TableTranslator(wrong=wrong)
    unnamed.name, unnamed.folder = None, tmp_path / "my-model"
    assert evaluate_mt(unnamed, config).model == str(tmp_path / "my-model")
    assert result.average == round(
        (result.scores["eng-deu"]["chrf++"] + result.scores["eng-fra"]["chrf++"]) / 2, 2
    )
    signatures = result.settings["signatures"]["eng-deu"]
    assert "tok:13a" in signatures["bleu"] and "smooth:exp" in signatures["bleu"]
    assert "nw:2" in signatures["chrf++"] and "nrefs:1" in signatures["bleu"]
    assert result.settings["decode"]["beam_size"] == 2 and result.settings["heldout_prefixes"] == ["JHN."]
    assert Result.from_dict(json.loads(json.dumps(result.to_dict()))).scores == result.scores


def test_max_sentences_takes_the_first_verses_and_prefixes_choose_the_book(tmp_path):
    _write_bible(tmp_path)
    translator = TableTranslator()
    config = MTEvalConfig(data=str(tmp_path / "bible"), directions=["deu-eng"], max_sentences=2,
                          heldout_prefixes=["JHN.", "MAT."])  # fmt: skip
    result = evaluate_mt(translator, config)
    # deu.tsv lists the verses in reverse: MAT.1.1 then JHN.1.4 come first.
    assert translator.calls[0][2] == [VERSES["MAT.1.1"]["deu"], VERSES["JHN.1.4"]["deu"]]
    assert result.scores["deu-eng"] == {"bleu": 100.0, "chrf++": 100.0, "n": 2}


def test_pivot_translates_through_english_beside_the_direct_direction(tmp_path):
    _write_bible(tmp_path)
    # No direct deu -> fra: garbage; through English every verse comes out right.
    translator = TableTranslator(broken={("deu", "fra")})
    config = MTEvalConfig(data=str(tmp_path), directions=["deu-fra", "deu-eng", "eng-fra"], pivot="en")
    result = evaluate_mt(translator, config, show_progress=True)

    fra = _john("fra")[::-1]  # deu.tsv lists the verses in reverse, and the source file's order rules
    direct, pivoted = _sacrebleu([GARBAGE] * 4, fra), _sacrebleu(fra, fra)
    row = result.scores["deu-fra"]
    assert (row["bleu"], row["chrf++"]) == direct
    assert (row["pivot_bleu"], row["pivot_chrf++"]) == pivoted == (100.0, 100.0)
    assert "pivot_chrf++" not in result.scores["deu-eng"] and "pivot_chrf++" not in result.scores["eng-fra"]
    pairs = [(src, tgt) for src, tgt, *_ in translator.calls]
    into_english = pairs.index(("deu", "eng"))
    assert translator.calls[into_english + 1][:3] == ("eng", "fra", _john("eng")[::-1]), (
        "eng -> fra receives the deu -> eng outputs"
    )
    # deu -> eng of the JHN verses is made once, for the pivot and for the deu-eng direction.
    assert pairs.count(("deu", "eng")) == 1 and pairs.count(("deu", "fra")) == 1
    assert all(call[4] is True for call in translator.calls)
    assert result.settings["pivot"] == "eng"


def test_corpus_scores_pick_sacrebleus_tokenizer_for_the_target_language():
    hyps, refs = ["太初有道，道与神同在。"], ["太初有道，道与 神同在，道就是 神。"]
    scores, signatures = corpus_scores(hyps, refs, "cmn")
    assert "tok:zh" in signatures["bleu"]
    assert (scores["bleu"], scores["chrf++"]) == _sacrebleu(hyps, refs, tokenize="zh")
    assert "tok:13a" in corpus_scores(["a b"], ["a b"], "deu")[1]["bleu"]
    assert "tok:char" in corpus_scores(["a b"], ["a b"], "deu", bleu_tokenize="char")[1]["bleu"]
    # Japanese: ja-mecab when MeCab is installed, else the char tokenizer (logged), never a crash.
    japanese = bleu_metric("jpn").tokenizer_signature
    assert japanese == "char" or japanese.startswith("ja-mecab")
    with pytest.raises(ValueError, match="hypotheses"):
        corpus_scores(["a"], ["a", "b"], "deu")


def _write_ntrex(root, lines=3):
    folder = root / "ntrex"
    folder.mkdir()
    sides = {"src.eng": "The house {i}", "ref.deu": "Das Haus {i}", "ref.fra": "La maison {i}",
             "ref.zho-CN": "房子{i}", "ref.zho-TW": "房子{i}號", "ref.arb": "البيت {i}", "ref.nob": "Huset {i}",
             "ref.nno": "Huset {i}"}  # fmt: skip
    for name, pattern in sides.items():
        body = "".join(pattern.format(i=i) + "\n" for i in range(lines))
        (folder / f"newstest2019-{name}.txt.gz").write_bytes(gzip.compress(body.encode()))
    return folder


def test_ntrex_uses_the_english_source_and_the_references_of_both_sides(tmp_path):
    folder = _write_ntrex(tmp_path)
    eng_deu = ntrex_test(folder, "en", "de")
    assert (eng_deu.src, eng_deu.tgt) == ("eng", "deu")
    assert eng_deu.sources == ["The house 0", "The house 1", "The house 2"]
    assert eng_deu.references == ["Das Haus 0", "Das Haus 1", "Das Haus 2"]
    deu_fra = ntrex_test(folder, "deu", "fra", max_sentences=2)
    assert deu_fra.sources == ["Das Haus 0", "Das Haus 1"] and deu_fra.references == [
        "La maison 0",
        "La maison 1",
    ]
    assert ntrex_test(folder, "fra", "eng").references[0] == "The house 0"
    assert ntrex_reference(folder, "cmn").name == "newstest2019-ref.zho-CN.txt.gz"
    assert ntrex_reference(folder, "zh").name == "newstest2019-ref.zho-CN.txt.gz"
    assert ntrex_reference(folder, "cmn", ["zho-TW"]).name == "newstest2019-ref.zho-TW.txt.gz"
    assert ntrex_reference(folder, "ara").name == "newstest2019-ref.arb.txt.gz"
    # Norwegian is Bokmål, as Tatoeba and the Bible read `no` (there was no file for it)
    assert ntrex_reference(folder, "no").name == "newstest2019-ref.nob.txt.gz"
    assert ntrex_reference(folder, "nno").name == "newstest2019-ref.nno.txt.gz"
    with pytest.raises(DataError, match="lzh"):
        ntrex_reference(folder, "lzh")
    with pytest.raises(DataError, match=r"newstest2019-ref\.ita\.txt\.gz"):
        ntrex_test(folder, "eng", "ita")


def test_ntrex_evaluation_and_misaligned_files(tmp_path):
    folder = _write_ntrex(tmp_path)
    result = evaluate_mt(_EchoReference(folder), MTEvalConfig(testset="ntrex", data=str(tmp_path),
                                                              directions=["eng-cmn", "deu-fra"]))  # fmt: skip
    assert (
        result.scores["eng-cmn"]["chrf++"] == 100.0
        and "tok:zh" in result.settings["signatures"]["eng-cmn"]["bleu"]
    )
    assert (
        result.settings["origins"]["deu-fra"] == "newstest2019-ref.deu.txt.gz -> newstest2019-ref.fra.txt.gz"
    )
    (folder / "newstest2019-ref.ita.txt.gz").write_bytes(gzip.compress(b"uno\ndue\n"))
    with pytest.raises(DataError, match="ita"):
        ntrex_test(folder, "eng", "ita")
    with pytest.raises(DataError, match="ita"):  # taking the first sentence only read no further before
        ntrex_test(folder, "eng", "ita", max_sentences=1)


class _NllbRecorder(NoOwnSettings):
    """Says which NLLB codes each call asks for (its conventions are NLLB-200's for these languages) and gives
    the texts back; `_check_languages` asks its conventions before anything is translated."""

    def __init__(self):
        from xling.translation.languages import Conventions

        codes = ["eng_Latn", "zho_Hans", "zho_Hant", "srp_Cyrl", "deu_Latn"]
        self.conventions = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
        self.calls: list[tuple[str, str, str, str]] = []

    def translate(self, texts, src, tgt, options=None, *, progress=False):
        tokens = self.conventions.source_token(src), self.conventions.target_token(tgt)
        self.calls.append((src, tgt, *tokens))
        return list(texts)


def test_an_ntrex_variant_is_the_script_the_model_is_asked_for(tmp_path):
    folder = _write_ntrex(tmp_path)
    body = "".join(f"Kuća {i}\n" for i in range(3))
    (folder / "newstest2019-ref.srp-Latn.txt.gz").write_bytes(gzip.compress(body.encode()))
    test = ntrex_test(folder, "eng", "cmn", variants=["zho-TW"])
    assert test.references[0] == "房子0號" and test.codes == ("eng", "cmn-TW") and test.label == "eng-cmn"
    assert ntrex_test(folder, "eng", "zho").codes == ("eng", "zho")  # the default file: the plain code
    recorder = _NllbRecorder()
    config = MTEvalConfig(testset="ntrex", data=str(tmp_path), directions=["eng-zho", "deu-zho"],
                          variants=["zho-TW"], pivot="eng")  # fmt: skip
    evaluate_mt(recorder, config)
    # Traditional references, Traditional asked for (it was zho: NLLB's zho_Hans), through the pivot too
    assert recorder.calls == [("eng", "zho-TW", "eng_Latn", "zho_Hant"), ("deu", "zho-TW", "deu_Latn", "zho_Hant"),
                              ("deu", "eng", "deu_Latn", "eng_Latn"), ("eng", "zho-TW", "eng_Latn", "zho_Hant")]  # fmt: skip
    # Latin-script Serbian sources were sent as srp_Cyrl: NLLB-200 has no Latin Serbian, said before any work
    recorder = _NllbRecorder()
    config = MTEvalConfig(testset="ntrex", data=str(tmp_path), directions=["eng-deu", "srp-eng"],
                          variants=["srp-Latn"])  # fmt: skip
    with pytest.raises(XlingError, match=r"srp_Cyrl, not in the Latn script \('srp-Latn'\)"):
        evaluate_mt(recorder, config)
    assert recorder.calls == []
    # two references for one language: the last one won, and the report listed both
    for variants in (["zho-TW", "zho"], ["zho", "zho-TW"]):
        with pytest.raises(ConfigError, match=r"variants: '\S+' and '\S+' are two references for (cmn|zho)"):
            ntrex_test(folder, "eng", "cmn", variants=variants)


def test_a_direction_with_a_script_or_region_is_refused_not_dropped():
    # --src en --tgt zh-TW,sr-Latn became eng-zho, eng-srp: the model's default script, any reference
    for sources, targets, named in [
        (["en"], ["zh-TW", "sr-Latn"], "zh-TW"),
        (["sr_Latn"], ["en"], "sr_Latn"),
    ]:
        with pytest.raises(ConfigError, match=rf"'{named}' names a script or region.*variants"):
            expand_directions(sources, targets)
    with pytest.raises(ConfigError, match="'zho_Hant' names a script or region"):
        parse_direction("eng-zho_Hant")
    with pytest.raises(ConfigError, match="directions"):
        MTEvalConfig(directions=["eng-de_AT"]).validate()
    assert expand_directions(["en"], ["zh"]) == ["eng-zho"]
    # the pivot too: --pivot zh-TW translated through the model's Simplified Chinese
    for pivot in ("zh-TW", "sr-Latn"):
        with pytest.raises(ConfigError, match=rf"pivot: '{pivot}' names a script or region"):
            MTEvalConfig(directions=["deu-fra"], pivot=pivot).validate()
    MTEvalConfig(directions=["deu-fra"], pivot="en").validate()


def test_a_language_tag_is_no_direction_and_a_variant_must_be_read():
    # fr-CA was French -> Catalan (CA read as a language), zh-TW Chinese -> Twi
    for tag in ("fr-CA", "zh-TW", "pt-BR"):
        with pytest.raises(ConfigError, match=rf"'{tag}' is one language with a region, not src-tgt"):
            parse_direction(tag)
    assert parse_direction("EN-DE") == ("eng", "deu") and parse_direction("ca-es") == ("cat", "spa")
    # a variant no side reads was recorded in the results while the default file was scored
    for variants, directions in [(["cmn-TW"], ["eng-zho"]), (["fra-CA"], ["eng-deu"])]:
        with pytest.raises(ConfigError, match=r"variants: '.*' names no side of the directions"):
            MTEvalConfig(testset="ntrex", directions=directions, variants=variants).validate()
    MTEvalConfig(testset="ntrex", directions=["eng-zho"], variants=["zho-TW"]).validate()
    with pytest.raises(ConfigError, match="variants: .* choose NTREX reference files; bible has none"):
        MTEvalConfig(testset="bible", directions=["eng-deu"], variants=["zho-TW"]).validate()


def test_a_bible_direction_whose_sides_are_one_file_is_refused(tmp_path):
    folder = _write_bible(tmp_path)
    (folder / "cmn.tsv").write_text("JHN.1.1\t太初有道。\n", encoding="utf-8")
    (folder / "tgl.tsv").write_text("JHN.1.1\tNang pasimula ay naroon na ang Verbo.\n", encoding="utf-8")
    for direction in ("cmn-zho", "tgl-fil"):  # a copy of the input scored 100
        with pytest.raises(ConfigError, match=rf"directions: {direction}: both sides are the corpus's"):
            load_tests(MTEvalConfig(data=str(tmp_path), directions=[direction]))


def test_directions_a_model_trained_from_scratch_never_saw_are_zero_shot(tmp_path):
    from xling.artifacts import write_metadata

    folder = tmp_path / "model"
    folder.mkdir()
    trained = {"eng-deu": 10, "deu-eng": 10, "eng-fra": 10, "fra-eng": 10}
    write_metadata(folder, {"kind": "translation", "directions": trained, "config": {"model": "small"}})
    assert untrained_directions(folder, ["eng-deu", "deu-fra"]) == ["deu-fra"]
    # fine-tuned from another model: what that one trained on is not known
    write_metadata(
        folder, {"kind": "translation", "directions": trained, "config": {"model": "~/m2m100_418M"}}
    )
    assert untrained_directions(folder, ["deu-fra"]) is None
    assert untrained_directions(tmp_path / "missing", ["deu-fra"]) is None


class _EchoReference(NoOwnSettings):
    """Returns the NTREX reference line of the target language for each source line (a perfect system)."""

    def __init__(self, folder):
        self.folder = folder

    def translate(self, texts, src, tgt, options=None, *, progress=False):
        test = ntrex_test(self.folder, src, tgt)
        return [test.references[test.sources.index(t)] for t in texts]


def test_tatoeba_directions_both_ways_and_english_only(tmp_path):
    (tmp_path / "tatoeba.deu-eng.deu").write_text("Hallo\nDanke\n", encoding="utf-8")
    (tmp_path / "tatoeba.deu-eng.eng").write_text("Hello\nThanks\n", encoding="utf-8")
    to_deu, to_eng = tatoeba_test(tmp_path, "eng", "deu"), tatoeba_test(tmp_path, "de", "en")
    assert (to_deu.sources, to_deu.references) == (["Hello", "Thanks"], ["Hallo", "Danke"])
    assert (to_eng.sources, to_eng.references) == (["Hallo", "Danke"], ["Hello", "Thanks"])
    with pytest.raises(ConfigError, match="English only"):
        tatoeba_test(tmp_path, "deu", "fra")
    # the origin names the file read: Chinese asked as zho is Tatoeba's cmn (it said tatoeba.zho-eng)
    (tmp_path / "tatoeba.cmn-eng.cmn").write_text("你好\n", encoding="utf-8")
    (tmp_path / "tatoeba.cmn-eng.eng").write_text("Hello\n", encoding="utf-8")
    assert tatoeba_test(tmp_path, "zho", "eng").origin == "tatoeba.cmn-eng"
    assert to_deu.origin == "tatoeba.deu-eng"


def test_bad_settings_are_config_errors_naming_the_field(tmp_path):
    for bad, field in [(dict(testset="flores"), "testset"), (dict(directions=["eng"]), "directions"),
                       (dict(directions=["eng-en"]), "directions"), (dict(directions=[]), "directions"),
                       (dict(max_sentences=-1), "max_sentences"), (dict(max_sentences=10**20), "max_sentences"),
                       (dict(bleu_tokenize="moses"), "bleu_tokenize"),
                       (dict(heldout_prefixes=[""]), "heldout_prefixes"),
                       (dict(decode=DecodeOptions(beam_size=0)), "beam_size")]:  # fmt: skip
        with pytest.raises(ConfigError, match=field):
            MTEvalConfig(**bad).validate()
    with pytest.raises(ConfigError, match="eng-de-DE"):
        parse_direction("eng-de-DE")
    try:  # a tokenizer whose package is missing: said before anything is translated, not after
        BLEU(tokenize="ja-mecab")
    except (ImportError, RuntimeError):
        with pytest.raises(ConfigError, match="bleu_tokenize: ja-mecab"):
            MTEvalConfig(bleu_tokenize="ja-mecab").validate()
    with pytest.raises(LanguageCodeError, match="qqq"):
        MTEvalConfig(directions=["eng-qqq"]).validate()


def test_a_bleu_tokenizer_that_cannot_download_its_model_is_a_config_error(monkeypatch):
    """flores200 (and flores101, spBLEU-1K) fetch a SentencePiece model on first use: offline, validate gave
    a URLError traceback; it names the field, why, and the tokenizers that need no download."""
    from urllib.error import URLError

    class OfflineBLEU(BLEU):
        def __init__(self, *args, tokenize=None, **kwargs):
            if tokenize in ("flores200", "spBLEU-1K"):
                raise URLError("[Errno -2] Name or service not known")
            super().__init__(*args, tokenize=tokenize, **kwargs)

    monkeypatch.setattr("xling.evaluation.mt.BLEU", OfflineBLEU)
    for name in ("flores200", "spBLEU-1K"):
        with pytest.raises(ConfigError, match=rf"^bleu_tokenize: {name}: sacrebleu downloads its SentencePiece "
                                              r"model on first use, which failed \(.*Name or service not known.*"
                                              r"no download: none, zh, 13a, intl, char"):  # fmt: skip
            MTEvalConfig(bleu_tokenize=name).validate()
    MTEvalConfig(bleu_tokenize="13a").validate()


def test_missing_data_and_languages_are_named(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "nowhere")):
        evaluate_mt(TableTranslator(), MTEvalConfig(data=str(tmp_path / "nowhere")))
    _write_bible(tmp_path)
    with pytest.raises(DataError, match="spa"):
        evaluate_mt(TableTranslator(), MTEvalConfig(data=str(tmp_path), directions=["eng-spa"]))
    with pytest.raises(DataError, match="LUK"):
        evaluate_mt(TableTranslator(), MTEvalConfig(data=str(tmp_path), heldout_prefixes=["LUK."],
                                                    directions=["eng-deu"]))  # fmt: skip
    with pytest.raises(DataError, match="ntrex"):
        evaluate_mt(TableTranslator(), MTEvalConfig(testset="ntrex", data=str(tmp_path)))


def test_hypotheses_are_written_line_aligned_and_a_short_output_is_refused(tmp_path):
    _write_bible(tmp_path)
    test = DirectionData("deu", "fra", _john("deu"), _john("fra"), "test")
    out = tmp_path / "hyps"
    score_directions(TableTranslator(broken={("deu", "fra")}), [test], pivot="eng", hypotheses=out)
    assert (out / "deu-fra.txt").read_text(encoding="utf-8").splitlines() == [GARBAGE] * 4
    assert (out / "deu-fra.pivot.txt").read_text(encoding="utf-8").splitlines() == _john("fra")

    class Short(TableTranslator):
        def translate(self, texts, src, tgt, options=None, *, progress=False):
            return super().translate(texts, src, tgt, options)[:-1]

    with pytest.raises(ValueError, match="3 translations for 4"):
        score_directions(Short(), [test])


def test_expand_directions():
    assert expand_directions(["en"], ["de", "fr"]) == ["eng-deu", "eng-fra"]
    assert expand_directions(["deu", "fra"], ["deu", "fra"]) == ["deu-fra", "fra-deu"]
    with pytest.raises(ConfigError):
        expand_directions(["deu"], ["de"])


def test_real_data_sets_read_as_documented(shared_data_dir):
    if not (shared_data_dir / "ntrex").is_dir() or not (shared_data_dir / "bible").is_dir():
        pytest.skip("needs ntrex/ and bible/ in the shared data folder")
    ntrex = ntrex_test(shared_data_dir / "ntrex", "deu", "cmn")
    assert len(ntrex.sources) == len(ntrex.references) == 1997
    assert ntrex.origin.endswith("newstest2019-ref.zho-CN.txt.gz")
    translator = TableTranslator()
    translator.translate = lambda texts, src, tgt, options=None, *, progress=False: list(texts)  # echo
    result = evaluate_mt(
        translator, MTEvalConfig(data=str(shared_data_dir), directions=["eng-deu"], max_sentences=5)
    )
    assert result.scores["eng-deu"]["n"] == 5 and result.settings["origins"]["eng-deu"].startswith(
        "bible eng/deu"
    )


def test_the_result_says_which_runtime_translated(tmp_path):
    from types import SimpleNamespace

    from xling.artifacts import write_metadata
    from xling.evaluation.mt import _backend_settings

    # "auto" picks a model's CTranslate2 conversion when there is one: the int8 model is what was scored
    write_metadata(tmp_path, {"kind": "translation/ctranslate2", "quantization": "int8"})
    converted = SimpleNamespace(backend_name="ct2", backend=SimpleNamespace(folder=tmp_path))
    assert _backend_settings(converted, "auto") == {"backend": "ct2", "backend_asked": "auto",
                                                    "ct2_quantization": "int8"}  # fmt: skip
    assert _backend_settings(SimpleNamespace(backend_name="torch"), "auto") == {"backend": "torch",
                                                                                "backend_asked": "auto"}  # fmt: skip
    _write_bible(tmp_path)
    result = evaluate_mt(
        TableTranslator(), MTEvalConfig(data=str(tmp_path / "bible"), directions=["eng-deu"])
    )
    # a translator without a runtime (this table) is recorded as asked
    assert result.settings["backend_asked"] == result.settings["backend"] == "auto"


def test_a_hypotheses_folder_is_checked_before_any_translation(tmp_path):
    folder = _write_bible(tmp_path)
    afile = tmp_path / "afile"
    afile.write_text("keep\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="hypotheses: .*afile is a file, not a folder"):
        MTEvalConfig(data=str(tmp_path), hypotheses=str(afile)).validate()
    with pytest.raises(DataError, match="afile is a file, so no folder can be made"):
        MTEvalConfig(data=str(tmp_path), hypotheses=str(afile / "hy")).validate()
    translator = TableTranslator()
    for inside in (folder, folder / "hy"):
        with pytest.raises(ConfigError, match="test data folder"):
            evaluate_mt(
                translator, MTEvalConfig(data=str(tmp_path), directions=["eng-deu"], hypotheses=str(inside))
            )
    assert translator.calls == [] and not (folder / "hy").exists()
    result = evaluate_mt(translator, MTEvalConfig(data=str(tmp_path), directions=["eng-deu"],
                                                  hypotheses=str(tmp_path / "hy")))  # fmt: skip
    assert result.scores["eng-deu"]["n"] == 4 and (tmp_path / "hy" / "eng-deu.txt").is_file()


def test_a_hypotheses_write_that_fails_is_a_data_error_naming_the_file(tmp_path, monkeypatch):
    _write_bible(tmp_path)
    test = DirectionData("deu", "fra", _john("deu"), _john("fra"), "test")

    def full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("xling.atomic.os.replace", full)
    with pytest.raises(DataError, match=r"hy/deu-fra\.txt: cannot write the translations: No space left"):
        score_directions(TableTranslator(), [test], hypotheses=tmp_path / "hy")
