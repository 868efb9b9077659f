"""The one place where errors become HTTP answers. Domain errors say what went wrong and where,
in the domain's words; this module gives each class its status, title and Retry-After (one
table), names the header each part of a request is sent in, words the details that point at an
API path or a command, and renders the JSON:API document."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pydantic_core
from starlette.responses import Response
from starlette.types import Scope

from hamr.api.paths import HAMR_PATH, PAIR_PATH
from hamr.api.responses import JSON
from hamr.domain.errors import (
    Conflict,
    Forbidden,
    HamrError,
    InvalidInput,
    KeyReused,
    NoConnection,
    NotFound,
    PreconditionFailed,
    StorageFull,
    Subject,
    Unavailable,
    ValidationFailed,
    Violation,
)
from hamr.domain.lifecycle import OperationRefused
from hamr.domain.model import Condition
from hamr.domain.pairing import PairingConflict

logger = logging.getLogger(__name__)

API_KEY = "DD-API-KEY"
APP_KEY = "DD-APPLICATION-KEY"
AUTHORIZATION = "Authorization"
IDEMPOTENCY_KEY = "Idempotency-Key"
# A break-glass reason: store a move the policy would refuse (admin under `enforce`).
OVERRIDE_HEADER = "X-Hamr-Override"
IF_MATCH = "If-Match"
IF_NONE_MATCH = "If-None-Match"
# The header each part of a request that a domain error can be about is sent in.
HEADERS: dict[Subject, str] = {
    Subject.API_KEY: API_KEY,
    Subject.APPLICATION_KEY: APP_KEY,
    Subject.TOKEN: AUTHORIZATION,
    Subject.IDEMPOTENCY_KEY: IDEMPOTENCY_KEY,
    Subject.OVERRIDE: OVERRIDE_HEADER,
}
CONDITION_HEADERS = {Condition.MATCH: IF_MATCH, Condition.NONE_MATCH: IF_NONE_MATCH}


@dataclass(frozen=True, slots=True)
class Status:
    """How a class of errors is answered."""

    code: int
    title: str
    retry_after_seconds: int | None = None


# Each domain error class's answer; a class not listed is answered as its nearest listed base.
STATUSES: dict[type[HamrError], Status] = {
    HamrError: Status(500, "Internal Server Error"),
    ValidationFailed: Status(400, "Bad Request"),
    InvalidInput: Status(400, "Bad Request"),
    Forbidden: Status(403, "Forbidden"),
    NotFound: Status(404, "Not Found"),
    Conflict: Status(409, "Conflict"),
    PreconditionFailed: Status(412, "Precondition Failed"),
    KeyReused: Status(422, "Unprocessable Content"),
    Unavailable: Status(503, "Service Unavailable", retry_after_seconds=1),
    StorageFull: Status(507, "Insufficient Storage", retry_after_seconds=30),
}


class HttpError(HamrError):
    """An error only HTTP has (a body too large, a method not allowed): it names its own
    status, title and Retry-After, and the header it is about, if any."""

    status: int = 500
    title: str = "Internal Server Error"
    retry_after_seconds: int | None = None

    def __init__(self, detail: str, *, pointer: str | None = None, header: str | None = None):
        super().__init__(detail, pointer=pointer)
        self.header = header


class InvalidApiKey(Forbidden):
    """A DD-API-KEY that proves nobody. The contract answers 403 with a JSON:API error; the
    live API answers 401 `{"errors": ["Unauthorized"]}`, which `--wire live` copies."""


LIVE_UNAUTHORIZED = b'{"errors":["Unauthorized"]}'


class HeaderRefused(HttpError):
    """A header of HTTP's own that keeps the caller out (the emulator's admin token): a 403
    naming it."""

    status = 403
    title = "Forbidden"


class PayloadTooLarge(HttpError):
    status = 413
    title = "Payload Too Large"


class UnsupportedMediaType(HttpError):
    status = 415
    title = "Unsupported Media Type"


class ClientClosedRequest(HttpError):
    """The client hung up before its request was read whole (nginx's 499): nothing was done,
    and the answer goes to no one; it is logged and counted as a 499, not as a server error."""

    status = 499
    title = "Client Closed Request"


class CutOffByShutdown(HttpError):
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


class MethodNotAllowed(HttpError):
    status = 405
    title = "Method Not Allowed"


class InternalError(HttpError):
    status = 500
    title = "Internal Server Error"


class TooManyRequests(HttpError):
    """Over a rate limit. Datadog answers this one in its older error format (the contract's
    APIErrorResponse), and clients wait as the X-RateLimit-* headers say."""

    status = 429
    title = "Too Many Requests"

    def __init__(self) -> None:
        super().__init__("Too many requests")


class BadParameter(HttpError):
    """A query parameter that cannot be accepted (`source.parameter` names it)."""

    status = 400
    title = "Bad Request"

    def __init__(self, detail: str, *, parameter: str):
        super().__init__(detail)
        self.parameter = parameter


def status_of(error: HamrError) -> Status:
    """The status, title and Retry-After `error` is answered with."""
    if isinstance(error, HttpError):
        return Status(error.status, error.title, error.retry_after_seconds)
    for cls in type(error).__mro__:
        if issubclass(cls, HamrError) and cls in STATUSES:
            return STATUSES[cls]
    raise AssertionError("HamrError is in the table")


def header_of(error: HamrError) -> str | None:
    """The request header `error` is about, if it is about one."""
    if isinstance(error, HttpError):
        return error.header
    if isinstance(error, PreconditionFailed):
        return CONDITION_HEADERS[error.condition]
    return HEADERS[error.about] if error.about is not None else None


def detail_of(error: HamrError) -> str:
    """The detail as the API says it: the domain's, with the request to send or the command
    to run named where one helps."""
    if isinstance(error, PreconditionFailed):
        return _unmet(error.condition, error.current)
    if isinstance(error, NoConnection):
        return f"{error.detail.removesuffix('.')}; create one with POST {HAMR_PATH}."
    if isinstance(error, OperationRefused):
        return f"{error.detail} GET {PAIR_PATH} shows where it stands and which moves it allows."
    if isinstance(error, PairingConflict):
        unlink = f"`hamr pair unlink --org {error.unlink_org}`"
        return f"{error.detail.removesuffix('.')} with {unlink}."
    return error.detail


def _unmet(condition: Condition, current: str | None) -> str:
    """A failed precondition in HTTP's words: the header that failed, and the fix."""
    if condition is Condition.NONE_MATCH:
        return (
            f"Your organization already has a HAMR connection (ETag {current}), which "
            f"{IF_NONE_MATCH} refuses. GET {HAMR_PATH} to see it, and send "
            f"`{IF_MATCH}: {current}` to change it. Nothing was stored."
        )
    if current is None:
        return (
            f"{IF_MATCH} cannot match: your organization has no HAMR connection yet. Create "
            f"it with a POST without {IF_MATCH} (with `{IF_NONE_MATCH}: *` to create it only "
            "if there still is none). Nothing was stored."
        )
    return (
        f"{IF_MATCH} does not match the connection's current ETag, {current}: it changed "
        f"since you read it. GET {HAMR_PATH} again, check that your change still "
        f"applies, and send that ETag in {IF_MATCH}. Nothing was stored."
    )


def error_document(error: HamrError) -> dict[str, object]:
    if isinstance(error, TooManyRequests):
        return {"errors": [error.detail]}
    status = status_of(error)
    header = header_of(error)
    problems = (
        error.violations()
        if isinstance(error, ValidationFailed)
        else [Violation(error.pointer, detail_of(error))]
    )
    items = []
    for violation in problems:
        item: dict[str, object] = {
            "status": str(status.code),
            "title": status.title,
            "detail": violation.detail,
        }
        if isinstance(error, BadParameter):
            item["source"] = {"parameter": error.parameter}
        elif header is not None:
            item["source"] = {"header": header}
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
    status = status_of(error)
    if status.retry_after_seconds is not None:
        headers = {**(headers or {}), "Retry-After": str(status.retry_after_seconds)}
    return Response(
        pydantic_core.to_json(error_document(error)),
        status_code=status.code,
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
