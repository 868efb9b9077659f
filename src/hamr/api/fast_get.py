"""`GET /api/v2/hamr` answered in front of Starlette: the hot path, without its router,
exception wrappers, Request or Response objects.

Every such GET that does not ask for gzip is admitted (credentials from memory when they were
seen before, from storage otherwise; its rate limit counted), read and answered here. GETs
asking for gzip (the official Python client's), HEAD, and every other route and method pass to
the app, whose GET route gives the same answers through the same functions. RequestTelemetry,
outside this layer, adds the request id and rate limit headers and logs the request either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hamr.api.compression import wants_gzip
from hamr.api.errors import error_response, unexpected_error_response
from hamr.api.routes import HAMR_PATH, own_connection
from hamr.api.state import AppState
from hamr.domain.errors import HamrError


class FastGet:
    def __init__(self, app: ASGIApp, state: AppState):
        self.app = app
        self.state = state
        # What Starlette's Response(media_type=...) sends for this wire format, in its order.
        self._content_type = (b"content-type", state.wire.content_type.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != HAMR_PATH
            or wants_gzip(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        try:
            document = await own_connection(scope, self.state)
        except HamrError as error:
            await error_response(error, live=self.state.wire.live_errors)(scope, receive, send)
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
                # In the order the app's route sends them (Starlette's Response).
                "headers": [
                    (b"etag", document.etag.encode()),
                    (b"content-length", b"%d" % len(document.body)),
                    self._content_type,
                ],
            }
        )
        await send({"type": "http.response.body", "body": document.body})
