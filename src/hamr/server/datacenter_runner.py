"""The server's walker of datacenter operations (usecases/datacenter_operations.py).

A started operation is walked here, in the background, not inside the POST that started it:
the job row is all there is to it, so a server that died mid-walk (kill -9 included) leaves
a job whose lease runs out, and the next server on the database (this one restarted, or
another that is running) finds it on its next look and walks on from the position its last
committed batch recorded. The POST answers at once; whoever started it polls. Every batch
holds the write gate shared, as any write does, and the changes it stored go into this
process's caches (other processes learn them by their storage poll)."""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread

from hamr.api.state import AppState
from hamr.domain.errors import Unavailable
from hamr.server.database_outage import DatabaseOutage
from hamr.usecases.datacenter_operations import owner_name

logger = logging.getLogger(__name__)
# How often the server looks for a job to walk (a new one, or one whose holder died).
POLL_SECONDS = 0.5
# A breath between batches, in which the writes that waited for SQLite's one write lock
# meanwhile get it: its busy handler polls, and a walker that took the lock back at once
# would keep them waiting.
BETWEEN_BATCHES_SECONDS = 0.005


async def walk_datacenter_operations(state: AppState, outage: DatabaseOutage) -> None:
    """Look for a running job this process may walk, and walk it a batch at a time, for the
    server's lifetime (cancelled on the way out: a batch in flight then commits or not).
    While the database is away, it looks (`outage`) before it asks."""
    owner = owner_name()
    operations = state.service.datacenter_operations
    while True:
        await asyncio.sleep(POLL_SECONDS)
        if not await outage.worth_asking():
            continue
        try:
            job = await state.reads(operations.resumable, owner)
        except Unavailable as error:  # the database is away: the outage says so, once
            outage.found_away(error.detail)
            continue
        outage.found_back()
        try:
            while job is not None and job.running:
                async with state.write_gate.shared():
                    stepped = await anyio.to_thread.run_sync(operations.step, job.id, owner)
                if stepped is None:
                    break  # another process holds it
                job, applied = stepped
                if applied:
                    # Each pair as its last step left it (a failover's FAILOVER row is already
                    # history), and every row's id, so the storage watch drops nothing for them.
                    last = {change.after.id: change for change in applied}.values()
                    state.service.remember_writes(list(last))
                    state.service.connections.remember(
                        [], [change.history_id for change in applied if change.history_id]
                    )
                await asyncio.sleep(BETWEEN_BATCHES_SECONDS)
        except Unavailable as error:
            # A batch that waited out SQLite's busy timeout, or a database lost mid-walk (the
            # next look finds that out): the batch is tried again from the job's position.
            logger.warning("a datacenter operation waits for the database: %s", error.detail)
        except Exception:
            logger.exception("a datacenter operation's batch failed; it is tried again")
