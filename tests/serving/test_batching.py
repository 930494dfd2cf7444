"""Dynamic batching: concurrent requests share a model call and each gets its own answer; a cancelled
request or a refused item does not hurt the others."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from xling.embeddings.encoder import Encoder
from xling.serving.app import create_app
from xling.serving.batching import Batcher
from xling.serving.config import BatchingConfig

TEXTS = ["the film was good", "der film war schlecht", "a lovely day", "ein schön tag", "my food is great",
         "mein essen ist furchtbar", "this phone is okay", "dieses handy ist normal"]  # fmt: skip


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(make_config, models):
    encoder = Encoder.load(models.encoder)
    # a long wait, so that requests sent together surely meet in one batch even on a busy machine
    app = create_app(make_config("batching.max_wait_ms=400"))
    start = threading.Barrier(len(TEXTS))
    answers: dict[int, list[list[float]]] = {}
    with TestClient(app) as client:

        def ask(i: int) -> None:
            start.wait()
            response = client.post("/embed", json={"inputs": TEXTS[i]})
            assert response.status_code == 200
            answers[i] = response.json()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(TEXTS))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stats = app.state.xling.batchers["encoder"].stats
        metrics = client.get("/metrics").text
    assert len(answers) == len(TEXTS)
    assert stats.most_requests > 1, stats
    assert stats.batches < len(TEXTS)
    for i, text in enumerate(TEXTS):  # batched, yet equal to encoding the text alone
        np.testing.assert_allclose(answers[i][0], encoder.encode([text])[0], atol=1e-5)
    assert f'xling_batch_size_requests_sum{{model="encoder"}} {len(TEXTS)}' in metrics
    assert f'xling_batch_size_requests_count{{model="encoder"}} {stats.batches}' in metrics


def run_async(coroutine):
    return asyncio.run(coroutine)


def test_a_cancelled_request_leaves_the_batch_and_the_others_alone():
    release = threading.Event()
    seen: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        seen.append(list(items))
        release.wait(5)
        return [item.upper() for item in items]

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=0))
        first = asyncio.create_task(batcher.submit(["a"]))
        await asyncio.sleep(0.05)  # the first batch is running (blocked in the worker thread)
        gone = asyncio.create_task(batcher.submit(["b"]))
        kept = asyncio.create_task(batcher.submit(["c", "d"]))
        await asyncio.sleep(0.01)
        gone.cancel()  # its client hung up while it waited
        release.set()
        results = await asyncio.gather(first, kept)
        with pytest.raises(asyncio.CancelledError):
            await gone
        # a request cancelled during its model call: the others of that call still get their answers
        release.clear()
        during = asyncio.create_task(batcher.submit(["e"]))
        other = asyncio.create_task(batcher.submit(["f"]))
        await asyncio.sleep(0.05)
        during.cancel()
        release.set()
        later = await other
        batcher.close()
        return results, later

    (first, kept), later = run_async(scenario())
    assert first == ["A"] and kept == ["C", "D"] and later == ["F"]
    assert ["b"] not in seen and all("b" not in batch for batch in seen)


def test_a_request_cancelled_while_its_batch_waits_for_company_is_not_computed():
    seen: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        seen.append(list(items))
        return [item.upper() for item in items]

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=300))
        await batcher.submit(["first"])  # the batcher's first request runs at once; the next ones wait
        gone = asyncio.create_task(batcher.submit(["gone"]))
        await asyncio.sleep(0.05)  # taken into the forming batch, which waits for more requests
        gone.cancel()
        kept = await batcher.submit(["kept"])
        batcher.close()
        return kept

    assert run_async(scenario()) == ["KEPT"]
    assert seen == [["first"], ["kept"]]


def test_a_failing_request_is_found_and_only_it_fails():
    def run(items: list[str]) -> list[str]:
        if "bad" in items:
            raise ValueError("bad item")
        return [item * 2 for item in items]

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=100))
        tasks = [asyncio.create_task(batcher.submit(items)) for items in (["x"], ["bad", "y"], ["z"])]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        stats = batcher.stats
        batcher.close()
        return results, stats

    (x, bad, z), stats = run_async(scenario())
    assert x == ["xx"] and z == ["zz"]
    assert isinstance(bad, ValueError)
    assert stats.batches == 2  # the batch of three failed, then each ran alone: x and z succeeded


def test_requests_that_queued_during_a_model_call_run_next_without_the_wait():
    import threading
    import time

    running = threading.Event()

    def run(items: list[str]) -> list[str]:
        running.set()
        time.sleep(0.3)
        return list(items)

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=30_000))
        first = asyncio.create_task(batcher.submit(["a"]))
        while not running.is_set():  # a's batch is in its model call
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        later = [asyncio.create_task(batcher.submit([item])) for item in ("b", "c")]
        results = await asyncio.gather(first, *later)
        seconds = time.perf_counter() - started
        stats = batcher.stats
        batcher.close()
        return results, seconds, stats

    results, seconds, stats = run_async(scenario())
    assert results == [["a"], ["b"], ["c"]]
    assert stats.batches == 2  # b and c together
    # the rest of a's call and b+c's call (0.6 s), not another 30 s wait first: the margin is for busy machines
    assert seconds < 15


def test_items_refused_by_the_model_come_back_in_their_place():
    def run(items: list[str]) -> list[object]:
        return [ValueError(item) if item.startswith("!") else item for item in items]

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=50))
        return await asyncio.gather(batcher.submit(["a", "!b"]), batcher.submit(["c"]))

    mixed, clean = run_async(scenario())
    assert mixed[0] == "a" and isinstance(mixed[1], ValueError) and clean == ["c"]


def test_budgets_bound_a_batch_but_a_large_request_runs_whole():
    calls: list[int] = []

    def run(items: list[str]) -> list[str]:
        calls.append(len(items))
        return list(items)

    async def scenario():
        batcher = Batcher("test", run, BatchingConfig(max_wait_ms=100, max_batch_texts=2, max_batch_chars=1000),
                          chars=len)  # fmt: skip
        singles = await asyncio.gather(*(batcher.submit([str(i)]) for i in range(3)))
        large = await batcher.submit(["p", "q", "r", "s", "t"])
        chars = Batcher("chars", run, BatchingConfig(max_wait_ms=100, max_batch_texts=100, max_batch_chars=10),
                        chars=len)  # fmt: skip
        by_chars = await asyncio.gather(
            batcher.submit(["x" * 6]), chars.submit(["y" * 6]), chars.submit(["z" * 6])
        )
        batcher.close()
        chars.close()
        return singles, large, by_chars

    singles, large, _ = run_async(scenario())
    assert singles == [["0"], ["1"], ["2"]] and large == ["p", "q", "r", "s", "t"]
    assert calls[:3] == [2, 1, 5]
    assert calls[-2:] == [1, 1]  # two texts of 6 characters do not fit a budget of 10


async def _asgi(app, method: str, path: str, body: bytes = b"", leave: asyncio.Event | None = None) -> int:
    """Return the status an ASGI app answers (0: none); the client disconnects once `leave` is set (never
    without it), after sending its whole request."""
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await (leave or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    statuses: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}  # fmt: skip
    await app(scope, receive, send)
    return statuses[0] if statuses else 0


@pytest.mark.parametrize("path", ["/detect", "/translate"])
def test_a_queued_request_whose_client_hangs_up_is_never_computed_and_counted_499(make_config, path):
    release = threading.Event()
    seen: list[list[str]] = []

    def slow(items: list) -> list:  # a model call that takes as long as the test wants
        seen.append([getattr(item, "text", item) for item in items])
        release.wait(10)
        return [[] if path == "/detect" else item.text.upper() for item in items]

    app = create_app(make_config(preload=False))
    state = app.state.xling
    state.batcher("detector" if path == "/detect" else "translator", lambda: slow)  # the routes find it made

    def body(text: str) -> bytes:
        return json.dumps({"q": text, "source": "en", "target": "de"}).encode()

    async def scenario() -> tuple[int, int, int]:
        first = asyncio.create_task(_asgi(app, "POST", path, body("first")))
        for _ in range(500):  # until the first request's model call runs (and blocks)
            if seen:
                break
            await asyncio.sleep(0.01)
        leave = asyncio.Event()
        gone = asyncio.create_task(_asgi(app, "POST", path, body("gone"), leave))
        await asyncio.sleep(0.2)  # queued behind the running call
        leave.set()  # its client hangs up
        gone_status = await asyncio.wait_for(
            gone, 5
        )  # answered (to nobody) at once, not after the model call
        release.set()
        return await first, gone_status, await _asgi(app, "POST", path, body("after"))

    try:
        first, gone, after = asyncio.run(scenario())
        metrics = state.metrics.render()
    finally:
        release.set()
        state.close()
    assert (first, gone, after) == (200, 499, 200)
    assert seen == [["first"], ["after"]]  # the abandoned request never reached the model
    assert f'xling_requests_total{{endpoint="{path}",method="POST",status="499"}} 1' in metrics, metrics
    assert 'status="500"' not in metrics and "errors_total" not in metrics
