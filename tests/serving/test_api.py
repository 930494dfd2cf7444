"""Every endpoint's happy path and answer shape, on tiny models (see conftest.py)."""

from __future__ import annotations

import base64
import contextlib
import json
import re
from urllib.parse import urlencode

import numpy as np
import pytest
from fastapi.testclient import TestClient

from xling.embeddings.encoder import Encoder
from xling.langid import LanguageIdentifier
from xling.serving.app import create_app

from .conftest import tiny_models


@pytest.fixture(scope="module")
def client(make_config):
    with TestClient(create_app(make_config())) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def encoder(models) -> Encoder:
    return Encoder.load(models.encoder)


@pytest.fixture(scope="module")
def translator(models):
    from xling.translation.translator import Translator

    return Translator.from_pretrained(models.translator, backend="torch", detector=str(models.detector))


def test_openai_embeddings_shape_and_vectors(client, encoder, models):
    texts = ["the film was good", "der film war gut", "a lovely day"]
    answer = client.post("/v1/embeddings", json={"input": texts, "model": str(models.encoder)})
    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "list" and body["model"]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(d["object"] == "embedding" for d in body["data"])
    got = np.array([d["embedding"] for d in body["data"]], dtype=np.float32)
    np.testing.assert_allclose(got, encoder.encode(texts), atol=1e-5)
    # the toy encoder's tokens are whitespace words: 4 + 4 + 3
    assert body["usage"] == {"prompt_tokens": 11, "total_tokens": 11}

    one = client.post("/v1/embeddings", json={"input": "a lovely day", "encoding_format": "base64"}).json()
    assert len(one["data"]) == 1
    decoded = np.frombuffer(base64.b64decode(one["data"][0]["embedding"]), dtype="<f4")
    np.testing.assert_allclose(decoded, encoder.encode(["a lovely day"])[0], atol=1e-6)


def test_openai_embeddings_refuses_another_model_in_openai_error_shape(client):
    answer = client.post("/v1/embeddings", json={"input": "hello", "model": "text-embedding-3-small"})
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert (
        error["param"] == "model"
        and error["code"] == "model_not_found"
        and "text-embedding-3-small" in error["message"]
    )


def test_tei_embed_fields_it_cannot_honour_are_422_not_ignored(client, encoder):
    """TEI's `dimensions`, `prompt_name` and a left truncation were dropped: a client asking for 4 numbers
    got the encoder's full vector, cut at the other end than asked."""
    text = "the film was good"
    assert len(client.post("/embed", json={"inputs": text, "dimensions": encoder.dimension}).json()[0]) == (
        encoder.dimension
    )
    for extra, field in (({"dimensions": 4}, "dimensions"), ({"prompt_name": "query"}, "prompt_name"),
                         ({"truncate": True, "truncation_direction": "Left"}, "truncation_direction")):  # fmt: skip
        answer = client.post("/embed", json={"inputs": text, **extra})
        assert answer.status_code == 422 and answer.json()["field"] == field, answer.text
    # TEI's defaults spelled out, and `truncate: null` (its Option<bool>), are fine
    assert client.post(
        "/embed", json={"inputs": text, "truncate": None, "truncation_direction": "Right"}
    ).json()


def test_tei_embed_normalize_and_info(client, encoder):
    unit = client.post("/embed", json={"inputs": "the film was good"}).json()
    raw = client.post("/embed", json={"inputs": ["the film was good"], "normalize": False}).json()
    assert len(unit) == 1 and len(unit[0]) == encoder.dimension
    assert np.linalg.norm(unit[0]) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(raw[0], encoder.encode(["the film was good"], normalize=False)[0], atol=1e-5)
    assert abs(np.linalg.norm(raw[0]) - 1.0) > 1e-3  # really not normalised
    info = client.get("/info").json()
    # TEI's Info fields its clients require are whole numbers, not null: a static encoder has no token
    # limit, and the character limit bounds its tokens (text-embeddings-inference router/src/lib.rs)
    assert info["dimension"] == encoder.dimension and info["max_input_length"] == 8192
    assert info["max_client_batch_size"] == 2048 and info["max_chars_per_text"] == 8192
    for field in ("max_batch_tokens", "max_concurrent_requests", "tokenization_workers"):
        assert isinstance(info[field], int) and info[field] > 0, field
    assert (
        info["auto_truncate"] is False
        and info["served_model_name"]
        and info["model_type"]["embedding"]["pooling"]
    )
    # TEI serves embed at its root and at /invocations too: a client given the server's address posts there
    for path in ("/", "/invocations"):
        assert client.post(path, json={"inputs": "the film was good"}).json() == unit, path


def test_translate_json_form_and_list_match_the_translator(client, translator):
    from xling.translation.decoding import DecodeOptions

    options = DecodeOptions(beam_size=1, max_length_b=4, max_length_a=1.0)
    sentences = tiny_models.PARALLEL["eng"][:2]
    expected = translator.translate(sentences, "eng", "deu", options)
    single = client.post("/translate", json={"q": sentences[0], "source": "en", "target": "de"})
    assert single.status_code == 200 and single.json() == {"translatedText": expected[0]}
    batch = client.post("/translate", json={"q": sentences, "source": "en", "target": "de", "format": "text"})
    assert batch.json() == {"translatedText": expected}
    # libretranslatepy's request: a form body with q, source, target (and api_key when it has one)
    form = client.post("/translate", content=urlencode({"q": sentences[1], "source": "en", "target": "de"}),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    # alone, as the translator alone (a tiny random model never stops early: each output runs to its own
    # source's limit)
    alone = translator.translate(sentences[1:], "eng", "deu", options)
    assert form.status_code == 200 and form.json() == {"translatedText": alone[0]}
    # `curl -F q=... -F source=en -F target=de`: the same fields as multipart/form-data
    fields = {"q": (None, sentences[1]), "source": (None, "en"), "target": (None, "de")}
    multipart = client.post("/translate", files=fields)
    assert multipart.status_code == 200 and multipart.json() == form.json()


def test_translate_auto_detects_each_text(client, translator, make_config):
    texts = [tiny_models.PARALLEL["deu"][0], tiny_models.PARALLEL["eng"][1]]
    body = client.post("/translate", json={"q": texts, "source": "auto", "target": "fr"}).json()
    assert [d["language"] for d in body["detectedLanguage"]] == ["de", "en"]
    assert all(0 < d["confidence"] <= 100 for d in body["detectedLanguage"])
    # the translations are those of the detected sources, decoded as the server decodes
    options = make_config().decoding
    assert body["translatedText"] == translator.translate(texts, ["de", "en"], "fr", options)
    single = client.post("/translate", json={"q": texts[0], "source": "auto", "target": "fr"}).json()
    assert single["detectedLanguage"]["language"] == "de"
    assert single["translatedText"] == translator.translate([texts[0]], "de", "fr", options)[0]


def test_translate_auto_keeps_a_text_already_in_a_fixed_pair_models_target(make_config, tmp_path):
    """opus-mt-en-de behind the server, source auto, target de: a German text was a 400 ("a language
    opus-mt-en-de does not translate from"), where the translator keeps it as it is."""
    from xling.translation.decoding import DecodeOptions
    from xling.translation.translator import Translator

    folder = tiny_models.build_marian(tmp_path / "opus-mt-en-de", source="en", target="de")
    config = make_config(translator=str(folder), detector="xling-langid")  # sure of German, unlike the toy
    texts = [tiny_models.PARALLEL["eng"][0], tiny_models.PARALLEL["deu"][1]]
    with TestClient(create_app(config)) as client:
        answer = client.post("/translate", json={"q": texts, "source": "auto", "target": "de"})
        alone = client.post("/translate", json={"q": texts[1], "source": "auto", "target": "de"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [d["language"] for d in body["detectedLanguage"]] == ["en", "de"]
    translator = Translator.from_pretrained(folder, backend="torch")
    options = DecodeOptions(beam_size=1, max_length_b=4, max_length_a=1.0)
    assert body["translatedText"] == [translator.translate(texts[:1], "en", "de", options)[0], texts[1]]
    # its confidence is the detector's for German among all its languages (the restricted one, eng only, is 0)
    everything = LanguageIdentifier.from_pretrained(config.detector).predict([texts[1]])[0][0]
    assert body["detectedLanguage"][1]["confidence"] == round(100 * everything.probability, 2) > 0
    assert alone.status_code == 200 and alone.json()["translatedText"] == texts[1]


def test_translate_auto_names_the_item_and_field_when_the_model_lacks_the_detected_language(make_config):
    # the shipped detector knows Russian; the tiny translator has eng, deu and fra only
    config = make_config(detector="xling-langid")
    texts = [tiny_models.PARALLEL["eng"][0], "Привет, как у тебя сегодня дела, мой дорогой друг?"]
    with TestClient(create_app(config)) as client:
        answer = client.post("/translate", json={"q": texts, "source": "auto", "target": "fr"})
    assert answer.status_code == 400
    message = answer.json()["error"]
    assert message.startswith("q[1]: text ('Привет") and "detected as rus" in message, message
    # the confidence is that of the language chosen among the model's sources, not of all the detector's
    with TestClient(create_app(config)) as client:
        body = client.post("/translate", json={"q": "Guten Morgen", "source": "auto", "target": "fr"}).json()
    restricted = LanguageIdentifier.from_pretrained("xling-langid").predict(
        ["Guten Morgen"], languages=["eng", "deu", "fra"]
    )
    assert body["detectedLanguage"] == {
        "confidence": round(100 * restricted[0][0].probability, 2),
        "language": "de",
    }
    assert message.endswith('give the source language (the "source" field)') and "--src" not in message


def test_translate_html_keeps_tags_and_leaves_untranslatable_text(client):
    html = "<p>The cat sleeps on the bed.</p><script>var x = 1;</script>"
    out = client.post("/translate", json={"q": html, "source": "en", "target": "de", "format": "html"}).json()
    text = out["translatedText"]
    assert text.startswith("<p>") and "</p>" in text and text.endswith("<script>var x = 1;</script>")
    assert "The cat sleeps" not in text
    emoji = client.post("/translate", json={"q": ["😀", "123"], "source": "en", "target": "de"}).json()
    assert emoji == {"translatedText": ["😀", "123"]}


@pytest.mark.parametrize(
    ("markup", "pieces"),
    [
        ('<a title="x > y" href="/God">In the beginning</a>',
         [('<a title="x > y" href="/God">', False), ("In the beginning", True), ("</a>", False)]),
        ("<!-- a > b -->text", [("<!-- a > b -->", False), ("text", True)]),
        ("<!DOCTYPE html><?php x ?><p>Tom &amp Jerry &#39;s&nbsp;</p>",
         [("<!DOCTYPE html><?php x ?><p>", False), ("Tom &amp Jerry &#39;s&nbsp;", True), ("</p>", False)]),
        ('<p>a\nb</p><script>if (a > b) x = "<p>";</script><style>p{}</style> c',
         [("<p>", False), ("a\nb", True), ('</p><script>if (a > b) x = "<p>";</script><style>p{}</style>', False),
          (" c", True)]),
        ("tail </> end", [("tail ", True), ("</>", False), (" end", True)]),
        ("<br/><hr>", [("<br/><hr>", False)]),
        # unterminated markup at the end stays markup (html.parser hands it over as text: it was translated)
        ("<p>Hello</p><!-- do not translate", [("<p>", False), ("Hello", True), ("</p><!-- do not translate", False)]),
        ('Hello <a href="x', [("Hello ", True), ('<a href="x', False)]),
        ("line\n<p>a\nb</p> c </b", [("line\n", True), ("<p>", False), ("a\nb", True), ("</p>", False), (" c ", True),
                                    ("</b", False)]),
        ("a < b and 1 <2 <", [("a < b and 1 <2 <", True)]),  # no tag opens here: text
        # an `&#` that starts no character reference: html.parser gave all after it as text, tags included
        ("R&#D <i>lab</i> team", [("R&#D ", True), ("<i>", False), ("lab", True), ("</i>", False), (" team", True)]),
        ("a &#; b <b>c</b>", [("a &#; b ", True), ("<b>", False), ("c", True), ("</b>", False)]),
    ],
)  # fmt: skip
def test_html_is_split_into_markup_kept_verbatim_and_text(markup, pieces):
    from xling.serving.routes.libretranslate import _html_pieces

    assert _html_pieces(markup) == pieces
    assert "".join(piece for piece, _ in pieces) == markup


def test_translate_html_keeps_quoted_attributes_comments_and_markup_alone(client):
    def translate(q: str, source: str = "en") -> dict:
        answer = client.post("/translate", json={"q": q, "source": source, "target": "de", "format": "html"})
        assert answer.status_code == 200, answer.text
        return answer.json()

    link = translate('<a title="x > y" href="/God">The cat sleeps on the bed.</a>')["translatedText"]
    assert link.startswith('<a title="x > y" href="/God">') and link.endswith("</a>"), link
    assert "The cat sleeps" not in link
    comment = translate("<!-- a > b -->The cat sleeps on the bed.")["translatedText"]
    assert comment.startswith("<!-- a > b -->") and "The cat sleeps" not in comment, comment
    # markup without text is not detected from its tag names: it comes back as it is, language unknown
    alone = translate("<br/><hr>", source="auto")
    assert alone == {"translatedText": "<br/><hr>", "detectedLanguage": {"confidence": 0, "language": "und"}}
    both = translate(["<br/><hr>", "<p>The cat sleeps on the bed.</p>"], source="auto")
    assert both["translatedText"][0] == "<br/><hr>" and both["detectedLanguage"][1]["language"] == "en", both
    entity = translate("<p>&nbsp;</p>", source="auto")["translatedText"]
    assert entity == "<p>&nbsp;</p>"


def test_a_parameter_repeated_in_the_query_string_keeps_every_value(client):
    both = client.post("/translate?q=The%20cat%20sleeps.&q=The%20dog%20sleeps.&source=en&target=de")
    texts = both.json()["translatedText"]
    assert both.status_code == 200 and isinstance(texts, list) and len(texts) == 2, both.text
    one = client.post("/translate?q=The%20cat%20sleeps.&source=en&target=de").json()["translatedText"]
    assert texts[0] == one
    detected = client.post("/detect?q=Die%20Kinder%20spielen%20drau%C3%9Fen.&q=The%20cat%20sleeps.").json()
    assert {candidate["language"] for candidate in detected[:2]} == {"de", "en"}  # one list for both texts
    twice = client.post("/translate?q=Hello&source=en&source=fr&target=de")
    assert twice.status_code == 400 and twice.json()["field"] == "source", twice.text


def test_translate_alternatives_are_the_beams_other_translations(client, translator):
    from xling.translation.decoding import DecodeOptions

    sentences = tiny_models.PARALLEL["eng"][:2]
    # the server's beam 1 widened to the 3 hypotheses asked for
    options = DecodeOptions(beam_size=3, num_hypotheses=3, max_length_b=4, max_length_a=1.0)
    expected = translator.translate_hypotheses(sentences[:1], "eng", "deu", options)[0]
    assert len(expected) > 1  # a random model's beam holds other outputs
    single = client.post(
        "/translate", json={"q": sentences[0], "source": "en", "target": "de", "alternatives": 2}
    )
    assert single.json() == {"translatedText": expected[0], "alternatives": expected[1:]}
    # a list `q` gets a list of lists; a form sends the count as text; 0 or a negative count asks for none
    batch = client.post(
        "/translate", data={"q": sentences[0], "source": "en", "target": "de", "alternatives": "2"}
    )
    assert batch.json()["alternatives"] == expected[1:]
    listed = client.post(
        "/translate", json={"q": sentences[:1], "source": "en", "target": "de", "alternatives": 2}
    )
    assert listed.json()["alternatives"] == [expected[1:]]
    for none in (0, -1):
        answer = client.post("/translate", json={"q": sentences[0], "source": "en", "target": "de",
                                                 "alternatives": none})  # fmt: skip
        assert "alternatives" not in answer.json()
    # as LibreTranslate: html gets an empty list, over the limit or not a number is a 400 naming the field
    tagged = client.post("/translate", json={"q": f"<b>{sentences[0]}</b>", "source": "en", "target": "de",
                                             "format": "html", "alternatives": 1})  # fmt: skip
    assert tagged.json()["alternatives"] == []
    for bad in (4, "two", 1.5, True, "--1", "+-1", "²", "9" * 5000, 10**30):
        refused = client.post("/translate", json={"q": sentences[0], "source": "en", "target": "de",
                                                  "alternatives": bad})  # fmt: skip
        assert refused.status_code == 400 and refused.json()["field"] == "alternatives", bad


def test_frontend_settings_and_libretranslates_own_codes(client):
    settings = client.get("/frontend/settings").json()
    assert settings["charLimit"] == 8192 and settings["apiKeys"] is False and settings["keyRequired"] is False
    assert settings["language"] == {"source": {"code": "auto", "name": "Auto Detect"},
                                    "target": {"code": "en", "name": "English"}}  # fmt: skip
    assert settings["filesTranslation"] is False and settings["supportedFilesFormat"] == []
    # "zt" and "pb" are LibreTranslate's Traditional Chinese and Brazilian Portuguese: this model has neither
    for code, name in (("zt", "zh-Hant"), ("pb", "pt-BR")):
        refused = client.post("/translate", json={"q": "Hello.", "source": "en", "target": code})
        assert refused.status_code == 400 and name in refused.json()["error"], refused.text


def test_detect_and_languages(client):
    candidates = client.post("/detect", data={"q": tiny_models.PARALLEL["deu"][3]}).json()
    assert candidates[0]["language"] == "de"
    assert [c["confidence"] for c in candidates] == sorted(
        (c["confidence"] for c in candidates), reverse=True
    )
    assert all(0 <= c["confidence"] <= 100 for c in candidates)
    # a list `q` gets one list, as LibreTranslate's detect_languages: each language's confidence averaged over
    # the texts that have it, ranked by it times their length (it was one list per text: res[0]["language"]
    # was a TypeError to LibreTranslate's clients)
    texts = [tiny_models.PARALLEL["fra"][0], tiny_models.PARALLEL["eng"][0]]
    merged = client.post("/detect", json={"q": texts}).json()
    assert all(isinstance(c, dict) for c in merged) and {c["language"] for c in merged[:2]} == {"fr", "en"}
    # nothing detected is English at confidence 0, as LibreTranslate answers
    assert client.post("/detect", data={"q": "12345 !!!"}).json() == [{"confidence": 0.0, "language": "en"}]


def test_detect_answers_only_languages_the_translator_translates_from(client, make_config, monkeypatch):
    # so that a detected code can be given to /translate (the detector named neighbours the translator lacks)
    from xling.translation.translator import Translator

    french = tiny_models.PARALLEL["fra"][0]
    as_french = client.post("/detect", data={"q": french}).json()[0]
    assert as_french["language"] == "fr"
    monkeypatch.setattr(Translator, "allowed_sources", lambda self, detector: ["deu", "eng"])
    with TestClient(create_app(make_config())) as fresh:  # a server whose translator lacks French
        answer = fresh.post("/detect", data={"q": french}).json()
    assert answer and {c["language"] for c in answer} <= {"de", "en"}, answer
    # each with its confidence among all the detector's languages, not renormalised over the two (a
    # Croatian text was Swedish at 97.7% so): what French leaves
    assert sum(c["confidence"] for c in answer) <= 100 - as_french["confidence"] + 0.1, (answer, as_french)
    # where that is 0 for every served language, the text's best of them is still the answer, at 0 (all
    # were dropped, and the answer was English at 0, LibreTranslate's "nothing found")
    from xling.langid.model import Prediction
    from xling.serving.routes.libretranslate import _ranked_candidates

    nothing = [Prediction("deu", 0.0), Prediction("eng", 0.0)]
    assert _ranked_candidates(["Dobar dan, kako ste?"], [nothing], batch=False) == [
        {"confidence": 0.0, "language": "de"}
    ]
    languages = client.get("/languages").json()
    assert languages == [{"code": "de", "name": "German", "targets": ["en", "fr"]},
                         {"code": "en", "name": "English", "targets": ["de", "fr"]},
                         {"code": "fr", "name": "French", "targets": ["de", "en"]}]  # fmt: skip


def test_search_across_languages_with_a_filter(client):
    body = client.post("/v1/search", json={"query": "the film was great", "k": 3}).json()
    assert body["index"] == "toy" and len(body["hits"]) == 3
    hit = body["hits"][0]
    assert set(hit) >= {"id", "text", "language", "score"}
    assert [h["score"] for h in body["hits"]] == sorted((h["score"] for h in body["hits"]), reverse=True)
    german = client.post("/v1/search", json={"query": "the film was great", "lang": "de", "k": 2}).json()[
        "hits"
    ]
    # the English query finds the German sentence with the same sentiment word ("great" and "gut" share a vector)
    assert [h["language"] for h in german] == ["deu", "deu"] and german[0]["id"] == "de-good"
    both = client.post("/v1/search", json={"query": "lovely", "lang": ["en", "deu"], "index": "toy"}).json()
    assert {h["language"] for h in both["hits"]} == {"eng", "deu"} and len(both["hits"]) == 8
    # a script or region in the filter is refused, as `xling index search --lang` refuses it: the index keeps
    # each document's language without them (sr-Latn matched Cyrillic documents)
    scripted = client.post("/v1/search", json={"query": "lovely", "lang": ["de", "sr-Latn"]})
    assert scripted.status_code == 400 and "sr-Latn" in scripted.json()["error"]
    # the message names the API's fields, not the command line's
    assert scripted.json()["error"].startswith("lang[1]: 'sr-Latn' names a script"), scripted.text
    assert "(detected_lang sr-Latn)" in scripted.json()["error"] and "--lang" not in scripted.json()["error"]
    # a filter's codes are parsed on the event loop: there is a cap (158,000 codes held it 2 s)
    fine = client.post("/v1/search", json={"query": "lovely", "lang": ["de"] * 1000, "k": 2})
    assert fine.status_code == 200 and {h["language"] for h in fine.json()["hits"]} == {"deu"}
    for field in ("lang", "detected_lang"):
        too_many = client.post("/v1/search", json={"query": "lovely", field: ["de"] * 1001})
        assert too_many.status_code == 400 and too_many.json()["field"] == field, too_many.text
        assert "1,001 language codes; a filter takes up to 1,000" in too_many.json()["error"]
        named = client.post("/v1/search", json={"query": "lovely", field: ",".join(["de"] * 1001)})
        assert named.status_code == 400 and "1,001 language codes" in named.json()["error"], named.text


def test_a_search_while_another_process_writes_the_index_is_503_with_retry_after(
    make_config, models, monkeypatch
):
    """The busy index was a 400 naming `query`: the client's text was not at fault, and retrying works."""
    import sqlite3

    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    other = sqlite3.connect(models.index / index_module.DB_FILE, isolation_level=None)
    with TestClient(create_app(make_config())) as client:
        other.execute("BEGIN EXCLUSIVE")  # `xling index add` in the middle of a large add
        try:
            busy = client.post("/v1/search", json={"query": "lovely", "k": 2})
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5", busy.text
        assert "the index is busy" in busy.json()["error"] and "field" not in busy.json()
        assert client.post("/v1/search", json={"query": "lovely", "k": 2}).status_code == 200


@contextlib.contextmanager
def locked_index(folder):
    """Hold the index in `folder` locked, as another process in the middle of a large `xling index add`."""
    import sqlite3

    from xling.retrieval.index import DB_FILE

    other = sqlite3.connect(folder / DB_FILE, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_detected_language_search_while_another_process_writes_the_index_is_503_with_retry_after(
    make_config, models, monkeypatch
):
    """The check of the filter let a raw sqlite3.OperationalError out (500), and a BusyError would have been a
    400 blaming `detected_lang`: neither is the client's fault, and retrying works."""
    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    with TestClient(create_app(make_config(preload=False))) as client:
        assert client.post("/v1/search", json={"query": "dog", "k": 2}).status_code == 200  # loads the index
        with locked_index(models.index):
            busy = client.post("/v1/search", json={"query": "dog", "detected_lang": "deu"})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5", busy.text
        assert "the index is busy" in busy.json()["error"] and "field" not in busy.json()
        # the toy index records no detected languages: once the writer is done, that 400 names the field
        after = client.post("/v1/search", json={"query": "dog", "detected_lang": "deu"})
        assert after.status_code == 400 and after.json()["field"] == "detected_lang", after.text


def test_an_index_busy_when_it_loads_is_503_with_retry_after_and_loads_on_a_later_request(
    make_config, models, monkeypatch
):
    """The load's error was kept as the slot's failure: the index answered 503 until the server restarted."""
    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    app = create_app(make_config(preload=False))
    with TestClient(app) as client:
        with locked_index(models.index):
            first = client.post("/v1/search", json={"query": "dog", "k": 2})
            again = client.post("/v1/search", json={"query": "dog", "k": 2})  # a try of its own, busy still
            listed = {m["role"]: m for m in client.get("/v1/models").json()["data"]}["index"]
        for busy in (first, again):
            assert busy.status_code == 503 and busy.headers["retry-after"] == "5", busy.text
            assert "the index is busy" in busy.json()["error"] and busy.json()["code"] == "busy"
        assert listed["state"] == "pending" and listed["busy"] and "the index is busy" in listed["error"]
        assert client.get("/health").json()["failed"] == []
        assert client.post("/v1/search", json={"query": "dog", "k": 2}).status_code == 200
        loaded = {m["role"]: m for m in client.get("/v1/models").json()["data"]}["index"]
        assert (
            loaded["loaded"] and "busy" not in loaded and "error" not in loaded and loaded["documents"] == 8
        )


def test_the_model_list_answers_while_another_process_writes_an_index(make_config, models, monkeypatch):
    """Counting the index's documents raised a BusyError that failed the whole listing (503), the encoder's
    entry with it: the count is null and the index marked busy instead."""
    import xling.retrieval.index as index_module

    monkeypatch.setattr(index_module, "WRITE_WAIT_S", 0.2)
    with TestClient(create_app(make_config(preload=False))) as client:
        assert client.post("/v1/search", json={"query": "dog", "k": 2}).status_code == 200  # loads the index
        with locked_index(models.index):
            listing = client.get("/v1/models")
            one = client.get("/v1/models/index")
        assert listing.status_code == 200, listing.text
        roles = {m["role"]: m for m in listing.json()["data"]}
        assert roles["index"]["documents"] is None and roles["index"]["busy"] and roles["index"]["loaded"]
        assert roles["encoder"]["loaded"] and roles["encoder"]["limits"]["dimension"] == 12
        assert one.status_code == 200 and one.json()["documents"] is None, one.text
        after = client.get("/v1/models/index").json()
        assert after["documents"] == 8 and "busy" not in after


def test_search_filters_on_the_detected_language_where_the_index_stores_it(make_config, models, tmp_path):
    from xling.data.documents import Document
    from xling.retrieval.index import SearchIndex

    from .conftest import DOCUMENTS

    # the same documents, their languages detected at indexing (the toy index of the other tests has none)
    documents = [Document(text, lang, key) for key, lang, text in DOCUMENTS]
    index, _ = SearchIndex.build(tmp_path / "detected", Encoder.load(models.encoder), documents,
                                 model=str(models.encoder), detector=LanguageIdentifier.from_pretrained(models.detector))  # fmt: skip
    stored = index.detected_languages()
    index.close()
    language = max(stored, key=stored.get)  # the label most documents got
    config = make_config(indexes={"toy": str(models.index), "detected": str(tmp_path / "detected")})
    with TestClient(create_app(config)) as client:
        query = {"query": "the film was great", "index": "detected", "k": 20}
        every = client.post("/v1/search", json=query).json()["hits"]
        only = client.post("/v1/search", json=query | {"detected_lang": [language]}).json()["hits"]
        plain = client.post("/v1/search", json={"query": "lovely", "detected_lang": "de"})  # the toy index
        bad = client.post("/v1/search", json=query | {"detected_lang": "zz-bad!"})
    assert {hit["detected"] for hit in every} == set(stored) and len(every) == sum(stored.values())
    assert {hit["detected"] for hit in only} == {language} and len(only) == stored[language]
    assert plain.status_code == 400 and plain.json()["field"] == "detected_lang"
    assert "records no detected languages" in plain.json()["error"]
    assert bad.status_code == 400 and bad.json()["field"] == "detected_lang"


def test_classify_in_another_language(client):
    body = client.post("/v1/classify", json={"inputs": ["der film war toll", "the film was awful"]}).json()
    assert body["labels"] == ["negative", "neutral", "positive"]
    assert [p["label"] for p in body["predictions"]] == ["positive", "negative"]
    for prediction in body["predictions"]:
        assert sum(prediction["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert prediction["score"] == max(prediction["probabilities"].values())


def test_answer_without_a_bot_is_503_naming_it(client):
    answer = client.post("/v1/answer", json={"question": "Where is my parcel?"})
    assert answer.status_code == 503 and "bot" in answer.json()["error"]


def test_answer_from_the_support_bot(make_config, models):
    with TestClient(create_app(make_config(bot=str(models.bot)))) as client:
        german = client.post("/v1/answer", json={"question": "der film war gut"})
        given = client.post("/v1/answer", json={"question": "my food is terrible", "lang": "en"})
        bad = client.post("/v1/answer", json={"question": "my food is terrible", "lang": "zz-bad!"})
    assert german.status_code == 200, german.text
    body = german.json()
    assert body["candidates"][0]["id"] == "film-good" and body["detected_language"] == "deu"
    assert body["answered"] and not body["handover"]
    # the German answer stored in the FAQ, in the asker's language
    assert body["answer"] == "Schön, dass dir der Film gefallen hat." and body["answer_source"] == "stored"
    assert given.json()["candidates"][0]["id"] == "food-bad" and given.json()["detected_language"] == "eng"
    assert bad.status_code == 400 and bad.json()["field"] == "lang"


def test_the_bot_translates_only_with_a_bot_translator(make_config, models):
    asked = {"question": "my food is terrible", "lang": "fr"}  # French: not stored in the toy FAQ
    with TestClient(create_app(make_config(bot=str(models.bot)))) as client:
        default = client.post("/v1/answer", json=asked).json()
    with TestClient(
        create_app(make_config(bot=str(models.bot), bot_translator=str(models.translator)))
    ) as client:
        translated = client.post("/v1/answer", json=asked).json()
    assert (default["answer_source"], default["answer_language"], default["in_asker_language"]) == (
        "original", "eng", False)  # fmt: skip
    assert (translated["answer_source"], translated["answer_language"]) == ("translated", "fra")
    assert translated["original_answer"] == default["answer"]


def test_a_bot_translator_that_cannot_load_fails_the_bot_not_its_questions(make_config, models, tmp_path):
    config = make_config(bot=str(models.bot), bot_translator=str(tmp_path / "no-such-model"))
    with TestClient(create_app(config)) as client:
        answer = client.post("/v1/answer", json={"question": "my food is terrible", "lang": "fr"})
        detect = client.post("/detect", json={"q": "der film war gut"})
    assert answer.status_code == 503 and "bot" in answer.json()["error"]
    assert detect.status_code == 200  # the other models keep working


def test_models_health_docs_and_metrics(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    roles = {m["role"]: m for m in models["data"]}
    assert roles["encoder"]["loaded"] and roles["encoder"]["limits"]["dimension"] == 12
    assert roles["translator"]["sources"] == ["deu", "eng", "fra"] and roles["index"]["documents"] == 8
    assert "bot" not in roles  # not configured: no model a client may pick (/health says why, below)
    # one model by its id, as the OpenAI SDK's models.retrieve asks (it was a 404)
    encoder_id = roles["encoder"]["id"]
    assert client.get(f"/v1/models/{encoder_id}").json() == roles["encoder"]
    assert client.get("/v1/models/translator").json()["role"] == "translator"
    for missing in ("text-embedding-3-small", "bot"):  # not served, or a role with nothing configured
        assert client.get(f"/v1/models/{missing}").status_code == 404, missing
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["models"]["classifier"]["loaded"]
    assert health["models"]["bot"]["state"] == "not configured"
    for path in ("/health", "/", "/v1/models", "/info", "/languages", "/metrics"):  # probes use HEAD
        head = client.head(path)
        assert head.status_code == 200 and head.content == b"", path
    schema = client.get("/openapi.json").json()
    assert schema["paths"]["/v1/embeddings"]
    # the errors the routes send, not FastAPI's 422 {"detail": [...]} (a generated client misread them all)
    assert "HTTPValidationError" not in json.dumps(schema)
    for path, status, fields in [("/v1/embeddings", "400", {"error"}), ("/translate", "400", {"error", "field"}),
                                 ("/v1/search", "422", {"error", "field"}), ("/embed", "422", {"error", "field"})]:  # fmt: skip
        responses = schema["paths"][path]["post"]["responses"]
        documented = responses[status]["content"]["application/json"]["schema"]["properties"]
        assert "422" not in responses or status == "422", path
        sent = client.post(path, json={"nonsense": 1})
        assert str(sent.status_code) == status and set(sent.json()) <= set(documented), (path, sent.text)
        assert fields <= set(sent.json()), (path, sent.text)
    # /embed answers an empty input 400, as text-embeddings-inference, and its schema says so
    assert "400" in schema["paths"]["/embed"]["post"]["responses"]
    assert client.post("/embed", json={"inputs": []}).status_code == 400
    openai_error = schema["paths"]["/v1/embeddings"]["post"]["responses"]["400"]["content"][
        "application/json"
    ]
    assert set(openai_error["schema"]["properties"]["error"]["properties"]) == {
        "message",
        "type",
        "param",
        "code",
    }
    # one operation id per operation (GET and HEAD /health shared one: client generators refuse that)
    ids = [
        op["operationId"] for path in schema["paths"].values() for op in path.values() if "operationId" in op
    ]
    assert len(ids) == len(set(ids)) and "get" in schema["paths"]["/health"]
    # a 405 names both methods it serves (in set order: Starlette keeps a route's methods in a set)
    assert set(client.post("/health").headers["allow"].split(", ")) == {"GET", "HEAD"}
    for path in ("/v1/models", "/info", "/languages", "/metrics"):  # their HEAD twins are routes apart
        assert set(client.post(path).headers["allow"].split(", ")) == {"GET", "HEAD"}, path
    assert client.get("/docs").status_code == 200


def test_the_model_list_leaves_out_roles_with_nothing_configured(make_config):
    # LiteLLM and UI pickers list the models and offer each: a role with nothing configured is no model
    config = make_config(detector="", translator="", classifier="", indexes={})
    with TestClient(create_app(config)) as client:
        listed = client.get("/v1/models").json()["data"]
        assert [entry["role"] for entry in listed] == ["encoder"], listed
        assert all(client.get(f"/v1/models/{entry['id']}").status_code == 200 for entry in listed)
        for role in ("detector", "translator", "classifier", "bot"):
            assert client.get(f"/v1/models/{role}").status_code == 404, role
        states = {name: model["state"] for name, model in client.get("/health").json()["models"].items()}
        assert states == {"encoder": "loaded", "detector": "not configured", "translator": "not configured",
                          "classifier": "not configured", "bot": "not configured"}  # fmt: skip


def test_metrics_count_requests_by_endpoint_and_status(client):
    def count(text: str, endpoint: str, status: int) -> float:
        pattern = rf'xling_requests_total\{{endpoint="{endpoint}",method="POST",status="{status}"\}} (\S+)'
        found = re.search(pattern, text)
        return float(found.group(1)) if found else 0.0

    before = client.get("/metrics").text
    for _ in range(3):
        client.post("/embed", json={"inputs": "a lovely day"})
    client.post("/embed", json={"inputs": []})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert count(after.text, "/embed", 200) - count(before, "/embed", 200) == 3
    assert count(after.text, "/embed", 400) - count(before, "/embed", 400) == 1  # an empty list: 400, as TEI
    assert 'xling_batch_size_texts_count{model="encoder"}' in after.text
    assert re.search(r'xling_request_duration_seconds_bucket\{endpoint="/embed",le="\+Inf"\} \d+', after.text)
    # the empty list's 400 counts as a bad request (the assertion on "validation", 422's kind, held only
    # after other tests of this file had sent /embed a body of the wrong type)
    errors = r'xling_errors_total\{endpoint="/embed",kind="bad_request"\} (\S+)'
    counted = [float(m.group(1)) if (m := re.search(errors, text)) else 0.0 for text in (before, after.text)]
    assert counted[1] - counted[0] == 1


def test_embed_answers_empty_input_400_and_a_wrong_type_422_as_tei(client):
    # text-embeddings-inference: ErrorType::Empty is 400; a body its JSON types refuse is 422
    for body in ({"inputs": []}, {"inputs": "   "}, {"inputs": ["fine", ""]}):
        assert client.post("/embed", json=body).status_code == 400, body
    assert client.post("/embed", json={"inputs": 3}).status_code == 422
