"""Datacenter operations: a durable job per operation walked over a datacenter's pairs, its
progress committed with each batch, so that it is polled, resumed after a crash, and run one
at a time (the unique `active` column) across every process on the database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datacenter_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("datacenter", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("hold", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("active", sa.SmallInteger, nullable=True, unique=True),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("refused", sa.Integer, nullable=False),
        sa.Column("position", sa.String(36), nullable=False),
        sa.Column("refusals", sa.JSON, nullable=False),
        sa.Column("org_uuid", sa.String(36), nullable=False),
        sa.Column("key_id", sa.String(36), nullable=False),
        sa.Column("batch_size", sa.Integer, nullable=False),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
        sa.Column("heartbeat_at_us", sa.BigInteger, nullable=False),
        sa.Column("finished_at_us", sa.BigInteger, nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_datacenter_jobs_datacenter_operation",
        "datacenter_jobs",
        ["datacenter", "operation", "created_at_us"],
    )


def downgrade() -> None:
    op.drop_index("ix_datacenter_jobs_datacenter_operation", "datacenter_jobs")
    op.drop_table("datacenter_jobs")
