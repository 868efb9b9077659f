"""How /openapi.json describes the datacenter routes (api/datacenter_routes.py): starting,
rehearsing and following a datacenter operation, and a datacenter's pair counts. Admin only:
each operation says so in `x-hamr-permission`."""

from __future__ import annotations

from typing import Any

from hamr.api.datacenter_routes import (
    COUNTS_TYPE,
    DATACENTER_PATH,
    JOB_TYPE,
    OPERATION_PATH,
)
from hamr.api.openapi_pairs import reason_property
from hamr.domain.lifecycle import OPERATIONS
from hamr.domain.model import HamrStatus
from hamr.usecases.datacenter_operations import BATCH_PAIRS, MAX_BATCH_PAIRS

REF = "#/components/schemas/{model}"
JSON = "application/json"
_TIME = {"type": "string", "format": "date-time"}
_COUNT = {"type": "integer", "minimum": 0}
_REFUSAL = {
    "type": "object",
    "required": ["connection_id", "detail", "org_uuid"],
    "properties": {
        "connection_id": {"type": "string"},
        "org_uuid": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_PROGRESS = {
    "total": {**_COUNT, "description": "Pairs whose primary side is in the datacenter."},
    "done": {**_COUNT, "description": "Pairs walked."},
    "refused": {**_COUNT, "description": "Pairs not where the operation starts: left alone."},
    "remaining": _COUNT,
    "refusals": {
        "type": "array",
        "maxItems": 20,
        "description": "The first refusals, each with the pair operation's reason.",
        "items": _REFUSAL,
    },
}
_JOB_ATTRIBUTES = {
    "type": "object",
    "required": [
        "batch_size",
        "created_at",
        "datacenter",
        "done",
        "dry_run",
        "hold",
        "operation",
        "reason",
        "refusals",
        "refused",
        "remaining",
        "started_by",
        "state",
        "total",
        "updated_at",
    ],
    "properties": {
        "datacenter": {"type": "string"},
        "operation": {"type": "string", "enum": list(OPERATIONS)},
        "hold": {"type": "boolean"},
        "reason": {"type": "string"},
        "state": {"type": "string", "enum": ["running", "finished"]},
        "dry_run": {"type": "boolean", "enum": [False]},
        **_PROGRESS,
        "started_by": {
            "type": "object",
            "required": ["key_id", "org_uuid"],
            "properties": {"org_uuid": {"type": "string"}, "key_id": {"type": "string"}},
        },
        "batch_size": {"type": "integer", "minimum": 1, "maximum": MAX_BATCH_PAIRS},
        "created_at": _TIME,
        "updated_at": {**_TIME, "description": "When its progress was last stored."},
    },
}
_REHEARSAL_ATTRIBUTES = {
    "type": "object",
    "required": ["datacenter", "done", "dry_run", "operation", "refusals", "refused", "state"],
    "properties": {
        "datacenter": {"type": "string"},
        "operation": {"type": "string", "enum": list(OPERATIONS)},
        "state": {"type": "string", "enum": ["dry_run"]},
        "dry_run": {"type": "boolean", "enum": [True]},
        **_PROGRESS,
    },
}


def _document(attributes: str, type_: str, links: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["attributes", "id", "type"],
                "properties": {
                    "attributes": {"$ref": REF.format(model=attributes)},
                    "id": {"type": "string"},
                    "type": {"type": "string", "enum": [type_]},
                },
            }
        },
    }
    if links:
        document["properties"]["links"] = {
            "type": "object",
            "properties": {"self": {"type": "string"}},
        }
    return document


DATACENTER_SCHEMAS: dict[str, Any] = {
    "HamrDatacenterOperationAttributes": _JOB_ATTRIBUTES,
    "HamrDatacenterOperationResponse": _document(
        "HamrDatacenterOperationAttributes", JOB_TYPE, links=True
    ),
    "HamrDatacenterRehearsalAttributes": _REHEARSAL_ATTRIBUTES,
    "HamrDatacenterRehearsalResponse": _document("HamrDatacenterRehearsalAttributes", JOB_TYPE),
    "HamrDatacenterPairsResponse": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["attributes", "id", "type"],
                "properties": {
                    "id": {"type": "string", "description": "The datacenter."},
                    "type": {"type": "string", "enum": [COUNTS_TYPE]},
                    "attributes": {
                        "type": "object",
                        "required": ["by_status", "total"],
                        "properties": {
                            "total": _COUNT,
                            "by_status": {
                                "type": "object",
                                "required": [status.name for status in HamrStatus],
                                "properties": {status.name: _COUNT for status in HamrStatus},
                            },
                        },
                    },
                },
            }
        },
    },
    "HamrDatacenterOperationRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {
            "reason": reason_property("Why; it goes into every history row the operation writes."),
            "hold": {
                "type": "boolean",
                "default": False,
                "description": "failover and recover: stop each pair at the liminal status.",
            },
            "dry_run": {
                "type": "boolean",
                "default": False,
                "description": "Answer (200) with what it would do; store nothing.",
            },
            "batch_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_BATCH_PAIRS,
                "default": BATCH_PAIRS,
                "description": "Pairs per transaction.",
            },
        },
    },
}

# The examples run against the demo emulator: on ap1, where it has no pair, so that starting
# the operation changes no pair the other examples use.
START_REQUEST: dict[str, Any] = {"reason": "ap1 is down: datacenter failover"}
_STARTED_BY = {"org_uuid": "550e8400-e29b-41d4-a716-446655440000", "key_id": "4f0c..."}
JOB_ANSWER: dict[str, Any] = {
    "data": {
        "type": JOB_TYPE,
        "id": "0d5c6a52-3c2e-4a4e-9d7e-6f1f3b0e2a11",
        "attributes": {
            "datacenter": "ap1",
            "operation": "failover",
            "hold": False,
            "reason": START_REQUEST["reason"],
            "state": "running",
            "dry_run": False,
            "total": 0,
            "done": 0,
            "refused": 0,
            "remaining": 0,
            "refusals": [],
            "started_by": _STARTED_BY,
            "batch_size": BATCH_PAIRS,
            "created_at": "2026-12-06T15:00:00.000000Z",
            "updated_at": "2026-12-06T15:00:00.000000Z",
        },
    },
    "links": {"self": "/api/v2/hamr/datacenters/ap1/failover"},
}
REHEARSAL_ANSWER: dict[str, Any] = {
    "data": {
        "type": JOB_TYPE,
        "id": "dry-run",
        "attributes": {
            "datacenter": "eu1",
            "operation": "failover",
            "state": "dry_run",
            "dry_run": True,
            "total": 2,
            "done": 1,
            "refused": 1,
            "remaining": 0,
            "refusals": [
                {
                    "connection_id": "7d1e6f0a-8f3c-4b2a-9e51-0c9d2b7a4e10",
                    "org_uuid": "660f9511-f3ac-52e5-b827-557766551111",
                    "detail": "The pair is 4 ACTIVE; failover starts from 2 PASSIVE.",
                }
            ],
        },
    }
}
COUNTS_ANSWER: dict[str, Any] = {
    "data": {
        "type": COUNTS_TYPE,
        "id": "eu1",
        "attributes": {
            "total": 1,
            "by_status": {status.name: int(status is HamrStatus.PASSIVE) for status in HamrStatus},
        },
    }
}


def datacenter_paths(errors: dict[str, Any], idempotency_key: dict[str, Any]) -> dict[str, Any]:
    """Both path items; each answers `errors` (picked for the wire mode) besides its 2xx."""
    admin = {"x-hamr-permission": "admin"}
    job = {"$ref": REF.format(model="HamrDatacenterOperationResponse")}
    operation = {
        "name": "operation",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(OPERATIONS)},
        "example": "failover",
    }

    def datacenter(example: str) -> dict[str, Any]:
        return {
            "name": "datacenter",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "example": example,
        }

    return {
        DATACENTER_PATH: {
            "get": {
                **admin,
                "operationId": "GetHamrDatacenterPairs",
                "summary": "A datacenter's pairs by status (hamr's extension)",
                "description": "Pairs whose primary side is in the datacenter, counted by "
                "status. Needs admin.",
                "parameters": [datacenter("eu1")],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {
                            JSON: {
                                "schema": {"$ref": REF.format(model="HamrDatacenterPairsResponse")},
                                "example": COUNTS_ANSWER,
                            }
                        },
                    },
                    **errors,
                },
            }
        },
        OPERATION_PATH: {
            "post": {
                **admin,
                "operationId": "StartHamrDatacenterOperation",
                "summary": "Walk every pair of a datacenter through an operation (hamr's "
                "extension)",
                "description": "Every pair whose primary side is in the datacenter, through "
                "the pair operation's steps, lifecycle and policy, in batches (one "
                "transaction each), each step a history row with the reason. The server walks "
                "it in the background; follow it with GET on the same path. One runs at a "
                "time (409 naming the running one). Under an Idempotency-Key, a retry gets the "
                "first answer (the same job) instead of a 409. Needs admin.",
                "parameters": [datacenter("ap1"), operation, idempotency_key],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {"$ref": REF.format(model="HamrDatacenterOperationRequest")},
                            "example": START_REQUEST,
                        }
                    },
                },
                "responses": {
                    "202": {
                        "description": "Accepted: the job is stored and runs; Location is "
                        "where to follow it",
                        "content": {JSON: {"schema": job, "example": JOB_ANSWER}},
                    },
                    "200": {
                        "description": "A dry run: what it would do, with X-Hamr-Dry-Run: true; "
                        "nothing stored",
                        "content": {
                            JSON: {
                                "schema": {
                                    "$ref": REF.format(model="HamrDatacenterRehearsalResponse")
                                },
                                "example": REHEARSAL_ANSWER,
                            }
                        },
                    },
                    **errors,
                },
            },
            "get": {
                **admin,
                "operationId": "GetHamrDatacenterOperation",
                "summary": "How far the newest such operation got (hamr's extension)",
                "description": "Done, refused and remaining pairs of the newest operation of "
                "this kind on the datacenter, and the first refusals. Needs admin.",
                "parameters": [datacenter("ap1"), operation],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {JSON: {"schema": job, "example": JOB_ANSWER}},
                    },
                    **errors,
                },
            },
        },
    }
