"""What the background loops (the storage watch, the datacenter walker) share while the
database is away: one log line when it goes, one every OUTAGE_LOG_SECONDS while it stays away,
one when it is back; and a look before they ask again.

The look is a TCP connect to the database's address on the event loop. While PostgreSQL is
down it is refused at once, for microseconds of the one core, where a connect through the pool
costs a worker thread milliseconds of it (SQLAlchemy's pool, psycopg's error, the wrapping),
which the requests still answered from memory (probes, cached GETs) wait behind. When the
connect succeeds the loop asks the pool as usual: the database may be back, or hung (its port
accepts, nothing answers), which costs a waiting thread, not the core."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)
OUTAGE_LOG_SECONDS = 30.0
LOOK_TIMEOUT_SECONDS = 1.0
POSTGRESQL_PORT = 5432


def database_address(database_url: str) -> tuple[str, int] | None:
    """The host and port to look at, or None where there is none to look at: SQLite, a Unix
    socket, or several hosts (libpq tries them in turn; the pool is asked instead)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql" or "host" in url.query:
        return None
    host = url.host
    if not host or host.startswith("/") or "," in host:
        return None
    return host, url.port or POSTGRESQL_PORT


class DatabaseOutage:
    """Whether the database is away, as the background loops last found it."""

    def __init__(self, address: tuple[str, int] | None) -> None:
        self._address = address
        self._since: float | None = None
        self._last_said = 0.0

    @property
    def away(self) -> bool:
        return self._since is not None

    async def worth_asking(self) -> bool:
        """False while the database is away and its port refuses connections."""
        if self._since is None or self._address is None:
            return True
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(*self._address), LOOK_TIMEOUT_SECONDS
            )
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    def found_away(self, reason: str) -> None:
        now = time.monotonic()
        if self._since is None or now - self._last_said >= OUTAGE_LOG_SECONDS:
            logger.warning("the database is unreachable", extra={"reason": reason})
            self._since = self._since or now
            self._last_said = now

    def found_back(self) -> None:
        if self._since is not None:
            away = time.monotonic() - self._since
            logger.warning("the database is back", extra={"away_seconds": round(away, 1)})
            self._since = None
