"""Bounded writers through the three sites' hamr, and what a drill must find afterwards.

Every write names itself in `modified_by` (unique across the session), so that the history
says which acknowledged writes survived a drill, and how often each was stored."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Self

import httpx
import psycopg

HAMR = "/api/v2/hamr"
# hamr answers within its database timeout (2 s) when the database does not: a write still
# unanswered after this long hangs, which no client should see (docs/operations.md's limits).
ANSWER_WITHIN = 10.0
# A 503 that says so claims the write was not stored: such a write must not be in the history.
NOT_STORED = "nothing was"


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


class _Background:
    """Threads that run while a `with` block does, stopped and joined at its end."""

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


class Readers(_Background):
    """Two readers GETting (no-cache: each a read of the site's storage) through `sites` in
    turn, for as long as the block runs: what the survivors of a drill answered."""

    def __init__(self, lab: Any, sites: set[str], pause: float = 0.1):
        self.lab = lab
        self.sites = [s for s in lab.sites if s.name in sites]
        self.pause = pause
        self.answers: list[tuple[str, int | None, str | None]] = []  # site, status, staleness
        self._stop = threading.Event()
        keys = json.loads((lab.root / "keys.json").read_text())
        org = keys["Production Org"]
        self._headers = {
            "DD-API-KEY": org["api_key"],
            "DD-APPLICATION-KEY": org["app_key"],
            "Cache-Control": "no-cache",
        }
        self._threads = [threading.Thread(target=self._read, daemon=True) for _ in range(2)]

    def _read(self) -> None:
        with httpx.Client(timeout=ANSWER_WITHIN, headers=self._headers) as client:
            for turn in itertools.count():
                if self._stop.is_set():
                    return
                site = self.sites[turn % len(self.sites)]
                try:
                    answer = client.get(f"{site.url}{HAMR}")
                    found = (
                        site.name,
                        answer.status_code,
                        answer.headers.get("X-Hamr-Staleness-Ms"),
                    )
                except httpx.TransportError:
                    found = (site.name, None, None)
                self.answers.append(found)
                time.sleep(self.pause)


class Writers(_Background):
    """`threads` writers, each POSTing through the sites in turn with a short pause (a few
    dozen writes a second in all: the point is coverage of the failover, not load)."""

    def __init__(self, lab: Any, drill: str, threads: int = 3, pause: float = 0.05):
        self.lab = lab
        self.drill = drill
        self.pause = pause
        self.attempts: list[Attempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._numbers = itertools.count()
        keys = json.loads((lab.root / "keys.json").read_text())
        self.org, self.partner = keys["Production Org"], keys["Production Backup Org"]
        self._threads = [
            threading.Thread(target=self._write, args=(n,), daemon=True) for n in range(threads)
        ]

    def _body(self, modified_by: str) -> dict[str, Any]:
        return {
            "data": {
                "id": self.org["uuid"],
                "type": "hamr_org_connections",
                "attributes": {
                    "hamr_status": 2,
                    "is_primary": True,
                    "modified_by": modified_by,
                    "target_org_datacenter": self.partner["datacenter"],
                    "target_org_name": "Production Backup Org",
                    "target_org_uuid": self.partner["uuid"],
                },
            }
        }

    def _write(self, offset: int) -> None:
        headers = {"DD-API-KEY": self.org["api_key"], "DD-APPLICATION-KEY": self.org["app_key"]}
        with httpx.Client(timeout=60, headers=headers) as client:
            for turn in itertools.count(offset):
                if self._stop.is_set():
                    return
                site = self.lab.sites[turn % len(self.lab.sites)]
                modified_by = f"{self.drill}-{next(self._numbers)}@drill.example"
                started = time.monotonic()
                try:
                    answer = client.post(f"{site.url}{HAMR}", json=self._body(modified_by))
                    status, retry_after = answer.status_code, answer.headers.get("Retry-After")
                    detail = "" if status == 200 else answer.text[:500]
                except httpx.TransportError as error:
                    status, retry_after, detail = None, None, repr(error)
                attempt = Attempt(
                    site.name, modified_by, status, retry_after, detail, started, time.monotonic()
                )
                with self._lock:
                    self.attempts.append(attempt)
                time.sleep(self.pause)

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


def assert_safe(lab: Any, writers: Writers, down: frozenset[str] = frozenset()) -> None:
    """What every drill must leave: each acknowledged write stored exactly once, no write
    stored that was answered as not stored, no 500 (a 503 with Retry-After instead), an answer
    from every site whose hamr runs, in time, and an intact history on every running node."""
    attempts = writers.attempts
    in_history = stored(lab, writers.drill)
    acknowledged = [a for a in attempts if a.status == 200]
    lost = [a for a in acknowledged if in_history[a.modified_by] != 1]
    errors = [a for a in attempts if a.status is not None and a.status >= 500 and a.status != 503]
    unavailable = [a for a in attempts if a.status == 503]
    without_retry_after = [a for a in unavailable if a.retry_after is None]
    falsely_refused = [
        a for a in unavailable if NOT_STORED in a.detail and in_history[a.modified_by]
    ]
    unanswered = [a for a in attempts if a.status is None and a.site not in down]
    slow = [a for a in attempts if a.status is not None and a.ended - a.started > ANSWER_WITHIN]
    attempted = {a.modified_by for a in attempts}
    unknown = [by for by in in_history if by not in attempted]
    summary = writers.summary()
    assert acknowledged, f"no write was acknowledged at all: {summary}"
    assert lost == [], f"acknowledged writes not stored exactly once: {lost[:5]} ({summary})"
    assert errors == [], f"server errors: {errors[:5]} ({summary})"
    assert without_retry_after == [], f"503s without Retry-After: {without_retry_after[:5]}"
    assert falsely_refused == [], f"503s saying nothing was stored, stored: {falsely_refused}"
    assert unanswered == [], f"requests no running hamr answered: {unanswered[:5]} ({summary})"
    assert slow == [], f"answers after more than {ANSWER_WITHIN:g} s: {slow[:5]} ({summary})"
    assert unknown == [], f"writes in the history no writer sent: {unknown[:5]}"
    verified = verify_history(lab)
    broken = {name: v.stdout + v.stderr for name, v in verified.items() if v.returncode != 0}
    assert verified, "no site's node runs to verify the history on"
    assert broken == {}, f"hamr history verify failed: {broken}"
