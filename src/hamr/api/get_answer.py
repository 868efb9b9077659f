"""The answer to `GET /api/v2/hamr`, built here for both of its paths: the fast lane in front
of the app (fast_get.py), which takes every GET of the path without a query string, and the
app's route, which takes HEAD and the rest. One pass reads what the request asks for (gzip, a
fresh read), one function reads the document and one decides status, headers and body, so
the two cannot drift; errors go through the same renderer and the same gzip middleware."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp

from hamr.api.compression import GZIP_MINIMUM_BYTES, wants_gzip
from hamr.api.conditional import Encoded
from hamr.api.errors import error_response
from hamr.domain.errors import HamrError

Headers = list[tuple[bytes, bytes]]
_VARY = (b"vary", b"Accept-Encoding")
_GZIP = (b"content-encoding", b"gzip")


def asked(raw_headers: Iterable[tuple[bytes, bytes]]) -> tuple[bool, bool]:
    """Whether the request takes gzip, and whether it asks for a fresh read (`Cache-Control:
    no-cache` or `max-age=0`: storage, not this process's memory, which learns of another
    process's writes only at its next poll), in one pass over its headers (every GET's: a
    header named neither costs two comparisons)."""
    gzip = fresh = False
    for name, value in raw_headers:
        if name == b"accept-encoding":
            gzip = gzip or b"gzip" in value.lower()
        elif name == b"cache-control":
            fresh = fresh or _asks_fresh(value)
    return gzip, fresh


def _asks_fresh(cache_control: bytes) -> bool:
    for directive in cache_control.lower().split(b","):
        name, _, argument = directive.strip().partition(b"=")
        seconds = argument.strip(b'" ')
        if name == b"no-cache" or (name == b"max-age" and seconds.isdigit() and not int(seconds)):
            return True
    return False


def document_answer(
    document: Encoded,
    content_type: bytes,
    gzip: bool,
    staleness: tuple[bytes, bytes] | None = None,
) -> tuple[Headers, bytes]:
    """A 200's headers and body: the document, gzipped (its bytes computed once per
    document) when the request asks for gzip (`asked`) and it is large enough to gain, with
    the headers in the order Starlette's Response and GZipMiddleware would give them, and
    `staleness` (AppState.staleness_header) last."""
    if gzip and len(document.body) >= GZIP_MINIMUM_BYTES:
        body = document.gzipped
        headers = [
            (b"etag", document.etag.encode()),
            (b"content-length", b"%d" % len(body)),
            (b"content-type", content_type),
            _VARY,
            _GZIP,
        ]
    else:
        body = document.body
        headers = [
            (b"etag", document.etag.encode()),
            (b"content-length", b"%d" % len(body)),
            (b"content-type", content_type),
        ]
    if staleness is not None:
        headers.append(staleness)
    return headers, body


def error_answer(
    error: HamrError, raw_headers: Iterable[tuple[bytes, bytes]], *, live: bool
) -> ASGIApp:
    """An error, rendered and compressed as the app renders and compresses it."""
    response = error_response(error, live=live)
    if wants_gzip(raw_headers):
        return GZipMiddleware(response, minimum_size=GZIP_MINIMUM_BYTES)
    return response
