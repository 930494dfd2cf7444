"""Form bodies as LibreTranslate clients send them: `application/x-www-form-urlencoded` (libretranslatepy,
HTML forms) and `multipart/form-data` (`curl -F`, browsers' FormData), read with the standard library."""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qs

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def media_type(content_type: str) -> str:
    """Return the media type of a Content-Type header value, lower-cased, without its parameters."""
    return content_type.split(";", 1)[0].strip().lower()


def form_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Return each field's values of a form body (`content_type` is the whole header, boundary included).

    ValueError (saying why) for a body that is not UTF-8, a multipart body without its boundary or parts,
    or a file upload (the APIs take text fields only).
    """
    if media_type(content_type) == "multipart/form-data":
        return _multipart_fields(content_type, body)
    try:
        # errors="strict": percent-encoded bytes that are not UTF-8 are refused, not read as U+FFFD
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("the body, or a percent-encoded value in it, is not UTF-8") from None


def _multipart_fields(content_type: str, body: bytes) -> dict[str, list[str]]:
    if "boundary=" not in content_type.lower():
        raise ValueError("a multipart/form-data Content-Type needs its boundary parameter")
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    if not message.is_multipart() or message.defects:
        raise ValueError("the multipart body does not match its boundary")
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            raise ValueError("a multipart part has no field name (Content-Disposition: form-data; name=...)")
        if part.get_filename() is not None:
            raise ValueError(f"field {name!r} is a file upload; send text fields")
        payload = part.get_payload(decode=True) or b""
        try:
            fields.setdefault(str(name), []).append(payload.decode(part.get_content_charset() or "utf-8"))
        except (UnicodeDecodeError, LookupError):
            raise ValueError(f"field {name!r} is not UTF-8") from None
    return fields
