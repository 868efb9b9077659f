"""Idempotency-Key claims as the IETF draft has them: the first request under a key claims
it, its answer is kept 24 hours for retries, and a claim whose holder died is taken over
after a lease (blocking: call from a worker thread)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from hamr.domain.errors import OutcomeUnknown, RequestInFlight, Unavailable
from hamr.domain.idempotency import KEY_TTL_US, PURGE_EVERY_US, answer_for_retry
from hamr.domain.model import KeyClaim, StoredAnswer
from hamr.domain.ports import UnitOfWork

logger = logging.getLogger(__name__)


class IdempotencyKeys:
    # When expired keys were last deleted (by the clock given).
    _purged_at_us: int = 0

    def __init__(self, unit_of_work: Callable[[], UnitOfWork], clock: Callable[[], int]):
        self._unit_of_work = unit_of_work
        self._clock = clock

    # -- idempotency keys (blocking: call from a worker thread) ---------------------------

    def claim(self, org_uuid: str, key: str, request_digest: str) -> KeyClaim | StoredAnswer:
        """Claim `key` for this org's request, committed at once so that every server sees it,
        or the answer its first request got. A key older than 24 hours is absent. Raises
        KeyReused for another request under the key, RequestInFlight while the first has no
        answer yet."""
        self._purge_expired()
        for _attempt in range(3):
            now = self._clock()
            claim = KeyClaim(org_uuid, key, now)
            with self._unit_of_work() as uow:
                repository = uow.repository
                repository.purge_idempotency_keys(now - KEY_TTL_US, org_uuid, key)
                if repository.insert_idempotency_key(claim, request_digest):
                    self._commit_claim(uow, claim)
                    return claim
                found = repository.get_idempotency_key(org_uuid, key)
                if found is None:
                    continue  # released since the insert met it: claim again
                answer = answer_for_retry(key, found, request_digest, now)
                if answer is not None:
                    uow.commit()  # the expired row this claim deleted, if any
                    return answer
                if repository.retake_idempotency_key(
                    KeyClaim(org_uuid, key, found.created_at_us), claim
                ):
                    uow.commit()
                    logger.warning(
                        "abandoned idempotency key taken over",
                        extra={"org": org_uuid, "claimed_at_us": found.created_at_us},
                    )
                    return claim
        raise RequestInFlight(
            f"The idempotency key {key!r} is being claimed and released by other requests; "
            "retry shortly."
        )

    def _commit_claim(self, uow: UnitOfWork, claim: KeyClaim) -> None:
        """Commit a new claim. One whose COMMIT was not confirmed may be stored, unanswered,
        where its retry would wait out the lease: it is released (if the database lets us)
        and the request answered 503, having written nothing."""
        try:
            uow.commit()
        except OutcomeUnknown:
            try:
                self.release(claim)
            except Unavailable:
                logger.warning("an unconfirmed idempotency key claim lapses with its lease")
            raise Unavailable(
                "The database did not confirm this request's claim on its Idempotency-Key; "
                "nothing was written. Retry shortly with the same key."
            ) from None

    def answer(self, claim: KeyClaim, answer: StoredAnswer) -> None:
        """Keep the answer a keyed request got without writing (a refusal), for its retries.
        (A write's answer is kept in the write's own transaction.)"""
        with self._unit_of_work() as uow:
            uow.repository.answer_idempotency_key(claim, answer.code, answer.body)
            uow.commit()

    def release(self, claim: KeyClaim) -> None:
        """Forget the claim of a request that failed in a way its retry may not (the database
        was away, a fault): the retry is then a first request."""
        with self._unit_of_work() as uow:
            uow.repository.release_idempotency_key(claim)
            uow.commit()

    def _purge_expired(self) -> None:
        """Delete expired keys now and then (they are absent anyway: a claim ignores them)."""
        now = self._clock()
        if now - self._purged_at_us < PURGE_EVERY_US:
            return
        self._purged_at_us = now
        with self._unit_of_work() as uow:
            purged = uow.repository.purge_idempotency_keys(now - KEY_TTL_US)
            uow.commit()
        if purged:
            logger.info("expired idempotency keys purged", extra={"count": purged})
