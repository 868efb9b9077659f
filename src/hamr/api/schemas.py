"""The request body's shape, checked strictly (a string "4" is not a status, "true" is not a
boolean), with every mistake in a body turned into one violation naming its JSON pointer.

Each attribute may be spelled as the contract spells it (`hamr_status`) or as Datadog's live
API does (`HamrStatus`); errors point at the spelling the client sent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

import pydantic
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

from hamr.api.conditional import Encoded, encode
from hamr.api.pydantic_errors import BodyRules, violation, violations
from hamr.api.wire import PASCAL_CASE, RESOURCE_TYPE, WireFormat
from hamr.domain.errors import Forbidden, ValidationFailed, Violation
from hamr.domain.model import Connection, HamrStatus, Org, RequestedChange
from hamr.domain.rules import (
    ATTRIBUTES,
    FIELDS,
    MAX_TEXT_LENGTH,
    canonical_datacenter,
    connection_violations,
)
from hamr.usecases.caches import LruDict

# Not blank, and no NUL: PostgreSQL text cannot hold one, so neither backend accepts it.
Text = Annotated[
    str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$")
]
Status = Annotated[int, Field(ge=0, le=5, json_schema_extra={"enum": [int(s) for s in HamrStatus]})]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class HamrOrgConnectionAttributesRequest(_Strict):
    """The contract's request attributes (published in /openapi.json)."""

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


class _AcceptedAttributes(_Strict):
    """What hamr accepts beyond the contract: the target's name and datacenter may be left
    out when hamr knows the target (Datadog's DDR set-up body sends neither)."""

    hamr_status: Status
    is_primary: bool
    modified_by: Text
    target_org_datacenter: Text | None = None
    target_org_name: Text | None = None
    target_org_uuid: Text


class _AcceptedData(_Strict):
    attributes: _AcceptedAttributes
    id: Annotated[str, Field(min_length=1)]
    type: Literal["hamr_org_connections"]


class _AcceptedRequest(_Strict):
    data: _AcceptedData


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


class LiveAttributesResponse(BaseModel):
    """The attributes as Datadog's live API answers them."""

    HamrStatus: Status
    IsPrimary: bool
    ModifiedAt: Annotated[str, Field(description="UTC, e.g. 2026-05-28 16:34:21.636477")]
    ModifiedBy: str
    OrgDatacenter: Annotated[str, Field(description="The caller's datacenter, e.g. eu1.prod.dog")]
    TargetOrgDatacenter: Annotated[str, Field(description="e.g. us5.prod.dog")]
    TargetOrgName: str
    TargetOrgUuid: str


class BothAttributesResponse(LiveAttributesResponse, HamrOrgConnectionAttributesResponse):
    """The contract's attributes followed by the live API's (`--wire both`): pydantic takes
    fields from the last base first."""


def response_attributes(wire: WireFormat) -> type[BaseModel]:
    """The response attributes' model in this wire mode, for /openapi.json."""
    models: dict[str, type[BaseModel]] = {
        "contract": HamrOrgConnectionAttributesResponse,
        "live": LiveAttributesResponse,
        "both": BothAttributesResponse,
    }
    return models[wire.mode]


_OPTIONAL = ("target_org_datacenter", "target_org_name")
_STATUS_NAMES = ", ".join(f"{s.value} {s.name}" for s in HamrStatus)
_TEXT_RULE = f"must be a string of 1 to {MAX_TEXT_LENGTH} characters, not blank, without NUL"
_ALLOWED = {
    "": "The body must be a JSON object with a `data` member.",
    "/data": "data must be an object with `id`, `type` and `attributes`.",
    "/data/id": "data.id must be your organization's UUID, as a string.",
    "/data/type": f'data.type must be the string "{RESOURCE_TYPE}".',
    "/data/attributes": "data.attributes must be an object with the connection's fields.",
}
_ATTRIBUTE_RULES = {
    "hamr_status": f"must be an integer 0 to 5 ({_STATUS_NAMES}).",
    "is_primary": "must be true or false (JSON booleans, not strings).",
    "modified_by": f"{_TEXT_RULE}.",
    "target_org_name": f"{_TEXT_RULE}.",
    "target_org_uuid": f"{_TEXT_RULE}: the partner organization's UUID.",
}


@dataclass(frozen=True, slots=True)
class ConnectionRequest:
    """A POST body read and its shape checked, once: what the partner rules (`checked`) are
    then applied to, on the event loop or, when they need storage, on a worker thread."""

    attributes: dict[str, object]
    pointers: dict[str, str]
    problems: list[Violation]
    accepted: _AcceptedRequest | None

    def checked(
        self, caller: Org, datacenters: frozenset[str], find_org: Callable[[str], Org | None]
    ) -> RequestedChange:
        """The change the body asks for, or ValidationFailed listing every mistake in it at
        once: its shape, and the partner rules (against hamr's record of the target, which
        `find_org` reads, too). A POST's partner rules are checked here only: the service's
        resolve_change relies on it."""
        problems = self.problems + connection_violations(
            self.attributes, caller, datacenters, self.pointers, find_org
        )
        if problems or self.accepted is None:
            raise ValidationFailed(problems)
        data = self.accepted.data
        if data.id.lower() != caller.uuid:
            raise Forbidden(
                f"data.id {data.id!r} is not your organization; this key belongs to "
                f"{caller.uuid}, and an organization can only change its own connection.",
                pointer="/data/id",
            )
        accepted = data.attributes
        datacenter = accepted.target_org_datacenter
        return RequestedChange(
            hamr_status=HamrStatus(accepted.hamr_status),
            is_primary=accepted.is_primary,
            modified_by=accepted.modified_by,
            target_org_uuid=accepted.target_org_uuid,
            target_org_name=accepted.target_org_name,
            target_org_datacenter=canonical_datacenter(datacenter) if datacenter else None,
            pointers=self.pointers,
        )


def read_connection_request(body: bytes, datacenters: frozenset[str]) -> ConnectionRequest:
    """A POST body parsed and validated against the model (JSON that is not an object, or
    not JSON, is refused here); the mistakes in its shape are kept for `checked` to report
    with the partner rules' own."""
    try:
        document = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as error:
        raise ValidationFailed(
            [Violation("", f"The body is not valid JSON ({error}); send a JSON object.")]
        ) from None
    attributes, pointers, problems = _unify_spellings(_raw_attributes(document))
    accepted: _AcceptedRequest | None = None
    try:
        accepted = _AcceptedRequest.model_validate(_with_attributes(document, attributes))
    except pydantic.ValidationError as error:
        problems += violations(error, _rules_for(datacenters, pointers))
    problems += [  # may be left out, but not sent as null
        violation(
            {
                "loc": ("data", "attributes", name),
                "type": "string_type",
                "input": None,
                "msg": "",
            },
            _rules_for(datacenters, pointers),
        )
        for name in _OPTIONAL
        if name in attributes and attributes[name] is None
    ]
    return ConnectionRequest(attributes, pointers, problems, accepted)


def _unify_spellings(
    raw: dict[str, object],
) -> tuple[dict[str, object], dict[str, str], list[Violation]]:
    """The attributes under the contract's names, where each was (in the client's spelling),
    and a violation for each attribute sent in both spellings with different values. An
    attribute not sent is pointed at in the spelling the rest of the request used."""
    pascal_style = any(PASCAL_CASE[name] in raw for name in FIELDS) and not any(
        name in raw for name in FIELDS
    )
    attributes: dict[str, object] = {}
    pointers: dict[str, str] = {}
    problems: list[Violation] = []
    for name in FIELDS:
        pascal = PASCAL_CASE[name]
        sent_pascal = name not in raw and (pascal in raw or pascal_style)
        spelled = pascal if sent_pascal else name
        pointers[name] = f"{ATTRIBUTES}/{spelled}"
        if name in raw and pascal in raw:
            if not _same_json(raw[name], raw[pascal]):
                problems.append(
                    Violation(
                        f"{ATTRIBUTES}/{pascal}",
                        f"{name} and {pascal} are one attribute in two spellings, and they "
                        f"disagree ({json.dumps(raw[name])} and {json.dumps(raw[pascal])}); "
                        "send one spelling, or the same value in both.",
                    )
                )
            attributes[name] = raw[name]
        elif name in raw or pascal in raw:
            attributes[name] = raw[name] if name in raw else raw[pascal]
    return attributes, pointers, problems


def _same_json(a: object, b: object) -> bool:
    """Equal as JSON values (Python's True == 1 is not JSON's)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _with_attributes(document: Any, attributes: dict[str, object]) -> Any:
    """The document with its attributes replaced by the unified ones, for validation."""
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        return document
    return {**document, "data": {**data, "attributes": attributes}}


class DocumentCache:
    """Encoded GET bodies and their ETags by org, reused while the connection they encode is
    still the one being served (the same object from the service's cache), so polling costs
    no encoding and no hashing. A POST's answer is encoded here too: the writer's next GET
    finds an equal connection (the cache's own copy of what was written) and reuses it."""

    def __init__(self, wire: WireFormat, max_entries: int = 50_000):
        self.wire = wire
        self._cache: LruDict[tuple[Connection, Encoded]] = LruDict(max_entries)

    def encode(self, connection: Connection) -> Encoded:
        cached = self._cache.get(connection.org_uuid)
        if cached is not None:
            if cached[0] is connection:
                return cached[1]
            if cached[0] == connection:  # equal fields, equal bytes; the same object next time
                self._cache.put(connection.org_uuid, (connection, cached[1]))
                return cached[1]
        document = encode(self.wire, connection)
        self._cache.put(connection.org_uuid, (connection, document))
        return document


def _raw_attributes(document: Any) -> dict[str, object]:
    data = document.get("data") if isinstance(document, dict) else None
    attributes = data.get("attributes") if isinstance(data, dict) else None
    return attributes if isinstance(attributes, dict) else {}


@functools.lru_cache(maxsize=8)
def _body_rules(datacenters: frozenset[str]) -> BodyRules:
    """What to tell the sender of a connection request, for these datacenters."""
    return BodyRules(
        body="",
        fields={
            **_ALLOWED,
            **{
                f"{ATTRIBUTES}/{name}": f"{{name}} {rule}"
                for name, rule in _ATTRIBUTE_RULES.items()
            },
            f"{ATTRIBUTES}/target_org_datacenter": (
                f"{{name}} must be one of: {', '.join(sorted(datacenters))}."
            ),
        },
        missing="Missing required {name}. {what}",
        invalid="Invalid {name}: got {got} ({kind}). {what}",
    )


def _rules_for(datacenters: frozenset[str], pointers: dict[str, str]) -> BodyRules:
    """The rules, with each attribute pointed at in the spelling the client sent it in."""
    sent_at = {f"{ATTRIBUTES}/{name}": pointer for name, pointer in pointers.items()}
    return replace(_body_rules(datacenters), sent_at=sent_at)
