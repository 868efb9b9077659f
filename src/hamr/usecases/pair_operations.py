"""Pair operations: where a pair stands, the operations that walk it through the lifecycle
(failover, recover, complete, abort) and unlinking it, each in one transaction under the
pair's locks, so that of two at once exactly one wins (blocking: call from a worker thread).
`walk` is the steps themselves, which datacenter operations take a batch of pairs through."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from hamr.domain.errors import InvalidInput, NoConnection, NotFound, RequestInFlight
from hamr.domain.idempotency import KeyedOperation
from hamr.domain.lifecycle import LIMINAL, allowed_next, judge, operation_steps
from hamr.domain.model import (
    AppliedChange,
    KeyClaim,
    Link,
    Org,
    PairReport,
    Policy,
    Principal,
    StoredAnswer,
    next_modified_at,
)
from hamr.domain.ports import Repository, UnitOfWork
from hamr.domain.rules import MAX_TEXT_LENGTH
from hamr.usecases.accounts import require_org
from hamr.usecases.caches import ConnectionCache

logger = logging.getLogger(__name__)


class PairOperations:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        connections: ConnectionCache,
        clock: Callable[[], int],
        policy: Policy,
        stuck_after_seconds: float,
    ):
        self._unit_of_work = unit_of_work
        self._connections = connections
        self._clock = clock
        self.policy = policy
        self.stuck_after_seconds = stuck_after_seconds

    def report(self, org: Org) -> PairReport:
        """Where the org's pair stands (blocking: call from a worker thread)."""
        with self._unit_of_work() as uow:
            return self._report(uow.repository, org)

    def _report(self, repository: Repository, org: Org) -> PairReport:
        """Where the org's pair stands, as `repository`'s transaction sees it."""
        link = repository.links_of([org.uuid]).get(org.uuid)
        if link is None:
            raise NoConnection(org.uuid)
        # Since when: kept with the chain's head, as of its newest row (the connection's own
        # time when that row says another status, or there is none).
        head = repository.chain_heads([link.id]).get(link.id)
        held = head is not None and head.hamr_status == int(link.hamr_status)
        since = head.status_since_us if held and head is not None else link.modified_at_us
        stuck = (
            link.hamr_status in LIMINAL
            and self._clock() - since > self.stuck_after_seconds * 1_000_000
        )
        health = "stuck" if stuck else "linked" if link.linked else "one-sided"
        allowed = allowed_next(link.hamr_status, self.policy)
        return PairReport(link, org.uuid, since, health, allowed, self.policy)

    def run(
        self,
        principal: Principal,
        operation: str,
        reason: str,
        hold: bool = False,
        dry_run: bool = False,
    ) -> tuple[list[AppliedChange], PairReport]:
        """Walk the caller's pair through `operation`'s steps in one transaction, each step a
        history row carrying the reason, and report the pair as the walk left it (read in the
        walk's transaction: no second one for the answer); OperationRefused unless the pair is
        where the operation starts, which is checked under the pair's locks, so that of two
        concurrent operations exactly one wins. A dry run does all of it and rolls back, and
        reports the pair as it stands."""
        applied, report, _ = self._walk(principal, operation, reason, hold, dry_run, None)
        return applied, report

    def run_keyed(
        self, principal: Principal, operation: str, reason: str, hold: bool, keyed: KeyedOperation
    ) -> tuple[list[AppliedChange], StoredAnswer]:
        """`run`, under an idempotency key's claim: the answer is stored with the walk, in its
        transaction, so that a crash keeps both or neither (a retry then replays it, or walks
        once). RequestInFlight if a retry took the claim over meanwhile: nothing is stored."""
        applied, _, answer = self._walk(principal, operation, reason, hold, False, keyed)
        assert answer is not None
        return applied, answer

    def _walk(
        self,
        principal: Principal,
        operation: str,
        reason: str,
        hold: bool,
        dry_run: bool,
        keyed: KeyedOperation | None,
    ) -> tuple[list[AppliedChange], PairReport, StoredAnswer | None]:
        check_reason(reason)
        caller = principal.org
        with self._unit_of_work() as uow:
            repository = uow.repository
            link = repository.links_of([caller.uuid]).get(caller.uuid)
            if link is not None:
                repository.lock_orgs(link.members)
                link = repository.links_of([caller.uuid]).get(caller.uuid)
            applied = walk(
                link,
                caller.uuid,
                principal.key_id,
                Walk(operation, reason, hold, f"hamr pair {operation}"),
                self.policy,
                self._clock,
            )
            as_it_stands = self._report(repository, caller) if dry_run else None
            link = applied[-1].after
            repository.save_links([link], [])
            ids = repository.add_history(applied)
            applied = [replace(c, history_id=i) for c, i in zip(applied, ids, strict=True)]
            report = as_it_stands or self._report(repository, caller)
            answer = None
            if keyed is not None:
                answer = keyed.answer(applied, report)
                store_answer(repository, keyed.claim, answer)
            if not dry_run:
                uow.commit()
        if not dry_run:
            logger.info(
                "pair operation",
                extra={
                    "org": caller.uuid,
                    "operation": operation,
                    "connection": link.id,
                    "status_after": int(link.hamr_status),
                    "key_id": principal.key_id,
                },
            )
        return applied, report, answer

    def unlink(self, org_uuid: str, reason: str | None = None, dry_run: bool = False) -> Link:
        """Dissolve the connection this org reads: neither side has one afterwards, and the
        pair's history, kept for both, ends with a row for each side saying so (with `reason`).
        A dry run finds the connection that would go and changes nothing."""
        if reason is not None:
            check_reason(reason)
        with self._unit_of_work() as uow:
            org = require_org(uow.repository, org_uuid)
            link = uow.repository.links_of([org.uuid]).get(org.uuid)
            if link is not None:
                # Lock both sides as writers do (in one statement, in one order), then read
                # again: a write may have changed the connection in between.
                uow.repository.lock_orgs(link.members)
                link = uow.repository.links_of([org.uuid]).get(org.uuid)
            if link is None:
                raise NotFound(f"organization {org.uuid} has no connection to unlink")
            if dry_run:
                return link
            uow.repository.delete_link(link)
            uow.repository.add_unlink_history(link, self._clock(), reason)
            uow.commit()
        self._connections.forget(link.members)
        logger.info("connection unlinked", extra={"org": org.uuid, "connection": link.id})
        return link


@dataclass(frozen=True, slots=True)
class Walk:
    """What a pair operation asks: which operation, why, whether to stop at its liminal
    status, and the name the connection is left `modified_by`."""

    operation: str
    reason: str
    hold: bool
    modified_by: str


def walk(
    link: Link | None,
    viewer: str,
    key_id: str,
    asked: Walk,
    policy: Policy,
    clock: Callable[[], int],
) -> list[AppliedChange]:
    """The changes that walk `link` (read under its orgs' locks) through the operation's
    steps, each as `viewer` sees it, written by `key_id` with the reason; OperationRefused
    unless the pair is where the operation starts. Stores nothing: the caller does, with the
    pair operation (one pair) or the datacenter operation (a batch of pairs)."""
    steps = operation_steps(asked.operation, link.hamr_status if link else None, asked.hold)
    assert link is not None
    applied: list[AppliedChange] = []
    for status in steps:
        now = clock()
        after = replace(
            link,
            hamr_status=status,
            modified_at_us=next_modified_at(now, link.modified_at_us),
            modified_by=asked.modified_by,
        )
        move = judge(link.hamr_status, status, policy)
        before = link.view_of(viewer)
        applied.append(AppliedChange(viewer, key_id, before, after, now, move, asked.reason))
        link = after
    return applied


def check_reason(reason: str) -> None:
    """A reason history keeps: said, and no longer than any other text hamr stores."""
    if not reason.strip() or len(reason) > MAX_TEXT_LENGTH:
        raise InvalidInput(f"the reason must say why, in 1 to {MAX_TEXT_LENGTH} characters")


def store_answer(repository: Repository, claim: KeyClaim, answer: StoredAnswer) -> None:
    """Keep a keyed operation's answer (a pair's, or a datacenter's start); a claim a retry
    took over (its holder seemed gone) fails the operation: the retry walks instead."""
    if not repository.answer_idempotency_key(claim, answer.code, answer.body):
        raise RequestInFlight(
            f"A retry with the idempotency key {claim.key!r} took this request's place after "
            "it waited too long; nothing of this request was stored."
        )
