"""The HAMR API as a Starlette application: its routes, its exception handlers (every error
through api/errors.py) and the GET fast lane in front. bootstrap.py builds what it serves
with, and adds the emulator's routes and the server's telemetry around it."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Lifespan

from hamr.api.compression import GZIP_MINIMUM_BYTES, GzipWhenAsked
from hamr.api.datacenter_routes import (
    DATACENTER_PATH,
    OPERATION_PATH,
    datacenter_operation,
    get_datacenter,
)
from hamr.api.errors import MethodNotAllowed, error_response, unexpected_error_response
from hamr.api.fast_get import FastGet
from hamr.api.history_routes import HISTORY_PATH, list_history
from hamr.api.pair_routes import PAIR_PATH, get_pair, post_operation
from hamr.api.probes import healthz, metrics, readyz
from hamr.api.routes import HAMR_PATH, hamr_connection, openapi, validate_api_key
from hamr.api.state import AppState
from hamr.api.ui.pages import error_page, is_ui, ui_routes
from hamr.api.ui.session import SessionCookies
from hamr.domain.errors import HamrError, NotFound, OutcomeUnknown
from hamr.settings import Settings


def api_routes(settings: Settings, extra: Sequence[BaseRoute] = ()) -> list[BaseRoute]:
    """The API's routes, /metrics when it is served on the API's port, `extra` (the
    emulator's), then the web page's."""
    routes: list[BaseRoute] = [
        Route(HAMR_PATH, hamr_connection, methods=["GET", "POST"]),
        Route(HISTORY_PATH, list_history, methods=["GET"]),
        Route(PAIR_PATH, get_pair, methods=["GET"]),
        Route(PAIR_PATH + "/{operation}", post_operation, methods=["POST"]),
        Route(DATACENTER_PATH, get_datacenter, methods=["GET"]),
        Route(OPERATION_PATH, datacenter_operation, methods=["GET", "POST"]),
        Route("/api/v1/validate", validate_api_key, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.metrics and settings.metrics_port == 0:
        routes.append(Route("/metrics", metrics, methods=["GET"]))
    return routes + list(extra) + ui_routes()


def api_app(
    state: AppState, routes: Sequence[BaseRoute], lifespan: Lifespan[Starlette]
) -> tuple[Starlette, ASGIApp]:
    """The Starlette application on `routes` (whose `app.state` the emulator's routes may add
    to), and what to serve: it behind the GET fast lane."""
    app = Starlette(
        routes=list(routes),
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
    secret = state.settings.session_secret or secrets.token_urlsafe(32)
    app.state.ui_cookies = SessionCookies(secret)
    return app, FastGet(app, state)


async def _hamr_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HamrError)
    state: AppState = request.app.state.hamr
    if isinstance(exc, OutcomeUnknown) and state.metrics is not None:
        state.metrics.write_outcome_unknown()
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
