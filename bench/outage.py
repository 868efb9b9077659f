"""`/healthz` while PostgreSQL answers, hangs and is down, for bench/run.py: the probe must not
wait on the database (issue 16's target: p99 < 10 ms in each state). Probes come as a
load balancer's do, paced (PROBES_PER_SECOND over PROBE_CONNECTIONS), not flat out: what is
measured is whether a probe waits, not how many the server can answer.

"Hangs" is every PostgreSQL process stopped with SIGSTOP (connections stay open, nothing
answers: what a network partition looks like); "down" is PostgreSQL stopped (connections
refused). hamr's own polling keeps trying the database throughout, as it would in service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from loadgen import Load, Outcome, run_wrk
from postgres import PostgresServer

BENCH = Path(__file__).resolve().parent
STATES = ("answers", "hangs", "down")
PROBE_CONNECTIONS = 4
PROBES_PER_SECOND = 200
# Long enough for the requests hamr was waiting on to give up (HAMR_DB_TIMEOUT_SECONDS: 2).
SETTLE_SECONDS = 3


@contextlib.contextmanager
def database_that(
    database: PostgresServer, state: str, settle_seconds: float = SETTLE_SECONDS
) -> Iterator[None]:
    """PostgreSQL in `state` for the block's duration, then answering again."""
    if state == "answers":
        yield
        return
    if state == "hangs":
        stopped = database.processes()
        for pid in stopped:
            os.kill(pid, signal.SIGSTOP)
        try:
            time.sleep(settle_seconds)
            yield
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)
        return
    database.stop("immediate")
    try:
        time.sleep(settle_seconds)
        yield
    finally:
        database.start()


def healthz_in_each_state(url: str, database: PostgresServer, load: Load) -> dict[str, Outcome]:
    """`load`'s seconds of paced probes of /healthz in each state in turn."""
    probe = Load(BENCH / "lua" / "healthz.lua", load.sample, PROBE_CONNECTIONS, load.seconds).paced(
        PROBES_PER_SECOND
    )
    outcomes = {}
    for state in STATES:
        with database_that(database, state, min(SETTLE_SECONDS, load.seconds)):
            outcomes[state] = run_wrk(url, probe)
    return outcomes
