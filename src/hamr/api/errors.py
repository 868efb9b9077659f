"""The one place where errors become JSON:API responses."""

from __future__ import annotations

import logging

import pydantic_core
from starlette.responses import Response
from starlette.types import Scope

from hamr.api.responses import JSON
from hamr.domain.errors import (
    Forbidden,
    HamrError,
    KeyReused,
    PreconditionFailed,
    RequestInFlight,
)
from hamr.domain.model import Condition

logger = logging.getLogger(__name__)

# The request headers that domain errors are about, named here: the domain speaks no HTTP.
IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
IDEMPOTENCY_KEY = "Idempotency-Key"


class InvalidApiKey(Forbidden):
    """A DD-API-KEY that proves nobody. The contract answers 403 with a JSON:API error; the
    live API answers 401 `{"errors": ["Unauthorized"]}`, which `--wire live` copies."""


LIVE_UNAUTHORIZED = b'{"errors":["Unauthorized"]}'


class PayloadTooLarge(HamrError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(HamrError):
    status = 415
    title = "Unsupported Media Type"


class ClientClosedRequest(HamrError):
    """The client hung up before its request was read whole (nginx's 499): nothing was done,
    and the answer goes to no one; it is logged and counted as a 499, not as a server error."""

    status = 499
    title = "Client Closed Request"


class CutOffByShutdown(HamrError):
    """The server shut down before the request finished: its shutdown grace ran out."""

    status = 503
    title = "Service Unavailable"
    retry_after_seconds = 1

    def __init__(self) -> None:
        super().__init__(
            "The server shut down before this request finished (its shutdown grace ran "
            "out). A write may or may not have been stored: read the connection before "
            "retrying, on another server or on this one once it is back."
        )


class MethodNotAllowed(HamrError):
    status = 405
    title = "Method Not Allowed"


class InternalError(HamrError):
    status = 500
    title = "Internal Server Error"


class TooManyRequests(HamrError):
    """Over a rate limit. Datadog answers this one in its older error format (the contract's
    APIErrorResponse), and clients wait as the X-RateLimit-* headers say."""

    status = 429
    title = "Too Many Requests"

    def __init__(self) -> None:
        super().__init__("Too many requests")


class BadParameter(HamrError):
    """A query parameter that cannot be accepted (`source.parameter` names it)."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, parameter: str):
        super().__init__(detail)
        self.parameter = parameter


def in_http_terms(error: HamrError) -> HamrError:
    """A domain error about a request header, with the header named and the fix in HTTP's
    words (the others as they are)."""
    if isinstance(error, KeyReused | RequestInFlight) and error.header is None:
        return type(error)(error.detail, header=IDEMPOTENCY_KEY)
    if not isinstance(error, PreconditionFailed) or error.header is not None:
        return error
    current = error.current
    if error.condition is Condition.NONE_MATCH:
        return PreconditionFailed(
            error.condition,
            current,
            f"Your organization already has a HAMR connection (ETag {current}), which "
            f"{IF_NONE_MATCH} refuses. GET /api/v2/hamr to see it, and send "
            f"`{IF_MATCH}: {current}` to change it. Nothing was stored.",
            header=IF_NONE_MATCH,
        )
    if current is None:
        detail = (
            f"{IF_MATCH} cannot match: your organization has no HAMR connection yet. Create "
            f"it with a POST without {IF_MATCH} (with `{IF_NONE_MATCH}: *` to create it only "
            "if there still is none). Nothing was stored."
        )
    else:
        detail = (
            f"{IF_MATCH} does not match the connection's current ETag, {current}: it changed "
            "since you read it. GET /api/v2/hamr again, check that your change still "
            f"applies, and send that ETag in {IF_MATCH}. Nothing was stored."
        )
    return PreconditionFailed(error.condition, current, detail, header=IF_MATCH)


def error_document(error: HamrError) -> dict[str, object]:
    if isinstance(error, TooManyRequests):
        return {"errors": [error.detail]}
    error = in_http_terms(error)
    items = []
    for violation in error.violations():
        item: dict[str, object] = {
            "status": str(error.status),
            "title": error.title,
            "detail": violation.detail,
        }
        if isinstance(error, BadParameter):
            item["source"] = {"parameter": error.parameter}
        elif error.header is not None:
            item["source"] = {"header": error.header}
        elif violation.pointer is not None:
            item["source"] = {"pointer": violation.pointer}
        items.append(item)
    return {"errors": items}


def error_response(
    error: HamrError, headers: dict[str, str] | None = None, *, live: bool = False
) -> Response:
    """The response for an error; with `live`, an invalid API key gets the live API's 401
    (every other error keeps the contract's JSON:API shape in every wire mode)."""
    if live and isinstance(error, InvalidApiKey):
        return Response(LIVE_UNAUTHORIZED, status_code=401, media_type=JSON, headers=headers)
    if error.retry_after_seconds is not None:
        headers = {**(headers or {}), "Retry-After": str(error.retry_after_seconds)}
    return Response(
        pydantic_core.to_json(error_document(error)),
        status_code=error.status,
        media_type=JSON,
        headers=headers,
    )


def unexpected_error_response(scope: Scope) -> Response:
    """Log an error nobody anticipated, and the 500 to answer it with. The caller re-raises
    after sending it, so the server logs the traceback and drops the connection, which the
    response announces so that clients do not reuse it."""
    logger.error(
        "unexpected error",
        extra={
            "request_id": scope["state"]["request_id"],
            "method": scope["method"],
            "path": scope["path"],
        },
    )
    return error_response(
        InternalError(
            "The server hit an unexpected error and could not complete the request. "
            "Its log has the details."
        ),
        headers={"Connection": "close"},
    )
