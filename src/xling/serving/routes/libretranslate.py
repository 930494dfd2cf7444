"""LibreTranslate-compatible `POST /translate`, `POST /detect`, `GET /languages`.

As LibreTranslate, the POST routes read a JSON body or a form (`application/x-www-form-urlencoded`, what the
`libretranslatepy` client and HTML forms send, or `multipart/form-data`, what `curl -F` sends; query
parameters too), `q` is a string or a list of strings,
errors are `{"error": message}` with 400 for a missing parameter or a language the model lacks, and language
codes are ISO 639-1 where one exists. `source: auto` is detected per text with xling's detector, restricted to
the languages the translator reads, and the answer carries `detectedLanguage` ({confidence 0-100, language}).
`format: html` translates the text between tags and keeps the tags (script and style content untouched).
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from fastapi import APIRouter, Request

from xling.errors import XlingError
from xling.serving.errors import ApiError
from xling.serving.forms import FORM_TYPES, form_fields, media_type
from xling.serving.languages import client_code, display_name
from xling.serving.limits import request_texts
from xling.serving.services import (
    DetectItem,
    ServerState,
    TranslateItem,
    detect_function,
    item_error,
    source_function,
    translate_function,
)

router = APIRouter(tags=["LibreTranslate"])

FORMATS = ("text", "html")
DETECT_CANDIDATES = 3
_TAG = re.compile(r"(<[^>]*>)")
_RAW_TEXT_TAG = re.compile(r"<\s*(script|style)\b", re.IGNORECASE)
_RAW_TEXT_END = re.compile(r"<\s*/\s*(script|style)\s*>", re.IGNORECASE)

_BODY_DOC = {"requestBody": {"content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "q": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "source": {"type": "string", "example": "auto"}, "target": {"type": "string", "example": "de"},
        "format": {"type": "string", "enum": list(FORMATS)}, "api_key": {"type": "string"}},
        "required": ["q"]}},
    **{form: {"schema": {"type": "object", "properties": {
        "q": {"type": "string"}, "source": {"type": "string"}, "target": {"type": "string"},
        "format": {"type": "string"}, "api_key": {"type": "string"}}, "required": ["q"]}} for form in FORM_TYPES},
}}}  # fmt: skip


def _state(request: Request) -> ServerState:
    return request.app.state.xling


async def read_params(request: Request) -> dict[str, Any]:
    """Return the request's parameters from its JSON body or form, and its query string (LibreTranslate reads
    both); 400 for a body that is neither, or JSON that is not an object."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    content_type = media_type(request.headers.get("content-type", ""))
    if not body.strip():
        return params
    if content_type.endswith("json"):
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise ApiError(400, f"Invalid JSON format: {error}", "body") from None
        except RecursionError:
            raise ApiError(400, "Invalid JSON format: nested too deeply", "body") from None
        if not isinstance(data, dict):
            raise ApiError(400, "Invalid JSON format: the body must be a JSON object", "body")
        return {**params, **data}
    if content_type in (*FORM_TYPES, ""):
        try:
            form = form_fields(request.headers.get("content-type", ""), body)
        except ValueError as error:
            raise ApiError(400, f"Invalid form: {error}", "body") from None
        # a field given several times (q=a&q=b) is a list, as a batch of texts
        return {**params, **{key: values if len(values) > 1 else values[0] for key, values in form.items()}}
    raise ApiError(415, f"unsupported content type {content_type!r}: send application/json, "
                        "application/x-www-form-urlencoded or multipart/form-data", "Content-Type")  # fmt: skip


def _texts(params: dict[str, Any], state: ServerState) -> tuple[list[str], bool]:
    q = params.get("q")
    if q is None or q == "" or q == []:
        raise ApiError(400, "Invalid request: missing q parameter", "q")
    return request_texts(q, "q", state.config.limits, status=400)


def _language(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not value:
        raise ApiError(400, f"Invalid request: missing {name} parameter", name)
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid request: {name} must be a language code string", name)
    return value.strip()


def _check_code(translator: Any, code: str, name: str) -> None:
    """Return nothing; 400 naming the field when the translator cannot translate from/into `code`."""
    check = translator.conventions.source_token if name == "source" else translator.conventions.target_token
    try:
        check(code)
    except XlingError as error:
        raise ApiError(400, f"{code} is not supported ({error})", name) from None


@router.post("/translate", summary="Translate (LibreTranslate API)", openapi_extra=_BODY_DOC)
async def translate(request: Request) -> dict[str, Any]:
    """Translate `q` (a string or a list) from `source` (a code or `auto`) into `target`; `format` text or
    html. Answers `{translatedText}` (a string or a list, as `q`), with `detectedLanguage` when `source` is
    auto."""
    state = _state(request)
    params = await read_params(request)
    texts, batch = _texts(params, state)
    source = _language(params, "source")
    target = _language(params, "target")
    text_format = params.get("format") or "text"
    if text_format not in FORMATS:
        raise ApiError(400, f"{text_format} format is not supported", "format")
    translator = await state.model("translator")
    _check_code(translator, target, "target")
    auto = source.lower() == "auto"
    if auto:
        detected = await _detect_sources(state, translator, texts, text_format, batch)
        sources = [label for label, _ in detected]
    else:
        _check_code(translator, source, "source")
        sources = [source] * len(texts)
    translated = await _translate(state, translator, texts, sources, target, text_format, batch)
    answer: dict[str, Any] = {"translatedText": translated if batch else translated[0]}
    if auto:
        found = [{"confidence": round(100 * p, 2), "language": client_code(label) if label else "und"}
                 for label, p in detected]  # fmt: skip
        answer["detectedLanguage"] = found if batch else found[0]
    return answer


async def _detect_sources(state: ServerState, translator: Any, texts: list[str], text_format: str,
                          batch: bool) -> list[tuple[str | None, float]]:  # fmt: skip
    """Return (label, probability) of each text's language, as the translator would detect it."""
    detector = await state.model("detector")
    plain = [_plain_text(text) if text_format == "html" else text for text in texts]
    batcher = state.batcher("source-detect", lambda: source_function(translator, detector), chars=len)
    results = await batcher.submit(plain)
    item_error(results, "q", batch)
    return results


async def _translate(state: ServerState, translator: Any, texts: list[str], sources: list[str | None],
                     target: str, text_format: str, batch: bool) -> list[str]:  # fmt: skip
    """Return each text translated; a text without letters (or detected as such) comes back as it is."""
    items: list[TranslateItem] = []
    plans: list[list[str | int]] = []  # per text: its pieces, an int standing for the item to put there
    for text, source in zip(texts, sources, strict=True):
        pieces = _html_pieces(text) if text_format == "html" else [(text, True)]
        plan: list[str | int] = []
        for piece, translatable in pieces:
            core = piece.strip()
            if not translatable or source is None or not _has_letters(core):
                plan.append(piece)
                continue
            unescaped = html.unescape(core) if text_format == "html" else core
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()) :]
            plan += [lead, len(items), trail]
            items.append(TranslateItem(unescaped, source, target))
        plans.append(plan)
    results: list[Any] = []
    if items:
        batcher = state.batcher("translator", lambda: translate_function(translator, state.config.decoding),
                                chars=lambda item: len(item.text), threads=state.config.threads)  # fmt: skip
        results = await batcher.submit(items)
        _text_errors(results, plans, batch)
    out = []
    for plan in plans:
        parts = []
        for part in plan:
            if isinstance(part, int):
                parts.append(
                    html.escape(results[part], quote=False) if text_format == "html" else results[part]
                )
            else:
                parts.append(part)
        out.append("".join(parts))
    return out


def _text_errors(results: list[Any], plans: list[list[str | int]], batch: bool) -> None:
    """Raise the first refused item's error naming the text (`q[i]`) it belongs to."""
    for i, plan in enumerate(plans):
        for part in plan:
            if isinstance(part, int) and isinstance(results[part], BaseException):
                item_error([results[part]], f"q[{i}]" if batch else "q", False)


@router.post("/detect", summary="Detect the language (LibreTranslate API)", openapi_extra=_BODY_DOC)
async def detect(request: Request) -> list[Any]:
    """Return the candidate languages of `q`, most likely first: `[{confidence (0-100), language}]`; for a
    list `q`, one such list per text."""
    state = _state(request)
    params = await read_params(request)
    texts, batch = _texts(params, state)
    detector = await state.model("detector")
    batcher = state.batcher("detector", lambda: detect_function(detector), chars=lambda item: len(item.text))
    results = await batcher.submit([DetectItem(text, DETECT_CANDIDATES) for text in texts])
    item_error(results, "q", batch)
    answers = [[{"confidence": round(100 * p.probability, 2), "language": client_code(p.label)} for p in top]
               for top in results]  # fmt: skip
    return answers if batch else answers[0]


@router.get("/languages", summary="Languages the translator has (LibreTranslate API)")
async def languages(request: Request) -> list[dict[str, Any]]:
    """Return `[{code, name, targets}]` for each language the translator translates from."""
    translator = await _state(request).model("translator")
    family = translator.languages
    sources = family.sources or ()
    targets = family.targets or ()
    target_codes = sorted({client_code(code) for code in targets})
    listed: dict[str, dict[str, Any]] = {}
    for code in sources:
        client = client_code(code)
        if client not in listed:
            listed[client] = {"code": client, "name": display_name(code),
                              "targets": [t for t in target_codes if t != client]}  # fmt: skip
    return sorted(listed.values(), key=lambda entry: entry["code"])


def _html_pieces(text: str) -> list[tuple[str, bool]]:
    """Return the pieces of an HTML text: (tag or raw script/style content, False) and (text, True)."""
    pieces: list[tuple[str, bool]] = []
    raw = False
    for i, part in enumerate(_TAG.split(text)):
        if not part:
            continue
        if i % 2:  # a tag
            if _RAW_TEXT_TAG.match(part):
                raw = True
            elif _RAW_TEXT_END.match(part):
                raw = False
            pieces.append((part, False))
        else:
            pieces.append((part, not raw))
    return pieces


def _plain_text(text: str) -> str:
    """Return the text of an HTML string without its tags (what the detector should read)."""
    return (
        " ".join(html.unescape(piece) for piece, translatable in _html_pieces(text) if translatable).strip()
        or text
    )


def _has_letters(text: str) -> bool:
    """Return True when the text has something to translate (a letter); emoji and digits come back as they are."""
    return any(char.isalpha() for char in text)
