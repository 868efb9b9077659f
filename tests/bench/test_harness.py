"""The benchmark harness must not rot: a seconds-long run seeds, measures and reports.

This asserts that figures were produced, never how large they are: speed is measured by
`python bench/run.py` and written to docs/benchmarks.md, not judged in tests.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.postgres import binaries

NUMBER = r"[\d,]+(?:\.\d+)?"


PHASES = ("sqlite@50", "postgresql", "history", "failover_sqlite", "failover_postgresql")


def smoke_run(report: Path, samples: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "bench/run.py", "--smoke", "--no-prism", "--output", str(report)]
    completed = subprocess.run(
        [*command, "--samples", str(samples)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_a_smoke_run_seeds_measures_and_reports(tmp_path: Path) -> None:
    report, samples = tmp_path / "benchmarks.md", tmp_path / "samples.jsonl"
    completed = smoke_run(report, samples)
    # A run again with the same samples measures nothing and writes the same report.
    again = smoke_run(tmp_path / "again.md", samples)
    for phase in PHASES if binaries() is not None else PHASES[::2]:
        assert f"{phase}: kept from {samples}" in again.stderr, phase
    assert "seeded in" not in again.stderr
    assert (tmp_path / "again.md").read_text() == report.read_text()
    written = report.read_text()
    assert written.startswith("<!-- measured: start -->\n")
    text = written.removeprefix("<!-- measured: start -->\n").partition("<!-- measured: end -->")[0]
    assert text.strip() in completed.stdout
    figure = rf"{NUMBER} \({NUMBER}–{NUMBER}\)"
    for reference in ("ceiling: ", "bare ASGI callable "):
        assert re.search(rf"^\| 50 \| {reference}.* \| {figure} \| {NUMBER} \|", text, re.MULTILINE)
    # Every load, on SQLite and (when its binaries are installed) PostgreSQL: a rate, its ratio
    # to both references, and its latencies; else the row says why it was not measured.
    postgres = binaries() is not None
    for storage, load in [
        ("SQLite", "GET (wrk)"),
        ("SQLite", "GET (official client: gzip)"),
        ("SQLite", "POST (durable)"),
        ("SQLite", "90/10 mix: its GET part"),
        ("SQLite", "90/10 mix: its POST part"),
        ("PostgreSQL", "GET (wrk)"),
        ("PostgreSQL", "POST (durable)"),
    ]:
        row = re.search(
            rf"^\| 50 \| {storage} \| {re.escape(load)} \| (.*) \|$", text, re.MULTILINE
        )
        assert row is not None, (storage, load)
        if storage == "PostgreSQL" and not postgres:
            assert row.group(1).startswith("not measured: no PostgreSQL | "), row.group(1)
            continue
        rps, ceiling, bare, latencies = row.group(1).split(" | ")
        assert re.fullmatch(figure, rps), (load, rps)
        assert float(rps.split()[0].replace(",", "")) > 0, (storage, load)
        assert re.fullmatch(NUMBER, ceiling), (load, ceiling)
        assert re.fullmatch(NUMBER, bare), (load, bare)
        assert re.fullmatch(rf"{figure} / {figure}", latencies), (load, latencies)
    assert re.search(rf"^\| 50 \| SQLite \| {figure} \|$", text, re.MULTILINE)
    for target, ratio in [
        ("POST (durable) ≥ 0.3 × ceiling GET", True),
        ("POST p99 at 80 % of its max < 20 ms", False),
        ("GET (wrk's plain request) ≥ 0.85 × ceiling", True),
        ("GET as the official client sends it ≥ 0.8 × ceiling", True),
        ("90/10 GET/POST mix, GET part ≥ 0.7 × ceiling", True),
        ("90/10 GET/POST mix, GET part p99 < 10 ms", False),
        ("RSS < 150 MB at 50 orgs", False),
        ("PostgreSQL: `/healthz` p99 < 10 ms while it answers, hangs and is down (worst)", False),
        ("PostgreSQL GET ≥ 0.6 × ceiling", True),
    ]:
        if target.startswith("PostgreSQL") and not postgres:
            verdict = r"not measured: no PostgreSQL \| — \| —"
        else:
            bare = rf"{NUMBER} ×" if ratio else "—"
            verdict = rf"{NUMBER} (×|ms|MB) \| {bare} \| (met|\*\*missed\*\*)"
        assert re.search(rf"^\| {re.escape(target)} \| {verdict} \|$", text, re.MULTILINE), target
    history = rf"^\| server CPU per POST after {NUMBER} history rows of its pair ≤ 1\.15 × a "
    assert re.search(
        history + rf"fresh pair's \| {NUMBER} × \| — \| (met|\*\*missed\*\*) \|$", text, re.M
    )
    # A datacenter's failover, each way on each backend: 40 pairs walked by the datacenter
    # operation, 20 by each per-pair way, each time made 500,000 pairs' at its rate.
    for backend, bound in [("SQLite", 5), ("PostgreSQL", 8)]:
        for way, pairs in [
            ("through the datacenter operation", 40),
            ("through per-pair POST /api/v2/hamr ×2, 32 clients", 20),
            ("through per-pair POST /api/v2/hamr/pair/failover, 32 clients", 20),
        ]:
            label = (
                f"500,000 pairs failed over (FAILOVER then ACTIVE), {backend}, one core, "
                f"{way} < {bound} min"
            )
            if backend == "PostgreSQL" and not postgres:
                verdict = r"not measured: no PostgreSQL \| — \| —"
            else:
                verdict = (
                    rf"{NUMBER} min \({pairs} pairs in {NUMBER} s, extrapolated\) \| — \| "
                    r"(met|\*\*missed\*\*)"
                )
            assert re.search(rf"^\| {re.escape(label)} \| {verdict} \|$", text, re.M), label


def test_the_wire_run_measures_each_mode_both_ways_and_places_its_section(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("<!-- measured: start -->\nx\n<!-- measured: end -->\n\n## Tuning log\n")
    completed = subprocess.run(
        [sys.executable, "bench/wire.py", "--smoke", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    for mode in ("ceiling", "contract", "both", "live"):
        for headers in ("wrk (no gzip)", "official client (gzip)"):
            row = rf"^\| {mode} \| {re.escape(headers)} \| {NUMBER} \({NUMBER}–{NUMBER}\) \|"
            assert re.search(row, completed.stdout, re.MULTILINE), (mode, headers)
    assert "| `both` within 10 % of `contract`, official client (gzip) | " in completed.stdout
    written = report.read_text()
    assert written.startswith("<!-- measured: start -->\nx\n<!-- measured: end -->\n\n")
    assert written.index("<!-- wire: end -->") < written.index("## Tuning log")
    assert "## GET by wire mode" in written.partition("<!-- wire: start -->")[2]


def test_the_policy_run_measures_each_lane_and_places_its_section(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text(
        "<!-- measured: start -->\nx\n<!-- measured: end -->\n\n<!-- wire: start -->\ny\n"
        "<!-- wire: end -->\n\nWire notes.\n\n## Tuning log\n"
    )
    completed = subprocess.run(
        [sys.executable, "bench/policy.py", "--smoke", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    for request, policy, warned in [
        ("POST", "off", "0 %"),
        ("POST", "warn", "0 %"),
        ("POST", "warn", "100 %"),
        ("POST", "enforce", "0 %"),
        ("GET", "off", "—"),
        ("GET", "warn", "—"),
        ("GET", "enforce", "—"),
    ]:
        figure = rf"{NUMBER} \({NUMBER}–{NUMBER}\)"
        ratio = "—" if policy == "off" else NUMBER
        row = (  # rate and its ratio to off, CPU per request and its ratio, p50, p99, warned
            rf"^\| {request} \| `{policy}` \| .* \| {figure} \| {ratio} \| {figure} \| "
            rf"{ratio} \| .* \| {warned} \|$"
        )
        assert re.search(row, completed.stdout, re.MULTILINE), (request, policy, warned)
    assert "No errors (non-2xx or socket) in any measured run" in completed.stdout
    for target in (
        "`warn` costs POST < 10 % server CPU against `off` (allowed moves)",
        "`warn` costs POST < 10 % server CPU against `off` (every move warned)",
        "`warn` costs GET nothing: server CPU at most 5 % above `off`'s",
        "rate: `warn`'s POST/s ≥ 90 % of `off`'s (allowed moves)",
        "rate: `warn`'s GET/s at least 95 % of `off`'s",
    ):
        assert re.search(
            rf"^\| {re.escape(target)} \| {NUMBER} × .*\| (met|\*\*missed\*\*)",
            completed.stdout,
            re.MULTILINE,
        ), target
    for what in ("allowed moves", "every move warned"):
        # A difference of two timings: an allowed move's, about nothing, may come out below 0.
        signed = f"-?{NUMBER}"
        row = rf"^\| `warn`'s own work < 10 % of a POST \({what}\) \| {signed} µs \| {signed} % \| "
        assert re.search(row + r"(met|\*\*missed\*\*) \|$", completed.stdout, re.MULTILINE), what
    assert "Resolution: the two `warn` servers, the same settings and the same GETs" in (
        completed.stdout
    )
    written = report.read_text()
    assert written.index("Wire notes.") < written.index("<!-- policy: start -->")
    assert written.index("<!-- policy: end -->") < written.index("## Tuning log")
    assert "## The lifecycle policy's cost" in written.partition("<!-- policy: start -->")[2]


def test_a_phase_cut_short_is_dropped_from_the_samples_and_measured_again(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import Results

    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        '{"phase": "sqlite@50", "name": "hamr_get_rps@50", "value": 1.0}\n'
        '{"phase": "sqlite@50", "name": "hamr_get_rps@50", "value": 3.0}\n'
        '{"finished": "sqlite@50"}\n'
        '{"phase": "postgresql", "name": "pg_get_rps@50", "value": 2.0}\n'
    )
    kept = Results.kept_in(samples)
    assert kept.samples == {"hamr_get_rps@50": [1.0, 3.0]}
    assert kept.figure("hamr_get_rps@50").median == 2.0
    assert (kept.begin("sqlite@50"), kept.begin("postgresql")) == (False, True)
    kept.add("pg_get_rps@50", 5.0)
    kept.finish()
    assert Results.kept_in(samples).samples == {
        "hamr_get_rps@50": [1.0, 3.0],
        "pg_get_rps@50": [5.0],
    }
