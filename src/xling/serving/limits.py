"""Limits and safety: body size (413), API keys (401), per-key rate limits (429), texts and characters per
request (413, or truncation; never for a text to translate).

`GuardMiddleware` is plain ASGI, so it answers before any route reads the body: it refuses a body over
`max_body_bytes` from its Content-Length, or once that many bytes have arrived, reads the rest of the body
once (to find LibreTranslate's `api_key` field, which LibreTranslate clients send in the body or the query
string instead of a header), checks the key and the key's token bucket, and replays the body to the app. A
request without a valid key spends a token of its client address's bucket before its 401, so guessing keys
is rate-limited too (429). Text that is not Unicode is refused there too, naming the field (400, or 422 where
the route's validation errors are 422): a query-string value whose percent-encoded bytes are not UTF-8, and a
JSON string holding a lone surrogate (an escape, `"\\ud800"`, or in a UTF-16/32 body), which no model's
tokenizer can read. `request_texts` applies the per-request text limits inside a route, where the
field's name is known.
"""

from __future__ import annotations

import hmac
import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote_to_bytes

import anyio

from xling.data.readers import ascii_digits, is_blank
from xling.serving.config import LimitsConfig
from xling.serving.errors import ApiError, error_body, json_bytes
from xling.serving.forms import FORM_TYPES, FormError, media_type, read_form
from xling.serving.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Paths anyone may read (GET, HEAD) without a key or a rate limit: what load balancers, scrapers and browsers
# fetch. Reading only: `POST /` is the TEI embeddings route, as costly as /embed
OPEN_PATHS = frozenset({"/health", "/metrics", "/v1/models", "/info", "/languages", "/frontend/settings",
                        "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/", "/favicon.ico"})  # fmt: skip
OPEN_PREFIXES = ("/static/", "/v1/models/")
FORM_SCOPE = "xling.form"
"""The scope key where the guard leaves the form it parsed looking for the API key (its fields, or the FormError
that refuses it), so the route does not parse the same body again."""
# a JSON escape of a UTF-16 surrogate (high or low): only then can a parsed string hold a lone one
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def is_open(path: str, method: str, extra: frozenset[str] = frozenset()) -> bool:
    """Return True for a request that needs no key and spends no rate limit: a CORS preflight, or a read
    (GET, HEAD) of an open path; `extra` are more open paths (the web page's files)."""
    if method == "OPTIONS":
        return True
    return method in ("GET", "HEAD") and (
        path in OPEN_PATHS or path in extra or path.startswith(OPEN_PREFIXES)
    )


class RateLimiter:
    """Token buckets per key: `per_minute` requests a minute, bursts up to `per_minute`. At most
    `max_keys` are remembered: past that the longest idle ones are forgotten, one per new key."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self.per_minute = per_minute
        self.max_keys = max_keys
        self._rate = per_minute / 60.0
        self._clock = clock
        # key -> (tokens, when), in the order of their last request
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Return 0 when the request may go ahead (a token taken), else the seconds until a token is back."""
        now = self._clock()
        with self._lock:
            tokens, when = self._buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - when) * self._rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            self._buckets.move_to_end(key)
            # the longest idle bucket goes first: after a minute idle it is full, so forgetting it changes
            # nothing; a constant cost per request, where scanning for full buckets cost ~5 ms at 100,000
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait


class _BodyTooLarge(Exception):
    """The body passed max_body_bytes while it was being read."""


class GuardMiddleware:
    """ASGI middleware: body size, API key and rate limit, in that order (see the module docstring)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], limits: LimitsConfig,
                 metrics: Metrics | None = None, open_paths: frozenset[str] = frozenset(),
                 bad_request_paths: frozenset[str] = frozenset(),
                 query_paths: frozenset[str] | None = None):  # fmt: skip
        self.app = app
        self.open_paths = open_paths
        self.bad_request_paths = bad_request_paths  # routes answering 400, not 422, for invalid text
        # routes that read the query string (None: every route), whose percent-encoded values must be UTF-8
        self.query_paths = query_paths
        self.limits = limits
        self.metrics = metrics
        self.keys = [key.encode() for key in limits.api_keys]
        self.limiter = RateLimiter(limits.rate_limit_per_minute) if limits.rate_limit_per_minute else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        headers: dict[str, str] = {}
        for key, value in scope.get(
            "headers", []
        ):  # a repeated header: its first value, as Starlette reads it
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        limit = self.limits.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            # ASCII digits only: isdigit() is true of "²" too, which int() refuses (a 500)
            if not ascii_digits(declared.strip()):
                await self._refuse(
                    scope, send, ApiError(400, "Content-Length is not a number", "Content-Length")
                )
                return
            if int(declared) > limit:
                await self._refuse(scope, send, _too_large(int(declared), limit))
                return
        try:
            body, disconnected = await _read_body(receive, limit)
        except _BodyTooLarge:
            await self._refuse(scope, send, _too_large(None, limit))
            return
        if disconnected:
            return  # the client left before sending its request: nobody to answer (metrics count it as 499)
        if not is_open(path, method, self.open_paths):
            key = _bearer(headers.get("authorization"))
            if self.keys and not key:  # only a server with keys looks for LibreTranslate's api_key field
                try:
                    # in a worker thread: a multipart form of thousands of parts takes the standard library's
                    # parser a good part of a second
                    key, form = await anyio.to_thread.run_sync(
                        _body_key, headers.get("content-type", ""), body, form_parts(self.limits)
                    )
                except FormError as error:  # too many parts to look for the key in: the route would refuse it
                    await self._refuse(scope, send, ApiError(error.status, f"Invalid form: {error}", "body",
                                                             code="payload_too_large"))  # fmt: skip
                    return
                if form is not None:
                    scope[FORM_SCOPE] = form
                key = key or _query_key(scope.get("query_string", b""))
            client = scope.get("client") or ("unknown", 0)
            if self.keys and not self._known(key):
                # a wrong or missing key spends its address's tokens: guessing keys is rate-limited as well
                if await self._limited(scope, send, f"client:{client[0]}"):
                    return
                what = "a valid API key" if key else "an API key"
                await self._refuse(scope, send, ApiError(401, f"this server needs {what}: send the header "
                                                              "'Authorization: Bearer KEY'", "Authorization",
                                                         {"WWW-Authenticate": "Bearer"}, "invalid_api_key"))  # fmt: skip
                return
            if await self._limited(scope, send, f"key:{key}" if key and self.keys else f"client:{client[0]}"):
                return
        status = 400 if path in self.bad_request_paths else 422
        reads_query = self.query_paths is None or path in self.query_paths
        problem = (
            reads_query and _query_not_utf8(scope.get("query_string", b""), status)
        ) or _lone_surrogate(headers.get("content-type", ""), body, status)
        if problem is not None:
            await self._refuse(scope, send, problem)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _limited(self, scope: Scope, send: Send, bucket: str) -> bool:
        """Return True after answering 429 when `bucket` has no token left (False, a token taken, otherwise;
        always False without a rate limit)."""
        if self.limiter is None:
            return False
        wait = self.limiter.take(bucket)
        if wait <= 0:
            return False
        retry = max(1, math.ceil(wait))
        await self._refuse(scope, send, ApiError(
            429, f"rate limit of {self.limiter.per_minute} requests per minute reached; retry in {retry} s",
            None, {"Retry-After": str(retry)}, "rate_limit_exceeded"))  # fmt: skip
        return True

    def _known(self, key: str | None) -> bool:
        if not key:
            return False
        given = key.encode("utf-8", "surrogatepass")  # a lone surrogate matches no key: 401, not a crash
        # compare_digest against every key: the time taken says nothing about which prefix matched
        return any([hmac.compare_digest(given, known) for known in self.keys])

    async def _refuse(self, scope: Scope, send: Send, error: ApiError) -> None:
        path = scope.get("path", "")
        if self.metrics is not None:
            kind = {401: "auth", 413: "too_large", 429: "rate_limit"}.get(error.status, "bad_request")
            self.metrics.error(scope.get("xling.endpoint", path), kind)
        await send_json(send, error.status, error_body(path, error.status, error.message, error.field, error.code),
                        error.headers)  # fmt: skip


async def send_json(send: Send, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    """Return nothing; send a whole JSON response through ASGI `send`."""
    body = json_bytes(payload)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(key.lower().encode(), value.encode()) for key, value in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool]:
    """Return (the whole body, whether the client disconnected); _BodyTooLarge past `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a receive that gives the app the body read already, then the client's later messages
    (a disconnect), so a route can still notice a client that went away."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _too_large(size: int | None, limit: int) -> ApiError:
    told = f" ({size:,} bytes)" if size is not None else ""
    return ApiError(413, f"request body too large{told}: this server accepts up to {limit:,} bytes", "body",
                    code="payload_too_large")  # fmt: skip


def _bearer(header: str | None) -> str | None:
    """Return the key of an `Authorization: Bearer KEY` header (None when there is none)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def form_parts(limits: LimitsConfig) -> int:
    """Return the most parts a multipart form may have: `max_texts` texts and LibreTranslate's other fields
    (source, target, format, alternatives, api_key), with room to spare."""
    return limits.max_texts + 16


def _body_key(
    content_type: str, body: bytes, max_parts: int | None = None
) -> tuple[str | None, dict[str, list[str]] | FormError | None]:
    """Return (LibreTranslate's `api_key` field from a JSON or form body, None when there is none; the form as
    the route reads it, its fields or the FormError refusing it, None for a body that is no form); the media
    type is read as the LibreTranslate routes read it (any case; no Content-Type is a form). The form is
    parsed once (`read_form`), keeping the fields it could read: a key sent beside a field the route will refuse
    is still found, so the route says what is wrong rather than asking for a key. FormError (status 413) for a
    form of more than `max_parts` parts."""
    if not body:
        return None, None
    kind = media_type(content_type)
    form: dict[str, list[str]] | FormError | None = None
    try:
        if kind.endswith("json"):
            data = json.loads(body)
            key = data.get("api_key") if isinstance(data, dict) else None
        elif kind in (*FORM_TYPES, ""):
            try:
                fields, refused = read_form(content_type, body, max_parts)
            except FormError as error:  # nothing of it can be read: the route refuses it with this error
                form = error
                raise
            form = refused if refused is not None else fields
            key = fields.get("api_key", [None])[0]
        else:
            return None, None
    except FormError as error:
        if error.status == 413:
            raise
        # a malformed body: the route says so (after the key check has refused it, if keys are on)
        return None, form
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, form
    return (key if isinstance(key, str) and key else None), form


def _query_key(query_string: bytes) -> str | None:
    """Return the `api_key` parameter of a query string (LibreTranslate reads it there too; None when none)."""
    if b"api_key" not in query_string:
        return None
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=False).get("api_key", [])
    return values[0] if values else None


def _query_not_utf8(query_string: bytes, status: int) -> ApiError | None:
    """Return the error for the first query parameter whose percent-encoded value is not UTF-8 (None when
    all are: the frameworks would read such bytes as U+FFFD and answer about a text nobody sent)."""
    if b"%" not in query_string:
        return None
    for pair in query_string.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            field = unquote_to_bytes(name).decode("utf-8", "replace") or "query"
            return ApiError(status, f"{field}: the query string's value is not UTF-8 text", field)
    return None


def _lone_surrogate(content_type: str, body: bytes, status: int) -> ApiError | None:
    """Return the error naming the first JSON string (value or key) that holds a lone UTF-16 surrogate
    (None when none does, or when the body is not JSON: the route says what is wrong with it then)."""
    if not media_type(content_type).endswith("json"):
        return None
    # json.loads reads UTF-16 and UTF-32 bodies too, with surrogatepass: a lone surrogate can come from
    # an escape, or from raw bytes in a body that is not strict UTF-8
    if not _SURROGATE_ESCAPE.search(body) and _is_utf8(body):
        return None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    field = unencodable(data, "")
    if field is None:
        return None  # only whole pairs: emoji and other characters beyond the BMP
    name = field or "body"
    return ApiError(status, f"{name}: holds a lone UTF-16 surrogate escape, which is not Unicode text", name)


def _is_utf8(body: bytes) -> bool:
    """Return True when `body` is strict UTF-8 (which has no encoded surrogates)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unencodable(value: Any, where: str = "") -> str | None:
    """Return the path (`input[1]`, `q`) of the first string in a parsed JSON value that cannot be UTF-8
    encoded, or None."""
    stack = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return path
        elif isinstance(item, list):
            stack.extend((entry, f"{path}[{i}]") for i, entry in reversed(list(enumerate(item))))
        elif isinstance(item, dict):
            for key, entry in reversed(list(item.items())):
                name = f"{path}.{key}" if path else str(key)
                try:
                    key.encode("utf-8")
                except UnicodeEncodeError:
                    return path or "body"
                stack.append((entry, name))
    return None


def request_texts(value: Any, field: str, limits: LimitsConfig, status: int = 422, *,
                  may_cut: bool = True, empty_status: int | None = None) -> tuple[list[str], bool]:  # fmt: skip
    """Return (the texts of a field that holds a string or a list of strings, whether it was a list), after the
    per-request limits: ApiError naming the field for a missing, empty or non-string entry (`status`; a text
    left blank by the cut to `max_chars` is empty), 413 for more than `max_texts` texts or, with overlong
    "reject" or `may_cut` False, a text over `max_chars` characters (cut to `max_chars` otherwise).

    `may_cut` is False for a text to translate: its translation would lack its end, with nothing saying so
    (LibreTranslate refuses a text over its limit too). `empty_status` (default `status`) is an empty list's
    or text's: text-embeddings-inference answers it 400 and a wrong type 422."""
    empty = status if empty_status is None else empty_status
    if value is None:
        raise ApiError(status, f"{field}: missing (give a string or a list of strings)", field)
    batch = isinstance(value, list)
    texts = value if batch else [value]
    if not texts:
        raise ApiError(empty, f"{field}: the list is empty (give at least one text)", field)
    if len(texts) > limits.max_texts:
        raise ApiError(413, f"{field}: {len(texts):,} texts in one request; this server accepts up to "
                            f"{limits.max_texts:,}", field, code="too_many_texts")  # fmt: skip
    checked: list[str] = []
    for i, text in enumerate(texts):
        name = f"{field}[{i}]" if batch else field
        if not isinstance(text, str):
            raise ApiError(status, f"{name}: expected a string, got {type(text).__name__}", name)
        if is_blank(text):
            raise ApiError(empty, f"{name}: the text is empty (no character but spaces, invisible format "
                                   "characters such as U+200B and control characters)", name)  # fmt: skip
        try:  # a lone surrogate the body check cannot see (a JSON body in UTF-16, a form part's charset)
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(status, f"{name}: holds a lone UTF-16 surrogate, which is not Unicode text",
                           name) from None  # fmt: skip
        if len(text) > limits.max_chars:
            if limits.overlong == "reject" or not may_cut:
                raise ApiError(413, f"{name}: {len(text):,} characters; this server accepts up to "
                                    f"{limits.max_chars:,} per text", name, code="text_too_long")  # fmt: skip
            text = text[: limits.max_chars]
            if is_blank(text):  # only spaces before the cut: nothing left to read
                raise ApiError(empty, f"{name}: the text is empty in its first {limits.max_chars:,} characters, "
                                       "where this server cuts texts", name)  # fmt: skip
        checked.append(text)
    return checked, batch
