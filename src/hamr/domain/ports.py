"""What the service needs from storage, stated as protocols the store implements."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol, Self

from hamr.domain.chain import ChainHead
from hamr.domain.datacenter_jobs import DatacenterJob
from hamr.domain.model import (
    AppliedChange,
    Connection,
    HamrStatus,
    HistoryEntry,
    HistoryQuery,
    IdempotencyRecord,
    KeyClaim,
    KeyRecord,
    Link,
    Org,
    Statistics,
    StoredCredential,
)

# At most this many (history row, org) pairs answer one look at the history; a full answer
# means "more than this changed", and the reader drops everything it cached instead.
CHANGES_LIMIT = 10_000


class Repository(Protocol):
    """Reads and writes inside one transaction."""

    def get_org(self, uuid: str) -> Org | None: ...
    def wipe(self) -> None:
        """Delete every org, key, connection, history row and idempotency key (an emulator's
        reset); other processes learn it through the credentials epoch."""
        ...

    def dump_state(self) -> dict[str, Any]:
        """Every row of the orgs, keys, connections, their members and history, JSON-safe
        (an emulator's state; idempotency keys are not part of it)."""
        ...

    def replace_state(self, state: Mapping[str, Any]) -> None:
        """Wipe, then store exactly what dump_state gave, ids and all; ValidationFailed,
        before anything is changed, for anything else."""
        ...

    def add_org(self, org: Org, created_at_us: int) -> None: ...
    def list_orgs(self) -> list[Org]: ...

    def add_key(self, key: KeyRecord, secret_hash: str) -> None: ...
    def get_key(self, key_id: str) -> KeyRecord | None: ...
    def list_keys(self, org_uuid: str) -> list[KeyRecord]: ...
    def revoke_key(self, key_id: str, revoked_at_us: int) -> None: ...

    def lock_orgs(self, org_uuids: Collection[str]) -> dict[str, Org]:
        """Lock these orgs against concurrent writers until commit; return those that exist."""
        ...

    def links_of(self, org_uuids: Collection[str]) -> dict[str, Link]:
        """The connections these orgs read, by org (orgs without one are left out)."""
        ...

    def save_links(self, links: Sequence[Link], new_members: Sequence[tuple[str, str]]) -> None:
        """Store these connections, and the (org, connection id) memberships they gained."""
        ...

    def delete_link(self, link: Link) -> None: ...
    def add_history(self, changes: Sequence[AppliedChange]) -> list[int]:
        """One history row per change, in order; their ids."""
        ...

    def add_unlink_history(self, link: Link, recorded_at_us: int, reason: str | None) -> None:
        """A row for each member saying it was unlinked, and why when told."""
        ...

    def list_history(self, org_uuid: str, connection_id: str | None) -> list[HistoryEntry]:
        """Every row of the connections this org was in (`connection_id`: the one it reads
        now), and the rows it wrote, in order."""
        ...

    def history_page(
        self, org_uuid: str, connection_id: str | None, query: HistoryQuery, limit: int
    ) -> list[HistoryEntry]:
        """Up to `limit` rows of what list_history holds that match `query`, newest first."""
        ...

    def history_connections(self, org_uuid: str, connection_id: str | None) -> list[str]:
        """The connections whose rows list_history holds."""
        ...

    def history_in_chain_order(
        self, connection_ids: Sequence[str] | None, after: tuple[str, int] | None, limit: int
    ) -> list[HistoryEntry]:
        """Up to `limit` rows of these connections (None: all), by connection then id,
        after the (connection_id, id) position `after`."""
        ...

    def absent_history_ids(self, after_id: int, before_id: int) -> int:
        """How many ids strictly between these two are in no history row."""
        ...

    def chain_heads(self, connection_ids: Collection[str]) -> dict[str, ChainHead]:
        """The head kept for each of these connections' chains (those with none left out)."""
        ...

    def first_head_without_rows(self, connection_ids: Sequence[str] | None) -> ChainHead | None:
        """The first head kept (of these connections; None: of all) whose chain has no row."""
        ...

    def primary_links_in(self, datacenter: str, after: str, limit: int) -> list[Link]:
        """Up to `limit` connections whose primary side is in `datacenter`, in id order,
        after the id `after`."""
        ...

    def pair_counts(self, datacenter: str) -> dict[HamrStatus, int]:
        """How many pairs whose primary side is in `datacenter` have each status."""
        ...

    def lock_links(self, links: Sequence[Link]) -> dict[str, Link]:
        """Lock these connections' orgs against writers until commit (as lock_orgs, in one
        statement, in one order), and return each connection, by id, as it stands now
        (those unlinked meanwhile left out)."""
        ...

    def insert_datacenter_job(self, job: DatacenterJob) -> bool:
        """Store a new running job unless one runs already (then False): of two at once, on
        any number of processes, exactly one is stored."""
        ...

    def get_datacenter_job(self, job_id: str) -> DatacenterJob | None: ...
    def running_datacenter_job(self) -> DatacenterJob | None: ...
    def latest_datacenter_job(self, datacenter: str, operation: str) -> DatacenterJob | None: ...
    def claim_datacenter_job(
        self, job_id: str, owner: str, now_us: int, stale_before_us: int
    ) -> DatacenterJob | None:
        """The running job, held for `owner` with a fresh heartbeat if `owner` held it or its
        holder's heartbeat is older than `stale_before_us`; else None."""
        ...

    def save_datacenter_job(self, job: DatacenterJob) -> None: ...

    def bump_credentials_epoch(self) -> None: ...

    def insert_idempotency_key(self, claim: KeyClaim, request_digest: str) -> bool:
        """Claim a key unless its org already has it (then False): of concurrent claims, on
        any number of servers, exactly one inserts."""
        ...

    def get_idempotency_key(self, org_uuid: str, key: str) -> IdempotencyRecord | None: ...
    def retake_idempotency_key(self, found: KeyClaim, claim: KeyClaim) -> bool:
        """Move an unanswered claim (`found`) to a new holder, if it is still unanswered and
        still `found`'s."""
        ...

    def answer_idempotency_key(self, claim: KeyClaim, code: int, body: bytes) -> bool:
        """Store the answer, if `claim` still holds the key unanswered; else False."""
        ...

    def release_idempotency_key(self, claim: KeyClaim) -> None:
        """Forget an unanswered claim (its request failed in a way a retry may not)."""
        ...

    def purge_idempotency_keys(
        self, created_before_us: int, org_uuid: str | None = None, key: str | None = None
    ) -> int:
        """Delete keys created before this time (all, or the one named); how many went."""
        ...


class DatacenterReads(Protocol):
    """What following datacenter operations reads, outside any unit of work (never waiting
    for a write lock). Safe from any thread."""

    def primary_links_in(self, datacenter: str, after: str, limit: int) -> list[Link]: ...
    def pair_counts(self, datacenter: str) -> dict[HamrStatus, int]: ...
    def running_datacenter_job(self) -> DatacenterJob | None: ...
    def latest_datacenter_job(self, datacenter: str, operation: str) -> DatacenterJob | None: ...
    def get_datacenter_job(self, job_id: str) -> DatacenterJob | None: ...


class UnitOfWork(Protocol):
    """One atomic change: commit makes it durable, leaving the block without commit undoes it."""

    @property
    def repository(self) -> Repository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class ReadView(Protocol):
    """The hot path's reads, outside any unit of work (the CQRS read side)."""

    def connection(self, org_uuid: str) -> Connection | None:
        """The connection this org reads, from its side."""
        ...

    def org(self, org_uuid: str) -> Org | None: ...
    def credential(self, secret_hash: str) -> StoredCredential | None:
        """The unrevoked credential with this hash, if any."""
        ...

    def credentials_epoch(self) -> int:
        """A number every revocation (and every wipe) moves. Apart: safe from any thread."""
        ...

    def changes_after(self, history_id: int) -> list[tuple[int, str]]:
        """(history id, org uuid) for every org whose connection a history row above this id
        changed, in id order, at most CHANGES_LIMIT pairs. Apart: safe from any thread."""
        ...

    def last_history_id(self) -> int:
        """The highest history id stored (0 for none). Apart: safe from any thread."""
        ...

    def statistics(self) -> Statistics:
        """Counts for monitoring. Not the hot path: safe from any thread, on a connection of
        its own."""
        ...

    def schema_is_current(self) -> bool:
        """Whether the schema is at the revision this code expects (for readiness)."""
        ...
