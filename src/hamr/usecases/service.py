"""The service facade the API, the CLI and the tests call: it owns the unit of work and the
caches, and hands each use case to the module whose job it is: connections (reading and
writing a pair's connection), accounts (orgs and keys), history_log, pair operations
(`service.pairs`), datacenter operations (`service.datacenter_operations`) and idempotency keys
(`service.idempotency_keys`). Nothing above it touches storage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import Any

from hamr.domain.chain import ChainReport
from hamr.domain.errors import Unavailable
from hamr.domain.keys import hash_secret
from hamr.domain.lifecycle import STUCK_AFTER_SECONDS
from hamr.domain.model import (
    AppliedChange,
    Connection,
    ConnectionChange,
    HistoryEntry,
    HistoryPage,
    HistoryQuery,
    KeyKind,
    KeyRecord,
    Org,
    Permission,
    Policy,
    Principal,
    RequestedChange,
    Statistics,
)
from hamr.domain.ports import DatacenterReads, ReadView, UnitOfWork
from hamr.usecases import history_log
from hamr.usecases.accounts import Accounts
from hamr.usecases.caches import ConnectionCache, CredentialCache, OrgCache, StorageChanges
from hamr.usecases.clock import Clock, system_clock_us
from hamr.usecases.connections import ConnectionUseCases, Upsert
from hamr.usecases.datacenter_operations import DatacenterOperations
from hamr.usecases.idempotency_keys import IdempotencyKeys
from hamr.usecases.key_sessions import KeySessions
from hamr.usecases.pair_operations import PairOperations

# The facade, and the (caller, change) pairs its batch writes take.
__all__ = ["HamrService", "Upsert"]

logger = logging.getLogger(__name__)


class Unready(Enum):
    """Why a server cannot serve: the edge (/readyz) says what an operator does about it."""

    SCHEMA_BEHIND = "schema_behind"
    UNREACHABLE = "unreachable"
    DISK_FULL = "disk_full"


class HamrService:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        view: ReadView,
        datacenters: frozenset[str],
        clock: Clock = system_clock_us,
        policy: Policy = Policy.WARN,
        stuck_after_seconds: float = STUCK_AFTER_SECONDS,
        datacenter_reads: DatacenterReads | None = None,
    ):
        self._unit_of_work = unit_of_work
        self._view = view
        self.datacenters = datacenters
        self._clock = clock
        self.policy = policy
        self.stuck_after_seconds = stuck_after_seconds
        self.credentials = CredentialCache(view)
        self.connections = ConnectionCache(view)
        self.orgs = OrgCache(view)
        self._connection_use_cases = ConnectionUseCases(
            unit_of_work, datacenters, clock, policy, self.connections, self.orgs
        )
        self._accounts = Accounts(unit_of_work, datacenters, clock, self.credentials)
        self.pairs = PairOperations(
            unit_of_work, self.connections, clock, policy, stuck_after_seconds
        )
        self.datacenter_operations = DatacenterOperations(
            unit_of_work, datacenter_reads, datacenters, clock, policy
        )
        self.idempotency_keys = IdempotencyKeys(unit_of_work, clock)
        self.sessions = KeySessions(unit_of_work)

    # -- who is calling --------------------------------------------------------------------

    def identify(self, secret: str, kind: KeyKind) -> Principal | None:
        """The principal a presented secret proves, or None if it proves nothing. Blocking:
        from a worker thread (single keys are not kept in memory, only what whole requests
        proved: `recognise`)."""
        found = self.credentials.lookup(hash_secret(secret))
        if found is None or found.kind is not kind:
            return None
        return Principal(
            org=found.org, key_id=found.key_id, permission=found.permission, kind=found.kind
        )

    def recognise(self, credentials_digest: str, count_miss: bool = True) -> Principal | None:
        """Who a request's credentials (all of them, by digest) proved to be when last
        checked, if no credential has changed anywhere since; memory only. A first look
        that storage will not follow is not counted as a miss (`count_miss`)."""
        return self.credentials.proved(credentials_digest, count_miss)

    def credentials_generation(self) -> int:
        """Where the credential cache stands: taken before proving credentials, and given to
        `remember`, so that a proof that raced a revocation is not kept."""
        return self.credentials.fills.generation

    def remember(self, credentials_digest: str, principal: Principal, since: int) -> None:
        self.credentials.remember_proof(credentials_digest, principal, since)

    def now_us(self) -> int:
        """What time the service believes it is (the emulator's clock, with --emulator)."""
        return self._clock()

    # -- a pair's connection (usecases/connections.py) -------------------------------------

    def cached_connection(self, org: Org) -> Connection | None:
        """The org's connection if it is in memory: the hot path, on the event loop."""
        return self.connections.cached(org.uuid)

    def read_connection(self, org: Org, fresh: bool = False) -> Connection:
        return self._connection_use_cases.read_connection(org, fresh)

    def resolve_change(
        self, principal: Principal, requested: RequestedChange, cached_only: bool = False
    ) -> tuple[ConnectionChange, list[str]]:
        return self._connection_use_cases.resolve_change(principal, requested, cached_only)

    def write_connection(self, principal: Principal, requested: RequestedChange) -> Connection:
        return self._connection_use_cases.write_connection(principal, requested)

    def upsert_connections(
        self, upserts: Sequence[Upsert], *, dry_run: bool = False
    ) -> list[AppliedChange]:
        return self._connection_use_cases.upsert_connections(upserts, dry_run=dry_run)

    def remember_writes(self, applied: Sequence[AppliedChange]) -> None:
        self._connection_use_cases.remember_writes(applied)

    # -- what storage says ------------------------------------------------------------------

    def storage_changes(self) -> StorageChanges:
        """What other processes changed since the caches last looked (revocations, wipes,
        connections), for `notice`. Blocking: call from a worker thread, periodically."""
        last = self._view.last_history_id()  # first: a write after it shows up next time
        return StorageChanges(
            credentials_epoch=self._view.credentials_epoch(),
            last_history_id=last,
            changed=self._view.changes_after(self.connections.looking_after()),
        )

    def notice(self, changes: StorageChanges) -> None:
        """Bring the caches up to date with what storage said (on the caches' thread). A
        moved credentials epoch (a revocation, or a wipe, after which history ids may start
        again) drops every cached credential and connection."""
        if self.credentials.notice(changes.credentials_epoch):
            self.connections.restart(changes.last_history_id)
        else:
            self.connections.notice(changes)

    def statistics(self) -> Statistics:
        """Stored state by the numbers, for metrics (blocking: call from a worker thread)."""
        return self._view.statistics()

    def readiness(self) -> Unready | None:
        """Why this server cannot serve right now, or None if it can (blocking)."""
        try:
            if not self._view.schema_is_current():
                return Unready.SCHEMA_BEHIND
        except Unavailable:
            return Unready.UNREACHABLE
        if self._connection_use_cases.disk_full:
            return Unready.DISK_FULL
        return None

    # -- the operator's use cases: state, orgs and keys (usecases/accounts.py) --------------

    def wipe(self) -> None:
        """Delete everything stored (an emulator's reset) and what this process cached of it."""
        with self._unit_of_work() as uow:
            uow.repository.wipe()
            uow.commit()
        self._forget_cached()
        logger.info("every organization, key, connection and history row deleted")

    def dump_state(self) -> dict[str, Any]:
        """Everything stored but idempotency keys, as JSON-safe rows (an emulator's state)."""
        with self._unit_of_work() as uow:
            return uow.repository.dump_state()

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Make storage hold exactly `state` (what dump_state gave), in one transaction, and
        forget what this process cached; ValidationFailed, with nothing changed, if it is not
        such a state."""
        with self._unit_of_work() as uow:
            uow.repository.replace_state(state)
            uow.commit()
        self._forget_cached()

    def drop_caches(self) -> None:
        """Forget what this process cached (its reads now come from another node)."""
        self._forget_cached()

    def _forget_cached(self) -> None:
        for cache in (self.credentials, self.connections, self.orgs):
            cache.clear()

    def create_org(
        self, name: str, datacenter: str, org_uuid: str | None = None
    ) -> tuple[Org, str, str]:
        return self._accounts.create_org(name, datacenter, org_uuid)

    def get_org(self, org_uuid: str) -> Org | None:
        return self._accounts.get_org(org_uuid)

    def require_org(self, org_uuid: str) -> Org:
        """The organization with this UUID (in either case), or NotFound naming it."""
        return self._accounts.require_org(org_uuid)

    def list_orgs(self) -> list[Org]:
        return self._accounts.list_orgs()

    def create_key(
        self, org_uuid: str, kind: KeyKind, permission: Permission = Permission.WRITE
    ) -> tuple[KeyRecord, str]:
        return self._accounts.create_key(org_uuid, kind, permission)

    def list_keys(self, org_uuid: str) -> list[KeyRecord]:
        return self._accounts.list_keys(org_uuid)

    def revoke_key(self, key_id: str) -> tuple[KeyRecord, bool]:
        return self._accounts.revoke_key(key_id)

    # -- history (usecases/history_log.py) --------------------------------------------------

    def history(self, org_uuid: str) -> list[HistoryEntry]:
        return history_log.entries(self._unit_of_work, org_uuid)

    def history_page(self, org_uuid: str, query: HistoryQuery) -> HistoryPage:
        """A page of what `history` returns, newest first (blocking: call from a worker
        thread)."""
        return history_log.page(self._unit_of_work, org_uuid, query)

    def verify_history(self, org_uuid: str | None = None) -> ChainReport:
        """Recompute the history's hash chains (all, or the org's connections'): how many rows
        and connections were checked, and the first broken row if any."""
        return history_log.verify(self._unit_of_work, org_uuid)
