"""Request lines and request metrics are applied in batches, 20 ms after a batch's first
request; an idle server is not woken to apply nothing (docs/operations.md)."""

from __future__ import annotations

import asyncio

from hamr.server.telemetry import FLUSH_SECONDS, Batches


def test_a_batch_is_applied_once_soon_after_its_first_fact_and_nothing_wakes_meanwhile() -> None:
    applied: list[float] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        batches = Batches([lambda: applied.append(loop.time())])
        await asyncio.sleep(5 * FLUSH_SECONDS)
        assert applied == []  # nothing noted: no flush, however long it idles
        first = loop.time()
        for _ in range(3):
            batches.noted()
        await asyncio.sleep(5 * FLUSH_SECONDS)
        assert len(applied) == 1  # one batch for the three facts
        assert applied[0] - first >= FLUSH_SECONDS * 0.9
        batches.noted()
        batches.flush()  # on the way out: applied now, and the timer it armed is spent
        await asyncio.sleep(5 * FLUSH_SECONDS)
        assert len(applied) == 2

    asyncio.run(scenario())
