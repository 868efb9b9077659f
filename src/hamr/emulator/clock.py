"""The emulator's virtual clock: real time, shifted when a test asks (`POST /_hamr/clock`), so
that `modified_at`, idempotency-key expiry and a pair's `stuck` health can be tested without
waiting. It keeps running from where it was put, and is only ever put forward: a clock moved
back would give a pair a `status_since` before its `modified_at`. `real()` alone may take it
back, to the real time (and a pair's `modified_at` still only grows).

It is never put where hamr could not write the time: outside RFC 3339's years (0001-9999),
outside what this platform's `time.gmtime` formats with four digits, or so close to the end
that it would run past it within a day (a `modified_at` of year 10000 is not RFC 3339, and
stays, since a pair's `modified_at` only grows)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hamr.domain.model import format_timestamp
from hamr.usecases.clock import system_clock_us

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_HEADROOM_US = 86_400 * 1_000_000  # a day for the clock to run on from the latest time
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def microseconds(at: datetime) -> int:
    """Microseconds since the epoch of an aware datetime, exactly (a float timestamp loses
    the microseconds of far dates)."""
    return (at - _EPOCH) // _MICROSECOND


def _writable(at_us: int) -> bool:
    """Whether hamr writes this time as RFC 3339 on this platform."""
    try:
        return _RFC3339.fullmatch(format_timestamp(at_us)) is not None
    except (OverflowError, OSError, ValueError):
        return False


def _first_writable(candidates: tuple[int, ...]) -> int:
    return next(at_us for at_us in candidates if _writable(at_us))


# Year 1 where the platform writes it with four digits, else year 1000, else the epoch; the
# last day of year 9999 less the headroom, else the last day of a 32-bit time_t less it.
EARLIEST_US = _first_writable(
    (microseconds(datetime(1, 1, 1, tzinfo=UTC)), microseconds(datetime(1000, 1, 1, tzinfo=UTC)), 0)
)
LATEST_US = _first_writable(
    (
        microseconds(datetime(9999, 12, 31, tzinfo=UTC)) - _HEADROOM_US,
        microseconds(datetime(2038, 1, 19, tzinfo=UTC)) - _HEADROOM_US,
    )
)
# Further than this either way leaves the range from anywhere in it (floats compared first,
# since seconds * 1e6 of 1e308 is no longer a number).
_SPAN_SECONDS = (LATEST_US - EARLIEST_US) / 1_000_000


class ClockOutOfRange(ValueError):
    """A move that would put the clock where hamr cannot write the time; nothing changed."""


class ClockBackwards(ValueError):
    """A move to before the clock's own time (only `real()` goes back); nothing changed."""


class VirtualClock:
    def __init__(self, source: Callable[[], int] = system_clock_us):
        self._source = source
        self._offset_us = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """Microseconds since the epoch, as hamr believes them."""
        return self._source() + self._offset_us

    @property
    def offset_us(self) -> int:
        return self._offset_us

    def advance(self, seconds: float) -> None:
        """Move on by `seconds`; ClockOutOfRange if that leaves the range, ClockBackwards if
        `seconds` is negative."""
        with self._lock:
            if not abs(seconds) <= _SPAN_SECONDS:
                raise ClockOutOfRange(_out_of_range(f"moving it by {seconds:g} seconds"))
            if seconds < 0:
                raise ClockBackwards(_backwards(f"moving it by {seconds:g} seconds"))
            offset = self._offset_us + round(seconds * 1_000_000)
            self._check(self._source() + offset, f"moving it by {seconds:g} seconds")
            self._offset_us = offset

    def set(self, at_us: int) -> None:
        """Put the clock at `at_us`; ClockOutOfRange if that is outside the range,
        ClockBackwards if it is before the clock's time."""
        with self._lock:
            self._check(at_us, "putting it there")
            source_us = self._source()
            if at_us < source_us + self._offset_us:
                now = format_timestamp(source_us + self._offset_us)
                raise ClockBackwards(_backwards(f"{format_timestamp(at_us)} is before {now}"))
            self._offset_us = at_us - source_us

    def real(self) -> None:
        with self._lock:
            self._offset_us = 0

    @staticmethod
    def _check(at_us: int, move: str) -> None:
        if not EARLIEST_US <= at_us <= LATEST_US:
            raise ClockOutOfRange(_out_of_range(move))


def _backwards(move: str) -> str:
    return (
        f"The virtual clock only moves forward ({move}): a pair's status_since must not fall "
        'before its modified_at. Send {"real": true} to go back to the real time. '
        "Nothing changed."
    )


def _out_of_range(move: str) -> str:
    return (
        f"The clock can be put from {format_timestamp(EARLIEST_US)} to "
        f"{format_timestamp(LATEST_US)} (a day before the last time RFC 3339 can write, so "
        f"that it can keep running); {move} would leave that range. Nothing changed."
    )
