"""Blocking reads of storage, kept off the event loop: each runs on a worker thread, at most
`concurrency` at once, and a request stops waiting for its read after `timeout_seconds` with
Unavailable (worth retrying), so that a database that hangs (connections open, no answers)
stalls only the requests that need it, and an outage cannot pile up threads: a slot stays taken
until its thread ends, and a thread left waiting on a hung database ends when it answers.

Waiting for a slot is queueing, not an outage: a read queues behind others for as long as
reads keep finishing, and gives up only when none has finished for `timeout_seconds` (every
slot is stuck). So heavy reads from many clients slow each other down rather than fail.
Writes are not given up on this way: their answer must say what was stored."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread

from hamr.domain.errors import Unavailable

T = TypeVar("T")
SETTLE_POLL_SECONDS = 0.01


class StorageReads:
    def __init__(self, concurrency: int, timeout_seconds: float):
        self._concurrency = concurrency
        self._timeout = timeout_seconds
        self._limiter: anyio.CapacityLimiter | None = None
        self._finished = 0  # reads ended so far: the queue's sign of progress

    async def __call__(self, read: Callable[..., T], *args: object) -> T:
        if self._limiter is None:  # made in the running event loop, on first use
            self._limiter = anyio.CapacityLimiter(self._concurrency)
        slot = _Slot()
        await self._queue_for(self._limiter, slot)
        run = functools.partial(self._run_then_free, self._limiter, slot, read, *args)
        try:
            with anyio.fail_after(self._timeout):
                return await anyio.to_thread.run_sync(run, abandon_on_cancel=True)
        except TimeoutError:
            raise self._unanswered() from None
        finally:
            if slot.take():  # given up on before its thread began: that thread will skip it
                self._free(self._limiter, slot)

    async def settle(self) -> None:
        """Wait, at most the read timeout, for the reads still running on worker threads (their
        requests may have stopped waiting), so that the database is closed with every
        connection back in its pool: one handed back to a pool already closed would be left
        open until the garbage collector finds it."""
        if self._limiter is None:
            return
        with anyio.move_on_after(self._timeout):
            while self._limiter.borrowed_tokens:
                await anyio.sleep(SETTLE_POLL_SECONDS)

    async def _queue_for(self, limiter: anyio.CapacityLimiter, slot: object) -> None:
        while True:
            finished = self._finished
            with anyio.move_on_after(self._timeout):
                await limiter.acquire_on_behalf_of(slot)
                return
            if self._finished == finished:
                raise self._unanswered()

    def _run_then_free(
        self, limiter: anyio.CapacityLimiter, slot: _Slot, read: Callable[..., T], *args: object
    ) -> T:
        """On the worker thread: the read, then its slot handed back on the event loop (even
        when the request stopped waiting for it). A read whose request was given up on before
        this thread began is not run at all."""
        if not slot.take():
            raise _GivenUp
        try:
            return read(*args)
        finally:
            anyio.from_thread.run_sync(self._free, limiter, slot)

    def _free(self, limiter: anyio.CapacityLimiter, slot: object) -> None:
        self._finished += 1
        limiter.release_on_behalf_of(slot)

    def _unanswered(self) -> Unavailable:
        return Unavailable(
            f"The database did not answer within {self._timeout:g} s; nothing was changed. "
            "Try again shortly."
        )


class _Slot:
    """A read's place among the `concurrency`; taken by whichever comes first, the worker
    thread starting the read or the request giving up before it started, and freed by it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False

    def take(self) -> bool:
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken


class _GivenUp(Exception):
    """Raised on a worker thread whose read was given up on before it began (nobody waits)."""
