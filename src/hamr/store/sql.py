"""Opening a store: the engine, migrations, the unit-of-work factory and the read view."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.util import asbool

from hamr.domain.errors import InvalidInput
from hamr.settings import redact_url
from hamr.store import migrate
from hamr.store.datacenter_reads import SqlDatacenterReads
from hamr.store.engine import create_engine
from hamr.store.repository import SqlUnitOfWork
from hamr.store.views import SqlReadView

logger = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be opened or migrated; the message says which and why."""


class NoHamrDatabase(StoreUnavailable):
    """Where the URL points there is no database hamr made: no such file, or no hamr schema."""


class SqlStore:
    """Everything the service needs from one database, built once per process."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.view = SqlReadView(engine)
        self.datacenter_reads = SqlDatacenterReads(engine)
        # SQLite has one writer, and each unit of work takes its lock at BEGIN: this process's
        # threads queue for it here, woken as it frees, rather than in SQLite's busy handler,
        # which sleeps (up to 100 ms a time) and lets late arrivals overtake early ones.
        self._one_writer = threading.RLock() if engine.dialect.name == "sqlite" else None

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._one_writer)

    def close(self) -> None:
        self.engine.dispose()  # the view holds nothing of its own: its reads borrow from the pool


def open_store(
    database_url: str, pool_size: int = 5, timeout_seconds: float | None = None
) -> SqlStore:
    """Open and migrate the database, or fail with one clear sentence."""
    engine = _engine(database_url, pool_size, timeout_seconds)
    try:
        current = migrate.current_revision(engine)
        if current != migrate.HEAD_REVISION:
            if current is not None and not migrate.is_known(current):
                engine.dispose()
                raise StoreUnavailable(
                    f"the database schema (revision {current}) is newer than this hamr "
                    f"(which knows up to {migrate.HEAD_REVISION}); upgrade hamr before "
                    "serving it"
                )
            migrate.upgrade(engine)
        return SqlStore(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise _cannot_open(database_url, error) from None


def require_hamr_database(database_url: str) -> None:
    """NoHamrDatabase unless the URL names a database hamr has made, creating and changing
    nothing: open_store would make a missing one, as serving should, but a command that only
    reads would then report on an empty database in the wrong place as if all were well."""
    url = _url(database_url)
    where = redact_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = sqlite_file(url)
        if path is None:
            raise NoHamrDatabase(f"{where} is an in-memory SQLite database, which holds nothing")
        where = str(Path(path).resolve())
        if not Path(path).is_file():
            raise NoHamrDatabase(f"there is no hamr database at {where} (no such file)")
        # SQLAlchemy's plain engine reads the file as it is; hamr's would turn it to WAL.
        engine = sa.create_engine(url)
    else:
        engine = _engine(database_url)
    try:
        revision = migrate.current_revision(engine)
    except SQLAlchemyError as error:
        raise _cannot_open(database_url, error) from None
    finally:
        engine.dispose()
    if revision is None:
        raise NoHamrDatabase(f"there is no hamr database in {where} (it has no hamr schema)")


def sqlite_file(url: URL) -> str | None:
    """The file a SQLite URL opens (as the driver reads it), or None for an in-memory one."""
    database = url.database or ""
    if asbool(url.query.get("uri", False)) and database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        database = unquote(urlsplit(database).path)
    return None if database in ("", ":memory:") else database


def describe(error: SQLAlchemyError) -> str:
    """The driver's own one-line reason, without SQLAlchemy's SQL echo and links."""
    return str(getattr(error, "orig", None) or error).splitlines()[0]


def _url(database_url: str) -> URL:
    try:
        return make_url(database_url)
    except ArgumentError as error:
        raise InvalidInput(f"{database_url!r} is not a database URL: {error}") from None


def _engine(database_url: str, pool_size: int = 5, timeout_seconds: float | None = None) -> Engine:
    """hamr's engine for the URL, or one sentence saying why there cannot be one."""
    url = _url(database_url)
    try:
        return create_engine(database_url, pool_size, timeout_seconds)
    except ImportError as error:
        raise StoreUnavailable(
            f"the database driver for {url.drivername!r} is not installed ({error.msg})"
        ) from None


def _cannot_open(database_url: str, error: SQLAlchemyError) -> StoreUnavailable:
    return StoreUnavailable(f"cannot open database {redact_url(database_url)}: {describe(error)}")
