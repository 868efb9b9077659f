"""The repository and unit of work over SQLAlchemy Core."""

from __future__ import annotations

import threading
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hamr.domain.chain import ChainHead
from hamr.domain.datacenter_jobs import DatacenterJob, primary_datacenter
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
from hamr.store import datacenter_jobs, heads, history_rows, idempotency, state_dump
from hamr.store.outage import commit_confirmed, is_read_only, raise_if_outage
from hamr.store.tables import (
    CREDENTIALS_EPOCH,
    chain_heads,
    connection_members,
    connections,
    epochs,
    history,
    idempotency_keys,
    keys,
    orgs,
)
from hamr.store.write_sql import statements_for


class SqlRepository:
    def __init__(self, connection: sa.Connection):
        self._db = connection
        self._sql = statements_for(connection.dialect)

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
        sql = self._sql.orgs_in if self._db.dialect.name == "sqlite" else self._sql.locked_orgs_in
        return {row[0]: Org(*row) for row in sql.rows(self._db, sorted(org_uuids))}

    def links_of(self, org_uuids: Collection[str]) -> dict[str, Link]:
        rows = self._sql.links_of_members.rows(self._db, list(org_uuids))
        return {row[0]: link_from_row(row[1:]) for row in rows}

    def save_links(self, links: Sequence[Link], new_members: Sequence[tuple[str, str]]) -> None:
        self._sql.upsert_connections.execute_many(self._db, [_link_values(x) for x in links])
        if new_members:
            self._sql.add_members.execute_many(
                self._db,
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

    def chain_heads(self, connection_ids: Collection[str]) -> dict[str, ChainHead]:
        return heads.read(self._db, connection_ids)

    def first_head_without_rows(self, connection_ids: Sequence[str] | None) -> ChainHead | None:
        return heads.first_without_rows(self._db, connection_ids)

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

    def primary_links_in(self, datacenter: str, after: str, limit: int) -> list[Link]:
        rows = datacenter_jobs.primary_link_rows(self._db, datacenter, after, limit)
        return [link_from_row(row) for row in rows]

    def lock_links(self, links: Sequence[Link]) -> dict[str, Link]:
        if self._db.dialect.name == "sqlite":
            # Read in this transaction, which holds SQLite's one write lock since it began:
            # nothing can have changed them.
            return {link.id: link for link in links}
        members = [org for link in links for org in link.members]
        self.lock_orgs(members)
        wanted = {link.id for link in links}
        return {link.id: link for link in self.links_of(members).values() if link.id in wanted}

    def pair_counts(self, datacenter: str) -> dict[HamrStatus, int]:
        return datacenter_jobs.counts(self._db, datacenter)

    def insert_datacenter_job(self, job: DatacenterJob) -> bool:
        return datacenter_jobs.insert(self._db, job)

    def get_datacenter_job(self, job_id: str) -> DatacenterJob | None:
        return datacenter_jobs.get(self._db, job_id)

    def running_datacenter_job(self) -> DatacenterJob | None:
        return datacenter_jobs.running(self._db)

    def latest_datacenter_job(self, datacenter: str, operation: str) -> DatacenterJob | None:
        return datacenter_jobs.latest(self._db, datacenter, operation)

    def claim_datacenter_job(
        self, job_id: str, owner: str, now_us: int, stale_before_us: int
    ) -> DatacenterJob | None:
        return datacenter_jobs.claim(self._db, job_id, owner, now_us, stale_before_us)

    def save_datacenter_job(self, job: DatacenterJob) -> None:
        datacenter_jobs.save(self._db, job)

    def wipe(self) -> None:
        # Children before parents; the epochs stay, and the credentials epoch moves so that
        # every process drops the credentials it has cached.
        for table in (chain_heads, history, idempotency_keys, connection_members, connections):
            self._db.execute(table.delete())
        for table in (keys, orgs):
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
    """One transaction on a pooled connection; leaving without commit() rolls back. Given the
    store's `one_writer` lock (SQLite), it holds it from before BEGIN until the connection is
    back in the pool."""

    repository: SqlRepository

    def __init__(self, engine: Engine, one_writer: threading.RLock | None = None):
        self._engine = engine
        self._one_writer = one_writer

    def __enter__(self) -> Self:
        if self._one_writer is not None:
            self._one_writer.acquire()
        try:
            self._connection = self._engine.connect()
            self._transaction = self._connection.begin()
        except BaseException as error:
            self._release()
            if isinstance(error, sa.exc.DBAPIError | sa.exc.TimeoutError):
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
            if exc is not None and is_read_only(exc):  # a demoted primary: find the new one
                self._connection.invalidate()
                self._engine.dispose(close=False)
            try:
                self._connection.close()
            finally:
                self._release()
        # The write batch's statements go to the driver directly (write_sql.py), so its
        # errors arrive unwrapped as well as SQLAlchemy's.
        dialect = self._engine.dialect
        if isinstance(exc, sa.exc.DBAPIError | dialect.loaded_dbapi.Error):
            raise_if_outage(exc, dialect)

    def commit(self) -> None:
        commit_confirmed(self._connection, self._transaction)

    def _release(self) -> None:
        if self._one_writer is not None:
            self._one_writer.release()


# Who the history names for an unlink, which an operator does, with no key.
UNLINKED_BY = "hamr pair unlink"


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
        "primary_datacenter": primary_datacenter(
            link.first_is_primary, link.first.datacenter, link.second.datacenter
        ),
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
    """Rows in the column order of `write_sql.LINK_COLUMNS`."""
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
        first=Org(org_uuid, org_name, org_datacenter),
        second=Org(target_uuid, target_name, target_datacenter),
        linked=bool(linked),
        first_is_primary=bool(org_is_primary),
        hamr_status=HamrStatus(status),
        modified_at_us=modified_at_us,
        modified_by=modified_by,
    )
