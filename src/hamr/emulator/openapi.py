"""How /openapi.json describes the emulator's admin API under /_hamr/ (routes.py,
pair_admin.py, faults/routes.py): bootstrap.py adds this part to the API's document only when
it mounts those routes (`hamr serve --emulator`). Every operation needs the admin token."""

from __future__ import annotations

from typing import Any

from hamr.api.openapi import OpenApiPart
from hamr.api.openapi_examples import pair_answer
from hamr.domain.model import HamrStatus
from hamr.emulator.faults.routes import FAULTS_PATH, RULE_TYPE
from hamr.emulator.openapi_examples import (
    CLEARED_ANSWER,
    CLOCK_ANSWER,
    CLOCK_REQUEST,
    FAULT_ANSWER,
    FAULT_REQUEST,
    FAULTS_ANSWER,
    PAIR_MOVE_REQUEST,
    RESET_ANSWER,
    RESET_REQUEST,
    STATE,
)
from hamr.emulator.pair_admin import EMULATOR_ACTOR, PAIR_ADMIN_PATH
from hamr.emulator.routes import CLOCK_PATH, RESET_PATH, STATE_PATH
from hamr.emulator.state import Seed
from hamr.settings import ADMIN_HEADER

REF = "#/components/schemas/{model}"
JSON = "application/json"
SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]
_STRING = {"type": "string"}
_OBJECTS = {"type": "array", "items": {"type": "object", "additionalProperties": True}}


def _resource(kind: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """A JSON:API resource object of `kind` with these attributes."""
    return {
        "type": "object",
        "required": ["attributes", "id", "type"],
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            "id": _STRING,
            "attributes": attributes,
        },
    }


def _document(data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["data"], "properties": {"data": data}}


_RULE = _resource(
    RULE_TYPE,
    {
        "type": "object",
        "required": ["fired"],
        "additionalProperties": True,
        "description": "The rule as it was sent, with defaults filled in, and how often it "
        "fired (docs/emulator.md lists a rule's fields).",
        "properties": {"fired": {"type": "integer", "minimum": 0}},
    },
)
SCHEMAS: dict[str, Any] = {
    "HamrEmulatorReset": _document(
        _resource(
            "hamr_emulator_reset",
            {
                "type": "object",
                "required": ["orgs", "seed"],
                "properties": {
                    "seed": {"type": "string", "enum": [seed.value for seed in Seed]},
                    "orgs": {
                        "type": "array",
                        "description": "The orgs the seed made, with their keys' secrets.",
                        "items": {
                            "type": "object",
                            "required": ["api_key", "app_key", "datacenter", "name", "uuid"],
                            "properties": {
                                name: _STRING
                                for name in ("uuid", "name", "datacenter", "api_key", "app_key")
                            },
                        },
                    },
                },
            },
        )
    ),
    "HamrEmulatorClock": _document(
        _resource(
            "hamr_emulator_clock",
            {
                "type": "object",
                "required": ["now", "offset_seconds", "real"],
                "properties": {
                    "now": {"type": "string", "format": "date-time"},
                    "offset_seconds": {"type": "number"},
                    "real": {"type": "boolean"},
                },
            },
        )
    ),
    "HamrEmulatorClockMove": {
        "type": "object",
        "description": "Exactly one of the three.",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": False,
        "properties": {
            "advance_seconds": {"type": "number", "minimum": 0},
            "set": {"type": "string", "format": "date-time"},
            "real": {"type": "boolean", "enum": [True]},
        },
    },
    "HamrEmulatorState": _document(
        _resource(
            "hamr_emulator_state",
            {
                "type": "object",
                "required": [
                    "connection_members",
                    "connections",
                    "format",
                    "history",
                    "keys",
                    "orgs",
                ],
                "description": "Every row stored (keys as hashes of their secrets).",
                "properties": {
                    "format": {"type": "integer", "enum": [1]},
                    **{
                        name: _OBJECTS
                        for name in ("orgs", "keys", "connections", "connection_members")
                    },
                    "history": _OBJECTS,
                },
            },
        )
    ),
    "HamrFaultRule": _RULE,
    "HamrFaultRuleResponse": _document(
        {
            "description": "The rule added, or the list added when a list was sent.",
            "oneOf": [
                {"$ref": REF.format(model="HamrFaultRule")},
                {"type": "array", "items": {"$ref": REF.format(model="HamrFaultRule")}},
            ],
        }
    ),
    "HamrEmulatorResetRequest": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "seed": {
                "type": "string",
                "enum": [seed.value for seed in Seed],
                "default": "empty",
            }
        },
    },
    "HamrFaultRuleRequest": {
        "description": "A rule (docs/emulator.md lists its fields), or a list of them.",
        "oneOf": [
            {"type": "object", "additionalProperties": True},
            {"type": "array", "items": {"type": "object", "additionalProperties": True}},
        ],
    },
    "HamrFaultsCleared": {
        "type": "object",
        "required": ["meta"],
        "properties": {
            "meta": {
                "type": "object",
                "required": ["cleared"],
                "properties": {"cleared": {"type": "integer", "minimum": 0}},
            }
        },
    },
    "HamrFaultRulesResponse": _document(
        {"type": "array", "items": {"$ref": REF.format(model="HamrFaultRule")}}
    ),
    "HamrPairMove": {
        "type": "object",
        "required": ["primary", "status"],
        "additionalProperties": False,
        "properties": {
            "status": {
                "oneOf": [
                    {"type": "integer", "enum": [int(status) for status in HamrStatus]},
                    {"type": "string", "description": "A status's name, in any case."},
                ]
            },
            "primary": {"type": "string", "description": "The org of the pair to be primary."},
        },
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _answer(description: str, schema: str, example: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": _ref(schema), "example": example}},
    }


def _body(schema: str, example: Any, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": _ref(schema), "example": example}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("JSONAPIErrorResponse")}}}


_REFUSED = {
    "403": _error(f"Forbidden: {ADMIN_HEADER} is missing or not this emulator's admin token"),
    "429": {
        "description": "Too many refused admin tokens from this address",
        "content": {JSON: {"schema": _ref("APIErrorResponse")}},
    },
}
_BAD_BODY = {
    "400": _error("Bad Request: the body, each mistake with a JSON pointer"),
    "413": _error("Payload Too Large"),
    "415": _error("Unsupported Media Type"),
}


def _operation(operation_id: str, summary: str, ok: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An admin operation: the token's refusals, and what `more` adds (body, other codes)."""
    codes = more.pop("codes", {})
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURITY,
        **more,
        "responses": {**ok, **codes, **_REFUSED},
    }


PATHS: dict[str, Any] = {
    RESET_PATH: {
        "post": _operation(
            "ResetEmulator",
            "Start over: delete everything, clear the fault rules, seed empty or the demo pair",
            {"200": _answer("OK", "HamrEmulatorReset", RESET_ANSWER)},
            requestBody=_body("HamrEmulatorResetRequest", RESET_REQUEST, required=False),
            codes=_BAD_BODY,
        )
    },
    CLOCK_PATH: {
        "get": _operation(
            "GetEmulatorClock",
            "What time hamr believes it is",
            {"200": _answer("OK", "HamrEmulatorClock", CLOCK_ANSWER)},
        ),
        "post": _operation(
            "MoveEmulatorClock",
            "Move the virtual clock on, set it, or put it back to the real time",
            {"200": _answer("OK: the clock, moved", "HamrEmulatorClock", CLOCK_ANSWER)},
            requestBody=_body("HamrEmulatorClockMove", CLOCK_REQUEST),
            codes=_BAD_BODY,
        ),
    },
    STATE_PATH: {
        "get": _operation(
            "GetEmulatorState",
            "Everything stored, as one document",
            {"200": _answer("OK", "HamrEmulatorState", STATE)},
        ),
        "put": _operation(
            "PutEmulatorState",
            "Make the database hold exactly this document (as GET gives it) again",
            {"200": _answer("OK: what GET now gives", "HamrEmulatorState", STATE)},
            requestBody=_body("HamrEmulatorState", STATE),
            codes=_BAD_BODY,
        ),
    },
    PAIR_ADMIN_PATH: {
        "post": _operation(
            "SetEmulatorPair",
            "Put a pair at a status with an org primary, outside the lifecycle (for set-ups)",
            {
                "200": _answer(
                    f"OK: the pair, as GET /api/v2/hamr/pair answers the primary; history "
                    f"records the move as {EMULATOR_ACTOR}'s",
                    "HamrPairResponse",
                    pair_answer(HamrStatus.PASSIVE, [2, 3], EMULATOR_ACTOR),
                )
            },
            requestBody=_body("HamrPairMove", PAIR_MOVE_REQUEST),
            codes={**_BAD_BODY, "404": _error("Not Found: no such org, or it has no pair")},
        )
    },
    FAULTS_PATH: {
        "get": _operation(
            "ListEmulatorFaults",
            "The fault rules in force, in order, with how often each fired",
            {"200": _answer("OK", "HamrFaultRulesResponse", FAULTS_ANSWER)},
        ),
        "post": _operation(
            "AddEmulatorFaults",
            "Add one rule, or a list of them (all or none)",
            {
                "201": _answer(
                    "Created: the rule (or the list) added", "HamrFaultRuleResponse", FAULT_ANSWER
                )
            },
            requestBody=_body("HamrFaultRuleRequest", FAULT_REQUEST),
            codes=_BAD_BODY,
        ),
        "delete": _operation(
            "ClearEmulatorFaults",
            "Remove every fault rule",
            {"200": _answer("OK: how many were removed", "HamrFaultsCleared", CLEARED_ANSWER)},
        ),
    },
    FAULTS_PATH + "/{rule_id}": {
        "delete": _operation(
            "DeleteEmulatorFault",
            "Remove one fault rule",
            {"204": {"description": "No Content: removed"}},
            parameters=[
                {
                    "name": "rule_id",
                    "in": "path",
                    "required": True,
                    "schema": _STRING,
                    "example": "rule-1",
                }
            ],
            codes={"404": _error("Not Found: no such rule (the detail lists those in force)")},
        )
    },
}


def emulator_openapi() -> OpenApiPart:
    """The admin API's paths, schemas and its token's security scheme."""
    return OpenApiPart(
        paths=PATHS,
        schemas=SCHEMAS,
        security_schemes={"adminToken": {"type": "apiKey", "in": "header", "name": ADMIN_HEADER}},
    )
