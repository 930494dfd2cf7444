"""`xling serve`: the HTTP server (embeddings, search, translation, detection, classification, support bot)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from xling.cli.common import Sets, console, literal


def serve(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "--recipe",
            help="TOML file: its `serve` table (or the whole file) sets the "
            "models, indexes, limits and batching.",
        ),  # fmt: skip
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Server processes, each with its own copy of the models (default 1).")
    ] = None,
    encoder: Annotated[
        str | None, typer.Option(help="Encoder folder or shipped name (default xling-mini).")
    ] = None,
    translator: Annotated[
        str | None, typer.Option(help="Translation model folder or shipped name (default xling-mt-bible).")
    ] = None,
    detector: Annotated[
        str | None, typer.Option(help="Language detector folder or shipped name (default xling-langid).")
    ] = None,
    classifier: Annotated[
        str | None, typer.Option(help="Classifier folder (`xling transfer train`).")
    ] = None,
    index: Annotated[
        list[str] | None,
        typer.Option(
            "--index", help="Search index to serve, NAME=FOLDER (repeatable), from `xling index build`."
        ),
    ] = None,
    bot: Annotated[str | None, typer.Option(help="Support-bot folder (`xling bot build`).")] = None,
    bot_translator: Annotated[
        str | None,
        typer.Option(
            help="Translation model for the bot's answers in languages its FAQ does not store "
            "(default none: those get the FAQ's own answer)."
        ),
    ] = None,
    set_: Sets = None,
) -> None:
    """Serve xling's models over HTTP: OpenAI-style /v1/embeddings, TEI-style /embed, LibreTranslate's
    /translate, /detect and /languages, /v1/search, /v1/classify, /v1/answer, /health, /metrics, /docs."""
    import uvicorn

    from xling.config import config_to_dict, load_config
    from xling.errors import ConfigError
    from xling.serving.app import CONFIG_ENV
    from xling.serving.config import ServeConfig

    indexes = {}
    for item in index or []:
        name, sep, folder = item.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise ConfigError(f"--index {item!r}: expected NAME=FOLDER, e.g. --index docs=runs/index")
        indexes[name.strip()] = folder.strip()
    settings = load_config(ServeConfig, config, set_ or [], section="serve", host=host, port=port, workers=workers,
                           encoder=encoder, translator=translator, detector=detector, classifier=classifier,
                           bot=bot, bot_translator=bot_translator, indexes=indexes or None)  # fmt: skip
    settings.validate()
    console.print(f"xling serve on http://{literal(settings.host)}:{settings.port} ({settings.workers} worker"
                  f"{'s' if settings.workers > 1 else ''}; API docs at /docs)")  # fmt: skip
    options = dict(host=settings.host, port=settings.port, log_level=settings.log_level,
                   timeout_graceful_shutdown=settings.graceful_timeout_s)  # fmt: skip
    if settings.workers > 1 and settings.limits.rate_limit_per_minute:
        console.print(f"[yellow]warning:[/] each of the {settings.workers} workers counts its own requests: a key "
                      f"can get up to {settings.workers} x {settings.limits.rate_limit_per_minute} requests a "
                      "minute (put a shared rate limit in the load balancer for an exact one)")  # fmt: skip
    if settings.workers > 1:
        # each worker process builds its own app (and loads its own models) from the config in the environment
        os.environ[CONFIG_ENV] = json.dumps(config_to_dict(settings))
        uvicorn.run(
            "xling.serving.app:app_from_environment", factory=True, workers=settings.workers, **options
        )
        return
    from xling.serving.app import create_app

    uvicorn.run(create_app(settings), **options)
