"""What a server facing the network must bound: idle and slow connections, header size, the
number of connections (also under a descriptor limit), and clients that hang up mid-request.
Each case through a real `hamr serve` over raw sockets, which say exactly what a client sees."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    GENEROUS_RATE_LIMITS,
    Admin,
    ServeProcess,
    connection_body,
    sqlite_url,
    unknown_org,
)

PATH = "/api/v2/hamr"


def server_with(tmp_path: Path, prefix: tuple[str, ...] = (), **env: str) -> ServeProcess:
    """A server on its own SQLite file (what is tested here is the same on either backend)."""
    environment = {**os.environ, "HAMR_RATE_LIMITS": GENEROUS_RATE_LIMITS, **env}
    database_url = sqlite_url(tmp_path / "hamr.db")
    return ServeProcess(database_url, tmp_path / "server.log", env=environment, prefix=prefix)


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[ServeProcess]:
    server = server_with(
        tmp_path,
        HAMR_HEADER_TIMEOUT_SECONDS="1",
        HAMR_KEEP_ALIVE_SECONDS="1",
        HAMR_MAX_CONNECTIONS="4",
        HAMR_MAX_HEADER_BYTES="8192",
    ).start()
    yield server
    server.stop()


def connect(server: ServeProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def read_response(sock: socket.socket) -> bytes:
    """One whole response on a connection left open: its head, then Content-Length bytes."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def closed_within(sock: socket.socket, seconds: float) -> float:
    """How long until the server closed the connection (it sent nothing)."""
    started = time.monotonic()
    sock.settimeout(seconds)
    assert sock.recv(1) == b""
    return time.monotonic() - started


def send_until_refused(
    sock: socket.socket, chunk: bytes, at_most: int, pause: float = 0.0
) -> int | None:
    """How many bytes went out before a send failed (the server closed the connection), or
    None if `at_most` bytes were sent."""
    sent = 0
    while sent < at_most:
        try:
            sock.sendall(chunk)
        except OSError:
            return sent
        sent += len(chunk)
        time.sleep(pause)
    return None


def error_of(response: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    (error,) = json.loads(body)["errors"]
    return int(status_line.split()[1]), headers, error


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    limited: ServeProcess,
) -> None:
    with connect(limited) as idle:
        assert 0.8 < closed_within(idle, 5) < 3


def test_a_slowloris_connection_is_closed_though_it_keeps_sending(limited: ServeProcess) -> None:
    with connect(limited) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        sent = send_until_refused(slow, b"X-Slow: a\r\n", at_most=3000, pause=0.02)
        assert sent is not None, "still open after every header line was sent"
        assert time.monotonic() - started < 3


def test_a_kept_alive_connection_left_idle_is_closed(limited: ServeProcess) -> None:
    with connect(limited) as kept:
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(kept).startswith(b"HTTP/1.1 200")
        assert 0.8 < closed_within(kept, 5) < 3


def test_headers_past_the_cap_get_a_431_naming_the_header_and_nothing_else(
    limited: ServeProcess,
) -> None:
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * 20_000 + b"\r\n\r\n")
        status, headers, error = error_of(read_all(sock))
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert error["source"] == {"header": "X-Huge"}
    assert "8192 bytes" in str(error["detail"])
    # Headers just under the cap pass, and the server goes on serving.
    small = {"X-Big": "a" * 7_000}
    assert local_http.get(f"{limited.url}/healthz", headers=small).status_code == 200


def test_a_50_mb_header_is_refused_without_the_server_reading_it_whole(
    limited: ServeProcess,
) -> None:
    assert limited.process is not None
    before = _rss_mb(limited.process.pid)
    with connect(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: ")
        sent = send_until_refused(sock, b"a" * 65536, at_most=50_000_000)
    assert sent is not None
    assert sent < 10_000_000
    assert _rss_mb(limited.process.pid) - before < 20


def test_past_the_connection_cap_requests_get_a_503_and_the_server_recovers(
    limited: ServeProcess,
) -> None:
    held = [connect(limited) for _ in range(4)]  # the cap: 4
    try:
        with connect(limited) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, error = error_of(read_all(extra))
        assert status == 503
        assert headers["retry-after"] == "1"
        assert "more than its 4 connections" in str(error["detail"])
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5
    while local_http.get(f"{limited.url}/healthz").status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "more than 4 connections are open" in limited.log()


def test_a_cap_of_one_connection_is_said_in_the_singular(tmp_path: Path) -> None:
    server = server_with(tmp_path, HAMR_MAX_CONNECTIONS="1").start()
    try:
        with connect(server), connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _headers, error = error_of(read_all(extra))
        assert status == 503
        assert "more than its 1 connection open;" in str(error["detail"])
        assert "more than 1 connection is open" in server.log()
    finally:
        server.stop()


def test_under_a_descriptor_limit_the_cap_is_lowered_to_fit_it(tmp_path: Path) -> None:
    """With 256 descriptors, 1 000 connections cannot be had: hamr caps itself below the limit
    and answers 503 past it, rather than failing to accept anything while 195 sit idle."""
    server = server_with(
        tmp_path, prefix=("prlimit", "--nofile=256:256"), HAMR_HEADER_TIMEOUT_SECONDS="30"
    ).start()
    held: list[socket.socket] = []
    try:
        assert "HAMR_MAX_CONNECTIONS is 1000, but this process may open only 256 files" in (
            server.log()
        )
        held = [connect(server) for _ in range(195)]  # past the cap of 256 - 64
        with connect(server) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _headers, _error = error_of(read_all(extra))
        assert status == 503
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_a_client_that_hangs_up_mid_body_is_a_499_line_not_a_500(limited: ServeProcess) -> None:
    store = open_store(limited.database_url)
    admin = Admin(store)
    org, partner = admin.create_org("us1"), unknown_org("eu1")
    body = json.dumps(connection_body(org, partner)).encode()
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nDD-API-KEY: {org.api_key}\r\n"
        f"DD-APPLICATION-KEY: {org.app_key}\r\n\r\n"
    ).encode()
    with connect(limited) as sock:
        sock.sendall(head + body[:10])
        time.sleep(0.2)
    deadline = time.monotonic() + 5
    while '"status":499' not in limited.log():
        assert time.monotonic() < deadline, limited.log()
        time.sleep(0.05)
    log = limited.log()
    assert "Traceback" not in log
    assert '"status":500' not in log
    assert admin.connection(org.uuid) is None  # nothing was stored
    store.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_the_body_limit_is_the_setting(tmp_path: Path) -> None:
    server = server_with(tmp_path, HAMR_MAX_BODY_BYTES="1000").start()
    store = open_store(server.database_url)
    try:
        org, partner = Admin(store).create_org("us1"), unknown_org("eu1")
        body = connection_body(org, partner)
        within = json.dumps(body).encode()
        padded = within[:-1] + b" " * (1001 - len(within)) + within[-1:]  # 1 001 bytes
        with local_http.client(base_url=server.url, headers=org.headers) as client:
            json_type = {"Content-Type": "application/json"}
            refused = client.post(PATH, content=padded, headers=json_type)
            assert refused.status_code == 413
            (error,) = refused.json()["errors"]
            assert "1000 bytes" in error["detail"]
            assert error["source"] == {"header": "Content-Length"}
            assert client.post(PATH, content=padded[:-2] + b"}", headers=json_type).is_success
    finally:
        store.close()
        server.stop()
