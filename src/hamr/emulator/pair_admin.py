"""`POST /_hamr/pair`: put a pair at a status with a given org primary, outside the lifecycle,
for a test's set-up (a pair already in FAILOVER, say) without walking it there. The move is
stored as any write is, with its history row, but as the emulator's doing: `modified_by` and
`key_id` name it, and a move the lifecycle's policy would refuse or mark carries a reason saying
the admin API forced it."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from pydantic import BaseModel, BeforeValidator, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hamr.api.body import read_json_body
from hamr.api.pair_routes import pairjson_response
from hamr.api.pydantic_errors import BodyRules, parsed
from hamr.api.responses import json_response
from hamr.api.write_gate import a_write
from hamr.domain.model import (
    AppliedChange,
    ConnectionChange,
    HamrStatus,
    PairReport,
    Permission,
    Principal,
)
from hamr.emulator.admin_auth import admitted
from hamr.usecases.service import HamrService

PAIR_ADMIN_PATH = "/_hamr/pair"
# Who the history says acted: no org's key, the emulator itself.
EMULATOR_ACTOR = "hamr-emulator"
EMULATOR_REASON = "set by the emulator's admin API (POST /_hamr/pair), outside the lifecycle"
_NAMES = ", ".join(f"{status.value} ({status.name})" for status in HamrStatus)


def _status(value: object) -> object:
    """A status by number, or by name in any case ("failover")."""
    if isinstance(value, str) and value.upper() in HamrStatus.__members__:
        return HamrStatus[value.upper()].value
    return value


class PairMove(BaseModel):
    """The status to put the pair at, and which org of it is to be primary."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    status: Annotated[HamrStatus, BeforeValidator(_status)]
    primary: str


PAIR_MOVE_RULES = BodyRules(
    body='The body must be a JSON object: {"status": 3, "primary": "<org uuid>"}.',
    fields={
        "/status": f"status must be one of {_NAMES}; got {{got}}.",
        "/primary": "primary must be the UUID of an org of the pair, as a string.",
    },
    unknown="{name} is not a field here; use status, primary.",
)


def pair_admin_routes() -> list[Route]:
    return [Route(PAIR_ADMIN_PATH, move_pair, methods=["POST"])]


@a_write
async def move_pair(request: Request) -> Response:
    """`POST /_hamr/pair` with `{"status": …, "primary": "<uuid>"}`: the pair's document, as
    `GET /api/v2/hamr/pair` answers the primary, once moved."""
    state = await admitted(request)
    raw = await read_json_body(request, state.settings.max_body_bytes)
    move = parsed(PairMove, raw, PAIR_MOVE_RULES)
    done, report = await anyio.to_thread.run_sync(set_pair, state.service, move)
    state.service.remember_writes(done)
    return json_response(pairjson_response(report))


def set_pair(service: HamrService, move: PairMove) -> tuple[list[AppliedChange], PairReport]:
    """Store the move as the primary's write to its partner, overriding the lifecycle's
    policy, and where the pair then stands; NotFound when the org is unknown or has no pair.
    Blocking: call from a worker thread."""
    org = service.require_org(move.primary)
    pair = service.read_connection(org, fresh=True)
    change = ConnectionChange(
        hamr_status=move.status,
        is_primary=True,
        modified_by=EMULATOR_ACTOR,
        target_org_datacenter=pair.target_org_datacenter,
        target_org_name=pair.target_org_name,
        target_org_uuid=pair.target_org_uuid,
        target_pointer="/primary",
        status_pointer="/status",
        override=EMULATOR_REASON,
    )
    principal = Principal(org, EMULATOR_ACTOR, Permission.ADMIN)
    done = service.upsert_connections([(principal, change)])
    return done, service.pairs.report(org)
