"""Engines tuned per backend: SQLite in WAL with fsync on every commit, writers serialized."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

BUSY_TIMEOUT_MS = 30_000
# SQLite's page cache per pooled connection, in KiB (its default is 2,000). Every connection of
# the pool keeps its own and fills it at any size of database, yet reads hold little of what it
# keeps: the hot path reads memory, and each commit (by any connection) makes the others drop
# theirs at their next read.
PAGE_CACHE_KIB = 256
# How long a server's connection may leave data unacknowledged before the kernel drops it.
TCP_USER_TIMEOUT_MS = 10_000
# Where a PostgreSQL connection keeps the server's last notices (its pool record's `info`).
NOTICES = "hamr_notices"


def create_engine(
    database_url: str, pool_size: int = 5, timeout_seconds: float | None = None
) -> Engine:
    """`timeout_seconds` bounds PostgreSQL's connects and statements (a server's reads and
    writes); without it, 5 s to connect and statements unbounded (the CLI's copies)."""
    url = make_url(database_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, not SQLAlchemy's psycopg2
    if url.get_backend_name() != "sqlite":
        connect: dict[str, Any] = {"connect_timeout": 5}
        wait_for_pool = 5.0
        if timeout_seconds is not None:
            wait_for_pool = timeout_seconds
            connect = {
                "connect_timeout": max(1, math.ceil(timeout_seconds)),
                "options": f"-c statement_timeout={round(timeout_seconds * 1000)}",
                # A server cut off by the network answers nothing, and statement_timeout is
                # its own: the kernel drops a connection whose data goes unacknowledged.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 3,
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            }
        engine = sa.create_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_pre_ping=True,
            pool_timeout=wait_for_pool,
            connect_args=connect,
            json_serializer=_to_json,
        )
        sa.event.listen(engine, "connect", _keep_notices)
        return engine
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        json_serializer=_to_json,
    )
    sa.event.listen(engine, "connect", _configure_sqlite)
    sa.event.listen(engine, "begin", _begin_immediate)
    return engine


def _to_json(value: Any) -> str:
    """History rows are JSON; pydantic-core's encoder is several times faster than json's."""
    return pydantic_core.to_json(value).decode()


def _keep_notices(dbapi_connection: Any, record: Any) -> None:
    """Keep what the server says beside its answers: a COMMIT whose wait for a synchronous
    standby was cancelled succeeds with only a WARNING notice, which the unit of work reads."""
    notices: deque[str] = deque(maxlen=8)
    record.info[NOTICES] = notices
    dbapi_connection.add_notice_handler(lambda notice: notices.append(notice.message_primary))


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to us (see _begin_immediate); reads outside a transaction
    # autocommit and always see the latest committed state.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{PAGE_CACHE_KIB}")
    finally:
        cursor.close()


def _begin_immediate(connection: sa.Connection) -> None:
    # Take the write lock up front: a read-then-write transaction that only asks for it at its
    # first write can deadlock against another writer, and SQLite then fails it at once.
    connection.exec_driver_sql("BEGIN IMMEDIATE")
