"""hamr's app on granian beside `hamr serve` (uvicorn), for the question whether hamr should
switch HTTP servers:

    pip install '.[bench]'      # granian
    python bench/granian_vs_uvicorn.py   # 20 000 orgs, 4 rounds of 10 s per load; prints a table

One SQLite database is seeded; in each round, each server (which goes first alternates) is
started pinned to core 0 (granian: one worker, its runtime on that core too), warmed up as
bench/run.py does and measured with wrk on core 1: GET as wrk sends it, GET as the official
client sends it (gzip) and durable POST. Both run the same app with the same settings (as
deployed: metrics, JSON request lines to a file, rate limits counted); the medians and ranges
of rate and p99 are printed with granian/uvicorn round by round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed
from loadgen import Load, client_headers, client_script, install_wrk, run_wrk
from run import FULL, warm_up
from servers import UNREACHABLE_LIMITS, Server, hamr_command

BENCH = Path(__file__).resolve().parent
LOADS = ("get", "client", "post")


def granian_command() -> list[str]:
    """granian serving bench/granian_app.py's factory, configured by the HAMR_* variables."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--workers",
        "1",
        "--runtime-threads",
        "1",
        "--loop",
        "uvloop",
        "--no-ws",
        "--log-level",
        "warning",
        "--working-dir",
        str(BENCH),
        "--host",
        "127.0.0.1",
        "granian_app:app",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orgs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("granian") is None:
        sys.exit("granian is not installed: pip install '.[bench]'")
    install_wrk()
    with tempfile.TemporaryDirectory(prefix="hamr-granian-") as scratch:
        work = Path(scratch)
        database_url = f"sqlite:///{work / 'bench.db'}"
        seed.seed(database_url, args.orgs)
        sample = work / "sample.txt"
        seed.write_sample(sample, args.orgs, args.orgs)
        client = client_script(work / "get_client.lua", client_headers())
        scripts = {"get": BENCH / "lua" / "get.lua", "client": client}
        scripts["post"] = BENCH / "lua" / "post.lua"
        loads = {name: Load(script, sample, 32, args.seconds) for name, script in scripts.items()}
        # Both servers read the same settings: granian's from these, uvicorn's from flags.
        os.environ["HAMR_DATABASE_URL"] = database_url
        os.environ["HAMR_RATE_LIMITS"] = ",".join(UNREACHABLE_LIMITS)
        commands = {"uvicorn": hamr_command(database_url), "granian": granian_command()}
        results: Rounds = {name: {load: [] for load in LOADS} for name in commands}
        for round_number in range(args.rounds):
            order = list(commands) if round_number % 2 == 0 else list(reversed(commands))
            for name in order:
                with Server(commands[name]) as server:
                    warm_up(server.url, loads, FULL)
                    for load in LOADS:
                        out = run_wrk(server.url, loads[load])
                        results[name][load].append((out.rps, out.p99_ms))
            print(f"round {round_number + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    print(report(args, results))


Rounds = dict[str, dict[str, list[tuple[float, float]]]]


def report(args: argparse.Namespace, results: Rounds) -> str:
    def figure(values: list[float]) -> str:
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"

    lines = [
        f"{args.orgs:,} orgs, {args.rounds} rounds of {args.seconds} s per load",
        "",
        "| load | uvicorn req/s | granian req/s | granian / uvicorn, round by round "
        "| uvicorn p99 ms | granian p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for load in LOADS:
        uvicorn, granian = results["uvicorn"][load], results["granian"][load]
        ratios = ", ".join(f"{g[0] / u[0]:.2f}" for u, g in zip(uvicorn, granian, strict=True))
        lines.append(
            f"| {load} | {figure([r for r, _ in uvicorn])} | {figure([r for r, _ in granian])} "
            f"| {ratios} | {figure([p for _, p in uvicorn])} | {figure([p for _, p in granian])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
