"""Chain heads in SQL (domain/chain.py's ChainHead): read and written by key with each batch
of history rows, compared with the chains' ends by verify, and rebuilt from the history where
rows arrive without them (a state load)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from hamr.domain.chain import ChainHead, advance
from hamr.store.tables import chain_heads, history
from hamr.store.write_sql import statements_for

# Rows per read when rebuilding.
CHUNK = 5_000


def read(db: sa.Connection, connection_ids: Collection[str]) -> dict[str, ChainHead]:
    """The heads of these connections (those without a chain left out), by primary key."""
    rows = statements_for(db.dialect).heads_in.rows(db, sorted(connection_ids))
    return {row[0]: ChainHead(*row) for row in rows}


def save(db: sa.Connection, heads: Iterable[ChainHead]) -> None:
    values = [
        {
            "connection_id": head.connection_id,
            "row_id": head.row_id,
            "chain_hash": head.chain_hash,
            "hamr_status": head.hamr_status,
            "status_since_us": head.status_since_us,
        }
        for head in heads
    ]
    if values:
        statements_for(db.dialect).save_heads.execute_many(db, values)


def first_without_rows(db: sa.Connection, connection_ids: Sequence[str] | None) -> ChainHead | None:
    """The first head (by connection) whose chain has no row left at all."""
    rows = sa.select(history.c.id).where(history.c.connection_id == chain_heads.c.connection_id)
    select = sa.select(chain_heads).where(~rows.exists())
    if connection_ids is not None:
        select = select.where(chain_heads.c.connection_id.in_(connection_ids))
    row = db.execute(select.order_by(chain_heads.c.connection_id).limit(1)).first()
    return None if row is None else ChainHead(*row)


def rebuild(db: sa.Connection) -> None:
    """Replace every head with what the history holds: each chain's last row, and since when
    its status has held. Reads the rows in chain order, a chunk at a time."""
    db.execute(chain_heads.delete())
    position: tuple[str, int] | None = None
    head: ChainHead | None = None
    while True:
        select = sa.select(
            history.c.id,
            history.c.connection_id,
            history.c.recorded_at_us,
            history.c.after,
            history.c.chain_hash,
        ).where(history.c.connection_id.is_not(None), history.c.chain_hash.is_not(None))
        if position is not None:
            select = select.where(
                sa.tuple_(history.c.connection_id, history.c.id) > sa.tuple_(*position)
            )
        rows = db.execute(select.order_by(history.c.connection_id, history.c.id).limit(CHUNK))
        ended: list[ChainHead] = []
        count = 0
        for row in rows:
            count += 1
            values: dict[str, Any] = dict(row._mapping)
            if head is not None and head.connection_id != values["connection_id"]:
                ended.append(head)
                head = None
            head = advance(head, values["id"], values)
            position = (values["connection_id"], values["id"])
        if count < CHUNK and head is not None:
            ended.append(head)
        save(db, ended)
        if count < CHUNK:
            return
