"""Use cases: read and upsert a connection, manage orgs and keys, read history.

The service owns the unit of work; the API and the CLI call it and never touch storage.
"""

from __future__ import annotations

import logging
import time
import uuid as uuidlib
from collections.abc import Callable, Sequence

from hamr.caches import ConnectionCache, CredentialCache
from hamr.domain.errors import InvalidInput, NotFound, Unavailable, ValidationFailed
from hamr.domain.keys import generate_secret, hash_secret
from hamr.domain.model import (
    AppliedChange,
    Connection,
    ConnectionChange,
    HistoryEntry,
    KeyKind,
    KeyRecord,
    Org,
    Principal,
    Statistics,
    next_modified_at,
)
from hamr.domain.ports import ReadView, UnitOfWork
from hamr.domain.rules import MAX_TEXT_LENGTH, connection_violations, is_uuid

logger = logging.getLogger(__name__)

Clock = Callable[[], int]
Upsert = tuple[Principal, ConnectionChange]


def system_clock_us() -> int:
    return time.time_ns() // 1000


class HamrService:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        view: ReadView,
        datacenters: frozenset[str],
        clock: Clock = system_clock_us,
    ):
        self._unit_of_work = unit_of_work
        self._view = view
        self.datacenters = datacenters
        self._clock = clock
        self.credentials = CredentialCache(view)
        self.connections = ConnectionCache(view)

    # -- the API's use cases -------------------------------------------------------------

    def identify(self, secret: str, kind: KeyKind, cached_only: bool = False) -> Principal | None:
        """The principal a presented secret proves, or None if it proves nothing (or, with
        `cached_only`, nothing without asking storage)."""
        found = self.credentials.lookup(hash_secret(secret), cached_only)
        if found is None or found.kind is not kind:
            return None
        return Principal(org=found.org, key_id=found.key_id)

    def recognise(self, credentials_digest: str) -> Principal | None:
        """Who a request's credentials (all of them, by digest) proved to be when last
        checked, if no credential has changed anywhere since; memory only."""
        return self.credentials.proved(credentials_digest)

    def remember(self, credentials_digest: str, principal: Principal) -> None:
        self.credentials.remember_proof(credentials_digest, principal)

    def read_connection(self, org: Org) -> Connection:
        connection = self.connections.get(org.uuid)
        if connection is None:
            raise NotFound(
                f"Organization {org.uuid} has no HAMR connection yet; "
                "create one with POST /api/v2/hamr."
            )
        return connection

    def refresh_caches(self) -> None:
        """Notice what other processes changed (revocations, connections); call periodically."""
        self.credentials.refresh()
        self.connections.refresh()

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
        return None

    def check_change(self, principal: Principal, change: ConnectionChange) -> None:
        """Raise ValidationFailed if the change breaks a partner rule for this caller."""
        problems = connection_violations(
            {
                "target_org_uuid": change.target_org_uuid,
                "target_org_datacenter": change.target_org_datacenter,
            },
            principal.org,
            self.datacenters,
        )
        if problems:
            raise ValidationFailed(problems)

    def upsert_connection(self, principal: Principal, change: ConnectionChange) -> Connection:
        """Store the change and its history row in one transaction; return what was stored."""
        return self.upsert_connections([(principal, change)])[0]

    def upsert_connections(self, upserts: Sequence[Upsert]) -> list[Connection]:
        """Store several changes, each with its history row, in one transaction: one commit
        (one fsync) for many concurrent requests. Every change is checked before any is written,
        so callers that batch should check each with `check_change` first."""
        for principal, change in upserts:
            self.check_change(principal, change)
        applied: list[AppliedChange] = []
        with self._unit_of_work() as uow:
            current = uow.repository.lock_connections({p.org.uuid for p, _ in upserts})
            for principal, change in upserts:
                org_uuid = principal.org.uuid
                before = current.get(org_uuid)
                now = self._clock()
                previous = before.modified_at_us if before else None
                after = Connection.from_change(org_uuid, change, next_modified_at(now, previous))
                current[org_uuid] = after
                applied.append(AppliedChange(principal.key_id, before, after, now))
            # An org written twice in one batch is saved once, as its last write.
            uow.repository.save_connections(
                list({c.after.org_uuid: c.after for c in applied}.values())
            )
            uow.repository.add_history(applied)
            uow.commit()
        for done in applied:
            logger.info(
                "connection changed",
                extra={
                    "org": done.after.org_uuid,
                    "status_before": int(done.before.hamr_status) if done.before else None,
                    "status_after": int(done.after.hamr_status),
                    "modified_by": done.after.modified_by,
                    "key_id": done.key_id,
                },
            )
        return [done.after for done in applied]

    # -- the operator's use cases ----------------------------------------------------------

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

    def create_key(self, org_uuid: str, kind: KeyKind) -> tuple[KeyRecord, str]:
        """A new credential for an existing org; the secret is returned once and never kept."""
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            issued = self._issue(uow, org.uuid, kind)
            uow.commit()
        return issued

    def list_keys(self, org_uuid: str) -> list[KeyRecord]:
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            return uow.repository.list_keys(org.uuid)

    def revoke_key(self, key_id: str) -> KeyRecord:
        """Revoke a credential; every server refuses it within a second (see CredentialCache)."""
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
        return revoked

    def history(self, org_uuid: str) -> list[HistoryEntry]:
        with self._unit_of_work() as uow:
            org = self._require_org(uow, org_uuid)
            return uow.repository.list_history(org.uuid)

    def _require_org(self, uow: UnitOfWork, org_uuid: str) -> Org:
        org = uow.repository.get_org(org_uuid.lower())
        if org is None:
            raise NotFound(f"no organization with UUID {org_uuid}")
        return org

    def _issue(self, uow: UnitOfWork, org_uuid: str, kind: KeyKind) -> tuple[KeyRecord, str]:
        secret = generate_secret(kind)
        record = KeyRecord(
            id=str(uuidlib.uuid4()),
            org_uuid=org_uuid,
            kind=kind,
            created_at_us=self._clock(),
            revoked_at_us=None,
        )
        uow.repository.add_key(record, hash_secret(secret))
        return record, secret
