"""Turning the measured samples into docs/benchmarks.md: figures, ratios and the targets."""

from __future__ import annotations

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


def _latencies(figure: Lookup, kind: str, scale: int) -> str:
    p50, p99 = figure(f"hamr_{kind}_p50_ms@{scale}"), figure(f"hamr_{kind}_p99_ms@{scale}")
    return f"{p50.show(2)} / {p99.show(2)}"


def render(figure: Lookup, scales: tuple[int, ...], machine: str, command: str) -> str:
    ceiling, prism = figure("ceiling_get_rps"), figure("prism_get_rps")
    small, large = scales[0], scales[-1]
    lines = [
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
        "synchronous=FULL) plus its history row.",
        "",
        "## References (same run, same cores)",
        "",
        "| server | GET req/s | GET p99 ms |",
        "| --- | --- | --- |",
        f"| ceiling: bare Starlette + uvicorn, static body | {ceiling.show()} | "
        f"{figure('ceiling_get_p99_ms').show(2)} |",
        f"| peer: Stoplight Prism mocking the contract | {prism.show()} | "
        f"{figure('prism_get_p99_ms').show(2)} |",
        "",
        "## hamr by scale",
        "",
        "| orgs | GET req/s | ×ceiling | ×Prism | GET p50 / p99 ms | POST req/s "
        "| POST ×ceiling GET | POST p50 / p99 ms | RSS MB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for scale in scales:
        get, post = figure(f"hamr_get_rps@{scale}"), figure(f"hamr_post_rps@{scale}")
        cells = [
            f"{scale:,}",
            get.show(),
            _fmt(_ratio(get, ceiling)),
            _fmt(_ratio(get, prism)),
            _latencies(figure, "get", scale),
            post.show(),
            _fmt(_ratio(post, ceiling)),
            _latencies(figure, "post", scale),
            figure(f"hamr_rss_mb@{scale}").show(1),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
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

    get_small, get_large = figure(f"hamr_get_rps@{small}"), figure(f"hamr_get_rps@{large}")
    post_large = figure(f"hamr_post_rps@{large}")
    get_vs_ceiling = _ratio(get_large, ceiling)
    get_vs_prism = _ratio(get_large, prism)
    post_vs_ceiling = _ratio(post_large, ceiling)
    paced_get = figure(f"hamr_get_paced_p99_ms@{large}").median
    paced_post = figure(f"hamr_post_paced_p99_ms@{large}").median
    flat = _ratio(get_large, get_small)
    rss = figure(f"hamr_rss_mb@{large}").high
    targets = [
        ("GET ≥ 0.6 × ceiling", get_vs_ceiling, " ×", lambda v: v >= 0.6),
        ("GET ≥ 3 × Prism", get_vs_prism, " ×", lambda v: v >= 3),
        ("POST (durable) ≥ 0.3 × ceiling GET", post_vs_ceiling, " ×", lambda v: v >= 0.3),
        ("GET p99 < 10 ms at 80 % of max", paced_get, " ms", lambda v: v < 10),
        ("POST p99 < 10 ms at 80 % of max", paced_post, " ms", lambda v: v < 10),
        (f"GET at {large:,} orgs within 15 % of {small:,}", flat, " ×", lambda v: v >= 0.85),
        (f"RSS < 150 MB at {large:,} orgs", rss, " MB", lambda v: v < 150),
    ]
    lines += ["", f"## Targets (at {large:,} orgs unless stated)", ""]
    lines += ["| target | measured | verdict |", "| --- | --- | --- |"]
    for label, value, unit, meets in targets:
        verdict = _verdict(None if value is None else meets(value))
        lines.append(f"| {label} | {_fmt(value, 2, unit)} | {verdict} |")
    lines.append("")
    return "\n".join(lines)
