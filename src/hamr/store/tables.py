"""The schema. Times are integer microseconds since the Unix epoch (UTC), portable and exact."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
)

metadata = MetaData()

orgs = Table(
    "orgs",
    metadata,
    Column("uuid", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("datacenter", String(32), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
)

keys = Table(
    "keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("revoked_at_us", BigInteger, nullable=True),
)

connections = Table(
    "connections",
    metadata,
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), primary_key=True),
    Column("hamr_status", SmallInteger, nullable=False),
    Column("is_primary", Boolean, nullable=False),
    Column("modified_at_us", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
    Column("target_org_datacenter", String(255), nullable=False),
    Column("target_org_name", String(255), nullable=False),
    Column("target_org_uuid", String(255), nullable=False),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), nullable=False),
    Column("key_id", String(36), nullable=False),
    Column("modified_by", String(255), nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=False),
    Index("ix_history_org_uuid_id", "org_uuid", "id"),
)

# Counters that other processes poll to learn that something changed (e.g. a key was revoked).
epochs = Table(
    "epochs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

CREDENTIALS_EPOCH = "credentials"
