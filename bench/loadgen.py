"""wrk, pinned to core 1, driven by the Lua scripts in bench/lua/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

LOAD_CORE = "1"
LUA = Path(__file__).resolve().parent / "lua"
# A warm-up that ends after passes over the sample must still end if the server stalls.
WARMUP_LIMIT_SECONDS = 120


@dataclass(frozen=True)
class Load:
    script: Path
    sample: Path
    connections: int
    seconds: int
    pace_rps: float | None = None
    passes: int | None = None

    def paced(self, rps: float) -> Load:
        """The same load held near `rps` requests per second instead of flat out."""
        return replace(self, pace_rps=rps)

    def warmup(self, seconds: int) -> Load:
        """An unmeasured run, so that caches and pages are warm as in steady service. 0 s (a
        smoke plan's) is one pass over the sample instead: wrk's -d counts whole seconds, and
        a run that only proves the harness works still sends every lane's requests once."""
        if seconds == 0:
            return self.passes_over_sample(1, at_most_seconds=WARMUP_LIMIT_SECONDS)
        return replace(self, seconds=seconds)

    def passes_over_sample(self, passes: int, at_most_seconds: int) -> Load:
        """An unmeasured run that ends once every org in the sample has been requested
        `passes` times: a first request is not steady state (credentials and connections
        are read from storage), and how many orgs a timed warm-up reaches depends on the
        machine."""
        return replace(self, seconds=at_most_seconds, passes=passes)


@dataclass(frozen=True)
class Outcome:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    # By kind, for a script that times its kinds apart (bench/lua/mix.lua: "get", "post").
    parts: dict[str, Outcome] = field(default_factory=dict)


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
    command = [
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
    ]
    with tempfile.TemporaryDirectory() as scratch:
        done = Path(scratch) / "done"
        if load.passes:
            env |= {"HAMR_BENCH_PASSES": str(load.passes), "HAMR_BENCH_DONE": str(done)}
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as wrk:
            if load.passes:
                while wrk.poll() is None and not done.exists():
                    time.sleep(0.02)  # a smoke run's warm-ups are tenths of a second
                wrk.send_signal(signal.SIGINT)  # wrk stops and reports, as at its -d
            stdout, _ = wrk.communicate()
    if wrk.returncode != 0:
        raise subprocess.CalledProcessError(wrk.returncode, command, stdout)
    figures = json.loads(stdout.strip().splitlines()[-1])
    seconds = figures["duration_us"] / 1e6
    parts = {
        kind: Outcome(
            rps=part["requests"] / seconds,
            p50_ms=part["p50_us"] / 1000,
            p99_ms=part["p99_us"] / 1000,
            errors=part["errors"],
            requests=part["requests"],
        )
        for kind, part in figures.get("parts", {}).items()
    }
    if parts and sum(part.requests for part in parts.values()) < 0.99 * figures["requests"]:
        raise RuntimeError(f"{load.script.name}: answers not paired with requests (X-Request-Id)")
    return Outcome(
        rps=figures["requests"] / seconds,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["non2xx"] + figures["socket_errors"],
        requests=figures["requests"],
        parts=parts,
    )


def client_headers() -> dict[str, str]:
    """The headers datadog-api-client adds to its GET /api/v2/hamr, beyond the credentials
    (captured from 2.62.0: `Accept: application/json`, `Accept-Encoding: gzip` and its
    User-Agent), taken from the installed client when there is one."""
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "gzip",
        "User-Agent": "datadog-api-client-python",
    }
    try:
        from datadog_api_client import ApiClient, Configuration
    except ImportError:
        return headers
    with ApiClient(Configuration()) as client:
        # Accept is per operation: get_hamr_org_connection's list is ["application/json"].
        return {"Accept": client.select_header_accept(["application/json"])} | dict(
            client.default_headers
        )


def client_script(path: Path, headers: dict[str, str]) -> Path:
    """bench/lua/get.lua's requests with `headers` appended (wrk's -H is ignored by a script
    that formats its own requests)."""
    lines = ", ".join(json.dumps(f"{name}: {value}") for name, value in headers.items())
    path.write_text(
        "-- bench/lua/get.lua's requests with the official Python client's headers; written by\n"
        "-- bench/loadgen.py.\n"
        'dofile(os.getenv("HAMR_BENCH_LUA") .. "/get.lua")\n'
        "local plain = request\n"
        'local extra = ""\n'
        f"for _, line in ipairs({{ {lines} }}) do\n"
        '  extra = extra .. line .. "\\r\\n"\n'
        "end\n"
        "request = function()\n"
        "  -- wrk.format ends a request without a body with an empty line: add before it.\n"
        '  return plain():sub(1, -3) .. extra .. "\\r\\n"\n'
        "end\n"
    )
    return path
