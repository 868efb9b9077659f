"""bench/site_loss.py's figures and the "## Site loss" section of docs/benchmarks.md they make."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime

from drills import Attempt, Findings, Read

DRILL_TITLES = {
    "kill": "kill -9 of the leader's site",
    "partition": "partition of the leader's site",
    "freeze": "SIGSTOP of the leader's node, woken 2 s after the promotion",
}


@dataclass(frozen=True)
class CostRound:
    """One wrk run of `kind` (get, post) on a hamr over `target` (one, cluster)."""

    target: str
    kind: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class DrillReport:
    """One drill's record (monotonic times): its load's every answer and what it came to."""

    drill: str
    site: str  # the leader's site, which the drill hit
    sites: list[str]
    started: float
    drilled_at: float
    promoted_at: float | None
    back_at: float | None  # the first write acknowledged that started after the drill
    woken_at: float | None
    ended: float
    found: Findings
    reads: list[Read]
    attempts: list[Attempt]
    split_brain: int
    most_leaders: int
    unknown_metric: float
    load_average: float  # the machine's 1-minute load average as the drill began

    def phases(self) -> dict[str, tuple[float, float]]:
        """Before the drill, the gap (until writes are back), and after it."""
        back = self.back_at or self.ended
        return {
            "before": (self.started, self.drilled_at),
            "during": (self.drilled_at, back),
            "after": (back, self.ended),
        }

    def rate(self, kind: str, site: str, phase: str) -> float:
        """200s a second through `site` in `phase` (by when they were answered)."""
        start, end = self.phases()[phase]
        done = self.reads if kind == "get" else self.attempts
        count = sum(
            1 for a in done if a.site == site and a.status == 200 and start <= a.ended < end
        )
        return count / (end - start) if end > start else 0.0

    def write_gap(self) -> float:
        """The longest time without an acknowledged write, through any site."""
        acked = sorted(a.ended for a in self.attempts if a.status == 200)
        return max((b - a for a, b in itertools.pairwise(acked)), default=0.0)

    def staleness(self, reads: list[Read]) -> int | None:
        found = [int(r.staleness) for r in reads if r.status == 200 and r.staleness is not None]
        return max(found, default=None)

    def survivors_during(self) -> list[Read]:
        start, end = self.phases()["during"]
        return [r for r in self.reads if r.site != self.site and start <= r.ended < end]

    def drilled_after_promotion(self) -> list[Read]:
        if self.promoted_at is None:
            return []
        promoted = self.promoted_at
        return [r for r in self.reads if r.site == self.site and r.started > promoted]


def seconds(value: float | None, since: float) -> str:
    return "—" if value is None else f"{value - since:.1f} s"


def ms(value: int | None) -> str:
    return "—" if value is None else f"{value:,} ms"


def render(
    reports: list[DrillReport],
    cost: list[CostRound],
    pairs: int,
    bound_seconds: float,
    command: str,
    machine: str,
) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Site loss",
        "",
        f"`{command}`, {when}, on {machine}. deploy/multi-site/lab.py's three sites on this one",
        "machine (per site a network namespace with an etcd member, a Patroni-managed",
        "PostgreSQL 15 and one hamr; one synchronous standby, Patroni's ttl 20 s), "
        f"{pairs:,} pairs seeded.",
        "Through each site's hamr, as orgs of those pairs, readers and writers back to back (a",
        "refusal retried 0.2 s later; every write with its own `modified_by`); then the drill on",
        "the leader's site, load until writes are back and for as long again as before it. After",
        "each drill the lab is made whole (heal, `up`, a leader and a synchronous standby).",
        "",
        "| drill | writes acknowledged | lost | stored twice | split brain | most leaders at once "
        "| 500s | 503s without Retry-After | outcome unknown: 503s / metric | history verify |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in reports:
        f = r.found
        verify = "intact" if not f.broken else "**broken**: " + ", ".join(sorted(f.broken))
        lines.append(
            f"| {DRILL_TITLES[r.drill]} ({r.site}) | {len(f.acknowledged):,} | {len(f.lost)} "
            f"| {len(f.doubled)} | {r.split_brain} | {r.most_leaders} | {len(f.errors)} "
            f"| {len(f.without_retry_after)} | {len(f.outcome_unknown)} / {r.unknown_metric:g} "
            f"| {verify} ({f.verified} nodes) |"
        )
    lines += [
        "",
        "| drill | promoted after | writes back after | time without writes "
        "| survivors' GETs answered in the gap | largest staleness served "
        f"| drilled site after the promotion (bound {bound_seconds * 1000:,.0f} ms): largest "
        "staleness served, GETs not answered `200` |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in reports:
        gap_reads = r.survivors_during()
        answered = sum(1 for x in gap_reads if x.status == 200)
        share = f"{answered:,} of {len(gap_reads):,}" if gap_reads else "—"
        late = r.drilled_after_promotion()
        refused = sum(1 for x in late if x.status != 200)
        drilled = f"{ms(r.staleness(late))}, {refused:,} of {len(late):,}" if late else "—"
        lines.append(
            f"| {r.drill} | {seconds(r.promoted_at, r.drilled_at)} "
            f"| {seconds(r.back_at, r.drilled_at)} | {r.write_gap():.1f} s | {share} "
            f"| {ms(r.staleness(r.reads))} | {drilled} |"
        )
    lines += [
        "",
        "Answers a second (200s) per site, before the drill, in the gap (until writes are back)",
        "and after it (the machine's 1-minute load average as each drill began: "
        + ", ".join(f"{r.drill} {r.load_average:.1f}" for r in reports)
        + "):",
        "",
        "| drill | site | GET before | GET during | GET after | POST before | POST during "
        "| POST after |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in reports:
        for site in r.sites:
            name = f"{site} (drilled)" if site == r.site else site
            figures = [r.rate(kind, site, p) for kind in ("get", "post") for p in r.phases()]
            lines.append(
                f"| {r.drill} | {name} | " + " | ".join(f"{x:,.0f}" for x in figures) + " |"
            )
    lines += cost_table(cost)
    lines += [
        "",
        "What the columns say. **Lost**: acknowledged writes (`200`) not in the promoted",
        "leader's history; **stored twice**: in it more than once. **Split brain**: writes",
        "acknowledged after the promotion that only a deposed leader could have taken (by the",
        "cut-off site in the partition, or missing from the new leader's history); **most",
        "leaders at once**: the most sites whose Patroni said they led at one poll (twice a",
        "second). **Outcome unknown**: `503`s saying the write may or may not have been stored,",
        "as the writers counted them, and the rise of `hamr_writes_outcome_unknown_total` over",
        "the sites whose hamr answered before and after (a killed site's counter dies with it).",
        "**History verify**: `hamr history verify` on every running node after the lab is whole.",
        "**Promoted after**: from the drill until a surviving site's Patroni said it led;",
        "**writes back after**: until the first write started after the drill was acknowledged",
        "through a surviving site (any site for the freeze, whose site's hamr runs on);",
        "**time without writes**: the longest interval between two acknowledged writes, through",
        "any site. **Staleness**: the largest `X-Hamr-Staleness-Ms` on a `200` GET: how old the",
        "answering site's copy may have been. The bound (`--max-staleness`) is "
        f"{bound_seconds:g} s; past it a",
        "site's copy is served only while its Patroni sees the consensus store (nothing can be",
        "written then), so in the gap of a promotion the survivors' answers grow as old as the",
        "gap, and a site cut off from the store (the partition's minority, after the promotion)",
        "serves nothing older than the bound: its reads are `503` past it. Rates are what this",
        "2-core machine gives with all three sites and the load on it: they compare phases,",
        "not sites or deployments.",
    ]
    return "\n".join(lines) + "\n"


def cost_table(cost: list[CostRound]) -> list[str]:
    """Medians over the rounds of each target and kind, and the cluster's rate over one's."""

    def median(target: str, kind: str, field: str) -> float | None:
        values = [getattr(c, field) for c in cost if c.target == target and c.kind == kind]
        return statistics.median(values) if values else None

    rounds = len([c for c in cost if c.target == "one" and c.kind == "get"])
    lines = [
        "",
        "Synchronous replication's cost, same run: one hamr process (pinned to core 0, wrk on",
        "core 1, as in bench/run.py) with the same flags over one PostgreSQL 15 seeded alike, and",
        "over the lab's cluster (the multi-host URL: every commit waits for the synchronous",
        f"standby); wrk's GET and POST over the same orgs, median of {rounds} round(s):",
        "",
        "| load | one PostgreSQL: req/s, p50, p99 | synchronous cluster: req/s, p50, p99 "
        "| cluster / one (req/s) | errors (one / cluster) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for kind in ("get", "post"):
        one, cluster = median("one", kind, "rps"), median("cluster", kind, "rps")
        ratio = f"{cluster / one:.2f}" if one and cluster is not None else "—"
        cells = []
        for target in ("one", "cluster"):
            rps, p50, p99 = (median(target, kind, f) for f in ("rps", "p50_ms", "p99_ms"))
            cells.append(
                "—" if rps is None else f"{rps:,.0f}, {p50 or 0:.1f} ms, {p99 or 0:.1f} ms"
            )
        errors = " / ".join(
            str(sum(c.errors for c in cost if c.target == t and c.kind == kind))
            for t in ("one", "cluster")
        )
        lines.append(f"| {kind.upper()} | {cells[0]} | {cells[1]} | {ratio} | {errors} |")
    return lines
