"""The benchmark harness: hamr against two same-run references (bare Starlette, the ceiling,
and a bare ASGI callable) and a peer (Prism).

    python bench/run.py           # 1 000, 100 000 and 1 000 000 orgs; writes docs/benchmarks.md
    python bench/run.py --quick   # small scales, short rounds; prints the table (< 5 minutes)
    python bench/run.py --samples FILE   # keep every sample in FILE as it is measured; run
                                         # again with it to measure only what is missing

A full run takes over an hour: with `--samples`, a run that stops (a crash, a lost session)
keeps every phase it finished (each scale on SQLite, PostgreSQL, the long history, each
backend's failover), and the next run with the same file measures the rest and renders the
table from all of them.

Each server runs pinned to core 0 and wrk to core 1. Every figure is the median of several
interleaved rounds, with the spread (min-max) beside it, so a noisy neighbour shows instead of
hiding in one number. hamr is measured on SQLite at each scale (GET as wrk sends it and as the
official client does, POST, a 90/10 GET/POST mix) and on a PostgreSQL the harness starts, at the
largest scale (GET and POST), when its binaries are installed. Then issue 28's write
targets: a POST's CPU after a long history of its pair (bench/long_history.py) and a
datacenter's pairs failed over (bench/datacenter_failover.py) on both backends.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datacenter_failover
import long_history
import postgres
import seed
from datacenter_failover import WAYS
from loadgen import (
    WARMUP_LIMIT_SECONDS,
    Load,
    Outcome,
    client_headers,
    client_script,
    install_wrk,
    run_wrk,
)
from outage import healthz_in_each_state
from report import Figure, render
from servers import SERVER_CORE, Server, ceiling_command, free_port, hamr_command, prism_command

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DOCS = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Plan:
    scales: tuple[int, ...]
    rounds: int
    seconds: int
    connections: int
    post_seconds: int
    sample_size: int
    warmup_seconds: int
    # bench/long_history.py: the pair's history rows, and the POSTs each CPU figure is over.
    history_rows: int
    history_window: int
    # bench/datacenter_failover.py: the pairs seeded (the datacenter operation walks them
    # all), and those the per-pair ways walk.
    failover_pairs: int
    failover_per_pair: int


FULL = Plan(
    scales=(1_000, 100_000, 1_000_000),
    rounds=3,
    seconds=10,
    connections=32,
    post_seconds=10,
    sample_size=20_000,
    warmup_seconds=6,
    history_rows=100_000,
    history_window=5_000,
    failover_pairs=500_000,
    failover_per_pair=50_000,
)
QUICK = Plan(
    scales=(1_000, 20_000),
    rounds=3,
    seconds=3,
    connections=32,
    post_seconds=3,
    sample_size=2_000,
    warmup_seconds=1,
    history_rows=10_000,
    history_window=1_000,
    failover_pairs=5_000,
    failover_per_pair=1_000,
)
SMOKE = Plan(
    scales=(50,),
    rounds=1,
    seconds=1,
    connections=4,
    post_seconds=1,
    sample_size=50,
    warmup_seconds=0,  # one pass over the sample instead of a timed run (Load.warmup)
    history_rows=600,
    history_window=100,
    failover_pairs=40,
    failover_per_pair=20,
)


@dataclass
class Results:
    """Every measured sample, by name, to be reduced to median and spread; with a `log`,
    each also appended to it as a JSON line naming its phase, and each finished phase too."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    log: Path | None = None
    finished: set[str] = field(default_factory=set)
    current: str = ""

    @classmethod
    def kept_in(cls, log: Path) -> Results:
        """The samples of the phases `log` says were finished; the log is rewritten to hold
        only those (a phase cut short is measured again, whole)."""
        results = cls(log=log)
        lines = log.read_text().splitlines() if log.exists() else []
        entries = [json.loads(line) for line in lines if line.strip()]
        results.finished = {entry["finished"] for entry in entries if "finished" in entry}
        kept = [e for e in entries if e.get("phase", e.get("finished")) in results.finished]
        for entry in kept:
            if "name" in entry:
                results.samples.setdefault(entry["name"], []).append(entry["value"])
        log.write_text("".join(json.dumps(entry) + "\n" for entry in kept))
        return results

    def begin(self, phase: str) -> bool:
        """Whether `phase` is still to be measured (then its samples go under its name)."""
        if phase in self.finished:
            print(f"{phase}: kept from {self.log}", file=sys.stderr, flush=True)
            return False
        self.current = phase
        return True

    def finish(self) -> None:
        self.finished.add(self.current)
        self._append({"finished": self.current})

    def add(self, name: str, value: float) -> None:
        self.samples.setdefault(name, []).append(value)
        self._append({"phase": self.current, "name": name, "value": value})

    def _append(self, entry: dict[str, object]) -> None:
        if self.log is not None:
            with self.log.open("a") as log:
                log.write(json.dumps(entry) + "\n")

    def figure(self, name: str) -> Figure:
        values = self.samples.get(name, [])
        if not values:
            return Figure(name, None, None, None)
        return Figure(name, statistics.median(values), min(values), max(values))


def warm_up(url: str, loads: dict[str, Load], plan: Plan) -> None:
    """Every sampled org requested twice (at full scale a timed warm-up reached only three
    quarters of them, so measured runs began with storage reads), once more with the official
    client's headers (its gzipped bytes are made once per document), then a timed run."""
    run_wrk(url, loads["get"].passes_over_sample(2, at_most_seconds=WARMUP_LIMIT_SECONDS))
    run_wrk(url, loads["client"].passes_over_sample(1, at_most_seconds=WARMUP_LIMIT_SECONDS))
    run_wrk(url, loads["get"].warmup(plan.warmup_seconds))


def record(results: Results, name: str, scale: int, out: Outcome) -> None:
    """A run's rate, latencies and errors; a mix's parts too, as `{name}_{part}`."""
    results.add(f"{name}_rps@{scale}", out.rps)
    results.add(f"{name}_p50_ms@{scale}", out.p50_ms)
    results.add(f"{name}_p99_ms@{scale}", out.p99_ms)
    results.add(f"{name}_errors@{scale}", out.errors)
    for part, figures in out.parts.items():
        record(results, f"{name}_{part}", scale, figures)


def measure(plan: Plan, workdir: Path, results: Results, with_prism: bool = True) -> Results:
    database_url = f"sqlite:///{workdir / 'bench.db'}"
    sample = workdir / "sample.txt"
    client = client_script(workdir / "get_client.lua", client_headers())
    peers = [("ceiling", ceiling_command(BENCH)), ("bare", ceiling_command(BENCH, "bare"))]
    if with_prism:
        peers.append(
            (
                "prism",
                prism_command(BENCH, ROOT.parent / "shared" / "spec" / "hamr-v2.openapi.yaml"),
            )
        )
    loads: dict[str, Load] = {}
    for scale in plan.scales:
        seed.write_sample(sample, scale, plan.sample_size)
        loads = {
            "get": Load(BENCH / "lua" / "get.lua", sample, plan.connections, plan.seconds),
            "client": Load(client, sample, plan.connections, plan.seconds),
            "post": Load(BENCH / "lua" / "post.lua", sample, plan.connections, plan.post_seconds),
            "mix": Load(BENCH / "lua" / "mix.lua", sample, plan.connections, plan.seconds),
        }
        if not results.begin(f"sqlite@{scale}"):
            continue
        started = time.monotonic()
        seed.seed(database_url, scale)
        results.add(f"seed_seconds@{scale}", time.monotonic() - started)
        print(f"{scale:,} orgs seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        for _ in range(plan.rounds):
            # The references in every round at every scale, beside hamr's rounds: a ratio
            # sets figures measured minutes apart on a shared machine otherwise. (Prism, far
            # slower than the rest, is measured at the first scale only.)
            for name, command in peers:
                if name == "prism" and scale != plan.scales[0]:
                    continue
                with Server(command) as server:
                    run_wrk(server.url, loads["get"].warmup(plan.warmup_seconds))
                    out = run_wrk(server.url, loads["get"])
                    results.add(f"{name}_get_rps@{scale}", out.rps)
                    results.add(f"{name}_get_p99_ms@{scale}", out.p99_ms)
            with Server(hamr_command(database_url)) as server:
                warm_up(server.url, loads, plan)
                for kind, load in loads.items():
                    results.add("load_average", os.getloadavg()[0])
                    record(results, f"hamr_{kind}", scale, run_wrk(server.url, load))
                results.add(f"hamr_rss_mb@{scale}", server.rss_mb())
            print(f"{scale:,} orgs: a round done", file=sys.stderr, flush=True)
        with Server(hamr_command(database_url)) as server:
            warm_up(server.url, loads, plan)
            for kind in ("get", "post"):
                max_rps = results.figure(f"hamr_{kind}_rps@{scale}").median or 1.0
                out = run_wrk(server.url, loads[kind].paced(0.8 * max_rps))
                results.add(f"hamr_{kind}_paced_rps@{scale}", out.rps)
                results.add(f"hamr_{kind}_paced_p99_ms@{scale}", out.p99_ms)
            results.add(f"hamr_rss_mb@{scale}", server.rss_mb())
        results.finish()
    if results.begin("postgresql"):
        measure_postgres(plan, loads, results)
        results.finish()
    measure_history_and_failover(plan, workdir, results)
    return results


def measure_history_and_failover(plan: Plan, workdir: Path, results: Results) -> None:
    """Issue 28's write targets: a POST's CPU after a long history of its pair, and a
    datacenter's pairs failed over each way on each backend (PostgreSQL when installed)."""
    if results.begin("history"):
        cost = long_history.measure(plan.history_rows, plan.history_window)
        results.add("history_rows", cost.long_rows)
        results.add("history_cpu_ratio", cost.ratio)
        print(cost.table(), file=sys.stderr, flush=True)
        results.finish()
    backends = ["sqlite", "postgresql"] if postgres.binaries() else ["sqlite"]
    for backend in backends:
        if not results.begin(f"failover_{backend}"):
            continue
        folder = workdir / f"failover_{backend}"
        folder.mkdir()
        walks = datacenter_failover.failed_over(
            folder, [backend], plan.failover_pairs, plan.failover_per_pair, list(WAYS)
        )
        for walk in walks:
            results.add(f"failover_seconds_{walk.backend}_{walk.way}", walk.seconds)
            results.add(f"failover_pairs_{walk.backend}_{walk.way}", walk.pairs)
        results.finish()


def measure_postgres(plan: Plan, loads: dict[str, Load], results: Results) -> None:
    """GET and POST on one hamr process over PostgreSQL, at the largest scale (the sample is
    the one the SQLite rounds used last). The PostgreSQL server is pinned to the server's core
    as well: the server side has one core, as the references do. Without PostgreSQL's binaries
    nothing is recorded, and the report says so."""
    bindir = postgres.binaries()
    if bindir is None:
        return
    scale = plan.scales[-1]
    database = postgres.PostgresServer(bindir, free_port(), prefix=("taskset", "-c", SERVER_CORE))
    try:
        database.init()
        database.create_database()
        started = time.monotonic()
        seed.seed(database.url, scale)
        results.add(f"pg_seed_seconds@{scale}", time.monotonic() - started)
        print(f"PostgreSQL seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
        for _ in range(plan.rounds):
            with Server(hamr_command(database.url)) as server:
                warm_up(server.url, loads, plan)
                for kind in ("get", "post"):
                    record(results, f"pg_{kind}", scale, run_wrk(server.url, loads[kind]))
                results.add(f"pg_rss_mb@{scale}", server.rss_mb())
        with Server(hamr_command(database.url)) as server:
            warm_up(server.url, loads, plan)
            for state, out in healthz_in_each_state(server.url, database, loads["get"]).items():
                results.add(f"pg_healthz_p99_ms_{state}", out.p99_ms)
                results.add(f"pg_healthz_errors_{state}", out.errors)
    finally:
        database.destroy()


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("hamr", "starlette", "uvicorn", "sqlalchemy", "pydantic"):
        try:
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
        except Exception:  # a missing version is reported, not fatal
            versions.append(f"{package} ?")
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (
        f"{platform.node()} · {cpu} · {len(os.sched_getaffinity(0))} cores · "
        f"Python {platform.python_version()} · {', '.join(versions)} · {wrk.strip()}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="small scales and short rounds")
    mode.add_argument(
        "--smoke", action="store_true", help="a seconds-long run that only proves the harness works"
    )
    parser.add_argument("--no-prism", action="store_true", help="skip the Prism peer")
    parser.add_argument(
        "--output", type=Path, help=f"write the report here (default: {DOCS} for a full run)"
    )
    parser.add_argument(
        "--samples",
        type=Path,
        help="keep the samples in this file as they are measured, and measure only the phases "
        "it does not hold finished",
    )
    args = parser.parse_args()
    plan = SMOKE if args.smoke else QUICK if args.quick else FULL
    install_wrk()
    if (
        not args.no_prism
        and shutil.which("npm")
        and not (BENCH / "node_modules" / ".bin" / "prism").exists()
    ):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, check=True)
    with tempfile.TemporaryDirectory(prefix="hamr-bench-") as workdir:
        kept = Results.kept_in(args.samples) if args.samples else Results()
        results = measure(plan, Path(workdir), kept, with_prism=not args.no_prism)
    command = "python bench/run.py" + (
        " --quick" if args.quick else " --smoke" if args.smoke else ""
    )
    text = render(results.figure, plan.scales, plan.connections, machine(), command)
    print(text)
    output = args.output or (DOCS if plan is FULL else None)
    if output:
        write_report(output, text)
        print(f"written to {output}")


START, END = "<!-- measured: start -->", "<!-- measured: end -->"


def write_report(path: Path, measured: str) -> None:
    """Replace the measured part of the report, keeping what people wrote around it (the
    tuning log with its before/after figures)."""
    block = f"{START}\n{measured.rstrip()}\n{END}"
    existing = path.read_text() if path.exists() else ""
    if START in existing and END in existing:
        head, _, rest = existing.partition(START)
        _, _, tail = rest.partition(END)
        path.write_text(head + block + tail)
    else:
        path.write_text(block + "\n")


if __name__ == "__main__":
    main()
