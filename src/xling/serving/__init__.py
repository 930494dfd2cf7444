"""`xling serve`: one HTTP server for embeddings, search, translation, language detection, classification and
the support bot, speaking the APIs clients already use (OpenAI embeddings, text-embeddings-inference,
LibreTranslate) plus xling's own.

`create_app(ServeConfig(...))` returns the FastAPI app; `xling serve` runs it with uvicorn. Modules: `config`
(ServeConfig), `app` (the app, error answers, middleware), `batching` (dynamic batching off the event loop),
`limits` (API keys, rate limits, sizes), `metrics` (Prometheus text), `models` (loading, 503 for what
failed), `services` (the model functions the batchers run), `schemas` (request and response bodies),
`routes/` (one module per API family).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from xling.serving.config import ServeConfig

__all__ = ["ServeConfig", "create_app"]


def create_app(config: ServeConfig | None = None) -> FastAPI:
    """Return the FastAPI app serving `config`'s models (see xling.serving.app.create_app)."""
    from xling.serving.app import create_app as build

    return build(config)


def __getattr__(name: str):
    # `from xling.serving import ServeConfig` without importing FastAPI for every `import xling.serving`
    if name == "ServeConfig":
        from xling.serving.config import ServeConfig

        return ServeConfig
    raise AttributeError(f"module 'xling.serving' has no attribute {name!r}")
