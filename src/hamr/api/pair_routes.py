"""hamr's pair operations, beside the seed path: where the caller's pair stands
(`GET /api/v2/hamr/pair`), and failover, recover, complete and abort, each walking the pair
through the lifecycle in one transaction with a reason in history. JSON:API, for either org's
keys."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from hamr.api.admission import admit
from hamr.api.body import read_json_body
from hamr.api.idempotency import answer_once, idempotency_key, request_digest
from hamr.api.paths import PAIR_PATH as PAIR_PATH  # where the app mounts these routes
from hamr.api.pydantic_errors import BodyRules, parsed
from hamr.api.responses import json_response
from hamr.api.routes import require_permission
from hamr.api.state import AppState
from hamr.api.write_gate import a_write
from hamr.domain.errors import HamrError, NotFound
from hamr.domain.idempotency import KeyedOperation
from hamr.domain.lifecycle import OPERATIONS, OperationRefused, needed_for_operation
from hamr.domain.model import (
    AppliedChange,
    KeyClaim,
    Link,
    PairReport,
    Principal,
    StoredAnswer,
    format_timestamp,
)
from hamr.domain.rules import MAX_TEXT_LENGTH

PAIR_TYPE = "hamr_pairs"
T = TypeVar("T")


class _OperationRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"\S")]
    hold: bool = False
    dry_run: bool = False


async def get_pair(request: Request) -> Response:
    state: AppState = request.app.state.hamr
    principal = await admit(request.scope, state, "hamr_get")
    report = await state.reads(state.service.pairs.report, principal.org)
    return json_response(pairjson_response(report))


@a_write
async def post_operation(request: Request) -> Response:
    """`POST /api/v2/hamr/pair/{operation}` with `{"reason": …, "hold"?: …, "dry_run"?: …}`,
    under its `Idempotency-Key` as a connection's POST is (a dry run ignores the key)."""
    state: AppState = request.app.state.hamr
    operation = operation_named(request.path_params["operation"])
    principal = await admit(request.scope, state, "hamr_post")
    require_permission(principal, needed_for_operation(state.service.pairs.policy))
    body = await read_json_body(request, state.settings.max_body_bytes)
    key = idempotency_key(request.headers)
    if key is None or _dry_run(body):
        return await _answer(state, principal, operation, body, None)
    digest = request_digest(request.method, request.url.path, body)

    async def handle(claim: KeyClaim) -> Response:
        return await _answer(state, principal, operation, body, claim)

    return await answer_once(state, principal.org.uuid, key, digest, handle, connection=False)


def _dry_run(body: bytes) -> bool:
    """Whether a body asks for a dry run; one that does not parse is answered (its 400) under
    the key, as a connection POST's refused body is."""
    try:
        return _parse(body).dry_run
    except HamrError:
        return False


async def _answer(
    state: AppState, principal: Principal, operation: str, body: bytes, claim: KeyClaim | None
) -> Response:
    """Run the operation the body asks for; under a claim, the answer is the one stored with
    the walk, in its transaction."""
    asked = _parse(body)
    if claim is not None and not asked.dry_run:
        keyed = KeyedOperation(claim, functools.partial(_stored_answer, operation))
        walk = functools.partial(
            state.service.pairs.run_keyed, principal, operation, asked.reason, asked.hold, keyed
        )
        _, stored = await _operate(state, operation, asked.hold, False, walk)
        return json_response(stored.body, status=stored.code)
    done, report = await run_operation(
        state, principal, operation, asked.reason, hold=asked.hold, dry_run=asked.dry_run
    )
    document = _operation_document(operation, done, report, asked.dry_run)
    headers = {"X-Hamr-Dry-Run": "true"} if asked.dry_run else None
    return json_response(document, headers=headers)


def _operation_document(
    operation: str, done: Sequence[AppliedChange], report: PairReport, dry_run: bool
) -> dict[str, Any]:
    """The answer to an operation: the pair (as a dry run would leave it) and the steps."""
    document = pairjson_response(report, done[-1].after if dry_run else None)
    document["meta"] = {
        "operation": operation,
        "dry_run": dry_run,
        "steps": [_step(change) for change in done],
    }
    return document


def _stored_answer(
    operation: str, done: Sequence[AppliedChange], report: PairReport
) -> StoredAnswer:
    """A keyed operation's answer, as its retries get it."""
    return StoredAnswer(
        200, pydantic_core.to_json(_operation_document(operation, done, report, False))
    )


def operation_named(name: str) -> str:
    """The pair operation a path names; NotFound, listing them, if it names none."""
    if name not in OPERATIONS:
        raise NotFound(f"There is no pair operation {name!r}; use one of: {', '.join(OPERATIONS)}.")
    return name


async def run_operation(
    state: AppState,
    principal: Principal,
    operation: str,
    reason: str,
    *,
    hold: bool = False,
    dry_run: bool = False,
) -> tuple[list[AppliedChange], PairReport]:
    """A pair operation by a caller allowed to run it, for the API and the web page alike:
    the steps it stored (or would have) and the pair as they left it, counted in the metrics
    and put in the caches."""
    walk = functools.partial(state.service.pairs.run, principal, operation, reason, hold, dry_run)
    return await _operate(state, operation, hold, dry_run, walk)


async def _operate(
    state: AppState,
    operation: str,
    hold: bool,
    dry_run: bool,
    walk: Callable[[], tuple[list[AppliedChange], T]],
) -> tuple[list[AppliedChange], T]:
    """`walk` (`run`, or `run_keyed` whose answer is stored with the walk) on a worker
    thread; its outcome counted and its steps put in the caches."""
    try:
        done, outcome = await anyio.to_thread.run_sync(walk)
    except OperationRefused:
        if state.metrics is not None:
            state.metrics.pair_operation(operation, "refused")
        raise
    if not dry_run:
        state.service.remember_writes(done)
    if state.metrics is not None:
        counted = "dry_run" if dry_run else "held" if hold else "done"
        state.metrics.pair_operation(operation, counted)
    return done, outcome


def pairjson_response(report: PairReport, would_be: Link | None = None) -> dict[str, Any]:
    """Both sides of the pair, its status and since when, its health, what may follow. With
    `would_be` (a dry run), the connection as the operation would leave it."""
    link = would_be or report.link
    sides = [link.first, link.second] if link.linked else [link.first]
    first_primary = link.first_is_primary
    return {
        "data": {
            "type": PAIR_TYPE,
            "id": link.id,
            "attributes": {
                "hamr_status": int(link.hamr_status),
                "status_name": link.hamr_status.name,
                "status_since": format_timestamp(report.status_since_us),
                "health": report.health,
                "allowed_next": [int(s) for s in report.allowed_next],
                "policy": report.policy.value,
                "modified_at": format_timestamp(link.modified_at_us),
                "modified_by": link.modified_by,
                "linked": link.linked,
                "sides": [
                    {
                        "org_uuid": org.uuid,
                        "org_name": org.name,
                        "datacenter": org.datacenter,
                        "is_primary": first_primary if org is link.first else not first_primary,
                        "is_caller": org.uuid == report.viewer,
                    }
                    for org in sides
                ],
            },
        }
    }


def _step(change: AppliedChange) -> dict[str, Any]:
    before = change.before
    return {
        "from": int(before.hamr_status) if before else None,
        "to": int(change.after.hamr_status),
        "modified_at": format_timestamp(change.after.modified_at_us),
    }


_BODY_RULES = BodyRules(
    body='The body must be {"reason": "..."}.',
    fields={
        "/reason": f"reason must say why, as a string of 1 to {MAX_TEXT_LENGTH} characters.",
        "/hold": "hold must be true or false.",
        "/dry_run": "dry_run must be true or false.",
    },
    unknown="{name} is not a field of a pair operation; send reason, and optionally hold and "
    "dry_run.",
    not_json='The body is not valid JSON; send {"reason": "..."}.',
)


def _parse(body: bytes) -> _OperationRequest:
    return parsed(_OperationRequest, body, _BODY_RULES)
