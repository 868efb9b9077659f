"""Datacenter operations: a pair operation walked over every pair whose primary side is in
one datacenter, through the same steps, lifecycle, policy and history rows (with the reason)
as the pair operation (pair_operations.walk), a batch of pairs per transaction.

The operation is a durable job row, and each batch commits the pairs it walked together with
the job's progress (the last connection id walked, the counts): a crash loses at most the
batch in flight, and whoever resumes the job (a restarted server, another server, the CLI
run again) continues from what is on disk, pairs already walked being past its position.
Whoever walks a batch first claims the job (a lease renewed by every batch, in the batch's
transaction), so that two processes never walk it at once; of two starts, the unique
running-job row lets one in (JobRunning for the other). Blocking: call from a worker thread.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import replace

from hamr.domain.datacenter_jobs import (
    REFUSALS_KEPT,
    DatacenterJob,
    JobRunning,
    JobState,
    KeyedStart,
    Refusal,
    Rehearsal,
    acting_side,
)
from hamr.domain.errors import InvalidInput, NotFound
from hamr.domain.lifecycle import OPERATIONS, OperationRefused, operation_steps
from hamr.domain.model import AppliedChange, HamrStatus, Link, Policy
from hamr.domain.ports import DatacenterReads, UnitOfWork
from hamr.domain.rules import canonical_datacenter
from hamr.usecases.pair_operations import Walk, check_reason, store_answer, walk

logger = logging.getLogger(__name__)

# Pairs per batch (each two history rows for a failover), and the most a caller may ask for.
BATCH_PAIRS = 500
MAX_BATCH_PAIRS = 5_000
# A job whose holder has committed no batch for this long is taken over by whoever asks.
LEASE_SECONDS = 10.0


def owner_name() -> str:
    """Who holds a job: this host and process, and a nonce (a pid is reused after restarts)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DatacenterOperations:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        reads: DatacenterReads | None,
        datacenters: frozenset[str],
        clock: Callable[[], int],
        policy: Policy,
    ):
        """`reads` None: read through units of work (a service built without a store's
        reads, as some tests build one)."""
        self._unit_of_work = unit_of_work
        self._reads = reads or _ReadsInUnitsOfWork(unit_of_work)
        self._datacenters = datacenters
        self._clock = clock
        self._policy = policy

    def known(self, datacenter: str, operation: str) -> str:
        """The datacenter's short name; NotFound for a datacenter or operation hamr lacks."""
        if operation not in OPERATIONS:
            raise NotFound(
                f"There is no pair operation {operation!r}; use one of: {', '.join(OPERATIONS)}."
            )
        return self.datacenter(datacenter)

    def datacenter(self, datacenter: str) -> str:
        short = canonical_datacenter(datacenter)
        if short not in self._datacenters:
            known = ", ".join(sorted(self._datacenters))
            raise NotFound(f"{datacenter!r} is not a known datacenter; use one of: {known}.")
        return short

    def start(
        self,
        datacenter: str,
        operation: str,
        reason: str,
        *,
        hold: bool = False,
        batch_size: int = BATCH_PAIRS,
        org_uuid: str,
        key_id: str,
        keyed: KeyedStart | None = None,
    ) -> DatacenterJob:
        """A new running job, counted but not yet walked; JobRunning, storing nothing, while
        another runs (on any process). Under an idempotency key (`keyed`) the answer is
        stored with the job."""
        check_reason(reason)
        datacenter = self.known(datacenter, operation)
        if not 1 <= batch_size <= MAX_BATCH_PAIRS:
            raise InvalidInput(f"batch_size must be from 1 to {MAX_BATCH_PAIRS}")
        with self._unit_of_work() as uow:
            repository = uow.repository
            now = self._clock()
            job = DatacenterJob(
                id=str(uuid.uuid4()),
                datacenter=datacenter,
                operation=operation,
                hold=hold,
                reason=reason,
                state=JobState.RUNNING,
                total=sum(repository.pair_counts(datacenter).values()),
                done=0,
                refused=0,
                position="",
                refusals=(),
                org_uuid=org_uuid,
                key_id=key_id,
                batch_size=batch_size,
                created_at_us=now,
                # Not yet claimed: whoever walks the first batch does.
                heartbeat_at_us=0,
                finished_at_us=None,
                owner=None,
            )
            # Refused while one runs; one that finished in between is no longer running.
            while not repository.insert_datacenter_job(job):
                running = repository.running_datacenter_job()
                if running is not None:
                    raise JobRunning(running)
            if keyed is not None:
                store_answer(repository, keyed.claim, keyed.answer(job))
            uow.commit()
        logger.info(
            "datacenter operation started",
            extra={"job": job.id, "datacenter": datacenter, "operation": operation},
        )
        return job

    def step(self, job_id: str, owner: str) -> tuple[DatacenterJob, list[AppliedChange]] | None:
        """Walk the job's next batch for `owner` in one transaction, with its progress; the
        job as it now stands and the changes stored. None if another process holds the job
        (its lease is live) or it is not running."""
        with self._unit_of_work() as uow:
            repository = uow.repository
            now = self._clock()
            job = repository.claim_datacenter_job(
                job_id, owner, now, now - round(LEASE_SECONDS * 1_000_000)
            )
            if job is None:
                return None
            links = repository.primary_links_in(job.datacenter, job.position, job.batch_size)
            # Lock every side as a pair operation does, and read again: a write may have
            # moved a pair in between.
            fresh = repository.lock_links(links)
            asked = Walk(
                job.operation,
                job.reason,
                job.hold,
                f"hamr pair {job.operation} --datacenter {job.datacenter}",
            )
            applied: list[AppliedChange] = []
            refusals = list(job.refusals)
            done = refused = 0
            for link in links:
                viewer = acting_side(link).uuid
                try:
                    changes = walk(
                        fresh.get(link.id),
                        viewer,
                        job.key_id,
                        asked,
                        self._policy,
                        self._clock,
                    )
                except OperationRefused as refusal:
                    refused += 1
                    if len(refusals) < REFUSALS_KEPT:
                        refusals.append(Refusal(link.id, viewer, refusal.detail))
                    continue
                applied += changes
                done += 1
            # Each pair once, as its last step left it.
            repository.save_links(list({c.after.id: c.after for c in applied}.values()), [])
            ids = repository.add_history(applied)
            applied = [replace(c, history_id=i) for c, i in zip(applied, ids, strict=True)]
            ended = len(links) < job.batch_size
            job = replace(
                job,
                position=links[-1].id if links else job.position,
                done=job.done + done,
                refused=job.refused + refused,
                refusals=tuple(refusals),
                state=JobState.FINISHED if ended else JobState.RUNNING,
                finished_at_us=now if ended else None,
            )
            repository.save_datacenter_job(job)
            uow.commit()
        if ended:
            logger.info(
                "datacenter operation finished",
                extra={"job": job.id, "done": job.done, "refused": job.refused},
            )
        return job, applied

    def rehearse(
        self, datacenter: str, operation: str, reason: str, *, hold: bool = False
    ) -> Rehearsal:
        """What the operation would do now, by the same rule, storing nothing: how many
        pairs it would walk and which it would refuse (read a batch at a time)."""
        check_reason(reason)
        datacenter = self.known(datacenter, operation)
        position, total, done = "", 0, 0
        refusals: list[Refusal] = []
        refused = 0
        while True:
            links = self._reads.primary_links_in(datacenter, position, MAX_BATCH_PAIRS)
            for link in links:
                total += 1
                try:
                    operation_steps(operation, link.hamr_status, hold)
                    done += 1
                except OperationRefused as refusal:
                    refused += 1
                    if len(refusals) < REFUSALS_KEPT:
                        refusals.append(Refusal(link.id, acting_side(link).uuid, refusal.detail))
            if len(links) < MAX_BATCH_PAIRS:
                return Rehearsal(datacenter, operation, total, done, refused, tuple(refusals))
            position = links[-1].id

    def resumable(self, owner: str) -> DatacenterJob | None:
        """The running job if `owner` holds it or may take it over (its lease ran out)."""
        job = self._reads.running_datacenter_job()
        stale_before = self._clock() - round(LEASE_SECONDS * 1_000_000)
        if job is None or (job.owner not in (None, owner) and job.heartbeat_at_us >= stale_before):
            return None
        return job

    def running(self) -> DatacenterJob | None:
        """The job that runs now, on any process, if one does."""
        return self._reads.running_datacenter_job()

    def get(self, job_id: str) -> DatacenterJob | None:
        return self._reads.get_datacenter_job(job_id)

    def latest(self, datacenter: str, operation: str) -> DatacenterJob:
        """The newest job of this operation on this datacenter; NotFound if there is none."""
        datacenter = self.known(datacenter, operation)
        job = self._reads.latest_datacenter_job(datacenter, operation)
        if job is None:
            raise NotFound(f"No {operation} of {datacenter} has been started.")
        return job

    def counts(self, datacenter: str) -> dict[HamrStatus, int]:
        """How many pairs whose primary side is in the datacenter have each status."""
        datacenter = self.datacenter(datacenter)
        return self._reads.pair_counts(datacenter)


class _ReadsInUnitsOfWork:
    """DatacenterReads through units of work (each its own transaction)."""

    def __init__(self, unit_of_work: Callable[[], UnitOfWork]):
        self._unit_of_work = unit_of_work

    def primary_links_in(self, datacenter: str, after: str, limit: int) -> list[Link]:
        with self._unit_of_work() as uow:
            return uow.repository.primary_links_in(datacenter, after, limit)

    def pair_counts(self, datacenter: str) -> dict[HamrStatus, int]:
        with self._unit_of_work() as uow:
            return uow.repository.pair_counts(datacenter)

    def running_datacenter_job(self) -> DatacenterJob | None:
        with self._unit_of_work() as uow:
            return uow.repository.running_datacenter_job()

    def latest_datacenter_job(self, datacenter: str, operation: str) -> DatacenterJob | None:
        with self._unit_of_work() as uow:
            return uow.repository.latest_datacenter_job(datacenter, operation)

    def get_datacenter_job(self, job_id: str) -> DatacenterJob | None:
        with self._unit_of_work() as uow:
            return uow.repository.get_datacenter_job(job_id)
