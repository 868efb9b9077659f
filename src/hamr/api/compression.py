"""Gzip for the clients that ask for it, at no cost to those that do not.

Starlette's GZipMiddleware wraps every response, compressed or not, which doubled the app's
own cost of a GET in profiles. Requests without `Accept-Encoding: gzip` (pollers, wrk, curl
without --compressed) skip it entirely; the others get Starlette's, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class GzipWhenAsked:
    def __init__(self, app: ASGIApp, minimum_size: int):
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

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
