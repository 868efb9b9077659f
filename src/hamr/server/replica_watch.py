"""With `--read-database`: each node's position is read four times a second, each on a
worker thread of its own (a frozen leader must not stop the own node's readings), and
ReplicaRouting chooses again; a new choice, or a new role for the own node, drops every cache,
and the metrics say where reads come from and how stale they may be. With `--patroni-url`,
the site's Patroni is asked whether it still sees the consensus store (`dcs_last_seen`)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import anyio
import anyio.to_thread
import httpx

from hamr.api.state import AppState
from hamr.domain.errors import Unavailable

logger = logging.getLogger(__name__)

PROBE_SECONDS = 0.25
# Patroni refreshes dcs_last_seen every loop_wait: keep loop_wait under this, and its ttl (how
# long before the others may elect a new leader) well over it.
CONSENSUS_SEEN_SECONDS = 10.0
T = TypeVar("T")


class _Reading(Generic[T]):
    """One node's probe: at most one in flight, given up on (not cancelled) past `timeout`."""

    def __init__(self, read: Callable[[], T], timeout: float):
        self._read = read
        self._timeout = timeout
        self._busy = False

    async def take(self) -> T | None:
        if self._busy:  # the last one still waits on the node: it does not answer
            return None
        self._busy = True
        try:
            with anyio.fail_after(self._timeout):
                return await anyio.to_thread.run_sync(self._run, abandon_on_cancel=True)
        except (TimeoutError, Unavailable):
            return None

    def _run(self) -> T:
        try:
            return self._read()
        finally:
            self._busy = False


async def watch_replica(state: AppState) -> None:
    routing, probes = state.replica, state.replica_probes
    assert routing is not None
    assert probes is not None
    timeout = state.settings.db_timeout_seconds
    leader, local = _Reading(probes.leader, timeout), _Reading(probes.local, timeout)
    patroni = state.settings.patroni_url
    consensus = _Reading(functools.partial(_sees_consensus, patroni), timeout) if patroni else None
    while True:
        await asyncio.sleep(PROBE_SECONDS)
        written, replayed, seen = await asyncio.gather(
            leader.take(), local.take(), consensus.take() if consensus else _none()
        )
        position, in_recovery = replayed if replayed is not None else (None, None)
        if routing.observe(written, position, in_recovery, bool(seen)):
            state.service.drop_caches()
            logger.info(
                "reads now from another node; caches dropped",
                extra={"own_node": routing.role.value, "staleness_s": routing.staleness_seconds()},
            )
        if state.metrics is not None:
            state.metrics.replica_observed(routing.role.value, routing.staleness_seconds())


async def _none() -> None:
    return None


def _sees_consensus(patroni_url: str) -> bool:
    """Whether the site's Patroni reached the consensus store lately (blocking)."""
    try:
        status = httpx.get(f"{patroni_url.rstrip('/')}/patroni", timeout=1).json()
        return bool(time.time() - float(status["dcs_last_seen"]) <= CONSENSUS_SEEN_SECONDS)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return False
