"""Reading and writing a pair's connection: from memory when it can, from storage when it
must; writes resolved against hamr's records, judged under the lifecycle policy and stored in
batches, one transaction (one commit) for many concurrent requests."""

from __future__ import annotations

import logging
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import replace

from hamr.domain.conditions import check_precondition
from hamr.domain.errors import NoConnection, RequestInFlight, StorageFull, ValidationFailed
from hamr.domain.lifecycle import judge_or_refuse
from hamr.domain.model import (
    AppliedChange,
    Connection,
    ConnectionChange,
    Org,
    Policy,
    Principal,
    RequestedChange,
    Verdict,
)
from hamr.domain.pairing import plan_write
from hamr.domain.ports import Repository, UnitOfWork
from hamr.domain.rules import connection_violations
from hamr.usecases.caches import ConnectionCache, OrgCache
from hamr.usecases.clock import Clock

logger = logging.getLogger(__name__)

Upsert = tuple[Principal, ConnectionChange]
# The attributes that name a write's target, which the partner rules check.
_TARGET = ("target_org_uuid", "target_org_name", "target_org_datacenter")


class ConnectionUseCases:
    """A pair's connection, read and written through the connection and org caches; whether
    the last write found the disk full is kept for readiness."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        datacenters: frozenset[str],
        clock: Clock,
        policy: Policy,
        connections: ConnectionCache,
        orgs: OrgCache,
    ):
        self._unit_of_work = unit_of_work
        self._datacenters = datacenters
        self._clock = clock
        self._policy = policy
        self._connections = connections
        self._orgs = orgs
        self.disk_full = False  # the last write failed for want of space

    def read_connection(self, org: Org, fresh: bool = False) -> Connection:
        """The org's connection, from memory or storage (blocking: from a worker thread), or
        NoConnection; `fresh`, from storage whatever memory holds (another process's write
        reaches memory only at the next poll)."""
        connection = self._connections.load(org.uuid) if fresh else self._connections.get(org.uuid)
        if connection is None:
            raise NoConnection(org.uuid)
        return connection

    def resolve_change(
        self, principal: Principal, requested: RequestedChange, cached_only: bool = False
    ) -> tuple[ConnectionChange, list[str]]:
        """The change to store for a request whose partner fields passed the rules (checked
        once: with the body's shape by api/schemas.py, or by `write_connection`), and warnings
        for the caller. A target hamr knows is named by its record (a differing name is
        ignored with a warning); an unknown target is stored as it was named. It may read
        storage (blocking: from a worker thread); with `cached_only` it raises NotCached
        instead, so that a caller on the event loop can try memory first."""
        if self._policy is Policy.ENFORCE:  # refuse early; the write checks again, locked
            current = self._connections.get(principal.org.uuid, cached_only)
            judge_or_refuse(
                current.hamr_status if current else None,
                requested.hamr_status,
                self._policy,
                requested.pointers["hamr_status"],
                requested.override,
            )
        target = self._orgs.get(requested.target_org_uuid.lower(), cached_only)
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
        """Check, resolve and store one change, for callers that parse no body and have no
        group-commit writer (the demo, tests)."""
        sent = {
            name: getattr(requested, name)
            for name in _TARGET
            if getattr(requested, name) is not None
        }
        problems = connection_violations(
            sent, principal.org, self._datacenters, requested.pointers, self._orgs.get
        )
        if problems:
            raise ValidationFailed(problems)
        change, _warnings = self.resolve_change(principal, requested)
        done = self.upsert_connections([(principal, change)])
        self.remember_writes(done)
        return done[0].view

    def upsert_connections(
        self, upserts: Sequence[Upsert], *, dry_run: bool = False
    ) -> list[AppliedChange]:
        """`_upsert_connections`, remembering whether the last write found the disk full (for
        readiness)."""
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
        PairingConflict, one whose precondition fails raises PreconditionFailed, and nothing
        of the batch is stored. A dry run does all of it and rolls back: what would be
        stored."""
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
                    self._policy,
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
            _log(done)
        return applied

    def remember_writes(self, applied: Sequence[AppliedChange]) -> None:
        """Committed writes, into the connection cache, for every side that reads them (call
        on the thread that reads the cache)."""
        self._connections.remember(
            [done.after.view_of(member) for done in applied for member in done.after.members],
            [done.history_id for done in applied if done.history_id is not None],
        )


def _log(done: AppliedChange) -> None:
    if done.violation is not None:
        logger.warning(
            "move outside the lifecycle stored",
            extra={"org": done.org_uuid, "connection": done.after.id, "rule": done.violation},
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
