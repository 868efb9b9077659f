"""`GET /api/v2/hamr` answered from memory: the hot path, in front of Starlette (no router,
exception wrappers, Request or Response objects).

A GET whose credentials are already cached, and which does not ask for gzip, is counted and
answered here. Everything else (unknown or refused credentials, gzip, every other route and
method) passes to the app, which answers the same request the same way, only slower: the
lane is an optimisation, never a second behaviour. RequestTelemetry, outside this layer, adds
the request id and rate limit headers and logs the request either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hamr.api.admission import count_request
from hamr.api.auth import authenticate
from hamr.api.compression import wants_gzip
from hamr.api.errors import error_response, unexpected_error_response
from hamr.api.routes import HAMR_PATH
from hamr.api.state import AppState
from hamr.domain.errors import Forbidden, HamrError

BUCKET = "hamr_get"
# What Starlette's Response(media_type="application/json") sends, in its order.
_CONTENT_TYPE = (b"content-type", b"application/json")


class CachedGet:
    def __init__(self, app: ASGIApp, state: AppState):
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != HAMR_PATH
            or wants_gzip(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        state = self.state
        try:
            principal = authenticate(scope["headers"], state.service, cached_only=True)
        except Forbidden:
            await self.app(scope, receive, send)  # storage is asked there, refusals counted
            return
        try:
            await count_request(scope, state, BUCKET, principal)
            body = state.documents.encode(state.service.read_connection(principal.org))
        except HamrError as error:
            await error_response(error)(scope, receive, send)
            return
        except Exception:
            # Outside Starlette, so its last-resort handler is not around this lane: the same
            # answer, given here.
            await unexpected_error_response(scope)(scope, receive, send)
            raise
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"%d" % len(body)), _CONTENT_TYPE],
            }
        )
        await send({"type": "http.response.body", "body": body})
