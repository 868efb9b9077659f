"""The one place where errors become JSON:API responses."""

from __future__ import annotations

import logging

import pydantic_core
from starlette.responses import Response
from starlette.types import Scope

from hamr.domain.errors import Forbidden, HamrError

logger = logging.getLogger(__name__)

JSON = "application/json"


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


def error_document(error: HamrError) -> dict[str, object]:
    if isinstance(error, TooManyRequests):
        return {"errors": [error.detail]}
    items = []
    for violation in error.violations():
        item: dict[str, object] = {
            "status": str(error.status),
            "title": error.title,
            "detail": violation.detail,
        }
        if error.header is not None:
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
