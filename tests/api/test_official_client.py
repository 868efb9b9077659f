"""Datadog's official Python client, unchanged but for its host, reads and writes connections."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from datadog_api_client.exceptions import ForbiddenException, NotFoundException
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

from hamr.domain.model import KeyKind
from tests.conftest import Admin, OrgKeys

MakeApi = Callable[..., HighAvailabilityMultiRegionApi]
PATH = "/api/v2/hamr"
RFC3339_MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def request_for(
    org: OrgKeys, partner: OrgKeys, status: int = 4, data_id: str | None = None
) -> HamrOrgConnectionRequest:
    return HamrOrgConnectionRequest(
        data=HamrOrgConnectionDataRequest(
            attributes=HamrOrgConnectionAttributesRequest(
                hamr_status=HamrOrgConnectionStatus(status),
                is_primary=True,
                modified_by="admin@example.com",
                target_org_datacenter=partner.datacenter,
                target_org_name=partner.name,
                target_org_uuid=partner.uuid,
            ),
            id=data_id or org.uuid,
            type=HamrOrgConnectionType.HAMR_ORG_CONNECTIONS,
        )
    )


def test_get_before_any_post_is_404(hamr_api: MakeApi, org: OrgKeys) -> None:
    with pytest.raises(NotFoundException) as raised:
        hamr_api(org).get_hamr_org_connection()
    assert raised.value.status == 404


def test_post_then_get_returns_what_was_stored(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    api = hamr_api(org)
    created = api.create_hamr_org_connection(body=request_for(org, partner))
    read = api.get_hamr_org_connection()

    assert read.to_dict() == created.to_dict()
    assert read.data.id == org.uuid
    assert str(read.data.type) == "hamr_org_connections"
    attributes = read.data.attributes
    assert attributes.hamr_status == HamrOrgConnectionStatus.ACTIVE
    assert attributes.is_primary is True
    assert attributes.modified_by == "admin@example.com"
    assert attributes.target_org_datacenter == "eu1"
    assert attributes.target_org_name == partner.name
    assert attributes.target_org_uuid == partner.uuid
    assert RFC3339_MICROS_Z.match(attributes.modified_at)
    assert admin.connection(org.uuid) is not None
    assert len(admin.history(org.uuid)) == 1


def test_post_replaces_and_modified_at_strictly_increases(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    api = hamr_api(org)
    stamps = [
        api.create_hamr_org_connection(
            body=request_for(org, partner, status)
        ).data.attributes.modified_at
        for status in (1, 2, 3, 4, 5, 0)
    ]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    assert (
        api.get_hamr_org_connection().data.attributes.hamr_status
        == HamrOrgConnectionStatus.UNSPECIFIED
    )
    history = admin.history(org.uuid)
    assert [entry.after["hamr_status"] for entry in history] == [1, 2, 3, 4, 5, 0]
    assert history[0].before is None
    assert [entry.before["hamr_status"] for entry in history[1:] if entry.before] == [1, 2, 3, 4, 5]


def test_bearer_token_reads_and_writes(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    record, token = admin.service.create_key(org.uuid, KeyKind.TOKEN)
    api = hamr_api(token=token)
    api.create_hamr_org_connection(body=request_for(org, partner))
    assert api.get_hamr_org_connection().data.id == org.uuid
    assert admin.history(org.uuid)[-1].key_id == record.id


def test_the_partner_reads_the_pairs_connection_from_its_side(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    """Both orgs of a pair read its one connection; a write by either side is seen by both."""
    created = hamr_api(org).create_hamr_org_connection(body=request_for(org, partner))
    seen = hamr_api(partner).get_hamr_org_connection()

    assert seen.data.id == partner.uuid
    attributes = seen.data.attributes
    assert attributes.hamr_status == HamrOrgConnectionStatus.ACTIVE
    assert attributes.is_primary is False
    assert attributes.modified_by == "admin@example.com"
    assert attributes.modified_at == created.data.attributes.modified_at
    assert attributes.target_org_datacenter == "us1"
    assert attributes.target_org_name == org.name
    assert attributes.target_org_uuid == org.uuid

    answered = hamr_api(partner).create_hamr_org_connection(
        body=request_for(partner, org, status=3)
    )
    assert answered.data.attributes.is_primary is True  # as the partner asked this time
    read = hamr_api(org).get_hamr_org_connection().data.attributes
    assert read.hamr_status == HamrOrgConnectionStatus.FAILOVER
    assert read.is_primary is False
    assert read.modified_at == answered.data.attributes.modified_at
    assert read.target_org_uuid == partner.uuid
    stored = (admin.connection(org.uuid), admin.connection(partner.uuid))
    assert [(c.hamr_status, c.is_primary) for c in stored if c] == [(3, False), (3, True)]


def test_an_org_cannot_read_another_orgs_connection(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    """An org that is not in the pair sees no connection of its own."""
    outsider = admin.create_org("eu1")
    hamr_api(org).create_hamr_org_connection(body=request_for(org, partner))
    with pytest.raises(NotFoundException):
        hamr_api(outsider).get_hamr_org_connection()


def test_an_org_cannot_write_another_orgs_connection(
    hamr_api: MakeApi, org: OrgKeys, partner: OrgKeys, admin: Admin
) -> None:
    with pytest.raises(ForbiddenException) as raised:
        hamr_api(partner).create_hamr_org_connection(
            body=request_for(partner, org, data_id=org.uuid)
        )
    assert raised.value.body["errors"][0]["source"] == {"pointer": "/data/id"}
    assert admin.snapshot(org.uuid) == (None, 0)
    assert admin.snapshot(partner.uuid) == (None, 0)


def test_the_clients_gzipped_get_after_a_write_is_the_new_document_and_etag(
    hamr_api: MakeApi, http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    """The official client asks for gzip, whose bytes are kept with the cached document: a
    write by either side of the pair replaces them on both sides (stale compressed bytes
    would answer the old document, or the new ETag with the old body)."""
    writer, reader = hamr_api(org), hamr_api(partner)
    for api in (writer, reader):
        api.api_client.configuration.return_http_data_only = False
    writer.create_hamr_org_connection(body=request_for(org, partner, status=2))
    for api in (writer, reader):  # the gzipped bytes made, then served from memory
        for _ in range(2):
            _, status, headers = api.get_hamr_org_connection()
            assert (status, headers["content-encoding"]) == (200, "gzip")

    written, _, written_headers = writer.create_hamr_org_connection(
        body=request_for(org, partner, status=3)
    )

    for api, side in ((writer, org), (reader, partner)):
        read, status, headers = api.get_hamr_org_connection()
        assert (status, headers["content-encoding"]) == (200, "gzip")
        assert read.data.attributes.hamr_status == HamrOrgConnectionStatus.FAILOVER
        assert read.data.attributes.modified_at == written.data.attributes.modified_at
        plain = http.get(PATH, headers={**side.headers, "Accept-Encoding": "identity"})
        assert headers["etag"] == plain.headers["etag"]
    assert writer.get_hamr_org_connection()[2]["etag"] == written_headers["etag"]
