"""GET /api/v2/hamr has two paths: the fast lane in front of the app answers every GET of the
path without a query string, gzipped or not; the app's route answers HEAD and GETs with a
query string. A client must not be able to tell them apart: the same status, headers and
bytes, for every status, with gzip and without.

httpx asks for gzip unless told otherwise, so every request here says what it accepts."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import httpx
import pytest

from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body

PATH = "/api/v2/hamr"
BY_APP = PATH + "?via=app"  # a query string: the app's route answers
LANE = {"Accept-Encoding": "identity"}
APP = {"Accept-Encoding": "gzip"}  # as the official client sends it
# What differs between any two responses, whichever lane answers them.
PER_RESPONSE = {"date", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}


def stable_headers(response: httpx.Response, ignored: set[str]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers.items() if name not in ignored]


@pytest.mark.parametrize("connected", [True, False], ids=["connected", "never-connected"])
def test_the_first_get_from_storage_and_the_next_from_memory_look_the_same(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, connected: bool
) -> None:
    if connected:
        assert http.post(PATH, json=connection_body(org, partner), headers=org.headers).is_success
    credentials = {**admin.unseen_credentials(org), **LANE}

    from_storage = http.get(PATH, headers=credentials)
    from_memory = http.get(PATH, headers=credentials)

    assert from_storage.status_code == from_memory.status_code == (200 if connected else 404)
    assert from_storage.content == from_memory.content
    assert "content-encoding" not in from_memory.headers
    assert stable_headers(from_storage, PER_RESPONSE) == stable_headers(from_memory, PER_RESPONSE)
    assert from_storage.headers["x-request-id"] != from_memory.headers["x-request-id"]
    # Counted once each, in one bucket (or the window rolled over in between).
    first, then = (int(r.headers["x-ratelimit-remaining"]) for r in (from_storage, from_memory))
    assert then == first - 1 or then == int(from_memory.headers["x-ratelimit-limit"]) - 1


CONTRACT_ATTRIBUTES = [
    "hamr_status",
    "is_primary",
    "modified_at",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
]
LIVE_ATTRIBUTES = [
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
]
# What a connection document carries in each wire format, and as which content type.
WIRE = {
    "both": (CONTRACT_ATTRIBUTES + LIVE_ATTRIBUTES, "application/json"),
    "contract": (CONTRACT_ATTRIBUTES, "application/json"),
    "live": (LIVE_ATTRIBUTES, "application/vnd.api+json"),
}
OUTCOMES = {
    "connected": 200,
    "never-connected": 404,
    "refused": 403,
    "invalid-api-key": 403,  # the live API's 401 with --wire live
    "partner-reads-the-pair": 200,
}


def raw(http: httpx.Client, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
    """The response as sent: its bytes not decompressed."""
    with http.stream(method, url, headers=headers) as response:
        response._content = b"".join(response.iter_raw())
    return response


@pytest.mark.parametrize("encoding", [LANE, APP], ids=["identity", "gzip"])
@pytest.mark.parametrize("mode", ["both", "contract", "live"])
@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_the_lane_and_the_app_answer_alike(
    wire: Callable[[str], ServeProcess],
    org: OrgKeys,
    partner: OrgKeys,
    outcome: str,
    mode: str,
    encoding: dict[str, str],
) -> None:
    """In every wire format, byte for byte, and HEAD alike without the body."""
    credentials = org.headers
    with local_http.client(base_url=wire(mode).url, timeout=10) as http:
        if outcome in ("connected", "partner-reads-the-pair"):
            posted = http.post(PATH, json=connection_body(org, partner), headers=org.headers)
            assert posted.is_success, posted.text
        if outcome == "partner-reads-the-pair":
            credentials = partner.headers
        if outcome == "refused":
            credentials = {**org.headers, "DD-APPLICATION-KEY": "0" * 40}
        if outcome == "invalid-api-key":
            credentials = {**org.headers, "DD-API-KEY": "0" * 32}

        by_lane = raw(http, "GET", PATH, {**credentials, **encoding})
        by_app = raw(http, "GET", BY_APP, {**credentials, **encoding})
        head = raw(http, "HEAD", PATH, {**credentials, **encoding})

    expected = OUTCOMES[outcome]
    if outcome == "invalid-api-key" and mode == "live":
        expected = 401
    assert by_lane.status_code == by_app.status_code == head.status_code == expected
    if expected == 200:
        attributes, content_type = WIRE[mode]
        document = by_lane.content if encoding is LANE else gzip.decompress(by_lane.content)
        assert list(json.loads(document)["data"]["attributes"]) == attributes
        assert by_lane.headers["content-type"] == content_type
        assert by_lane.headers.get("content-encoding") == (None if encoding is LANE else "gzip")
    assert by_lane.content == by_app.content
    assert head.content == b""
    assert stable_headers(by_lane, PER_RESPONSE) == stable_headers(by_app, PER_RESPONSE)
    assert stable_headers(head, PER_RESPONSE) == stable_headers(by_lane, PER_RESPONSE)


def test_over_its_rate_limit_the_lane_and_the_app_answer_alike(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> None:
    org = admin.create_org("us1")
    log = tmp_path_factory.mktemp("limited") / "server.log"
    limited = ServeProcess(database_url, log, "--rate-limit", "hamr_get=1/3600").start()
    try:
        with local_http.client(base_url=limited.url, timeout=10) as http:
            assert http.get(PATH, headers={**org.headers, **LANE}).status_code == 404
            for encoding in (LANE, APP):
                by_lane = raw(http, "GET", PATH, {**org.headers, **encoding})
                by_app = raw(http, "GET", BY_APP, {**org.headers, **encoding})
                assert by_lane.status_code == by_app.status_code == 429
                assert by_lane.content == by_app.content
                ignored = PER_RESPONSE - {"x-ratelimit-remaining"}
                assert stable_headers(by_lane, ignored) == stable_headers(by_app, ignored)
    finally:
        limited.stop()


def test_a_get_asking_for_gzip_gets_the_same_document_compressed(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    assert http.post(PATH, json=connection_body(org, partner), headers=org.headers).is_success
    plain = http.get(PATH, headers={**org.headers, **LANE})
    with http.stream("GET", PATH, headers={**org.headers, **APP}) as compressed:
        raw = b"".join(compressed.iter_raw())

    assert compressed.status_code == plain.status_code == 200
    assert compressed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert compressed.headers["x-ratelimit-name"] == plain.headers["x-ratelimit-name"]


@pytest.mark.parametrize("lane", [LANE, APP], ids=["identity", "gzip"])
def test_a_request_id_sent_is_echoed(
    http: httpx.Client, admin: Admin, org: OrgKeys, lane: dict[str, str]
) -> None:
    credentials = {**admin.unseen_credentials(org), **lane}
    for request_id in ("first-from-storage", "then-from-memory"):
        response = http.get(PATH, headers={**credentials, "X-Request-Id": request_id})
        assert response.headers["x-request-id"] == request_id


@pytest.mark.parametrize("lane", [LANE, APP], ids=["identity", "gzip"])
@pytest.mark.parametrize("linked", [True, False], ids=["paired", "not-yet-paired"])
def test_a_write_by_one_side_of_a_pair_is_read_at_once_by_the_other(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys, lane: dict[str, str], linked: bool
) -> None:
    """The partner's answer in memory (its connection, or its 404) does not outlive a write
    to the pair by the other side."""
    if linked:
        first = http.post(
            PATH, json=connection_body(org, partner, hamr_status=2), headers=org.headers
        )
        assert first.is_success, first.text
    seen = http.get(PATH, headers={**partner.headers, **lane})
    assert seen.status_code == (200 if linked else 404)
    assert http.get(PATH, headers={**partner.headers, **lane}).content == seen.content

    written = http.post(
        PATH, json=connection_body(org, partner, hamr_status=4), headers=org.headers
    )
    assert written.is_success, written.text
    read = http.get(PATH, headers={**partner.headers, **lane})

    assert read.status_code == 200, read.text
    theirs, ours = read.json()["data"], written.json()["data"]
    assert theirs["id"] == partner.uuid
    assert theirs["attributes"]["hamr_status"] == 4
    assert theirs["attributes"]["is_primary"] is False
    assert theirs["attributes"]["target_org_uuid"] == org.uuid
    assert theirs["attributes"]["modified_at"] == ours["attributes"]["modified_at"]
