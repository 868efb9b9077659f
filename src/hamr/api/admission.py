"""Who may make this request now: authentication, then the caller's rate limit bucket.

Refused credentials are counted per client address (bucket `hamr_unauthenticated`). Known
credentials are recognised from memory; anything else costs a storage lookup, which an
address over its refusals budget no longer gets: a flood of bad keys is answered with 429s
instead of queries.
"""

from __future__ import annotations

from starlette.types import Scope

from hamr.api.auth import authenticate
from hamr.api.errors import TooManyRequests, header_of
from hamr.api.state import AppState
from hamr.domain.errors import Forbidden, Subject
from hamr.domain.model import KeyKind, Principal

UNAUTHENTICATED = "hamr_unauthenticated"


async def admit(scope: Scope, state: AppState, bucket: str) -> Principal:
    """The caller's principal, once its request is counted against `bucket`; raises Forbidden
    or TooManyRequests."""
    try:
        try:
            principal = authenticate(scope["headers"], state.service, cached_only=True)
        except Forbidden:
            if await state.limiter.exhausted(UNAUTHENTICATED, _client(scope)):
                raise
            principal = await state.reads(authenticate, scope["headers"], state.service)
    except Forbidden as refused:
        if state.metrics is not None:
            state.metrics.auth_failed(header_of(refused))
        await count(scope, state, UNAUTHENTICATED, _client(scope))
        raise
    scope["state"]["org"] = principal.org.uuid
    _require_own_site(scope, state, principal)
    await count(scope, state, bucket, principal.org.uuid)
    return principal


def _require_own_site(scope: Scope, state: AppState, principal: Principal) -> None:
    """On a datacenter's own host (`--site`), only that datacenter's orgs are known, as on
    Datadog's, where a key works only on its own site's API host."""
    site = state.site(scope)
    org = principal.org
    if site is None or site.datacenter == org.datacenter:
        return
    about = Subject.API_KEY if principal.kind is not KeyKind.TOKEN else Subject.TOKEN
    raise Forbidden(
        f"This is the API host of the {site.datacenter} site ({site.address}), and "
        f"{org.name} is an organization of {org.datacenter}; call its own site's host, "
        f"{state.where_to_call(org.datacenter)}.",
        about=about,
    )


async def count(scope: Scope, state: AppState, bucket: str, caller: str) -> None:
    """What the count says goes in the request state (the per-request dict itself, not a
    Starlette State around it), where RequestTelemetry finds it for the response headers."""
    quota = await state.limiter.count(bucket, caller)
    if quota is None:
        return
    scope["state"]["quota"] = quota
    if quota.exceeded:
        if state.metrics is not None:
            state.metrics.rate_limited(bucket)
        raise TooManyRequests()


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"
