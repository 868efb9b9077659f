"""Who may call: every way of getting authentication wrong is a 403 naming the header to fix,
changes nothing, and revoked credentials stop working on a running server within
0.25 s, on both GET paths."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from jsonschema import Draft202012Validator

from hamr.domain.model import KeyKind
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli

PATH = "/api/v2/hamr"
API = "DD-API-KEY"
APP = "DD-APPLICATION-KEY"
AUTHORIZATION = "Authorization"
AUTHZ = AUTHORIZATION
# The README's promise: each server polls for revocations every 0.1 s.
REVOCATION_DEADLINE_S = 0.25
FAST_LANE = {"Accept-Encoding": "identity"}
BY_APP = {"Accept-Encoding": "gzip"}


@dataclass(frozen=True)
class Credentials:
    org: OrgKeys
    other: OrgKeys  # a second organization, with valid keys of its own
    token: str  # a valid bearer token of `org`


@pytest.fixture
def credentials(admin: Admin, org: OrgKeys, partner: OrgKeys, http: httpx.Client) -> Credentials:
    """Two orgs paired, their connection written from both sides, so that a refused write
    has something to change."""
    for caller, target in ((org, partner), (partner, org)):
        response = http.post(PATH, json=connection_body(caller, target), headers=caller.headers)
        assert response.status_code == 200, response.text
    token = admin.service.create_key(org.uuid, KeyKind.TOKEN)[1]
    return Credentials(org, partner, token)


def assert_forbidden(
    response: httpx.Response,
    header: str,
    validator: Draft202012Validator,
    sent: dict[str, str] | None = None,
) -> None:
    """A JSON:API 403 whose only error names `header`, and never echoes a secret."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    validator.validate(document)
    (error,) = document["errors"]
    assert error["status"] == "403"
    assert error["title"] == "Forbidden"
    assert error["detail"]
    assert error["source"] == {"header": header}
    for value in (sent or {}).values():
        secret = value.removeprefix("Bearer").removeprefix("Basic").strip()
        if len(secret) >= 8:
            assert secret not in response.text


@pytest.fixture
def error_validator(
    schema_validator: Callable[[str], Draft202012Validator],
) -> Draft202012Validator:
    return schema_validator("JSONAPIErrorResponse")


# (id, headers to send, the header the 403 must name)
CASES: list[tuple[str, Callable[[Credentials], dict[str, str]], str]] = [
    ("no headers", lambda c: {}, API),
    ("only the API key", lambda c: {API: c.org.api_key}, APP),
    ("only the application key", lambda c: {APP: c.org.app_key}, API),
    ("wrong API key", lambda c: {API: "0" * 32, APP: c.org.app_key}, API),
    ("wrong application key", lambda c: {API: c.org.api_key, APP: "0" * 40}, APP),
    ("empty API key", lambda c: {API: "", APP: c.org.app_key}, API),
    ("application key as DD-API-KEY", lambda c: {API: c.org.app_key, APP: c.org.app_key}, API),
    ("keys swapped", lambda c: {API: c.org.app_key, APP: c.org.api_key}, API),
    ("API key as DD-APPLICATION-KEY", lambda c: {API: c.org.api_key, APP: c.org.api_key}, APP),
    (
        "API and application keys of two orgs",
        lambda c: {API: c.org.api_key, APP: c.other.app_key},
        APP,
    ),
    (
        "application and API keys of two orgs",
        lambda c: {API: c.other.api_key, APP: c.org.app_key},
        APP,
    ),
    ("Bearer wrong", lambda c: {AUTHORIZATION: "Bearer wrong"}, AUTHORIZATION),
    ("Bearer empty", lambda c: {AUTHORIZATION: "Bearer"}, AUTHORIZATION),
    ("Basic only", lambda c: {AUTHORIZATION: "Basic dXNlcjpwYXNzd29yZA=="}, AUTHORIZATION),
    ("token as DD-API-KEY", lambda c: {API: c.token, APP: c.org.app_key}, API),
    ("token as DD-APPLICATION-KEY", lambda c: {API: c.org.api_key, APP: c.token}, APP),
    ("API key as bearer token", lambda c: {AUTHZ: f"Bearer {c.org.api_key}"}, AUTHZ),
    ("application key as bearer token", lambda c: {AUTHZ: f"Bearer {c.org.app_key}"}, AUTHZ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("headers_for", "culprit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_refused_with_the_culprit_header_and_nothing_changes(
    http: httpx.Client,
    admin: Admin,
    credentials: Credentials,
    error_validator: Draft202012Validator,
    headers_for: Callable[[Credentials], dict[str, str]],
    culprit: str,
) -> None:
    org, other = credentials.org, credentials.other
    before = admin.snapshot(org.uuid), admin.snapshot(other.uuid)
    headers = headers_for(credentials)

    read = http.get(PATH, headers=headers)
    assert_forbidden(read, culprit, error_validator, headers)
    write = http.post(
        PATH, json=connection_body(org, other, hamr_status=3, modified_by="x@x"), headers=headers
    )
    assert_forbidden(write, culprit, error_validator, headers)
    # The same body from the other org's point of view must not land there either.
    write_other = http.post(PATH, json=connection_body(other, org, hamr_status=3), headers=headers)
    assert_forbidden(write_other, culprit, error_validator, headers)

    assert (admin.snapshot(org.uuid), admin.snapshot(other.uuid)) == before
    # and the org's real credentials still work
    assert http.get(PATH, headers=org.headers).status_code == 200


@pytest.fixture(scope="module")
def live_server(wire: Callable[[str], ServeProcess]) -> ServeProcess:
    """A server answering as Datadog's live API does (`--wire live`)."""
    return wire("live")


@pytest.mark.parametrize(
    ("headers_for", "culprit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_live_wire_answers_an_invalid_api_key_with_its_401(
    live_server: ServeProcess,
    admin: Admin,
    credentials: Credentials,
    error_validator: Draft202012Validator,
    headers_for: Callable[[Credentials], dict[str, str]],
    culprit: str,
) -> None:
    """With `--wire live`, a DD-API-KEY that was sent and is not valid gets the live API's
    401; every other refusal is the same 403 as in the contract; nothing changes either way."""
    org, other = credentials.org, credentials.other
    before = admin.snapshot(org.uuid), admin.snapshot(other.uuid)
    headers = headers_for(credentials)
    unauthorized = culprit == API and API in headers

    with local_http.client(base_url=live_server.url, timeout=10) as live:
        for response in (
            live.get(PATH, headers=headers),
            live.post(PATH, json=connection_body(org, other, hamr_status=3), headers=headers),
        ):
            if unauthorized:
                assert response.status_code == 401, response.text
                assert response.headers["content-type"] == "application/json"
                assert response.json() == {"errors": ["Unauthorized"]}
            else:
                assert_forbidden(response, culprit, error_validator, headers)
        assert live.get(PATH, headers=org.headers).status_code == 200

    assert (admin.snapshot(org.uuid), admin.snapshot(other.uuid)) == before


def test_the_official_client_sees_a_403_for_wrong_keys(
    hamr_api: Callable[..., HighAvailabilityMultiRegionApi], credentials: Credentials
) -> None:
    with pytest.raises(ForbiddenException) as raised:
        hamr_api(api_key=credentials.org.api_key, app_key="f" * 40).get_hamr_org_connection()
    assert raised.value.status == 403
    assert raised.value.body["errors"][0]["source"] == {"header": APP}


# -- what works ------------------------------------------------------------------------------


def test_valid_bearer_token_reads_and_writes(
    http: httpx.Client, admin: Admin, credentials: Credentials
) -> None:
    org, other = credentials.org, credentials.other
    bearer = {AUTHORIZATION: f"Bearer {credentials.token}"}
    history_before = len(admin.history(org.uuid))
    written = http.post(PATH, json=connection_body(org, other, hamr_status=5), headers=bearer)
    assert written.status_code == 200, written.text
    read = http.get(PATH, headers=bearer)
    assert read.status_code == 200
    assert read.json() == written.json()
    assert read.json()["data"]["attributes"]["hamr_status"] == 5
    assert len(admin.history(org.uuid)) == history_before + 1
    # the same state through the org's keys
    assert http.get(PATH, headers=org.headers).json() == read.json()
    # and the partner reads the write on the pair's one connection, from its own side
    theirs = http.get(PATH, headers=other.headers).json()["data"]
    assert theirs["id"] == other.uuid
    assert {name: theirs["attributes"][name] for name in ("hamr_status", "is_primary")} == {
        "hamr_status": 5,
        "is_primary": False,
    }
    assert theirs["attributes"]["modified_at"] == read.json()["data"]["attributes"]["modified_at"]


def test_a_token_made_by_the_cli_works(
    http: httpx.Client, database_url: str, credentials: Credentials
) -> None:
    result = run_cli("token", "create", "--org", credentials.org.uuid, database_url=database_url)
    assert result.returncode == 0, result.stderr
    (token,) = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("key")]
    read = http.get(PATH, headers={AUTHORIZATION: f"Bearer {token}"})
    assert read.status_code == 200, read.text
    assert read.json()["data"]["id"] == credentials.org.uuid


def test_a_key_created_after_the_server_started_works_at_once(
    http: httpx.Client, admin: Admin, credentials: Credentials
) -> None:
    api_key = admin.service.create_key(credentials.org.uuid, KeyKind.API)[1]
    app_key = admin.service.create_key(credentials.org.uuid, KeyKind.APP)[1]
    read = http.get(PATH, headers={API: api_key, APP: app_key})
    assert read.status_code == 200, read.text


# -- revocation on a running server ----------------------------------------------------------


def revoke_and_time_refusal(
    http: httpx.Client,
    database_url: str,
    key_id: str,
    headers: dict[str, str],
    culprit: str,
    validator: Draft202012Validator,
) -> float:
    """Revoke through the CLI; seconds from its return until the server refuses `headers` on
    both GET paths (the fast lane, and the app httpx's gzip request reaches)."""
    lanes = [{**headers, **lane} for lane in (FAST_LANE, BY_APP)]
    for sent in lanes:  # the server has the credential cached, and each path its answer
        warm = http.get(PATH, headers=sent)
        assert warm.status_code == 200, warm.text
    result = run_cli("key", "revoke", key_id, database_url=database_url)
    assert result.returncode == 0, result.stderr
    revoked_at = time.monotonic()
    while True:
        responses = [http.get(PATH, headers=sent) for sent in lanes]
        elapsed = time.monotonic() - revoked_at
        refused = [r.status_code != 200 for r in responses]
        if all(refused) or elapsed > 5 * REVOCATION_DEADLINE_S:
            break
        time.sleep(0.01)
    for response in responses:
        assert_forbidden(response, culprit, validator, headers)
    return elapsed


def assert_refused_everywhere(
    http: httpx.Client,
    admin: Admin,
    credentials: Credentials,
    headers: dict[str, str],
    culprit: str,
    validator: Draft202012Validator,
) -> None:
    """Stays refused, for writes too, and writes nothing."""
    before = admin.snapshot(credentials.org.uuid)
    body = connection_body(credentials.org, credentials.other, hamr_status=0)
    for _ in range(3):
        for lane in (FAST_LANE, BY_APP):
            refused = http.get(PATH, headers={**headers, **lane})
            assert_forbidden(refused, culprit, validator, headers)
        assert_forbidden(http.post(PATH, json=body, headers=headers), culprit, validator, headers)
    assert admin.snapshot(credentials.org.uuid) == before


def assert_works(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get(PATH, headers=headers)
    assert response.status_code == 200, response.text


def test_revoked_api_key_is_refused_within_a_quarter_second(
    http: httpx.Client,
    admin: Admin,
    database_url: str,
    credentials: Credentials,
    error_validator: Draft202012Validator,
) -> None:
    org = credentials.org
    record, api_key = admin.service.create_key(org.uuid, KeyKind.API)
    headers = {API: api_key, APP: org.app_key}

    elapsed = revoke_and_time_refusal(http, database_url, record.id, headers, API, error_validator)
    assert elapsed < REVOCATION_DEADLINE_S, f"still accepted {elapsed:.2f} s after revocation"

    assert_refused_everywhere(http, admin, credentials, headers, API, error_validator)
    assert_works(http, org.headers)  # the org's other API key, with the same app key
    assert_works(http, {AUTHORIZATION: f"Bearer {credentials.token}"})
    assert_works(http, credentials.other.headers)


def test_revoked_app_key_is_refused_while_the_api_key_stays_valid(
    http: httpx.Client,
    admin: Admin,
    database_url: str,
    credentials: Credentials,
    error_validator: Draft202012Validator,
) -> None:
    org = credentials.org
    record, app_key = admin.service.create_key(org.uuid, KeyKind.APP)
    headers = {API: org.api_key, APP: app_key}

    elapsed = revoke_and_time_refusal(http, database_url, record.id, headers, APP, error_validator)
    assert elapsed < REVOCATION_DEADLINE_S, f"still accepted {elapsed:.2f} s after revocation"

    assert_refused_everywhere(http, admin, credentials, headers, APP, error_validator)
    assert_works(http, org.headers)  # same API key, the org's other app key
    assert_works(http, {AUTHORIZATION: f"Bearer {credentials.token}"})


def test_revoked_token_is_refused_within_a_quarter_second(
    http: httpx.Client,
    admin: Admin,
    database_url: str,
    credentials: Credentials,
    error_validator: Draft202012Validator,
) -> None:
    org = credentials.org
    record, token = admin.service.create_key(org.uuid, KeyKind.TOKEN)
    headers = {AUTHORIZATION: f"Bearer {token}"}

    elapsed = revoke_and_time_refusal(
        http, database_url, record.id, headers, AUTHORIZATION, error_validator
    )
    assert elapsed < REVOCATION_DEADLINE_S, f"still accepted {elapsed:.2f} s after revocation"

    assert_refused_everywhere(http, admin, credentials, headers, AUTHORIZATION, error_validator)
    assert_works(http, {AUTHORIZATION: f"Bearer {credentials.token}"})  # the org's other token
    assert_works(http, org.headers)


def test_revoking_one_orgs_original_keys_leaves_other_orgs_alone(
    http: httpx.Client,
    admin: Admin,
    database_url: str,
    credentials: Credentials,
    error_validator: Draft202012Validator,
) -> None:
    org = credentials.org
    api_record = next(k for k in admin.service.list_keys(org.uuid) if k.kind is KeyKind.API)

    elapsed = revoke_and_time_refusal(
        http, database_url, api_record.id, org.headers, API, error_validator
    )
    assert elapsed < REVOCATION_DEADLINE_S, f"still accepted {elapsed:.2f} s after revocation"

    assert_works(http, credentials.other.headers)
    assert_works(http, {AUTHORIZATION: f"Bearer {credentials.token}"})
