"""Answers written in one piece (server/one_write.py): the head hamr builds for a response is
the one uvicorn would, with its keep-alive, length and closing rules, for the fast lane, the
app's routes and HEAD, one request after another and pipelined. Over raw sockets, which show
exactly what a client receives."""

from __future__ import annotations

import socket

from tests import local_http
from tests.conftest import OrgKeys, ServeProcess, connection_body

PATH = "/api/v2/hamr"


def request(org: OrgKeys, method: str = "GET", path: str = PATH, extra: str = "") -> bytes:
    credentials = "".join(f"{name}: {value}\r\n" for name, value in org.headers.items())
    return f"{method} {path} HTTP/1.1\r\nHost: hamr\r\n{credentials}{extra}\r\n".encode()


def read_answers(sock: socket.socket, count: int, head_only: bool = False) -> list[bytes]:
    """`count` whole answers off a connection, each its head and Content-Length bytes."""
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"closed after {len(answers)} answers: {buffer!r}"
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        length = 0 if head_only else int(header(head, b"content-length"))
        while len(buffer) < length:
            chunk = sock.recv(65536)
            assert chunk, f"closed in an answer's body: {buffer!r}"
            buffer += chunk
        answers.append(head + b"\r\n\r\n" + buffer[:length])
        buffer = buffer[length:]
    assert not buffer
    return answers


def header(head: bytes, name: bytes) -> bytes:
    values = [
        line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if line.split(b":", 1)[0].lower() == name
    ]
    assert len(values) == 1, (name, head)
    return values[0]


def test_answers_one_after_another_and_pipelined_are_whole_and_in_order(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    written = local_http.post(
        server.url + PATH, json=connection_body(org, partner, hamr_status=2), headers=org.headers
    )
    assert written.status_code == 200, written.text
    ids = [f"answer-{n}" for n in range(4)]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(org, extra=f"X-Request-Id: {ids[0]}\r\n"))  # the fast lane
        sock.sendall(request(org, path=PATH + "?x=1", extra=f"X-Request-Id: {ids[1]}\r\n"))
        first = read_answers(sock, 2)
        # Two at once, one a 404 from the app's router.
        sock.sendall(
            request(org, extra=f"X-Request-Id: {ids[2]}\r\n")
            + request(org, path="/nowhere", extra=f"X-Request-Id: {ids[3]}\r\n")
        )
        answers = first + read_answers(sock, 2)

    statuses = [answer.split(b" ", 2)[1] for answer in answers]
    assert statuses == [b"200", b"200", b"200", b"404"]
    heads = [answer.partition(b"\r\n\r\n")[0] for answer in answers]
    assert [header(head, b"x-request-id").decode() for head in heads] == ids
    for head in heads:
        assert head.startswith(b"HTTP/1.1 ")
        assert header(head, b"date")
        assert b"transfer-encoding" not in head.lower()
        assert b"connection:" not in head.lower()  # kept alive
    bodies = [answer.partition(b"\r\n\r\n")[2] for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2] == written.content


def test_a_head_request_gets_the_gets_head_without_a_body(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    written = local_http.post(
        server.url + PATH, json=connection_body(org, partner, hamr_status=2), headers=org.headers
    )
    assert written.status_code == 200, written.text
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(org, method="HEAD"))
        (head,) = read_answers(sock, 1, head_only=True)
        sock.sendall(request(org))  # the connection is still usable, and HEAD sent no body
        (get,) = read_answers(sock, 1)

    assert head.startswith(b"HTTP/1.1 200 ")
    assert header(head, b"content-length") == b"%d" % len(written.content)
    assert header(head, b"etag") == written.headers["etag"].encode()
    assert get.partition(b"\r\n\r\n")[2] == written.content


def test_a_client_that_asks_to_close_is_told_so_and_closed(
    server: ServeProcess, org: OrgKeys
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request(org, extra="Connection: close\r\n"))  # a 404: no connection yet
        (answer,) = read_answers(sock, 1)
        assert sock.recv(1) == b""  # closed after the answer

    head = answer.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 404 ")
    assert header(head, b"connection") == b"close"
