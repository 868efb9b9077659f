"""Who is calling: DD-API-KEY with DD-APPLICATION-KEY, or `Authorization: Bearer <token>`.

Every refusal is a 403 whose `source.header` names the header to fix.
"""

from __future__ import annotations

from collections.abc import Iterable

from hamr.domain.errors import Forbidden
from hamr.domain.model import KeyKind, Principal
from hamr.service import HamrService

API_KEY = "DD-API-KEY"
APP_KEY = "DD-APPLICATION-KEY"
AUTHORIZATION = "Authorization"
_HOW = (
    f"send an API key in {API_KEY} and an application key in {APP_KEY} "
    f"(from `hamr org create` or `hamr key create`), or `{AUTHORIZATION}: Bearer <token>` "
    "(from `hamr token create`)"
)


def authenticate(
    raw_headers: Iterable[tuple[bytes, bytes]], service: HamrService, cached_only: bool = False
) -> Principal:
    """The caller's principal, from the ASGI scope's raw headers (read in one pass: this is
    on every request's path). With `cached_only`, credentials not in the in-memory cache are
    refused too: a first pass that never touches storage."""
    headers = _credential_headers(raw_headers)
    authorization = headers.get(b"authorization")
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return _bearer(authorization[7:].strip(), service, cached_only)
    api_key = headers.get(b"dd-api-key")
    if api_key is None:
        header = AUTHORIZATION if authorization is not None else API_KEY
        raise Forbidden(f"No credentials were sent; {_HOW}.", header=header)
    caller = service.identify(api_key.strip(), KeyKind.API, cached_only)
    if caller is None:
        raise Forbidden(
            f"{API_KEY} is not a valid API key, or it has been revoked; {_HOW}.", header=API_KEY
        )
    app_key = headers.get(b"dd-application-key")
    if app_key is None:
        raise Forbidden(
            f"{APP_KEY} is missing; send an application key of the same organization "
            f"alongside {API_KEY}.",
            header=APP_KEY,
        )
    user = service.identify(app_key.strip(), KeyKind.APP, cached_only)
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


_CREDENTIAL_HEADERS = frozenset((b"authorization", b"dd-api-key", b"dd-application-key"))


def _credential_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """The first value of each credential header (ASGI servers lower-case header names)."""
    found: dict[bytes, str] = {}
    for name, value in raw_headers:
        if name in _CREDENTIAL_HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found
