"""Which node serves the reads that miss the cache, with `--read-database`: the site's own node
while its copy is within the staleness bound of the leader's, else the leader; and while the
leader cannot be reached (a promotion under way, or this site cut off), the own node only
within the bound, and past it a 503 rather than a copy of unknown age, unless the site's
Patroni still sees the consensus store: then no new leader can have been elected without this
site knowing, nothing can be written meanwhile, and the copy is served however old.

The bound is measured, not guessed: each probe reads the leader's log position P (at time t),
then the own node's replayed position R. The node holds everything committed before the newest
t whose P <= R, so what it serves is at most `now - t` old."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum

from hamr.domain.errors import Unavailable
from hamr.domain.model import Connection, Org, Statistics, StoredCredential
from hamr.domain.ports import ReadView

# Probe results kept to find when the own node last caught up (a few seconds of probes).
_KEPT = 64


class Role(StrEnum):
    LEADER = "leader"  # the own node is the leader itself
    REPLICA = "replica"
    UNKNOWN = "unknown"  # the own node does not answer


class ReplicaRouting:
    """The choice is made at each probe, so that it changes only there; a change drops every
    cache (entries filled from one node must not be kept against the other's history)."""

    def __init__(
        self,
        leader: ReadView,
        local: ReadView,
        max_staleness_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._leader = leader
        self._local = local
        self._bound = max_staleness_seconds
        self._now = monotonic
        self._written: deque[tuple[float, int]] = deque(maxlen=_KEPT)
        self._caught_up_at: float | None = None
        self._leader_seen_at: float | None = None
        self._chosen: ReadView | None = leader
        self._consensus_seen = False
        self.role = Role.UNKNOWN

    def observe(
        self,
        leader_position: int | None,
        local_position: int | None,
        in_recovery: bool | None,
        consensus_seen: bool = False,
    ) -> bool:
        """Take one probe's readings (None where a node did not answer; whether the site's
        Patroni sees the consensus store) and choose again; whether the choice or the own
        node's role changed (drop every cache then)."""
        now = self._now()
        self._consensus_seen = consensus_seen
        if leader_position is not None:
            self._written.append((now, leader_position))
            self._leader_seen_at = now
        before = self.role
        if local_position is None:
            self.role = Role.UNKNOWN
        elif not in_recovery:
            self.role = Role.LEADER
            self._caught_up_at = now
        else:
            self.role = Role.REPLICA
            caught = [at for at, position in self._written if position <= local_position]
            if caught:
                self._caught_up_at = max(caught)
        chosen = self._choose()
        changed = chosen is not self._chosen or self.role is not before
        self._chosen = chosen
        return changed

    def staleness_seconds(self) -> float | None:
        """How old the own node's copy may be; None when it was never seen caught up."""
        if self.role is Role.UNKNOWN or self._caught_up_at is None:
            return None
        return self._now() - self._caught_up_at

    def source(self) -> tuple[ReadView, float]:
        """The view to read and how stale its answers may be, in seconds; Unavailable when
        neither the leader nor a copy within the bound may be read."""
        chosen = self._chosen
        if chosen is self._leader:
            return chosen, 0.0
        staleness = self.staleness_seconds()
        servable = staleness is not None and (staleness <= self._bound or self._consensus_seen)
        if chosen is not None and staleness is not None and servable:
            return chosen, staleness
        raise Unavailable(
            "This site cannot reach the database's leader, and its own copy is older than the "
            f"{self._bound:g} s it may serve; nothing was read. Retry shortly."
        )

    def _choose(self) -> ReadView | None:
        staleness = self.staleness_seconds()
        fresh = staleness is not None and staleness <= self._bound
        seen = self._leader_seen_at
        if seen is not None and self._now() - seen <= self._bound:
            return self._local if fresh else self._leader
        if fresh or (self._consensus_seen and staleness is not None):
            return self._local
        return None


class RoutedView:
    """A ReadView that reads where ReplicaRouting says; monitoring and the schema check read
    the leader, which they describe."""

    def __init__(self, routing: ReplicaRouting, leader: ReadView):
        self._routing = routing
        self._leader = leader

    def _view(self) -> ReadView:
        return self._routing.source()[0]

    def connection(self, org_uuid: str) -> Connection | None:
        return self._view().connection(org_uuid)

    def org(self, org_uuid: str) -> Org | None:
        return self._view().org(org_uuid)

    def credential(self, secret_hash: str) -> StoredCredential | None:
        return self._view().credential(secret_hash)

    def credentials_epoch(self) -> int:
        return self._view().credentials_epoch()

    def changes_after(self, history_id: int) -> list[tuple[int, str]]:
        return self._view().changes_after(history_id)

    def last_history_id(self) -> int:
        return self._view().last_history_id()

    def statistics(self) -> Statistics:
        return self._leader.statistics()

    def schema_is_current(self) -> bool:
        return self._leader.schema_is_current()
