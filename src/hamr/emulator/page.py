"""The web page's emulator controls (with `--emulator`, for admin keys): the fault rules in
force and the clock, with switches to add a rule, clear them all, move the clock on and go
back to the real time. The same FaultRules and VirtualClock as /_hamr/."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hamr.api.routes import require_permission
from hamr.api.ui.access import Visitor, read_form, signed_in
from hamr.api.ui.pages import page, render
from hamr.domain.errors import HamrError, NotFound, ValidationFailed, Violation
from hamr.domain.model import Permission, format_timestamp
from hamr.emulator.clock import ClockOutOfRange
from hamr.emulator.state import Emulator

# What the "add a rule" switch offers: an answer instead of the real one.
FAULT_STATUSES = ("429", "500", "503")
METHODS = ("any", "GET", "POST")
ADVANCES = {"60": "a minute", "900": "15 minutes", "3600": "an hour"}


def emulator_page_routes() -> list[BaseRoute]:
    return [
        Route("/ui/emulator", page(emulator_page), methods=["GET"]),
        Route("/ui/emulator/faults", page(add_fault), methods=["POST"]),
        Route("/ui/emulator/faults/clear", page(clear_faults), methods=["POST"]),
        Route("/ui/emulator/clock", page(move_clock), methods=["POST"]),
    ]


async def _operator(request: Request, bucket: str = "hamr_get") -> tuple[Visitor, Emulator]:
    visitor = await signed_in(request, bucket)
    emulator: Emulator | None = getattr(request.app.state, "emulator", None)
    if emulator is None:
        raise NotFound("This server is not an emulator (start it with --emulator).")
    require_permission(visitor.principal, Permission.ADMIN)
    return visitor, emulator


async def emulator_page(request: Request, problem: str | None = None) -> Response:
    visitor, emulator = await _operator(request)
    context = {
        "rules": [_described(rule) for rule in emulator.faults.rules()],
        "now": format_timestamp(emulator.clock()),
        "real": emulator.clock.offset_us == 0,
        "statuses": FAULT_STATUSES,
        "methods": METHODS,
        "advances": ADVANCES,
        "problem": problem,
    }
    return render(request, "emulator.html", context, visitor)


def _described(rule: dict[str, object]) -> dict[str, str]:
    shown = {k: v for k, v in rule.items() if k not in ("id", "fired")}
    return {"id": str(rule["id"]), "rule": json.dumps(shown), "fired": str(rule["fired"])}


async def add_fault(request: Request) -> Response:
    visitor, emulator = await _operator(request, "hamr_post")
    fields = await read_form(request, visitor.session)
    status, method = fields.get("status", ""), fields.get("method", "any")
    if status not in FAULT_STATUSES or method not in METHODS:
        raise ValidationFailed([Violation("/status", "Choose a status and a method offered.")])
    rule: dict[str, object] = {"status": int(status), "path": fields.get("path") or "/api/v2/hamr"}
    if method != "any":
        rule["method"] = method
    try:
        emulator.faults.add(rule)
    except HamrError as error:
        return await emulator_page(request, problem=error.detail)
    return RedirectResponse("/ui/emulator", status_code=303)


async def clear_faults(request: Request) -> Response:
    visitor, emulator = await _operator(request, "hamr_post")
    await read_form(request, visitor.session)
    emulator.faults.clear()
    return RedirectResponse("/ui/emulator", status_code=303)


async def move_clock(request: Request) -> Response:
    visitor, emulator = await _operator(request, "hamr_post")
    fields = await read_form(request, visitor.session)
    advance = fields.get("advance_seconds")
    if advance in ADVANCES:
        try:
            emulator.clock.advance(int(advance))
        except ClockOutOfRange as refused:
            raise ValidationFailed([Violation("/advance_seconds", str(refused))]) from None
    elif fields.get("real") == "true":
        emulator.clock.real()
    else:
        raise ValidationFailed([Violation("/advance_seconds", "Choose how far to move the clock.")])
    return RedirectResponse("/ui/emulator", status_code=303)
