"""GET /api/v2/hamr has two lanes: the app answers a GET whose credentials the server has not
seen yet (and any GET asking for gzip); the fast lane in front of it answers every later GET
with the same credentials from memory. A client must not be able to tell them apart."""

from __future__ import annotations

import gzip

import httpx
import pytest

from hamr.domain.model import KeyKind
from tests.conftest import Admin, OrgKeys, connection_body

PATH = "/api/v2/hamr"
# What differs between any two responses, whichever lane answers them.
PER_RESPONSE = {"date", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset"}


def unseen_credentials(admin: Admin, org: OrgKeys) -> dict[str, str]:
    """The org's API key with an application key issued just now: not in the server's
    memory, so the first GET with them is authenticated (and answered) by the app."""
    _record, app_key = admin.service.create_key(org.uuid, KeyKind.APP)
    return {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": app_key}


def stable_headers(response: httpx.Response) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers.items() if name not in PER_RESPONSE]


@pytest.mark.parametrize("connected", [True, False], ids=["connected", "never-connected"])
def test_the_first_get_and_the_next_look_the_same(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, connected: bool
) -> None:
    if connected:
        assert http.post(PATH, json=connection_body(org, partner), headers=org.headers).is_success
    credentials = unseen_credentials(admin, org)

    by_app = http.get(PATH, headers=credentials)
    by_lane = http.get(PATH, headers=credentials)

    assert by_app.status_code == by_lane.status_code == (200 if connected else 404)
    assert by_app.content == by_lane.content
    assert stable_headers(by_app) == stable_headers(by_lane)
    assert {name for name in by_app.headers} >= PER_RESPONSE - {"date"}
    assert by_app.headers["x-request-id"] != by_lane.headers["x-request-id"]
    # Counted once each, in one bucket (or the window rolled over in between).
    first, then = (int(r.headers["x-ratelimit-remaining"]) for r in (by_app, by_lane))
    assert then == first - 1 or then == int(by_lane.headers["x-ratelimit-limit"]) - 1


def test_a_get_asking_for_gzip_gets_the_same_document_compressed(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    assert http.post(PATH, json=connection_body(org, partner), headers=org.headers).is_success
    plain = http.get(PATH, headers=org.headers)
    asking = {**org.headers, "Accept-Encoding": "gzip"}
    with http.stream("GET", PATH, headers=asking) as compressed:
        raw = b"".join(compressed.iter_raw())

    assert compressed.status_code == plain.status_code == 200
    assert compressed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(raw) == plain.content
    assert compressed.headers["x-ratelimit-name"] == plain.headers["x-ratelimit-name"]


def test_a_request_id_sent_is_echoed_by_both_lanes(
    http: httpx.Client, admin: Admin, org: OrgKeys
) -> None:
    credentials = unseen_credentials(admin, org)
    for request_id in ("first-by-the-app", "then-by-the-lane"):
        response = http.get(PATH, headers={**credentials, "X-Request-Id": request_id})
        assert response.headers["x-request-id"] == request_id
