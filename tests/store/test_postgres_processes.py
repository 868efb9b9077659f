"""Several hamr processes on one PostgreSQL behave as one service, and ride out an outage."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.server.background import OUTAGE_POLL_SECONDS
from hamr.settings import Settings
from hamr.store.migrate import HEAD_REVISION
from hamr.store.sql import open_store
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import (
    ATTRIBUTE_NAMES,
    GENEROUS_RATE_LIMITS,
    QUOTA_HEADERS,
    OrgKeys,
    ServeProcess,
    connection_body,
    free_port,
    quota_headers,
    run_cli,
)
from tests.postgres import PostgresServer, binaries_or_skip

PATH = "/api/v2/hamr"
# The contract's attributes of a connection document (it carries the live API's besides).
CONTRACT = (*ATTRIBUTE_NAMES, "modified_at")


def make_orgs(database_url: str, datacenter: str, count: int) -> list[OrgKeys]:
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, Settings().datacenters)
        made = [service.create_org(f"pg {uuid.uuid4().hex[:6]}", datacenter) for _ in range(count)]
    finally:
        store.close()
    return [OrgKeys(o.uuid, o.name, o.datacenter, api, app) for o, api, app in made]


def fresh_database(postgres: PostgresServer) -> str:
    name = f"hamr_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    return postgres.url_for(name)


def seen_by_partner(attributes: dict[str, Any], writer: OrgKeys) -> dict[str, Any]:
    """The contract's attributes of a pair's connection as `writer` sees it, from the other
    side: the same status and modification, the other org primary, and `writer` the target."""
    return {
        **{name: attributes[name] for name in CONTRACT},
        "is_primary": not attributes["is_primary"],
        "target_org_datacenter": writer.datacenter,
        "target_org_name": writer.name,
        "target_org_uuid": writer.uuid,
    }


def test_two_servers_on_one_database_act_as_one(postgres: PostgresServer, tmp_path: Path) -> None:
    database_url = fresh_database(postgres)
    orgs = make_orgs(database_url, "us1", 10)
    # Each org its own pair: a partner takes one connection, so a shared one would refuse all
    # orgs but the first.
    partners = dict(zip((o.uuid for o in orgs), make_orgs(database_url, "eu1", 10), strict=True))
    servers = [ServeProcess(database_url, tmp_path / f"s{i}.log").start() for i in range(2)]
    try:
        with local_http.client(timeout=30) as client:
            first, second = servers
            partner = partners[orgs[0].uuid]
            body = connection_body(orgs[0], partner, hamr_status=1)
            written = client.post(first.url + PATH, json=body, headers=orgs[0].headers)
            assert written.status_code == 200
            read = client.get(second.url + PATH, headers=orgs[0].headers)
            assert read.json() == written.json()
            # The partner reads the pair's connection through the other server too.
            read = client.get(second.url + PATH, headers=partner.headers)
            assert read.status_code == 200
            assert {name: read.json()["data"]["attributes"][name] for name in CONTRACT} == (
                seen_by_partner(written.json()["data"]["attributes"], orgs[0])
            )

            plan = list(zip(itertools.cycle(servers), itertools.cycle(orgs), range(200)))

            def post(step: tuple[ServeProcess, OrgKeys, int]) -> tuple[str, httpx.Response]:
                server, org, n = step
                body = connection_body(org, partners[org.uuid], hamr_status=n % 6)
                return org.uuid, client.post(server.url + PATH, json=body, headers=org.headers)

            with ThreadPoolExecutor(max_workers=20) as pool:
                results = list(pool.map(post, plan))

        assert [r.status_code for _, r in results if r.status_code >= 500] == []
        acknowledged: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for org_uuid, response in results:
            if response.status_code == 200:
                acknowledged[org_uuid].append(response.json())
        assert sum(len(v) for v in acknowledged.values()) == 200
        check = open_store(database_url)
        try:
            service = HamrService(check.unit_of_work, check.view, Settings().datacenters)
            with local_http.client(timeout=10) as client:
                for org in orgs:
                    partner = partners[org.uuid]
                    history = service.history(org.uuid)
                    expected = 21 if org is orgs[0] else 20
                    assert len(history) == expected
                    assert service.history(partner.uuid) == history  # the pair's one history
                    stamps = [str(h.after["modified_at"]) for h in history if h.after is not None]
                    assert len(stamps) == len(history)
                    assert stamps == sorted(stamps)
                    assert len(set(stamps)) == len(stamps)
                    last = max(
                        acknowledged[org.uuid],
                        key=lambda d: d["data"]["attributes"]["modified_at"],
                    )
                    for server in servers:
                        got = client.get(server.url + PATH, headers=org.headers).json()
                        assert got == last
                        got = client.get(server.url + PATH, headers=partner.headers).json()
                        assert {name: got["data"]["attributes"][name] for name in CONTRACT} == (
                            seen_by_partner(last["data"]["attributes"], org)
                        )
        finally:
            check.close()
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def own_postgres() -> Any:
    """A server of the test's own, to be stopped and started under a running hamr."""
    server = PostgresServer(binaries_or_skip(), free_port()).init()
    server.create_database()
    yield server
    server.destroy()


def test_an_outage_gives_503s_and_the_server_recovers(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    database_url = own_postgres.url
    (org,) = make_orgs(database_url, "us1", 1)
    (partner, unseen) = make_orgs(database_url, "eu1", 2)
    server = ServeProcess(database_url, tmp_path / "server.log").start()
    acknowledged = 0
    try:
        with local_http.client(base_url=server.url, headers=org.headers, timeout=10) as client:
            for n in range(5):
                body = connection_body(org, partner, hamr_status=n % 6)
                assert client.post(PATH, json=body).status_code == 200
                acknowledged += 1

            own_postgres.stop()
            # What the caches hold is still served; anything that needs the database is not.
            cached = client.get(PATH)
            assert cached.status_code == 200
            assert cached.json()["data"]["attributes"]["hamr_status"] == 4
            for encoding in ("identity", "gzip"):  # both GET paths answer alike
                asked = {**unseen.headers, "Accept-Encoding": encoding}
                by_lane = client.get(PATH, headers=asked)
                by_app = client.get(PATH + "?via=app", headers=asked)
                assert by_lane.content == by_app.content
                assert by_lane.headers.get("content-encoding") == by_app.headers.get(
                    "content-encoding"
                )
            posted = client.post(PATH, json=body)
            # The org's cached keys were counted before the database was needed: its
            # bucket's headers, as always. Credentials that could not be checked name no
            # bucket: none.
            assert set(quota_headers(posted)) == QUOTA_HEADERS, posted.headers
            assert quota_headers(by_lane) == quota_headers(by_app) == {}
            for response in (by_lane, by_app, posted):
                assert response.status_code == 503
                assert response.headers["retry-after"] == "1"
                (error,) = response.json()["errors"]
                assert error["status"] == "503"
                assert "unreachable" in error["detail"]
            # Readiness says so without keys; liveness and metrics still answer.
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "the database is unreachable"
            assert client.get("/healthz").status_code == 200
            assert client.get("/metrics").status_code == 200

            own_postgres.start()
            deadline = time.monotonic() + 15
            while (response := client.get(PATH, headers=unseen.headers)).status_code != 404:
                assert response.status_code == 503
                assert time.monotonic() < deadline, "hamr did not recover"
                time.sleep(0.2)
            body = connection_body(org, partner, hamr_status=4)
            assert client.post(PATH, json=body).status_code == 200
            acknowledged += 1
            assert client.get("/readyz").json() == {
                "status": "ready",
                "checks": {"database": "ok", "rate_limit_storage": "ok"},
            }
            # The poller, trying every OUTAGE_POLL_SECONDS while the database was away, sees
            # it back within that.
            deadline = time.monotonic() + OUTAGE_POLL_SECONDS + 2
            while '"message":"the database is back"' not in server.log():
                assert time.monotonic() < deadline, server.log()
                time.sleep(0.05)
    finally:
        server.stop()
    # The outage is told in two lines, not a traceback every poll.
    log = server.log()
    assert log.count('"message":"the database is unreachable"') == 1, log
    assert log.count('"message":"the database is back"') == 1, log
    assert "could not check storage for changes" not in log
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, Settings().datacenters)
        assert len(service.history(org.uuid)) == acknowledged
    finally:
        store.close()


def test_db_upgrade_on_postgresql(postgres: PostgresServer) -> None:
    database_url = fresh_database(postgres)
    for _ in range(2):  # a second upgrade finds nothing to do
        result = run_cli("db", "upgrade", database_url=database_url)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"database schema at revision {HEAD_REVISION}"


def test_a_hung_database_stalls_only_the_requests_that_need_it(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    """PostgreSQL's processes stopped (SIGSTOP): connections stay open and nothing answers,
    as in a network partition. Probes and cached GETs keep answering at once; what needs the
    database gets a 503 within HAMR_DB_TIMEOUT_SECONDS; and all recovers when it answers."""
    database_url = own_postgres.url
    (org,) = make_orgs(database_url, "us1", 1)
    (partner, unseen) = make_orgs(database_url, "eu1", 2)
    server = ServeProcess(
        database_url,
        tmp_path / "server.log",
        env={
            **os.environ,
            "HAMR_RATE_LIMITS": GENEROUS_RATE_LIMITS,
            "HAMR_DB_TIMEOUT_SECONDS": "1",
            "HAMR_WRITE_TIMEOUT_SECONDS": "1.5",
        },
    ).start()
    stopped: list[int] = []
    try:
        with local_http.client(base_url=server.url, headers=org.headers, timeout=10) as client:
            body = connection_body(org, partner, hamr_status=2)
            assert client.post(PATH, json=body).status_code == 200
            assert client.get(PATH).status_code == 200  # in memory now
            stopped = own_postgres.processes()
            for pid in stopped:
                os.kill(pid, signal.SIGSTOP)

            started = time.monotonic()
            uncached = client.get(PATH, headers=unseen.headers)
            waited = time.monotonic() - started
            assert uncached.status_code == 503, uncached.text
            assert uncached.headers["retry-after"] == "1"
            assert "did not answer within 1 s" in uncached.json()["errors"][0]["detail"]
            assert waited < 3
            # A write is not cancelled, but its writer is not kept waiting either.
            started = time.monotonic()
            body = connection_body(org, partner, hamr_status=3, modified_by="hung@example.com")
            write = client.post(PATH, json=body)
            assert write.status_code == 503, write.text
            assert write.headers["retry-after"] == "1"
            assert "may or may not have been stored" in write.json()["errors"][0]["detail"]
            assert time.monotonic() - started < 3.5
            for _ in range(20):  # while requests that need the database wait, these do not
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                cached = client.get(PATH)
                assert cached.status_code == 200
                assert time.monotonic() - started < 0.5
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "did not answer within 1 s" in ready.json()["checks"]["database"]

            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
            stopped = []
            deadline = time.monotonic() + 15
            while (answer := client.get(PATH, headers=unseen.headers)).status_code != 404:
                assert answer.status_code == 503
                assert time.monotonic() < deadline, "hamr did not recover"
                time.sleep(0.2)
            assert client.get("/readyz").status_code == 200
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
        server.stop()
