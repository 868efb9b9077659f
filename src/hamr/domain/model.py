"""Value objects of the HAMR model."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass


class HamrStatus(enum.IntEnum):
    """Status of a HAMR connection, numbered as on the wire."""

    UNSPECIFIED = 0
    ONBOARDING = 1
    PASSIVE = 2
    FAILOVER = 3
    ACTIVE = 4
    RECOVERY = 5


class KeyKind(enum.StrEnum):
    """What a credential is: a DD-API-KEY, a DD-APPLICATION-KEY or a bearer token."""

    API = "api"
    APP = "app"
    TOKEN = "token"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Org:
    uuid: str
    name: str
    datacenter: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the organization and the credential that proved it."""

    org: Org
    key_id: str


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """An unrevoked credential as the read side finds it by hash."""

    key_id: str
    kind: KeyKind
    secret_hash: str
    org: Org


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """What a caller asks to store: the request attributes, already type-checked."""

    hamr_status: HamrStatus
    is_primary: bool
    modified_by: str
    target_org_datacenter: str
    target_org_name: str
    target_org_uuid: str


@dataclass(frozen=True, slots=True)
class Connection:
    """A stored connection; `modified_at_us` is microseconds since the Unix epoch, UTC."""

    org_uuid: str
    hamr_status: HamrStatus
    is_primary: bool
    modified_at_us: int
    modified_by: str
    target_org_datacenter: str
    target_org_name: str
    target_org_uuid: str

    @classmethod
    def from_change(
        cls, org_uuid: str, change: ConnectionChange, modified_at_us: int
    ) -> Connection:
        return cls(
            org_uuid=org_uuid,
            hamr_status=change.hamr_status,
            is_primary=change.is_primary,
            modified_at_us=modified_at_us,
            modified_by=change.modified_by,
            target_org_datacenter=change.target_org_datacenter,
            target_org_name=change.target_org_name,
            target_org_uuid=change.target_org_uuid,
        )

    @property
    def modified_at(self) -> str:
        return format_timestamp(self.modified_at_us)

    def attributes(self) -> dict[str, object]:
        """The wire attributes, in the contract's order."""
        return {
            "hamr_status": int(self.hamr_status),
            "is_primary": self.is_primary,
            "modified_at": self.modified_at,
            "modified_by": self.modified_by,
            "target_org_datacenter": self.target_org_datacenter,
            "target_org_name": self.target_org_name,
            "target_org_uuid": self.target_org_uuid,
        }


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One accepted change: what the connection was, what it became, and who made it."""

    key_id: str
    before: Connection | None
    after: Connection
    recorded_at_us: int


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A credential as stored: never the secret, only its hash."""

    id: str
    org_uuid: str
    kind: KeyKind
    created_at_us: int
    revoked_at_us: int | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at_us is not None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One accepted change, as appended to the org's history."""

    id: int
    org_uuid: str
    key_id: str
    modified_by: str
    recorded_at_us: int
    before: dict[str, object] | None
    after: dict[str, object]


def format_timestamp(microseconds: int) -> str:
    """RFC 3339 in UTC with microseconds and `Z`, as Datadog writes `modified_at`."""
    seconds, micros = divmod(microseconds, 1_000_000)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(seconds))}.{micros:06d}Z"


def next_modified_at(now_us: int, previous_us: int | None) -> int:
    """A timestamp strictly after the previous one, even if the clock stalled or stepped back."""
    if previous_us is None or now_us > previous_us:
        return now_us
    return previous_us + 1


@dataclass(frozen=True, slots=True)
class Statistics:
    """What monitoring reports about stored state."""

    connections_by_status: dict[HamrStatus, int]
    history_rows: int
