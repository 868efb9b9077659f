"""Logs a machine can read: one JSON line per request and one per accepted change, with the
request id the client saw, and never a key, a token or a key's hash, whatever happens."""

from __future__ import annotations

import gzip
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hamr.domain.keys import hash_secret
from hamr.domain.model import KeyKind
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import Admin, ServeProcess, connection_body, sqlite_url

PATH = "/api/v2/hamr"
REQUEST_FIELDS = {"time", "level", "logger", "message", "request_id", "org", "method", "path"}


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[Admin]:
    store = open_store(sqlite_url(tmp_path / "hamr.db"))
    yield Admin(store)
    store.close()


def records(server: ServeProcess) -> list[dict[str, Any]]:
    """The server's log, every line of which must be one JSON object."""
    return [json.loads(line) for line in server.log().splitlines()]


def wait_for_requests(server: ServeProcess, count: int) -> list[dict[str, Any]]:
    """A request's line is written as its response ends; give the last one a moment."""
    deadline = time.monotonic() + 5
    while True:
        found = [r for r in records(server) if r["logger"] == "hamr.access"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_no_secret_or_hash_ever_reaches_the_log(admin: Admin, tmp_path: Path) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    _record, token = admin.service.create_key(org.uuid, KeyKind.TOKEN)
    revoked, revoked_secret = admin.service.create_key(org.uuid, KeyKind.API)
    admin.service.revoke_key(revoked.id)
    secrets = [org.api_key, org.app_key, partner.api_key, partner.app_key, token, revoked_secret]
    server = ServeProcess(
        admin.store.engine.url.render_as_string(),
        tmp_path / "server.log",
        "--log-level",
        "debug",
        "--rate-limit",
        "hamr_post=6/3600",
    ).start()
    body = connection_body(org, partner, hamr_status=4)
    wrong_partner = connection_body(org, org)
    try:
        with local_http.client(base_url=server.url, timeout=10) as client:
            bearer = {"Authorization": f"Bearer {token}"}
            calls = [
                client.get(PATH, headers=org.headers),  # 404: nothing yet
                client.post(PATH, json=body, headers=org.headers),
                client.post(PATH, json=body, headers=bearer),
                client.get(PATH, headers=bearer),
                client.post(PATH, json=wrong_partner, headers=org.headers),  # 400
                client.post(
                    PATH,
                    content=gzip.compress(json.dumps(body).encode()),
                    headers={
                        **org.headers,
                        "Content-Type": "application/json",
                        "Content-Encoding": "gzip",
                    },
                ),
                client.post(PATH, content=b"{", headers=org.headers),  # 415
                client.get(PATH, headers={**org.headers, "DD-API-KEY": revoked_secret}),  # 403
                client.get(PATH, headers={"DD-API-KEY": org.api_key}),  # 403: no app key
                client.get(PATH, headers={"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": token}),
                client.get(PATH, headers={"Authorization": f"Bearer {org.api_key}"}),
                client.get(PATH, headers={**partner.headers, "DD-APPLICATION-KEY": org.app_key}),
                client.get(f"{PATH}?api_key={org.api_key}&application_key={org.app_key}"),
                client.post(PATH, json=body, headers=org.headers),
                client.post(PATH, json=body, headers=org.headers),  # 429 (6 a window)
                client.get("/api/v1/validate", headers={"DD-API-KEY": org.api_key}),
                client.get("/api/v1/validate", headers={"DD-API-KEY": revoked_secret}),
                client.put(PATH, json=body, headers=org.headers),  # 405
                client.get(f"/api/v2/{org.api_key}", headers=org.headers),  # 404, key in path
                client.get("/openapi.json"),
                client.get("/healthz"),
                client.get("/readyz"),
                client.get("/metrics"),
            ]
    finally:
        server.stop()
    statuses = [response.status_code for response in calls]
    assert {200, 400, 403, 404, 405, 415, 429} <= set(statuses), statuses

    log = server.log()
    # One line per request, and one per readiness probe of the test's ServeProcess.start()
    # (a second when a slow start made it ask again).
    access = [line for line in log.splitlines() if '"logger":"hamr.access"' in line]
    probes = [line for line in access if '"path":"/healthz"' in line]
    assert len(access) - len(probes) == len(calls) - 1  # the calls' own /healthz is a probe
    assert len(probes) >= 2
    for secret in secrets:
        assert secret not in log
        assert hash_secret(secret) not in log
    # The one path that contains a key is logged with the key masked.
    assert "/api/v2/***" in log


def test_request_and_change_lines(admin: Admin, tmp_path: Path) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    (key,) = [k for k in admin.service.list_keys(org.uuid) if k.kind is KeyKind.APP]
    server = ServeProcess(admin.store.engine.url.render_as_string(), tmp_path / "s.log").start()
    try:
        with local_http.client(base_url=server.url, timeout=10, headers=org.headers) as client:
            first = client.post(
                PATH,
                json=connection_body(org, partner, hamr_status=1, modified_by="a@example.com"),
                headers={"X-Request-Id": "dr-drill-42"},
            )
            second = client.post(
                PATH, json=connection_body(org, partner, hamr_status=4, modified_by="b@x.io")
            )
            refused = client.get(PATH, headers={"DD-API-KEY": "0" * 32})
            unusable_id = client.get(PATH, headers={"X-Request-Id": "bad id\twith spaces"})
            longest = client.get(PATH, headers={"X-Request-Id": "a" * 128})
            too_long = client.get(PATH, headers={"X-Request-Id": "a" * 129})
        access = wait_for_requests(server, 6)
    finally:
        server.stop()

    assert first.headers["x-request-id"] == "dr-drill-42"
    generated = second.headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", generated)  # 128 random bits in lowercase hex
    assert unusable_id.headers["x-request-id"] != "bad id\twith spaces"
    assert longest.headers["x-request-id"] == "a" * 128
    assert re.fullmatch("[0-9a-f]{32}", too_long.headers["x-request-id"])  # hamr's own instead

    lines = {line["request_id"]: line for line in access}
    posted = lines["dr-drill-42"]
    assert set(posted) >= REQUEST_FIELDS
    assert posted["level"] == "info"
    assert (posted["org"], posted["method"], posted["path"], posted["status"]) == (
        org.uuid,
        "POST",
        PATH,
        200,
    )
    assert isinstance(posted["duration_ms"], float)
    assert posted["duration_ms"] > 0
    assert posted["time"].endswith("Z")
    assert lines[refused.headers["x-request-id"]]["status"] == 403
    assert lines[refused.headers["x-request-id"]]["org"] is None

    changes = [r for r in records(server) if r["message"] == "connection changed"]
    assert [
        (c["org"], c["status_before"], c["status_after"], c["modified_by"], c["key_id"])
        for c in changes
    ] == [
        (org.uuid, None, 1, "a@example.com", key.id),
        (org.uuid, 1, 4, "b@x.io", key.id),
    ]


def test_text_format_for_people(admin: Admin, tmp_path: Path) -> None:
    org = admin.create_org("us1")
    server = ServeProcess(
        admin.store.engine.url.render_as_string(), tmp_path / "s.log", "--log-format", "text"
    ).start()
    try:
        response = local_http.get(server.url + PATH, headers=org.headers)
        assert response.status_code == 404
        request_id = response.headers["x-request-id"]
        deadline = time.monotonic() + 5
        while request_id not in server.log() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.stop()
    (line,) = [line for line in server.log().splitlines() if request_id in line]
    head, _, extras = line.partition(" {")
    assert head.endswith(" INFO hamr.access request")
    assert json.loads("{" + extras)["status"] == 404
    assert not [line for line in server.log().splitlines() if line.startswith("{")]
