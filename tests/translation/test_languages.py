"""Each family's language codes and token sequences, checked against its real tokenizer class."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer, NllbTokenizer

from xling.errors import DataError, LanguageCodeError, XlingError
from xling.translation.languages import conventions_for, detect_family, parse_language

from .tiny_models import PARALLEL, build_m2m100, build_marian, build_nllb, build_xling

TEXT = PARALLEL["eng"][0]


def load(folder, **kwargs):
    """Return (tokenizer, conventions) of a tiny model folder."""
    tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
    return tokenizer, conventions_for(folder, tokenizer)


def ids(tokenizer, tokens):
    return tokenizer.convert_tokens_to_ids(tokens)


def pieces(tokenizer, text=TEXT):
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])


def test_parse_language_reads_script_and_region():
    assert parse_language("zh-Hant-TW") == parse_language("zh_Hant_TW")
    tag = parse_language("zh-Hant-TW")
    assert (tag.language, tag.script, tag.region) == ("zho", "Hant", "TW")
    assert (parse_language("srp_Cyrl").language, parse_language("srp_Cyrl").script) == ("srp", "Cyrl")
    assert parse_language("de-DE").script is None and parse_language("de-DE").region == "DE"
    with pytest.raises(LanguageCodeError, match="xx-nope"):
        parse_language("xx-nope")


def test_families_are_told_apart(tmp_path):
    assert detect_family(build_m2m100(tmp_path / "m2m")) == "m2m100"
    assert detect_family(build_nllb(tmp_path / "nllb")) == "nllb"
    assert detect_family(build_marian(tmp_path / "marian")) == "marian"
    assert detect_family(build_xling(tmp_path / "xling")) == "xling"
    other = tmp_path / "bert"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "bert"}), "utf-8")
    with pytest.raises(XlingError, match="'bert' model"):
        detect_family(other)
    # PowerShell's `>` writes UTF-16: named, not a UnicodeDecodeError traceback
    (other / "config.json").write_text(json.dumps({"model_type": "marian"}), "utf-16")
    with pytest.raises(DataError, match=r"config\.json: not UTF-8"):
        detect_family(other)


def test_m2m100_codes_and_source_sequence_match_its_tokenizer(tmp_path):
    folder = build_m2m100(tmp_path / "m2m")
    tokenizer, conventions = load(folder)
    assert {conventions.target_token(code) for code in ("de", "deu", "de-DE", "ger", "__de__")} == {"__de__"}
    assert conventions.source_token("ns") == "__ns__"  # M2M-100's own code for Northern Sotho (nso)
    assert conventions.source_token("nso") == "__ns__"
    assert conventions.source_token("zh-Hant") == "__zh__"  # one Chinese: a script cannot be chosen
    tokenizer.src_lang = "en"
    src, tgt = conventions.source_token("eng"), conventions.target_token("fra")
    sequence = conventions.source_sequence(pieces(tokenizer), src, tgt)
    assert ids(tokenizer, sequence) == tokenizer(TEXT)["input_ids"]
    assert conventions.target_prefix(tgt) == ["__fr__"]
    # what transformers' generate forces after the decoder start: forced_bos_token_id = get_lang_id("fr")
    assert ids(tokenizer, conventions.target_prefix(tgt)) == [tokenizer.get_lang_id("fr")]


def test_nllb_codes_scripts_and_source_sequence_match_its_tokenizer(tmp_path):
    codes = ("eng_Latn", "deu_Latn", "srp_Cyrl", "srp_Latn", "zho_Hans", "zho_Hant", "arb_Arab", "ary_Arab")
    folder = build_nllb(tmp_path / "nllb", codes)
    tokenizer, conventions = load(folder)
    assert {conventions.target_token(code) for code in ("de", "deu", "de-DE", "deu_Latn")} == {"deu_Latn"}
    assert conventions.target_token("sr") == "srp_Cyrl"  # the default script where a model has two
    assert conventions.target_token("sr-Latn") == "srp_Latn"
    assert conventions.target_token("zh") == "zho_Hans"
    assert conventions.target_token("zh-Hant") == conventions.target_token("zh-TW") == "zho_Hant"
    assert conventions.target_token("cmn") == "zho_Hans"  # Mandarin finds the macrolanguage's code
    assert conventions.target_token("ar") == "arb_Arab"  # the macrolanguage finds Standard Arabic
    assert conventions.target_token("ary") == "ary_Arab"
    for code in ("en", "sr-Latn", "zh-Hant"):
        tokenizer.src_lang = conventions.source_token(code)
        sequence = conventions.source_sequence(pieces(tokenizer), tokenizer.src_lang, None)
        assert ids(tokenizer, sequence) == tokenizer(TEXT)["input_ids"]
        assert sequence[0] == tokenizer.src_lang and sequence[-1] == "</s>"  # non-legacy: the code first
    assert conventions.target_prefix("deu_Latn") == ["deu_Latn"]


def test_nllb_legacy_tokenizer_puts_the_source_code_last(tmp_path):
    folder = build_nllb(tmp_path / "nllb")
    tokenizer = NllbTokenizer.from_pretrained(str(folder), legacy_behaviour=True, src_lang="deu_Latn")
    conventions = conventions_for(folder, tokenizer)
    sequence = conventions.source_sequence(pieces(tokenizer), "deu_Latn", "fra_Latn")
    assert sequence[-2:] == ["</s>", "deu_Latn"]
    assert ids(tokenizer, sequence) == tokenizer(TEXT)["input_ids"]


def test_marian_fixed_pair(tmp_path):
    folder = build_marian(tmp_path / "marian", source="en", target="de")
    tokenizer, conventions = load(folder)
    assert (conventions.sources, conventions.targets) == (("eng",), ("deu",))
    assert conventions.source_token("en-GB") is None and conventions.target_token("deu") is None
    sequence = conventions.source_sequence(pieces(tokenizer), None, None)
    assert ids(tokenizer, sequence) == tokenizer(TEXT)["input_ids"]
    assert conventions.target_prefix(None) == []
    with pytest.raises(XlingError, match=r"from English \(eng\) only, not from French"):
        conventions.source_token("fr")
    with pytest.raises(XlingError, match=r"into German \(deu\) only, not into Spanish"):
        conventions.target_token("es")


def test_marian_pair_from_the_folder_name(tmp_path):
    folder = build_marian(tmp_path / "opus-mt-fr-es", source="fr", target="es")
    config_file = folder / "tokenizer_config.json"
    config = json.loads(config_file.read_text("utf-8"))
    config.pop("source_lang"), config.pop("target_lang")
    config_file.write_text(json.dumps(config), "utf-8")
    tokenizer, conventions = load(folder)
    assert tokenizer.source_lang is None
    assert (conventions.sources, conventions.targets) == (("fra",), ("spa",))


def test_marian_multi_target_token_goes_first_in_the_source(tmp_path):
    folder = build_marian(tmp_path / "marian", target_tokens=("fra", "deu"))
    tokenizer, conventions = load(folder)
    assert conventions.targets == ("deu", "fra")
    tgt = conventions.target_token("fr")
    assert tgt == ">>fra<<"
    sequence = conventions.source_sequence(pieces(tokenizer), None, tgt)
    assert ids(tokenizer, sequence) == tokenizer(f">>fra<< {TEXT}")["input_ids"]
    assert conventions.target_prefix(tgt) == []
    with pytest.raises(XlingError, match=r"Spanish \(spa\).*deu, fra"):
        conventions.target_token("es")


def test_marian_regional_target_tokens_are_chosen_by_the_region_given(tmp_path):
    # OPUS-MT's ROMANCE models have >>fr<< and >>fr_CA<<, >>pt<< and >>pt_br<<
    folder = build_marian(tmp_path / "marian", target_tokens=("fr", "fr_CA", "pt", "pt_br", "es"))
    _, conventions = load(folder)
    assert conventions.target_token("fra") == conventions.target_token("fr") == ">>fr<<"
    assert conventions.target_token("fr-CA") == ">>fr_CA<<"
    assert conventions.target_token("pt-BR") == ">>pt_br<<"
    assert conventions.target_token("por") == ">>pt<<"
    assert conventions.target_token("fr-BE") == ">>fr<<"  # a region the model lacks: the general code


def test_xling_codes_follow_m2m100_with_three_letters(tmp_path):
    folder = build_xling(tmp_path / "xling")
    tokenizer, conventions = load(folder)
    assert {conventions.target_token(code) for code in ("de", "deu", "de-AT", "__deu__")} == {"__deu__"}
    sequence = conventions.source_sequence(pieces(tokenizer), conventions.source_token("en"), "__deu__")
    assert sequence == ["__eng__", *pieces(tokenizer), "</s>"]
    assert tokenizer.unk_token_id not in ids(tokenizer, sequence)
    assert conventions.target_prefix("__deu__") == ["__deu__"]


def test_a_language_the_model_lacks_is_named_with_what_it_has(tmp_path):
    _, nllb = load(build_nllb(tmp_path / "nllb"))
    with pytest.raises(
        XlingError, match=r"cannot translate into Basque \(eus\).*3 languages: deu_Latn, eng_Latn"
    ):
        nllb.target_token("eu")
    _, m2m = load(build_m2m100(tmp_path / "m2m"))
    with pytest.raises(XlingError, match=r"cannot translate from Basque \(eus\).*100 languages: af, am"):
        m2m.source_token("eu")
    _, xling = load(build_xling(tmp_path / "xling"))
    with pytest.raises(XlingError, match=r"Spanish.*deu, eng, fra"):
        xling.target_token("es")
    with pytest.raises(LanguageCodeError, match="'qq'"):
        xling.target_token("qq")


def test_marian_source_text_gets_moses_punctuation_normalisation(tmp_path):
    # OPUS-MT models were trained on Moses-normalised text; without sacremoses transformers silently skips it
    folder = build_marian(tmp_path / "marian", source="en", target="de")
    tokenizer, _ = load(folder)
    assert tokenizer.normalize("«Hello» world") == '"Hello" world'  # unchanged without sacremoses


def test_filipino_is_the_models_tagalog(tmp_path):
    """OPUS-MT names Tagalog `fil`, NLLB `tgl_Latn`, M2M-100 `tl`: a user's `fil` finds the model's Tagalog, as
    the detector restricted to `fil` answers its `tgl_Latn` label."""
    from xling.translation.translator import Translator

    from .tiny_models import build_nllb

    translator = Translator.from_pretrained(build_nllb(tmp_path / "nllb", languages=("eng_Latn", "tgl_Latn")),
                                            backend="torch")  # fmt: skip
    assert (
        translator.conventions.source_token("fil") == translator.conventions.target_token("tl") == "tgl_Latn"
    )
    from xling.langid.labels import label_matches

    assert label_matches("tgl_Latn", "fil") and label_matches("tgl", "fil-PH")


def test_a_script_or_region_finds_the_macrolanguage_member_written_in_it():
    from xling.translation.languages import Conventions

    # NLLB-200's Azerbaijani, Kurdish and Panjabi codes: the default member (azj, kmr) is Latin, the other
    # member Arabic; there is no Arabic-script Panjabi
    codes = ["azb_Arab", "azj_Latn", "ckb_Arab", "kmr_Latn", "pan_Guru", "eng_Latn"]
    nllb = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
    asked = {"az": "azj_Latn", "az-Latn": "azj_Latn", "az-AZ": "azj_Latn", "az-Arab": "azb_Arab",
             "az-IR": "azb_Arab", "ku": "kmr_Latn", "ku-Arab": "ckb_Arab", "pa": "pan_Guru", "pa-IN": "pan_Guru"}  # fmt: skip
    assert {code: nllb.target_token(code) for code in asked} == asked
    assert nllb.source_token("az-IR") == "azb_Arab"
    for code in ("pa-PK", "pa-Arab"):  # Shahmukhi: refused, not the Gurmukhi pan_Guru
        with pytest.raises(
            XlingError, match=rf"Panjabi \(pan\) in pan_Guru, not in the Arab script \('{code}'"
        ):
            nllb.target_token(code)
    latin_only = Conventions("nllb", {"kmr_Latn": "kmr_Latn"}, {"kmr_Latn": "kmr_Latn"}, name="nllb")
    with pytest.raises(XlingError, match="not in the Arab script"):
        latin_only.target_token("ku-Arab")


def test_a_macrolanguage_stands_for_its_default_member_only(tmp_path):
    """M2M-100's `no` is Bokmål and its `zh` Mandarin: Nynorsk or Cantonese asked of it as a target was given
    those tokens (nb -> nn came back untranslated); the model lacks them, which is an error naming them. As a
    source they are read as the model's Norwegian or Chinese (the token only says what the model reads)."""
    from xling.translation.languages import Conventions

    _, m2m = load(build_m2m100(tmp_path / "m2m"))
    assert m2m.target_token("nb") == m2m.source_token("nob") == "__no__"
    assert m2m.target_token("cmn") == "__zh__" and m2m.target_token("ar-MA") == "__ar__"
    for code, name in [("nn", r"Norwegian Nynorsk \(nno\)"), ("yue", r"Yue Chinese \(yue\)")]:
        with pytest.raises(XlingError, match=rf"cannot translate into {name} \('{code}'\); it has 100"):
            m2m.target_token(code)
    assert (m2m.source_token("nn"), m2m.source_token("yue")) == ("__no__", "__zh__")
    codes = ["eng_Latn", "zho_Hans", "zho_Hant", "arb_Arab", "nob_Latn", "mon_Cyrl"]
    nllb = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
    for code in ("lzh", "wuu", "nn"):
        with pytest.raises(XlingError, match="nllb .* cannot translate into"):
            nllb.target_token(code)
    # a macrolanguage asked of a model with its member, and the default member of its macrolanguage, still do
    assert [nllb.target_token(code) for code in ("ar", "no", "cmn-Hant")] == [
        "arb_Arab",
        "nob_Latn",
        "zho_Hant",
    ]
    # Mongolian has no default member recorded: each member (the detector's khk) is still the model's mon
    assert nllb.source_token("khk") == "mon_Cyrl"
    # nor Fulah: M2M-100's ff is each of its members as a target too (Nigerian and Pulaar Fulfulde were refused)
    assert m2m.target_token("fuv") == m2m.target_token("fuc") == "__ff__"
    # Fulah has none either: its member is the model's Fulah both ways; Afghan Persian is Dari (CLDR fa_AF)
    codes = ["eng_Latn", "fuv_Latn", "pes_Arab", "prs_Arab"]
    nllb = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
    assert (nllb.source_token("ff"), nllb.target_token("ff")) == ("fuv_Latn", "fuv_Latn")
    assert [nllb.target_token(code) for code in ("fa", "fa-IR", "fa-AF", "prs")] == [
        "pes_Arab",
        "pes_Arab",
        "prs_Arab",
        "prs_Arab",
    ]
    # a model with Persian but no Dari (M2M-100's fa) writes Iranian Persian: fa-AF into it is refused as prs
    # is, and read from it as Persian
    m2m_codes = {"en": "__en__", "fa": "__fa__"}
    persian = Conventions("m2m100", m2m_codes, m2m_codes, name="m2m")
    for code in ("fa-AF", "prs"):
        with pytest.raises(XlingError, match=rf"cannot translate into Dari \(prs\) \('{code}'\)"):
            persian.target_token(code)
        assert persian.source_token(code) == "__fa__"
    assert persian.target_token("fa-IR") == persian.target_token("fa") == "__fa__"


def test_a_macrolanguage_is_not_another_member_a_model_has_alone(tmp_path):
    """A model with Indonesian but no Standard Malay wrote Indonesian for `ms`, Cantonese for `zh`, Nynorsk
    for `no`, South Azerbaijani (Arabic script) for `az`; a fixed-pair model into Indonesian (opus-mt-en-id)
    took `ms` too. Read as sources they still are the model's (the token only says what it reads)."""
    from xling.translation.languages import Conventions

    codes = ["eng", "ind", "yue", "nno", "azb"]
    marian = Conventions("marian", {c: c for c in codes}, {c: f">>{c}<<" for c in codes}, name="opus-mt")
    for code in ("ms", "zh", "no", "az"):
        with pytest.raises(XlingError, match=rf"cannot translate into .*\('{code}'\)"):
            marian.target_token(code)
    assert [marian.target_token(code) for code in ("id", "yue", "nn", "azb", "az-Arab")] == [
        ">>ind<<", ">>yue<<", ">>nno<<", ">>azb<<", ">>azb<<",
    ]  # fmt: skip
    # with both members, the script or region asked picks the member written in it (az-Arab took azj before)
    codes = ["eng", "azj", "azb", "kmr", "ckb"]
    both = Conventions("marian", {c: c for c in codes}, {c: f">>{c}<<" for c in codes}, name="opus-mt")
    assert [both.target_token(code) for code in ("az", "az-Arab", "az-IR", "ku", "ku-Arab", "ku-Latn")] == [
        ">>azj<<", ">>azb<<", ">>azb<<", ">>kmr<<", ">>ckb<<", ">>kmr<<",
    ]  # fmt: skip
    folder = build_marian(tmp_path / "marian", source="en", target="id")
    _, fixed = load(folder)
    with pytest.raises(XlingError, match=r"into Indonesian \(ind\) only, not into Malay"):
        fixed.target_token("ms")
    assert fixed.target_token("id") is None
    folder = build_marian(tmp_path / "marian-ms", source="ms", target="en")
    _, reads = load(folder)
    assert reads.source_token("zsm") is None  # a Malay text is what a model from `ms` reads


def test_marian_sources_joined_with_plus_are_each_a_source(tmp_path):
    """opus-mt-ROMANCE-en records its sources as `fr+fr_BE+...+ro+la`: read as any language, German was
    translated into nonsense without a word."""
    sources = "fr+fr_BE+fr_CA+es+pt+pt_BR+it+ro+la"
    folder = build_marian(tmp_path / "opus-mt-ROMANCE-en", source=sources, target="en")
    _, conventions = load(folder)
    assert conventions.sources == ("fra", "ita", "lat", "por", "ron", "spa")
    assert conventions.source_token("pt-BR") is None and conventions.source_token("ro") is None
    with pytest.raises(XlingError, match=r"translates from French \(fra\), Italian \(ita\), .*Spanish \(spa\) "
                                         r"only, not from German \(deu\) \('de'\)"):  # fmt: skip
        conventions.source_token("de")
    # a group code among them (OPUS-MT's `gem`): its languages are not known, so none is refused
    _, grouped = load(build_marian(tmp_path / "grouped", source="de+gem", target="en"))
    assert grouped.sources is None and grouped.source_token("nl") is None


def test_codes_that_differ_in_case_only_are_one_region(tmp_path):
    """opus-mt-en-ROMANCE has >>pt_br<< and >>pt_BR<<: pt-BR was 'ambiguous', with 'pt' (no region) as the
    example to give."""
    from xling.translation.languages import Conventions

    tokens = ("fr", "fr_CA", "es", "pt", "pt_br", "pt_BR", "pt_PT")
    _, conventions = load(build_marian(tmp_path / "opus-mt-en-ROMANCE", target_tokens=tokens))
    assert {conventions.target_token(code) for code in ("pt-BR", "pt-br", "pt_BR", "PT-BR")} == {">>pt_BR<<"}
    assert conventions.target_token("pt_br") == ">>pt_br<<"  # the model's own code, as given
    assert conventions.target_token("pt") == ">>pt<<" and conventions.target_token("pt-PT") == ">>pt_PT<<"
    # an example in an ambiguity error keeps the region asked for
    codes = ["tuk_Arab", "tuk_Cyrl_TM", "tuk_Latn_TM"]
    scripts = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="model")
    with pytest.raises(XlingError, match=r"'tk-TM' is ambiguous .*give the script too, e.g. 'tuk_Cyrl_TM'"):
        scripts.target_token("tk-TM")


def test_a_folder_xling_cannot_translate_with_says_what_it_lacks(tmp_path):
    """`xling export ct2 --output DIR` wrote a folder that `xling translate --model DIR` refused as "a None
    model" (or, its model being xling's, failed on a missing tokenizer)."""
    from xling.artifacts import CT2_KIND

    conversion = tmp_path / "ct2"
    conversion.mkdir()
    (conversion / "config.json").write_text(json.dumps({"bos_token": "<s>", "eos_token": "</s>"}), "utf-8")
    (conversion / "model.bin").write_bytes(b"")
    meta = {"kind": CT2_KIND, "source": "/models/m", "family": "xling"}  # as export_ct2 writes it
    (conversion / "xling.json").write_text(json.dumps(meta), "utf-8")
    with pytest.raises(XlingError, match=r"ct2: a CTranslate2 conversion \(`xling export ct2` of /models/m\), not a "
                                         r"model folder; .*ctranslate2/ .*give --model /models/m$"):  # fmt: skip
        detect_family(conversion)
    (conversion / "xling.json").unlink()  # a conversion by CTranslate2's own converter
    with pytest.raises(XlingError, match=r"config.json has no model_type.*model.bin is a CTranslate2 model: give "
                                         r"the folder it was converted from.*M2M-100 and NLLB-200"):  # fmt: skip
        detect_family(conversion)
    (conversion / "config.json").write_text(json.dumps({"model_type": "t5"}), "utf-8")
    with pytest.raises(XlingError, match=r"a 't5' model \(config.json's model_type\), which xling does not "
                                         r"translate with; xling translates with Hugging Face folders"):  # fmt: skip
        detect_family(conversion)


def test_a_target_script_is_one_the_model_writes(tmp_path):
    """A code that names no script (M2M-100's, xling's, OPUS-MT's) writes the script xling records for its
    language: that one, or a part of it, is accepted; another is an error naming both; one xling records
    nothing for is taken as the language (45 of M2M-100's targets; refusing them refused bs-Latn-BA). A
    source's script is not checked, nor a fixed pair's target (its own `sr_Latn` was refused as Cyrillic)."""
    from xling.errors import ConfigError

    _, m2m = load(build_m2m100(tmp_path / "m2m"))
    accepted = {"zh-Hans": "__zh__", "zh-CN": "__zh__", "zh-Hani": "__zh__", "cmn-Hans": "__zh__",
                "sr-Cyrl": "__sr__", "de-Latn": "__de__", "ko-Hang": "__ko__", "ko-Kore": "__ko__",
                "nb-Latn": "__no__", "pt-BR": "__pt__", "ar-Arab": "__ar__"}  # fmt: skip
    assert {code: m2m.target_token(code) for code in accepted} == accepted
    assert (m2m.source_token("zh-Hant"), m2m.source_token("sr-Latn")) == ("__zh__", "__sr__")
    with pytest.raises(ConfigError, match=r"m2m \(m2m100\) writes Chinese \(zho\) in the Hans script \(its code "
                                          r"'zh' names none.*not in the Hant script \('zh-Hant'\); give 'zh'"):  # fmt: skip
        m2m.target_token("zh-Hant")
    with pytest.raises(ConfigError, match=r"not in the Arab script \('az-IR', the script of IR\)"):
        m2m.target_token("az-IR")
    assert m2m.target_token("hi-Deva") == "__hi__" and m2m.target_token("bs-Latn-BA") == "__bs__"
    _, marian = load(build_marian(tmp_path / "marian", source="en", target="de"))
    assert marian.target_token("de-Latn") is None and marian.target_token("de-AT") is None
    _, serbian = load(build_marian(tmp_path / "sr-latn", source="en", target="sr_Latn"))
    assert serbian.target_token("sr-Latn") is None
    _, multi = load(build_marian(tmp_path / "multi", target_tokens=("fr", "fr_CA", "de")))
    assert multi.target_token("fr-CA") == ">>fr_CA<<" and multi.target_token("fr-Latn") == ">>fr<<"
    with pytest.raises(ConfigError, match=r"in the Latn script \(its code 'fr' names none.*not in the Cyrl"):
        multi.target_token("fr-Cyrl")


def test_a_source_the_detector_may_name_within_a_macrolanguage_is_read_as_the_models(tmp_path):
    """The detector restricted to M2M-100's `ms` may answer Minangkabau (`min`, ISO 639-3's member of msa):
    read as the model's `ms`, as `nn` is read as its `no` (it was "cannot translate from Minangkabau")."""
    _, m2m = load(build_m2m100(tmp_path / "m2m"))
    assert m2m.source_token("min") == "__ms__" and m2m.source_token("fuc") == "__ff__"


def test_codes_a_review_found_mapped_to_another_language_or_script(tmp_path):
    """Found by resolving every ISO code against NLLB-200's 202 codes and M2M-100's 100: zh-CHT gave
    Simplified Chinese; NLLB's ms-Arab gave Banjar (bjn_Arab: in SIL's Malay macrolanguage, not Malay); a
    region's script outside xling's short table was ignored (sr-ME gave Cyrillic Serbian); ko-Kore was
    refused on NLLB's kor_Hang; hi-Latn on M2M-100 gave Devanagari Hindi without a word."""
    from xling.errors import ConfigError

    codes = ["eng_Latn", "zho_Hans", "zho_Hant", "srp_Cyrl", "bjn_Arab", "bjn_Latn", "zsm_Latn", "kor_Hang",
             "azj_Latn", "azb_Arab", "khk_Cyrl", "uzn_Latn"]  # fmt: skip
    _, nllb = load(build_nllb(tmp_path / "nllb", languages=codes))
    assert nllb.target_token("zh-CHT") == "zho_Hant" and nllb.source_token("zh-CHS") == "zho_Hans"
    assert nllb.target_token("ko-Kore") == "kor_Hang" and nllb.target_token("az-Arab") == "azb_Arab"
    for code in ("ms-Arab", "sr-ME", "mn-CN", "uz-AF"):
        with pytest.raises(XlingError, match=rf"not in the \w+ script \('{code}'"):
            nllb.target_token(code)
    assert nllb.target_token("ms") == "zsm_Latn" and nllb.target_token("sr-RS") == "srp_Cyrl"
    # a source's script is checked where the model's codes name scripts: NLLB-200 has no Latin Serbian
    with pytest.raises(
        XlingError, match=r"Serbian \(srp\) in srp_Cyrl, not in the Latn script \('sr-Latn'\)"
    ):
        nllb.source_token("sr-Latn")
    # CLDR's regional guesses beyond xling's table are not taken (they made zh-US Traditional)
    assert nllb.target_token("zh-US") == "zho_Hans" and nllb.source_token("zh-US") == "zho_Hans"
    # a region that names a member picks it where the model also has the macrolanguage's code (it got >>fas<<)
    _, opus = load(build_marian(tmp_path / "opus", target_tokens=("fas", "prs", "deu")))
    assert opus.target_token("fa-AF") == ">>prs<<" and opus.target_token("fa") == ">>fas<<"
    _, m2m = load(build_m2m100(tmp_path / "m2m"))
    for code, script in (("zh-CHT", "Hant"), ("hi-Latn", "Latn"), ("sr-ME", "Latn")):
        with pytest.raises(ConfigError, match=rf"not in the {script} script \('{code}'"):
            m2m.target_token(code)
    assert m2m.target_token("hi-Deva") == "__hi__" and m2m.target_token("bs-Latn-BA") == "__bs__"
    assert m2m.target_token("de-AT") == "__de__" and m2m.target_token("pt-BR") == "__pt__"


def test_han_of_either_kind_is_the_languages_usual_han():
    from xling.translation.languages import Conventions

    codes = ["eng_Latn", "zho_Hans", "zho_Hant"]
    nllb = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
    # zh-Hani was "ambiguous" (Hani covers both); M2M-100's one `zh` took it already
    assert [nllb.target_token(code) for code in ("zh-Hani", "cmn-Hani", "zh-Hant", "zh-TW")] == [
        "zho_Hans", "zho_Hans", "zho_Hant", "zho_Hant",
    ]  # fmt: skip


def test_a_code_iso_retired_that_the_model_still_uses_is_found():
    from xling.errors import LanguageCodeError
    from xling.translation.languages import Conventions

    codes = ["eng_Latn", "ajp_Arab", "apc_Arab"]
    nllb = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="nllb")
    # ISO 639-3 merged ajp (South Levantine Arabic) into apc in 2023; NLLB-200 still has ajp_Arab
    assert [nllb.target_token(code) for code in ("ajp", "AJP", "ajp-Arab")] == ["ajp_Arab"] * 3
    assert nllb.source_token("ajp") == "ajp_Arab" and nllb.target_token("apc") == "apc_Arab"
    with pytest.raises(LanguageCodeError, match="unknown language code 'xqz'"):
        nllb.target_token("xqz")


def test_sindhi_of_india_is_written_in_devanagari():
    from xling.translation.languages import Conventions

    codes = ["eng_Latn", "snd_Arab", "snd_Deva"]
    model = Conventions("nllb", {c: c for c in codes}, {c: c for c in codes}, name="model")
    assert [model.target_token(code) for code in ("sd", "sd-PK", "sd-IN")] == [
        "snd_Arab",
        "snd_Arab",
        "snd_Deva",
    ]


def test_a_script_the_languages_own_code_lacks_is_found_in_a_members_code(tmp_path):
    """Tatoeba-MT's Chinese targets (>>zho<< beside >>cmn_Hant<<): zh-TW found only the Simplified zho and was
    refused, though the model writes Traditional Mandarin; az-IR beside >>aze_Latn<< missed >>azb<<; and yue
    with both of its scripts was ambiguous."""
    tokens = ("cmn", "cmn_Hans", "cmn_Hant", "nan", "yue_Hans", "yue_Hant", "zho", "aze_Latn", "azb")
    _, conventions = load(build_marian(tmp_path / "opus-mt-en-zho", target_tokens=tokens))
    for code in ("zh-TW", "zh-Hant", "zho_Hant", "cmn-Hant"):
        assert conventions.target_token(code) == ">>cmn_Hant<<", code
    assert conventions.target_token("zh") == ">>zho<<" and conventions.target_token("zh-Hans") == ">>zho<<"
    assert (
        conventions.target_token("yue") == ">>yue_Hant<<"
        and conventions.target_token("yue-CN") == ">>yue_Hans<<"
    )
    assert conventions.target_token("az-IR") == ">>azb<<" and conventions.target_token("az-Arab") == ">>azb<<"
    assert conventions.target_token("az") == ">>aze_Latn<<"
