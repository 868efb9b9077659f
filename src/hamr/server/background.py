"""What runs beside the requests for a server's lifetime: the group-commit writer, the watch on
storage that keeps the caches true to other processes' writes, the metrics port, scheduled
garbage collection, and the walker of datacenter operations. On the way out each is stopped,
the access log's and metrics' last facts are applied (`batches`), then the database is
closed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.types import Lifespan

from hamr.api.state import AppState
from hamr.domain.errors import Unavailable
from hamr.server.collector import scheduled_full_collections
from hamr.server.datacenter_runner import walk_datacenter_operations
from hamr.server.telemetry import Batches
from hamr.server.writer import GroupCommitWriter

logger = logging.getLogger(__name__)
OUTAGE_LOG_SECONDS = 30.0
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
        poller = asyncio.create_task(_watch_storage(state))
        watchers = [poller, asyncio.create_task(walk_datacenter_operations(state))]
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
            batches.flush()
            close_store()
            logger.info("stopped; the database is closed")

    return lifespan


async def _watch_storage(state: AppState) -> None:
    """What other processes change (revocations by the CLI, writes by other servers) reaches
    this one's caches within one poll interval. While the database is unreachable it is
    tried every OUTAGE_POLL_SECONDS instead: each failed connect costs the process's one core
    some milliseconds, which the requests it can still answer (probes, cached GETs) would
    otherwise wait behind ten times a second."""
    unreachable_since: float | None = None
    last_said = 0.0
    while True:
        poll = state.settings.credentials_poll_seconds
        await asyncio.sleep(poll if unreachable_since is None else max(poll, OUTAGE_POLL_SECONDS))
        try:
            changes = await state.reads(state.service.storage_changes)
        except Unavailable as error:
            # One line when the database goes, one every OUTAGE_LOG_SECONDS while it stays
            # away, one when it is back: an outage is not a traceback every poll.
            now = time.monotonic()
            if unreachable_since is None or now - last_said >= OUTAGE_LOG_SECONDS:
                logger.warning("the database is unreachable", extra={"reason": error.detail})
                unreachable_since = unreachable_since or now
                last_said = now
            continue
        except Exception:
            logger.exception("could not check storage for changes")
            continue
        if unreachable_since is not None:
            away = time.monotonic() - unreachable_since
            logger.warning("the database is back", extra={"away_seconds": round(away, 1)})
            unreachable_since = None
        state.service.notice(changes)
