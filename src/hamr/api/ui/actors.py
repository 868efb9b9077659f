"""Who wrote each history row, as the page says it: the name the writer gave, the writer's
organization and its credential's permission. A pair operation names itself in `modified_by`
("hamr pair failover"), which says what was done, not who did it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hamr.domain.model import HistoryEntry, KeyKind, KeyRecord
from hamr.usecases.service import HamrService

# What hamr writes as `modified_by` itself (pair operations and unlinks): not a name.
HAMR_WRITTEN = "hamr pair "
# Writers that are no stored key: the CLI's operator (cli/pair.py's OPERATOR_KEY), an unlink
# (store/repository.py's UNLINKED_BY) and the emulator's own moves (EMULATOR_ACTOR); the api
# layer may import none of those, and tests/ui/test_pages.py keeps these the same.
NOT_KEYS: Mapping[str, str] = {
    "hamr cli": "an operator (hamr CLI)",
    "hamr pair unlink": "an operator (hamr pair unlink)",
    "hamr-emulator": "the emulator",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """`name` and `org` are text people wrote (the template isolates each); `credential` is
    hamr's: "write key", or who acted when no key did."""

    name: str | None
    org: str | None
    credential: str


def actors(service: HamrService, entries: Sequence[HistoryEntry]) -> dict[int, Actor]:
    """Each entry's writer, by entry id. Blocking (it reads the orgs and their keys): run it
    through the page's storage reads."""
    writers = {entry.org_uuid for entry in entries}
    names = {uuid: org.name for uuid in writers if (org := service.get_org(uuid))}
    keys = {key.id: key for uuid in names for key in service.list_keys(uuid)}
    return {entry.id: _actor(entry, names, keys) for entry in entries}


def _actor(entry: HistoryEntry, names: Mapping[str, str], keys: Mapping[str, KeyRecord]) -> Actor:
    name = None if entry.modified_by.startswith(HAMR_WRITTEN) else entry.modified_by
    key = keys.get(entry.key_id)
    if key is None:
        if entry.key_id in NOT_KEYS:
            return Actor(name, None, NOT_KEYS[entry.key_id])
        return Actor(name, names.get(entry.org_uuid, entry.org_uuid), f"key {entry.key_id}")
    credential = "token" if key.kind is KeyKind.TOKEN else "key"
    org = names.get(entry.org_uuid, entry.org_uuid)
    return Actor(name, org, f"{key.permission.value} {credential}")
