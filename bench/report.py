"""Turning the measured samples into docs/benchmarks.md: figures, ratios and the targets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Figure:
    name: str
    median: float | None
    low: float | None
    high: float | None

    def show(self, digits: int = 0) -> str:
        if self.median is None or self.low is None or self.high is None:
            return "—"
        return f"{self.median:,.{digits}f} ({self.low:,.{digits}f}–{self.high:,.{digits}f})"


Lookup = Callable[[str], Figure]


def _ratio(a: Figure, b: Figure) -> float | None:
    if a.median is None or not b.median:
        return None
    return a.median / b.median


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


# The hamr loads in the by-scale table: their name in the samples and their title.
LOADS = {
    "hamr_get": "GET (wrk)",
    "hamr_client": "GET (official client: gzip)",
    "hamr_post": "POST (durable)",
    "hamr_mix_get": "90/10 mix: its GET part",
    "hamr_mix_post": "90/10 mix: its POST part",
}
POSTGRES_LOADS = {"pg_get": "GET (wrk)", "pg_post": "POST (durable)"}
NO_POSTGRES = "not measured: no PostgreSQL"


def _latencies(figure: Lookup, name: str, scale: int) -> str:
    p50, p99 = figure(f"{name}_p50_ms@{scale}"), figure(f"{name}_p99_ms@{scale}")
    return f"{p50.show(2)} / {p99.show(2)}"


def _intro(command: str, machine: str, load_average: Figure) -> list[str]:
    return [
        "# Benchmarks",
        "",
        f"Reproduce with `{command}`"
        + ("" if command == "python bench/run.py" else " (full run: `python bench/run.py`)")
        + ". Measured "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine}.",
        "",
        "Each server is pinned to core 0 and wrk to core 1. Figures are medians of interleaved "
        "rounds, with the range (min–max) in brackets. Throughput is in requests per second, "
        "latency in milliseconds. GETs and POSTs rotate over a sample of the seeded orgs' keys, "
        "so authentication and reads are real; every POST is a durable write (SQLite WAL, "
        "synchronous=FULL; on PostgreSQL a committed transaction) plus its history row. "
        "The machine is shared: its 1-minute load average before hamr's measured runs was "
        f"{load_average.show(1)} ({os.cpu_count()} cores).",
        "",
    ]


def _references(figure: Lookup, scales: tuple[int, ...]) -> list[str]:
    rows = [
        ("ceiling: bare Starlette + uvicorn, static body", "ceiling"),
        ("bare ASGI callable + uvicorn, the same bytes (no framework)", "bare"),
        ("peer: Stoplight Prism mocking the contract", "prism"),
    ]
    lines = [
        "## References (same run, same cores)",
        "",
        "hamr is set against two references: the ceiling (bare Starlette) and a bare ASGI "
        "callable returning the same body and headers, which is the harder one: hamr's GET fast "
        "lane skips Starlette too, so only uvicorn and hamr's own work separate them. Both are "
        "measured in every round at every scale, between hamr's rounds, and each scale's "
        "ratios below are to that scale's references.",
        "",
        "| orgs (hamr's rounds) | server | GET req/s | ×ceiling | GET p99 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scale in scales:
        ceiling = figure(f"ceiling_get_rps@{scale}")
        for title, name in rows:
            rps = figure(f"{name}_get_rps@{scale}")
            if rps.median is None:
                continue
            lines.append(
                f"| {scale:,} | {title} | {rps.show()} | {_fmt(_ratio(rps, ceiling))} | "
                f"{figure(f'{name}_get_p99_ms@{scale}').show(2)} |"
            )
    return lines


def _by_scale(figure: Lookup, scales: tuple[int, ...], connections: int) -> list[str]:
    lines = [
        "",
        "## hamr by scale",
        "",
        "×ceiling and ×bare ASGI are each load's rate over the reference's GET rate. GET (wrk) "
        "sends only the credentials; GET (official client) adds what datadog-api-client sends "
        "(`Accept-Encoding: gzip`, its Accept and User-Agent), answered gzipped. The 90/10 mix "
        "sends every tenth request as a POST (wrk's GET otherwise) over the same orgs, on the "
        "same connections; each part is timed apart (bench/lua/mix.lua pairs answers with "
        "requests by the X-Request-Id hamr echoes). PostgreSQL: one hamr process on a "
        "PostgreSQL the harness starts (initdb, pinned to the server's core 0 with hamr).",
        "",
        "| orgs | storage | load | req/s | ×ceiling | ×bare ASGI | p50 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def row(scale: int, storage: str, name: str, title: str) -> str:
        ceiling, bare = figure(f"ceiling_get_rps@{scale}"), figure(f"bare_get_rps@{scale}")
        rps = figure(f"{name}_rps@{scale}")
        if storage == "PostgreSQL" and rps.median is None:
            return f"| {scale:,} | {storage} | {title} | {NO_POSTGRES} | — | — | — |"
        cells = [
            f"{scale:,}",
            storage,
            title,
            rps.show(),
            _fmt(_ratio(rps, ceiling)),
            _fmt(_ratio(rps, bare)),
            _latencies(figure, name, scale),
        ]
        return "| " + " | ".join(cells) + " |"

    for scale in scales:
        lines += [row(scale, "SQLite", name, title) for name, title in LOADS.items()]
    large = scales[-1]
    lines += [row(large, "PostgreSQL", name, title) for name, title in POSTGRES_LOADS.items()]
    post_rate, post_p50 = (
        figure(f"hamr_mix_post_{kind}@{large}").median for kind in ("rps", "p50_ms")
    )
    if post_rate and post_p50:
        # Little's law: the connections a kind holds are its rate times its time in flight.
        held = post_rate * post_p50 / 1000
        lines += [
            "",
            f"In the mix at {large:,} orgs the POSTs held {held:.1f} of the {connections} "
            "connections on average (their rate times their median latency), each waiting on a "
            "group commit: wrk's loop is closed, so a connection sends its next GET only once "
            "its POST is answered, and the GET part's rate is bounded by POST latency as well "
            "as by the server's CPU.",
        ]
    lines += ["", "| orgs | storage | RSS MB |", "| --- | --- | --- |"]
    for scale in scales:
        lines.append(f"| {scale:,} | SQLite | {figure(f'hamr_rss_mb@{scale}').show(1)} |")
    pg_rss = figure(f"pg_rss_mb@{large}")
    lines.append(f"| {large:,} | PostgreSQL | {pg_rss.show(1) if pg_rss.median else NO_POSTGRES} |")
    return lines


def _paced(figure: Lookup, scales: tuple[int, ...]) -> list[str]:
    lines = [
        "",
        "## At 80 % of the maximum rate (paced)",
        "",
        "wrk2 is not packaged here, so pacing uses wrk's `delay()` hook: each connection waits "
        "before its next request (closed loop). The achieved rate is shown beside the target.",
        "",
        "| orgs | GET target / achieved req/s | GET p99 ms "
        "| POST target / achieved req/s | POST p99 ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for scale in scales:
        paced = [f"{scale:,}"]
        for kind in ("get", "post"):
            top = figure(f"hamr_{kind}_rps@{scale}").median
            target = _fmt(0.8 * top if top else None, 0)
            paced.append(f"{target} / {figure(f'hamr_{kind}_paced_rps@{scale}').show()}")
            paced.append(figure(f"hamr_{kind}_paced_p99_ms@{scale}").show(2))
        lines.append("| " + " | ".join(paced) + " |")
    return lines


@dataclass(frozen=True)
class Target:
    label: str
    measured: str
    against_bare: str
    verdict: str


def _target(
    label: str, value: float | None, unit: str, meets: Callable[[float], bool], bare: str = "—"
) -> Target:
    verdict = _verdict(None if value is None else meets(value))
    return Target(label, _fmt(value, 2, unit), bare, verdict)


FAILOVER_PAIRS = 500_000
# Issue 28's bound on a datacenter's failover, by backend, and the ways it is measured.
FAILOVER_MINUTES = {"SQLite": 5, "PostgreSQL": 8}
FAILOVER_WAYS = {
    "operation": "through the datacenter operation",
    "posts": "through per-pair POST /api/v2/hamr ×2, 32 clients",
    "pair_operation": "through per-pair POST /api/v2/hamr/pair/failover, 32 clients",
}


def _failover(figure: Lookup, backend: str, way: str) -> Target:
    """Minutes for 500,000 pairs at the rate measured: measured outright when the run walked
    as many, extrapolated (and said so) when it walked fewer."""
    minutes = FAILOVER_MINUTES[backend]
    label = (
        f"{FAILOVER_PAIRS:,} pairs failed over (FAILOVER then ACTIVE), {backend}, one core, "
        f"{FAILOVER_WAYS[way]} < {minutes} min"
    )
    seconds = figure(f"failover_seconds_{backend}_{way}").median
    pairs = figure(f"failover_pairs_{backend}_{way}").median
    if not seconds or not pairs:
        return Target(label, NO_POSTGRES if backend == "PostgreSQL" else "—", "—", "—")
    projected = seconds / pairs * FAILOVER_PAIRS / 60
    how = ""
    if pairs < FAILOVER_PAIRS:
        how = f" ({pairs:,.0f} pairs in {seconds:,.1f} s, extrapolated)"
    return Target(label, f"{projected:,.1f} min{how}", "—", _verdict(projected < minutes))


def _targets(figure: Lookup, scales: tuple[int, ...]) -> list[str]:
    """Issue 28's targets, then issue 16's that it does not restate; each ratio to the ceiling
    beside the same ratio to the bare ASGI callable."""
    small, large = scales[0], scales[-1]
    ceiling, bare = figure(f"ceiling_get_rps@{large}"), figure(f"bare_get_rps@{large}")
    prism = figure(f"prism_get_rps@{small}")
    healthz = [figure(f"pg_healthz_p99_ms_{state}") for state in ("answers", "hangs", "down")]
    worst_healthz = max((f.median for f in healthz if f.median is not None), default=None)
    history_rows = figure("history_rows").median

    def at(name: str) -> Figure:
        return figure(f"{name}@{large}")

    def times(label: str, name: str, least: float) -> Target:
        rps = at(name)
        against_bare = _fmt(_ratio(rps, bare), 2, " ×")
        return _target(label, _ratio(rps, ceiling), " ×", lambda v: v >= least, against_bare)

    def below(label: str, name: str, most: float) -> Target:
        return _target(label, at(name).median, " ms", lambda v: v < most)

    targets = [
        _target(
            f"server CPU per POST after {history_rows or 0:,.0f} history rows of its pair "
            "≤ 1.15 × a fresh pair's",
            figure("history_cpu_ratio").median,
            " ×",
            lambda v: v <= 1.15,
        ),
        times("POST (durable) ≥ 0.3 × ceiling GET", "hamr_post_rps", 0.3),
        below("POST p99 at 80 % of its max < 20 ms", "hamr_post_paced_p99_ms", 20),
        *(_failover(figure, backend, way) for backend in FAILOVER_MINUTES for way in FAILOVER_WAYS),
        times("GET (wrk's plain request) ≥ 0.85 × ceiling", "hamr_get_rps", 0.85),
        times("GET as the official client sends it ≥ 0.8 × ceiling", "hamr_client_rps", 0.8),
        times("90/10 GET/POST mix, GET part ≥ 0.7 × ceiling", "hamr_mix_get_rps", 0.7),
        below("90/10 GET/POST mix, GET part p99 < 10 ms", "hamr_mix_get_p99_ms", 10),
        _target(
            f"RSS < 150 MB at {large:,} orgs", at("hamr_rss_mb").high, " MB", lambda v: v < 150
        ),
        _target(
            "PostgreSQL: `/healthz` p99 < 10 ms while it answers, hangs and is down (worst)",
            worst_healthz,
            " ms",
            lambda v: v < 10,
        ),
        times("PostgreSQL GET ≥ 0.6 × ceiling", "pg_get_rps", 0.6),
        _target("GET ≥ 3 × Prism", _ratio(at("hamr_get_rps"), prism), " ×", lambda v: v >= 3),
        below("GET p99 < 10 ms at 80 % of max", "hamr_get_paced_p99_ms", 10),
        _target(
            f"GET at {large:,} orgs within 15 % of {small:,}",
            _ratio(at("hamr_get_rps"), figure(f"hamr_get_rps@{small}")),
            " ×",
            lambda v: v >= 0.85,
        ),
    ]
    healthz_states = ", ".join(
        f"{state} {f.show(2) if f.median is not None else NO_POSTGRES} ms"
        for state, f in zip(("answers", "hangs", "down"), healthz, strict=True)
    )
    lines = ["", f"## Targets (at {large:,} orgs unless stated)", ""]
    lines += [
        "Issue 28's targets first (its failover target one row per backend and way), then "
        "issue 16's it does not restate (the last four). Ratios are to the ceiling (bare "
        "Starlette) measured in the same rounds at that scale, with the same ratio to the bare "
        "ASGI callable beside them. A POST's CPU with a long history is bench/long_history.py's "
        "(one pair on SQLite, its CPU per POST over a window of POSTs once warm and again after "
        "the rows); the failovers are bench/datacenter_failover.py's (every seeded pair's "
        "primary in us1, failed over from the surviving side, each way on its own copy of the "
        "seeded database; the per-pair ways walk a part of the pairs, and their time for "
        "500,000 is their rate's). `/healthz` is probed as a load balancer does "
        "(bench/outage.py: 200 probes/s on 4 connections, 10 s each) while PostgreSQL answers, "
        "while every one of its processes is stopped with SIGSTOP and while it is stopped; its "
        "p99 in each state is " + healthz_states + ".",
        "",
        "| target | measured | ×bare ASGI | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for target in targets:
        measured, verdict = target.measured, target.verdict
        if target.label.startswith("PostgreSQL") and measured == "—":
            measured = NO_POSTGRES
        lines.append(f"| {target.label} | {measured} | {target.against_bare} | {verdict} |")
    return lines


def render(
    figure: Lookup, scales: tuple[int, ...], connections: int, machine: str, command: str
) -> str:
    lines = [
        *_intro(command, machine, figure("load_average")),
        *_references(figure, scales),
        *_by_scale(figure, scales, connections),
        *_paced(figure, scales),
        *_targets(figure, scales),
        "",
    ]
    return "\n".join(lines)
