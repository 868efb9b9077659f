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

NUMBER = r"[\d,]+(?:\.\d+)?"


def test_a_smoke_run_seeds_measures_and_reports(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--no-prism", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    written = report.read_text()
    assert written.startswith("<!-- measured: start -->\n")
    text = written.removeprefix("<!-- measured: start -->\n").partition("<!-- measured: end -->")[0]
    assert text.strip() in completed.stdout
    assert re.search(rf"\| ceiling: .* \| {NUMBER} \({NUMBER}–{NUMBER}\) \|", text)
    row = re.search(r"^\| 50 \| (.*) \|$", text, re.MULTILINE)
    assert row is not None, text
    cells = row.group(1).split(" | ")
    get_rps, post_rps, rss = cells[0], cells[4], cells[7]
    for cell in (get_rps, post_rps, rss):
        assert re.fullmatch(rf"{NUMBER} \({NUMBER}–{NUMBER}\)", cell), cell
    assert float(get_rps.split()[0].replace(",", "")) > 0
    assert "| GET ≥ 0.6 × ceiling | " in text
    assert "| RSS < 150 MB at 50 orgs | " in text


def test_the_wire_run_measures_each_mode_both_ways_and_places_its_section(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("<!-- measured: start -->\nx\n<!-- measured: end -->\n\n## Tuning log\n")
    completed = subprocess.run(
        [sys.executable, "bench/wire.py", "--quick", "--output", str(report)],
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
        [sys.executable, "bench/policy.py", "--quick", "--output", str(report)],
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
