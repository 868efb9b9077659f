"""How /openapi.json describes the endpoints for the platform rather than for HAMR clients
(api/probes.py): liveness, readiness, metrics (when served on the API's port), and the
document itself. None needs keys. Examples copied from a real `hamr serve`."""

from __future__ import annotations

from typing import Any

from hamr.api.probes import UNREADY
from hamr.api.responses import JSON

REF = "#/components/schemas/{model}"
METRICS_PATH = "/metrics"
OPENAPI_PATH = "/openapi.json"
_READY = {"status": "ready", "checks": {"database": "ok", "rate_limit_storage": "ok"}}
_METRICS = (
    "# HELP hamr_http_requests_total HTTP requests answered, by route, method and status.\n"
    "# TYPE hamr_http_requests_total counter\n"
    'hamr_http_requests_total{method="GET",route="/api/v2/hamr",status="200"} 1.0\n'
)
# The document's own answer, abridged: the whole of it is what this one describes.
_DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "hamr: HAMR organization connections", "version": "0.2.0"},
    "security": [{"apiKeyAuth": [], "appKeyAuth": []}, {"AuthZ": []}],
    "paths": {},
    "components": {},
}
PROBE_SCHEMAS: dict[str, Any] = {
    "HamrReadiness": {
        "type": "object",
        "required": ["checks", "status"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "checks": {
                "type": "object",
                "required": ["database", "rate_limit_storage"],
                "properties": {
                    "database": {
                        "type": "string",
                        "description": "ok, or why not: "
                        + "; ".join(UNREADY.values())
                        + "; or that it did not answer in time",
                    },
                    "rate_limit_storage": {
                        "type": "string",
                        "description": "ok, or unreachable (requests are then not limited; "
                        "this does not decide readiness)",
                    },
                },
            },
        },
    }
}


def _get(operation_id: str, summary: str, responses: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": [],
            "responses": responses,
        }
    }


def _json(description: str, schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema, "example": example}}}


_READINESS = {"$ref": REF.format(model="HamrReadiness")}
PROBE_PATHS: dict[str, Any] = {
    "/healthz": _get(
        "GetLiveness",
        "Liveness: the process is up and its event loop answers",
        {
            "200": _json(
                "OK",
                {
                    "type": "object",
                    "required": ["status"],
                    "properties": {"status": {"type": "string", "enum": ["ok"]}},
                },
                {"status": "ok"},
            )
        },
    ),
    "/readyz": _get(
        "GetReadiness",
        "Readiness: the database answers at this hamr's schema revision",
        {
            "200": _json("Ready", _READINESS, _READY),
            "503": {
                "description": "Unavailable: checks says why",
                "content": {JSON: {"schema": _READINESS}},
            },
        },
    ),
    METRICS_PATH: _get(
        "GetMetrics",
        "Prometheus metrics (here only when served on the API's port: --metrics-port 0)",
        {
            "200": {
                "description": "Prometheus' text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}, "example": _METRICS}},
            }
        },
    ),
    OPENAPI_PATH: _get(
        "GetOpenApi",
        "This document, for the wire mode the server runs with",
        {"200": _json("OK", {"type": "object"}, _DOCUMENT)},
    ),
}
