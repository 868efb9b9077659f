"""The two HAMR operations. GET is answered from memory on the event loop (cached
credentials, a cached connection, a cached body), and reads storage on a worker thread when
it must; POST's durable write goes through the group-commit writer."""

from __future__ import annotations

import functools
from dataclasses import replace

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from hamr.api.admission import admit
from hamr.api.body import read_json_body
from hamr.api.conditional import ETAG, Encoded, precondition_from
from hamr.api.errors import APP_KEY, OVERRIDE_HEADER, BadParameter
from hamr.api.get_answer import asked, document_answer
from hamr.api.idempotency import answer_once, idempotency_key, request_digest, written_answer
from hamr.api.paths import HAMR_PATH as HAMR_PATH  # where the app mounts these routes
from hamr.api.responses import json_response
from hamr.api.schemas import ConnectionRequest, read_connection_request
from hamr.api.state import AppState
from hamr.api.write_gate import a_write
from hamr.domain.errors import Forbidden, InvalidInput, Subject
from hamr.domain.lifecycle import MoveRefused, needed_permission
from hamr.domain.model import (
    ConnectionChange,
    KeyClaim,
    KeyedWrite,
    KeyKind,
    Permission,
    Precondition,
    Principal,
    Verdict,
)
from hamr.domain.rules import MAX_TEXT_LENGTH
from hamr.usecases.caches import NotCached

# What hamr accepted but did not do as asked (a target's name that differs from its record),
# or stored though it breaks a rule (a move outside the lifecycle, under `warn`).
WARNING_HEADER = "X-Hamr-Warning"
# `?dry_run=true`: answered with what would be stored, storing nothing; said so in this header.
DRY_RUN = "dry_run"
DRY_RUN_HEADER = "X-Hamr-Dry-Run"


async def hamr_connection(request: Request) -> Response:
    """One route for both methods, so that a 405 lists every allowed method."""
    if request.method == "POST":
        return await post_connection(request)
    return await get_connection(request)


async def get_connection(request: Request) -> Response:
    """HEAD, and GETs with a query string (the fast lane takes the others): the same answer,
    built by the same function."""
    state: AppState = request.app.state.hamr
    gzip, fresh = asked(request.scope["headers"])
    document = await own_connection(request.scope, state, fresh)
    staleness = state.staleness_header()
    headers, body = document_answer(document, state.wire.content_type.encode(), gzip, staleness)
    response = Response(body)
    response.raw_headers = headers
    return response


async def own_connection(scope: Scope, state: AppState, fresh: bool) -> Encoded:
    """GET's work, for this route and for the fast lane in front of the app (fast_get.py):
    admit the caller, then its connection's document, encoded in the app's wire format, and
    its ETag (both cached). `fresh` (Cache-Control: no-cache or max-age=0) reads the
    connection from storage, not memory: what another process wrote a moment ago."""
    principal = await admit(scope, state, "hamr_get")
    service = state.service
    connection = None if fresh else service.cached_connection(principal.org)
    if connection is None:
        connection = await state.reads(service.read_connection, principal.org, fresh)
    return state.documents.encode(connection)


@a_write
async def post_connection(request: Request) -> Response:
    state: AppState = request.app.state.hamr
    principal = await admit(request.scope, state, "hamr_post")
    service = state.service
    override = _override_reason(request.headers.get(OVERRIDE_HEADER))
    require_permission(principal, needed_permission(service.policy, override is not None))
    dry_run = _dry_run(request.query_params)
    body = await read_json_body(request, state.settings.max_body_bytes)
    precondition = precondition_from(request.headers, state.wire)
    post = _Post(state, principal, body, override, precondition, dry_run)
    key = idempotency_key(request.headers)
    # A dry run stores nothing, so there is nothing for a key to guard: it ignores one.
    if key is None or dry_run:
        return await post.answer(None)
    digest = request_digest(request.method, request.url.path, body)
    return await answer_once(state, principal.org.uuid, key, digest, post.answer)


class _Post:
    """One POST, admitted and read, to be answered (under its idempotency key's claim, if it
    sent one)."""

    def __init__(
        self,
        state: AppState,
        principal: Principal,
        body: bytes,
        override: str | None,
        precondition: Precondition | None,
        dry_run: bool,
    ):
        self.state = state
        self.principal = principal
        self.body = body
        self.override = override
        self.precondition = precondition
        self.dry_run = dry_run

    @functools.cached_property
    def request(self) -> ConnectionRequest:
        """The body parsed and its shape validated, once, when the answer is first worked
        out (under the idempotency key's claim, when it sent one)."""
        return read_connection_request(self.body, self.state.service.datacenters)

    def _resolved(self, cached_only: bool = False) -> tuple[ConnectionChange, list[str]]:
        """The body checked against the partner rules, its target named from hamr's records
        and the move judged. It may read storage (blocking: from a worker thread); with
        `cached_only`, it raises NotCached instead."""
        service = self.state.service
        org_of = functools.partial(service.orgs.get, cached_only=cached_only)
        requested = replace(
            self.request.checked(self.principal.org, service.datacenters, org_of),
            override=self.override,
        )
        return service.resolve_change(self.principal, requested, cached_only)

    async def _resolve(self) -> tuple[ConnectionChange, list[str]]:
        """From memory on the event loop when it has all the change needs (a pair writing
        again), else on a worker thread."""
        try:
            return self._resolved(cached_only=True)
        except NotCached:
            return await self.state.reads(self._resolved)

    async def answer(self, claim: KeyClaim | None) -> Response:
        state, principal = self.state, self.principal
        keyed = KeyedWrite(claim, written_answer(state)) if claim is not None else None
        metrics = None if self.dry_run else state.metrics  # a dry run moves nothing
        try:
            change, warnings = await self._resolve()
            change = replace(change, precondition=self.precondition, keyed=keyed)
            if self.dry_run:
                done = await state.writer.rehearse(principal, change)
            else:
                done = await state.writer.write(principal, change)
        except MoveRefused as refused:
            if metrics is not None:
                metrics.transition(refused.move)
            raise
        if metrics is not None and done.move is not None:
            metrics.transition(done.move)
        stored = "Would be stored" if self.dry_run else "Stored"
        if done.move is not None and done.move.verdict is Verdict.OVERRIDDEN:
            warnings.append(f"{stored} by override, though {done.violation}.")
        elif done.violation is not None:
            warnings.append(f"{stored}, but {done.violation}.")
        # A dry run's document was never stored, so it has no version to name. A write's is
        # encoded where GET finds it: the writer's next GET sends these bytes.
        if self.dry_run:
            document = state.wire.document(done.view)
            headers = {DRY_RUN_HEADER: "true"}
        else:
            encoded = state.documents.encode(done.view)
            document = encoded.body
            headers = {ETAG: encoded.etag}
        if warnings:
            headers[WARNING_HEADER] = header_text(" ".join(warnings))
        return Response(document, media_type=state.wire.content_type, headers=headers)


def _dry_run(query: QueryParams) -> bool:
    """Whether `?dry_run=true` asks for a rehearsal; `false`, or no parameter, is a write."""
    values = query.getlist(DRY_RUN)
    if not values:
        return False
    if len(values) == 1 and values[0] in ("true", "false"):
        return values[0] == "true"
    got = ", ".join(repr(v) for v in values)
    raise BadParameter(
        f"{DRY_RUN} must be true (answer with what would be stored, storing nothing) or "
        f"false, once; got {got}.",
        parameter=DRY_RUN,
    )


def _override_reason(value: str | None) -> str | None:
    """The break-glass reason an `X-Hamr-Override` header gives, if one was sent."""
    if value is None:
        return None
    reason = value.strip()
    if not reason or len(reason) > MAX_TEXT_LENGTH:
        raise InvalidInput(
            f"{OVERRIDE_HEADER} must say why the move is forced, in 1 to {MAX_TEXT_LENGTH} "
            "characters; the reason goes into the pair's history.",
            about=Subject.OVERRIDE,
        )
    return reason


def require_permission(principal: Principal, needed: Permission) -> None:
    """Refuse a credential without the permission this request needs, naming both."""
    if principal.permission.allows(needed):
        return
    token = principal.kind is KeyKind.TOKEN
    credential = "bearer token" if token else APP_KEY
    raise Forbidden(
        f"This {credential} has the {principal.permission.value} permission; this request "
        f"needs {needed.value}. Use a key or token with {needed.value} (`hamr key create "
        f"--permission {needed.value}`).",
        about=Subject.TOKEN if token else Subject.APPLICATION_KEY,
    )


def header_text(text: str) -> str:
    """Text safe in a header value: names may hold any character (non-Latin-1, line breaks),
    which are written as Python escapes so that the answer can be sent and read."""
    return "".join(
        char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


async def validate_api_key(request: Request) -> Response:
    """`GET /api/v1/validate`, as Datadog's: is this DD-API-KEY valid? (No application key.)"""
    state: AppState = request.app.state.hamr
    api_key = (request.headers.get("dd-api-key") or "").strip()
    identify = state.service.identify
    caller = await state.reads(identify, api_key, KeyKind.API) if api_key else None
    if caller is not None:
        return json_response(b'{"valid":true}')
    return json_response(b'{"errors":["Forbidden"]}', status=403)


async def openapi(request: Request) -> Response:
    """hamr's OpenAPI document, built once per app from the models it validates with."""
    state: AppState = request.app.state.hamr
    return json_response(state.openapi)
