"""Initial schema: orgs, keys, connections, history and epochs.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "orgs",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("datacenter", sa.String(32), nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("revoked_at_us", sa.BigInteger, nullable=True),
    )
    op.create_index("ix_keys_org_uuid", "keys", ["org_uuid"])
    op.create_table(
        "connections",
        sa.Column("org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), primary_key=True),
        sa.Column("hamr_status", sa.SmallInteger, nullable=False),
        sa.Column("is_primary", sa.Boolean, nullable=False),
        sa.Column("modified_at_us", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(255), nullable=False),
        sa.Column("target_org_datacenter", sa.String(255), nullable=False),
        sa.Column("target_org_name", sa.String(255), nullable=False),
        sa.Column("target_org_uuid", sa.String(255), nullable=False),
    )
    op.create_table(
        "history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), nullable=False),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("modified_by", sa.String(255), nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger, nullable=False),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=False),
    )
    op.create_index("ix_history_org_uuid_id", "history", ["org_uuid", "id"])
    op.create_table(
        "epochs",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for table in ("epochs", "history", "connections", "keys", "orgs"):
        op.drop_table(table)
