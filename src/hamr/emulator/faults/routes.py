"""The emulator's fault rules over HTTP: `GET|POST|DELETE /_hamr/faults` and
`DELETE /_hamr/faults/{id}`, behind the admin token like the rest of /_hamr/."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hamr.api.body import json_document, read_json_body
from hamr.api.responses import json_response
from hamr.domain.errors import NotFound
from hamr.emulator.admin_auth import admitted, emulator_of
from hamr.emulator.faults.rules import FaultRules

FAULTS_PATH = "/_hamr/faults"
RULE_TYPE = "hamr_fault_rule"


def fault_routes() -> list[Route]:
    return [
        Route(FAULTS_PATH, faults, methods=["GET", "POST", "DELETE"]),
        Route(FAULTS_PATH + "/{rule_id}", one_fault, methods=["DELETE"]),
    ]


def _rules(request: Request) -> FaultRules:
    return emulator_of(request).faults


async def faults(request: Request) -> Response:
    """GET lists the rules in order with how often each fired; POST adds one rule (201) or a
    list of them, all or none (201); DELETE clears them all."""
    state = await admitted(request)
    rules = _rules(request)
    if request.method == "GET":
        return json_response({"data": [_resource(rule) for rule in rules.rules()]})
    if request.method == "DELETE":
        return json_response({"meta": {"cleared": rules.clear()}})
    raw = await read_json_body(request, state.settings.max_body_bytes)
    sent = json_document(raw, "a fault rule (a JSON object) or a list of them")
    added = rules.add_all(sent) if isinstance(sent, list) else [rules.add(sent)]
    documents = {rule["id"]: rule for rule in rules.rules()}
    data = [_resource(documents[rule.id]) for rule in added]
    return json_response({"data": data if isinstance(sent, list) else data[0]}, status=201)


async def one_fault(request: Request) -> Response:
    """DELETE one rule by its id."""
    await admitted(request)
    rules = _rules(request)
    rule_id = request.path_params["rule_id"]
    if not rules.remove(rule_id):
        known = ", ".join(str(rule["id"]) for rule in rules.rules()) or "none"
        raise NotFound(f"There is no fault rule {rule_id}; the rules in force are: {known}.")
    return Response(status_code=204)


def _resource(document: dict[str, Any]) -> dict[str, Any]:
    attributes = {name: value for name, value in document.items() if name != "id"}
    return {"type": RULE_TYPE, "id": document["id"], "attributes": attributes}
