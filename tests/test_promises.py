"""Promises the README and docs/ make that once had no test able to fail (issue 26): each test
here was watched failing under a one-line mutation of the code that keeps its promise (listed
in tests/mutants.py), so that breaking the promise breaks the suite."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import local_http
from tests.conftest import (
    Admin,
    EmulatorServer,
    OrgKeys,
    ServeProcess,
    connection_body,
    sqlite_url,
)

HAMR = "/api/v2/hamr"
PAIR = "/api/v2/hamr/pair"
PRODUCTION, BACKUP = "Production Org", "Production Backup Org"


def post(
    url: str, org: OrgKeys, body: dict[str, Any], query: str = "", **headers: str
) -> httpx.Response:
    """A POST of exactly these body bytes (a keyed retry must send the same ones)."""
    return local_http.post(
        f"{url}{HAMR}{query}",
        content=json.dumps(body).encode(),
        headers={**org.headers, "Content-Type": "application/json", **headers},
        timeout=30,
    )


def modified_at(answer: httpx.Response) -> str:
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["attributes"]["modified_at"])


def shifted(rfc3339: str, **delta: float) -> str:
    """An RFC 3339 time moved by `delta` (timedelta's keywords), written with `Z`."""
    moved = datetime.fromisoformat(rfc3339) + timedelta(**delta)
    return moved.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Idempotency-Key and dry runs ----------------------------------------------------------------


def test_a_dry_run_with_a_key_leaves_the_key_to_the_real_post(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """docs/api.md: a dry run ignores Idempotency-Key; were it to claim the key, the real
    POST that follows with the same key and body would be a replay (or a 409) storing
    nothing."""
    key = str(uuid.uuid4())
    body = connection_body(org, partner)

    rehearsed = post(server.url, org, body, "?dry_run=true", **{"Idempotency-Key": key})
    assert rehearsed.status_code == 200, rehearsed.text
    assert rehearsed.headers["x-hamr-dry-run"] == "true"
    assert admin.connection(org.uuid) is None

    real = post(server.url, org, body, **{"Idempotency-Key": key})
    assert real.status_code == 200, real.text
    assert "idempotency-replayed" not in real.headers
    assert "x-hamr-dry-run" not in real.headers
    stored = admin.connection(org.uuid)
    assert stored is not None
    assert stored.modified_at == modified_at(real)
    assert len(admin.history(org.uuid)) == 1

    retried = post(server.url, org, body, **{"Idempotency-Key": key})
    assert retried.headers["idempotency-replayed"] == "true"
    assert retried.content == real.content


def test_a_replay_carries_the_first_etag_but_not_its_warning(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """docs/api.md: "The replay carries the first answer's ETag, not its X-Hamr-Warning"."""
    key = str(uuid.uuid4())
    body = connection_body(org, partner, target_org_name="not the name hamr keeps")

    first = post(server.url, org, body, **{"Idempotency-Key": key})
    assert first.status_code == 200, first.text
    assert "is not stored" in first.headers["x-hamr-warning"]

    replayed = post(server.url, org, body, **{"Idempotency-Key": key})
    assert replayed.status_code == 200
    assert replayed.headers["idempotency-replayed"] == "true"
    assert replayed.headers["etag"] == first.headers["etag"]
    assert "x-hamr-warning" not in replayed.headers
    assert replayed.content == first.content
    assert len(admin.history(org.uuid)) == 1


# The virtual clock ---------------------------------------------------------------------------


@pytest.fixture
def demo(emulator: EmulatorServer) -> Iterator[dict[str, OrgKeys]]:
    """The demo pair afresh; the clock put back to the real one afterwards (a reset keeps it)."""
    yield emulator.reset("demo")
    emulator.admin.clock(real=True)


def history(url: str, org: OrgKeys) -> list[dict[str, Any]]:
    """The org's pair's history rows, oldest first (the demo pair's few fit one page)."""
    page = local_http.get(f"{url}{HAMR}/history?page[size]=100", headers=org.headers, timeout=30)
    assert page.status_code == 200, page.text
    assert page.json()["links"]["next"] is None
    return [row["attributes"] for row in page.json()["data"]][::-1]


def test_history_rows_are_recorded_at_the_virtual_clocks_time(
    emulator: EmulatorServer, demo: dict[str, OrgKeys]
) -> None:
    """docs/emulator.md: history times follow the clock; a row written after the clock moved
    is recorded at the virtual time, exactly the time its write was stamped with."""
    backup, production = demo[BACKUP], demo[PRODUCTION]
    before = emulator.admin.clock(set="2031-05-06T07:08:09.000000Z")["now"]

    written = post(
        emulator.url, backup, connection_body(backup, production, hamr_status=3, is_primary=False)
    )
    operated = local_http.post(
        emulator.url + PAIR + "/complete", json={"reason": "drill"}, headers=backup.headers
    )
    after = emulator.admin.clock()["now"]

    assert operated.status_code == 200, operated.text
    *_, posted, completed = history(emulator.url, backup)
    assert posted["recorded_at"] == modified_at(written)
    assert completed["recorded_at"] == operated.json()["data"]["attributes"]["modified_at"]
    assert before <= posted["recorded_at"] < completed["recorded_at"] <= after


def test_modified_at_grows_after_the_clock_is_set_behind_the_pairs_last_write(
    emulator: EmulatorServer, demo: dict[str, OrgKeys]
) -> None:
    """docs/api.md: modified_at is strictly increasing per pair, even when the emulator's
    clock is put back to before the pair's last write (a POST, then a pair operation). The
    clock only moves forward, but for `{"real": true}`: the pair is written two days ahead,
    then the clock goes back to the real time, two days behind it."""
    backup, production = demo[BACKUP], demo[PRODUCTION]
    emulator.admin.clock(advance_seconds=2 * 86_400)
    body = connection_body(backup, production, hamr_status=3, is_primary=False)
    first = modified_at(post(emulator.url, backup, body))

    now = emulator.admin.clock(real=True)["now"]
    assert now < shifted(first, days=-1)
    to_active = connection_body(production, backup, hamr_status=4)
    second = modified_at(post(emulator.url, production, to_active))
    assert second > first

    assert emulator.admin.clock()["now"] < shifted(second, days=-1)  # still behind the pair
    operated = local_http.post(
        emulator.url + PAIR + "/recover", json={"reason": "drill"}, headers=backup.headers
    )
    assert operated.status_code == 200, operated.text
    steps = [step["modified_at"] for step in operated.json()["meta"]["steps"]]
    assert len(steps) == 2
    assert second < steps[0] < steps[1]
    read = local_http.get(emulator.url + HAMR, headers=production.headers, timeout=30)
    assert modified_at(read) == steps[1]


# Rate-limit windows on reset -----------------------------------------------------------------

GETS_PER_WINDOW = 3
WINDOW_SECONDS = 3600


@pytest.fixture(scope="module")
def limited_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    """An emulator (SQLite: windows do not depend on the backend) allowing 3 GETs an hour."""
    where: Path = tmp_path_factory.mktemp("limited-emulator")
    running = EmulatorServer(
        sqlite_url(where / "hamr.db"),
        where / "server.log",
        "--rate-limit",
        f"hamr_get={GETS_PER_WINDOW}/{WINDOW_SECONDS}",
    )
    running.start()
    yield running
    running.stop()


def test_a_reset_starts_the_rate_limit_windows_afresh(limited_emulator: EmulatorServer) -> None:
    """docs/emulator.md: after `POST /_hamr/reset`, "Rate-limit windows start afresh". The demo
    orgs keep their UUIDs, so their buckets would stay spent without it."""
    url = limited_emulator.url
    # Windows are calendar-aligned on the emulator's clock: start at the top of an hour, so the
    # whole test runs inside one window (a reset leaves the clock where it is).
    limited_emulator.admin.clock(set="2031-01-01T00:00:00Z")
    production = limited_emulator.reset("demo")[PRODUCTION]
    first = local_http.get(url + HAMR, headers=production.headers, timeout=30)
    assert int(first.headers["x-ratelimit-reset"]) > WINDOW_SECONDS - 60
    spent = [local_http.get(url + HAMR, headers=production.headers, timeout=30) for _ in range(3)]
    assert [a.status_code for a in (first, *spent)] == [200] * GETS_PER_WINDOW + [429]

    again = limited_emulator.reset("demo")[PRODUCTION]
    assert again.uuid == production.uuid
    fresh = local_http.get(url + HAMR, headers=again.headers, timeout=30)

    assert fresh.status_code == 200, fresh.text
    assert fresh.headers["x-ratelimit-remaining"] == str(GETS_PER_WINDOW - 1)


# One winner of two pair operations -----------------------------------------------------------

ROUNDS = 10


def held_request(port: int, path: str, org: OrgKeys, body: bytes) -> tuple[socket.socket, bytes]:
    """An open connection with all of a POST sent but its last byte, and that byte: sending it
    releases the request (two such are released together behind a barrier)."""
    head = "".join(
        f"{name}: {value}\r\n"
        for name, value in {
            "Host": f"127.0.0.1:{port}",
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            **org.headers,
        }.items()
    )
    request = f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request[:-1])
    return sock, request[-1:]


def released_together(
    ports: list[int], path: str, callers: list[OrgKeys], body: bytes
) -> list[int]:
    """The statuses of one POST per caller, each to its server's port, their last bytes sent
    at the same moment."""
    held = [
        held_request(port, path, caller, body) for port, caller in zip(ports, callers, strict=True)
    ]
    barrier = threading.Barrier(len(held))
    statuses: list[int] = [0] * len(held)

    def send(index: int) -> None:
        sock, last = held[index]
        barrier.wait()
        sock.sendall(last)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        answer.read()
        statuses[index] = answer.status

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(held))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for sock, _ in held:
        sock.close()
    return statuses


@pytest.mark.parametrize("race", ["two-orgs", "one-org", "two-processes"])
def test_of_two_failovers_released_together_exactly_one_wins(
    server: ServeProcess,
    admin: Admin,
    org: OrgKeys,
    partner: OrgKeys,
    race: str,
    tmp_path: Path,
) -> None:
    """The pair operation re-reads the pair under its locks: two failovers that truly overlap
    (both requests sent but their last byte, then released behind a barrier), round after
    round, give one 200 and one 409, and one walk in history. Also when each goes to its own
    server on the one database, where only the database's locks stand between them (on
    SQLite, a write lock taken at BEGIN)."""
    written = post(server.url, org, connection_body(org, partner))
    assert written.status_code == 200, written.text
    callers = [org, org] if race == "one-org" else [org, partner]
    body = json.dumps({"reason": "race"}).encode()
    with contextlib.ExitStack() as stack:
        other = server
        if race == "two-processes":
            other = ServeProcess(server.database_url, tmp_path / "other.log").start()
            stack.callback(other.stop)
        for round_ in range(ROUNDS):
            rows = len(admin.history(org.uuid))
            statuses = released_together(
                [server.port, other.port], PAIR + "/failover", callers, body
            )
            assert sorted(statuses) == [200, 409], (round_, statuses)
            assert len(admin.history(org.uuid)) == rows + 2, round_  # one walk: 2 → 3 → 4
            back = local_http.post(
                server.url + PAIR + "/recover", json={"reason": "again"}, headers=org.headers
            )
            assert back.status_code == 200, (round_, back.text)
