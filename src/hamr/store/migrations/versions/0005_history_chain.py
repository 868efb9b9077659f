"""History rows are hash-chained per connection: each row's `chain_hash` covers the previous
row's and its own content, so that `hamr history verify` finds a row changed or removed.
Existing rows are chained here, in id order per connection, so an upgraded database verifies.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hamr.domain import chain

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHUNK = 5_000
# The history's columns at this revision, but for `id`, the JSON ones and `chain_hash`.
_PLAIN_COLUMNS = (
    "org_uuid",
    "key_id",
    "connection_id",
    "modified_by",
    "recorded_at_us",
    "violation",
    "reason",
)


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("chain_hash", sa.String(64), nullable=True))
    _chain_existing_rows(op.get_bind())


def _chain_existing_rows(bind: sa.Connection) -> None:
    """Walk the rows by connection then id, a chunk at a time (read whole before its updates,
    so no cursor is open on the table being updated); rows without a connection are in no
    chain (0002 gave every row one)."""
    history = sa.table(
        "history",
        sa.column("id", sa.Integer),
        *(sa.column(name) for name in _PLAIN_COLUMNS),
        sa.column("before", sa.JSON),
        sa.column("after", sa.JSON),
        sa.column("chain_hash", sa.String),
    )
    update = (
        history.update()
        .where(history.c.id == sa.bindparam("row_id"))
        .values(chain_hash=sa.bindparam("hash"))
    )
    position: tuple[str, int] | None = None
    previous = chain.GENESIS
    while True:
        select = sa.select(history).where(history.c.connection_id.is_not(None))
        if position is not None:
            select = select.where(
                sa.tuple_(history.c.connection_id, history.c.id) > sa.tuple_(*position)
            )
        rows = bind.execute(
            select.order_by(history.c.connection_id, history.c.id).limit(CHUNK)
        ).all()
        hashes = []
        for row in rows:
            if position is None or row.connection_id != position[0]:
                previous = chain.GENESIS
            previous = chain.next_hash(previous, dict(row._mapping))
            hashes.append({"row_id": row.id, "hash": previous})
            position = (row.connection_id, row.id)
        if hashes:
            bind.execute(update, hashes)
        if len(rows) < CHUNK:
            return


def downgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.drop_column("chain_hash")
