"""Datacenter operations (`POST/GET /api/v2/hamr/datacenters/{dc}/{operation}`): every pair
whose primary side is in the datacenter walked through the pair operation's steps, in
batches, by the server in the background; progress polled; a dry run that stores nothing;
one winner of two starts across two processes; a server killed with SIGKILL mid-walk resumed
by the next one from what is on disk; admin credentials only. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from bench.seed import seed
from hamr.domain.model import HamrStatus, KeyKind, Permission
from hamr.store.sql import open_store
from tests import docs, local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, database_of_its_own

DATACENTERS = "/api/v2/hamr/datacenters"


@dataclass
class Fresh:
    """A database of the test's own, its admin, and servers started on it."""

    url: str
    admin: Admin
    logs: Path
    servers: list[ServeProcess]

    def serve(self, *flags: str) -> ServeProcess:
        log = self.logs / f"server-{len(self.servers)}.log"
        server = ServeProcess(self.url, log, *flags)
        self.servers.append(server)
        return server.start()

    def admin_headers(
        self, org: OrgKeys, permission: Permission = Permission.ADMIN
    ) -> dict[str, str]:
        secret = self.admin.service.create_key(org.uuid, KeyKind.APP, permission)[1]
        return {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": secret}


@pytest.fixture
def fresh(
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
) -> Iterator[Fresh]:
    name = f"dc_{uuid.uuid4().hex[:10]}"
    url = database_of_its_own(name, database_url, request, tmp_path_factory)
    store = open_store(url)
    made = Fresh(url, Admin(store), tmp_path, [])
    yield made
    for server in made.servers:
        server.stop()
    store.close()


def link(server: ServeProcess, primary: OrgKeys, secondary: OrgKeys, status: int = 2) -> None:
    body = connection_body(primary, secondary, hamr_status=status)
    written = local_http.post(
        server.url + "/api/v2/hamr", json=body, headers=primary.headers, timeout=10
    )
    assert written.status_code == 200, written.text


def start(
    server: ServeProcess, headers: dict[str, str], dc: str, operation: str, **body: Any
) -> httpx.Response:
    return local_http.post(
        f"{server.url}{DATACENTERS}/{dc}/{operation}",
        json={"reason": "eu1 is down", **body},
        headers=headers,
        timeout=60,
    )


def progress(server: ServeProcess, headers: dict[str, str], dc: str, operation: str) -> Any:
    answer = local_http.get(
        f"{server.url}{DATACENTERS}/{dc}/{operation}", headers=headers, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["attributes"]


def finished(
    server: ServeProcess, headers: dict[str, str], dc: str, operation: str, within: float = 60
) -> Any:
    deadline = time.monotonic() + within
    while (found := progress(server, headers, dc, operation))["state"] != "finished":
        assert time.monotonic() < deadline, f"the {operation} of {dc} never finished: {found}"
        time.sleep(0.1)
    return found


def status_of(fresh: Fresh, org: OrgKeys) -> int | None:
    connection = fresh.admin.connection(org.uuid)
    return None if connection is None else int(connection.hamr_status)


def test_the_lifecycle_walks_every_pair_whose_primary_is_in_the_datacenter(
    fresh: Fresh,
) -> None:
    server = fresh.serve()
    create = fresh.admin.create_org
    walked = [(create("eu1"), create("us1")) for _ in range(3)]
    # The primary is the target side here: the pair is still the datacenter's.
    reversed_primary, reversed_secondary = create("eu1"), create("us1")
    local_http.post(
        server.url + "/api/v2/hamr",
        json=connection_body(reversed_secondary, reversed_primary, hamr_status=2, is_primary=False),
        headers=reversed_secondary.headers,
        timeout=10,
    ).raise_for_status()
    walked.append((reversed_primary, reversed_secondary))
    elsewhere = (create("us1"), create("eu1"))  # its primary is in us1: left alone
    already = (create("eu1"), create("us1"))  # ACTIVE already: refused, not forced
    for primary, secondary in [*walked[:3], elsewhere]:
        link(server, primary, secondary)
    link(server, *already, status=4)
    headers = fresh.admin_headers(elsewhere[0])

    answer = start(server, headers, "eu1", "failover", hold=True)
    assert answer.status_code == 202, answer.text
    assert answer.headers["location"] == f"{DATACENTERS}/eu1/failover"
    job = answer.json()["data"]
    assert job["type"] == "hamr_datacenter_operations"
    assert (job["attributes"]["state"], job["attributes"]["total"]) == ("running", 5)
    done = finished(server, headers, "eu1", "failover")
    assert (done["done"], done["refused"], done["remaining"]) == (4, 1, 0)
    (refusal,) = done["refusals"]
    assert (refusal["org_uuid"], refusal["detail"]) == (
        already[1].uuid,
        "The pair is 4 ACTIVE; failover starts from 2 PASSIVE.",
    )
    assert {status_of(fresh, p) for pair in walked for p in pair} == {HamrStatus.FAILOVER}
    assert status_of(fresh, elsewhere[0]) == HamrStatus.PASSIVE

    for operation, expected in (
        ("complete", HamrStatus.ACTIVE),
        ("recover", HamrStatus.RECOVERY),
        ("abort", HamrStatus.ACTIVE),
    ):
        body = {"hold": True} if operation == "recover" else {}
        assert start(server, headers, "eu1", operation, **body).status_code == 202
        assert finished(server, headers, "eu1", operation)["done"] >= 4
        assert {status_of(fresh, p) for pair in walked for p in pair} == {expected}

    # Each step a history row of the surviving side, with the reason, under the policy.
    history = fresh.admin.history(walked[0][1].uuid)
    steps = [(row.after or {}).get("hamr_status") for row in history]
    assert steps[-4:] == [3, 4, 5, 4]
    assert {row.reason for row in history[-4:]} == {"eu1 is down"}
    assert {row.violation for row in history[-4:]} == {None}
    assert {row.org_uuid for row in history[-4:]} == {walked[0][1].uuid}
    assert history[-1].modified_by == "hamr pair abort --datacenter eu1"
    # The server's own caches follow: a GET answers the new status at once.
    read = local_http.get(server.url + "/api/v2/hamr", headers=walked[0][1].headers, timeout=10)
    assert read.json()["data"]["attributes"]["hamr_status"] == 4
    counts = local_http.get(f"{server.url}{DATACENTERS}/eu1", headers=headers, timeout=10).json()
    assert counts["data"]["attributes"]["by_status"]["ACTIVE"] == 5


def test_a_dry_run_says_what_would_happen_and_stores_nothing(fresh: Fresh) -> None:
    server = fresh.serve()
    primary, secondary = fresh.admin.create_org("eu1"), fresh.admin.create_org("us1")
    other, its_partner = fresh.admin.create_org("eu1"), fresh.admin.create_org("us1")
    link(server, primary, secondary)
    link(server, other, its_partner, status=1)
    headers = fresh.admin_headers(primary)
    before = [fresh.admin.snapshot(org.uuid) for org in (primary, secondary, other)]

    tried = start(server, headers, "eu1.prod.dog", "failover", dry_run=True)

    assert tried.status_code == 200, tried.text
    assert tried.headers["x-hamr-dry-run"] == "true"
    attributes = tried.json()["data"]["attributes"]
    assert (attributes["dry_run"], attributes["total"], attributes["done"]) == (True, 2, 1)
    assert attributes["refused"] == 1
    assert attributes["refusals"][0]["detail"] == (
        "The pair is 1 ONBOARDING; failover starts from 2 PASSIVE."
    )
    assert [fresh.admin.snapshot(org.uuid) for org in (primary, secondary, other)] == before
    nothing = local_http.get(f"{server.url}{DATACENTERS}/eu1/failover", headers=headers, timeout=10)
    assert nothing.status_code == 404
    assert nothing.json()["errors"][0]["detail"] == "No failover of eu1 has been started."


def test_only_admin_credentials_run_or_follow_it_and_enforce_keeps_its_moves(
    fresh: Fresh,
) -> None:
    server = fresh.serve("--transitions", "enforce")
    primary, secondary = fresh.admin.create_org("eu1"), fresh.admin.create_org("us1")
    link(server, primary, secondary)
    for permission in (Permission.READ, Permission.WRITE):
        headers = fresh.admin_headers(primary, permission)
        refused = start(server, headers, "eu1", "failover")
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["detail"].startswith(
            f"This DD-APPLICATION-KEY has the {permission.value} permission; this request "
            "needs admin."
        )
        looked = local_http.get(f"{server.url}{DATACENTERS}/eu1", headers=headers, timeout=10)
        assert looked.status_code == 403
    assert status_of(fresh, primary) == HamrStatus.PASSIVE
    headers = fresh.admin_headers(primary)
    unknown = start(server, headers, "mars1", "failover")
    assert unknown.status_code == 404
    assert "'mars1' is not a known datacenter" in unknown.json()["errors"][0]["detail"]
    wrong = start(server, headers, "eu1", "failover", batch_size=0)
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["source"] == {"pointer": "/batch_size"}
    assert start(server, headers, "eu1", "failover").status_code == 202
    assert finished(server, headers, "eu1", "failover")["done"] == 1
    assert status_of(fresh, primary) == HamrStatus.ACTIVE
    # Under enforce, as under warn: lifecycle moves, stored without a broken rule.
    rows = fresh.admin.history(secondary.uuid)[-2:]
    assert [(row.after or {}).get("hamr_status") for row in rows] == [3, 4]
    assert {row.violation for row in rows} == {None}


def test_of_two_starts_on_two_processes_one_wins(fresh: Fresh) -> None:
    seed(fresh.url, 400)  # 200 pairs, primary in us1
    first, second = fresh.serve(), fresh.serve()
    org = fresh.admin.create_org("us1")
    headers = fresh.admin_headers(org)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda server: start(server, headers, "us1", "failover", batch_size=2),
                [first, second],
            )
        )
    assert sorted(a.status_code for a in answers) == [202, 409]
    (won,) = [a for a in answers if a.status_code == 202]
    (lost,) = [a for a in answers if a.status_code == 409]
    job_id = won.json()["data"]["id"]
    detail = lost.json()["errors"][0]["detail"]
    assert f"The datacenter operation {job_id} (failover of us1" in detail
    assert detail.endswith(f"Follow it at {DATACENTERS}/us1/failover.")
    done = finished(second, headers, "us1", "failover")
    assert (done["done"], done["refused"]) == (200, 0)
    # Walked once each: two rows a pair, whichever server walked which batch.
    assert [len(fresh.admin.history(org_uuid)) for org_uuid in _seeded(0, 4)] == [2, 2, 2, 2]


def _seeded(first: int, count: int) -> list[str]:
    """The surviving (odd, eu1) side of seeded pairs."""
    from bench.seed import org_uuid

    return [org_uuid(2 * i + 1) for i in range(first, first + count)]


def test_a_server_killed_mid_walk_is_resumed_from_disk(fresh: Fresh) -> None:
    pairs = 400  # in batches of 5: the kill at 50 done lands mid-walk with 70 batches to spare
    seed(fresh.url, 2 * pairs)
    doomed = fresh.serve()
    org = fresh.admin.create_org("us1")
    headers = fresh.admin_headers(org)
    assert start(doomed, headers, "us1", "failover", batch_size=5).status_code == 202
    deadline = time.monotonic() + 60
    while progress(doomed, headers, "us1", "failover")["done"] < 50:
        assert time.monotonic() < deadline, "the walk did not reach 50 pairs in a minute"
        time.sleep(0.02)
    doomed.stop(signal.SIGKILL)

    # What is on disk is whole batches: every pair the job counts is ACTIVE, no other is.
    job = fresh.admin.service.datacenter_operations.latest("us1", "failover")
    assert job.running
    assert 0 < job.done < pairs
    statuses = [int(fresh.admin.connection(o).hamr_status) for o in _seeded(0, pairs)]
    assert statuses == [4] * job.done + [2] * (pairs - job.done)

    successor = fresh.serve()
    done = finished(successor, headers, "us1", "failover", within=120)
    assert (done["done"], done["refused"], done["total"]) == (pairs, 0, pairs)
    statuses = [int(fresh.admin.connection(o).hamr_status) for o in _seeded(0, pairs)]
    assert statuses == [4] * pairs
    sample = _seeded(job.done - 2, 4)  # around where the first server died
    assert [len(fresh.admin.history(o)) for o in sample] == [2, 2, 2, 2]


def test_the_documented_curl_block_runs_as_printed(fresh: Fresh) -> None:
    docs.shell_tools("curl", "bash")
    server = fresh.serve()
    primary, secondary = fresh.admin.create_org("eu1"), fresh.admin.create_org("us1")
    link(server, primary, secondary)
    admin_key = fresh.admin_headers(primary)["DD-APPLICATION-KEY"]
    ran = docs.run_block(
        "docs/failover.md",
        "Datacenter operations",
        1,
        url=server.url,
        env={"DD_API_KEY": primary.api_key, "ADMIN_APP_KEY": admin_key},
    )
    assert ran.returncode == 0, ran.stderr
    started, followed = docs.documents(ran.stdout)
    assert started["data"]["attributes"]["state"] == "running"
    assert followed["data"]["id"] == started["data"]["id"]
    assert finished(server, fresh.admin_headers(primary), "eu1", "failover")["done"] == 1


def test_a_retried_start_under_its_idempotency_key_gets_the_same_job(fresh: Fresh) -> None:
    server = fresh.serve()
    primary, secondary = fresh.admin.create_org("eu1"), fresh.admin.create_org("us1")
    link(server, primary, secondary)
    headers = {**fresh.admin_headers(primary), "Idempotency-Key": str(uuid.uuid4())}
    first = start(server, headers, "eu1", "failover")
    assert first.status_code == 202, first.text
    finished(server, headers, "eu1", "failover")

    again = start(server, headers, "eu1", "failover")
    assert again.status_code == 202
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    other = start(server, headers, "eu1", "failover", reason="another reason")
    assert other.status_code == 422
    assert other.json()["errors"][0]["source"] == {"header": "Idempotency-Key"}
    # One job, one walk: the link's row, then FAILOVER and ACTIVE.
    assert len(fresh.admin.history(secondary.uuid)) == 3


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_kept_waiting_by_a_lock_is_tried_again_and_told_as_a_wait_not_an_outage(
    fresh: Fresh,
) -> None:
    """PostgreSQL only: a lock another session holds on the connections keeps each batch past
    --db-timeout (statement_timeout), which is the database answering slowly, not away."""
    pairs = 20
    seed(fresh.url, 2 * pairs)
    server = fresh.serve("--db-timeout", "0.5")
    headers = fresh.admin_headers(fresh.admin.create_org("us1"))
    with psycopg.connect(fresh.url) as blocker:
        blocker.execute("LOCK TABLE connections IN SHARE MODE")
        assert start(server, headers, "us1", "failover").status_code == 202
        deadline = time.monotonic() + 30
        while server.log().count("a datacenter operation waits for the database") < 2:
            assert time.monotonic() < deadline, "no batch was kept waiting"
            time.sleep(0.1)
        assert progress(server, headers, "us1", "failover")["done"] == 0
    done = finished(server, headers, "us1", "failover")
    assert (done["done"], done["refused"]) == (pairs, 0)
    assert "the database is unreachable" not in server.log()
