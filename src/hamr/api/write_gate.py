"""Writes and wholesale replacements take turns.

An emulator reset or a replaced state deletes every org; a write authenticated before it must
not commit after it (its org is gone), and a write answered 200 after it must not have been
wiped by it. So each write holds the gate shared from authentication until its answer is
ready, and a reset holds it alone: it waits for the writes in flight to be answered, and writes
that arrive meanwhile wait for it, then authenticate against what it left. This orders one
process's requests; across processes the store answers a write whose org vanished with a 409.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

from aiorwlock import RWLock
from starlette.requests import Request
from starlette.responses import Response

Endpoint = Callable[[Request], Awaitable[Response]]


class WriteGate:
    def __init__(self) -> None:
        # Writer-preferring: once a reset waits, new writes queue behind it.
        self._lock = RWLock(fast=True)

    @contextlib.asynccontextmanager
    async def shared(self) -> AsyncIterator[None]:
        """Held by each write (many at once)."""
        async with self._lock.reader_lock:
            yield

    @contextlib.asynccontextmanager
    async def alone(self) -> AsyncIterator[None]:
        """Held by a reset or a state replacement (nothing else at once)."""
        async with self._lock.writer_lock:
            yield


def a_write(endpoint: Endpoint) -> Endpoint:
    """Run `endpoint` holding the app's write gate shared."""

    @functools.wraps(endpoint)
    async def gated(request: Request) -> Response:
        async with request.app.state.hamr.write_gate.shared():
            return await endpoint(request)

    return gated
