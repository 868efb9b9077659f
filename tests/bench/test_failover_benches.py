"""The failover benchmarks must not rot: each runs end to end at a tiny scale and prints its
table. This asserts that figures were produced, never how large they are."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import ROOT

NUMBER = r"[\d,]+(?:\.\d+)?"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_the_long_history_run_measures_a_fresh_pair_and_a_long_one() -> None:
    out = run("bench/long_history.py", "--rows", "3000", "--window", "300").stdout
    rows = re.findall(rf"^\| ({NUMBER}) rows \| ({NUMBER}) µs \| ({NUMBER}) \|$", out, re.M)
    assert len(rows) == 2, out
    (fresh, _, _), (long, _, _) = rows
    assert int(long.replace(",", "")) >= 3000 > int(fresh.replace(",", ""))
    assert re.search(rf"^after {NUMBER} rows: {NUMBER} × a fresh pair's", out, re.M), out


def test_the_datacenter_failover_run_fails_every_pair_over_each_way() -> None:
    completed = run("bench/datacenter_failover.py", "--pairs", "40", "--backends", "sqlite")
    out = completed.stdout
    # After the datacenter operation, its page counts every pair ACTIVE.
    page = rf"the datacenter's page: 200 in {NUMBER} ms: {{[^}}]*'ACTIVE': 40[,}}]"
    assert re.search(page, completed.stderr), completed.stderr
    for way in ("datacenter operation", "per-pair POST /api/v2/hamr ×2", "pair/failover"):
        row = rf"^\| SQLite \| [^|]*{re.escape(way)}[^|]* \| 40 \| {NUMBER} s \| {NUMBER} \|"
        assert re.search(row, out, re.M), (way, out)
