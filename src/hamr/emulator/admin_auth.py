"""Who may use the emulator's admin API under /_hamr/: whoever sends its admin token in
`X-Hamr-Admin-Token` (compared in constant time). A refusal is a 403 naming the header,
counted per client address in the bucket refused API credentials count in
(`hamr_unauthenticated`), so that guessing the token meets a 429 as guessing a key does, and
in `hamr_auth_failures_total{header="X-Hamr-Admin-Token"}`; the right token is never counted."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from hamr.api.admission import UNAUTHENTICATED, count
from hamr.api.errors import HeaderRefused
from hamr.api.state import AppState
from hamr.emulator.state import Emulator
from hamr.settings import ADMIN_HEADER as ADMIN_HEADER  # the header, for the client and tests


async def admitted(request: Request) -> AppState:
    """The app's state, for a request carrying the admin token; a refusal is counted first
    (TooManyRequests once the address is over its budget)."""
    state: AppState = request.app.state.hamr
    sent = request.headers.get(ADMIN_HEADER)
    if sent is None:
        refused = HeaderRefused(
            f"The emulator's admin API needs the {ADMIN_HEADER} header; hamr printed the token "
            "at start (or set it with --admin-token).",
            header=ADMIN_HEADER,
        )
    elif not hmac.compare_digest(sent.encode(), state.settings.admin_token.encode()):
        refused = HeaderRefused(
            f"{ADMIN_HEADER} is not this emulator's admin token; use the one hamr printed at "
            "start (or set with --admin-token).",
            header=ADMIN_HEADER,
        )
    else:
        return state
    if state.metrics is not None:
        state.metrics.auth_failed(ADMIN_HEADER)
    client = request.client.host if request.client else "unknown"
    await count(request.scope, state, UNAUTHENTICATED, client)
    raise refused


def emulator_of(request: Request) -> Emulator:
    """The emulator the admin API and its page act on (bootstrap.py puts it beside the app's
    state; its routes are mounted with it only)."""
    emulator: Emulator = request.app.state.emulator
    return emulator
