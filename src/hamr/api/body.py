"""Reading a request body safely: JSON content types only, never more than the limit."""

from __future__ import annotations

from starlette.requests import Request

from hamr.api.errors import PayloadTooLarge, UnsupportedMediaType


def is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type")
    if content_type is None or not is_json(content_type):
        got = f"got {content_type!r}" if content_type else "none was sent"
        raise UnsupportedMediaType(
            f"The body must be JSON: send `Content-Type: application/json` ({got}).",
            header="Content-Type",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, header="Content-Length")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _too_large(limit, pointer="")
    return bytes(body)


def _too_large(
    limit: int, *, header: str | None = None, pointer: str | None = None
) -> PayloadTooLarge:
    """Blame Content-Length when it announced the size, else the body (the whole document)."""
    return PayloadTooLarge(
        f"The body is larger than {limit} bytes; a HAMR connection needs far less.",
        header=header,
        pointer=pointer,
    )
