"""Issue 29's first "done when": a user's project, made in a temporary folder as a team would
lay it out (ini options for the plugin, a conftest, a DR tool written with Datadog's official
client, tests using each helper, a marker and a scenario file), passes with `pytest`; and the
same tests fail when hamr's answer is wrong (a plugin loaded with `-p` makes it so)."""

from __future__ import annotations

import json

import pytest

from tests.test_pytest_plugin import UNSTABLE_IS_EXPECTED

pytest_plugins = ["pytester"]

PYTEST_INI = """
[pytest]
hamr_transitions = enforce
hamr_wire = contract
hamr_stuck_after_seconds = 600
hamr_sites = eu1 us1 ap1
hamr_database = sqlite:///{database}
"""

# The team's DR tool: fail the pair over from the backup org's side, as its runbook says.
DR_TOOL = '''
from datadog_api_client import ApiClient
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_attributes_request import (
    HamrOrgConnectionAttributesRequest,
)
from datadog_api_client.v2.model.hamr_org_connection_data_request import (
    HamrOrgConnectionDataRequest,
)
from datadog_api_client.v2.model.hamr_org_connection_request import HamrOrgConnectionRequest
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus
from datadog_api_client.v2.model.hamr_org_connection_type import HamrOrgConnectionType

PASSIVE, FAILOVER, ACTIVE = 2, 3, 4


class NotFailingOver(Exception):
    """The pair is somewhere a failover must not start from."""


def status(configuration):
    with ApiClient(configuration) as client:
        read = HighAvailabilityMultiRegionApi(client).get_hamr_org_connection()
    return read.data.attributes.hamr_status.value


def fail_over(configuration, org_uuid, operator):
    """Walk the pair to ACTIVE from PASSIVE or from a failover left halfway; the status."""
    with ApiClient(configuration) as client:
        api = HighAvailabilityMultiRegionApi(client)
        now = api.get_hamr_org_connection().data.attributes
        current = now.hamr_status.value
        if current == ACTIVE:
            return current
        if current not in (PASSIVE, FAILOVER):
            raise NotFailingOver(f"the pair is at {current}")
        for step in ([FAILOVER] if current == PASSIVE else []) + [ACTIVE]:
            attributes = HamrOrgConnectionAttributesRequest(
                hamr_status=HamrOrgConnectionStatus(step),
                is_primary=now.is_primary,
                modified_by=operator,
                target_org_uuid=now.target_org_uuid,
                target_org_name=now.target_org_name,
                target_org_datacenter=now.target_org_datacenter,
            )
            data = HamrOrgConnectionDataRequest(
                id=org_uuid, type=HamrOrgConnectionType.HAMR_ORG_CONNECTIONS, attributes=attributes
            )
            done = api.create_hamr_org_connection(HamrOrgConnectionRequest(data=data))
        return done.data.attributes.hamr_status.value
'''

CONFTEST = """
import pytest

import dr


@pytest.fixture
def drill(hamr):
    \"\"\"Run the DR tool as the backup org, the side that takes over.\"\"\"
    return lambda: dr.fail_over(hamr.configuration(hamr.secondary), hamr.secondary.uuid, "dr-bot")
"""

# The pair half-way back from a failover: where the tool must refuse to start one.
# fmt: off
SCENARIO = {
    "data": {
        "type": "hamr_emulator_state",
        "id": "state",
        "attributes": {
            "format": 1,
            "orgs": [
                {"uuid": "11111111-1111-4111-8111-111111111111", "name": "Shop EU",
                 "datacenter": "eu1", "created_at_us": 1767225600000000},
                {"uuid": "22222222-2222-4222-8222-222222222222", "name": "Shop US",
                 "datacenter": "us1", "created_at_us": 1767225600000000},
            ],
            "keys": [
                {"id": f"key-{n}", "org_uuid": org, "kind": kind, "secret": secret,
                 "created_at_us": 1767225600000000, "revoked_at_us": None, "permission": "write"}
                for n, (org, kind, secret) in enumerate([
                    ("11111111-1111-4111-8111-111111111111", "api", "0" * 31 + "1"),
                    ("11111111-1111-4111-8111-111111111111", "app", "0" * 39 + "1"),
                    ("22222222-2222-4222-8222-222222222222", "api", "0" * 31 + "2"),
                    ("22222222-2222-4222-8222-222222222222", "app", "0" * 39 + "2"),
                ])
            ],
            "connections": [
                {"id": "33333333-3333-4333-8333-333333333333",
                 "org_uuid": "11111111-1111-4111-8111-111111111111",
                 "target_org_uuid": "22222222-2222-4222-8222-222222222222",
                 "target_org_name": "Shop US", "target_org_datacenter": "us1", "linked": True,
                 "org_is_primary": True, "hamr_status": 5, "modified_at_us": 1767225600000000,
                 "modified_by": "scenario"},
            ],
            "connection_members": [
                {"org_uuid": org, "connection_id": "33333333-3333-4333-8333-333333333333"}
                for org in ("11111111-1111-4111-8111-111111111111",
                            "22222222-2222-4222-8222-222222222222")
            ],
            "history": [],
        },
    }
}
# fmt: on

TESTS = """
import httpx
import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)

import dr


def statuses(rows):
    return [row["attributes"]["after"]["hamr_status"] for row in rows]


def test_the_drill_fails_over_and_the_history_says_who(hamr, drill):
    assert drill() == dr.ACTIVE
    rows = hamr.history(hamr.primary)
    assert statuses(rows) == [1, 2, 3, 4]
    assert {row["attributes"]["modified_by"] for row in rows[-2:]} == {"dr-bot"}
    assert hamr.pair(hamr.primary)["data"]["attributes"]["status_name"] == "ACTIVE"


def test_a_failover_left_halfway_is_completed(hamr, drill):
    hamr.set_status("FAILOVER", primary=hamr.primary)
    assert dr.status(hamr.configuration(hamr.primary)) == dr.FAILOVER
    assert drill() == dr.ACTIVE
    rows = hamr.history(hamr.primary)
    assert statuses(rows) == [1, 2, 3, 4]
    assert rows[-2]["attributes"]["modified_by"] == "hamr-emulator"


def test_the_session_server_is_the_ini_options(hamr):
    pair = hamr.pair(hamr.secondary)["data"]["attributes"]
    assert (pair["policy"], pair["health"]) == ("enforce", "linked")
    assert set(hamr.sites) == {"eu1", "us1", "ap1"}
    raw = httpx.get(hamr.url + "/api/v2/hamr", headers=hamr.secondary.headers).json()
    assert "hamr_status" in raw["data"]["attributes"]
    assert "HamrStatus" not in raw["data"]["attributes"]
    hamr.set_status(3, primary=hamr.primary)
    hamr.clock.advance(590)
    assert hamr.pair(hamr.primary)["data"]["attributes"]["health"] == "linked"
    hamr.clock.advance(20)
    assert hamr.pair(hamr.primary)["data"]["attributes"]["health"] == "stuck"


def test_each_key_does_what_its_permission_allows(hamr, drill):
    reader = hamr.configuration(hamr.secondary, permission="read")
    with ApiClient(reader) as client:
        api = HighAvailabilityMultiRegionApi(client)
        assert api.get_hamr_org_connection().data.attributes.hamr_status.value == dr.PASSIVE
    with pytest.raises(ForbiddenException):
        dr.fail_over(reader, hamr.secondary.uuid, "reader")
    url = hamr.url + "/api/v2/hamr/pair/failover"
    body = {"reason": "game day"}
    refused = httpx.post(url, json=body, headers=hamr.secondary.headers_as("write"))
    assert refused.status_code == 403 and "admin" in refused.text
    done = httpx.post(url, json=body, headers=hamr.secondary.headers_as("admin"))
    assert done.status_code == 200, done.text
    assert hamr.pair(hamr.primary)["data"]["attributes"]["status_name"] == "ACTIVE"


@pytest.mark.hamr(transitions="off", wire="live")
def test_a_test_of_its_own_server(hamr):
    assert hamr.pair(hamr.primary)["data"]["attributes"]["policy"] == "off"
    raw = httpx.get(hamr.url + "/api/v2/hamr", headers=hamr.secondary.headers).json()
    assert raw["data"]["attributes"]["HamrStatus"] == dr.PASSIVE
    assert "hamr_status" not in raw["data"]["attributes"]


def test_the_tool_refuses_a_pair_in_recovery(hamr, drill):
    shop_eu, shop_us = hamr.scenario("scenarios/recovering.json")
    assert (shop_eu.name, shop_us.api_key) == ("Shop EU", "0" * 31 + "2")
    assert hamr.secondary == shop_us
    with pytest.raises(dr.NotFailingOver):
        drill()
    assert hamr.pair(shop_eu)["data"]["attributes"]["status_name"] == "RECOVERY"
    assert hamr.history(shop_eu) == []
"""

# Wrong answers, one plugin each, and the project's tests that notice it.
NOTICED_BY = {
    "status_always_passive": ["the_drill_fails_over", "halfway", "refuses_a_pair_in_recovery"],
    "set_status_does_nothing": ["halfway", "the_session_server_is_the_ini_options"],
    "ini_options_ignored": ["the_session_server_is_the_ini_options", "each_key_does"],
}
MUTANTS = {
    "status_always_passive": """
from hamr.api import wire
from hamr.domain.model import Connection

wire._ATTRIBUTES["contract"] = lambda c: {**Connection.attributes(c), "hamr_status": 2}
""",
    "set_status_does_nothing": """
from hamr.emulator import pair_admin

pair_admin.set_pair = lambda service, move: ([], service.pairs.report(
    service.require_org(move.primary)))
""",
    "ini_options_ignored": """
from hamr import pytest_plugin

pytest_plugin._ini = lambda config: {
    name: default for name, (_, default) in pytest_plugin.OPTIONS.items()}
""",
}


def users_project(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=PYTEST_INI.format(database=pytester.path / "hamr.db"))
    pytester.makepyfile(dr=DR_TOOL, conftest=CONFTEST, test_dr=TESTS, **MUTANTS)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "recovering.json").write_text(json.dumps(SCENARIO, indent=2))


def run(pytester: pytest.Pytester, *extra: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q", *extra
    )


def test_a_users_project_passes_with_pytest(pytester: pytest.Pytester) -> None:
    users_project(pytester)
    run(pytester).assert_outcomes(passed=6)
    assert (pytester.path / "hamr.db").stat().st_size > 0  # hamr_database was the one used


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_and_fails_when_hamrs_answer_is_wrong(pytester: pytest.Pytester, mutant: str) -> None:
    users_project(pytester)
    ran = run(pytester, "-p", mutant)
    failed = [line for line in ran.outlines if line.startswith("FAILED test_dr.py::")]
    for test in NOTICED_BY[mutant]:
        assert any(test in line for line in failed), ran.stdout.str()
    assert ran.parseoutcomes()["failed"] == len(NOTICED_BY[mutant])
