"""A datacenter's pairs failed over (FAILOVER, then ACTIVE) on SQLite and PostgreSQL, three
ways: through the datacenter operation (`POST /api/v2/hamr/datacenters/us1/failover`, walked by
the server in batches), and through per-pair POSTs from the surviving side by 32 clients at
once, either as the seed API's clients do it (`POST /api/v2/hamr` with FAILOVER, then with
ACTIVE) or as hamr's pair operation (`POST /api/v2/hamr/pair/failover`, one per pair). hamr
(and PostgreSQL) on core 0, the clients on core 1. A 503 is sent again, as a client would
(and counted). Each way starts from a freshly seeded database (bench/seed.py: N pairs, every
primary in us1). Prints a markdown table; with fewer pairs than 500,000, each row also says
what its rate makes of 500,000.

    python3 bench/datacenter_failover.py --pairs 20000 [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import postgres
import seed
from servers import SERVER_CORE, Server, free_port, hamr_command

from hamr.domain.model import KeyKind, Permission
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.sql import open_store
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


def active_pairs(url: str, headers: dict[str, str]) -> int:
    answer = httpx.get(f"{url}/api/v2/hamr/datacenters/{DATACENTER}", headers=headers, timeout=60)
    answer.raise_for_status()
    return int(answer.json()["data"]["attributes"]["by_status"]["ACTIVE"])


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


def measure(
    database_url: Callable[[str], str], backend: str, pairs: int, chosen: set[str]
) -> list[str]:
    rows = []
    ways = {
        "datacenter operation": lambda server, headers: through_the_datacenter_operation(
            server.url, headers
        ),
        f"per-pair POST /api/v2/hamr ×2 (FAILOVER, ACTIVE), {CLIENTS} clients": (
            lambda server, _headers: through_per_pair_posts(server.port, pairs, connection_writes)
        ),
        f"per-pair POST /api/v2/hamr/pair/failover, {CLIENTS} clients": (
            lambda server, _headers: through_per_pair_posts(server.port, pairs, pair_operation)
        ),
    }
    for way, run in ways.items():
        if not any(word in way for word in chosen):
            continue
        url = database_url(way)
        seed.seed(url, 2 * pairs)
        headers = admin_headers(url)
        with Server(hamr_command(url)) as server:
            seconds = run(server, headers)
            walked = active_pairs(server.url, headers)
        if walked != pairs:
            raise RuntimeError(f"{way} on {backend}: {walked} of {pairs} pairs are ACTIVE")
        rate = pairs / seconds
        rows.append(
            f"| {backend} | {way} | {pairs:,} | {seconds:.1f} s | {rate:,.0f} | "
            f"{TARGET_PAIRS / rate / 60:.1f} min |"
        )
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=TARGET_PAIRS)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--ways",
        default="datacenter,/api/v2/hamr ×2,pair/failover",
        help="which ways, by a word of their names (comma-separated)",
    )
    args = parser.parse_args()
    chosen = set(args.ways.split(","))
    rows = [
        "| backend | way | pairs | time | pairs/s | 500,000 pairs at that rate |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory(prefix="hamr-dcfail-") as folder:
        if "sqlite" in backends:
            rows += measure(
                lambda way: f"sqlite:///{folder}/{way[:10].replace(' ', '-')}-{len(way)}.db",
                "SQLite",
                args.pairs,
                chosen,
            )
        if "postgresql" in backends:
            bindir = postgres.binaries()
            if bindir is None:
                raise SystemExit("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
            database = postgres.PostgresServer(
                bindir, free_port(), prefix=("taskset", "-c", SERVER_CORE)
            )
            try:
                database.init()
                names = {}

                def fresh(way: str) -> str:
                    names[way] = f"hamr_{len(names)}"
                    database.create_database(names[way])
                    return database.url_for(names[way])

                rows += measure(fresh, "PostgreSQL", args.pairs, chosen)
            finally:
                database.destroy()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
