"""A real server on 127.0.0.1 (uvicorn in a thread) answering a LibreTranslate client's exact requests, and
`xling serve`'s config: TOML file, --set, worker processes."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from urllib import parse, request

import pytest
import uvicorn

from xling.config import config_to_dict, load_config
from xling.errors import ConfigError
from xling.serving.app import CONFIG_ENV, app_from_environment, create_app
from xling.serving.config import ServeConfig, config_from_dict


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LibreTranslateAPI:
    """What the `libretranslatepy` client sends (its LibreTranslateAPI, reduced to its requests): urlencoded
    forms through urllib, `api_key` as a form field, GET /languages with a (form) body."""

    def __init__(self, url: str, api_key: str | None = None):
        self.url = url.rstrip("/") + "/"
        self.api_key = api_key

    def _post(self, path: str, params: dict[str, str], method: str | None = None):
        if self.api_key is not None:
            params["api_key"] = self.api_key
        req = request.Request(self.url + path, data=parse.urlencode(params).encode(), method=method)
        with request.urlopen(req, timeout=30) as response:
            return json.loads(response.read().decode())

    def translate(self, q: str, source: str = "en", target: str = "es") -> str:
        return self._post("translate", {"q": q, "source": source, "target": target})["translatedText"]

    def detect(self, q: str):
        return self._post("detect", {"q": q})

    def languages(self):
        return self._post("languages", {}, method="GET")


@pytest.fixture(scope="module")
def server(make_config):
    """Return the URL of a real uvicorn server with the tiny models and an API key (stopped after the module)."""
    port = free_port()
    app = create_app(make_config("limits.api_keys=secret"))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=5
    )
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    runner.should_exit = True  # uvicorn's graceful shutdown: finish requests, run the lifespan's shutdown
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_libretranslate_client_works_unchanged(server, models, make_config):
    from xling.translation.translator import Translator

    client = LibreTranslateAPI(server, api_key="secret")
    translated = client.translate("The cat sleeps on the bed.", "en", "de")
    # what the server's model gives with the server's decoding, not merely some text
    expected = Translator.from_pretrained(models.translator, backend="torch").translate(
        ["The cat sleeps on the bed."], "en", "de", make_config().decoding
    )
    assert translated == expected[0] and translated
    assert client.detect("Die Kinder spielen draußen.")[0]["language"] == "de"
    assert [entry["code"] for entry in client.languages()] == ["de", "en", "fr"]
    with pytest.raises(request.HTTPError) as refused:
        LibreTranslateAPI(server, api_key="wrong").translate("Hello", "en", "de")
    assert refused.value.code == 401


def test_a_client_that_hangs_up_does_not_hurt_the_others(server):
    host, port = server.removeprefix("http://").split(":")
    for _ in range(3):  # send half a request, or a whole one, then leave without reading the answer
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"inputs\": ")  # fmt: skip
        with socket.create_connection((host, int(port))) as sock:
            body = b'{"inputs": "the film was good"}'
            sock.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer secret\r\nContent-Type: "
                         b"application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
    req = request.Request(server + "/embed", data=b'{"inputs": "a lovely day"}',
                          headers={"Content-Type": "application/json", "Authorization": "Bearer secret"})  # fmt: skip
    with request.urlopen(req, timeout=30) as response:
        assert response.status == 200 and len(json.loads(response.read())[0]) == 12
    with request.urlopen(server + "/health", timeout=30) as response:
        assert json.loads(response.read())["status"] == "ok"
    # the half requests got no answer: counted as 499 (client closed request), not as server errors; so are
    # the whole ones whose client left before the batch answered (the others 200, nobody reading them)
    deadline = time.monotonic() + 10
    while True:
        with request.urlopen(server + "/metrics", timeout=30) as response:
            metrics = response.read().decode()
        counts = {int(status): int(count) for status, count in
                  re.findall(r'xling_requests_total\{endpoint="/embed",method="POST",status="(\d+)"\} (\d+)', metrics)}  # fmt: skip
        if sum(counts.values()) == 7 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert set(counts) <= {200, 499} and counts.get(499, 0) >= 3 and sum(counts.values()) == 7, metrics


def test_config_from_a_toml_file_and_sets(tmp_path):
    recipe = tmp_path / "serve.toml"
    recipe.write_text(
        '[serve]\nencoder = "my-encoder"\nport = 9000\ncors_origins = ["https://example.org"]\n'
        '[serve.indexes]\ndocs = "runs/index"\n[serve.limits]\napi_keys = ["a"]\noverlong = "reject"\n'
        "[serve.batching]\nmax_wait_ms = 5\n",
        encoding="utf-8",
    )
    config = load_config(ServeConfig, recipe, ["limits.rate_limit_per_minute=60", "decoding.beam_size=1"],
                         section="serve", port=9001)  # fmt: skip
    assert (config.encoder, config.port, config.indexes) == ("my-encoder", 9001, {"docs": "runs/index"})
    assert config.limits.api_keys == ["a"] and config.limits.rate_limit_per_minute == 60
    assert config.batching.max_wait_ms == 5.0 and config.decoding.beam_size == 1
    assert config.limits.max_texts == 2048  # untouched defaults stay
    # what --workers hands each worker process comes back whole
    assert config_from_dict(json.loads(json.dumps(config_to_dict(config)))) == config
    with pytest.raises(ConfigError, match="limits.overlong"):
        load_config(ServeConfig, None, ["limits.overlong=drop"])
    with pytest.raises(ConfigError, match="default_index"):
        load_config(ServeConfig, None, ["default_index=missing"])
    with pytest.raises(ConfigError, match="unknown field 'api_keys'"):
        load_config(ServeConfig, None, ["api_keys=a"])
    for setting, field in [("log_level=loud", "log_level"), ("device=gpu", "device"), ("threads=-3", "threads"),
                           ("graceful_timeout_s=-5", "graceful_timeout_s"), ("batching.max_wait_ms=nan", "max_wait_ms"),
                           ("limits.api_keys=k1,schlüssel", "must be ASCII")]:  # fmt: skip
        with pytest.raises(ConfigError, match=field):
            load_config(ServeConfig, None, [setting]).validate()


def test_xling_serve_runs_uvicorn_with_the_config(monkeypatch, tmp_path, make_config):
    from xling.cli.serve import serve

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    monkeypatch.setenv(CONFIG_ENV, "")  # restored (removed) after the test: serve sets it for its workers
    serve(config=None, host="0.0.0.0", port=8123, workers=None, encoder=None, translator=None, detector=None,
          classifier=None, index=["docs=" + str(tmp_path)], bot=None, set_=["preload=false"])  # fmt: skip
    app, options = calls[-1]
    assert options["host"] == "0.0.0.0" and options["port"] == 8123 and "workers" not in options
    state = app.state.xling
    assert state.config.indexes == {"docs": str(tmp_path)} and not state.config.preload

    serve(config=None, host=None, port=None, workers=3, encoder=None, translator=None, detector=None,
          classifier=None, index=None, bot=None, set_=["preload=false", "limits.max_texts=7"])  # fmt: skip
    target, options = calls[-1]
    # several workers: an import string and a factory, so that each process builds (and loads) its own app
    assert (
        target == "xling.serving.app:app_from_environment" and options["factory"] and options["workers"] == 3
    )
    worker_app = app_from_environment()
    assert worker_app.state.xling.config.limits.max_texts == 7
    with pytest.raises(ConfigError, match="--index"):
        serve(config=None, host=None, port=None, workers=None, encoder=None, translator=None, detector=None,
              classifier=None, index=["no-equals-sign"], bot=None, set_=None)  # fmt: skip
