"""Form bodies as LibreTranslate clients send them: `application/x-www-form-urlencoded` (libretranslatepy,
HTML forms) and `multipart/form-data` (`curl -F`, browsers' FormData), read with the standard library."""

from __future__ import annotations

import codecs
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UTF8_CHARSETS = frozenset({"utf-8", "utf-8-sig", "ascii"})
"""The codecs (by Python's canonical name) a multipart part may declare: UTF-8 and its ASCII subset. Others
are refused: unicode_escape, utf-16 or utf-7 can carry lone surrogates, which no model can read."""


MAX_PART_HEADER_BYTES = 8192
"""The most bytes the headers of one multipart part may take. The standard library's header parser takes time
growing with the square of a header's parameters (a Content-Disposition of 200 KB of `a=b; ` took 3.6 s), and
it holds one of the server's worker threads meanwhile; a real part's headers take a few hundred bytes."""


class FormError(ValueError):
    """A form that cannot be read: the message says why, `field` names the part (None: the whole body);
    `status` is 413 for a form with more parts than the server reads, else 400."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.field = field
        self.status = status


def media_type(content_type: str) -> str:
    """Return the media type of a Content-Type header value, lower-cased, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def form_fields(content_type: str, body: bytes, max_parts: int | None = None) -> dict[str, list[str]]:
    """Return each field's values of a form body (`content_type` is the whole header, boundary included).

    FormError (a ValueError saying why, naming the part where there is one) for a body that is not UTF-8, a
    multipart body without its boundary or parts, a part in another charset, or a file upload (the APIs
    take text fields only); with status 413 for a multipart body of more than `max_parts` parts (counted
    before any is parsed: the standard library's parser takes time in proportion to the parts, about 0.16 ms
    a part, 2,000 in 0.31 s, best of 5 in one thread of a 2-core AMD EPYC machine; the server runs it in a
    worker thread, off its event loop).
    """
    fields, error = read_form(content_type, body, max_parts)
    if error is not None:
        raise error
    return fields


def read_form(
    content_type: str, body: bytes, max_parts: int | None = None
) -> tuple[dict[str, list[str]], FormError | None]:
    """Return (the fields of a form body that can be read, the FormError `form_fields` raises for it or None),
    parsing it once: for a field looked at before the route reads the form (the API key), then the route's
    answer. What can be read: in a urlencoded body, bytes that are not UTF-8 as U+FFFD; of a multipart one,
    parts without a name, file uploads and parts in other charsets or not in theirs left out.

    FormError, as `form_fields`, where nothing can be read: a multipart body without its boundary or parts,
    whose headers cannot be read, or (status 413) of more than `max_parts` parts.
    """
    if media_type(content_type) == "multipart/form-data":
        return _multipart_fields(content_type, body, max_parts)
    try:
        # errors="strict": percent-encoded bytes that are not UTF-8 are refused, not read as U+FFFD
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, strict_parsing=False,
                          errors="replace")  # fmt: skip
        return fields, FormError("the body, or a percent-encoded value in it, is not UTF-8")
    return fields, None


def _multipart_fields(
    content_type: str, body: bytes, max_parts: int | None
) -> tuple[dict[str, list[str]], FormError | None]:
    if "boundary=" not in content_type.lower():
        raise FormError("a multipart/form-data Content-Type needs its boundary parameter")
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    try:
        _check_parts(
            BytesParser(policy=HTTP).parsebytes(header, headersonly=True).get_boundary(), body, max_parts
        )
        return _parts(BytesParser(policy=HTTP).parsebytes(header + body))
    except FormError:
        raise
    except Exception as error:
        # the email package raises what it meets on malformed headers (IndexError for a parameter `a*` with
        # no value): the client's body, a 400, not a 500
        raise FormError(f"the multipart body's headers cannot be read ({type(error).__name__})") from None


def _check_parts(boundary: str | None, body: bytes, max_parts: int | None) -> None:
    """Raise FormError when the headers of a part of `body` (from its boundary line to the blank line after
    it) take more than MAX_PART_HEADER_BYTES, or (status 413) when it has more than `max_parts` parts."""
    if not boundary:
        return  # no parts to find: the parse says the body does not match its boundary
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    # a delimiter begins a line (RFC 2046): `--b` inside a part's text is no part; the closing one ends the last.
    # The email parser ends a line at CR, LF or CRLF (CRLF counted once, by its LF)
    delimiters = body.count(b"\n" + delimiter) + body.count(b"\r" + delimiter) + body.startswith(delimiter)
    if max_parts is not None and delimiters > max_parts + 1:
        raise FormError(f"the multipart body has over {max_parts:,} parts; this server reads up to "
                        f"{max_parts:,}", status=413)  # fmt: skip
    # where the next blank line of each kind is, from the last part's start on (-1: none left), searched for
    # again only once a part starts past it: the body is read once. Searching the rest of the body at every
    # part took time growing with the square of the parts (a CRLF body has no "\n\n": 0.9 s for 2,000 parts)
    blank = {b"\r\n\r\n": -2, b"\n\n": -2}
    start = body.find(delimiter)
    while start != -1:
        for line_end, at in blank.items():
            if at != -1 and at < start:
                blank[line_end] = body.find(line_end, start)
        end = min((at for at in blank.values() if at != -1), default=len(body))
        if end - start > MAX_PART_HEADER_BYTES:
            raise FormError(f"a multipart part's headers take over {MAX_PART_HEADER_BYTES} bytes")
        start = body.find(delimiter, end)


def _parts(message: Message) -> tuple[dict[str, list[str]], FormError | None]:
    """Return (each text field's values of a parsed multipart message, the FormError of its first part that is
    no text field or None); such parts are left out of the fields."""
    if not message.is_multipart() or message.defects:
        raise FormError("the multipart body does not match its boundary")
    fields: dict[str, list[str]] = {}
    first: FormError | None = None
    for part in message.iter_parts():
        try:
            name = part.get_param("name", header="content-disposition")
            if not name:
                raise FormError(
                    "a multipart part has no field name (Content-Disposition: form-data; name=...)"
                )
            name = str(name)
            if part.get_filename() is not None:
                raise FormError(f"field {name!r} is a file upload; send text fields", name)
            payload = part.get_payload(decode=True) or b""
            # read before the field is added: a part left out leaves no empty list of values (the guard's
            # look-up of the api_key field failed on one)
            text = _part_text(name, payload, part.get_content_charset() or "utf-8")
            fields.setdefault(name, []).append(text)
        except FormError as error:
            first = first or error
        except Exception:
            if first is None:
                raise  # the body's headers cannot be read (_multipart_fields)
            # a later part unreadable: the form is refused for the first one's error, as a read that stopped
            # there says, and nothing of it is read (as when the body's headers cannot be read)
            return {}, first
    return fields, first


def _part_text(name: str, payload: bytes, charset: str) -> str:
    """Return a multipart part's text; FormError naming the part for a charset outside UTF8_CHARSETS or
    bytes that are not in it."""
    try:
        codec = codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a name holding a NUL byte
        codec = ""
    if codec not in UTF8_CHARSETS:
        raise FormError(f"field {name!r} is sent in charset {charset!r}; send it in UTF-8", name)
    try:
        return payload.decode(codec)
    except UnicodeDecodeError:
        raise FormError(f"field {name!r} is not {charset} text", name) from None
