"""`hamr pair show|failover|recover|complete|abort`: the same service, rules and history as
the API's, from the command line; a running server sees what they did."""

from __future__ import annotations

import json
import time

import httpx

from tests.conftest import Admin, HamrServer, OrgKeys, connection_body, run_cli


def pair_cli(server: HamrServer, *args: str) -> tuple[int, str, str]:
    done = run_cli("pair", *args, database_url=server.database_url)
    return done.returncode, done.stdout, done.stderr


def test_a_drill_from_the_cli_is_seen_by_the_server_and_kept_in_history(
    server: HamrServer, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        httpx.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code == 200
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
        read = httpx.get(f"{server.url}/api/v2/hamr", headers=partner.headers).json()
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
    server: HamrServer, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        httpx.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code == 200
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
