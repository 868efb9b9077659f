"""Who is calling: DD-API-KEY with DD-APPLICATION-KEY, or `Authorization: Bearer <token>`.

Every refusal is a Forbidden about the credential to fix, which api/errors.py answers as a 403
naming its header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from hamr.api.errors import API_KEY, APP_KEY, AUTHORIZATION, InvalidApiKey
from hamr.domain.errors import Forbidden, Subject
from hamr.domain.model import KeyKind, Principal
from hamr.usecases.service import HamrService

_HOW = (
    f"send an API key in {API_KEY} and an application key in {APP_KEY} "
    f"(from `hamr org create` or `hamr key create`), or `{AUTHORIZATION}: Bearer <token>` "
    "(from `hamr token create`)"
)


# Authorization, DD-API-KEY and DD-APPLICATION-KEY as sent (None: not sent).
_Credentials = tuple[bytes | None, bytes | None, bytes | None]
# Who a secret of a kind proves to be, if anyone.
_Identify = Callable[[str, KeyKind], Principal | None]


def authenticate(
    raw_headers: Iterable[tuple[bytes, bytes]], service: HamrService, cached_only: bool = False
) -> Principal:
    """The caller's principal, from the ASGI scope's raw headers (read in one pass: this is
    on every request's path). Credentials that proved someone before are recognised by one
    digest of them all; with `cached_only`, credentials not in the in-memory caches are
    refused too: a first pass that never touches storage. Without it, blocking: from a
    worker thread."""
    headers = _credential_headers(raw_headers)
    authorization, api_key, app_key = headers
    digest = hashlib.sha256(
        (b"+" + authorization if authorization is not None else b"-")
        + (b"\n+" + api_key if api_key is not None else b"\n-")
        + (b"\n+" + app_key if app_key is not None else b"\n-")
    ).hexdigest()
    since = service.credentials_generation()
    # A first pass from memory is counted as a miss by the pass that reads storage.
    principal = service.recognise(digest, count_miss=not cached_only)
    if principal is None:
        principal = _prove(headers, _nobody if cached_only else service.identify)
        service.remember(digest, principal, since)
    return principal


def _nobody(secret: str, kind: KeyKind) -> None:
    """What memory alone proves of credentials it does not recognise: nothing (single keys
    are not kept in memory, only what whole requests proved)."""
    return None


def _prove(headers: _Credentials, identify: _Identify) -> Principal:
    raw_authorization, raw_api_key, raw_app_key = headers
    authorization = None if raw_authorization is None else raw_authorization.decode("latin-1")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return _bearer(authorization[7:].strip(), identify)
    if raw_api_key is None:
        about = Subject.TOKEN if authorization is not None else Subject.API_KEY
        raise Forbidden(f"No credentials were sent; {_HOW}.", about=about)
    caller = identify(raw_api_key.decode("latin-1").strip(), KeyKind.API)
    if caller is None:
        raise InvalidApiKey(
            f"{API_KEY} is not a valid API key, or it has been revoked; {_HOW}.",
            about=Subject.API_KEY,
        )
    if raw_app_key is None:
        raise Forbidden(
            f"{APP_KEY} is missing; send an application key of the same organization "
            f"alongside {API_KEY}.",
            about=Subject.APPLICATION_KEY,
        )
    user = identify(raw_app_key.decode("latin-1").strip(), KeyKind.APP)
    if user is None:
        raise Forbidden(
            f"{APP_KEY} is not a valid application key, or it has been revoked; {_HOW}.",
            about=Subject.APPLICATION_KEY,
        )
    if user.org.uuid != caller.org.uuid:
        raise Forbidden(
            f"{APP_KEY} belongs to a different organization than {API_KEY}; "
            "send two keys of the same organization.",
            about=Subject.APPLICATION_KEY,
        )
    return user


def _bearer(token: str, identify: _Identify) -> Principal:
    principal = identify(token, KeyKind.TOKEN) if token else None
    if principal is None:
        raise Forbidden(
            "The bearer token is not valid, or it has been revoked; "
            "create one with `hamr token create --org UUID`.",
            about=Subject.TOKEN,
        )
    return principal


def _credential_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> _Credentials:
    """The first values of Authorization, DD-API-KEY and DD-APPLICATION-KEY (ASGI servers
    lower-case header names)."""
    authorization = api_key = app_key = None
    for name, value in raw_headers:
        if name == b"dd-api-key":
            if api_key is None:
                api_key = value
        elif name == b"dd-application-key":
            if app_key is None:
                app_key = value
        elif name == b"authorization" and authorization is None:
            authorization = value
    return authorization, api_key, app_key
