"""`--transitions`: moves outside the HAMR lifecycle are stored with a warning (`warn`, the
default, so the seed examples keep working), refused with a 409 naming the rule (`enforce`),
or stored silently (`off`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli, serving

PATH = "/api/v2/hamr"
ATTRIBUTES = "/data/attributes"
WARNING = "x-hamr-warning"


@pytest.fixture(scope="module")
def enforcing(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serving(database_url, tmp_path_factory, "--transitions", "enforce")


@pytest.fixture(scope="module")
def permissive(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serving(database_url, tmp_path_factory, "--transitions", "off")


def post(
    server: ServeProcess, caller: OrgKeys, partner: OrgKeys, **attributes: Any
) -> httpx.Response:
    body = connection_body(caller, partner, **attributes)
    return local_http.post(server.url + PATH, json=body, headers=caller.headers, timeout=10)


def metric(server: ServeProcess, before: str, after: str, verdict: str) -> float:
    text = local_http.get(server.url + "/metrics", timeout=10).text
    found = re.search(
        rf'^hamr_transitions_total{{from="{before}",to="{after}",verdict="{verdict}"}} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def test_warn_stores_a_move_outside_the_lifecycle_and_says_which_rule_it_broke(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    counted = metric(server, "PASSIVE", "ACTIVE", "warned")
    first_moves = metric(server, "none", "PASSIVE", "allowed")
    assert WARNING not in post(server, org, partner, hamr_status=2).headers  # none -> PASSIVE

    skipped = post(server, org, partner, hamr_status=4)  # PASSIVE -> ACTIVE skips FAILOVER

    assert skipped.status_code == 200
    assert skipped.json()["data"]["attributes"]["hamr_status"] == 4
    warning = skipped.headers[WARNING]
    assert "2 PASSIVE -> 4 ACTIVE is not a move of the HAMR lifecycle" in warning
    assert "2 PASSIVE, 3 FAILOVER" in warning
    rows = admin.history(org.uuid)
    assert [row.violation is not None for row in rows] == [False, True]
    assert rows[1].violation is not None
    assert "2 PASSIVE -> 4 ACTIVE" in rows[1].violation
    assert metric(server, "PASSIVE", "ACTIVE", "warned") == counted + 1
    assert metric(server, "none", "PASSIVE", "allowed") == first_moves + 1
    assert "move outside the lifecycle stored" in server.log()
    shown = run_cli("history", "--org", org.uuid, database_url=server.database_url)
    assert "VIOLATION: 2 PASSIVE -> 4 ACTIVE" in shown.stdout.splitlines()[1]


def test_warn_lets_a_drill_through_without_warnings(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    for status in (1, 2, 3, 4, 5, 2, 3, 2, 2):  # with an abort and a metadata update
        written = post(server, org, partner, hamr_status=status)
        assert written.status_code == 200
        assert WARNING not in written.headers, (status, written.headers[WARNING])
    assert all(row.violation is None for row in admin.history(org.uuid))


def test_enforce_refuses_a_move_outside_the_lifecycle_and_stores_nothing(
    enforcing: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(enforcing, org, partner, hamr_status=2).status_code == 200
    before = admin.snapshot(org.uuid), admin.snapshot(partner.uuid)
    counted = metric(enforcing, "PASSIVE", "RECOVERY", "refused")

    refused = post(enforcing, org, partner, hamr_status=5)

    assert refused.status_code == 409
    (error,) = refused.json()["errors"]
    assert (error["status"], error["title"]) == ("409", "Conflict")
    assert error["source"] == {"pointer": f"{ATTRIBUTES}/hamr_status"}
    assert error["detail"] == (
        "2 PASSIVE -> 5 RECOVERY is not a move of the HAMR lifecycle; from 2 PASSIVE the next "
        "status may be: 2 PASSIVE, 3 FAILOVER. Nothing was stored."
    )
    assert (admin.snapshot(org.uuid), admin.snapshot(partner.uuid)) == before
    assert metric(enforcing, "PASSIVE", "RECOVERY", "refused") == counted + 1


def test_enforce_points_at_the_status_as_the_client_spelled_it(
    enforcing: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    body["data"]["attributes"] = {
        "HamrStatus": 4,
        "IsPrimary": True,
        "ModifiedBy": "sre",
        "TargetOrgUuid": partner.uuid,
    }
    refused = local_http.post(enforcing.url + PATH, json=body, headers=org.headers, timeout=10)
    assert refused.status_code == 409
    (error,) = refused.json()["errors"]
    assert error["source"] == {"pointer": f"{ATTRIBUTES}/HamrStatus"}
    assert error["detail"].startswith("no connection yet -> 4 ACTIVE")


def test_enforce_never_takes_unspecified_and_lets_either_side_walk_the_lifecycle(
    enforcing: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(enforcing, org, partner, hamr_status=1).status_code == 200
    assert post(enforcing, org, partner, hamr_status=0).status_code == 409
    walk = [(partner, org, 2), (partner, org, 3), (org, partner, 4), (partner, org, 5)]
    for caller, other, status in [*walk, (org, partner, 4), (org, partner, 5), (org, partner, 2)]:
        written = post(enforcing, caller, other, hamr_status=status, is_primary=caller is org)
        assert written.status_code == 200, (status, written.text)


def test_off_stores_any_move_silently(
    permissive: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    for status in (4, 0, 3, 1):
        written = post(permissive, org, partner, hamr_status=status)
        assert written.status_code == 200
        assert WARNING not in written.headers
    assert all(row.violation is None for row in admin.history(org.uuid))


def test_the_policy_is_a_setting_shown_by_config() -> None:
    shown = run_cli("config", "--transitions", "enforce")
    assert re.search(r"^transitions\s+enforce\s+\(flag\)$", shown.stdout, re.MULTILINE)
    default = run_cli("config", env={"PATH": "/usr/bin:/bin"})
    assert re.search(r"^transitions\s+warn\s+\(default\)$", default.stdout, re.MULTILINE)
    wrong = run_cli("serve", "--transitions", "maybe")
    assert wrong.returncode == 2
    assert "maybe" in wrong.stderr
