"""A datacenter's pairs failed over (FAILOVER, then ACTIVE) on SQLite and PostgreSQL, three
ways: through the datacenter operation (`POST /api/v2/hamr/datacenters/us1/failover`, walked by
the server in batches), and through per-pair POSTs from the surviving side by 32 clients at
once, either as the seed API's clients do it (`POST /api/v2/hamr` with FAILOVER, then with
ACTIVE) or as hamr's pair operation (`POST /api/v2/hamr/pair/failover`, one per pair). hamr
(and PostgreSQL) on core 0, the clients on core 1. A 503 is sent again, as a client would
(and counted). Each way starts from its own copy of one seeded database (bench/seed.py: N
pairs, every primary in us1); the datacenter operation fails all N over, the per-pair ways the
first `--per-pair`. Prints a markdown table; each row also says what its rate makes of
500,000 pairs (issue 28's target). bench/run.py runs it too, for the targets table.

    python3 bench/datacenter_failover.py [--pairs 500000] [--per-pair 50000] \\
        [--backends sqlite,postgresql] [--ways operation,posts,pair_operation]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import postgres
import seed
from servers import SERVER_CORE, Server, free_port, hamr_command

from hamr.domain.model import HamrStatus, KeyKind, Permission
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.engine import create_engine
from hamr.store.sql import open_store
from hamr.store.tables import connections
from hamr.usecases.service import HamrService

CLIENTS = 32
CLIENT_CORE = 1
TARGET_PAIRS = 500_000
DATACENTER = seed.DATACENTERS[0]  # every seeded pair's primary side
POLL_SECONDS = 0.2


def admin_headers(database_url: str) -> dict[str, str]:
    """Org 0's API key with an admin application key made for it."""
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
        secret = service.create_key(seed.org_uuid(0), KeyKind.APP, Permission.ADMIN)[1]
    finally:
        store.close()
    return {"DD-API-KEY": seed.api_key(0), "DD-APPLICATION-KEY": secret}


def active_pairs(database_url: str) -> int:
    """Pairs whose connection is ACTIVE (every seeded one starts PASSIVE), counted in storage
    itself, apart from the server measured (whose page `datacenter_page` reads)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            active = connections.c.hamr_status == int(HamrStatus.ACTIVE)
            query = sa.select(sa.func.count()).select_from(connections).where(active)
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def through_the_datacenter_operation(url: str, headers: dict[str, str]) -> float:
    """Seconds from the POST to the job's end, as its progress says."""
    started = time.monotonic()
    answer = httpx.post(
        f"{url}/api/v2/hamr/datacenters/{DATACENTER}/failover",
        json={"reason": "bench: us1 is down"},
        headers=headers,
        timeout=60,
    )
    if answer.status_code != 202:
        raise RuntimeError(answer.text)
    with httpx.Client(headers=headers, timeout=60) as client:
        while True:
            time.sleep(POLL_SECONDS)
            polled = client.get(f"{url}/api/v2/hamr/datacenters/{DATACENTER}/failover")
            polled.raise_for_status()
            if polled.json()["data"]["attributes"]["state"] == "finished":
                return time.monotonic() - started


def datacenter_page(url: str, headers: dict[str, str]) -> None:
    """Read the datacenter's page (its pair counts by status) once the operation is done, and
    say how it answered: at 500,000 pairs on SQLite it once outlasted the read timeout."""
    started = time.monotonic()
    answer = httpx.get(f"{url}/api/v2/hamr/datacenters/{DATACENTER}", headers=headers, timeout=60)
    took_ms = (time.monotonic() - started) * 1000
    shown = answer.json()["data"]["attributes"]["by_status"] if answer.is_success else answer.text
    print(
        f"  the datacenter's page: {answer.status_code} in {took_ms:.0f} ms: {shown}",
        file=sys.stderr,
        flush=True,
    )


async def send_in_order(
    port: int, requests: list[bytes], failures: list[str], retries: list[int]
) -> None:
    """One keep-alive connection sending its requests one after another; a 503 again."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for request in requests:
            while True:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                if not head.startswith(b"HTTP/1.1 503"):
                    break
                retries.append(1)
            # A 409 after a 503: the first try was stored after all (a 503 may say so).
            retried_and_done = bool(retries) and head.startswith(b"HTTP/1.1 409")
            if not head.startswith(b"HTTP/1.1 200") and not retried_and_done:
                failures.append(head.split(b"\r\n", 1)[0].decode() + " " + body[:200].decode())
    finally:
        writer.close()


def encoded_post(path: str, surviving: int, document: object) -> bytes:
    """A POST by org `surviving` (its write keys), encoded once."""
    body = json.dumps(document).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"DD-API-KEY: {seed.api_key(surviving)}\r\n"
        f"DD-APPLICATION-KEY: {seed.app_key(surviving)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def pair_operation(index: int) -> list[bytes]:
    """Pair `index` failed over by its surviving (eu1) side's pair operation: one POST."""
    return [
        encoded_post("/api/v2/hamr/pair/failover", 2 * index + 1, {"reason": "bench: us1 is down"})
    ]


def connection_writes(index: int) -> list[bytes]:
    """Pair `index` failed over as the seed API's clients do it: its surviving side POSTs its
    connection with FAILOVER, then with ACTIVE."""
    surviving, primary = 2 * index + 1, 2 * index
    return [
        encoded_post(
            "/api/v2/hamr",
            surviving,
            {
                "data": {
                    "id": seed.org_uuid(surviving),
                    "type": "hamr_org_connections",
                    "attributes": {
                        "hamr_status": status,
                        "is_primary": False,
                        "modified_by": "bench",
                        "target_org_datacenter": DATACENTER,
                        "target_org_name": f"bench org {primary}",
                        "target_org_uuid": seed.org_uuid(primary),
                    },
                }
            },
        )
        for status in (3, 4)
    ]


def through_per_pair_posts(
    port: int, pairs: int, requests_of: Callable[[int], list[bytes]]
) -> float:
    """Seconds for CLIENTS connections to fail every pair over, each pair's POSTs in order on
    one connection."""
    with_cpu = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {CLIENT_CORE})
    try:
        per_client = [
            [request for i in range(c, pairs, CLIENTS) for request in requests_of(i)]
            for c in range(CLIENTS)
        ]
        failures: list[str] = []
        retries: list[int] = []

        async def everyone() -> None:
            await asyncio.gather(
                *(send_in_order(port, mine, failures, retries) for mine in per_client)
            )

        started = time.monotonic()
        asyncio.run(everyone())
        elapsed = time.monotonic() - started
    finally:
        os.sched_setaffinity(0, with_cpu)
    if failures:
        raise RuntimeError(f"{len(failures)} POSTs failed, the first: {failures[0]}")
    if retries:
        print(f"  {len(retries)} POSTs answered 503 and were sent again", file=sys.stderr)
    return elapsed


WAYS = {
    "operation": "datacenter operation",
    "posts": f"per-pair POST /api/v2/hamr ×2 (FAILOVER, ACTIVE), {CLIENTS} clients",
    "pair_operation": f"per-pair POST /api/v2/hamr/pair/failover, {CLIENTS} clients",
}


@dataclass(frozen=True)
class Walk:
    """One way's run: `pairs` of the seeded pairs failed over in `seconds`."""

    backend: str
    way: str  # a key of WAYS
    pairs: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.pairs / self.seconds

    def row(self) -> str:
        return (
            f"| {self.backend} | {WAYS[self.way]} | {self.pairs:,} | {self.seconds:.1f} s | "
            f"{self.rate:,.0f} | {TARGET_PAIRS / self.rate / 60:.1f} min |"
        )


def walk(url: str, way: str, pairs: int) -> float:
    """Seconds for `way` to fail the first `pairs` pairs of the database at `url` over."""
    headers = admin_headers(url)
    with Server(hamr_command(url)) as server:
        if way == "operation":
            seconds = through_the_datacenter_operation(server.url, headers)
            datacenter_page(server.url, headers)
        else:
            requests_of = connection_writes if way == "posts" else pair_operation
            seconds = through_per_pair_posts(server.port, pairs, requests_of)
    if (walked := active_pairs(url)) != pairs:
        raise RuntimeError(f"{WAYS[way]}: {walked} of {pairs} pairs are ACTIVE")
    return seconds


def measure(
    copy_of_seeded: Callable[[], str], backend: str, seeded: int, per_pair: int, ways: list[str]
) -> list[Walk]:
    """Each way from its own copy of one database seeded with `seeded` pairs: the datacenter
    operation walks all of them, the per-pair ways the first `per_pair` (the 32 clients' rate
    is steady long before 500,000 pairs, which would take them half an hour)."""
    walks = []
    for way in ways:
        pairs = seeded if way == "operation" else min(per_pair, seeded)
        walks.append(Walk(backend, way, pairs, walk(copy_of_seeded(), way, pairs)))
        print(walks[-1].row(), file=sys.stderr, flush=True)
    return walks


def on_sqlite(folder: Path, seeded: int, per_pair: int, ways: list[str]) -> list[Walk]:
    original = folder / "seeded.db"
    seed.seed(f"sqlite:///{original}", 2 * seeded)
    copies = iter(range(len(ways)))

    def copy_of_seeded() -> str:
        copy = folder / f"copy-{next(copies)}.db"
        shutil.copy(original, copy)
        return f"sqlite:///{copy}"

    return measure(copy_of_seeded, "SQLite", seeded, per_pair, ways)


def on_postgresql(seeded: int, per_pair: int, ways: list[str]) -> list[Walk]:
    bindir = postgres.binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
    database = postgres.PostgresServer(bindir, free_port(), prefix=("taskset", "-c", SERVER_CORE))
    try:
        database.init()
        database.create_database("hamr_seeded")
        seed.seed(database.url_for("hamr_seeded"), 2 * seeded)
        copies = iter(range(len(ways)))

        def copy_of_seeded() -> str:
            name = f"hamr_{next(copies)}"
            database.create_database(name, template="hamr_seeded")
            return database.url_for(name)

        return measure(copy_of_seeded, "PostgreSQL", seeded, per_pair, ways)
    finally:
        database.destroy()


def failed_over(
    folder: Path, backends: list[str], seeded: int, per_pair: int, ways: list[str]
) -> list[Walk]:
    """Every way on every backend named."""
    walks = []
    if "sqlite" in backends:
        walks += on_sqlite(folder, seeded, per_pair, ways)
    if "postgresql" in backends:
        walks += on_postgresql(seeded, per_pair, ways)
    return walks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=TARGET_PAIRS, help="pairs seeded")
    parser.add_argument(
        "--per-pair",
        type=int,
        default=50_000,
        help="pairs the per-pair ways fail over (at most --pairs)",
    )
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--ways", default=",".join(WAYS), help=f"of {', '.join(WAYS)}")
    args = parser.parse_args()
    ways = args.ways.split(",")
    if unknown := set(ways) - set(WAYS):
        parser.error(f"unknown ways: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="hamr-dcfail-") as folder:
        walks = failed_over(Path(folder), args.backends.split(","), args.pairs, args.per_pair, ways)
    rows = [
        "| backend | way | pairs | time | pairs/s | 500,000 pairs at that rate |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
        *(walk.row() for walk in walks),
    ]
    print("\n".join(rows))


if __name__ == "__main__":
    main()
