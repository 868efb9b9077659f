"""The emulator's fault rules, applied in front of the app (`hamr serve --emulator` only).

With no rules in force a request costs one test of an empty tuple. Otherwise the first rule
that matches the request (method, path, the caller's org, the datacenter: the site it came to,
or else the caller's) and fires answers it: an error status in hamr's own shapes, a delay
before the real answer, or a broken connection. The admin API under /_hamr/ is never faulted,
so a rule can always be cleared.

Connection faults need the TCP connection itself, which ASGI hides: `hamr.server.listen` serves the
emulator with a protocol that puts it in the scope's extensions (`TRANSPORT_EXTENSION`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hamr.api.auth import authenticate
from hamr.api.errors import HttpError, TooManyRequests, error_response
from hamr.api.state import AppState
from hamr.domain.errors import HamrError
from hamr.domain.model import Org
from hamr.emulator.faults.model import (
    EMPTY_RESPONSE,
    MALFORMED_BODY,
    ConnectionFault,
    Effect,
    LatencyEffect,
    RequestFacts,
    StatusEffect,
)
from hamr.emulator.faults.rules import FaultRules

logger = logging.getLogger(__name__)

TRANSPORT_EXTENSION = "hamr.transport"
ADMIN_PREFIX = "/_hamr/"
# What a 429 rule's X-RateLimit-* headers say when the server has no such bucket configured.
_FALLBACK_LIMIT = (b"1000", b"60")
# Lingering for 0 seconds makes close() send a TCP RST: the peer sees "connection reset".
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class InjectedError(HttpError):
    """An error status a fault rule answers with, in the JSON:API shape of hamr's own."""

    def __init__(self, status: int, rule: str, retry_after: int | None):
        super().__init__(
            f"hamr's emulator answered {status} because fault rule {rule} matched this "
            "request; clear it with DELETE /_hamr/faults (or `hamr fault clear`)."
        )
        self.status = status
        self.title = "Service Unavailable" if status == 503 else "Internal Server Error"
        self.retry_after_seconds = retry_after


class FaultInjection:
    def __init__(self, app: ASGIApp, state: AppState, rules: FaultRules, rng: random.Random):
        self.app = app
        self.state = state
        self.rules = rules
        self.rng = rng

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.rules.in_force
            or scope["type"] != "http"
            or scope["path"].startswith(ADMIN_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        site = self.state.site_datacenter(scope)
        if site is not None and self.rules.datacenter_down(site):
            # A connection made before the site went down, or in the instant it did.
            await _break(scope, receive, reset=True)
            return
        facts = await self._facts(scope, site)
        picked = self.rules.pick(facts, self.rng)
        if picked is None:
            await self.app(scope, receive, send)
            return
        rule, effect = picked
        logger.info(
            "fault injected",
            extra={"rule": rule, "method": facts.method, "path": facts.path, "org": facts.org},
        )
        await self._apply(rule, effect, scope, receive, send)

    async def _apply(
        self, rule: str, effect: Effect, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if isinstance(effect, LatencyEffect):
            await asyncio.sleep(effect.delay_ms(self.rng) / 1000)
            await self.app(scope, receive, send)
        elif isinstance(effect, StatusEffect):
            await self._status(rule, effect, scope)(scope, receive, send)
        elif isinstance(effect, ConnectionFault) and effect.kind == MALFORMED_BODY:
            # Uncompressed, so that the client's JSON parser is what meets the damage.
            plain = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
            await self.app({**scope, "headers": plain}, receive, _malformed(send))
        else:  # connection_reset, empty_response, or down answered on the main address
            await _break(scope, receive, reset=effect != ConnectionFault(EMPTY_RESPONSE))

    def _status(self, rule: str, effect: StatusEffect, scope: Scope) -> ASGIApp:
        if effect.status != 429:
            return error_response(InjectedError(effect.status, rule, effect.retry_after))
        bucket = "hamr_get" if scope["method"] in ("GET", "HEAD") else "hamr_post"
        limit = {r.name: r for r in self.state.settings.rate_limits}.get(bucket)
        amount, period = (
            (str(limit.amount).encode(), str(limit.period).encode())
            if limit is not None
            else _FALLBACK_LIMIT
        )
        reset = effect.retry_after if effect.retry_after is not None else int(period)
        # Datadog's throttling answer: its older error body, and the headers its clients
        # wait by (the official ones sleep for X-RateLimit-Reset seconds before retrying).
        response = error_response(TooManyRequests())
        response.raw_headers += [
            (b"x-ratelimit-limit", amount),
            (b"x-ratelimit-period", period),
            (b"x-ratelimit-remaining", b"0"),
            (b"x-ratelimit-reset", b"%d" % reset),
            (b"x-ratelimit-name", bucket.encode()),
        ]
        return response

    async def _facts(self, scope: Scope, site: str | None) -> RequestFacts:
        """What rules may match on; the caller is looked up only when a rule asks for it."""
        org: Org | None = None
        if self.rules.match_on_caller:
            org = await self._caller(scope)
        datacenter = site or (org.datacenter if org is not None else None)
        return RequestFacts(scope["method"], scope["path"], org.uuid if org else None, datacenter)

    async def _caller(self, scope: Scope) -> Org | None:
        """The org whose credentials the request carries, or None; unknown credentials cost
        a storage lookup, off the event loop."""
        try:
            try:
                return authenticate(scope["headers"], self.state.service, cached_only=True).org
            except HamrError:
                principal = await self.state.reads(
                    authenticate, scope["headers"], self.state.service
                )
                return principal.org
        except HamrError:
            return None


async def _break(scope: Scope, receive: Receive, *, reset: bool) -> None:
    """End the connection without an answer: a TCP reset, or a plain close (an empty
    response). Returns once the server has seen the connection go, so it sends nothing."""
    transport = scope.get("extensions", {}).get(TRANSPORT_EXTENSION)
    if transport is None:
        raise RuntimeError("connection faults need hamr's server (hamr.server.listen)")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        transport.abort()
    else:
        transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass


def _malformed(send: Send) -> Send:
    """The app's answer with its body cut short and spoiled, still announced as JSON of
    exactly that length: what a proxy that mangles a response hands a client."""
    started: Message | None = None
    body = b""

    async def spoil(message: Message) -> None:
        nonlocal started, body
        if message["type"] == "http.response.start":
            started = message
            return
        if message["type"] != "http.response.body" or started is None:
            await send(message)
            return
        body += message.get("body", b"")
        if message.get("more_body", False):
            return
        broken = body[: len(body) // 2] + b"\x00<!-- truncated"
        headers = [(k, v) for k, v in started.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", b"%d" % len(broken)))
        await send({**started, "headers": headers})
        await send({"type": "http.response.body", "body": broken})

    return spoil
