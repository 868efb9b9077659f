"""Datadog's official Python client retries behind a test's back: without `enable_retry`, its
urllib3 pool keeps urllib3's default retry, which repeats a GET after a 503 that carries
Retry-After and after a connection reset or an empty response, so a rule fires and the client
sees nothing (a 429, whose wait is in X-RateLimit-Reset, is raised at once).
`Configuration(retry_policy=urllib3.Retry(0))` turns that off (docs/emulator.md)."""

from __future__ import annotations

from typing import Any

import pytest
import urllib3
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ServiceException
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)

from hamr.testing import TestOrg, official_configuration
from hamr.usecases.demo import BACKUP
from tests.conftest import EmulatorServer, sqlite_url

# A GET's faults that urllib3 repeats it after (it sleeps the 503's Retry-After: 1 first).
FAULTS = {
    "503 with Retry-After": {"status": 503, "retry_after": 1},
    "connection reset": {"fault": "connection_reset"},
    "empty response": {"fault": "empty_response"},
}


@pytest.fixture(scope="module")
def emulator_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """On SQLite alone: what is tested is the client's, not the store's."""
    return sqlite_url(tmp_path_factory.mktemp("client-retries") / "hamr.db")


@pytest.fixture
def secondary(emulator: EmulatorServer) -> TestOrg:
    return emulator.reset()[BACKUP.name]


def fired_twice(emulator: EmulatorServer, fault: dict[str, Any]) -> str:
    """A rule on the GET, spent after two requests; its id."""
    rule = {"method": "GET", "path": "/api/v2/hamr", "times": 2, **fault}
    return str(emulator.admin.add(rule)[0]["id"])


def fired(emulator: EmulatorServer, rule: str) -> int:
    return next(int(r["fired"]) for r in emulator.admin.rules() if r["id"] == rule)


def get(configuration: Configuration) -> Any:
    with ApiClient(configuration) as client:
        return HighAvailabilityMultiRegionApi(client).get_hamr_org_connection()


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_by_default_the_client_repeats_the_get_and_sees_no_fault(
    emulator: EmulatorServer, secondary: TestOrg, fault: dict[str, Any]
) -> None:
    configuration = official_configuration(emulator.url, secondary)
    assert configuration.enable_retry is False  # the client's own retry is off...
    rule = fired_twice(emulator, fault)
    read = get(configuration)  # ...and yet it answers
    assert read.data.id == secondary.uuid
    assert fired(emulator, rule) == 2  # two faults, behind the test's back


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_with_urllib3s_retries_off_the_client_sees_the_first_fault(
    emulator: EmulatorServer, secondary: TestOrg, fault: dict[str, Any]
) -> None:
    configuration = official_configuration(emulator.url, secondary)
    configuration.retry_policy = urllib3.Retry(0)
    rule = fired_twice(emulator, fault)
    with pytest.raises((ServiceException, urllib3.exceptions.MaxRetryError)) as raised:
        get(configuration)
    assert fired(emulator, rule) == 1
    if "status" in fault:
        assert isinstance(raised.value, ServiceException)
        assert raised.value.status == 503
    else:
        assert isinstance(raised.value, urllib3.exceptions.MaxRetryError)
        assert isinstance(raised.value.reason, urllib3.exceptions.ProtocolError)
