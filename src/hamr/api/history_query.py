"""The query parameters of `GET /api/v2/hamr/history`, read into a HistoryQuery: each mistake
is a 400 whose `source.parameter` names the parameter.

The cursor is opaque to clients: base64url of the last row id seen, as 9 bytes, so that every
string of 12 base64url characters is a valid cursor (the published schema says just that).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime, timedelta

from starlette.datastructures import QueryParams

from hamr.api.errors import BadParameter
from hamr.domain.model import HamrStatus, HistoryQuery

PAGE_SIZE = "page[size]"
PAGE_CURSOR = "page[cursor]"
FILTER_FROM = "filter[from]"
FILTER_TO = "filter[to]"
FILTER_STATUS = "filter[status]"
PARAMETERS = (PAGE_SIZE, PAGE_CURSOR, FILTER_FROM, FILTER_TO, FILTER_STATUS)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
CURSOR_BYTES = 9
CURSOR_PATTERN = "^[A-Za-z0-9_-]{12}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_DIGITS = re.compile(r"[0-9]+")
# RFC 3339 date-time; T and Z in capitals, as hamr writes them.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})"
)
_EPOCH = datetime(1970, 1, 1)  # naive on purpose: the offset is applied by hand
# Ids are bound as SQL integers (64-bit signed); a cursor past every id reads from the newest.
_MAX_ID = 2**63 - 1


def parse_history_query(params: QueryParams) -> HistoryQuery:
    for name in params:
        if name.startswith(("page[", "filter[")) and name not in PARAMETERS:
            raise BadParameter(
                f"Unknown parameter {name}; this endpoint takes {', '.join(PARAMETERS)}.",
                parameter=name,
            )
        if len(params.getlist(name)) > 1 and name in PARAMETERS:
            raise BadParameter(f"{name} was given more than once; give it once.", parameter=name)
    size = DEFAULT_PAGE_SIZE
    if PAGE_SIZE in params:
        size = _integer(params[PAGE_SIZE], PAGE_SIZE, 1, MAX_PAGE_SIZE)
    status = None
    if FILTER_STATUS in params:
        status = HamrStatus(_integer(params[FILTER_STATUS], FILTER_STATUS, 0, 5))
    return HistoryQuery(
        size=size,
        before_id=decode_cursor(params[PAGE_CURSOR]) if PAGE_CURSOR in params else None,
        recorded_from_us=_timestamp(params, FILTER_FROM),
        recorded_to_us=_timestamp(params, FILTER_TO),
        hamr_status=status,
    )


def encode_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(row_id.to_bytes(CURSOR_BYTES, "big")).decode("ascii")


def decode_cursor(text: str) -> int:
    """The row id a cursor stands for; raises BadParameter for anything but a cursor."""
    try:
        if not _CURSOR.fullmatch(text):
            raise ValueError(text)
        row_id = int.from_bytes(base64.urlsafe_b64decode(text), "big")
    except (ValueError, binascii.Error):
        raise BadParameter(
            f"{PAGE_CURSOR} {text!r} is not a cursor: pass on the `meta.page.next_cursor` "
            "(or follow `links.next`) of the previous page as it is.",
            parameter=PAGE_CURSOR,
        ) from None
    return min(row_id, _MAX_ID)


def parse_timestamp_us(text: str) -> int | None:
    """Microseconds since the epoch of an RFC 3339 date-time, or None if it is not one
    (digits past the microsecond are dropped)."""
    found = _RFC3339.fullmatch(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    try:
        local = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError:
        return None
    micros = (local - _EPOCH) // timedelta(microseconds=1)
    micros += int((fraction or "").ljust(6, "0")[:6])
    if offset != "Z":
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        shift = (hours * 60 + minutes) * 60_000_000
        micros -= shift if offset[0] == "+" else -shift
    return micros


def _timestamp(params: QueryParams, name: str) -> int | None:
    if name not in params:
        return None
    micros = parse_timestamp_us(params[name])
    if micros is None:
        raise BadParameter(
            f"{name} {params[name]!r} is not an RFC 3339 timestamp; write it as "
            "2026-01-13T17:26:48.830968Z (or with an offset such as +02:00, its + sent as "
            "%2B).",
            parameter=name,
        )
    return micros


def _integer(text: str, name: str, low: int, high: int) -> int:
    # A length cap first: int() refuses strings of thousands of digits.
    if not _DIGITS.fullmatch(text) or len(text) > 9 or not low <= int(text) <= high:
        raise BadParameter(
            f"{name} must be an integer from {low} to {high}; got {text!r}.", parameter=name
        )
    return int(text)
