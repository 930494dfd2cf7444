"""`ServeConfig`: what `xling serve` loads and how it guards and batches (`[serve]` in a TOML file).

Defaults live only here. `xling serve --config FILE --set limits.api_keys=k1,k2` fills it through
`xling.config.load_config(ServeConfig, FILE, sets, section="serve", ...)`; the nested sections are the TOML
tables `[serve.limits]`, `[serve.batching]` and `[serve.decoding]`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from xling.devices import check_device
from xling.errors import ConfigError
from xling.translation.decoding import DecodeOptions

OVERLONG_ACTIONS = ("truncate", "reject")
TRANSLATOR_BACKENDS = ("auto", "torch", "ct2")


@dataclass
class LimitsConfig:
    """Who may call the server, how often, and how much one request may carry (`[serve.limits]`)."""

    api_keys: list[str] = field(default_factory=list)
    """Keys accepted as `Authorization: Bearer KEY` (or LibreTranslate's `api_key` body field); a request
    without a listed key gets 401. Empty: no authentication. Reading (GET) /health, /metrics, /v1/models
    (and one model), /info, /languages, /frontend/settings, the docs and the web page is always open;
    `POST /` (TEI's embeddings route) is not."""
    rate_limit_per_minute: int = 0
    """Requests per minute per API key (per client address when there are no keys), as a token bucket that
    allows a burst of this many; beyond it 429 with Retry-After. 0: no rate limit. Each worker process
    (`workers` > 1) keeps its own buckets, so a client spread over N workers gets up to N times this."""
    max_body_bytes: int = 1_000_000
    """Largest request body; a larger one gets 413 before it is read in full."""
    max_texts: int = 2048
    """Most texts in one request (the length of `input`, `inputs` or `q`); more get 413. OpenAI's embeddings
    API takes 2,048 inputs (LangChain's OpenAIEmbeddings sends 1,000 at a time; 256 refused them)."""
    max_chars: int = 8192
    """Most characters in one text; a longer one is cut to this many or refused, as `overlong` says."""
    overlong: str = "truncate"
    """"truncate": a text over `max_chars` is cut to `max_chars` characters; "reject": the request gets 413
    naming the text. A text to translate (/translate) always gets 413: its translation would lack its end."""
    max_k: int = 1000
    """Most hits one /v1/search request may ask for; a request without `k` gets 10, or this many if fewer."""
    max_alternatives: int = 3
    """Most `alternatives` (other translations of each text, from the beam) one /translate request may ask
    for; more get 400, as LibreTranslate's `--alternatives-limit` (3 by default) does. 0: none."""


@dataclass
class BatchingConfig:
    """Dynamic batching: requests that arrive together share one model call (`[serve.batching]`).

    Each model has one queue; a worker takes the oldest request, waits up to `max_wait_ms` for more while the
    batch is under both budgets, runs the model in a worker thread (off the event loop) and hands each
    request its own results. Requests arriving while a batch runs wait for the next one, so under load
    batches fill without any wait. `max_batch_texts = 1` serves one request at a time (the baseline the load
    benchmark compares against; a request carrying several texts still runs whole).
    """

    max_wait_ms: float = 2.0
    """How long the first request of a batch waits for others (milliseconds); 0: no wait."""
    max_batch_texts: int = 64
    """Most texts in one model call (a single request carrying more still runs whole, alone)."""
    max_batch_chars: int = 32_768
    """Most characters in one model call, the budget standing for tokens (counting characters needs no
    tokenizer on the event loop); a single larger request still runs whole, alone."""
    call_cost_tokens: int = 16
    """Length bucketing of a transformer encoder's batch: what one forward pass costs beyond its padded
    tokens, in tokens (about 16 for all-MiniLM-L6-v2 on a CPU core). A batch is sorted by token length and
    cut into sub-batches wherever a cut saves more padding than this, so no text is padded by more than this
    many tokens; 0: one forward pass per distinct length; a large value (1000000): the whole batch padded to
    its longest text. A static encoder pads nothing and always runs the batch whole."""


@dataclass
class ServeConfig:
    """`xling serve`: the models, the indexes, the address, the limits and the batching (`[serve]`)."""

    encoder: str | None = "xling-mini"
    """Sentence encoder for /v1/embeddings and /embed: a folder, shipped name or Hub id (cached); none:
    those endpoints answer 503."""
    detector: str | None = "xling-langid"
    """Language detector for /detect and `source: auto`: a folder from `xling langid train` or a shipped
    name."""
    translator: str | None = "xling-mt-bible"
    """Translation model for /translate and /languages: a folder or shipped name."""
    classifier: str | None = None
    """Classifier folder from `xling transfer train` for /v1/classify (none: 503)."""
    indexes: dict[str, str] = field(default_factory=dict)
    """Search indexes for /v1/search: name -> folder from `xling index build`. Each is searched with the
    model it was built with (the `encoder` above when it is the same model, else loaded for it)."""
    default_index: str | None = None
    """The index a /v1/search request without `index` searches (none: the first of `indexes`)."""
    bot: str | None = None
    """Support-bot folder from `xling bot build` for /v1/answer (none: 503)."""
    bot_translator: str | None = None
    """Translation model the support bot uses for answers in languages its FAQ does not store (none: those
    get the FAQ's own answer), loaded with the bot and the translator settings below. Not `translator` by
    default: xling-mt-bible knows only Bible text (`xling eval bot --translator M` scores a candidate)."""
    host: str = "127.0.0.1"
    """Address to listen on (0.0.0.0: every interface)."""
    port: int = 8000
    """Port to listen on."""
    workers: int = 1
    """Server processes; each loads its own copy of the models (memory grows with each)."""
    device: str = "cpu"
    """Where the encoder and translator run: cpu, cuda, cuda:N (GPU N) or auto (cuda when torch sees one,
    else cpu); a name that is none of them, or a GPU torch does not see, is refused at startup."""
    threads: int = 0
    """CPU threads of the translation runtime (0: its default)."""
    encoder_threads: int = 0
    """torch CPU threads of each model call (/embed, /v1/embeddings, search queries, the classifier, the bot;
    translation too unless `threads` is set), set in each batcher's worker thread. 0 (default): half the
    usable cores, at least 1, leaving cores to the event loop and the other batchers: on 2 cores shared with
    the load client and other work (load average 5-8), runs of benchmarks/serve_load.py --encoder-threads 1
    and 2 served MiniLM's batched /embed at 51 and 7 requests/s (OpenMP's threads spin waiting for the core
    the HTTP side holds)."""
    translator_backend: str = "auto"
    """auto (CTranslate2 when the model folder has a conversion), torch or ct2."""
    preload: bool = True
    """Load every configured model at startup (the server answers once they are loaded or have failed);
    false: each loads on its first request. Either way a model loads once per process, and one that fails
    stays failed (its endpoints answer 503 naming it) until the server restarts."""
    cors_origins: list[str] = field(default_factory=list)
    """Origins allowed to call the API from a browser (`*`: any). Empty: no CORS headers (same origin only)."""
    graceful_timeout_s: float = 30.0
    """On shutdown (Ctrl-C, SIGTERM), how long uvicorn lets running requests finish before closing."""
    log_level: str = "info"
    """uvicorn's log level: critical, error, warning, info, debug."""
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    """Authentication, rate limit and request sizes (`[serve.limits]`)."""
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    """Dynamic batching (`[serve.batching]`)."""
    decoding: DecodeOptions = field(default_factory=lambda: DecodeOptions(beam_size=2))
    """How /translate decodes (`[serve.decoding]`, the fields of `[translate]` for `xling translate`):
    these settings alone, beam 2 and no penalties by default, for speed; unlike the command, the server does
    not take the model's own settings (its generation_config.json: xling-mt-bible's beam 8, length penalty
    1.4, repetition penalty 1.1) for the fields left unset."""

    def model_threads(self) -> int:
        """Return the torch threads of a model call: `encoder_threads`, or for 0 half the usable cores (>= 1)."""
        if self.encoder_threads > 0:
            return self.encoder_threads
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        return max(1, cores // 2)

    def validate(self) -> None:
        """Return nothing; raise ConfigError naming the field that is out of range."""
        limits, batching = self.limits, self.batching
        if limits.overlong not in OVERLONG_ACTIONS:
            raise ConfigError(
                f"limits.overlong: {limits.overlong!r} must be one of {', '.join(OVERLONG_ACTIONS)}"
            )
        for name in ("max_body_bytes", "max_texts", "max_chars", "max_k"):
            if getattr(limits, name) < 1:
                raise ConfigError(f"limits.{name}: {getattr(limits, name)} must be at least 1")
        if limits.max_alternatives < 0:
            raise ConfigError(f"limits.max_alternatives: {limits.max_alternatives} must be 0 or more")
        if limits.rate_limit_per_minute < 0:
            raise ConfigError(
                f"limits.rate_limit_per_minute: {limits.rate_limit_per_minute} must be 0 (off) or more"
            )
        if any(not key.strip() for key in limits.api_keys):
            raise ConfigError("limits.api_keys: an API key must not be empty")
        if any(not key.isascii() for key in limits.api_keys):  # HTTP headers carry bytes, read as Latin-1
            raise ConfigError(
                "limits.api_keys: an API key must be ASCII (a header could never send it as given)"
            )
        if batching.max_wait_ms < 0:
            raise ConfigError(f"batching.max_wait_ms: {batching.max_wait_ms} must be 0 or more")
        if batching.max_batch_texts < 1 or batching.max_batch_chars < 1:
            raise ConfigError("batching.max_batch_texts and batching.max_batch_chars must be at least 1")
        if batching.call_cost_tokens < 0:
            raise ConfigError(f"batching.call_cost_tokens: {batching.call_cost_tokens} must be 0 or more")
        if self.encoder_threads < 0:
            raise ConfigError(f"encoder_threads: {self.encoder_threads} must be 0 (half the cores) or more")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port: {self.port} must be between 1 and 65535")
        if self.workers < 1:
            raise ConfigError(f"workers: {self.workers} must be at least 1")
        if self.translator_backend not in TRANSLATOR_BACKENDS:
            raise ConfigError(
                f"translator_backend: {self.translator_backend!r} must be one of {', '.join(TRANSLATOR_BACKENDS)}"
            )
        if self.default_index is not None and self.default_index not in self.indexes:
            known = ", ".join(sorted(self.indexes)) or "none configured"
            raise ConfigError(f"default_index: {self.default_index!r} is not one of the indexes ({known})")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"log_level: {self.log_level!r} must be one of {', '.join(LOG_LEVELS)}")
        # the project's one device check (as translation's and training's): `cuda:x` or a GPU torch lacks is
        # refused here, before any model loads (each model's load failed on its own, the server staying up)
        check_device(self.device, "device")
        if self.threads < 0:
            raise ConfigError(f"threads: {self.threads} must be 0 (the runtime's default) or more")
        if not 0 <= self.graceful_timeout_s < float("inf"):  # also NaN
            raise ConfigError(f"graceful_timeout_s: {self.graceful_timeout_s} must be 0 or more seconds")
        if not 0 <= batching.max_wait_ms < float("inf"):
            raise ConfigError(f"batching.max_wait_ms: {batching.max_wait_ms} must be a finite 0 or more")
        self.decoding.validate()


LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
"""uvicorn's log levels."""


def config_from_dict(data: dict[str, Any]) -> ServeConfig:
    """Return the ServeConfig that `config_to_dict` turned into `data` (how --workers > 1 hands the config to
    each worker process)."""
    values = dict(data)
    for name, section in (
        ("limits", LimitsConfig),
        ("batching", BatchingConfig),
        ("decoding", DecodeOptions),
    ):
        if name in values:
            values[name] = section(**values[name])
    config = ServeConfig(**values)
    config.validate()
    return config
