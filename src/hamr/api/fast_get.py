"""`GET /api/v2/hamr` answered in front of Starlette: the hot path, without its router,
exception wrappers, Request or Response objects.

Every GET of the path without a query string is admitted (credentials from memory when they
were seen before, from storage otherwise; its rate limit counted), read and answered here,
gzipped when asked for (the official Python client asks), read from storage rather than
memory when `Cache-Control` asks for a fresh answer. HEAD, GETs with a query string, and
every other route and method pass to the app, whose GET route answers through the same
functions (get_answer.py). RequestTelemetry, outside this layer, adds the request id and rate
limit headers and logs the request either way.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from hamr.api.errors import unexpected_error_response
from hamr.api.get_answer import asked, document_answer, error_answer
from hamr.api.routes import HAMR_PATH, own_connection
from hamr.api.state import AppState
from hamr.domain.errors import HamrError


class FastGet:
    def __init__(self, app: ASGIApp, state: AppState):
        self.app = app
        self.state = state
        self._content_type = state.wire.content_type.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != HAMR_PATH
            or scope["query_string"]
        ):
            await self.app(scope, receive, send)
            return
        raw_headers = scope["headers"]
        try:
            gzip, fresh = asked(raw_headers)
            document = await own_connection(scope, self.state, fresh)
            staleness = self.state.staleness_header()
        except HamrError as error:
            live = self.state.wire.live_errors
            await error_answer(error, raw_headers, live=live)(scope, receive, send)
            return
        except Exception:
            # Outside Starlette, so its last-resort handler is not around this lane: the same
            # answer, given here.
            await unexpected_error_response(scope)(scope, receive, send)
            raise
        headers, body = document_answer(document, self._content_type, gzip, staleness)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
