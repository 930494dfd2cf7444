"""Sentence embeddings: OpenAI-style `POST /v1/embeddings` and text-embeddings-inference-style `POST /embed`,
`GET /info`."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from xling import __version__
from xling.serving.errors import ApiError
from xling.serving.limits import request_texts
from xling.serving.schemas import EmbeddingData, EmbeddingsRequest, EmbeddingsResponse, EmbedRequest, Usage
from xling.serving.services import EmbedItem, ServerState, embed_function, item_error, submit, token_limit

router = APIRouter(tags=["embeddings"])
# /info's max_concurrent_requests: the server bounds none (TEI's field is a required integer)
NO_LIMIT = 2**31 - 1


def _state(request: Request) -> ServerState:
    return request.app.state.xling


async def _embed(request: Request, items: list[EmbedItem], field: str, batch: bool) -> list[Any]:
    state = _state(request)
    encoder = await state.model("encoder")
    batcher = state.batcher(
        "encoder",
        lambda: embed_function(encoder, state.config.batching.call_cost_tokens),
        chars=lambda item: len(item.text),
    )
    results = await submit(request, batcher, items)
    item_error(results, field, batch)
    return results


def served_names(state: ServerState, encoder: Any) -> set[str]:
    """Return the names a client may give as `model` for the served encoder."""
    names = {str(state.config.encoder), str(getattr(encoder, "name", ""))}
    return {name for name in names if name}


@router.post("/v1/embeddings", response_model=EmbeddingsResponse, summary="OpenAI-style embeddings")
async def embeddings(body: EmbeddingsRequest, request: Request) -> EmbeddingsResponse:
    """Embed a text or a list of texts (OpenAI's request and response shapes; `usage` counts the encoder's
    tokens); an invalid request is a 400, as OpenAI's."""
    state = _state(request)
    texts, batch = request_texts(body.input, "input", state.config.limits, status=400)  # OpenAI's status
    encoder = await state.model("encoder")
    names = served_names(state, encoder)
    if body.model is not None and body.model not in names:
        raise ApiError(404, f"model {body.model!r} is not served here; this server's encoder is "
                            f"{sorted(names)[0]!r} (see GET /v1/models)", "model", code="model_not_found")  # fmt: skip
    _check_dimensions(body.dimensions, encoder, 400)
    results = await _embed(request, [EmbedItem(text, count_tokens=True) for text in texts], "input", batch)
    data = [EmbeddingData(index=i, embedding=_encoded(vector, body.encoding_format))
            for i, (vector, _) in enumerate(results)]  # fmt: skip
    tokens = sum(count for _, count in results)
    name = str(getattr(encoder, "name", None) or state.config.encoder)
    return EmbeddingsResponse(data=data, model=name, usage=Usage(prompt_tokens=tokens, total_tokens=tokens))


@router.post("/embed", summary="text-embeddings-inference-style embeddings")
# TEI serves embed at its root and at /invocations too: its clients given the server's address POST to `/`
@router.post("/", summary="text-embeddings-inference-style embeddings (as /embed)", include_in_schema=False)
@router.post(
    "/invocations", summary="text-embeddings-inference-style embeddings (as /embed)", include_in_schema=False
)
async def embed(body: EmbedRequest, request: Request) -> list[list[float]]:
    """Embed a text or a list of texts: one list of floats per text (TEI's shape); `truncate: false` (the
    default, as in TEI) refuses a text over the model's token limit with 413."""
    state = _state(request)
    truncate = bool(body.truncate)  # null is TEI's default, false
    # `truncate: false` refuses an over-long text with 413 at the character limit too, not only at the tokens
    texts, batch = request_texts(
        body.inputs, "inputs", state.config.limits, may_cut=truncate, empty_status=400
    )  # TEI's ErrorType::Empty (router/src/http/server.rs)
    if body.prompt_name is not None:
        raise ApiError(422, f"prompt_name: {body.prompt_name!r}: this server serves no named prompts (the "
                            "encoder's default prompt, if it has one, goes before every text)", "prompt_name")  # fmt: skip
    if truncate and body.truncation_direction == "Left":
        raise ApiError(422, "truncation_direction: Left is not supported: a text over the token limit is cut "
                            "at its end (Right)", "truncation_direction")  # fmt: skip
    _check_dimensions(body.dimensions, await state.model("encoder"), 422)
    items = [EmbedItem(text, normalize=body.normalize, truncate=truncate) for text in texts]
    results = await _embed(request, items, "inputs", batch)
    return [vector.tolist() for vector, _ in results]


def _check_dimensions(dimensions: int | None, encoder: Any, status: int) -> None:
    """Return nothing when `dimensions` is None or the encoder's; else ApiError(`status`) naming the field: a
    client that asked for shorter vectors must not get longer ones."""
    if dimensions is not None and dimensions != encoder.dimension:
        raise ApiError(status, f"dimensions: this encoder gives {encoder.dimension}-dimensional vectors, not "
                               f"{dimensions}", "dimensions")  # fmt: skip


@router.get("/info", summary="The served encoder and its limits (text-embeddings-inference's /info)")
async def info(request: Request) -> dict[str, Any]:
    """Return the encoder's name, dimension and limits: tokens per text, texts and characters per request,
    the batch budgets."""
    state = _state(request)
    return encoder_info(state)


def encoder_info(state: ServerState) -> dict[str, Any]:
    """Return what a client needs to know about the encoder: name, dimension and every limit."""
    limits, batching = state.config.limits, state.config.batching
    slot = state.registry.slots["encoder"]
    info: dict[str, Any] = {
        "model_id": slot.source, "model_dtype": "float32", "loaded": slot.state == "loaded",
        "max_client_batch_size": limits.max_texts, "max_chars_per_text": limits.max_chars,
        "overlong_texts": limits.overlong, "max_batch_chars": batching.max_batch_chars,
        "max_batch_texts": batching.max_batch_texts, "max_batch_wait_ms": batching.max_wait_ms,
        "max_body_bytes": limits.max_body_bytes, "version": __version__,
    }  # fmt: skip
    # TEI's Info fields that its clients require (router/src/lib.rs): whole numbers where xling has no such
    # limit (a static encoder reads any length: a token is at least a character, so the character limits bound
    # the tokens), not null
    info.update(served_model_name=slot.source, max_concurrent_requests=NO_LIMIT,
                auto_truncate=False, tokenization_workers=1,
                max_input_length=limits.max_chars, max_batch_tokens=batching.max_batch_chars)  # fmt: skip
    if slot.state == "loaded":
        encoder = slot.model
        pooling = getattr(encoder.module, "pooling", "mean")  # a static encoder's vector is a mean
        info.update(model_type={"embedding": {"pooling": pooling, "kind": encoder.kind}},
                    dimension=encoder.dimension, normalized=True,
                    max_input_length=token_limit(encoder) or limits.max_chars)  # fmt: skip
    elif slot.error:
        info["error"] = slot.error
    return info


def _encoded(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    """Return a vector as JSON floats, or as base64 of its little-endian float32 bytes (OpenAI's base64)."""
    if encoding_format == "base64":
        return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
    return vector.tolist()
