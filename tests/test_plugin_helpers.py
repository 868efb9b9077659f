"""The plugin's helpers for a test's set-up and checks (`pair`, `set_status`, `history`,
`scenario`) and what they stand on: `POST /_hamr/pair` and scenario files, whose keys carry
their secrets, as `hamr serve --state` takes them. The documented examples run as printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus

from hamr.domain.keys import hash_secret
from hamr.domain.model import HamrStatus
from hamr.emulator.client import AdminApiError
from hamr.settings import ADMIN_HEADER
from hamr.testing import HamrServer
from tests import docs, local_http
from tests.test_pytest_plugin import UNSTABLE_IS_EXPECTED

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def server() -> Iterator[HamrServer]:
    with HamrServer() as running:
        yield running


def scenario() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(docs.block("docs/emulator.md", "Scenarios", 0))
    return document


def status_of(document: dict[str, Any]) -> str:
    return str(document["data"]["attributes"]["status_name"])


def test_the_documented_plugin_examples_pass_as_printed(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=docs.block("README.md", "Test your code against it", 1))
    pytester.makepyfile(
        test_readme=docs.block("README.md", "Test your code against it", 2),
        test_scenario=docs.block("docs/emulator.md", "Scenarios", 1),
    )
    (pytester.path / "active.json").write_text(json.dumps(scenario()))
    ran = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q"
    )
    ran.assert_outcomes(passed=2)


def test_set_status_takes_numbers_names_and_either_enum(server: HamrServer) -> None:
    primary, secondary = server.reset()
    for status, name in [
        (3, "FAILOVER"),
        ("active", "ACTIVE"),
        (HamrStatus.RECOVERY, "RECOVERY"),
        (HamrOrgConnectionStatus(2), "PASSIVE"),
    ]:
        assert status_of(server.set_status(status, primary=secondary)) == name
        assert status_of(server.pair(primary)) == name
    sides = server.pair(primary)["data"]["attributes"]["sides"]
    assert {side["org_uuid"]: side["is_primary"] for side in sides} == {
        primary.uuid: False,
        secondary.uuid: True,
    }
    with pytest.raises(TypeError):
        server.set_status(2.0, primary=primary)


def test_a_status_set_is_the_emulators_doing_in_the_history_as_documented(
    server: HamrServer,
) -> None:
    primary, _ = server.reset()
    server.set_status("ACTIVE", primary=primary)  # PASSIVE -> ACTIVE skips FAILOVER
    row = server.history(primary)[-1]
    shown = json.loads(docs.block("docs/emulator.md", "What a test gets", 0))
    assert row.keys() == shown.keys()
    assert row["attributes"].keys() == shown["attributes"].keys()
    assert row["attributes"]["after"].keys() == shown["attributes"]["after"].keys()
    attributes = row["attributes"]
    assert (attributes["modified_by"], attributes["key_id"]) == ("hamr-emulator", "hamr-emulator")
    assert "not a move of the HAMR lifecycle" in attributes["violation"]
    assert attributes["reason"].startswith("set by the emulator's admin API")


def test_the_documented_curl_sets_the_demo_pairs_status(server: HamrServer) -> None:
    docs.shell_tools("curl")
    primary, _ = server.reset()
    ran = docs.run_block(
        "docs/emulator.md",
        "A pair's status, for a test's set-up",
        0,
        url=server.url,
        env={"HAMR_ADMIN_TOKEN": server.admin_token},
    )
    assert ran.returncode == 0, ran.stderr
    assert status_of(json.loads(ran.stdout)) == "FAILOVER"
    assert status_of(server.pair(primary)) == "FAILOVER"


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ({"status": 9, "primary": "550e8400-e29b-41d4-a716-446655440000"}, 400, "/status"),
        ({"status": 3}, 400, "/primary"),
        ({"status": 3, "primary": "550e8400-e29b-41d4-a716-446655440000", "x": 1}, 400, "x is"),
        ({"status": 3, "primary": "11111111-1111-4111-8111-111111111111"}, 404, "no organi"),
    ],
)
def test_a_wrong_pair_move_is_refused_and_changes_nothing(
    server: HamrServer, body: dict[str, Any], status: int, said: str
) -> None:
    primary, _ = server.reset()
    answer = local_http.post(
        f"{server.url}/_hamr/pair", json=body, headers={ADMIN_HEADER: server.admin_token}
    )
    assert answer.status_code == status, answer.text
    assert said in answer.text
    assert len(server.history(primary)) == 2


def test_a_pair_move_needs_the_admin_token(server: HamrServer) -> None:
    primary, _ = server.reset()
    body = {"status": 3, "primary": primary.uuid}
    answer = local_http.post(f"{server.url}/_hamr/pair", json=body, headers=primary.headers)
    assert answer.status_code == 403
    assert ADMIN_HEADER in answer.text


def test_an_org_without_a_pair_cannot_be_moved(server: HamrServer) -> None:
    server.reset("empty")
    document = scenario()
    document["data"]["attributes"]["connections"] = []
    document["data"]["attributes"]["connection_members"] = []
    server.admin.load_state(json.dumps(document).encode())
    with pytest.raises(AdminApiError, match="has no HAMR connection yet"):
        server.admin.move_pair(3, "11111111-1111-4111-8111-111111111111")


def test_a_scenarios_keys_work_and_only_their_hashes_are_kept(
    server: HamrServer, tmp_path: Path
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario()))
    shop_eu, shop_us = server.scenario(path)
    assert shop_eu.admin_app_key
    assert (shop_eu.app_key, shop_eu.read_app_key) == ("", "")
    read = local_http.get(f"{server.url}/api/v2/hamr", headers=shop_us.headers)
    assert read.status_code == 200, read.text
    assert read.json()["data"]["attributes"]["hamr_status"] == 4
    assert status_of(server.pair(shop_eu)) == "ACTIVE"
    kept = server.admin.state().decode()
    for key in scenario()["data"]["attributes"]["keys"]:
        assert key["secret"] not in kept
        assert hash_secret(key["secret"]) in kept


def test_hamr_serve_state_takes_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario()))
    keys = scenario()["data"]["attributes"]["keys"]
    headers = {"DD-API-KEY": keys[2]["secret"], "DD-APPLICATION-KEY": keys[3]["secret"]}
    with HamrServer(state_file=str(path)) as started:
        read = local_http.get(f"{started.url}/api/v2/hamr", headers=headers)
    assert read.status_code == 200, read.text


def test_a_secret_and_a_hash_that_disagree_are_refused(server: HamrServer) -> None:
    document = scenario()
    rows = document["data"]["attributes"]["keys"]
    rows[0]["secret_hash"] = hash_secret(rows[0]["secret"])  # both, agreeing: fine
    rows[1]["secret_hash"] = hash_secret("another")
    rows[2]["secret"] = 42
    with pytest.raises(AdminApiError) as refused:
        server.admin.load_state(json.dumps(document).encode())
    assert str(refused.value).splitlines() == [
        "at /data/attributes/keys/1/secret_hash: secret_hash is not the SHA-256 of secret; "
        "drop one.",
        "at /data/attributes/keys/2/secret: secret must be a non-empty string.",
        "at /data/attributes/keys/2/secret_hash: secret_hash is missing; give it a value.",
    ]
