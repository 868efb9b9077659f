"""Two revisions of hamr side by side, for the tuning log's before/after rows:

    python bench/compare.py 11415ef HEAD --load mix
    python bench/compare.py HEAD~1 HEAD --load post --orgs 100000 --rounds 5
    python bench/compare.py HEAD~1 HEAD --load all --orgs 1000000 --seeded /tmp/1m.db

Each revision's `src/` is exported (`git archive`) and served from there with this checkout's
installed dependencies, on its own copy of one seeded SQLite database (the revisions must
share a schema revision). Rounds alternate which revision goes first; in each, the server is
started, warmed up as `bench/run.py` does (every sampled org twice, once with the official
client's headers, then a timed warm-up) and measured. Reported: medians with ranges of the
rate, p99, server CPU per request (steadier than the rate on a shared machine) and RSS after
the load, and the after/before ratio of each round. `--load all` runs the four loads one
after the other in each round, as `bench/run.py` does, each load's figures named after it, and
RSS after the last (the figure the targets table reports). `--seeded` starts from a database
bench/seed.py seeded before (copied, never changed): seeding 1,000,000 orgs takes minutes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import seed
from loadgen import Load, client_headers, client_script, install_wrk, run_wrk
from run import FULL, ROOT, warm_up
from servers import Server, hamr_command

BENCH = Path(__file__).resolve().parent
LOADS = ("get", "client", "post", "mix")


def export(revision: str, into: Path) -> Path:
    """The revision's src/ tree, unpacked under `into`; returns the directory to import from."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"],
        capture_output=True,
        check=True,
    ).stdout
    target = into / revision.replace("/", "_")
    target.mkdir(parents=True)
    archive_path = target / "src.tar"
    archive_path.write_bytes(archive)
    with tarfile.open(archive_path) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def served_from(source: Path, database_url: str) -> list[str]:
    """`hamr serve` as the harness runs it, importing hamr from `source`."""
    return ["env", f"PYTHONPATH={source}", *hamr_command(database_url)]


def measure_once(command: list[str], loads: dict[str, Load], load: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    with Server(command) as server:
        warm_up(server.url, loads, FULL)
        for name in LOADS if load == "all" else (load,):
            prefix = f"{name}_" if load == "all" else ""
            cpu_before = server.cpu_seconds()
            out = run_wrk(server.url, loads[name])
            cpu = server.cpu_seconds() - cpu_before
            figures[f"{prefix}rps"] = out.rps
            figures[f"{prefix}p99_ms"] = out.p99_ms
            figures[f"{prefix}cpu_us"] = cpu / max(out.requests, 1) * 1e6
            for part, part_out in out.parts.items():
                figures[f"{prefix}{part}_rps"] = part_out.rps
                figures[f"{prefix}{part}_p99_ms"] = part_out.p99_ms
        figures["rss_mb"] = server.rss_mb()
    return figures


def median_range(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="a git revision: the baseline")
    parser.add_argument("after", help="a git revision: the change")
    parser.add_argument("--load", choices=(*LOADS, "all"), default="get")
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=20_000, help="orgs the load rotates over")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--seeded", type=Path, help="a SQLite file bench/seed.py seeded with --orgs orgs"
    )
    args = parser.parse_args()
    install_wrk()
    with tempfile.TemporaryDirectory(prefix="hamr-compare-") as scratch:
        work = Path(scratch)
        sources = {
            name: export(rev, work)
            for name, rev in (("before", args.before), ("after", args.after))
        }
        seeded = args.seeded or work / "seeded.db"
        if args.seeded is None:
            seed.seed(f"sqlite:///{seeded}", args.orgs)
        databases = {}
        for name in sources:
            shutil.copy(seeded, work / f"{name}.db")
            databases[name] = f"sqlite:///{work / f'{name}.db'}"
        sample = work / "sample.txt"
        seed.write_sample(sample, args.orgs, args.sample)
        client = client_script(work / "get_client.lua", client_headers())
        scripts = {
            "get": BENCH / "lua" / "get.lua",
            "client": client,
            "post": BENCH / "lua" / "post.lua",
            "mix": BENCH / "lua" / "mix.lua",
        }
        loads = {name: Load(script, sample, 32, args.seconds) for name, script in scripts.items()}
        results: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for round_number in range(args.rounds):
            order = ("before", "after") if round_number % 2 == 0 else ("after", "before")
            for name in order:
                command = served_from(sources[name], databases[name])
                results[name].append(measure_once(command, loads, args.load))
            print(f"round {round_number + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    print(report(args, results))


def report(args: argparse.Namespace, results: dict[str, list[dict[str, float]]]) -> str:
    names = list(results["before"][0])
    lines = [
        f"{args.load} at {args.orgs:,} orgs ({args.sample:,} sampled), {args.rounds} rounds of "
        f"{args.seconds} s, {args.before} → {args.after}",
        "",
        "| figure | before | after | after / before, round by round |",
        "| --- | --- | --- | --- |",
    ]
    for figure in names:
        before = [r[figure] for r in results["before"]]
        after = [r[figure] for r in results["after"]]
        ratios = ", ".join(f"{a / b:.2f}" for a, b in zip(after, before, strict=True) if b)
        lines.append(f"| {figure} | {median_range(before)} | {median_range(after)} | {ratios} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
