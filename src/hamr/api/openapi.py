"""hamr's own OpenAPI document, built from the pydantic models the server validates with, so
that what is published cannot drift from what is enforced. Served at `GET /openapi.json`."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from hamr import __version__
from hamr.api.errors import OVERRIDE_HEADER
from hamr.api.history_openapi import HISTORY_SCHEMAS, history_operations
from hamr.api.history_routes import HISTORY_PATH
from hamr.api.openapi_datacenters import DATACENTER_SCHEMAS, datacenter_paths
from hamr.api.openapi_examples import CONNECTION_REQUEST, VALIDATE_ANSWER, connection_answer
from hamr.api.openapi_pairs import PAIR_SCHEMAS, pair_paths
from hamr.api.openapi_probes import PROBE_PATHS, PROBE_SCHEMAS
from hamr.api.schemas import HamrOrgConnectionRequest, response_attributes
from hamr.api.wire import JSON, WireFormat

REF = "#/components/schemas/{model}"
JSON_API_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "detail": {"type": "string"},
                    "meta": {"type": "object", "additionalProperties": {}},
                    "source": {
                        "type": "object",
                        "properties": {
                            "header": {"type": "string"},
                            "parameter": {"type": "string"},
                            "pointer": {"type": "string"},
                        },
                    },
                    "status": {"type": "string"},
                    "title": {"type": "string"},
                },
            },
        }
    },
}
API_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "array", "items": {"type": "string"}}},
}


@dataclass(frozen=True)
class OpenApiPart:
    """Paths served beside the API's (the emulator's admin API), with the schemas and
    security schemes they name: the composition root adds them, so the API knows no caller."""

    paths: dict[str, Any] = field(default_factory=dict)
    schemas: dict[str, Any] = field(default_factory=dict)
    security_schemes: dict[str, Any] = field(default_factory=dict)


def openapi_document(
    wire: WireFormat, extra: OpenApiPart | None = None, served: Collection[str] | None = None
) -> dict[str, Any]:
    """The document for this wire mode: its response attributes, content type and examples,
    and in `live` the 401 an invalid API key gets there; with `extra`'s paths after the API's.
    With `served`, the paths the app routes, it leaves out what this app does not serve
    (/metrics on a port of its own)."""
    document = _document(wire, extra or OpenApiPart())
    if served is not None:
        document["paths"] = {p: item for p, item in document["paths"].items() if p in served}
    return document


def _document(wire: WireFormat, extra: OpenApiPart) -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "JSONAPIErrorResponse": JSON_API_ERROR,
        "APIErrorResponse": API_ERROR,
    }
    attributes = response_attributes(wire)
    for model in (HamrOrgConnectionRequest, attributes):
        schemas.update(_component_schemas(model))
    schemas.update(_response_schemas(attributes.__name__))
    schemas.update(HISTORY_SCHEMAS)
    schemas.update(PAIR_SCHEMAS)
    schemas.update(DATACENTER_SCHEMAS)
    schemas.update(PROBE_SCHEMAS)
    schemas.update(extra.schemas)
    ok = _json("OK", "HamrOrgConnectionResponse", wire.content_type)
    ok["content"][wire.content_type]["example"] = connection_answer(wire)
    errors = {
        "400": _json("Bad Request", "JSONAPIErrorResponse"),
        "403": _json(
            "Forbidden: the credential lacks the permission (hamr: read, write, admin) the "
            "request needs; the detail names both",
            "JSONAPIErrorResponse",
        ),
        "412": _json(
            "Precondition Failed (hamr): If-Match or If-None-Match does not hold of the stored "
            "connection (source.header names which); nothing was stored",
            "JSONAPIErrorResponse",
        ),
        "409": _json(
            "Conflict (hamr): under --transitions enforce, a move outside the HAMR lifecycle "
            "(source.pointer at the status); an organization paired with another; or an "
            "Idempotency-Key whose first request is still in flight (source.header). Nothing "
            "was stored",
            "JSONAPIErrorResponse",
        ),
        "413": _json("Payload Too Large (hamr: body over 64 KiB)", "JSONAPIErrorResponse"),
        "415": _json("Unsupported Media Type (hamr)", "JSONAPIErrorResponse"),
        "422": _json(
            "Unprocessable Content (hamr): this Idempotency-Key was first sent with another "
            "request",
            "JSONAPIErrorResponse",
        ),
        "429": _json("Too many requests", "APIErrorResponse"),
        "500": _json("Internal Server Error", "JSONAPIErrorResponse"),
        "503": _json("Database unreachable (hamr); see Retry-After", "JSONAPIErrorResponse"),
    }
    if wire.live_errors:
        errors["401"] = _json("Unauthorized: DD-API-KEY is not valid (live)", "APIErrorResponse")
    auth = ("401",) if wire.live_errors else ()
    return {
        "openapi": "3.0.3",
        "info": {"title": "hamr: HAMR organization connections", "version": __version__},
        "security": [{"apiKeyAuth": [], "appKeyAuth": []}, {"AuthZ": []}],
        "paths": {
            "/api/v2/hamr": {
                "get": {
                    "operationId": "GetHamrOrgConnection",
                    "summary": "Get HAMR organization connection",
                    "responses": {
                        "200": {**ok, "headers": {"ETag": _ETAG}},
                        **_pick(errors, "400", *auth, "403", "429", "500", "503"),
                        "404": _json("Not Found", "JSONAPIErrorResponse"),
                    },
                },
                "post": {
                    "operationId": "CreateHamrOrgConnection",
                    "summary": "Create or update HAMR organization connection",
                    "requestBody": {
                        "description": (
                            "hamr also accepts each attribute spelled as Datadog's live API "
                            "spells it (HamrStatus, IsPrimary, ModifiedBy, TargetOrgDatacenter, "
                            "TargetOrgName, TargetOrgUuid), and a body without the target's "
                            "name and datacenter when it knows the target organization."
                        ),
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": _ref("HamrOrgConnectionRequest"),
                                "example": CONNECTION_REQUEST,
                            }
                        },
                    },
                    "parameters": _POST_PARAMETERS,
                    "responses": {
                        "200": {**ok, "headers": _POST_HEADERS},
                        **errors,
                    },
                },
            },
            HISTORY_PATH: history_operations(
                _pick(errors, "400", *auth, "403", "429", "500", "503")
            ),
            **pair_paths(
                {
                    **_pick(errors, "400", *auth, "403", "409", "413", "415", "422"),
                    "404": _json(
                        "Not Found (hamr): no such operation, or the caller has no pair",
                        "JSONAPIErrorResponse",
                    ),
                    **_pick(errors, "429", "500", "503"),
                },
                _IDEMPOTENCY_KEY,
            ),
            **datacenter_paths(
                {
                    **_pick(errors, "400", *auth, "403", "409", "413", "415", "422"),
                    "404": _json(
                        "Not Found (hamr): no such datacenter or operation, or none started",
                        "JSONAPIErrorResponse",
                    ),
                    **_pick(errors, "429", "500", "503"),
                },
                _IDEMPOTENCY_KEY,
            ),
            VALIDATE_PATH: _VALIDATE,
            **PROBE_PATHS,
            **extra.paths,
        },
        "components": {
            "securitySchemes": {
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": "DD-API-KEY"},
                "appKeyAuth": {"type": "apiKey", "in": "header", "name": "DD-APPLICATION-KEY"},
                "AuthZ": {"type": "http", "scheme": "bearer"},
                **extra.security_schemes,
            },
            "schemas": schemas,
        },
    }


_ETAG = {
    "description": (
        "hamr: a strong ETag of the caller's connection as served (it changes whenever the "
        "document does); send it in If-Match to POST only if nobody changed it since"
    ),
    "schema": {"type": "string"},
}
_STRING = {"type": "string"}
_IDEMPOTENCY_KEY: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "hamr (draft-ietf-httpapi-idempotency-key-header): 1 to 255 characters; a retry "
        "of the same request (method, path, body) within 24 hours gets the first answer "
        "again, with Idempotency-Replayed: true, and writes nothing; the same key with "
        "another body is a 422, and while the first request is in flight a 409"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_POST_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "dry_run",
        "in": "query",
        "required": False,
        "description": (
            "hamr: true validates the change and applies the transition policy and the pair "
            "rules, and answers with what would be stored (with X-Hamr-Dry-Run: true), "
            "storing nothing; false (the default) writes."
        ),
        "schema": {"type": "boolean", "default": False},
    },
    {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": (
            "hamr: write only if the caller's connection has this ETag (one of these, or any "
            "at all with *); 412 otherwise, nothing stored"
        ),
        "schema": _STRING,
    },
    {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": (
            "hamr: * writes only if the caller has no connection yet (create, never "
            "overwrite); 412 otherwise, nothing stored"
        ),
        "schema": _STRING,
    },
    _IDEMPOTENCY_KEY,
    {
        "name": OVERRIDE_HEADER,
        "in": "header",
        "required": False,
        "description": (
            "hamr (break-glass): store a move the transition policy refuses, saying why; the "
            "reason goes into the pair's history, with X-Hamr-Warning on the answer. Under "
            "--transitions enforce it needs the admin permission."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    },
]
VALIDATE_PATH = "/api/v1/validate"
_VALIDATE: dict[str, Any] = {
    "get": {
        "operationId": "Validate",
        "summary": "Validate API key (as Datadog's: no application key)",
        "security": [{"apiKeyAuth": []}],
        "responses": {
            "200": {
                "description": "OK: the key is valid",
                "content": {
                    JSON: {
                        "schema": {
                            "type": "object",
                            "required": ["valid"],
                            "properties": {"valid": {"type": "boolean"}},
                        },
                        "example": VALIDATE_ANSWER,
                    }
                },
            },
            "403": {
                "description": "Forbidden: DD-API-KEY is missing, unknown or revoked",
                "content": {JSON: {"schema": {"$ref": REF.format(model="APIErrorResponse")}}},
            },
        },
    }
}
_POST_HEADERS = {
    "ETag": {**_ETAG, "description": "hamr: the written connection's ETag (not on a dry run)"},
    "X-Hamr-Dry-Run": {"description": "hamr: true on a dry run", "schema": _STRING},
    "Idempotency-Replayed": {
        "description": "hamr: true when this is the first answer to this key, again",
        "schema": _STRING,
    },
    "X-Hamr-Warning": {
        "description": "hamr: what was accepted but not done as asked, or stored though it "
        "breaks a rule",
        "schema": _STRING,
    },
}


def _response_schemas(attributes: str) -> dict[str, Any]:
    """The response document around the attributes of the configured wire mode."""
    data = {
        "type": "object",
        "required": ["attributes", "id", "type"],
        "properties": {
            "attributes": _ref(attributes),
            "id": {"type": "string"},
            "type": {"type": "string", "enum": ["hamr_org_connections"]},
        },
    }
    document = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": _ref("HamrOrgConnectionDataResponse")},
    }
    return {"HamrOrgConnectionDataResponse": data, "HamrOrgConnectionResponse": document}


def _component_schemas(model: type[BaseModel]) -> dict[str, Any]:
    """The model and the models it nests, in OpenAPI 3.0 terms."""
    schema = model.model_json_schema(ref_template=REF)
    found: dict[str, Any] = schema.pop("$defs", {})
    found[model.__name__] = schema
    return {name: _openapi30(part) for name, part in found.items()}


def _openapi30(schema: Any) -> Any:
    """JSON Schema as pydantic writes it, made OpenAPI 3.0: `const` becomes a one-value
    `enum`, and pydantic's generated titles go."""
    if isinstance(schema, list):
        return [_openapi30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _openapi30(value) for key, value in schema.items() if key != "title"}
    if "const" in converted:
        converted["enum"] = [converted.pop("const")]
    if "properties" in schema:  # a property named "title" is a property, not a title
        converted["properties"] = {k: _openapi30(v) for k, v in schema["properties"].items()}
    return converted


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json(description: str, schema: str, content_type: str = JSON) -> dict[str, Any]:
    return {"description": description, "content": {content_type: {"schema": _ref(schema)}}}


def _pick(responses: dict[str, Any], *codes: str) -> dict[str, Any]:
    return {code: responses[code] for code in codes}
