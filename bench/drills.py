"""Bounded writers and readers through the multi-site lab's hamr (deploy/multi-site/lab.py), and
what a drill must find afterwards: shared by tests/multisite/ (which asserts on it) and
bench/site_loss.py (which reports it).

Every write names itself in `modified_by` (unique across the drill), so that the history says
which acknowledged writes survived a drill, and how often each was stored. No bench module is
imported, so that the tests can import this one (`from bench.drills import ...`)."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Self

import httpx
import psycopg

HAMR = "/api/v2/hamr"
LAB_SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "multi-site" / "lab.py"
# hamr answers within its database timeout (2 s) when the database does not: a write still
# unanswered after this long hangs, which no client should see (docs/operations.md's limits).
ANSWER_WITHIN = 10.0
# A 503 that says so claims the write was not stored: such a write must not be in the history.
NOT_STORED = "nothing was"
# A 503 that says so does not know whether the write was stored (its commit's outcome).
OUTCOME_UNKNOWN = "may or may not"


def load_lab() -> ModuleType:
    """deploy/multi-site/lab.py as a module (its folder's name is no package's)."""
    spec = importlib.util.spec_from_file_location("multi_site_lab", LAB_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True, slots=True)
class OrgKeys:
    """An org to write and read as, and the partner its connection names."""

    uuid: str
    api_key: str
    app_key: str
    partner_uuid: str
    partner_datacenter: str
    partner_name: str

    def headers(self) -> dict[str, str]:
        return {"DD-API-KEY": self.api_key, "DD-APPLICATION-KEY": self.app_key}


def demo_org(lab: Any) -> OrgKeys:
    """The lab's Production Org (keys.json, written by `lab.py up`), paired with its backup."""
    keys = json.loads((lab.root / "keys.json").read_text())
    org, partner = keys["Production Org"], keys["Production Backup Org"]
    return OrgKeys(
        org["uuid"],
        org["api_key"],
        org["app_key"],
        partner["uuid"],
        partner["datacenter"],
        "Production Backup Org",
    )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST: where it went, what it wrote and what came back (status None: no answer)."""

    site: str
    modified_by: str
    status: int | None
    retry_after: str | None
    detail: str
    started: float
    ended: float


@dataclass(frozen=True, slots=True)
class Read:
    """One GET: where it went, what came back (status None: no answer) and how old the
    answer said it may be (X-Hamr-Staleness-Ms, None when absent)."""

    site: str
    status: int | None
    staleness: str | None
    started: float
    ended: float


class Background:
    """Threads that run while a `with` block does, stopped (`_stop`) and joined at its end.
    For readers and writers, each thread goes through `_routes`' sites in turn: every thread
    through every site starting at its own one, or (`per_site`) `threads` threads pinned to
    each site."""

    _threads: list[threading.Thread]
    _stop: threading.Event

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    @staticmethod
    def _routes(sites: list[Any], threads: int, per_site: bool) -> list[list[Any]]:
        if per_site:
            return [[site] for site in sites for _ in range(threads)]
        return [sites[n % len(sites) :] + sites[: n % len(sites)] for n in range(threads)]


class Readers(Background):
    """Readers GETting (no-cache by default: each a read of the site's storage) through
    `sites`, as each of `orgs` in turn (the demo org by default), for as long as the block
    runs, pausing `pause` after an answer and `retry_pause` after a refusal."""

    def __init__(
        self,
        lab: Any,
        sites: set[str],
        pause: float = 0.1,
        *,
        threads: int = 2,
        per_site: bool = False,
        orgs: list[OrgKeys] | None = None,
        no_cache: bool = True,
        retry_pause: float | None = None,
    ):
        self.lab = lab
        self.sites = [s for s in lab.sites if s.name in sites]
        self.pause = pause
        self.retry_pause = pause if retry_pause is None else retry_pause
        self.orgs = orgs or [demo_org(lab)]
        self.reads: list[Read] = []
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._extra = {"Cache-Control": "no-cache"} if no_cache else {}
        self._threads = [
            threading.Thread(target=self._read, args=(route,), daemon=True)
            for route in self._routes(self.sites, threads, per_site)
        ]

    @property
    def answers(self) -> list[tuple[str, int | None, str | None]]:
        """Each read's site, status and staleness."""
        return [(r.site, r.status, r.staleness) for r in self.reads]

    def _read(self, route: list[Any]) -> None:
        with httpx.Client(timeout=ANSWER_WITHIN) as client:
            for turn in itertools.count():
                if self._stop.is_set():
                    return
                site = route[turn % len(route)]
                org = self.orgs[next(self._numbers) % len(self.orgs)]
                started = time.monotonic()
                try:
                    answer = client.get(f"{site.url}{HAMR}", headers=org.headers() | self._extra)
                    status = answer.status_code
                    staleness = answer.headers.get("X-Hamr-Staleness-Ms")
                except httpx.TransportError:
                    status, staleness = None, None
                self.reads.append(Read(site.name, status, staleness, started, time.monotonic()))
                time.sleep(self.pause if status == 200 else self.retry_pause)


class Writers(Background):
    """`threads` writers, each POSTing through the sites in turn (or `per_site`: `threads`
    writers pinned to each site) as each of `orgs` in turn (the demo org by default), pausing
    `pause` after an answer and `retry_pause` after a refusal (by default a few dozen writes a
    second in all: the point is coverage of the failover, not load)."""

    def __init__(
        self,
        lab: Any,
        drill: str,
        threads: int = 3,
        pause: float = 0.05,
        *,
        per_site: bool = False,
        orgs: list[OrgKeys] | None = None,
        retry_pause: float | None = None,
    ):
        self.lab = lab
        self.drill = drill
        self.pause = pause
        self.retry_pause = pause if retry_pause is None else retry_pause
        self.orgs = orgs or [demo_org(lab)]
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._numbers = itertools.count()
        self._threads = [
            threading.Thread(target=self._write, args=(route,), daemon=True)
            for route in self._routes(list(lab.sites), threads, per_site)
        ]

    @staticmethod
    def _body(org: OrgKeys, modified_by: str) -> dict[str, Any]:
        return {
            "data": {
                "id": org.uuid,
                "type": "hamr_org_connections",
                "attributes": {
                    "hamr_status": 2,
                    "is_primary": True,
                    "modified_by": modified_by,
                    "target_org_datacenter": org.partner_datacenter,
                    "target_org_name": org.partner_name,
                    "target_org_uuid": org.partner_uuid,
                },
            }
        }

    def _write(self, route: list[Any]) -> None:
        with httpx.Client(timeout=60) as client:
            for turn in itertools.count():
                if self._stop.is_set():
                    return
                site = route[turn % len(route)]
                number = next(self._numbers)
                org = self.orgs[number % len(self.orgs)]
                modified_by = f"{self.drill}-{number}@drill.example"
                started = time.monotonic()
                try:
                    answer = client.post(
                        f"{site.url}{HAMR}",
                        json=self._body(org, modified_by),
                        headers=org.headers(),
                    )
                    status, retry_after = answer.status_code, answer.headers.get("Retry-After")
                    detail = "" if status == 200 else answer.text[:500]
                except httpx.TransportError as error:
                    status, retry_after, detail = None, None, repr(error)
                attempt = Attempt(
                    site.name, modified_by, status, retry_after, detail, started, time.monotonic()
                )
                with self._lock:
                    self.attempts.append(attempt)
                time.sleep(self.pause if status == 200 else self.retry_pause)

    def wait_for_write(self, after: float, sites: set[str], timeout: float) -> float | None:
        """When the first write started after `after` through one of `sites` was acknowledged
        (monotonic time), if one was within `timeout` seconds of `after`; else None."""
        deadline = after + timeout
        while True:
            with self._lock:
                done = [
                    a.ended
                    for a in self.attempts
                    if a.status == 200 and a.started > after and a.site in sites
                ]
            if done or time.monotonic() > deadline:
                first = min(done, default=None)
                return first if first is not None and first <= deadline else None
            time.sleep(0.1)

    def summary(self) -> str:
        """Answers per site and status ("-": no answer), for failure messages and reports."""
        counts = Counter((a.site, str(a.status or "-")) for a in self.attempts)
        return ", ".join(f"{site} {status}: {n}" for (site, status), n in sorted(counts.items()))


def stored(lab: Any, drill: str) -> Counter[str]:
    """How many times each of the drill's writes is in the history, read from the leader
    (waiting up to 30 s for one)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = psycopg.connect(lab.conninfo, connect_timeout=5)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT modified_by, count(*) FROM history WHERE modified_by LIKE %s GROUP BY 1",
            (f"{drill}-%",),
        )
        return Counter({by: count for by, count in cursor.fetchall()})


def verify_history(lab: Any) -> dict[str, subprocess.CompletedProcess[str]]:
    """`hamr history verify` on each site whose node runs (the leader and its replicas), by
    site. A node Patroni is restarting (a woken old leader rejoining as a replica) refuses
    connections for a moment: that is retried for up to 30 s, a broken chain never."""
    serving = {str(m["name"]) for m in lab.cluster() if m.get("state") in ("running", "streaming")}
    return {site.name: _verify(lab.node_url(site)) for site in lab.sites if site.name in serving}


def _verify(node_url: str) -> subprocess.CompletedProcess[str]:
    deadline = time.monotonic() + 30
    while True:
        verified = subprocess.run(
            [sys.executable, "-m", "hamr", "history", "verify", "--database", node_url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        restarting = "cannot open database" in verified.stderr
        if not restarting or time.monotonic() > deadline:
            return verified
        time.sleep(1)


@dataclass
class Findings:
    """What a drill's writes came to, each list empty when the drill was safe (but
    `acknowledged`, which must not be)."""

    acknowledged: list[Attempt]
    lost: list[Attempt]  # acknowledged, not in the history
    doubled: list[Attempt]  # acknowledged, in the history more than once
    errors: list[Attempt]  # 5xx other than 503
    without_retry_after: list[Attempt]  # 503 without Retry-After
    falsely_refused: list[Attempt]  # 503 saying nothing was stored, stored
    unanswered: list[Attempt]  # no answer from a site whose hamr runs
    slow: list[Attempt]  # answered after ANSWER_WITHIN
    unknown: list[str]  # in the history, sent by no writer
    outcome_unknown: list[Attempt]  # 503 saying it may or may not have been stored
    broken: dict[str, str] = field(default_factory=dict)  # `history verify` failures by site
    verified: int = 0  # sites whose history was verified


def findings(lab: Any, writers: Writers, down: frozenset[str] = frozenset()) -> Findings:
    """Every acknowledged write looked up in the history (read from the leader), every answer
    checked, and `hamr history verify` run on every running node; `down` are the sites whose
    hamr was lost (no answer from them is expected)."""
    attempts = writers.attempts
    in_history = stored(lab, writers.drill)
    acknowledged = [a for a in attempts if a.status == 200]
    unavailable = [a for a in attempts if a.status == 503]
    attempted = {a.modified_by for a in attempts}
    verified = verify_history(lab)
    return Findings(
        acknowledged=acknowledged,
        lost=[a for a in acknowledged if in_history[a.modified_by] == 0],
        doubled=[a for a in acknowledged if in_history[a.modified_by] > 1],
        errors=[
            a for a in attempts if a.status is not None and a.status >= 500 and a.status != 503
        ],
        without_retry_after=[a for a in unavailable if a.retry_after is None],
        falsely_refused=[
            a for a in unavailable if NOT_STORED in a.detail and in_history[a.modified_by]
        ],
        unanswered=[a for a in attempts if a.status is None and a.site not in down],
        slow=[a for a in attempts if a.status is not None and a.ended - a.started > ANSWER_WITHIN],
        unknown=[by for by in in_history if by not in attempted],
        outcome_unknown=[a for a in unavailable if OUTCOME_UNKNOWN in a.detail],
        broken={name: v.stdout + v.stderr for name, v in verified.items() if v.returncode != 0},
        verified=len(verified),
    )
