"""A py-spy profile of hamr under one of the harness's loads, for the tuning log's "what the
profile shows" column:

    python bench/profile.py --load get            # GET as wrk sends it
    python bench/profile.py --load post --orgs 20000 --seconds 15

A database is seeded, hamr served from this checkout's `src/` as the harness serves it
(pinned to core 0, wrk on core 1) and warmed up as `bench/run.py` does; then py-spy samples
the server while wrk runs the load. Printed: the functions with the most samples of their own
("self") and in their stack ("total"), as shares of the event loop thread's samples (worker
threads, such as the group-commit writer's, are shown apart).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed
from loadgen import Load, client_headers, client_script, install_wrk, run_wrk
from run import FULL, ROOT, warm_up
from servers import Server, hamr_command

BENCH = Path(__file__).resolve().parent
LOADS = ("get", "client", "post", "mix")


def frame_name(frame: str) -> str:
    """`function (path/to/module.py:line)` as `module.py:function`."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{Path(path).name}:{name}"


def summarise(raw: Path, top: int) -> str:
    """py-spy's raw (collapsed) stacks as self and total shares, per thread kind."""
    by_thread: dict[str, tuple[collections.Counter[str], collections.Counter[str], list[int]]] = {}
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        thread = "event loop" if "MainThread" in frames[0] else "other threads"
        own, total, samples = by_thread.setdefault(
            thread, (collections.Counter(), collections.Counter(), [0])
        )
        samples[0] += count
        names = [frame_name(f) for f in frames[1:]] or ["(idle)"]
        own[names[-1]] += count
        for name in set(names):
            total[name] += count
    lines = []
    for thread, (own, total, samples) in by_thread.items():
        lines.append(f"{thread}: {samples[0]} samples")
        lines.append("  self:")
        for name, count in own.most_common(top):
            lines.append(f"    {100 * count / samples[0]:5.1f} %  {name}")
        lines.append("  total:")
        for name, count in total.most_common(top):
            lines.append(f"    {100 * count / samples[0]:5.1f} %  {name}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", choices=LOADS, default="get")
    parser.add_argument("--orgs", type=int, default=20_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw stacks here")
    args = parser.parse_args()
    install_wrk()
    with tempfile.TemporaryDirectory(prefix="hamr-profile-") as scratch:
        work = Path(scratch)
        database_url = f"sqlite:///{work / 'bench.db'}"
        seed.seed(database_url, args.orgs)
        sample = work / "sample.txt"
        seed.write_sample(sample, args.orgs, min(args.sample, args.orgs))
        scripts = {
            "get": BENCH / "lua" / "get.lua",
            "client": client_script(work / "get_client.lua", client_headers()),
            "post": BENCH / "lua" / "post.lua",
            "mix": BENCH / "lua" / "mix.lua",
        }
        loads = {name: Load(script, sample, 32, args.seconds) for name, script in scripts.items()}
        command = ["env", f"PYTHONPATH={ROOT / 'src'}", *hamr_command(database_url)]
        raw = args.raw or work / "profile.txt"
        with Server(command) as server:
            warm_up(server.url, loads, FULL)
            assert server.process is not None
            spy = subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(server.process.pid),
                    "--format",
                    "raw",
                    "--threads",
                    "--rate",
                    "250",
                    "--duration",
                    str(args.seconds),
                    "--nonblocking",
                    "--output",
                    str(raw),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            outcome: list[object] = []
            load = threading.Thread(
                target=lambda: outcome.append(run_wrk(server.url, loads[args.load]))
            )
            load.start()
            spy.wait()
            load.join()
        print(f"{args.load} at {args.orgs:,} orgs: {outcome[0]}")
        print(summarise(raw, args.top))


if __name__ == "__main__":
    main()
