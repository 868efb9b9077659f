"""Group commit: POSTs that arrive while a commit is in flight are written together in the next
one, so that a durable write costs one fsync per batch instead of one per request."""

from __future__ import annotations

import asyncio
import contextlib
import functools

import anyio.to_thread

from hamr.domain.errors import StorageFull, Unavailable, WriteConflict
from hamr.domain.model import AppliedChange, ConnectionChange, Principal
from hamr.usecases.service import HamrService, Upsert

MAX_BATCH = 256
CONFLICT_RETRIES = 5


class GroupCommitWriter:
    """One writer task feeding one thread: SQLite has a single writer anyway, and queueing here
    beats waiting on its lock."""

    def __init__(self, service: HamrService, max_batch: int = MAX_BATCH):
        self._service = service
        self._max_batch = max_batch
        self._pending: list[tuple[Upsert, asyncio.Future[AppliedChange]]] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hamr-group-commit")

    async def stop(self) -> None:
        """Called after the server has drained its requests, so nothing is left pending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def write(self, principal: Principal, change: ConnectionChange) -> AppliedChange:
        """Return once the change is committed to disk (or raise why it was not). The change
        comes from `HamrService.resolve_change`; one the store refuses (a pair conflict) fails
        alone, not the batch it was in."""
        future: asyncio.Future[AppliedChange] = asyncio.get_running_loop().create_future()
        self._pending.append(((principal, change), future))
        self._wakeup.set()
        return await future

    async def rehearse(self, principal: Principal, change: ConnectionChange) -> AppliedChange:
        """What `write` would store, stored not: the write's own transaction, rolled back
        (alone, never in a batch whose commit it would share)."""
        (done,) = await self._upsert_retrying([(principal, change)], dry_run=True)
        return done

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._commit(batch)

    async def _commit(self, batch: list[tuple[Upsert, asyncio.Future[AppliedChange]]]) -> None:
        try:
            stored = await self._upsert_retrying([upsert for upsert, _ in batch])
        except (Unavailable, StorageFull) as error:  # every write would fail alike
            self._fail(batch, error)
            return
        except Exception as error:
            if len(batch) == 1:
                self._fail(batch, error)
                return
            # A write the database refuses must not fail those batched with it: write each
            # alone, so that only the culprit gets the error.
            for item in batch:
                await self._commit([item])
            return
        self._service.remember_writes(stored)
        for (_, future), done in zip(batch, stored, strict=True):
            if not future.done():  # the client may have gone; its write still stands
                future.set_result(done)

    @staticmethod
    def _fail(batch: list[tuple[Upsert, asyncio.Future[AppliedChange]]], error: Exception) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _upsert_retrying(
        self, upserts: list[Upsert], dry_run: bool = False
    ) -> list[AppliedChange]:
        """Another process's batch may collide with this one (PostgreSQL deadlock or
        serialization failure); the transaction was rolled back whole, so run it again."""
        attempt = 1
        while True:
            try:
                upsert = functools.partial(
                    self._service.upsert_connections, upserts, dry_run=dry_run
                )
                return await anyio.to_thread.run_sync(upsert)
            except WriteConflict:
                if attempt == CONFLICT_RETRIES:
                    raise
                await asyncio.sleep(0.005 * attempt)
                attempt += 1
