"""The site's own PostgreSQL node (`--read-database`): a read view on it, and where its replay
of the leader's write-ahead log stands against the leader's, in log positions (LSNs)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hamr.store.engine import create_engine
from hamr.store.outage import raise_if_outage
from hamr.store.views import SqlReadView

# On a replica, the last log position it has replayed; on a primary, the current one.
_REPLAYED = (
    "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END::text, pg_is_in_recovery()"
)
_WRITTEN = "SELECT pg_current_wal_lsn()::text"


class SqlReplica:
    """Built once per process; its reads borrow pooled connections to the node."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.view = SqlReadView(engine)

    def replayed(self) -> tuple[int, bool]:
        """The node's replayed log position, and whether it is a replica (in recovery)."""
        ((lsn, in_recovery),) = _fetch(self.engine, _REPLAYED)
        return _position(lsn), bool(in_recovery)

    def close(self) -> None:
        self.engine.dispose()


def written_position(primary: Engine) -> int:
    """The leader's current log position: everything committed before it is at or below it."""
    ((lsn, *_),) = _fetch(primary, _WRITTEN)
    return _position(lsn)


def open_replica(database_url: str, pool_size: int, timeout_seconds: float) -> SqlReplica:
    """The node's engine; nothing is migrated there (a replica is read-only)."""
    return SqlReplica(create_engine(database_url, pool_size, timeout_seconds))


def _fetch(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(sql)]
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as error:
        raise_if_outage(error, engine.dialect)
        raise


def _position(lsn: object) -> int:
    """PostgreSQL's "16/B374D848" as one number (None, a replica that replayed nothing: 0)."""
    if lsn is None:
        return 0
    high, _, low = str(lsn).partition("/")
    return (int(high, 16) << 32) | int(low, 16)
