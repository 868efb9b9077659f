"""One connection per pair: what a write does to the pair's connection, and when it is refused.

A write by either organization of a pair changes the pair's one connection. A connection to a
target hamr does not know is one-sided and may be re-pointed freely; an organization paired
with another organization of this hamr stays so until it is unlinked.
"""

from __future__ import annotations

from collections.abc import Callable

from hamr.domain.errors import Conflict
from hamr.domain.model import ConnectionChange, Link, Org, next_modified_at


class PairingConflict(Conflict):
    """A write that would break up a pair or take a paired organization: nothing was stored.
    Unlinking `unlink_org`'s connection first would let it through (the edge says how)."""

    def __init__(self, detail: str, *, unlink_org: str, pointer: str):
        super().__init__(detail, pointer=pointer)
        self.unlink_org = unlink_org


def plan_write(
    caller: Org,
    change: ConnectionChange,
    target: Org | None,
    current: Link | None,
    target_link: Link | None,
    now_us: int,
    new_id: Callable[[], str],
) -> Link:
    """The connection `caller`'s change makes. `target` is the named target's record if hamr
    knows it; `current` is the caller's connection and `target_link` the target's, if any.
    Raises PairingConflict when the write would break up a pair or join a taken organization."""
    target_uuid = change.target_org_uuid.lower()
    if current is not None and current.linked and current.other(caller.uuid).uuid != target_uuid:
        raise _repointing_a_pair(caller, current, change)
    joining = None
    if target_link is not None and (current is None or target_link.id != current.id):
        if current is None and target_link.other(target_uuid).uuid == caller.uuid:
            joining = target_link  # the target's one-sided connection names the caller
        else:
            raise _target_taken(caller, change, target_link)
    base = current or joining
    # A target hamr does not know is kept as it was named (its UUID's case included).
    named = target or Org(
        change.target_org_uuid, change.target_org_name, change.target_org_datacenter
    )
    modified_at = next_modified_at(now_us, base.modified_at_us if base else None)
    if base is None:
        return Link(
            id=new_id(),
            first=caller,
            second=named,
            linked=target is not None,
            first_is_primary=change.is_primary,
            hamr_status=change.hamr_status,
            modified_at_us=modified_at,
            modified_by=change.modified_by,
        )
    first, second, linked = base.first, base.second, base.linked
    if joining is not None:
        second, linked = caller, True
    elif not base.linked:  # one-sided: the caller may point it anywhere
        second, linked = named, target is not None
    return Link(
        id=base.id,
        first=first,
        second=second,
        linked=linked,
        first_is_primary=change.is_primary if caller.uuid == first.uuid else not change.is_primary,
        hamr_status=change.hamr_status,
        modified_at_us=modified_at,
        modified_by=change.modified_by,
    )


def _describe(link: Link) -> str:
    first, second = link.first, link.second
    return f"{first.name} ({first.uuid}) with {second.name} ({second.uuid})"


def _repointing_a_pair(caller: Org, current: Link, change: ConnectionChange) -> PairingConflict:
    return PairingConflict(
        f"Your organization is paired: {_describe(current)}; it cannot be re-pointed to "
        f"{change.target_org_uuid} while paired. Name {current.other(caller.uuid).uuid} to "
        "update the pair, or unlink it first.",
        unlink_org=caller.uuid,
        pointer=change.target_pointer,
    )


def _target_taken(caller: Org, change: ConnectionChange, taken: Link) -> PairingConflict:
    asked = f"{caller.name} ({caller.uuid}) with {change.target_org_uuid}"
    return PairingConflict(
        f"You asked to pair {asked}, but {change.target_org_uuid} already has a connection: "
        f"{_describe(taken)}. Name another partner, or unlink that connection first.",
        unlink_org=change.target_org_uuid.lower(),
        pointer=change.target_pointer,
    )
