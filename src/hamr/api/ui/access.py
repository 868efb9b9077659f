"""Who is using the web page, and what a form sent: the signed-in principal from the session
(re-checked against storage on every request, so a revoked key ends its session), each page
counted against the org's rate limit bucket, and forms read with their CSRF token checked."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from hamr.api.admission import count
from hamr.api.body import form_fields, read_form_body
from hamr.api.errors import HttpError
from hamr.api.state import AppState
from hamr.api.ui.session import CSRF_FIELD, Session, SessionCookies
from hamr.domain.model import Principal

# The page's largest form sends a handful of fields; more is not one of its forms.
MAX_FORM_FIELDS = 20


class SignInNeeded(Exception):
    """No session, or its keys no longer prove anyone: the page sends the person to sign in,
    saying why when there is a reason to."""

    def __init__(self, why: str | None = None):
        super().__init__(why)
        self.why = why


class FormRefused(HttpError):
    """A form without this session's CSRF token: not sent by this page, or from a session
    that has since ended."""

    status = 403
    title = "Forbidden"


@dataclass(frozen=True, slots=True)
class Visitor:
    state: AppState
    session: Session
    principal: Principal


def ui_state(request: Request) -> tuple[AppState, SessionCookies]:
    state: AppState = request.app.state.hamr
    cookies: SessionCookies = request.app.state.ui_cookies
    return state, cookies


async def signed_in(request: Request, bucket: str = "hamr_get") -> Visitor:
    """The person's principal, counted against its org's `bucket`."""
    state, cookies = ui_state(request)
    session = cookies.read(request)
    if session is None or not session.key_ids:
        raise SignInNeeded()
    principal = await state.reads(state.service.sessions.principal, session.key_ids)
    if principal is None:
        raise SignInNeeded("The keys this session signed in with were revoked; sign in again.")
    request.scope["state"]["org"] = principal.org.uuid
    await count(request.scope, state, bucket, principal.org.uuid)
    return Visitor(state, session, principal)


async def read_form(request: Request, session: Session | None) -> dict[str, str]:
    """The fields of a url-encoded form (the first value of each), once its CSRF token is
    found to be the session's."""
    state: AppState = request.app.state.hamr
    body = await read_form_body(request, state.settings.max_body_bytes)
    fields = form_fields(body, MAX_FORM_FIELDS)
    if session is None or not session.accepts(fields.get(CSRF_FIELD)):
        raise FormRefused(
            "This form did not come from this page, or its session has ended. Reload the "
            "page and send it again. Nothing was done."
        )
    return fields
