"""xling's own routes: `POST /v1/search`, `POST /v1/classify`, `POST /v1/answer`."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request

from xling.errors import BusyError, LanguageCodeError, XlingError
from xling.serving.errors import ApiError
from xling.serving.limits import request_texts
from xling.serving.models import INDEX_PREFIX
from xling.serving.schemas import (
    AnswerRequest,
    ClassifyRequest,
    ClassifyResponse,
    Prediction,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from xling.serving.services import (
    ClassifyItem,
    Question,
    SearchItem,
    ServerState,
    answer_function,
    busy_error,
    classify_function,
    item_error,
    search_function,
    submit,
)

router = APIRouter(tags=["xling"])

MAX_FILTER_CODES = 1000
"""The most codes a language filter may name (ISO 639-3 has ~8,000; the detector knows ~370)."""


def _state(request: Request) -> ServerState:
    return request.app.state.xling


def _given_codes(value: str | list[str] | None, field: str, examples: str) -> list[str] | None:
    """Return the codes of a language filter as given (a code, a comma-separated string or a list), or None;
    400 naming the field for an empty one."""
    if value is None:
        return None
    codes = [c.strip() for c in value.split(",")] if isinstance(value, str) else list(value)
    if not codes or any(not code for code in codes):
        raise ApiError(400, f"{field}: give language codes such as {examples}", field)
    if len(codes) > MAX_FILTER_CODES:  # each is parsed on the event loop
        raise ApiError(400, f"{field}: {len(codes):,} language codes; a filter takes up to {MAX_FILTER_CODES:,}",
                       field)  # fmt: skip
    return codes


def _codes(value: str | list[str] | None, field: str) -> tuple[str, ...] | None:
    """Return ISO 639-3 codes of a language filter (a code, a comma-separated string or a list); 400 naming
    the field for a code that is not one."""
    return _iso_codes(_given_codes(value, field, "de or deu"), field)


def _iso_codes(codes: list[str] | None, field: str) -> tuple[str, ...] | None:
    """Return the ISO 639-3 codes of codes as given (None: None); 400 naming the field for one that is none."""
    from xling.data.languages import normalize_language

    try:
        return None if codes is None else tuple(normalize_language(code, where=field) for code in codes)
    except LanguageCodeError as error:
        raise ApiError(400, str(error), field) from None


def _search_codes(value: str | list[str] | None, field: str) -> tuple[str, ...] | None:
    """Return the codes of a search's language filter, as `_codes`; 400 naming the field for a code with a
    script or region too, as `xling index search --lang` refuses it (the index keeps each document's given
    language without them: `sr-Latn` would match Cyrillic documents)."""
    from xling.retrieval.index import filter_languages

    given = _given_codes(value, field, "de or deu")
    codes = _iso_codes(given, field)
    if given is not None:
        try:
            filter_languages(given, field, "detected_lang")
        except XlingError as error:
            raise ApiError(400, str(error), field) from None
    return codes


def _detected_codes(value: str | list[str] | None, field: str) -> tuple[str, ...] | None:
    """Return the codes of a filter on detected languages as given, scripts and regions kept (`sr-Latn`,
    `zh-TW`); 400 naming the field for a code that is not one."""
    from xling.langid.labels import parse_label

    codes = _given_codes(value, field, "de, deu or sr-Latn")
    try:
        for code in codes or ():
            parse_label(code, where=field)
    except LanguageCodeError as error:
        raise ApiError(400, str(error), field) from None
    return None if codes is None else tuple(codes)


def _one_code(value: str | None, field: str) -> str | None:
    """Return the ISO 639-3 code of a field that takes one language (None when not given); 400 naming the
    field for several codes or a code that is not one."""
    codes = _codes(value, field)
    if codes is None:
        return None
    if len(codes) > 1:
        raise ApiError(400, f"{field}: one language code, not {len(codes)} ({value})", field)
    return codes[0]


def _hits(body: SearchRequest, max_k: int) -> int:
    """Return how many hits to give: `k` as asked (422 over `max_k`), or the default cut to `max_k` (a server
    configured below the default must still answer a request that leaves `k` out)."""
    if "k" not in body.model_fields_set:
        return min(body.k, max_k)
    if body.k > max_k:
        raise ApiError(422, f"k: {body.k} hits asked for; this server gives up to {max_k}", "k")
    return body.k


async def _check_detected(index: Any, detected: tuple[str, ...]) -> None:
    """Return nothing if `index` can filter on the detected languages `detected` (checked before the query is
    encoded); 400 naming `detected_lang` for an index without detected languages, 503 with Retry-After while
    another process holds it locked (the filter is not at fault: the same request may pass later)."""
    try:
        # in a thread: it waits for the index's lock (held for a whole search) and SQLite's, up to WRITE_WAIT_S
        await anyio.to_thread.run_sync(index.check_detected, list(detected))
    except BusyError as error:
        raise busy_error(error) from None
    except XlingError as error:
        raise ApiError(400, f"detected_lang: {error}", "detected_lang") from None


@router.post("/v1/search", response_model=SearchResponse, summary="Search an index in any language")
async def search(body: SearchRequest, request: Request) -> SearchResponse:
    """Return the `k` documents nearest the query (in any language), optionally only those in `lang` (the
    language each document was given) or `detected_lang` (the one the detector found), each with its id,
    text, language, detected label and cosine score."""
    state = _state(request)
    config = state.config
    [query], _ = request_texts(body.query, "query", config.limits)
    k = _hits(body, config.limits.max_k)
    if body.index is not None and not body.index.strip():
        raise ApiError(422, "index: empty (leave it out for the default index)", "index")
    name = body.index or config.default_index or next(iter(config.indexes), None)
    if name is None:
        raise ApiError(503, "no search index configured: set `indexes` in the [serve] config and restart", "index",
                       code="model_unavailable")  # fmt: skip
    if name not in config.indexes:
        raise ApiError(404, f"index: {name!r} is not configured here (configured: {', '.join(sorted(config.indexes))})",
                       "index", code="index_not_found")  # fmt: skip
    languages = _search_codes(body.lang, "lang")
    detected = _detected_codes(body.detected_lang, "detected_lang")
    entry = await state.model(INDEX_PREFIX + name)
    if detected is not None:
        await _check_detected(entry.index, detected)
    batcher = state.batcher(
        INDEX_PREFIX + name, lambda: search_function(entry), chars=lambda item: len(item.query)
    )
    [hits] = await submit(request, batcher, [SearchItem(query, k, languages, detected)])
    item_error([hits], "query", False)
    return SearchResponse(index=name, hits=[
        SearchHit(id=hit.key, row=hit.id, text=hit.text, language=hit.language, score=round(float(hit.score), 6),
                  metadata=hit.metadata, detected=hit.detected) for hit in hits])  # fmt: skip


@router.post("/v1/classify", response_model=ClassifyResponse, summary="Classify texts in any language")
async def classify(body: ClassifyRequest, request: Request) -> ClassifyResponse:
    """Return each text's most probable label, its probability and every label's probability."""
    state = _state(request)
    texts, batch = request_texts(body.inputs, "inputs", state.config.limits)
    language = _one_code(body.language, "language")
    classifier = await state.model("classifier")
    batcher = state.batcher(
        "classifier", lambda: classify_function(classifier), chars=lambda item: len(item.text)
    )
    rows = await submit(request, batcher, [ClassifyItem(text, language) for text in texts])
    item_error(rows, "inputs", batch)
    labels = [str(label) for label in classifier.labels]
    predictions = []
    for row in rows:
        best = int(row.argmax())
        predictions.append(Prediction(label=labels[best], score=round(float(row[best]), 6),
                                      probabilities={lab: round(float(p), 6) for lab, p in zip(labels, row, strict=True)}))  # fmt: skip
    return ClassifyResponse(model=str(state.config.classifier), labels=labels, predictions=predictions)


@router.post("/v1/answer", summary="Ask the multilingual support bot")
async def answer(body: AnswerRequest, request: Request) -> dict[str, Any]:
    """Return the support bot's answer to a question in any language (what `xling bot ask` prints); its
    `score` and a candidate's are null when the question is unlike every entry (ratio margin)."""
    state = _state(request)
    [question], _ = request_texts(body.question, "question", state.config.limits)
    # checked here, given to the bot as written: its script picks the stored answer (zh-Hant, sr-Latn)
    language = body.lang.strip() if _one_code(body.lang, "lang") is not None and body.lang else None
    bot = await state.model("bot")
    batcher = state.batcher("bot", lambda: answer_function(bot), chars=lambda item: len(item.text))
    [result] = await submit(request, batcher, [Question(question, language)])
    item_error([result], "question", False)
    return result
