"""History rows say which lifecycle rule a stored move broke, and why a change was made (a
break-glass override's or a pair operation's reason); application keys and tokens carry a
permission (read, write or admin; existing ones write, as every key could write before).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("violation", sa.Text, nullable=True))
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
    with op.batch_alter_table("keys") as batch:
        batch.add_column(
            sa.Column("permission", sa.String(8), nullable=False, server_default="write")
        )


def downgrade() -> None:
    with op.batch_alter_table("keys") as batch:
        batch.drop_column("permission")
    with op.batch_alter_table("history") as batch:
        batch.drop_column("reason")
        batch.drop_column("violation")
