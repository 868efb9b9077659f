"""`hamr pair show|failover|recover|complete|abort|unlink`: the same service, rules and history
as the API's, from the command line, each with `--json`; a running server sees what they did."""

from __future__ import annotations

import json
import time

from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli


def pair_cli(server: ServeProcess, *args: str) -> tuple[int, str, str]:
    done = run_cli("pair", *args, database_url=server.database_url)
    return done.returncode, done.stdout, done.stderr


def test_a_drill_from_the_cli_is_seen_by_the_server_and_kept_in_history(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )

    code, out, _ = pair_cli(server, "show", "--org", partner.uuid, "--json")
    assert code == 0
    shown = json.loads(out)
    assert (shown["status_name"], shown["health"], shown["allowed_next"]) == (
        "PASSIVE",
        "linked",
        [2, 3],
    )
    assert {s["org_uuid"]: s["is_primary"] for s in shown["sides"]} == {
        org.uuid: True,
        partner.uuid: False,
    }

    code, out, _ = pair_cli(
        server, "failover", "--org", partner.uuid, "--reason", "drill", "--hold"
    )
    assert code == 0
    assert out.splitlines()[0] == "walked the pair PASSIVE -> FAILOVER"
    code, out, _ = pair_cli(server, "complete", "--org", org.uuid, "--reason", "drill")
    assert out.splitlines()[0] == "walked the pair FAILOVER -> ACTIVE"
    assert "ACTIVE (4) since" in out

    deadline = time.monotonic() + 5
    while True:
        read = local_http.get(f"{server.url}/api/v2/hamr", headers=partner.headers).json()
        if read["data"]["attributes"]["hamr_status"] == 4:
            break
        assert time.monotonic() < deadline, read
        time.sleep(0.05)
    rows = admin.history(org.uuid)
    assert [(r.key_id, r.reason) for r in rows[1:]] == [("hamr cli", "drill")] * 2

    code, out, _ = pair_cli(server, "recover", "--org", org.uuid, "--reason", "r", "--dry-run")
    assert (code, out.splitlines()[0]) == (0, "would walk the pair ACTIVE -> RECOVERY -> PASSIVE")
    assert len(admin.history(org.uuid)) == len(rows)


def test_an_operation_from_the_wrong_status_is_one_line_and_exit_2(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )
    before = admin.snapshot(org.uuid)

    code, out, err = pair_cli(server, "recover", "--org", org.uuid, "--reason", "no")

    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "Error: The pair is 2 PASSIVE; recover starts from 4 ACTIVE. GET /api/v2/hamr/pair "
        "shows where it stands and which moves it allows."
    ]
    assert admin.snapshot(org.uuid) == before
    code, _, err = pair_cli(server, "show", "--org", admin.create_org("us5").uuid)
    assert code == 2
    assert "has no HAMR connection yet" in err


def test_json_says_what_an_operation_walked_and_a_dry_run_would(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )

    code, out, _ = pair_cli(
        server, "failover", "--org", org.uuid, "--reason", "what if", "--dry-run", "--json"
    )
    would = json.loads(out)
    assert code == 0
    assert (would["steps"], would["dry_run"], would["reason"]) == (
        [{"from": 2, "to": 3}, {"from": 3, "to": 4}],
        True,
        "what if",
    )
    assert would["status_name"] == "PASSIVE"  # where the pair stays
    code, out, _ = pair_cli(server, "failover", "--org", org.uuid, "--reason", "go", "--json")
    done = json.loads(out)
    assert (code, done["steps"], done["dry_run"], done["status_name"]) == (
        0,
        [{"from": 2, "to": 3}, {"from": 3, "to": 4}],
        False,
        "ACTIVE",
    )


def test_a_blank_reason_is_one_line_and_exit_2_that_changes_nothing(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )
    before = admin.snapshot(org.uuid), len(admin.history(org.uuid))

    for verb in ("failover", "unlink"):
        code, out, err = pair_cli(server, verb, "--org", org.uuid, "--reason", "  ")
        assert (code, out) == (2, "")
        assert err.strip() == "Error: the reason must say why, in 1 to 255 characters"

    assert (admin.snapshot(org.uuid), len(admin.history(org.uuid))) == before


def test_unlink_says_what_it_unlinked_in_json_and_keeps_the_reason_in_history(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )
    rows = len(admin.history(org.uuid))

    code, out, _ = pair_cli(server, "unlink", "--org", partner.uuid, "--dry-run", "--json")
    would = json.loads(out)
    assert code == 0
    assert (would["dry_run"], would["status_name"], would["reason"]) == (True, "PASSIVE", None)
    assert [s["org_uuid"] for s in would["sides"]] == [org.uuid, partner.uuid]
    assert admin.connection(org.uuid) is not None
    assert len(admin.history(org.uuid)) == rows

    code, out, _ = pair_cli(
        server, "unlink", "--org", partner.uuid, "--reason", "decommissioned", "--json"
    )
    done = json.loads(out)
    assert (code, done["dry_run"], done["connection_id"]) == (0, False, would["connection_id"])
    assert admin.connection(org.uuid) is None
    kept = admin.history(org.uuid)[rows:]
    assert [(r.after, r.reason) for r in kept] == [(None, "decommissioned")] * 2
