"""The `hamr` pytest plugin, as a user meets it: a test file of theirs, written with Datadog's
official client, run by pytest in a fresh process that finds the plugin by its entry point.
And `hamr.testing.HamrServer`, the same server in a thread, without pytest."""

from __future__ import annotations

import re

import httpx
import pytest

from hamr.testing import HamrServer
from tests.conftest import ROOT

pytest_plugins = ["pytester"]
# The official client warns on every call of an operation it marks unstable, as HAMR's are.
UNSTABLE_IS_EXPECTED = "ignore:Using unstable operation:UserWarning"

USERS_TESTS = """
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


def set_status(hamr, org, partner, status):
    with ApiClient(hamr.configuration(org)) as client:
        return HighAvailabilityMultiRegionApi(client).create_hamr_org_connection(
            HamrOrgConnectionRequest(
                data=HamrOrgConnectionDataRequest(
                    id=org.uuid,
                    type=HamrOrgConnectionType.HAMR_ORG_CONNECTIONS,
                    attributes=HamrOrgConnectionAttributesRequest(
                        hamr_status=HamrOrgConnectionStatus(status),
                        is_primary=False,
                        modified_by="dr-automation",
                        target_org_uuid=partner.uuid,
                        target_org_name=partner.name,
                        target_org_datacenter=partner.datacenter,
                    ),
                )
            )
        )


def test_the_demo_pair_is_there_at_rest(hamr):
    assert hamr.url.startswith("http://127.0.0.1:")
    assert (hamr.primary.name, hamr.primary.datacenter) == ("Production Org", "eu1")
    assert (hamr.secondary.name, hamr.secondary.datacenter) == ("Production Backup Org", "us1")
    with ApiClient(hamr.configuration(hamr.secondary)) as client:
        read = HighAvailabilityMultiRegionApi(client).get_hamr_org_connection()
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
    assert read.data.attributes.target_org_uuid == hamr.primary.uuid


def test_a_failover_is_in_the_history_at_the_clocks_time(hamr):
    hamr.clock.advance(3600)
    set_status(hamr, hamr.secondary, hamr.primary, 3)
    done = set_status(hamr, hamr.secondary, hamr.primary, 4)
    assert done.data.attributes.hamr_status == HamrOrgConnectionStatus(4)
    rows = hamr.history(hamr.primary)
    assert [row["attributes"]["after"]["hamr_status"] for row in rows] == [1, 2, 3, 4]
    assert rows[-1]["attributes"]["recorded_at"] >= hamr.clock.now()[:4]


def test_each_test_starts_from_the_demo_pair_again_at_the_real_time(hamr):
    rows = hamr.history(hamr.primary)
    assert [row["attributes"]["after"]["hamr_status"] for row in rows] == [1, 2]
    with ApiClient(hamr.configuration(hamr.secondary)) as client:
        read = HighAvailabilityMultiRegionApi(client).get_hamr_org_connection()
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
"""


def test_a_users_suite_uses_the_fixture_through_the_official_client(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_users_dr=USERS_TESTS)
    ran = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q"
    )
    ran.assert_outcomes(passed=3)


def test_a_test_that_breaks_the_pair_fails_as_the_user_would_expect(
    pytester: pytest.Pytester,
) -> None:
    """The fixture gives real answers, not whatever a test wants: a wrong expectation fails."""
    pytester.makepyfile(
        test_wrong="""
def test_wrong(hamr):
    assert hamr.history(hamr.primary)[-1]["attributes"]["after"]["hamr_status"] == 4
"""
    )
    ran = pytester.runpytest_subprocess("-q")
    ran.assert_outcomes(failed=1)


def test_the_threaded_server_serves_without_pytest_and_stops() -> None:
    with HamrServer() as server:
        primary, secondary = server.reset()
        read = httpx.get(f"{server.url}/api/v2/hamr", headers=secondary.headers, timeout=10)
        assert read.status_code == 200, read.text
        assert read.json()["data"]["attributes"]["target_org_uuid"] == primary.uuid
        assert server.reset("empty") == []
        assert httpx.get(f"{server.url}/api/v2/hamr", headers=secondary.headers).status_code == 403
        url = server.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_the_readme_example_passes_as_printed(pytester: pytest.Pytester) -> None:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"A test of yours:\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert found is not None
    pytester.makepyfile(test_readme=found.group(1))
    ran = pytester.runpytest_subprocess("-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q")
    ran.assert_outcomes(passed=1)
