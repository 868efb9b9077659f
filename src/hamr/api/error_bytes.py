"""The errors the HTTP protocol answers by itself, before or beside the app (headers too large,
too many connections open, a body that stopped arriving), rendered as api/errors.py renders
every other error, and as the bytes of a whole answer for a refusal written straight to the
socket."""

from __future__ import annotations

from http import HTTPStatus

from hamr.api.errors import HttpError, error_response


class HeaderFieldsTooLarge(HttpError):
    """The request's headers, request line included, are over the listener's cap."""

    status = 431
    title = "Request Header Fields Too Large"


class TooManyConnections(HttpError):
    """The server has more connections open than it is allowed; a moment later, it may not."""

    status = 503
    title = "Service Unavailable"
    retry_after_seconds = 1


class BodyTimedOut(HttpError):
    """The request's headers arrived but its body did not in time: the connection is closed
    rather than held open for a client that may never finish."""

    status = 408
    title = "Request Timeout"


def body_timed_out(seconds: float) -> BodyTimedOut:
    """The 408 for a body not whole `seconds` after its headers, in words a person can act
    on."""
    return BodyTimedOut(
        f"The request's body did not arrive whole within {seconds:g} s of its headers "
        "(HAMR_BODY_TIMEOUT_SECONDS), so this connection is closed. Nothing was done; retry "
        "on a new connection, sending the whole body at once."
    )


def closing_answer(error: HttpError) -> bytes:
    """The HTTP/1.1 answer to `error`, head and body, announcing that the connection closes."""
    response = error_response(error, headers={"Connection": "close"})
    lines = [f"HTTP/1.1 {response.status_code} {HTTPStatus(response.status_code).phrase}"]
    lines += [
        f"{name.decode('latin-1')}: {value.decode('latin-1')}"
        for name, value in response.raw_headers
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + bytes(response.body)
