"""Idempotency keys: how long a key is remembered, and what a request finding its key already
claimed gets (the first answer, a refusal, or the claim, if its holder is long gone)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hamr.domain.errors import KeyReused, RequestInFlight
from hamr.domain.model import AppliedChange, IdempotencyRecord, KeyClaim, PairReport, StoredAnswer

MAX_KEY_LENGTH = 255
# A key is remembered this long from its first request; after that it is absent again.
KEY_TTL_US = 24 * 3600 * 1_000_000
# A claim without an answer for this long was left by a server that died mid-request: nothing
# was written under it (a write and its answer commit together), so a retry may take it over.
IN_FLIGHT_LEASE_US = 60 * 1_000_000
# Expired keys are deleted at most this often (by each service, on a claim).
PURGE_EVERY_US = 3600 * 1_000_000


def answer_for_retry(
    key: str, found: IdempotencyRecord, request_digest: str, now_us: int
) -> StoredAnswer | None:
    """What a request gets when its (unexpired) key is already claimed: the first answer;
    None when the claim was abandoned and may be taken over; KeyReused for another request
    under the same key; RequestInFlight while the first request has no answer yet."""
    if found.request_digest != request_digest:
        raise KeyReused(
            f"The idempotency key {key!r} was first sent, within the last 24 hours, with a "
            "different request (another method, path or body). A retry must repeat the first "
            "request byte for byte; a new request needs a new key."
        )
    if found.answer is not None:
        return found.answer
    if now_us - found.created_at_us > IN_FLIGHT_LEASE_US:
        return None
    raise RequestInFlight(
        f"The first request with the idempotency key {key!r} is still being processed. "
        "Retry shortly to get its answer."
    )


@dataclass(frozen=True, slots=True)
class KeyedOperation:
    """A pair operation sent under an idempotency key: its answer (`answer` encodes the steps
    and the pair as they leave it, as the caller is answered) is stored in the operation's
    transaction, so that the walk and the answer its retries get commit together or not at
    all, as a keyed write's do."""

    claim: KeyClaim
    answer: Callable[[Sequence[AppliedChange], PairReport], StoredAnswer]
