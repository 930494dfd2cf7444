"""Errors the server answers with, and the JSON body each API family's clients expect.

Every error body names what went wrong, and the field where there is one. LibreTranslate, text-embeddings-
inference and xling's own routes answer `{"error": message, "field": name}` (LibreTranslate's and TEI's
clients read `error`); the OpenAI-style /v1/embeddings and /v1/models (with /v1/models/{id}) answer OpenAI's
`{"error": {"message", "type", "param", "code"}}`, which OpenAI's client libraries read.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

OPENAI_PATHS = frozenset({"/v1/embeddings"})
"""The OpenAI-style routes that take a body (their clients expect 400 for an invalid one)."""
OPENAI_MODELS = "/v1/models"
"""OpenAI's model list, and under it one model (`/v1/models/{id}`, the OpenAI SDK's `models.retrieve`)."""

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
          413: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
          503: "service_unavailable"}  # fmt: skip


class ApiError(Exception):
    """An answer other than 200: its status, message and the request field it is about."""

    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None,
                 code: str | None = None):  # fmt: skip
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
        self.code = code


class ModelUnavailable(ApiError):
    """A model an endpoint needs is not configured or failed to load: 503 naming it."""

    def __init__(self, role: str, message: str):
        super().__init__(503, message, code="model_unavailable")
        self.role = role


def error_body(path: str, status: int, message: str, field: str | None = None, code: str | None = None,
               **extra: Any) -> dict[str, Any]:  # fmt: skip
    """Return the JSON body of an error for a request to `path`, in the shape that API's clients read."""
    if is_openai_path(path):
        return {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "param": field,
                          "code": code, **extra}}  # fmt: skip
    body: dict[str, Any] = {"error": message}
    if field is not None:
        body["field"] = field
    if code is not None:
        body["code"] = code
    return {**body, **extra}


def is_openai_path(path: str) -> bool:
    """Return True for a path whose clients read OpenAI's error shape (a path parameter included)."""
    return path in OPENAI_PATHS or path == OPENAI_MODELS or path.startswith(OPENAI_MODELS + "/")


def json_bytes(payload: Any) -> bytes:
    """Return `payload` as UTF-8 JSON; non-ASCII characters as `\\u` escapes when a string cannot be UTF-8
    encoded (a lone surrogate a client sent, echoed in a message), so an error answer never fails itself."""
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class JsonAnswer(JSONResponse):
    """A JSON response whose rendering cannot raise on text that is not Unicode (see `json_bytes`)."""

    def render(self, content: Any) -> bytes:
        """Return the body bytes of `content`."""
        return json_bytes(content)
