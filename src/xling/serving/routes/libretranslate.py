"""LibreTranslate-compatible `POST /translate`, `POST /detect`, `GET /languages`, `GET /frontend/settings`.

As LibreTranslate, the POST routes read a JSON body or a form (`application/x-www-form-urlencoded`, what the
`libretranslatepy` client and HTML forms send, or `multipart/form-data`, what `curl -F` sends; query
parameters too), `q` is a string or a list of strings,
errors are `{"error": message}` with 400 for a missing parameter or a language the model lacks (413 for a
text to translate over `limits.max_chars`, never cut, whatever `limits.overlong` says), and language
codes are ISO 639-1 where one exists. `source: auto` is detected per text with xling's detector, restricted to
the languages the translator reads, and the answer carries `detectedLanguage` ({confidence 0-100, language}).
`format: html` translates the text between tags and keeps the tags (script and style content untouched).
`alternatives: n` (at most `limits.max_alternatives`) adds `alternatives`, each text's other distinct
translations from the beam's n + 1 best (a list per text for a list `q`; none for html, as LibreTranslate).
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import anyio
from fastapi import APIRouter, Request

from xling.errors import XlingError
from xling.langid.labels import UNDETERMINED
from xling.serving.errors import ApiError, ModelUnavailable
from xling.serving.forms import FORM_TYPES, FormError, form_fields, media_type
from xling.serving.languages import client_code, display_name
from xling.serving.limits import FORM_SCOPE, form_parts, request_texts, unencodable
from xling.serving.services import (
    DetectItem,
    ServerState,
    SourceItem,
    TranslateItem,
    detect_function,
    item_error,
    source_function,
    submit,
    translate_function,
)

router = APIRouter(tags=["LibreTranslate"])

FORMATS = ("text", "html")
LEGACY_CODES = {"zt": "zh-Hant", "pb": "pt-BR"}
"""LibreTranslate's own codes for Traditional Chinese and Brazilian Portuguese, which it still reads (and wrote
until 2025): no ISO code, so they mean nothing else."""
_WHOLE_NUMBER = re.compile(r"([+-]?)([0-9]+)")
FRONTEND_TIMEOUT_MS = 500
"""LibreTranslate's default `--frontend-timeout`: how long its web page waits after a keystroke to translate."""
DETECT_CANDIDATES = 3
RAW_TEXT_TAGS = frozenset({"script", "style"})
"""Elements whose content is code, not text: kept as it is."""

_BODY_DOC = {"requestBody": {"content": {
    "application/json": {"schema": {"type": "object", "properties": {
        "q": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "source": {"type": "string", "example": "auto"}, "target": {"type": "string", "example": "de"},
        "format": {"type": "string", "enum": list(FORMATS)}, "alternatives": {"type": "integer", "example": 0},
        "api_key": {"type": "string"}},
        "required": ["q"]}},
    **{form: {"schema": {"type": "object", "properties": {
        "q": {"type": "string"}, "source": {"type": "string"}, "target": {"type": "string"},
        "format": {"type": "string"}, "alternatives": {"type": "integer"}, "api_key": {"type": "string"}},
        "required": ["q"]}} for form in FORM_TYPES},
}}}  # fmt: skip


def _state(request: Request) -> ServerState:
    return request.app.state.xling


async def read_params(request: Request) -> dict[str, Any]:
    """Return the request's parameters from its JSON body or form, and its query string (LibreTranslate reads
    both); 400 for a body that is neither, JSON that is not an object, or a string that is not Unicode
    text (a lone surrogate), naming the field."""
    params = await _body_params(request)
    field = unencodable(params)
    if field is not None:
        raise ApiError(400, f"{field}: holds a lone UTF-16 surrogate, which is not Unicode text", field)
    return params


def _query_params(request: Request) -> dict[str, Any]:
    """Return the query string's parameters; one given several times (q=a&q=b) is a list, as in a form."""
    query = request.query_params
    values = {key: query.getlist(key) for key in query}
    return {key: found if len(found) > 1 else found[0] for key, found in values.items()}


async def _body_params(request: Request) -> dict[str, Any]:
    """Return the query string's parameters updated with the JSON body's or the form's."""
    params = _query_params(request)
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
        # the guard's, where it parsed the form for the API key; else parsed in a worker thread: a multipart
        # form of thousands of parts takes the standard library's parser a good part of a second
        form = request.scope.get(FORM_SCOPE)
        if form is None:
            form = await anyio.to_thread.run_sync(
                _form,
                request.headers.get("content-type", ""),
                body,
                form_parts(_state(request).config.limits),
            )
        if isinstance(form, FormError):
            code = "payload_too_large" if form.status == 413 else None
            raise ApiError(form.status, f"Invalid form: {form}", form.field or "body", code=code)
        # a field given several times (q=a&q=b) is a list, as a batch of texts
        return {**params, **{key: values if len(values) > 1 else values[0] for key, values in form.items()}}
    raise ApiError(415, f"unsupported content type {content_type!r}: send application/json, "
                        "application/x-www-form-urlencoded or multipart/form-data", "Content-Type")  # fmt: skip


def _form(content_type: str, body: bytes, max_parts: int) -> dict[str, list[str]] | FormError:
    """Return a form body's fields, or the FormError saying why it cannot be read."""
    try:
        return form_fields(content_type, body, max_parts)
    except FormError as error:
        return error


def _texts(params: dict[str, Any], state: ServerState, *, may_cut: bool) -> tuple[list[str], bool]:
    """Return (the texts of `q`, whether it was a list) after the limits; `may_cut` False (to translate): a
    text over `max_chars` is refused (413) whatever `limits.overlong` says."""
    q = params.get("q")
    if q is None or q == "" or q == []:
        raise ApiError(400, "Invalid request: missing q parameter", "q")
    return request_texts(q, "q", state.config.limits, status=400, may_cut=may_cut)


def _language(params: dict[str, Any], name: str) -> str:
    """Return the language code given as `name` (source or target), stripped; 400 naming the field when it
    is missing or not a string."""
    value = params.get(name)
    if value is None or value == "":  # 0, false, [] were given, as the wrong type: said below
        raise ApiError(400, f"Invalid request: missing {name} parameter", name)
    if not isinstance(value, str):
        raise ApiError(400, f"Invalid request: {name} must be a language code string", name)
    return LEGACY_CODES.get(value.strip().lower(), value.strip())


def _alternatives(params: dict[str, Any], limit: int) -> int:
    """Return how many alternatives the request asks for (0 when it asks none; a negative count is 0, as in
    LibreTranslate); 400 naming the field when it is not a whole number or over `limit`."""
    value = params.get("alternatives")
    if value is None or value == "":
        return 0
    if isinstance(value, str):  # a form sends text: ASCII digits only ("²" and "--1" are digits to isdigit)
        number = _WHOLE_NUMBER.fullmatch(value.strip())
        if number is not None:
            sign, digits = number.groups()
            # more digits than any limit holds: over it (int() refuses past 4,300 digits)
            value = 0 if sign == "-" else int(digits) if len(digits) <= 9 else limit + 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "Invalid request: alternatives parameter is not a number", "alternatives")
    if value > limit:
        raise ApiError(400, f"Invalid request: alternatives parameter must be <= {limit}", "alternatives")
    return max(0, value)


def _check_code(translator: Any, code: str, name: str) -> None:
    """Return nothing; 400 naming the field when the translator cannot translate from/into `code`."""
    check = translator.conventions.source_token if name == "source" else translator.conventions.target_token
    try:
        check(code)
    except XlingError as error:
        raise ApiError(400, f"{code!r} is not supported ({error})", name) from None


@router.post("/translate", summary="Translate (LibreTranslate API)", openapi_extra=_BODY_DOC)
async def translate(request: Request) -> dict[str, Any]:
    """Translate `q` (a string or a list) from `source` (a code or `auto`) into `target`; `format` text or
    html. Answers `{translatedText}` (a string or a list, as `q`), with `detectedLanguage` when `source` is
    auto."""
    state = _state(request)
    params = await read_params(request)
    texts, batch = _texts(params, state, may_cut=False)
    source = _language(params, "source")
    target = _language(params, "target")
    text_format = params.get("format")
    if text_format is None or text_format == "":
        text_format = "text"
    if not isinstance(text_format, str):  # 0, false, [] were taken for "text"
        raise ApiError(
            400, f"format must be one of {', '.join(FORMATS)}, not {json.dumps(text_format)}", "format"
        )
    if text_format not in FORMATS:
        raise ApiError(400, f"{text_format!r} format is not supported", "format")
    alternatives = _alternatives(params, state.config.limits.max_alternatives)
    translator = await state.model("translator")
    _check_code(translator, target, "target")
    auto = source.lower() == "auto"
    if auto:
        detected = await _detect_sources(request, translator, texts, target, text_format, batch)
        sources = [label for label, _ in detected]
    else:
        _check_code(translator, source, "source")
        sources = [source] * len(texts)
    hypotheses = 1 if text_format == "html" else alternatives + 1  # LibreTranslate gives none for html
    translated = await _translate(request, translator, texts, sources, target, text_format, batch, hypotheses)
    best = [ranked[0] for ranked in translated]
    answer: dict[str, Any] = {"translatedText": best if batch else best[0]}
    if alternatives:
        others = [ranked[1:] for ranked in translated]
        answer["alternatives"] = others if batch else others[0]
    if auto:
        found = [{"confidence": round(100 * p, 2), "language": client_code(label) if label else "und"}
                 for label, p in detected]  # fmt: skip
        answer["detectedLanguage"] = found if batch else found[0]
    return answer


async def _detect_sources(request: Request, translator: Any, texts: list[str], target: str, text_format: str,
                          batch: bool) -> list[tuple[str | None, float]]:  # fmt: skip
    """Return (label, probability) of each text's language, as the translator would detect it for `target`
    (a text already in it is named so); (None, 0.0) for HTML without text (markup alone), as for a text
    without letters."""
    state = _state(request)
    detector = await state.model("detector")
    plain = texts
    if text_format == "html":  # off the event loop: html.parser can take seconds on a long text of open tags
        plain = await anyio.to_thread.run_sync(
            lambda: [_plain_text(text, f"q[{i}]" if batch else "q") for i, text in enumerate(texts)]
        )
    # markup alone is not read: the detector would take tag names for words and refuse the request
    readable = [i for i, text in enumerate(plain) if text]
    results: list[Any] = [(None, 0.0)] * len(texts)
    if readable:
        batcher = state.batcher("source-detect", lambda: source_function(translator, detector),
                                chars=lambda item: len(item.text))  # fmt: skip
        found = await submit(request, batcher, [SourceItem(plain[i], target) for i in readable])
        for i, result in zip(readable, found, strict=True):
            results[i] = result
    item_error(results, "q", batch)
    return results


async def _translate(request: Request, translator: Any, texts: list[str], sources: list[str | None],
                     target: str, text_format: str, batch: bool, hypotheses: int = 1) -> list[list[str]]:  # fmt: skip
    """Return each text's distinct translations, best first, at most `hypotheses` (a text piece's k-th
    translation in the k-th; its best where it has fewer); a text without letters (or detected as such) comes
    back as it is, alone."""
    state = _state(request)
    items: list[TranslateItem] = []
    plans: list[list[str | int]] = []  # per text: its pieces, an int standing for the item to put there
    split = [[(text, True)] for text in texts]
    if text_format == "html":  # off the event loop, as in _detect_sources
        split = await anyio.to_thread.run_sync(
            lambda: [_html_pieces(text, f"q[{i}]" if batch else "q") for i, text in enumerate(texts)]
        )
    for pieces, source in zip(split, sources, strict=True):
        plan: list[str | int] = []
        for piece, translatable in pieces:
            core = piece.strip()
            unescaped = html.unescape(core) if text_format == "html" else core
            if not translatable or source is None or not _has_letters(unescaped):  # "&nbsp;" has no words
                plan.append(piece)
                continue
            lead, trail = piece[: len(piece) - len(piece.lstrip())], piece[len(piece.rstrip()) :]
            plan += [lead, len(items), trail]
            items.append(TranslateItem(unescaped, source, target, hypotheses))
        plans.append(plan)
    results: list[Any] = []
    if items:
        batcher = state.batcher("translator", lambda: translate_function(translator, state.config.decoding),
                                chars=lambda item: len(item.text), threads=state.config.threads)  # fmt: skip
        results = await submit(request, batcher, items)
        _text_errors(results, plans, batch)
    out = []
    for plan in plans:
        ranks = max((len(results[part]) for part in plan if isinstance(part, int)), default=1)
        ranked = []
        for k in range(ranks):
            parts = []
            for part in plan:
                if isinstance(part, int):
                    translation = results[part][min(k, len(results[part]) - 1)]
                    parts.append(
                        html.escape(translation, quote=False) if text_format == "html" else translation
                    )
                else:
                    parts.append(part)
            ranked.append("".join(parts))
        out.append(list(dict.fromkeys(ranked)))
    return out


def _text_errors(results: list[Any], plans: list[list[str | int]], batch: bool) -> None:
    """Raise the first refused item's error naming the text (`q[i]`) it belongs to."""
    for i, plan in enumerate(plans):
        for part in plan:
            if isinstance(part, int) and isinstance(results[part], BaseException):
                item_error([results[part]], f"q[{i}]" if batch else "q", False)


@router.post("/detect", summary="Detect the language (LibreTranslate API)", openapi_extra=_BODY_DOC)
async def detect(request: Request) -> list[Any]:
    """Return the candidate languages of `q`, most likely first: `[{confidence (0-100), language}]`, among
    the languages the served translator translates from (so a detected code can be given to /translate);
    for a list `q` one list for all texts, each language's confidence averaged over the texts that have it
    and ranked by it weighted with their length; `[{confidence 0, language en}]` when nothing is detected.
    LibreTranslate's `detect_languages` (libretranslate/language.py) answers so."""
    state = _state(request)
    params = await read_params(request)
    texts, batch = _texts(params, state, may_cut=True)
    detector = await state.model("detector")
    # the batcher is made once, with the languages of that moment: looked up for it only, not per request
    languages = None if "detector" in state.batchers else await _translator_sources(state, detector)
    batcher = state.batcher(
        "detector", lambda: detect_function(detector, languages), chars=lambda item: len(item.text)
    )
    results = await submit(request, batcher, [DetectItem(text, DETECT_CANDIDATES) for text in texts])
    item_error(results, "q", batch)
    return _ranked_candidates(texts, results, batch)


async def _translator_sources(state: ServerState, detector: Any) -> tuple[str, ...] | None:
    """Return the detector labels of the languages the served translator translates from; None (all) when no
    translator is served, it fails to load, or it records none the detector knows."""
    if state.config.translator is None:
        return None
    try:
        translator = await state.model("translator")
    except ModelUnavailable:  # /detect answers without the translator, over every language
        return None
    allowed = translator.allowed_sources(detector)
    return tuple(allowed) if allowed else None


def _ranked_candidates(texts: list[str], results: list[Any], batch: bool) -> list[dict[str, Any]]:
    """Return LibreTranslate's answer from each text's candidates (Predictions; `und` is none)."""
    # language -> (confidence, text length) of each text with it
    found: dict[str, list[tuple[float, int]]] = {}
    for text, top in zip(texts, results, strict=True):
        for rank, prediction in enumerate(top):
            # a text's best candidate even at 0: among the served languages only, a text in another language
            # gets 0 for each (its confidence among all the detector's), and the answer was English at 0
            if prediction.label != UNDETERMINED and (prediction.probability > 0 or rank == 0):
                code = client_code(prediction.label)
                found.setdefault(code, []).append((100 * prediction.probability, len(text)))
    if not found:
        return [{"confidence": 0.0, "language": "en"}]
    if batch:  # one entry a language: its mean confidence, its texts' summed length
        ranked = {
            code: (sum(c for c, _ in seen) / len(seen), sum(n for _, n in seen))
            for code, seen in found.items()
        }
    else:
        ranked = {code: max(seen) for code, seen in found.items()}  # one text: its one candidate of the code
    # LibreTranslate divides by the texts' total length too, which changes no order
    order = sorted(ranked, key=lambda code: ranked[code][0] * ranked[code][1], reverse=True)
    return [{"confidence": round(ranked[code][0], 2), "language": code} for code in order]


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


@router.get("/frontend/settings", summary="Settings of LibreTranslate's web page (LibreTranslate API)")
async def frontend_settings(request: Request) -> dict[str, Any]:
    """Return what LibreTranslate's web page and clients read before translating: the character limit,
    whether a key is needed, no suggestions or file translation, and the languages it starts with (`auto` and
    English, or the translator's first target without English)."""
    state = _state(request)
    translator = await state.model("translator")
    targets = sorted({client_code(code) for code in translator.languages.targets or ()})
    target = "en" if "en" in targets or not targets else targets[0]
    keys = bool(state.config.limits.api_keys)
    return {
        "charLimit": state.config.limits.max_chars,
        "frontendTimeout": FRONTEND_TIMEOUT_MS,
        "apiKeys": keys,
        "keyRequired": keys,  # every request but the open ones needs one here
        "suggestions": False,
        "filesTranslation": False,
        "supportedFilesFormat": [],
        "language": {
            "source": {"code": "auto", "name": "Auto Detect"},
            "target": {"code": target, "name": display_name(target)},
        },
    }


class _HtmlSplitter(HTMLParser):
    """Notes where each construct of an HTML text starts (its line and column), whether it is text to
    translate, and how long a text construct is (markup is kept whole, to where the next one starts)."""

    def __init__(self) -> None:
        # convert_charrefs off: entities arrive as their own constructs, so each one's length in the source
        # is known and the text comes back byte for byte where nothing is translated
        super().__init__(convert_charrefs=False)
        self.constructs: list[tuple[tuple[int, int], bool, int, bool]] = []
        """(line and column, translatable, length of a text construct, whether it is an entity)"""
        self._raw = False

    def _note(self, translatable: bool, length: int = 0, entity: bool = False) -> None:
        self.constructs.append((self.getpos(), translatable and not self._raw, length, entity))

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self._note(False)
        self._raw = tag in RAW_TEXT_TAGS

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        self._note(False)

    def handle_endtag(self, tag: str) -> None:
        self._raw = self._raw and tag not in RAW_TEXT_TAGS
        self._note(False)

    def handle_data(self, data: str) -> None:
        self._note(True, len(data))

    def handle_entityref(self, name: str) -> None:
        self._note(True, len(name) + 1, entity=True)  # &name, its ; when there is one

    def handle_charref(self, name: str) -> None:
        self._note(True, len(name) + 2, entity=True)  # &#name or &#xname

    def handle_comment(self, data: str) -> None:
        self._note(False)

    def handle_decl(self, decl: str) -> None:
        self._note(False)

    def handle_pi(self, data: str) -> None:
        self._note(False)

    def unknown_decl(self, data: str) -> None:
        self._note(False)


def _html_pieces(text: str, field: str = "q") -> list[tuple[str, bool]]:
    """Return the pieces of an HTML text, which join to it: (markup: tags, comments, declarations,
    processing instructions, script and style content; False) and (text with its entities; True). Markup
    Python's parser cannot read (`<![` with no name after it) is a 400 naming `field`."""
    splitter = _HtmlSplitter()
    try:
        splitter.feed(_stray_charrefs_as_text(text))
        # what feed() left unread, close() hands over as text; where that begins with a construct it could not
        # finish (`<!-- note`, `<a href="x`, `</b`: nothing ends it), the construct and all after it are markup,
        # kept as sent. (feed() also stops at a stray `&#`, whose tail close() parses: not a construct.)
        unterminated = _CONSTRUCT_START.match(text, len(text) - len(splitter.rawdata))
        splitter.close()
    except AssertionError as error:  # html.parser's way of refusing a marked section it cannot scan
        raise ApiError(400, f"{field}: HTML that cannot be parsed ({error}); send it with format text",
                       field) from None  # fmt: skip
    line_starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    starts = [line_starts[line - 1] + column for (line, column), *_ in splitter.constructs]
    constructs = splitter.constructs
    if unterminated is not None:
        kept = [i for i, start in enumerate(starts) if start < unterminated.start()]
        constructs = [constructs[i] for i in kept] + [((0, 0), False, 0, False)]
        starts = [starts[i] for i in kept] + [unterminated.start()]
    pieces: list[tuple[str, bool]] = [(text[: starts[0]], False)] if starts else [(text, False)]
    for i, (_, translatable, length, entity) in enumerate(constructs):
        source = text[starts[i] : starts[i + 1] if i + 1 < len(starts) else len(text)]
        if not translatable:
            pieces.append((source, False))
            continue
        if entity and source[length : length + 1] == ";":
            length += 1
        # what the parser skipped without a word (an empty end tag `</>`) stays as markup
        pieces += [(source[:length], True), (source[length:], False)]
    return _merged(pieces)


# html.parser's own pattern of a character reference (html/parser.py `charref`)
_CHARREF = re.compile("&#(?:[0-9]+|[xX][0-9a-fA-F]+)[^0-9a-fA-F]")


def _stray_charrefs_as_text(text: str) -> str:
    """Return `text` for the parser, each `&#` that starts no character reference written `&_` (as long, so
    every position stays): html.parser stops at such an `&#` and hands all that follows it over as text, tags
    included (`R&#D <i>lab</i> team` was one text to translate)."""
    if "&#" not in text:
        return text
    return re.sub("&#", lambda found: "&#" if _CHARREF.match(text, found.start()) else "&_", text)


_CONSTRUCT_START = re.compile(r"<[A-Za-z/!?]")
"""What opens a tag, an end tag, a comment, a declaration or a processing instruction (html.parser's view;
`a < b` is text)."""


def _merged(pieces: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """Return the non-empty pieces with neighbours of the same kind joined (a sentence with its entities)."""
    merged: list[tuple[str, bool]] = []
    for piece, translatable in pieces:
        if not piece:
            continue
        if merged and merged[-1][1] == translatable:
            merged[-1] = (merged[-1][0] + piece, translatable)
        else:
            merged.append((piece, translatable))
    return merged


def _plain_text(text: str, field: str = "q") -> str:
    """Return the text of an HTML string without its markup (what the detector should read; empty for
    markup alone)."""
    return " ".join(
        html.unescape(piece) for piece, translatable in _html_pieces(text, field) if translatable
    ).strip()


def _has_letters(text: str) -> bool:
    """Return True when the text has something to translate (a letter); emoji and digits come back as they are."""
    return any(char.isalpha() for char in text)
