"""Reading a request body safely: JSON content types only (url-encoded forms for the web
page), gzip or deflate content encodings, never more than the limit (before or after
decompression, so a gzip bomb stops at the limit)."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import ClientDisconnect, Request

from hamr.api.errors import ClientClosedRequest, PayloadTooLarge, UnsupportedMediaType
from hamr.domain.errors import ValidationFailed, Violation

FORM_TYPE = "application/x-www-form-urlencoded"


def media_type(content_type: str) -> str:
    """`application/json` of `Application/JSON; charset=utf-8`."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    kind = media_type(content_type)
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type")
    if content_type is None and announces_no_body(request):
        raise ValidationFailed(
            [Violation("", "The body is missing; send the connection as a JSON:API document.")]
        )
    if content_type is None or not is_json(content_type):
        got = f"got {content_type!r}" if content_type else "none was sent"
        raise UnsupportedMediaType(
            f"The body must be JSON: send `Content-Type: application/json` ({got}).",
            header="Content-Type",
        )
    return await _read_limited(request, limit)


async def read_form_body(request: Request, limit: int) -> bytes:
    """A url-encoded form's body (the web page's), within the same limits as JSON."""
    content_type = request.headers.get("content-type") or ""
    if media_type(content_type) != FORM_TYPE:
        raise UnsupportedMediaType(
            f"A form must be sent as {FORM_TYPE}; got {content_type or 'no Content-Type'}.",
            header="Content-Type",
        )
    return await _read_limited(request, limit)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, header="Content-Length")
    decoder = _decoder(request.headers.get("content-encoding"))
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += decoder.decompress(chunk, limit + 1 - len(body)) if decoder else chunk
            if len(body) > limit or (decoder and decoder.unconsumed_tail):
                raise _too_large(limit, pointer="")
    except ClientDisconnect:
        raise ClientClosedRequest(
            "The connection closed before the whole body arrived; nothing was stored."
        ) from None
    if decoder is not None:
        body += decoder.flush()
        if not decoder.eof:
            raise ValidationFailed(
                [Violation("", "The body ends before its compressed stream does; send all of it.")]
            )
    return bytes(body)


def announces_no_body(request: Request) -> bool:
    """No body at all (rather than one of the wrong type): the contract's 400, not a 415."""
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() == "0"
    return "transfer-encoding" not in request.headers


_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def _decoder(content_encoding: str | None) -> _CheckedDecoder | None:
    """A streaming decompressor for the declared encoding, None for an uncompressed body."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        return None
    if encoding not in _ENCODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {content_encoding!r} is not supported; send the body plain, "
            "or compressed with gzip or deflate.",
            header="Content-Encoding",
        )
    return _CheckedDecoder(zlib.decompressobj(_ENCODINGS[encoding]), encoding)


class _CheckedDecoder:
    """zlib's decompressor, with corrupt input reported as the client's mistake (400)."""

    def __init__(self, inner: Any, encoding: str):
        self._inner = inner
        self._encoding = encoding

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            return bytes(self._inner.decompress(data, max(max_length, 1)))
        except zlib.error:
            raise ValidationFailed(
                [Violation("", f"The body is not valid {self._encoding} data.")]
            ) from None

    def flush(self) -> bytes:
        return bytes(self._inner.flush())

    @property
    def unconsumed_tail(self) -> bytes:
        return bytes(self._inner.unconsumed_tail)

    @property
    def eof(self) -> bool:
        return bool(self._inner.eof)


def _too_large(
    limit: int, *, header: str | None = None, pointer: str | None = None
) -> PayloadTooLarge:
    """Blame Content-Length when it announced the size, else the body (the whole document)."""
    return PayloadTooLarge(
        f"The body is larger than {limit} bytes; a HAMR connection needs far less.",
        header=header,
        pointer=pointer,
    )
