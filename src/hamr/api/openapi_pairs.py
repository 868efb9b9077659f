"""How /openapi.json describes the pair routes (api/pair_routes.py): `GET /api/v2/hamr/pair`,
where the caller's pair stands, and `POST /api/v2/hamr/pair/{operation}`, the lifecycle's
walks; with the schemas of their documents, which the emulator's `POST /_hamr/pair` answers
too."""

from __future__ import annotations

from typing import Any

from hamr.api.openapi_examples import OPERATION_ANSWER, OPERATION_REQUEST, PAIR_ANSWER
from hamr.api.pair_routes import PAIR_PATH, PAIR_TYPE
from hamr.domain.lifecycle import OPERATIONS
from hamr.domain.model import HamrStatus, Policy
from hamr.domain.rules import MAX_TEXT_LENGTH

REF = "#/components/schemas/{model}"
JSON = "application/json"
_STATUS = {"type": "integer", "enum": [int(status) for status in HamrStatus]}
_TIME = {"type": "string", "format": "date-time"}
_SIDE = {
    "type": "object",
    "required": ["datacenter", "is_caller", "is_primary", "org_name", "org_uuid"],
    "properties": {
        "org_uuid": {"type": "string"},
        "org_name": {"type": "string"},
        "datacenter": {"type": "string"},
        "is_primary": {"type": "boolean"},
        "is_caller": {"type": "boolean"},
    },
}
_ATTRIBUTES = {
    "type": "object",
    "required": [
        "allowed_next",
        "health",
        "hamr_status",
        "linked",
        "modified_at",
        "modified_by",
        "policy",
        "sides",
        "status_name",
        "status_since",
    ],
    "properties": {
        "hamr_status": _STATUS,
        "status_name": {"type": "string", "enum": [status.name for status in HamrStatus]},
        "status_since": _TIME,
        "health": {
            "type": "string",
            "enum": ["linked", "one-sided", "stuck"],
            "description": "stuck: a liminal status (FAILOVER, RECOVERY) lasted too long.",
        },
        "allowed_next": {"type": "array", "items": _STATUS},
        "policy": {"type": "string", "enum": [policy.value for policy in Policy]},
        "modified_at": _TIME,
        "modified_by": {"type": "string"},
        "linked": {"type": "boolean"},
        "sides": {"type": "array", "minItems": 1, "maxItems": 2, "items": _SIDE},
    },
}
_STEP = {
    "type": "object",
    "required": ["from", "modified_at", "to"],
    "properties": {
        "from": {**_STATUS, "nullable": True},
        "to": _STATUS,
        "modified_at": _TIME,
    },
}


def reason_property(description: str) -> dict[str, Any]:
    """An operation's `reason`: what the use case accepts (domain.rules), described."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT_LENGTH,
        "pattern": r"\S",
        "description": description,
    }


PAIR_SCHEMAS: dict[str, Any] = {
    "HamrPairAttributes": _ATTRIBUTES,
    "HamrPairResponse": {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["attributes", "id", "type"],
                "properties": {
                    "attributes": {"$ref": REF.format(model="HamrPairAttributes")},
                    "id": {"type": "string"},
                    "type": {"type": "string", "enum": [PAIR_TYPE]},
                },
            },
            "meta": {
                "type": "object",
                "description": "An operation's answer only: what it did (or, dry, would do).",
                "required": ["dry_run", "operation", "steps"],
                "properties": {
                    "operation": {"type": "string", "enum": list(OPERATIONS)},
                    "dry_run": {"type": "boolean"},
                    "steps": {"type": "array", "items": _STEP},
                },
            },
        },
    },
    "HamrPairOperationRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {
            "reason": reason_property("Why; it goes into the pair's history."),
            "hold": {
                "type": "boolean",
                "default": False,
                "description": "failover and recover: stop at the liminal status.",
            },
            "dry_run": {
                "type": "boolean",
                "default": False,
                "description": "Answer with what would be stored, storing nothing.",
            },
        },
    },
}


def pair_paths(errors: dict[str, Any], idempotency_key: dict[str, Any]) -> dict[str, Any]:
    """Both path items; each answers `errors` (picked for the wire mode) besides 200."""
    pair = {"$ref": REF.format(model="HamrPairResponse")}
    return {
        PAIR_PATH: {
            "get": {
                "operationId": "GetHamrPair",
                "summary": "Where the caller's pair stands (hamr's extension)",
                "description": "Both sides, the status and since when, the pair's health, "
                "the statuses that may follow and the transition policy in force.",
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {JSON: {"schema": pair, "example": PAIR_ANSWER}},
                    },
                    **errors,
                },
            }
        },
        PAIR_PATH + "/{operation}": {
            "post": {
                "operationId": "RunHamrPairOperation",
                "summary": "Walk the caller's pair through the lifecycle (hamr's extension)",
                "description": "failover (PASSIVE to FAILOVER to ACTIVE), recover (ACTIVE to "
                "RECOVERY to PASSIVE), complete or abort a liminal status: every step in one "
                "transaction, with the reason in history. Needs write, or admin under "
                "--transitions enforce.",
                "parameters": [
                    {
                        "name": "operation",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(OPERATIONS)},
                        "example": "failover",
                    },
                    idempotency_key,
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON: {
                            "schema": {"$ref": REF.format(model="HamrPairOperationRequest")},
                            "example": OPERATION_REQUEST,
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "OK: the pair as the operation left it (a dry run: "
                        "would leave it, with X-Hamr-Dry-Run: true), and its steps",
                        "content": {JSON: {"schema": pair, "example": OPERATION_ANSWER}},
                    },
                    **errors,
                },
            }
        },
    }
