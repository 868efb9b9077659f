"""Every kind of error the API returns, each provoked for real and held to the contract's
JSONAPIErrorResponse; and the two success bodies held to HamrOrgConnectionResponse (in the
default wire format, the contract's attributes followed by the live API's)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from hamr.domain.model import KeyKind
from tests.conftest import Admin, OrgKeys, connection_body, unknown_org

PATH = "/api/v2/hamr"
JSON_TYPE = {"Content-Type": "application/json"}
API, APP, AUTHORIZATION = "DD-API-KEY", "DD-APPLICATION-KEY", "Authorization"
# The live API's spelling of the request attributes, which hamr accepts too: an error about
# one of them points at it as the client spelled it.
PASCAL_CASE = {
    "hamr_status": "HamrStatus",
    "is_primary": "IsPrimary",
    "modified_by": "ModifiedBy",
    "target_org_datacenter": "TargetOrgDatacenter",
    "target_org_name": "TargetOrgName",
    "target_org_uuid": "TargetOrgUuid",
}
RESPONSE_ATTRIBUTES = [
    "hamr_status",
    "is_primary",
    "modified_at",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
]


@dataclass
class Case:
    """One request that must fail, and where its errors must point."""

    name: str
    status: int
    method: str = "GET"
    path: str = PATH
    headers: dict[str, str] = field(default_factory=dict)
    document: Any = None  # sent as JSON when not None (and `raw` is None)
    raw: bytes | None = None
    sources: list[dict[str, str]] | None = None  # None: the error has no culprit to name


def request_pointers(contract: dict[str, Any]) -> set[str]:
    """Every JSON pointer into the shape of a HamrOrgConnectionRequest document, from the
    contract itself: "", "/data", "/data/attributes", "/data/attributes/hamr_status", ...;
    and each attribute's in the live API's spelling: "/data/attributes/HamrStatus", ..."""
    schemas = contract["components"]["schemas"]

    def walk(schema: dict[str, Any], at: str) -> set[str]:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        found = {at}
        for name, member in schema.get("properties", {}).items():
            found |= walk(member, f"{at}/{name}")
        return found

    found = walk(schemas["HamrOrgConnectionRequest"], "")
    attributes = {pointer for pointer in found if pointer.startswith("/data/attributes/")}
    assert {pointer.rsplit("/", 1)[1] for pointer in attributes} == set(PASCAL_CASE)
    return found | {f"/data/attributes/{PASCAL_CASE[p.rsplit('/', 1)[1]]}" for p in attributes}


def resolve(document: Any, pointer: str) -> Any:
    """RFC 6901: the value `pointer` names in `document` (KeyError/TypeError if none)."""
    for token in pointer.split("/")[1:] if pointer else []:
        document = document[token.replace("~1", "/").replace("~0", "~")]
    return document


def wait_until_refused(http: httpx.Client, headers: dict[str, str]) -> None:
    """Revocations reach the server's credential cache within its poll interval."""
    deadline = time.monotonic() + 5
    while http.get(PATH, headers=headers).status_code != 403:
        assert time.monotonic() < deadline, "a revoked credential was still accepted after 5 s"
        time.sleep(0.05)


def test_every_error_and_success_body_follows_the_contract(
    http: httpx.Client,
    admin: Admin,
    org: OrgKeys,
    partner: OrgKeys,
    contract: dict[str, Any],
    schema_validator: Callable[[str], Draft202012Validator],
) -> None:
    error_schema = schema_validator("JSONAPIErrorResponse")
    success_schema = schema_validator("HamrOrgConnectionResponse")
    pointers = request_pointers(contract)
    assert {"", "/data/id", "/data/attributes/target_org_uuid"} <= pointers
    valid = connection_body(org, partner)

    # Credentials that existed and were revoked.
    token_record, revoked_token = admin.service.create_key(org.uuid, KeyKind.TOKEN)
    api_record, revoked_api_key = admin.service.create_key(org.uuid, KeyKind.API)
    admin.service.revoke_key(token_record.id)
    admin.service.revoke_key(api_record.id)
    wait_until_refused(http, {AUTHORIZATION: f"Bearer {revoked_token}"})
    wait_until_refused(http, {API: revoked_api_key, APP: org.app_key})

    auth_failures = [
        ("no credentials", {}, API),
        ("non-bearer Authorization", {AUTHORIZATION: "Basic dXNlcjpwYXNz"}, AUTHORIZATION),
        ("unknown API key", {API: "0" * 32, APP: org.app_key}, API),
        ("application key as API key", {API: org.app_key, APP: org.app_key}, API),
        ("revoked API key", {API: revoked_api_key, APP: org.app_key}, API),
        ("API key without application key", {API: org.api_key}, APP),
        ("unknown application key", {API: org.api_key, APP: "0" * 40}, APP),
        ("API key as application key", {API: org.api_key, APP: org.api_key}, APP),
        ("keys of two organizations", {API: org.api_key, APP: partner.app_key}, APP),
        ("unknown bearer token", {AUTHORIZATION: "Bearer hamr_nope"}, AUTHORIZATION),
        ("Bearer without a token", {AUTHORIZATION: "Bearer"}, AUTHORIZATION),
        ("revoked bearer token", {AUTHORIZATION: f"Bearer {revoked_token}"}, AUTHORIZATION),
    ]
    invalid = connection_body(org, partner, hamr_status="4", target_org_datacenter="us1")
    del invalid["data"]["attributes"]["modified_by"]
    not_ours = connection_body(org, partner)
    not_ours["data"]["id"] = partner.uuid
    # In the live API's spelling, for a target hamr does not know: two mistakes, and one
    # attribute sent in both spellings that disagree.
    live_spelling = connection_body(
        org, unknown_org(), hamr_status="4", is_primary=False, target_org_name=" "
    )
    live_spelling["data"]["attributes"] = {
        PASCAL_CASE[name]: value for name, value in live_spelling["data"]["attributes"].items()
    }
    live_spelling["data"]["attributes"]["is_primary"] = True
    # Two orgs paired with each other: naming either as a partner is a conflict.
    taken, taken_partner = admin.create_org("eu1"), admin.create_org("ap1")
    paired = http.post(PATH, json=connection_body(taken, taken_partner), headers=taken.headers)
    assert paired.status_code == 200, paired.text
    cases = [
        *(
            Case(
                f"{method} {name}",
                403,
                method,
                headers=headers,
                document=valid if method == "POST" else None,
                sources=[{"header": header}],
            )
            for name, headers, header in auth_failures
            for method in ("GET", "POST")
        ),
        Case(
            "400 validation, several mistakes",
            400,
            "POST",
            headers=org.headers,
            document=invalid,
            sources=[
                {"pointer": "/data/attributes/hamr_status"},
                {"pointer": "/data/attributes/modified_by"},
                {"pointer": "/data/attributes/target_org_datacenter"},
            ],
        ),
        Case(
            "400 validation, live spelling",
            400,
            "POST",
            headers=org.headers,
            document=live_spelling,
            sources=[
                {"pointer": "/data/attributes/HamrStatus"},
                {"pointer": "/data/attributes/IsPrimary"},
                {"pointer": "/data/attributes/TargetOrgName"},
            ],
        ),
        Case(
            "400 missing data",
            400,
            "POST",
            headers=org.headers,
            document={"meta": {}},
            sources=[{"pointer": "/data"}],
        ),
        Case(
            "400 malformed JSON",
            400,
            "POST",
            headers={**org.headers, **JSON_TYPE},
            raw=b'{"data": {',
            sources=[{"pointer": ""}],
        ),
        Case(
            "400 not an object",
            400,
            "POST",
            headers=org.headers,
            document=[valid],
            sources=[{"pointer": ""}],
        ),
        Case(
            "403 data.id of another organization",
            403,
            "POST",
            headers=org.headers,
            document=not_ours,
            sources=[{"pointer": "/data/id"}],
        ),
        Case(
            "409 partner already paired with another organization",
            409,
            "POST",
            headers=org.headers,
            document=connection_body(org, taken),
            sources=[{"pointer": "/data/attributes/target_org_uuid"}],
        ),
        Case("404 no connection yet", 404, headers=org.headers),
        Case("404 unknown path", 404, path="/api/v2/hamr/nope", headers=org.headers),
        Case("405 PUT", 405, "PUT", headers=org.headers, document=valid),
        Case("405 DELETE", 405, "DELETE", headers=org.headers),
        Case(
            "413 body over 64 KiB",
            413,
            "POST",
            headers={**org.headers, **JSON_TYPE},
            raw=json.dumps(valid).encode() + b" " * 65536,
            sources=[{"header": "Content-Length"}],
        ),
        Case(
            "415 text/plain",
            415,
            "POST",
            headers={**org.headers, "Content-Type": "text/plain"},
            raw=json.dumps(valid).encode(),
            sources=[{"header": "Content-Type"}],
        ),
        Case(
            "415 no Content-Type",
            415,
            "POST",
            headers=org.headers,
            raw=json.dumps(valid).encode(),
            sources=[{"header": "Content-Type"}],
        ),
    ]
    statuses_seen: set[int] = set()
    problems: list[str] = []
    for case in cases:
        raw, headers = case.raw, case.headers
        if raw is None and case.document is not None:
            raw, headers = json.dumps(case.document).encode(), {**JSON_TYPE, **headers}
        response = http.request(case.method, case.path, headers=headers, content=raw)
        statuses_seen.add(response.status_code)
        problems += [
            f"{case.name}: {problem}"
            for problem in error_problems(case, response, error_schema, pointers)
        ]
    assert not problems, "\n".join(problems)
    assert statuses_seen == {400, 403, 404, 405, 409, 413, 415}
    assert admin.snapshot(org.uuid) == (None, 0)

    # And the successes, against their own schema.
    posted = http.post(PATH, json=valid, headers=org.headers)
    read = http.get(PATH, headers=org.headers)
    for response in (posted, read):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        document = response.json()
        success_schema.validate(document)
        assert set(document) == {"data"}
        assert set(document["data"]) == {"attributes", "id", "type"}
        assert list(document["data"]["attributes"]) == RESPONSE_ATTRIBUTES
    assert posted.json() == read.json()
    assert posted.json()["data"]["id"] == org.uuid
    assert admin.snapshot(org.uuid)[1] == 1


def error_problems(
    case: Case, response: httpx.Response, schema: Draft202012Validator, pointers: set[str]
) -> list[str]:
    """Everything wrong with one error response (empty when it follows the contract)."""
    if response.status_code != case.status:
        return [f"status {response.status_code}, expected {case.status}: {response.text}"]
    found: list[str] = []
    if response.headers.get("content-type") != "application/json":
        found.append(f"Content-Type {response.headers.get('content-type')!r}")
    try:
        document = response.json()
    except ValueError:
        return [*found, f"body is not JSON: {response.text!r}"]
    found += [f"schema: {error.message}" for error in schema.iter_errors(document)]
    items = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        return [*found, f"no error items: {document!r}"]
    sources = []
    for item in items:
        if item.get("status") != str(case.status):
            found.append(f"item status {item.get('status')!r}")
        if not isinstance(item.get("title"), str) or not item["title"]:
            found.append(f"item title {item.get('title')!r}")
        if not isinstance(item.get("detail"), str) or not item["detail"].strip():
            found.append(f"item detail {item.get('detail')!r}")
        source = item.get("source")
        if source is None:
            continue
        sources.append(source)
        if len(set(source) & {"pointer", "header"}) != 1 or set(source) - {"pointer", "header"}:
            found.append(f"source must have exactly one of pointer/header: {source!r}")
        pointer = source.get("pointer")
        if pointer is not None:
            if not (pointer == "" or pointer.startswith("/")):
                found.append(f"not a JSON pointer: {pointer!r}")
            if pointer not in pointers:
                found.append(f"pointer {pointer!r} is not into the request document's shape")
            elif case.document is not None and pointer:
                parent = pointer.rsplit("/", 1)[0]
                try:
                    resolve(case.document, parent)
                except (KeyError, IndexError, TypeError):
                    found.append(f"pointer {pointer!r}: its parent is not in the request")
    expected = case.sources or []
    key = json.dumps
    if sorted(map(key, sources)) != sorted(map(key, expected)):
        found.append(f"sources {sources!r}, expected {expected!r}")
    if case.sources is not None and len(items) != len(case.sources):
        found.append(f"{len(items)} error items for {len(case.sources)} mistakes")
    return found
