"""Who may make this request now: authentication, then the caller's rate limit bucket.

Refused credentials are counted per client address (bucket `hamr_unauthenticated`). Known
credentials are recognised from memory; anything else costs a storage lookup, which an
address over its refusals budget no longer gets: a flood of bad keys is answered with 429s
instead of queries.
"""

from __future__ import annotations

from starlette.requests import Request

from hamr.api.auth import authenticate
from hamr.api.errors import TooManyRequests
from hamr.api.state import AppState
from hamr.domain.errors import Forbidden
from hamr.domain.model import Principal

UNAUTHENTICATED = "hamr_unauthenticated"


async def admit(request: Request, state: AppState, bucket: str) -> Principal:
    """The caller's principal, once its request is counted against `bucket`; raises Forbidden
    or TooManyRequests. What it learns goes in the request state for the response headers and
    the access log."""
    scope = request.scope
    # The per-request state dict itself (RequestTelemetry reads it), not a Starlette State
    # object around it: this runs on every request.
    notes: dict[str, object] = scope["state"]
    try:
        try:
            principal = authenticate(scope["headers"], state.service, cached_only=True)
        except Forbidden:
            if await state.limiter.exhausted(UNAUTHENTICATED, _client(request)):
                raise
            principal = authenticate(scope["headers"], state.service)
    except Forbidden as refused:
        if state.metrics is not None:
            state.metrics.auth_failed(refused.header)
        await _count(notes, state, UNAUTHENTICATED, _client(request))
        raise
    notes["org"] = principal.org.uuid
    await _count(notes, state, bucket, principal.org.uuid)
    return principal


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _count(notes: dict[str, object], state: AppState, bucket: str, caller: str) -> None:
    quota = await state.limiter.count(bucket, caller)
    if quota is None:
        return
    notes["quota"] = quota
    if quota.exceeded:
        if state.metrics is not None:
            state.metrics.rate_limited(bucket)
        raise TooManyRequests()
