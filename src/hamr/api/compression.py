"""Gzip for the clients that ask for it, at no cost to those that do not.

Starlette's GZipMiddleware wraps every response, compressed or not, which doubled the app's
own cost of a GET in profiles. Requests without `Accept-Encoding: gzip` (pollers, wrk, curl
without --compressed) skip it entirely; the others get Starlette's, unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

# Responses shorter than this are sent as they are (HAMR documents are just above it).
GZIP_MINIMUM_BYTES = 256
COMPRESS_LEVEL = 9  # Starlette's GZipMiddleware's, so that both give the same bytes


def gzipped(body: bytes) -> bytes:
    """The body as GZipMiddleware compresses it."""
    compressor = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


class GzipWhenAsked:
    def __init__(self, app: ASGIApp, minimum_size: int):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and wants_gzip(scope["headers"]):
            await self.gzip(scope, receive, send)
            return
        await self.app(scope, receive, send)


def wants_gzip(raw_headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in raw_headers:
        if name == b"accept-encoding" and b"gzip" in value.lower():
            return True
    return False
