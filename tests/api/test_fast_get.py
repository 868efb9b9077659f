"""GET /api/v2/hamr has two lanes: the fast lane in front of the app answers GETs that do not
ask for gzip; the app's route answers those that do (the official Python client's). A client
must not be able to tell them apart, beyond the compression it asked for.

httpx asks for gzip unless told otherwise, so every request here names its lane."""

from __future__ import annotations

import gzip

import httpx
import pytest

from tests.conftest import Admin, OrgKeys, connection_body

PATH = "/api/v2/hamr"
LANE = {"Accept-Encoding": "identity"}
APP = {"Accept-Encoding": "gzip"}
# What differs between any two responses, whichever lane answers them.
PER_RESPONSE = {"date", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}
COMPRESSION = {"content-encoding", "content-length", "vary"}


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


@pytest.mark.parametrize("outcome", ["connected", "never-connected", "refused"])
def test_the_lane_and_the_app_answer_alike(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys, outcome: str
) -> None:
    credentials = org.headers
    if outcome == "connected":
        assert http.post(PATH, json=connection_body(org, partner), headers=org.headers).is_success
    if outcome == "refused":
        credentials = {**org.headers, "DD-APPLICATION-KEY": "0" * 40}

    by_lane = http.get(PATH, headers={**credentials, **LANE})
    by_app = http.get(PATH, headers={**credentials, **APP})

    expected = {"connected": 200, "never-connected": 404, "refused": 403}[outcome]
    assert by_lane.status_code == by_app.status_code == expected
    assert by_lane.content == by_app.content  # httpx decompressed the app's
    assert "content-encoding" not in by_lane.headers
    ignored = PER_RESPONSE | COMPRESSION
    assert stable_headers(by_lane, ignored) == stable_headers(by_app, ignored)


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


@pytest.mark.parametrize("lane", [LANE, APP], ids=["lane", "app"])
def test_a_request_id_sent_is_echoed(
    http: httpx.Client, admin: Admin, org: OrgKeys, lane: dict[str, str]
) -> None:
    credentials = {**admin.unseen_credentials(org), **lane}
    for request_id in ("first-from-storage", "then-from-memory"):
        response = http.get(PATH, headers={**credentials, "X-Request-Id": request_id})
        assert response.headers["x-request-id"] == request_id
