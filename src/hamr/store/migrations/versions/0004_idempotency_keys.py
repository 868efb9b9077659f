"""Idempotency keys: the first answer to a POST sent with an `Idempotency-Key`, kept per org for
24 hours, so that a retry gets that answer again instead of writing twice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        # What identifies the request: a digest of its method, path and body.
        sa.Column("request_digest", sa.String(64), nullable=False),
        # The first answer, once there is one (NULL while the first request is in flight).
        sa.Column("status", sa.SmallInteger, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created_at_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at_us", "idempotency_keys", ["created_at_us"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
