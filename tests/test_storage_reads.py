"""A read its caller stopped waiting for goes on, on its worker thread, holding a connection:
on the way out the server waits for such reads (`StorageReads.settle`, at most the read
timeout) before it closes the database, so that no connection is handed back to a pool
already closed, to be collected open. Real threads, a real event loop."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from hamr.domain.errors import Unavailable
from hamr.usecases.storage_reads import StorageReads


def test_settling_waits_for_a_read_its_caller_stopped_waiting_for() -> None:
    release = threading.Event()
    ended: list[float] = []

    def slow_read() -> str:
        release.wait(10)
        ended.append(time.monotonic())
        return "read"

    async def scenario() -> float:
        reads = StorageReads(concurrency=2, timeout_seconds=5)
        async with anyio.create_task_group() as group:
            group.start_soon(reads, slow_read)
            await anyio.sleep(0.1)
            group.cancel_scope.cancel()  # the watcher is cancelled; its thread reads on
        assert ended == []
        threading.Timer(0.3, release.set).start()
        await reads.settle()
        return time.monotonic()

    settled = anyio.run(scenario)
    assert ended, "settle returned before the read ended"
    assert ended[0] <= settled


def test_settling_gives_up_after_the_read_timeout() -> None:
    """A hung database does not hold the way out for longer than a read would wait."""
    release = threading.Event()

    async def scenario() -> float:
        reads = StorageReads(concurrency=1, timeout_seconds=0.3)
        with pytest.raises(Unavailable):
            await reads(release.wait, 10)  # given up on after 0.3 s; the thread waits on
        started = time.monotonic()
        await reads.settle()
        return time.monotonic() - started

    try:
        waited = anyio.run(scenario)
    finally:
        release.set()
    assert 0.25 <= waited < 5


def test_settling_with_nothing_read_returns_at_once() -> None:
    anyio.run(StorageReads(concurrency=1, timeout_seconds=5).settle)
