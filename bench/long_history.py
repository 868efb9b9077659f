"""A POST's server CPU as its pair's history grows: issue 28's first target, after 100,000
history rows of its pair at most 1.15 times a fresh pair's.

One seeded pair (org 0, primary in us1, and org 1). 32 connections POST org 0's connection, its
status alternating PASSIVE and ACTIVE and `modified_by` naming the POST, so that each is a
change and a history row. The server's CPU per POST is measured over `--window` POSTs once the
pair is warm, then again once its history holds `--rows` rows. hamr on core 0, the clients on
core 1; SQLite.

    python3 bench/long_history.py [--rows 100000] [--window 5000]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed
from datacenter_failover import encoded_post, through_per_pair_posts
from servers import Server, hamr_command

WARM_UP = 2_000


def change(index: int) -> list[bytes]:
    """POST number `index`: org 0's connection, PASSIVE or ACTIVE by turns."""
    return [
        encoded_post(
            "/api/v2/hamr",
            0,
            {
                "data": {
                    "id": seed.org_uuid(0),
                    "type": "hamr_org_connections",
                    "attributes": {
                        "hamr_status": 2 if index % 2 else 4,
                        "is_primary": True,
                        "modified_by": f"bench {index}",
                        "target_org_datacenter": seed.DATACENTERS[1],
                        "target_org_name": "bench org 1",
                        "target_org_uuid": seed.org_uuid(1),
                    },
                }
            },
        )
    ]


def cpu_per_post(server: Server, posts: int) -> tuple[float, float]:
    """Server CPU µs per POST and POSTs per second, over `posts` POSTs."""
    before = server.cpu_seconds()
    seconds = through_per_pair_posts(server.port, posts, change)
    return (server.cpu_seconds() - before) / posts * 1e6, posts / seconds


def history_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM history").fetchone()[0])


@dataclass(frozen=True)
class HistoryCost:
    """Server CPU per POST (µs) and POSTs per second, fresh and after the long history."""

    fresh_rows: int
    fresh_cpu_us: float
    fresh_rate: float
    long_rows: int
    long_cpu_us: float
    long_rate: float

    @property
    def ratio(self) -> float:
        return self.long_cpu_us / self.fresh_cpu_us

    def table(self) -> str:
        return "\n".join(
            [
                "| pair's history | server CPU per POST | POSTs/s |",
                "| --- | ---: | ---: |",
                f"| {self.fresh_rows:,} rows | {self.fresh_cpu_us:,.0f} µs | "
                f"{self.fresh_rate:,.0f} |",
                f"| {self.long_rows:,} rows | {self.long_cpu_us:,.0f} µs | {self.long_rate:,.0f} |",
                "",
                f"after {self.long_rows:,} rows: {self.ratio:.2f} × a fresh pair's CPU per POST",
            ]
        )


def measure(rows: int, window: int) -> HistoryCost:
    with tempfile.TemporaryDirectory(prefix="hamr-history-") as folder:
        path = Path(folder) / "hamr.db"
        seed.seed(f"sqlite:///{path}", 2)
        with Server(hamr_command(f"sqlite:///{path}")) as server:
            through_per_pair_posts(server.port, WARM_UP, change)
            fresh_cpu, fresh_rate = cpu_per_post(server, window)
            fresh_rows = history_rows(path)
            through_per_pair_posts(server.port, max(0, rows - fresh_rows), change)
            long_rows = history_rows(path)
            long_cpu, long_rate = cpu_per_post(server, window)
    return HistoryCost(fresh_rows, fresh_cpu, fresh_rate, long_rows, long_cpu, long_rate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=5_000)
    args = parser.parse_args()
    print(measure(args.rows, args.window).table())


if __name__ == "__main__":
    main()
