"""History rows in SQL: every insert is chained (domain/chain.py) to its connection's kept
head, and reads page in SQL, newest first for the API and in chain order for verification,
never loading everything."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from hamr.domain import chain
from hamr.domain.model import HistoryEntry, HistoryQuery
from hamr.store import heads
from hamr.store.tables import history
from hamr.store.write_sql import history_values, statements_for

# A position in chain order: (connection_id, id) of the last row read.
ChainPosition = tuple[str, int]


def insert(db: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (in this order, which is id order) each with its chain_hash, following its
    connection's head, which is read and then written by key: the write's cost does not grow
    with the chain. Writers of a connection hold its orgs' locks (SQLite: the database's), so
    the head cannot change before commit. Returns the rows' ids, in order."""
    if not rows:
        return []
    sql = statements_for(db.dialect)
    found = heads.read(db, {row["connection_id"] for row in rows})
    previous = {connection: head.chain_hash for connection, head in found.items()}
    for row in rows:
        connection = row["connection_id"]
        row["chain_hash"] = chain.next_hash(previous.get(connection, chain.GENESIS), row)
        previous[connection] = row["chain_hash"]
    values = [history_values(row) for row in rows]
    if db.dialect.name != "sqlite":
        ids = [row_id for ((row_id,),) in sql.add_history.execute_many_returning(db, values)]
    else:
        # SQLite has one writer, and this transaction holds its lock: the rows took the ids
        # just below the highest. (RETURNING there costs a third of a write.)
        sql.add_history.execute_many(db, values)
        ((last,),) = sql.last_history_id.execute(db, {})
        ids = list(range(last - len(rows) + 1, last + 1))
    for row, row_id in zip(rows, ids, strict=True):
        found[row["connection_id"]] = chain.advance(found.get(row["connection_id"]), row_id, row)
    heads.save(db, found.values())
    return ids


def rows_of(org_uuid: str, connection_id: str | None) -> sa.ColumnElement[bool]:
    """The rows an org's history holds: every connection it has a row in (it wrote there, or
    was unlinked from it) and the one it reads now, so that a pair's history stays whole for
    both sides after an unlink."""
    theirs = sa.select(history.c.connection_id).where(history.c.org_uuid == org_uuid)
    mine = sa.or_(history.c.org_uuid == org_uuid, history.c.connection_id.in_(theirs))
    if connection_id is not None:
        mine = sa.or_(mine, history.c.connection_id == connection_id)
    return mine


def page(
    db: sa.Connection, org_uuid: str, connection_id: str | None, query: HistoryQuery, limit: int
) -> list[HistoryEntry]:
    """Up to `limit` rows of the org's history matching `query`, newest first (keyset on id)."""
    conditions = [rows_of(org_uuid, connection_id)]
    if query.before_id is not None:
        # Bound as a 64-bit integer: a cursor may name an id past PostgreSQL's 32-bit serial.
        conditions.append(history.c.id < sa.literal(query.before_id, sa.BigInteger))
    if query.recorded_from_us is not None:
        conditions.append(history.c.recorded_at_us >= query.recorded_from_us)
    if query.recorded_to_us is not None:
        conditions.append(history.c.recorded_at_us <= query.recorded_to_us)
    if query.hamr_status is not None:
        conditions.append(history.c.after["hamr_status"].as_integer() == int(query.hamr_status))
    select = sa.select(history).where(*conditions).order_by(history.c.id.desc()).limit(limit)
    return [entry(row) for row in db.execute(select)]


def connections_of(db: sa.Connection, org_uuid: str, connection_id: str | None) -> list[str]:
    """The connections an org's history covers (see rows_of)."""
    select = (
        sa.select(history.c.connection_id)
        .where(rows_of(org_uuid, connection_id), history.c.connection_id.is_not(None))
        .distinct()
    )
    found = {connection for (connection,) in db.execute(select)}
    if connection_id is not None:
        found.add(connection_id)
    return sorted(found)


def in_chain_order(
    db: sa.Connection,
    connection_ids: Sequence[str] | None,
    after: ChainPosition | None,
    limit: int,
) -> list[HistoryEntry]:
    """Up to `limit` rows after `after`, by connection then id: of these connections, or of
    all (rows without a connection, of which none have been written since 0002, are in no
    chain)."""
    select = sa.select(history).where(history.c.connection_id.is_not(None))
    if connection_ids is not None:
        select = select.where(history.c.connection_id.in_(connection_ids))
    if after is not None:
        select = select.where(sa.tuple_(history.c.connection_id, history.c.id) > sa.tuple_(*after))
    select = select.order_by(history.c.connection_id, history.c.id).limit(limit)
    return [entry(row) for row in db.execute(select)]


def absent_ids(db: sa.Connection, after_id: int, before_id: int) -> int:
    """How many ids between these two (exclusive) are in no history row."""
    present = db.execute(
        sa.select(sa.func.count())
        .select_from(history)
        .where(history.c.id > after_id, history.c.id < before_id)
    ).scalar_one()
    return max(0, before_id - after_id - 1 - int(present))


def entry(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=row.id,
        org_uuid=row.org_uuid,
        key_id=row.key_id,
        connection_id=row.connection_id,
        modified_by=row.modified_by,
        recorded_at_us=row.recorded_at_us,
        before=row.before,
        after=row.after,
        violation=row.violation,
        reason=row.reason,
        chain_hash=row.chain_hash,
    )
