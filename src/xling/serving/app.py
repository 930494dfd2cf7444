"""`create_app(config)`: the FastAPI app of `xling serve` (routes, error answers, middleware, web page).

Middleware, outermost first: metrics (every answer counted, refusals included), CORS (only when
`cors_origins` is set), the guard (body size 413, API key 401, rate limit 429; `limits.py`). Errors are JSON
naming the field: a malformed body or a wrong type 422 (400 on the LibreTranslate routes and the OpenAI-style
/v1/embeddings, as LibreTranslate and OpenAI answer),
an XlingError from the library 400 with its message, a model that is not loaded 503 naming it; anything
unexpected is logged and answered 500 without internals.

Models load at startup when `preload` is on (uvicorn accepts connections once they have loaded or failed),
otherwise on first use; `app_from_environment` is the factory each `--workers` process calls.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from xling import __version__
from xling.errors import BusyError, XlingError
from xling.serving.batching import ClientLeft
from xling.serving.config import ServeConfig, config_from_dict
from xling.serving.errors import OPENAI_PATHS, ApiError, JsonAnswer, error_body, is_openai_path
from xling.serving.limits import GuardMiddleware, Message, Receive, Scope, Send
from xling.serving.metrics import Metrics
from xling.serving.routes import embeddings, libretranslate, system, xling_api
from xling.serving.services import ServerState, busy_error

logger = logging.getLogger(__name__)

CONFIG_ENV = "XLING_SERVE_CONFIG"
"""Environment variable holding the config as JSON for worker processes (`--workers` > 1)."""
STATIC = Path(__file__).resolve().parent / "static"
DOCS_STATIC = "/static/docs"
"""Where the API docs' Swagger UI and ReDoc files are served (under the open /static/ prefix)."""
_KINDS = {400: "bad_request", 401: "auth", 404: "not_found", 413: "too_large", 422: "validation",
          429: "rate_limit", 503: "model_unavailable"}  # fmt: skip
LIBRETRANSLATE_PATHS = frozenset({"/translate", "/detect", "/languages", "/frontend/settings"})
QUERY_PATHS = frozenset({"/translate", "/detect"})
"""The routes that read query-string parameters (LibreTranslate's take their fields there too)."""
BAD_REQUEST_PATHS = LIBRETRANSLATE_PATHS | OPENAI_PATHS
"""Routes whose clients expect 400, not 422, for an invalid request (OpenAI's SDKs raise BadRequestError)."""

DESCRIPTION = """Embeddings (OpenAI and text-embeddings-inference shapes), translation and language detection
(LibreTranslate's API), cross-language search, classification and the support bot, from xling's models, in
one process. Errors are JSON naming the field; see /v1/models for what is loaded and each limit."""


def create_app(config: ServeConfig | None = None) -> FastAPI:
    """Return the app serving `config`'s models (default: ServeConfig())."""
    config = config or ServeConfig()
    config.validate()
    state = ServerState(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if config.preload:
            await anyio.to_thread.run_sync(state.registry.load_all)
        loaded = [name for name, slot in state.registry.slots.items() if slot.state == "loaded"]
        logger.info("xling serve: loaded %s", ", ".join(loaded) or "no models")
        yield
        state.close()

    # /docs and /redoc load Swagger UI and ReDoc from files served here (FastAPI's own pages fetch them from a
    # CDN, so an offline server showed a blank page)
    app = FastAPIOffline(title="xling", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                         static_url=DOCS_STATIC)  # fmt: skip
    app.state.xling = state
    routers = (embeddings.router, libretranslate.router, xling_api.router, system.router)
    for router in routers:
        _add_head_routes(router)
        app.include_router(router)
    _add_error_handlers(app, state.metrics)
    _document_errors(app)
    static_paths = _add_web_page(app)
    _add_head_routes(app)
    app.add_middleware(
        GuardMiddleware,
        limits=config.limits,
        metrics=state.metrics,
        open_paths=static_paths,
        bad_request_paths=BAD_REQUEST_PATHS,
        query_paths=QUERY_PATHS,
    )
    if config.cors_origins:
        # any request header (Starlette echoes those a preflight asks for): OpenAI's SDK in a browser sends its
        # x-stainless-* headers and OpenAI-Organization / OpenAI-Project on every request. No credentials mode:
        # the key travels in the Authorization header, which the echo allows, not in cookies
        app.add_middleware(JsonCorsMiddleware, allow_origins=list(config.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["*"], expose_headers=["Retry-After"])  # fmt: skip
    app.add_middleware(
        MetricsMiddleware, metrics=state.metrics, paths=_route_paths(app, routers) | static_paths
    )
    return app


def app_from_environment() -> FastAPI:
    """Return the app for the config in $XLING_SERVE_CONFIG (JSON): the factory uvicorn calls in each worker."""
    raw = os.environ.get(CONFIG_ENV)
    if not raw:
        raise XlingError(f"${CONFIG_ENV} is not set: start the server with `xling serve`")
    return create_app(config_from_dict(json.loads(raw)))


CLIENT_CLOSED = 499
"""The status a request is counted under when its client left before any answer (nginx's "client closed
request"): no answer was sent, and it is not a server error."""


class MetricsMiddleware:
    """ASGI middleware: counts every answer by endpoint, method and status, with its latency; an exception
    that escapes the app counts as 500, a request whose client disconnected before any answer as 499."""

    def __init__(self, app: Any, metrics: Metrics, paths: frozenset[str]):
        self.app = app
        self.metrics = metrics
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        endpoint = path if path in self.paths else "other"
        scope["xling.endpoint"] = endpoint
        status = 500
        answered = left = False
        started = time.perf_counter()

        async def record(message: dict[str, Any]) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = int(message["status"]), True
            await send(message)

        async def listen() -> Message:
            nonlocal left
            message = await receive()
            left = left or message["type"] == "http.disconnect"
            return message

        self.metrics.add_gauge("requests_in_flight", "Requests being served.", 1)
        try:
            await self.app(scope, listen, record)
            if left and not answered:
                status = CLIENT_CLOSED
        finally:
            self.metrics.add_gauge("requests_in_flight", "Requests being served.", -1)
            self.metrics.request(endpoint, scope.get("method", ""), status, time.perf_counter() - started)


def _route_paths(app: FastAPI, routers: tuple[Any, ...]) -> frozenset[str]:
    """Return the paths of the app's routes (the metrics' endpoint labels)."""
    routes = [*app.routes, *(route for router in routers for route in router.routes)]
    return frozenset(str(getattr(route, "path", "")) for route in routes) - {""}


def _add_head_routes(routes: FastAPI | APIRouter) -> None:
    """Return nothing after giving each GET route of an app or router without HEAD a HEAD twin (RFC 9110:
    HEAD wherever GET is; probes use it), left out of the schema, which lists each operation once. A router
    that has its twins already (from an app made before) is left as it is."""
    with_head = {
        route.path for route in routes.routes if isinstance(route, APIRoute) and "HEAD" in route.methods
    }
    for route in list(routes.routes):
        if isinstance(route, APIRoute) and "GET" in route.methods and route.path not in with_head:
            routes.add_api_route(route.path, route.endpoint, methods=["HEAD"], include_in_schema=False,
                                 response_model=route.response_model, response_class=route.response_class)  # fmt: skip
            with_head.add(route.path)


def _add_web_page(app: FastAPI) -> frozenset[str]:
    """Return the paths of the web page's files after serving them: `/` is static/index.html, and each other
    file of static/ at the root (`/app.js`), as the page refers to them relatively."""
    if not (STATIC / "index.html").is_file():

        @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
        async def no_page() -> dict[str, str]:
            return {"name": "xling", "docs": "/docs", "models": "/v1/models"}

        return frozenset({"/"})
    files = {f"/{path.name}": path for path in STATIC.iterdir() if path.is_file()}

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    for url, path in files.items():
        if url != "/index.html":
            app.add_api_route(url, _file_route(path), methods=["GET"], include_in_schema=False)
    return frozenset({"/", *files})


def _file_route(path: Path) -> Any:
    async def serve_file() -> FileResponse:
        return FileResponse(path)

    return serve_file


# the request header behind each reason Starlette gives for refusing a CORS preflight ("headers" never comes:
# with allow_headers=["*"] Starlette echoes whatever headers a preflight asks for)
_PREFLIGHT_FIELDS = {"origin": "Origin", "method": "Access-Control-Request-Method",
                     "private-network": "Access-Control-Request-Private-Network"}  # fmt: skip


class JsonCorsMiddleware(CORSMiddleware):
    """Starlette's CORS middleware whose refused preflight is a JSON error naming the header, like every other
    refusal of the server (Starlette answers it in plain text)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        """Return Starlette's preflight answer, a refusal re-written as JSON with the same headers."""
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        reasons = bytes(answer.body).decode().removeprefix("Disallowed CORS ").split(", ")
        fields = [_PREFLIGHT_FIELDS.get(reason, reason) for reason in reasons]
        headers = {
            k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "content-type")
        }
        message = f"CORS preflight refused: this server does not allow the {', '.join(fields)} sent"
        return JsonAnswer(error_body("", 400, message, fields[0]), status_code=400, headers=headers)


def _add_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    """Return nothing; make every error a JSON answer naming the field, in the shape the route's clients read."""

    def answer(request: Request, status: int, message: str, field: str | None, kind: str,
               headers: dict[str, str] | None = None, code: str | None = None, **extra: Any) -> JsonAnswer:  # fmt: skip
        body = error_body(request.url.path, status, message, field, code, **extra)
        # JsonAnswer: a message echoing a client's lone surrogate cannot fail here and be counted twice
        response = JsonAnswer(body, status_code=status, headers=headers)
        metrics.error(request.scope.get("xling.endpoint", "other"), kind)
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        kind = error.code or _KINDS.get(error.status, f"http_{error.status}")
        return answer(request, error.status, error.message, error.field, kind, error.headers, error.code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        field, message = _validation_message(error.errors())
        status = 400 if request.url.path in BAD_REQUEST_PATHS else 422
        return answer(request, status, message, field, "validation")

    @app.exception_handler(ClientLeft)
    async def left(request: Request, error: ClientLeft) -> Response:
        # nobody reads this answer (the server drops it): its status is what the metrics count
        return Response(status_code=CLIENT_CLOSED)

    @app.exception_handler(XlingError)
    async def refused(request: Request, error: XlingError) -> JSONResponse:
        if isinstance(error, BusyError):
            return await api_error(request, busy_error(error))
        return answer(request, 400, str(error), None, type(error).__name__)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message, field, status = str(error.detail), None, error.status_code
        headers = dict(error.headers or {})
        if status == 400 and message == "There was an error parsing the body":
            # FastAPI's own answer when it cannot read a JSON body at all (not UTF-8, nested too deeply)
            field, message = (
                "body",
                "body: not JSON that can be read (it must be UTF-8, and not nested too deeply)",
            )
            status = 400 if request.url.path in BAD_REQUEST_PATHS else 422
        elif error.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif error.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
            allowed = [method.strip() for method in headers.get("Allow", "").split(",") if method.strip()]
            if (
                "GET" in allowed and "HEAD" not in allowed
            ):  # its HEAD twin is a route apart (_add_head_routes)
                headers["Allow"] = ", ".join([*allowed, "HEAD"])
        return answer(request, status, message, field, f"http_{status}", headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return answer(request, 500, f"internal error ({type(error).__name__}); the server log has the details",
                      None, "internal")  # fmt: skip


_OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["message", "type"], "properties": {
        "message": {"type": "string"}, "type": {"type": "string"},
        "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "code": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}},
}  # fmt: skip
_PLAIN_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "field": {"type": "string"}, "code": {"type": "string"}},
}
EMPTY_IS_400_PATHS = frozenset({"/embed"})
"""Routes that answer an empty input 400 and other invalid requests 422 (text-embeddings-inference's)."""
_ERROR_STATUSES = {"401": "No or wrong API key", "413": "Body, texts or characters over the server's limits",
                   "429": "Rate limit reached (Retry-After says when to retry)"}  # fmt: skip


def _document_errors(app: FastAPI) -> None:
    """Return nothing after making /openapi.json describe the errors the routes send: FastAPI declares 422
    with its own `{"detail": [...]}` body, while the handlers above answer 400 (OpenAI and LibreTranslate
    routes) or 422 with `error_body`'s shape, so a client generated from the schema misread every error."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            body = _OPENAI_ERROR if is_openai_path(path) else _PLAIN_ERROR
            invalid = "400" if path in BAD_REQUEST_PATHS else "422"
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                takes_input = responses.pop("422", None) is not None or method == "post"
                statuses = {invalid: "Invalid request: the message names the field"} if takes_input else {}
                if (
                    path in EMPTY_IS_400_PATHS
                ):  # as text-embeddings-inference: an empty input 400, a wrong type 422
                    statuses["400"] = (
                        "Empty input: no text, or a text of spaces or invisible characters alone"
                    )
                if method == "post":
                    statuses |= _ERROR_STATUSES
                for status, description in statuses.items():
                    responses[status] = {"description": description,
                                         "content": {"application/json": {"schema": body}}}  # fmt: skip
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


ERRORS_READ = 64
"""The most validation errors a message is made from: the first field's and the count of other fields need no
more (a model has a few fields, each with an error per union member), and a body of many wrong items gave one
error each, all read twice on the event loop."""


def _validation_message(errors: Any) -> tuple[str | None, str]:
    """Return (the field, one message naming it) for FastAPI's validation errors: the first field's, with how
    many other fields are wrong (among the first ERRORS_READ errors)."""
    errors = list(islice(errors, ERRORS_READ))
    if not errors:
        return None, "invalid request"
    first = errors[0]
    if first.get("type") == "json_invalid":
        return "body", f"body: malformed JSON ({first.get('ctx', {}).get('error', first.get('msg', ''))})"
    names = [_field_name(e.get("loc", ())) for e in errors]
    field = names[0]
    if field == "body" and first.get("type") == "model_attributes_type":
        return "body", "body: expected a JSON object (sent with Content-Type: application/json)"
    if field == "body" and first.get("type") == "missing":
        return "body", "body: missing (send a JSON object with Content-Type: application/json)"
    top = field.split("[")[0].split(".")[0]
    same = [
        (e, name) for e, name in zip(errors, names, strict=True) if name.split("[")[0].split(".")[0] == top
    ]
    # a value that fits no member of a union (str | list[str]) gives one error per member: a list position
    # names the wrong item (input[1]); otherwise say what each member wanted
    deeper = [(e, name) for e, name in same if any(isinstance(part, int) for part in e.get("loc", ()))]
    if deeper:
        field, message = deeper[0][1], deeper[0][0].get("msg", "invalid")
    else:
        message = " or ".join(dict.fromkeys(str(e.get("msg", "invalid")) for e, _ in same))
    others = len({name.split("[")[0] for name in names} - {top})
    more = f" (and {others} more field{'s' if others > 1 else ''})" if others else ""
    return field, f"{field}: {message}{more}"


def _field_name(loc: Any) -> str:
    """Return a validation error's field as a client wrote it (`input[1]`, `decoding.beam`; "body" for the
    whole body), leaving out union members' type names (`str`, `list[str]`)."""
    parts: list[str] = []
    for part in loc:
        if part == "body" and not parts:
            continue
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not parts or not _is_type_tag(part):
            parts.append(("." if parts else "") + str(part))
    return "".join(parts) or "body"


def _is_type_tag(part: Any) -> bool:
    """Return True for a location part that names a union member's type (`str`, `list[str]`), not a field."""
    return isinstance(part, str) and (part in {"str", "int", "float", "bool"} or "[" in part)
