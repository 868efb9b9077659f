"""Per-bucket rate limits with Datadog's `X-RateLimit-*` headers.

Counting is `limits`' storage (in memory, or Redis to share limits between processes). Windows
are calendar-aligned: the window's index is part of the counter's key, so a 60 s period resets
on the minute in every process that shares the storage.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

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
class Quota:
    """Where one caller stands in one bucket after a request was counted."""

    limit: RateLimit
    remaining: int
    reset_seconds: int
    exceeded: bool

    def headers(self) -> list[tuple[bytes, bytes]]:
        """Datadog's rate-limit headers, as raw ASGI header pairs."""
        return [
            (b"x-ratelimit-limit", str(self.limit.amount).encode()),
            (b"x-ratelimit-period", str(self.limit.period).encode()),
            (b"x-ratelimit-remaining", str(self.remaining).encode()),
            (b"x-ratelimit-reset", str(self.reset_seconds).encode()),
            (b"x-ratelimit-name", self.limit.name.encode()),
        ]


class RateLimiter:
    """Counts requests per (bucket, caller) in fixed, calendar-aligned windows."""

    def __init__(self, limits: tuple[RateLimit, ...], storage_url: str):
        # A counter's key: the library's key for the bucket's limit, the caller, the window.
        # (The bucket's name is in it: two buckets with equal limits must not share counts.)
        self._buckets = {
            limit.name: (
                limit,
                RateLimitItemPerSecond(limit.amount, limit.period).key_for(limit.name) + "/",
            )
            for limit in limits
        }
        self._storage_url = storage_url
        self._storage: Storage | None = None
        self._last_outage_log = -math.inf

    @property
    def storage(self) -> Storage:
        """Built on first use, inside the running event loop (async Redis clients bind to it)."""
        if self._storage is None:
            self._storage = _open_storage(self._storage_url)
        return self._storage

    async def count(self, bucket: str, caller: str) -> Quota | None:
        """Count one request; None if the bucket is off or its storage cannot be reached
        (requests are then let through rather than refused)."""
        entry = self._buckets.get(bucket)
        if entry is None:
            return None
        limit, prefix = entry
        now = time.time()
        window = int(now // limit.period)
        try:
            used = await self.storage.incr(f"{prefix}{caller}/{window}", limit.period)
        except StorageError as error:
            self._log_outage(error)
            return None
        reset = max(1, math.ceil((window + 1) * limit.period - now))
        return Quota(limit, max(0, limit.amount - used), reset, used > limit.amount)

    async def exhausted(self, bucket: str, caller: str) -> bool:
        """Whether the caller has used up this window's budget, without counting a request
        (False when the bucket is off or its storage cannot be reached)."""
        entry = self._buckets.get(bucket)
        if entry is None:
            return False
        limit, prefix = entry
        window = int(time.time() // limit.period)
        try:
            used = await self.storage.get(f"{prefix}{caller}/{window}")
        except StorageError as error:
            self._log_outage(error)
            return False
        return used >= limit.amount

    async def reachable(self) -> bool:
        """For readiness: can the storage be used?"""
        try:
            return bool(await self.storage.check())
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


def _open_storage(url: str) -> Storage:
    """`memory://` or `redis://…` as given by the operator, as one of `limits`' async storages."""
    options: dict[str, float | str | bool] = {"wrap_exceptions": True}
    if url.startswith(("redis://", "rediss://")):
        options["implementation"] = "redispy"
        # A Redis that stops answering must not hold requests: give up and let them through.
        options["socket_timeout"] = REDIS_TIMEOUT_SECONDS
        options["socket_connect_timeout"] = REDIS_TIMEOUT_SECONDS
    storage = storage_from_string(f"async+{url}", **options)
    assert isinstance(storage, Storage)
    return storage
