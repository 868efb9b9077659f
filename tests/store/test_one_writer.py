"""SQLite has one writer: a process's units of work queue for it in the process, each woken as
the one before it ends, not in SQLite's busy handler (which sleeps, up to 100 ms a time, and
lets late arrivals overtake early ones). Shown with the busy handler switched off: threads
writing at once then never find the database locked."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hamr.store.sql import SqlStore, open_store
from tests.conftest import sqlite_url

THREADS = 16
WRITES_EACH = 25


@pytest.fixture
def impatient_store(tmp_path: Path) -> Iterator[SqlStore]:
    """hamr's store on a SQLite file whose connections wait for no lock: one that is taken
    fails at once with "database is locked"."""
    store = open_store(sqlite_url(tmp_path / "hamr.db"))
    store.engine.dispose()  # connections made from here on get the listener below

    def no_busy_wait(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    sa.event.listen(store.engine, "connect", no_busy_wait)
    yield store
    store.close()


def test_a_processs_units_of_work_never_meet_sqlites_lock(impatient_store: SqlStore) -> None:
    start = threading.Barrier(THREADS)

    def write() -> int:
        start.wait()
        for _ in range(WRITES_EACH):
            with impatient_store.unit_of_work() as uow:
                uow.repository.bump_credentials_epoch()
                uow.commit()
        return WRITES_EACH

    with ThreadPoolExecutor(THREADS) as pool:
        written = sum(pool.map(lambda _: write(), range(THREADS)))
    assert written == THREADS * WRITES_EACH
    with impatient_store.engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert busy == 0  # the busy handler was off: no write waited in it
