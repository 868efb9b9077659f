"""Group commit: POSTs that arrive while a commit is in flight are written together in the next
one, so that a durable write costs one fsync per batch instead of one per request.

With a deadline (PostgreSQL, whose server may freeze or be cut off with its connections open),
a write waits for its answer that long and no longer: one still queued is withdrawn (a 503 that
changed nothing), one whose batch is in flight is a 503 saying it may or may not have been
stored (the batch is never cancelled; it ends when the server answers). A batch past the
deadline is left to finish by itself and the next one starts beside it, on another pooled
connection, so that one stuck connection does not stall every later write."""

from __future__ import annotations

import asyncio
import contextlib
import functools

import anyio.to_thread

from hamr.domain.errors import OutcomeUnknown, StorageFull, Unavailable, WriteConflict
from hamr.domain.model import AppliedChange, ConnectionChange, Principal
from hamr.usecases.service import HamrService, Upsert

MAX_BATCH = 256
CONFLICT_RETRIES = 5

_Item = tuple[Upsert, "asyncio.Future[AppliedChange]"]


class GroupCommitWriter:
    """One writer task feeding one thread: SQLite has a single writer anyway, and queueing here
    beats waiting on its lock."""

    def __init__(
        self,
        service: HamrService,
        max_batch: int = MAX_BATCH,
        deadline_seconds: float | None = None,
    ):
        self._service = service
        self._max_batch = max_batch
        self._deadline = deadline_seconds
        self._pending: list[_Item] = []
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._overdue: set[asyncio.Task[None]] = set()  # batches left to finish by themselves

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
        item: _Item = ((principal, change), future)
        self._pending.append(item)
        self._wakeup.set()
        if self._deadline is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), self._deadline)
        except TimeoutError:
            raise self._given_up(item) from None

    def _given_up(self, item: _Item) -> Unavailable:
        """Why a write past its deadline is answered 503: withdrawn if it never started."""
        # By identity: two requests asking the same change are equal items, not the same one.
        queued_at = next((i for i, queued in enumerate(self._pending) if queued is item), None)
        if queued_at is not None:
            del self._pending[queued_at]
            item[1].cancel()
            return Unavailable(
                f"The database did not take this write within {self._deadline:g} s; nothing "
                "was changed. Retry shortly."
            )
        item[1].add_done_callback(_retrieved)  # its batch ends by itself, stored or not
        return OutcomeUnknown(
            f"The database did not answer this write within {self._deadline:g} s: it may or "
            "may not have been stored. Read it back before writing again, or retry with the "
            "same Idempotency-Key, which stores it at most once."
        )

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
                if self._deadline is None:
                    await self._commit(batch)
                    continue
                commit = asyncio.create_task(self._commit(batch))
                done, _ = await asyncio.wait({commit}, timeout=self._deadline)
                if not done:  # a stuck connection: the next batch takes another
                    self._overdue.add(commit)
                    commit.add_done_callback(self._overdue.discard)

    async def _commit(self, batch: list[_Item]) -> None:
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
    def _fail(batch: list[_Item], error: Exception) -> None:
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


def _retrieved(future: asyncio.Future[AppliedChange]) -> None:
    """Mark a given-up write's outcome as seen (asyncio would log it as never retrieved)."""
    if not future.cancelled():
        future.exception()
