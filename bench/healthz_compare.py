"""`/healthz` while PostgreSQL answers, hangs and is down (bench/outage.py), for two revisions
of hamr side by side: the tuning log's before/after rows for the probe's p99.

    python bench/healthz_compare.py HEAD~1 HEAD [--rounds 3] [--seconds 10]

One PostgreSQL (pinned to core 0 with hamr), seeded with `--orgs` orgs; in each round each
revision's server (exported as bench/compare.py does, which goes first alternating) is started,
warmed up as bench/run.py does (its caches then hold `--sample` orgs), and probed in each
state in turn. Prints each state's p99 and the server's CPU over
the three states, medians with ranges.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import postgres
import seed
from compare import export, median_range, served_from
from loadgen import Load, client_headers, client_script, install_wrk
from outage import STATES, healthz_in_each_state
from run import FULL, warm_up
from servers import SERVER_CORE, Server, free_port

BENCH = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a git revision: the baseline")
    parser.add_argument("after", help="a git revision: the change")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="of probes in each state")
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=20_000, help="orgs the warm-up reads")
    args = parser.parse_args()
    install_wrk()
    bindir = postgres.binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    with tempfile.TemporaryDirectory(prefix="hamr-healthz-") as scratch:
        work = Path(scratch)
        sources = {name: export(getattr(args, name), work) for name in ("before", "after")}
        database = postgres.PostgresServer(
            bindir, free_port(), prefix=("taskset", "-c", SERVER_CORE)
        )
        try:
            database.init()
            database.create_database()
            seed.seed(database.url, args.orgs)
            sample = work / "sample.txt"
            seed.write_sample(sample, args.orgs, args.sample)
            client = client_script(work / "get_client.lua", client_headers())
            loads = {
                "get": Load(BENCH / "lua" / "get.lua", sample, 32, args.seconds),
                "client": Load(client, sample, 32, args.seconds),
            }
            for round_number in range(args.rounds):
                order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
                for name in order:
                    with Server(served_from(sources[name], database.url)) as server:
                        warm_up(server.url, loads, FULL)
                        cpu_before = server.cpu_seconds()
                        outcomes = healthz_in_each_state(server.url, database, loads["get"])
                        figures = results[name]
                        figures.setdefault("cpu_s", []).append(server.cpu_seconds() - cpu_before)
                        for state, out in outcomes.items():
                            figures.setdefault(f"p99_ms_{state}", []).append(out.p99_ms)
                            figures.setdefault(f"errors_{state}", []).append(out.errors)
                print(f"round {round_number + 1} of {args.rounds} done", file=sys.stderr)
        finally:
            database.destroy()
    lines = [
        f"/healthz at 200 probes/s, {args.seconds} s in each state ({', '.join(STATES)}), "
        f"{args.orgs:,} orgs ({args.sample:,} warm), {args.rounds} rounds, "
        f"{args.before} → {args.after}",
        "",
        "| figure | before | after | after / before (medians) |",
        "| --- | --- | --- | --- |",
    ]
    for figure, before in results["before"].items():
        after = results["after"][figure]
        ratio = statistics.median(after) / statistics.median(before) if any(before) else 0
        lines.append(f"| {figure} | {median_range(before)} | {median_range(after)} | {ratio:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
