"""The application factory: everything a server needs is built here, from settings, per call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pydantic_core
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hamr.api.access_log import AccessLog
from hamr.api.collector import scheduled_full_collections
from hamr.api.compression import GZIP_MINIMUM_BYTES, GzipWhenAsked
from hamr.api.emulator_routes import emulator_routes
from hamr.api.errors import MethodNotAllowed, error_response, unexpected_error_response
from hamr.api.fast_get import FastGet
from hamr.api.fault_injection import FaultInjection
from hamr.api.fault_routes import fault_routes
from hamr.api.history_routes import HISTORY_PATH, list_history
from hamr.api.metrics import Metrics
from hamr.api.openapi import openapi_document
from hamr.api.pair_routes import PAIR_PATH, get_pair, post_operation
from hamr.api.probes import healthz, metrics, readyz
from hamr.api.ratelimit import RateLimiter
from hamr.api.routes import HAMR_PATH, hamr_connection, openapi, validate_api_key
from hamr.api.schemas import DocumentCache
from hamr.api.state import AppState
from hamr.api.storage_reads import StorageReads
from hamr.api.telemetry import RequestTelemetry, flush_periodically
from hamr.api.ui.emulator_page import emulator_page_routes
from hamr.api.ui.pages import error_page, is_ui, ui_routes
from hamr.api.ui.session import SessionCookies
from hamr.api.wire import WireFormat
from hamr.api.writer import GroupCommitWriter
from hamr.clock import EmulatorClock, system_clock_us
from hamr.domain.errors import HamrError, NotFound, Unavailable
from hamr.domain.fault_rules import FaultRules
from hamr.domain.model import Policy
from hamr.emulator import Emulator
from hamr.fault_file import load_fault_file
from hamr.service import Clock, HamrService
from hamr.settings import Settings, SettingsError
from hamr.store.sql import open_store

logger = logging.getLogger(__name__)
OUTAGE_LOG_SECONDS = 30.0
OUTAGE_POLL_SECONDS = 1.0


class HamrApp:
    """The ASGI application `create_app` builds: request telemetry, around the GET fast lane,
    around Starlette. Telemetry sits outside Starlette so that every response, Starlette's own
    500 included, carries the request id and rate limit headers."""

    def __init__(self, state: AppState, asgi: ASGIApp):
        self.state = state
        self._asgi = asgi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._asgi(scope, receive, send)


def create_app(
    settings: Settings, *, clock: Clock | None = None, rng: random.Random | None = None
) -> HamrApp:
    """Open (and migrate) the store and wire the service; fails here, not on the first request.
    `clock` (microseconds) replaces the system's; with `--emulator`, the service and the rate
    limits run on the emulator's clock, over that one, the admin API is mounted and fault rules
    (drawn with `rng`) are applied in front of everything."""
    if settings.emulator and not settings.admin_token:
        raise SettingsError("the emulator needs an admin token (hamr serve generates one)")
    faults = FaultRules() if settings.emulator else None
    if faults is not None and settings.faults_file:
        load_fault_file(faults, settings.faults_file)  # before the store: a bad file fails fast
    store = open_store(settings.database_url, settings.db_pool_size, settings.db_timeout_seconds)
    real_clock = clock or system_clock_us
    emulator_clock = EmulatorClock(real_clock) if settings.emulator else None
    service = HamrService(
        store.unit_of_work,
        store.view,
        settings.datacenters,
        clock=emulator_clock or real_clock,
        policy=Policy(settings.transitions),
        stuck_after_seconds=settings.stuck_after_seconds,
    )
    wire = WireFormat.named(settings.wire)
    routes: list[BaseRoute] = [
        Route(HAMR_PATH, hamr_connection, methods=["GET", "POST"]),
        Route(HISTORY_PATH, list_history, methods=["GET"]),
        Route(PAIR_PATH, get_pair, methods=["GET"]),
        Route(PAIR_PATH + "/{operation}", post_operation, methods=["POST"]),
        Route("/api/v1/validate", validate_api_key, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.metrics and settings.metrics_port == 0:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    if emulator_clock is not None:
        routes += emulator_routes() + fault_routes() + emulator_page_routes()
    routes += ui_routes()
    state = AppState(
        settings,
        store,
        service,
        writer=GroupCommitWriter(service),
        wire=wire,
        documents=DocumentCache(wire),
        openapi=pydantic_core.to_json(openapi_document(wire)),
        limiter=RateLimiter(
            settings.rate_limits,
            settings.rate_limit_storage,
            clock=(lambda: emulator_clock() / 1_000_000) if emulator_clock else time.time,
        ),
        metrics=Metrics(service, frozenset(r.path for r in routes if isinstance(r, Route | Mount)))
        if settings.metrics
        else None,
        # One pooled connection is the writer's; the others may read at once.
        reads=StorageReads(max(1, settings.db_pool_size - 1), settings.db_timeout_seconds),
        emulator=(
            Emulator(service, emulator_clock, faults)
            if emulator_clock is not None and faults is not None
            else None
        ),
        sites_by_port={site.port: site for site in settings.sites},
    )

    if state.emulator is not None and settings.state_file:
        state.emulator.load_state_file(Path(settings.state_file))
    access_log = AccessLog.from_logging(settings.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        poller = asyncio.create_task(_watch_storage(state))
        flushes = [
            recorder.flush for recorder in (access_log, state.metrics) if recorder is not None
        ]
        flusher = asyncio.create_task(flush_periodically(flushes))
        state.writer.start()
        metrics_server = None
        if state.metrics is not None and settings.metrics_port:
            metrics_server = state.metrics.serve_apart(settings.host, settings.metrics_port)
        try:
            async with scheduled_full_collections(settings.gc_period_seconds):
                yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
                metrics_server.server_close()
            await state.writer.stop()
            for task in (poller, flusher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for flush in flushes:
                flush()
            store.close()
            logger.info("stopped; the database is closed")

    app = Starlette(
        routes=routes,
        middleware=[
            # The official Python client asks for gzip; HAMR documents are just above this.
            Middleware(GzipWhenAsked, minimum_size=GZIP_MINIMUM_BYTES),
        ],
        exception_handlers={
            HamrError: _hamr_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # /api/v2/hamr/ is an unknown path, not a redirect
    app.state.hamr = state
    app.state.ui_cookies = SessionCookies(settings.session_secret or secrets.token_urlsafe(32))
    served: ASGIApp = FastGet(app, state)
    if faults is not None:
        served = FaultInjection(served, state, faults, rng or random.Random())  # noqa: S311
    return HamrApp(state, RequestTelemetry(served, state.metrics, access_log))


async def _watch_storage(state: AppState) -> None:
    """What other processes change (revocations by the CLI, writes by other servers) reaches
    this one's caches within one poll interval. While the database is unreachable it is
    tried every OUTAGE_POLL_SECONDS instead: each failed connect costs the process's one core
    some milliseconds, which the requests it can still answer (probes, cached GETs) would
    otherwise wait behind ten times a second."""
    unreachable_since: float | None = None
    last_said = 0.0
    while True:
        poll = state.settings.credentials_poll_seconds
        await asyncio.sleep(poll if unreachable_since is None else max(poll, OUTAGE_POLL_SECONDS))
        try:
            changes = await state.reads(state.service.storage_changes)
        except Unavailable as error:
            # One line when the database goes, one every OUTAGE_LOG_SECONDS while it stays
            # away, one when it is back: an outage is not a traceback every poll.
            now = time.monotonic()
            if unreachable_since is None or now - last_said >= OUTAGE_LOG_SECONDS:
                logger.warning("the database is unreachable", extra={"reason": error.detail})
                unreachable_since = unreachable_since or now
                last_said = now
            continue
        except Exception:
            logger.exception("could not check storage for changes")
            continue
        if unreachable_since is not None:
            away = time.monotonic() - unreachable_since
            logger.warning("the database is back", extra={"away_seconds": round(away, 1)})
            unreachable_since = None
        state.service.notice(changes)


async def _hamr_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HamrError)
    state: AppState = request.app.state.hamr
    return error_response(exc, live=state.wire.live_errors)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_ui(request):
        title = "Method Not Allowed" if exc.status_code == 405 else "Not Found"
        detail = f"There is no page {request.method} {request.url.path}."
        return error_page(request, exc.status_code, title, detail)
    if exc.status_code == 405:
        allowed = ", ".join(sorted((exc.headers or {}).get("Allow", "").split(", ")))
        return error_response(
            MethodNotAllowed(
                f"{request.method} is not allowed on {request.url.path}; use {allowed}."
            ),
            headers={"Allow": allowed},
        )
    return error_response(
        NotFound(f"There is no {request.url.path}; the HAMR API is served at {HAMR_PATH}.")
    )


async def _unexpected(request: Request, _exc: Exception) -> Response:
    response = unexpected_error_response(request.scope)  # Starlette re-raises after sending it
    if is_ui(request):
        detail = "The server hit an unexpected error; its log has the details."
        return error_page(request, 500, "Internal Server Error", detail)
    return response
