"""`GET /api/v2/hamr/history`, hamr's extension, on a real server (SQLite and PostgreSQL): the
caller's pair's history, both sides' writes, newest first, as a JSON:API list paged by an
opaque cursor, with filters on time and status; admitted as GET /api/v2/hamr is."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from hamr.domain.model import (
    ConnectionChange,
    HamrStatus,
    KeyKind,
    Permission,
    Principal,
    format_timestamp,
)
from tests.conftest import Admin, OrgKeys, connection_body

HISTORY = "/api/v2/hamr/history"
ATTRIBUTES = {
    "org_uuid",
    "key_id",
    "connection_id",
    "modified_by",
    "recorded_at",
    "before",
    "after",
    "violation",
    "reason",
    "chain_hash",
}


def principal(admin: Admin, org: OrgKeys) -> Principal:
    found = admin.service.identify(org.app_key, KeyKind.APP)
    assert found is not None
    return found


def write(admin: Admin, org: OrgKeys, partner: OrgKeys, statuses: list[int]) -> None:
    """One history row per status, the two sides in turn, in batches of up to 50 (each one
    transaction, as the group-commit writer makes them)."""
    sides = [principal(admin, org), principal(admin, partner)]
    upserts = []
    for turn, status in enumerate(statuses):
        writer, other = (0, partner) if turn % 2 == 0 else (1, org)
        change = ConnectionChange(
            hamr_status=HamrStatus(status),
            is_primary=writer == 0,
            modified_by=f"writer-{turn}@example.com",
            target_org_datacenter=other.datacenter,
            target_org_name=other.name,
            target_org_uuid=other.uuid,
        )
        upserts.append((sides[writer], change))
    for start in range(0, len(upserts), 50):
        admin.service.upsert_connections(upserts[start : start + 50])


def read(http: httpx.Client, org: OrgKeys, **params: str) -> httpx.Response:
    return http.get(HISTORY, params=params, headers=org.headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def every_page(http: httpx.Client, org: OrgKeys, **params: str) -> list[dict[str, Any]]:
    """Pages from the first, following links.next to the end."""
    pages = [ok(read(http, org, **params))]
    while pages[-1]["links"]["next"] is not None:
        pages.append(ok(http.get(pages[-1]["links"]["next"], headers=org.headers)))
    return pages


def ids(document: dict[str, Any]) -> list[int]:
    return [int(item["id"]) for item in document["data"]]


@pytest.fixture
def pair(admin: Admin) -> tuple[OrgKeys, OrgKeys]:
    return admin.create_org("us1"), admin.create_org("eu1")


def test_250_rows_in_pages_of_100_are_every_row_once_newest_first(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    org, partner = pair
    write(admin, org, partner, [(turn % 5) + 1 for turn in range(250)])
    stored = [entry.id for entry in admin.history(org.uuid)]
    assert len(stored) == 250

    pages = every_page(http, org, **{"page[size]": "100"})
    assert [len(page["data"]) for page in pages] == [100, 100, 50]
    seen = [row_id for page in pages for row_id in ids(page)]
    assert seen == sorted(stored, reverse=True)
    assert [page["meta"]["page"]["size"] for page in pages] == [100, 100, 100]
    assert pages[0]["meta"]["page"]["next_cursor"] is not None
    assert pages[-1]["meta"]["page"]["next_cursor"] is None
    # The next link carries the size and the cursor, and the same server.
    next_link = httpx.URL(pages[0]["links"]["next"])
    assert str(next_link).split("?")[0] == f"{http.base_url}".rstrip("/") + HISTORY
    assert next_link.params["page[size]"] == "100"
    assert next_link.params["page[cursor]"] == pages[0]["meta"]["page"]["next_cursor"]

    # The default size is 100 too.
    assert ids(ok(read(http, org))) == seen[:100]


def test_each_event_is_a_stored_row(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    org, partner = pair
    write(admin, org, partner, [1, 2])
    admin.service.pairs.unlink(org.uuid)
    entries = admin.history(org.uuid)
    document = ok(read(http, org))
    assert [item["type"] for item in document["data"]] == ["hamr_history_events"] * 4
    for item, entry in zip(document["data"], reversed(entries), strict=True):
        assert item["id"] == str(entry.id)
        assert set(item["attributes"]) == ATTRIBUTES
        assert item["attributes"] == {
            "org_uuid": entry.org_uuid,
            "key_id": entry.key_id,
            "connection_id": entry.connection_id,
            "modified_by": entry.modified_by,
            "recorded_at": format_timestamp(entry.recorded_at_us),
            "before": entry.before,
            "after": entry.after,
            "violation": entry.violation,
            "reason": entry.reason,
            "chain_hash": entry.chain_hash,
        }
    attributes = [item["attributes"] for item in document["data"]]
    assert [a["after"] is None for a in attributes] == [True, True, False, False]  # unlinked
    assert {a["org_uuid"] for a in attributes} == {org.uuid, partner.uuid}
    assert all(len(a["chain_hash"]) == 64 for a in attributes)
    assert attributes[-1]["before"] is None
    assert attributes[0]["recorded_at"].endswith("Z")


def test_both_sides_of_a_pair_see_the_same_events_and_others_none(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    org, partner = pair
    write(admin, org, partner, [1, 2, 3])
    outsider, its_partner = admin.create_org("us1"), admin.create_org("eu1")
    write(admin, outsider, its_partner, [1])
    ours = ok(read(http, org))
    assert ok(read(http, partner)) == ours
    assert len(ours["data"]) == 3
    theirs = ok(read(http, outsider))
    assert len(theirs["data"]) == 1
    assert not set(ids(theirs)) & set(ids(ours))
    # An organization with no history at all: an empty list, not a 404.
    loner = admin.create_org("ap1")
    assert ok(read(http, loner)) == {
        "data": [],
        "meta": {"page": {"size": 100, "next_cursor": None}},
        "links": {"next": None},
    }


def test_filter_by_status(http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]) -> None:
    org, partner = pair
    statuses = [1, 2, 3, 4, 5, 2, 3, 4, 5, 2, 3]
    write(admin, org, partner, statuses)
    admin.service.pairs.unlink(org.uuid)  # rows whose after is null match no status
    entries = admin.history(org.uuid)
    for status in range(6):
        expected = [e.id for e in reversed(entries) if e.after and e.after["hamr_status"] == status]
        pages = every_page(http, org, **{"filter[status]": str(status), "page[size]": "2"})
        assert [row_id for page in pages for row_id in ids(page)] == expected, status
        for page in pages:
            for item in page["data"]:
                assert item["attributes"]["after"]["hamr_status"] == status
    assert ids(ok(read(http, org, **{"filter[status]": "0"}))) == []


def test_filter_by_time(http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]) -> None:
    org, partner = pair
    write(admin, org, partner, [1, 2, 3, 4, 5, 2])
    entries = admin.history(org.uuid)
    newest_first = [e.id for e in reversed(entries)]
    second, fifth = entries[1], entries[4]
    window = {
        "filter[from]": format_timestamp(second.recorded_at_us),
        "filter[to]": format_timestamp(fifth.recorded_at_us),
    }
    inside = [e.id for e in reversed(entries[1:5])]
    assert ids(ok(read(http, org, **window))) == inside  # both ends included
    pages = every_page(http, org, **window, **{"page[size]": "3"})
    assert [ids(page) for page in pages] == [inside[:3], inside[3:]]
    assert httpx.URL(pages[0]["links"]["next"]).params["filter[from]"] == window["filter[from]"]
    after_second = {"filter[from]": format_timestamp(second.recorded_at_us + 1)}
    assert ids(ok(read(http, org, **after_second))) == newest_first[:-2]
    up_to_fifth = {"filter[to]": format_timestamp(fifth.recorded_at_us)}
    assert ids(ok(read(http, org, **up_to_fifth))) == newest_first[1:]
    # The same instant with an offset, and to the second only.
    moment = datetime.fromisoformat(format_timestamp(second.recorded_at_us))
    shifted = (moment + timedelta(hours=2)).replace(tzinfo=None).isoformat(timespec="microseconds")
    assert ids(ok(read(http, org, **{"filter[from]": shifted + "+02:00"}))) == newest_first[:-1]
    first_second = datetime.fromisoformat(format_timestamp(entries[0].recorded_at_us))
    whole_second = first_second.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(ok(read(http, org, **{"filter[from]": whole_second}))) == newest_first
    assert ids(ok(read(http, org, **{"filter[from]": "9999-12-31T23:59:59Z"}))) == []


def test_a_cursor_stays_put_while_new_rows_arrive(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    org, partner = pair
    write(admin, org, partner, [1, 2, 3, 4, 5] * 5)
    first = ok(read(http, org, **{"page[size]": "10"}))
    for status in (2, 3, 4):
        body = connection_body(partner, org, hamr_status=status, is_primary=False)
        assert http.post("/api/v2/hamr", json=body, headers=partner.headers).status_code == 200
    rest = every_page(
        http, org, **{"page[size]": "10", "page[cursor]": first["meta"]["page"]["next_cursor"]}
    )
    seen = ids(first) + [row_id for page in rest for row_id in ids(page)]
    before_the_new_rows = sorted((e.id for e in admin.history(org.uuid)), reverse=True)[3:]
    assert seen == before_the_new_rows
    newest = ok(read(http, org, **{"page[size]": "10"}))
    assert ids(newest)[3:] == ids(first)[:7]
    assert [i["attributes"]["after"]["hamr_status"] for i in newest["data"][:3]] == [4, 3, 2]


BAD_PARAMETERS = [
    ("page[size]", "0"),
    ("page[size]", "1001"),
    ("page[size]", "ten"),
    ("page[size]", "1.5"),
    ("page[size]", "-1"),
    ("page[size]", ""),
    ("page[size]", "9" * 5000),
    ("page[cursor]", "not-a-cursor!"),
    ("page[cursor]", "AAAA"),
    ("page[cursor]", ""),
    ("filter[from]", "yesterday"),
    ("filter[from]", "2026-13-01T00:00:00Z"),
    ("filter[from]", "2026-02-30T00:00:00Z"),
    ("filter[from]", "2026-01-01T00:00:00"),  # no offset
    ("filter[from]", "2026-01-01"),
    ("filter[to]", "2026-01-01T00:00:00 02:00"),  # a + sent unencoded arrives as a space
    ("filter[to]", "2026-01-01T24:00:00Z"),
    ("filter[status]", "6"),
    ("filter[status]", "-1"),
    ("filter[status]", "PASSIVE"),
    ("filter[statuses]", "2"),
    ("page[number]", "2"),
]


@pytest.mark.parametrize(("parameter", "value"), BAD_PARAMETERS)
def test_a_bad_parameter_is_a_400_naming_it(
    http: httpx.Client, org: OrgKeys, parameter: str, value: str
) -> None:
    response = http.get(HISTORY, params={parameter: value}, headers=org.headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["status"] == "400"
    assert error["title"] == "Bad Request"
    assert error["source"] == {"parameter": parameter}
    assert parameter in error["detail"]
    assert response.headers["x-ratelimit-name"] == "hamr_get"


def test_a_parameter_given_twice_is_a_400(http: httpx.Client, org: OrgKeys) -> None:
    response = http.get(
        HISTORY, params=[("page[size]", "2"), ("page[size]", "3")], headers=org.headers
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "page[size]"}


def test_authentication_and_budget_are_get_s(
    http: httpx.Client, admin: Admin, org: OrgKeys
) -> None:
    """Refused as GET /api/v2/hamr is refused, and counted in the same bucket."""
    for headers in ({}, {**org.headers, "DD-API-KEY": "0" * 32}, {"DD-API-KEY": org.api_key}):
        ours = http.get(HISTORY, headers=headers)
        theirs = http.get("/api/v2/hamr", headers=headers)
        assert ours.status_code == theirs.status_code == 403
        assert ours.json() == theirs.json()
        assert ours.json()["errors"][0]["source"]["header"]
    # Credentials are checked before parameters.
    assert http.get(HISTORY, params={"page[size]": "0"}).status_code == 403
    answered = http.get(HISTORY, headers=org.headers)
    assert answered.headers["x-ratelimit-name"] == "hamr_get"
    # A bearer token, and a read-only application key, may read it as they may GET.
    _record, token = admin.service.create_key(org.uuid, KeyKind.TOKEN, Permission.READ)
    assert http.get(HISTORY, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    _record, app_key = admin.service.create_key(org.uuid, KeyKind.APP, Permission.READ)
    read_only = {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": app_key}
    assert http.get(HISTORY, headers=read_only).status_code == 200


def test_only_get(http: httpx.Client, org: OrgKeys) -> None:
    response = http.post(HISTORY, json={}, headers=org.headers)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_a_page_validates_against_the_served_openapi(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    org, partner = pair
    write(admin, org, partner, [1, 2, 3])
    admin.service.pairs.unlink(org.uuid)
    served = http.get("/openapi.json").json()
    operation = served["paths"][HISTORY]["get"]
    assert operation["operationId"] == "ListHamrHistoryEvents"
    assert {p["name"] for p in operation["parameters"]} == {
        "page[size]",
        "page[cursor]",
        "filter[from]",
        "filter[to]",
        "filter[status]",
    }
    components = json_schema(served["components"])
    validator = Draft202012Validator(
        {"$ref": "#/components/schemas/HamrHistoryEventsResponse", "components": components}
    )
    for page in every_page(http, org, **{"page[size]": "2"}):
        validator.validate(page)


def json_schema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` in JSON Schema's terms."""
    if isinstance(schema, list):
        return [json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {k: json_schema(v) for k, v in schema.items() if k != "nullable"}
    if schema.get("nullable") and "type" in converted:
        converted["type"] = [converted["type"], "null"]
    return copy.deepcopy(converted)


def test_every_well_formed_cursor_is_accepted(
    http: httpx.Client, admin: Admin, pair: tuple[OrgKeys, OrgKeys]
) -> None:
    """Twelve base64url characters, as the served document says: past every id reads from
    the newest (on PostgreSQL too, whose ids are 32-bit), before every id reads nothing."""
    org, partner = pair
    write(admin, org, partner, [1, 2, 3])
    newest = ids(ok(read(http, org)))
    assert ids(ok(read(http, org, **{"page[cursor]": "_" * 12}))) == newest
    assert ids(ok(read(http, org, **{"page[cursor]": "A" * 12}))) == []
