"""A 200 means the change is on disk: the server syncs the write-ahead log between receiving a
POST and answering it, on both backends. Each server (hamr on SQLite; PostgreSQL itself) runs
with a small preloaded library (fixtures/fsync_log.c) that logs every fsync and fdatasync with
its time and file; each acknowledged POST's window, from sending it to reading its answer,
must hold a sync of the log. (Killing the process cannot show this: the page cache survives
kill -9, so a server that never synced would pass every durability test.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hamr.store.sql import open_store
from tests import apt, local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, free_port, sqlite_url
from tests.postgres import PostgresServer, binaries_or_skip

SOURCE = Path(__file__).parent / "fixtures" / "fsync_log.c"
WRITES = 5


@pytest.fixture(scope="module")
def fsync_log_library() -> Iterator[Path]:
    """fsync_log.c built for this machine, in a folder the `postgres` user can read (pytest's
    own are private to root)."""
    if shutil.which("gcc") is None:
        problem = apt.install("gcc")
        if shutil.which("gcc") is None:
            pytest.fail(f"building the fsync log needs gcc: {problem}")
    folder = Path(tempfile.mkdtemp(prefix="hamr-fsync-log-"))
    folder.chmod(0o755)
    library = folder / "fsync_log.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE), "-ldl"],
        check=True,
        capture_output=True,
    )
    yield library
    shutil.rmtree(folder)


def preloaded(library: Path, log: Path) -> dict[str, str]:
    return {"LD_PRELOAD": str(library), "FSYNC_LOG": str(log)}


def syncs(log: Path, file_part: str) -> list[int]:
    """When (monotonic ns) each file whose path contains `file_part` was synced."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [int(at) for at, _, path in (line.partition(" ") for line in lines) if file_part in path]


def acknowledged_windows(url: str, org: OrgKeys, partner: OrgKeys) -> list[tuple[int, int]]:
    """WRITES POSTs one after another: each one's (sent, answered) monotonic ns."""
    windows = []
    with local_http.client(base_url=url) as client:
        for index in range(WRITES):
            body = connection_body(
                org, partner, hamr_status=1 + index % 2, modified_by=f"w{index}@x"
            )
            sent = time.monotonic_ns()
            response = client.post("/api/v2/hamr", json=body, headers=org.headers)
            answered = time.monotonic_ns()
            assert response.status_code == 200, response.text
            windows.append((sent, answered))
    return windows


def assert_each_synced(windows: list[tuple[int, int]], synced: list[int], what: str) -> None:
    unsynced = [
        number
        for number, (sent, answered) in enumerate(windows)
        if not any(sent <= at <= answered for at in synced)
    ]
    assert not unsynced, f"POSTs {unsynced} were answered 200 before {what} was synced"


def windows_of_a_server(
    database_url: str, tmp_path: Path, env: dict[str, str] | None = None
) -> list[tuple[int, int]]:
    """Two orgs made on the database, then a `hamr serve` (with `env`) acknowledging WRITES."""
    store = open_store(database_url)
    admin = Admin(store)
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    server = ServeProcess(database_url, tmp_path / "server.log", env=env).start()
    try:
        return acknowledged_windows(server.url, org, partner)
    finally:
        server.stop()
        store.close()


def test_sqlite_syncs_each_acknowledged_write_before_answering(
    tmp_path: Path, fsync_log_library: Path
) -> None:
    log = tmp_path / "fsync.log"
    env = {**os.environ, **preloaded(fsync_log_library, log)}
    windows = windows_of_a_server(sqlite_url(tmp_path / "hamr.db"), tmp_path, env)
    assert_each_synced(windows, syncs(log, "hamr.db-wal"), "SQLite's write-ahead log")


@pytest.fixture
def preloaded_postgres(fsync_log_library: Path) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL of its own, started with the fsync log preloaded: its URL and the log."""
    server = PostgresServer(binaries_or_skip(), free_port())
    log = server.base / "fsync.log"  # the server's own folder: the `postgres` user writes it
    env = [f"{name}={value}" for name, value in preloaded(fsync_log_library, log).items()]
    server.prefix = ["env", *env]
    try:
        server.init()
        server.create_database()
        yield server.url, log
    finally:
        server.destroy()


def test_postgresql_syncs_each_acknowledged_write_before_answering(
    tmp_path: Path, preloaded_postgres: tuple[str, Path]
) -> None:
    url, log = preloaded_postgres
    windows = windows_of_a_server(url, tmp_path)
    assert_each_synced(windows, syncs(log, "/pg_wal/"), "PostgreSQL's write-ahead log")
