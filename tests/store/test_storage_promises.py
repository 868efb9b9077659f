"""What the README promises of storage, checked where it is decided: every connection hamr
writes through fsyncs each commit (SQLite WAL with synchronous=FULL; PostgreSQL with fsync
and synchronous_commit on), and keys are stored only as their SHA-256 hashes."""

from __future__ import annotations

import hashlib
from contextlib import closing
from pathlib import Path

from hamr.store.sql import open_store
from tests.conftest import Admin, sqlite_url
from tests.postgres import PostgresServer


def test_every_sqlite_connection_commits_durably(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "hamr.db"))
    try:
        # Several at once, so that the pool opens several: each is set up alike.
        connections = [store.engine.raw_connection() for _ in range(3)]
        for connection in connections:
            cursor = connection.cursor()
            assert cursor.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
            assert cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
            cursor.close()
        for connection in connections:
            connection.close()
    finally:
        store.close()


def test_postgresql_commits_durably(postgres: PostgresServer) -> None:
    store = open_store(postgres.url)
    try:
        with store.engine.connect() as db:
            assert db.exec_driver_sql("SHOW fsync").scalar_one() == "on"
            assert db.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
    finally:
        store.close()


def test_keys_are_stored_only_as_their_sha256(tmp_path: Path) -> None:
    database = tmp_path / "hamr.db"
    store = open_store(sqlite_url(database))
    try:
        org = Admin(store).create_org("us1")
        with closing(store.engine.raw_connection()) as connection:
            stored = {row[0] for row in connection.cursor().execute("SELECT secret_hash FROM keys")}
    finally:
        store.close()
    secrets = (org.api_key, org.app_key)
    assert stored == {hashlib.sha256(secret.encode()).hexdigest() for secret in secrets}
    everything = b"".join(path.read_bytes() for path in tmp_path.glob("hamr.db*"))
    for secret in secrets:
        assert secret.encode() not in everything
