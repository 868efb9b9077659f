"""The rules a connection must obey, beyond the shapes of its fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

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
    find_org: Callable[[str], Org | None] | None = None,
) -> list[Violation]:
    """Check the partner fields against the caller and, given `find_org`, against hamr's
    record of the target. Values of the wrong shape (not a string, blank, too long) are left
    to the schema, so that each mistake is reported exactly once. `pointers` say where each
    attribute was, in the client's spelling, and details name it so too."""
    at = {**default_pointers(), **(pointers or {})}
    uuid_name, dc_name = _spelled(at, "target_org_uuid"), _spelled(at, "target_org_datacenter")
    problems: list[Violation] = []
    target_uuid = _well_formed_text(attributes.get("target_org_uuid"))
    target_dc = _well_formed_text(attributes.get("target_org_datacenter"))
    if target_uuid is not None:
        if not is_uuid(target_uuid):
            problems.append(
                Violation(
                    at["target_org_uuid"],
                    f"{uuid_name} must be a UUID such as "
                    f"660f9511-f3ac-52e5-b827-557766551111, not {target_uuid!r}.",
                )
            )
            target_uuid = None
        elif target_uuid.lower() == caller.uuid:
            problems.append(
                Violation(
                    at["target_org_uuid"],
                    f"{uuid_name} is your own organization's UUID; "
                    "name the partner organization in the other datacenter.",
                )
            )
            target_uuid = None
    if target_dc is not None:
        target_dc = canonical_datacenter(target_dc)
        if target_dc not in datacenters:
            allowed = ", ".join(sorted(datacenters))
            problems.append(
                Violation(
                    at["target_org_datacenter"],
                    f"{dc_name} {target_dc!r} is not a known datacenter; use one of: {allowed}.",
                )
            )
        elif target_dc == caller.datacenter:
            problems.append(
                Violation(
                    at["target_org_datacenter"],
                    f"{dc_name} {target_dc!r} is your own organization's datacenter; "
                    "the partner must be in another datacenter.",
                )
            )
    if target_uuid is not None and find_org is not None:
        target = find_org(target_uuid.lower())
        dc_checked = not any(v.pointer == at["target_org_datacenter"] for v in problems)
        problems += _record_violations(
            attributes, target_uuid.lower(), target, caller, at, dc_checked
        )
    return problems


def _record_violations(
    attributes: Mapping[str, object],
    target_uuid: str,
    target: Org | None,
    caller: Org,
    at: Mapping[str, str],
    dc_checked: bool,
) -> list[Violation]:
    """The target against hamr's record of it (`target` None: hamr does not know it, so its
    name and datacenter must be given); `attributes` leave out what was not sent."""
    if target is None:
        return [
            Violation(
                at[name],
                f"Missing required {_spelled(at, name)}: {target_uuid} is not an organization "
                f"this hamr knows, so name its {what} too.",
            )
            for name, what in (("target_org_datacenter", "datacenter"), ("target_org_name", "name"))
            if name not in attributes
        ]
    given_dc = _well_formed_text(attributes.get("target_org_datacenter"))
    if given_dc is not None and dc_checked and canonical_datacenter(given_dc) != target.datacenter:
        return [
            Violation(
                at["target_org_datacenter"],
                f"{_spelled(at, 'target_org_datacenter')} {given_dc!r} contradicts hamr's "
                f"record: {target.name} ({target.uuid}) is in {target.datacenter}; send "
                f"{target.datacenter!r} or leave it out.",
            )
        ]
    if "target_org_datacenter" not in attributes and target.datacenter == caller.datacenter:
        return [
            Violation(
                at["target_org_uuid"],
                f"{target.name} ({target.uuid}) is in your own datacenter "
                f"({target.datacenter}); the partner must be in another datacenter.",
            )
        ]
    return []


def _spelled(pointers: Mapping[str, str], name: str) -> str:
    """The attribute's name as the client spelled it (the last part of its pointer)."""
    return pointers[name].rsplit("/", 1)[-1]


def _well_formed_text(value: object) -> str | None:
    """The value if it is a non-blank string of allowed length; the schema reports the rest."""
    if isinstance(value, str) and value.strip() and len(value) <= MAX_TEXT_LENGTH:
        return value
    return None
