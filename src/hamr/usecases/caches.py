"""In-memory caches for the hot path, each bounded and each told when storage changed.

Hits are served on the event loop's thread, which also applies this process's writes and
what each refresh learned (read beforehand on a worker thread: `StorageChanges`). Misses
are read from storage on worker threads, and what they read goes in only if the cache has
not changed since the read began (`Fills`): a read that raced a revocation or a write must
not put back what was just dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from hamr.domain.model import Connection, Org, Principal, StoredCredential
from hamr.domain.ports import CHANGES_LIMIT, ReadView

V = TypeVar("V")
# PostgreSQL hands out history ids before commit, so a lower id can become visible after a
# higher one; an id skipped over is looked for again this long (a rolled-back write's id
# never appears).
GAP_SECONDS = 30.0


class LruDict(Generic[V]):
    """A dict that forgets its least recently read entry when full: pollers that keep
    reading stay, idle ones go."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self.entries: dict[str, V] = {}

    def get(self, key: str) -> V | None:
        entries = self.entries
        found = entries.pop(key, None)
        if found is not None:
            entries[key] = found  # now the most recent (dicts keep insertion order)
        return found

    def put(self, key: str, value: V) -> None:
        entries = self.entries
        if entries.pop(key, None) is None and len(entries) >= self.max_entries:
            del entries[next(iter(entries))]
        entries[key] = value


class NotCached(Exception):
    """A lookup told to use memory only missed: ask again where storage may be read."""


class Fills:
    """A cache's generation: every change moves it, and a fill from storage goes in only if
    it has not moved since the fill's read began."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0

    @contextmanager
    def changing(self) -> Iterator[None]:
        with self._lock:
            self.generation += 1
            yield

    def fill(self, since: int, put: Callable[[], None]) -> None:
        with self._lock:
            if self.generation == since:
                put()

    def read_into(self, cache: LruDict[V], key: str, read: Callable[[str], V | None]) -> V | None:
        """`read(key)` from storage (blocking), kept in `cache` if found and nothing changed
        meanwhile."""
        since = self.generation
        found = read(key)
        if found is not None:
            stored = found
            self.fill(since, lambda: cache.put(key, stored))
        return found


@dataclass(frozen=True, slots=True)
class StorageChanges:
    """What storage says changed, read off the event loop for `HamrService.notice`: the
    credentials epoch, the highest history id, and who the history rows above the last one
    looked at changed the connection of."""

    credentials_epoch: int
    last_history_id: int
    changed: list[tuple[int, str]]


class CredentialCache:
    """Who a request's credentials proved to be, by one digest of all its credential headers,
    so that the hot path authenticates without touching storage.

    Only proofs are kept, not the keys behind them: a combination of keys seen for the first
    time reads them from storage by hash (a poller always sends the same pair, so its keys'
    own entries would never be read again). Only successes are kept (a key created a moment
    ago must work at once), and everything is dropped whenever the credentials epoch moves,
    which every revocation does.
    """

    def __init__(self, view: ReadView, max_entries: int = 100_000):
        self._view = view
        self._proofs: LruDict[Principal] = LruDict(max_entries)
        self._epoch = view.credentials_epoch()
        self.fills = Fills()
        # Requests recognised from memory, and those whose credentials had to be proved from
        # storage (each counted once, though it first looked in memory alone).
        self.hits = self.misses = 0

    def lookup(self, secret_hash: str) -> StoredCredential | None:
        """The unrevoked credential with this hash, from storage (blocking: from a worker
        thread). A lookup by digest compares no secret: its timing can tell a caller about
        digests, never about a key."""
        return self._view.credential(secret_hash)

    def proved(self, credentials_digest: str, count_miss: bool = True) -> Principal | None:
        """Who these credentials proved to be, if they were checked since the last change.
        A look that storage may follow counts its miss; one that may not (`count_miss`
        false) leaves it to the look before storage."""
        found = self._proofs.get(credentials_digest)
        if found is None:
            self.misses += count_miss
            return None
        self.hits += 1
        return found

    def remember_proof(self, credentials_digest: str, principal: Principal, since: int) -> None:
        """What credentials proved, checked against storage since generation `since`."""
        self.fills.fill(since, lambda: self._proofs.put(credentials_digest, principal))

    def notice(self, epoch: int) -> bool:
        """Drop everything if credentials changed anywhere (another process, the CLI);
        whether they had."""
        if epoch == self._epoch:
            return False
        self._epoch = epoch
        self.clear()
        return True

    def clear(self) -> None:
        with self.fills.changing():
            self._proofs.entries.clear()


class ConnectionCache:
    """Connections by org, so that automation polling its connection is served from memory.

    This process's writes are put in place as they commit, for every org that reads the
    written connection (both sides of a pair), so it reads its own writes at once. What other
    processes write is learned from the history at each refresh: every row above the last one
    seen names the orgs whose connection it changed, and only those are dropped.
    """

    def __init__(
        self,
        view: ReadView,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._view = view
        self._cache: LruDict[Connection] = LruDict(max_entries)
        self._clock = clock
        self._seen = view.last_history_id()
        self._gaps: dict[int, float] = {}  # history ids skipped over, and since when
        self._own: set[int] = set()  # history ids of this process's writes, not yet seen
        self._fills = Fills()
        self.hits = self.misses = 0

    def cached(self, org_uuid: str) -> Connection | None:
        """The org's connection if it is in memory (the hot path)."""
        found = self._cache.get(org_uuid)
        if found is not None:
            self.hits += 1
        return found

    def get(self, org_uuid: str, cached_only: bool = False) -> Connection | None:
        """The org's connection, from memory or else storage (then blocking: from a worker
        thread; with `cached_only`, NotCached instead); None if it has none, which is not
        cached (it may link at any moment)."""
        found = self.cached(org_uuid)
        if found is None:
            if cached_only:
                raise NotCached(org_uuid)
            found = self.load(org_uuid)
        return found

    def load(self, org_uuid: str) -> Connection | None:
        """The org's connection from storage, into memory unless the cache changed meanwhile.
        Blocking: from a worker thread."""
        self.misses += 1
        return self._fills.read_into(self._cache, org_uuid, self._view.connection)

    def remember(self, connections: list[Connection], history_ids: Iterable[int] = ()) -> None:
        """This process's committed writes, in place; their history rows, when a refresh
        meets them, drop nothing."""
        with self._fills.changing():
            for connection in connections:
                self._cache.put(connection.org_uuid, connection)
            self._own.update(history_ids)

    def forget(self, org_uuids: Iterable[str]) -> None:
        with self._fills.changing():
            for org_uuid in org_uuids:
                self._cache.entries.pop(org_uuid, None)

    def looking_after(self) -> int:
        """The history id above which the next refresh must look: the last seen, or below
        the oldest id still missing."""
        return min(self._gaps, default=self._seen + 1) - 1

    def notice(self, changes: StorageChanges) -> None:
        """Drop the orgs the history rows not yet seen name; everything, if there were more
        than one look returns."""
        if len(changes.changed) >= CHANGES_LIMIT:
            self.restart(changes.last_history_id)
            return
        if changes.changed:
            with self._fills.changing():
                self._notice(changes)

    def _notice(self, changes: StorageChanges) -> None:
        now = self._clock()
        seen, gaps, own = self._seen, self._gaps, self._own
        found: set[int] = set()
        for row_id, org_uuid in changes.changed:
            if row_id > seen or row_id in gaps:
                found.add(row_id)
                if row_id not in own:
                    self._cache.entries.pop(org_uuid, None)
        own -= found
        top = max(found, default=seen)
        for row_id in range(seen + 1, top):
            if row_id not in found:
                gaps[row_id] = now
        for row_id in found:
            gaps.pop(row_id, None)
        for row_id, since in list(gaps.items()):
            if now - since > GAP_SECONDS:
                del gaps[row_id]
        self._seen = max(seen, top)

    def restart(self, last_history_id: int) -> None:
        """Drop everything and look only above this id from now on (after a wipe, whose
        history ids may start again from 1)."""
        with self._fills.changing():
            self._cache.entries.clear()
            self._gaps.clear()
            self._own.clear()
            self._seen = last_history_id

    def clear(self) -> None:
        with self._fills.changing():
            self._cache.entries.clear()


class OrgCache:
    """Organizations by UUID, for naming a POST's target from hamr's records. Orgs are never
    renamed, and deleted only by an emulator's reset (which clears this cache), so an org
    found stays right; one not found is asked again next time (it may be created meanwhile)."""

    def __init__(self, view: ReadView, max_entries: int = 100_000):
        self._view = view
        self._cache: LruDict[Org] = LruDict(max_entries)
        self._fills = Fills()

    def get(self, org_uuid: str, cached_only: bool = False) -> Org | None:
        """From memory, or else storage (then blocking: from a worker thread); with
        `cached_only`, NotCached instead of reading storage."""
        found = self._cache.get(org_uuid)
        if found is None:
            if cached_only:
                raise NotCached(org_uuid)
            found = self._fills.read_into(self._cache, org_uuid, self._view.org)
        return found

    def clear(self) -> None:
        with self._fills.changing():
            self._cache.entries.clear()
