"""Per-bucket rate limits with Datadog's `X-RateLimit-*` headers.

Windows are calendar-aligned: a counter belongs to one window (its index is part of the key),
so a 60 s period resets on the minute in every process. Shared counts live in Redis through
`limits`' storage. In-process counts live in `WindowCounts` below rather than in `limits`'
memory storage, which sweeps every key for expiry on each request (asyncio) or every 10 ms
(threads): at 20 000 organizations that sweep cost more than the request it was counting.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.errors import StorageError
from limits.storage import storage_from_string

from hamr.settings import RateLimit

logger = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5
# Counting failures are logged at most this often, so that a Redis outage cannot flood the log.
_OUTAGE_LOG_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Bucket:
    """A configured limit, with what every count against it shares, built once."""

    limit: RateLimit
    key_prefix: str
    limit_header: tuple[bytes, bytes]
    period_header: tuple[bytes, bytes]
    name_header: tuple[bytes, bytes]

    @classmethod
    def of(cls, limit: RateLimit) -> Bucket:
        # The library's key for the limit, then the bucket's name: two buckets with equal
        # limits must not share counts.
        prefix = RateLimitItemPerSecond(limit.amount, limit.period).key_for(limit.name) + "/"
        return cls(
            limit,
            prefix,
            (b"x-ratelimit-limit", b"%d" % limit.amount),
            (b"x-ratelimit-period", b"%d" % limit.period),
            (b"x-ratelimit-name", limit.name.encode()),
        )


class Quota(NamedTuple):
    """Where one caller stands in one bucket after a request was counted (a tuple: one is
    made per request)."""

    bucket: Bucket
    remaining: int
    reset_seconds: int
    exceeded: bool

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Datadog's rate-limit headers, as raw ASGI header pairs."""
        bucket = self.bucket
        return [
            bucket.limit_header,
            bucket.period_header,
            (b"x-ratelimit-remaining", b"%d" % self.remaining),
            (b"x-ratelimit-reset", b"%d" % self.reset_seconds),
            bucket.name_header,
        ]


class RateLimiter:
    """Counts requests per (bucket, caller) in fixed, calendar-aligned windows."""

    def __init__(
        self,
        limits: tuple[RateLimit, ...],
        storage_url: str,
        clock: Callable[[], float] = time.time,
    ):
        """`clock` says what time it is in seconds (the emulator's virtual clock moves the
        windows with it)."""
        self._clock = clock
        self._buckets = {limit.name: Bucket.of(limit) for limit in limits}
        self._storage_url = storage_url
        self._memory = WindowCounts() if urlsplit(storage_url).scheme == "memory" else None
        self._shared: Storage | None = None
        self._last_outage_log = -math.inf

    def _shared_storage(self) -> Storage:
        """Built on first use, inside the running event loop (async Redis clients bind to it)."""
        if self._shared is None:
            self._shared = _open_shared_storage(self._storage_url)
        return self._shared

    def forget(self) -> None:
        """Start every window afresh in this process (an emulator's reset); shared counts in
        Redis expire by themselves."""
        if self._memory is not None:
            self._memory = WindowCounts()

    async def count(self, bucket: str, caller: str) -> Quota | None:
        """Count one request; None if the bucket is off or its storage cannot be reached
        (requests are then let through rather than refused)."""
        now = self._clock()
        counter = self._counter(bucket, caller, now)
        if counter is None:
            return None
        found, key, window = counter
        try:
            if self._memory is not None:  # a dict update, done in place
                used = self._memory.incr(key, window, found.limit.period)
            else:
                used = await self._shared_storage().incr(key, found.limit.period)
        except StorageError as error:
            self._log_outage(error)
            return None
        amount = found.limit.amount
        reset = max(1, math.ceil((window + 1) * found.limit.period - now))
        return Quota(found, max(0, amount - used), reset, used > amount)

    async def exhausted(self, bucket: str, caller: str) -> bool:
        """Whether the caller has used up this window's budget, without counting a request
        (False when the bucket is off or its storage cannot be reached)."""
        counter = self._counter(bucket, caller, self._clock())
        if counter is None:
            return False
        found, key, window = counter
        try:
            if self._memory is not None:
                used = self._memory.get(key, window, found.limit.period)
            else:
                used = await self._shared_storage().get(key)
        except StorageError as error:
            self._log_outage(error)
            return False
        return used >= found.limit.amount

    def _counter(self, bucket: str, caller: str, now: float) -> tuple[Bucket, str, int] | None:
        """The bucket, and the key and index of the caller's counter for the window `now`
        falls in; None if the bucket is off."""
        found = self._buckets.get(bucket)
        if found is None:
            return None
        window = int(now // found.limit.period)
        return found, f"{found.key_prefix}{caller}/{window}", window

    async def reachable(self) -> bool:
        """For readiness: can the storage be used?"""
        if self._memory is not None:
            return True
        try:
            return bool(await self._shared_storage().check())
        except StorageError:
            return False

    def _log_outage(self, error: StorageError) -> None:
        now = time.monotonic()
        if now - self._last_outage_log >= _OUTAGE_LOG_SECONDS:
            self._last_outage_log = now
            logger.warning(
                "rate limit storage unavailable; requests are not being limited",
                extra={"error": type(error.storage_error).__name__},
            )


class WindowCounts:
    """In-process counters of the current window of each period. When a period's window moves
    on, the previous window's counters are dropped whole: no per-key expiry, nothing to sweep."""

    def __init__(self) -> None:
        self._windows: dict[int, tuple[int, dict[str, int]]] = {}

    def incr(self, key: str, window: int, period: int) -> int:
        counts = self._counts(window, period)
        used = counts.get(key, 0) + 1
        counts[key] = used
        return used

    def get(self, key: str, window: int, period: int) -> int:
        return self._counts(window, period).get(key, 0)

    def _counts(self, window: int, period: int) -> dict[str, int]:
        current = self._windows.get(period)
        if current is None or current[0] != window:
            current = (window, {})
            self._windows[period] = current
        return current[1]


def _open_shared_storage(url: str) -> Storage:
    """A `redis://…` URL as one of `limits`' async storages. A Redis that stops answering must
    not hold requests: after the timeout they are let through."""
    storage = storage_from_string(
        f"async+{url}",
        wrap_exceptions=True,
        implementation="redispy",
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    assert isinstance(storage, Storage)
    return storage
