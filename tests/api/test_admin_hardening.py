"""The emulator's admin API against what an attacker sent it (issue 26): bodies nested too
deeply, a clock moved past what RFC 3339 can write, duplicate members in a state document and
guessed admin tokens are each a 4xx that changes nothing, never a 500. Against a real
`hamr serve --emulator`, on SQLite (the paths tested here do not depend on the backend)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hamr.emulator.admin_auth import ADMIN_HEADER
from tests import local_http
from tests.conftest import ADMIN, ATTRIBUTE_NAMES, EmulatorServer, sqlite_url
from tests.ops.test_probes_and_metrics import samples

DEEP = ("[" * 30_000 + "]" * 30_000).encode()
JSON = {**ADMIN, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def emulator_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The admin API's refusals are the same on either backend."""
    return sqlite_url(tmp_path_factory.mktemp("admin-hardening") / "hamr.db")


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with local_http.client(base_url=emulator.url, timeout=30) as client:
        yield client


@pytest.fixture(autouse=True)
def real_time(http: httpx.Client) -> Iterator[None]:
    """Each test starts and ends on the real time, whatever it did to the clock."""
    http.post("/_hamr/clock", json={"real": True}, headers=ADMIN)
    yield
    http.post("/_hamr/clock", json={"real": True}, headers=ADMIN)


def the_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    (error,) = answer.json()["errors"]
    return error  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/_hamr/state"),
        ("POST", "/_hamr/reset"),
        ("POST", "/_hamr/clock"),
        ("POST", "/_hamr/faults"),
    ],
)
def test_a_body_nested_too_deeply_is_a_400_that_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client, method: str, path: str
) -> None:
    emulator.reset()
    before = http.get("/_hamr/state", headers=ADMIN).json()
    answer = http.request(method, path, content=DEEP, headers=JSON)
    error = the_error(answer, 400)
    assert error["source"] == {"pointer": ""}
    assert http.get("/_hamr/state", headers=ADMIN).json() == before
    assert emulator.admin.rules() == []


def a_write(emulator: EmulatorServer, http: httpx.Client) -> httpx.Response:
    """The demo org's POST (its pair as it is), for what the clock makes of modified_at."""
    org = next(iter(emulator.reset().values()))
    current = http.get("/api/v2/hamr", headers=org.headers).json()["data"]
    attributes = {name: current["attributes"][name] for name in ATTRIBUTE_NAMES}
    body = {"data": {"id": current["id"], "type": current["type"], "attributes": attributes}}
    return http.post("/api/v2/hamr", json=body, headers=org.headers)


@pytest.mark.parametrize(
    "move",
    [
        {"advance_seconds": 1e308},
        {"advance_seconds": -1e20},
        {"advance_seconds": 9e18},
        {"advance_seconds": 400 * 365 * 86_400 * 1e6},
        {"advance_seconds": 8_000 * 365 * 86_400},  # within the span, past year 9999
        {"set": "9999-12-31T23:59:59.9Z"},
        {"set": "0001-01-01T00:00:00+01:00"},
        {"set": "0999-12-31T00:00:00Z"},
    ],
)
def test_the_clock_refuses_a_time_hamr_cannot_write_at_the_field(
    emulator: EmulatorServer, http: httpx.Client, move: dict[str, object]
) -> None:
    http.post("/_hamr/clock", json={"advance_seconds": 3600}, headers=ADMIN)
    before = http.get("/_hamr/clock", headers=ADMIN).json()["data"]["attributes"]
    error = the_error(http.post("/_hamr/clock", json=move, headers=ADMIN), 400)
    (field,) = move
    assert error["source"] == {"pointer": f"/{field}"}
    assert "9999-12-30T00:00:00.000000Z" in error["detail"], error["detail"]
    after = http.get("/_hamr/clock", headers=ADMIN).json()["data"]["attributes"]
    assert abs(after["offset_seconds"] - before["offset_seconds"]) < 1


def test_1e400_seconds_is_not_a_number_and_changes_nothing(http: httpx.Client) -> None:
    body = b'{"advance_seconds": 1e400}'
    error = the_error(http.post("/_hamr/clock", content=body, headers=JSON), 400)
    assert error["source"] == {"pointer": "/advance_seconds"}
    assert http.get("/_hamr/clock", headers=ADMIN).json()["data"]["attributes"]["real"]


def test_the_latest_time_allowed_still_writes_rfc_3339(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    latest = "9999-12-30T00:00:00Z"
    assert http.post("/_hamr/clock", json={"set": latest}, headers=ADMIN).status_code == 200
    answer = a_write(emulator, http)
    assert answer.status_code == 200, answer.text
    modified_at = answer.json()["data"]["attributes"]["modified_at"]
    assert modified_at.startswith("9999-12-30T00:00:"), modified_at


def test_a_state_document_repeating_a_member_is_refused_at_it_and_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    emulator.reset()
    before = http.get("/_hamr/state", headers=ADMIN)
    text = before.text
    assert text.startswith('{"data":{"type":"hamr_emulator_state"'), text[:80]
    # The envelope's type sent twice; an attribute of the state sent twice, too.
    twice = text.replace('{"data":{"type":', '{"data":{"id":"state","type":', 1)
    twice = twice.replace('"attributes":{', '"attributes":{"orgs":[],', 1)
    answer = http.put("/_hamr/state", content=twice.encode(), headers=JSON)
    assert answer.status_code == 400, answer.text
    pointers = [error["source"]["pointer"] for error in answer.json()["errors"]]
    assert pointers == ["/data/id", "/data/attributes/orgs"], answer.text
    assert "more than once" in answer.json()["errors"][0]["detail"]
    assert http.get("/_hamr/state", headers=ADMIN).json() == before.json()


def test_guessing_the_admin_token_meets_a_429_and_the_right_token_is_never_counted(
    emulator_database: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    log = tmp_path_factory.mktemp("guessed") / "server.log"
    guarded = EmulatorServer(
        emulator_database, log, "--rate-limit", "hamr_unauthenticated=5/86400"
    ).start()
    try:
        with local_http.client(base_url=guarded.url, timeout=10) as http:
            for _ in range(8):  # the right token, never counted
                assert http.get("/_hamr/clock", headers=ADMIN).status_code == 200
            wrong = {ADMIN_HEADER: "a-guess-of-the-admin-token"}
            for left in (4, 3, 2, 1, 0):
                answer = http.get("/_hamr/clock", headers=wrong)
                assert the_error(answer, 403)["source"] == {"header": ADMIN_HEADER}
                assert answer.headers["x-ratelimit-remaining"] == str(left)
            for method, path in (("GET", "/_hamr/clock"), ("POST", "/_hamr/reset")):
                answer = http.request(method, path, headers=wrong)
                assert answer.status_code == 429, answer.text
                assert answer.headers["x-ratelimit-name"] == "hamr_unauthenticated"
                assert answer.headers["x-ratelimit-limit"] == "5"
            assert http.get("/_hamr/state", headers={}).status_code == 429
            assert http.get("/_hamr/clock", headers=ADMIN).status_code == 200
            # Each refusal is an auth failure in the metrics too, under the header at fault.
            failures = samples(http.get("/metrics").text)
            assert failures[("hamr_auth_failures_total", (("header", ADMIN_HEADER),))] == 8
    finally:
        guarded.stop()
