"""What losing a site costs hamr in three sites (issue 27): deploy/multi-site/lab.py's lab at
10,000 pairs, under load through all three sites, through three drills on the leader's site,
and what synchronous replication costs GET and POST against one PostgreSQL, in the same run.

    python bench/site_loss.py           # 20 s phases; writes docs/benchmarks.md
    python bench/site_loss.py --quick   # 5 s phases, one short cost round; prints it

Root only (the lab runs PostgreSQL, etcd and Patroni as `postgres`, each site in a network
namespace of its own). It uses the lab under HAMR_LAB_ROOT if one is up, else brings one up
and takes it down at the end (`--keep-lab` keeps it). One lab runs on a machine at a time.

Each drill runs writers and readers pinned to each site (bench/drills.py, as
tests/multisite/ do, here back to back: a refusal is retried 0.2 s later) as orgs of the
seeded pairs: `before` seconds, then the drill on the leader's site (kill -9 of the whole
site; a partition cutting it off from the two others; SIGSTOP of its Patroni and PostgreSQL,
woken 2 s after the promotion), then until writes are back and `after` seconds more. Every
acknowledged write is then looked up in the history, `hamr history verify` runs on every
node, and the lab is made whole again (heal, `up`, a leader and a synchronous standby)
before the next drill.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import postgres
import seed
from drills import HAMR, Background, Findings, OrgKeys, Readers, Writers, findings, load_lab
from loadgen import WARMUP_LIMIT_SECONDS, Load, run_wrk
from servers import Server, free_port, hamr_command
from site_loss_report import CostRound, DrillReport, render

from hamr.settings import Settings

BENCH = Path(__file__).resolve().parent
DRILLS = ("kill", "partition", "freeze")
RETRY_PAUSE = 0.2
PROMOTION_WITHIN = 90.0
WRITES_BACK_WITHIN = 60.0
WAKE_AFTER_PROMOTION = 2.0
# The lab's hamr run with --max-staleness's default.
MAX_STALENESS_SECONDS = Settings().max_staleness_seconds


@dataclass(frozen=True)
class Plan:
    pairs: int
    before: float  # seconds of load before each drill
    after: float  # seconds of load once writes are back
    get_threads: int  # readers per site
    post_threads: int  # writers per site
    sample_size: int  # orgs the load goes through
    cost_rounds: int
    cost_seconds: int  # per wrk run
    connections: int  # wrk's


FULL = Plan(10_000, 20, 20, 2, 1, 10_000, 3, 10, 16)
QUICK = Plan(10_000, 5, 5, 2, 1, 2_000, 1, 3, 16)


# -- the lab and its orgs ----------------------------------------------------------------


def seed_pairs(lab: Any, pairs: int) -> range:
    """`pairs` pairs seeded through the leader after whatever orgs the lab had (its demo
    orgs), once: bench/seed.py skips the orgs already there. The seeded orgs' indexes."""
    with psycopg.connect(lab.conninfo, connect_timeout=10) as db:
        row = db.execute("SELECT count(*) FROM orgs WHERE name NOT LIKE 'bench org %'").fetchone()
    others = int(row[0]) if row else 0
    first = others + others % 2  # a pair is an even index and the next
    total = first + 2 * pairs
    started = time.monotonic()
    seed.seed(lab.database_url, total)
    print(f"{pairs:,} pairs seeded in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return range(first, total)


def org_keys(index: int) -> OrgKeys:
    partner = index ^ 1
    return OrgKeys(
        seed.org_uuid(index),
        seed.api_key(index),
        seed.app_key(index),
        seed.org_uuid(partner),
        seed.DATACENTERS[partner % 2],
        f"bench org {partner}",
    )


def write_sample(path: Path, indexes: list[int]) -> None:
    """The orgs in bench/seed.py's sample format, for wrk."""
    path.write_text(
        "".join(
            f"{k.uuid} {k.api_key} {k.app_key} {k.partner_uuid} {k.partner_datacenter}\n"
            for k in map(org_keys, indexes)
        )
    )


def wait_until_whole(lab: Any, probe: OrgKeys, timeout: float = 240) -> None:
    """A leader and both replicas streaming from it (one the synchronous standby), and every
    site's hamr answering a read of its storage within the staleness bound."""
    with contextlib.redirect_stdout(sys.stderr):
        lab.up(timeout)
    deadline = time.monotonic() + timeout
    headers = probe.headers() | {"Cache-Control": "no-cache"}
    while time.monotonic() < deadline:
        states = sorted(str(m.get("state")) for m in lab.cluster())
        if states != ["running", "streaming", "streaming"]:  # the two replicas rejoined
            time.sleep(1)
            continue
        try:
            staleness = []
            for site in lab.sites:
                answer = httpx.get(f"{site.url}{HAMR}", headers=headers, timeout=5)
                answer.raise_for_status()
                staleness.append(int(answer.headers.get("X-Hamr-Staleness-Ms", "0")))
            if max(staleness) <= 1000 * MAX_STALENESS_SECONDS:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError("the lab's sites did not all serve fresh reads again")


def outcome_unknown_total(site: Any) -> float | None:
    """hamr_writes_outcome_unknown_total from the site's /metrics (None: no answer)."""
    try:
        text = httpx.get(f"{site.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith("hamr_writes_outcome_unknown_total"):
            return float(line.split()[-1])
    return 0.0


class LeaderWatch(Background):
    """Whether each site's Patroni says it leads (GET /primary: 200), polled twice a second per
    site, each site by a thread of its own so that a frozen one delays no other's answer."""

    def __init__(self, lab: Any):
        self.lab = lab
        self.seen: list[tuple[float, str, bool]] = []  # when answered, site, leads
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(site,), daemon=True) for site in lab.sites
        ]

    def _watch(self, site: Any) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                try:
                    leads = client.get(f"{site.patroni_url}/primary").status_code == 200
                except httpx.TransportError:
                    leads = False  # no answer: it claims nothing
                self.seen.append((time.monotonic(), site.name, leads))
                self._stop.wait(0.5)

    def promoted(self, among: set[str], after: float, timeout: float) -> float | None:
        """When one of `among` was first seen leading after `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [
                t for t, site, leads in list(self.seen) if t > after and leads and site in among
            ]
            if found:
                return min(found)
            time.sleep(0.2)
        return None

    def most_at_once(self) -> int:
        """The most sites whose latest answers said they led at the same time."""
        leading: dict[str, bool] = {}
        most = 0
        for _, site, leads in sorted(self.seen):
            leading[site] = leads
            most = max(most, sum(leading.values()))
        return most


# -- the drills --------------------------------------------------------------------------


@contextlib.contextmanager
def applied(lab: Any, drill: str, site: Any) -> Iterator[list[int]]:
    """The drill on `site` from entry; `yield`s, and the block's end wakes a frozen node
    (a kill and a partition are undone by `restore`)."""
    frozen: list[int] = []
    if drill == "kill":
        lab.kill(site)
    elif drill == "partition":
        lab.partition(site)
    else:
        frozen = lab.node_pids(site)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
    try:
        yield frozen
    finally:
        for pid in frozen:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def run_drill(lab: Any, drill: str, plan: Plan, orgs: list[OrgKeys], tag: str) -> DrillReport:
    leader = lab.leader()
    assert leader is not None, "no site leads before the drill"
    others = {s.name for s in lab.sites} - {leader.name}
    unknown_before = {s.name: outcome_unknown_total(s) for s in lab.sites}
    every = {s.name for s in lab.sites}
    woken_at = None
    with (
        LeaderWatch(lab) as watch,
        Writers(
            lab,
            f"{tag}{drill}",
            plan.post_threads,
            0,
            per_site=True,
            orgs=orgs,
            retry_pause=RETRY_PAUSE,
        ) as writers,
        Readers(
            lab,
            every,
            0,
            threads=plan.get_threads,
            per_site=True,
            orgs=orgs,
            no_cache=False,
            retry_pause=RETRY_PAUSE,
        ) as readers,
    ):
        started = time.monotonic()
        time.sleep(plan.before)
        drilled_at = time.monotonic()
        load_average = os.getloadavg()[0]
        with applied(lab, drill, leader) as frozen:
            promoted_at = watch.promoted(others, drilled_at, PROMOTION_WITHIN)
            if frozen and promoted_at is not None:
                time.sleep(max(0.0, promoted_at + WAKE_AFTER_PROMOTION - time.monotonic()))
        if drill == "freeze":
            woken_at = time.monotonic()
        writers_sites = every if drill == "freeze" else others
        back_at = writers.wait_for_write(drilled_at, writers_sites, WRITES_BACK_WITHIN)
        time.sleep(max(0.0, (back_at or time.monotonic()) + plan.after - time.monotonic()))
        ended = time.monotonic()
        unknown_after = {s.name: outcome_unknown_total(s) for s in lab.sites}
    print(f"{drill} {leader.name}: {writers.summary()}", file=sys.stderr)
    restore(lab, orgs[0])
    found = findings(lab, writers, frozenset({leader.name}) if drill == "kill" else frozenset())
    return DrillReport(
        drill=drill,
        site=leader.name,
        sites=[s.name for s in lab.sites],
        started=started,
        drilled_at=drilled_at,
        promoted_at=promoted_at,
        back_at=back_at,
        woken_at=woken_at,
        ended=ended,
        found=found,
        reads=list(readers.reads),
        attempts=list(writers.attempts),
        split_brain=split_brain(drill, leader.name, promoted_at, found, writers),
        most_leaders=watch.most_at_once(),
        unknown_metric=sum(
            after - before
            for name, before in unknown_before.items()
            if before is not None and (after := unknown_after[name]) is not None
        ),
        load_average=load_average,
    )


def split_brain(
    drill: str, site: str, promoted_at: float | None, found: Findings, writers: Writers
) -> int:
    """Writes acknowledged after the promotion that only a deposed leader can have taken: by
    the cut-off site (partition), or missing from the promoted leader's history (any drill)."""
    if promoted_at is None:
        return 0
    lost = {a.modified_by for a in found.lost}
    return sum(
        1
        for a in writers.attempts
        if a.status == 200
        and a.ended > promoted_at
        and (a.modified_by in lost or (drill == "partition" and a.site == site))
    )


def restore(lab: Any, probe: OrgKeys) -> None:
    """The lab whole again: partitions healed, frozen nodes woken, lost processes started."""
    lab.heal()
    for site in lab.sites:
        for pid in lab.node_pids(site):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    wait_until_whole(lab, probe)


# -- synchronous replication's cost --------------------------------------------------------


def replication_cost(lab: Any, plan: Plan, total: int, sample: Path) -> list[CostRound]:
    """GET and POST (wrk, bench/lua/get.lua and post.lua) on one hamr process, pinned to
    core 0 as in bench/run.py, against one PostgreSQL seeded alike and against the lab's
    synchronous cluster (the multi-host URL), alternating which goes first each round."""
    bindir = postgres.binaries()
    if bindir is None:
        raise SystemExit("PostgreSQL's binaries are missing (apt-get install postgresql-15)")
    plain = postgres.PostgresServer(bindir, free_port())
    rounds = []
    try:
        plain.init()
        plain.create_database()
        seed.seed(plain.url, total)
        targets = {"one": plain.url, "cluster": lab.database_url}
        loads = {
            kind: Load(BENCH / "lua" / f"{kind}.lua", sample, plan.connections, plan.cost_seconds)
            for kind in ("get", "post")
        }
        for number in range(plan.cost_rounds):
            order = list(targets) if number % 2 == 0 else list(reversed(targets))
            for name in order:
                with Server(hamr_command(targets[name])) as server:
                    run_wrk(
                        server.url,
                        loads["get"].passes_over_sample(1, at_most_seconds=WARMUP_LIMIT_SECONDS),
                    )
                    for kind, load in loads.items():
                        out = run_wrk(server.url, load)
                        rounds.append(
                            CostRound(name, kind, out.rps, out.p50_ms, out.p99_ms, out.errors)
                        )
            print(f"replication cost: round {number + 1} done", file=sys.stderr, flush=True)
    finally:
        plain.destroy()
    return rounds


# -- the run -------------------------------------------------------------------------------


def measure(plan: Plan, workdir: Path, keep_lab: bool) -> tuple[list[DrillReport], list[CostRound]]:
    module = load_lab()
    lab = module.Lab(module.default_root(), module.default_cache(), module.namespaces_setting())
    if not lab.namespaces:
        raise SystemExit("the partition drill needs the sites' namespaces: run as root")
    was_up = any(lab.pid(s, p) for s in lab.sites for p in ("etcd", "patroni", "hamr"))
    try:
        with contextlib.redirect_stdout(sys.stderr):
            lab.up(240)
        indexes = seed_pairs(lab, plan.pairs)
        chosen = sorted(random.Random(7).sample(indexes, min(plan.sample_size, len(indexes))))
        orgs = [org_keys(i) for i in chosen]
        random.Random(8).shuffle(orgs)
        sample = workdir / "sample.txt"
        write_sample(sample, chosen)
        wait_until_whole(lab, orgs[0])
        cost = replication_cost(lab, plan, indexes.stop, sample)
        tag = f"siteloss{int(time.time())}"
        reports = []
        for drill in DRILLS:
            reports.append(run_drill(lab, drill, plan, orgs, tag))
            print(f"{drill}: done", file=sys.stderr, flush=True)
        return reports, cost
    finally:
        if not was_up and not keep_lab:
            with contextlib.redirect_stdout(sys.stderr):
                lab.down()


def main() -> None:
    import argparse
    import tempfile

    from loadgen import install_wrk
    from rounds import Section
    from run import DOCS, machine

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="5 s phases, one short cost round")
    parser.add_argument("--keep-lab", action="store_true", help="leave a lab this run started up")
    parser.add_argument(
        "--output", type=Path, help=f"write the section here (default: {DOCS} for a full run)"
    )
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    install_wrk()
    with tempfile.TemporaryDirectory(prefix="hamr-site-loss-") as workdir:
        reports, cost = measure(plan, Path(workdir), args.keep_lab)
    command = "python bench/site_loss.py" + (" --quick" if args.quick else "")
    text = render(reports, cost, plan.pairs, MAX_STALENESS_SECONDS, command, machine())
    print(text)
    output = args.output or (None if args.quick else DOCS)
    if output:
        Section("site-loss", after=("emulator", "policy", "wire", "measured")).write(output, text)
        print(f"written to {output}")


if __name__ == "__main__":
    main()
