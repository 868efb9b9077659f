"""wrk, pinned to core 1, driven by the Lua scripts in bench/lua/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

LOAD_CORE = "1"
LUA = Path(__file__).resolve().parent / "lua"


@dataclass(frozen=True)
class Load:
    script: Path
    sample: Path
    connections: int
    seconds: int
    pace_rps: float | None = None

    def paced(self, rps: float) -> Load:
        """The same load held near `rps` requests per second instead of flat out."""
        return replace(self, pace_rps=rps)

    def warmup(self, seconds: int) -> Load:
        """An unmeasured run, so that caches and pages are warm as in steady service."""
        return replace(self, seconds=seconds)


@dataclass(frozen=True)
class Outcome:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def install_wrk() -> None:
    """wrk is a Debian package; install it if we can, else say how."""
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        return
    raise SystemExit("wrk is needed: sudo apt-get install wrk")


def run_wrk(url: str, load: Load) -> Outcome:
    env = {**os.environ, "HAMR_BENCH_LUA": str(LUA), "HAMR_BENCH_SAMPLE": str(load.sample)}
    if load.pace_rps:
        # wrk's delay() hook: each connection waits this long before its next request, which
        # holds the whole load near the target rate (closed-loop pacing, wrk2 not being packaged).
        env["HAMR_BENCH_DELAY_MS"] = f"{1000 * load.connections / load.pace_rps:.3f}"
    completed = subprocess.run(
        [
            "taskset",
            "-c",
            LOAD_CORE,
            "wrk",
            "-t1",
            f"-c{load.connections}",
            f"-d{load.seconds}s",
            "-s",
            str(load.script),
            f"{url}/api/v2/hamr",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    return Outcome(
        rps=figures["requests"] / seconds,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["non2xx"] + figures["socket_errors"],
    )
