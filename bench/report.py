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


def _targets(figure: Lookup, scales: tuple[int, ...]) -> list[str]:
    """Issue 16's targets that this run measures, then the earlier ones it still holds; each
    ratio to the ceiling beside the same ratio to the bare ASGI callable."""
    small, large = scales[0], scales[-1]
    ceiling, bare = figure(f"ceiling_get_rps@{large}"), figure(f"bare_get_rps@{large}")
    prism = figure(f"prism_get_rps@{small}")
    healthz = [figure(f"pg_healthz_p99_ms_{state}") for state in ("answers", "hangs", "down")]
    worst_healthz = max((f.median for f in healthz if f.median is not None), default=None)

    def at(name: str) -> Figure:
        return figure(f"{name}@{large}")

    def times(name: str, least: float) -> tuple[str, float | None, str, Callable[[float], bool]]:
        rps = at(name)
        return _fmt(_ratio(rps, bare), 2, " ×"), _ratio(rps, ceiling), " ×", lambda v: v >= least

    def below(name: str, most: float) -> tuple[str, float | None, str, Callable[[float], bool]]:
        return "—", at(name).median, " ms", lambda v: v < most

    targets = [
        ("GET (wrk's plain request) ≥ 0.85 × ceiling", *times("hamr_get_rps", 0.85)),
        ("GET as the official client sends it ≥ 0.8 × ceiling", *times("hamr_client_rps", 0.8)),
        ("90/10 GET/POST mix, GET part ≥ 0.7 × ceiling", *times("hamr_mix_get_rps", 0.7)),
        ("90/10 GET/POST mix, GET part p99 < 10 ms", *below("hamr_mix_get_p99_ms", 10)),
        ("POST (durable) ≥ 0.3 × ceiling GET", *times("hamr_post_rps", 0.3)),
        ("POST p99 at 80 % of its max < 20 ms", *below("hamr_post_paced_p99_ms", 20)),
        ("PostgreSQL GET ≥ 0.6 × ceiling", *times("pg_get_rps", 0.6)),
        (
            "PostgreSQL: `/healthz` p99 < 10 ms while it answers, hangs and is down (worst)",
            "—",
            worst_healthz,
            " ms",
            lambda v: v < 10,
        ),
        (f"RSS < 150 MB at {large:,} orgs", "—", at("hamr_rss_mb").high, " MB", lambda v: v < 150),
        ("GET ≥ 3 × Prism", "—", _ratio(at("hamr_get_rps"), prism), " ×", lambda v: v >= 3),
        ("GET p99 < 10 ms at 80 % of max", *below("hamr_get_paced_p99_ms", 10)),
        (
            f"GET at {large:,} orgs within 15 % of {small:,}",
            "—",
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
        "The first nine are issue 16's. Ratios are to the ceiling (bare Starlette) measured "
        "in the same rounds at that scale, with the same ratio to the bare ASGI callable beside "
        "them. `/healthz` is probed as a load balancer does (bench/outage.py: 200 probes/s on "
        "4 connections, 10 s each) while PostgreSQL answers, while every one of its processes "
        "is stopped with SIGSTOP and while it is stopped; its p99 in each state is "
        + healthz_states
        + ".",
        "",
        "| target | measured | ×bare ASGI | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for label, against_bare, value, unit, meets in targets:
        if label.startswith("PostgreSQL") and value is None:
            lines.append(f"| {label} | {NO_POSTGRES} | — | — |")
            continue
        verdict = _verdict(None if value is None else meets(value))
        lines.append(f"| {label} | {_fmt(value, 2, unit)} | {against_bare} | {verdict} |")
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
