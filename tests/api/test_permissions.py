"""Permissions, as Datadog splits reading DR status from changing it: application keys and
tokens carry read, write (the default) or admin; a break-glass `X-Hamr-Override` stores a move
the policy refuses, and needs admin under `enforce`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from hamr.domain.model import KeyKind, Permission
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli, serving

PATH = "/api/v2/hamr"
OVERRIDE = "X-Hamr-Override"


def app_key(admin: Admin, org: OrgKeys, permission: Permission) -> dict[str, str]:
    secret = admin.service.create_key(org.uuid, KeyKind.APP, permission)[1]
    return {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": secret}


def token(admin: Admin, org: OrgKeys, permission: Permission) -> dict[str, str]:
    secret = admin.service.create_key(org.uuid, KeyKind.TOKEN, permission)[1]
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def enforcing(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serving(database_url, tmp_path_factory, "--transitions", "enforce")


def post(server: ServeProcess, headers: dict[str, str], body: object) -> httpx.Response:
    return local_http.post(server.url + PATH, json=body, headers=headers, timeout=10)


@pytest.mark.parametrize("credential", ["app key", "token"])
def test_a_read_credential_reads_but_cannot_write(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys, credential: str
) -> None:
    assert post(server, org.headers, connection_body(org, partner)).status_code == 200
    make = app_key if credential == "app key" else token
    reader = make(admin, org, Permission.READ)
    before = admin.snapshot(org.uuid)

    read = local_http.get(server.url + PATH, headers=reader, timeout=10)
    refused = post(server, reader, connection_body(org, partner, hamr_status=3))

    assert read.status_code == 200
    assert refused.status_code == 403
    (error,) = refused.json()["errors"]
    header = "DD-APPLICATION-KEY" if credential == "app key" else "Authorization"
    assert error["source"] == {"header": header}
    assert "has the read permission" in error["detail"]
    assert "needs write" in error["detail"]
    assert admin.snapshot(org.uuid) == before


def test_an_override_needs_admin_under_enforce_and_is_kept_in_history(
    enforcing: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(enforcing, org.headers, connection_body(org, partner)).status_code == 200
    skip = connection_body(org, partner, hamr_status=4)  # PASSIVE -> ACTIVE: refused
    assert post(enforcing, org.headers, skip).status_code == 409

    writer = {**org.headers, OVERRIDE: "region down, FAILOVER step lost"}
    not_admin = post(enforcing, writer, skip)
    assert not_admin.status_code == 403
    assert "needs admin" in not_admin.json()["errors"][0]["detail"]

    forced = {**app_key(admin, org, Permission.ADMIN), OVERRIDE: "region down"}
    stored = post(enforcing, forced, skip)

    assert stored.status_code == 200, stored.text
    assert stored.headers["x-hamr-warning"].startswith("Stored by override, though 2 PASSIVE")
    last = admin.history(org.uuid)[-1]
    assert last.reason == "region down"
    assert last.violation is not None
    assert "2 PASSIVE -> 4 ACTIVE" in last.violation
    assert (
        local_http.get(enforcing.url + PATH, headers=partner.headers).json()["data"]["attributes"][
            "hamr_status"
        ]
        == 4
    )
    metrics = local_http.get(enforcing.url + "/metrics", timeout=10).text
    assert re.search(
        r'^hamr_transitions_total\{from="PASSIVE",to="ACTIVE",verdict="overridden"\} 1\.0$',
        metrics,
        re.MULTILINE,
    )


def test_under_warn_an_override_needs_only_write(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(server, org.headers, connection_body(org, partner)).status_code == 200
    forced = {**org.headers, OVERRIDE: "drill"}
    stored = post(server, forced, connection_body(org, partner, hamr_status=5))
    assert stored.status_code == 200
    assert admin.history(org.uuid)[-1].reason == "drill"
    allowed = post(server, forced, connection_body(org, partner, hamr_status=2))
    assert allowed.status_code == 200  # nothing to override: no reason recorded
    assert admin.history(org.uuid)[-1].reason is None


def test_a_blank_override_reason_is_a_400_naming_the_header(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    refused = post(server, {**org.headers, OVERRIDE: ""}, connection_body(org, partner))
    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["source"] == {"header": OVERRIDE}
    assert admin.snapshot(org.uuid) == (None, 0)


def test_keys_are_created_and_listed_with_their_permission(
    server: ServeProcess, org: OrgKeys
) -> None:
    url = server.database_url
    made = run_cli(
        "key",
        "create",
        "--org",
        org.uuid,
        "--type",
        "app",
        "--permission",
        "read",
        "--json",
        database_url=url,
    )
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["permission"] == "read"
    minted = run_cli(
        "token", "create", "--org", org.uuid, "--permission", "admin", "--json", database_url=url
    )
    assert json.loads(minted.stdout)["permission"] == "admin"
    listed = {
        k["id"]: k
        for k in json.loads(
            run_cli("key", "list", "--org", org.uuid, "--json", database_url=url).stdout
        )
    }
    assert listed[created["id"]]["permission"] == "read"
    assert sorted(k["permission"] for k in listed.values()) == ["admin", "read", "write", "write"]
    text = run_cli("key", "list", "--org", org.uuid, database_url=url).stdout
    assert re.search(rf"^{created['id']}  app   read ", text, re.MULTILINE)
    api = run_cli(
        "key",
        "create",
        "--org",
        org.uuid,
        "--type",
        "api",
        "--permission",
        "read",
        database_url=url,
    )
    assert api.returncode == 2
    assert "API keys" in api.stderr
