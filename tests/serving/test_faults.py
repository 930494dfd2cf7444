"""Faults: malformed and wrong requests get 4xx naming the field (never 5xx), API keys (401), rate limits
(429), sizes (413 or truncation), and a model that fails to load (503 on its endpoints only)."""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

import numpy as np
import pytest
from fastapi.testclient import TestClient

from xling.embeddings.encoder import Encoder
from xling.serving.app import create_app
from xling.serving.limits import RateLimiter
from xling.serving.models import ModelRegistry

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(make_config):
    with TestClient(create_app(make_config()), raise_server_exceptions=True) as test_client:
        yield test_client


# (method, path, body as JSON (or raw bytes), the field the message must name)
FAULTS = [
    ("POST", "/v1/embeddings", b'{"input": ["a", ', "body"),
    ("POST", "/v1/embeddings", {"input": 5}, "input"),
    ("POST", "/v1/embeddings", {"input": []}, "input"),
    ("POST", "/v1/embeddings", {"input": ["ok", ""]}, "input[1]"),
    ("POST", "/v1/embeddings", {"input": [[1, 2, 3]]}, "input"),
    ("POST", "/v1/embeddings", {"input": ["ok", [1, 2]]}, "input[1]"),
    ("POST", "/v1/embeddings", {"inputs": "wrong field name"}, "input"),
    ("POST", "/v1/embeddings", {"input": "x", "encoding_format": "int8"}, "encoding_format"),
    ("POST", "/v1/embeddings", {"input": "x", "dimensions": 3}, "dimensions"),
    ("POST", "/v1/embeddings", [1, 2], "body"),
    ("POST", "/embed", {"inputs": "x", "normalize": "maybe"}, "normalize"),
    ("POST", "/embed", {"inputs": ["   "]}, "inputs[0]"),
    # invisible format characters alone: the encoder read nothing and gave a zero vector, said normalised
    ("POST", "/embed", {"inputs": ["ok", "\u200b\ufeff "]}, "inputs[1]"),
    ("POST", "/v1/embeddings", {"input": "\u200d"}, "input"),
    # control characters alone: a 200 with a zero vector, and a search for them ranked everything at 0
    ("POST", "/v1/embeddings", {"input": ["Where is the station?", "\u0001", "\u000e\u001b"]}, "input[1]"),
    ("POST", "/embed", {"inputs": "\u007f\b"}, "inputs"),
    ("POST", "/detect", {"q": "\u200b"}, "q"),
    ("POST", "/embed", b"not json at all", "body"),
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "zz"}, "target"),
    ("POST", "/translate", {"q": "hello", "source": "xx-bad!", "target": "de"}, "source"),
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "ja"}, "target"),
    ("POST", "/translate", {"source": "en", "target": "de"}, "q"),
    ("POST", "/translate", {"q": [], "source": "en", "target": "de"}, "q"),
    ("POST", "/translate", {"q": ["ok", 3], "source": "en", "target": "de"}, "q[1]"),
    ("POST", "/translate", {"q": "hello", "target": "de"}, "source"),
    ("POST", "/translate", {"q": "hello", "source": "en"}, "target"),
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "de", "format": "xml"}, "format"),
    # a format of the wrong type was read as "text"
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "de", "format": 0}, "format"),
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "de", "format": False}, "format"),
    ("POST", "/translate", {"q": "hello", "source": "en", "target": "de", "format": []}, "format"),
    ("POST", "/translate", {"q": "hello", "source": ["en"], "target": "de"}, "source"),
    ("POST", "/translate", b"{broken", "body"),
    ("POST", "/translate", ["not", "an", "object"], "body"),
    ("POST", "/detect", {}, "q"),
    ("POST", "/detect", {"q": ""}, "q"),
    ("POST", "/v1/search", {"query": "film", "lang": "qqq-bad!"}, "lang"),
    ("POST", "/v1/search", {"query": "film", "index": "nope"}, "index"),
    ("POST", "/v1/search", {"query": "film", "k": 0}, "k"),
    ("POST", "/v1/search", {"query": "film", "k": 100000}, "k"),
    ("POST", "/v1/search", {"query": ""}, "query"),
    ("POST", "/v1/search", {"k": 3}, "query"),
    ("POST", "/v1/classify", {"inputs": ["good", None]}, "inputs[1]"),
    ("POST", "/v1/classify", {"inputs": "good", "language": "klingon!"}, "language"),
    ("POST", "/v1/answer", {"question": 42}, "question"),
    # strict types: no guessing what "3" or 1 meant
    ("POST", "/v1/search", {"query": "film", "k": "3"}, "k"),
    ("POST", "/v1/search", {"query": "film", "k": 2.0}, "k"),
    ("POST", "/embed", {"inputs": "x", "normalize": 1}, "normalize"),
    ("POST", "/v1/embeddings", {"input": "x", "dimensions": "8"}, "dimensions"),
    ("POST", "/v1/search", {"query": "film", "index": ""}, "index"),
    ("POST", "/v1/classify", {"inputs": "good", "language": "de,en"}, "language"),
    ("POST", "/v1/answer", {"question": "where is my parcel?", "lang": "de,en"}, "lang"),
    # a lone UTF-16 surrogate escape is not text any tokenizer can read (it used to be a 500)
    ("POST", "/embed", b'{"inputs": "\\ud800"}', "inputs"),
    ("POST", "/v1/embeddings", b'{"input": ["ok", "a\\udfff b"]}', "input[1]"),
    ("POST", "/v1/search", b'{"query": "film \\uD800"}', "query"),
    ("POST", "/v1/classify", b'{"inputs": "\\ud800"}', "inputs"),
    ("POST", "/v1/answer", b'{"question": "film \\ud800 good"}', "question"),
    ("POST", "/translate", b'{"q": "\\ud800", "source": "en", "target": "de"}', "q"),
    ("POST", "/translate", b'{"q": "hi", "source": "\\ud800", "target": "de"}', "source"),
    ("POST", "/translate", b'{"q": "hi", "source": "en", "target": "de", "format": "\\udc00"}', "format"),
    ("POST", "/detect", b'{"q": ["fine", "\\ud800"]}', "q[1]"),
    # JSON nested past Python's recursion limit (it used to be a 500), and bytes that are not UTF-8
    ("POST", "/embed", b"[" * 100_000, "body"),
    ("POST", "/v1/embeddings", b"[" * 100_000, "body"),
    ("POST", "/translate", b"[" * 100_000, "body"),
    ("POST", "/detect", b"[" * 100_000, "body"),
    ("POST", "/embed", b"\xff", "body"),
    ("POST", "/v1/embeddings", b'{"input": "\xff\xfe"}', "body"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), FAULTS)
def test_faults_are_4xx_naming_the_field(client, method, path, body, field):
    if isinstance(body, bytes):
        answer = client.request(method, path, content=body, headers=JSON)
    else:
        answer = client.request(method, path, json=body)
    assert 400 <= answer.status_code < 500, answer.text
    payload = answer.json()
    error = payload["error"]
    message = error["message"] if isinstance(error, dict) else error
    named = error.get("param") if isinstance(error, dict) else payload.get("field")
    assert named == field, payload
    assert field.split("[")[0] in message or field in ("body", "q", "source", "target", "format"), message
    if (
        path == "/translate"
    ):  # LibreTranslate answers 400 for every bad parameter, an unknown language included
        assert answer.status_code == 400
    if path == "/v1/embeddings":  # as OpenAI: 400 (the openai SDK's BadRequestError), in OpenAI's error shape
        assert answer.status_code == 400 and error["type"] == "invalid_request_error", payload


def test_escaped_surrogate_pairs_are_text_and_lone_ones_in_keys_are_refused(client):
    emoji = client.post("/embed", content=b'{"inputs": "nice \\ud83d\\ude00"}', headers=JSON)
    assert emoji.status_code == 200, emoji.text
    key = client.post("/embed", content=b'{"inputs": "x", "\\ud800": 1}', headers=JSON)
    assert key.status_code == 422 and key.json()["field"] == "body", key.text


@pytest.mark.parametrize("path", ["/embed", "/v1/embeddings", "/v1/search", "/v1/classify", "/detect"])
def test_a_lone_surrogate_the_body_check_cannot_see_is_a_4xx_naming_the_field(client, path):
    field = {"/embed": "inputs", "/v1/embeddings": "input", "/v1/search": "query", "/v1/classify": "inputs",
             "/detect": "q"}[path]  # fmt: skip
    text = f'{{"{field}": "ab\\ud800cd"}}'
    # a JSON body in UTF-16 (json.loads detects it), and a repeated Content-Type whose last value is not JSON
    for content, headers in [
        (text.encode("utf-16"), JSON),
        (text.encode(), [*JSON.items(), ("Content-Type", "text/plain")]),
    ]:
        answer = client.post(path, content=content, headers=headers)
        assert 400 <= answer.status_code < 500 and "surrogate" in answer.text, (path, answer.text)


def test_metrics_count_unusual_http_methods_as_other(client):
    for method in ("FOO0", "FOO1"):
        client.request(method, "/health")
    metrics = client.get("/metrics").text
    assert 'method="FOO0"' not in metrics and 'endpoint="/health",method="other",status="405"} 2' in metrics


def test_text_that_is_not_utf8_in_a_query_string_or_form_is_a_400(client):
    query = client.post("/translate?q=%ED%A0%80&source=en&target=de")
    assert query.status_code == 400 and query.json()["field"] == "q", query.text
    form = client.post("/translate", content=b"q=%FF&source=en&target=de",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert form.status_code == 400 and "UTF-8" in form.json()["error"], form.text
    fine = client.post("/detect?q=%C3%BCber%20den%20Wolken")  # percent-encoded UTF-8 is fine
    assert fine.status_code == 200, fine.text


def test_unknown_language_code_names_the_code(client):
    answer = client.post("/translate", data={"q": "Hello", "source": "en", "target": "zz"})
    assert answer.status_code == 400 and answer.json()["error"].startswith("'zz' is not supported")
    assert client.get("/translate").status_code == 405 and "error" in client.get("/translate").json()
    assert client.get("/no/such/path").status_code == 404


def test_api_keys_and_rate_limit(make_config):
    config = make_config("limits.api_keys=k1,k2", "limits.rate_limit_per_minute=3")
    with TestClient(create_app(config)) as client:
        missing = client.post("/embed", json={"inputs": "a lovely day"})
        assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
        assert missing.json()["field"] == "Authorization"
        wrong = client.post("/v1/embeddings", json={"input": "x"}, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"]["param"] == "Authorization"
        assert client.get("/health").status_code == 200  # open: load balancers have no key
        # open too: LibreTranslate's web page reads it to learn that it needs a key
        assert client.get("/frontend/settings").json()["keyRequired"] is True
        assert client.get("/metrics").status_code == 200
        assert client.get("/docs").status_code == 200 and client.get("/").status_code == 200
        served = client.get("/v1/models").json()["data"][0]["id"]
        assert client.get(f"/v1/models/{served}").status_code == 200  # OpenAI's models.retrieve
        # the page is open to read, not TEI's embeddings route at the same path
        assert client.post("/", json={"inputs": "a lovely day"}).status_code == 401
        ok = client.post("/embed", json={"inputs": "a lovely day"}, headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200
        # LibreTranslate clients send the key in the body (libretranslatepy: a form field)
        form = urlencode({"q": "The cat sleeps on the bed.", "source": "en", "target": "de", "api_key": "k1"})
        lt = client.post(
            "/translate", content=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert lt.status_code == 200
        detect = client.post("/detect", json={"q": "Wo ist der Bahnhof?", "api_key": "k1"})
        assert detect.status_code == 200
        limited = client.post(
            "/embed", json={"inputs": "a lovely day"}, headers={"Authorization": "Bearer k1"}
        )
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        # each key has its own bucket
        other = client.post("/embed", json={"inputs": "a lovely day"}, headers={"Authorization": "Bearer k2"})
        assert other.status_code == 200
        metrics = client.get("/metrics").text
        assert 'xling_requests_total{endpoint="/embed",method="POST",status="429"} 1' in metrics
        assert 'xling_errors_total{endpoint="/embed",kind="auth"} 1' in metrics


def test_a_key_holding_a_lone_surrogate_is_a_401_and_deep_json_a_400(make_config):
    with TestClient(create_app(make_config("limits.api_keys=k1")), raise_server_exceptions=False) as client:
        answer = client.post("/embed", content=b'{"inputs": "x", "api_key": "\\ud800"}', headers=JSON)
        assert answer.status_code == 401, answer.text
        deep = client.post(
            "/translate", content=b"[" * 100_000, headers={**JSON, "Authorization": "Bearer k1"}
        )
        assert deep.status_code == 400 and deep.json()["field"] == "body", deep.text
        deep_key = client.post("/translate", content=b"[" * 100_000, headers=JSON)  # no key: looked for in it
        assert deep_key.status_code == 401, deep_key.text


def test_api_docs_load_every_file_from_the_server_without_a_key(make_config):
    """/docs and /redoc name no outside host (FastAPI's own pages load Swagger UI and ReDoc from a CDN, blank
    offline), and each file they name answers without an API key."""
    with TestClient(create_app(make_config("limits.api_keys=k1"))) as client:
        for page, expected in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            answer = client.get(page)
            assert answer.status_code == 200, page
            urls = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]+)['"]|url:\s*['"]([^'"]+)['"]""", answer.text)
            urls = [first or second for first, second in urls]
            assert any(url.endswith(expected) for url in urls), urls
            for url in urls:
                assert url.startswith("/") and not url.startswith("//"), (page, url)
                assert client.get(url).status_code == 200, (page, url)


def test_wrong_keys_are_rate_limited_by_client_address(make_config):
    config = make_config("limits.api_keys=k1", "limits.rate_limit_per_minute=3")
    with TestClient(create_app(config)) as client:
        for key in ("guess1", "guess2", None):  # a wrong key or none spends the address's tokens
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            assert client.post("/embed", json={"inputs": "a lovely day"}, headers=headers).status_code == 401
        guess = client.post("/embed", json={"inputs": "x"}, headers={"Authorization": "Bearer guess3"})
        assert guess.status_code == 429 and int(guess.headers["retry-after"]) >= 1
        assert guess.json()["code"] == "rate_limit_exceeded"
        body_guess = client.post("/detect", data={"q": "Wo ist der Bahnhof?", "api_key": "guess4"})
        assert body_guess.status_code == 429
        # a valid key keeps its own bucket
        ok = client.post("/embed", json={"inputs": "a lovely day"}, headers={"Authorization": "Bearer k1"})
        assert ok.status_code == 200
        metrics = client.get("/metrics").text
        assert 'xling_requests_total{endpoint="/embed",method="POST",status="401"} 3' in metrics
        assert 'xling_requests_total{endpoint="/embed",method="POST",status="429"} 1' in metrics


def test_libretranslate_key_in_the_query_string_or_a_json_body_of_any_case(make_config):
    with TestClient(create_app(make_config("limits.api_keys=k1"))) as client:
        query = client.post("/detect?api_key=k1", data={"q": "Wo ist der Bahnhof?"})
        assert query.status_code == 200 and query.json()[0]["language"] == "de"
        assert client.post("/detect?api_key=k1", json={"q": "Wo ist der Bahnhof?"}).status_code == 200
        assert client.post("/detect?api_key=k2", data={"q": "Wo ist der Bahnhof?"}).status_code == 401
        body = json.dumps({"q": "Wo ist der Bahnhof?", "api_key": "k1"})
        for content_type in ("Application/JSON", "application/json; charset=UTF-8"):
            answer = client.post("/detect", content=body, headers={"Content-Type": content_type})
            assert answer.status_code == 200, (content_type, answer.text)
        form = client.post("/detect", content=urlencode({"q": "Wo ist der Bahnhof?", "api_key": "k1"}),
                           headers={"Content-Type": "Application/X-WWW-Form-Urlencoded"})  # fmt: skip
        assert form.status_code == 200
        wrong = json.dumps({"q": "Wo ist der Bahnhof?", "api_key": "k2"})
        assert (
            client.post("/detect", content=wrong, headers={"Content-Type": "Application/JSON"}).status_code
            == 401
        )


def test_multipart_forms_carry_the_key_and_bad_ones_get_400(make_config):
    with TestClient(create_app(make_config("limits.api_keys=k1"))) as client:
        fields = {"q": (None, "Wo ist der Bahnhof?"), "api_key": (None, "k1")}
        assert client.post("/detect", files=fields).status_code == 200
        assert client.post("/detect", files={"q": (None, "Wo ist der Bahnhof?")}).status_code == 401
        upload = client.post("/detect", files={"q": ("q.txt", b"Wo ist der Bahnhof?")},
                             headers={"Authorization": "Bearer k1"})  # fmt: skip
        assert upload.status_code == 400 and "file upload" in upload.json()["error"]
        broken = client.post("/detect", content=b"q=1", headers={"Authorization": "Bearer k1",
                                                                 "Content-Type": "multipart/form-data"})  # fmt: skip
        assert broken.status_code == 400 and "boundary" in broken.json()["error"]
        other = client.post("/detect", content=b"<q/>", headers={"Authorization": "Bearer k1",
                                                                 "Content-Type": "application/xml"})  # fmt: skip
        assert other.status_code == 415 and "multipart/form-data" in other.json()["error"]
        # headers the email package cannot read (a parameter `x*` with no value raised IndexError): a 500,
        # before the key check too; and a part header of 200 KB took seconds of the event loop to parse
        part = b'--X\r\nContent-Disposition: form-data; name="q"%s\r\n\r\nWo ist der Bahnhof?\r\n--X--\r\n'
        bad = [("multipart/form-data; boundary=X; a*", part % b"", "cannot be read (IndexError)"),
               ("multipart/form-data; boundary=X", part % b"; x*", "cannot be read (IndexError)"),
               ("multipart/form-data; boundary=X", part % (b"; a=b" * 40_000), "headers take over 8192 bytes")]  # fmt: skip
        for content_type, body, message in bad:
            anonymous = client.post("/detect", content=body, headers={"Content-Type": content_type})
            assert anonymous.status_code == 401, anonymous.text
            keyed = client.post("/detect", content=body, headers={"Content-Type": content_type,
                                                                  "Authorization": "Bearer k1"})  # fmt: skip
            assert keyed.status_code == 400 and message in keyed.json()["error"], keyed.text


def test_a_multipart_form_of_more_parts_than_the_server_reads_is_a_413_before_its_parts_are_parsed(
    make_config,
):
    # the standard library parses a part in ~0.6 ms on the event loop: 18,000 parts held every request ~11 s
    def form(texts: int) -> tuple[bytes, dict[str, str]]:
        return _multipart(
            [("q", "utf-8", b"Hello")] * texts + [("source", "utf-8", b"en"), ("target", "utf-8", b"de")]
        )

    for settings, headers in ((("limits.max_texts=4",), {}),
                              (("limits.max_texts=4", "limits.api_keys=k1"), {"Authorization": "Bearer k1"})):  # fmt: skip
        with TestClient(create_app(make_config(*settings))) as client:
            for path in ("/translate", "/detect"):
                body, content_type = form(40)  # over max_texts + LibreTranslate's other fields
                answer = client.post(path, content=body, headers=content_type | headers)
                assert answer.status_code == 413 and "over 20 parts" in answer.json()["error"], answer.text
                if headers:  # without a key too: the key check would have parsed it
                    anonymous = client.post(path, content=body, headers=content_type)
                    assert anonymous.status_code == 413, anonymous.text
                assert answer.json()["code"] == "payload_too_large", answer.text
                body, content_type = form(4)
                assert client.post(path, content=body, headers=content_type | headers).status_code == 200
                # the boundary's text inside a part is no delimiter: it is not counted as parts
                body, content_type = _multipart([("q", "utf-8", b"x" + b" --xlingboundary" * 50),
                                                 ("source", "utf-8", b"en"), ("target", "utf-8", b"de")])  # fmt: skip
                assert client.post(path, content=body, headers=content_type | headers).status_code == 200
                body, content_type = form(5)  # within the parts, over max_texts: the route's own 413 on q
                over = client.post(path, content=body, headers=content_type | headers)
                assert over.status_code == 413 and over.json()["field"] == "q", over.text


def test_parts_whose_delimiter_follows_a_bare_cr_are_counted_too():
    from xling.serving.forms import FormError, form_fields

    # the email parser ends a line at a bare CR as well: such parts escaped a count of LF-led delimiters
    part = b'--bnd\r\nContent-Disposition: form-data; name="q"\r\n\r\nHello\r'
    body, content_type = part * 40 + b"--bnd--\r\n", "multipart/form-data; boundary=bnd"
    assert len(form_fields(content_type, body)["q"]) == 40
    with pytest.raises(FormError, match="over 20 parts") as refused:
        form_fields(content_type, body, 20)
    assert refused.value.status == 413
    assert len(form_fields(content_type, part * 20 + b"--bnd--\r\n", 20)["q"]) == 20


def test_a_valid_key_beside_a_field_the_route_refuses_gets_that_fields_400_not_a_401(make_config):
    with TestClient(create_app(make_config("limits.api_keys=k1"))) as client:
        form = client.post("/translate", content=b"q=%FF&source=en&target=de&api_key=k1",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert form.status_code == 400 and "UTF-8" in form.json()["error"], form.text
        upload = client.post("/translate", files={"q": ("q.txt", b"Hello"), "source": (None, "en"),
                                                  "target": (None, "de"), "api_key": (None, "k1")})  # fmt: skip
        assert upload.status_code == 400 and "file upload" in upload.json()["error"], upload.text
        latin, headers = _multipart([("q", "utf-8", b"Hello"), ("source", "latin-1", b"en"),
                                     ("target", "utf-8", b"de"), ("api_key", "utf-8", b"k1")])  # fmt: skip
        other = client.post("/translate", content=latin, headers=headers)
        assert other.status_code == 400 and other.json()["field"] == "source", other.text
        # the key itself in another charset: left out, so no key (401); its field was left as an empty list of
        # values, and looking the key up in it failed in the guard (IndexError, a 500)
        unread, headers = _multipart([("q", "utf-8", b"Hello"), ("source", "utf-8", b"en"),
                                      ("target", "utf-8", b"de"), ("api_key", "latin-1", b"k1")])  # fmt: skip
        no_key = client.post("/translate", content=unread, headers=headers)
        assert no_key.status_code == 401, no_key.text
        wrong = client.post("/translate", content=b"q=%FF&source=en&target=de&api_key=k2",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert wrong.status_code == 401, wrong.text


def test_a_query_string_is_only_checked_where_a_route_reads_it(client):
    for path in ("/health", "/languages", "/v1/models"):  # they read no parameter: an odd one is ignored
        assert client.get(f"{path}?x=%ff").status_code == 200, path
    assert client.post("/detect?q=%ff").status_code == 400


def test_rate_limiter_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.take("a") == 0 and limiter.take("a") == 0
    assert limiter.take("a") == pytest.approx(30.0)  # one token every 30 s at 2 a minute
    assert limiter.take("b") == 0
    now[0] = 30.0
    assert limiter.take("a") == 0 and limiter.take("a") > 0


def test_rate_limiter_remembers_at_most_max_keys_forgetting_the_longest_idle():
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0], max_keys=2)
    assert limiter.take("a") == 0 and limiter.take("b") == 0
    now[0] = 1.0
    assert limiter.take("a") > 0  # a asked again: b is now the longest idle
    assert limiter.take("c") == 0  # a third key: b is forgotten, a is not
    assert limiter.take("a") > 0 and limiter.take("b") == 0


def test_body_texts_and_characters_limits(make_config, models):
    encoder = Encoder.load(models.encoder)
    config = make_config("limits.max_body_bytes=2000", "limits.max_texts=2", "limits.max_chars=12")
    with TestClient(create_app(config)) as client:
        big = client.post("/embed", json={"inputs": "x" * 5000})
        assert big.status_code == 413 and big.json()["field"] == "body"
        # a chunked body (no Content-Length) over the limit: refused once the limit is passed
        chunks = (b'{"inputs": "' + b"x" * 500 + b'"}' for _ in range(8))
        chunked = client.post("/embed", content=chunks, headers=JSON)
        assert chunked.status_code == 413
        many = client.post("/v1/embeddings", json={"input": ["a", "b", "c"]})
        assert many.status_code == 413 and many.json()["error"]["param"] == "input"
        # overlong texts are cut to max_chars by default
        long = "the film was good and more"
        cut = client.post("/v1/embeddings", json={"input": [long]}).json()["data"][0]["embedding"]
        np.testing.assert_allclose(cut, encoder.encode([long[:12]])[0], atol=1e-5)
        assert not np.allclose(cut, encoder.encode([long])[0], atol=1e-3)
        # ... except where the client asks not to: TEI's `truncate: false` (its default) gets 413, as over the
        # token limit (it was cut without a word)
        assert client.post("/embed", json={"inputs": [long], "truncate": True}).json() == [cut]
        kept = client.post("/embed", json={"inputs": ["short", long]})
        assert kept.status_code == 413 and kept.json()["field"] == "inputs[1]"
    with TestClient(create_app(make_config("limits.max_chars=12", "limits.overlong=reject"))) as client:
        refused = client.post("/embed", json={"inputs": ["short", "the film was good and more"]})
        assert refused.status_code == 413 and refused.json()["field"] == "inputs[1]"
        lt = client.post(
            "/translate", json={"q": "The cat sleeps on the bed.", "source": "en", "target": "de"}
        )
        assert lt.status_code == 413 and lt.json()["field"] == "q"


def test_a_text_to_translate_over_max_chars_is_refused_whatever_overlong_says(make_config):
    # cut, its translation would lack its end (html: its closing tags too) with nothing saying so
    long = "<p>the film was good and more</p><p>TAIL</p>"
    with TestClient(create_app(make_config("limits.max_chars=12"))) as client:  # overlong = "truncate"
        for body, field in [
            ({"q": long, "source": "en", "target": "de", "format": "html"}, "q"),
            ({"q": ["the film", long], "source": "auto", "target": "de"}, "q[1]"),
        ]:
            answer = client.post("/translate", json=body)
            assert answer.status_code == 413, answer.text
            assert answer.json()["field"] == field and answer.json()["error"].startswith(f"{field}: ")
            assert "12 per text" in answer.json()["error"], answer.text
        form = client.post("/translate", data={"q": long, "source": "en", "target": "de"})
        assert form.status_code == 413 and form.json()["field"] == "q", form.text
        # the other routes still cut it, as the config says
        assert client.post("/detect", json={"q": long}).status_code == 200
        assert client.post("/embed", json={"inputs": long, "truncate": True}).status_code == 200
        short = client.post("/translate", json={"q": long[:12], "source": "en", "target": "de"})
        assert short.status_code == 200, short.text


@pytest.mark.parametrize("field", ["source", "target"])
@pytest.mark.parametrize("value", [0, False, [], {}, 5])
def test_a_language_that_is_not_a_string_is_named_so_not_missing(client, field, value):
    body = {"q": "the film was good", "source": "en", "target": "de", field: value}
    answer = client.post("/translate", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": f"Invalid request: {field} must be a language code string",
        "field": field,
    }
    for missing in (None, ""):
        gone = client.post("/translate", json={**body, field: missing})
        assert gone.status_code == 400, gone.text
        assert gone.json()["error"] == f"Invalid request: missing {field} parameter"


def test_a_text_left_blank_by_the_cut_to_max_chars_is_refused_naming_it(make_config):
    blank = " " * 20 + "the film was good"  # only spaces in its first 12 characters
    with TestClient(create_app(make_config("limits.max_chars=12"))) as client:
        for path, body, field in [
            ("/v1/embeddings", {"input": ["ok", blank]}, "input[1]"),
            ("/embed", {"inputs": ["ok", blank], "truncate": True}, "inputs[1]"),
            ("/v1/classify", {"inputs": [blank]}, "inputs[0]"),
            ("/v1/search", {"query": blank}, "query"),
            ("/translate", {"q": ["hello", blank], "source": "en", "target": "de"}, "q[1]"),
        ]:
            answer = client.post(path, json=body)
            assert 400 <= answer.status_code < 500, (path, answer.text)
            error = answer.json()["error"]
            named = error["param"] if isinstance(error, dict) else answer.json()["field"]
            message = error["message"] if isinstance(error, dict) else error
            assert named == field and message.startswith(f"{field}: ") and "12" in message, (
                path,
                answer.text,
            )
        # the cut leaves words: still served
        assert (
            client.post("/embed", json={"inputs": ["  the film was good"], "truncate": True}).status_code
            == 200
        )


def test_a_search_query_the_encoder_refuses_is_a_400_naming_query(make_config):
    from xling.errors import DataError
    from xling.serving.models import INDEX_PREFIX

    class Refusing:
        def __init__(self, encoder):
            self.encoder = encoder

        def encode(self, texts, **options):
            if any("refuse" in text for text in texts):
                raise DataError("text 0 is not something this encoder reads")
            return self.encoder.encode(texts, **options)

    app = create_app(make_config())
    with TestClient(app) as client:
        entry = app.state.xling.registry.get(INDEX_PREFIX + "toy")
        entry.encoder = Refusing(entry.encoder)
        refused = client.post("/v1/search", json={"query": "refuse this"})
        assert refused.status_code == 400 and refused.json()["field"] == "query", refused.text
        assert refused.json()["error"].startswith("query: ")
        assert client.post("/v1/search", json={"query": "the film"}).status_code == 200


def test_a_model_that_fails_to_load_gives_503_on_its_endpoints_only(make_config, tmp_path):
    config = make_config(translator=str(tmp_path / "missing-translator"), classifier=str(tmp_path))
    with TestClient(create_app(config)) as client:
        answer = client.post("/translate", json={"q": "Hello", "source": "en", "target": "de"})
        assert answer.status_code == 503
        assert "translator" in answer.json()["error"] and "missing-translator" in answer.json()["error"]
        assert client.get("/languages").status_code == 503
        assert client.post("/v1/classify", json={"inputs": "good"}).status_code == 503
        assert client.post("/v1/embeddings", json={"input": "a lovely day"}).status_code == 200
        assert client.post("/detect", json={"q": "Wo ist der Bahnhof?"}).status_code == 200
        health = client.get("/health").json()
        assert health["status"] == "degraded" and set(health["failed"]) == {"translator", "classifier"}
        models = {m["role"]: m for m in client.get("/v1/models").json()["data"]}
        assert not models["translator"]["loaded"] and models["translator"]["error"]
        assert models["encoder"]["loaded"]


def _gpus(monkeypatch, count: int) -> None:
    """Make torch see `count` CUDA devices, whatever this machine has (so that device=cuda validates)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_classifier_is_loaded_on_the_servers_device(make_config, monkeypatch, device):
    """The server loaded its classifier with no device (the CPU) whatever its `device`, its encoder on it."""
    _gpus(monkeypatch, 1)
    real_load, asked = Encoder.load.__func__, []

    def load(cls, source, **options):  # the frozen classifier's encoder: the device it is asked for
        asked.append(options.get("device"))
        return real_load(cls, source, **{**options, "device": "cpu"})  # no GPU here: the toy runs on the CPU

    monkeypatch.setattr(Encoder, "load", classmethod(load))
    registry = ModelRegistry(make_config(f"device={device}"))
    try:
        classifier = registry.get("classifier")
        assert asked == [device]
        assert classifier.predict(["a lovely day"])[0] in classifier.labels
    finally:
        registry.close()


def test_a_static_fine_tuned_classifier_is_loaded_on_the_servers_device(
    make_config, models, monkeypatch, tmp_path
):
    """StaticFinetunedClassifier.load took no device: the server could not put it on its own. The torch
    device `meta` (no memory, no GPU) stands for the server's GPU, so its weights show where they went."""
    from xling.training.loop import TrainingConfig
    from xling.transfer.static_finetune import StaticFinetuneConfig, finetune_static

    from .conftest import toy

    training = TrainingConfig(max_steps=3, batch_size=16, warmup_steps=1, log_every=50, checkpoint_every=200,
                              threads=1)  # fmt: skip
    config = StaticFinetuneConfig(encoder=str(models.encoder), training=training)
    folder = finetune_static(toy.texts("eng"), None, config).save(tmp_path / "static")
    registry = ModelRegistry(make_config(classifier=str(folder)))
    try:
        assert registry.get("classifier").model.head.weight.device.type == "cpu"  # device=cpu, the default
    finally:
        registry.close()
    monkeypatch.setattr("xling.devices.resolve_device", lambda device: "meta")
    registry = ModelRegistry(make_config(classifier=str(folder)))
    try:
        model = registry.get("classifier").model
        assert {parameter.device.type for parameter in model.parameters()} == {"meta"}
    finally:
        registry.close()


def test_the_bot_fails_with_a_detector_that_failed_and_loads_its_own_when_none_is_configured(
    make_config, models, tmp_path
):
    # answering every question in the FAQ's language, with a 200, would hide the missing detector
    config = make_config(bot=str(models.bot), detector=str(tmp_path / "missing-detector"))
    with TestClient(create_app(config)) as client:
        answer = client.post("/v1/answer", json={"question": "der film war gut"})
        assert answer.status_code == 503 and "missing-detector" in answer.json()["error"], answer.text
    with TestClient(create_app(make_config(bot=str(models.bot), detector=""))) as client:
        answer = client.post("/v1/answer", json={"question": "Der Film war wirklich sehr gut."})
        assert answer.status_code == 200 and answer.json()["detected_language"] == "deu", answer.text
        assert client.post("/detect", json={"q": "Wo ist der Bahnhof?"}).status_code == 503


def test_a_shipped_detector_that_cannot_load_fails_the_bot_not_its_first_question(
    make_config, models, tmp_path, monkeypatch
):
    # with no detector configured the bot takes the shipped one: a broken install is the server's fault (503)
    monkeypatch.setattr("xling.langid.model.DEFAULT_IDENTIFIER", str(tmp_path / "no-detector"))
    with TestClient(create_app(make_config(bot=str(models.bot), detector=""))) as client:
        answer = client.post("/v1/answer", json={"question": "Der Film war wirklich sehr gut."})
    assert answer.status_code == 503 and "bot" in answer.json()["error"], answer.text


def test_lazy_loading_loads_once_on_first_use(make_config):
    app = create_app(make_config(preload=False))
    with TestClient(app) as client:
        registry = app.state.xling.registry
        assert not registry.loaded("encoder") and not registry.loaded("translator")
        assert client.post("/embed", json={"inputs": "a lovely day"}).status_code == 200
        assert registry.loaded("encoder") and not registry.loaded("translator")
        first = registry.get("encoder")
        client.post("/embed", json={"inputs": "a lovely day"})
        assert registry.get("encoder") is first


def test_cors_is_off_unless_configured(make_config, client):
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}  # fmt: skip
    plain = client.post("/embed", json={"inputs": "a lovely day"}, headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in plain.headers
    with TestClient(create_app(make_config("cors_origins=https://example.org", "limits.api_keys=k"))) as cors:
        allowed = cors.options("/embed", headers=preflight)  # a preflight carries no key: it must pass
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://example.org"
        other = cors.options("/embed", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        assert other.status_code == 400 and other.json()["field"] == "Origin"  # JSON, as every refusal
        # a refusal names the request header it is about
        private = cors.options(
            "/embed", headers={**preflight, "Access-Control-Request-Private-Network": "true"}
        )
        assert private.status_code == 400, private.text
        assert private.json()["field"] == "Access-Control-Request-Private-Network", private.text
        answer = cors.post("/embed", json={"inputs": "a lovely day"},
                           headers={"Origin": "https://example.org", "Authorization": "Bearer k"})  # fmt: skip
        assert answer.headers["access-control-allow-origin"] == "https://example.org"


def test_a_cors_preflight_allows_the_headers_openais_sdk_sends_from_a_browser(make_config):
    # openai-node in a browser sends x-stainless-* headers on every request, and OpenAI-Organization /
    # OpenAI-Project where set: a fixed list of allowed headers refused its every preflight
    asked = ("authorization,content-type,x-stainless-lang,x-stainless-retry-count,x-stainless-timeout,"
             "openai-organization,openai-project")  # fmt: skip
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": asked}  # fmt: skip
    with TestClient(create_app(make_config("cors_origins=http://app.example", "limits.api_keys=k"))) as cors:
        answer = cors.options("/v1/embeddings", headers=preflight)
        assert answer.status_code == 200, answer.text
        assert answer.headers["access-control-allow-origin"] == "http://app.example"
        assert answer.headers["access-control-allow-headers"] == asked  # each header named: no bare "*"
        assert "access-control-allow-credentials" not in answer.headers  # the key is a header, not a cookie
        other = cors.options("/v1/embeddings", headers={**preflight, "Origin": "https://evil.example"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers


def test_an_unexpected_failure_is_a_logged_500_without_internals(make_config, caplog):
    class Broken:
        kind, dimension, module, name = "static", 12, None, "broken"

        def encode(self, texts, **options):
            raise RuntimeError("secret internal detail")

    app = create_app(make_config(preload=False))
    slot = app.state.xling.registry.slots["encoder"]
    slot.state, slot.model = "loaded", Broken()
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post("/embed", json={"inputs": "a lovely day"})
        assert answer.status_code == 500
        assert "RuntimeError" in answer.json()["error"] and "secret" not in answer.text
        assert (
            client.post("/detect", json={"q": "Wo ist der Bahnhof?"}).status_code == 200
        )  # the rest still works
        metrics = client.get("/metrics").text
    assert 'xling_errors_total{endpoint="/embed",kind="internal"} 1' in metrics
    assert 'xling_requests_total{endpoint="/embed",method="POST",status="500"} 1' in metrics
    assert any(
        "secret internal detail" in record.getMessage() or record.exc_info for record in caplog.records
    )


def _multipart(fields: list[tuple[str, str, bytes]]) -> tuple[bytes, dict[str, str]]:
    """Return a multipart/form-data body of (name, charset, bytes) parts and its Content-Type header."""
    boundary = "xlingboundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
             f"Content-Type: text/plain; charset={charset}\r\n\r\n".encode() + value + b"\r\n"
             for name, charset, value in fields]  # fmt: skip
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize("field", ["target", "source", "format"])
def test_a_lone_surrogate_in_a_translate_parameter_is_a_400_naming_it_and_counted_once(make_config, field):
    params = {"q": "Hello", "source": "en", "target": "de", "format": "text"}
    text = json.dumps({**params, field: "x\ud800"})  # json.dumps writes the \ud800 escape
    utf8_bytes = json.dumps({**params, field: "@"}).replace("@", "x\udc00").encode("utf-8", "surrogatepass")
    form, form_headers = _multipart(
        [
            (
                name,
                "unicode_escape" if name == field else "utf-8",
                (r"x\ud800" if name == field else value).encode(),
            )
            for name, value in params.items()
        ]  # fmt: skip
    )
    bodies = [
        (
            text.encode("utf-16"),
            JSON,
        ),  # a JSON body json.loads reads as UTF-16: the escape is not in its bytes
        (text.encode("utf-32"), JSON),
        (utf8_bytes, JSON),  # the surrogate's own bytes (CESU-8), which json.loads passes through
        (form, form_headers),  # a multipart part whose charset turns an escape into a surrogate
    ]
    with TestClient(create_app(make_config()), raise_server_exceptions=False) as client:
        for content, headers in bodies:
            answer = client.post("/translate", content=content, headers=headers)
            assert answer.status_code == 400 and answer.json()["field"] == field, (content[:60], answer.text)
        metrics = client.get("/metrics").text
    assert f'xling_errors_total{{endpoint="/translate",kind="bad_request"}} {len(bodies)}' in metrics, metrics
    assert 'kind="internal"' not in metrics
    assert 'endpoint="/translate",method="POST",status="500"' not in metrics


def test_multipart_parts_only_in_utf8_and_messages_quote_what_the_client_sent(client):
    latin, headers = _multipart([("q", "utf-8", b"Hello"), ("source", "utf-8", b"en"),
                                 ("target", "latin-1", b"de")])  # fmt: skip
    answer = client.post("/translate", content=latin, headers=headers)
    assert answer.status_code == 400 and answer.json()["field"] == "target", answer.text
    assert "UTF-8" in answer.json()["error"]
    fine, headers = _multipart([("q", "utf-8", "Schöne Grüße".encode()), ("source", "us-ascii", b"de"),
                                ("target", "UTF-8", b"en")])  # fmt: skip
    assert client.post("/translate", content=fine, headers=headers).status_code == 200
    nul, headers = _multipart(
        [("q", '"\x00"', b"Hello"), ("source", "utf-8", b"en"), ("target", "utf-8", b"de")]
    )
    for path in ("/translate", "/detect"):  # a charset name Python's codecs refuse with ValueError: was a 500
        answer = client.post(path, content=nul, headers=headers)
        assert answer.status_code == 400 and answer.json()["field"] == "q", answer.text
    quoted = client.post("/translate", json={"q": "Hi", "source": "en", "target": "z\tz"})
    assert quoted.status_code == 400 and quoted.json()["error"].startswith("'z\\tz' is not supported")
    kind = client.post("/translate", json={"q": "Hi", "source": "en", "target": "de", "format": "x\ty"})
    assert kind.json() == {"error": "'x\\ty' format is not supported", "field": "format"}


@pytest.mark.parametrize("source", ["en", "auto"])
def test_html_the_parser_cannot_read_is_a_400_naming_the_text(client, source):
    # html.parser raises AssertionError on `<![` followed by no name (it was a 500)
    one = client.post("/translate", json={"q": "the film <![' was good", "source": source, "target": "de",
                                          "format": "html"})  # fmt: skip
    assert one.status_code == 400 and one.json()["field"] == "q", one.text
    batch = client.post("/translate", json={"q": ["fine", "a <![<b"], "source": source, "target": "de",
                                            "format": "html"})  # fmt: skip
    assert batch.status_code == 400 and batch.json()["field"] == "q[1]", batch.text


def test_an_error_answer_never_fails_on_text_that_is_not_unicode():
    from xling.serving.errors import JsonAnswer

    body = JsonAnswer({"error": "'x\ud800' is not supported", "field": "target"}).body
    assert json.loads(body) == {"error": "'x\ud800' is not supported", "field": "target"}
    assert JsonAnswer({"error": "Grüße"}).body.decode("utf-8") == '{"error":"Grüße"}'


@pytest.mark.parametrize("token_ids", [[1, 2, 3], [[1, 2], [3]]])
def test_token_id_input_is_a_400_from_openai_routes_and_a_422_from_tei_ones(client, token_ids):
    answer = client.post("/v1/embeddings", json={"input": token_ids})
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["param"] == "input", answer.text
    assert "token-id arrays are not supported" in error["message"] and "send text" in error["message"]
    # text-embeddings-inference's route: a 422, as TEI answers invalid input (the README says both)
    embed = client.post("/embed", json={"inputs": token_ids})
    assert embed.status_code == 422 and embed.json()["field"] == "inputs", embed.text
    assert "token-id arrays are not supported" in embed.json()["error"], embed.text


def test_a_search_without_k_on_a_server_whose_max_k_is_below_the_default_gets_max_k_hits(make_config):
    with TestClient(create_app(make_config("limits.max_k=3"))) as client:
        default = client.post("/v1/search", json={"query": "the film was good"})
        assert default.status_code == 200 and len(default.json()["hits"]) == 3, default.text
        asked = client.post("/v1/search", json={"query": "the film was good", "k": 4})
        assert asked.status_code == 422 and asked.json()["field"] == "k", asked.text
        assert len(client.post("/v1/search", json={"query": "film", "k": 2}).json()["hits"]) == 2


class _CountedBytes(bytes):
    """bytes whose `find` counts the bytes it reads (to the match's end, or to where the search stops)."""

    read = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        found = super().find(sub, start, end)
        stop = len(self) if end is None else min(end, len(self))
        self.read += (found + len(sub) if found != -1 else stop) - start
        return found


def test_finding_each_parts_headers_reads_a_multipart_body_about_once():
    from xling.serving.forms import _check_parts

    # a CRLF body has no "\n\n": searched for from every part to the end of the body, 2,000 parts of 400
    # bytes held the event loop 0.9 s; and delimiters inside a line (not parts, so not capped) as often
    part = b'--XyZ\r\nContent-Disposition: form-data; name="q"\r\n\r\n' + b"a" * 400 + b"\r\n"
    for body in (part * 1_000 + b"--XyZ--\r\n", part + b"a--XyZ\r\n\r\n" * 5_000 + b"\r\n--XyZ--\r\n"):
        counted = _CountedBytes(body)
        _check_parts("XyZ", counted, None)
        assert counted.read <= 3 * len(body), (counted.read, len(body))


@pytest.mark.parametrize("keys", [(), ("limits.api_keys=k1",)])
def test_a_form_is_parsed_once_and_off_the_event_loop(make_config, monkeypatch, keys):
    import asyncio

    from xling.serving import forms

    calls: list[bool] = []  # whether each parse of a multipart body ran on the event loop
    real = forms._multipart_fields

    def counted(*args, **kwargs):
        try:
            asyncio.get_running_loop()
            calls.append(True)
        except RuntimeError:
            calls.append(False)
        return real(*args, **kwargs)

    monkeypatch.setattr(forms, "_multipart_fields", counted)
    # the key in the form (no Authorization header): the guard parsed the whole form for it, then the route
    # parsed it again, both on the event loop (2,000 parts took 3.4 s with keys on the machine it was
    # measured on)
    body, headers = _multipart([("q", "utf-8", b"der film war gut")] * 20 + [("api_key", "utf-8", b"k1")])
    with TestClient(create_app(make_config(*keys))) as client:
        answer = client.post("/detect", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        assert calls == [False]
        calls.clear()
        # a form the route refuses: the guard keeps both the key it could read and the route's error from one
        # parse (it parsed the form twice, strictly then leniently for the key, before the key check: a
        # request without a key cost two parses), and the route says why
        upload = client.post("/detect", files={"q": ("q.txt", b"Hallo"), "api_key": (None, "k1")})
        assert upload.status_code == 400 and "file upload" in upload.json()["error"], upload.text
        assert calls == [False]
        calls.clear()
        if keys:  # a wrong key beside the refused field: the key check's 401, after one parse
            wrong = client.post("/detect", files={"q": ("q.txt", b"Hallo"), "api_key": (None, "k2")})
            assert wrong.status_code == 401 and calls == [False], (wrong.text, calls)


@pytest.mark.parametrize(
    ("path", "body", "field", "message"),
    [
        # text-embeddings-inference's clients send token ids to /embed: say they are not read
        ("/embed", {"inputs": [1] * 100_000}, "inputs", "token-id arrays are not supported"),
        ("/embed", {"inputs": [[1, 2]] * 100_000}, "inputs", "token-id arrays are not supported"),
        ("/embed", {"inputs": ["ok", *[None] * 100_000]}, "inputs[1]", "Input should be a valid string"),
        ("/v1/embeddings", {"input": ["ok", *[1.5] * 100_000]}, "input[1]", "Input should be a valid string"),
        (
            "/v1/classify",
            {"inputs": ["good", *[None] * 100_000]},
            "inputs[1]",
            "Input should be a valid string",
        ),
        ("/v1/search", {"query": "film", "lang": ["de", *[3] * 100_000]}, "lang[1]", "valid string"),
        (
            "/v1/search",
            {"query": "film", "detected_lang": [None] * 100_000},
            "detected_lang[0]",
            "valid string",
        ),
    ],
)
def test_a_list_of_non_strings_is_refused_at_its_first_wrong_item(client, path, body, field, message):
    from pydantic import ValidationError

    from xling.serving import schemas

    answer = client.post(path, json=body)
    assert 400 <= answer.status_code < 500, answer.text
    error = answer.json()["error"]
    text = error["message"] if isinstance(error, dict) else error
    named = error["param"] if isinstance(error, dict) else answer.json()["field"]
    assert named == field and message in text, answer.text
    # one error per union member at most, not one per item (FastAPI built 100,000 on the event loop)
    model = {"/embed": schemas.EmbedRequest, "/v1/embeddings": schemas.EmbeddingsRequest,
             "/v1/classify": schemas.ClassifyRequest, "/v1/search": schemas.SearchRequest}[path]  # fmt: skip
    with pytest.raises(ValidationError) as invalid:
        model.model_validate(body)
    assert invalid.value.error_count() <= 2, invalid.value.errors()[:3]


def test_a_validation_message_reads_only_the_first_errors(monkeypatch):
    from xling.serving import app

    names: list[object] = []
    field_name = app._field_name

    def counted(loc):
        names.append(loc)
        return field_name(loc)

    monkeypatch.setattr(app, "_field_name", counted)
    errors = [
        {"type": "string_type", "loc": ("body", "inputs", "str"), "msg": "Input should be a valid string"}
    ]
    errors += [{"type": "string_type", "loc": ("body", "inputs", "list[str]", i), "msg": "Input should be a valid "
                "string"} for i in range(100_000)]  # fmt: skip
    errors.append(
        {"type": "bool_type", "loc": ("body", "normalize"), "msg": "Input should be a valid boolean"}
    )
    assert app._validation_message(errors) == ("inputs[0]", "inputs[0]: Input should be a valid string")
    assert len(names) <= app.ERRORS_READ, len(names)  # each of the 100,002 errors was named twice
    few = [errors[0], errors[1], errors[-1]]
    assert app._validation_message(few) == ("inputs[0]", "inputs[0]: Input should be a valid string (and 1 "
                                             "more field)")  # fmt: skip


@pytest.mark.parametrize("path", ["/v1/models/nope", "/v1/models/bot", "/v1/models/org/nope"])
def test_an_unknown_model_is_a_404_in_openais_error_shape(client, path):
    # the OpenAI SDK's models.retrieve reads {"error": {"message", "type", "param", "code"}}
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, answer.text
    assert (
        error["type"] == "not_found_error"
        and error["code"] == "model_not_found"
        and error["param"] == "model"
    )
    assert "is not served here" in error["message"]
    refused = client.post("/v1/models")  # the list's own errors too
    assert refused.status_code == 405 and set(refused.json()["error"]) >= {"message", "type"}, refused.text


@pytest.mark.parametrize("declared", ["²", "1³", " ¹ "])
def test_a_content_length_of_non_ascii_digits_is_a_400(declared):
    import anyio

    from xling.serving.config import LimitsConfig
    from xling.serving.limits import GuardMiddleware

    async def app(scope, receive, send):  # pragma: no cover - never reached
        raise AssertionError("the guard let it through")

    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": "/embed", "method": "POST",
             "headers": [(b"content-length", declared.encode("latin-1")), (b"content-type", b"application/json")]}  # fmt: skip
    # a header is Latin-1: its superscript digits are digits to isdigit(), and int() refuses them (a 500)
    anyio.run(GuardMiddleware(app, LimitsConfig()), scope, receive, send)
    assert sent[0]["status"] == 400, sent
    assert json.loads(sent[1]["body"]) == {
        "error": "Content-Length is not a number",
        "field": "Content-Length",
    }
