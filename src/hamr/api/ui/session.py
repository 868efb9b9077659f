"""The web page's session: a signed cookie (itsdangerous) holding the ids of the keys the
person signed in with and the CSRF token every form of the page carries. HttpOnly and
SameSite=Strict, limited to /ui; never a secret or a key's hash. Sessions last
SESSION_SECONDS; signed with HAMR_SESSION_SECRET (random per process when unset)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field

import itsdangerous
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "hamr_session"
COOKIE_PATH = "/ui"
SESSION_SECONDS = 12 * 60 * 60
CSRF_FIELD = "csrf"


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    key_ids: tuple[str, ...] = ()  # none: not signed in

    def accepts(self, sent: str | None) -> bool:
        """Whether a form's CSRF token is this session's."""
        return sent is not None and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionCookies:
    def __init__(self, secret: str):
        self._serializer = itsdangerous.URLSafeTimedSerializer(secret, salt="hamr-ui-session")

    def read(self, request: Request) -> Session | None:
        """The request's session, if its cookie is ours, intact and not expired."""
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=SESSION_SECONDS)
        except itsdangerous.BadData:
            return None
        if not isinstance(data, dict):
            return None
        csrf, key_ids = data.get("csrf"), data.get("keys")
        if not isinstance(csrf, str) or not isinstance(key_ids, list):
            return None
        if not all(isinstance(key_id, str) for key_id in key_ids):
            return None
        return Session(csrf, tuple(key_ids))

    def write(self, response: Response, session: Session, request: Request) -> None:
        value = self._serializer.dumps({"csrf": session.csrf, "keys": list(session.key_ids)})
        response.set_cookie(
            COOKIE,
            value,
            max_age=SESSION_SECONDS,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
