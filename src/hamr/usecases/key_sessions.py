"""Who a web session is, from the ids of the keys it signed in with: the page can do exactly
what those keys can, and stops when any of them is revoked. The session holds key ids, never
a secret or a hash."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hamr.domain.model import KeyKind, Principal
from hamr.domain.ports import UnitOfWork


class KeySessions:
    def __init__(self, unit_of_work: Callable[[], UnitOfWork]):
        self._unit_of_work = unit_of_work

    def principal(self, key_ids: Sequence[str]) -> Principal | None:
        """The principal of an API key and an application key of one org, or of one token;
        None if any is unknown, revoked or not of that org (blocking: from a worker
        thread)."""
        with self._unit_of_work() as uow:
            repository = uow.repository
            keys = [repository.get_key(key_id) for key_id in key_ids]
            valid = [key for key in keys if key is not None and not key.revoked]
            if not valid or len(valid) != len(keys):
                return None
            if sorted(key.kind for key in valid) not in (
                [KeyKind.API, KeyKind.APP],
                [KeyKind.TOKEN],
            ):
                return None
            acting = next(key for key in valid if key.kind is not KeyKind.API)
            if any(key.org_uuid != acting.org_uuid for key in valid):
                return None
            org = repository.get_org(acting.org_uuid)
        if org is None:
            return None
        return Principal(org, acting.id, acting.permission, acting.kind)
