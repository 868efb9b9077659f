"""Blocking reads of storage, kept off the event loop: each runs on a worker thread, at most
`concurrency` at once, and a request stops waiting for one after `timeout_seconds` with
Unavailable (worth retrying), so that a database that hangs (connections open, no answers)
stalls only the requests that need it, and an outage cannot pile up threads. A thread left
waiting on a hung database finishes by itself when it answers. Writes are not given up on
this way: their answer must say what was stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from hamr.domain.errors import Unavailable

T = TypeVar("T")


class StorageReads:
    def __init__(self, concurrency: int, timeout_seconds: float):
        self._concurrency = concurrency
        self._timeout = timeout_seconds
        self._limiter: anyio.CapacityLimiter | None = None

    async def __call__(self, read: Callable[..., T], *args: object) -> T:
        if self._limiter is None:  # made in the running event loop, on first use
            self._limiter = anyio.CapacityLimiter(self._concurrency)
        try:
            with anyio.fail_after(self._timeout):
                return await anyio.to_thread.run_sync(
                    read, *args, limiter=self._limiter, abandon_on_cancel=True
                )
        except TimeoutError:
            raise Unavailable(
                f"The database did not answer within {self._timeout:g} s; nothing was "
                "changed. Try again shortly."
            ) from None
