"""In-memory caches for the hot path, each bounded and each told when storage changed.

Both live on the event loop's thread: reads fill them, the group-commit writer and the
periodic refresh update them, and none of these interleave.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from hamr.domain.keys import hashes_match
from hamr.domain.model import Connection, Org, Principal, StoredCredential
from hamr.domain.ports import ReadView

V = TypeVar("V")


class BoundedDict(Generic[V]):
    """A dict that forgets its oldest entry when full (recent pollers stay, idle ones go)."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self.entries: dict[str, V] = {}

    def put(self, key: str, value: V) -> None:
        if key not in self.entries and len(self.entries) >= self.max_entries:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = value


class CredentialCache:
    """Credentials by hash, so that the hot path authenticates without touching storage.

    Only hits are cached (a key created a moment ago must work at once); the whole cache is
    dropped whenever the credentials epoch moves, which every revocation does.
    """

    def __init__(self, view: ReadView, max_entries: int = 100_000):
        self._view = view
        self._cache: BoundedDict[StoredCredential] = BoundedDict(max_entries)
        # What a request's credentials, all of them together and by digest, proved: a caller
        # seen before costs one lookup instead of a hash, a lookup and a check per key.
        self._proofs: BoundedDict[tuple[str, Principal]] = BoundedDict(max_entries)
        self._epoch = view.credentials_epoch()

    def lookup(self, secret_hash: str, cached_only: bool = False) -> StoredCredential | None:
        """The credential with this hash; with `cached_only`, None unless it is cached."""
        found = self._cache.entries.get(secret_hash)
        if found is None and cached_only:
            return None
        if found is None:
            found = self._view.credential(secret_hash)
            if found is None:
                return None
            self._cache.put(secret_hash, found)
        return found if hashes_match(found.secret_hash, secret_hash) else None

    def proved(self, credentials_digest: str) -> Principal | None:
        """Who these credentials proved to be, if they were checked since the last change."""
        found = self._proofs.entries.get(credentials_digest)
        if found is None or not hashes_match(found[0], credentials_digest):
            return None
        return found[1]

    def remember_proof(self, credentials_digest: str, principal: Principal) -> None:
        self._proofs.put(credentials_digest, (credentials_digest, principal))

    def refresh(self) -> None:
        """Drop everything if credentials changed anywhere (another process, the CLI)."""
        epoch = self._view.credentials_epoch()
        if epoch != self._epoch:
            self._epoch = epoch
            self.clear()

    def clear(self) -> None:
        self._cache.entries.clear()
        self._proofs.entries.clear()


class ConnectionCache:
    """Connections by org, so that automation polling its connection is served from memory.

    This process's writes are remembered as they commit, for every org that reads the written
    connection (both sides of a pair), so it reads its own writes at once.
    Writes by other connections are noticed through the store's change counter at the next
    refresh, which drops the cache. A store that has no such counter gets no caching.
    """

    def __init__(self, view: ReadView, max_entries: int = 50_000):
        self._view = view
        self._cache: BoundedDict[Connection] = BoundedDict(max_entries)
        self._counter = view.change_counter()

    def get(self, org_uuid: str) -> Connection | None:
        found = self._cache.entries.get(org_uuid)
        if found is None:
            found = self._view.connection(org_uuid)
            if found is not None and self._counter is not None:
                self._cache.put(org_uuid, found)
        return found

    def remember(self, connections: list[Connection]) -> None:
        if self._counter is not None:
            for connection in connections:
                self._cache.put(connection.org_uuid, connection)

    def forget(self, org_uuids: Iterable[str]) -> None:
        for org_uuid in org_uuids:
            self._cache.entries.pop(org_uuid, None)

    def refresh(self) -> None:
        counter = self._view.change_counter()
        if counter != self._counter:
            self._counter = counter
            self._cache.entries.clear()

    def clear(self) -> None:
        self._cache.entries.clear()


class OrgCache:
    """Organizations by UUID, for naming a POST's target from hamr's records. Orgs are never
    renamed, and deleted only by an emulator's reset (which clears this cache), so an org
    found stays right; one not found is asked again next time (it may be created meanwhile)."""

    def __init__(self, view: ReadView, max_entries: int = 100_000):
        self._view = view
        self._cache: BoundedDict[Org] = BoundedDict(max_entries)

    def get(self, org_uuid: str) -> Org | None:
        found = self._cache.entries.get(org_uuid)
        if found is None:
            found = self._view.org(org_uuid)
            if found is not None:
                self._cache.put(org_uuid, found)
        return found

    def clear(self) -> None:
        self._cache.entries.clear()
