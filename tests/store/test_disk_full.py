"""A full disk: writes get a 507 saying so, with Retry-After, and store nothing; /readyz says
why; once there is room again, writes go through.

Twice: as root, a `hamr serve` process with its database on a small tmpfs that the test
fills; anywhere, with SQLite's `PRAGMA max_page_count` on every connection of the server's
own engine, so SQLite fails writes with SQLITE_FULL exactly as on a full disk (the server
runs in this process, in a thread, over a real socket)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hamr.bootstrap import create_app
from hamr.server.listen import listening_sockets, server_for
from hamr.settings import Settings, parse_rate_limits
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    GENEROUS_RATE_LIMITS,
    Admin,
    ServeProcess,
    connection_body,
    sqlite_url,
    unknown_org,
)

PATH = "/api/v2/hamr"
# Set in CI, which runs as root: there, not being root fails the filesystem test, never skips it.
REQUIRE_ROOT = "HAMR_REQUIRE_ROOT"


@contextlib.contextmanager
def serving(settings: Settings, pages: dict[str, int]) -> Iterator[tuple[str, sa.Engine]]:
    """The app on a thread, and its engine: every database connection it opens is capped at
    `pages["max"]` pages."""
    app = create_app(settings)
    engine = app.store.engine

    def cap(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages['max']}")

    sa.event.listen(engine, "connect", cap)
    engine.dispose()  # the connections opened before the cap
    sock = listening_sockets("127.0.0.1", 0)[0]
    server = server_for(app, settings)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", engine
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


def test_a_full_disk_is_a_507_that_stores_nothing_and_readyz_says_so(tmp_path: Path) -> None:
    database = tmp_path / "full.db"
    url = sqlite_url(database)
    store = open_store(url)
    admin = Admin(store)
    orgs = [admin.create_org("us1") for _ in range(40)]
    partner = unknown_org("eu1")
    with store.engine.connect() as db:
        used = db.exec_driver_sql("PRAGMA page_count").scalar_one()
    pages = {"max": used + 2}
    settings = Settings(database_url=url, rate_limits=parse_rate_limits([GENEROUS_RATE_LIMITS]))
    with serving(settings, pages) as (base, engine), local_http.client(base_url=base) as http:
        statuses = []
        for org in orgs:
            answer = http.post(PATH, json=connection_body(org, partner), headers=org.headers)
            statuses.append(answer.status_code)
            if answer.status_code != 200:
                break
        assert statuses[0] == 200
        assert statuses[-1] == 507, statuses
        full = answer
        (error,) = full.json()["errors"]
        assert error["title"] == "Insufficient Storage"
        assert "disk is full" in error["detail"]
        assert "nothing was stored" in error["detail"]
        assert full.headers["retry-after"] == "30"
        refused = orgs[len(statuses) - 1]
        assert admin.connection(refused.uuid) is None
        assert admin.history(refused.uuid) == []
        ready = http.get("/readyz")
        assert ready.status_code == 503
        assert "disk is full" in ready.json()["checks"]["database"]

        pages["max"] = used + 1000  # room again, for the connections opened from now on
        engine.dispose()
        again = http.post(PATH, json=connection_body(refused, partner), headers=refused.headers)
        assert again.status_code == 200, again.text
        assert http.get("/readyz").status_code == 200
    store.close()


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `folder` (as root only), unmounted afterwards."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    assert mounted.returncode == 0, mounted.stderr
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(disk: Path) -> Path:
    """A file taking every byte left on `disk`."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        with contextlib.suppress(OSError):  # ENOSPC: the disk is full
            while True:
                os.write(descriptor, b"\0" * 4096)
    finally:
        os.close(descriptor)
    return filler


def test_a_full_filesystem_is_a_507_and_writes_resume_when_room_is_made(tmp_path: Path) -> None:
    """The real thing, where it can be set up (root, for the mount): a `hamr serve` process
    with its database on a small tmpfs, filled up while it runs."""
    if os.geteuid() != 0:
        if os.environ.get(REQUIRE_ROOT) == "1":
            pytest.fail(f"{REQUIRE_ROOT}=1, but the suite is not root and cannot mount a tmpfs")
        pytest.skip("mounting a tmpfs needs root; the max_page_count test covers SQLITE_FULL")
    with small_disk(tmp_path / "disk") as disk:
        url = sqlite_url(disk / "hamr.db")
        store = open_store(url)
        admin = Admin(store)
        orgs = [admin.create_org("us1") for _ in range(20)]
        store.close()  # the write-ahead log checkpointed away: the server's writes need room
        partner = unknown_org("eu1")
        server = ServeProcess(url, tmp_path / "server.log").start()
        try:
            with local_http.client(base_url=server.url, timeout=10) as http:
                filler = fill(disk)
                statuses = []
                for org in orgs:
                    answer = http.post(
                        PATH, json=connection_body(org, partner), headers=org.headers
                    )
                    statuses.append(answer.status_code)
                    if answer.status_code != 200:
                        break
                assert statuses[-1] == 507, statuses
                (error,) = answer.json()["errors"]
                assert "disk is full" in error["detail"]
                assert answer.headers["retry-after"] == "30"
                assert http.get("/readyz").status_code == 503
                refused = orgs[len(statuses) - 1]

                filler.unlink()
                again = http.post(
                    PATH, json=connection_body(refused, partner), headers=refused.headers
                )
                assert again.status_code == 200, again.text
                assert http.get("/readyz").status_code == 200
        finally:
            server.stop()
        assert "Traceback" not in server.log()
        store = open_store(url)
        try:
            stored = Admin(store)
            # One row each: the refused write is stored by its retry, not by its 507.
            assert [len(stored.history(org.uuid)) for org in orgs[: len(statuses)]] == [1] * len(
                statuses
            )
        finally:
            store.close()
