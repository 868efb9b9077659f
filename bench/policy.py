"""What the lifecycle policy costs: hamr `--transitions off`, `warn` and `enforce`, POST and GET.

    python bench/policy.py          # 100 000 orgs, 6 rounds of 10 s; writes docs/benchmarks.md
    python bench/policy.py --quick  # 2 000 orgs, one short round; prints the table (< 1 minute)
    python bench/policy.py --smoke  # as --quick, one-pass warm-ups, few timings: the tests'

Every POST's status move is judged against the HAMR lifecycle inside the write. One database
is seeded once and copied, one copy per server (a durable POST is an fsync, and a shared
database would carry one server's write-ahead log and history into another's runs):

- `off`, `warn` and `enforce`, each sent status 2 (PASSIVE, as seeded) every time: every move
  is a metadata update, which the lifecycle allows;
- a second `warn`, sent 2 and 4 (PASSIVE, ACTIVE) in turn for each pair: every move breaks the
  lifecycle and is stored with an X-Hamr-Warning and a marked history row.

bench/lua/post.lua (bench/run.py's POST) is not used: it cycles statuses 0-5 over the sampled
orgs, a mix of allowed and disallowed moves that `enforce` would partly refuse. The scripts
here leave out `target_org_name` (post.lua sends one hamr does not store, which warns too), so
the only warning is the lifecycle's. All servers are pinned to core 0 and wrk to core 1, and
warmed up as bench/wire.py does; each round measures POST on each server in turn (never two
at once), then GET on each, in an order that reverses every round. Figures are
medians over the rounds, with the range beside them; ratios are taken round by round.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import policy_work
import seed
from loadgen import WARMUP_LIMIT_SECONDS, Load, run_wrk
from rounds import Plan, Section, against, checked, fmt, judged, main, paired
from run import Results, machine
from servers import Server, hamr_command

from hamr.store.tables import connection_members, connections

BENCH = Path(__file__).resolve().parent
# The POST lanes: (name, --transitions, what is sent), in the order of odd rounds.
POST_LANES = (
    ("off", "off", "same"),
    ("warn", "warn", "same"),
    ("warn_mix", "warn", "mix"),
    ("enforce", "enforce", "same"),
)
MIXED = {lane for lane, _, sent in POST_LANES if sent == "mix"}
# GET on every server (the POST lanes' servers of these names): the two `warn` servers have the
# same settings, so what their GETs differ by is the method's resolution, not the policy.
GET_LANES = ("off", "warn", "warn_mix", "enforce")
TITLES = {
    "off": "`off`",
    "warn": "`warn`",
    "warn_mix": "`warn`",
    "enforce": "`enforce`",
}
SENT = {
    "same": "2 every time: metadata updates (allowed)",
    "mix": "2 ↔ 4 in turn per pair: every move disallowed (warned)",
}
POST_TARGET = 0.9  # warn's POST rate at least 90 % of off's
POST_COST = 0.1  # warn's server CPU per POST at most 10 % above off's
GET_TOLERANCE = 0.05  # "nothing measurable": at most 5 % above off's
SECTION = Section("policy", after=("wire", "measured"))

FULL = Plan(
    orgs=100_000, sample_size=20_000, rounds=6, seconds=10, warmup_seconds=5, connections=32
)
QUICK = Plan(orgs=2_000, sample_size=500, rounds=1, seconds=1, warmup_seconds=1, connections=32)
# The test suite's: it proves every lane runs and renders, and measures nothing. QUICK's orgs:
# with fewer, two POSTs to one pair in flight at once get likelier, and with them moves the
# mixed lane does not alternate (its 100 % warned).
SMOKE = replace(QUICK, sample_size=100, warmup_seconds=0, work_number=2_000, work_repeats=2)

POST_SCRIPT = """\
-- POST /api/v2/hamr over the sampled orgs, {what}; written by bench/policy.py.
package.path = package.path .. ";" .. os.getenv("HAMR_BENCH_LUA") .. "/?.lua"
local keys = require("keys")
require("report")
local path = os.getenv("HAMR_BENCH_SAMPLE")
local orgs = keys.load(path)
keys.signal_after_passes(orgs)
-- Each org's pair (both members write its one connection) and the pair's status now, from the
-- sixth field bench/policy.py writes from the database before each run.
local pairs_, now = {{}}, {{}}
for line in io.lines(path) do
  local uuid, partner, stored = line:match("^(%S+) %S+ %S+ (%S+) %S+ (%d+)")
  if uuid then
    local pair = uuid < partner and uuid or partner
    pairs_[#pairs_ + 1] = pair
    now[pair] = tonumber(stored)
  end
end
local i = math.random(#orgs)

local next_status = function(pair)
  {next_status}
end

request = function()
  i = i % #orgs + 1
  local org = orgs[i]
  local status = next_status(pairs_[i])
  now[pairs_[i]] = status
  local body = string.format(
    '{{"data":{{"id":"%s","type":"hamr_org_connections","attributes":{{"hamr_status":%d,'
      .. '"is_primary":true,"modified_by":"bench","target_org_datacenter":"%s",'
      .. '"target_org_uuid":"%s"}}}}}}',
    org.uuid, status, org.dc, org.partner)
  return wrk.format("POST", "/api/v2/hamr", {{
    ["DD-API-KEY"] = org.api,
    ["DD-APPLICATION-KEY"] = org.app,
    ["Content-Type"] = "application/json",
  }}, body)
end
"""
NEXT_STATUS = {
    "same": "return 2  -- PASSIVE, as seeded: PASSIVE -> PASSIVE is a metadata update",
    "mix": "return now[pair] == 4 and 2 or 4  -- PASSIVE -> ACTIVE, ACTIVE -> PASSIVE: neither "
    "is a move",
}


def post_script(path: Path, sent: str) -> Path:
    what = {"same": "always status 2", "mix": "statuses 2 and 4 in turn for each pair"}[sent]
    path.write_text(POST_SCRIPT.format(what=what, next_status=NEXT_STATUS[sent]))
    return path


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


def write_statuses(sample: Path, target: Path, database_url: str) -> None:
    """The sample with each org's pair's stored status appended, read from the database (the
    server is idle meanwhile): what the mixed script alternates from."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                sa.select(connection_members.c.org_uuid, connections.c.hamr_status).join(
                    connections, connections.c.id == connection_members.c.connection_id
                )
            )
            stored = {org: int(status) for org, status in rows}
    finally:
        engine.dispose()
    lines = [line for line in sample.read_text().splitlines() if line]
    target.write_text("".join(f"{line} {stored.get(line.split()[0], 2)}\n" for line in lines))


def transitions(url: str) -> dict[str, float]:
    """hamr_transitions_total by verdict, from the server's metrics."""
    counts: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("hamr_transitions_total{"):
            labels, _, value = line.rpartition(" ")
            verdict = labels.split('verdict="', 1)[1].split('"', 1)[0]
            counts[verdict] = counts.get(verdict, 0.0) + float(value)
    return counts


def measure(plan: Plan, workdir: Path) -> tuple[Results, float]:
    results = Results()
    seeded = workdir / "seeded.db"
    sample = workdir / "sample.txt"
    started = time.monotonic()
    seed.seed(f"sqlite:///{seeded}", plan.orgs)
    seed.write_sample(sample, plan.orgs, plan.sample_size)
    seed_seconds = time.monotonic() - started
    urls = {}
    for lane, _, _ in POST_LANES:
        copy_database(seeded, workdir / f"{lane}.db")
        urls[lane] = f"sqlite:///{workdir / f'{lane}.db'}"
    scripts = {sent: post_script(workdir / f"post_{sent}.lua", sent) for sent in SENT}
    # Each lane's own copy of the sample with its pairs' statuses; `same` lanes never move.
    samples = {lane: workdir / f"sample_{lane}.txt" for lane, _, _ in POST_LANES}
    posts = {
        lane: Load(scripts[sent], samples[lane], plan.connections, plan.seconds)
        for lane, _, sent in POST_LANES
    }
    get = Load(BENCH / "lua" / "get.lua", sample, plan.connections, plan.seconds)
    with ExitStack() as stack:
        # All run for the whole measurement, idle but for the one measured, so that the
        # rounds can interleave them seconds apart.
        servers = {
            lane: stack.enter_context(Server(hamr_command(urls[lane], ("--transitions", policy))))
            for lane, policy, _ in POST_LANES
        }
        for lane, _, _ in POST_LANES:
            url = servers[lane].url
            run_wrk(url, get.passes_over_sample(2, at_most_seconds=WARMUP_LIMIT_SECONDS))
            checked(run_wrk(url, get.warmup(plan.warmup_seconds)), f"GET on {lane}")
            write_statuses(sample, samples[lane], urls[lane])
            checked(run_wrk(url, posts[lane].warmup(plan.warmup_seconds)), f"POST on {lane}")
        for round_ in range(plan.rounds):
            forward = round_ % 2 == 0
            steps = [("post", lane) for lane, _, _ in POST_LANES] + [
                ("get", lane) for lane in GET_LANES
            ]
            for kind, lane in steps if forward else steps[::-1]:
                url = servers[lane].url
                results.add("load_average", os.getloadavg()[0])
                cpu_before = servers[lane].cpu_seconds()
                if kind == "get":
                    out = run_wrk(url, get)
                else:
                    if lane in MIXED:
                        write_statuses(sample, samples[lane], urls[lane])
                    before = transitions(url)
                    out = run_wrk(url, posts[lane])
                    after = transitions(url)
                    moves = {v: after.get(v, 0) - before.get(v, 0) for v in after}
                    total = sum(moves.values())
                    results.add(f"{lane}_post_moves", total)
                    results.add(f"{lane}_post_warned", moves.get("warned", 0))
                    results.add(f"{lane}_post_refused", moves.get("refused", 0))
                cpu = servers[lane].cpu_seconds() - cpu_before
                results.add(f"{lane}_{kind}_cpu_us", 1e6 * cpu / max(out.requests, 1))
                results.add(f"{lane}_{kind}_rps", out.rps)
                results.add(f"{lane}_{kind}_p50_ms", out.p50_ms)
                results.add(f"{lane}_{kind}_p99_ms", out.p99_ms)
                results.add(f"{lane}_{kind}_errors", out.errors)
            print(
                f"round {round_ + 1}/{plan.rounds}: POST "
                + ", ".join(
                    f"{lane} {results.samples[f'{lane}_post_rps'][-1]:,.0f}"
                    for lane, _, _ in POST_LANES
                )
                + "; GET "
                + ", ".join(
                    f"{lane} {results.samples[f'{lane}_get_rps'][-1]:,.0f}" for lane in GET_LANES
                )
                + " req/s",
                file=sys.stderr,
                flush=True,
            )
    return results, seed_seconds


def against_off(
    results: Results, lane: str, kind: str, metric: str = "rps"
) -> tuple[float | None, str]:
    """The lane's figure over off's, round by round: the median, and the range in words."""
    return against(results, f"{lane}_{kind}_{metric}", f"off_{kind}_{metric}")


def post_side(ratio: float) -> int:
    return 0 if ratio >= POST_TARGET else -1


def post_cpu_side(ratio: float) -> int:
    return 0 if ratio <= 1 + POST_COST else 1


def get_cpu_side(ratio: float) -> int:
    return 0 if ratio <= 1 + GET_TOLERANCE else 1


def get_rate_side(ratio: float) -> int:
    return 0 if ratio >= 1 - GET_TOLERANCE else -1


def render(results: Results, plan: Plan, command: str, machine_line: str) -> str:
    figure = results.figure
    full = command == "python bench/policy.py"
    rounds = f"{plan.rounds} round" + ("s" if plan.rounds != 1 else "")
    lines = [
        "## The lifecycle policy's cost (`--transitions`)",
        "",
        f"Reproduce with `{command}`"
        + ("" if full else " (full run: `python bench/policy.py`)")
        + f". Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on: {machine_line}.",
        "",
        f"One database of {plan.orgs:,} orgs (linked in pairs, all PASSIVE), copied once per "
        "server, so that no server's writes (its write-ahead log, its history rows) fall into "
        "another's runs. hamr with `--transitions off`, `warn` and `enforce`, and a second "
        "`warn`, all on core 0 (wrk on core 1, "
        f"{plan.connections} connections), requests rotating over a sample of "
        f"{min(plan.sample_size, plan.orgs):,} orgs; each server warmed up as in the wire "
        f"table. Then {rounds}: {plan.seconds} s of POST on each server in turn (never two at "
        f"once: each durable POST is an fsync), then {plan.seconds} s of GET on each "
        "server, the order reversed in even rounds. A POST names the org's partner and sets "
        "`hamr_status`: to 2 every time (a metadata update: allowed), or to 2 and 4 in turn "
        "for each pair (PASSIVE → ACTIVE, ACTIVE → PASSIVE: each breaks the lifecycle; `warn` "
        "stores it with an `X-Hamr-Warning` and a marked history row, and logs a warning). "
        "bench/lua/post.lua, the POST of the tables above, cycles statuses 0–5 instead, so "
        "under the default most of its moves are warned ones. Moves are counted from hamr's "
        "`hamr_transitions_total`. Medians over the rounds, range in brackets; ×`off` is taken "
        "round by round (median of the rounds). The machine is shared: its 1-minute load "
        f"average at the start of the runs was {figure('load_average').show(1)} "
        f"({os.cpu_count()} cores).",
        "",
        "| request | `--transitions` | status sent | req/s | ×`off` | server CPU µs/req "
        "| ×`off` | p50 ms | p99 ms | moves warned |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for lane, _, sent in POST_LANES:
        value, _ = against_off(results, lane, "post")
        moves = sum(results.samples.get(f"{lane}_post_moves", []))
        warned = sum(results.samples.get(f"{lane}_post_warned", []))
        share = f"{100 * warned / moves:.0f} %" if moves else "—"
        cpu, _ = against_off(results, lane, "post", "cpu_us")
        lines.append(
            f"| POST | {TITLES[lane]} | {SENT[sent]} | {figure(f'{lane}_post_rps').show()} | "
            f"{'—' if lane == 'off' else fmt(value)} | "
            f"{figure(f'{lane}_post_cpu_us').show()} | {'—' if lane == 'off' else fmt(cpu)} | "
            f"{figure(f'{lane}_post_p50_ms').show(2)} | "
            f"{figure(f'{lane}_post_p99_ms').show(2)} | {share} |"
        )
    for lane in GET_LANES:
        value, _ = against_off(results, lane, "get")
        cpu, _ = against_off(results, lane, "get", "cpu_us")
        lines.append(
            f"| GET | {TITLES[lane]} | — | {figure(f'{lane}_get_rps').show()} | "
            f"{'—' if lane == 'off' else fmt(value)} | "
            f"{figure(f'{lane}_get_cpu_us').show()} | {'—' if lane == 'off' else fmt(cpu)} | "
            f"{figure(f'{lane}_get_p50_ms').show(2)} | "
            f"{figure(f'{lane}_get_p99_ms').show(2)} | — |"
        )
    lines.append("")
    errors = {
        key.removesuffix("_errors"): int(sum(values))
        for key, values in results.samples.items()
        if key.endswith("_errors") and sum(values)
    }
    refused = int(sum(sum(results.samples.get(f"{n}_post_refused", [])) for n, _, _ in POST_LANES))
    if errors:
        listed = ", ".join(f"{name}: {count:,}" for name, count in errors.items())
        lines += [f"**Errors** (non-2xx or socket) in measured runs: {listed}.", ""]
    else:
        lines += [
            "No errors (non-2xx or socket) in any measured run"
            + (f"; {refused:,} moves refused." if refused else ", and no move refused."),
            "",
        ]
    off_post = results.samples.get("off_post_rps", [])
    if len(off_post) > 1:
        lines += [
            f"Noise: `off` alone, the same load on the same server, ranged "
            f"{min(off_post):,.0f}–{max(off_post):,.0f} POST/s between rounds "
            f"({100 * (max(off_post) / min(off_post) - 1):.0f} % apart), and "
            f"{min(results.samples['off_get_rps']):,.0f}–"
            f"{max(results.samples['off_get_rps']):,.0f} GET/s.",
            "",
        ]
    lines += [
        "What a request costs is the server's CPU time per request (user and system, all its "
        "threads, from /proc over each run): on a shared machine it moves far less than the "
        "rate, which follows whatever else runs. The targets are judged on it; the rate "
        "rows below are for the record.",
        "",
        "| target | measured | verdict |",
        "| --- | --- | --- |",
    ]
    verdicts = []
    for lane, what in (("warn", "allowed moves"), ("warn_mix", "every move warned")):
        value, spread = against_off(results, lane, "post", "cpu_us")
        rounds = paired(results, f"{lane}_post_cpu_us", "off_post_cpu_us")
        verdicts.append(judged(value, rounds, post_cpu_side))
        lines.append(
            f"| `warn` costs POST < 10 % server CPU against `off` ({what}) | "
            f"{fmt(value, 3)} ×{spread} | {verdicts[-1]} |"
        )
    value, spread = against_off(results, "warn", "get", "cpu_us")
    rounds = paired(results, "warn_get_cpu_us", "off_get_cpu_us")
    verdicts.append(judged(value, rounds, get_cpu_side))
    lines.append(
        f"| `warn` costs GET nothing: server CPU at most {GET_TOLERANCE * 100:.0f} % above "
        f"`off`'s | {fmt(value, 3)} ×{spread} | {verdicts[-1]} |"
    )
    for lane, what in (("warn", "allowed moves"), ("warn_mix", "every move warned")):
        value, spread = against_off(results, lane, "post")
        rounds = paired(results, f"{lane}_post_rps", "off_post_rps")
        verdicts.append(judged(value, rounds, post_side))
        lines.append(
            f"| rate: `warn`'s POST/s ≥ 90 % of `off`'s ({what}) | "
            f"{fmt(value, 3)} ×{spread} | {verdicts[-1]} |"
        )
    value, spread = against_off(results, "warn", "get")
    rounds = paired(results, "warn_get_rps", "off_get_rps")
    verdicts.append(judged(value, rounds, get_rate_side))
    lines.append(
        f"| rate: `warn`'s GET/s at least {100 - GET_TOLERANCE * 100:.0f} % of `off`'s | "
        f"{fmt(value, 3)} ×{spread} | {verdicts[-1]} |"
    )
    lines += own_work(results, plan.work_repeats or policy_work.REPEATS)
    same = sorted(paired(results, "warn_mix_get_cpu_us", "warn_get_cpu_us"))
    if same:
        lines += [
            "",
            "Resolution: the two `warn` servers, the same settings and the same GETs, differed "
            f"in GET server CPU by {fmt(statistics.median(same), 3)} × (round by round "
            f"{same[0]:.2f}–{same[-1]:.2f}); a difference between `off` and `warn` inside that "
            "is the servers', not the policy's. (The GET path never reads the policy: it is "
            "judged only inside a write.)",
        ]
    if any("not resolved" in verdict for verdict in verdicts[:3]):
        lines += [
            "",
            "*Not resolved*: the verdict is the median's, but single rounds fell on both sides "
            "of a line, so on this shared 2-core machine (see the load average above) the "
            "difference is within the noise, not measured apart from it.",
        ]
    return "\n".join(lines)


def own_work(results: Results, repeats: int) -> list[str]:
    """The policy's own work per POST, timed in-process, against what a POST costs the server:
    deterministic where the server lanes are noise-bound, so these rows decide."""
    post_us = results.figure("off_post_cpu_us").median
    off = results.figure("work_off_us").median
    if post_us is None or off is None:
        return []
    lines = [
        "",
        "In-process, the policy's own work per POST (bench/policy_work.py: timeit, best of "
        f"{repeats} runs): judging a move costs {off:.2f} µs under `off`; `warn` "
        "adds the rows below, set against the server CPU a POST costs under `off` "
        f"({post_us:,.0f} µs, the median above). The history row's rule text is not in it: "
        "it rides the write's one batched insert.",
        "",
        "| target | `warn` adds per POST | share of a POST | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for name, what in (("warn_allowed", "allowed moves"), ("warn_warned", "every move warned")):
        extra = results.figure(f"work_{name}_us").median or 0.0
        share = extra / post_us
        verdict = "met" if share < POST_COST else "**missed**"
        lines.append(
            f"| `warn`'s own work < 10 % of a POST ({what}) | {extra:.2f} µs | "
            f"{100 * share:.2f} % | {verdict} |"
        )
    return lines


def report(plan: Plan, workdir: Path, command: str) -> str:
    results, seed_seconds = measure(plan, workdir)
    work = policy_work.measure(
        plan.work_number or policy_work.NUMBER, plan.work_repeats or policy_work.REPEATS
    )
    for name, value in work.items():
        results.add(f"work_{name}_us", value)
    print(f"seeded {plan.orgs:,} orgs in {seed_seconds:.0f} s", file=sys.stderr)
    return render(results, plan, command, machine())


if __name__ == "__main__":
    main("policy", __doc__ or "", (FULL, QUICK, SMOKE), SECTION, report)
