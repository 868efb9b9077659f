"""What runs beside the requests for a server's lifetime: the group-commit writer, the watch on
storage that keeps the caches true to other processes' writes, the metrics port, scheduled
garbage collection, and the walker of datacenter operations. On the way out each is stopped,
the reads still on worker threads end (at most their timeout), the access log's and metrics'
last facts are applied (`batches`), then the database is closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.types import Lifespan

from hamr.api.state import AppState
from hamr.domain.errors import Unavailable
from hamr.server.collector import scheduled_full_collections
from hamr.server.database_outage import DatabaseOutage, database_address
from hamr.server.datacenter_runner import walk_datacenter_operations
from hamr.server.telemetry import Batches
from hamr.server.writer import GroupCommitWriter

logger = logging.getLogger(__name__)
OUTAGE_POLL_SECONDS = 1.0


def background_work(
    state: AppState,
    writer: GroupCommitWriter,
    batches: Batches,
    close_store: Callable[[], None],
) -> Lifespan[Starlette]:
    """The application's lifespan: starts the background work, and on the way out stops it,
    flushes what is buffered and closes the database with `close_store`."""
    settings = state.settings

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        outage = DatabaseOutage(database_address(settings.database_url))
        watchers = [
            asyncio.create_task(_watch_storage(state, outage)),
            asyncio.create_task(walk_datacenter_operations(state, outage)),
        ]
        if state.replica is not None:
            # Imported here: it brings httpx (for Patroni), which a server without replicas
            # would load for nothing at every start.
            from hamr.server.replica_watch import watch_replica

            watchers.append(asyncio.create_task(watch_replica(state)))
        writer.start()
        metrics_server = None
        if state.metrics is not None and settings.metrics_port:
            metrics_server = state.metrics.serve_apart(settings.host, settings.metrics_port)
        try:
            async with scheduled_full_collections(settings.gc_period_seconds):
                yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            await writer.stop()
            for task in watchers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await state.reads.settle()  # a read its watcher stopped waiting for
            batches.flush()
            close_store()
            logger.info("stopped; the database is closed")

    return lifespan


async def _watch_storage(state: AppState, outage: DatabaseOutage) -> None:
    """What other processes change (revocations by the CLI, writes by other servers) reaches
    this one's caches within one poll interval. While the database is unreachable it is
    looked at every OUTAGE_POLL_SECONDS instead, and asked only once its port accepts
    (`DatabaseOutage`): the requests it can still answer (probes, cached GETs) would
    otherwise wait behind failed connects ten times a second."""
    while True:
        poll = state.settings.credentials_poll_seconds
        await asyncio.sleep(max(poll, OUTAGE_POLL_SECONDS) if outage.away else poll)
        if not await outage.worth_asking():
            continue
        try:
            changes = await state.reads(state.service.storage_changes)
        except Unavailable as error:
            outage.found_away(error.detail)
            continue
        except Exception:
            logger.exception("could not check storage for changes")
            continue
        outage.found_back()
        state.service.notice(changes)
