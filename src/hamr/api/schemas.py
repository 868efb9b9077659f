"""The request body's shape, checked strictly (a string "4" is not a status, "true" is not a
boolean), with every mistake in a body turned into one violation naming its JSON pointer."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

from hamr.caches import BoundedDict
from hamr.domain.errors import Forbidden, ValidationFailed, Violation
from hamr.domain.model import Connection, ConnectionChange, HamrStatus, Org
from hamr.domain.rules import MAX_TEXT_LENGTH, connection_violations

RESOURCE_TYPE = "hamr_org_connections"

# Not blank, and no NUL: PostgreSQL text cannot hold one, so neither backend accepts it.
Text = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
Status = Annotated[int, Field(ge=0, le=5, json_schema_extra={"enum": [int(s) for s in HamrStatus]})]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class HamrOrgConnectionAttributesRequest(_Strict):
    hamr_status: Status
    is_primary: bool
    modified_by: Text
    target_org_datacenter: Text
    target_org_name: Text
    target_org_uuid: Text


class HamrOrgConnectionDataRequest(_Strict):
    attributes: HamrOrgConnectionAttributesRequest
    id: Annotated[str, Field(min_length=1)]
    type: Literal["hamr_org_connections"]


class HamrOrgConnectionRequest(_Strict):
    data: HamrOrgConnectionDataRequest


# The response side, as served (the body itself is encoded directly, for speed; tests check
# that what is served validates against these and against the contract).
class HamrOrgConnectionAttributesResponse(BaseModel):
    hamr_status: Status
    is_primary: bool
    modified_at: str
    modified_by: str
    target_org_datacenter: str
    target_org_name: str
    target_org_uuid: str


class HamrOrgConnectionDataResponse(BaseModel):
    attributes: HamrOrgConnectionAttributesResponse
    id: str
    type: Literal["hamr_org_connections"]


class HamrOrgConnectionResponse(BaseModel):
    data: HamrOrgConnectionDataResponse


_STATUS_NAMES = ", ".join(f"{s.value} {s.name}" for s in HamrStatus)
_TEXT_RULE = f"must be a string of 1 to {MAX_TEXT_LENGTH} characters, not blank, without NUL"
_ALLOWED = {
    "": "The body must be a JSON object with a `data` member.",
    "/data": "data must be an object with `id`, `type` and `attributes`.",
    "/data/id": "data.id must be your organization's UUID, as a string.",
    "/data/type": f'data.type must be the string "{RESOURCE_TYPE}".',
    "/data/attributes": "data.attributes must be an object with the connection's fields.",
    "/data/attributes/hamr_status": f"hamr_status must be an integer 0 to 5 ({_STATUS_NAMES}).",
    "/data/attributes/is_primary": "is_primary must be true or false (JSON booleans, not strings).",
    "/data/attributes/modified_by": f"modified_by {_TEXT_RULE}.",
    "/data/attributes/target_org_name": f"target_org_name {_TEXT_RULE}.",
    "/data/attributes/target_org_uuid": (
        f"target_org_uuid {_TEXT_RULE}: the partner organization's UUID."
    ),
}


def parse_connection_request(
    body: bytes, caller: Org, datacenters: frozenset[str]
) -> ConnectionChange:
    """The change a POST body asks for, or ValidationFailed listing every mistake in it."""
    try:
        document = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as error:
        raise ValidationFailed(
            [Violation("", f"The body is not valid JSON ({error}); send a JSON object.")]
        ) from None
    problems: list[Violation] = []
    request: HamrOrgConnectionRequest | None = None
    try:
        request = HamrOrgConnectionRequest.model_validate(document)
    except pydantic.ValidationError as error:
        problems = [_violation(e, datacenters) for e in error.errors(include_url=False)]
    problems += connection_violations(_raw_attributes(document), caller, datacenters)
    if problems or request is None:
        raise ValidationFailed(problems)
    data = request.data
    if data.id.lower() != caller.uuid:
        raise Forbidden(
            f"data.id {data.id!r} is not your organization; this key belongs to "
            f"{caller.uuid}, and an organization can only change its own connection.",
            pointer="/data/id",
        )
    attributes = data.attributes
    return ConnectionChange(
        hamr_status=HamrStatus(attributes.hamr_status),
        is_primary=attributes.is_primary,
        modified_by=attributes.modified_by,
        target_org_datacenter=attributes.target_org_datacenter,
        target_org_name=attributes.target_org_name,
        target_org_uuid=attributes.target_org_uuid,
    )


def connection_document(connection: Connection) -> bytes:
    return pydantic_core.to_json(
        {
            "data": {
                "attributes": connection.attributes(),
                "id": connection.org_uuid,
                "type": RESOURCE_TYPE,
            }
        }
    )


class DocumentCache:
    """Encoded GET bodies by org, reused while the connection they encode is still the one
    being served (the same object from the service's cache), so polling costs no encoding."""

    def __init__(self, max_entries: int = 50_000):
        self._cache: BoundedDict[tuple[Connection, bytes]] = BoundedDict(max_entries)

    def encode(self, connection: Connection) -> bytes:
        cached = self._cache.entries.get(connection.org_uuid)
        if cached is not None and cached[0] is connection:
            return cached[1]
        document = connection_document(connection)
        self._cache.put(connection.org_uuid, (connection, document))
        return document


def _raw_attributes(document: Any) -> dict[str, object]:
    data = document.get("data") if isinstance(document, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    return attributes if isinstance(attributes, dict) else {}


def _violation(error: Any, datacenters: frozenset[str]) -> Violation:
    location = [str(part) for part in error["loc"]]
    pointer = "".join(f"/{part}" for part in location)
    if pointer == "/data/attributes/target_org_datacenter":
        allowed = f"target_org_datacenter must be one of: {', '.join(sorted(datacenters))}."
    else:
        allowed = _ALLOWED.get(pointer, "")
    name = location[-1] if location else "body"
    if error["type"] == "missing":
        return Violation(pointer, f"Missing required {name}. {allowed}".strip())
    got = json.dumps(error["input"])
    if len(got) > 60:
        got = got[:57] + "..."
    kind = _json_type(error["input"])
    if error["type"] in ("string_too_short", "string_too_long"):
        kind = f"{kind} of {len(error['input'])} characters"
    return Violation(pointer, f"Invalid {name}: got {got} ({kind}). {allowed}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "a blank string"
    if isinstance(value, list):
        return "an array"
    return "an object"
