"""SIGTERM: hamr stops accepting, lets in-flight requests finish, and closes the database
cleanly; every write it acknowledged is stored, whether it arrived just before the signal or
during the shutdown."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from hamr.domain.model import Org
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.sql import open_store
from hamr.usecases.demo import PRODUCTION
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import (
    ATTRIBUTE_NAMES,
    EmulatorServer,
    OrgKeys,
    ServeProcess,
    connection_body,
    sqlite_url,
    unknown_org,
)

PATH = "/api/v2/hamr"
WRITERS = 8
CONTRACT = (*ATTRIBUTE_NAMES, "modified_at")


def create_orgs(database_url: str, datacenters: list[str]) -> list[OrgKeys]:
    """Orgs made through the service, with the store closed again before the server starts:
    the server must be the database's last user for its clean close to show."""
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
        made = []
        for index, datacenter in enumerate(datacenters):
            org, api_key, app_key = service.create_org(f"org-{index}", datacenter)
            made.append(OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key))
        return made
    finally:
        store.close()


def test_sigterm_during_a_burst_of_posts_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    database = tmp_path / "hamr.db"
    database_url = sqlite_url(database)
    # Each writer names a partner of its own, so that no write is refused for naming another
    # writer's: half of them an organization of this hamr (the writer's first POST links the
    # two, and every later one writes the pair's connection), half one hamr does not know.
    orgs = create_orgs(database_url, ["us1"] * WRITERS + ["eu1"] * (WRITERS // 2))
    writers, known = orgs[:WRITERS], orgs[WRITERS:]
    partners = {
        writer.uuid: known[index // 2] if index % 2 == 0 else unknown_org()
        for index, writer in enumerate(writers)
    }
    server = ServeProcess(database_url, tmp_path / "server.log", "--shutdown-grace", "5").start()

    acknowledged: dict[str, list[dict[str, object]]] = {org.uuid: [] for org in writers}
    posting = threading.Barrier(WRITERS + 1)

    def write_until_refused(org: OrgKeys) -> None:
        with local_http.client(base_url=server.url, timeout=10) as client:
            index = 0
            posting.wait()
            while True:
                body = connection_body(
                    org,
                    partners[org.uuid],
                    hamr_status=index % 6,
                    modified_by=f"w{index}@example.com",
                )
                try:
                    response = client.post(PATH, json=body, headers=org.headers)
                except httpx.TransportError:
                    return  # refused or cut off: not acknowledged, so nothing is promised
                if response.status_code != 200:
                    return
                attributes = response.json()["data"]["attributes"]
                # History keeps the contract's attributes (the live API's repeat them).
                acknowledged[org.uuid].append({name: attributes[name] for name in CONTRACT})
                index += 1

    threads = [threading.Thread(target=write_until_refused, args=(org,)) for org in writers]
    for thread in threads:
        thread.start()
    posting.wait()
    time.sleep(0.5)  # a burst in full flow
    assert server.process is not None
    server.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(timeout=30)
    server.process.wait(timeout=15)

    # Uvicorn finishes its shutdown and then re-raises the signal it caught.
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()
    log = server.log()
    assert "stopped; the database is closed" in log
    assert "Traceback" not in log
    # The last connection closed cleanly: SQLite checkpointed its write-ahead log away.
    wal = database.with_name(database.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0

    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
        for org in writers:
            acked = acknowledged[org.uuid]
            assert acked, "every writer got writes acknowledged before the signal"
            history = service.history(org.uuid)
            # The writer's rows only: a known partner, which never writes, adds none.
            assert {entry.org_uuid for entry in history} <= {org.uuid}
            stored = [entry.after for entry in history]
            # Everything acknowledged is stored, in order; at most one more write (in flight
            # when its connection closed) may have been stored without its answer arriving.
            assert stored[: len(acked)] == acked
            assert len(stored) - len(acked) in (0, 1)
            # And it is what the writer's side reads, and a known partner's side with it.
            partner = partners[org.uuid]
            connection = service.read_connection(Org(org.uuid, org.name, org.datacenter))
            assert connection.attributes() == stored[-1]
            assert connection.target_org_uuid == partner.uuid
            if partner in known:
                mirror = service.read_connection(
                    Org(partner.uuid, partner.name, partner.datacenter)
                )
                assert (mirror.target_org_uuid, mirror.is_primary, mirror.modified_at) == (
                    org.uuid,
                    not connection.is_primary,
                    connection.modified_at,
                )
    finally:
        store.close()


def fired(server: EmulatorServer) -> int:
    """How often the emulator's one fault rule has fired."""
    (rule,) = server.admin.rules()
    return int(rule["fired"])


def test_a_request_still_running_when_the_grace_expires_is_cut_off(tmp_path: Path) -> None:
    """`--shutdown-grace` bounds the wait: a request slower than the grace (the emulator holds
    it back 30 s) is cut off when it expires, with a 503 saying so and one warning line (no
    traceback), and the server still closes the database and exits cleanly, after the grace
    and not the request's 30 s."""
    grace = 1
    server = EmulatorServer(
        sqlite_url(tmp_path / "hamr.db"), tmp_path / "server.log", "--shutdown-grace", str(grace)
    )
    server.start()
    org = server.reset()[PRODUCTION.name]
    server.admin.add({"path": PATH, "method": "GET", "latency": {"fixed_ms": 30_000}})

    outcome: list[object] = []

    def wait_for_the_slow_answer() -> None:
        try:
            outcome.append(local_http.get(f"{server.url}{PATH}", headers=org.headers, timeout=60))
        except httpx.TransportError as error:
            outcome.append(error)

    slow_reader = threading.Thread(target=wait_for_the_slow_answer)
    slow_reader.start()
    deadline = time.monotonic() + 10
    while fired(server) == 0:  # the rule is holding the GET back
        assert time.monotonic() < deadline, "the slow GET never reached the server"
        time.sleep(0.02)
    assert server.process is not None
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=20)
    took = time.monotonic() - signalled
    slow_reader.join(timeout=10)
    server.stop()  # it has exited: this closes its admin client

    assert grace <= took < grace + 5, f"exited {took:.1f} s after SIGTERM"
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()
    (answer,) = outcome
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.headers["connection"] == "close"
    (error,) = answer.json()["errors"]
    assert "shutdown grace ran out" in error["detail"]
    log = server.log()
    assert log.count("a request was cut off: the shutdown grace ran out") == 1, log
    assert "stopped; the database is closed" in log
    assert "Traceback" not in log
