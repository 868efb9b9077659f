"""`--wire`: `live` answers byte for byte as Datadog's live API (fixtures written by hand from
its recorded responses, with our own uuids and names), `contract` as the published contract,
and `both` carries both spellings so that every known client reads it."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus
from jsonschema import Draft202012Validator

from hamr.domain.model import HamrStatus, KeyKind, RequestedChange
from hamr.domain.rules import DEFAULT_DATACENTERS, default_pointers
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body

PATH = "/api/v2/hamr"
FIXTURES = Path(__file__).parent / "fixtures"
PRIMARY_UUID = "4b1d6c2e-8f3a-4d5b-9c7e-2a6f1b3d5e70"
SECONDARY_UUID = "7e9f0a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
# 2026-05-28 16:34:21.636477 UTC, as a recorded live response wrote its ModifiedAt.
MODIFIED_AT_US = calendar.timegm((2026, 5, 28, 16, 34, 21)) * 1_000_000 + 636_477
LIVE_ORDER = [
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
]
LIVE_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
# Both lanes: the fast one (no gzip asked) and the app's (the official client asks for gzip).
LANES = pytest.mark.parametrize("encoding", ["identity", "gzip"])


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().rstrip(b"\n")


@pytest.fixture(scope="module")
def recorded_pair(admin: Admin) -> tuple[OrgKeys, OrgKeys]:
    """Two orgs linked at the recorded moment, PASSIVE at rest, Acme Production primary."""
    service = HamrService(
        admin.store.unit_of_work,
        admin.store.view,
        frozenset(DEFAULT_DATACENTERS),
        clock=lambda: MODIFIED_AT_US,
    )
    made = []
    for name, datacenter, org_uuid in (
        ("Acme Production", "eu1", PRIMARY_UUID),
        ("Acme Backup", "us5", SECONDARY_UUID),
    ):
        org, api_key, app_key = service.create_org(name, datacenter, org_uuid)
        made.append(OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key))
    principal = service.identify(made[0].app_key, KeyKind.APP)
    assert principal is not None
    service.write_connection(
        principal,
        RequestedChange(
            hamr_status=HamrStatus.PASSIVE,
            is_primary=True,
            modified_by="dr-bot@example.com",
            target_org_uuid=SECONDARY_UUID,
            target_org_name=None,
            target_org_datacenter=None,
            pointers=default_pointers(),
        ),
    )
    return made[0], made[1]


@pytest.fixture(scope="module")
def live(wire: Callable[[str], ServeProcess]) -> ServeProcess:
    return wire("live")


@pytest.fixture(scope="module")
def contract_server(wire: Callable[[str], ServeProcess]) -> ServeProcess:
    return wire("contract")


def get(server: ServeProcess, org: OrgKeys, encoding: str = "identity") -> httpx.Response:
    return local_http.get(
        server.url + PATH, headers={**org.headers, "Accept-Encoding": encoding}, timeout=10
    )


@LANES
def test_live_get_is_the_live_apis_bytes_on_both_sides(
    live: ServeProcess, recorded_pair: tuple[OrgKeys, OrgKeys], encoding: str
) -> None:
    primary, secondary = recorded_pair
    for org, expected in ((primary, "live-primary.json"), (secondary, "live-secondary.json")):
        response = get(live, org, encoding)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/vnd.api+json"
        assert response.content == fixture(expected)


@LANES
def test_contract_get_is_the_contracts_bytes(
    contract_server: ServeProcess, recorded_pair: tuple[OrgKeys, OrgKeys], encoding: str
) -> None:
    response = get(contract_server, recorded_pair[0], encoding)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == fixture("contract-primary.json")


@LANES
def test_both_is_the_contracts_attributes_then_the_live_ones(
    server: ServeProcess, recorded_pair: tuple[OrgKeys, OrgKeys], encoding: str
) -> None:
    response = get(server, recorded_pair[0], encoding)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == fixture("both-primary.json")


def test_live_post_answers_in_the_live_format(
    live: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner, hamr_status=1)
    response = local_http.post(live.url + PATH, json=body, headers=org.headers, timeout=10)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.api+json"
    attributes = response.json()["data"]["attributes"]
    assert list(attributes) == LIVE_ORDER
    assert LIVE_TIMESTAMP.match(attributes["ModifiedAt"])
    assert attributes["OrgDatacenter"] == "us1.prod.dog"
    assert attributes["TargetOrgDatacenter"] == "eu1.prod.dog"
    assert get(live, partner).json()["data"]["attributes"]["IsPrimary"] is False


@LANES
def test_live_answers_an_invalid_api_key_as_the_live_api(
    live: ServeProcess, org: OrgKeys, encoding: str
) -> None:
    wrong = OrgKeys(org.uuid, org.name, org.datacenter, "0" * 32, org.app_key)
    response = get(live, wrong, encoding)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"errors": ["Unauthorized"]}
    posted = local_http.post(live.url + PATH, json={}, headers=wrong.headers, timeout=10)
    assert (posted.status_code, posted.json()) == (401, {"errors": ["Unauthorized"]})


def test_live_keeps_the_contracts_errors_where_no_recording_says_otherwise(
    live: ServeProcess, org: OrgKeys
) -> None:
    missing_app_key = local_http.get(
        live.url + PATH, headers={"DD-API-KEY": org.api_key}, timeout=10
    )
    assert missing_app_key.status_code == 403
    (error,) = missing_app_key.json()["errors"]
    assert error["source"] == {"header": "DD-APPLICATION-KEY"}
    not_found = get(live, org)
    assert not_found.status_code == 404
    assert not_found.json()["errors"][0]["status"] == "404"


@pytest.mark.parametrize("mode", ["both", "contract"])
def test_other_modes_answer_an_invalid_api_key_with_the_contracts_403(
    server: ServeProcess, contract_server: ServeProcess, org: OrgKeys, mode: str
) -> None:
    running = server if mode == "both" else contract_server
    wrong = OrgKeys(org.uuid, org.name, org.datacenter, "0" * 32, org.app_key)
    response = get(running, wrong)
    assert response.status_code == 403
    (error,) = response.json()["errors"]
    assert error["source"] == {"header": "DD-API-KEY"}


def test_the_official_client_reads_both_sides_in_both(
    hamr_api: Callable[..., HighAvailabilityMultiRegionApi],
    recorded_pair: tuple[OrgKeys, OrgKeys],
) -> None:
    primary, secondary = recorded_pair
    for org, other, is_primary in ((primary, secondary, True), (secondary, primary, False)):
        read = hamr_api(org).get_hamr_org_connection()
        attributes = read.data.attributes
        assert read.data.id == org.uuid
        assert attributes.hamr_status == HamrOrgConnectionStatus.PASSIVE
        assert attributes.is_primary is is_primary
        assert attributes.target_org_uuid == other.uuid
        assert attributes.target_org_name == other.name
        # The live spelling is kept aside, for code that reads it.
        assert attributes["HamrStatus"] == 2
        assert attributes["TargetOrgUuid"] == other.uuid


def test_a_pascal_case_reader_finds_the_status_in_both(
    http: httpx.Client, recorded_pair: tuple[OrgKeys, OrgKeys]
) -> None:
    """What Datadog's DR tooling reads, and refuses to run without."""
    for org in recorded_pair:
        status = http.get(PATH, headers=org.headers).json()["data"]["attributes"]["HamrStatus"]
        assert status == 2


def test_the_official_client_cannot_read_the_live_format(
    live: ServeProcess,
    recorded_pair: tuple[OrgKeys, OrgKeys],
    hamr_api: Callable[..., HighAvailabilityMultiRegionApi],
) -> None:
    """What production hands code generated from the contract: `--wire live` shows it."""
    api = hamr_api(recorded_pair[0])
    api.api_client.configuration.host = live.url
    with pytest.raises(TypeError, match=r"missing 7 required .*'hamr_status'"):
        api.get_hamr_org_connection()


@pytest.mark.parametrize(
    ("mode", "expected", "content_type"),
    [
        ("live", "live-primary.json", "application/vnd.api+json"),
        ("contract", "contract-primary.json", "application/json"),
        ("both", "both-primary.json", "application/json"),
    ],
)
def test_openapi_describes_what_the_mode_returns(
    server: ServeProcess,
    live: ServeProcess,
    contract_server: ServeProcess,
    mode: str,
    expected: str,
    content_type: str,
) -> None:
    running = {"live": live, "contract": contract_server, "both": server}[mode]
    served = local_http.get(running.url + "/openapi.json", timeout=10).json()
    ok = served["paths"][PATH]["get"]["responses"]["200"]["content"]
    assert list(ok) == [content_type]
    schema = {"components": served["components"], **ok[content_type]["schema"]}
    Draft202012Validator(schema).validate(httpx.Response(200, content=fixture(expected)).json())
    attributes = served["components"]["schemas"]["HamrOrgConnectionResponse"]
    assert attributes is not None
    assert ("401" in served["paths"][PATH]["get"]["responses"]) is (mode == "live")
