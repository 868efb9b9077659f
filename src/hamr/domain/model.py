"""Value objects of the HAMR model."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
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


class Permission(enum.StrEnum):
    """What a credential may do, as Datadog splits reading DR status from changing it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def allows(self, needed: Permission) -> bool:
        order = (Permission.READ, Permission.WRITE, Permission.ADMIN)
        return order.index(self) >= order.index(needed)


class Policy(enum.StrEnum):
    """What hamr does with a move the lifecycle does not allow."""

    OFF = "off"  # store it, say nothing
    WARN = "warn"  # store it, and say which rule it broke
    ENFORCE = "enforce"  # refuse it


class Verdict(enum.StrEnum):
    ALLOWED = "allowed"
    WARNED = "warned"
    REFUSED = "refused"
    OVERRIDDEN = "overridden"


@dataclass(frozen=True, slots=True)
class Move:
    """A move from one status to another, judged under a policy."""

    current: HamrStatus | None
    asked: HamrStatus
    verdict: Verdict
    rule: str | None  # the rule it breaks, if it breaks one

    @property
    def stored(self) -> bool:
        return self.verdict is not Verdict.REFUSED


@dataclass(frozen=True, slots=True)
class Org:
    uuid: str
    name: str
    datacenter: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the organization and the credential that proved it (an application
    key or a token), with what that credential may do."""

    org: Org
    key_id: str
    permission: Permission = Permission.WRITE
    kind: KeyKind = KeyKind.APP


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """An unrevoked credential as the read side finds it by hash."""

    key_id: str
    kind: KeyKind
    org: Org
    permission: Permission = Permission.WRITE


@dataclass(frozen=True, slots=True)
class RequestedChange:
    """A write's attributes as the caller sent them, type-checked but not yet resolved: the
    target's name and datacenter may be left out when hamr knows the target. `pointers` say
    where each attribute is (or would be) in the request, in the spelling the client used."""

    hamr_status: HamrStatus
    is_primary: bool
    modified_by: str
    target_org_uuid: str
    target_org_name: str | None
    target_org_datacenter: str | None
    pointers: Mapping[str, str]
    override: str | None = None  # a break-glass reason (X-Hamr-Override)


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    """What a caller asks to store, type-checked and resolved: a target hamr knows is named by
    its record, whatever the request said. `target_pointer` is where the request named the
    target (in the client's spelling), for errors about it."""

    hamr_status: HamrStatus
    is_primary: bool
    modified_by: str
    target_org_datacenter: str
    target_org_name: str
    target_org_uuid: str
    target_pointer: str = "/data/attributes/target_org_uuid"
    status_pointer: str = "/data/attributes/hamr_status"
    override: str | None = None  # a break-glass reason (X-Hamr-Override)
    precondition: Precondition | None = None  # what the caller's connection must be
    keyed: KeyedWrite | None = None  # sent under an idempotency key: its answer is kept

    @property
    def target(self) -> Org:
        return Org(self.target_org_uuid, self.target_org_name, self.target_org_datacenter)


class Condition(enum.StrEnum):
    """The conditions a conditional write may set on the caller's connection."""

    MATCH = "match"  # it exists, at one of the versions named (or at any)
    NONE_MATCH = "none-match"  # it does not exist (or is at none of the versions named)


@dataclass(frozen=True, slots=True)
class Versions:
    """The versions of a connection a condition names: some, or (`every`) any at all."""

    tags: frozenset[str] = frozenset()
    every: bool = False

    def include(self, version: str) -> bool:
        return self.every or version in self.tags


@dataclass(frozen=True, slots=True)
class Precondition:
    """What a write expects of the caller's connection, checked in the write's transaction so
    that no concurrent writer slips in between the check and the write. `version_of` names a
    connection's version as the caller was shown it."""

    version_of: Callable[[Connection], str]
    match: Versions | None = None
    none_match: Versions | None = None


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """An idempotency key this request holds: the claim its org made at `claimed_at_us`. Only
    the holder of that claim may store the key's answer."""

    org_uuid: str
    key: str
    claimed_at_us: int


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer to a request sent with an idempotency key, for its retries: its code
    and body as the edge that answered encoded them, kept as they are."""

    code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An idempotency key as stored: the request it was first sent with (by digest), when, and
    its answer once there is one (`answer` None: that request is still in flight)."""

    request_digest: str
    created_at_us: int
    answer: StoredAnswer | None


@dataclass(frozen=True, slots=True)
class KeyedWrite:
    """A write sent under an idempotency key: its answer (`answer` encodes the written
    connection as the caller is answered) is stored in the write's transaction, so that a
    write and the answer its retries get are committed together or not at all."""

    claim: KeyClaim
    answer: Callable[[Connection], StoredAnswer]


@dataclass(frozen=True, slots=True)
class Connection:
    """One organization's view of its connection: what reading it returns.
    `modified_at_us` is microseconds since the Unix epoch, UTC."""

    org_uuid: str
    hamr_status: HamrStatus
    is_primary: bool
    modified_at_us: int
    modified_by: str
    target_org_datacenter: str
    target_org_name: str
    target_org_uuid: str
    org_datacenter: str

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
class Link:
    """A connection as stored: one per pair. `first` is the organization that made it;
    `second` its partner: an organization of this hamr when `linked` (then both read this one
    connection, each from its own side), else a target hamr does not know, as it was named (a
    one-sided connection). Status and `modified_*` belong to the pair, shared by both sides."""

    id: str
    first: Org
    second: Org
    linked: bool
    first_is_primary: bool
    hamr_status: HamrStatus
    modified_at_us: int
    modified_by: str

    @property
    def members(self) -> tuple[str, ...]:
        """The organizations that read this connection."""
        return (self.first.uuid, self.second.uuid) if self.linked else (self.first.uuid,)

    def other(self, org_uuid: str) -> Org:
        return self.second if org_uuid == self.first.uuid else self.first

    def view_of(self, org_uuid: str) -> Connection:
        if org_uuid == self.first.uuid:
            own, other, primary = self.first, self.second, self.first_is_primary
        else:
            own, other, primary = self.second, self.first, not self.first_is_primary
        return Connection(
            org_uuid=org_uuid,
            hamr_status=self.hamr_status,
            is_primary=primary,
            modified_at_us=self.modified_at_us,
            modified_by=self.modified_by,
            target_org_datacenter=other.datacenter,
            target_org_name=other.name,
            target_org_uuid=other.uuid,
            org_datacenter=own.datacenter,
        )


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """One accepted change: the pair's connection as the writer saw it before (None if it had
    none) and the connection it became, and which organization and key wrote it."""

    org_uuid: str
    key_id: str
    before: Connection | None
    after: Link
    recorded_at_us: int
    move: Move | None = None  # the status move and its verdict under the policy
    reason: str | None = None  # why: an override's or a pair operation's reason
    history_id: int | None = None  # the history row it wrote, once written

    @property
    def violation(self) -> str | None:
        """The lifecycle rule the move broke, when it was stored anyway."""
        return self.move.rule if self.move is not None and self.move.stored else None

    @property
    def view(self) -> Connection:
        """What the writer is answered with."""
        return self.after.view_of(self.org_uuid)


@dataclass(frozen=True, slots=True)
class PairReport:
    """Where a pair stands, for one of its organizations: its connection, since when it has
    had its status, its health (`linked`, `one-sided`, or `stuck` when a liminal status lasts
    too long), and the statuses that may follow under the policy."""

    link: Link
    viewer: str
    status_since_us: int
    health: str
    allowed_next: tuple[HamrStatus, ...]
    policy: Policy


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """A credential as stored: never the secret, only its hash."""

    id: str
    org_uuid: str
    kind: KeyKind
    created_at_us: int
    revoked_at_us: int | None
    permission: Permission = Permission.WRITE

    @property
    def revoked(self) -> bool:
        return self.revoked_at_us is not None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One accepted change to a pair's connection: which organization and key wrote it, and
    the connection before and after as the writer saw it (`after` is None for an unlink)."""

    id: int
    org_uuid: str
    key_id: str
    connection_id: str | None
    modified_by: str
    recorded_at_us: int
    before: dict[str, object] | None
    after: dict[str, object] | None
    violation: str | None = None
    reason: str | None = None  # why: an override's or a pair operation's reason
    history_id: int | None = None  # the history row it wrote, once written
    chain_hash: str | None = None  # see domain/chain.py


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """Which page of an organization's history to read, newest first: rows before
    `before_id` (a cursor: the last row of the previous page), at most `size`, recorded from
    `recorded_from_us` to `recorded_to_us` (inclusive), whose `after` has `hamr_status`."""

    size: int = 100
    before_id: int | None = None
    recorded_from_us: int | None = None
    recorded_to_us: int | None = None
    hamr_status: HamrStatus | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    """A page of history, newest first; `next_before_id` reads the next (None: the last)."""

    entries: tuple[HistoryEntry, ...]
    next_before_id: int | None


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
