"""One connection per pair, as Datadog's live API keeps it: the DDR guide's linking POST,
writes by either side seen by both, 409 on re-linking, and input in either spelling."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    run_cli,
    unknown_org,
)

PATH = "/api/v2/hamr"
ATTRIBUTES = "/data/attributes"
# The body Datadog's Disaster Recovery set-up guide has the primary org send, as written there:
# only the target's UUID, the status (1, ONBOARDING), who, and which side is primary.
DDR_LINK_BODY = (Path(__file__).parent / "fixtures" / "ddr-link-body.json").read_text()


def ddr_body(primary: OrgKeys, secondary: OrgKeys) -> str:
    return DDR_LINK_BODY.replace("{{PRIMARY_ORG_UUID}}", primary.uuid).replace(
        "{{SECONDARY_ORG_UUID}}", secondary.uuid
    )


def post(http: httpx.Client, caller: OrgKeys, body: Any) -> httpx.Response:
    if isinstance(body, str):
        return http.post(
            PATH,
            content=body,
            headers={**caller.headers, "Content-Type": "application/json"},
        )
    return http.post(PATH, json=body, headers=caller.headers)


def attributes(http: httpx.Client, caller: OrgKeys) -> dict[str, Any]:
    response = http.get(PATH, headers=caller.headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == caller.uuid
    return response.json()["data"]["attributes"]  # type: ignore[no-any-return]


def assert_sides(
    http: httpx.Client, primary: OrgKeys, secondary: OrgKeys, status: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both orgs read one connection, each from its own side."""
    ours, theirs = attributes(http, primary), attributes(http, secondary)
    for side, other, is_primary in ((ours, secondary, True), (theirs, primary, False)):
        assert side["hamr_status"] == side["HamrStatus"] == status
        assert side["is_primary"] is side["IsPrimary"] is is_primary
        assert side["target_org_uuid"] == side["TargetOrgUuid"] == other.uuid
        assert side["target_org_name"] == side["TargetOrgName"] == other.name
        assert side["target_org_datacenter"] == other.datacenter
        assert side["TargetOrgDatacenter"] == f"{other.datacenter}.prod.dog"
    assert ours["OrgDatacenter"] == f"{primary.datacenter}.prod.dog"
    assert theirs["OrgDatacenter"] == f"{secondary.datacenter}.prod.dog"
    for shared in ("modified_at", "modified_by", "ModifiedAt", "ModifiedBy"):
        assert ours[shared] == theirs[shared], shared
    return ours, theirs


@pytest.fixture
def other(admin: Admin) -> OrgKeys:
    """A third organization, in us5."""
    return admin.create_org("us5")


def test_the_ddr_guides_body_links_a_pair_that_both_orgs_read(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert http.get(PATH, headers=partner.headers).status_code == 404

    linked = post(http, org, ddr_body(org, partner))

    assert linked.status_code == 200, linked.text
    assert "x-hamr-warning" not in linked.headers
    assert linked.json()["data"]["id"] == org.uuid
    ours, _theirs = assert_sides(http, org, partner, status=1)
    assert ours["modified_by"] == "dr-admin@example.com"
    # The name and datacenter the DDR body never sent come from hamr's records.
    assert linked.json()["data"]["attributes"] == ours
    (entry,) = admin.history(partner.uuid)
    assert entry.org_uuid == org.uuid  # one history per pair, naming who wrote it


def test_a_write_by_either_side_is_seen_by_both(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, ddr_body(org, partner)).status_code == 200
    first = attributes(http, org)["modified_at"]

    # The secondary fails over, in the contract's spelling, naming its side as it sees it.
    failover = connection_body(partner, org, hamr_status=3, is_primary=False)
    assert post(http, partner, failover).status_code == 200
    ours, _ = assert_sides(http, org, partner, status=3)
    assert ours["modified_by"] == "sre@example.com"
    assert ours["modified_at"] > first

    # The primary completes it in the live spelling; modified_at keeps increasing per pair.
    active = {
        "data": {
            "id": org.uuid,
            "type": "hamr_org_connections",
            "attributes": {
                "TargetOrgUuid": partner.uuid,
                "HamrStatus": 4,
                "IsPrimary": True,
                "ModifiedBy": "ops",
            },
        }
    }
    assert post(http, org, active).status_code == 200
    ours, _ = assert_sides(http, org, partner, status=4)
    assert ours["modified_by"] == "ops"

    # Either side may hand over the primary role: the other then reads is_primary false.
    swapped = connection_body(partner, org, hamr_status=2, is_primary=True)
    assert post(http, partner, swapped).status_code == 200
    assert_sides(http, partner, org, status=2)

    history = admin.history(org.uuid)
    assert [e.org_uuid for e in history] == [org.uuid, partner.uuid, org.uuid, partner.uuid]
    assert history == admin.history(partner.uuid)
    assert len({e.connection_id for e in history}) == 1
    stamps = [e.after["modified_at"] for e in history if e.after]
    assert stamps == sorted(set(stamps))


def test_relinking_a_paired_org_is_409_and_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, other: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner)).status_code == 200
    before = admin.snapshot(org.uuid), admin.snapshot(partner.uuid)

    cases = [
        (org, connection_body(org, other)),  # re-pointing a paired org
        (other, connection_body(other, org)),  # naming a paired org as target
        (other, connection_body(other, partner, TargetOrgUuid=partner.uuid)),
    ]
    for caller, body in cases:
        refused = post(http, caller, body)
        assert refused.status_code == 409, refused.text
        (error,) = refused.json()["errors"]
        assert error["status"] == "409"
        assert error["title"] == "Conflict"
        assert error["source"] == {"pointer": f"{ATTRIBUTES}/target_org_uuid"}
        assert org.uuid in error["detail"]
        assert partner.uuid in error["detail"]
        assert "hamr pair unlink --org" in error["detail"]
    assert (admin.snapshot(org.uuid), admin.snapshot(partner.uuid)) == before
    assert http.get(PATH, headers=other.headers).status_code == 404


def test_unlink_frees_both_orgs_and_keeps_the_history(
    server: ServeProcess,
    http: httpx.Client,
    admin: Admin,
    org: OrgKeys,
    partner: OrgKeys,
    other: OrgKeys,
) -> None:
    assert post(http, org, connection_body(org, partner)).status_code == 200
    assert attributes(http, partner)["target_org_uuid"] == org.uuid  # cached by the server

    unlinked = run_cli("pair", "unlink", "--org", partner.uuid, database_url=server.database_url)

    assert unlinked.returncode == 0, unlinked.stderr
    assert org.uuid in unlinked.stdout
    assert partner.uuid in unlinked.stdout
    deadline = time.monotonic() + 5
    while http.get(PATH, headers=org.headers).status_code != 404:
        assert time.monotonic() < deadline, "the server still serves the unlinked pair"
        time.sleep(0.05)
    assert http.get(PATH, headers=partner.headers).status_code == 404
    linked_again = post(http, org, connection_body(org, other))
    assert linked_again.status_code == 200, linked_again.text
    assert attributes(http, other)["target_org_uuid"] == org.uuid
    kept = admin.history(partner.uuid)
    assert [(e.before is None, e.after is None) for e in kept] == [
        (True, False),  # org's link
        (False, True),  # and the unlink, for each side
        (False, True),
    ]
    assert {e.org_uuid for e in kept[1:]} == {org.uuid, partner.uuid}
    assert admin.history(org.uuid)[:3] == kept

    again = run_cli("pair", "unlink", "--org", partner.uuid, database_url=server.database_url)
    assert again.returncode == 2
    assert "has no connection to unlink" in again.stderr


def test_a_target_hamr_does_not_know_stays_one_sided_and_may_be_repointed(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    elsewhere, later = unknown_org("eu1"), unknown_org("us5", name="Later Org")
    shouted = connection_body(org, elsewhere, target_org_uuid=elsewhere.uuid.upper())
    assert post(http, org, shouted).status_code == 200
    stored = attributes(http, org)
    assert stored["target_org_name"] == elsewhere.name
    assert stored["target_org_uuid"] == elsewhere.uuid.upper()  # stored as it was named
    # Re-pointed freely (the contract's "create or update"), to another stranger, then to a
    # known org, which links the pair.
    assert post(http, org, connection_body(org, later)).status_code == 200
    assert attributes(http, org)["TargetOrgName"] == "Later Org"
    assert post(http, org, connection_body(org, partner)).status_code == 200
    assert_sides(http, org, partner, status=2)


@pytest.mark.parametrize("spelling", ["snake_case", "PascalCase", "mixed"])
def test_attributes_in_either_spelling_are_accepted(
    http: httpx.Client, org: OrgKeys, spelling: str
) -> None:
    target = unknown_org("eu1")
    body = connection_body(org, target, hamr_status=5, is_primary=False, modified_by="who")
    sent = body["data"]["attributes"]
    names = list(sent)
    pascal = {
        "hamr_status": "HamrStatus",
        "is_primary": "IsPrimary",
        "modified_by": "ModifiedBy",
        "target_org_datacenter": "TargetOrgDatacenter",
        "target_org_name": "TargetOrgName",
        "target_org_uuid": "TargetOrgUuid",
    }
    renamed = names if spelling == "snake_case" else names[::2] if spelling == "mixed" else []
    body["data"]["attributes"] = {
        (name if name in renamed else pascal[name]): sent[name] for name in names
    }
    if spelling == "mixed":  # one attribute in both spellings, agreeing
        body["data"]["attributes"]["HamrStatus"] = 5

    stored = post(http, org, body)

    assert stored.status_code == 200, stored.text
    assert attributes(http, org) == stored.json()["data"]["attributes"]
    got = stored.json()["data"]["attributes"]
    assert (got["hamr_status"], got["is_primary"], got["modified_by"]) == (5, False, "who")
    assert (got["target_org_uuid"], got["target_org_name"]) == (target.uuid, target.name)


def test_a_datacenter_with_the_live_suffix_is_the_same_datacenter(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner, target_org_datacenter="eu1.prod.dog")
    assert post(http, org, body).status_code == 200
    assert attributes(http, org)["target_org_datacenter"] == "eu1"


def test_both_spellings_that_disagree_are_a_400_naming_the_attribute(
    http: httpx.Client, admin: Admin, org: OrgKeys
) -> None:
    body = connection_body(org, unknown_org(), hamr_status=2, HamrStatus=3)
    before = admin.snapshot(org.uuid)

    refused = post(http, org, body)

    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["source"] == {"pointer": f"{ATTRIBUTES}/HamrStatus"}
    assert "hamr_status" in error["detail"]
    assert "HamrStatus" in error["detail"]
    assert admin.snapshot(org.uuid) == before


@pytest.mark.parametrize("spelling", ["PascalCase", "snake_case"])
def test_a_short_body_naming_an_unknown_target_is_a_400_naming_each_missing_field(
    http: httpx.Client, admin: Admin, org: OrgKeys, spelling: str
) -> None:
    stranger = unknown_org()
    body = json.loads(ddr_body(org, stranger))
    if spelling == "snake_case":
        short = body["data"]["attributes"]
        body["data"]["attributes"] = {
            "target_org_uuid": short["TargetOrgUuid"],
            "hamr_status": short["HamrStatus"],
            "modified_by": short["ModifiedBy"],
            "is_primary": short["IsPrimary"],
        }
    before = admin.snapshot(org.uuid)

    refused = post(http, org, body)

    assert refused.status_code == 400
    pointers = sorted(e["source"]["pointer"] for e in refused.json()["errors"])
    names = ("TargetOrgDatacenter", "TargetOrgName")
    if spelling == "snake_case":
        names = ("target_org_datacenter", "target_org_name")
    assert pointers == [f"{ATTRIBUTES}/{name}" for name in names]
    for error in refused.json()["errors"]:
        assert stranger.uuid in error["detail"]
    assert admin.snapshot(org.uuid) == before


def test_a_known_targets_record_wins_over_a_different_name(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    written = post(http, org, connection_body(org, partner, target_org_name="Old Name"))

    assert written.status_code == 200
    assert "Old Name" in written.headers["x-hamr-warning"]
    assert partner.name in written.headers["x-hamr-warning"]
    assert attributes(http, org)["target_org_name"] == partner.name


def test_a_datacenter_that_contradicts_the_record_is_a_400(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner, TargetOrgDatacenter="us5")
    del body["data"]["attributes"]["target_org_datacenter"]

    refused = post(http, org, body)

    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["source"] == {"pointer": f"{ATTRIBUTES}/TargetOrgDatacenter"}
    assert "eu1" in error["detail"]
    assert "us5" in error["detail"]
    assert admin.snapshot(org.uuid) == (None, 0)
    assert admin.snapshot(partner.uuid) == (None, 0)


def test_a_known_target_in_the_callers_own_datacenter_is_a_400(
    http: httpx.Client, admin: Admin, org: OrgKeys
) -> None:
    neighbour = admin.create_org(org.datacenter)

    refused = post(http, org, ddr_body(org, neighbour))

    assert refused.status_code == 400
    (error,) = refused.json()["errors"]
    assert error["source"] == {"pointer": f"{ATTRIBUTES}/TargetOrgUuid"}
    assert "own datacenter" in error["detail"]


def test_a_warning_quoting_a_name_with_line_breaks_cannot_split_the_header(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner, target_org_name="Old\r\nX-Injected: yes")

    written = post(http, org, body)

    assert written.status_code == 200, written.text
    assert "x-injected" not in written.headers
    assert "Old\\r\\nX-Injected: yes" in written.headers["x-hamr-warning"]
    assert attributes(http, org)["target_org_name"] == partner.name
