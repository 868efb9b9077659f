"""Organizations and their credentials: made, listed and revoked by operators, and the one
lookup of an organization by UUID that every use case naming one goes through."""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable

from hamr.domain.errors import InvalidInput, NotFound
from hamr.domain.keys import generate_secret, hash_secret
from hamr.domain.model import KeyKind, KeyRecord, Org, Permission
from hamr.domain.ports import Repository, UnitOfWork
from hamr.domain.rules import MAX_TEXT_LENGTH, is_uuid
from hamr.usecases.caches import CredentialCache
from hamr.usecases.clock import Clock


def require_org(repository: Repository, org_uuid: str) -> Org:
    """The organization with this UUID (in either case), or NotFound."""
    org = repository.get_org(org_uuid.lower())
    if org is None:
        raise NotFound(f"no organization with UUID {org_uuid}")
    return org


class Accounts:
    """Organizations and keys, for operators (blocking: the CLI, a demo, an emulator reset);
    a revocation also empties this process's credential cache at once."""

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        datacenters: frozenset[str],
        clock: Clock,
        credentials: CredentialCache,
    ):
        self._unit_of_work = unit_of_work
        self._datacenters = datacenters
        self._clock = clock
        self._credentials = credentials

    def create_org(
        self, name: str, datacenter: str, org_uuid: str | None = None
    ) -> tuple[Org, str, str]:
        """A new organization with one API key and one application key (secrets returned once)."""
        name = name.strip()
        if not name or len(name) > MAX_TEXT_LENGTH:
            raise InvalidInput(f"the name must be 1 to {MAX_TEXT_LENGTH} characters long")
        if datacenter not in self._datacenters:
            allowed = ", ".join(sorted(self._datacenters))
            raise InvalidInput(f"unknown datacenter {datacenter!r}; use one of: {allowed}")
        if org_uuid is not None and not is_uuid(org_uuid):
            raise InvalidInput(f"{org_uuid!r} is not a UUID")
        org = Org(uuid=(org_uuid or str(uuidlib.uuid4())).lower(), name=name, datacenter=datacenter)
        with self._unit_of_work() as uow:
            if uow.repository.get_org(org.uuid) is not None:
                raise InvalidInput(f"an organization with UUID {org.uuid} already exists")
            uow.repository.add_org(org, self._clock())
            api_key = self._issue(uow, org.uuid, KeyKind.API)[1]
            app_key = self._issue(uow, org.uuid, KeyKind.APP)[1]
            uow.commit()
        return org, api_key, app_key

    def get_org(self, org_uuid: str) -> Org | None:
        with self._unit_of_work() as uow:
            return uow.repository.get_org(org_uuid.lower())

    def require_org(self, org_uuid: str) -> Org:
        """The organization with this UUID (in either case), or NotFound."""
        with self._unit_of_work() as uow:
            return require_org(uow.repository, org_uuid)

    def list_orgs(self) -> list[Org]:
        with self._unit_of_work() as uow:
            return uow.repository.list_orgs()

    def create_key(
        self, org_uuid: str, kind: KeyKind, permission: Permission = Permission.WRITE
    ) -> tuple[KeyRecord, str]:
        """A new credential for an existing org; the secret is returned once and never kept.
        Only application keys and tokens carry a permission other than write."""
        if kind is KeyKind.API and permission is not Permission.WRITE:
            raise InvalidInput(
                "API keys name the organization and carry no permission; give the "
                "permission to an application key or a token"
            )
        with self._unit_of_work() as uow:
            org = require_org(uow.repository, org_uuid)
            issued = self._issue(uow, org.uuid, kind, permission)
            uow.commit()
        return issued

    def list_keys(self, org_uuid: str) -> list[KeyRecord]:
        with self._unit_of_work() as uow:
            org = require_org(uow.repository, org_uuid)
            return uow.repository.list_keys(org.uuid)

    def revoke_key(self, key_id: str) -> tuple[KeyRecord, bool]:
        """Revoke a credential; every server refuses it within a quarter of a second (see
        CredentialCache). Returns the record and whether this call revoked it (False: it
        already was)."""
        with self._unit_of_work() as uow:
            key = uow.repository.get_key(key_id)
            if key is None:
                raise NotFound(f"no key with id {key_id}")
            if not key.revoked:
                uow.repository.revoke_key(key_id, self._clock())
                uow.repository.bump_credentials_epoch()
            uow.commit()
            revoked = uow.repository.get_key(key_id)
        self._credentials.clear()
        assert revoked is not None
        return revoked, not key.revoked

    def _issue(
        self,
        uow: UnitOfWork,
        org_uuid: str,
        kind: KeyKind,
        permission: Permission = Permission.WRITE,
    ) -> tuple[KeyRecord, str]:
        secret = generate_secret(kind)
        record = KeyRecord(
            id=str(uuidlib.uuid4()),
            org_uuid=org_uuid,
            kind=kind,
            created_at_us=self._clock(),
            revoked_at_us=None,
            permission=permission,
        )
        uow.repository.add_key(record, hash_secret(secret))
        return record, secret
