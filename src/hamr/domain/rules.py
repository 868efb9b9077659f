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

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def is_uuid(value: str) -> bool:
    """True for the canonical 8-4-4-4-12 hexadecimal form, in either case."""
    return _UUID.match(value) is not None


def connection_violations(
    attributes: Mapping[str, object], caller: Org, datacenters: frozenset[str]
) -> list[Violation]:
    """Check the partner fields against the caller. Values of the wrong shape (not a string,
    blank, too long) are left to the schema, so that each mistake is reported exactly once."""
    problems: list[Violation] = []
    target_uuid = _well_formed_text(attributes.get("target_org_uuid"))
    if target_uuid is not None:
        if not is_uuid(target_uuid):
            problems.append(
                Violation(
                    f"{ATTRIBUTES}/target_org_uuid",
                    f"target_org_uuid must be a UUID such as "
                    f"660f9511-f3ac-52e5-b827-557766551111, not {target_uuid!r}.",
                )
            )
        elif target_uuid.lower() == caller.uuid:
            problems.append(
                Violation(
                    f"{ATTRIBUTES}/target_org_uuid",
                    "target_org_uuid is your own organization's UUID; "
                    "name the partner organization in the other datacenter.",
                )
            )
    target_dc = _well_formed_text(attributes.get("target_org_datacenter"))
    if target_dc is not None:
        if target_dc not in datacenters:
            allowed = ", ".join(sorted(datacenters))
            problems.append(
                Violation(
                    f"{ATTRIBUTES}/target_org_datacenter",
                    f"target_org_datacenter {target_dc!r} is not a known datacenter; "
                    f"use one of: {allowed}.",
                )
            )
        elif target_dc == caller.datacenter:
            problems.append(
                Violation(
                    f"{ATTRIBUTES}/target_org_datacenter",
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
