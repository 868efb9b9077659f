"""Pair operations: where a pair stands (`GET /api/v2/hamr/pair`) and failover, recover,
complete and abort, each a walk through the lifecycle in one transaction with its reason in
history, refused (409) unless the pair is where the operation starts; of two at once, exactly
one wins, in one process and across two."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.domain.model import KeyKind, Permission
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, serving, unknown_org

PAIR = "/api/v2/hamr/pair"


def link(server: ServeProcess, org: OrgKeys, partner: OrgKeys, status: int = 2) -> None:
    body = connection_body(org, partner, hamr_status=status)
    written = local_http.post(
        server.url + "/api/v2/hamr", json=body, headers=org.headers, timeout=10
    )
    assert written.status_code == 200, written.text


def pair(server: ServeProcess, caller: OrgKeys) -> dict[str, Any]:
    response = local_http.get(server.url + PAIR, headers=caller.headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def operate(
    server: ServeProcess, caller: OrgKeys | dict[str, str], operation: str, **body: Any
) -> httpx.Response:
    headers = caller.headers if isinstance(caller, OrgKeys) else caller
    return local_http.post(
        f"{server.url}{PAIR}/{operation}",
        json={"reason": "drill", **body},
        headers=headers,
        timeout=30,
    )


def status(server: ServeProcess, caller: OrgKeys) -> int:
    return int(pair(server, caller)["attributes"]["hamr_status"])


def test_both_sides_see_where_the_pair_stands(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    ours, theirs = pair(server, org), pair(server, partner)

    assert ours["type"] == "hamr_pairs"
    assert ours["id"] == theirs["id"]
    attributes = ours["attributes"]
    assert (attributes["hamr_status"], attributes["status_name"]) == (2, "PASSIVE")
    assert (attributes["health"], attributes["linked"], attributes["policy"]) == (
        "linked",
        True,
        "warn",
    )
    assert attributes["allowed_next"] == [2, 3]
    assert attributes["status_since"] == attributes["modified_at"]
    sides = {side["org_uuid"]: side for side in attributes["sides"]}
    assert sides[org.uuid]["is_primary"] is True
    assert sides[partner.uuid]["is_primary"] is False
    assert sides[org.uuid]["is_caller"] is True
    assert {s["org_uuid"]: s["is_caller"] for s in theirs["attributes"]["sides"]} == {
        org.uuid: False,
        partner.uuid: True,
    }


def test_a_one_sided_pair_and_no_pair(server: ServeProcess, org: OrgKeys, admin: Admin) -> None:
    loner = admin.create_org("us5")
    assert local_http.get(server.url + PAIR, headers=loner.headers, timeout=10).status_code == 404
    link(server, org, unknown_org())
    assert pair(server, org)["attributes"]["health"] == "one-sided"


def test_failover_walks_to_active_and_recover_back_with_reasons_in_history(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)

    failed_over = operate(server, partner, "failover", reason="us1 is down")

    assert failed_over.status_code == 200, failed_over.text
    meta = failed_over.json()["meta"]
    assert [(s["from"], s["to"]) for s in meta["steps"]] == [(2, 3), (3, 4)]
    # The answer is the pair as the walk left it: ACTIVE since its last step, as a GET says.
    answered = failed_over.json()["data"]
    assert (answered["attributes"]["hamr_status"], answered["attributes"]["status_name"]) == (
        4,
        "ACTIVE",
    )
    assert answered["attributes"]["status_since"] == meta["steps"][-1]["modified_at"]
    assert answered["attributes"]["allowed_next"] == [4, 5]
    assert answered == pair(server, partner)
    assert status(server, org) == status(server, partner) == 4
    recovered = operate(server, org, "recover", reason="us1 is back")
    assert recovered.status_code == 200
    assert status(server, partner) == 2
    rows = admin.history(org.uuid)[1:]
    assert [(r.before, r.after) and r.after["hamr_status"] for r in rows if r.after] == [3, 4, 5, 2]
    assert [r.reason for r in rows] == ["us1 is down"] * 2 + ["us1 is back"] * 2
    assert [r.org_uuid for r in rows] == [partner.uuid] * 2 + [org.uuid] * 2
    assert all(r.violation is None for r in rows)


def test_hold_stops_at_the_liminal_status_until_complete_or_abort(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    walk = [
        ("failover", {"hold": True}, 3),
        ("abort", {}, 2),
        ("failover", {"hold": True}, 3),
        ("complete", {}, 4),
        ("recover", {"hold": True}, 5),
        ("abort", {}, 4),
        ("recover", {"hold": True}, 5),
        ("complete", {}, 2),
    ]
    for operation, extra, expected in walk:
        done = operate(server, org, operation, **extra)
        assert done.status_code == 200, (operation, done.text)
        assert done.json()["data"]["attributes"]["hamr_status"] == expected, operation
        assert status(server, partner) == expected, operation


@pytest.mark.parametrize(
    ("at", "operation"),
    [(2, "recover"), (2, "complete"), (2, "abort"), (4, "failover"), (1, "failover")],
)
def test_an_operation_from_the_wrong_status_is_409_and_stores_nothing(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys, at: int, operation: str
) -> None:
    link(server, org, partner, status=at)
    before = admin.snapshot(org.uuid)

    refused = operate(server, org, operation)

    assert refused.status_code == 409
    (error,) = refused.json()["errors"]
    assert error["title"] == "Conflict"
    assert f"{operation} starts from" in error["detail"]
    assert admin.snapshot(org.uuid) == before


def test_a_dry_run_says_what_would_happen_and_stores_nothing(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    before = admin.snapshot(org.uuid)

    tried = operate(server, org, "failover", dry_run=True)

    assert tried.status_code == 200
    assert tried.headers["x-hamr-dry-run"] == "true"
    assert tried.json()["data"]["attributes"]["hamr_status"] == 4
    assert tried.json()["meta"]["dry_run"] is True
    assert admin.snapshot(org.uuid) == before
    assert status(server, partner) == 2


def test_two_operations_at_once_one_wins(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda who: operate(server, who, "failover"), [org, partner]))
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert status(server, org) == 4


def test_two_processes_agree_on_who_wins(
    server: ServeProcess,
    org: OrgKeys,
    partner: OrgKeys,
    tmp_path: Path,
) -> None:
    other = ServeProcess(server.database_url, tmp_path / "other.log").start()
    try:
        link(server, org, partner)
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(
                pool.map(
                    lambda args: operate(args[0], args[1], "failover"),
                    [(server, org), (other, partner)],
                )
            )
        assert sorted(a.status_code for a in answers) == [200, 409]
        assert status(other, org) == status(server, partner) == 4
    finally:
        other.stop()


@pytest.fixture(scope="module")
def impatient(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """Pairs in a liminal status are stuck after half a second; operations need admin."""
    yield from serving(
        database_url, tmp_path_factory, "--stuck-after", "0.5", "--transitions", "enforce"
    )


def test_a_liminal_status_that_lasts_is_stuck(
    impatient: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(impatient, org, partner)
    admin_keys = admin.service.create_key(org.uuid, KeyKind.APP, Permission.ADMIN)[1]
    headers = {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": admin_keys}
    held_at = time.monotonic()  # no later than the server's record of the move
    assert operate(impatient, headers, "failover", hold=True).status_code == 200
    assert pair(impatient, partner)["attributes"]["health"] == "linked"
    while pair(impatient, partner)["attributes"]["health"] != "stuck":
        assert time.monotonic() - held_at < 5, "a held FAILOVER never became stuck"
        time.sleep(0.05)
    assert time.monotonic() - held_at >= 0.5  # not before --stuck-after
    assert operate(impatient, headers, "complete").status_code == 200
    assert pair(impatient, partner)["attributes"]["health"] == "linked"


def test_operations_need_write_and_admin_under_enforce(
    server: ServeProcess, impatient: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    reader = admin.service.create_key(org.uuid, KeyKind.APP, Permission.READ)[1]
    read_only = {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": reader}
    refused = operate(server, read_only, "failover")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["source"] == {"header": "DD-APPLICATION-KEY"}
    not_admin = operate(impatient, org, "failover")
    assert not_admin.status_code == 403
    assert "needs admin" in not_admin.json()["errors"][0]["detail"]
    assert status(server, org) == 2


def test_bad_operation_requests_are_named(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    no_reason = local_http.post(f"{server.url}{PAIR}/failover", json={}, headers=org.headers)
    assert no_reason.status_code == 400
    assert no_reason.json()["errors"][0]["source"] == {"pointer": "/reason"}
    blank = local_http.post(
        f"{server.url}{PAIR}/failover", json={"reason": " "}, headers=org.headers
    )
    assert blank.status_code == 400
    assert blank.json()["errors"][0]["source"] == {"pointer": "/reason"}
    extra = operate(server, org, "failover", force=True)
    assert extra.status_code == 400
    assert extra.json()["errors"][0]["source"] == {"pointer": "/force"}
    unknown = operate(server, org, "teleport")
    assert unknown.status_code == 404
    assert "failover" in unknown.json()["errors"][0]["detail"]
    assert status(server, org) == 2
    metrics = local_http.get(server.url + "/metrics", timeout=10).text
    assert re.search(
        r'^hamr_pair_operations_total\{operation="failover",outcome="done"\} ', metrics, re.M
    )
