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
    headers = request.scope["headers"]
    client = request.client.host if request.client else "unknown"
    try:
        try:
            principal = authenticate(headers, state.service, cached_only=True)
        except Forbidden:
            if await state.limiter.exhausted(UNAUTHENTICATED, client):
                raise
            principal = authenticate(headers, state.service)
    except Forbidden as refused:
        if state.metrics is not None:
            state.metrics.auth_failed(refused.header)
        await _count(request, state, UNAUTHENTICATED, client)
        raise
    request.state.org = principal.org.uuid
    await _count(request, state, bucket, principal.org.uuid)
    return principal


async def _count(request: Request, state: AppState, bucket: str, caller: str) -> None:
    quota = await state.limiter.count(bucket, caller)
    if quota is None:
        return
    request.state.quota = quota
    if quota.exceeded:
        if state.metrics is not None:
            state.metrics.rate_limited(bucket)
        raise TooManyRequests()
