"""Opening a store: the engine, migrations, the unit-of-work factory and the read view."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from hamr.domain.errors import InvalidInput
from hamr.settings import redact_url
from hamr.store import migrate
from hamr.store.engine import create_engine
from hamr.store.repository import SqlUnitOfWork
from hamr.store.views import SqlReadView

logger = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database cannot be opened or migrated; the message says which and why."""


class SqlStore:
    """Everything the service needs from one database, built once per process."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.view = SqlReadView(engine)

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def close(self) -> None:
        self.engine.dispose()  # the view holds nothing of its own: its reads borrow from the pool


def open_store(
    database_url: str, pool_size: int = 5, timeout_seconds: float | None = None
) -> SqlStore:
    """Open and migrate the database, or fail with one clear sentence."""
    try:
        make_url(database_url)
    except ArgumentError as error:
        raise InvalidInput(f"{database_url!r} is not a database URL: {error}") from None
    try:
        engine = create_engine(database_url, pool_size, timeout_seconds)
    except ImportError as error:
        driver = make_url(database_url).drivername
        raise StoreUnavailable(
            f"the database driver for {driver!r} is not installed ({error.msg})"
        ) from None
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
        raise StoreUnavailable(
            f"cannot open database {redact_url(database_url)}: {describe(error)}"
        ) from None


def describe(error: SQLAlchemyError) -> str:
    """The driver's own one-line reason, without SQLAlchemy's SQL echo and links."""
    return str(getattr(error, "orig", None) or error).splitlines()[0]
