"""The wire formats of a connection document: the published contract's, Datadog's live API's,
and both at once (`--wire`). One encoder per mode, chosen once per app, builds every GET and
POST body, and names the content type sent with it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pydantic_core

from hamr.domain.model import Connection
from hamr.domain.rules import LIVE_DATACENTER_SUFFIX

RESOURCE_TYPE = "hamr_org_connections"
JSON = "application/json"
JSON_API = "application/vnd.api+json"

# The live API's attribute names for the contract's, as it spells what it is sent.
PASCAL_CASE = {
    "hamr_status": "HamrStatus",
    "is_primary": "IsPrimary",
    "modified_at": "ModifiedAt",
    "modified_by": "ModifiedBy",
    "target_org_datacenter": "TargetOrgDatacenter",
    "target_org_name": "TargetOrgName",
    "target_org_uuid": "TargetOrgUuid",
}
LIVE_ATTRIBUTES = (
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
)


def live_timestamp(microseconds: int) -> str:
    """`2026-05-28 16:34:21.636477`: UTC, a space, microseconds, no zone, as the live API."""
    seconds, micros = divmod(microseconds, 1_000_000)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(seconds))}.{micros:06d}"


def live_datacenter(datacenter: str) -> str:
    return datacenter + LIVE_DATACENTER_SUFFIX


def live_attributes(connection: Connection) -> dict[str, object]:
    """The attributes as the live API writes them, in its order."""
    return {
        "HamrStatus": int(connection.hamr_status),
        "IsPrimary": connection.is_primary,
        "ModifiedAt": live_timestamp(connection.modified_at_us),
        "ModifiedBy": connection.modified_by,
        "OrgDatacenter": live_datacenter(connection.org_datacenter),
        "TargetOrgDatacenter": live_datacenter(connection.target_org_datacenter),
        "TargetOrgName": connection.target_org_name,
        "TargetOrgUuid": connection.target_org_uuid,
    }


def both_attributes(connection: Connection) -> dict[str, object]:
    """The contract's seven, then the live eight: every known client finds what it reads."""
    return {**connection.attributes(), **live_attributes(connection)}


_ATTRIBUTES: dict[str, Callable[[Connection], dict[str, object]]] = {
    "contract": Connection.attributes,
    "live": live_attributes,
    "both": both_attributes,
}


@dataclass(frozen=True, slots=True)
class WireFormat:
    """How connection documents look in one `--wire` mode."""

    mode: str
    content_type: str

    @classmethod
    def named(cls, mode: str) -> WireFormat:
        return cls(mode, JSON_API if mode == "live" else JSON)

    @property
    def live_errors(self) -> bool:
        """Whether an invalid API key is answered as the live API answers it (401)."""
        return self.mode == "live"

    def document(self, connection: Connection) -> bytes:
        return pydantic_core.to_json(
            {
                "data": {
                    "attributes": _ATTRIBUTES[self.mode](connection),
                    "id": connection.org_uuid,
                    "type": RESOURCE_TYPE,
                }
            }
        )
