"""One connection per pair: connections become pairs (with their members); history names the
connection each row wrote.

Two per-org rows that point at each other become one pair: the later write wins, the other
stays in history. Every other row becomes a one-sided connection. A target hamr knows is
named by its record.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OLD_COLUMNS = (
    "org_uuid",
    "hamr_status",
    "is_primary",
    "modified_at_us",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)


def upgrade() -> None:
    bind = op.get_bind()
    old = sa.table("connections", *(sa.column(name) for name in _OLD_COLUMNS))
    rows = {row.org_uuid: row for row in bind.execute(sa.select(old))}
    found = bind.execute(sa.text("SELECT uuid, name, datacenter FROM orgs"))
    records = {row.uuid: row for row in found}
    op.drop_table("connections")
    connections, members = _create_tables()
    links: list[dict[str, Any]] = []
    membership: list[dict[str, str]] = []
    link_of: dict[str, str] = {}
    # Later writes first, so that each pair is made from its winning row.
    for row in sorted(rows.values(), key=lambda r: (r.modified_at_us, r.org_uuid), reverse=True):
        if row.org_uuid in link_of:
            continue
        target_uuid = row.target_org_uuid.lower()
        partner = rows.get(target_uuid)
        paired = (
            partner is not None
            and target_uuid not in link_of
            and partner.target_org_uuid.lower() == row.org_uuid
        )
        record = records.get(target_uuid)
        link_id = str(uuid.uuid4())
        links.append(
            {
                "id": link_id,
                "org_uuid": row.org_uuid,
                "target_org_uuid": target_uuid if paired or record else row.target_org_uuid,
                "target_org_name": record.name if record else row.target_org_name,
                "target_org_datacenter": record.datacenter if record else row.target_org_datacenter,
                "linked": paired,
                "org_is_primary": bool(row.is_primary),
                "hamr_status": row.hamr_status,
                "modified_at_us": row.modified_at_us,
                "modified_by": row.modified_by,
            }
        )
        for member in (row.org_uuid, target_uuid) if paired else (row.org_uuid,):
            link_of[member] = link_id
            membership.append({"org_uuid": member, "connection_id": link_id})
    if links:
        bind.execute(connections.insert(), links)
        bind.execute(members.insert(), membership)

    with op.batch_alter_table("history") as batch:
        batch.add_column(sa.Column("connection_id", sa.String(36), nullable=True))
        batch.alter_column("after", existing_type=sa.JSON, nullable=True)
    op.create_index("ix_history_connection_id_id", "history", ["connection_id", "id"])
    if link_of:
        history = sa.table("history", sa.column("org_uuid"), sa.column("connection_id"))
        bind.execute(
            history.update()
            .where(history.c.org_uuid == sa.bindparam("org"))
            .values(connection_id=sa.bindparam("link")),
            [{"org": org, "link": link} for org, link in link_of.items()],
        )


def _create_tables() -> tuple[sa.Table, sa.Table]:
    connections = op.create_table(
        "connections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), nullable=False, unique=True
        ),
        sa.Column("target_org_uuid", sa.String(255), nullable=False),
        sa.Column("target_org_name", sa.String(255), nullable=False),
        sa.Column("target_org_datacenter", sa.String(255), nullable=False),
        sa.Column("linked", sa.Boolean, nullable=False),
        sa.Column("org_is_primary", sa.Boolean, nullable=False),
        sa.Column("hamr_status", sa.SmallInteger, nullable=False),
        sa.Column("modified_at_us", sa.BigInteger, nullable=False),
        sa.Column("modified_by", sa.String(255), nullable=False),
    )
    members = op.create_table(
        "connection_members",
        sa.Column("org_uuid", sa.String(36), sa.ForeignKey("orgs.uuid"), primary_key=True),
        sa.Column("connection_id", sa.String(36), sa.ForeignKey("connections.id"), nullable=False),
    )
    op.create_index("ix_connection_members_connection_id", "connection_members", ["connection_id"])
    assert connections is not None
    assert members is not None
    return connections, members


def downgrade() -> None:
    """Back to one row per org: each member of a pair gets its side of the connection."""
    bind = op.get_bind()
    views = bind.execute(
        sa.text(
            "SELECT m.org_uuid AS member, c.org_uuid, o.name, o.datacenter, c.target_org_uuid,"
            " c.target_org_name, c.target_org_datacenter, c.org_is_primary, c.hamr_status,"
            " c.modified_at_us, c.modified_by FROM connection_members m"
            " JOIN connections c ON c.id = m.connection_id JOIN orgs o ON o.uuid = c.org_uuid"
        )
    ).all()
    op.drop_index("ix_history_connection_id_id", "history")
    bind.execute(sa.text("DELETE FROM history WHERE after IS NULL"))
    with op.batch_alter_table("history") as batch:
        batch.drop_column("connection_id")
        batch.alter_column("after", existing_type=sa.JSON, nullable=False)
    op.drop_table("connection_members")
    op.drop_table("connections")
    old = op.create_table(
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
    assert old is not None
    rows = []
    for v in views:
        first = v.member == v.org_uuid
        rows.append(
            {
                "org_uuid": v.member,
                "hamr_status": v.hamr_status,
                "is_primary": bool(v.org_is_primary) == first,
                "modified_at_us": v.modified_at_us,
                "modified_by": v.modified_by,
                "target_org_datacenter": v.target_org_datacenter if first else v.datacenter,
                "target_org_name": v.target_org_name if first else v.name,
                "target_org_uuid": v.target_org_uuid if first else v.org_uuid,
            }
        )
    if rows:
        bind.execute(old.insert(), rows)
