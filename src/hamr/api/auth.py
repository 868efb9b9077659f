"""Who is calling: DD-API-KEY with DD-APPLICATION-KEY, or `Authorization: Bearer <token>`.

Every refusal is a 403 whose `source.header` names the header to fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from hamr.api.errors import InvalidApiKey
from hamr.domain.errors import Forbidden
from hamr.domain.model import KeyKind, Principal
from hamr.usecases.service import HamrService

API_KEY = "DD-API-KEY"
APP_KEY = "DD-APPLICATION-KEY"
AUTHORIZATION = "Authorization"
_HOW = (
    f"send an API key in {API_KEY} and an application key in {APP_KEY} "
    f"(from `hamr org create` or `hamr key create`), or `{AUTHORIZATION}: Bearer <token>` "
    "(from `hamr token create`)"
)


# Authorization, DD-API-KEY and DD-APPLICATION-KEY as sent (None: not sent).
_Credentials = tuple[bytes | None, bytes | None, bytes | None]


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
        principal = _prove(headers, service, cached_only)
        service.remember(digest, principal, since)
    return principal


def _prove(headers: _Credentials, service: HamrService, cached_only: bool) -> Principal:
    raw_authorization, raw_api_key, raw_app_key = headers
    authorization = None if raw_authorization is None else raw_authorization.decode("latin-1")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return _bearer(authorization[7:].strip(), service, cached_only)
    if raw_api_key is None:
        header = AUTHORIZATION if authorization is not None else API_KEY
        raise Forbidden(f"No credentials were sent; {_HOW}.", header=header)
    caller = service.identify(raw_api_key.decode("latin-1").strip(), KeyKind.API, cached_only)
    if caller is None:
        raise InvalidApiKey(
            f"{API_KEY} is not a valid API key, or it has been revoked; {_HOW}.", header=API_KEY
        )
    if raw_app_key is None:
        raise Forbidden(
            f"{APP_KEY} is missing; send an application key of the same organization "
            f"alongside {API_KEY}.",
            header=APP_KEY,
        )
    user = service.identify(raw_app_key.decode("latin-1").strip(), KeyKind.APP, cached_only)
    if user is None:
        raise Forbidden(
            f"{APP_KEY} is not a valid application key, or it has been revoked; {_HOW}.",
            header=APP_KEY,
        )
    if user.org.uuid != caller.org.uuid:
        raise Forbidden(
            f"{APP_KEY} belongs to a different organization than {API_KEY}; "
            "send two keys of the same organization.",
            header=APP_KEY,
        )
    return user


def _bearer(token: str, service: HamrService, cached_only: bool) -> Principal:
    principal = service.identify(token, KeyKind.TOKEN, cached_only) if token else None
    if principal is None:
        raise Forbidden(
            "The bearer token is not valid, or it has been revoked; "
            "create one with `hamr token create --org UUID`.",
            header=AUTHORIZATION,
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
