"""Bulk-seed a hamr database for benchmarks: N orgs, each with an API key and an application
key, linked in pairs (org 2k with org 2k+1, one connection per pair, both its members), written
straight into hamr's own (migrated) schema in large batches.

Secrets are derived from the org's index, so the load scripts can be handed a sample of them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from hamr.domain.keys import hash_secret
from hamr.store.sql import open_store
from hamr.store.tables import connection_members, connections, keys, orgs

BATCH = 20_000
DATACENTERS = ("us1", "eu1")


def org_uuid(index: int) -> str:
    return str(uuid.UUID(hashlib.md5(f"org-{index}".encode()).hexdigest()))  # noqa: S324


def api_key(index: int) -> str:
    return hashlib.md5(f"api-{index}".encode()).hexdigest()  # noqa: S324


def app_key(index: int) -> str:
    return hashlib.sha1(f"app-{index}".encode()).hexdigest()  # noqa: S324


def seed(database_url: str, count: int) -> None:
    """Add orgs 0..count-1 (skipping those already there, so scales can grow one database)."""
    store = open_store(database_url)
    try:
        with store.engine.begin() as db:
            start = db.execute(sa.select(sa.func.count()).select_from(orgs)).scalar_one()
            for first in range(start, count, BATCH):
                rows = list(_rows(range(first, min(first + BATCH, count))))
                db.execute(orgs.insert(), [r[0] for r in rows])
                db.execute(keys.insert(), [k for r in rows for k in r[1]])
                pairs = [_pair(i, count) for i in range(first, min(first + BATCH, count))]
                links = [link for link in pairs if link is not None]
                if links:
                    db.execute(connections.insert(), [link[0] for link in links])
                    db.execute(connection_members.insert(), [m for link in links for m in link[1]])
    finally:
        store.close()


def _pair(i: int, count: int) -> tuple[dict[str, object], list[dict[str, object]]] | None:
    """The connection org i makes, if it is the even one of its pair, and its members (both,
    or only org i while its partner is not seeded yet)."""
    if i % 2:
        return None
    link_id = str(uuid.UUID(int=(1 << 64) + i))
    linked = i + 1 < count
    connection = {
        "id": link_id,
        "org_uuid": org_uuid(i),
        "target_org_uuid": org_uuid(i + 1),
        "target_org_name": f"bench org {i + 1}",
        "target_org_datacenter": DATACENTERS[1],
        "linked": linked,
        "org_is_primary": True,
        "hamr_status": 2,
        "modified_at_us": time.time_ns() // 1000,
        "modified_by": "bench",
    }
    if "primary_datacenter" in connections.c:  # since 0008 (older revisions are compared too)
        connection["primary_datacenter"] = DATACENTERS[0]
    members = [org_uuid(i), org_uuid(i + 1)] if linked else [org_uuid(i)]
    return connection, [{"org_uuid": m, "connection_id": link_id} for m in members]


def _rows(
    indexes: range,
) -> Iterator[tuple[dict[str, object], list[dict[str, object]]]]:
    now = time.time_ns() // 1000
    for i in indexes:
        uuid_ = org_uuid(i)
        dc = DATACENTERS[i % 2]
        yield (
            {"uuid": uuid_, "name": f"bench org {i}", "datacenter": dc, "created_at_us": now},
            [
                {
                    "id": str(uuid.UUID(int=2 * i)),
                    "org_uuid": uuid_,
                    "kind": "api",
                    "secret_hash": hash_secret(api_key(i)),
                    "created_at_us": now,
                    "revoked_at_us": None,
                },
                {
                    "id": str(uuid.UUID(int=2 * i + 1)),
                    "org_uuid": uuid_,
                    "kind": "app",
                    "secret_hash": hash_secret(app_key(i)),
                    "created_at_us": now,
                    "revoked_at_us": None,
                },
            ],
        )


def write_sample(path: Path, count: int, sample: int, seed_value: int = 7) -> None:
    """A Lua-readable sample of orgs for wrk: one `uuid api_key app_key partner_uuid partner_dc`
    per line, drawn across the whole range so that reads hit cold pages too."""
    chooser = random.Random(seed_value)
    picks = chooser.sample(range(count), min(sample, count))
    lines = []
    for i in picks:
        partner_dc = DATACENTERS[1] if i % 2 == 0 else DATACENTERS[0]
        lines.append(f"{org_uuid(i)} {api_key(i)} {app_key(i)} {org_uuid(i ^ 1)} {partner_dc}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", required=True)
    parser.add_argument("--orgs", type=int, required=True)
    parser.add_argument("--sample", type=Path, help="also write a key sample for wrk here")
    parser.add_argument("--sample-size", type=int, default=10_000)
    args = parser.parse_args()
    started = time.monotonic()
    seed(args.database, args.orgs)
    if args.sample:
        write_sample(args.sample, args.orgs, args.sample_size)
    print(json.dumps({"orgs": args.orgs, "seconds": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
