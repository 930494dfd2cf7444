"""`Translator` on tiny random models: per-example languages, long documents, odd inputs, output length, files."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
import torch

from xling.errors import ConfigError, DataError, LanguageCodeError, XlingError
from xling.translation.decoding import DecodeOptions
from xling.translation.segmentation import segment
from xling.translation.translator import Translator

from .tiny_models import PARALLEL, build_m2m100, build_marian, build_nllb, build_xling

GREEDY = DecodeOptions(beam_size=1, max_length_cap=8)


@pytest.fixture(scope="module")
def detector(tiny_detector_folder):
    return tiny_detector_folder


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Return the folders of a tiny model of each family (built once for this module)."""
    root = tmp_path_factory.mktemp("models")
    return {
        "xling": build_xling(root / "xling"),
        "nllb": build_nllb(root / "nllb"),
        "m2m100": build_m2m100(root / "m2m100"),
        "marian": build_marian(root / "marian", target_tokens=("fra", "deu")),
    }


@pytest.fixture
def xling_model(models):
    return Translator.from_pretrained(models["xling"], backend="torch")


class EchoBackend:
    """A backend that 'translates' a source into its own pieces (language tokens and </s> left out).

    With it the Translator's output must give back its input exactly, so segmentation, batching by length
    and rejoining can be checked to the character.
    """

    def __init__(self, conventions, fail_after: int | None = None):
        self.marks = conventions.language_tokens | {"</s>"}
        self.calls: list[list[list[str]]] = []
        self.fail_after = fail_after

    def generate(self, sources, target_prefixes, options):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise RuntimeError("the device fell over")
        self.calls.append(sources)
        return [[t for t in source if t not in self.marks] for source in sources]

    def generate_hypotheses(self, sources, target_prefixes, options):
        return [[row] * options.num_hypotheses for row in self.generate(sources, target_prefixes, options)]


def echo(translator: Translator, **kwargs) -> EchoBackend:
    translator.backend = EchoBackend(translator.conventions, **kwargs)
    return translator.backend


@pytest.mark.parametrize("family", ["xling", "nllb", "m2m100", "marian"])
def test_each_example_gets_its_own_target_language_in_one_batch(models, family):
    translator = Translator.from_pretrained(models[family], backend="torch")
    texts = PARALLEL["eng"][:4]
    targets = ["de", "fr", "fr", "de"]
    one_call = translator.translate(texts, "en", targets, GREEDY)  # one batch of 4 (batch_size 16)
    separate = [
        translator.translate([text], "en", tgt, GREEDY)[0] for text, tgt in zip(texts, targets, strict=True)
    ]
    assert one_call == separate
    # and the target token does change what the tiny model writes (else the check above proves nothing)
    assert translator.translate(texts, "en", "de", GREEDY) != translator.translate(texts, "en", "fr", GREEDY)


def test_per_example_source_languages(xling_model):
    texts = [PARALLEL["eng"][1], PARALLEL["deu"][1]]
    together = xling_model.translate(texts, ["en", "de"], "fr", GREEDY)
    assert together == [xling_model.translate([texts[0]], "en", "fr", GREEDY)[0],
                        xling_model.translate([texts[1]], "de", "fr", GREEDY)[0]]  # fmt: skip
    with pytest.raises(XlingError, match="1 language codes for 2 texts"):
        xling_model.translate(texts, ["en"], "fr")


@pytest.mark.parametrize("beam", [1, 3])
def test_greedy_and_beam_search_decode_as_transformers_generate(xling_model, beam):
    import torch

    texts = PARALLEL["eng"][:3]
    options = DecodeOptions(beam_size=beam, max_length_cap=8, max_length_a=0.0, max_length_b=8)
    ours = xling_model.translate(texts, "en", "de", options)
    # the same sequences through transformers' generate, one at a time (no padding), forced target token
    tokenizer, model = xling_model.tokenizer, xling_model.backend.model
    target = tokenizer.convert_tokens_to_ids(xling_model.conventions.target_token("de"))
    theirs = []
    for text in texts:
        pieces = tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])
        source = xling_model.conventions.source_sequence(pieces, xling_model.conventions.source_token("en"),
                                                          xling_model.conventions.target_token("de"))  # fmt: skip
        ids = torch.tensor([tokenizer.convert_tokens_to_ids(source)])
        with torch.no_grad():
            out = model.generate(ids, num_beams=beam, do_sample=False, max_new_tokens=8 + 1,
                                 forced_bos_token_id=target, length_penalty=1.0,
                                 **({"early_stopping": True} if beam > 1 else {}))  # fmt: skip
        theirs.append(tokenizer.decode(out[0], skip_special_tokens=True).strip())
    assert all(ours) and ours == theirs


def test_marian_with_separate_vocabularies_gets_its_source_ids_and_decodes_as_generate(tmp_path):
    # the target vocabulary lists the pieces in another order: a source id names another piece there
    import torch

    folder = build_marian(tmp_path / "marian", separate_vocabs=True)
    translator = Translator.from_pretrained(folder, backend="torch")
    tokenizer, model = translator.tokenizer, translator.backend.model
    assert tokenizer.separate_vocabs and tokenizer.encoder != tokenizer.target_encoder
    texts = PARALLEL["eng"][:3]
    seen = []
    generate = model.generate

    def recording(*args, **kwargs):
        seen.extend(row[mask.bool()].tolist() for row, mask in zip(kwargs["input_ids"], kwargs["attention_mask"],
                                                                    strict=True))  # fmt: skip
        return generate(*args, **kwargs)

    model.generate = recording
    options = DecodeOptions(beam_size=1, max_length_cap=8, max_length_a=0.0, max_length_b=8)
    ours = [translator.translate([text], "en", "de", options)[0] for text in texts]
    assert seen == [tokenizer(text).input_ids for text in texts]
    theirs = []
    for text in texts:
        with torch.no_grad():
            out = generate(torch.tensor([tokenizer(text).input_ids]), num_beams=1, do_sample=False,
                           max_new_tokens=8)  # fmt: skip
        theirs.append(tokenizer.decode(out[0], skip_special_tokens=True).strip())
    assert all(theirs) and ours == theirs


@pytest.mark.parametrize(
    ("family", "piece_model"), [("marian", "source.spm"), ("m2m100", "sentencepiece.bpe.model")]
)
def test_a_folder_missing_its_sentencepiece_model_is_a_data_error_naming_it(
    models, tmp_path, family, piece_model
):
    # as a partial download leaves it: transformers raises TypeError / sentencepiece's RuntimeError here
    import shutil

    folder = shutil.copytree(models[family], tmp_path / family)
    (folder / piece_model).unlink()
    with pytest.raises(DataError, match="cannot load the tokenizer") as caught:
        Translator.from_pretrained(folder, backend="torch")
    assert str(folder) in str(caught.value)


def test_a_half_precision_checkpoint_decodes_in_float32_on_cpu(models, tmp_path):
    import shutil

    from transformers import AutoModelForSeq2SeqLM

    folder = shutil.copytree(models["marian"], tmp_path / "half")
    AutoModelForSeq2SeqLM.from_pretrained(folder).half().save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text("utf-8"))["dtype"] == "float16"
    half = Translator.from_pretrained(folder, backend="torch")
    # transformers 5 would load the checkpoint's float16 (slow on CPU, and unlike what export checks)
    assert {p.dtype for p in half.backend.model.parameters()} == {torch.float32}
    assert all(half.translate(PARALLEL["eng"][:2], src="eng", tgt="fra", options=GREEDY))


def test_long_input_is_split_and_rejoined_in_order_with_its_layout(xling_model):
    english = PARALLEL["eng"]
    paragraphs = [" ".join(english[k : k + 4]) for k in range(0, 12, 4)]
    text = "  " + paragraphs[0] + "\n\n" + paragraphs[1] + "\n" + paragraphs[2] + " ...\n"
    backend = echo(xling_model)
    options = DecodeOptions(batch_size=5)
    assert xling_model.translate([text, "Where is the train station?"], "en", "de", options) == [
        text,
        "Where is the train station?",
    ]
    assert len(backend.calls) == 3  # 13 sentences in batches of 5
    lengths = [len(source) for batch in backend.calls for source in batch]
    assert lengths == sorted(lengths, reverse=True)  # batched by length, output still in order


class RankedEchoBackend(EchoBackend):
    """EchoBackend whose second-best hypothesis of a sentence leaves out its last piece."""

    def generate_hypotheses(self, sources, target_prefixes, options):
        return [
            [row, row[:-1]][: options.num_hypotheses]
            for row in self.generate(sources, target_prefixes, options)
        ]


def test_the_n_best_translations_of_a_text_join_its_sentences_kth_best(xling_model):
    xling_model.backend = RankedEchoBackend(xling_model.conventions)
    text = "The dog runs fast.\n\nMy cat sleeps."
    options = DecodeOptions(beam_size=2, num_hypotheses=2)
    assert xling_model.translate_hypotheses([text, "", "123"], "en", "de", options) == [
        [text, "The dog runs fast\n\nMy cat sleeps"],  # layout kept in each
        [""],  # kept as they are: one translation each
        ["123"],
    ]
    assert xling_model.translate([text], "en", "de", options) == [text]


def test_the_n_best_translations_come_from_the_beam_best_first(tmp_path):
    pytest.importorskip("ctranslate2")
    from xling.export.ct2 import export_ct2

    folder = build_xling(tmp_path / "xling")
    export_ct2(folder, quantization="float32")
    texts = PARALLEL["eng"][:4]
    lists = {}
    for backend in ("torch", "ct2"):
        translator = Translator.from_pretrained(folder, backend=backend)
        ranked = translator.translate_hypotheses(
            texts, "en", "de", DecodeOptions(beam_size=4, num_hypotheses=3)
        )
        assert [r[0] for r in ranked] == translator.translate(texts, "en", "de", DecodeOptions(beam_size=4))
        assert all(1 <= len(r) <= 3 for r in ranked)
        assert sum(len(r) for r in ranked) > len(texts)  # a random model's beam holds other outputs
        lists[backend] = ranked
    # two searches written apart rank the beam's outputs alike: the order is the beam's, not an accident
    assert lists["torch"] == lists["ct2"]
    with pytest.raises(ConfigError, match="num_hypotheses"):
        translator.translate(texts, "en", "de", DecodeOptions(beam_size=2, num_hypotheses=3))


def test_a_sentence_longer_than_the_input_limit_is_translated_in_parts(xling_model, caplog, tmp_path):
    words = " ".join(PARALLEL["eng"][:8]).replace(".", "").replace("?", "")  # ~40 words, no sentence end
    backend = echo(xling_model)
    with caplog.at_level(logging.WARNING, logger="xling"):
        out = xling_model.translate([words], "en", "de", DecodeOptions(max_input_length=24))
    assert out == [words]  # every word back, in order: nothing cut
    assert all(len(source) <= 24 for batch in backend.calls for source in batch)
    assert "translated in" in caplog.text and "parts" in caplog.text
    caplog.clear()
    document = tmp_path / "doc.txt"
    document.write_text(f"Hello.\n{words}\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="xling"):
        xling_model.translate_file(
            document, tmp_path / "out.txt", "en", "de", DecodeOptions(max_input_length=24)
        )
    assert f"{document}:2: a sentence of" in caplog.text  # the file's line, not the list's index (text 1)


def test_a_sentence_longer_than_the_model_was_trained_on_is_translated_in_parts(models, tmp_path, caplog):
    """The shipped xling-mt-bible, trained on pairs of up to 128 tokens, was given a 335-token sentence whole
    (the input limit was its position table's, 1,024) and dropped more than half of it."""
    import shutil

    from xling.artifacts import update_metadata

    folder = tmp_path / "mt"
    shutil.copytree(models["xling"], folder)
    update_metadata(folder, config={"max_length": 24})
    translator = Translator.from_pretrained(folder, backend="torch")
    assert translator.trained_length == 24
    words = " ".join(PARALLEL["eng"][:8]).replace(".", "").replace("?", "")  # ~40 words, no sentence end
    backend = echo(translator)
    with caplog.at_level(logging.WARNING, logger="xling"):
        assert translator.translate([words], "en", "de") == [words]  # default options: every word back
    assert all(len(source) <= 24 for batch in backend.calls for source in batch)
    assert "input limit 24" in caplog.text


def test_a_50k_character_document(xling_model):
    sentences = PARALLEL["eng"] + PARALLEL["deu"]
    paragraph = " ".join(sentences)
    document = "\n\n".join([paragraph] * (50_000 // len(paragraph) + 1))
    assert len(document) > 50_000
    backend = echo(xling_model)
    assert xling_model.translate([document], "en", "de", DecodeOptions(batch_size=64)) == [document]
    assert sum(len(batch) for batch in backend.calls) == len(segment(document, "eng").sentences)
    assert len(segment(document, "eng").sentences) == document.count(".") + document.count("?")


def test_the_50k_document_through_the_model(models):
    translator = Translator.from_pretrained(models["xling"], backend="torch")
    paragraph = " ".join(PARALLEL["eng"])
    copies = 50_000 // len(paragraph) + 1
    document = "\n\n".join([paragraph] * copies)
    options = DecodeOptions(beam_size=1, batch_size=256, max_length_cap=2)
    out = translator.translate([document], "en", "de", options)[0]
    assert out.count("\n\n") == copies - 1 and len(out) > copies


def test_empty_whitespace_and_punctuation_only_texts_need_no_model_call(xling_model):
    backend = echo(xling_model)
    texts = ["", "   ", "\n", "...", " !? — ***", "\n\n"]
    assert xling_model.translate(texts, "en", "de") == texts
    assert backend.calls == []
    mixed = xling_model.translate(["...", "The dog runs in the garden.", ""], "en", "de")
    assert mixed == ["...", "The dog runs in the garden.", ""] and len(backend.calls) == 1


def test_bad_language_codes_and_missing_languages_are_clear_errors(xling_model):
    with pytest.raises(LanguageCodeError, match="'xx-nope'"):
        xling_model.translate(["Hello."], "xx-nope", "de")
    with pytest.raises(XlingError, match=r"cannot translate into Japanese \(jpn\).*deu, eng, fra"):
        xling_model.translate(["Hello."], "en", "ja")
    with pytest.raises(DataError, match="not one string"):
        xling_model.translate("Hello.", "en", "de")


def test_output_length_follows_the_input_not_a_20_token_default(xling_model):
    backend = xling_model.backend
    eos = backend.eos_id
    backend.model.generation_config.suppress_tokens = [eos]  # never stop early: the limit is what stops it
    options = DecodeOptions(beam_size=1, max_length_a=1.0, max_length_b=5)
    pieces = xling_model.tokenizer.tokenize(" ".join(PARALLEL["eng"][:4]))
    long_source = ["__eng__", *pieces, "</s>"]
    short_source = ["__eng__", *pieces[:3], "</s>"]
    outputs = backend.generate([long_source, short_source], [["__deu__"], ["__deu__"]], options)
    assert len(long_source) > 20
    # each output decodes up to its own source's limit
    assert len(outputs[0]) == options.max_new_tokens(len(long_source)) > 20
    alone = backend.generate([short_source], [["__deu__"]], options)[0]
    assert len(alone) == options.max_new_tokens(len(short_source)) < 20


def test_no_repeat_ngram_size_is_applied(xling_model):
    backend = xling_model.backend
    backend.model.generation_config.suppress_tokens = [backend.eos_id]
    source = ["__eng__", *xling_model.tokenizer.tokenize(PARALLEL["eng"][0]), "</s>"]
    free = backend.generate([source], [["__deu__"]], DecodeOptions(beam_size=1, max_length_cap=30))[0]
    blocked = backend.generate([source], [["__deu__"]], DecodeOptions(beam_size=1, max_length_cap=30,
                                                                       no_repeat_ngram_size=1))[0]  # fmt: skip
    assert len(set(free)) < len(free)  # the tiny model repeats itself...
    assert len(set(blocked)) == len(blocked) == 30  # ...unless told not to


def test_translate_file_keeps_lines_and_writes_atomically(xling_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("The cat sleeps on the bed. The dog runs.\n\n...\nThank you for your help.\n", "utf-8")
    output = tmp_path / "out.txt"
    echo(xling_model)
    report = xling_model.translate_file(source, output, "en", "de", DecodeOptions())
    assert output.read_text("utf-8") == source.read_text("utf-8")
    assert (report.lines, report.sentences) == (4, 3)
    output.write_text("an earlier translation\n", "utf-8")
    echo(xling_model, fail_after=0)
    with pytest.raises(RuntimeError):
        xling_model.translate_file(source, output, "en", "de")
    assert output.read_text("utf-8") == "an earlier translation\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt", "out.txt"]  # no temporary left behind
    with pytest.raises(ConfigError, match=r"output: .*in\.txt is also an input file"):
        xling_model.translate_file(source, tmp_path / "." / "in.txt", "en", "de")
    assert source.read_text("utf-8").startswith("The cat sleeps")


def test_translate_file_through_the_model_with_a_progress_bar(models, tmp_path):
    translator = Translator.from_pretrained(models["nllb"], backend="torch")
    source = tmp_path / "in.txt"
    source.write_text("\n".join(PARALLEL["eng"][:5]) + "\n", "utf-8")
    translator.translate_file(source, tmp_path / "out.txt", "en", "fr", GREEDY, progress=True)
    lines = (tmp_path / "out.txt").read_text("utf-8").split("\n")
    assert len(lines) == 6 and lines[-1] == ""
    assert lines[:5] == translator.translate(PARALLEL["eng"][:5], "en", "fr", GREEDY)


def test_from_pretrained_finds_names_and_says_what_is_missing(models, tmp_path, monkeypatch):
    monkeypatch.setenv("XLING_MODELS", str(tmp_path))
    monkeypatch.delenv("XLING_HOME", raising=False)
    monkeypatch.setattr("xling.embeddings.encoder.SHIPPED_MODELS", tmp_path / "shipped")  # once it ships
    with pytest.raises(XlingError, match="xling-mt-bible: no such translation model"):
        Translator.from_pretrained()
    build_xling(tmp_path / "xling-mt-bible")
    translator = Translator.from_pretrained()
    assert translator.backend_name == "torch"  # no ctranslate2/ conversion in the folder
    assert translator.languages.targets == ("deu", "eng", "fra")
    with pytest.raises(XlingError, match="model.bin"):
        Translator.from_pretrained(models["xling"], backend="ct2")
    with pytest.raises(XlingError, match="backend"):
        Translator.from_pretrained(models["xling"], backend="onnx")
    with pytest.raises(DataError, match="not a translation model folder"):
        Translator.from_pretrained(tmp_path)


@pytest.mark.parametrize(
    ("family", "build"),
    [("xling", build_xling), ("nllb", build_nllb), ("m2m100", build_m2m100), ("marian", build_marian)],
)
def test_auto_uses_a_ctranslate2_conversion_and_decodes_as_pytorch_does(tmp_path, family, build):
    pytest.importorskip("ctranslate2")
    from xling.export.ct2 import export_ct2

    folder = build(tmp_path / family, **({"target_tokens": ("fra", "deu")} if family == "marian" else {}))
    export_ct2(folder, quantization="float32")
    fast, plain = Translator.from_pretrained(folder), Translator.from_pretrained(folder, backend="torch")
    assert (fast.backend_name, plain.backend_name) == ("ct2", "torch")
    texts, targets = PARALLEL["eng"][:6], ["de", "fr"] * 3
    for beam in (1, 3):
        options = DecodeOptions(beam_size=beam, max_length_cap=10)
        assert fast.translate(texts, "en", targets, options) == plain.translate(texts, "en", targets, options)


def test_a_conversion_older_than_the_weights_is_not_used(tmp_path, caplog):
    pytest.importorskip("ctranslate2")
    import torch
    from transformers import AutoModelForSeq2SeqLM

    from xling.export.ct2 import export_ct2

    folder = build_xling(tmp_path / "model")
    export_ct2(folder, quantization="float32")
    assert Translator.from_pretrained(folder).backend_name == "ct2"
    # training again into the folder: new weights, the old ctranslate2/ left beside them
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(-1.0)
    model.save_pretrained(folder)
    with caplog.at_level(logging.WARNING, logger="xling.translation.translator"):
        translator = Translator.from_pretrained(folder)
    assert translator.backend_name == "torch"
    assert str(folder / "ctranslate2") in caplog.text and "model.safetensors has changed" in caplog.text
    with pytest.raises(XlingError, match=r"does not match the model's weights.*xling export ct2"):
        Translator.from_pretrained(folder, backend="ct2")
    export_ct2(folder, quantization="float32")  # exported again: used again, and decodes as the weights do
    fast = Translator.from_pretrained(folder)
    assert fast.backend_name == "ct2"
    texts = PARALLEL["eng"][:3]
    assert fast.translate(texts, "en", "de", GREEDY) == translator.translate(texts, "en", "de", GREEDY)


def test_a_conversion_without_pytorch_weights_beside_it_is_used(tmp_path):
    # a model shipped as its conversion only (xling-mt-bible): nothing to compare, the conversion is the model
    pytest.importorskip("ctranslate2")
    from xling.export.ct2 import export_ct2

    folder = build_xling(tmp_path / "model")
    export_ct2(folder)
    (folder / "model.safetensors").unlink()
    assert Translator.from_pretrained(folder).backend_name == "ct2"
    assert Translator.from_pretrained(folder, backend="ct2").backend_name == "ct2"


def test_layout_join_uses_the_target_languages_separator():
    layout = segment("Hello there. How are you?\nFine.", "eng")
    assert layout.sentences == ["Hello there.", "How are you?", "Fine."]
    assert layout.join(["A.", "B?", "C."], "deu") == "A. B?\nC."
    assert layout.join(["甲。", "乙？", "丙。"], "zho") == "甲。乙？\n丙。"
    assert layout.join(["", "B?", "C."], "deu") == "B?\nC."  # an empty output leaves no stray space
    # Thai leaves words unspaced but ends a sentence with a space
    assert layout.join(["สวัสดีครับ", "คุณสบายดีไหม", "ดี"], "tha") == "สวัสดีครับ คุณสบายดีไหม\nดี"
    assert segment("Das ist z.B. ein Test. Und noch einer.", "deu").sentences == [
        "Das ist z.B. ein Test.",
        "Und noch einer.",
    ]  # pysbd's German rules: the abbreviation does not end a sentence


@pytest.mark.parametrize("brk", ["\r", "\r\n", "\u2028", "\u2029", "\x85", "\v", "\f"])
def test_a_line_break_other_than_newline_comes_back_as_a_break(brk):
    """pysbd ends a sentence at a carriage return or a Unicode paragraph separator: the gap there was
    rejoined as a space ("Para one.\u2029Para two." came back as one line)."""
    layout = segment(f"Para one.{brk}Para two. And three.", "eng")
    assert layout.sentences == ["Para one.", "Para two.", "And three."]
    assert layout.join(["A.", "B.", "C."], "deu") == f"A.{brk}B. C."


@pytest.mark.parametrize(
    ("text", "items"),
    [("- First item.\n- Second item. It is long.", ["First item.", "Second item.", "It is long."]),
     ("I. Overview\nII. Methods", ["Overview", "Methods"]), ("a) one\n  b) two", ["one", "two"]),
     ("1) Einkaufen\n2) Kochen", ["Einkaufen", "Kochen"]), ("• point", ["point"]),
     ("## Getting started\n\n> Install it first.", ["Getting started", "Install it first."])],
)  # fmt: skip
def test_list_markers_are_kept_and_their_items_translated(text, items):
    """A bullet went to the model with its item (`- First item.` came back as `Folgen hat es. –`), and pysbd
    made `II.` a sentence of its own (`Ich. Methioth`)."""
    layout = segment(text, "eng")
    assert layout.sentences == items
    rebuilt = layout.join([f"<{item}>" for item in items], "deu")
    for item in items:
        text = text.replace(item, f"<{item}>", 1)
    assert rebuilt == text
    # not a marker: a number before a full stop (a German date), a minus sign, a word, an initial
    for kept in (
        "3. Oktober ist ein Feiertag.",
        "-5 Grad heute.",
        "Hallo Welt.",
        "J. K. Rowling schrieb es.",
        "#Hashtag heute.",
    ):
        assert segment(kept, "deu").sentences == [kept]


def test_a_long_hindi_line_is_cut_at_sentence_ends():
    """Blocks of a long line ended only at `.!?…` and the full-width ends: a Hindi line was cut at a space
    inside a sentence (14 of 300 sentences), as Urdu, Amharic and Burmese ones."""
    for sentence, language in (("वह बाज़ार गया और उसने बहुत सारे सेब खरीदे।", "hin"), ("ምግብ በጣም ጥሩ ነበር።", "amh")):
        text = " ".join([sentence] * 300)
        layout = segment(text, language)
        assert set(layout.sentences) == {sentence}
        assert layout.join(layout.sentences, language) == text


def test_a_long_chinese_line_is_cut_at_sentence_ends():
    """Blocks of a long line end at a full stop, which Chinese writes without a space after it: no sentence
    is cut in two (was: cut at exactly BLOCK_CHARS characters)."""
    from xling.translation.segmentation import BLOCK_CHARS

    sentence = "今天天气很好，我们去公园散步吧好。"  # 17 characters: BLOCK_CHARS falls inside a sentence
    assert BLOCK_CHARS % len(sentence)
    text = sentence * (2 * BLOCK_CHARS // len(sentence) + 3)
    layout = segment(text, "zho")
    assert set(layout.sentences) == {sentence}
    assert layout.join(layout.sentences, "zho") == text
    quoted = "「今日はいい天気ですね。」と彼は言った。"  # a closing bracket stays with its sentence
    for shift in range(len(quoted)):  # wherever the block limit falls
        blocks_text = "あ" * shift + quoted * (2 * BLOCK_CHARS // len(quoted) + 3)
        assert not any(part.startswith("」") for part in segment(blocks_text, "jpn").sentences), shift


# --- source language detection (src auto) ---------------------------------------------------------------


class RecordingBackend(EchoBackend):
    """EchoBackend that also keeps each source sequence whole, language token included."""

    def __init__(self, conventions):
        super().__init__(conventions)
        self.sources: list[list[str]] = []

    def generate(self, sources, target_prefixes, options):
        self.sources += sources
        return super().generate(sources, target_prefixes, options)


@pytest.mark.parametrize(
    ("family", "texts", "src", "tgt"),
    [("xling", PARALLEL["deu"][:4], "de", "fr"), ("nllb", PARALLEL["fra"][:4], "fr", "de"),
     ("m2m100", PARALLEL["deu"][:4], "de", "en"), ("marian", PARALLEL["eng"][:4], "en", "de")],
)  # fmt: skip
def test_a_detected_source_translates_as_the_given_one(models, detector, family, texts, src, tgt):
    translator = Translator.from_pretrained(models[family], backend="torch", detector=detector)
    given = translator.translate(texts, src, tgt, GREEDY)
    assert translator.translate(texts, "auto", tgt, GREEDY) == given
    assert translator.translate(texts, None, tgt, GREEDY) == given
    assert translator.translate(texts, ["auto", src, None, "AUTO"], tgt, GREEDY) == given

    def sequences(source):
        backend = translator.backend = RecordingBackend(translator.conventions)
        translator.translate(texts, source, tgt)
        return backend.sources

    # the model gets the very same tokens, its source language token included (Marian's source has none)
    assert sequences("auto") == sequences(src)
    if family != "marian":
        assert sequences("auto") != sequences({"de": "en", "fr": "en"}[src])


def test_marian_sources_are_moses_normalised_when_translating_and_training(models):
    # transformers' MarianTokenizer never calls its own `normalize` (sacremoses): xling must, source side
    from xling.translation.data import SequenceFormat

    translator = Translator.from_pretrained(models["marian"], backend="torch")
    curly, straight = "The cat\u2019s «bed» ( now )", 'The cat\'s "bed" (now)'
    assert translator.tokenizer(curly)["input_ids"] != translator.tokenizer(straight)["input_ids"]

    def sequences(text):
        backend = translator.backend = RecordingBackend(translator.conventions)
        translator.translate([text], "en", "de", GREEDY)
        return backend.sources

    assert sequences(curly) == sequences(straight)
    sequence = SequenceFormat(translator.tokenizer, translator.conventions, translator.tokenizer.pad_token_id)
    assert sequence.encode([curly]) == sequence.encode([straight])


def test_mixed_languages_in_one_batch_each_get_their_own_source(models, detector):
    translator = Translator.from_pretrained(models["xling"], backend="torch", detector=detector)
    texts = [PARALLEL["eng"][0], PARALLEL["deu"][1], PARALLEL["fra"][2], PARALLEL["deu"][3]]
    assert translator.detect_sources(texts) == ["eng", "deu", "fra", "deu"]
    targets = ["de", "fr", "de", "en"]
    expected = translator.translate(texts, ["en", "de", "fr", "de"], targets, GREEDY)
    assert translator.translate(texts, "auto", targets, GREEDY) == expected
    backend = translator.backend = RecordingBackend(translator.conventions)
    translator.translate(texts, "auto", targets, GREEDY)
    assert len(backend.calls) == 1  # one batch, four source languages
    assert sorted(source[0] for source in backend.sources) == ["__deu__", "__deu__", "__eng__", "__fra__"]


def test_texts_without_letters_come_back_as_they_are(models, detector):
    translator = Translator.from_pretrained(models["xling"], backend="torch", detector=detector)
    backend = echo(translator)
    texts = ["🎉🎉🎉", "", "2024-05-01 12:30", PARALLEL["deu"][0]]
    assert translator.detect_sources(texts) == [None, None, None, "deu"]
    # nothing there is in a language: kept as given, as an emoji-only text is with a given source
    assert translator.translate(texts, "auto", "fr") == texts
    assert [len(batch) for batch in backend.calls] == [1]
    assert translator.translate(["🎉🎉🎉"], "de", "fr") == ["🎉🎉🎉"]


def test_a_text_the_detector_cannot_tell_is_a_clear_error(models, detector):
    from xling.langid import LanguageIdentifier

    unsure = dataclasses.replace(LanguageIdentifier.from_pretrained(detector), threshold=1.0)  # never sure
    translator = Translator.from_pretrained(models["xling"], backend="torch", detector=unsure)
    texts = ["", "Die Katze schläft 🎉"]
    with pytest.raises(XlingError, match=r"text 1 \('Die Katze schläft 🎉'\): .*cannot tell its language "
                                         r"\(und\); give the source language \(--src"):  # fmt: skip
        translator.translate(texts, "auto", "fr")
    assert translator.translate(texts, [None, "de"], "fr") == translator.translate(texts, "de", "fr")


def test_a_language_the_model_lacks_is_named_not_replaced_by_a_neighbour(models, detector):
    translator = Translator.from_pretrained(models["xling"], backend="torch", detector=detector)
    russian = "Завтра мы поедем на поезде к моей бабушке в Казань."
    message = r"text 1 .*detected as rus \(\d+%\), a language xling does not translate from"
    with pytest.raises(XlingError, match=message + r" \(it has deu, eng, fra\); give the source"):
        translator.translate([PARALLEL["deu"][0], russian], "auto", "fr")


def test_a_close_neighbour_the_model_lacks_is_translated_from_its_closest_language(models, caplog):
    """A Russian sentence the detector took for Belarusian (99.95%) still left Russian 5e-4 among all its
    labels: translated from Russian with a warning, not refused; a text that leaves the model's closest
    language next to nothing (Polish: Dutch 5e-18) is still an error."""
    from xling.langid.model import Prediction

    translator = Translator.from_pretrained(models["xling"], backend="torch")
    first, choice = Prediction("ltz", 0.9995), Prediction("deu", 0.98)
    with caplog.at_level(logging.WARNING):
        label = translator._source_of("text 0", first, choice, ["deu", "eng", "fra"], {},
                                      close_neighbour=lambda code: True)  # fmt: skip
    assert label == "deu" and "detected as ltz" in caplog.text and "translated as deu" in caplog.text
    with pytest.raises(
        XlingError, match=r"detected as ltz \(100%\), a language xling does not translate from"
    ):
        translator._source_of(
            "text 0", first, choice, ["deu", "eng", "fra"], {}, close_neighbour=lambda code: False
        )
    # a lacking language the detector was unsure of (under 50%) was replaced by the closest language the
    # model has without a word (a French line given to opus-mt-en-de, which has English alone, went as English)
    unsure = Prediction("ita", 0.4)
    with pytest.raises(
        XlingError, match=r"detected as ita \(40%\), a language xling does not translate from"
    ):
        translator._source_of(
            "text 0", unsure, choice, ["deu", "eng", "fra"], {}, close_neighbour=lambda code: False
        )
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        label = translator._source_of("text 0", unsure, choice, ["deu", "eng", "fra"], {},
                                      close_neighbour=lambda code: True)  # fmt: skip
    assert label == "deu" and caplog.text == ""  # a plausible reading of an unsure detection: no warning


def test_no_detector_is_a_clear_error_naming_it(models, tmp_path):
    translator = Translator.from_pretrained(
        models["xling"], backend="torch", detector=tmp_path / "no-detector"
    )
    message = r"needs a language detector: .*no-detector: no such language identifier"
    with pytest.raises(XlingError, match=message + r".*give the source language \(--src\) or a detector"):
        translator.translate(["Hello."], "auto", "de")
    with pytest.raises(XlingError, match="no-detector"):
        translator.translate(["Hello."], None, "de")
    # given sources, and texts with nothing to detect, need no detector
    assert translator.translate(["", "  "], None, "de") == ["", "  "]
    assert len(translator.translate(["Hello."], "en", "de", GREEDY)) == 1


def test_translate_file_detects_each_line_and_names_a_bad_one(models, detector, tmp_path):
    translator = Translator.from_pretrained(models["xling"], backend="torch", detector=detector)
    lines = [PARALLEL["eng"][0], "", PARALLEL["deu"][1], PARALLEL["deu"][2]]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", "utf-8")
    report = translator.translate_file(source, tmp_path / "out.txt", "auto", "fr", GREEDY)
    assert report.sources == {"deu": 2, "eng": 1}
    expected = translator.translate(lines, ["en", None, "de", "de"], "fr", GREEDY)
    assert (tmp_path / "out.txt").read_text("utf-8").split("\n")[:4] == expected
    assert translator.translate_file(source, tmp_path / "out.txt", "en", "fr", GREEDY).sources == {}
    source.write_text(f"{lines[0]}\nЗавтра мы поедем на поезде к моей бабушке.\n", "utf-8")
    with pytest.raises(XlingError, match=r"in\.txt:2 .*detected as rus"):
        translator.translate_file(source, tmp_path / "out.txt", "auto", "fr", GREEDY)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_length_a", -1.0),
        ("max_length_b", -2),
        ("max_length_cap", 0),
        ("max_input_length", 3),
        ("beam_size", 0),
        ("max_length_a", float("inf")),  # was an OverflowError traceback from int(inf) in max_new_tokens
        ("repetition_penalty", float("inf")),  # passed the check that it is above 0
        ("length_penalty", float("nan")),
    ],
)
def test_out_of_range_decoding_options_name_their_field(field, value):
    from xling.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"^{field}: {value} must"):
        DecodeOptions(**{field: value}).validate()


def test_a_bad_output_path_is_a_clear_error_before_any_translating(xling_model, tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("The cat sleeps on the bed.\n", "utf-8")
    backend = echo(xling_model)
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("x", "utf-8")
    for output, why in [(tmp_path / "folder", "is a folder"), (tmp_path / "afile" / "out.txt", "is a file")]:
        with pytest.raises(DataError, match=why):
            xling_model.translate_file(source, output, "en", "de")
    # over the model's own tokenizer.json the model would no longer load
    tokenizer_file = xling_model.folder / "tokenizer.json"
    before = tokenizer_file.read_bytes()
    with pytest.raises(ConfigError, match=r"lies inside the model folder"):
        xling_model.translate_file(source, tokenizer_file, "en", "de")
    assert tokenizer_file.read_bytes() == before
    assert backend.calls == []  # refused before the model ran
    # a new file beside the model's own is no harm (`--model . --output out.txt` in a run folder)
    beside = xling_model.folder / "translated.txt"
    xling_model.translate_file(source, beside, "en", "de")
    assert beside.read_text("utf-8").count("\n") == 1
    beside.unlink()


def test_a_file_of_blank_lines_gives_as_many_blank_lines(xling_model, tmp_path):
    source = tmp_path / "blank.txt"
    source.write_text("\n\n\n", "utf-8")
    echo(xling_model)
    report = xling_model.translate_file(source, tmp_path / "out.txt", "en", "de")
    assert (tmp_path / "out.txt").read_text("utf-8") == "\n\n\n" and report.lines == 3


def test_text_that_is_not_unicode_and_codes_that_are_not_strings_are_clear_errors(xling_model):
    echo(xling_model)
    with pytest.raises(DataError, match="text 1 is not valid Unicode"):
        xling_model.translate(["fine.", "Hello \udcff world."], "en", "de")
    with pytest.raises(ConfigError, match=r"tgt\[1\]: expected a language code, got NoneType"):
        xling_model.translate(["a.", "b."], "en", ["de", None])
    with pytest.raises(ConfigError, match="src: expected a language code"):
        xling_model.translate(["a."], 5, "de")


def test_a_thread_count_out_of_range_is_a_clear_error(models):
    # 10**20 was a TypeError traceback from CTranslate2; a count below a C int would start that many threads
    for threads in (-1, 10**20, 1025, 2.5):
        with pytest.raises(ConfigError, match=r"threads: .* must be 0"):
            Translator.from_pretrained(models["xling"], backend="torch", threads=threads)


def test_an_unknown_or_missing_device_is_a_clear_error(models):
    with pytest.raises(ConfigError, match="'gpu0' is not cpu, cuda"):
        Translator.from_pretrained(models["xling"], backend="torch", device="gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            Translator.from_pretrained(models["xling"], backend="torch", device="cuda")
    assert Translator.from_pretrained(models["xling"], backend="torch", device="auto").backend is not None


@pytest.mark.parametrize("family", ["xling", "nllb"])
def test_special_token_strings_in_a_text_are_text_not_control_tokens(models, family):
    translator = Translator.from_pretrained(models[family], backend="torch")
    backend = echo(translator)
    marks = {"xling": "__deu__", "nllb": "fra_Latn"}[family]
    text = f"Write </s> and {marks} here."
    translator.translate([text], "en", "de")  # the tiny vocabulary lacks some characters: check the source
    [[source]] = backend.calls
    inner = source[1:-1]  # between the source language token and </s>
    assert "</s>" not in inner and marks not in inner, source


def test_control_token_strings_reach_the_model_as_their_characters(tmp_path):
    # xling's shipped vocabularies have `<`, `/`, `>` and `_` only as byte pieces (<0x3C>): spelled out as
    # pieces of their own they were <unk> ("Type s or deu here.")
    translator = Translator.from_pretrained(
        build_xling(tmp_path / "bytes", byte_fallback=True), backend="torch"
    )
    backend = echo(translator)
    texts = ["Write </s> and __deu__ here.", "Then <s>, __fra__ and <unk>!"]
    assert translator.translate(texts, "en", "de") == texts  # the echo gives every character back
    unknown = translator.tokenizer.unk_token
    assert all(unknown not in source for call in backend.calls for source in call), backend.calls


@pytest.mark.parametrize(
    "text",
    [
        "Go to https://www.google.com/search?q=cats and click. Then wait.",  # no cut inside the URL
        "Hello. ?!",  # pysbd drops trailing punctuation: it must come back
        "He said no.?!",
        "Wait. «Why?» she asked... (Twice.)",
    ],
)
def test_segmentation_loses_no_character_and_cuts_only_at_spaces(xling_model, text):
    layout = segment(text, "eng")
    assert "".join("".join(layout.parts).split()) == "".join(text.split())
    assert all("google.com/search?" not in part or "q=cats" in part for part in layout.parts)
    echo(xling_model)
    [translated] = xling_model.translate([text], "en", "de")
    assert translated.count(" ") == text.count(" ")  # no space put into a word where pysbd cut it


def test_chinese_sentences_are_still_cut_without_spaces():
    assert segment("你好。我很好。谢谢！", "cmn").parts == ("你好。", "我很好。", "谢谢！")


def test_numbers_and_links_come_back_as_they_are_with_a_given_source(xling_model):
    backend = echo(xling_model)
    texts = ["12345", "https://example.com/a?b=c", "3:16", "@someone #tag 2024"]
    assert xling_model.translate(texts, "en", "de") == texts  # a model made up words for each
    assert backend.calls == []
    from xling.translation.segmentation import has_words

    # an address inside a sentence of a script without spaces takes only itself out, not the sentence
    assert all(has_words(text) for text in ["请发邮件到info@example.com。", "@张三你好吗？", "#今天天气很好"])
    assert has_words("https://example.com。谢谢") and not has_words("https://example.com/路径")
    # a word glued to an address by punctuation stays a word (the address took it along)
    assert all(has_words(text) for text in ["Kontakt:info@example.com", "Пишите:info@mail.ru"])


def test_a_long_line_without_spaces_segments_in_linear_time():
    import time

    # the link pattern was tried from every character of the line: 100,000 characters took 90 s, a
    # 10,000-digit hex dump 7 s (a bound far above linear time, not a benchmark: 0.06-0.4 s each on an idle
    # core, and 10 s so that a busy machine passes)
    for text in ("Payload: " + "0123456789abcdef" * 1_000 + " end.", "x" * 100_000, "x" * 100_000 + " a@"):
        start = time.perf_counter()
        layout = segment(text, "eng")
        assert time.perf_counter() - start < 10, text[-10:]
        assert "".join(layout.parts) == "".join(text.split())


def test_a_long_run_of_whitespace_segments_in_linear_time():
    import time

    # a line break was looked for from every space of the run: 50,000 spaces took 12 s, so 100,000 about 48
    # (a bound far above linear time, not a benchmark: 0.3-0.9 s each on an idle core, 3 s on a busy one)
    for text in ("a" + " " * 100_000 + "b", "a" + " \t" * 50_000 + "b", "ses kl. 5 " * 10_000):
        start = time.perf_counter()
        layout = segment(text, "swe")
        assert time.perf_counter() - start < 10, text[:10]
        assert " ".join(layout.parts).split() == text.split()


def test_no_text_is_lost_where_a_block_starts_with_punctuation_alone():
    from xling.translation.segmentation import BLOCK_CHARS

    # pysbd gives nothing of a block of " !!" (the block cut after the last sentence end of the window)
    for text in (
        "This is a sentence. " * 100 + " !!",
        "Voir https://example.com/?" + "a" * BLOCK_CHARS + " ?!",
    ):
        layout = segment(text, "fra")
        assert layout.join(layout.sentences, "fra").split() == text.split()


def test_a_long_line_is_not_cut_in_the_middle_of_a_sentence_at_an_abbreviation():
    from xling.translation.segmentation import BLOCK_CHARS

    filler = "This is a sentence. " * 99
    for continued, head in [("We met Dr. Smith at noon.", "We met Dr. "), ("J. K. Rowling wrote it.", "J. "),
                            ("See Fig. 3 here.", "See Fig. "), ("No... and then.", "No... ")]:  # fmt: skip
        text = filler + "x" * (BLOCK_CHARS - len(filler) - len(head) - 1) + " " + continued + " Then we left."
        assert text[:BLOCK_CHARS].endswith(head)  # the window ends right after the abbreviation
        assert any(sentence.endswith(" " + continued) for sentence in segment(text, "eng").sentences), (
            continued
        )


def test_sentence_ends_of_languages_pysbd_has_no_rules_for_are_read_by_their_script():
    # English rules, used before for every language without its own, end no sentence at । ። ፧ ۔ ։
    cases = {
        "ben": "আমি ভাত খাই। তুমি কী খাও?", "nep": "म घर जान्छु। तिमी कहाँ जान्छौ?", "tir": "ሰላም ኣለኹ። ከመይ ኣለኻ፧",
        "pus": "ته څنګه یې؟ زه ښه یم۔", None: "Բարեւ։ Ինչպե՞ս ես։", "ell": "Τι κάνεις\u037e Καλά.",
    }  # fmt: skip
    for language, text in cases.items():
        layout = segment(text, language)
        assert len(layout.sentences) == 2, (language, layout.sentences)
        assert layout.join(layout.sentences, language) == text  # the Greek question mark kept as written
    # and at `.`, which Pashto, Uyghur, Sorani and Gujarati write too (the Urdu and Hindi rules alone ended
    # none there: a paragraph was one sentence)
    for language, text in [("pus", "زه ښه یم. ته څنګه یې؟"), ("uig", "مەن ياخشى. سىز قانداق؟"),
                           ("ckb", "ئەمە باشە. ئەوە خراپە."), ("guj", "તમે કેમ છો. હું મજામાં છું.")]:  # fmt: skip
        assert len(segment(text, language).sentences) == 2, language
    # a long Georgian line is cut at its full stops (its letters are lower-case ones to Unicode, which made
    # every full stop look like an abbreviation's), as a line all in lower case is
    for language, sentence in [
        ("kat", "ეს არის წინადადება და ის გრძელია. "),
        ("eng", "this is all lower case. "),
    ]:
        assert set(segment(sentence * 100, language).sentences) == {sentence.strip()}, language
    # a long Greek line of questions is cut into blocks at its question marks, not inside a question
    question = "Τι κάνεις σήμερα το πρωί στο σπίτι σου φίλε μου; "
    assert set(segment(question * 120, "ell").sentences) == {question.strip()}


def test_links_of_any_case_and_longer_than_a_block_come_back_as_they_are(xling_model):
    from xling.translation.segmentation import BLOCK_CHARS

    backend = echo(xling_model)
    tracking = "https://example.com/t?" + "&".join(f"param{i}=value{i}" for i in range(200))
    assert len(tracking) > BLOCK_CHARS
    texts = ["HTTPS://EXAMPLE.COM/PAGE", "Http://Example.com", "Www.example.com", tracking]
    assert xling_model.translate(texts, "en", "de") == texts  # were cut or read as words, and translated
    assert backend.calls == []


def test_a_long_line_of_quoted_sentences_keeps_one_part_per_sentence():
    """A block cut after ". " moved the next sentence's opening quote onto the block before: pysbd then read
    the rest of the next block as one quotation (62 parts for 120 sentences, ~50 lost in translation)."""
    from xling.translation.segmentation import BLOCK_CHARS

    line = " ".join(f'"Go to town number {i}," he said.' for i in range(120))
    assert len(line) > BLOCK_CHARS
    layout = segment(line, "eng")
    assert len(layout.sentences) == 120 and all(part.startswith('"Go') for part in layout.parts)
    assert layout.join(layout.sentences, "eng") == line


@pytest.mark.parametrize(
    ("language", "text"),
    [("spa", "El Sr. García llegó."), ("por", "A Sra. Costa veio."), ("nld", "Mevr. de Vries kwam."),
     ("deu", "Hr. Müller kam."), ("swe", "Det är t.ex. bra."), ("swe", "Han kom kl. tre."), ("swe", "Vi ses kl. 5 i morgon."),
     ("rus", "Это т. е. хорошо."), ("ell", "Είναι π.χ. καλό."), ("ukr", "Це т. зв. добре."),
     ("eng", "It was approx. 3 km long."), ("deu", "Wir wohnen in der Hauptstr. 5 in Berlin.")],
)  # fmt: skip
def test_abbreviations_do_not_end_a_sentence(language, text):
    """pysbd ended these at the abbreviation (Swedish has no rules of its own): each half was translated
    alone."""
    layout = segment(f"{text} Dann noch einer.", language)
    assert layout.parts == (text, "Dann noch einer.")
    assert layout.join(layout.sentences, language) == f"{text} Dann noch einer."


@pytest.mark.parametrize(
    ("language", "text", "parts"),
    [("eng", "i went home. it was late.", ("i went home.", "it was late.")),
     ("deu", "Er kam. Dann ging er.", ("Er kam.", "Dann ging er.")),
     ("deu", "Sie kam am Fr. Wir gingen.", ("Sie kam am Fr.", "Wir gingen.")),
     ("swe", "Vi åt bl.a. fisk. sen gick vi hem.", ("Vi åt bl.a. fisk.", "sen gick vi hem.")),
     ("rus", "Он ушёл, т. е. скрылся. Потом вернулся.", ("Он ушёл, т. е. скрылся.", "Потом вернулся."))],
)  # fmt: skip
def test_sentences_ending_in_a_short_word_or_an_abbreviation_still_end(language, text, parts):
    """Only a listed abbreviation before a lower-case word, or a title before a name, joins two sentences:
    a lower-case text's short words and Friday's "Fr." do not."""
    assert segment(text, language).parts == parts


def test_a_text_already_in_the_target_language_is_kept(xling_model):
    """A model asked for deu -> deu rewrites the text ('Am Anfang war das Wort.' came back as 'Am dritten
    Tage aber war der Wort.'); it is kept as it is, as a line detected in the target language is."""
    backend = echo(xling_model)
    german = PARALLEL["deu"][0]
    assert xling_model.translate([german], "de", "de") == [german]
    assert backend.calls == []
    assert xling_model.translate([german, PARALLEL["eng"][0]], ["deu", "en"], "deu")[0] == german
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 1  # only the English text was decoded


def test_a_script_conversion_is_translated_and_a_macrolanguage_is_its_member(tmp_path):
    """The model's own language tokens decide what 'already in the target language' means: zh -> zh-TW is
    zho_Hans -> zho_Hant (a conversion the model is asked for), cmn -> zh and nob_Latn -> no are one token
    each (kept as they are)."""
    from xling.translation.translator import _already_in

    folder = build_nllb(
        tmp_path / "nllb", languages=("eng_Latn", "zho_Hans", "zho_Hant", "srp_Cyrl", "srp_Latn")
    )
    translator = Translator.from_pretrained(folder, backend="torch")
    backend = echo(translator)
    text = "我们一起读书。"
    for src, tgt in (("zh", "zh-TW"), ("sr", "sr-Latn")):
        translator.translate([text], src, tgt)
    assert len(backend.calls) == 2
    assert translator.translate([text], "cmn", "zh") == [text] and len(backend.calls) == 2
    # without the model's tokens (a code it lacks, or a Marian model), the codes decide alike
    assert _already_in("cmn_Hans", "zh") and _already_in("nob_Latn", "no") and _already_in("arb_Arab", "ar")
    assert (
        not _already_in("zh", "zh-TW") and not _already_in("sr", "sr-Latn") and not _already_in("yue", "zh")
    )
    # a part of a script is that script (Korean's Hangul, Japanese's kana, Han in general): kept, not refused
    assert (
        _already_in("kor", "ko-Hang") and _already_in("jpn", "ja-Hira") and _already_in("cmn_Hans", "zh-Hani")
    )
    assert not _already_in("cmn_Hans", "zh-Hant")


def test_closing_quotes_and_brackets_stay_with_the_full_width_sentence_they_close():
    from xling.translation.segmentation import segment

    assert segment("他说：“你好。”然后走了。", "zho").parts == ("他说：“你好。”", "然后走了。")
    assert segment("（这是括号。）下一句。", "zho").parts == ("（这是括号。）", "下一句。")
    assert segment("他问：“你好吗？”我说：“很好！”", "zho").parts == ("他问：“你好吗？”", "我说：“很好！”")
    assert segment('他走了。"你好，"她说。', "zho").parts == (
        "他走了。",
        '"你好，"她说。',
    )  # may open a quote


def test_each_output_stays_within_its_own_sources_limit_in_a_batch(xling_model):
    backend = xling_model.backend
    backend.model.generation_config.suppress_tokens = [backend.eos_id]  # never stop early
    options = DecodeOptions(beam_size=1, max_length_a=1.0, max_length_b=2)
    short, long = "Thank you.", " ".join(PARALLEL["eng"][:3]).replace(".", ",")
    together = xling_model.translate([short, long], "en", "de", options)
    assert together[0] == xling_model.translate([short], "en", "de", options)[0]
    assert len(together[0]) < len(together[1]) / 2


def test_limits_are_kept_inside_the_models_position_table(xling_model):
    seen = []
    generate = xling_model.backend.generate_hypotheses
    xling_model.backend.generate_hypotheses = lambda sources, prefixes, options: (
        seen.append(options) or generate(sources, prefixes, options)
    )
    xling_model.max_positions = 24  # as a Marian model whose table is fixed: beyond it, an IndexError
    xling_model.translate(["The dog runs in the garden."], "en", "de", DecodeOptions(beam_size=1))
    assert seen[0].max_input_length == 24 and seen[0].max_length_cap == 22


def test_ctranslate2_devices_as_torch_names_them():
    from xling.translation.ct2 import ct2_device

    assert ct2_device("cuda:1") == ("cuda", 1) and ct2_device("cpu") == ("cpu", 0)
    for bad in ("cuda:x", "cpu:1", "tpu", "cuda:²"):
        with pytest.raises(ConfigError, match="device"):
            ct2_device(bad)


def test_a_language_the_model_lacks_is_an_error_not_its_macrolanguage(models):
    """M2M-100 has `no` (Bokmål), not Nynorsk: nb -> nn took `__no__` for both and came back untranslated."""
    translator = Translator.from_pretrained(models["m2m100"], backend="torch")
    backend = echo(translator)
    text = "Vi går en tur i parken i dag."
    with pytest.raises(XlingError, match=r"cannot translate into Norwegian Nynorsk \(nno\) \('nn'\)"):
        translator.translate([text], "nb", "nn")
    with pytest.raises(XlingError, match=r"cannot translate into Yue Chinese"):
        translator.translate(["我们今天去公园散步。"], "zh", "yue")
    assert translator.translate([text], "nb", "no") == [text] and backend.calls == []  # Bokmål is `no`


def test_a_line_already_in_the_target_is_kept_by_a_fixed_pair_model(tmp_path, detector):
    """opus-mt-en-de with --src auto --tgt de: a German line was 'a language opus-mt-en-de does not translate
    from', and the whole file failed; an NLLB model keeps such a line as it is."""
    from xling.langid.model import Prediction

    folder = build_marian(tmp_path / "opus-mt-en-de", source="en", target="de")
    translator = Translator.from_pretrained(folder, backend="torch", detector=detector)
    texts = [PARALLEL["eng"][0], PARALLEL["deu"][1]]
    expected = translator.translate(texts, ["en", "de"], "de", GREEDY)
    assert expected[1] == texts[1]
    assert translator.translate(texts, "auto", "de", GREEDY) == expected
    source = tmp_path / "in.txt"
    source.write_text("\n".join(texts) + "\n", "utf-8")
    report = translator.translate_file(source, tmp_path / "out.txt", "auto", "de", GREEDY)
    assert report.sources == {"eng": 1, "deu": 1}
    assert (tmp_path / "out.txt").read_text("utf-8").splitlines() == expected
    # detection alone (xling translate TEXT...), told the target, keeps it too
    assert translator.detect_sources(texts, tgt="de") == ["eng", "deu"]
    # in another language than the target, it is still an error
    german = (Prediction("deu", 0.99), Prediction("eng", 0.6), ["eng"], {})
    assert translator._source_of("text 0", *german, target="de-AT") == "deu"
    with pytest.raises(XlingError, match="detected as deu .*does not translate from"):
        translator._source_of("text 0", *german, target="fr")


def test_a_link_longer_than_two_blocks_is_never_cut(xling_model):
    """The link search stopped BLOCK_CHARS past the cut, so a link of 7,000 characters was matched only up to
    there: the block was cut inside it and its tail translated as words."""
    from xling.translation.segmentation import BLOCK_CHARS

    url = "https://example.com/t?" + "&".join(f"param{i}=value{i}" for i in range(400))
    assert len(url) > 3 * BLOCK_CHARS
    assert segment(url, "eng").parts == (url,) and segment(url, "eng").translate == (False,)
    layout = segment(f"See {url} now.", "eng")
    assert layout.parts == ("See", url, "now.") and layout.translate == (True, False, True)
    backend = echo(xling_model)
    assert xling_model.translate([url], "en", "de") == [url] and backend.calls == []


def test_an_empty_file_gives_an_empty_output(xling_model, tmp_path):
    """A 0-byte input was 'file is empty', with no output; line i of the output is line i of the input, so
    0 lines give 0 lines (written atomically, over an earlier output)."""
    backend = echo(xling_model)
    source, output = tmp_path / "empty.txt", tmp_path / "out.txt"
    source.write_bytes(b"")
    output.write_text("an earlier translation\n", "utf-8")
    report = xling_model.translate_file(source, output, "en", "de")
    assert output.read_bytes() == b"" and report.lines == 0 and report.sentences == 0
    assert backend.calls == []
    assert xling_model.translate_file(source, output, "auto", "de").lines == 0  # nothing to detect either
    # its languages are still checked, as a file of blank lines has them checked
    with pytest.raises(XlingError, match="cannot translate into Japanese"):
        xling_model.translate_file(source, output, "en", "ja")
    # ... when its source is to be detected too (nothing to detect then: the target was never looked up)
    with pytest.raises(XlingError, match="cannot translate into Japanese"):
        xling_model.translate_file(source, output, "auto", "ja")
    for texts in (["123"], ["", "... !!!"], ["https://example.com/"]):
        with pytest.raises(XlingError, match="cannot translate into Japanese"):
            xling_model.translate(texts, "auto", "ja")


def test_auto_detection_leaves_out_a_model_code_in_a_script_the_detector_never_learnt(tmp_path, detector):
    """NLLB's codes name scripts (ace_Arab beside ace_Latn): a code whose script the detector's label never
    learnt (the sample's Hindi is Devanagari, not hin_Latn) is left out of the restriction, which would
    otherwise refuse every detection as naming a language it does not know."""
    folder = build_nllb(tmp_path / "nllb", ("eng_Latn", "deu_Latn", "hin_Deva", "hin_Latn"))
    translator = Translator.from_pretrained(folder, backend="torch", detector=detector)
    assert translator.allowed_sources(translator._identifier()) == ["deu_Latn", "eng_Latn", "hin_Deva"]
    assert translator.detect_sources(["Morgen fahren wir mit dem Zug nach Hamburg."]) == ["deu"]


def test_m2m100s_northern_sotho_is_a_source_the_detector_may_name(models):
    """M2M-100 writes Northern Sotho `ns` (nso): the detector's restriction read the code as no language, so a
    line detected as nso was 'a language m2m100 does not translate from'."""
    from xling.embeddings.encoder import SHIPPED_MODELS

    if not (SHIPPED_MODELS / "xling-langid").is_dir():
        pytest.skip("needs the shipped xling-langid, which knows nso")
    translator = Translator.from_pretrained(models["m2m100"], backend="torch", detector="xling-langid")
    assert "nso" in translator.allowed_sources(translator._identifier())
    text = "Ke a leboga kudu ka thušo ya gago. Bana ba bapala ka ntle ga ntlo, gomme mma wa bona o a ba bona."
    assert translator.detect_sources([text]) == ["nso"]
    backend = echo(translator)
    translator.translate([text], "auto", "en")
    assert {source[0] for call in backend.calls for source in call} == {"__ns__"}  # read as Northern Sotho


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_length_a", 1e308), ("max_length_b", 2**31), ("max_length_cap", 10**30), ("beam_size", 2**40),
     ("batch_size", 2**31), ("length_penalty", 1e308), ("length_penalty", -11.0)],
)  # fmt: skip
def test_decoding_options_beyond_their_bounds_name_their_field(xling_model, field, value):
    """--max-length-a 1e308 was an OverflowError traceback (int(inf) in max_new_tokens), and a length penalty
    of 1e308 another one inside beam search (length**penalty)."""
    import re

    options = DecodeOptions(**{field: value})
    with pytest.raises(ConfigError, match=rf"^{field}: {re.escape(str(value))} must"):
        options.validate()
    xling_model.max_positions = None  # the cap and input limits are then the options' own
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        xling_model.translate(["The cat sleeps on the bed. The dog runs in the garden."], "en", "de", options)
    DecodeOptions(max_length_a=2**31 - 1, max_length_cap=2**31 - 1, length_penalty=-10.0).validate()


@pytest.mark.parametrize(
    ("family", "source", "target", "asked", "written"),
    [("m2m100", "zh", "zh-Hant", "Hant", "Hans"), ("m2m100", "zh", "zh-TW", "Hant", "Hans"),
     ("m2m100", "sr", "sr-Latn", "Latn", "Cyrl"), ("m2m100", "de", "de-Cyrl", "Cyrl", "Latn"),
     ("xling", "de", "de-Cyrl", "Cyrl", "Latn")],
)  # fmt: skip
def test_a_target_script_the_model_does_not_write_is_an_error(models, family, source, target, asked, written):
    """M2M-100's `zh`, `sr` and xling's codes name no script: zh-Hant came back in Simplified (a Simplified
    input unchanged, as 'already in the target'), sr-Latn in Cyrillic, de-Cyrl in Latin, silently."""
    translator = Translator.from_pretrained(models[family], backend="torch")
    backend = echo(translator)
    with pytest.raises(ConfigError, match=rf"writes .* in the {written} script .*not in the {asked} script "
                                          rf"\('{target}'"):  # fmt: skip
        translator.translate(["我们今天去公园散步。" if source == "zh" else "Text."], source, target)
    assert backend.calls == []
    usual = {"Hans": "zh-Hans", "Cyrl": "sr-Cyrl", "Latn": "de-Latn"}[written]
    if family == "m2m100" or usual == "de-Latn":
        assert translator.conventions.target_token(usual) == translator.conventions.target_token(source)


def test_a_link_or_tag_of_any_script_that_is_the_whole_text_comes_back_as_it_is(xling_model, detector):
    """A non-ASCII host, mailto: and ftp:// links and a hashtag of non-ASCII letters were translated (a model
    makes up words for them); inside a sentence they are translated with it."""
    backend = echo(xling_model)
    texts = ["http://例子.测试/", "mailto:info@example.com", "ftp://ftp.example.org/pub/a.txt", "#Straße",
             "@Jürgen", "  https://bücher.de/über  ", "Hallo.\nhttp://例子.测试/\nTschüss."]  # fmt: skip
    assert xling_model.translate(texts, "de", "en") == texts
    sent = ["".join(source) for call in backend.calls for source in call]
    assert sent and not any("例" in text or "Straße" in text for text in sent)  # Hallo. and Tschüss. only
    backend.calls.clear()
    assert xling_model.translate(["Die #Straße ist schön."], "de", "en") and backend.calls
    xling_model.detector = detector
    backend.calls.clear()
    assert xling_model.detect_sources(texts[:4]) == [None] * 4  # nothing to detect: nothing to translate
    assert xling_model.translate(texts[:4], "auto", "en") == texts[:4] and backend.calls == []


@pytest.mark.parametrize("backend", ["torch", "ct2"])
def test_a_beam_search_translation_does_not_depend_on_its_batch(models, tmp_path, backend):
    # A batch was decoded to its longest source's limit; under beam search a longer limit let another
    # hypothesis win, cut short to the sentence's own limit ("a" beside a long text came out otherwise).
    if backend == "ct2":
        pytest.importorskip("ctranslate2")
        from xling.export.ct2 import export_ct2

        folder = build_xling(tmp_path / "xling")
        export_ct2(folder, quantization="float32")
    else:
        folder = models["xling"]
    translator = Translator.from_pretrained(folder, backend=backend)
    long = "The house has a red door and the children play outside every morning with bread."
    for options in (DecodeOptions(beam_size=4), DecodeOptions(beam_size=4, no_repeat_ngram_size=2)):
        alone = [translator.translate([text], "eng", "fra", options)[0] for text in ("a", "the cat", long)]
        assert translator.translate(["a", long, "the cat"], "eng", "fra", options) == [
            alone[0],
            alone[2],
            alone[1],
        ]


def test_a_target_token_typed_in_the_text_is_text_for_marian_with_separate_vocabularies(tmp_path):
    # its source vocabulary holds the `>>deu<<` tokens too: the user's one reached the model beside >>fra<<
    folder = build_marian(tmp_path / "marian", target_tokens=("fra", "deu"), separate_vocabs=True)
    translator = Translator.from_pretrained(folder, backend="torch")
    backend = echo(translator)
    translator.translate([">>deu<< The cat sleeps."], "en", "fr")
    [[source]] = backend.calls
    assert [token for token in source if token.startswith(">>")] == [">>fra<<"], source


def test_a_long_sentence_is_not_cut_inside_a_character_spelled_in_bytes(tmp_path):
    # text without spaces has no word start to cut at: the cut fell between <0xE9><0x95><0xB7>
    translator = Translator.from_pretrained(
        build_xling(tmp_path / "bytes", byte_fallback=True), backend="torch"
    )
    backend = echo(translator)
    text = "長" * 100 + "。"
    [out] = translator.translate([text], "en", "de", DecodeOptions(max_input_length=20))
    assert "".join(out.split()) == text  # every character whole (parts are joined by German's space)
    assert len(backend.calls[0]) > 1  # in parts


def test_an_output_that_reaches_its_length_limit_is_said(xling_model, caplog):
    """The input side warned when it cut a sentence; an output cut at its limit said nothing."""
    with caplog.at_level(logging.WARNING, logger="xling.translation.translator"):
        xling_model.translate(
            ["Hello world, how are you today?"], "en", "de", DecodeOptions(max_length_cap=2)
        )
    assert "1 of 1 translations reached their length limit" in caplog.text
    caplog.clear()
    # once a call, not once a batch (a long file printed a line per batch)
    with caplog.at_level(logging.WARNING, logger="xling.translation.translator"):
        xling_model.translate(["Hello world.", "How are you?", "Good day."] * 3, "en", "de",
                              DecodeOptions(max_length_cap=2, batch_size=2))  # fmt: skip
    assert caplog.text.count("reached their length limit") == 1 and "9 of 9 translations" in caplog.text
