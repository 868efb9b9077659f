"""Each connection's primary datacenter, kept on its row and indexed: a datacenter
operation's batches were a join filtered on an expression over two tables, which PostgreSQL
answered by scanning every connection for each batch, and a datacenter's counts by status a
scan SQLite could not finish within a read timeout at 500,000 pairs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BY_ID = ("primary_datacenter", "id")
_BY_STATUS = ("primary_datacenter", "hamr_status")


def upgrade() -> None:
    # Added in place with a default to fill (SQLite adds a NOT NULL column only so; a batch
    # copy of the table would trip the foreign keys that point at it), then filled: the
    # creator's datacenter when it is the primary side, else the target's as stored.
    op.add_column(
        "connections",
        sa.Column("primary_datacenter", sa.String(255), nullable=False, server_default=""),
    )
    op.execute(
        "UPDATE connections SET primary_datacenter = CASE WHEN org_is_primary"
        " THEN (SELECT orgs.datacenter FROM orgs WHERE orgs.uuid = connections.org_uuid)"
        " ELSE target_org_datacenter END"
    )
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops a default only by a table copy
        op.alter_column("connections", "primary_datacenter", server_default=None)
    op.create_index("ix_connections_primary_datacenter_id", "connections", list(_BY_ID))
    op.create_index("ix_connections_primary_datacenter_status", "connections", list(_BY_STATUS))


def downgrade() -> None:
    op.drop_index("ix_connections_primary_datacenter_status", "connections")
    op.drop_index("ix_connections_primary_datacenter_id", "connections")
    op.drop_column("connections", "primary_datacenter")
