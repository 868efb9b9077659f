"""Heavy reads queue rather than fail: many clients reading the largest history pages at once
wait for each other for as long as reads keep finishing, and none is answered 503 because
others were ahead of it. (A database that stops answering is still a 503 within
HAMR_DB_TIMEOUT_SECONDS: tests/store/test_postgres_processes.py.) On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import local_http
from tests.conftest import GENEROUS_RATE_LIMITS, ServeProcess, connection_body, database_of_its_own
from tests.store.test_postgres_processes import make_orgs

CLIENTS = 48
DB_TIMEOUT_SECONDS = 1.0
HISTORY_ROWS = 1000


@pytest.fixture
def narrow_server(
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[ServeProcess]:
    """One read at a time (a pool of two: one reader, one writer) and a short database
    timeout: forty-eight clients' 1,000-row pages must queue past it. (Each read alone stays well
    within it, even on a busy machine: it is the queue, not a read, that outlasts it.)"""
    database = database_of_its_own(
        f"heavy_{time.monotonic_ns()}", database_url, request, tmp_path_factory
    )
    env = {
        "HAMR_RATE_LIMITS": GENEROUS_RATE_LIMITS,
        "HAMR_DB_POOL_SIZE": "2",
        "HAMR_DB_TIMEOUT_SECONDS": str(DB_TIMEOUT_SECONDS),
    }
    server = ServeProcess(database, tmp_path / "server.log", env={**os.environ, **env}).start()
    yield server
    server.stop()


def test_many_clients_reading_thousand_row_pages_queue_and_none_is_refused(
    narrow_server: ServeProcess,
) -> None:
    (org,) = make_orgs(narrow_server.database_url, "us1", 1)
    (partner,) = make_orgs(narrow_server.database_url, "eu1", 1)

    def write_share(first: int) -> None:  # concurrent writers share commits: a faster seed
        with local_http.client(base_url=narrow_server.url, headers=org.headers, timeout=60) as c:
            for n in range(first, HISTORY_ROWS, CLIENTS):
                body = connection_body(org, partner, hamr_status=2 + n % 2, modified_by=f"{n}@x.io")
                assert c.post("/api/v2/hamr", json=body).status_code == 200

    waits: list[float] = []  # appended to from every reader's thread

    def read_for(seconds: float) -> Counter[int]:
        statuses: Counter[int] = Counter()
        deadline = time.monotonic() + seconds
        with local_http.client(base_url=narrow_server.url, headers=org.headers, timeout=60) as c:
            while time.monotonic() < deadline:
                asked = time.monotonic()
                page = c.get("/api/v2/hamr/history", params={"page[size]": 1000})
                waits.append(time.monotonic() - asked)
                statuses[page.status_code] += 1
                if page.status_code == 200:
                    assert len(page.json()["data"]) == 1000
        return statuses

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(write_share, range(CLIENTS)))
        totals = sum(pool.map(read_for, [3.0] * CLIENTS), Counter[int]())
    assert set(totals) == {200}, totals
    assert totals[200] >= CLIENTS
    # The queue went past the timeout, or the test proved nothing.
    assert max(waits) > DB_TIMEOUT_SECONDS, max(waits)
