"""HTTP around the JSON: bodies that are not JSON objects, bodies too large, content types,
methods, paths, the order of checks, and what an unexpected failure looks like."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    QUOTA_HEADERS,
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    quota_headers,
    sqlite_url,
    unknown_org,
)

PATH = "/api/v2/hamr"
LIMIT = 64 * 1024
JSON_TYPE = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    with local_http.client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def caller(admin: Admin) -> OrgKeys:
    """Shared by tests that expect a refusal; each checks its own request changed nothing."""
    return admin.create_org("us1")


@pytest.fixture(scope="module")
def partner() -> OrgKeys:
    """A partner hamr does not know: every caller here may name it without pairing with it."""
    return unknown_org("eu1")


def the_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The single JSON:API error item of `response`, checked for completeness."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) == {"errors"}
    [item] = document["errors"]
    assert item["status"] == str(status)
    assert isinstance(item["title"], str)
    assert item["title"]
    assert isinstance(item["detail"], str)
    assert item["detail"].strip()
    return dict(item)


def padded(document: dict[str, Any], size: int) -> bytes:
    """`document` as valid JSON padded with trailing whitespace to exactly `size` bytes."""
    raw = json.dumps(document).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def chunked(raw: bytes, chunk: int = 4096) -> Iterator[bytes]:
    """A body httpx must stream with Transfer-Encoding: chunked (no Content-Length)."""
    for start in range(0, len(raw), chunk):
        yield raw[start : start + chunk]


# -- bodies that are not JSON objects ------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"{bad", id="unquoted-key"),
        pytest.param(b'{"data": ', id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   ", id="whitespace-only"),
        pytest.param(b'{"data": {}} trailing', id="trailing-garbage"),
        pytest.param(b"\xff\xfe{}", id="not-utf8"),
        pytest.param(b"{'data': 1}", id="single-quotes"),
        pytest.param(b'{"data": NaN}', id="nan"),
        pytest.param(b'{"data": -Infinity}', id="infinity"),
    ],
)
def test_malformed_json_is_400_pointing_at_the_document(
    http: httpx.Client, admin: Admin, caller: OrgKeys, raw: bytes
) -> None:
    before = admin.snapshot(caller.uuid)
    item = the_error(http.post(PATH, content=raw, headers={**caller.headers, **JSON_TYPE}), 400)
    assert item["source"] == {"pointer": ""}
    assert "JSON" in item["detail"]
    assert admin.snapshot(caller.uuid) == before


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b'"x"', id="string"),
        pytest.param(b"42", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"true", id="boolean"),
        pytest.param(b'[{"data": {}}]', id="array-of-object"),
    ],
)
def test_a_body_that_is_not_an_object_is_400(
    http: httpx.Client, admin: Admin, caller: OrgKeys, raw: bytes
) -> None:
    before = admin.snapshot(caller.uuid)
    item = the_error(http.post(PATH, content=raw, headers={**caller.headers, **JSON_TYPE}), 400)
    assert item["source"] == {"pointer": ""}
    assert "JSON object" in item["detail"]
    assert admin.snapshot(caller.uuid) == before


# -- size ------------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_64_kib_is_413(
    http: httpx.Client, admin: Admin, caller: OrgKeys, partner: OrgKeys, streamed: bool
) -> None:
    """Refused for its size alone: it is otherwise a valid request."""
    raw = padded(connection_body(caller, partner), LIMIT + 1)
    before = admin.snapshot(caller.uuid)

    response = http.post(
        PATH,
        content=chunked(raw) if streamed else raw,
        headers={**caller.headers, **JSON_TYPE},
    )

    sent = response.request.headers
    if streamed:
        assert "content-length" not in sent
        assert sent["transfer-encoding"] == "chunked"
    else:
        assert sent["content-length"] == str(LIMIT + 1)
    item = the_error(response, 413)
    # A declared size is blamed on the header; a streamed one on the body itself.
    assert item["source"] == ({"pointer": ""} if streamed else {"header": "Content-Length"})
    assert str(LIMIT) in item["detail"]
    assert admin.snapshot(caller.uuid) == before


def test_a_declared_oversize_body_is_refused_before_it_is_read(
    server: ServeProcess, admin: Admin, caller: OrgKeys
) -> None:
    """A Content-Length far over the limit is refused on the header alone: the 10 MiB it
    announces are never sent, and the answer still comes (over a raw socket, since an HTTP
    client will not send a body shorter than its Content-Length)."""
    before = admin.snapshot(caller.uuid)
    head = "\r\n".join(
        [
            f"POST {PATH} HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            f"DD-API-KEY: {caller.api_key}",
            f"DD-APPLICATION-KEY: {caller.app_key}",
            "Content-Type: application/json",
            f"Content-Length: {10 * 1024 * 1024}",
            "",
            "",
        ]
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"{")
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        status_line, _, _ = received.partition(b"\r\n")
        assert status_line.split()[1] == b"413", received
        headers, _, body = received.partition(b"\r\n\r\n")
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, received
            body += chunk
    [item] = json.loads(body)["errors"]
    assert item["status"] == "413"
    assert item["source"] == {"header": "Content-Length"}
    assert admin.snapshot(caller.uuid) == before


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_64_kib_is_accepted(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, streamed: bool
) -> None:
    raw = padded(connection_body(org, partner), LIMIT)
    response = http.post(
        PATH, content=chunked(raw) if streamed else raw, headers={**org.headers, **JSON_TYPE}
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == org.uuid
    assert admin.snapshot(org.uuid)[1] == 1


# -- content type ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text-plain"),
        pytest.param("application/x-www-form-urlencoded", id="form"),
        pytest.param("application/jsonp", id="jsonp"),
        pytest.param(None, id="missing"),
    ],
)
def test_a_non_json_content_type_is_415(
    http: httpx.Client,
    admin: Admin,
    caller: OrgKeys,
    partner: OrgKeys,
    content_type: str | None,
) -> None:
    """The body itself is a valid request; only its declared type is wrong."""
    headers = dict(caller.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    before = admin.snapshot(caller.uuid)

    response = http.post(
        PATH, content=json.dumps(connection_body(caller, partner)), headers=headers
    )

    assert ("content-type" in response.request.headers) == (content_type is not None)
    item = the_error(response, 415)
    assert item["title"] == "Unsupported Media Type"
    assert item["source"] == {"header": "Content-Type"}
    assert "application/json" in item["detail"]
    assert admin.snapshot(caller.uuid) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        "Application/JSON",
        "application/vnd.api+json",
    ],
)
def test_json_content_types_are_accepted(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, content_type: str
) -> None:
    response = http.post(
        PATH,
        content=json.dumps(connection_body(org, partner)),
        headers={**org.headers, "Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert admin.snapshot(org.uuid)[1] == 1


# -- methods and paths -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("with_keys", [False, True], ids=["anonymous", "with-keys"])
def test_other_methods_are_405_with_allow(
    http: httpx.Client,
    admin: Admin,
    caller: OrgKeys,
    partner: OrgKeys,
    method: str,
    with_keys: bool,
) -> None:
    before = admin.snapshot(caller.uuid)
    response = http.request(
        method,
        PATH,
        content=json.dumps(connection_body(caller, partner)),
        headers={**(caller.headers if with_keys else {}), **JSON_TYPE},
    )
    item = the_error(response, 405)
    assert item["title"] == "Method Not Allowed"
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "POST"}
    assert method in item["detail"]
    assert "POST" in item["detail"]
    assert admin.snapshot(caller.uuid) == before


@pytest.mark.parametrize(
    "path",
    ["/", "/api/v2/hamrs", "/api/v1/hamr", "/api/v2/hamr/extra", "/api/v2/HAMR", "/api/v2/hamr/"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_paths_are_404(
    http: httpx.Client, caller: OrgKeys, partner: OrgKeys, path: str, method: str
) -> None:
    response = http.request(
        method,
        path,
        content=json.dumps(connection_body(caller, partner)),
        headers={**caller.headers, **JSON_TYPE},
    )
    item = the_error(response, 404)
    assert item["title"] == "Not Found"
    assert PATH in item["detail"]


# -- order of checks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"{bad", "application/json", id="malformed-json"),
        pytest.param(b"[]", "application/json", id="not-an-object"),
        pytest.param(b'{"data": {}}', "application/json", id="invalid-request"),
        pytest.param(b"hello", "text/plain", id="wrong-content-type"),
        pytest.param(b" " * (LIMIT + 1), "application/json", id="too-large"),
    ],
)
@pytest.mark.parametrize(
    ("credentials", "header"),
    [
        pytest.param({}, "DD-API-KEY", id="no-keys"),
        pytest.param(
            {"DD-API-KEY": "0" * 32, "DD-APPLICATION-KEY": "0" * 40},
            "DD-API-KEY",
            id="unknown-api-key",
        ),
        pytest.param({"Authorization": "Bearer nope"}, "Authorization", id="bad-token"),
    ],
)
def test_authentication_is_checked_before_the_body(
    http: httpx.Client,
    content: bytes,
    content_type: str,
    credentials: dict[str, str],
    header: str,
) -> None:
    response = http.post(
        PATH, content=content, headers={**credentials, "Content-Type": content_type}
    )
    item = the_error(response, 403)
    assert item["source"] == {"header": header}


# -- an unexpected failure -------------------------------------------------------------------

INTERNALS = (
    "sqlite",
    "sqlalchemy",
    "traceback",
    "table",
    "select",
    "operationalerror",
    "no such",
    "exception",
    ".py",
    ".db",
)


@dataclass(frozen=True)
class Broken:
    server: ServeProcess
    org: OrgKeys
    partner: OrgKeys
    db: Path


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broken]:
    """A server of its own whose `connections` table is dropped under it while it runs."""
    directory = tmp_path_factory.mktemp("broken")
    db = directory / "hamr.db"
    store = open_store(sqlite_url(db))
    try:
        operator = Admin(store)
        org, partner = operator.create_org("us1"), operator.create_org("eu1")
    finally:
        store.close()
    writer = ServeProcess(sqlite_url(db), directory / "writer.log").start()
    try:
        with local_http.client(base_url=writer.url, timeout=10, headers=org.headers) as client:
            assert client.post(PATH, json=connection_body(org, partner)).status_code == 200
    finally:
        writer.stop()
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        connection.execute("DROP TABLE connections")
    # A server started afterwards has nothing cached: each request meets the missing table.
    server = ServeProcess(sqlite_url(db), directory / "server.log").start()
    try:
        yield Broken(server, org, partner, db)
    finally:
        server.stop()


def wait_for_log(server: ServeProcess, text: str, count: int) -> str:
    """The traceback is logged just after the response is sent; give it a moment."""
    deadline = time.monotonic() + 5
    while server.log().count(text) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return server.log()


def test_a_broken_database_is_a_500_that_hides_internals(
    broken: Broken, schema_validator: Callable[[str], Draft202012Validator]
) -> None:
    org, partner = broken.org, broken.partner
    failures = "Exception in ASGI application"
    logged_before = broken.server.log().count(failures)
    # A new connection per request: this test is about the responses, not keep-alive.
    with local_http.client(
        base_url=broken.server.url,
        timeout=10,
        headers=org.headers,
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        responses = [
            client.get(PATH),  # httpx asks for gzip: the app's route
            client.get(PATH, headers={"Accept-Encoding": "identity"}),  # the fast lane
            client.post(PATH, json=connection_body(org, partner, hamr_status=3)),
        ]
        # The server survives: what does not need the table still works.
        still_serving = client.get(PATH, headers={"DD-API-KEY": "0" * 32})

    by_app, by_lane, _post = responses
    assert by_lane.content == by_app.content
    assert by_lane.headers["content-type"] == by_app.headers["content-type"]
    for response in responses:
        item = the_error(response, 500)
        # Counted before the failure: the bucket's headers, as on every counted answer.
        assert set(quota_headers(response)) == QUOTA_HEADERS, response.headers
        schema_validator("JSONAPIErrorResponse").validate(response.json())
        assert item["title"] == "Internal Server Error"
        assert "source" not in item
        assert not [word for word in INTERNALS if word in response.text.lower()], response.text
        assert str(broken.db.parent) not in response.text
    assert the_error(still_serving, 403)["source"] == {"header": "DD-API-KEY"}
    assert broken.server.process is not None
    assert broken.server.process.poll() is None
    log = wait_for_log(broken.server, failures, logged_before + 3)
    assert log.count(failures) == logged_before + 3, log
    assert "Traceback (most recent call last)" in log
    assert "no such table: connections" in log
    unexpected = [
        record
        for record in map(json.loads, log.splitlines())
        if record["message"] == "unexpected error"
    ]
    assert [(r["level"], r["method"], r["path"]) for r in unexpected[-3:]] == [
        ("error", "GET", PATH),
        ("error", "GET", PATH),
        ("error", "POST", PATH),
    ]
    # The log line names the request the client saw, by the id echoed to it.
    assert {r["request_id"] for r in unexpected[-3:]} == {
        response.headers["X-Request-Id"] for response in responses
    }


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """One HTTP/1.1 response with a Content-Length body, or None if the server hung up."""
    received = b""
    try:
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines)
        }
        while len(body) < int(headers["content-length"]):
            chunk = sock.recv(65536)
            if not chunk:
                return None
            body += chunk
    except ConnectionResetError:
        return None
    return int(status_line.split()[1]), headers, body


def test_a_500_leaves_a_keep_alive_connection_usable_or_says_it_closes(broken: Broken) -> None:
    """HTTP/1.1 connections persist unless a response says `Connection: close`; a server that
    hangs up silently after a 500 makes the client's next request on it fail with a reset."""
    request = (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{broken.server.port}\r\n"
        f"DD-API-KEY: {broken.org.api_key}\r\n"
        f"DD-APPLICATION-KEY: {broken.org.app_key}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", broken.server.port), timeout=10) as sock:
        sock.sendall(request)
        first = read_response(sock)
        assert first is not None
        status, headers, _ = first
        assert status == 500
        if headers.get("connection", "").lower() == "close":
            return
        time.sleep(0.2)
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pytest.fail("the server closed the connection after a 500 without Connection: close")
        second = read_response(sock)
    assert second is not None, (
        "the server closed the connection after a 500 without Connection: close"
    )
    assert second[0] == 500
