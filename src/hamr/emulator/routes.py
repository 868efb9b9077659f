"""The emulator's admin API under /_hamr/, mounted only by `hamr serve --emulator` and guarded
by its admin token (admin_auth.py): `POST /_hamr/reset`, `GET|POST /_hamr/clock` and
`GET|PUT /_hamr/state`."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pydantic_core
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hamr.api.body import (
    announces_no_body,
    json_document,
    read_json_body,
    refuse_duplicate_members,
)
from hamr.api.pydantic_errors import parsed
from hamr.api.responses import json_response
from hamr.api.state import AppState
from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.model import format_timestamp
from hamr.emulator.admin_auth import admitted, emulator_of
from hamr.emulator.bodies import CLOCK_RULES, RESET_RULES, ClockMove, ResetBody
from hamr.emulator.clock import ClockBackwards, ClockOutOfRange, VirtualClock
from hamr.emulator.state import Emulator

# A state holds every row stored, far more than a connection: its own cap, not max_body_bytes.
STATE_MAX_BODY_BYTES = 64 * 1024 * 1024
RESET_PATH = "/_hamr/reset"
CLOCK_PATH = "/_hamr/clock"
STATE_PATH = "/_hamr/state"


def emulator_routes() -> list[Route]:
    return [
        Route(RESET_PATH, reset, methods=["POST"]),
        Route(CLOCK_PATH, clock, methods=["GET", "POST"]),
        Route(STATE_PATH, saved_state, methods=["GET", "PUT"]),
    ]


async def _admitted(request: Request) -> tuple[AppState, Emulator]:
    return await admitted(request), emulator_of(request)


async def reset(request: Request) -> Response:
    """`POST /_hamr/reset` with `{"seed": "empty"}` (the default) or `{"seed": "demo"}`."""
    state, emulator = await _admitted(request)
    if announces_no_body(request):
        asked = ResetBody()
    else:
        raw = await read_json_body(request, state.settings.max_body_bytes)
        asked = parsed(ResetBody, raw, RESET_RULES)
    async with state.write_gate.alone():  # writes in flight are answered first
        seeded = await anyio.to_thread.run_sync(emulator.reset, asked.seed)
        state.limiter.forget()
    orgs = [
        {
            "uuid": demo.org.uuid,
            "name": demo.org.name,
            "datacenter": demo.org.datacenter,
            "api_key": demo.api_key,
            "app_key": demo.app_key,
        }
        for demo in seeded
    ]
    return _document("hamr_emulator_reset", "reset", {"seed": asked.seed.value, "orgs": orgs})


async def clock(request: Request) -> Response:
    """`GET /_hamr/clock`: what time hamr believes it is. `POST` with exactly one of
    `{"advance_seconds": N}`, `{"set": "<RFC 3339>"}` or `{"real": true}`."""
    state, emulator = await _admitted(request)
    if request.method == "POST":
        raw = await read_json_body(request, state.settings.max_body_bytes)
        _move(emulator.clock, parsed(ClockMove, raw, CLOCK_RULES))
    now = emulator.clock()
    return _document(
        "hamr_emulator_clock",
        "clock",
        {
            "now": format_timestamp(now),
            "offset_seconds": emulator.clock.offset_us / 1_000_000,
            "real": emulator.clock.offset_us == 0,
        },
    )


async def saved_state(request: Request) -> Response:
    """`GET /_hamr/state`: everything stored, as one document. `PUT` that document back (whole)
    to make the database hold exactly it again; the answer is what GET now gives."""
    state, emulator = await _admitted(request)
    if request.method == "PUT":
        raw = await read_json_body(request, STATE_MAX_BODY_BYTES)
        async with state.write_gate.alone():  # writes in flight are answered first
            await anyio.to_thread.run_sync(_load, emulator, raw)
            state.limiter.forget()
    # Tens of megabytes are parsed and encoded off the event loop, as the database is read.
    body = await anyio.to_thread.run_sync(lambda: pydantic_core.to_json(emulator.state()))
    return json_response(body)


def _load(emulator: Emulator, raw: bytes) -> None:
    document = json_document(raw, "the document GET /_hamr/state gives")
    refuse_duplicate_members(raw)
    emulator.load_state(document)


def _move(clock: VirtualClock, move: ClockMove) -> None:
    """Move the clock as asked; a move out of range or backwards is the field's 400, and
    changes nothing."""
    try:
        if "advance_seconds" in move.model_fields_set:
            clock.advance(move.advance_seconds)
        elif "set" in move.model_fields_set:
            clock.set(move.set)
        else:
            clock.real()
    except (ClockOutOfRange, ClockBackwards) as refused:
        (field,) = move.model_fields_set
        raise ValidationFailed([Violation(f"/{field}", str(refused))]) from None


def _document(kind: str, ident: str, attributes: dict[str, Any]) -> Response:
    return json_response({"data": {"type": kind, "id": ident, "attributes": attributes}})
