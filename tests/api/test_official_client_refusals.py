"""What the control plane's refusals look like to Datadog's official Python client: a `read`
key's POST is its `ForbiddenException` (403) naming the permission, and a move `enforce`
refuses is a plain `ApiException` (409) whose parsed body points at the status. (412, 422
and the idempotency 409 are in test_conditional_writes.py.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from datadog_api_client.exceptions import ApiException, ForbiddenException
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus

from hamr.domain.model import KeyKind, Permission
from tests.api.test_official_client import request_for
from tests.conftest import Admin, OrgKeys, ServeProcess, serving

MakeApi = Callable[..., HighAvailabilityMultiRegionApi]


@pytest.fixture(scope="module")
def enforcing(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    yield from serving(database_url, tmp_path_factory, "--transitions", "enforce")


@pytest.mark.parametrize("kind", [KeyKind.APP, KeyKind.TOKEN], ids=["app key", "token"])
def test_a_read_keys_post_is_a_forbidden_exception_naming_the_permission(
    hamr_api: MakeApi, admin: Admin, org: OrgKeys, partner: OrgKeys, kind: KeyKind
) -> None:
    hamr_api(org).create_hamr_org_connection(request_for(org, partner, status=2))
    secret = admin.service.create_key(org.uuid, kind, Permission.READ)[1]
    reader = hamr_api(org, app_key=secret) if kind is KeyKind.APP else hamr_api(token=secret)
    before = admin.snapshot(org.uuid)

    read = reader.get_hamr_org_connection()
    with pytest.raises(ForbiddenException) as raised:
        reader.create_hamr_org_connection(request_for(org, partner, status=3))

    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
    refused = raised.value
    assert refused.status == 403
    (error,) = refused.body["errors"]  # the client parsed the JSON:API document
    assert error["status"] == "403"
    header = "DD-APPLICATION-KEY" if kind is KeyKind.APP else "Authorization"
    assert error["source"] == {"header": header}
    assert "has the read permission" in error["detail"]
    assert "needs write" in error["detail"]
    assert admin.snapshot(org.uuid) == before


def test_a_move_enforce_refuses_is_an_api_exception_409_pointing_at_the_status(
    hamr_api: MakeApi, enforcing: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    api = hamr_api(org, at=enforcing)
    api.create_hamr_org_connection(request_for(org, partner, status=2))
    before = admin.snapshot(org.uuid), admin.snapshot(partner.uuid)

    with pytest.raises(ApiException) as raised:
        api.create_hamr_org_connection(request_for(org, partner, status=5))

    refused = raised.value
    assert type(refused) is ApiException  # the client has no subclass for 409
    assert refused.status == 409
    assert refused.headers["content-type"] == "application/json"
    (error,) = refused.body["errors"]
    assert (error["status"], error["title"]) == ("409", "Conflict")
    assert error["source"] == {"pointer": "/data/attributes/hamr_status"}
    assert "2 PASSIVE -> 5 RECOVERY is not a move of the HAMR lifecycle" in error["detail"]
    assert "2 PASSIVE, 3 FAILOVER" in error["detail"]
    assert (admin.snapshot(org.uuid), admin.snapshot(partner.uuid)) == before
    # The allowed next step goes through, so the refusal was the rule, not the client.
    stored = api.create_hamr_org_connection(request_for(org, partner, status=3))
    assert stored.data.attributes.hamr_status == HamrOrgConnectionStatus(3)
