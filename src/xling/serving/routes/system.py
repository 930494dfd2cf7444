"""`GET /health`, `GET /v1/models`, `GET /metrics`."""

from __future__ import annotations

import dataclasses
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from xling.errors import BusyError
from xling.serving.errors import ApiError
from xling.serving.metrics import CONTENT_TYPE
from xling.serving.models import INDEX_PREFIX
from xling.serving.routes.embeddings import encoder_info
from xling.serving.services import ServerState

router = APIRouter(tags=["server"])


def _state(request: Request) -> ServerState:
    return request.app.state.xling


async def health(request: Request) -> dict[str, Any]:
    """Return `ok` when every configured model is loaded, `degraded` when one failed (the server still
    answers; that model's endpoints give 503), with each model's state and each batcher's counts."""
    state = _state(request)
    models = state.registry.status()
    failed = [name for name, info in models.items() if info["state"] == "failed"]
    return {"status": "degraded" if failed else "ok", "failed": failed, "models": models,
            "batchers": {name: dataclasses.asdict(b.stats) for name, b in state.batchers.items()}}  # fmt: skip


# HEAD too, as load balancers probe with it. The first route serves both (a 405 lists both in its Allow); the
# second, never reached, documents GET alone: FastAPI gives a route one operation id for all its methods, which
# the schema then listed twice (client generators refuse that)
router.add_api_route("/health", health, methods=["GET", "HEAD"], include_in_schema=False)
router.add_api_route("/health", health, methods=["GET"], summary="Liveness, and which models are loaded")


@router.get("/v1/models", summary="The served models (OpenAI's list shape) and their limits")
async def models(request: Request) -> dict[str, Any]:
    """Return every configured model slot as an OpenAI model object (`id`, `object`, `owned_by`) with xling's
    fields: its role, state, error and, for the encoder, its limits; for an index its document count (null,
    with `busy` true, while another process holds it locked). A role with nothing configured is left out:
    clients that list the models and pick one (LiteLLM, UI pickers) offered models this server does not serve
    (/health lists every role, those too)."""
    return {"object": "list", "data": await _model_entries(_state(request))}


@router.get("/v1/models/{model_id:path}", summary="One served model (OpenAI's retrieve shape)")
async def model(model_id: str, request: Request) -> dict[str, Any]:
    """Return the model object whose `id` (or role) is `model_id`, as `GET /v1/models` lists it; 404 in
    OpenAI's error shape for another (the OpenAI SDK's `models.retrieve` asks here)."""
    for entry in await _model_entries(_state(request)):
        if model_id in (entry["id"], entry["role"]):
            return entry
    raise ApiError(404, f"model {model_id!r} is not served here (see GET /v1/models)", "model",
                   code="model_not_found")  # fmt: skip


async def _model_entries(state: ServerState) -> list[dict[str, Any]]:
    """Return the model object of every configured slot (see `models`)."""
    data = []
    for name, slot in state.registry.slots.items():
        if slot.state == "not configured":
            continue
        entry: dict[str, Any] = {"id": slot.source or name, "object": "model", "created": 0, "owned_by": "xling",
                                 "role": "index" if name.startswith(INDEX_PREFIX) else name, **slot.to_dict()}  # fmt: skip
        if name.startswith(INDEX_PREFIX):
            entry["index"] = name[len(INDEX_PREFIX) :]
            if slot.state == "loaded":
                entry.update(await _index_documents(slot.model.index))
                entry["encoder"] = slot.model.index.model
        elif name == "encoder":
            entry["limits"] = encoder_info(state)
        elif name == "translator" and slot.state == "loaded":
            languages = slot.model.languages
            entry.update(family=languages.family, sources=list(languages.sources or ()),
                         targets=list(languages.targets or ()))  # fmt: skip
        elif name == "detector" and slot.state == "loaded":
            entry["labels"] = len(slot.model.labels)
        elif name == "classifier" and slot.state == "loaded":
            entry["labels"] = [str(label) for label in slot.model.labels]
        data.append(entry)
    return data


async def _index_documents(index: Any) -> dict[str, Any]:
    """Return the fields of a loaded index's entry that count its documents: `documents`, or `documents`
    null and `busy` true while another process holds the index locked (a large `xling index add`): that
    is no reason to fail the whole listing, the encoder's entry and the other indexes' with it."""
    try:
        # in a thread: the index's lock is held for the whole of a search, which the loop would wait on
        return {"documents": await anyio.to_thread.run_sync(len, index)}
    except BusyError:
        return {"documents": None, "busy": True}


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> PlainTextResponse:
    """Return the request, latency, batch and error metrics in Prometheus's text format."""
    state = _state(request)
    for name, slot in state.registry.slots.items():
        state.metrics.set_gauge("model_loaded", "1 when the model is loaded, 0 when not (yet).",
                                float(slot.state == "loaded"), model=name)  # fmt: skip
    return PlainTextResponse(state.metrics.render(), media_type=CONTENT_TYPE)
