"""A datacenter operation as data: one pair operation (failover, recover, complete, abort)
walked over every pair whose primary side is in a datacenter, as a durable job that records
how far it got, so that any process may resume it and only one runs at a time."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from hamr.domain.errors import Conflict
from hamr.domain.model import KeyClaim, Link, Org, StoredAnswer

# How many refusals a job keeps word for word (the rest are counted).
REFUSALS_KEPT = 20


class JobState(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A pair the operation did not walk, and why (the pair operation's own refusal)."""

    connection_id: str
    org_uuid: str
    detail: str


@dataclass(frozen=True, slots=True)
class DatacenterJob:
    """One datacenter operation. `position` is the last connection id walked (pairs are
    walked in id order, a batch per transaction); `total` the pairs counted at the start.
    `owner` is the process walking it and `heartbeat_at_us` when it last committed a batch:
    a job whose heartbeat is older than the lease is taken over by another."""

    id: str
    datacenter: str
    operation: str
    hold: bool
    reason: str
    state: JobState
    total: int
    done: int
    refused: int
    position: str
    refusals: tuple[Refusal, ...]
    org_uuid: str  # who started it: the credential's org (or the operator's, from the CLI)
    key_id: str
    batch_size: int
    created_at_us: int
    heartbeat_at_us: int
    finished_at_us: int | None
    owner: str | None

    @property
    def remaining(self) -> int:
        """Pairs still to walk, as counted at the start (pairs linked since may add to it)."""
        return max(0, self.total - self.done - self.refused) if self.running else 0

    @property
    def updated_at_us(self) -> int:
        """When its progress was last stored: its end, its last batch, or its start."""
        return self.finished_at_us or max(self.heartbeat_at_us, self.created_at_us)

    @property
    def running(self) -> bool:
        return self.state is JobState.RUNNING


@dataclass(frozen=True, slots=True)
class Rehearsal:
    """What a dry run found: how many pairs the operation would walk and which it would not."""

    datacenter: str
    operation: str
    total: int
    done: int
    refused: int
    refusals: tuple[Refusal, ...]


@dataclass(frozen=True, slots=True)
class KeyedStart:
    """A start sent under an idempotency key: its answer (`answer` encodes the new job as the
    caller is answered) is stored in the transaction that stores the job, so that a retry
    gets that job, never a second one."""

    claim: KeyClaim
    answer: Callable[[DatacenterJob], StoredAnswer]


class JobRunning(Conflict):
    """A datacenter operation was asked while another runs: nothing was started."""

    def __init__(self, running: DatacenterJob):
        super().__init__(
            f"The datacenter operation {running.id} ({running.operation} of "
            f"{running.datacenter}, {running.done + running.refused} of {running.total} pairs "
            "walked) is still running; only one runs at a time. Follow its progress, and "
            "start this one when it has finished."
        )
        self.running = running


def primary_side(link: Link) -> Org:
    """The pair's primary organization (a one-sided pair's target as it was named)."""
    return link.first if link.first_is_primary else link.second


def acting_side(link: Link) -> Org:
    """The organization whose view a datacenter operation's history rows record: the side
    that is not the primary (the one that survives the primary's datacenter), or the one
    organization this hamr knows of a one-sided pair."""
    if not link.linked:
        return link.first
    return link.second if link.first_is_primary else link.first


def primary_datacenter(
    first_is_primary: bool, first_datacenter: str, second_datacenter: str
) -> str:
    """The datacenter a datacenter operation walks a connection in: its primary side's, the
    creator's (`first`) when it is the primary side, else its partner's."""
    return first_datacenter if first_is_primary else second_datacenter
