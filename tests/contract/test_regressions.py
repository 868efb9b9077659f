"""What the fuzzers found, each pinned as a plain test (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.conftest import Admin, OrgKeys, connection_body, unknown_org

PATH = "/api/v2/hamr"
JSON_TYPE = {"Content-Type": "application/json"}


def errors(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    items: list[dict[str, Any]] = response.json()["errors"]
    assert items
    assert all(item["status"] == str(status) for item in items), items
    return items


def test_a_post_without_a_body_is_400(http: httpx.Client, admin: Admin, org: OrgKeys) -> None:
    """Found by schemathesis (negative data: "Missing request body"). The contract requires a
    body and answers a bad one with 400, and lists no 415 for this operation; a POST with no
    body at all (and so no Content-Type) is a missing body, not a body of the wrong type. (A
    body that is there without `Content-Type: application/json` stays a 415.)"""
    before = admin.snapshot(org.uuid)

    response = http.post(PATH, headers=org.headers)

    assert "content-type" not in response.request.headers
    [item] = errors(response, 400)
    assert item["source"] == {"pointer": ""}
    assert admin.snapshot(org.uuid) == before


def test_a_post_with_an_empty_json_body_is_400(
    http: httpx.Client, admin: Admin, org: OrgKeys
) -> None:
    """The same, declared as JSON: already a 400 (not valid JSON); kept beside it."""
    before = admin.snapshot(org.uuid)

    response = http.post(PATH, headers={**org.headers, **JSON_TYPE})

    [item] = errors(response, 400)
    assert item["source"] == {"pointer": ""}
    assert admin.snapshot(org.uuid) == before


@pytest.mark.parametrize("field", ["modified_by", "target_org_name"])
def test_nul_in_a_string_is_refused_on_every_backend(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, field: str
) -> None:
    """Found by schemathesis on PostgreSQL: "\\u0000" in a string is valid JSON and valid for
    the contract, but PostgreSQL text cannot hold NUL, and the INSERT failed with a 500. Both
    backends now refuse it alike: a 400 naming the field, and nothing stored."""
    body = connection_body(org, partner, **{field: "before\x00after"})
    before = admin.snapshot(org.uuid)

    response = http.post(PATH, json=body, headers=org.headers)

    [item] = errors(response, 400)
    assert item["source"] == {"pointer": f"/data/attributes/{field}"}
    assert "NUL" in item["detail"]
    assert admin.snapshot(org.uuid) == before


def test_a_refused_pairing_does_not_fail_the_writes_batched_with_it(
    http: httpx.Client, admin: Admin, partner: OrgKeys
) -> None:
    """The same for a 409 (found by the stateful test's concurrent writes): the group-commit
    writer learns only inside the transaction that a write would take an organization paired
    with someone else, and that must fail that write alone. Two orgs name one known partner
    among writes that name partners of their own: one of the two is paired, the other refused
    with a 409, round after round, and every other write is acknowledged and stored."""
    good = [admin.create_org("us1") for _ in range(12)]
    rivals = [admin.create_org("us1") for _ in range(2)]
    requests = [(org, connection_body(org, unknown_org())) for org in good]
    requests.insert(4, (rivals[0], connection_body(rivals[0], partner)))
    requests.insert(9, (rivals[1], connection_body(rivals[1], partner)))

    def send(item: tuple[OrgKeys, dict[str, Any]]) -> httpx.Response:
        org, body = item
        return http.post(PATH, content=json.dumps(body), headers={**org.headers, **JSON_TYPE})

    winners = set()
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            responses = list(pool.map(send, requests))
        outcome = {}
        for (org, _body), response in zip(requests, responses, strict=True):
            if org in rivals:
                outcome[org.uuid] = response.status_code
                if response.status_code == 409:
                    [item] = errors(response, 409)
                    assert item["source"] == {"pointer": "/data/attributes/target_org_uuid"}
            else:
                assert response.status_code == 200, (org.uuid, response.text)
        assert sorted(outcome.values()) == [200, 409], outcome
        winners |= {uuid for uuid, status in outcome.items() if status == 200}
    # The first round decided the pair for good.
    (winner,) = winners
    (loser,) = {rival.uuid for rival in rivals} - winners
    for org in good:
        assert len(admin.history(org.uuid)) == 5
    paired = admin.connection(winner)
    assert paired is not None
    assert paired.target_org_uuid == partner.uuid
    assert admin.connection(partner.uuid) == dataclasses.replace(
        paired,
        org_uuid=partner.uuid,
        is_primary=not paired.is_primary,
        target_org_uuid=winner,
        target_org_name=next(r.name for r in rivals if r.uuid == winner),
        target_org_datacenter="us1",
        org_datacenter=partner.datacenter,
    )
    assert admin.connection(loser) is None
    assert admin.history(loser) == []


@pytest.mark.parametrize(
    ("record", "sent"),
    [("Acme Backup", "東京 Backup"), ("東京 Backup", "Acme Backup")],
    ids=["name sent", "name on record"],
)
def test_a_known_partner_named_otherwise_in_any_unicode_is_a_200_with_a_warning(
    http: httpx.Client, admin: Admin, org: OrgKeys, record: str, sent: str
) -> None:
    """Found by the stateful test: a POST naming a known partner by another name is stored
    under the record's name and answered with an X-Hamr-Warning that quotes both names. A
    name outside Latin-1 (in the request, or on record) made that header unencodable: the
    write was committed, and then answered with a 500, so the client was told it failed. Any
    name that may be stored may be quoted back; the answer is the 200 the write earned."""
    partner = admin.create_org("eu1", record)
    before = len(admin.history(org.uuid))

    response = http.post(
        PATH, json=connection_body(org, partner, target_org_name=sent), headers=org.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["attributes"]["target_org_name"] == record
    assert partner.uuid in response.headers["x-hamr-warning"]
    assert len(admin.history(org.uuid)) == before + 1
