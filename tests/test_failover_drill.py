"""A failover drill against the emulator, on SQLite and PostgreSQL: two sites, the primary's
goes down, a small piece of DR automation written with Datadog's official client fails over
through the secondary's host, the site comes back, recovery runs, and the pair's history
shows every step."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import urllib3
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ForbiddenException
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

from hamr.testing import TestOrg, official_configuration
from hamr.usecases.demo import BACKUP, PRODUCTION
from tests import local_http
from tests.conftest import EmulatorServer

FAILOVER, ACTIVE, RECOVERY, PASSIVE = 3, 4, 5, 2


@dataclass
class DrAutomation:
    """What a DR runbook automates, as a team would write it with the official client:
    watch the primary org through its own site; when that site cannot be reached, fail over
    from the secondary org through the secondary's site; once the primary's site answers
    again, recover."""

    primary: TestOrg
    secondary: TestOrg
    primary_site: str
    secondary_site: str
    log: list[str] = field(default_factory=list)

    def primary_reachable(self) -> bool:
        try:
            self._api(self.primary, self.primary_site).get_hamr_org_connection()
        except urllib3.exceptions.MaxRetryError as error:  # refused, reset: the site is gone
            self.log.append(f"primary site unreachable: {type(error.reason).__name__}")
            return False
        return True

    def fail_over(self) -> None:
        for status in (FAILOVER, ACTIVE):
            self._set(status)

    def recover(self) -> None:
        for status in (RECOVERY, PASSIVE):
            self._set(status)

    def status(self) -> int:
        read = self._api(self.secondary, self.secondary_site).get_hamr_org_connection()
        return int(read.data.attributes.hamr_status.value)

    def _set(self, status: int) -> None:
        self._api(self.secondary, self.secondary_site).create_hamr_org_connection(
            HamrOrgConnectionRequest(
                data=HamrOrgConnectionDataRequest(
                    id=self.secondary.uuid,
                    type=HamrOrgConnectionType.HAMR_ORG_CONNECTIONS,
                    attributes=HamrOrgConnectionAttributesRequest(
                        hamr_status=HamrOrgConnectionStatus(status),
                        is_primary=False,
                        modified_by="dr-automation",
                        target_org_uuid=self.primary.uuid,
                        target_org_name=self.primary.name,
                        target_org_datacenter=self.primary.datacenter,
                    ),
                )
            )
        )
        self.log.append(f"set {status}")

    @staticmethod
    def _api(org: TestOrg, url: str) -> HighAvailabilityMultiRegionApi:
        configuration = official_configuration(url, org)
        configuration.max_retries = 1
        return HighAvailabilityMultiRegionApi(ApiClient(configuration))


def test_the_primary_site_goes_down_the_automation_fails_over_and_recovers(
    emulator: EmulatorServer,
) -> None:
    orgs = emulator.reset()
    primary, secondary = orgs[PRODUCTION.name], orgs[BACKUP.name]
    sites = emulator.site_urls
    automation = DrAutomation(
        primary, secondary, sites[primary.datacenter], sites[secondary.datacenter]
    )
    assert automation.primary_reachable()
    assert automation.status() == PASSIVE

    emulator.admin.add({"datacenter": primary.datacenter, "fault": "down"})
    assert not automation.primary_reachable()
    assert automation.log[-1] == "primary site unreachable: NewConnectionError"
    with pytest.raises(ForbiddenException):  # the primary's keys are no good elsewhere
        DrAutomation._api(primary, sites[secondary.datacenter]).get_hamr_org_connection()
    automation.fail_over()
    assert automation.status() == ACTIVE

    emulator.admin.clear()
    assert automation.primary_reachable()
    automation.recover()
    assert automation.status() == PASSIVE

    history = local_http.get(
        f"{sites[primary.datacenter]}/api/v2/hamr/history", headers=primary.headers
    ).json()["data"][::-1]
    steps = [
        (row["attributes"]["after"]["hamr_status"], row["attributes"]["modified_by"])
        for row in history
    ]
    assert steps == [
        (1, "hamr-demo"),
        (2, "hamr-demo"),
        (FAILOVER, "dr-automation"),
        (ACTIVE, "dr-automation"),
        (RECOVERY, "dr-automation"),
        (PASSIVE, "dr-automation"),
    ]
    assert automation.log == [
        "primary site unreachable: NewConnectionError",
        *(f"set {status}" for status in (FAILOVER, ACTIVE, RECOVERY, PASSIVE)),
    ]
