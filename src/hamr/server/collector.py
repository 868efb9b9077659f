"""Garbage collection for a server with large long-lived caches.

CPython's full (generation 2) collection walks every tracked object; with the caches holding
tens of thousands of entries it pauses the event loop for tens of milliseconds, at moments
chosen by allocation counts, i.e. under load. While serving, automatic full collections are
held back and one is run on a fixed period instead: the pause happens at a known rate, and
cyclic garbage is still reclaimed. (Measured at 100 000 orgs: GET p99 127 ms -> 10 ms.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

YOUNG_THRESHOLD = 10_000
MIDDLE_THRESHOLD = 100
NEVER = 1_000_000_000


@contextlib.asynccontextmanager
async def scheduled_full_collections(period_seconds: float) -> AsyncIterator[None]:
    previous = gc.get_threshold()
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: never scan it again
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, NEVER)
    sweeper = asyncio.create_task(_sweep(period_seconds), name="hamr-gc")
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        gc.unfreeze()
        gc.set_threshold(*previous)


async def _sweep(period_seconds: float) -> None:
    while True:
        await asyncio.sleep(period_seconds)
        gc.collect()
