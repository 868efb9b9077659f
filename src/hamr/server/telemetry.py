"""Per-request bookkeeping in one pass around the app: the request id, Datadog's rate-limit
headers, metrics and the access log line; and the 503 of a request the server cancelled at
the end of its shutdown grace, before it had answered. Metrics and log lines are left as
facts and applied in batches (`Batches`), `FLUSH_SECONDS` after the first fact of a batch.

Routes leave what only they know in the request's state (`org`, `quota`); this reads it when
the response starts, so error responses rendered by exception handlers carry it too.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hamr.api.errors import CutOffByShutdown, error_response
from hamr.api.metrics import Metrics
from hamr.api.ratelimit import Quota
from hamr.server.access_log import AccessLog

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 0.02
REQUEST_ID_HEADER = b"x-request-id"
CONNECTION_CLOSED = 499
# A caller's own request id is echoed only if it is short and plain: it ends up in log lines.
_USABLE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:/+=-]{1,128}$")


class Batches:
    """Applies the buffered facts (`flushes`) `FLUSH_SECONDS` after the first one buffered
    since they were last applied: a busy server applies them in batches, and an idle one is
    not woken fifty times a second to find nothing to apply."""

    def __init__(self, flushes: list[Callable[[], None]]):
        self._flushes = flushes
        self._timer: asyncio.TimerHandle | None = None

    def noted(self) -> None:
        """A fact was buffered (on the event loop)."""
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for flush in self._flushes:
            flush()


class RequestTelemetry:
    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics | None,
        access_log: AccessLog | None,
        batches: Batches,
    ):
        self.app = app
        self.metrics = metrics
        self.access_log = access_log
        self.batches = batches

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope["headers"])
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        # Until a response starts: an app that returns without one saw the connection go
        # (the client's doing, or an emulator's fault), which nginx logs as 499.
        status = CONNECTION_CLOSED

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                quota: Quota | None = state.get("quota")
                message["headers"] = [
                    *message.get("headers", ()),
                    (REQUEST_ID_HEADER, request_id.encode()),
                    *(quota.headers() if quota is not None else ()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except asyncio.CancelledError:
            # Only the server cancels a request: when the shutdown grace ran out.
            if status != CONNECTION_CLOSED:
                raise
            status = CutOffByShutdown.status
            logger.warning(
                "a request was cut off: the shutdown grace ran out",
                extra={"request_id": request_id, "method": scope["method"], "path": scope["path"]},
            )
            cut_off = error_response(CutOffByShutdown(), headers={"Connection": "close"})
            await cut_off(scope, receive, send_with_headers)
        except BaseException:
            if status == CONNECTION_CLOSED:
                status = 500  # the server answers it so
            raise
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(scope["path"], scope["method"], status, seconds)
            if self.access_log is not None:
                self.access_log.request(
                    request_id,
                    state.get("org"),
                    scope["method"],
                    scope["path"],
                    status,
                    seconds,
                )
            self.batches.noted()


def _request_id(raw_headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in raw_headers:
        if name == REQUEST_ID_HEADER and _USABLE_REQUEST_ID.match(value):
            return value.decode("ascii")
    # Unique, not secret: Python's generator, seeded from the OS (and re-seeded after a fork),
    # at a third of the cost of reading the OS's random source on every request.
    return f"{random.getrandbits(128):032x}"
