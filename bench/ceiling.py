"""The references: bare Starlette on uvicorn returning a static HAMR response (`app`, the
ceiling), and a bare ASGI callable returning the same bytes (`bare`, no framework at all: the
harder one, since hamr's fast lane skips Starlette too). hamr's throughput is reported as a ratio
to each, measured on the same core in the same run."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

BODY = (
    b'{"data":{"attributes":{"hamr_status":2,"is_primary":true,'
    b'"modified_at":"2026-01-13T17:26:48.830968Z","modified_by":"bench",'
    b'"target_org_datacenter":"eu1","target_org_name":"bench org 1",'
    b'"target_org_uuid":"660f9511-f3ac-52e5-b827-557766551111"},'
    b'"id":"550e8400-e29b-41d4-a716-446655440000","type":"hamr_org_connections"}}'
)


async def static_connection(_request: Request) -> Response:
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/api/v2/hamr", static_connection, methods=["GET", "POST"])])

HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Every request answered with BODY and the headers Starlette's Response sends."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
