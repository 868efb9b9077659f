"""The repository and unit of work over SQLAlchemy Core."""

from __future__ import annotations

import sys
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from hamr.domain.model import (
    AppliedChange,
    HamrStatus,
    HistoryEntry,
    HistoryQuery,
    IdempotencyRecord,
    KeyClaim,
    KeyKind,
    KeyRecord,
    Link,
    Org,
    Permission,
)
from hamr.store import history_rows, idempotency, state_dump
from hamr.store.outage import raise_if_outage
from hamr.store.tables import (
    CREDENTIALS_EPOCH,
    connection_members,
    connections,
    epochs,
    history,
    idempotency_keys,
    keys,
    orgs,
)


class SqlRepository:
    def __init__(self, connection: sa.Connection):
        self._db = connection

    def get_org(self, uuid: str) -> Org | None:
        row = self._db.execute(sa.select(orgs).where(orgs.c.uuid == uuid)).first()
        return _org(row) if row else None

    def add_org(self, org: Org, created_at_us: int) -> None:
        self._db.execute(
            orgs.insert().values(
                uuid=org.uuid, name=org.name, datacenter=org.datacenter, created_at_us=created_at_us
            )
        )

    def list_orgs(self) -> list[Org]:
        return [_org(r) for r in self._db.execute(sa.select(orgs).order_by(orgs.c.name))]

    def add_key(self, key: KeyRecord, secret_hash: str) -> None:
        self._db.execute(
            keys.insert().values(
                id=key.id,
                org_uuid=key.org_uuid,
                kind=key.kind.value,
                secret_hash=secret_hash,
                created_at_us=key.created_at_us,
                revoked_at_us=key.revoked_at_us,
                permission=key.permission.value,
            )
        )

    def get_key(self, key_id: str) -> KeyRecord | None:
        row = self._db.execute(_KEY_COLUMNS.where(keys.c.id == key_id)).first()
        return _key(row) if row else None

    def list_keys(self, org_uuid: str) -> list[KeyRecord]:
        query = _KEY_COLUMNS.where(keys.c.org_uuid == org_uuid).order_by(keys.c.created_at_us)
        return [_key(r) for r in self._db.execute(query)]

    def revoke_key(self, key_id: str, revoked_at_us: int) -> None:
        self._db.execute(
            keys.update().where(keys.c.id == key_id).values(revoked_at_us=revoked_at_us)
        )

    def lock_orgs(self, org_uuids: Collection[str]) -> dict[str, Org]:
        # Lock the org rows, which always exist, so that two writers of one pair queue, as do
        # two writers of an org's first connection. SQLite has no row locks: its BEGIN
        # IMMEDIATE already holds the only write lock there is.
        query = _LOCK_ORGS if self._db.dialect.name != "sqlite" else _ORGS_IN
        return {row.uuid: _org(row) for row in self._db.execute(query, {"uuids": list(org_uuids)})}

    def links_of(self, org_uuids: Collection[str]) -> dict[str, Link]:
        rows = self._db.execute(LINKS_OF_MEMBERS, {"uuids": list(org_uuids)})
        return {row[0]: link_from_row(tuple(row)[1:]) for row in rows}

    def save_links(self, links: Sequence[Link], new_members: Sequence[tuple[str, str]]) -> None:
        self._db.execute(
            _UPSERT_CONNECTIONS[self._db.dialect.name], [_link_values(x) for x in links]
        )
        if new_members:
            self._db.execute(
                connection_members.insert(),
                [{"org_uuid": org, "connection_id": link_id} for org, link_id in new_members],
            )

    def delete_link(self, link: Link) -> None:
        self._db.execute(
            connection_members.delete().where(connection_members.c.connection_id == link.id)
        )
        self._db.execute(connections.delete().where(connections.c.id == link.id))

    def add_history(self, changes: Sequence[AppliedChange]) -> list[int]:
        return history_rows.insert(
            self._db,
            [
                {
                    "org_uuid": c.org_uuid,
                    "key_id": c.key_id,
                    "connection_id": c.after.id,
                    "modified_by": c.after.modified_by,
                    "recorded_at_us": c.recorded_at_us,
                    "before": c.before.attributes() if c.before else None,
                    "after": c.view.attributes(),
                    "violation": c.violation,
                    "reason": c.reason,
                }
                for c in changes
            ],
        )

    def add_unlink_history(self, link: Link, recorded_at_us: int, reason: str | None) -> None:
        history_rows.insert(
            self._db,
            [
                {
                    "org_uuid": member,
                    "key_id": UNLINKED_BY,
                    "connection_id": link.id,
                    "modified_by": UNLINKED_BY,
                    "recorded_at_us": recorded_at_us,
                    "before": link.view_of(member).attributes(),
                    "after": None,
                    "violation": None,
                    "reason": reason,
                }
                for member in link.members
            ],
        )

    def list_history(self, org_uuid: str, connection_id: str | None) -> list[HistoryEntry]:
        mine = history_rows.rows_of(org_uuid, connection_id)
        query = sa.select(history).where(mine).order_by(history.c.id)
        return [history_rows.entry(r) for r in self._db.execute(query)]

    def history_page(
        self, org_uuid: str, connection_id: str | None, query: HistoryQuery, limit: int
    ) -> list[HistoryEntry]:
        return history_rows.page(self._db, org_uuid, connection_id, query, limit)

    def history_connections(self, org_uuid: str, connection_id: str | None) -> list[str]:
        return history_rows.connections_of(self._db, org_uuid, connection_id)

    def history_in_chain_order(
        self, connection_ids: Sequence[str] | None, after: tuple[str, int] | None, limit: int
    ) -> list[HistoryEntry]:
        return history_rows.in_chain_order(self._db, connection_ids, after, limit)

    def absent_history_ids(self, after_id: int, before_id: int) -> int:
        return history_rows.absent_ids(self._db, after_id, before_id)

    def bump_credentials_epoch(self) -> None:
        bumped = self._db.execute(
            epochs.update()
            .where(epochs.c.name == CREDENTIALS_EPOCH)
            .values(value=epochs.c.value + 1)
        )
        if bumped.rowcount == 0:
            self._db.execute(epochs.insert().values(name=CREDENTIALS_EPOCH, value=1))

    def insert_idempotency_key(self, claim: KeyClaim, request_digest: str) -> bool:
        return idempotency.insert(self._db, claim, request_digest)

    def get_idempotency_key(self, org_uuid: str, key: str) -> IdempotencyRecord | None:
        return idempotency.get(self._db, org_uuid, key)

    def retake_idempotency_key(self, found: KeyClaim, claim: KeyClaim) -> bool:
        return idempotency.retake(self._db, found, claim)

    def answer_idempotency_key(self, claim: KeyClaim, status: int, body: bytes) -> bool:
        return idempotency.answer(self._db, claim, status, body)

    def release_idempotency_key(self, claim: KeyClaim) -> None:
        idempotency.release(self._db, claim)

    def wipe(self) -> None:
        # Children before parents; the epochs stay, and the credentials epoch moves so that
        # every process drops the credentials it has cached.
        for table in (history, idempotency_keys, connection_members, connections, keys, orgs):
            self._db.execute(table.delete())
        self.bump_credentials_epoch()

    def dump_state(self) -> dict[str, Any]:
        return state_dump.dump(self._db)

    def replace_state(self, state: Mapping[str, Any]) -> None:
        rows = state_dump.checked(state)  # refused whole before anything is deleted
        self.wipe()
        state_dump.insert(self._db, rows)

    def purge_idempotency_keys(
        self, created_before_us: int, org_uuid: str | None = None, key: str | None = None
    ) -> int:
        return idempotency.purge(self._db, created_before_us, org_uuid, key)


class SqlUnitOfWork:
    """One transaction on a pooled connection; leaving without commit() rolls back."""

    repository: SqlRepository

    def __init__(self, engine: Engine):
        self._engine = engine

    def __enter__(self) -> Self:
        try:
            self._connection = self._engine.connect()
            self._transaction = self._connection.begin()
        except sa.exc.DBAPIError as error:
            raise_if_outage(error, self._engine.dialect)
            raise
        self.repository = SqlRepository(self._connection)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        except sa.exc.DBAPIError:
            if exc is None:
                raise
        finally:
            self._connection.close()
        if isinstance(exc, sa.exc.DBAPIError):
            raise_if_outage(exc, self._engine.dialect)

    def commit(self) -> None:
        self._transaction.commit()


# Built once: a statement object reused keeps SQLAlchemy's compiled-statement cache warm.
_ORGS_IN = (
    sa.select(orgs)
    .where(orgs.c.uuid.in_(sa.bindparam("uuids", expanding=True)))
    .order_by(orgs.c.uuid)  # one lock order for every writer: batches cannot deadlock
)
_LOCK_ORGS = _ORGS_IN.with_for_update()
# Who the history names for an unlink, which an operator does, with no key.
UNLINKED_BY = "hamr pair unlink"

# A member's connection with the creating org's record, in the column order link_from_row
# reads (the member's uuid first). The read view compiles the same query for one org.
_LINK_COLUMNS = (
    connections.c.id,
    connections.c.org_uuid,
    orgs.c.name,
    orgs.c.datacenter,
    connections.c.target_org_uuid,
    connections.c.target_org_name,
    connections.c.target_org_datacenter,
    connections.c.linked,
    connections.c.org_is_primary,
    connections.c.hamr_status,
    connections.c.modified_at_us,
    connections.c.modified_by,
)
LINKS_OF_MEMBER = (
    sa.select(connection_members.c.org_uuid, *_LINK_COLUMNS)
    .join(connections, connections.c.id == connection_members.c.connection_id)
    .join(orgs, orgs.c.uuid == connections.c.org_uuid)
)
LINKS_OF_MEMBERS = LINKS_OF_MEMBER.where(
    connection_members.c.org_uuid.in_(sa.bindparam("uuids", expanding=True))
)
_CONNECTION_FIELDS = [c.name for c in connections.c if c.name != "id"]


def _sqlite_upsert() -> sa.Insert:
    insert = sqlite_insert(connections)
    return insert.on_conflict_do_update(
        index_elements=[connections.c.id],
        set_={name: insert.excluded[name] for name in _CONNECTION_FIELDS},
    )


def _postgresql_upsert() -> sa.Insert:
    insert = postgresql_insert(connections)
    return insert.on_conflict_do_update(
        index_elements=[connections.c.id],
        set_={name: insert.excluded[name] for name in _CONNECTION_FIELDS},
    )


_UPSERT_CONNECTIONS = {"sqlite": _sqlite_upsert(), "postgresql": _postgresql_upsert()}


def _link_values(link: Link) -> dict[str, object]:
    return {
        "id": link.id,
        "org_uuid": link.first.uuid,
        "target_org_uuid": link.second.uuid,
        "target_org_name": link.second.name,
        "target_org_datacenter": link.second.datacenter,
        "linked": link.linked,
        "org_is_primary": link.first_is_primary,
        "hamr_status": int(link.hamr_status),
        "modified_at_us": link.modified_at_us,
        "modified_by": link.modified_by,
    }


_KEY_COLUMNS = sa.select(
    keys.c.id,
    keys.c.org_uuid,
    keys.c.kind,
    keys.c.created_at_us,
    keys.c.revoked_at_us,
    keys.c.permission,
)


def _org(row: Any) -> Org:
    return Org(uuid=row.uuid, name=row.name, datacenter=row.datacenter)


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        org_uuid=row.org_uuid,
        kind=KeyKind(row.kind),
        created_at_us=row.created_at_us,
        revoked_at_us=row.revoked_at_us,
        permission=Permission(row.permission),
    )


def link_from_row(row: tuple[Any, ...]) -> Link:
    """Rows in the column order of `_LINK_COLUMNS`."""
    (
        link_id,
        org_uuid,
        org_name,
        org_datacenter,
        target_uuid,
        target_name,
        target_datacenter,
        linked,
        org_is_primary,
        status,
        modified_at_us,
        modified_by,
    ) = row
    return Link(
        id=link_id,
        first=interned_org(org_uuid, org_name, org_datacenter),
        second=interned_org(target_uuid, target_name, target_datacenter),
        linked=bool(linked),
        first_is_primary=bool(org_is_primary),
        hamr_status=HamrStatus(status),
        modified_at_us=modified_at_us,
        modified_by=sys.intern(modified_by),
    )


def interned_org(uuid: str, name: str, datacenter: str) -> Org:
    """An org as read, its strings interned: the cache entries that name it (its proofs, its
    partner's connection) then share one copy of each instead of one per row read."""
    return Org(sys.intern(uuid), sys.intern(name), sys.intern(datacenter))
