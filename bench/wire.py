"""GET by wire mode: hamr's `--wire contract`, `both` and `live` against the same-run ceiling.

    python bench/wire.py          # 100 000 orgs, 6 rounds of 10 s; writes docs/benchmarks.md
    python bench/wire.py --quick  # 2 000 orgs, one short round; prints the table (< 1 minute)
    python bench/wire.py --smoke  # 500 orgs, one short round, one-pass warm-ups: the tests'

One database is seeded once; the bare-Starlette ceiling and hamr in each wire mode on that
database are started once each (all pinned to core 0, wrk to core 1) and warmed up as
bench/run.py does. Each round then measures GET on each server in turn (ceiling, contract,
both, live), twice: as wrk sends it (no `Accept-Encoding`: hamr's fast lane) and with the
official Python client's headers (`Accept-Encoding: gzip`: hamr's Starlette app, with gzip).
Figures are medians over the rounds, with the range beside them.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed
from loadgen import WARMUP_LIMIT_SECONDS, Load, client_headers, client_script, run_wrk
from report import Figure
from rounds import Plan, Section, fmt, main, paired
from run import Results, machine
from servers import Server, ceiling_command, hamr_command

BENCH = Path(__file__).resolve().parent
MODES = ("ceiling", "contract", "both", "live")
WIRE_MODES = MODES[1:]
LANES = ("wrk", "client")
LANE_TITLES = {
    "wrk": "wrk (no gzip)",
    "client": "official client (gzip)",
}
TARGET_RATIO = 0.9
SECTION = Section("wire", after=("measured",))

FULL = Plan(
    orgs=100_000, sample_size=20_000, rounds=6, seconds=10, warmup_seconds=5, connections=32
)
QUICK = Plan(orgs=2_000, sample_size=500, rounds=1, seconds=1, warmup_seconds=1, connections=32)
# The test suite's: it proves every lane runs and renders, and measures nothing.
SMOKE = replace(QUICK, orgs=500, sample_size=100, warmup_seconds=0)


@dataclass(frozen=True)
class Shape:
    """What one GET answers: its content type and how many bytes it sends."""

    content_type: str
    body_bytes: int
    encoding: str


def shape(url: str, org: list[str], headers: dict[str, str]) -> Shape:
    """One GET with the sample's first org, which must succeed (a benchmark of errors would
    measure nothing)."""
    credentials = {"DD-API-KEY": org[1], "DD-APPLICATION-KEY": org[2]}
    with httpx.Client(timeout=10) as client:
        response = client.get(f"{url}/api/v2/hamr", headers=credentials | headers)
    if response.status_code != 200:
        raise RuntimeError(f"GET answered {response.status_code}: {response.text[:300]}")
    return Shape(
        response.headers.get("content-type", "?"),
        response.num_bytes_downloaded,
        response.headers.get("content-encoding", "identity"),
    )


def measure(plan: Plan, workdir: Path) -> tuple[Results, dict[tuple[str, str], Shape], float]:
    results = Results()
    database_url = f"sqlite:///{workdir / 'wire.db'}"
    sample = workdir / "sample.txt"
    started = time.monotonic()
    seed.seed(database_url, plan.orgs)
    seed.write_sample(sample, plan.orgs, plan.sample_size)
    seed_seconds = time.monotonic() - started
    first_org = sample.read_text().split("\n", 1)[0].split()
    headers = client_headers()
    loads = {
        "wrk": Load(BENCH / "lua" / "get.lua", sample, plan.connections, plan.seconds),
        "client": Load(
            client_script(workdir / "get_client.lua", headers),
            sample,
            plan.connections,
            plan.seconds,
        ),
    }
    lane_headers = {"wrk": {"Accept-Encoding": "identity"}, "client": headers}
    shapes: dict[tuple[str, str], Shape] = {}
    with ExitStack() as stack:
        # Every server runs for the whole measurement (idle but for the one measured), so
        # the rounds can interleave them closely: on a shared machine the load changes by the
        # minute, and runs seconds apart compare better than runs minutes apart.
        servers = {
            mode: stack.enter_context(
                Server(
                    ceiling_command(BENCH)
                    if mode == "ceiling"
                    else hamr_command(database_url, ("--wire", mode))
                )
            )
            for mode in MODES
        }
        for mode, server in servers.items():
            for lane in LANES:
                shapes[mode, lane] = shape(server.url, first_org, lane_headers[lane])
            # As bench/run.py: every sampled org twice, then a timed run (here each lane's).
            run_wrk(
                server.url,
                loads["wrk"].passes_over_sample(2, at_most_seconds=WARMUP_LIMIT_SECONDS),
            )
            for lane in LANES:
                run_wrk(server.url, loads[lane].warmup(plan.warmup_seconds))
        for round_ in range(plan.rounds):
            # Which headers go first alternates, and so does the order of the wire modes after
            # the ceiling: with one fixed order the comparison moved with it (both / contract
            # 1.21 without gzip and 1.03 with it in this order, 1.06 and 0.87 in the reverse).
            forward = round_ % 2 == 0
            modes = MODES if forward else (MODES[0], *reversed(WIRE_MODES))
            for lane in LANES if forward else LANES[::-1]:
                for mode in modes:
                    results.add("load_average", os.getloadavg()[0])
                    out = run_wrk(servers[mode].url, loads[lane])
                    results.add(f"{mode}_{lane}_rps", out.rps)
                    results.add(f"{mode}_{lane}_p50_ms", out.p50_ms)
                    results.add(f"{mode}_{lane}_p99_ms", out.p99_ms)
                    results.add(f"{mode}_{lane}_errors", out.errors)
                print(
                    f"round {round_ + 1}/{plan.rounds} {LANE_TITLES[lane]}: "
                    + ", ".join(
                        f"{mode} {results.samples[f'{mode}_{lane}_rps'][-1]:,.0f}" for mode in modes
                    )
                    + " req/s",
                    file=sys.stderr,
                    flush=True,
                )
    return results, shapes, seed_seconds


def ratio(a: Figure, b: Figure) -> float | None:
    if a.median is None or not b.median:
        return None
    return a.median / b.median


def render(
    results: Results,
    shapes: dict[tuple[str, str], Shape],
    plan: Plan,
    headers: dict[str, str],
    command: str,
    machine_line: str,
) -> str:
    figure = results.figure
    full = command == "python bench/wire.py"
    sent = ", ".join(f"`{name}: {value}`" for name, value in headers.items())
    warmed = f"{plan.warmup_seconds} s" if plan.warmup_seconds else "once more"
    lines = [
        "## GET by wire mode",
        "",
        f"Reproduce with `{command}`"
        + ("" if full else " (full run: `python bench/wire.py`)")
        + f". Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine_line}.",
        "",
        f"One database of {plan.orgs:,} orgs (linked in pairs), GETs rotating over a sample of "
        f"{min(plan.sample_size, plan.orgs):,} of them. The bare-Starlette ceiling and hamr "
        "with `--wire contract`, `both` and `live` are started once each, all on core 0 (wrk "
        f"on core 1, {plan.connections} connections), and warmed up (every sampled org twice, "
        f"then {warmed} with each set of headers). Then {plan.rounds} round"
        + ("s" if plan.rounds != 1 else "")
        + f": with each set of headers (which goes first alternates by round), {plan.seconds} s "
        "on each server: the ceiling, then contract, both, live in odd rounds and live, both, "
        "contract in even ones. Medians over the rounds, "
        "range in brackets; throughput in requests per second, latency in milliseconds. "
        f"The machine is shared: its 1-minute load average at the start of the runs was "
        f"{figure('load_average').show(1)} ({os.cpu_count()} cores).",
        "",
        "- **wrk (no gzip)**: only the credentials, as in the tables above; hamr answers from "
        "its fast lane.",
        f"- **official client (gzip)**: also what datadog-api-client sends ({sent}); hamr "
        "answers through its Starlette app, gzipped. The ceiling ignores these headers and "
        "sends the same uncompressed body.",
        "",
        "| wire | headers | GET req/s | ×ceiling | ×contract | p50 ms | p99 ms | body bytes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lane in LANES:
        ceiling = figure(f"ceiling_{lane}_rps")
        contract = figure(f"contract_{lane}_rps")
        for mode in MODES:
            rps = figure(f"{mode}_{lane}_rps")
            got = shapes.get((mode, lane))
            sent_bytes = (
                "—"
                if got is None
                else f"{got.body_bytes:,}" + ("" if got.encoding == "identity" else " gzip")
            )
            lines.append(
                f"| {mode} | {LANE_TITLES[lane]} | {rps.show()} | "
                f"{fmt(ratio(rps, ceiling))} | "
                f"{'—' if mode == 'ceiling' else fmt(ratio(rps, contract))} | "
                f"{figure(f'{mode}_{lane}_p50_ms').show(2)} | "
                f"{figure(f'{mode}_{lane}_p99_ms').show(2)} | {sent_bytes} |"
            )
    types = ", ".join(f"{mode} `{shapes[mode, 'wrk'].content_type}`" for mode in WIRE_MODES)
    lines += ["", f"Content types: {types}.", ""]
    errors = {
        (mode, lane): int(sum(results.samples.get(f"{mode}_{lane}_errors", [])))
        for mode in MODES
        for lane in LANES
    }
    failed = {key: count for key, count in errors.items() if count}
    if failed:
        listed = ", ".join(f"{m} / {LANE_TITLES[lane]}: {n:,}" for (m, lane), n in failed.items())
        lines += [f"**Errors** (non-2xx or socket) in measured runs: {listed}.", ""]
    else:
        lines += ["No errors (non-2xx or socket) in any measured run.", ""]
    lines += ["| target | measured | verdict |", "| --- | --- | --- |"]
    for lane in LANES:
        both, contract = figure(f"both_{lane}_rps"), figure(f"contract_{lane}_rps")
        value = ratio(both, contract)
        rounds = paired(results, f"both_{lane}_rps", f"contract_{lane}_rps")
        spread = f" (round by round {min(rounds):.2f}–{max(rounds):.2f})" if len(rounds) > 1 else ""
        verdict = "—" if value is None else "met" if value >= TARGET_RATIO else "**missed**"
        lines.append(
            f"| `both` within 10 % of `contract`, {LANE_TITLES[lane]} | "
            f"{fmt(value)} ×{spread} | {verdict} |"
        )
    return "\n".join(lines)


def report(plan: Plan, workdir: Path, command: str) -> str:
    results, shapes, seed_seconds = measure(plan, workdir)
    print(f"seeded {plan.orgs:,} orgs in {seed_seconds:.0f} s", file=sys.stderr)
    return render(results, shapes, plan, client_headers(), command, machine())


if __name__ == "__main__":
    main("wire", __doc__ or "", (FULL, QUICK, SMOKE), SECTION, report)
