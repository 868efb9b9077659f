"""Telling "the database is down" apart from "the query was wrong".

A lost or refused connection becomes the domain's Unavailable (503 with Retry-After): the
request changed nothing and may be retried. Anything else stays an unexpected error (500).
SQLite is a local file, so it has no outages of this kind.
"""

from __future__ import annotations

import sqlalchemy as sa

from hamr.domain.errors import Unavailable, WriteConflict

_MESSAGE = "The database is unreachable; nothing was changed. Retry shortly."


def is_outage(error: BaseException, dialect: sa.Dialect) -> bool:
    if dialect.name == "sqlite":
        return False
    if isinstance(error, sa.exc.DBAPIError):
        return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError)
    dbapi = dialect.loaded_dbapi
    return isinstance(error, dbapi.OperationalError | dbapi.InterfaceError)


# PostgreSQL's serialization_failure and deadlock_detected: the transaction lost a race.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})


def raise_if_outage(error: BaseException, dialect: sa.Dialect) -> None:
    """Raise the domain's view of a database error that is not the query's fault."""
    original = getattr(error, "orig", error)
    if getattr(original, "sqlstate", None) in _CONFLICT_SQLSTATES:
        raise WriteConflict("Concurrent writes collided; retry.") from error
    if is_outage(error, dialect):
        raise Unavailable(_MESSAGE) from error
