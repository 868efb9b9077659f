"""The rules a connection must obey, beyond the shapes of its fields."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hamr.domain.errors import Violation
from hamr.domain.model import Org

ATTRIBUTES = "/data/attributes"
DEFAULT_DATACENTERS: tuple[str, ...] = (
    "us1",
    "us3",
    "us5",
    "eu1",
    "ap1",
    "ap2",
    "us1-fed",
    "us2-fed",
    "uk1",
)
MAX_TEXT_LENGTH = 255
# Datadog's live API writes datacenters with this suffix (`us5.prod.dog`); hamr keeps the short
# name and accepts either.
LIVE_DATACENTER_SUFFIX = ".prod.dog"
# The attributes a request names, in the contract's order.
FIELDS = (
    "hamr_status",
    "is_primary",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def is_uuid(value: str) -> bool:
    """True for the canonical 8-4-4-4-12 hexadecimal form, in either case."""
    return _UUID.match(value) is not None


def canonical_datacenter(value: str) -> str:
    """`us5.prod.dog` and `us5` name one datacenter; hamr stores the short name."""
    if value.endswith(LIVE_DATACENTER_SUFFIX):
        return value[: -len(LIVE_DATACENTER_SUFFIX)]
    return value


def default_pointers() -> dict[str, str]:
    """Where each attribute is in a request spelled as the contract spells it."""
    return {name: f"{ATTRIBUTES}/{name}" for name in FIELDS}


def connection_violations(
    attributes: Mapping[str, object],
    caller: Org,
    datacenters: frozenset[str],
    pointers: Mapping[str, str] | None = None,
) -> list[Violation]:
    """Check the partner fields against the caller. Values of the wrong shape (not a string,
    blank, too long) are left to the schema, so that each mistake is reported exactly once.
    `pointers` say where each attribute was, in the client's spelling."""
    at = {**default_pointers(), **(pointers or {})}
    problems: list[Violation] = []
    target_uuid = _well_formed_text(attributes.get("target_org_uuid"))
    if target_uuid is not None:
        if not is_uuid(target_uuid):
            problems.append(
                Violation(
                    at["target_org_uuid"],
                    f"target_org_uuid must be a UUID such as "
                    f"660f9511-f3ac-52e5-b827-557766551111, not {target_uuid!r}.",
                )
            )
        elif target_uuid.lower() == caller.uuid:
            problems.append(
                Violation(
                    at["target_org_uuid"],
                    "target_org_uuid is your own organization's UUID; "
                    "name the partner organization in the other datacenter.",
                )
            )
    target_dc = _well_formed_text(attributes.get("target_org_datacenter"))
    if target_dc is not None:
        target_dc = canonical_datacenter(target_dc)
        if target_dc not in datacenters:
            allowed = ", ".join(sorted(datacenters))
            problems.append(
                Violation(
                    at["target_org_datacenter"],
                    f"target_org_datacenter {target_dc!r} is not a known datacenter; "
                    f"use one of: {allowed}.",
                )
            )
        elif target_dc == caller.datacenter:
            problems.append(
                Violation(
                    at["target_org_datacenter"],
                    f"target_org_datacenter {target_dc!r} is your own organization's datacenter; "
                    "the partner must be in another datacenter.",
                )
            )
    return problems


def _well_formed_text(value: object) -> str | None:
    """The value if it is a non-blank string of allowed length; the schema reports the rest."""
    if isinstance(value, str) and value.strip() and len(value) <= MAX_TEXT_LENGTH:
        return value
    return None
