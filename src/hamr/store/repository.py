"""The repository and unit of work over SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from hamr.domain.model import (
    AppliedChange,
    Connection,
    HamrStatus,
    HistoryEntry,
    KeyKind,
    KeyRecord,
    Org,
)
from hamr.store.outage import raise_if_outage
from hamr.store.tables import CREDENTIALS_EPOCH, connections, epochs, history, keys, orgs


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

    def lock_connections(self, org_uuids: Collection[str]) -> dict[str, Connection]:
        # Lock the org rows, which always exist, so that two writers of an org's first
        # connection queue too. SQLite has no row locks: its BEGIN IMMEDIATE already holds
        # the only write lock there is.
        if self._db.dialect.name != "sqlite":
            self._db.execute(_LOCK_ORGS, {"uuids": list(org_uuids)})
        rows = self._db.execute(_CONNECTIONS_OF, {"uuids": list(org_uuids)})
        return {row[0]: connection_from_row(tuple(row)) for row in rows}

    def save_connections(self, saved: Sequence[Connection]) -> None:
        upsert = _UPSERT_CONNECTIONS[self._db.dialect.name]
        self._db.execute(upsert, [_connection_values(c) for c in saved])

    def add_history(self, changes: Sequence[AppliedChange]) -> None:
        self._db.execute(
            _INSERT_HISTORY,
            [
                {
                    "org_uuid": c.after.org_uuid,
                    "key_id": c.key_id,
                    "modified_by": c.after.modified_by,
                    "recorded_at_us": c.recorded_at_us,
                    "before": c.before.attributes() if c.before else None,
                    "after": c.after.attributes(),
                }
                for c in changes
            ],
        )

    def list_history(self, org_uuid: str) -> list[HistoryEntry]:
        query = sa.select(history).where(history.c.org_uuid == org_uuid).order_by(history.c.id)
        return [
            HistoryEntry(
                id=r.id,
                org_uuid=r.org_uuid,
                key_id=r.key_id,
                modified_by=r.modified_by,
                recorded_at_us=r.recorded_at_us,
                before=r.before,
                after=r.after,
            )
            for r in self._db.execute(query)
        ]

    def bump_credentials_epoch(self) -> None:
        bumped = self._db.execute(
            epochs.update()
            .where(epochs.c.name == CREDENTIALS_EPOCH)
            .values(value=epochs.c.value + 1)
        )
        if bumped.rowcount == 0:
            self._db.execute(epochs.insert().values(name=CREDENTIALS_EPOCH, value=1))


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
_LOCK_ORGS = (
    sa.select(orgs.c.uuid)
    .where(orgs.c.uuid.in_(sa.bindparam("uuids", expanding=True)))
    .order_by(orgs.c.uuid)  # one lock order for every writer: batches cannot deadlock
    .with_for_update()
)
_CONNECTIONS_OF = sa.select(connections).where(
    connections.c.org_uuid.in_(sa.bindparam("uuids", expanding=True))
)
_INSERT_HISTORY = history.insert()
_CONNECTION_FIELDS = [c.name for c in connections.c if c.name != "org_uuid"]


def _sqlite_upsert() -> sa.Insert:
    insert = sqlite_insert(connections)
    return insert.on_conflict_do_update(
        index_elements=[connections.c.org_uuid],
        set_={name: insert.excluded[name] for name in _CONNECTION_FIELDS},
    )


def _postgresql_upsert() -> sa.Insert:
    insert = postgresql_insert(connections)
    return insert.on_conflict_do_update(
        index_elements=[connections.c.org_uuid],
        set_={name: insert.excluded[name] for name in _CONNECTION_FIELDS},
    )


_UPSERT_CONNECTIONS = {"sqlite": _sqlite_upsert(), "postgresql": _postgresql_upsert()}


def _connection_values(connection: Connection) -> dict[str, object]:
    return {
        "org_uuid": connection.org_uuid,
        "hamr_status": int(connection.hamr_status),
        "is_primary": connection.is_primary,
        "modified_at_us": connection.modified_at_us,
        "modified_by": connection.modified_by,
        "target_org_datacenter": connection.target_org_datacenter,
        "target_org_name": connection.target_org_name,
        "target_org_uuid": connection.target_org_uuid,
    }


_KEY_COLUMNS = sa.select(
    keys.c.id, keys.c.org_uuid, keys.c.kind, keys.c.created_at_us, keys.c.revoked_at_us
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
    )


def connection_from_row(row: tuple[Any, ...]) -> Connection:
    """Rows in the column order of the `connections` table."""
    (
        org_uuid,
        status,
        is_primary,
        modified_at_us,
        modified_by,
        target_dc,
        target_name,
        target_uuid,
    ) = row
    return Connection(
        org_uuid=org_uuid,
        hamr_status=HamrStatus(status),
        is_primary=bool(is_primary),
        modified_at_us=modified_at_us,
        modified_by=modified_by,
        target_org_datacenter=target_dc,
        target_org_name=target_name,
        target_org_uuid=target_uuid,
    )
