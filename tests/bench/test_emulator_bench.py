"""bench/emulator.py must not rot: a seconds-long run measures every server with both sets of
headers, judges the target against the A/A control, and places its section after the policy's.

As for the other bench runs, only that figures and verdicts are produced is checked, never how
large they are."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.bench.test_harness import NUMBER
from tests.conftest import ROOT


def test_the_emulator_run_measures_each_server_judges_and_places_its_section(
    tmp_path: Path,
) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text(
        "<!-- measured: start -->\nx\n<!-- measured: end -->\n\n<!-- wire: start -->\ny\n"
        "<!-- wire: end -->\n\n<!-- policy: start -->\nz\n<!-- policy: end -->\n\n"
        "Policy notes.\n\n## Tuning log\n"
    )
    completed = subprocess.run(
        # Two rounds, so that the A/A control has a range to set the emulator's figure against.
        [sys.executable, "bench/emulator.py", "--smoke", "--rounds", "2", "--output", str(report)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    figure = rf"{NUMBER} \({NUMBER}–{NUMBER}\)"
    for server in ("`off`", "`off` again (A/A control)", "`--emulator`, no rules"):
        ratio = "—" if server == "`off`" else NUMBER
        for headers in ("wrk (no gzip)", "official client (gzip)"):
            row = (  # rate and its ratio to off, CPU per request and its ratio, p50, p99
                rf"^\| {re.escape(server)} \| {re.escape(headers)} \| {figure} \| {ratio} \| "
                rf"{figure} \| {ratio} \| {figure} \| {figure} \|$"
            )
            assert re.search(row, completed.stdout, re.MULTILINE), (server, headers)
    assert "No errors (non-2xx or socket) in any measured run." in completed.stdout
    for target in (
        "`--emulator` costs GET < 5 % server CPU against `off`",
        "rate: `--emulator`'s GET/s at least 95 % of `off`'s",
    ):
        for headers in ("wrk (no gzip)", "official client (gzip)"):
            row = (
                rf"^\| {re.escape(f'{target}, {headers}')} \| {NUMBER} × .*\| {NUMBER} × .*\| "
                r"(met|\*\*missed\*\*)( \(not resolved\))? \|$"
            )
            assert re.search(row, completed.stdout, re.MULTILINE), (target, headers)
    for headers in ("wrk (no gzip)", "official client (gzip)"):
        assert re.search(
            rf"^Resolution, {re.escape(headers)}: (two `off` servers alike differed .* the "
            rf"emulator's {NUMBER} × is (inside|above|below) that range|not measured; fewer "
            r"than two rounds counted the `off` servers' CPU)",
            completed.stdout,
            re.MULTILINE,
        ), headers
    for headers in ("wrk (no gzip)", "official client (gzip)"):
        row = (
            rf"^\| the emulator's own work < 5 % of a GET, {re.escape(headers)} \| "
            rf"{NUMBER} µs \| {NUMBER} % \| (met|\*\*missed\*\*) \|$"
        )
        assert re.search(row, completed.stdout, re.MULTILINE), headers
    written = report.read_text()
    assert written.index("Policy notes.") < written.index("<!-- emulator: start -->")
    assert written.index("<!-- emulator: end -->") < written.index("## Tuning log")
    assert "## The emulator's cost to GET" in written.partition("<!-- emulator: start -->")[2]
