"""Use cases: read and write a pair's connection, manage orgs and keys, read history; pair
operations (`service.pairs`) and idempotency keys (`service.idempotency_keys`) beside it.

The service owns the unit of work and the caches; the API and the CLI call it and never touch
storage.
"""

from __future__ import annotations

import functools
import logging
import uuid as uuidlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from hamr.domain.chain import ChainReport
from hamr.domain.conditions import check_precondition
from hamr.domain.errors import (
    InvalidInput,
    NoConnection,
    NotFound,
    RequestInFlight,
    StorageFull,
    Unavailable,
    ValidationFailed,
)
from hamr.domain.keys import generate_secret, hash_secret
from hamr.domain.lifecycle import STUCK_AFTER_SECONDS, judge_or_refuse
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
    Verdict,
)
from hamr.domain.pairing import plan_write
from hamr.domain.ports import ReadView, Repository, UnitOfWork
from hamr.domain.rules import MAX_TEXT_LENGTH, connection_violations, is_uuid
from hamr.usecases import history_log
from hamr.usecases.caches import ConnectionCache, CredentialCache, OrgCache, StorageChanges
from hamr.usecases.clock import Clock, system_clock_us
from hamr.usecases.idempotency_keys import IdempotencyKeys
from hamr.usecases.key_sessions import KeySessions
from hamr.usecases.pair_operations import PairOperations

logger = logging.getLogger(__name__)


Upsert = tuple[Principal, ConnectionChange]


class HamrService:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        view: ReadView,
        datacenters: frozenset[str],
        clock: Clock = system_clock_us,
        policy: Policy = Policy.WARN,
        stuck_after_seconds: float = STUCK_AFTER_SECONDS,
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
        self.pairs = PairOperations(
            unit_of_work, self.connections, clock, policy, stuck_after_seconds
        )
        self.idempotency_keys = IdempotencyKeys(unit_of_work, clock)
        self.sessions = KeySessions(unit_of_work)
        self.disk_full = False  # the last write failed for want of space

    # -- the API's use cases -------------------------------------------------------------

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

    def now_us(self) -> int:
        """What time the service believes it is (the emulator's clock, with --emulator)."""
        return self._clock()

    def credentials_generation(self) -> int:
        """Where the credential cache stands: taken before proving credentials, and given to
        `remember`, so that a proof that raced a revocation is not kept."""
        return self.credentials.fills.generation

    def remember(self, credentials_digest: str, principal: Principal, since: int) -> None:
        self.credentials.remember_proof(credentials_digest, principal, since)

    def cached_connection(self, org: Org) -> Connection | None:
        """The org's connection if it is in memory: the hot path, on the event loop."""
        return self.connections.cached(org.uuid)

    def read_connection(self, org: Org) -> Connection:
        """The org's connection, from memory or storage (blocking: from a worker thread), or
        NoConnection."""
        connection = self.connections.get(org.uuid)
        if connection is None:
            raise NoConnection(org.uuid)
        return connection

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

    def readiness(self) -> str | None:
        """Why this server cannot serve right now, or None if it can (blocking)."""
        try:
            if not self._view.schema_is_current():
                return "the database schema is not at this hamr's revision; run `hamr db upgrade`"
        except Unavailable:
            return "the database is unreachable"
        if self.disk_full:
            return "the database's disk is full: the last write failed for want of space"
        return None

    def resolve_change(
        self, principal: Principal, requested: RequestedChange, cached_only: bool = False
    ) -> tuple[ConnectionChange, list[str]]:
        """The change to store for a type-checked request, and warnings for the caller. A target
        hamr knows is named by its record (a differing name is ignored with a warning; a
        differing datacenter is refused); an unknown target must be named in full. It may read
        storage (blocking: from a worker thread); with `cached_only` it raises NotCached
        instead, so that a caller on the event loop can try memory first."""
        org_of = functools.partial(self.orgs.get, cached_only=cached_only)
        sent = {
            name: getattr(requested, name)
            for name in ("target_org_uuid", "target_org_name", "target_org_datacenter")
            if getattr(requested, name) is not None
        }
        problems = connection_violations(
            sent, principal.org, self.datacenters, requested.pointers, org_of
        )
        if problems:
            raise ValidationFailed(problems)
        if self.policy is Policy.ENFORCE:  # refuse early; the write checks again, locked
            current = self.connections.get(principal.org.uuid, cached_only)
            judge_or_refuse(
                current.hamr_status if current else None,
                requested.hamr_status,
                self.policy,
                requested.pointers["hamr_status"],
                requested.override,
            )
        target = org_of(requested.target_org_uuid.lower())
        if target is None:
            assert requested.target_org_name is not None
            assert requested.target_org_datacenter is not None
            named = Org(
                requested.target_org_uuid,
                requested.target_org_name,
                requested.target_org_datacenter,
            )
            return _change(requested, named), []
        warnings = []
        given_name = requested.target_org_name
        if given_name is not None and given_name != target.name:
            spelled = requested.pointers["target_org_name"].rsplit("/", 1)[-1]
            warnings.append(
                f"{spelled} {given_name!r} is not stored: hamr names {target.uuid} by its "
                f"record, {target.name!r}."
            )
        return _change(requested, target), warnings

    def write_connection(self, principal: Principal, requested: RequestedChange) -> Connection:
        """Resolve and store one change (for callers without a group-commit writer)."""
        change, _warnings = self.resolve_change(principal, requested)
        done = self.upsert_connections([(principal, change)])
        self.remember_writes(done)
        return done[0].view

    def upsert_connections(
        self, upserts: Sequence[Upsert], *, dry_run: bool = False
    ) -> list[AppliedChange]:
        """`_upsert_connections`, remembering whether the last write found the disk full (for
        `readiness`)."""
        try:
            applied = self._upsert_connections(upserts, dry_run=dry_run)
        except StorageFull:
            self.disk_full = True
            raise
        self.disk_full = False
        return applied

    def _upsert_connections(
        self, upserts: Sequence[Upsert], *, dry_run: bool = False
    ) -> list[AppliedChange]:
        """Store several resolved changes, each with its history row, in one transaction: one
        commit (one fsync) for many concurrent requests. Each writes the caller's pair's one
        connection; a change that would break up a pair or take a paired organization raises
        PairingConflict, one whose precondition fails raises PreconditionFailed, and nothing of the
        batch is stored. A dry run does all of it and rolls back: what would be stored."""
        applied: list[AppliedChange] = []
        new_members: list[tuple[str, str]] = []
        with self._unit_of_work() as uow:
            repository = uow.repository
            targets = {c.target_org_uuid.lower() for _, c in upserts}
            involved = {p.org.uuid for p, _ in upserts} | targets
            known = repository.lock_orgs(involved)
            links = repository.links_of(known)
            for principal, change in upserts:
                caller = principal.org
                target = known.get(change.target_org_uuid.lower())
                current = links.get(caller.uuid)
                check_precondition(
                    change.precondition, current.view_of(caller.uuid) if current else None
                )
                target_link = links.get(target.uuid) if target else None
                now = self._clock()
                after = plan_write(caller, change, target, current, target_link, now, _new_id)
                # The pair's status before: the connection written, if it existed.
                base = next((x for x in (current, target_link) if x and x.id == after.id), None)
                move = judge_or_refuse(
                    base.hamr_status if base else None,
                    change.hamr_status,
                    self.policy,
                    change.status_pointer,
                    change.override,
                )
                for member in after.members:
                    if links.get(member) is None or links[member].id != after.id:
                        new_members.append((member, after.id))
                    links[member] = after
                before = current.view_of(caller.uuid) if current else None
                reason = change.override if move.verdict is Verdict.OVERRIDDEN else None
                applied.append(
                    AppliedChange(caller.uuid, principal.key_id, before, after, now, move, reason)
                )
            # A connection written twice in one batch is saved once, as its last write.
            repository.save_links(
                list({c.after.id: c.after for c in applied}.values()), new_members
            )
            ids = repository.add_history(applied)
            applied = [replace(c, history_id=i) for c, i in zip(applied, ids, strict=True)]
            if dry_run:
                return applied  # leaving without commit rolls all of it back
            _store_answers(repository, upserts, applied)
            uow.commit()
        for done in applied:
            if done.violation is not None:
                logger.warning(
                    "move outside the lifecycle stored",
                    extra={
                        "org": done.org_uuid,
                        "connection": done.after.id,
                        "rule": done.violation,
                    },
                )
            logger.info(
                "connection changed",
                extra={
                    "org": done.org_uuid,
                    "connection": done.after.id,
                    "status_before": int(done.before.hamr_status) if done.before else None,
                    "status_after": int(done.after.hamr_status),
                    "modified_by": done.after.modified_by,
                    "key_id": done.key_id,
                },
            )
        return applied

    def remember_writes(self, applied: Sequence[AppliedChange]) -> None:
        """Committed writes, into the connection cache, for every side that reads them (call
        on the thread that reads the cache)."""
        self.connections.remember(
            [done.after.view_of(member) for done in applied for member in done.after.members],
            [done.history_id for done in applied if done.history_id is not None],
        )

    # -- the operator's use cases ----------------------------------------------------------

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

    def _forget_cached(self) -> None:
        for cache in (self.credentials, self.connections, self.orgs):
            cache.clear()

    def create_org(
        self, name: str, datacenter: str, org_uuid: str | None = None
    ) -> tuple[Org, str, str]:
        """A new organization with one API key and one application key (secrets returned once)."""
        name = name.strip()
        if not name or len(name) > MAX_TEXT_LENGTH:
            raise InvalidInput(f"the name must be 1 to {MAX_TEXT_LENGTH} characters long")
        if datacenter not in self.datacenters:
            allowed = ", ".join(sorted(self.datacenters))
            raise InvalidInput(f"unknown datacenter {datacenter!r}; use one of: {allowed}")
        if org_uuid is not None and not is_uuid(org_uuid):
            raise InvalidInput(f"{org_uuid!r} is not a UUID")
        org = Org(uuid=(org_uuid or str(uuidlib.uuid4())).lower(), name=name, datacenter=datacenter)
        with self._unit_of_work() as uow:
            if uow.repository.get_org(org.uuid) is not None:
                raise InvalidInput(f"an organization with UUID {org.uuid} already exists")
            uow.repository.add_org(org, self._clock())
            api_key = self._issue(uow, org.uuid, KeyKind.API)[1]
            app_key = self._issue(uow, org.uuid, KeyKind.APP)[1]
            uow.commit()
        return org, api_key, app_key

    def get_org(self, org_uuid: str) -> Org | None:
        with self._unit_of_work() as uow:
            return uow.repository.get_org(org_uuid.lower())

    def list_orgs(self) -> list[Org]:
        with self._unit_of_work() as uow:
            return uow.repository.list_orgs()

    def create_key(
        self, org_uuid: str, kind: KeyKind, permission: Permission = Permission.WRITE
    ) -> tuple[KeyRecord, str]:
        """A new credential for an existing org; the secret is returned once and never kept.
        Only application keys and tokens carry a permission other than write."""
        if kind is KeyKind.API and permission is not Permission.WRITE:
            raise InvalidInput(
                "API keys name the organization and carry no permission; give the "
                "permission to an application key or a token"
            )
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            issued = self._issue(uow, org.uuid, kind, permission)
            uow.commit()
        return issued

    def list_keys(self, org_uuid: str) -> list[KeyRecord]:
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            return uow.repository.list_keys(org.uuid)

    def revoke_key(self, key_id: str) -> tuple[KeyRecord, bool]:
        """Revoke a credential; every server refuses it within a second (see CredentialCache).
        Returns the record and whether this call revoked it (False: it already was)."""
        with self._unit_of_work() as uow:
            key = uow.repository.get_key(key_id)
            if key is None:
                raise NotFound(f"no key with id {key_id}")
            if not key.revoked:
                uow.repository.revoke_key(key_id, self._clock())
                uow.repository.bump_credentials_epoch()
            uow.commit()
            revoked = uow.repository.get_key(key_id)
        self.credentials.clear()
        assert revoked is not None
        return revoked, not key.revoked

    def history(self, org_uuid: str) -> list[HistoryEntry]:
        """Every change to the connections this org was in, and what it wrote, in order."""
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            link = uow.repository.links_of([org.uuid]).get(org.uuid)
            return uow.repository.list_history(org.uuid, link.id if link else None)

    def history_page(self, org_uuid: str, query: HistoryQuery) -> HistoryPage:
        """A page of what `history` returns, newest first (blocking: call from a worker
        thread)."""
        return history_log.page(self._unit_of_work, org_uuid, query)

    def verify_history(self, org_uuid: str | None = None) -> ChainReport:
        """Recompute the history's hash chains (all, or the org's connections'): how many rows
        and connections were checked, and the first broken row if any."""
        return history_log.verify(self._unit_of_work, org_uuid)

    def _require_org(self, uow: UnitOfWork, org_uuid: str) -> Org:
        org = uow.repository.get_org(org_uuid.lower())
        if org is None:
            raise NotFound(f"no organization with UUID {org_uuid}")
        return org

    def _issue(
        self,
        uow: UnitOfWork,
        org_uuid: str,
        kind: KeyKind,
        permission: Permission = Permission.WRITE,
    ) -> tuple[KeyRecord, str]:
        secret = generate_secret(kind)
        record = KeyRecord(
            id=str(uuidlib.uuid4()),
            org_uuid=org_uuid,
            kind=kind,
            created_at_us=self._clock(),
            revoked_at_us=None,
            permission=permission,
        )
        uow.repository.add_key(record, hash_secret(secret))
        return record, secret


def _store_answers(
    repository: Repository, upserts: Sequence[Upsert], applied: Sequence[AppliedChange]
) -> None:
    """The answers of writes sent under idempotency keys, in the writes' transaction. A claim
    a retry took over (its holder seemed gone) fails its write: the retry writes instead."""
    for (_, change), done in zip(upserts, applied, strict=True):
        keyed = change.keyed
        if keyed is None:
            continue
        answer = keyed.answer(done.view)
        if not repository.answer_idempotency_key(keyed.claim, answer.code, answer.body):
            raise RequestInFlight(
                f"A retry with the idempotency key {keyed.claim.key!r} took this request's "
                "place after it waited too long; nothing of this request was stored."
            )


def _new_id() -> str:
    return str(uuidlib.uuid4())


def _change(requested: RequestedChange, target: Org) -> ConnectionChange:
    pointers = requested.pointers
    return ConnectionChange(
        hamr_status=requested.hamr_status,
        is_primary=requested.is_primary,
        modified_by=requested.modified_by,
        target_org_datacenter=target.datacenter,
        target_org_name=target.name,
        target_org_uuid=target.uuid,
        target_pointer=pointers["target_org_uuid"],
        status_pointer=pointers["hamr_status"],
        override=requested.override,
    )
