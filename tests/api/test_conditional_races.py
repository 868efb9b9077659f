"""One ETag, fifty writers, two processes on one database: exactly one If-Match write wins and
every other is a 412, on SQLite and PostgreSQL. (An attack saw fifty 412s and no winner: its
ETag came from a GET that another process answered from memory before the write reached it.
A GET with `Cache-Control: no-cache` names what storage holds.)"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests import local_http
from tests.conftest import ServeProcess, connection_body, database_of_its_own
from tests.store.test_postgres_processes import make_orgs

WRITERS = 50
PATH = "/api/v2/hamr"


@pytest.fixture
def two_processes(
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    name = f"etag_race_{time.monotonic_ns()}"
    database = database_of_its_own(name, database_url, request, tmp_path_factory)
    first = ServeProcess(database, tmp_path / "first.log").start()
    second = ServeProcess(database, tmp_path / "second.log").start()
    yield first, second
    first.stop()
    second.stop()


def test_one_if_match_write_of_fifty_wins_across_two_processes(
    two_processes: tuple[ServeProcess, ServeProcess],
) -> None:
    first, second = two_processes
    (org,) = make_orgs(first.database_url, "us1", 1)
    (partner,) = make_orgs(first.database_url, "eu1", 1)
    with local_http.client(headers=org.headers, timeout=60) as client:
        assert client.post(first.url + PATH, json=connection_body(org, partner)).status_code == 200
        fresh = {"Cache-Control": "no-cache"}
        etag = client.get(second.url + PATH, headers=fresh).headers["etag"]
    release = threading.Barrier(WRITERS)

    def write(n: int) -> tuple[int, str]:
        server = (first, second)[n % 2]
        body = connection_body(org, partner, hamr_status=2, modified_by=f"writer{n}@example.com")
        with local_http.client(headers=org.headers, timeout=60) as client:
            release.wait()
            answer = client.post(server.url + PATH, json=body, headers={"If-Match": etag})
        return answer.status_code, body["data"]["attributes"]["modified_by"]

    with ThreadPoolExecutor(WRITERS) as pool:
        answers = list(pool.map(write, range(WRITERS)))
    assert Counter(status for status, _ in answers) == {200: 1, 412: WRITERS - 1}
    (winner,) = [who for status, who in answers if status == 200]
    with local_http.client(headers=org.headers, timeout=60) as client:
        stored = client.get(first.url + PATH, headers={"Cache-Control": "no-cache"}).json()
    assert stored["data"]["attributes"]["modified_by"] == winner
