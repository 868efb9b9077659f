"""The examples /openapi.json gives for the API's operations: requests and answers copied from
a real `hamr serve --emulator` after `POST /_hamr/reset {"seed": "demo"}` (the demo orgs' UUIDs
are fixed), so that a client author sees what hamr really sends. A connection's answer is
written by the wire mode's own encoder, so each mode's document shows its own attributes;
tests/api/test_openapi_examples.py sends each request and checks the answer has this shape."""

from __future__ import annotations

from typing import Any

import pydantic_core

from hamr.api.wire import WireFormat
from hamr.domain.model import Connection, HamrStatus

PRODUCTION_UUID = "550e8400-e29b-41d4-a716-446655440000"
BACKUP_UUID = "660f9511-f3ac-52e5-b827-557766551111"
PAIR_ID = "00809f22-1b3f-4650-a84f-511d0ec60067"
_WRITTEN_AT = "2026-12-06T12:44:02.967022Z"
_WRITTEN_AT_US = 1_796_561_042_967_022
_CONTRACT_ATTRIBUTES: dict[str, Any] = {
    "hamr_status": 2,
    "is_primary": True,
    "modified_by": "sre@example.com",
    "target_org_datacenter": "us1",
    "target_org_name": "Production Backup Org",
    "target_org_uuid": BACKUP_UUID,
}
CONNECTION_REQUEST: dict[str, Any] = {
    "data": {
        "id": PRODUCTION_UUID,
        "type": "hamr_org_connections",
        "attributes": _CONTRACT_ATTRIBUTES,
    }
}
_CONNECTION = Connection(
    org_uuid=PRODUCTION_UUID,
    hamr_status=HamrStatus.PASSIVE,
    is_primary=True,
    modified_at_us=_WRITTEN_AT_US,
    modified_by="sre@example.com",
    target_org_datacenter="us1",
    target_org_name="Production Backup Org",
    target_org_uuid=BACKUP_UUID,
    org_datacenter="eu1",
)


def connection_answer(wire: WireFormat) -> Any:
    """The caller's connection as `wire` writes it (GET, and POST's echo of the request)."""
    return pydantic_core.from_json(wire.document(_CONNECTION))


_SIDES = [
    {
        "org_uuid": PRODUCTION_UUID,
        "org_name": "Production Org",
        "datacenter": "eu1",
        "is_primary": True,
        "is_caller": True,
    },
    {
        "org_uuid": BACKUP_UUID,
        "org_name": "Production Backup Org",
        "datacenter": "us1",
        "is_primary": False,
        "is_caller": False,
    },
]


def pair_answer(status: HamrStatus, allowed_next: list[int], modified_by: str) -> Any:
    """The pair's document, as `GET /api/v2/hamr/pair` (and `POST /_hamr/pair`) answer."""
    return {
        "data": {
            "type": "hamr_pairs",
            "id": PAIR_ID,
            "attributes": {
                "hamr_status": int(status),
                "status_name": status.name,
                "status_since": _WRITTEN_AT,
                "health": "linked",
                "allowed_next": allowed_next,
                "policy": "warn",
                "modified_at": _WRITTEN_AT,
                "modified_by": modified_by,
                "linked": True,
                "sides": _SIDES,
            },
        }
    }


PAIR_ANSWER = pair_answer(HamrStatus.PASSIVE, [2, 3], "hamr-demo")
OPERATION_REQUEST: dict[str, Any] = {"reason": "eu1 is down: failover drill"}
OPERATION_ANSWER: dict[str, Any] = {
    **pair_answer(HamrStatus.ACTIVE, [4, 5], "hamr pair failover"),
    "meta": {
        "operation": "failover",
        "dry_run": False,
        "steps": [
            {"from": 2, "to": 3, "modified_at": "2026-12-06T12:44:02.946226Z"},
            {"from": 3, "to": 4, "modified_at": "2026-12-06T12:44:02.946283Z"},
        ],
    },
}
_BEFORE = {
    **_CONTRACT_ATTRIBUTES,
    "hamr_status": 1,
    "modified_at": "2026-12-06T12:42:56.412108Z",
    "modified_by": "hamr-demo",
}
HISTORY_ANSWER: dict[str, Any] = {
    "data": [
        {
            "id": "3",
            "type": "hamr_history_events",
            "attributes": {
                "org_uuid": PRODUCTION_UUID,
                "key_id": "87c4364f-63e6-4dcb-8966-cd7b590ee499",
                "connection_id": PAIR_ID,
                "modified_by": "sre@example.com",
                "recorded_at": _WRITTEN_AT,
                "before": _BEFORE,
                "after": {**_CONTRACT_ATTRIBUTES, "modified_at": _WRITTEN_AT},
                "violation": None,
                "reason": None,
                "chain_hash": "42896cf251fc5e100466edd751ac2631e3780bc2199b7d742664e4ac49009c73",
            },
        }
    ],
    "meta": {"page": {"size": 1, "next_cursor": "AAAAAAAAAAAD"}},
    "links": {
        "next": "http://127.0.0.1:8080/api/v2/hamr/history?page%5Bsize%5D=1"
        "&page%5Bcursor%5D=AAAAAAAAAAAD"
    },
}
VALIDATE_ANSWER: dict[str, Any] = {"valid": True}
