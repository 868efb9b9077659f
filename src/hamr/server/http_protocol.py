"""uvicorn's httptools protocol with the limits a listener needs, which uvicorn leaves out:
a connection that has not sent a request's headers within `header_timeout_seconds` (an idle
one, or slowloris) is closed; headers past `max_header_bytes` in all, request line included,
get a 431 before they are parsed (httptools would buffer a header of any size); past
`max_connections` open connections, requests get a 503 and their connection is closed; a
request whose whole body has not arrived `body_timeout_seconds` after its headers gets a 408
and its connection is closed (timed for the whole body, as the header timeout is: nginx's
`client_body_timeout` times each read, which a byte at a time keeps from firing). (uvicorn's own
`timeout_keep_alive` closes kept-alive connections left idle.) Every refusal is a JSON:API
error, as every other hamr answer. With the emulator, each request's TCP
transport goes into its scope, where the connection faults find it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.responses import Response
from uvicorn._types import ASGIReceiveEvent
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from hamr.api.error_bytes import (
    HeaderFieldsTooLarge,
    TooManyConnections,
    body_timed_out,
    closing_answer,
)
from hamr.api.errors import HttpError, error_response
from hamr.emulator.faults.injection import TRANSPORT_EXTENSION
from hamr.server.one_write import OneWriteCycle

logger = logging.getLogger(__name__)
HEADERS_END = b"\r\n\r\n"
# How long, and how much of, a refused connection's further bytes are read (and dropped)
# before it is closed: closing with unread bytes would reset it, and the client might never
# read the refusal.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1024 * 1024
# How much of a line's start is kept, to name the header of a refusal.
NAMED_BYTES = 128
# A connection refused for being past the cap is logged at most this often.
BUSY_LOG_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout_seconds: float
    max_connections: int
    max_header_bytes: int
    transport_in_scope: bool = False
    body_timeout_seconds: float = 30.0


def protocol_with(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """The protocol class uvicorn is to build each connection's protocol from."""
    return type("LimitedProtocol", (LimitedProtocol,), {"limits": limits})


class LimitedProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    _busy_said: ClassVar[float] = 0.0
    _header_bytes: int  # of the request being read, up to the blank line that ends them

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_headers()
        self._refused = False
        self._dropped = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_due: float | None = None  # when the headers being read time out
        self._body_timer: asyncio.TimerHandle | None = None
        self._bounded: RequestResponseCycle | None = None  # the cycle whose receive is bounded
        self._timed_out: RequestResponseCycle | None = None  # the cycle whose body timed out
        self._line, self._line_length = b"", 0  # the line being read: its start, its length
        self._longest: tuple[int, bytes] = (0, b"")  # the longest line's length and start
        self._time_headers()

    def data_received(self, data: bytes) -> None:
        if self._refused:  # lingering: read and dropped
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self._reading_headers:
            if self._headers_due is None:  # the next request on a kept-alive connection
                self._time_headers()
            if self._header_bytes == 0:
                # The usual case: a request's headers whole in one read, within the cap. Only
                # headers that may still grow past it need their lines noted (to name one).
                end = data.find(HEADERS_END)
                if 0 <= end <= self.limits.max_header_bytes - len(HEADERS_END):
                    self._header_bytes = end + len(HEADERS_END)
                    super().data_received(data)
                    self._after_read()
                    return
                self._line, self._line_length = b"", 0
                self._longest = (0, b"")
            if self._count_header_bytes(data) > self.limits.max_header_bytes:
                self._refuse_headers()
                return
        super().data_received(data)
        self._after_read()

    def _after_read(self) -> None:
        if self._reading_headers or self._refused:  # no body is awaited
            if self._body_timer is not None:
                self._body_timer.cancel()
                self._body_timer = None
        elif self._body_timer is None:  # a request's body is unfinished: time the rest
            self._await_body()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.limits.transport_in_scope:
            self.scope["extensions"] = {TRANSPORT_EXTENSION: self.transport}  # type: ignore[dict-item]

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._headers_due = None
        if len(self.connections) <= self.limits.max_connections:
            super().on_headers_complete()
            self._one_write()
            return
        self._say_busy()
        app, self.app = self.app, _busy_answer(self.limits.max_connections)
        try:
            super().on_headers_complete()
            self._one_write()
        finally:
            self.app = app

    def _one_write(self) -> None:
        """The request's cycle, just made by uvicorn (its task has not run yet), answers in
        one write (OneWriteCycle): uvicorn builds it by name, so its class is swapped here."""
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = OneWriteCycle

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._start_headers()

    def _start_headers(self) -> None:
        """A request's headers are next. (Their lines are noted only if they take more than
        one read: from data_received, which starts the notes on the first.)"""
        self._reading_headers = True
        self._header_bytes = 0
        self._tail = b""  # the last bytes seen, for a HEADERS_END split across reads

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
        super().connection_lost(exc)

    def _await_body(self) -> None:
        """Start the body's timer; on the first wait, before the app can have called it, bound
        the request's receive so that a timed-out body ends the app's read with a 408."""
        cycle = self.cycle
        if self._bounded is not cycle:
            self._bounded = cycle
            cycle.receive = self._bounded_receive(cycle)  # type: ignore[method-assign]
        self._body_timer = self.loop.call_later(
            self.limits.body_timeout_seconds, self._body_too_slow
        )

    def _bounded_receive(
        self, cycle: RequestResponseCycle
    ) -> Callable[[], Coroutine[Any, Any, ASGIReceiveEvent]]:
        receive = cycle.receive

        async def bounded() -> ASGIReceiveEvent:
            message = await receive()
            if self._timed_out is cycle:
                # The 408 is on its way; the app answers it too, for its log and metrics,
                # to a cycle that drops what it sends.
                raise body_timed_out(self.limits.body_timeout_seconds)
            return message

        return bounded

    def _body_too_slow(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self._reading_headers or self._refused or self.transport.is_closing():
            return
        if self.flow.read_paused or (cycle.waiting_for_100_continue and not cycle.response_started):
            self._await_body()  # the wait is ours (the app has not read), not the client's
            return
        logger.debug(
            "a request's body sent nothing for %s s: %s",
            self.limits.body_timeout_seconds,
            "closed" if cycle.response_started else "answered 408 and closed",
        )
        if cycle.response_started:  # answered already: nothing more to say
            if cycle.response_complete:
                self.transport.close()
            else:
                cycle.keep_alive = False
            return
        self._timed_out = cycle
        self._send_and_close(body_timed_out(self.limits.body_timeout_seconds))
        cycle.disconnected = True  # what the app sends now goes nowhere
        cycle.message_event.set()  # and its read ends

    def _count_header_bytes(self, data: bytes) -> int:
        """The header bytes of this request so far (up to the blank line that ends them)."""
        seen = self._tail + data
        end = seen.find(HEADERS_END)
        counted = len(data) if end < 0 else max(0, end + len(HEADERS_END) - len(self._tail))
        self._tail = seen[-(len(HEADERS_END) - 1) :]
        self._note_lines(data[:counted])
        self._header_bytes += counted
        return self._header_bytes

    def _note_lines(self, part: bytes) -> None:
        """Keep the start of the longest line so far: the header to name in a refusal."""
        pieces = part.split(b"\r\n")
        for index, piece in enumerate(pieces):
            self._line_length += len(piece)
            if len(self._line) < NAMED_BYTES:
                self._line += piece[: NAMED_BYTES - len(self._line)]
            if self._line_length > self._longest[0]:
                self._longest = (self._line_length, self._line)
            if index < len(pieces) - 1:  # the line ended here
                self._line, self._line_length = b"", 0

    def _refuse_headers(self) -> None:
        name, colon, _ = self._longest[1].partition(b":")
        named = colon and name.isascii() and name.strip() and b" " not in name.strip()
        self._send_and_close(
            HeaderFieldsTooLarge(
                f"The request's headers are larger than the {self.limits.max_header_bytes} "
                "bytes in all (request line included) this server accepts; send fewer or "
                "smaller headers. Nothing was done.",
                header=name.strip().decode("ascii") if named else None,
            )
        )

    def _send_and_close(self, error: HttpError) -> None:
        self._refused = True
        self._cancel_header_timer()
        self.transport.write(closing_answer(error))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _time_headers(self) -> None:
        """The headers now being read are due within the timeout. One timer per connection,
        not one per request: it is armed only when none is pending, and when it fires early
        (a later request's headers are due later) it is armed again for the rest."""
        self._headers_due = due = self.loop.time() + self.limits.header_timeout_seconds
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(due, self._headers_too_slow)

    def _cancel_header_timer(self) -> None:
        self._headers_due = None
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        due = self._headers_due
        if due is None or self.transport.is_closing():
            return
        if due > self.loop.time():
            self._header_timer = self.loop.call_at(due, self._headers_too_slow)
            return
        if self._reading_headers:
            logger.debug(
                "closed a connection without a request's headers after %s s",
                self.limits.header_timeout_seconds,
            )
            self.transport.close()

    def _say_busy(self) -> None:
        now = time.monotonic()
        if now - LimitedProtocol._busy_said >= BUSY_LOG_SECONDS:
            LimitedProtocol._busy_said = now
            logger.warning(
                "more than %s %s open: refusing requests with 503 (HAMR_MAX_CONNECTIONS)",
                _connections(self.limits.max_connections),
                "is" if self.limits.max_connections == 1 else "are",
            )


def _connections(number: int) -> str:
    """The cap as a person says it: "1 connection", "4 connections"."""
    return f"{number} connection{'' if number == 1 else 's'}"


def _busy_answer(max_connections: int) -> Response:
    """The answer to a request on a connection past the cap (an ASGI app of its own): 503, and
    the connection closed."""
    return error_response(
        TooManyConnections(
            f"This server has more than its {_connections(max_connections)} open; retry in a "
            "moment, reusing one connection for many requests. Nothing was done."
        ),
        headers={"Connection": "close"},
    )
