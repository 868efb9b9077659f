"""`--read-database`: a site's hamr reads what misses its cache from its own node, a streaming
replica, while the replica's copy is within `--max-staleness` of the leader's (measured from
log positions), and from the leader past it; every GET says how old its answer may be
(`X-Hamr-Staleness-Ms`); and while the leader cannot be reached, the replica's copy is served
only within the bound, a 503 after. A real primary and a real replica (pg_basebackup)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from tests import local_http
from tests.conftest import OrgKeys, ServeProcess, connection_body, free_port
from tests.postgres import PostgresServer, binaries_or_skip
from tests.store.test_postgres_processes import make_orgs

PATH = "/api/v2/hamr"
FRESH = {"Cache-Control": "no-cache"}
BOUND_SECONDS = 1.0


@pytest.fixture
def primary() -> Iterator[PostgresServer]:
    server = PostgresServer(binaries_or_skip(), free_port()).init()
    server.create_database()
    yield server
    server.destroy()


@pytest.fixture
def replica(primary: PostgresServer) -> Iterator[PostgresServer]:
    server = PostgresServer(primary.bindir, free_port()).follow(primary)
    yield server
    server.destroy()


@pytest.fixture
def site(
    primary: PostgresServer, replica: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    log = tmp_path_factory.mktemp("read_replica") / "server.log"
    server = ServeProcess(
        primary.url,
        log,
        *("--read-database", replica.url, "--max-staleness", str(BOUND_SECONDS)),
        *("--db-timeout", "1"),
    ).start()
    yield server
    server.stop()


def on_replica(replica: PostgresServer, sql: str) -> None:
    with psycopg.connect(replica.url, autocommit=True) as node:
        node.execute(sql)


def status_and_staleness(site: ServeProcess, org: OrgKeys) -> tuple[int, int]:
    answer = local_http.get(site.url + PATH, headers={**org.headers, **FRESH}, timeout=10)
    assert answer.status_code == 200, answer.text
    staleness = int(answer.headers["x-hamr-staleness-ms"])
    return answer.json()["data"]["attributes"]["hamr_status"], staleness


def write(site: ServeProcess, org: OrgKeys, partner: OrgKeys, status: int) -> None:
    body = connection_body(org, partner, hamr_status=status)
    assert (
        local_http.post(site.url + PATH, json=body, headers=org.headers, timeout=10).status_code
        == 200
    )


def test_reads_come_from_the_replica_within_the_bound_and_from_the_leader_past_it(
    site: ServeProcess, primary: PostgresServer, replica: PostgresServer
) -> None:
    (org,) = make_orgs(primary.url, "us1", 1)
    (partner,) = make_orgs(primary.url, "eu1", 1)
    write(site, org, partner, 1)
    time.sleep(0.5)
    status, staleness = status_and_staleness(site, org)
    assert status == 1
    assert 0 < staleness <= BOUND_SECONDS * 1000  # from the replica, caught up
    ready = local_http.get(site.url + "/readyz", timeout=10).json()["checks"]
    assert ready["read_database"].startswith("replica, its copy at most ")

    on_replica(replica, "SELECT pg_wal_replay_pause()")
    write(site, org, partner, 2)
    time.sleep(BOUND_SECONDS + 1)
    # The replica still lacks the write, and is past the bound: the leader answers.
    assert status_and_staleness(site, org) == (2, 0)
    on_replica(replica, "SELECT pg_wal_replay_resume()")
    time.sleep(1)
    status, staleness = status_and_staleness(site, org)
    assert status == 2
    assert 0 < staleness <= BOUND_SECONDS * 1000


def test_without_the_leader_the_replica_serves_within_the_bound_then_a_503(
    site: ServeProcess, primary: PostgresServer
) -> None:
    (org,) = make_orgs(primary.url, "us1", 1)
    (partner,) = make_orgs(primary.url, "eu1", 1)
    write(site, org, partner, 2)
    time.sleep(0.5)
    primary.stop("immediate")
    status, staleness = status_and_staleness(site, org)
    assert status == 2
    assert staleness <= BOUND_SECONDS * 1000
    time.sleep(BOUND_SECONDS + 0.5)
    refused = local_http.get(site.url + PATH, headers=org.headers, timeout=10)  # its cache too
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "cannot reach the database's leader" in refused.json()["errors"][0]["detail"]
