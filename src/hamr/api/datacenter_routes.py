"""Datacenter operations over HTTP: `POST /api/v2/hamr/datacenters/{datacenter}/{operation}`
starts one (202; the server walks it in the background, server/datacenter_runner.py), or with
`dry_run` says what it would do (200, nothing stored); `GET` on the same path follows the
newest one's progress; `GET /api/v2/hamr/datacenters/{datacenter}` counts the datacenter's
pairs by status. Admin credentials only: the operation reaches every org's pair."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import anyio.to_thread
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from hamr.api.admission import admit
from hamr.api.body import read_json_body
from hamr.api.idempotency import answer_once, idempotency_key, request_digest
from hamr.api.paths import HAMR_PATH
from hamr.api.pydantic_errors import BodyRules, parsed
from hamr.api.responses import json_response
from hamr.api.routes import require_permission
from hamr.api.state import AppState
from hamr.api.write_gate import a_write
from hamr.domain.datacenter_jobs import (
    DatacenterJob,
    JobRunning,
    KeyedStart,
    Refusal,
    Rehearsal,
)
from hamr.domain.errors import Conflict
from hamr.domain.model import (
    HamrStatus,
    KeyClaim,
    Permission,
    Principal,
    StoredAnswer,
    format_timestamp,
)
from hamr.domain.rules import MAX_TEXT_LENGTH
from hamr.usecases.datacenter_operations import BATCH_PAIRS, MAX_BATCH_PAIRS

DATACENTERS_PATH = HAMR_PATH + "/datacenters"
DATACENTER_PATH = DATACENTERS_PATH + "/{datacenter}"
OPERATION_PATH = DATACENTER_PATH + "/{operation}"
JOB_TYPE = "hamr_datacenter_operations"
COUNTS_TYPE = "hamr_datacenter_pairs"


class _StartRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    reason: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"\S")]
    hold: bool = False
    dry_run: bool = False
    batch_size: Annotated[int, Field(ge=1, le=MAX_BATCH_PAIRS)] = BATCH_PAIRS


async def _admin(request: Request, bucket: str) -> tuple[AppState, Principal]:
    state: AppState = request.app.state.hamr
    principal = await admit(request.scope, state, bucket)
    require_permission(principal, Permission.ADMIN)
    return state, principal


async def datacenter_operation(request: Request) -> Response:
    """GET follows the newest job of the operation on the datacenter; POST starts one."""
    if request.method == "GET":
        return await get_operation(request)
    return await start_operation(request)


@a_write
async def start_operation(request: Request) -> Response:
    """Start the operation on the datacenter's pairs (202, the job to follow), or rehearse it
    (`dry_run`: 200, what it would do); 409 naming the job while another runs."""
    state, principal = await _admin(request, "hamr_post")
    datacenter, operation = request.path_params["datacenter"], request.path_params["operation"]
    operations = state.service.datacenter_operations
    operations.known(datacenter, operation)  # a wrong path is a 404 before the body's 400
    body = await read_json_body(request, state.settings.max_body_bytes)
    asked = parsed(_StartRequest, body, _BODY_RULES)
    if asked.dry_run:
        # A read of every pair of the datacenter, a batch at a time: not the pooled reads'.
        rehearsal = await anyio.to_thread.run_sync(
            functools.partial(
                operations.rehearse, datacenter, operation, asked.reason, hold=asked.hold
            )
        )
        return json_response(rehearsal_document(rehearsal), headers={"X-Hamr-Dry-Run": "true"})
    key = idempotency_key(request.headers)
    if key is None:
        return await _start(state, principal, datacenter, operation, asked, None)
    digest = request_digest(request.method, request.url.path, body)

    async def handle(claim: KeyClaim) -> Response:
        return await _start(state, principal, datacenter, operation, asked, claim)

    return await answer_once(state, principal.org.uuid, key, digest, handle, connection=False)


async def _start(
    state: AppState,
    principal: Principal,
    datacenter: str,
    operation: str,
    asked: _StartRequest,
    claim: KeyClaim | None,
) -> Response:
    """Store the job (under a claim, with the answer its retries get)."""
    keyed = None if claim is None else KeyedStart(claim, _stored_answer)
    try:
        job = await anyio.to_thread.run_sync(
            functools.partial(
                state.service.datacenter_operations.start,
                datacenter,
                operation,
                asked.reason,
                hold=asked.hold,
                batch_size=asked.batch_size,
                org_uuid=principal.org.uuid,
                key_id=principal.key_id,
                keyed=keyed,
            )
        )
    except JobRunning as running:
        raise Conflict(f"{running.detail} Follow it at {job_path(running.running)}.") from None
    return json_response(job_document(job), status=202, headers={"Location": job_path(job)})


def _stored_answer(job: DatacenterJob) -> StoredAnswer:
    return StoredAnswer(202, pydantic_core.to_json(job_document(job)))


async def get_operation(request: Request) -> Response:
    """The newest job of this operation on this datacenter, as far as it got."""
    state, _ = await _admin(request, "hamr_get")
    job = await state.reads(
        state.service.datacenter_operations.latest,
        request.path_params["datacenter"],
        request.path_params["operation"],
    )
    return json_response(job_document(job))


async def get_datacenter(request: Request) -> Response:
    """How many of the datacenter's pairs (their primary side there) have each status."""
    state, _ = await _admin(request, "hamr_get")
    operations = state.service.datacenter_operations
    datacenter = operations.datacenter(request.path_params["datacenter"])
    counts = await state.reads(operations.counts, datacenter)
    return json_response(counts_document(datacenter, counts))


def job_path(job: DatacenterJob) -> str:
    return f"{DATACENTERS_PATH}/{job.datacenter}/{job.operation}"


def job_document(job: DatacenterJob) -> dict[str, Any]:
    """A job and its progress: done, refused and remaining pairs of the total counted."""
    return {
        "data": {
            "type": JOB_TYPE,
            "id": job.id,
            "attributes": {
                "datacenter": job.datacenter,
                "operation": job.operation,
                "hold": job.hold,
                "reason": job.reason,
                "state": job.state.value,
                "dry_run": False,
                "total": job.total,
                "done": job.done,
                "refused": job.refused,
                "remaining": job.remaining,
                "refusals": [_refusal(r) for r in job.refusals],
                "started_by": {"org_uuid": job.org_uuid, "key_id": job.key_id},
                "batch_size": job.batch_size,
                "created_at": format_timestamp(job.created_at_us),
                "updated_at": format_timestamp(job.updated_at_us),
            },
        },
        "links": {"self": job_path(job)},
    }


def rehearsal_document(rehearsal: Rehearsal) -> dict[str, Any]:
    """What a dry run found; no job was made, so its id says so."""
    return {
        "data": {
            "type": JOB_TYPE,
            "id": "dry-run",
            "attributes": {
                "datacenter": rehearsal.datacenter,
                "operation": rehearsal.operation,
                "state": "dry_run",
                "dry_run": True,
                "total": rehearsal.total,
                "done": rehearsal.done,
                "refused": rehearsal.refused,
                "remaining": 0,
                "refusals": [_refusal(r) for r in rehearsal.refusals],
            },
        }
    }


def counts_document(datacenter: str, counts: dict[HamrStatus, int]) -> dict[str, Any]:
    return {
        "data": {
            "type": COUNTS_TYPE,
            "id": datacenter,
            "attributes": {
                "total": sum(counts.values()),
                "by_status": {status.name: counts.get(status, 0) for status in HamrStatus},
            },
        }
    }


def _refusal(refusal: Refusal) -> dict[str, str]:
    return {
        "connection_id": refusal.connection_id,
        "org_uuid": refusal.org_uuid,
        "detail": refusal.detail,
    }


_BODY_RULES = BodyRules(
    body='The body must be {"reason": "..."}.',
    fields={
        "/reason": f"reason must say why, as a string of 1 to {MAX_TEXT_LENGTH} characters.",
        "/hold": "hold must be true or false.",
        "/dry_run": "dry_run must be true or false.",
        "/batch_size": f"batch_size must be a whole number from 1 to {MAX_BATCH_PAIRS}.",
    },
    unknown="{name} is not a field of a datacenter operation; send reason, and optionally "
    "hold, dry_run and batch_size.",
    not_json='The body is not valid JSON; send {"reason": "..."}.',
)
