"""Endpoints for the platform rather than for HAMR clients: liveness, readiness and metrics.
None of them needs keys."""

from __future__ import annotations

import pydantic_core
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from hamr.api.metrics import CONTENT_TYPE
from hamr.api.responses import json_response
from hamr.api.state import AppState
from hamr.domain.errors import Unavailable
from hamr.usecases.read_routing import ReplicaRouting
from hamr.usecases.service import Unready

_ALIVE = pydantic_core.to_json({"status": "ok"})


async def healthz(_request: Request) -> Response:
    """The process is up and its event loop answers."""
    return json_response(_ALIVE)


# What /readyz says of each reason a server cannot serve, with what an operator does about it.
UNREADY = {
    Unready.SCHEMA_BEHIND: (
        "the database schema is not at this hamr's revision; run `hamr db upgrade`"
    ),
    Unready.UNREACHABLE: "the database is unreachable",
    Unready.DISK_FULL: "the database's disk is full: the last write failed for want of space",
}


async def readyz(request: Request) -> Response:
    """Ready to serve when the database answers at the expected schema revision; 503 says
    why not. The rate limit storage is reported but does not decide: without it requests are
    served unlimited, and taking every process out of rotation for it would serve none."""
    state: AppState = request.app.state.hamr
    try:
        unready = await state.reads(state.service.readiness)
        database = None if unready is None else UNREADY[unready]
    except Unavailable:  # the database hangs: it does not answer within the timeout
        database = f"the database did not answer within {state.settings.db_timeout_seconds:g} s"
    limits = (
        "ok"
        if await state.limiter.reachable()
        else "unreachable; requests are not being rate limited"
    )
    checks = {"database": database or "ok", "rate_limit_storage": limits}
    if state.replica is not None:  # reported, not deciding: reads fall back to the leader
        checks["read_database"] = _own_node(state.replica)
    ready = database is None
    return json_response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )


def _own_node(replica: ReplicaRouting) -> str:
    """`--read-database`'s node as /readyz reports it: its role and how old its copy may be."""
    staleness = replica.staleness_seconds()
    if staleness is None:
        return f"{replica.role.value}: not seen caught up with the leader"
    return f"{replica.role.value}, its copy at most {staleness:.1f} s old"


async def metrics(request: Request) -> Response:
    """Prometheus' text format; stored state is counted off the event loop."""
    state: AppState = request.app.state.hamr
    assert state.metrics is not None  # the route exists only when metrics are on
    return Response(await run_in_threadpool(state.metrics.exposition), media_type=CONTENT_TYPE)
