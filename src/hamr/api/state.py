"""What one application instance holds for its lifetime; bootstrap.py builds it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from starlette.types import Scope

from hamr.api.metrics import Metrics
from hamr.api.ratelimit import RateLimiter
from hamr.api.schemas import DocumentCache
from hamr.api.wire import WireFormat
from hamr.api.write_gate import WriteGate
from hamr.domain.model import AppliedChange, ConnectionChange, Principal
from hamr.settings import Settings, Site
from hamr.usecases.read_routing import ReplicaRouting
from hamr.usecases.service import HamrService
from hamr.usecases.storage_reads import StorageReads


class ConnectionWriter(Protocol):
    """Writes a connection change durably (the server's group-commit writer)."""

    async def write(self, principal: Principal, change: ConnectionChange) -> AppliedChange: ...

    async def rehearse(self, principal: Principal, change: ConnectionChange) -> AppliedChange: ...


STALENESS_HEADER = b"x-hamr-staleness-ms"


@dataclass(frozen=True, slots=True)
class ReplicaProbes:
    """Blocking reads of where each node stands: the leader's written log position, and the
    site's own node's replayed one with whether it is a replica."""

    leader: Callable[[], int]
    local: Callable[[], tuple[int, bool]]


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    service: HamrService
    writer: ConnectionWriter
    wire: WireFormat
    documents: DocumentCache
    openapi: bytes
    limiter: RateLimiter
    metrics: Metrics | None
    reads: StorageReads
    # Each `--site`, by its port (each has a port of its own).
    sites_by_port: dict[int, Site] = field(default_factory=dict)
    # `--read-database`: which node reads come from, and what probes each node.
    replica: ReplicaRouting | None = None
    replica_probes: ReplicaProbes | None = None
    # Writes share it; an emulator reset or a replaced state holds it alone.
    write_gate: WriteGate = field(default_factory=WriteGate)

    # `--datacenter`: the site hamr's main address is, in a multi-site deployment.
    own_site: Site | None = None

    def staleness_header(self) -> tuple[bytes, bytes] | None:
        """With `--read-database`, how old what a GET answers may be (`X-Hamr-Staleness-Ms`);
        Unavailable when this site may serve nothing (past the bound, the leader out of reach),
        its cache included."""
        if self.replica is None:
            return None
        _, staleness = self.replica.source()
        return STALENESS_HEADER, b"%d" % round(staleness * 1000)

    def site(self, scope: Scope) -> Site | None:
        """The site whose own host the request came to; None on hamr's main address unless
        it is one datacenter's (`--datacenter`)."""
        if self.sites_by_port:
            server = scope.get("server")
            found = self.sites_by_port.get(server[1]) if server else None
            if found is not None:
                return found
        return self.own_site

    def site_datacenter(self, scope: Scope) -> str | None:
        site = self.site(scope)
        return site.datacenter if site is not None else None

    def where_to_call(self, datacenter: str) -> str:
        """Where an org of `datacenter` should call: its site's address, hamr's main one, or,
        when this hamr is one datacenter's (`--datacenter`), that datacenter's own hamr."""
        for site in self.sites_by_port.values():
            if site.datacenter == datacenter:
                return site.address
        settings = self.settings
        if self.own_site is not None:
            return f"the hamr of {datacenter}"
        return Site(datacenter, settings.host, settings.port).address
