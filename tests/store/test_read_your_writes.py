"""Read-your-writes on request: a GET with `Cache-Control: no-cache` (or `max-age=0`) reads
storage, not the process's memory, so a client that POSTs through one process and GETs
through another sees its write at once, on both GET paths (the fast lane, and the app's route
for GETs with a query string and HEAD). A plain GET may lag by up to a poll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hamr.api.get_answer import asked
from tests import local_http
from tests.conftest import ServeProcess, connection_body, sqlite_url
from tests.store.test_cache_coherence import make_org

PATH = "/api/v2/hamr"
ROUNDS = 12
# One spelling per round, in turn: each asks for a fresh answer.
FRESH = ("no-cache", "max-age=0", "no-store, No-Cache", 'max-age="0", private')


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ServeProcess, ServeProcess, str]]:
    database_url = sqlite_url(tmp_path / "shared.db")
    writer = ServeProcess(database_url, tmp_path / "writer.log").start()
    try:
        reader = ServeProcess(database_url, tmp_path / "reader.log").start()
        try:
            yield writer, reader, database_url
        finally:
            reader.stop()
    finally:
        writer.stop()


@pytest.mark.parametrize("path", ["fast lane", "route"])
def test_a_no_cache_get_through_another_process_sees_the_write_every_time(
    two_servers: tuple[ServeProcess, ServeProcess, str], path: str
) -> None:
    writer, reader, database_url = two_servers
    org, partner = make_org(database_url, "us1"), make_org(database_url, "eu1")
    url = reader.url + PATH + ("?fresh" if path == "route" else "")
    with local_http.client(headers=org.headers, timeout=10) as client:
        first = client.post(writer.url + PATH, json=connection_body(org, partner, hamr_status=2))
        assert first.status_code == 200, first.text
        for round_ in range(ROUNDS):
            cached = client.get(reader.url + PATH)  # the reader's memory holds the connection
            assert cached.status_code == 200, cached.text
            body = connection_body(org, partner, hamr_status=2 + round_ % 2)
            response = client.post(writer.url + PATH, json=body)
            assert response.status_code == 200, response.text
            fresh = {"Cache-Control": FRESH[round_ % len(FRESH)]}
            read = client.get(url, headers=fresh)
            assert read.status_code == 200, read.text
            assert read.json() == response.json(), f"round {round_}: {fresh} read a stale state"
            assert read.headers["etag"] == response.headers["etag"]
            head = client.head(reader.url + PATH, headers=fresh)
            assert head.headers["etag"] == response.headers["etag"], f"HEAD, round {round_}"


@pytest.mark.parametrize(
    ("value", "fresh"),
    [
        (b"no-cache", True),
        (b"max-age=0", True),
        (b"No-Store, NO-CACHE", True),
        (b'private, max-age="0"', True),
        (b"max-age=5", False),
        (b"max-age=05", False),
        (b"max-age=00", True),
        (b"no-store", False),
        (b"no-cache-please", False),
        (b"", False),
    ],
)
def test_which_cache_control_asks_for_a_fresh_read(value: bytes, fresh: bool) -> None:
    headers = [(b"accept-encoding", b"gzip"), (b"cache-control", value)]
    assert asked(headers) == (True, fresh)
    assert asked([(b"cache-control", value)]) == (False, fresh)
    twice = [(b"cache-control", b"private"), (b"cache-control", value), (b"accept", b"*/*")]
    assert asked([*twice, (b"accept-encoding", b"br"), (b"accept-encoding", b"gzip")]) == (
        True,
        fresh,
    )
