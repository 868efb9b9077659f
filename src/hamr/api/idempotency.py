"""`Idempotency-Key` on POST (draft-ietf-httpapi-idempotency-key-header), a connection's or a
pair operation's: the first answer to a keyed request is kept per org for 24 hours, and a retry
of the same request gets it again instead of writing twice.

The key is claimed (committed, so that every server sees it) before the request is handled. A
write keeps its answer in its own transaction; a refusal (4xx) is kept once answered; a
failure a retry may get past (5xx: the database away, a fault) releases the claim.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import Response

from hamr.api.conditional import ETAG, etag_of
from hamr.api.errors import IDEMPOTENCY_KEY, error_response
from hamr.api.responses import JSON
from hamr.api.state import AppState
from hamr.domain.errors import HamrError, InvalidInput, Subject
from hamr.domain.idempotency import MAX_KEY_LENGTH
from hamr.domain.model import Connection, KeyClaim, StoredAnswer

logger = logging.getLogger(__name__)

REPLAYED = "Idempotency-Replayed"
OK = 200


def idempotency_key(headers: Headers) -> str | None:
    """The key a request sends: 1 to 255 characters, taken as sent (the draft's quoted form,
    quotes and all, or bare; whatever the HTTP parser let through): its retries send the
    same."""
    values = headers.getlist(IDEMPOTENCY_KEY)
    if not values:
        return None
    key = values[0].strip()
    if len(values) > 1 or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{IDEMPOTENCY_KEY} must be one key of 1 to {MAX_KEY_LENGTH} characters, e.g. "
            '`Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"`; send a new one for each '
            "new request, and the same one for its retries.",
            about=Subject.IDEMPOTENCY_KEY,
        )
    return key


def request_digest(method: str, path: str, body: bytes) -> str:
    """What makes a retry the same request: its method, path and body bytes."""
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), body)).hexdigest()


def written_answer(state: AppState) -> Callable[[Connection], StoredAnswer]:
    """How a keyed write's answer is kept: the document its 200 carries."""
    return lambda connection: StoredAnswer(OK, state.wire.document(connection))


async def answer_once(
    state: AppState,
    org_uuid: str,
    key: str,
    digest: str,
    handle: Callable[[KeyClaim], Awaitable[Response]],
    connection: bool = True,
) -> Response:
    """`handle` the request under its claim on `key`, or replay the answer it got before
    (`connection`: a 200 is a connection document, else a pair operation's JSON)."""
    service = state.service
    claimed = await anyio.to_thread.run_sync(service.idempotency_keys.claim, org_uuid, key, digest)
    if isinstance(claimed, StoredAnswer):
        return replay(state, claimed, connection)
    try:
        return await handle(claimed)
    except HamrError as error:
        refused = error_response(error, live=state.wire.live_errors)
        if refused.status_code >= 500:
            await _release(state, claimed)
        else:
            answer = StoredAnswer(refused.status_code, bytes(refused.body))
            await anyio.to_thread.run_sync(service.idempotency_keys.answer, claimed, answer)
        return refused
    except Exception:
        await _release(state, claimed)
        raise


async def _release(state: AppState, claim: KeyClaim) -> None:
    """Release a failed request's claim if the database lets us; if not, the claim lapses
    (a retry takes it over once IN_FLIGHT_LEASE_US has passed)."""
    try:
        await anyio.to_thread.run_sync(state.service.idempotency_keys.release, claim)
    except Exception:
        logger.warning("could not release an idempotency key", exc_info=True)


def replay(state: AppState, answer: StoredAnswer, connection: bool = True) -> Response:
    """The first answer again, said to be one (its ETag, for a connection's 200, is the one it
    had; a pair operation's answer has none)."""
    headers = {REPLAYED: "true"}
    media_type = JSON
    if answer.code == OK and connection:
        headers[ETAG] = etag_of(answer.body)
        media_type = state.wire.content_type
    return Response(answer.body, status_code=answer.code, media_type=media_type, headers=headers)
