"""`hamr db copy`: move everything from one database to another (SQLite <-> PostgreSQL).

Rows keep their identities (org UUIDs, key ids and hashes, history ids), so keys keep working
and history keeps its order; the copy is one transaction on the target, verified by counts.
"""

from __future__ import annotations

import sqlalchemy as sa

from hamr.domain.errors import InvalidInput
from hamr.store.sql import open_store
from hamr.store.tables import connections, epochs, history, keys, orgs

# Parents before children, so foreign keys hold at every insert.
TABLES = (orgs, keys, connections, history, epochs)
CHUNK = 5_000


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row; return the row count of each table (equal on both sides)."""
    source, target = open_store(source_url), open_store(target_url)
    try:
        with source.engine.connect() as reader, target.engine.begin() as writer:
            if writer.execute(sa.select(sa.func.count()).select_from(orgs)).scalar_one():
                raise InvalidInput(
                    "the target database already holds organizations; copy into an empty one"
                )
            for table in TABLES:
                order = list(table.primary_key.columns)
                result = reader.execution_options(yield_per=CHUNK).execute(
                    sa.select(table).order_by(*order)
                )
                for chunk in result.mappings().partitions(CHUNK):
                    writer.execute(table.insert(), [dict(row) for row in chunk])
            if writer.dialect.name == "postgresql":
                # Explicit ids bypassed the sequence; move it past them.
                writer.execute(
                    sa.text(
                        "SELECT setval(pg_get_serial_sequence('history', 'id'), "
                        "COALESCE((SELECT max(id) FROM history), 0) + 1, false)"
                    )
                )
            counts = {table.name: _count(writer, table) for table in TABLES}
            expected = {table.name: _count(reader, table) for table in TABLES}
            if counts != expected:
                raise InvalidInput(f"copy verification failed: source {expected}, target {counts}")
        return counts
    finally:
        source.close()
        target.close()


def _count(connection: sa.Connection, table: sa.Table) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
