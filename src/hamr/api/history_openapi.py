"""How /openapi.json describes `GET /api/v2/hamr/history`: its parameters as
api/history_query.py reads them (every value the schemas allow is accepted, every other is a
400), and its response as api/history_routes.py writes it."""

from __future__ import annotations

from typing import Any

from hamr.api.history_query import (
    CURSOR_PATTERN,
    DEFAULT_PAGE_SIZE,
    FILTER_FROM,
    FILTER_STATUS,
    FILTER_TO,
    MAX_PAGE_SIZE,
    PAGE_CURSOR,
    PAGE_SIZE,
)
from hamr.api.history_routes import EVENT_TYPE
from hamr.api.openapi_examples import HISTORY_ANSWER
from hamr.api.responses import JSON

REF = "#/components/schemas/{model}"
NULLABLE_STRING = {"type": "string", "nullable": True}
CONNECTION_VIEW = {
    "type": "object",
    "nullable": True,
    "additionalProperties": True,
    "description": "The connection as the writer read it (the contract's attributes); null "
    "before the first write (before) and for an unlink (after).",
}
HISTORY_SCHEMAS: dict[str, Any] = {
    "HamrHistoryEventAttributes": {
        "type": "object",
        "required": [
            "after",
            "before",
            "chain_hash",
            "connection_id",
            "key_id",
            "modified_by",
            "org_uuid",
            "reason",
            "recorded_at",
            "violation",
        ],
        "properties": {
            "org_uuid": {"type": "string", "description": "The organization that wrote it."},
            "key_id": {"type": "string"},
            "connection_id": NULLABLE_STRING,
            "modified_by": {"type": "string"},
            "recorded_at": {"type": "string", "format": "date-time"},
            "before": CONNECTION_VIEW,
            "after": CONNECTION_VIEW,
            "violation": NULLABLE_STRING,
            "reason": NULLABLE_STRING,
            "chain_hash": {**NULLABLE_STRING, "pattern": "^[0-9a-f]{64}$"},
        },
    },
    "HamrHistoryEvent": {
        "type": "object",
        "required": ["attributes", "id", "type"],
        "properties": {
            "attributes": {"$ref": REF.format(model="HamrHistoryEventAttributes")},
            "id": {"type": "string"},
            "type": {"type": "string", "enum": [EVENT_TYPE]},
        },
    },
    "HamrHistoryEventsResponse": {
        "type": "object",
        "required": ["data", "links", "meta"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": REF.format(model="HamrHistoryEvent")}},
            "meta": {
                "type": "object",
                "required": ["page"],
                "properties": {
                    "page": {
                        "type": "object",
                        "required": ["next_cursor", "size"],
                        "properties": {
                            "size": {"type": "integer"},
                            "next_cursor": NULLABLE_STRING,
                        },
                    }
                },
            },
            "links": {
                "type": "object",
                "required": ["next"],
                "properties": {"next": NULLABLE_STRING},
            },
        },
    },
}


def history_operations(errors: dict[str, Any]) -> dict[str, Any]:
    """The path item, answering `errors` (already picked for the wire mode) besides 200."""
    return {
        "get": {
            "operationId": "ListHamrHistoryEvents",
            "summary": "List the history of the caller's pair (hamr's extension)",
            "description": (
                "Every accepted change to the connections the caller's organization was in, "
                "both sides' writes, newest first, with each row's hash chain link."
            ),
            "parameters": [
                _query(
                    PAGE_SIZE,
                    {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_PAGE_SIZE,
                        "default": DEFAULT_PAGE_SIZE,
                    },
                    "Events per page.",
                    example=1,
                ),
                _query(
                    PAGE_CURSOR,
                    {"type": "string", "pattern": CURSOR_PATTERN},
                    "Where the page starts: a previous page's meta.page.next_cursor.",
                ),
                _query(
                    FILTER_FROM,
                    {"type": "string", "format": "date-time"},
                    "Only events recorded at or after this time (RFC 3339).",
                ),
                _query(
                    FILTER_TO,
                    {"type": "string", "format": "date-time"},
                    "Only events recorded at or before this time (RFC 3339).",
                ),
                _query(
                    FILTER_STATUS,
                    {"type": "integer", "minimum": 0, "maximum": 5},
                    "Only events whose after.hamr_status is this.",
                ),
            ],
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {
                        JSON: {
                            "schema": {"$ref": REF.format(model="HamrHistoryEventsResponse")},
                            "example": HISTORY_ANSWER,
                        }
                    },
                },
                **errors,
            },
        }
    }


def _query(name: str, schema: dict[str, Any], description: str, **example: Any) -> dict[str, Any]:
    """A query parameter; `example=` gives the value the document's example request sends."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
        **example,
    }
