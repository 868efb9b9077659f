"""What `hamr serve --emulator` costs GET /api/v2/hamr when no fault rule is defined.

    python bench/emulator.py          # 10 000 orgs, 14 rounds of 4 s; writes docs/benchmarks.md
    python bench/emulator.py --quick  # 1 000 orgs, one short round; prints the section (< 1 minute)
    python bench/emulator.py --smoke  # 500 orgs, one-pass warm-ups, few timings: the tests'

With `--emulator` every request goes through the fault rules (with none defined, one test of
an empty tuple), uvicorn serves it through a protocol that puts the TCP transport in its scope,
and the service and the rate limits read the emulator's clock. Three servers share one database
(a GET never writes): `off` (no `--emulator`), a second `off`, and `--emulator` with no rules.
What the two `off` servers differ by (the A/A control) is the method's resolution, as in
bench/policy.py, whose method this is: all pinned to core 0 and wrk to core 1, warmed up, then
rounds of GET on each server in turn, as wrk sends it and with the official client's headers
(`Accept-Encoding: gzip`), the order reversed every round; the cost is the server's CPU time
per request, from /proc, taken round by round against `off`'s.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import emulator_work
import seed
from loadgen import WARMUP_LIMIT_SECONDS, Load, client_headers, client_script, run_wrk
from rounds import Plan, Section, against, checked, fmt, judged, main, paired
from run import Results, machine
from servers import Server, hamr_command
from wire import LANE_TITLES, LANES, Shape, shape

BENCH = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-emulator-admin-token"  # --admin-token wants 16 characters
# name: hamr's extra arguments. "off_again" is the A/A control.
SERVERS = {
    "off": (),
    "off_again": (),
    "emulator": ("--emulator", "--admin-token", ADMIN_TOKEN),
}
TITLES = {
    "off": "`off`",
    "off_again": "`off` again (A/A control)",
    "emulator": "`--emulator`, no rules",
}
COST = 0.05  # the emulator's server CPU per GET at most 5 % above off's
SECTION = Section("emulator", after=("policy", "wire", "measured"))

FULL = Plan(orgs=10_000, sample_size=10_000, rounds=14, seconds=4, warmup_seconds=3, connections=32)
QUICK = Plan(orgs=1_000, sample_size=500, rounds=1, seconds=1, warmup_seconds=1, connections=32)
# The test suite's: it proves every lane runs and renders, and measures nothing.
SMOKE = replace(
    QUICK, orgs=500, sample_size=100, warmup_seconds=0, work_number=10_000, work_repeats=2
)


def measure(plan: Plan, workdir: Path) -> tuple[Results, float]:
    results = Results()
    database_url = f"sqlite:///{workdir / 'emulator.db'}"
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
    answers: dict[str, Shape] = {}
    with ExitStack() as stack:
        # All run for the whole measurement, idle but for the one measured, so that the
        # rounds can interleave them seconds apart.
        servers = {
            name: stack.enter_context(Server(hamr_command(database_url, extra)))
            for name, extra in SERVERS.items()
        }
        for name, server in servers.items():
            for lane in LANES:
                # Each server must answer alike (type, bytes, encoding), or this would compare
                # different work.
                got = shape(server.url, first_org, lane_headers[lane])
                if answers.setdefault(lane, got) != got:
                    raise RuntimeError(f"{name} answers {got}, off {answers[lane]} ({lane})")
            run_wrk(
                server.url,
                loads["wrk"].passes_over_sample(2, at_most_seconds=WARMUP_LIMIT_SECONDS),
            )
            for lane in LANES:
                checked(run_wrk(server.url, loads[lane].warmup(plan.warmup_seconds)), name)
        steps = [(lane, name) for lane in LANES for name in SERVERS]
        for round_ in range(plan.rounds):
            for lane, name in steps if round_ % 2 == 0 else steps[::-1]:
                results.add("load_average", os.getloadavg()[0])
                cpu_before = servers[name].cpu_seconds()
                out = run_wrk(servers[name].url, loads[lane])
                cpu = servers[name].cpu_seconds() - cpu_before
                results.add(f"{name}_{lane}_cpu_us", 1e6 * cpu / max(out.requests, 1))
                results.add(f"{name}_{lane}_rps", out.rps)
                results.add(f"{name}_{lane}_p50_ms", out.p50_ms)
                results.add(f"{name}_{lane}_p99_ms", out.p99_ms)
                results.add(f"{name}_{lane}_errors", out.errors)
            print(
                f"round {round_ + 1}/{plan.rounds}: "
                + "; ".join(
                    f"{lane} "
                    + ", ".join(
                        f"{name} {results.samples[f'{name}_{lane}_cpu_us'][-1]:.0f} µs"
                        for name in SERVERS
                    )
                    for lane in LANES
                ),
                file=sys.stderr,
                flush=True,
            )
    return results, seed_seconds


def cost_side(ratio: float) -> int:
    """One-sided: a cost is the emulator being dearer, so any ratio below 1 meets the target."""
    return 0 if ratio <= 1 + COST else 1


def rate_side(ratio: float) -> int:
    return 0 if ratio >= 1 - COST else -1


def render(results: Results, plan: Plan, command: str, machine_line: str) -> str:
    figure = results.figure
    full = command == "python bench/emulator.py"
    rounds = f"{plan.rounds} round" + ("s" if plan.rounds != 1 else "")
    lines = [
        "## The emulator's cost to GET (`--emulator`, no fault rules)",
        "",
        f"Reproduce with `{command}`"
        + ("" if full else " (full run: `python bench/emulator.py`)")
        + f". Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine_line}.",
        "",
        f"One database of {plan.orgs:,} orgs (linked in pairs), shared by three servers (a GET "
        "never writes): hamr without `--emulator` (`off`), a second one just like it (the A/A "
        "control), and hamr with `--emulator` and no fault rule, all on core 0 (wrk on core 1, "
        f"{plan.connections} connections), GETs rotating over a sample of "
        f"{min(plan.sample_size, plan.orgs):,} orgs; each server warmed up as in the wire "
        f"table, and checked to answer each lane alike. Then {rounds}: {plan.seconds} s of GET "
        "on each server in turn, with wrk's headers, then with the official client's, the "
        "order reversed in even rounds. With `--emulator` every request passes the fault rules "
        "(with none defined, one test of an empty tuple), uvicorn serves it through "
        "`LimitedProtocol` (its httptools protocol, which `off` also runs, plus the transport "
        "put in the scope) and the service and rate limits read the emulator's clock. Medians "
        "over the rounds, range in brackets; ×`off` is taken round by round (median of the "
        "rounds). The machine is shared: its 1-minute load average at the start of the runs "
        f"was {figure('load_average').show(1)} ({os.cpu_count()} cores).",
        "",
        "| server | headers | GET req/s | ×`off` | server CPU µs/req | ×`off` | p50 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lane in LANES:
        for name in SERVERS:
            base = name == "off"
            rate, _ = against(results, f"{name}_{lane}_rps", f"off_{lane}_rps")
            cpu, _ = against(results, f"{name}_{lane}_cpu_us", f"off_{lane}_cpu_us")
            lines.append(
                f"| {TITLES[name]} | {LANE_TITLES[lane]} | {figure(f'{name}_{lane}_rps').show()} "
                f"| {'—' if base else fmt(rate)} | {figure(f'{name}_{lane}_cpu_us').show()} | "
                f"{'—' if base else fmt(cpu, 3)} | {figure(f'{name}_{lane}_p50_ms').show(2)} | "
                f"{figure(f'{name}_{lane}_p99_ms').show(2)} |"
            )
    lines.append("")
    errors = {
        key.removesuffix("_errors"): int(sum(values))
        for key, values in results.samples.items()
        if key.endswith("_errors") and any(values)
    }
    if errors:
        listed = ", ".join(f"{name}: {count:,}" for name, count in errors.items())
        lines += [f"**Errors** (non-2xx or socket) in measured runs: {listed}.", ""]
    else:
        lines += ["No errors (non-2xx or socket) in any measured run.", ""]
    lines += [
        "The target is judged on the server's CPU time per request (user and system, all its "
        "threads, from /proc over each run), which on a shared machine moves far less than the "
        "rate; the rate rows are for the record. One-sided: a cost is the emulator being "
        "dearer, so a round below 1 meets it.",
        "",
        "| target | measured | A/A control (`off` again ×`off`) | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for lane in LANES:
        lines.append(
            target(
                results,
                lane,
                "cpu_us",
                f"`--emulator` costs GET < {COST * 100:.0f} % server CPU against `off`",
                cost_side,
            )
        )
    for lane in LANES:
        lines.append(
            target(
                results,
                lane,
                "rps",
                f"rate: `--emulator`'s GET/s at least {100 - COST * 100:.0f} % of `off`'s",
                rate_side,
            )
        )
    lines += [line for lane in LANES for line in resolution(results, lane)]
    lines += own_work(results, plan.work_repeats or emulator_work.REPEATS)
    return "\n".join(lines)


def own_work(results: Results, repeats: int) -> list[str]:
    """The emulator's own work per GET, timed in-process, against what a GET costs the
    server: deterministic where the server lanes are noise-bound, so these rows decide."""
    total = results.figure("work_total_us").median
    if total is None:
        return []
    parts = ", ".join(
        f"{what} {results.figure(f'work_{name}_us').median or 0.0:.2f} µs"
        for name, what in (
            ("fault_rules", "the fault rules' layer"),
            ("transport_in_scope", "the transport in the scope"),
            ("clock", "the rate limiter on the emulator's clock"),
        )
    )
    lines = [
        "",
        "In-process, the emulator's own work per GET with no rules (bench/emulator_work.py: "
        f"timeit on the objects create_app builds, best of {repeats} runs): "
        f"{parts}; {total:.2f} µs in all, set against the server CPU a GET costs `off` "
        "(the medians above).",
        "",
        "| target | the emulator adds per GET | share of a GET | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for lane in LANES:
        get_us = results.figure(f"off_{lane}_cpu_us").median
        if get_us is None:
            continue
        share = total / get_us
        verdict = "met" if share < COST else "**missed**"
        lines.append(
            f"| the emulator's own work < {COST * 100:.0f} % of a GET, {LANE_TITLES[lane]} | "
            f"{total:.2f} µs | {100 * share:.2f} % | {verdict} |"
        )
    return lines


def target(
    results: Results, lane: str, metric: str, what: str, side: Callable[[float], int]
) -> str:
    """A target's row: the emulator over `off`, and the A/A control's figure beside it."""
    base = f"off_{lane}_{metric}"
    value, spread = against(results, f"emulator_{lane}_{metric}", base)
    control, control_spread = against(results, f"off_again_{lane}_{metric}", base)
    verdict = judged(value, paired(results, f"emulator_{lane}_{metric}", base), side)
    return (
        f"| {what}, {LANE_TITLES[lane]} | {fmt(value, 3)} ×{spread} | "
        f"{fmt(control, 3)} ×{control_spread} | {verdict} |"
    )


def resolution(results: Results, lane: str) -> list[str]:
    """Whether the emulator's server CPU differs from `off`'s by more than two servers alike
    do: inside the A/A control's range of rounds, the difference is not resolved."""
    value, _ = against(results, f"emulator_{lane}_cpu_us", f"off_{lane}_cpu_us")
    control = sorted(paired(results, f"off_again_{lane}_cpu_us", f"off_{lane}_cpu_us"))
    if value is None or len(control) < 2:  # a round too short for the CPU clock's ticks
        return [
            "",
            f"Resolution, {LANE_TITLES[lane]}: not measured; fewer than two rounds counted the "
            "`off` servers' CPU (/proc counts it in clock ticks): run longer rounds.",
        ]
    low, high = control[0], control[-1]
    where = "inside" if low <= value <= high else "above" if value > high else "below"
    return [
        "",
        f"Resolution, {LANE_TITLES[lane]}: two `off` servers alike differed in GET server CPU "
        f"by {statistics.median(control):.3f} × (round by round {low:.2f}–{high:.2f}); the "
        f"emulator's {value:.3f} × is {where} that range"
        + (", so the difference is within the method's noise." if where == "inside" else "."),
    ]


def report(plan: Plan, workdir: Path, command: str) -> str:
    results, seed_seconds = measure(plan, workdir)
    work = emulator_work.measure(
        plan.work_number or emulator_work.NUMBER, plan.work_repeats or emulator_work.REPEATS
    )
    for name, value in work.items():
        results.add(f"work_{name}_us", value)
    print(f"seeded {plan.orgs:,} orgs in {seed_seconds:.0f} s", file=sys.stderr)
    return render(results, plan, command, machine())


if __name__ == "__main__":
    main("emulator", __doc__ or "", (FULL, QUICK, SMOKE), SECTION, report)
