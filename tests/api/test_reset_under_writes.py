"""A reset under writes: a write in flight is answered 200 before the reset deletes it, or
refused with a 4xx after it; never a 500, and nothing answered 200 after the reset is missing.
A hook holds a write at the store, between its authentication and its commit, so that the race
is certain rather than lucky. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from hamr.testing import HamrServer, TestOrg
from hamr.usecases.service import HamrService, Upsert
from tests import local_http
from tests.conftest import database_of_its_own


class HeldWrite:
    """Holds the first durable write that reaches the store until `release` is set, and notes
    (in the server, not at the clients, whose threads answer in any order) when it returned."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.reached = threading.Event()
        self.release = threading.Event()
        self.returned_at: list[float] = []
        upsert = HamrService.upsert_connections

        def held(service: HamrService, upserts: Sequence[Upsert], *, dry_run: bool = False) -> Any:
            if dry_run or self.reached.is_set():
                return upsert(service, upserts, dry_run=dry_run)
            self.reached.set()
            assert self.release.wait(30), "the test never released the held write"
            try:
                return upsert(service, upserts, dry_run=dry_run)
            finally:
                self.returned_at.append(time.monotonic())

        monkeypatch.setattr(HamrService, "upsert_connections", held)


def wipes_started(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """When each reset began deleting, noted in the server."""
    times: list[float] = []
    wipe = HamrService.wipe

    def noted(service: HamrService) -> None:
        times.append(time.monotonic())
        wipe(service)

    monkeypatch.setattr(HamrService, "wipe", noted)
    return times


@pytest.fixture
def shared_database(
    database_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    return database_of_its_own(
        f"reset_writes_{time.monotonic_ns()}", database_url, request, tmp_path_factory
    )


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def post(url: str, org: TestOrg, partner: TestOrg, modified_by: str) -> httpx.Response:
    body = {
        "data": {
            "type": "hamr_org_connections",
            "id": org.uuid,
            "attributes": {
                "hamr_status": 1,
                "is_primary": True,
                "modified_by": modified_by,
                "target_org_uuid": partner.uuid,
            },
        }
    }
    return local_http.post(f"{url}/api/v2/hamr", json=body, headers=org.headers, timeout=60)


def stored_orgs(server: HamrServer) -> list[Any]:
    return list(json.loads(server.admin.state())["data"]["attributes"]["orgs"])


def test_a_reset_waits_for_the_write_in_flight_and_the_writes_behind_it_wait_for_the_reset(
    shared_database: str, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    with HamrServer(shared_database) as server:
        primary, backup = server.reset("demo")
        held, wiped_at = HeldWrite(monkeypatch), wipes_started(monkeypatch)
        in_flight = pool.submit(post, server.url, primary, backup, "in-flight@example.com")
        assert held.reached.wait(30)
        reset = pool.submit(server.reset, "empty")
        time.sleep(0.5)
        assert not reset.done(), "the reset went ahead of a write in flight"
        behind = pool.submit(post, server.url, primary, backup, "behind@example.com")
        time.sleep(0.3)
        assert not behind.done(), "a write arriving during the reset's wait went ahead of it"
        held.release.set()

        assert in_flight.result().status_code == 200, in_flight.result().text
        assert reset.result() == []
        late = behind.result()
        # The reset deleted the keys it authenticated with: a clear 403, never a 500.
        assert late.status_code == 403, late.text
        assert late.json()["errors"][0]["source"] == {"header": "DD-API-KEY"}
        (write_returned,), (wipe_started,) = held.returned_at, wiped_at
        assert write_returned <= wipe_started, "the reset deleted before the write had committed"
        assert stored_orgs(server) == []


def test_a_reset_by_another_process_under_a_write_is_a_409_that_changed_nothing(
    shared_database: str, monkeypatch: pytest.MonkeyPatch, pool: ThreadPoolExecutor
) -> None:
    """Two processes share no gate: the write whose org the other process deleted between its
    checks and its insert is refused by the store's foreign key, and said so."""
    with HamrServer(shared_database) as writer, HamrServer(shared_database) as resetter:
        primary, backup = writer.reset("demo")
        held = HeldWrite(monkeypatch)
        in_flight = pool.submit(post, writer.url, primary, backup, "in-flight@example.com")
        assert held.reached.wait(30)
        assert resetter.reset("empty") == []
        held.release.set()

        answer = in_flight.result()
        assert answer.status_code == 409, answer.text
        (error,) = answer.json()["errors"]
        assert "deleted while it was in flight" in error["detail"]
        assert "nothing was changed" in error["detail"]
        assert stored_orgs(writer) == []
