"""Chain heads: each connection's newest history row, kept in its own row written with every
history row, so that a write finds what its row follows by key instead of walking the pair's
history, `hamr history verify` notices rows removed from a chain's end, and the pair's
"status since" is read, not recomputed from the whole history. Existing chains get theirs here,
read in chain order, a chunk at a time.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from hamr.domain.chain import ChainHead, advance

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CHUNK = 5_000


def upgrade() -> None:
    heads = op.create_table(
        "chain_heads",
        sa.Column("connection_id", sa.String(36), primary_key=True),
        sa.Column("row_id", sa.Integer, nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("hamr_status", sa.SmallInteger, nullable=True),
        sa.Column("status_since_us", sa.BigInteger, nullable=False),
    )
    assert heads is not None
    _fill(op.get_bind(), heads)


def _fill(bind: sa.Connection, heads: sa.Table) -> None:
    """Each chain's last hashed row (0005 hashed every row with a connection), and since when
    its status has held: a head per connection, written as each chain ends."""
    history = sa.table(
        "history",
        sa.column("id", sa.Integer),
        sa.column("connection_id", sa.String),
        sa.column("recorded_at_us", sa.BigInteger),
        sa.column("after", sa.JSON),
        sa.column("chain_hash", sa.String),
    )
    position: tuple[str, int] | None = None
    head: ChainHead | None = None
    while True:
        select = sa.select(history).where(
            history.c.connection_id.is_not(None), history.c.chain_hash.is_not(None)
        )
        if position is not None:
            select = select.where(
                sa.tuple_(history.c.connection_id, history.c.id) > sa.tuple_(*position)
            )
        rows = bind.execute(
            select.order_by(history.c.connection_id, history.c.id).limit(CHUNK)
        ).all()
        ended: list[ChainHead] = []
        for row in rows:
            values: dict[str, Any] = dict(row._mapping)
            if head is not None and head.connection_id != values["connection_id"]:
                ended.append(head)
                head = None
            head = advance(head, values["id"], values)
            position = (values["connection_id"], values["id"])
        if len(rows) < CHUNK and head is not None:
            ended.append(head)
        if ended:
            bind.execute(heads.insert(), [_values(h) for h in ended])
        if len(rows) < CHUNK:
            return


def _values(head: ChainHead) -> dict[str, Any]:
    return {
        "connection_id": head.connection_id,
        "row_id": head.row_id,
        "chain_hash": head.chain_hash,
        "hamr_status": head.hamr_status,
        "status_since_us": head.status_since_us,
    }


def downgrade() -> None:
    op.drop_table("chain_heads")
