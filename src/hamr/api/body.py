"""Reading a request body safely: JSON content types only (url-encoded forms for the web
page), gzip or deflate content encodings, never more than the limit (before or after
decompression, so a gzip bomb stops at the limit)."""

from __future__ import annotations

import json
import zlib
from typing import Any
from urllib.parse import parse_qs

import pydantic_core
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


def json_document(raw: bytes, what: str) -> Any:
    """The JSON in `raw`, parsed as the API parses a body (pydantic_core's parser, whose
    nesting stops at 200 levels where json.loads would exhaust the stack; no NaN or Infinity),
    or ValidationFailed asking for `what` (e.g. "a JSON object")."""
    try:
        return pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as error:
        raise ValidationFailed(
            [Violation("", f"The body is not valid JSON ({error}); send {what}.")]
        ) from None


# A body repeating a member thousands of times is told of the first ones.
_DUPLICATES_SHOWN = 20


def refuse_duplicate_members(raw: bytes) -> None:
    """ValidationFailed naming (by JSON pointer) each member sent twice in one object, which
    a JSON parser would otherwise take last-wins in silence. Call after json_document, whose
    depth bound keeps json.loads's recursion safe."""
    objects_repeating: list[_Members] = []

    def members(pairs: list[tuple[str, Any]]) -> _Members:
        made = _Members(pairs)
        if made.repeated:
            objects_repeating.append(made)
        return made

    try:
        tree = json.loads(raw, object_pairs_hook=members)
    except ValueError:  # json_document took it, so this parser is the odd one out
        raise ValidationFailed(
            [Violation("", "The body is not valid JSON; send it as UTF-8.")]
        ) from None
    if not objects_repeating:  # the common case: no walk through tens of megabytes
        return
    repeated: list[Violation] = []
    _find_repeats(tree, "", repeated)
    raise ValidationFailed(repeated)


class _Members(dict[str, Any]):
    """An object's members, remembering the names it was sent more than once."""

    def __init__(self, pairs: list[tuple[str, Any]]):
        super().__init__(pairs)
        self.repeated: list[str] = []
        if len(self) < len(pairs):
            seen: set[str] = set()
            for name, _ in pairs:
                if name in seen and name not in self.repeated:
                    self.repeated.append(name)
                seen.add(name)


def _find_repeats(value: Any, pointer: str, found: list[Violation]) -> None:
    """Each repeated member under `value` (at `pointer`), in document order."""
    if len(found) >= _DUPLICATES_SHOWN:
        return
    if isinstance(value, _Members):
        for name in value.repeated:
            at = f"{pointer}/{_escaped(name)}"
            found.append(
                Violation(
                    at,
                    f"{name} is sent more than once in one object; send each member once "
                    "(which one was meant is not guessed). Nothing changed.",
                )
            )
        for name, member in value.items():
            _find_repeats(member, f"{pointer}/{_escaped(name)}", found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find_repeats(item, f"{pointer}/{index}", found)


def _escaped(name: str) -> str:
    """A member's name as one step of a JSON pointer (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


def form_fields(body: bytes, max_fields: int) -> dict[str, str]:
    """A url-encoded form's fields (the first value of each), or ValidationFailed for a form of
    more than `max_fields` fields (parse_qs's own ValueError would be a 500)."""
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields)
    except ValueError:
        raise ValidationFailed(
            [
                Violation(
                    "",
                    f"The form has more than {max_fields} fields, more than any form of this "
                    "page sends; send the page's own form. Nothing was done.",
                )
            ]
        ) from None
    return {name: values[0] for name, values in parsed.items()}


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
