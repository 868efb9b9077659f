"""The web page at /ui: sign in and out, the pair, its history, and the pair operations
behind a confirmation. Server-rendered (Jinja2); the same service, rules, permissions and
rate limits as the API. Errors are pages, not JSON."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from hamr.api.admission import admit
from hamr.api.errors import TooManyRequests, detail_of, status_of
from hamr.api.history_query import decode_cursor, encode_cursor
from hamr.api.pair_routes import operation_named, run_operation
from hamr.api.routes import require_permission
from hamr.api.ui.access import SignInNeeded, Visitor, read_form, signed_in, ui_state
from hamr.api.ui.actors import Actor, actors
from hamr.api.ui.datacenter import datacenter_summary
from hamr.api.ui.session import CSRF_FIELD, Session
from hamr.api.ui.timeline import StatusChange, status_label, status_timeline, utc_text
from hamr.api.write_gate import a_write
from hamr.domain.errors import Forbidden, HamrError, NotFound, Subject
from hamr.domain.lifecycle import OPERATIONS, needed_for_operation
from hamr.domain.model import (
    HamrStatus,
    HistoryEntry,
    HistoryQuery,
    KeyKind,
    PairReport,
    Permission,
)
from hamr.domain.rules import MAX_TEXT_LENGTH

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
HISTORY_PAGE_SIZE = 20
TIMELINE_ROWS = 200
REFRESH_SECONDS = 5
# Which sign-in field a refused credential is.
FIELD_OF = {Subject.API_KEY: "api_key", Subject.APPLICATION_KEY: "app_key", Subject.TOKEN: "token"}

Handler = Callable[[Request], Awaitable[Response]]


def ui_routes() -> list[BaseRoute]:
    return [
        Route("/ui", page(home), methods=["GET"]),
        Route("/ui/sign-in", page(sign_in_form), methods=["GET"]),
        Route("/ui/sign-in", page(sign_in), methods=["POST"]),
        Route("/ui/sign-out", page(sign_out), methods=["POST"]),
        Route("/ui/pair", page(pair_page), methods=["GET"]),
        Route("/ui/history", page(history_page), methods=["GET"]),
        Route("/ui/pair/{operation}", page(confirm_operation), methods=["GET"]),
        Route("/ui/pair/{operation}", page(operate), methods=["POST"]),
        Mount("/ui/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def page(handler: Handler) -> Handler:
    """Every page's errors as pages: sign-in needed is a redirect, the rest an error page
    with the API's status and detail."""

    @functools.wraps(handler)
    async def answered(request: Request) -> Response:
        try:
            response = await handler(request)
        except SignInNeeded as needed:
            where = "/ui/sign-in" + (f"?why={quote(needed.why)}" if needed.why else "")
            response = RedirectResponse(where, status_code=303)
            if needed.why:
                ui_state(request)[1].clear(response)
        except HamrError as error:
            status = status_of(error)
            response = error_page(request, status.code, status.title, detail_of(error))
        response.headers.update(SECURITY_HEADERS)
        return response

    return answered


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_ui(request: Request) -> bool:
    """Whether a request is for the web page, whose errors are pages."""
    return request.url.path == "/ui" or request.url.path.startswith("/ui/")


def error_page(request: Request, status: int, title: str, detail: str) -> Response:
    response = render(request, "error.html", {"status": status, "title": title, "detail": detail})
    response.status_code = status
    response.headers.update(SECURITY_HEADERS)
    return response


def render(
    request: Request, name: str, context: dict[str, Any], visitor: Visitor | None = None
) -> Response:
    shown = {"visitor": visitor, "csrf_field": CSRF_FIELD, **context}
    if visitor is not None:
        shown["csrf"] = visitor.session.csrf
        shown["emulator"] = visitor.state.settings.emulator
    return templates.TemplateResponse(request, name, shown)


async def home(request: Request) -> Response:
    _state, cookies = ui_state(request)
    session = cookies.read(request)
    signed = session is not None and bool(session.key_ids)
    return RedirectResponse("/ui/pair" if signed else "/ui/sign-in", status_code=303)


# -- signing in and out ---------------------------------------------------------------------


async def sign_in_form(request: Request) -> Response:
    _state, cookies = ui_state(request)
    session = cookies.read(request) or Session()
    response = _sign_in_page(request, session, why=request.query_params.get("why"))
    cookies.write(response, session, request)
    return response


def _sign_in_page(
    request: Request,
    session: Session,
    *,
    why: str | None = None,
    problem: str | None = None,
    wrong: str | None = None,
    status: int = 200,
) -> Response:
    context = {"csrf": session.csrf, "why": why, "problem": problem, "wrong": wrong}
    response = render(request, "sign_in.html", context)
    response.status_code = status
    return response


async def sign_in(request: Request) -> Response:
    """Check the keys as the API would (the same messages, the same budget of refusals per
    client address), then start a session holding their ids."""
    state, cookies = ui_state(request)
    session = cookies.read(request)
    fields = await read_form(request, session)
    assert session is not None  # read_form refuses a form without one
    token = fields.get("token", "").strip()
    if token:
        headers = [(b"authorization", b"Bearer " + token.encode())]
    else:
        headers = [
            (b"dd-api-key", fields.get("api_key", "").strip().encode()),
            (b"dd-application-key", fields.get("app_key", "").strip().encode()),
        ]
    scope = {**request.scope, "headers": headers}
    try:
        principal = await admit(scope, state, "hamr_get")
    except Forbidden as refused:
        wrong = FIELD_OF.get(refused.about, "api_key") if refused.about else "api_key"
        return _sign_in_page(request, session, problem=refused.detail, wrong=wrong, status=403)
    except TooManyRequests:
        problem = "Too many refused sign-ins from this address; wait a minute and try again."
        return _sign_in_page(request, session, problem=problem, status=429)
    key_ids: tuple[str, ...] = (principal.key_id,)
    if principal.kind is not KeyKind.TOKEN:
        api = await state.reads(state.service.identify, fields["api_key"].strip(), KeyKind.API)
        if api is None:  # revoked in the moment between
            raise SignInNeeded("The API key was revoked; sign in again.")
        key_ids = (api.key_id, principal.key_id)
    response = RedirectResponse("/ui/pair", status_code=303)
    cookies.write(response, Session(key_ids=key_ids), request)  # a new CSRF token too
    return response


async def sign_out(request: Request) -> Response:
    _state, cookies = ui_state(request)
    await read_form(request, cookies.read(request))
    response = RedirectResponse("/ui/sign-in", status_code=303)
    cookies.clear(response)
    return response


# -- the pair -------------------------------------------------------------------------------


async def _report(visitor: Visitor) -> PairReport | None:
    try:
        return await visitor.state.reads(visitor.state.service.pairs.report, visitor.principal.org)
    except NotFound:
        return None


async def pair_page(request: Request) -> Response:
    visitor = await signed_in(request)
    report = await _report(visitor)
    context: dict[str, Any] = {
        "report": report,
        "refreshed_at": utc_text(visitor.state.service.now_us()),
        "refresh_seconds": REFRESH_SECONDS,
        "done": request.query_params.get("done"),
        "can_operate": _can_operate(visitor),
        "operations": _operations(report),
    }
    if report is not None:
        context["timeline"] = await _timeline(visitor)
        if visitor.principal.permission.allows(Permission.ADMIN):
            context["datacenter"] = await datacenter_summary(visitor.state, report.link)
    return render(request, "pair.html", context, visitor)


def _can_operate(visitor: Visitor) -> bool:
    needed = needed_for_operation(visitor.state.service.pairs.policy)
    return visitor.principal.permission.allows(needed)


def _operations(report: PairReport | None) -> list[dict[str, Any]]:
    """Each operation, whether it starts from where the pair is, and the steps it walks."""
    current = report.link.hamr_status if report is not None else None
    shown = []
    for name, starts in OPERATIONS.items():
        steps = starts.get(current) if current is not None else None
        shown.append(
            {
                "name": name,
                "available": steps is not None,
                "steps": [status_label(s) for s in steps or ()],
                "starts": " or ".join(status_label(s) for s in starts),
            }
        )
    return shown


async def _timeline(visitor: Visitor) -> str:
    query = HistoryQuery(size=TIMELINE_ROWS)
    service = visitor.state.service
    history = await visitor.state.reads(service.history_page, visitor.principal.org.uuid, query)
    changes = [
        StatusChange(entry.recorded_at_us, HamrStatus(int(str(entry.after["hamr_status"]))))
        for entry in history.entries
        if entry.after is not None and "hamr_status" in entry.after
    ]
    return status_timeline(changes, service.now_us())


async def history_page(request: Request) -> Response:
    visitor = await signed_in(request)
    cursor = request.query_params.get("cursor")
    before_id = decode_cursor(cursor) if cursor else None
    query = HistoryQuery(size=HISTORY_PAGE_SIZE, before_id=before_id)
    service = visitor.state.service
    found = await visitor.state.reads(service.history_page, visitor.principal.org.uuid, query)
    writers = await visitor.state.reads(actors, service, found.entries)
    rows = [_history_row(entry, writers[entry.id]) for entry in found.entries]
    older = encode_cursor(found.next_before_id) if found.next_before_id is not None else None
    context = {"rows": rows, "older": older, "timeline": await _timeline(visitor)}
    return render(request, "history.html", context, visitor)


def _history_row(entry: HistoryEntry, by: Actor) -> dict[str, Any]:
    def status_of(document: dict[str, object] | None) -> str:
        if document is None or "hamr_status" not in document:
            return "—"
        return status_label(HamrStatus(int(str(document["hamr_status"]))))

    return {
        "at": utc_text(entry.recorded_at_us),
        "by": by,
        "before": status_of(entry.before),
        "after": status_of(entry.after) if entry.after is not None else "unlinked",
        "reason": entry.reason or "",
        "violation": entry.violation or "",
    }


# -- operations -----------------------------------------------------------------------------


async def confirm_operation(request: Request) -> Response:
    operation = operation_named(request.path_params["operation"])
    visitor = await signed_in(request)
    require_permission(visitor.principal, needed_for_operation(visitor.state.service.pairs.policy))
    return await _confirm_page(request, visitor, operation)


async def _confirm_page(
    request: Request,
    visitor: Visitor,
    operation: str,
    *,
    refused: str | None = None,
    reason: str = "",
    status: int = 200,
) -> Response:
    report = await _report(visitor)
    (shown,) = [o for o in _operations(report) if o["name"] == operation]
    context = {
        "operation": shown,
        "report": report,
        "refused": refused,
        "reason": reason,
        "max_reason": MAX_TEXT_LENGTH,
    }
    response = render(request, "confirm.html", context, visitor)
    response.status_code = status
    return response


@a_write
async def operate(request: Request) -> Response:
    operation = operation_named(request.path_params["operation"])
    visitor = await signed_in(request, "hamr_post")
    fields = await read_form(request, visitor.session)
    require_permission(visitor.principal, needed_for_operation(visitor.state.service.pairs.policy))
    reason = fields.get("reason", "").strip()
    if not reason:
        refused = "Say why, in the reason field: it goes into the pair's history."
        return await _confirm_page(request, visitor, operation, refused=refused, status=400)
    try:
        await run_operation(visitor.state, visitor.principal, operation, reason)
    except HamrError as error:
        return await _confirm_page(
            request,
            visitor,
            operation,
            refused=detail_of(error),
            reason=reason,
            status=status_of(error).code,
        )
    return RedirectResponse(f"/ui/pair?done={operation}", status_code=303)


templates.env.filters["utc"] = utc_text
