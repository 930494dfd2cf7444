"""benchmarks/serve_load.py: --compare-http needs uvloop and httptools, and then sets every comparison
server's event loop and HTTP implementation explicitly, so that only the stack differs; the /embed comparison
counts the server's CPU and batches over the counted requests only (not the warm-up)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx
import pytest


@pytest.fixture
def serve_load(load_benchmark):
    return load_benchmark("serve_load")


def test_compare_http_exits_without_uvloop_and_httptools(serve_load, monkeypatch):
    monkeypatch.setattr(serve_load, "fast_http_versions", lambda: ({}, ["uvloop", "httptools"]))

    def never(*args, **kwargs):
        raise AssertionError("nothing should be built or started")

    monkeypatch.setattr(serve_load, "load_texts", never)
    with pytest.raises(SystemExit, match="uvloop and httptools not installed"):
        serve_load.main(["--compare-http"])


def test_compare_http_versions_recorded(serve_load, monkeypatch):
    monkeypatch.setattr(serve_load, "fast_http_versions", lambda: ({"uvloop": "1", "httptools": "2"}, []))
    versions = serve_load.require_fast_http()
    assert versions["uvloop"] == "1" and versions["httptools"] == "2" and "uvicorn" in versions


def test_comparison_servers_differ_only_in_the_stack(serve_load):
    modes = {"on": [], "off": ["batching.max_batch_texts=1"], "h11": []}
    env = {"XLING_MODELS": "/m"}
    launches = serve_load.server_launches(modes, env, True, compare_http=True)
    assert {mode: use_cli for mode, (_, use_cli) in launches.items()} == dict.fromkeys(modes, False)
    stacks = {mode: serve_load.stack_name(e) for mode, (e, _) in launches.items()}
    assert stacks == {"on": "uvloop + httptools", "off": "uvloop + httptools", "h11": "asyncio + h11"}
    assert all(e["XLING_MODELS"] == "/m" for e, _ in launches.values())
    # without --compare-http the servers start as configured (`xling serve` where it exists)
    assert serve_load.server_launches(modes, env, True, compare_http=False)["on"] == (env, True)


def test_model_work_times_the_same_texts_one_a_call_and_batched(serve_load, monkeypatch):
    texts = serve_load.Texts({"eng": ["Where is the station?"], "deu": ["Wo ist der Bahnhof?"]}, [], [])
    calls: list[int] = []

    def embed_function(encoder):
        assert encoder == "loaded m"
        return lambda items: calls.append(len(items))

    monkeypatch.setattr(
        "xling.embeddings.encoder.Encoder.load", classmethod(lambda cls, name: f"loaded {name}")
    )
    monkeypatch.setattr("xling.serving.services.embed_function", embed_function)
    figures = serve_load.model_work("m", texts, ["deu"], requests=12, batch=4, threads=1, rounds=2)
    # warm-up (3 calls of 4), then per round 12 calls of 1 and 3 calls of 4
    assert calls == [4] * 3 + ([1] * 12 + [4] * 3) + ([4] * 3 + [1] * 12)
    assert figures["batch"] == 4 and figures["texts"] == 12 and figures["rounds"] == 2
    assert figures["texts_per_s_batch_1"] > 0 and figures["texts_per_s_batched"] > 0 and figures["ratio"] > 0


def test_embed_run_counts_the_servers_work_after_the_warm_up(serve_load, monkeypatch):
    served = {"requests": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        served["requests"] += 1
        return httpx.Response(200, json={"embeddings": [[0.0]]})

    client = httpx.AsyncClient
    transport = httpx.MockTransport(handler)
    monkeypatch.setattr(httpx, "AsyncClient", lambda **options: client(transport=transport, **options))
    monkeypatch.setattr(serve_load, "cpu_seconds", lambda pid: served["requests"] * 0.01)  # 10 ms a request

    class Server:
        url = "http://server"
        process = SimpleNamespace(pid=1)

        def health(self):
            n = served["requests"]  # batches of two, the largest ever four
            return {"batchers": {"encoder": {"requests": n, "batches": n // 2, "largest_batch": 4}}}

    texts = serve_load.Texts({"eng": ["Where is the station?"], "deu": ["Wo ist der Bahnhof?"]}, [], [])
    one = asyncio.run(serve_load.embed_run(Server(), texts, requests=20, concurrency=4, languages=[]))
    assert served["requests"] == 24  # 4 warm-up requests (one a connection), then the 20 counted
    assert sum(one.statuses.values()) == 20
    assert one.server_cpu_s == pytest.approx(0.2)  # the counted requests' CPU only
    assert one.batches == {"requests": 20, "batches": 10, "mean_batch": 2.0, "largest_batch": 4}
    assert serve_load.mode_figures([one, one], 2 * one.server_cpu_s)["server_cpu_ms_per_request"] == 10.0
    total = serve_load.sum_batches([one.batches, {"requests": 30, "batches": 5, "largest_batch": 6}, {}])
    assert total == {"requests": 50, "batches": 15, "mean_batch": 3.33, "largest_batch": 6}
