"""Telling "the database is down" apart from "the query was wrong".

A lost or refused connection becomes the domain's Unavailable (503 with Retry-After): the
request changed nothing and may be retried. A full disk becomes StorageFull (507, also with
Retry-After). A foreign key violated because another transaction deleted the row meanwhile
(an emulator reset under writes) becomes Conflict (409). A write to a server that is not the
primary (during a failover) is Unavailable too; a COMMIT whose outcome is unknown (the
connection lost during it, or its synchronous copy cut short) is OutcomeUnknown, a 503 that
says the write may have been stored. Anything else stays an unexpected error (500). SQLite is
a local file, so it has no outages of the first kind.
"""

from __future__ import annotations

import sqlalchemy as sa

from hamr.domain.errors import Conflict, OutcomeUnknown, StorageFull, Unavailable, WriteConflict
from hamr.store.engine import NOTICES

_MESSAGE = "The database is unreachable; nothing was changed. Retry shortly."


def is_outage(error: BaseException, dialect: sa.Dialect) -> bool:
    if dialect.name == "sqlite":
        return False
    if isinstance(error, sa.exc.DBAPIError):
        return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError)
    dbapi = dialect.loaded_dbapi
    return isinstance(error, dbapi.OperationalError | dbapi.InterfaceError)


# PostgreSQL's read_only_sql_transaction: a write reached a server that is no longer (or not
# yet) the primary, during a failover; the connection is dropped so the next finds the new one.
_READ_ONLY_SQLSTATE = "25006"
_READ_ONLY_MESSAGE = (
    "The database is read-only right now (its primary is changing over); nothing was "
    "changed. Retry shortly."
)
_POOL_EXHAUSTED = (
    "Every database connection is busy (the database may not be answering); nothing was "
    "changed. Retry shortly."
)
# A COMMIT whose connection was lost, or whose wait for a synchronous standby was cancelled.
_UNREPLICATED = "canceling wait for synchronous replication"
_COMMIT_LOST = (
    "The database stopped answering while this write was being committed: it may or may not "
    "have been stored. Read it back before writing again, or retry with the same "
    "Idempotency-Key, which stores it at most once."
)
_COMMIT_UNREPLICATED = (
    "This write was committed on the primary, but its copy to a standby was cut short: it may "
    "be lost if the primary fails now. Read it back before writing again, or retry with the "
    "same Idempotency-Key, which stores it at most once."
)


def is_read_only(error: BaseException) -> bool:
    return getattr(getattr(error, "orig", error), "sqlstate", None) == _READ_ONLY_SQLSTATE


def commit_confirmed(connection: sa.Connection, transaction: sa.RootTransaction) -> None:
    """COMMIT, or OutcomeUnknown when it cannot promise what an acknowledged write promises:
    the connection was lost during it, or (PostgreSQL) the server confirmed it with a warning
    that the wait for a synchronous standby was cancelled. hamr never cancels that wait."""
    notices = connection.info.get(NOTICES)
    if notices is not None:
        notices.clear()
    try:
        transaction.commit()
    except sa.exc.DBAPIError as error:
        if is_outage(error, connection.dialect):
            raise OutcomeUnknown(_COMMIT_LOST) from error
        raise
    if notices and any(_UNREPLICATED in notice for notice in notices):
        raise OutcomeUnknown(_COMMIT_UNREPLICATED)


# PostgreSQL's serialization_failure and deadlock_detected: the transaction lost a race.
_CONFLICT_SQLSTATES = frozenset({"40001", "40P01"})


# PostgreSQL's disk_full; SQLite's SQLITE_FULL (its primary result code).
_DISK_FULL_SQLSTATE = "53100"
_SQLITE_FULL = 13
_FULL_MESSAGE = (
    "The server's disk is full; nothing was stored. Retry once its operator has made room."
)


def is_disk_full(error: BaseException) -> bool:
    original = getattr(error, "orig", error)
    if getattr(original, "sqlstate", None) == _DISK_FULL_SQLSTATE:
        return True
    code = getattr(original, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == _SQLITE_FULL


# PostgreSQL's foreign_key_violation; SQLite's SQLITE_CONSTRAINT_FOREIGNKEY (extended code).
_FOREIGN_KEY_SQLSTATE = "23503"
_SQLITE_CONSTRAINT_FOREIGNKEY = 787
_VANISHED_MESSAGE = (
    "What this write refers to was deleted while it was in flight (an emulator reset, a "
    "replaced state or an unlinked pair); nothing was changed. Check that your keys still "
    "work, then retry."
)


def is_vanished_reference(error: BaseException) -> bool:
    """A foreign key violated: a row the write refers to (its org, its pair) was deleted by
    another transaction between the write's checks and its insert."""
    original = getattr(error, "orig", error)
    if getattr(original, "sqlstate", None) == _FOREIGN_KEY_SQLSTATE:
        return True
    return getattr(original, "sqlite_errorcode", None) == _SQLITE_CONSTRAINT_FOREIGNKEY


def raise_if_outage(error: BaseException, dialect: sa.Dialect) -> None:
    """Raise the domain's view of a database error that is not the query's fault: a lost race
    (a collision, or a referenced row deleted meanwhile), a full disk, an outage."""
    if isinstance(error, sa.exc.TimeoutError):  # the pool's: every connection is taken
        raise Unavailable(_POOL_EXHAUSTED) from error
    original = getattr(error, "orig", error)
    if getattr(original, "sqlstate", None) in _CONFLICT_SQLSTATES:
        raise WriteConflict("Concurrent writes collided; retry.") from error
    if is_vanished_reference(error):
        raise Conflict(_VANISHED_MESSAGE) from error
    if is_read_only(error):
        raise Unavailable(_READ_ONLY_MESSAGE) from error
    if is_disk_full(error):
        raise StorageFull(_FULL_MESSAGE) from error
    if is_outage(error, dialect):
        raise Unavailable(_MESSAGE) from error
