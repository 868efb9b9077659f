"""A pair's "status since" (`GET /api/v2/hamr/pair`, the page) is kept with its chain's head
rather than found by reading the org's whole history: after every POST and pair operation it
is what that reading finds, on SQLite and on PostgreSQL, through a running server."""

from __future__ import annotations

from typing import Any

from hamr.domain.model import format_timestamp
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body

PAIR = "/api/v2/hamr/pair"


def walked(admin: Admin, org: OrgKeys) -> int:
    """Status since as it was found before it was kept: back from the connection's newest
    history row while the rows say its status, the time of the earliest of them (the
    connection's own time when the newest says another)."""
    with admin.store.unit_of_work() as uow:
        link = uow.repository.links_of([org.uuid])[org.uuid]
    since = link.modified_at_us
    for row in reversed([r for r in admin.history(org.uuid) if r.connection_id == link.id]):
        if row.after is None or row.after.get("hamr_status") != int(link.hamr_status):
            break
        since = row.recorded_at_us
    return since


def since(server: ServeProcess, caller: OrgKeys) -> tuple[int, str]:
    response = local_http.get(server.url + PAIR, headers=caller.headers, timeout=10)
    assert response.status_code == 200, response.text
    attributes = response.json()["data"]["attributes"]
    return attributes["hamr_status"], attributes["status_since"]


def post(server: ServeProcess, writer: OrgKeys, other: OrgKeys, status: int) -> None:
    body = connection_body(writer, other, hamr_status=status, is_primary=writer.datacenter == "us1")
    written = local_http.post(
        server.url + "/api/v2/hamr", json=body, headers=writer.headers, timeout=10
    )
    assert written.status_code == 200, written.text


def operate(server: ServeProcess, caller: OrgKeys, operation: str, **body: Any) -> None:
    done = local_http.post(
        f"{server.url}{PAIR}/{operation}",
        json={"reason": "drill", **body},
        headers=caller.headers,
        timeout=30,
    )
    assert done.status_code == 200, done.text


def test_status_since_follows_posts_and_pair_operations(server: ServeProcess, admin: Admin) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    steps = [
        ("org posts ONBOARDING", lambda: post(server, org, partner, 1), 1),
        ("the partner posts PASSIVE", lambda: post(server, partner, org, 2), 2),
        ("the org posts PASSIVE again", lambda: post(server, org, partner, 2), 2),
        ("a dry run of failover", lambda: operate(server, org, "failover", dry_run=True), 2),
        ("failover (FAILOVER, then ACTIVE)", lambda: operate(server, org, "failover"), 4),
        ("the partner posts ACTIVE again", lambda: post(server, partner, org, 4), 4),
        ("recover, held at RECOVERY", lambda: operate(server, org, "recover", hold=True), 5),
        ("complete", lambda: operate(server, partner, "complete"), 2),
    ]
    seen = []
    for what, step, status in steps:
        step()
        expected = format_timestamp(walked(admin, org))
        assert since(server, org) == (status, expected), what
        assert since(server, partner) == (status, expected), what
        seen.append(expected)
    # Kept while the status holds, moved when it changes.
    assert seen[1] == seen[2] == seen[3]
    assert seen[4] == seen[5]
    assert len({seen[0], seen[1], seen[4], seen[6], seen[7]}) == 5
