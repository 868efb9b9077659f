"""The `hamr` pytest plugin, as a user meets it: a test file of theirs, written with Datadog's
official client, run by pytest in a fresh process that finds the plugin by its entry point.
And `hamr.testing.HamrServer`, the same server in a thread, without pytest."""

from __future__ import annotations

import httpx
import pytest

from hamr.testing import HamrServer
from tests import docs, local_http

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
    moved = hamr.clock.advance(3600)
    set_status(hamr, hamr.secondary, hamr.primary, 3)
    done = set_status(hamr, hamr.secondary, hamr.primary, 4)
    assert done.data.attributes.hamr_status == HamrOrgConnectionStatus(4)
    rows = hamr.history(hamr.primary)
    assert [row["attributes"]["after"]["hamr_status"] for row in rows] == [1, 2, 3, 4]
    recorded = [row["attributes"]["recorded_at"] for row in rows[-2:]]
    assert moved <= recorded[0] < recorded[1] <= hamr.clock.now()
    assert recorded[1] == rows[-1]["attributes"]["after"]["modified_at"]


def test_each_test_starts_from_the_demo_pair_again_at_the_real_time(hamr):
    rows = hamr.history(hamr.primary)
    assert [row["attributes"]["after"]["hamr_status"] for row in rows] == [1, 2]
    with ApiClient(hamr.configuration(hamr.secondary)) as client:
        read = HighAvailabilityMultiRegionApi(client).get_hamr_org_connection()
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
"""


USERS_FAULT_TESTS = """
import http.client
import time

import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import (
    ApiException,
    ApiTypeError,
    ForbiddenException,
    ServiceException,
)
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus


def api(hamr, org, retries=None, url=None):
    configuration = hamr.configuration(org, url)
    if retries is not None:
        configuration.enable_retry = True
        configuration.max_retries = retries
    return HighAvailabilityMultiRegionApi(ApiClient(configuration))


def fired(hamr, rule):
    return next(r["fired"] for r in hamr.faults() if r["id"] == rule)


def test_the_clients_retry_waits_out_429s_as_their_headers_say(hamr):
    with hamr.fault(status=429, retry_after=1, times=2) as rule:
        started = time.monotonic()
        read = api(hamr, hamr.secondary, retries=3).get_hamr_org_connection()
        waited = time.monotonic() - started
        assert fired(hamr, rule) == 2
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
    assert waited >= 2  # X-RateLimit-Reset: 1, slept before each of the two retries


def test_the_client_gives_up_on_429_after_its_max_retries(hamr):
    with hamr.fault(status=429, retry_after=1) as rule:
        with pytest.raises(ApiException) as raised:
            api(hamr, hamr.secondary, retries=1).get_hamr_org_connection()
        assert fired(hamr, rule) == 2
    assert raised.value.status == 429
    assert raised.value.headers["x-ratelimit-reset"] == "1"


def test_the_client_gives_up_on_503_after_its_max_retries(hamr):
    with hamr.fault(status=503, retry_after=1) as rule:
        with pytest.raises(ServiceException) as raised:
            api(hamr, hamr.secondary, retries=1).get_hamr_org_connection()
        assert fired(hamr, rule) == 2  # the first try and its one retry
    assert raised.value.status == 503
    assert raised.value.headers["retry-after"] == "1"


def test_without_retry_a_503_is_raised_at_once(hamr):
    with hamr.fault(status=503) as rule:
        with pytest.raises(ServiceException):
            api(hamr, hamr.secondary).get_hamr_org_connection()
        assert fired(hamr, rule) == 1


def test_a_connection_reset_is_urllib3s_protocol_error_after_the_retries(hamr):
    with hamr.fault(fault="connection_reset") as rule:
        with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
            api(hamr, hamr.secondary, retries=1).get_hamr_org_connection()
        assert fired(hamr, rule) == 2
    assert isinstance(raised.value.reason, urllib3.exceptions.ProtocolError)
    assert isinstance(raised.value.reason.args[1], ConnectionResetError)


def test_an_empty_response_is_a_remote_disconnect(hamr):
    with hamr.fault(fault="empty_response"):
        with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
            api(hamr, hamr.secondary, retries=1).get_hamr_org_connection()
    assert isinstance(raised.value.reason.args[1], http.client.RemoteDisconnected)


def test_a_malformed_body_is_a_type_error_of_the_client(hamr):
    with hamr.fault(fault="malformed_body", path="/api/v2/hamr"):
        with pytest.raises(ApiTypeError):
            api(hamr, hamr.secondary).get_hamr_org_connection()


def test_a_sequence_is_a_flaky_dependency_the_retry_rides_out(hamr):
    with hamr.fault(sequence=[{"fault": "connection_reset"}, {"status": 500}]):
        read = api(hamr, hamr.secondary, retries=3).get_hamr_org_connection()
    assert read.data.attributes.target_org_uuid == hamr.primary.uuid


def test_each_site_knows_only_its_own_orgs(hamr):
    read = api(hamr, hamr.secondary, url=hamr.sites["us1"]).get_hamr_org_connection()
    assert read.data.attributes.target_org_uuid == hamr.primary.uuid
    with pytest.raises(ForbiddenException):
        api(hamr, hamr.secondary, url=hamr.sites["eu1"]).get_hamr_org_connection()


def test_a_rule_ends_with_its_with_block(hamr):
    with hamr.fault(status=500):
        pass
    assert hamr.faults() == []
    api(hamr, hamr.secondary).get_hamr_org_connection()


def test_a_rule_left_in_force_by_one_test(hamr):
    hamr.server.add_fault(status=500)


def test_is_gone_in_the_next(hamr):
    assert hamr.faults() == []
    api(hamr, hamr.secondary).get_hamr_org_connection()
"""


def test_a_users_suite_meets_faults_as_the_official_client_really_raises_them(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_users_faults=USERS_FAULT_TESTS)
    ran = pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q"
    )
    ran.assert_outcomes(passed=12)


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
        read = local_http.get(f"{server.url}/api/v2/hamr", headers=secondary.headers, timeout=10)
        assert read.status_code == 200, read.text
        assert read.json()["data"]["attributes"]["target_org_uuid"] == primary.uuid
        assert server.reset("empty") == []
        assert (
            local_http.get(f"{server.url}/api/v2/hamr", headers=secondary.headers).status_code
            == 403
        )
        url = server.url
    with pytest.raises(httpx.TransportError):
        local_http.get(f"{url}/healthz", timeout=2)


def test_the_documented_examples_pass_as_printed(pytester: pytest.Pytester) -> None:
    examples = [
        docs.block("README.md", "Test your code against it", 0),
        docs.block("docs/emulator.md", "Faults, as the official client meets them", 0),
    ]
    assert len(examples) == 2
    for number, example in enumerate(examples):
        pytester.makepyfile(**{f"test_documented_{number}": example})
    ran = pytester.runpytest_subprocess("-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q")
    ran.assert_outcomes(passed=2)
