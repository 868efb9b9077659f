"""The one composition root: settings in, a service or a whole application out. The app, the
CLI and the tests build through here; nothing is built at import time. The store, the clock
and the rate limiter may be handed in (a test's, or a benchmark's); otherwise they are made
from the settings."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hamr.domain.model import Policy
from hamr.domain.ports import ReadView
from hamr.settings import Settings, SettingsError, Site
from hamr.store.sql import SqlStore, open_store
from hamr.usecases.clock import Clock, system_clock_us
from hamr.usecases.service import HamrService

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from hamr.api.ratelimit import RateLimiter
    from hamr.api.state import AppState, ReplicaProbes
    from hamr.emulator.state import Emulator
    from hamr.usecases.read_routing import ReplicaRouting


def build_service(
    settings: Settings,
    store: SqlStore,
    clock: Clock = system_clock_us,
    view: ReadView | None = None,
) -> HamrService:
    """The service on `store` (its reads from `view`, when given), with the settings'
    datacenters and lifecycle rules."""
    return HamrService(
        store.unit_of_work,
        view or store.view,
        settings.datacenters,
        clock=clock,
        policy=Policy(settings.transitions),
        stuck_after_seconds=settings.stuck_after_seconds,
        datacenter_reads=store.datacenter_reads,
    )


def open_settings_store(settings: Settings, *, serving: bool = True) -> SqlStore:
    """The store the settings name, opened (and migrated). A server bounds every statement by
    `db_timeout_seconds` (a request must not wait on a hung database); an operator's command
    is not `serving` and waits as long as its work takes (a long history's audit, a copy)."""
    if not serving:
        return open_store(settings.database_url)
    return open_store(settings.database_url, settings.db_pool_size, settings.db_timeout_seconds)


def _replica_of(
    settings: Settings, store: SqlStore
) -> tuple[ReplicaRouting | None, ReplicaProbes | None, Callable[[], None]]:
    """With `--read-database`: the routing between the leader and the site's own node, what
    its probes read (blocking), and what closes the node's engine."""
    from hamr.api.state import ReplicaProbes
    from hamr.store.replica import open_replica, written_position
    from hamr.usecases.read_routing import ReplicaRouting

    if not settings.read_database_url:
        return None, None, lambda: None
    replica = open_replica(
        settings.read_database_url, settings.db_pool_size, settings.db_timeout_seconds
    )
    routing = ReplicaRouting(store.view, replica.view, settings.max_staleness_seconds)
    probes = ReplicaProbes(lambda: written_position(store.engine), replica.replayed)
    return routing, probes, replica.close


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def close() -> None:
        first()
        second()

    return close


@dataclass(frozen=True, slots=True)
class HamrApp:
    """The ASGI application `create_app` builds (request telemetry, around the emulator's fault
    rules, around the GET fast lane, around Starlette) with what it was built from."""

    state: AppState
    store: SqlStore
    emulator: Emulator | None
    asgi: ASGIApp

    @property
    def service(self) -> HamrService:
        return self.state.service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    store: SqlStore | None = None,
    clock: Clock | None = None,
    limiter: RateLimiter | None = None,
    rng: random.Random | None = None,
) -> HamrApp:
    """Open (and migrate) the store and wire the service; fails here, not on the first request.
    `clock` (microseconds) replaces the system's; with `--emulator`, the service and the rate
    limits run on the emulator's virtual clock over that one, the admin API is mounted and
    fault rules (drawn with `rng`) are applied in front of everything."""
    # Imported here, not with the module: the CLI's verbs build only the service, and a
    # command should not pay for the web application (0.6 s of every `hamr` run's start).
    import pydantic_core
    from starlette.routing import Mount, Route

    from hamr.api.app import api_app, api_routes
    from hamr.api.metrics import Metrics
    from hamr.api.openapi import openapi_document
    from hamr.api.ratelimit import RateLimiter
    from hamr.api.schemas import DocumentCache
    from hamr.api.state import AppState
    from hamr.api.wire import WireFormat
    from hamr.emulator.clock import VirtualClock
    from hamr.emulator.faults.file import load_fault_file
    from hamr.emulator.faults.injection import FaultInjection
    from hamr.emulator.faults.routes import fault_routes
    from hamr.emulator.faults.rules import FaultRules
    from hamr.emulator.openapi import emulator_openapi
    from hamr.emulator.page import emulator_page_routes
    from hamr.emulator.pair_admin import pair_admin_routes
    from hamr.emulator.routes import emulator_routes
    from hamr.emulator.state import Emulator
    from hamr.server.access_log import AccessLog
    from hamr.server.background import background_work
    from hamr.server.telemetry import Batches, RequestTelemetry
    from hamr.server.writer import GroupCommitWriter
    from hamr.usecases.read_routing import RoutedView
    from hamr.usecases.storage_reads import StorageReads

    if settings.emulator and not settings.admin_token:
        raise SettingsError("the emulator needs an admin token (hamr serve generates one)")
    faults = FaultRules() if settings.emulator else None
    if faults is not None and settings.faults_file:
        load_fault_file(faults, settings.faults_file)  # before the store: a bad file fails fast
    store = store or open_settings_store(settings)
    real_clock = clock or system_clock_us
    virtual_clock = VirtualClock(real_clock) if settings.emulator else None
    routing, probes, close_replica = _replica_of(settings, store)
    view = RoutedView(routing, store.view) if routing is not None else None
    service = build_service(settings, store, virtual_clock or real_clock, view)
    emulated = (
        emulator_routes() + pair_admin_routes() + fault_routes() + emulator_page_routes()
        if virtual_clock
        else []
    )
    routes = api_routes(settings, emulated)
    wire = WireFormat.named(settings.wire)
    postgres = not settings.database_url.startswith("sqlite")
    writer = GroupCommitWriter(
        service, deadline_seconds=settings.write_timeout_seconds if postgres else None
    )
    state = AppState(
        settings,
        service,
        writer=writer,
        wire=wire,
        documents=DocumentCache(wire),
        openapi=pydantic_core.to_json(
            openapi_document(
                wire,
                emulator_openapi() if virtual_clock else None,
                served={r.path for r in routes if isinstance(r, Route)},
            )
        ),
        limiter=limiter
        or RateLimiter(
            settings.rate_limits,
            settings.rate_limit_storage,
            clock=(lambda: virtual_clock() / 1_000_000) if virtual_clock else time.time,
        ),
        metrics=Metrics(
            service,
            frozenset(r.path for r in routes if isinstance(r, Route | Mount)),
            settings.datacenter,
        )
        if settings.metrics
        else None,
        # One pooled connection is the writer's; the others may read at once.
        reads=StorageReads(max(1, settings.db_pool_size - 1), settings.db_timeout_seconds),
        sites_by_port={site.port: site for site in settings.sites},
        own_site=Site(settings.datacenter, settings.host, settings.port)
        if settings.datacenter
        else None,
        replica=routing,
        replica_probes=probes,
    )
    emulator = None
    if virtual_clock is not None and faults is not None:
        emulator = Emulator(service, virtual_clock, faults)
        if settings.state_file:
            emulator.load_state_file(Path(settings.state_file))
    access_log = AccessLog.from_logging(settings.log_format)
    batches = Batches([r.flush for r in (access_log, state.metrics) if r is not None])
    starlette, served = api_app(
        state, routes, background_work(state, writer, batches, _both(store.close, close_replica))
    )
    if emulator is not None:
        starlette.state.emulator = emulator
        served = FaultInjection(served, state, emulator.faults, rng or random.Random())  # noqa: S311
    return HamrApp(
        state, store, emulator, RequestTelemetry(served, state.metrics, access_log, batches)
    )
