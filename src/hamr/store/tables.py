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
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
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
    # What an application key or token may do: read, write or admin (API keys: write).
    Column("permission", String(8), nullable=False, server_default="write"),
)

# One row per connection: a pair of this hamr's organizations, or an organization and a target
# hamr does not know. `org_uuid` made it; `target_org_*` name the other side (the record's name
# and datacenter when `linked`, as given otherwise); status and `modified_*` are the pair's.
# `primary_datacenter` is derived (domain/datacenter_jobs.py's primary_datacenter), kept with
# every write, so that a datacenter's pairs are an index range: its operation's batches seek,
# and its counts by status read the index alone (state dumps leave it out: state_dump.DERIVED).
connections = Table(
    "connections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), nullable=False, unique=True),
    Column("target_org_uuid", String(255), nullable=False),
    Column("target_org_name", String(255), nullable=False),
    Column("target_org_datacenter", String(255), nullable=False),
    Column("linked", Boolean, nullable=False),
    Column("org_is_primary", Boolean, nullable=False),
    Column("hamr_status", SmallInteger, nullable=False),
    Column("modified_at_us", BigInteger, nullable=False),
    Column("modified_by", String(255), nullable=False),
    Column("primary_datacenter", String(255), nullable=False),
    Index("ix_connections_primary_datacenter_id", "primary_datacenter", "id"),
    Index("ix_connections_primary_datacenter_status", "primary_datacenter", "hamr_status"),
)

# Which organizations read which connection: each organization at most one (the primary key).
connection_members = Table(
    "connection_members",
    metadata,
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), primary_key=True),
    Column("connection_id", String(36), ForeignKey("connections.id"), nullable=False, index=True),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), nullable=False),
    Column("key_id", String(36), nullable=False),
    Column("connection_id", String(36), nullable=True),
    Column("modified_by", String(255), nullable=False),
    Column("recorded_at_us", BigInteger, nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    # The lifecycle rule the move broke, when the policy stored it anyway.
    Column("violation", Text, nullable=True),
    # Why: the reason of a break-glass override (X-Hamr-Override) or of a pair operation.
    Column("reason", Text, nullable=True),
    # sha256 over the previous row's chain_hash (of the same connection) and this row's content.
    Column("chain_hash", String(64), nullable=True),
    Index("ix_history_org_uuid_id", "org_uuid", "id"),
    Index("ix_history_connection_id_id", "connection_id", "id"),
)

# Each connection's newest history row (domain/chain.py's ChainHead), written with every row
# appended: a write reads its chain's end by key instead of walking the history, and verify
# compares it with the chain's last row. Keyed by connection id but without a foreign key: a
# connection unlinked (deleted) keeps its chain, whose last rows say so.
chain_heads = Table(
    "chain_heads",
    metadata,
    Column("connection_id", String(36), primary_key=True),
    Column("row_id", Integer, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    # The newest row's `after` status (None: an unlink), and since when the rows have held it.
    Column("hamr_status", SmallInteger, nullable=True),
    Column("status_since_us", BigInteger, nullable=False),
)

# The first answer to a POST with an Idempotency-Key, per org, kept 24 hours.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("org_uuid", String(36), ForeignKey("orgs.uuid"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_digest", String(64), nullable=False),
    Column("status", SmallInteger, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Index("ix_idempotency_keys_created_at_us", "created_at_us"),
)

# Datacenter operations (domain/datacenter_jobs.py): one row per job, its progress committed
# with each batch it walks. `active` is 1 while it runs and NULL after; being unique, it lets
# one job run at a time, across every process on the database.
datacenter_jobs = Table(
    "datacenter_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("datacenter", String(32), nullable=False),
    Column("operation", String(16), nullable=False),
    Column("hold", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("active", SmallInteger, nullable=True, unique=True),
    Column("total", Integer, nullable=False),
    Column("done", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("position", String(36), nullable=False),
    Column("refusals", JSON, nullable=False),
    Column("org_uuid", String(36), nullable=False),
    Column("key_id", String(36), nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("heartbeat_at_us", BigInteger, nullable=False),
    Column("finished_at_us", BigInteger, nullable=True),
    Column("owner", String(64), nullable=True),
    Index("ix_datacenter_jobs_datacenter_operation", "datacenter", "operation", "created_at_us"),
)

# Counters that other processes poll to learn that something changed (e.g. a key was revoked).
epochs = Table(
    "epochs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

CREDENTIALS_EPOCH = "credentials"
